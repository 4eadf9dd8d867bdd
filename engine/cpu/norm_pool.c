/* Instance normalisation and average pooling (the CVAE-GAN's ops) on the CPU. */
#include "cpu_internal.h"

fs_status fs_cpu_instance_norm(fs_backend *b, float *x, const float *weight, const float *bias,
                               int n, int c, size_t hw, float eps, fs_act act)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c; j++) {
            float *p = x + ((size_t)i * c + j) * hw;
            double mean = 0, var = 0;
            for (size_t q = 0; q < hw; q++)
                mean += p[q];
            mean /= (double)hw;
            for (size_t q = 0; q < hw; q++)
                var += (p[q] - mean) * (p[q] - mean);
            var /= (double)hw; /* biased, as InstanceNorm2d */
            float inv = (float)(1.0 / sqrt(var + eps)), mu = (float)mean;
            float wj = weight ? weight[j] : 1.0f, bj = bias ? bias[j] : 0.0f;
            for (size_t q = 0; q < hw; q++)
                p[q] = fs_act_apply((p[q] - mu) * inv * wj + bj, act, 1.0f, 0.0f);
        }
    return FS_OK;
}

fs_status fs_cpu_avg_pool2d(fs_backend *b, const float *x, float *y, int nc, int h, int w, int k,
                            int stride, int pad)
{
    int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
    for (int i = 0; i < nc; i++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float s = 0;
                int cnt = 0; /* count_include_pad=False: only real pixels count */
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        int sy = oy * stride - pad + ky, sx = ox * stride - pad + kx;
                        if (sy >= 0 && sy < h && sx >= 0 && sx < w) {
                            s += x[((size_t)i * h + sy) * w + sx];
                            cnt++;
                        }
                    }
                y[((size_t)i * oh + oy) * ow + ox] = cnt ? s / (float)cnt : 0.0f;
            }
    return FS_OK;
}
