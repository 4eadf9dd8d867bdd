/* The modulated convolution of StyleGAN2 on the CPU, in its non-fused form:
 * input channels scaled by the styles while they are unrolled (im2col), one
 * GEMM with the shared weight, then demodulation, noise, bias, activation,
 * gain and clamp in the epilogue. The up-sampling layer is the official
 * stride-2 transposed conv (a GEMM giving the 9 taps of every output channel
 * per input pixel, gathered into T, 2h+1 square) followed by the 4x4 FIR with
 * pad 1 and gain 4. Work is split into (sample, row tile, channel chunk) tasks
 * so that small early layers keep both cores busy too. */
#include <stdlib.h>
#include <string.h>

#include "fir_plan.h"
#include "cpu_internal.h"
#include "../rng.h"

typedef struct {
    const fs_modconv_args *a;
    fs_cpu *m;
    fs_cpu_wop wop;     /* same: W [cout, cin k k]; up: [cout * 9, cin] */
    const float *dcoef; /* [n, cout] or NULL */
    float *t;           /* up: T of samples [n0, n0 + gn): [gn, cout, 2h+1, 2w+1] */
    int n0, rows, tiles, chunks, chunk;
    const fs_cpu_fir *fir;
} mc_ctx;

static void epilogue(const fs_modconv_args *a, int n, const float *dcoef, float *y, int o, int oh,
                     int ow, int r0, int r1)
{
    float d = dcoef ? dcoef[(size_t)n * a->cout + o] : 1.0f;
    float bias = a->b[o];
    for (int yy = r0; yy < r1; yy++) {
        float *row = y + (size_t)yy * ow;
        for (int xx = 0; xx < ow; xx++) {
            float v = row[xx] * d;
            if (a->noise_mode == FS_NOISE_CONST)
                v += a->noise_const[(size_t)yy * ow + xx] * a->noise_strength;
            else if (a->noise_mode == FS_NOISE_RANDOM)
                v += fs_philox_normal(a->noise_seeds[n], a->noise_stream, (uint64_t)yy * ow + xx) *
                     a->noise_strength;
            row[xx] = fs_act_apply(v + bias, a->act, a->gain, a->clamp);
        }
    }
}

static void task_coords(const mc_ctx *c, int t, int *n, int *r0, int *r1, int *o0, int *o1)
{
    int per = c->tiles * c->chunks;
    *n = c->n0 + t / per;
    int tile = (t % per) / c->chunks, chunk = t % c->chunks;
    *r0 = tile * c->rows;
    *r1 = *r0 + c->rows > c->a->h ? c->a->h : *r0 + c->rows;
    *o0 = chunk * c->chunk;
    *o1 = *o0 + c->chunk > c->a->cout ? c->a->cout : *o0 + c->chunk;
}

/* im2col of rows [r0, r1) for a stride-1 'same' k x k correlation, channel i
 * scaled by s[i]. */
static void im2col_scaled(const float *x, const float *s, int cin, int h, int w, int k, int r0,
                          int r1, float *col)
{
    int pad = k / 2, np = (r1 - r0) * w;
    for (int i = 0; i < cin; i++) {
        const float *xi = x + (size_t)i * h * w;
        float si = s[i];
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *dst = col + ((size_t)(i * k + ky) * k + kx) * np;
                for (int y = r0; y < r1; y++) {
                    int sy = y + ky - pad;
                    float *d = dst + (size_t)(y - r0) * w;
                    if (sy < 0 || sy >= h) {
                        memset(d, 0, (size_t)w * sizeof *d);
                        continue;
                    }
                    const float *row = xi + (size_t)sy * w;
                    int x0 = pad - kx > 0 ? pad - kx : 0, x1 = w + pad - kx < w ? w + pad - kx : w;
                    for (int xx = 0; xx < x0; xx++)
                        d[xx] = 0;
                    for (int xx = x0; xx < x1; xx++)
                        d[xx] = row[xx + kx - pad] * si;
                    for (int xx = x1; xx < w; xx++)
                        d[xx] = 0;
                }
            }
    }
}

static void same_task(void *ctx, int t, int worker)
{
    mc_ctx *c = ctx;
    const fs_modconv_args *a = c->a;
    int n, r0, r1, o0, o1;
    task_coords(c, t, &n, &r0, &r1, &o0, &o1);
    size_t hw = (size_t)a->h * a->w;
    int np = (r1 - r0) * a->w, kdim = a->cin * a->k * a->k;
    float *col = c->m->col[worker];
    im2col_scaled(a->x + (size_t)n * a->cin * hw, a->styles + (size_t)n * a->cin, a->cin, a->h,
                  a->w, a->k, r0, r1, col);
    float *y = a->y + (size_t)n * a->cout * hw;
    fs_cpu_gemm_w(&c->wop, o0, o1 - o0, np, kdim, col, (size_t)np,
                  y + (size_t)o0 * hw + (size_t)r0 * a->w, hw, c->m->scratch[worker]);
    for (int o = o0; o < o1; o++)
        epilogue(a, n, c->dcoef, y + (size_t)o * hw, o, a->h, a->w, r0, r1);
}

/* T rows [2 r0, 2 r1) (and the last row for the last tile) of channels
 * [o0, o1). Row 2 r0 also takes the ky = 2 taps of input row r0 - 1, so each
 * tile recomputes that one halo row rather than sharing writes. */
static void up_task(void *ctx, int t, int worker)
{
    mc_ctx *c = ctx;
    const fs_modconv_args *a = c->a;
    int n, r0, r1, o0, o1;
    task_coords(c, t, &n, &r0, &r1, &o0, &o1);
    int y0 = r0 > 0 ? r0 - 1 : 0, np = (r1 - y0) * a->w, oc = o1 - o0;
    const float *x = a->x + (size_t)n * a->cin * a->h * a->w;
    const float *s = a->styles + (size_t)n * a->cin;
    float *col = c->m->col[worker];
    for (int i = 0; i < a->cin; i++) {
        const float *src = x + ((size_t)i * a->h + y0) * a->w;
        float *dst = col + (size_t)i * np;
        for (int q = 0; q < np; q++)
            dst[q] = src[q] * s[i];
    }
    float *p = col + (size_t)a->cin * np; /* [oc * 9, np] */
    fs_cpu_gemm_w(&c->wop, o0 * 9, oc * 9, np, a->cin, col, (size_t)np, p, (size_t)np,
                  c->m->scratch[worker]);
    int th = 2 * a->h + 1, tw = 2 * a->w + 1;
    int p_end = r1 == a->h ? th : 2 * r1;
    float *tn = c->t + (size_t)(n - c->n0) * a->cout * th * tw;
    for (int o = o0; o < o1; o++)
        for (int pr = 2 * r0; pr < p_end; pr++) {
            float *trow = tn + ((size_t)o * th + pr) * tw;
            memset(trow, 0, (size_t)tw * sizeof *trow);
            for (int ky = 0; ky < 3; ky++) {
                int d = pr - ky, y = d / 2;
                if (d < 0 || d % 2 || y < y0 || y >= r1)
                    continue;
                for (int kx = 0; kx < 3; kx++) {
                    const float *src = p + ((size_t)((o - o0) * 3 + ky) * 3 + kx) * np +
                                       (size_t)(y - y0) * a->w;
                    float *dst = trow + kx;
                    for (int xx = 0; xx < a->w; xx++)
                        dst[2 * xx] += src[xx];
                }
            }
        }
}

static void fir_task(void *ctx, int t, int worker)
{
    mc_ctx *c = ctx;
    const fs_modconv_args *a = c->a;
    int n = c->n0 + t / a->cout, o = t % a->cout;
    int th = 2 * a->h + 1, tw = 2 * a->w + 1, oh = 2 * a->h, ow = 2 * a->w;
    const float *tp = c->t + ((size_t)(n - c->n0) * a->cout + o) * th * tw;
    float *y = a->y + ((size_t)n * a->cout + o) * oh * ow;
    fs_cpu_fir_run(c->fir, tp, y, c->m->col[worker]);
    epilogue(a, n, c->dcoef, y, o, oh, ow, 0, oh);
}

/* d[n,o] = rsqrt(sum_{i,k} (W[o,i,k] s[n,i])^2 + 1e-8): the official fp32
 * formula, on the modulated weight. */
static void demod_coefs(const fs_modconv_args *a, float *d)
{
    int kk = a->k * a->k;
    for (int n = 0; n < a->n; n++)
        for (int o = 0; o < a->cout; o++) {
            const float *s = a->styles + (size_t)n * a->cin;
            float acc = 0;
            for (int i = 0; i < a->cin; i++) {
                const float *wk = a->weight + ((size_t)o * a->cin + i) * kk;
                for (int q = 0; q < kk; q++) {
                    float v = wk[q] * s[i];
                    acc += v * v;
                }
            }
            d[(size_t)n * a->cout + o] = 1.0f / sqrtf(acc + 1e-8f);
        }
}

#define T_BUDGET_FLOATS (64u << 20) /* 256 MB of transposed-conv output at once */

/* The up-sampling conv's GEMM operand: W [cout, cin, 3, 3] as [cout * 9, cin]. */
static float *up_weight(const fs_modconv_args *a)
{
    float *wmat = malloc((size_t)a->cout * 9 * a->cin * sizeof *wmat);
    if (wmat)
        for (int o = 0; o < a->cout; o++)
            for (int i = 0; i < a->cin; i++)
                for (int q = 0; q < 9; q++)
                    wmat[((size_t)o * 9 + q) * a->cin + i] = a->weight[((size_t)o * a->cin + i) * 9 + q];
    return wmat;
}

static fs_status up_fir(const fs_modconv_args *a, fs_cpu_fir **fir)
{
    return fs_cpu_fir_plan(fir, 2 * a->h + 1, 2 * a->w + 1, 1, 1, 1, 1, a->fir, a->fir_len, 4.0f);
}

/* The static half of the layer, once: the weight packed as the GEMM's A
 * operand (transposed first for up-sampling), and the blur's index tables. */
fs_status fs_cpu_modconv_plan(const fs_modconv_args *a, fs_plan *p)
{
    if (a->up != 1 && !(a->up == 2 && a->k == 3))
        return fs_error(FS_ERR_UNSUPPORTED, "cpu modconv: up=%d with k=%d", a->up, a->k);
    p->cin = a->cin;
    p->cout = a->cout;
    p->k = a->k;
    p->h = a->h;
    p->w = a->w;
    p->up = a->up;
    int rows = a->up == 2 ? a->cout * 9 : a->cout, kdim = a->up == 2 ? a->cin : a->cin * a->k * a->k;
    float *up = NULL;
    if (a->up == 2 && !(up = up_weight(a)))
        return fs_error(FS_ERR_NOMEM, "cpu modconv: out of memory for a plan");
    p->packed = malloc(fs_sgemm_packed_a_floats(rows, kdim) * sizeof *p->packed);
    if (!p->packed) {
        free(up);
        return fs_error(FS_ERR_NOMEM, "cpu modconv: out of memory for a plan");
    }
    fs_sgemm_pack_a(rows, kdim, up ? up : a->weight, (size_t)kdim, p->packed);
    p->packed_rows = rows;
    free(up);
    return a->up == 2 ? up_fir(a, &p->fir) : FS_OK;
}

fs_status fs_cpu_modconv(fs_backend *b, const fs_modconv_args *a)
{
    fs_cpu *m = fs_cpu_of(b);
    if (a->up != 1 && !(a->up == 2 && a->k == 3))
        return fs_error(FS_ERR_UNSUPPORTED, "cpu modconv: up=%d with k=%d", a->up, a->k);
    const fs_plan *plan = a->plan;
    if (plan)
        FS_TRY(fs_cpu_plan_check(plan, FS_OP_MODCONV, a->cin, a->cout, a->k, a->h, a->w, a->up));
    float *dcoef = NULL, *wmat = NULL, *t = NULL;
    fs_cpu_fir *own_fir = NULL;
    fs_status st = FS_OK;
    mc_ctx c;
    memset(&c, 0, sizeof c);
    c.a = a;
    c.m = m;
    if (plan) {
        c.wop.packed = plan->packed;
        c.wop.rows = plan->packed_rows;
    }
    if (a->demodulate) {
        dcoef = malloc((size_t)a->n * a->cout * sizeof *dcoef);
        if (!dcoef)
            return fs_error(FS_ERR_NOMEM, "cpu modconv: out of memory for %d x %d demodulation "
                            "coefficients", a->n, a->cout);
        demod_coefs(a, dcoef);
        c.dcoef = dcoef;
    }
    if (a->up == 1) {
        int kdim = a->cin * a->k * a->k;
        c.wop.raw = a->weight;
        c.wop.ld = (size_t)kdim;
        c.rows = fs_cpu_tile_rows((long)kdim * a->w, a->h);
        c.tiles = (a->h + c.rows - 1) / c.rows;
        c.chunks = fs_cpu_channel_chunks(m, a->n * c.tiles, a->cout, 16);
        c.chunk = fs_cpu_chunk(a->cout, &c.chunks, 1);
        st = fs_cpu_ensure_col(m, (size_t)kdim * c.rows * a->w);
        if (st == FS_OK)
            fs_pool_run(m->pool, a->n * c.tiles * c.chunks, same_task, &c);
        free(dcoef);
        return st;
    }
    /* up == 2 */
    size_t th = 2 * (size_t)a->h + 1, tw = 2 * (size_t)a->w + 1;
    size_t per_sample = (size_t)a->cout * th * tw;
    int group = (int)(T_BUDGET_FLOATS / per_sample);
    group = group < 1 ? 1 : group > a->n ? a->n : group;
    t = malloc((size_t)group * per_sample * sizeof *t);
    if (!t) {
        st = fs_error(FS_ERR_NOMEM, "cpu modconv: out of memory for %d transposed-conv planes",
                      group * a->cout);
        goto done;
    }
    if (!plan) {
        if (!(wmat = up_weight(a))) {
            st = fs_error(FS_ERR_NOMEM, "cpu modconv: out of memory for the weight");
            goto done;
        }
        c.wop.raw = wmat;
        c.wop.ld = (size_t)a->cin;
        if ((st = up_fir(a, &own_fir)) != FS_OK)
            goto done;
    }
    c.t = t;
    c.fir = plan ? plan->fir : own_fir;
    c.rows = fs_cpu_tile_rows((long)(a->cin + a->cout * 9) * a->w, a->h);
    c.tiles = (a->h + c.rows - 1) / c.rows;
    c.chunks = fs_cpu_channel_chunks(m, group * c.tiles, a->cout, 8);
    c.chunk = fs_cpu_chunk(a->cout, &c.chunks, 9);
    size_t need = (size_t)(a->cin + c.chunk * 9) * (c.rows + 1) * a->w;
    if (need < fs_cpu_fir_tmp_floats(c.fir))
        need = fs_cpu_fir_tmp_floats(c.fir);
    if ((st = fs_cpu_ensure_col(m, need)) != FS_OK)
        goto done;
    for (int n0 = 0; n0 < a->n; n0 += group) {
        int gn = a->n - n0 < group ? a->n - n0 : group;
        c.n0 = n0;
        fs_pool_run(m->pool, gn * c.tiles * c.chunks, up_task, &c);
        fs_pool_run(m->pool, gn * a->cout, fir_task, &c);
    }
done:
    fs_cpu_fir_free(own_fir);
    free(dcoef);
    free(wmat);
    free(t);
    return st;
}
