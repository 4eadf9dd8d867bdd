/* Pointwise epilogues on the CPU: bias + activation + gain + clamp in place,
 * and axpby (the skip-image and resnet sums). */
#include "cpu_internal.h"

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
