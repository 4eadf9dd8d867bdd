/* upfirdn2d on the GPU: zero-insert by up, pad (negative pads crop), true
 * convolution with fir * gain, keep every down-th sample, per NCHW plane;
 * the semantics of engine/cpu/upfirdn2d.c (fir_plan.c) (upfirdn_point in
 * cuda_common.cuh holds the shared per-sample loop).
 *
 * Kernel versions:
 *   1: one output sample per thread over all planes (grid-stride), filter in
 *      shared memory, input through the read-only cache. The StyleGAN filters
 *      are 4x4, so a sample costs at most 16 loads that neighbouring threads
 *      share in L1; a shared-memory input tile is a later refinement. */
#include "cuda_common.cuh"

__global__ void upfirdn2d_kernel1(const float *__restrict__ x, float *__restrict__ y, size_t total,
                                  int h, int w, int oh, int ow, int up, int down, int pad0,
                                  const float *__restrict__ fir, int fl, float gain)
{
    extern __shared__ float f[];
    for (int i = threadIdx.x; i < fl * fl; i += blockDim.x)
        f[i] = fir[i];
    __syncthreads();
    size_t ohw = (size_t)oh * ow;
    for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        size_t plane = idx / ohw;
        int r = (int)(idx - plane * ohw);
        int oy = r / ow, ox = r - oy * ow;
        y[idx] = upfirdn_point(x + plane * h * w, h, w, up, down, pad0, f, fl, oy, ox) * gain;
    }
}

fs_status upfirdn2d_launch(const fs_upfirdn2d_args *a, cudaStream_t stream)
{
    if (a->up < 1 || a->down < 1 || a->fir_len < 1 || a->fir_len > 64)
        return fs_error(FS_ERR_ARG, "cuda upfirdn2d: up %d, down %d, filter %d", a->up, a->down,
                        a->fir_len);
    int oh = (a->h * a->up + a->pad0 + a->pad1 - a->fir_len) / a->down + 1;
    int ow = (a->w * a->up + a->pad0 + a->pad1 - a->fir_len) / a->down + 1;
    if (oh <= 0 || ow <= 0 || a->nc <= 0)
        return FS_OK;
    size_t total = (size_t)a->nc * oh * ow;
    const int block = 256;
    size_t smem = (size_t)a->fir_len * a->fir_len * sizeof(float);
    upfirdn2d_kernel1<<<cuda_blocks(total, block), block, smem, stream>>>(
        a->x, a->y, total, a->h, a->w, oh, ow, a->up, a->down, a->pad0, a->fir, a->fir_len,
        a->gain);
    CUDA_CHECK_LAUNCH("upfirdn2d_kernel1");
    return FS_OK;
}

fs_status cuda_upfirdn2d(fs_backend *b, const fs_upfirdn2d_args *a)
{
    FS_TRY(cuda_enter(b));
    return upfirdn2d_launch(a, cuda_impl_of(b)->stream);
}
