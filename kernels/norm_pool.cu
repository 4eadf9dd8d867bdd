/* Instance normalisation and average pooling (the CVAE-GAN's ops) on the GPU,
 * as engine/cpu/norm_pool.c: instance_norm with the biased variance in double
 * like the CPU, avg_pool2d with count_include_pad=False.
 *
 * Kernel versions (v1): instance_norm is one block per (sample, channel) with
 * a block reduction; avg_pool2d one output element per thread. */
#include "cuda_common.cuh"

#define NP_BLOCK 256

/* ---- avg_pool2d ---------------------------------------------------------------------------- */

__global__ void avg_pool2d_kernel1(const float *__restrict__ x, float *__restrict__ y, size_t total,
                                   int h, int w, int oh, int ow, int k, int stride, int pad)
{
    size_t ohw = (size_t)oh * ow;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t pl = i / ohw;
        int r = (int)(i - pl * ohw), oy = r / ow, ox = r - oy * ow;
        const float *xp = x + pl * h * w;
        float s = 0;
        int cnt = 0; /* count_include_pad=False: only real pixels */
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                int sy = oy * stride - pad + ky, sx = ox * stride - pad + kx;
                if (sy >= 0 && sy < h && sx >= 0 && sx < w) {
                    s += xp[(size_t)sy * w + sx];
                    cnt++;
                }
            }
        y[i] = cnt ? s / (float)cnt : 0.0f;
    }
}

static fs_status avg_pool2d_launch(const float *x, float *y, int nc, int h, int w, int oh, int ow,
                                    int k, int stride, int pad, cudaStream_t stream)
{
    size_t total = (size_t)nc * oh * ow;
    avg_pool2d_kernel1<<<cuda_blocks(total, NP_BLOCK), NP_BLOCK, 0, stream>>>(
        x, y, total, h, w, oh, ow, k, stride, pad);
    CUDA_CHECK_LAUNCH("avg_pool2d_kernel1");
    return FS_OK;
}

fs_status cuda_avg_pool2d(fs_backend *b, const float *x, float *y, int nc, int h, int w, int k,
                          int stride, int pad)
{
    FS_TRY(cuda_enter(b));
    if (stride <= 0 || k <= 0)
        return fs_error(FS_ERR_ARG, "cuda avg_pool2d: kernel %d, stride %d", k, stride);
    int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
    if (nc <= 0 || oh <= 0 || ow <= 0)
        return FS_OK;
    return avg_pool2d_launch(x, y, nc, h, w, oh, ow, k, stride, pad, cuda_impl_of(b)->stream);
}

/* ---- instance_norm ------------------------------------------------------------------------- */

/* One block per (sample, channel) plane: mean and biased variance in double
 * (two passes, as the CPU), then the affine transform and activation. */
__global__ void instance_norm_kernel1(float *__restrict__ x, const float *__restrict__ weight,
                                      const float *__restrict__ bias, int c, size_t hw, float eps,
                                      int act)
{
    __shared__ double sh[32];
    int j = blockIdx.x % c;
    float *p = x + (size_t)blockIdx.x * hw;
    double mean = 0;
    for (size_t q = threadIdx.x; q < hw; q += blockDim.x)
        mean += p[q];
    mean = block_sum(mean, sh) / (double)hw;
    double var = 0;
    for (size_t q = threadIdx.x; q < hw; q += blockDim.x)
        var += (p[q] - mean) * (p[q] - mean);
    var = block_sum(var, sh) / (double)hw;
    float inv = (float)(1.0 / sqrt(var + eps)), mu = (float)mean;
    float wj = weight ? weight[j] : 1.0f, bj = bias ? bias[j] : 0.0f;
    for (size_t q = threadIdx.x; q < hw; q += blockDim.x)
        p[q] = act_apply((p[q] - mu) * inv * wj + bj, act, 1.0f, 0.0f);
}

static fs_status instance_norm_launch(float *x, const float *weight, const float *bias, int n,
                                       int c, size_t hw, float eps, fs_act act, cudaStream_t stream)
{
    instance_norm_kernel1<<<n * c, NP_BLOCK, 0, stream>>>(x, weight, bias, c, hw, eps, (int)act);
    CUDA_CHECK_LAUNCH("instance_norm_kernel1");
    return FS_OK;
}

fs_status cuda_instance_norm(fs_backend *b, float *x, const float *weight, const float *bias, int n,
                             int c, size_t hw, float eps, fs_act act)
{
    FS_TRY(cuda_enter(b));
    if (n <= 0 || c <= 0 || hw == 0)
        return FS_OK;
    return instance_norm_launch(x, weight, bias, n, c, hw, eps, act, cuda_impl_of(b)->stream);
}

