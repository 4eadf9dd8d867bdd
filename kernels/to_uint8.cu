/* The float -> uint8 image conversion on the GPU before the copy back
 * (backend.h to_uint8): x [n, c, h, w] float -> y [n, h, w, c] uint8 with
 * exactly the rule of engine/image_io.c fs_image_f32_to_u8: t = x * 127.5f
 * and t + 128.0f as two separately rounded float32 operations (__fmul_rn /
 * __fadd_rn, which the compiler never contracts into an FMA), NaN and
 * anything <= 0 -> 0, >= 255 -> 255, otherwise truncated toward zero. The
 * bytes equal the CPU's (and so the official PNGs').
 *
 * Kernel version 1: one thread per pixel, grid-stride; reads of one channel
 * are consecutive across a warp, and the warp's c-byte writes cover one
 * contiguous span. */
#include "cuda_common.cuh"

#define U8_BLOCK 256

__device__ __forceinline__ uint8_t f32_to_u8(float x)
{
    float t = __fmul_rn(x, 127.5f);
    t = __fadd_rn(t, 128.0f);
    if (!(t > 0.0f)) /* also NaN */
        return 0;
    if (t >= 255.0f)
        return 255;
    return (uint8_t)__float2uint_rz(t);
}

__global__ void to_uint8_kernel1(const float *__restrict__ x, uint8_t *__restrict__ y, int c,
                                 size_t plane, size_t pixels)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < pixels;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t s = i / plane, p = i - s * plane;
        const float *src = x + s * c * plane + p;
        uint8_t *dst = y + i * c;
        for (int ch = 0; ch < c; ch++)
            dst[ch] = f32_to_u8(__ldg(src + (size_t)ch * plane));
    }
}

fs_status cuda_to_uint8(fs_backend *b, const float *x, uint8_t *y, int n, int c, int h, int w)
{
    FS_TRY(cuda_enter(b));
    if (n < 0 || c < 0 || h < 0 || w < 0)
        return fs_error(FS_ERR_ARG, "cuda to_uint8: negative shape [%d, %d, %d, %d]", n, c, h, w);
    size_t plane = (size_t)h * w, pixels = (size_t)n * plane;
    if (pixels == 0 || c == 0)
        return FS_OK;
    to_uint8_kernel1<<<cuda_blocks(pixels, U8_BLOCK), U8_BLOCK, 0, cuda_impl_of(b)->stream>>>(
        x, y, c, plane, pixels);
    CUDA_CHECK_LAUNCH("to_uint8_kernel1");
    return FS_OK;
}
