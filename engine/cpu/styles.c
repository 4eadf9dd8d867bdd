/* The styles op (backend.h fs_styles_args) on the CPU: the affine styles and
 * the demodulation coefficients of every modulated layer of a synthesis
 * network, for all samples, in one call per forward (docs/precision.md §3).
 *
 * Per layer the styles are the fc op on ws[:, w_index] with the gain-folded,
 * transposed affine weight (the same operand and GEMM as the generator's
 * per-layer affine, so the same bits), and dcoef is fs_cpu_demod_row over
 * sw2 = the sum of W^2 over the taps (the same function modconv uses). The
 * plan makes both weights once: the folded affines layer after layer in
 * `packed`, sw2 of the demodulated layers in `wmat`. */
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

/* The shape a plan records: layers, sum of cin, w_dim, num_ws, sum of cout
 * over the demodulated layers. */
static void totals(const fs_styles_args *a, size_t *fc_floats, size_t *sw2_floats,
                   int *sum_cin, int *sum_cout)
{
    *fc_floats = *sw2_floats = 0;
    *sum_cin = *sum_cout = 0;
    for (int l = 0; l < a->n_layers; l++) {
        const fs_style_layer *L = &a->layers[l];
        *fc_floats += (size_t)L->cin * a->w_dim;
        *sum_cin += L->cin;
        if (L->demodulate) {
            *sw2_floats += (size_t)L->cout * L->cin;
            *sum_cout += L->cout;
        }
    }
}

static fs_status check_args(const fs_styles_args *a)
{
    if (a->n_layers < 0 || (a->n_layers > 0 && !a->layers) || a->w_dim <= 0 || a->num_ws <= 0)
        return fs_error(FS_ERR_ARG, "cpu styles: %d layers, w_dim %d, num_ws %d", a->n_layers,
                        a->w_dim, a->num_ws);
    for (int l = 0; l < a->n_layers; l++) {
        const fs_style_layer *L = &a->layers[l];
        if (L->cin <= 0 || L->cout <= 0 || L->k <= 0 || L->w_index < 0 ||
            L->w_index >= a->num_ws)
            return fs_error(FS_ERR_ARG, "cpu styles: layer %d: cin %d, cout %d, k %d, w row %d "
                            "of %d", l, L->cin, L->cout, L->k, L->w_index, a->num_ws);
    }
    return FS_OK;
}

/* The affine of layer L folded and transposed as fc's plan holds it:
 * wt[i, o] = A[o, i] * weight_gain. */
static void fold_affine(const fs_style_layer *L, int w_dim, float *wt)
{
    for (int i = 0; i < w_dim; i++)
        for (int o = 0; o < L->cin; o++)
            wt[(size_t)i * L->cin + o] = L->affine_w[(size_t)o * w_dim + i] * L->weight_gain;
}

fs_status fs_cpu_styles_plan(const fs_styles_args *a, fs_plan *p)
{
    FS_TRY(check_args(a));
    size_t fc_floats, sw2_floats;
    int sum_cin, sum_cout;
    totals(a, &fc_floats, &sw2_floats, &sum_cin, &sum_cout);
    p->cin = a->n_layers;
    p->cout = sum_cin;
    p->k = a->w_dim;
    p->h = a->num_ws;
    p->w = sum_cout;
    p->packed = malloc((fc_floats ? fc_floats : 1) * sizeof *p->packed);
    p->wmat = malloc((sw2_floats ? sw2_floats : 1) * sizeof *p->wmat);
    if (!p->packed || !p->wmat)
        return fs_error(FS_ERR_NOMEM, "cpu styles: out of memory for a plan of %d layers",
                        a->n_layers);
    size_t fo = 0, so = 0;
    for (int l = 0; l < a->n_layers; l++) {
        const fs_style_layer *L = &a->layers[l];
        fold_affine(L, a->w_dim, p->packed + fo);
        fo += (size_t)L->cin * a->w_dim;
        if (L->demodulate) {
            fs_cpu_weight_sq(L->weight, L->cout, L->cin, L->k * L->k, p->wmat + so);
            so += (size_t)L->cout * L->cin;
        }
    }
    return FS_OK;
}

typedef struct {
    const fs_styles_args *a;
    const float *const *sw2; /* [n_layers]: the layer's sw2, NULL if not demodulated */
    fs_cpu *m;
} st_ctx;

/* dcoef of layer t / n, sample t % n. */
static void demod_task(void *ctx, int t, int worker)
{
    const st_ctx *c = ctx;
    const fs_styles_args *a = c->a;
    const fs_style_layer *L = &a->layers[t / a->n];
    int s = t % a->n;
    if (!L->demodulate)
        return;
    const float *st = a->styles + (size_t)a->n * L->style_off + (size_t)s * L->cin;
    float *d = a->dcoef + (size_t)a->n * L->dcoef_off + (size_t)s * L->cout;
    fs_cpu_demod_row(c->sw2[t / a->n], st, L->cin, L->cout, c->m->col[worker], d);
}

fs_status fs_cpu_styles(fs_backend *b, const fs_styles_args *a)
{
    fs_cpu *m = fs_cpu_of(b);
    FS_TRY(check_args(a));
    if (a->n <= 0)
        return fs_error(FS_ERR_ARG, "cpu styles: batch of %d", a->n);
    size_t fc_floats, sw2_floats;
    int sum_cin, sum_cout, max_cin = 1;
    totals(a, &fc_floats, &sw2_floats, &sum_cin, &sum_cout);
    if (sum_cout > 0 && !a->dcoef)
        return fs_error(FS_ERR_ARG, "cpu styles: demodulated layers but no dcoef output");
    const fs_plan *plan = a->plan;
    if (plan)
        FS_TRY(fs_cpu_plan_check(plan, FS_OP_STYLES, a->n_layers, sum_cin, a->w_dim, a->num_ws,
                                 sum_cout, 0));
    const float **sw2 = calloc((size_t)(a->n_layers ? a->n_layers : 1), sizeof *sw2);
    float *own_sw2 = plan ? NULL : malloc((sw2_floats ? sw2_floats : 1) * sizeof *own_sw2);
    fs_status st = FS_OK;
    if (!sw2 || (!plan && !own_sw2)) {
        st = fs_error(FS_ERR_NOMEM, "cpu styles: out of memory for %d layers", a->n_layers);
        goto done;
    }
    size_t fo = 0, so = 0;
    for (int l = 0; l < a->n_layers && st == FS_OK; l++) {
        const fs_style_layer *L = &a->layers[l];
        max_cin = L->cin > max_cin ? L->cin : max_cin;
        /* the fc op itself, with the folded weight of the plan (fc's own
         * plan layout) or folded per call */
        fs_plan fcp = {.kind = FS_OP_FC, .cin = a->w_dim, .cout = L->cin,
                       .wmat = plan ? plan->packed + fo : NULL};
        fs_fc_args fa = {
            .x = a->ws + (size_t)L->w_index * a->w_dim, .ldx = a->num_ws * a->w_dim,
            .w = L->affine_w, .b = L->affine_b, .y = a->styles + (size_t)a->n * L->style_off,
            .n = a->n, .in = a->w_dim, .out = L->cin, .weight_gain = L->weight_gain,
            .bias_gain = 1.0f, .gain = L->gain, .clamp = 0.0f, .act = FS_ACT_LINEAR,
            .plan = plan ? &fcp : NULL};
        st = fs_cpu_fc(b, &fa);
        fo += (size_t)L->cin * a->w_dim;
        if (L->demodulate) {
            if (plan) {
                sw2[l] = plan->wmat + so;
            } else {
                fs_cpu_weight_sq(L->weight, L->cout, L->cin, L->k * L->k, own_sw2 + so);
                sw2[l] = own_sw2 + so;
            }
            so += (size_t)L->cout * L->cin;
        }
    }
    if (st == FS_OK && sum_cout > 0 && (st = fs_cpu_ensure_col(m, (size_t)max_cin)) == FS_OK) {
        st_ctx c = {.a = a, .sw2 = sw2, .m = m};
        fs_pool_run(m->pool, a->n_layers * a->n, demod_task, &c);
    }
done:
    free(sw2);
    free(own_sw2);
    return st;
}
