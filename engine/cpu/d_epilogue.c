/* The discriminator epilogue's own ops on the CPU: the minibatch standard
 * deviation channels and the conditional projection onto the label map. */
#include <string.h>

#include "cpu_internal.h"

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
