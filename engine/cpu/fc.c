/* The fully connected layer on the CPU (mapping network, style affines,
 * discriminator epilogue, CVAE-GAN heads): one GEMM against the gain-folded,
 * transposed weight, then bias, activation, gain and clamp. */
#include <stdlib.h>

#include "cpu_internal.h"

/* The gain folded into the weight first, as the official layer does, then
 * transposed to the [in, out] operand the GEMM reads. */
static float *fold_weight(const fs_fc_args *a)
{
    float *wt = malloc((size_t)a->in * a->out * sizeof *wt);
    if (!wt)
        return NULL;
    for (int i = 0; i < a->in; i++)
        for (int o = 0; o < a->out; o++)
            wt[(size_t)i * a->out + o] = a->w[(size_t)o * a->in + i] * a->weight_gain;
    return wt;
}

fs_status fs_cpu_fc_plan(const fs_fc_args *a, fs_plan *p)
{
    p->cin = a->in;
    p->cout = a->out;
    if (!(p->wmat = fold_weight(a)))
        return fs_error(FS_ERR_NOMEM, "cpu fc: out of memory for a %dx%d plan", a->out, a->in);
    return FS_OK;
}

/* x @ (W * weight_gain)^T, then bias * bias_gain, activation, gain, clamp. */
fs_status fs_cpu_fc(fs_backend *b, const fs_fc_args *a)
{
    float *own = NULL;
    const float *wt;
    if (a->plan) {
        FS_TRY(fs_cpu_plan_check(a->plan, FS_OP_FC, a->in, a->out, 0, 0, 0, 0));
        wt = a->plan->wmat;
    } else if (!(wt = own = fold_weight(a))) {
        return fs_error(FS_ERR_NOMEM, "cpu fc: out of memory for a %dx%d weight", a->out, a->in);
    }
    fs_sgemm(a->n, a->out, a->in, a->x, (size_t)(a->ldx ? a->ldx : a->in), wt, (size_t)a->out,
             a->y, (size_t)a->out, 0);
    free(own);
    for (int n = 0; n < a->n; n++)
        for (int o = 0; o < a->out; o++) {
            float *y = &a->y[(size_t)n * a->out + o];
            float v = *y + (a->b ? a->b[o] * a->bias_gain : 0.0f);
            *y = fs_act_apply(v, a->act, a->gain, a->clamp);
        }
    return FS_OK;
}
