/* The fully connected layer on the CPU (mapping network, style affines,
 * discriminator epilogue, CVAE-GAN heads): one GEMM against the gain-folded,
 * transposed weight, then bias, activation, gain and clamp. */
#include <stdlib.h>

#include "cpu_internal.h"

fs_status fs_cpu_fc(fs_backend *b, const fs_fc_args *a)
{
    /* Like the official layer: the gain is folded into the weight first, then
     * x @ W^T, then bias * bias_gain, activation, gain, clamp. */
    float *wt = malloc((size_t)a->in * a->out * sizeof *wt);
    if (!wt)
        return fs_error(FS_ERR_NOMEM, "cpu fc: out of memory");
    for (int i = 0; i < a->in; i++)
        for (int o = 0; o < a->out; o++)
            wt[(size_t)i * a->out + o] = a->w[(size_t)o * a->in + i] * a->weight_gain;
    fs_sgemm(a->n, a->out, a->in, a->x, (size_t)(a->ldx ? a->ldx : a->in), wt, (size_t)a->out,
             a->y, (size_t)a->out, 0);
    free(wt);
    for (int n = 0; n < a->n; n++)
        for (int o = 0; o < a->out; o++) {
            float *y = &a->y[(size_t)n * a->out + o];
            float v = *y + (a->b ? a->b[o] * a->bias_gain : 0.0f);
            *y = fs_act_apply(v, a->act, a->gain, a->clamp);
        }
    return FS_OK;
}
