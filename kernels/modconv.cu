/* The fused modulated convolution of the StyleGAN2 synthesis network on the
 * GPU, as engine/cpu/modconv.c: y = clamp(act(d[n,o] * conv(x * s[n], W) + noise *
 * strength + b) * gain), in the non-fused algebra (shared weights, styles
 * applied to the input as it is gathered, demodulation in the epilogue), so
 * one weight read serves the whole batch.
 *   up == 1: one implicit GEMM (igemm.cu) with the styles as input scales and
 *            the EPI_MODCONV epilogue.
 *   up == 2: the stride-2 transposed conv of x * s into T [cout, 2h+1, 2w+1]
 *            (four phase GEMMs that skip the inserted zeros), then the 4x4 FIR
 *            with pad 1 and gain 4 and the epilogue in one kernel
 *            (modconv_fir_kernel1). T (and random noise) is made in sample
 *            chunks of about the backend's chunk byte limit
 *            (FS_CUDA_CHUNK_BYTES unless fs_backend_cuda_set_chunk_bytes);
 *            engine/chunk_plan.c lays out the scratch.
 * Demodulation d[n,o] = 1/sqrt(sum_{i,k} (W[o,i,k] s[n,i])^2 + 1e-8) is its
 * own small kernel; FS_NOISE_RANDOM noise is drawn once per pixel and sample
 * (modconv_noise_kernel1, Philox as engine/rng.c, bit-exact) into a map the
 * epilogue reads like the const map.
 *
 * Precision (cuda_backend.h fs_cuda_precision): the 3x3 GEMMs (both paths)
 * run on tensor cores in TF32 / FP16 / BF16 when the backend's precision
 * says so (igemm tc1); FP16 first applies the official pre-normalisation
 * (modconv_prenorm_kernel1: W / max|W[o]|, s / max|s[n]|) so that no operand
 * overflows, and the demod kernel folds max|W[o]| * max|s[n]| back into the
 * per-(sample, channel) output coefficient, also without demodulation; the
 * FIR, noise and epilogue stay FP32.
 *
 * Kernel versions (v1: FP32, correct first):
 *   demod 1: one block per output channel, a loop over samples, a block
 *            reduction over cin * k * k products;
 *   noise 1: one thread per pixel;
 *   fir 1:   one output per thread, 16 reads of T through the read-only cache. */
#include "../engine/chunk_plan.h"
#include "cuda_backend.h"
#include "cuda_common.cuh"

#define MC_BLOCK 256

/* dcoef[s, o] = d * wmax[o] * smax[s], d = 1/sqrt(sum (W s)^2 + 1e-8) with
 * demodulation, 1 without; wmax / smax (FP16 pre-normalisation, both or
 * neither) undo the operand scaling of the tensor-core GEMM. */
__global__ void modconv_demod_kernel1(const float *__restrict__ w, const float *__restrict__ styles,
                                      float *__restrict__ dcoef, int n, int cin, int cout, int kk,
                                      int demod, const float *__restrict__ wmax,
                                      const float *__restrict__ smax)
{
    __shared__ float sh[32];
    int o = blockIdx.x;
    const float *wo = w + (size_t)o * cin * kk;
    for (int s = 0; s < n; s++) {
        float d = 1.0f;
        if (demod) {
            const float *st = styles + (size_t)s * cin;
            float acc = 0.0f;
            for (int e = threadIdx.x; e < cin * kk; e += blockDim.x) {
                float v = wo[e] * st[e / kk];
                acc += v * v;
            }
            acc = block_sum(acc, sh);
            d = 1.0f / sqrtf(acc + 1e-8f);
        }
        if (threadIdx.x == 0)
            dcoef[(size_t)s * cout + o] = wmax ? d * (wmax[o] * smax[s]) : d;
    }
}

/* max |v| over v[0 .. len) by one warp, returned to every lane. */
__device__ __forceinline__ float warp_absmax(const float *__restrict__ v, int len)
{
    float m = 0.0f;
    for (int e = threadIdx.x & 31; e < len; e += 32)
        m = fmaxf(m, fabsf(__ldg(v + e)));
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    return m;
}

/* The FP16 pre-normalisation of the official modulated_conv2d (weights by
 * their max |.| per output channel, styles by their max |.| per sample), one
 * warp per row: rows [0, cout) are weight rows -> winv[o] = 1 / max and
 * wmax[o] = max; rows [cout, cout + n) are style rows -> sn = s / max and
 * smax[s] = max. A row of zeros gets 1 (nothing to scale). */
__global__ void modconv_prenorm_kernel1(const float *__restrict__ w, const float *__restrict__ styles,
                                        int n, int cin, int cout, int kk, float *__restrict__ winv,
                                        float *__restrict__ wmax, float *__restrict__ sn,
                                        float *__restrict__ smax)
{
    int row = (int)((blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 5);
    int lane = threadIdx.x & 31;
    if (row >= cout + n)
        return; /* whole warps: blockDim is a multiple of 32 */
    if (row < cout) {
        float m = warp_absmax(w + (size_t)row * cin * kk, cin * kk);
        if (!(m > 0.0f) || isinf(m))
            m = 1.0f;
        if (lane == 0) {
            wmax[row] = m;
            winv[row] = 1.0f / m;
        }
        return;
    }
    int s = row - cout;
    const float *st = styles + (size_t)s * cin;
    float m = warp_absmax(st, cin);
    if (!(m > 0.0f) || isinf(m))
        m = 1.0f;
    float inv = 1.0f / m;
    for (int i = lane; i < cin; i += 32)
        sn[(size_t)s * cin + i] = st[i] * inv;
    if (lane == 0)
        smax[s] = m;
}

__global__ void modconv_noise_kernel1(float *__restrict__ noise, const uint64_t *__restrict__ seeds,
                                      int n, size_t plane, uint32_t stream)
{
    size_t total = (size_t)n * plane;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t s = i / plane;
        noise[i] = philox_normal(seeds[s], stream, (uint64_t)(i - s * plane));
    }
}

/* T planes [planes, th, tw] -> y planes [planes, th - 1, tw - 1]: the FIR
 * (pad 1, gain 4) of cpu mc_up_fir_task, then the modconv epilogue. */
__global__ void modconv_fir_kernel1(const float *__restrict__ t, float *__restrict__ y,
                                    const float *__restrict__ fir, int planes, int cout, int th,
                                    int tw, const epi_params e)
{
    __shared__ float f[16];
    if (threadIdx.x < 16)
        f[threadIdx.x] = fir[threadIdx.x];
    __syncthreads();
    int oh = th - 1, ow = tw - 1;
    size_t ohw = (size_t)oh * ow, total = (size_t)planes * ohw;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t plane = i / ohw;
        int r = (int)(i - plane * ohw);
        int oy = r / ow, ox = r - oy * ow;
        float v = upfirdn_point(t + plane * th * tw, th, tw, 1, 1, 1, f, 4, oy, ox) * 4.0f;
        int s = (int)(plane / cout), o = (int)(plane - (size_t)s * cout);
        y[i] = epi_apply(e, v, o, s, (size_t)r);
    }
}

static fs_status modconv_demod_launch(const float *w, const float *styles, float *dcoef, int n,
                                      int cin, int cout, int kk, int demod, const float *wmax,
                                      const float *smax, cudaStream_t stream)
{
    modconv_demod_kernel1<<<cout, MC_BLOCK, 0, stream>>>(w, styles, dcoef, n, cin, cout, kk, demod,
                                                         wmax, smax);
    CUDA_CHECK_LAUNCH("modconv_demod_kernel1");
    return FS_OK;
}

static fs_status modconv_prenorm_launch(const float *w, const float *styles, int n, int cin,
                                        int cout, int kk, float *winv, float *wmax, float *sn,
                                        float *smax, cudaStream_t stream)
{
    size_t threads = (size_t)(cout + n) * 32;
    modconv_prenorm_kernel1<<<(unsigned)((threads + MC_BLOCK - 1) / MC_BLOCK), MC_BLOCK, 0,
                              stream>>>(w, styles, n, cin, cout, kk, winv, wmax, sn, smax);
    CUDA_CHECK_LAUNCH("modconv_prenorm_kernel1");
    return FS_OK;
}

/* The GEMM arithmetic of a layer: tensor cores only for the 3x3 convs (and
 * so the up-sampling transposed conv); 1x1 (ToRGB) stays FP32. */
static int modconv_mma(int precision, const fs_modconv_args *a)
{
    if (a->k != 3)
        return IG_MMA_NONE;
    switch (precision) {
    case FS_CUDA_TF32: return IG_MMA_TF32;
    case FS_CUDA_FP16: return IG_MMA_FP16;
    case FS_CUDA_BF16: return IG_MMA_BF16;
    case FS_CUDA_MIXED: return a->fp16 ? IG_MMA_FP16 : IG_MMA_NONE;
    default: return IG_MMA_NONE;
    }
}

static fs_status modconv_noise_launch(float *noise, const uint64_t *seeds, int n, size_t plane,
                                      uint32_t stream_id, cudaStream_t stream)
{
    modconv_noise_kernel1<<<cuda_blocks((size_t)n * plane, MC_BLOCK), MC_BLOCK, 0, stream>>>(
        noise, seeds, n, plane, stream_id);
    CUDA_CHECK_LAUNCH("modconv_noise_kernel1");
    return FS_OK;
}

static fs_status modconv_fir_launch(const float *t, float *y, const float *fir, int planes,
                                    int cout, int th, int tw, const epi_params *e,
                                    cudaStream_t stream)
{
    size_t outs = (size_t)planes * (th - 1) * (tw - 1);
    modconv_fir_kernel1<<<cuda_blocks(outs, MC_BLOCK), MC_BLOCK, 0, stream>>>(t, y, fir, planes, cout,
                                                                             th, tw, *e);
    CUDA_CHECK_LAUNCH("modconv_fir_kernel1");
    return FS_OK;
}

/* The reserve op's bound (cuda_common.cuh): the layout of a call of this
 * shape at batch n, the larger of with and without random noise, since a
 * noise plane per sample can shrink the chunk of T and so the total. The
 * 16-bit formats are modconv_v2's (no scratch of v1's). */
size_t cuda_modconv_scratch_bound(fs_backend *b, const cuda_layer_shape *l, int n)
{
    if (l->fmt != FS_FEAT_F32_NCHW || n < 1)
        return 0;
    fs_modconv_args a = {};
    a.k = l->k;
    a.fp16 = l->fp16;
    int prenorm = modconv_mma(cuda_impl_of(b)->precision, &a) == IG_MMA_FP16;
    size_t most = 0;
    for (int random = 0; random < 2; random++) {
        fs_modconv_chunk_in ci = {n, l->cin, l->cout, l->h, l->w, l->up,
                                  l->demodulate || prenorm, random, prenorm};
        fs_modconv_chunk_plan cp;
        fs_modconv_chunk_plan_make(&ci, cuda_impl_of(b)->chunk_bytes, &cp);
        most = cp.total > most ? cp.total : most;
    }
    return most;
}

/* noise_seeds in device memory are used in place; host seeds are copied into
 * the scratch on the stream. While the stream is being captured into a graph
 * only pinned host seeds (alloc_host) may be copied: the graph's copy reads
 * its source at every replay, which for pageable memory the caller may have
 * freed (and the runtime refuses to capture such a copy anyway). */
fs_status cuda_seeds_on_device(fs_backend *b, const uint64_t *seeds, int n, uint64_t *dst,
                               const uint64_t **out)
{
    cudaMemoryType type = cuda_pointer_type(seeds);
    if (type == cudaMemoryTypeDevice || type == cudaMemoryTypeManaged) {
        *out = seeds;
        return FS_OK;
    }
    int pinned = type == cudaMemoryTypeHost;
    int capturing = 0;
    FS_TRY(cuda_capturing(b, &capturing));
    if (capturing && !pinned)
        return fs_error(FS_ERR_ARG, "cuda modconv: noise seeds in pageable host memory cannot be "
                        "captured into a graph (pass device or alloc_host memory)");
    CUDA_CHECK(cudaMemcpyAsync(dst, seeds, (size_t)n * sizeof *seeds, cudaMemcpyHostToDevice,
                               cuda_impl_of(b)->stream));
    *out = dst;
    return FS_OK;
}

fs_status cuda_modconv(fs_backend *b, const fs_modconv_args *a)
{
    if (a->fmt != FS_FEAT_F32_NCHW)
        return cuda_modconv_v2(b, a);
    FS_TRY(cuda_enter(b));
    cudaStream_t stream = cuda_impl_of(b)->stream;
    if (a->up != 1 && !(a->up == 2 && a->k == 3 && a->fir_len == 4))
        return fs_error(FS_ERR_UNSUPPORTED, "cuda modconv: up=%d with k=%d", a->up, a->k);
    if (a->k < 1)
        return fs_error(FS_ERR_ARG, "cuda modconv: kernel size %d", a->k);
    if (a->noise_mode == FS_NOISE_CONST && !a->noise_const)
        return fs_error(FS_ERR_ARG, "cuda modconv: const noise without a noise map");
    if (a->noise_mode == FS_NOISE_RANDOM && !a->noise_seeds)
        return fs_error(FS_ERR_ARG, "cuda modconv: random noise without seeds");
    if (a->n <= 0 || a->cout <= 0)
        return FS_OK;
    int kk = a->k * a->k, oh = a->h * a->up, ow = a->w * a->up;
    int th = 2 * a->h + 1, tw = 2 * a->w + 1;
    int random = a->noise_mode == FS_NOISE_RANDOM;
    size_t plane = (size_t)oh * ow;

    int mma = modconv_mma(cuda_impl_of(b)->precision, a);
    int prenorm = mma == IG_MMA_FP16; /* FP16 range: the official pre-normalisation */

    /* the scratch layout and the sample chunks: engine/chunk_plan.c, which
     * the backend's reserve op also uses to bound this call's scratch */
    int need_d = a->demodulate || prenorm;
    fs_modconv_chunk_in ci = {a->n, a->cin, a->cout, a->h, a->w, a->up, need_d, random, prenorm};
    fs_modconv_chunk_plan cp;
    fs_modconv_chunk_plan_make(&ci, cuda_impl_of(b)->chunk_bytes, &cp);
    int chunk = cp.chunk;
    char *base;
    FS_TRY(cuda_scratch_for(b, cp.total, "modconv", (void **)&base));
    float *dcoef = need_d ? (float *)(base + cp.off_dcoef) : NULL;
    float *noise = random ? (float *)(base + cp.off_noise) : NULL;
    float *tbuf = a->up == 2 ? (float *)(base + cp.off_t) : NULL;
    float *winv = NULL, *wmax = NULL, *sn = NULL, *smax = NULL;
    if (prenorm) {
        winv = (float *)(base + cp.off_norm);
        wmax = winv + a->cout;
        sn = wmax + a->cout;
        smax = sn + (size_t)a->n * a->cin;
    }
    const uint64_t *seeds = NULL;

    if (prenorm)
        FS_TRY(modconv_prenorm_launch(a->weight, a->styles, a->n, a->cin, a->cout, kk, winv, wmax,
                                      sn, smax, stream));
    if (dcoef)
        FS_TRY(modconv_demod_launch(a->weight, a->styles, dcoef, a->n, a->cin, a->cout, kk,
                                    a->demodulate, wmax, smax, stream));
    if (random)
        FS_TRY(cuda_seeds_on_device(b, a->noise_seeds, a->n, (uint64_t *)(base + cp.off_seeds), &seeds));

    for (int s0 = 0; s0 < a->n; s0 += chunk) {
        int ns = a->n - s0 < chunk ? a->n - s0 : chunk;
        epi_params e = {};
        e.mode = EPI_MODCONV;
        e.bias = a->b;
        e.bias_gain = 1.0f;
        e.act = (int)a->act;
        e.gain = a->gain;
        e.clamp = a->clamp;
        e.dcoef = dcoef ? dcoef + (size_t)s0 * a->cout : NULL;
        e.dcoef_stride = a->cout;
        e.noise_strength = a->noise_strength;
        if (a->noise_mode == FS_NOISE_CONST) {
            e.noise = a->noise_const;
            e.noise_stride = 0;
        } else if (random) {
            FS_TRY(modconv_noise_launch(noise, seeds + s0, ns, plane, a->noise_stream, stream));
            e.noise = noise;
            e.noise_stride = plane;
        }

        igemm_params p = {};
        p.x = a->x + (size_t)s0 * a->cin * a->h * a->w;
        p.cin = a->cin;
        p.h = a->h;
        p.w = a->w;
        p.x_sample_stride = (size_t)a->cin * a->h * a->w;
        p.scale = (prenorm ? sn : a->styles) + (size_t)s0 * a->cin;
        p.mma = mma;
        p.wrow = winv;
        p.wt = a->weight;
        p.cout = a->cout;
        p.w_transposed = 0;
        p.wgain = 1.0f;
        p.n = ns;
        float *y = a->y + (size_t)s0 * a->cout * plane;
        if (a->up == 1) {
            igemm_set_correlation(&p, a->k, 1, a->k / 2, oh, ow);
            p.y = y;
            p.y_sample_stride = (size_t)a->cout * plane;
            p.epi = e;
            FS_TRY(igemm_launch(&p, stream));
            continue;
        }
        /* up == 2: T = conv_transpose2d(x * s, W, stride 2), raw */
        p.k = 3;
        p.y = tbuf;
        p.yh = th;
        p.yw = tw;
        p.y_sample_stride = (size_t)a->cout * th * tw;
        p.epi.mode = EPI_RAW;
        FS_TRY(convt_launch(&p, 2, 0, stream));
        FS_TRY(modconv_fir_launch(tbuf, y, a->fir, ns * a->cout, a->cout, th, tw, &e, stream));
    }
    return FS_OK;
}
