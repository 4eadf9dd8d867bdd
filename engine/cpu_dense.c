/* CPU ops on vectors and whole tensors: fully connected layers, 2nd-moment
 * normalisation, truncation, bias + activation, axpby, the minibatch standard
 * deviation and the conditional projection. */
#include <stdlib.h>
#include <string.h>

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

fs_status fs_cpu_normalize(fs_backend *b, float *x, int n, int c)
{
    for (int i = 0; i < n; i++) {
        float *r = x + (size_t)i * c;
        float s = 0;
        for (int j = 0; j < c; j++)
            s += r[j] * r[j];
        float k = 1.0f / sqrtf(s / (float)c + 1e-8f);
        for (int j = 0; j < c; j++)
            r[j] *= k;
    }
    return FS_OK;
}

fs_status fs_cpu_lerp_rows(fs_backend *b, float *y, const float *a, int n, int rows, int c,
                           int row0, int row1, float t)
{
    for (int i = 0; i < n; i++)
        for (int r = row0; r < row1; r++) {
            float *v = y + ((size_t)i * rows + r) * c;
            for (int j = 0; j < c; j++)
                v[j] = a[j] + t * (v[j] - a[j]);
        }
    return FS_OK;
}

fs_status fs_cpu_bias_act(fs_backend *b, float *x, const float *bias, int n, int c, size_t hw,
                          fs_act act, float gain, float clamp)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c; j++) {
            float *p = x + ((size_t)i * c + j) * hw;
            float bj = bias ? bias[j] : 0.0f;
            for (size_t q = 0; q < hw; q++)
                p[q] = fs_act_apply(p[q] + bj, act, gain, clamp);
        }
    return FS_OK;
}

fs_status fs_cpu_axpby(fs_backend *b, float *y, const float *x, size_t n, float ys, float xs)
{
    for (size_t i = 0; i < n; i++)
        y[i] = y[i] * ys + x[i] * xs;
    return FS_OK;
}

/* Samples n = g * M + m (M = N / G) form group m, as the official reshape
 * (G, -1, F, c, H, W) lays them out; each feature group's std over the group,
 * averaged over its channels and pixels, becomes an extra channel. */
fs_status fs_cpu_mbstd(fs_backend *b, const float *x, float *y, int n, int c, int h, int w,
                       int group, int f)
{
    int g = group > 0 && group < n ? group : n;
    if (n % g != 0)
        return fs_error(FS_ERR_ARG, "minibatch-std: batch %d is not a multiple of the group %d", n, g);
    if (f <= 0 || c % f != 0)
        return fs_error(FS_ERR_ARG, "minibatch-std: %d channels, %d features", c, f);
    int mm = n / g, cf = c / f;
    size_t hw = (size_t)h * w;
    for (int s = 0; s < n; s++)
        memcpy(y + (size_t)s * (c + f) * hw, x + (size_t)s * c * hw, (size_t)c * hw * sizeof *y);
    for (int m = 0; m < mm; m++)
        for (int ff = 0; ff < f; ff++) {
            double total = 0;
            for (int cc = ff * cf; cc < (ff + 1) * cf; cc++)
                for (size_t p = 0; p < hw; p++) {
                    float mean = 0;
                    for (int gg = 0; gg < g; gg++)
                        mean += x[((size_t)(gg * mm + m) * c + cc) * hw + p];
                    mean /= (float)g;
                    float var = 0;
                    for (int gg = 0; gg < g; gg++) {
                        float d = x[((size_t)(gg * mm + m) * c + cc) * hw + p] - mean;
                        var += d * d;
                    }
                    var /= (float)g;
                    total += sqrtf(var + 1e-8f);
                }
            float v = (float)(total / ((double)cf * hw));
            for (int gg = 0; gg < g; gg++) {
                float *dst = y + ((size_t)(gg * mm + m) * (c + f) + c + ff) * hw;
                for (size_t p = 0; p < hw; p++)
                    dst[p] = v;
            }
        }
    return FS_OK;
}

fs_status fs_cpu_project(fs_backend *b, const float *x, const float *cmap, float *out, int n,
                         int c, float scale)
{
    for (int i = 0; i < n; i++) {
        float s = 0;
        for (int j = 0; j < c; j++)
            s += x[(size_t)i * c + j] * cmap[(size_t)i * c + j];
        out[i] = s * scale;
    }
    return FS_OK;
}
