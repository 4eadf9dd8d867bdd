/* The blend op on the GPU (backend.h fs_blend_args): domain mixup's pixel
 * blend of image pairs, as engine/cpu/blend.c computes it: p = a * w,
 * q = b * (1 - w), v = (p + q) + 0.5 in float32, each rounded once
 * (__fmul_rn / __fadd_rn / __fsub_rn are never contracted into an FMA),
 * clamped to [0, 255] and truncated, so the bytes equal the CPU's.
 *
 * Kernel version 1: one byte per thread, grid-stride; the weight of a pair
 * is read once per thread from the read-only cache. */
#include "cuda_common.cuh"

#define BLEND_BLOCK 256

__global__ void blend_kernel1(const uint8_t *__restrict__ a, const uint8_t *__restrict__ b,
                              const float *__restrict__ w, uint8_t *y, size_t len, size_t total)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        float wa = __ldg(w + i / len);
        float wb = __fsub_rn(1.0f, wa);
        float p = __fmul_rn((float)a[i], wa);
        float q = __fmul_rn((float)b[i], wb);
        float v = __fadd_rn(__fadd_rn(p, q), 0.5f);
        y[i] = !(v > 0.0f) ? 0 : v >= 255.0f ? 255 : (uint8_t)__float2uint_rz(v);
    }
}

fs_status cuda_blend(fs_backend *b, const fs_blend_args *a)
{
    FS_TRY(cuda_enter(b));
    if (a->n < 0)
        return fs_error(FS_ERR_ARG, "cuda blend: %d pairs", a->n);
    size_t total = (size_t)a->n * a->len;
    if (total == 0)
        return FS_OK;
    blend_kernel1<<<cuda_blocks(total, BLEND_BLOCK), BLEND_BLOCK, 0, cuda_impl_of(b)->stream>>>(
        a->a, a->b, a->w, a->y, a->len, total);
    CUDA_CHECK_LAUNCH("blend_kernel1");
    return FS_OK;
}
