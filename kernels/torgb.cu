/* The torgb op on the GPU (backend.h fs_torgb_args): ToRGB and the skip
 * image in one kernel, per output pixel
 *   img[s, c, y, x] = clamp(sum_i (W[c, i] styles[s, i]) f[s, y, x, i] + b[c])
 *                     + up2(img_prev)[s, c, y, x]
 * from 16-bit NHWC features (a warp per pixel: lanes read channel pairs,
 * one 32-bit load each, coalesced along the pixel's channels, then a warp
 * sum per colour) or fp32 NCHW (a thread per pixel: coalesced along the
 * pixels of a channel plane), always fp32 NCHW out.
 *
 * up2 is the official 2x FIR up-sampling (upfirdn2d up 2, pad (2, 1), gain
 * 4, true convolution) in polyphase form: output 2y + ry reads only the
 * filter taps k with k = ry (mod 2), i.e. img_prev rows y - 1 + (ry + k) / 2
 * for k in {ry, ry + 2}: 2 x 2 taps per output phase instead of the 4 x 4 of
 * the zero-inserted plane; missing neighbours count as 0 (the zero boundary
 * of docs/stylegan2.md §1.7); the maps are modconv_v2_tiling.h's
 * mc2_up2_k / mc2_up2_src, checked against the definition by
 * tests/test_modconv_v2_sim.c.
 *
 * The products are docs/precision.md §4's: W[c, i] * (styles[s, i] * f[i]),
 * the modulated input formed once per channel and shared by the colours; W
 * and the sample's styles sit in shared memory (a block serves one sample).
 * Kernel version 1. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda_backend.h"
#include "cuda_common.cuh"
#include "modconv_v2_tiling.h"

#define TORGB_BLOCK 256
#define TORGB_MAX_COUT 8 /* RGB, RGBA and the odd test shapes; accumulators in registers */

/* up2(img_prev)[c] at output (oy, ox) of an oh x ow image from the h2 x w2
 * plane p; f is the 4 x 4 filter. */
__device__ __forceinline__ float torgb_up2(const float *__restrict__ p, int h2, int w2, int oy,
                                           int ox, const float *f)
{
    float acc = 0.0f;
#pragma unroll
    for (int a = 0; a < 2; a++) {
        int ky = mc2_up2_k(oy, a), sy = mc2_up2_src(oy, a);
        if ((unsigned)sy >= (unsigned)h2)
            continue;
#pragma unroll
        for (int c = 0; c < 2; c++) {
            int kx = mc2_up2_k(ox, c), sx = mc2_up2_src(ox, c);
            if ((unsigned)sx >= (unsigned)w2)
                continue;
            acc += p[(size_t)sy * w2 + sx] * f[(3 - ky) * 4 + (3 - kx)];
        }
    }
    return acc * 4.0f;
}

/* FMT: FS_FEAT_F32_NCHW, F16_NHWC or BF16_NHWC. grid: (pixel blocks, n). */
template <int FMT>
__global__ void torgb_kernel1(const float *__restrict__ x, const uint16_t *__restrict__ x16,
                              const float *__restrict__ w, const float *__restrict__ styles,
                              const float *__restrict__ b, const float *__restrict__ img_prev,
                              float *__restrict__ img, const float *__restrict__ fir, int cin,
                              int cout, int h, int wd, float clamp)
{
    extern __shared__ float ws[]; /* [cout][cin] weight, then the sample's [cin] styles */
    __shared__ float f[16];
    const int s = blockIdx.y;
    float *st = ws + cout * cin;
    for (int e = threadIdx.x; e < cout * cin; e += blockDim.x)
        ws[e] = w[e];
    for (int e = threadIdx.x; e < cin; e += blockDim.x)
        st[e] = styles[(size_t)s * cin + e];
    if (threadIdx.x < 16)
        f[threadIdx.x] = fir ? fir[threadIdx.x] : 0.0f;
    __syncthreads();
    const size_t hw = (size_t)h * wd;
    float acc[TORGB_MAX_COUT];
    if (FMT == FS_FEAT_F32_NCHW) {
        size_t q = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
        if (q >= hw)
            return;
        const float *xs = x + (size_t)s * cin * hw + q;
#pragma unroll
        for (int c = 0; c < TORGB_MAX_COUT; c++)
            acc[c] = 0.0f;
        for (int i = 0; i < cin; i++) {
            float v = st[i] * xs[(size_t)i * hw];
#pragma unroll
            for (int c = 0; c < TORGB_MAX_COUT; c++)
                if (c < cout)
                    acc[c] += ws[c * cin + i] * v;
        }
        int oy = (int)(q / wd), ox = (int)(q - (size_t)oy * wd);
#pragma unroll
        for (int c = 0; c < TORGB_MAX_COUT; c++) {
            if (c >= cout)
                break; /* unrolled: acc stays in registers */
            float v = act_apply(acc[c] + (b ? b[c] : 0.0f), FS_ACT_LINEAR, 1.0f, clamp);
            if (img_prev)
                v = torgb_up2(img_prev + ((size_t)s * cout + c) * (hw / 4), h / 2, wd / 2, oy, ox,
                              f) + v;
            img[((size_t)s * cout + c) * hw + q] = v;
        }
        return;
    }
    /* 16-bit NHWC: a warp per pixel */
    const int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    for (size_t q = blockIdx.x * (size_t)warps + (threadIdx.x >> 5); q < hw;
         q += (size_t)gridDim.x * warps) {
        const uint16_t *xp = x16 + ((size_t)s * hw + q) * cin;
#pragma unroll
        for (int c = 0; c < TORGB_MAX_COUT; c++)
            acc[c] = 0.0f;
        for (int i = 2 * lane; i < cin; i += 64) {
            float v0, v1 = 0.0f;
            uint16_t h0 = xp[i], h1 = i + 1 < cin ? xp[i + 1] : (uint16_t)0;
            if (FMT == FS_FEAT_F16_NHWC) {
                v0 = __half2float(__ushort_as_half(h0));
                v1 = __half2float(__ushort_as_half(h1));
            } else {
                v0 = __uint_as_float((uint32_t)h0 << 16);
                v1 = __uint_as_float((uint32_t)h1 << 16);
            }
            v0 = st[i] * v0;
            v1 = i + 1 < cin ? st[i + 1] * v1 : 0.0f;
#pragma unroll
            for (int c = 0; c < TORGB_MAX_COUT; c++)
                if (c < cout)
                    acc[c] += ws[c * cin + i] * v0 + (i + 1 < cin ? ws[c * cin + i + 1] * v1 : 0.0f);
        }
#pragma unroll
        for (int c = 0; c < TORGB_MAX_COUT; c++)
#pragma unroll
            for (int o = 16; o > 0; o >>= 1)
                acc[c] += __shfl_xor_sync(0xffffffffu, acc[c], o);
        if (lane < cout) {
            int c = lane, oy = (int)(q / wd), ox = (int)(q - (size_t)oy * wd);
            float a = acc[0];
#pragma unroll
            for (int j = 1; j < TORGB_MAX_COUT; j++)
                a = c == j ? acc[j] : a;
            float v = act_apply(a + (b ? b[c] : 0.0f), FS_ACT_LINEAR, 1.0f, clamp);
            if (img_prev)
                v = torgb_up2(img_prev + ((size_t)s * cout + c) * (hw / 4), h / 2, wd / 2, oy, ox,
                              f) + v;
            img[((size_t)s * cout + c) * hw + q] = v;
        }
    }
}

fs_status cuda_torgb(fs_backend *b, const fs_torgb_args *a)
{
    FS_TRY(cuda_enter(b));
    cudaStream_t stream = cuda_impl_of(b)->stream;
    if (a->fmt != FS_FEAT_F32_NCHW && a->fmt != FS_FEAT_F16_NHWC && a->fmt != FS_FEAT_BF16_NHWC)
        return fs_error(FS_ERR_ARG, "cuda torgb: unknown feature format %d", (int)a->fmt);
    if (a->n <= 0 || a->cin <= 0 || a->cout <= 0 || a->h <= 0 || a->w <= 0)
        return fs_error(FS_ERR_ARG, "cuda torgb: shape n%d %d->%d %dx%d", a->n, a->cin, a->cout,
                        a->h, a->w);
    if (a->cout > TORGB_MAX_COUT)
        return fs_error(FS_ERR_UNSUPPORTED, "cuda torgb: %d output channels (at most %d)", a->cout,
                        TORGB_MAX_COUT);
    if ((a->fmt == FS_FEAT_F32_NCHW ? !a->x : !a->x16) || !a->img)
        return fs_error(FS_ERR_ARG, "cuda torgb: no features or no image");
    if (a->img_prev && (a->img_prev == a->img || a->h % 2 || a->w % 2 || a->fir_len != 4 || !a->fir))
        return fs_error(FS_ERR_ARG, "cuda torgb: img_prev is img, an odd %dx%d image or no 4x4 FIR",
                        a->h, a->w);
    if (a->n > 65535)
        return fs_error(FS_ERR_ARG, "cuda torgb: batch %d", a->n);
    size_t hw = (size_t)a->h * a->w, smem = (size_t)(a->cout + 1) * a->cin * sizeof(float);
    /* without the opt-in, static (the FIR) and dynamic shared memory together
     * get 48 KB a block */
    if (smem + 16 * sizeof(float) > 48 * 1024)
        return fs_error(FS_ERR_UNSUPPORTED, "cuda torgb: %d input channels", a->cin);
    const float *fir = a->img_prev ? a->fir : NULL;
    if (a->fmt == FS_FEAT_F32_NCHW) {
        dim3 grid((unsigned)((hw + TORGB_BLOCK - 1) / TORGB_BLOCK), (unsigned)a->n);
        torgb_kernel1<FS_FEAT_F32_NCHW><<<grid, TORGB_BLOCK, smem, stream>>>(
            a->x, NULL, a->weight, a->styles, a->b, a->img_prev, a->img, fir, a->cin, a->cout, a->h,
            a->w, a->clamp);
    } else {
        size_t blocks = (hw + TORGB_BLOCK / 32 - 1) / (TORGB_BLOCK / 32);
        dim3 grid((unsigned)(blocks < 65535 ? blocks : 65535), (unsigned)a->n);
        if (a->fmt == FS_FEAT_F16_NHWC)
            torgb_kernel1<FS_FEAT_F16_NHWC><<<grid, TORGB_BLOCK, smem, stream>>>(
                NULL, a->x16, a->weight, a->styles, a->b, a->img_prev, a->img, fir, a->cin, a->cout,
                a->h, a->w, a->clamp);
        else
            torgb_kernel1<FS_FEAT_BF16_NHWC><<<grid, TORGB_BLOCK, smem, stream>>>(
                NULL, a->x16, a->weight, a->styles, a->b, a->img_prev, a->img, fir, a->cin, a->cout,
                a->h, a->w, a->clamp);
    }
    CUDA_CHECK_LAUNCH("torgb_kernel1");
    return FS_OK;
}
