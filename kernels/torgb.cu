/* The torgb op on the GPU (backend.h fs_torgb_args): ToRGB and the skip
 * image in one kernel, per output pixel
 *   img[s, c, y, x] = clamp(sum_i (W[c, i] styles[s, i]) f[s, y, x, i] + b[c])
 *                     + up2(img_prev)[s, c, y, x]
 * from 16-bit NHWC features or fp32 NCHW (a thread per pixel: coalesced
 * along the pixels of a channel plane), always fp32 NCHW out. 16-bit
 * features (kernel version 2): up to TORGB_THREAD_CIN (128) channels, the
 * config-f layers of 256^2..1024^2 where the pixels are many, a thread per
 * pixel with all its colours in registers, the channels read as 16-byte
 * granules (or 32-bit pairs, or singly, as cin and the alignment allow);
 * more channels (4^2..128^2), a warp per pixel, lanes on channel pairs (one
 * 32-bit load each where aligned) and a warp sum per colour. RGB (cout 3)
 * is a compile-time colour count: a channel's three weights and its style
 * are one float4 in shared memory, three accumulators, three warp sums;
 * other counts up to TORGB_MAX_COUT take the generic form. (Version 1 ran
 * a warp per pixel at every cin: at 1024^2, cin 32, half its lanes idle,
 * and eight accumulators reduced by 40 shuffles for three colours.)
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
 * the modulated input formed once per channel and shared by the colours,
 * summed in float32 in increasing i by each thread (the warp form: each
 * lane's channels in increasing i, then the lanes' partial sums); W and the
 * sample's styles sit in shared memory (a block serves one sample).
 * Kernel versions: fp32 NCHW 1, 16-bit NHWC 2 (thread and warp forms). */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda_backend.h"
#include "cuda_common.cuh"
#include "feat16.cuh"
#include "modconv_v2_tiling.h"

#define TORGB_BLOCK 256
#define TORGB_MAX_COUT 8 /* RGB, RGBA and the odd test shapes; accumulators in registers */
#define TORGB_THREAD_CIN 128 /* 16-bit features: a thread per pixel up to this cin, else a warp */

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

/* fp32 NCHW features: a thread per pixel (coalesced along the pixels of a
 * channel plane). grid: (pixel blocks, n). */
__global__ void torgb_f32_kernel1(const float *__restrict__ x, const float *__restrict__ w,
                                  const float *__restrict__ styles, const float *__restrict__ b,
                                  const float *__restrict__ img_prev, float *__restrict__ img,
                                  const float *__restrict__ fir, int cin, int cout, int h, int wd,
                                  float clamp)
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
            v = torgb_up2(img_prev + ((size_t)s * cout + c) * (hw / 4), h / 2, wd / 2, oy, ox, f) + v;
        img[((size_t)s * cout + c) * hw + q] = v;
    }
}

/* ---- 16-bit NHWC features (kernel version 2) ------------------------------------------
 * NC: the colour count as a constant, 3 (RGB: a channel's three weights and
 * its style are one float4 in shared memory, [cin][4], one 16-byte
 * broadcast load a channel; 3 accumulators) or 0 (any cout up to
 * TORGB_MAX_COUT, runtime-checked; [cout][cin] weights then [cin] styles).
 * Each channel i adds W[c, i] * (styles[i] * f[i]) to colour c's float32
 * sum, in increasing i (docs/precision.md §4's products). */
template <int NC> struct torgb_nc {
    static constexpr int N = NC ? NC : TORGB_MAX_COUT; /* accumulators */
};

/* acc[c] += W[c, i] * (styles[i] * f) for the 16-bit feature h of channel i. */
template <int FMT, int NC>
__device__ __forceinline__ void torgb_chan(float (&acc)[torgb_nc<NC>::N], const float *ws, int cin,
                                           int cout, int i, unsigned h)
{
    const float f = feat16_widen<FMT>(h);
    if (NC == 3) {
        const float4 q = ((const float4 *)ws)[i];
        const float v = q.w * f;
        acc[0] += q.x * v;
        acc[1] += q.y * v;
        acc[2] += q.z * v;
    } else {
        const float v = ws[cout * cin + i] * f;
#pragma unroll
        for (int c = 0; c < torgb_nc<NC>::N; c++)
            if (c < cout)
                acc[c] += ws[c * cin + i] * v;
    }
}

/* The weight and the sample's styles into shared memory in NC's layout, and
 * the FIR. */
template <int NC>
__device__ __forceinline__ void torgb_stage(float *ws, float *f, const float *__restrict__ w,
                                            const float *__restrict__ styles,
                                            const float *__restrict__ fir, int s, int cin, int cout)
{
    if (NC == 3) {
        for (int e = threadIdx.x; e < cin; e += blockDim.x)
            ((float4 *)ws)[e] = make_float4(w[e], w[cin + e], w[2 * cin + e], styles[(size_t)s * cin + e]);
    } else {
        for (int e = threadIdx.x; e < cout * cin; e += blockDim.x)
            ws[e] = w[e];
        for (int e = threadIdx.x; e < cin; e += blockDim.x)
            ws[cout * cin + e] = styles[(size_t)s * cin + e];
    }
    if (threadIdx.x < 16)
        f[threadIdx.x] = fir ? fir[threadIdx.x] : 0.0f;
    __syncthreads();
}

/* Colour c of pixel q: bias, clamp, the skip term, one fp32 NCHW store. */
__device__ __forceinline__ void torgb_out(float a, int c, size_t q, int s, const float *__restrict__ b,
                                          const float *__restrict__ img_prev, float *__restrict__ img,
                                          const float *f, int cout, int h, int wd, float clamp)
{
    const size_t hw = (size_t)h * wd;
    int oy = (int)(q / wd), ox = (int)(q - (size_t)oy * wd);
    float v = act_apply(a + (b ? b[c] : 0.0f), FS_ACT_LINEAR, 1.0f, clamp);
    if (img_prev)
        v = torgb_up2(img_prev + ((size_t)s * cout + c) * (hw / 4), h / 2, wd / 2, oy, ox, f) + v;
    img[((size_t)s * cout + c) * hw + q] = v;
}

/* A thread per pixel, every colour in its registers (cin <= TORGB_THREAD_CIN):
 * the pixel's channels as 16-byte granules (vec 2), 32-bit pairs (vec 1) or
 * one by one (vec 0; mc2_torgb_vec). Consecutive threads take consecutive
 * pixels: a warp's loads cover 32 adjacent pixels' runs (each granule's
 * 32-byte sector is completed by the next load, from L1), its image stores
 * are coalesced per colour plane. grid: (pixel blocks, n). */
template <int FMT, int NC>
__global__ void __launch_bounds__(TORGB_BLOCK)
    torgb_thread_kernel2(const uint16_t *__restrict__ x16, const float *__restrict__ w,
                         const float *__restrict__ styles, const float *__restrict__ b,
                         const float *__restrict__ img_prev, float *__restrict__ img,
                         const float *__restrict__ fir, int cin, int cout, int h, int wd,
                         float clamp, int vec)
{
    extern __shared__ __align__(16) float ws[];
    __shared__ float f[16];
    const int s = blockIdx.y;
    torgb_stage<NC>(ws, f, w, styles, fir, s, cin, cout);
    const size_t hw = (size_t)h * wd;
    const size_t q = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (q >= hw)
        return;
    const uint16_t *xp = x16 + ((size_t)s * hw + q) * cin;
    float acc[torgb_nc<NC>::N];
#pragma unroll
    for (int c = 0; c < torgb_nc<NC>::N; c++)
        acc[c] = 0.0f;
    if (vec == 2) {
#pragma unroll 2
        for (int i = 0; i < cin; i += 8) {
            const uint4 g = *(const uint4 *)(xp + i);
            const uint32_t u[4] = {g.x, g.y, g.z, g.w};
#pragma unroll
            for (int e = 0; e < 8; e++)
                torgb_chan<FMT, NC>(acc, ws, cin, cout, i + e, mc2_gran_elem(u, e));
        }
    } else if (vec == 1) {
        for (int i = 0; i < cin; i += 2) {
            const uint32_t u = *(const uint32_t *)(xp + i);
            torgb_chan<FMT, NC>(acc, ws, cin, cout, i, u & 0xffffu);
            torgb_chan<FMT, NC>(acc, ws, cin, cout, i + 1, u >> 16);
        }
    } else {
        for (int i = 0; i < cin; i++)
            torgb_chan<FMT, NC>(acc, ws, cin, cout, i, xp[i]);
    }
#pragma unroll
    for (int c = 0; c < torgb_nc<NC>::N; c++) {
        if (!NC && c >= cout)
            break; /* unrolled: acc stays in registers */
        torgb_out(acc[c], c, q, s, b, img_prev, img, f, cout, h, wd, clamp);
    }
}

/* A warp per pixel (cin > TORGB_THREAD_CIN: the 4^2..128^2 layers, few
 * pixels and long channel runs): lane l takes channels 2l, 2l + 1 of every
 * 64, one 32-bit load when cin is even and the features 4-byte aligned
 * (pair), then a warp sum per colour (NC of them). grid: (pixel blocks, n). */
template <int FMT, int NC>
__global__ void __launch_bounds__(TORGB_BLOCK)
    torgb_warp_kernel2(const uint16_t *__restrict__ x16, const float *__restrict__ w,
                       const float *__restrict__ styles, const float *__restrict__ b,
                       const float *__restrict__ img_prev, float *__restrict__ img,
                       const float *__restrict__ fir, int cin, int cout, int h, int wd, float clamp,
                       int pair)
{
    extern __shared__ __align__(16) float ws[];
    __shared__ float f[16];
    const int s = blockIdx.y;
    torgb_stage<NC>(ws, f, w, styles, fir, s, cin, cout);
    const size_t hw = (size_t)h * wd;
    const int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    for (size_t q = blockIdx.x * (size_t)warps + (threadIdx.x >> 5); q < hw;
         q += (size_t)gridDim.x * warps) {
        const uint16_t *xp = x16 + ((size_t)s * hw + q) * cin;
        float acc[torgb_nc<NC>::N];
#pragma unroll
        for (int c = 0; c < torgb_nc<NC>::N; c++)
            acc[c] = 0.0f;
        if (pair) {
            for (int i = 2 * lane; i < cin; i += 64) {
                const uint32_t u = *(const uint32_t *)(xp + i);
                torgb_chan<FMT, NC>(acc, ws, cin, cout, i, u & 0xffffu);
                torgb_chan<FMT, NC>(acc, ws, cin, cout, i + 1, u >> 16);
            }
        } else {
            for (int i = 2 * lane; i < cin; i += 64) {
                torgb_chan<FMT, NC>(acc, ws, cin, cout, i, xp[i]);
                if (i + 1 < cin)
                    torgb_chan<FMT, NC>(acc, ws, cin, cout, i + 1, xp[i + 1]);
            }
        }
#pragma unroll
        for (int c = 0; c < torgb_nc<NC>::N; c++)
#pragma unroll
            for (int o = 16; o > 0; o >>= 1)
                acc[c] += __shfl_xor_sync(0xffffffffu, acc[c], o);
        if (lane < cout) {
            float a = acc[0];
#pragma unroll
            for (int j = 1; j < torgb_nc<NC>::N; j++)
                a = lane == j ? acc[j] : a;
            torgb_out(a, lane, q, s, b, img_prev, img, f, cout, h, wd, clamp);
        }
    }
}

template <int FMT, int NC>
static void torgb_launch16(const fs_torgb_args *a, const float *fir, size_t smem, cudaStream_t stream)
{
    size_t hw = (size_t)a->h * a->w;
    unsigned long long base = (unsigned long long)(uintptr_t)a->x16;
    if (a->cin <= TORGB_THREAD_CIN) {
        dim3 grid((unsigned)((hw + TORGB_BLOCK - 1) / TORGB_BLOCK), (unsigned)a->n);
        torgb_thread_kernel2<FMT, NC><<<grid, TORGB_BLOCK, smem, stream>>>(
            a->x16, a->weight, a->styles, a->b, a->img_prev, a->img, fir, a->cin, a->cout, a->h,
            a->w, a->clamp, mc2_torgb_vec(a->cin, base));
    } else {
        size_t blocks = (hw + TORGB_BLOCK / 32 - 1) / (TORGB_BLOCK / 32);
        dim3 grid((unsigned)(blocks < 65535 ? blocks : 65535), (unsigned)a->n);
        torgb_warp_kernel2<FMT, NC><<<grid, TORGB_BLOCK, smem, stream>>>(
            a->x16, a->weight, a->styles, a->b, a->img_prev, a->img, fir, a->cin, a->cout, a->h,
            a->w, a->clamp, mc2_torgb_vec(a->cin, base) > 0);
    }
}

template <int FMT>
static void torgb_launch16_nc(const fs_torgb_args *a, const float *fir, size_t smem,
                              cudaStream_t stream)
{
    if (a->cout == 3)
        torgb_launch16<FMT, 3>(a, fir, smem, stream);
    else
        torgb_launch16<FMT, 0>(a, fir, smem, stream);
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
        torgb_f32_kernel1<<<grid, TORGB_BLOCK, smem, stream>>>(
            a->x, a->weight, a->styles, a->b, a->img_prev, a->img, fir, a->cin, a->cout, a->h,
            a->w, a->clamp);
        CUDA_CHECK_LAUNCH("torgb_f32_kernel1");
        return FS_OK;
    }
    if (a->fmt == FS_FEAT_F16_NHWC)
        torgb_launch16_nc<FS_FEAT_F16_NHWC>(a, fir, smem, stream);
    else
        torgb_launch16_nc<FS_FEAT_BF16_NHWC>(a, fir, smem, stream);
    CUDA_CHECK_LAUNCH("torgb_kernel2");
    return FS_OK;
}
