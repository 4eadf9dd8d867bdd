/* The implicit-GEMM convolution every weighted op of the CUDA backend runs on
 * (see igemm_params in cuda_common.cuh): C[cout, pixels] = W[cout, K] x
 * B[K, pixels], where K runs over (input channel, tap) and B is gathered from
 * the input on the fly (im2col never materialised), scaled per sample and
 * channel by the styles when given, then the epilogue (bias, demodulation,
 * noise, activation, clamp) is applied as C is stored.
 *   fc               = 1x1 "conv" over n samples of 1 pixel;
 *   conv2d           = one launch with all k x k taps, stride and pad;
 *   conv_transpose2d = one launch per output phase (st x st), each a small
 *                      correlation over the taps that reach that phase, so no
 *                      inserted zeros are multiplied (convt_launch);
 *   modconv          = conv2d with styles and the modconv epilogue, or (up=2)
 *                      the stride-2 transposed conv into a plane that the FIR
 *                      kernel of modconv.cu then filters.
 *
 * Kernel versions:
 *   1: 256 threads, BM x BN output tile (64 x 64, or 16 x 256 when cout <= 16
 *      so ToRGB does not compute 61 zero rows), BK = 16, 4 x 4 outputs per
 *      thread, the next K tile prefetched into registers while the current one
 *      is multiplied from shared memory. The (channel, tap) decomposition of
 *      the K indices of a tile is computed once per tile into shared memory,
 *      so loads do no integer division. FP32 FMA, no tensor cores (v1).
 *   tc1: the same tiling, loads and epilogue on tensor cores (WMMA): 64 x 64
 *      tile, BK = 16, 8 warps of 16 x 32 outputs (two 16 x 16 accumulator
 *      fragments each), operands rounded to FP16 / BF16 (16x16x16 fragments)
 *      or TF32 (16x16x8) as they are staged into shared memory, FP32
 *      accumulators; the accumulators go through shared memory to the FP32
 *      epilogue so that stores stay pixel-contiguous. Correctness first: one
 *      shared buffer, register prefetch, no cp.async / wgmma (later). */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <limits.h>
#include <mma.h>

#include "cuda_common.cuh"

#define IG_BK 16
#define IG_THREADS 256

/* Decodes K index kidx into {channel, input row offset, input column offset,
 * weight offset within the cout stride}; channel -1 past K. */
__device__ __forceinline__ int4 igemm_decode(const igemm_params &P, int kidx, int K, int taps)
{
    int4 r;
    if (kidx >= K) {
        r.x = -1;
        r.y = r.z = r.w = 0;
        return r;
    }
    int i = kidx / taps, t = kidx - i * taps;
    int ty = t / P.ntx, tx = t - ty * P.ntx;
    int ky = P.ky0 + P.kystep * ty, kx = P.kx0 + P.kxstep * tx;
    r.x = i;
    r.y = P.iy0 + P.iystep * ty;
    r.z = P.ix0 + P.ixstep * tx;
    r.w = (P.w_transposed ? i * P.cout * P.k * P.k : i * P.k * P.k) + ky * P.k + kx;
    return r;
}

/* Loads K tile `buf` (kinfo[buf]) into registers: ra = this thread's A
 * (weight) elements times wgain, rb = its B (input) elements times the
 * per-sample scale, zero outside the input, the K range and the matrix.
 * Shared by both kernels, which declare the same locals. */
#define IGEMM_FETCH(buf)                                                                    \
    do {                                                                                    \
        int4 ka_ = kinfo[buf][ak];                                                          \
        _Pragma("unroll") for (int r_ = 0; r_ < A_PER; r_++) {                              \
            int o_ = m0 + am0 + (IG_THREADS / BK) * r_;                                     \
            ra[r_] = (o_ < P.cout && ka_.x >= 0)                                            \
                         ? __ldg(P.wt + (size_t)o_ * w_ostride + ka_.w) * P.wgain           \
                         : 0.0f;                                                            \
        }                                                                                   \
        _Pragma("unroll") for (int r_ = 0; r_ < B_PER; r_++) {                              \
            int4 kb_ = kinfo[buf][kr0 + B_KSTEP * r_];                                      \
            float v_ = 0.0f;                                                                \
            if (pvalid && kb_.x >= 0) {                                                     \
                int iy_ = iyb + kb_.y, ix_ = ixb + kb_.z;                                   \
                if ((unsigned)iy_ < (unsigned)P.h && (unsigned)ix_ < (unsigned)P.w) {       \
                    v_ = __ldg(xs + ((size_t)kb_.x * P.h + iy_) * P.w + ix_);               \
                    if (sc)                                                                 \
                        v_ *= __ldg(sc + kb_.x);                                            \
                }                                                                           \
            }                                                                               \
            rb[r_] = v_;                                                                    \
        }                                                                                   \
    } while (0)

template <int BM, int BN>
__global__ void __launch_bounds__(IG_THREADS) igemm_kernel1(const igemm_params P)
{
    constexpr int BK = IG_BK;
    constexpr int TN = BN / 4;                 /* threads along pixels */
    constexpr int A_PER = BM * BK / IG_THREADS; /* A elements each thread loads */
    constexpr int B_PER = BK * BN / IG_THREADS; /* B elements each thread loads */
    constexpr int B_KSTEP = IG_THREADS / BN;    /* K rows between a thread's B elements */
    static_assert(BM / 4 * TN == IG_THREADS, "4x4 outputs per thread");
    static_assert(IG_THREADS % BN == 0 || BN % IG_THREADS == 0, "B load layout");
    /* +4: the transposing A stores would otherwise hit one bank 16 times */
    __shared__ __align__(16) float As[BK][BM + 4];
    __shared__ __align__(16) float Bs[BK][BN];
    __shared__ int4 kinfo[2][BK];

    const int tid = threadIdx.x;
    const int taps = P.nty * P.ntx;
    const int K = P.cin * taps;
    const int plane = P.oh * P.ow;
    const int npix = P.n * plane;
    const int m0 = blockIdx.y * BM, p0 = blockIdx.x * BN;
    const int w_ostride = P.w_transposed ? P.k * P.k : P.cin * P.k * P.k;

    /* The B column (output pixel) this thread loads is fixed for the block. */
    const int pc = tid % BN, kr0 = tid / BN;
    const int pp = p0 + pc;
    const bool pvalid = pp < npix;
    int s = 0, oy = 0, ox = 0;
    if (pvalid) {
        s = pp / plane;
        int r = pp - s * plane;
        oy = r / P.ow;
        ox = r - oy * P.ow;
    }
    const float *xs = P.x + (size_t)s * P.x_sample_stride;
    const float *sc = P.scale ? P.scale + (size_t)s * P.cin : nullptr;
    const int iyb = oy * P.stride, ixb = ox * P.stride;
    /* The A row(s) and K column this thread loads. */
    const int ak = tid % BK, am0 = tid / BK;

    float ra[A_PER], rb[B_PER];
    const int nk = (K + BK - 1) / BK;

    if (tid < BK)
        kinfo[0][tid] = igemm_decode(P, tid, K, taps);
    __syncthreads();

    IGEMM_FETCH(0);

    const int tm = tid / TN, tn = tid % TN;
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
            acc[i][j] = 0.0f;

    for (int t = 0; t < nk; t++) {
#pragma unroll
        for (int r = 0; r < A_PER; r++)
            As[ak][am0 + (IG_THREADS / BK) * r] = ra[r];
#pragma unroll
        for (int r = 0; r < B_PER; r++)
            Bs[kr0 + B_KSTEP * r][pc] = rb[r];
        /* kinfo[(t+1)&1] was last read by the fetch of tile t-1, which every
         * thread finished before the barrier that ended iteration t-2. */
        if (t + 1 < nk && tid < BK)
            kinfo[(t + 1) & 1][tid] = igemm_decode(P, (t + 1) * BK + tid, K, taps);
        __syncthreads();
        if (t + 1 < nk)
            IGEMM_FETCH((t + 1) & 1); /* global loads in flight during the FMAs */
#pragma unroll
        for (int kk = 0; kk < BK; kk++) {
            float4 a = *reinterpret_cast<const float4 *>(&As[kk][tm * 4]);
            float bv[4];
#pragma unroll
            for (int j = 0; j < 4; j++)
                bv[j] = Bs[kk][tn + j * TN];
#pragma unroll
            for (int j = 0; j < 4; j++) {
                acc[0][j] += a.x * bv[j];
                acc[1][j] += a.y * bv[j];
                acc[2][j] += a.z * bv[j];
                acc[3][j] += a.w * bv[j];
            }
        }
        __syncthreads();
    }

    /* Epilogue: pixel columns tn + j * TN, so a warp's stores for one (i, j)
     * are consecutive pixels. */
    const size_t yplane = (size_t)P.yh * P.yw;
#pragma unroll
    for (int j = 0; j < 4; j++) {
        int q = p0 + tn + j * TN;
        if (q >= npix)
            continue;
        int qs = q / plane, r = q - qs * plane;
        int qy = r / P.ow, qx = r - qy * P.ow;
        size_t pix = (size_t)(qy * P.ysy + P.yoy) * P.yw + (size_t)(qx * P.ysx + P.yox);
        float *yb = P.y + (size_t)qs * P.y_sample_stride + pix;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int o = m0 + tm * 4 + i;
            if (o < P.cout)
                yb[(size_t)o * yplane] = epi_apply(P.epi, acc[i][j], o, qs, pix);
        }
    }
}

/* ---- tensor-core kernel (tc1) --------------------------------------------------- */

template <int MMA> struct ig_mma;
template <> struct ig_mma<IG_MMA_FP16> {
    typedef __half stage_t; /* shared-memory element */
    typedef __half frag_t;  /* WMMA fragment element type */
    static constexpr int KS = 16;
    static __device__ __forceinline__ __half cvt(float v) { return __float2half_rn(v); }
};
template <> struct ig_mma<IG_MMA_BF16> {
    typedef __nv_bfloat16 stage_t;
    typedef __nv_bfloat16 frag_t;
    static constexpr int KS = 16;
    static __device__ __forceinline__ __nv_bfloat16 cvt(float v) { return __float2bfloat16_rn(v); }
};
template <> struct ig_mma<IG_MMA_TF32> {
    typedef float stage_t; /* TF32 values kept in FP32 containers */
    typedef nvcuda::wmma::precision::tf32 frag_t;
    static constexpr int KS = 8;
    static __device__ __forceinline__ float cvt(float v) { return nvcuda::wmma::__float_to_tf32(v); }
};

template <int MMA>
__global__ void __launch_bounds__(IG_THREADS) igemm_kernel_tc1(const igemm_params P)
{
    namespace wmma = nvcuda::wmma;
    typedef ig_mma<MMA> TR;
    typedef typename TR::stage_t T;
    typedef typename TR::frag_t F;
    constexpr int BM = 64, BN = 64, BK = IG_BK, KS = TR::KS;
    constexpr int TN = BN / 4;
    constexpr int A_PER = BM * BK / IG_THREADS;
    constexpr int B_PER = BK * BN / IG_THREADS;
    constexpr int B_KSTEP = IG_THREADS / BN;
    /* Row pitch + 16 bytes: WMMA wants ldm a multiple of 16 bytes and every
     * fragment pointer 32-byte aligned (rows kk = 0, 8 and columns multiples
     * of 16 are, with these pitches). */
    constexpr int PAD = 16 / (int)sizeof(T);
    constexpr int LDA = BM + PAD, LDB = BN + PAD, LDC = BN + 4;
    static_assert(BK % KS == 0, "k steps");
    /* A stored K-major (As[k][m]): matrix_a in col_major with ldm LDA. */
    __shared__ __align__(32) T As[BK][LDA];
    __shared__ __align__(32) T Bs[BK][LDB];
    __shared__ __align__(32) float Cs[BM][LDC];
    __shared__ int4 kinfo[2][BK];

    const int tid = threadIdx.x;
    const int taps = P.nty * P.ntx;
    const int K = P.cin * taps;
    const int plane = P.oh * P.ow;
    const int npix = P.n * plane;
    const int m0 = blockIdx.y * BM, p0 = blockIdx.x * BN;
    const int w_ostride = P.w_transposed ? P.k * P.k : P.cin * P.k * P.k;

    const int pc = tid % BN, kr0 = tid / BN;
    const int pp = p0 + pc;
    const bool pvalid = pp < npix;
    int s = 0, oy = 0, ox = 0;
    if (pvalid) {
        s = pp / plane;
        int r = pp - s * plane;
        oy = r / P.ow;
        ox = r - oy * P.ow;
    }
    const float *xs = P.x + (size_t)s * P.x_sample_stride;
    const float *sc = P.scale ? P.scale + (size_t)s * P.cin : nullptr;
    const int iyb = oy * P.stride, ixb = ox * P.stride;
    const int ak = tid % BK, am0 = tid / BK;

    /* Per-row multipliers of this thread's A rows (FP16 pre-normalisation). */
    float wr[A_PER];
#pragma unroll
    for (int r = 0; r < A_PER; r++) {
        int o = m0 + am0 + (IG_THREADS / BK) * r;
        wr[r] = (P.wrow && o < P.cout) ? __ldg(P.wrow + o) : 1.0f;
    }

    float ra[A_PER], rb[B_PER];
    const int nk = (K + BK - 1) / BK;

    if (tid < BK)
        kinfo[0][tid] = igemm_decode(P, tid, K, taps);
    __syncthreads();

    IGEMM_FETCH(0);

    const int warp = tid >> 5, wm = warp >> 1, wn = warp & 1; /* 4 x 2 warps */
    wmma::fragment<wmma::accumulator, 16, 16, KS, float> acc[2];
    wmma::fill_fragment(acc[0], 0.0f);
    wmma::fill_fragment(acc[1], 0.0f);

    for (int t = 0; t < nk; t++) {
#pragma unroll
        for (int r = 0; r < A_PER; r++)
            As[ak][am0 + (IG_THREADS / BK) * r] = TR::cvt(ra[r] * wr[r]);
#pragma unroll
        for (int r = 0; r < B_PER; r++)
            Bs[kr0 + B_KSTEP * r][pc] = TR::cvt(rb[r]);
        if (t + 1 < nk && tid < BK)
            kinfo[(t + 1) & 1][tid] = igemm_decode(P, (t + 1) * BK + tid, K, taps);
        __syncthreads();
        if (t + 1 < nk)
            IGEMM_FETCH((t + 1) & 1);
#pragma unroll
        for (int kk = 0; kk < BK; kk += KS) {
            wmma::fragment<wmma::matrix_a, 16, 16, KS, F, wmma::col_major> fa;
            wmma::load_matrix_sync(fa, &As[kk][wm * 16], LDA);
#pragma unroll
            for (int j = 0; j < 2; j++) {
                wmma::fragment<wmma::matrix_b, 16, 16, KS, F, wmma::row_major> fb;
                wmma::load_matrix_sync(fb, &Bs[kk][wn * 32 + j * 16], LDB);
                wmma::mma_sync(acc[j], fa, fb, acc[j]);
            }
        }
        __syncthreads();
    }

#pragma unroll
    for (int j = 0; j < 2; j++)
        wmma::store_matrix_sync(&Cs[wm * 16][wn * 32 + j * 16], acc[j], LDC, wmma::mem_row_major);
    __syncthreads();

    /* The epilogue of kernel1 on the 4 x 4 outputs (rows tm*4+i, pixel
     * columns tn + j*TN) this thread would own there. */
    const int tm = tid / TN, tn = tid % TN;
    const size_t yplane = (size_t)P.yh * P.yw;
#pragma unroll
    for (int j = 0; j < 4; j++) {
        int q = p0 + tn + j * TN;
        if (q >= npix)
            continue;
        int qs = q / plane, r = q - qs * plane;
        int qy = r / P.ow, qx = r - qy * P.ow;
        size_t pix = (size_t)(qy * P.ysy + P.yoy) * P.yw + (size_t)(qx * P.ysx + P.yox);
        float *yb = P.y + (size_t)qs * P.y_sample_stride + pix;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int o = m0 + tm * 4 + i;
            if (o < P.cout)
                yb[(size_t)o * yplane] = epi_apply(P.epi, Cs[tm * 4 + i][tn + j * TN], o, qs, pix);
        }
    }
}

#undef IGEMM_FETCH

void igemm_set_correlation(igemm_params *p, int k, int stride, int pad, int oh, int ow)
{
    p->k = k;
    p->stride = stride;
    p->nty = p->ntx = k;
    p->ky0 = p->kx0 = 0;
    p->kystep = p->kxstep = 1;
    p->iy0 = p->ix0 = -pad;
    p->iystep = p->ixstep = 1;
    p->oh = p->yh = oh;
    p->ow = p->yw = ow;
    p->ysy = p->ysx = 1;
    p->yoy = p->yox = 0;
}

fs_status igemm_launch(const igemm_params *p, cudaStream_t stream)
{
    long long npix = (long long)p->n * p->oh * p->ow;
    if (npix <= 0 || p->cout <= 0)
        return FS_OK;
    if (npix > INT_MAX / 2 || (long long)p->cin * p->nty * p->ntx > INT_MAX / 2)
        return fs_error(FS_ERR_UNSUPPORTED, "cuda conv: %lld output pixels x %d channels is "
                        "beyond the 32-bit indexing of the kernel", npix, p->cin);
    if ((p->cout + 63) / 64 > 65535)
        return fs_error(FS_ERR_UNSUPPORTED, "cuda conv: %d output channels", p->cout);
    if (p->mma != IG_MMA_NONE) {
        dim3 grid((unsigned)((npix + 63) / 64), (unsigned)((p->cout + 63) / 64));
        switch (p->mma) {
        case IG_MMA_TF32: igemm_kernel_tc1<IG_MMA_TF32><<<grid, IG_THREADS, 0, stream>>>(*p); break;
        case IG_MMA_FP16: igemm_kernel_tc1<IG_MMA_FP16><<<grid, IG_THREADS, 0, stream>>>(*p); break;
        case IG_MMA_BF16: igemm_kernel_tc1<IG_MMA_BF16><<<grid, IG_THREADS, 0, stream>>>(*p); break;
        default: return fs_error(FS_ERR_ARG, "cuda conv: unknown tensor-core mode %d", p->mma);
        }
        CUDA_CHECK_LAUNCH("igemm_kernel_tc1");
        return FS_OK;
    }
    if (p->cout <= 16) {
        dim3 grid((unsigned)((npix + 255) / 256), (unsigned)((p->cout + 15) / 16));
        igemm_kernel1<16, 256><<<grid, IG_THREADS, 0, stream>>>(*p);
    } else {
        dim3 grid((unsigned)((npix + 63) / 64), (unsigned)((p->cout + 63) / 64));
        igemm_kernel1<64, 64><<<grid, IG_THREADS, 0, stream>>>(*p);
    }
    CUDA_CHECK_LAUNCH("igemm_kernel1");
    return FS_OK;
}

/* Output row oy = st * m + ry (phase ry) gets the taps ky = ky0 + st * t with
 * ky0 = (ry + pad) mod st, from input row iy = m + (ry + pad - ky0) / st - t,
 * which is (oy + pad - ky) / st exactly. A phase no tap reaches (k < st) still
 * runs, with K = 0, so its outputs get the bias. */
fs_status convt_launch(igemm_params *p, int st, int pad, cudaStream_t stream)
{
    int oh = p->yh, ow = p->yw;
    for (int ry = 0; ry < st && ry < oh; ry++)
        for (int rx = 0; rx < st && rx < ow; rx++) {
            int ky0 = (ry + pad) % st, kx0 = (rx + pad) % st;
            p->stride = 1;
            p->nty = ky0 < p->k ? (p->k - ky0 + st - 1) / st : 0;
            p->ntx = kx0 < p->k ? (p->k - kx0 + st - 1) / st : 0;
            p->ky0 = ky0;
            p->kx0 = kx0;
            p->kystep = p->kxstep = st;
            p->iy0 = (ry + pad - ky0) / st;
            p->ix0 = (rx + pad - kx0) / st;
            p->iystep = p->ixstep = -1;
            p->oh = (oh - ry + st - 1) / st;
            p->ow = (ow - rx + st - 1) / st;
            p->ysy = p->ysx = st;
            p->yoy = ry;
            p->yox = rx;
            igemm_params q = *p;
            if (q.nty == 0 || q.ntx == 0) {
                q.nty = q.ntx = 1; /* K = 0 below: no taps, epilogue only */
                q.cin = 0;
            }
            fs_status s = igemm_launch(&q, stream);
            if (s != FS_OK)
                return s;
        }
    return FS_OK;
}
