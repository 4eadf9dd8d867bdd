/* The upsample_add op on the GPU (the FPN's bilinear upsample with
 * align_corners=True, added to y), as engine/cpu/upsample_add.c: the same
 * float taps (step (in - 1) / (out - 1), floor, fraction) and the same
 * roundings in the same order (columns mixed first, then rows, then y added;
 * __fmul_rn / __fadd_rn keep nvcc from contracting them into FMAs), so the
 * results are the CPU's bit for bit.
 *
 * Kernel versions (v1): one output element per thread, grid-stride. */
#include "cuda_common.cuh"

#define UA_BLOCK 256

/* engine/cpu/upsample_add.c axis_taps, as device code. */
__device__ __forceinline__ void ua_taps(int in, int out, int i, int *i0, int *i1, float *l0,
                                        float *l1)
{
    float step = out > 1 ? __fdiv_rn((float)(in - 1), (float)(out - 1)) : 0.0f;
    float src = __fmul_rn(step, (float)i);
    int k = (int)floorf(src);
    k = k < in - 1 ? k : in - 1;
    float f = __fsub_rn(src, (float)k);
    f = f < 0.0f ? 0.0f : f > 1.0f ? 1.0f : f;
    *i0 = k;
    *i1 = k + (k < in - 1 ? 1 : 0);
    *l1 = f;
    *l0 = __fsub_rn(1.0f, f);
}

__global__ void upsample_add_kernel1(const float *__restrict__ x, float *y, size_t total, int h,
                                     int w, int oh, int ow)
{
    size_t ohw = (size_t)oh * ow;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t plane = i / ohw, q = i - plane * ohw;
        int oy = (int)(q / (size_t)ow), ox = (int)(q - (size_t)oy * ow);
        int y0, y1, x0, x1;
        float h0, h1, w0, w1;
        ua_taps(h, oh, oy, &y0, &y1, &h0, &h1);
        ua_taps(w, ow, ox, &x0, &x1, &w0, &w1);
        const float *r0 = x + (plane * h + y0) * (size_t)w;
        const float *r1 = x + (plane * h + y1) * (size_t)w;
        float t0 = __fadd_rn(__fmul_rn(r0[x0], w0), __fmul_rn(r0[x1], w1));
        float t1 = __fadd_rn(__fmul_rn(r1[x0], w0), __fmul_rn(r1[x1], w1));
        float v = __fadd_rn(__fmul_rn(t0, h0), __fmul_rn(t1, h1));
        y[i] = __fadd_rn(v, y[i]);
    }
}

static fs_status upsample_add_launch(const fs_upsample_add_args *a, cudaStream_t stream)
{
    size_t total = (size_t)a->nc * a->oh * a->ow;
    upsample_add_kernel1<<<cuda_blocks(total, UA_BLOCK), UA_BLOCK, 0, stream>>>(
        a->x, a->y, total, a->h, a->w, a->oh, a->ow);
    CUDA_CHECK_LAUNCH("upsample_add_kernel1");
    return FS_OK;
}

fs_status cuda_upsample_add(fs_backend *b, const fs_upsample_add_args *a)
{
    FS_TRY(cuda_enter(b));
    if (a->nc < 0 || a->h < 1 || a->w < 1 || a->oh < 1 || a->ow < 1)
        return fs_error(FS_ERR_ARG, "cuda upsample_add: %d planes %dx%d -> %dx%d", a->nc, a->h,
                        a->w, a->oh, a->ow);
    if (a->nc == 0)
        return FS_OK;
    return upsample_add_launch(a, cuda_impl_of(b)->stream);
}
