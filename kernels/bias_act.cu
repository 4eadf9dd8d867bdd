/* Pointwise epilogues on the GPU, as engine/cpu/bias_act.c: bias_act,
 * x[n, c, hw] = clamp(act(x + b[c]) * gain) in place for every fs_act
 * (StyleGAN lrelu with its sqrt(2), relu, LeakyReLU(0.01), tanh, linear), and
 * axpby, y = y * ys + x * xs (the skip-image and resnet sums).
 *
 * Kernel versions:
 *   1: one element per thread, grid-stride; the channel comes from a
 *      division per element (hw is large for every call that matters, so the
 *      kernel stays bandwidth-bound). */
#include "cuda_common.cuh"

__global__ void bias_act_kernel1(float *__restrict__ x, const float *__restrict__ bias, size_t total,
                                 int c, size_t hw, int act, float gain, float clamp)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        float bj = bias ? bias[(i / hw) % (size_t)c] : 0.0f;
        x[i] = act_apply(x[i] + bj, act, gain, clamp);
    }
}

static fs_status bias_act_launch(float *x, const float *bias, size_t total, int c, size_t hw,
                                 fs_act act, float gain, float clamp, cudaStream_t stream)
{
    const int block = 256;
    bias_act_kernel1<<<cuda_blocks(total, block), block, 0, stream>>>(x, bias, total, c, hw,
                                                                      (int)act, gain, clamp);
    CUDA_CHECK_LAUNCH("bias_act_kernel1");
    return FS_OK;
}

fs_status cuda_bias_act(fs_backend *b, float *x, const float *bias, int n, int c, size_t hw,
                        fs_act act, float gain, float clamp)
{
    FS_TRY(cuda_enter(b));
    size_t total = (size_t)n * c * hw;
    if (total == 0)
        return FS_OK;
    return bias_act_launch(x, bias, total, c, hw, act, gain, clamp, cuda_impl_of(b)->stream);
}

/* ---- axpby --------------------------------------------------------------------------- */

__global__ void axpby_kernel1(float *__restrict__ y, const float *__restrict__ x, size_t n, float ys,
                              float xs)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] = y[i] * ys + x[i] * xs;
}

static fs_status axpby_launch(float *y, const float *x, size_t n, float ys, float xs,
                               cudaStream_t stream)
{
    axpby_kernel1<<<cuda_blocks(n, 256), 256, 0, stream>>>(y, x, n, ys, xs);
    CUDA_CHECK_LAUNCH("axpby_kernel1");
    return FS_OK;
}

fs_status cuda_axpby(fs_backend *b, float *y, const float *x, size_t n, float ys, float xs)
{
    FS_TRY(cuda_enter(b));
    if (n == 0)
        return FS_OK;
    return axpby_launch(y, x, n, ys, xs, cuda_impl_of(b)->stream);
}

