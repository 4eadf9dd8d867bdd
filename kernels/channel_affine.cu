/* The channel_affine op on the GPU, as engine/cpu/channel_affine.c: the
 * eval-mode BatchNorm2d (x * scale + shift) and/or the per-channel PReLU,
 * each element alone, in the CPU's operation order (two roundings, no FMA
 * contraction: __fmul_rn / __fadd_rn), so the results are the CPU's bit for
 * bit.
 *
 * Kernel versions (v1): one element per thread, grid-stride. */
#include "cuda_common.cuh"

#define CA_BLOCK 256

/* x is not __restrict__: y may be x (in place). */
__global__ void channel_affine_kernel1(const float *x, float *y, size_t total,
                                       int c, size_t hw, const float *__restrict__ scale,
                                       const float *__restrict__ shift,
                                       const float *__restrict__ slope)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        int ch = (int)((i / hw) % (size_t)c);
        float v = x[i];
        if (scale || shift) {
            v = __fmul_rn(v, scale ? scale[ch] : 1.0f);
            v = __fadd_rn(v, shift ? shift[ch] : 0.0f);
        }
        if (slope)
            v = v > 0.0f ? v : __fmul_rn(slope[ch], v);
        y[i] = v;
    }
}

static fs_status channel_affine_launch(const fs_channel_affine_args *a, cudaStream_t stream)
{
    size_t total = (size_t)a->n * a->c * a->hw;
    channel_affine_kernel1<<<cuda_blocks(total, CA_BLOCK), CA_BLOCK, 0, stream>>>(
        a->x, a->y, total, a->c, a->hw, a->scale, a->shift, a->slope);
    CUDA_CHECK_LAUNCH("channel_affine_kernel1");
    return FS_OK;
}

fs_status cuda_channel_affine(fs_backend *b, const fs_channel_affine_args *a)
{
    FS_TRY(cuda_enter(b));
    if (a->n < 0 || a->c < 0)
        return fs_error(FS_ERR_ARG, "cuda channel_affine: negative shape [%d, %d]", a->n, a->c);
    if (a->n == 0 || a->c == 0 || a->hw == 0)
        return FS_OK;
    return channel_affine_launch(a, cuda_impl_of(b)->stream);
}
