/* modconv v2: the modulated convolution of the synthesis network on 16-bit
 * NHWC features (fs_modconv_args.fmt F16_NHWC / BF16_NHWC), on tensor cores,
 * with the rounding contract of backend.h: the GEMM operands are
 * r(x * r(s / smax[n])) and the plan's r(W), products accumulate in fp32, the
 * fp32 epilogue multiplies by d[n, o] * smax[n], adds noise and bias, applies
 * the activation, gain and clamp, and y is rounded once.
 *
 * An implicit GEMM per sample: M = output pixels, N = cout, K = taps x cin
 * with K index tap * cin + c (index maps: modconv_v2_tiling.h, simulated on
 * the host by tests/test_modconv_v2_sim.c). A K iteration is MC2_BK = 32
 * channels of one tap: one 64-byte run of an NHWC pixel and of a packed
 * weight row [cout][tap][cin], copied with cp.async (16 B, src-size 0
 * zero-fills the conv padding and the channels past cin; .ca through L1 for
 * the activations, which every tap re-gathers, .cg for the weights: see
 * mc2_cp_async16_ca) into a multi-stage
 * ring; warps read fragments with ldmatrix.x4 (no .trans: both operands are
 * K-contiguous, which is the row layout for A and the col layout for B of
 * mma.row.col) and multiply with mma.sync.m16n8k16 (f16 or bf16, f32
 * accumulate). The styles are applied to the A fragments after ldmatrix:
 *   fp16: mul.rn.f16x2 of x and r(s / smax): the product of two fp16 values
 *         is exact in fp32 (22 significant bits, exponents far inside
 *         fp32's range), so one rounding gives r(x * r(s / smax)) exactly;
 *   bf16: fma.rn.bf16x2 with a -0 addend (one HFMA2.BF16, sm_80 and up):
 *         the exact product rounded once, r(x * s'), as the CPU's
 *         r(float(x) * float(s')) gives it: the float product of two bf16
 *         values is exact (16 significant bits) down to fp32's smallest
 *         normal, 2^-126; only below that, where the CPU's float product is
 *         itself rounded first, could the two differ (a tie after double
 *         rounding, for operands under 1e-38). -0 keeps the sign of a zero
 *         product (+0 + -0 = +0). The fp32 multiply + cvt.rn.bf16x2
 *         alternative costs about six instructions a register in the main
 *         loop (counted in the SASS: 13.6 instructions per mma against fp16's 9.3).
 * CTAs never cross samples (grid z = sample): the CTA stages its sample's
 * r(s / smax) (made by modconv_v2_prep_kernel1), d * smax, bias and the noise
 * of its pixels in shared memory before the main loop. The integer work of
 * the loop is counters: each thread decodes its A rows' pixels once, the
 * (tap, channel block) position advances by increments.
 *
 * Tiles (up == 1): 128 x 128 x 32 with 8 warps as 2 (M) x 4 (N), 64 x 32 per
 * warp (4 x 4 mma tiles, 64 fp32 accumulators a thread): per k16 step a
 * warp issues 4 + 2 ldmatrix.x4 for 16 mma, 2 CTAs an SM (64 KB of 4-stage
 * ring each); or 64 x 64 x 32 with 4 warps (32 x 32 each) for layers whose
 * large-tile grid would not fill the GPU twice (the 4^2..32^2 layers,
 * cout < 128); or 128 x 32 x 32 with 4 warps along M (32 x 32 each) when
 * cout <= 32. Independently, an n8 mma tile whose channels all lie past
 * cout is skipped (warp-uniform), in every shape and in the up kernel.
 *   MMA utilisation (useful / issued n8 columns) of config-f's cout <= 64
 *   layers: 1024^2 conv1 (cout 32) was 50% (the 64 x 64 tile, half its N
 *   on zero-filled weight rows), now 100% (128 x 32); 1024^2 up conv0
 *   (cout 32, the 64-wide up tile) was 50% of N, now 100% (the warps of
 *   channels 32..63 issue no mma: half the CTA's warps idle in the main
 *   loop, so the kernel's tensor time halves but its per-CTA latency hiding
 *   does not improve); 512^2 (cout 64) was and stays 100% in N (64 x 64 and
 *   the 64-wide up tile). M-side waste is unchanged (the up kernel's
 *   400 / 361 rows, below).
 *
 * up == 2 (modconv_v2_up_kernel1): the stride-2 transposed 3x3 conv and the
 * 4x4 FIR (pad 1, gain 4) in one kernel. A CTA owns a 16 x 16 output tile
 * and 64 output channels; it computes the 19 x 19 T tile the FIR reads (the
 * outputs' T positions o - 1 .. o + 2) as four phase GEMMs (T positions of
 * parity (py, px): 2x2, 2x1, 1x2 and 1x1 taps, the 9 taps of the transposed
 * conv with no inserted zeros), each into the same accumulators and then
 * into an fp32 T tile in shared memory; after the fourth phase the FIR and
 * the epilogue run from shared memory. T never reaches HBM (v1 wrote and
 * re-read a (2h+1)^2 fp32 plane per channel).
 *   Halo cost in FLOPs: the T tile has 19^2 = 361 positions for 256 outputs,
 *   1.41x the (2h+1)^2 / (2h)^2 ~ 1.0 of the unfused transposed conv; the
 *   phases have 10x10, 10x9, 9x10 and 9x9 positions, run as 128-row GEMMs
 *   whose m16 tiles past the phase's count are skipped (warp-uniform), so
 *   mma issue is 112 + 96 + 96 + 96 = 400 rows for 361 positions: 1.56x the
 *   tensor work of the unfused conv for this layer, bought against 2 x
 *   (2h+1)^2 x cout x 4 bytes of HBM traffic per sample and a second kernel.
 *   FIR: 16 fp32 FMA per output element from shared memory (the filter may
 *   be any 4x4; the separable [1,3,3,1] would take 8).
 *
 * Kernel versions: prep 1 (smax and r(s / smax) per sample, one block a
 * sample), demod 1 (d from W and the fp32 styles when the styles op gave
 * none, one warp per (sample, channel)), pack 1 (the weight packing of the
 * plan), 1 (up == 1 GEMM, three tile shapes), up 1 (fused up-sampling). */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda_backend.h"
#include "cuda_common.cuh"
#include "cuda_plan.cuh"
#include "feat16.cuh"
#include "modconv_v2_tiling.h"

/* ---- PTX wrappers ------------------------------------------------------------ */

/* The two operands take different cache paths (16-byte copies, src-size 0
 * zero-fills):
 *   activations, cp.async.ca (L1-allocating): the K loop gathers a CTA's
 *     input pixels once per tap, each tap's pixels shifted by (dy, dx), so
 *     with .cg a 3x3 layer brings the tile's activations across L2 -> SM 9
 *     times per channel block (the up kernel's four phases read the same x
 *     tile again). Through L1 the taps dx = -1, 0, 1 of one row dy read
 *     (almost) the same pixels and can hit there: ideally 3 L2 gathers
 *     instead of 9 for a band of one image row (fewer still when the CTA's
 *     128 pixels span several rows, as at 64^2 and below). K is tap-major
 *     (tap * cin + c), so the re-read comes cin / 32 iterations after the
 *     first: it hits while about 130 pixels x cin x 2 bytes stay in L1
 *     beside the shared-memory carve-out: 8, 16, 33 KB a CTA at cin 32,
 *     64, 128 (config-f 1024^2..256^2), 133 KB at cin 512, where little
 *     will hit and .ca costs nothing over .cg but L1 churn;
 *   weights, cp.async.cg (L2 only): each granule is read once per CTA per
 *     K iteration and shared across the CTAs of a layer through L2; in L1
 *     it would only evict activations. */
__device__ __forceinline__ void mc2_cp_async16_ca(uint32_t dst, const void *src, int ok)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
                 "r"(ok ? 16 : 0));
}
__device__ __forceinline__ void mc2_cp_async16_cg(uint32_t dst, const void *src, int ok)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
                 "r"(ok ? 16 : 0));
}
__device__ __forceinline__ void mc2_cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void mc2_cp_wait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void mc2_ldsm_x4(uint32_t (&r)[4], uint32_t addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

/* D += A B, m16n8k16, f32 accumulators; FMT: FS_FEAT_F16_NHWC or BF16_NHWC. */
template <int FMT>
__device__ __forceinline__ void mc2_mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                        uint32_t b1)
{
    if (FMT == FS_FEAT_F16_NHWC)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, "
                     "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    else
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, "
                     "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* r(x * s) for a pair of 16-bit values (see the file comment). */
template <int FMT> __device__ __forceinline__ uint32_t mc2_scale(uint32_t x, uint32_t s)
{
    uint32_t r;
    if (FMT == FS_FEAT_F16_NHWC) {
        asm("mul.rn.f16x2 %0, %1, %2;\n" : "=r"(r) : "r"(x), "r"(s));
    } else {
        asm("fma.rn.bf16x2 %0, %1, %2, %3;\n" : "=r"(r) : "r"(x), "r"(s), "r"(0x80008000u));
    }
    return r;
}

/* Two adjacent channels, low address first. */
template <int FMT> __device__ __forceinline__ uint32_t mc2_round2(float lo, float hi)
{
    return (uint32_t)feat16_round<FMT>(lo) | ((uint32_t)feat16_round<FMT>(hi) << 16);
}

/* ---- kernel parameters and tile shapes ---------------------------------------- */

typedef struct {
    const uint16_t *x;     /* [n][h][w][cin] */
    const uint16_t *wt;    /* packed [cout][k * k][cin] */
    const uint16_t *sq;    /* [n][cpad]: r(s / smax), zero past cin */
    const float *smax;     /* [n] */
    const float *dcoef;    /* [n][cout], NULL: 1 (no demodulation) */
    const float *bias;     /* [cout] or NULL */
    const float *noise_const; /* [oh * ow] (FS_NOISE_CONST) */
    const uint64_t *seeds; /* [n] (FS_NOISE_RANDOM), device */
    const float *fir;      /* [4][4] (up 2) */
    uint16_t *y;           /* [n][oh][ow][cout] */
    int h, w, cin, cout, k, oh, ow, cpad;
    int noise_mode;
    uint32_t noise_stream;
    float noise_strength;
    int act;
    float gain, clamp;
    int tiles_x; /* up 2: output tiles per row */
    int y_pair;  /* 1: channel pairs stored as one 32-bit word (cout even, y16 4-byte aligned) */
} mc2_params;

template <int BM_, int BN_, int WARPS_M_, int WARPS_N_, int STAGES_> struct mc2_cfg {
    static constexpr int BM = BM_, BN = BN_, WARPS_M = WARPS_M_, WARPS_N = WARPS_N_;
    static constexpr int STAGES = STAGES_;
    static constexpr int THREADS = WARPS_M * WARPS_N * 32;
    static constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N;
    static constexpr int MI = WM / 16, NI = WN / 8;
    static constexpr int A_LD = BM * 4 / THREADS, B_LD = BN * 4 / THREADS;
    static constexpr int A_BYTES = BM * MC2_ROW_BYTES, STAGE_BYTES = (BM + BN) * MC2_ROW_BYTES;
    static_assert(WM % 16 == 0 && WN % 16 == 0, "warp tile: m16 and pairs of n8");
    static_assert(BM * 4 % THREADS == 0 && BN * 4 % THREADS == 0, "whole granules a thread");
    static_assert(STAGES >= 2, "a ring");
};

typedef mc2_cfg<128, 128, 2, 4, 4> mc2_large;
typedef mc2_cfg<64, 64, 2, 2, 4> mc2_small;
/* cout <= 32 (config-f's 1024^2 conv1, cout 32): 128 pixels x 32 channels,
 * 4 warps along M (32 x 32 each: 2 x 4 mma tiles, 32 accumulators a
 * thread), so no mma multiplies a zero-filled weight row; 40 KB of ring. */
typedef mc2_cfg<128, 32, 4, 1, 4> mc2_n32;
typedef mc2_cfg<128, 64, 4, 2, 3> mc2_up; /* phase positions (<= 100) x 64 channels */
#define MC2_UP_TS 72 /* T tile floats per position: 64 channels + 8 (float2 stores in 2 wavefronts) */

/* ---- the CTA's per-sample constants ------------------------------------------------ */

/* styles r(s / smax) [cpad], coef d * smax and bias [BN], noise * strength of
 * the tile's npix output pixels (mc2_tile_pixel: up 1 when up_tile_ox0 < 0,
 * pixels i0 + i; up 2, the 16 x 16 tile at (oy0, ox0)). */
template <class C>
__device__ __forceinline__ void mc2_sample_consts(unsigned char *smem, const mc2_smem &L,
                                                  const mc2_params &p, int s, int n0, int i0,
                                                  int npix, int up_tile_ox0, int up_tile_oy0)
{
    const int tid = threadIdx.x;
    const uint4 *src = (const uint4 *)(p.sq + (size_t)s * p.cpad);
    uint4 *dst = (uint4 *)(smem + L.styles);
    for (int i = tid; i < p.cpad / 8; i += C::THREADS)
        dst[i] = src[i];
    float *coef = (float *)(smem + L.coef), *bias = (float *)(smem + L.bias);
    for (int i = tid; i < C::BN; i += C::THREADS) {
        int o = n0 + i;
        float d = o < p.cout && p.dcoef ? p.dcoef[(size_t)s * p.cout + o] : 1.0f;
        coef[i] = o < p.cout ? d * p.smax[s] : 0.0f;
        bias[i] = o < p.cout && p.bias ? p.bias[o] : 0.0f;
    }
    float *noise = (float *)(smem + L.noise);
    for (int i = tid; i < npix; i += C::THREADS) {
        long long q = mc2_tile_pixel(up_tile_ox0 >= 0, i, i0, up_tile_oy0, up_tile_ox0, p.oh, p.ow);
        float v = 0.0f;
        if (q >= 0 && p.noise_mode == FS_NOISE_CONST)
            v = p.noise_const[q] * p.noise_strength;
        else if (q >= 0 && p.noise_mode == FS_NOISE_RANDOM)
            v = philox_normal(p.seeds[s], p.noise_stream, (uint64_t)q) * p.noise_strength;
        noise[i] = v;
    }
}

/* v of channel col (tile-local) at tile pixel pix, after the GEMM: the fp32
 * epilogue of backend.h in v1's operation order. */
__device__ __forceinline__ float mc2_epi(const unsigned char *smem, const mc2_smem &L,
                                         const mc2_params &p, float v, int col, int pix)
{
    const float *coef = (const float *)(smem + L.coef), *bias = (const float *)(smem + L.bias);
    const float *noise = (const float *)(smem + L.noise);
    v = v * coef[col];
    if (p.noise_mode != FS_NOISE_NONE)
        v += noise[pix];
    return act_apply(v + bias[col], p.act, p.gain, p.clamp);
}

/* Stores channels o, o + 1 (o even) of output element base (pixel * cout). */
template <int FMT>
__device__ __forceinline__ void mc2_store2(uint16_t *y, size_t base, int o, int cout, int pair,
                                           float v0, float v1)
{
    if (pair) {
        *(uint32_t *)(y + base + o) = mc2_round2<FMT>(v0, v1);
        return;
    }
    y[base + o] = feat16_round<FMT>(v0);
    if (o + 1 < cout)
        y[base + o + 1] = feat16_round<FMT>(v1);
}

/* ---- the main loop ---------------------------------------------------------------- */

/* One stage's copies: the A rows this thread owns (pixels py, px; rok 0: no
 * pixel) at tap offset (dy, dx), the B rows (channels n0 + row) at weight tap
 * wtap, channel block c0. VEC: cp.async 16 B with zero-fill; otherwise
 * (cin % 8 != 0) element by element, synchronously. */
template <class C, bool VEC>
__device__ __forceinline__ void mc2_load_stage(uint32_t sa, unsigned char *sa_ptr,
                                               const uint16_t *__restrict__ xs,
                                               const mc2_params &p, const int (&py)[C::A_LD],
                                               const int (&px)[C::A_LD],
                                               const int (&rok)[C::A_LD], int n0, int dy, int dx,
                                               int wtap, int c0)
{
    const int tid = threadIdx.x, kk = p.k * p.k;
#pragma unroll
    for (int i = 0; i < C::A_LD; i++) {
        int id = tid + i * C::THREADS, row = mc2_ld_row(id), g = mc2_ld_gran(id);
        int c = c0 + g * MC2_GRAN;
        long long off;
        int ok = mc2_a_src(rok[i], py[i], px[i], dy, dx, c, p.h, p.w, p.cin, &off);
        if (VEC) {
            mc2_cp_async16_ca(sa + mc2_swz(row, g), xs + off, ok); /* activations: via L1 */
        } else {
            uint32_t v[4];
#pragma unroll
            for (int e = 0; e < 4; e++) {
                uint32_t lo = ok && c + 2 * e < p.cin ? xs[off + 2 * e] : 0u;
                uint32_t hi = ok && c + 2 * e + 1 < p.cin ? xs[off + 2 * e + 1] : 0u;
                v[e] = lo | hi << 16;
            }
            *(uint4 *)(sa_ptr + mc2_swz(row, g)) = make_uint4(v[0], v[1], v[2], v[3]);
        }
    }
    const uint32_t sb = sa + C::A_BYTES;
    unsigned char *sb_ptr = sa_ptr + C::A_BYTES;
#pragma unroll
    for (int i = 0; i < C::B_LD; i++) {
        int id = tid + i * C::THREADS, row = mc2_ld_row(id), g = mc2_ld_gran(id);
        int c = c0 + g * MC2_GRAN;
        long long off;
        int ok = mc2_b_src(n0 + row, p.cout, wtap, kk, c, p.cin, &off);
        if (VEC) {
            mc2_cp_async16_cg(sb + mc2_swz(row, g), p.wt + off, ok); /* weights: L2 only */
        } else {
            uint32_t v[4];
#pragma unroll
            for (int e = 0; e < 4; e++) {
                uint32_t lo = ok && c + 2 * e < p.cin ? p.wt[off + 2 * e] : 0u;
                uint32_t hi = ok && c + 2 * e + 1 < p.cin ? p.wt[off + 2 * e + 1] : 0u;
                v[e] = lo | hi << 16;
            }
            *(uint4 *)(sb_ptr + mc2_swz(row, g)) = make_uint4(v[0], v[1], v[2], v[3]);
        }
    }
}

/* acc = the tile's GEMM over every (tap, channel block) of the axes ay x ax.
 * Rows at or past mvalid (a multiple of 16 rounds up) issue no mma, nor do
 * n8 tiles whose first channel is at or past cout (both warp-uniform). Ends
 * with the ring drained and the CTA synchronised, so the caller may reuse
 * it. */
template <int FMT, class C, bool VEC>
__device__ __forceinline__ void mc2_mainloop(float (&acc)[C::MI][C::NI][4], unsigned char *smem,
                                             const mc2_smem &L, const uint16_t *__restrict__ xs,
                                             const mc2_params &p, mc2_axis ay, mc2_axis ax,
                                             const int (&py)[C::A_LD], const int (&px)[C::A_LD],
                                             const int (&rok)[C::A_LD], int n0, int mvalid)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int wm0 = (warp % C::WARPS_M) * C::WM, wn0 = (warp / C::WARPS_M) * C::WN;
#pragma unroll
    for (int mi = 0; mi < C::MI; mi++)
#pragma unroll
        for (int ni = 0; ni < C::NI; ni++)
#pragma unroll
            for (int e = 0; e < 4; e++)
                acc[mi][ni][e] = 0.0f;
    /* the warp's channels that exist: n8 tiles at or past nvalid issue no mma
     * (their accumulators stay 0 and no epilogue stores them) */
    const int nvalid = p.cout - n0 - wn0;
    const uint32_t sbase = (uint32_t)__cvta_generic_to_shared(smem);
    const uint32_t *sty = (const uint32_t *)(smem + L.styles);
    const int iters = mc2_k_iters(&ay, &ax, p.cin);

    mc2_kpos ld = {0, 0, 0};
    int ld_slot = 0;
#pragma unroll 1
    for (int st = 0; st < C::STAGES - 1; st++) {
        if (st < iters) {
            mc2_load_stage<C, VEC>(sbase + ld_slot * C::STAGE_BYTES, smem + ld_slot * C::STAGE_BYTES,
                                   xs, p, py, px, rok, n0, ay.d0 + ay.ds * ld.ty,
                                   ax.d0 + ax.ds * ld.tx,
                                   (ay.u0 + ay.us * ld.ty) * p.k + ax.u0 + ax.us * ld.tx, ld.c0);
            mc2_kpos_next(&ld, p.cin, ax.nt);
        }
        mc2_cp_commit();
        ld_slot = ld_slot + 1 == C::STAGES ? 0 : ld_slot + 1;
    }

    int slot = 0, c0 = 0;
#pragma unroll 1
    for (int it = 0; it < iters; it++) {
        mc2_cp_wait<C::STAGES - 2>();
        __syncthreads(); /* stage `slot` landed for all; slot ld_slot is free */
        if (it + C::STAGES - 1 < iters) {
            mc2_load_stage<C, VEC>(sbase + ld_slot * C::STAGE_BYTES, smem + ld_slot * C::STAGE_BYTES,
                                   xs, p, py, px, rok, n0, ay.d0 + ay.ds * ld.ty,
                                   ax.d0 + ax.ds * ld.tx,
                                   (ay.u0 + ay.us * ld.ty) * p.k + ax.u0 + ax.us * ld.tx, ld.c0);
            mc2_kpos_next(&ld, p.cin, ax.nt);
        }
        mc2_cp_commit();
        ld_slot = ld_slot + 1 == C::STAGES ? 0 : ld_slot + 1;

        const uint32_t sa = sbase + slot * C::STAGE_BYTES, sb = sa + C::A_BYTES;
#pragma unroll
        for (int kk = 0; kk < MC2_BK; kk += 16) {
            uint32_t a[C::MI][4], b[C::NI][2];
#pragma unroll
            for (int mi = 0; mi < C::MI; mi++)
                mc2_ldsm_x4(a[mi], sa + mc2_swz(wm0 + mi * 16 + mc2_ldsm_a_row(lane),
                                                mc2_ldsm_a_gran(lane, kk)));
#pragma unroll
            for (int nj = 0; nj < C::NI / 2; nj++) {
                uint32_t r[4];
                mc2_ldsm_x4(r, sb + mc2_swz(wn0 + nj * 16 + mc2_ldsm_b_row(lane),
                                            mc2_ldsm_b_gran(lane, kk)));
                b[2 * nj][0] = r[0];
                b[2 * nj][1] = r[1];
                b[2 * nj + 1][0] = r[2];
                b[2 * nj + 1][1] = r[3];
            }
            /* channels of A registers 0/1 and 2/3: this lane's pair in each k8 half */
            const uint32_t s01 = sty[(c0 + kk + mc2_a_col(lane, 0)) >> 1];
            const uint32_t s89 = sty[(c0 + kk + mc2_a_col(lane, 2)) >> 1];
#pragma unroll
            for (int mi = 0; mi < C::MI; mi++) {
                a[mi][0] = mc2_scale<FMT>(a[mi][0], s01);
                a[mi][1] = mc2_scale<FMT>(a[mi][1], s01);
                a[mi][2] = mc2_scale<FMT>(a[mi][2], s89);
                a[mi][3] = mc2_scale<FMT>(a[mi][3], s89);
            }
#pragma unroll
            for (int mi = 0; mi < C::MI; mi++)
                if (wm0 + mi * 16 < mvalid) /* warp-uniform */
#pragma unroll
                    for (int ni = 0; ni < C::NI; ni++)
                        if (nvalid > ni * 8) /* warp-uniform: n8 tiles wholly past cout */
                            mc2_mma<FMT>(acc[mi][ni], a[mi], b[ni][0], b[ni][1]);
        }
        slot = slot + 1 == C::STAGES ? 0 : slot + 1;
        c0 += MC2_BK;
        if (c0 >= p.cin)
            c0 = 0;
    }
    mc2_cp_wait<0>();
    __syncthreads();
}

/* ---- kernels ------------------------------------------------------------------------ */

/* smax[s] = max_i |styles[s, i]| (1 when that is 0: the operand is 0 either
 * way; as the CPU oracle) and sq[s, i] = r(styles[s, i] / smax[s]), zeros up to
 * cpad. One block of 256 threads per sample. */
template <int FMT>
__global__ void modconv_v2_prep_kernel1(const float *__restrict__ styles, uint16_t *__restrict__ sq,
                                        float *__restrict__ smax, int cin, int cpad)
{
    __shared__ float sh[32];
    const int s = blockIdx.x;
    const float *st = styles + (size_t)s * cin;
    float m = 0.0f;
    for (int i = threadIdx.x; i < cin; i += blockDim.x)
        m = fmaxf(m, fabsf(st[i]));
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    if ((threadIdx.x & 31) == 0)
        sh[threadIdx.x >> 5] = m;
    __syncthreads();
    m = 0.0f;
    for (int i = 0; i < (int)(blockDim.x >> 5); i++)
        m = fmaxf(m, sh[i]);
    if (!(m > 0.0f))
        m = 1.0f;
    for (int i = threadIdx.x; i < cpad; i += blockDim.x)
        sq[(size_t)s * cpad + i] = i < cin ? feat16_round<FMT>(st[i] / m) : (uint16_t)0;
    if (threadIdx.x == 0)
        smax[s] = m;
}

/* dcoef[s, o] = 1 / sqrt(sum_i wsq[o, i] s[i]^2 + 1e-8), wsq[o, i] = sum_t
 * W[o, i, t]^2, from the fp32 weight and styles in the CPU's factored form
 * (the official sum of (W s)^2 up to rounding), one warp per (s, o). */
__global__ void modconv_v2_demod_kernel1(const float *__restrict__ w, const float *__restrict__ styles,
                                         float *__restrict__ dcoef, int n, int cin, int cout, int kk)
{
    int gw = (int)((blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 5), lane = threadIdx.x & 31;
    if (gw >= n * cout)
        return; /* whole warps */
    int s = gw / cout, o = gw - s * cout;
    const float *wo = w + (size_t)o * cin * kk, *st = styles + (size_t)s * cin;
    float acc = 0.0f;
    for (int i = lane; i < cin; i += 32) {
        float wsq = 0.0f;
        for (int t = 0; t < kk; t++)
            wsq += wo[(size_t)i * kk + t] * wo[(size_t)i * kk + t];
        acc += wsq * (st[i] * st[i]);
    }
#pragma unroll
    for (int q = 16; q > 0; q >>= 1)
        acc += __shfl_xor_sync(0xffffffffu, acc, q);
    if (lane == 0)
        dcoef[gw] = 1.0f / sqrtf(acc + 1e-8f);
}

/* w16[(o * kk + t) * cin + i] = r(w[(o * cin + i) * kk + t]): one thread per
 * packed element, consecutive threads write consecutive channels. */
template <int FMT>
__global__ void modconv_v2_pack_kernel1(const float *__restrict__ w, uint16_t *__restrict__ w16,
                                        int cout, int cin, int kk)
{
    size_t total = (size_t)cout * kk * cin;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x) {
        size_t ot = e / cin;
        int i = (int)(e - ot * cin);
        size_t o = ot / kk;
        int t = (int)(ot - o * kk);
        w16[e] = feat16_round<FMT>(w[(o * cin + i) * kk + t]);
    }
}

/* up == 1: tile (blockIdx.x: BM pixels, blockIdx.y: BN channels) of sample
 * blockIdx.z; the epilogue straight from the accumulators (a lane owns two
 * adjacent channels of a pixel: one 32-bit store). */
template <int FMT, class C, bool VEC>
__global__ void __launch_bounds__(C::THREADS, 2) modconv_v2_kernel1(const mc2_params p)
{
    extern __shared__ __align__(16) unsigned char smem[];
    const int s = blockIdx.z, m0 = blockIdx.x * C::BM, n0 = blockIdx.y * C::BN;
    const int P = p.oh * p.ow;
    const mc2_smem L = mc2_smem_layout(C::BM, C::BN, C::STAGES, p.cin, C::BM, 0);
    mc2_sample_consts<C>(smem, L, p, s, n0, m0, C::BM, -1, -1);

    int py[C::A_LD], px[C::A_LD], rok[C::A_LD];
#pragma unroll
    for (int i = 0; i < C::A_LD; i++) { /* the pixels this thread copies, decoded once */
        int m = m0 + mc2_ld_row(threadIdx.x + i * C::THREADS);
        rok[i] = m < P;
        py[i] = rok[i] ? m / p.ow : 0;
        px[i] = m - py[i] * p.ow;
    }
    float acc[C::MI][C::NI][4];
    const uint16_t *xs = p.x + (size_t)s * p.h * p.w * p.cin;
    mc2_mainloop<FMT, C, VEC>(acc, smem, L, xs, p, mc2_axis_conv(p.k), mc2_axis_conv(p.k), py, px,
                              rok, n0, P - m0);

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int wm0 = (warp % C::WARPS_M) * C::WM, wn0 = (warp / C::WARPS_M) * C::WN;
#pragma unroll
    for (int mi = 0; mi < C::MI; mi++)
#pragma unroll
        for (int ni = 0; ni < C::NI; ni++)
#pragma unroll
            for (int h2 = 0; h2 < 4; h2 += 2) {
                int row = wm0 + mi * 16 + mc2_c_row(lane, h2);
                int col = wn0 + ni * 8 + mc2_c_col(lane, h2);
                int m = m0 + row, o = n0 + col;
                if (m >= P || o >= p.cout)
                    continue;
                float v0 = mc2_epi(smem, L, p, acc[mi][ni][h2], col, row);
                float v1 = mc2_epi(smem, L, p, acc[mi][ni][h2 + 1], col + 1, row);
                mc2_store2<FMT>(p.y, ((size_t)s * P + m) * p.cout, o, p.cout, p.y_pair, v0, v1);
            }
}

/* up == 2, fused (see the file comment): blockIdx.x is the 16 x 16 output
 * tile (tiles_x a row), blockIdx.y the 64 channels, blockIdx.z the sample. */
template <int FMT, bool VEC>
__global__ void __launch_bounds__(mc2_up::THREADS, 1) modconv_v2_up_kernel1(const mc2_params p)
{
    typedef mc2_up C;
    extern __shared__ __align__(16) unsigned char smem[];
    const int s = blockIdx.z, n0 = blockIdx.y * C::BN;
    const int tyi = blockIdx.x / p.tiles_x, txi = blockIdx.x - tyi * p.tiles_x;
    const int oy0 = tyi * MC2_UP_OT, ox0 = txi * MC2_UP_OT;
    const mc2_smem L = mc2_smem_layout(C::BM, C::BN, C::STAGES, p.cin, MC2_UP_OT * MC2_UP_OT,
                                       MC2_UP_TS);
    mc2_sample_consts<C>(smem, L, p, s, n0, 0, MC2_UP_OT * MC2_UP_OT, ox0, oy0);
    float *tt = (float *)(smem + L.ttile);
    __shared__ float fir[16];
    if (threadIdx.x < 16)
        fir[threadIdx.x] = p.fir[threadIdx.x];

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int wm0 = (warp % C::WARPS_M) * C::WM, wn0 = (warp / C::WARPS_M) * C::WN;
    const uint16_t *xs = p.x + (size_t)s * p.h * p.w * p.cin;
#pragma unroll 1
    for (int ph = 0; ph < 4; ph++) {
        const int pr = ph >> 1, pc = ph & 1;
        const int cnt_c = mc2_up_cnt(pc), cnt = mc2_up_cnt(pr) * cnt_c;
        const int a0r = mc2_up_a0(oy0, pr), a0c = mc2_up_a0(ox0, pc);
        int py[C::A_LD], px[C::A_LD], rok[C::A_LD];
#pragma unroll
        for (int i = 0; i < C::A_LD; i++) { /* phase position -> input pixel, once a phase */
            int m = mc2_ld_row(threadIdx.x + i * C::THREADS), ar = m / cnt_c;
            rok[i] = m < cnt;
            py[i] = a0r + ar;
            px[i] = a0c + (m - ar * cnt_c);
        }
        float acc[C::MI][C::NI][4];
        mc2_mainloop<FMT, C, VEC>(acc, smem, L, xs, p, mc2_axis_up(pr), mc2_axis_up(pc), py, px, rok,
                                  n0, cnt);
#pragma unroll
        for (int mi = 0; mi < C::MI; mi++)
#pragma unroll
            for (int h2 = 0; h2 < 4; h2 += 2) {
                int m = wm0 + mi * 16 + mc2_c_row(lane, h2);
                if (m >= cnt)
                    continue;
                int ar = m / cnt_c, ac = m - ar * cnt_c;
                float *dst = tt + (mc2_up_tidx(ar, pr) * MC2_UP_TT + mc2_up_tidx(ac, pc)) * MC2_UP_TS;
#pragma unroll
                for (int ni = 0; ni < C::NI; ni++) {
                    int col = wn0 + ni * 8 + mc2_c_col(lane, h2);
                    *(float2 *)(dst + col) = make_float2(acc[mi][ni][h2], acc[mi][ni][h2 + 1]);
                }
            }
    }
    __syncthreads();

    /* FIR (true convolution, pad 1: output o reads T tile o - o0 .. o - o0 + 3)
     * and the epilogue: a warp per output pixel, a lane per channel pair. */
    const int P = p.oh * p.ow;
#pragma unroll 1
    for (int it = threadIdx.x; it < MC2_UP_OT * MC2_UP_OT * (C::BN / 2); it += C::THREADS) {
        int pix = it / (C::BN / 2), col = (it % (C::BN / 2)) * 2;
        int ly = pix / MC2_UP_OT, lx = pix % MC2_UP_OT;
        int oy = oy0 + ly, ox = ox0 + lx, o = n0 + col;
        if (oy >= p.oh || ox >= p.ow || o >= p.cout)
            continue;
        float2 v = make_float2(0.0f, 0.0f);
#pragma unroll
        for (int fy = 0; fy < 4; fy++)
#pragma unroll
            for (int fx = 0; fx < 4; fx++) {
                float f = fir[mc2_up_fidx(fy, fx)];
                float2 t = *(const float2 *)(tt + mc2_up_tpos(ly, lx, fy, fx) * MC2_UP_TS + col);
                v.x += t.x * f;
                v.y += t.y * f;
            }
        float v0 = mc2_epi(smem, L, p, v.x * 4.0f, col, pix);
        float v1 = mc2_epi(smem, L, p, v.y * 4.0f, col + 1, pix);
        mc2_store2<FMT>(p.y, ((size_t)s * P + (size_t)oy * p.ow + ox) * p.cout, o, p.cout, p.y_pair,
                        v0, v1);
    }
}

/* ---- launchers ---------------------------------------------------------------------- */

#define MC2_BLOCK 256

fs_status modconv_v2_pack_weights(const float *w, uint16_t *w16, int cout, int cin, int kk,
                                  fs_feat_format fmt, void *stream)
{
    cudaStream_t st = (cudaStream_t)stream;
    unsigned blocks = cuda_blocks((size_t)cout * kk * cin, MC2_BLOCK);
    if (fmt == FS_FEAT_F16_NHWC)
        modconv_v2_pack_kernel1<FS_FEAT_F16_NHWC><<<blocks, MC2_BLOCK, 0, st>>>(w, w16, cout, cin, kk);
    else
        modconv_v2_pack_kernel1<FS_FEAT_BF16_NHWC><<<blocks, MC2_BLOCK, 0, st>>>(w, w16, cout, cin, kk);
    CUDA_CHECK_LAUNCH("modconv_v2_pack_kernel1");
    return FS_OK;
}

/* The kernels' dynamic shared memory limit, raised on first use per device
 * (per kernel: `st` is the launcher's static) to the most the device allows
 * beside the kernel's static shared memory: cudaFuncSetAttribute refuses
 * (cudaErrorInvalidValue) a dynamic limit that, with the static bytes
 * (sharedSizeBytes: the up kernel's FIR), passes the opt-in maximum, so
 * the limit is the opt-in maximum less them (the backend's, cuda_device_limits).
 * Later launches, graph captures included, make no attribute call. A layout
 * past the limit is refused before the launch. */
typedef struct {
    unsigned done;    /* a bit per device */
    int static_bytes; /* the kernel's static shared memory */
} mc2_smem_state;

template <typename K>
static fs_status mc2_smem_prepare(fs_backend *b, K kern, int bytes, mc2_smem_state *st)
{
    int dev = cuda_impl_of(b)->device, most = 0; /* current: cuda_enter made it so */
    FS_TRY(cuda_device_limits(b, NULL, &most));
    unsigned bit = dev < 32 ? 1u << dev : 0u;
    int stat;
    if (bit && (__atomic_load_n(&st->done, __ATOMIC_ACQUIRE) & bit)) {
        stat = __atomic_load_n(&st->static_bytes, __ATOMIC_RELAXED);
    } else {
        cudaFuncAttributes fa;
        CUDA_CHECK(cudaFuncGetAttributes(&fa, kern));
        stat = (int)fa.sharedSizeBytes;
        if (stat > most)
            return fs_error(FS_ERR_UNSUPPORTED, "cuda modconv v2: %d bytes of static shared "
                            "memory, the device allows %d", stat, most);
        CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        most - stat));
        __atomic_store_n(&st->static_bytes, stat, __ATOMIC_RELAXED);
        if (bit)
            __atomic_fetch_or(&st->done, bit, __ATOMIC_RELEASE);
    }
    if (bytes + stat > most)
        return fs_error(FS_ERR_UNSUPPORTED, "cuda modconv v2: %d + %d bytes of shared memory a "
                        "block, the device allows %d", bytes, stat, most);
    return FS_OK;
}

template <int FMT, class C, bool VEC>
static fs_status mc2_launch_gemm(fs_backend *b, const mc2_params &p, int n, cudaStream_t stream)
{
    mc2_smem L = mc2_smem_layout(C::BM, C::BN, C::STAGES, p.cin, C::BM, 0);
    auto kern = modconv_v2_kernel1<FMT, C, VEC>;
    static mc2_smem_state smem_state;
    FS_TRY(mc2_smem_prepare(b, kern, L.total, &smem_state));
    dim3 grid((unsigned)((p.oh * p.ow + C::BM - 1) / C::BM), (unsigned)((p.cout + C::BN - 1) / C::BN),
              (unsigned)n);
    kern<<<grid, C::THREADS, L.total, stream>>>(p);
    CUDA_CHECK_LAUNCH("modconv_v2_kernel1");
    return FS_OK;
}

template <int FMT, bool VEC>
static fs_status mc2_launch_up(fs_backend *b, mc2_params p, int n, cudaStream_t stream)
{
    typedef mc2_up C;
    mc2_smem L = mc2_smem_layout(C::BM, C::BN, C::STAGES, p.cin, MC2_UP_OT * MC2_UP_OT, MC2_UP_TS);
    auto kern = modconv_v2_up_kernel1<FMT, VEC>;
    static mc2_smem_state smem_state;
    FS_TRY(mc2_smem_prepare(b, kern, L.total, &smem_state)); /* the static FIR counted there */
    p.tiles_x = (p.ow + MC2_UP_OT - 1) / MC2_UP_OT;
    int tiles_y = (p.oh + MC2_UP_OT - 1) / MC2_UP_OT;
    dim3 grid((unsigned)(p.tiles_x * tiles_y), (unsigned)((p.cout + C::BN - 1) / C::BN), (unsigned)n);
    kern<<<grid, C::THREADS, L.total, stream>>>(p);
    CUDA_CHECK_LAUNCH("modconv_v2_up_kernel1");
    return FS_OK;
}

/* The tile shape: 128 x 32 when cout <= 32; the large tile when its grid
 * fills every SM at least twice (two CTAs an SM resident); the small one
 * otherwise (cout <= 64 takes it, N fully used at cout 64). */
template <int FMT, bool VEC>
static fs_status mc2_launch(fs_backend *b, const mc2_params &p, int n, int up, int sms,
                            cudaStream_t stream)
{
    if (up == 2)
        return mc2_launch_up<FMT, VEC>(b, p, n, stream);
    if (p.cout <= 32)
        return mc2_launch_gemm<FMT, mc2_n32, VEC>(b, p, n, stream);
    long long large = (long long)((p.oh * p.ow + 127) / 128) * ((p.cout + 127) / 128) * n;
    if (p.cout >= 128 && large >= 2LL * sms)
        return mc2_launch_gemm<FMT, mc2_large, VEC>(b, p, n, stream);
    return mc2_launch_gemm<FMT, mc2_small, VEC>(b, p, n, stream);
}

/* The op's scratch: sq [n][cpad] | smax [n] | dcoef [n][cout] (own_d) |
 * seeds [n] (random) | packed weight (own_w); offsets in bytes. */
typedef struct {
    size_t smax, d, seeds, w, total;
} mc2_scratch;

static mc2_scratch mc2_scratch_layout(int n, int cin, int cout, int kk, int own_d, int random,
                                      int own_w)
{
    mc2_scratch L;
    size_t cpad = (size_t)(cin + MC2_BK - 1) / MC2_BK * MC2_BK;
    L.smax = cuda_align((size_t)n * cpad * sizeof(uint16_t));
    L.d = L.smax + cuda_align((size_t)n * sizeof(float));
    L.seeds = L.d + cuda_align(own_d ? (size_t)n * cout * sizeof(float) : 0);
    L.w = L.seeds + cuda_align(random ? (size_t)n * sizeof(uint64_t) : 0);
    L.total = L.w + (own_w ? (size_t)cout * kk * cin * sizeof(uint16_t) : 0);
    return L;
}

size_t cuda_modconv_v2_scratch_bound(const cuda_layer_shape *l, int n)
{
    if (l->fmt == FS_FEAT_F32_NCHW || n < 1 || l->k < 1)
        return 0;
    return mc2_scratch_layout(n, l->cin, l->cout, l->k * l->k, 1, 1, 1).total;
}

/* ---- the op ------------------------------------------------------------------------ */

fs_status cuda_modconv_v2(fs_backend *b, const fs_modconv_args *a)
{
    FS_TRY(cuda_enter(b));
    cudaStream_t stream = cuda_impl_of(b)->stream;
    if (a->fmt != FS_FEAT_F16_NHWC && a->fmt != FS_FEAT_BF16_NHWC)
        return fs_error(FS_ERR_ARG, "cuda modconv: feature format %d", (int)a->fmt);
    if (a->up != 1 && !(a->up == 2 && a->k == 3 && a->fir_len == 4))
        return fs_error(FS_ERR_UNSUPPORTED, "cuda modconv v2: up=%d with k=%d", a->up, a->k);
    if (a->up == 2 && !a->fir)
        return fs_error(FS_ERR_ARG, "cuda modconv v2: up=2 without its FIR");
    if (a->k < 1 || a->cin < 1)
        return fs_error(FS_ERR_ARG, "cuda modconv v2: kernel size %d, cin %d", a->k, a->cin);
    if (a->noise_mode == FS_NOISE_CONST && !a->noise_const)
        return fs_error(FS_ERR_ARG, "cuda modconv: const noise without a noise map");
    if (a->noise_mode == FS_NOISE_RANDOM && !a->noise_seeds)
        return fs_error(FS_ERR_ARG, "cuda modconv: random noise without seeds");
    if (a->n <= 0 || a->cout <= 0)
        return FS_OK;
    if (a->n > 65535 || (a->cout + 63) / 64 > 65535)
        return fs_error(FS_ERR_ARG, "cuda modconv v2: batch %d, cout %d", a->n, a->cout);
    if (!a->x16 || !a->y16 || !a->styles || !a->weight)
        return fs_error(FS_ERR_ARG, "cuda modconv v2: missing x16, y16, styles or weight");
    const fs_plan *plan = a->plan;
    if (plan && (plan->kind != FS_OP_MODCONV || plan->cin != a->cin || plan->cout != a->cout ||
                 plan->k != a->k || plan->up != a->up))
        return fs_error(FS_ERR_ARG, "cuda modconv v2: the plan was made for another layer");
    int kk = a->k * a->k, cpad = (a->cin + MC2_BK - 1) / MC2_BK * MC2_BK;
    int own_w = !(plan && plan->w16 && plan->fmt == a->fmt);
    int own_d = a->demodulate && !a->dcoef;
    int random = a->noise_mode == FS_NOISE_RANDOM;

    mc2_scratch SL = mc2_scratch_layout(a->n, a->cin, a->cout, kk, own_d, random, own_w);
    size_t off_smax = SL.smax, off_d = SL.d, off_seeds = SL.seeds, off_w = SL.w;
    char *base;
    FS_TRY(cuda_scratch_for(b, SL.total, "modconv v2", (void **)&base));
    uint16_t *sq = (uint16_t *)base;
    float *smax = (float *)(base + off_smax);

    mc2_params p = {};
    p.x = a->x16;
    p.y = a->y16;
    p.wt = own_w ? (const uint16_t *)(base + off_w) : plan->w16;
    p.sq = sq;
    p.smax = smax;
    p.dcoef = a->demodulate ? (own_d ? (const float *)(base + off_d) : a->dcoef) : NULL;
    p.bias = a->b;
    p.noise_mode = (int)a->noise_mode;
    p.noise_const = a->noise_const;
    p.noise_stream = a->noise_stream;
    p.noise_strength = a->noise_strength;
    p.fir = a->fir;
    p.h = a->h;
    p.w = a->w;
    p.cin = a->cin;
    p.cout = a->cout;
    p.k = a->k;
    p.oh = a->h * a->up;
    p.ow = a->w * a->up;
    p.cpad = cpad;
    p.y_pair = !(a->cout & 1) && !((uintptr_t)a->y16 & 3);
    p.act = (int)a->act;
    p.gain = a->gain;
    p.clamp = a->clamp;

    if (own_w)
        FS_TRY(modconv_v2_pack_weights(a->weight, (uint16_t *)p.wt, a->cout, a->cin, kk, a->fmt,
                                       stream));
    if (a->fmt == FS_FEAT_F16_NHWC)
        modconv_v2_prep_kernel1<FS_FEAT_F16_NHWC><<<a->n, MC2_BLOCK, 0, stream>>>(a->styles, sq, smax,
                                                                                 a->cin, cpad);
    else
        modconv_v2_prep_kernel1<FS_FEAT_BF16_NHWC><<<a->n, MC2_BLOCK, 0, stream>>>(a->styles, sq, smax,
                                                                                  a->cin, cpad);
    CUDA_CHECK_LAUNCH("modconv_v2_prep_kernel1");
    if (own_d) {
        size_t threads = (size_t)a->n * a->cout * 32;
        modconv_v2_demod_kernel1<<<(unsigned)((threads + MC2_BLOCK - 1) / MC2_BLOCK), MC2_BLOCK, 0,
                                   stream>>>(a->weight, a->styles, (float *)(base + off_d), a->n,
                                             a->cin, a->cout, kk);
        CUDA_CHECK_LAUNCH("modconv_v2_demod_kernel1");
    }
    if (random)
        FS_TRY(cuda_seeds_on_device(b, a->noise_seeds, a->n, (uint64_t *)(base + off_seeds),
                                    &p.seeds));

    int sms = 0;
    FS_TRY(cuda_device_limits(b, &sms, NULL));
    /* 16-byte copies need every granule aligned: cin % 8 and aligned bases */
    bool vec = a->cin % 8 == 0 && ((uintptr_t)a->x16 & 15) == 0 && ((uintptr_t)p.wt & 15) == 0;
    if (a->fmt == FS_FEAT_F16_NHWC)
        return vec ? mc2_launch<FS_FEAT_F16_NHWC, true>(b, p, a->n, a->up, sms, stream)
                   : mc2_launch<FS_FEAT_F16_NHWC, false>(b, p, a->n, a->up, sms, stream);
    return vec ? mc2_launch<FS_FEAT_BF16_NHWC, true>(b, p, a->n, a->up, sms, stream)
               : mc2_launch<FS_FEAT_BF16_NHWC, false>(b, p, a->n, a->up, sms, stream);
}
