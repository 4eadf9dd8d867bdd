/* Internal to the CUDA backend (kernels/cuda_backend.cu and the op files):
 * the backend's state, the CUDA_CHECK macro, device helpers every op shares
 * (activation, Philox normals, block reductions), the implicit-GEMM
 * convolution that fc, conv2d, modconv and conv_transpose2d are all built on,
 * and the op entry points the ops table points at.
 *
 * The scalar formulas (activation, Philox noise) are engine/op_math.h, the
 * very code the CPU oracle runs; the kernels otherwise follow the oracle's
 * loops (engine/cpu/), so results differ only by summation order and FMA
 * contraction (float ops) or not at all (the noise, computed in double and
 * rounded once). */
#ifndef FS_KERNELS_CUDA_COMMON_CUH
#define FS_KERNELS_CUDA_COMMON_CUH

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "../engine/backend.h"
#include "../engine/op_math.h"
#include "../engine/status.h"

/* Any failing CUDA call: record "file:line: call: reason" and return
 * FS_ERR_DEVICE from the enclosing function (which returns fs_status). */
#define CUDA_CHECK(call)                                                                   \
    do {                                                                                   \
        cudaError_t cuda_check_e_ = (call);                                                \
        if (cuda_check_e_ != cudaSuccess)                                                  \
            return fs_error(FS_ERR_DEVICE, "%s:%d: %s: %s", __FILE__, __LINE__, #call,     \
                            cudaGetErrorString(cuda_check_e_));                            \
    } while (0)

/* After a kernel launch: configuration errors (grid, shared memory, an
 * image with no code for this device) show at once and are reported with the
 * kernel's name, since the line alone does not say which of a file's
 * launches failed; faults in the kernel surface later, from a synchronising
 * call. */
#define CUDA_CHECK_LAUNCH(name)                                                            \
    do {                                                                                   \
        cudaError_t cuda_launch_e_ = cudaGetLastError();                                   \
        if (cuda_launch_e_ != cudaSuccess)                                                 \
            return fs_error(FS_ERR_DEVICE, "%s:%d: launch of %s: %s", __FILE__, __LINE__,  \
                            (name), cudaGetErrorString(cuda_launch_e_));                   \
    } while (0)

/* Temporaries of one op (FIR outputs, transposed-conv planes, noise maps) are
 * processed in sample chunks of about this size, so that a batch of 32 at
 * 1024^2 does not need a second multi-GB activation buffer: the default of
 * a backend's chunk_bytes (fs_backend_cuda_set_chunk_bytes changes it, so
 * that tests reach the multi-chunk paths with small layers). */
#define FS_CUDA_CHUNK_BYTES ((size_t)512 << 20)

/* The scratch-relevant shape of a planned layer: the backend's reserve op
 * bounds the scratch of every layer planned on it (cuda_backend.cu). */
typedef struct {
    fs_op_kind kind; /* FS_OP_MODCONV, FS_OP_STYLES, or FS_OP_CONV2D with down == 2 */
    int cin, cout, h, w, k, up, demodulate, fp16, fmt, fir_len;
    /* FS_OP_STYLES: cin = the plan's n_layers, cout = its n_demod, and: */
    size_t s2_end;
} cuda_layer_shape;

typedef struct {
    int device;
    cudaStream_t stream;
    void *scratch;        /* grown on demand, reused by every op (stream-ordered) */
    size_t scratch_bytes;
    int precision;        /* fs_cuda_precision (cuda_backend.h) */
    int sms;              /* the device's SM count, 0 until first asked (cuda_device_limits) */
    int smem_optin;       /* its opt-in shared memory a block, with sms */
    /* ---- the host path (docs/cuda_host_path.md) ---- */
    cudaStream_t copy_stream; /* download_async's lane, beside `stream` */
    cudaEvent_t queued;       /* marks `stream` where a download_async starts */
    size_t chunk_bytes;       /* sample chunks of the ops' temporaries */
    int scratch_fixed;        /* reserve was called: the scratch never grows */
    int reserved_batch;       /* the largest batch reserve was asked for */
    unsigned long scratch_epoch;  /* scratch_grow's count: graphs hold the scratch's address */
    unsigned long capture_epoch;  /* scratch_epoch when the capture in progress began */
    cuda_layer_shape *shapes; /* every planned layer that uses scratch, once */
    int n_shapes, cap_shapes;
} cuda_impl;

static inline cuda_impl *cuda_impl_of(fs_backend *b) { return (cuda_impl *)b->impl; }

/* Makes the backend's device current for this thread (ops may be called from
 * a thread that last used another device). */
fs_status cuda_enter(fs_backend *b);

/* At least `bytes` of device scratch for op `op` (named in errors), valid
 * until the next cuda_scratch call. Before the backend's reserve, growing
 * frees the old buffer (cudaFree waits for the device, so work still queued
 * on the old buffer completes first). After reserve, or while the stream is
 * being captured into a graph, it never grows: a call that needs more fails
 * with FS_ERR_LIMIT. */
fs_status cuda_scratch_for(fs_backend *b, size_t bytes, const char *op, void **out);
static inline fs_status cuda_scratch(fs_backend *b, size_t bytes, void **out)
{
    return cuda_scratch_for(b, bytes, "op", out);
}

/* What kind of memory p is (cudaMemoryTypeUnregistered for pageable host
 * memory and on any error), safe to ask inside a capture. */
cudaMemoryType cuda_pointer_type(const void *p);

/* The backend device's SM count and opt-in shared memory a block, queried on
 * first use and kept in the backend (the device never changes), so launches
 * make no attribute query. Either pointer may be NULL. */
fs_status cuda_device_limits(fs_backend *b, int *sms, int *smem_optin);

/* noise_seeds of a random-noise modconv on the device: device (or managed)
 * memory is used in place; host seeds are copied into dst on the stream, and
 * while the stream is being captured only pinned ones (modconv.cu; v1 and v2
 * share it). */
fs_status cuda_seeds_on_device(fs_backend *b, const uint64_t *seeds, int n, uint64_t *dst,
                               const uint64_t **out);

/* *capturing = 1 while the backend's stream is being captured (capture_begin
 * to capture_end): no allocation, synchronisation or pageable copy then. */
fs_status cuda_capturing(fs_backend *b, int *capturing);

/* The most scratch a v1 modconv / down-sampling conv2d of this shape needs
 * for batches of up to n, at the backend's chunk size and precision, with
 * or without random noise (modconv.cu, conv2d.cu; engine/chunk_plan.c).
 * The v2 ops' bounds are cuda_plan.cuh's. */
size_t cuda_modconv_scratch_bound(fs_backend *b, const cuda_layer_shape *l, int n);
size_t cuda_conv2d_scratch_bound(fs_backend *b, const cuda_layer_shape *l, int n);

/* Rounds a byte count up to 256 so partitions of the scratch stay aligned. */
static inline size_t cuda_align(size_t bytes) { return (bytes + 255) & ~(size_t)255; }

static inline unsigned cuda_blocks(size_t n, int block)
{
    size_t b = (n + (size_t)block - 1) / (size_t)block;
    return (unsigned)(b < 1048576 ? (b ? b : 1) : 1048576); /* kernels grid-stride past this */
}

/* ---- device helpers ------------------------------------------------------------ */

/* The activation epilogue and the Philox normal come from engine/op_math.h,
 * shared with the CPU backend: act_apply and philox_normal are its functions
 * under the kernels' short names. */
__device__ __forceinline__ float act_apply(float x, int act, float gain, float clamp)
{
    return fs_act_apply(x, (fs_act)act, gain, clamp);
}

__device__ __forceinline__ float philox_normal(uint64_t seed, uint32_t stream, uint64_t index)
{
    return fs_philox_normal_at(seed, stream, index);
}

/* Sum over the block (blockDim.x a multiple of 32, at most 1024), returned to
 * every thread. `sh` holds 32 values of T. */
template <typename T> __device__ __forceinline__ T block_sum(T v, T *sh)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    if (lane == 0)
        sh[wid] = v;
    __syncthreads();
    if (wid == 0) {
        v = lane < (int)(blockDim.x >> 5) ? sh[lane] : (T)0;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1)
            v += __shfl_down_sync(0xffffffffu, v, o);
        if (lane == 0)
            sh[0] = v;
    }
    __syncthreads();
    T r = sh[0];
    __syncthreads(); /* sh may be reused right after */
    return r;
}

/* One output sample of the CPU upfirdn2d (engine/cpu/fir_plan.c) before the gain: the
 * same loops in the same order (zero insertion by up, pad0, true convolution
 * with the fl x fl filter f, every down-th sample). */
__device__ __forceinline__ float upfirdn_point(const float *__restrict__ x, int h, int w, int up,
                                              int down, int pad0, const float *f, int fl, int oy,
                                              int ox)
{
    int uh = h * up, uw = w * up;
    float acc = 0.0f;
    for (int ky = 0; ky < fl; ky++) {
        int uy = oy * down + ky - pad0;
        if (uy < 0 || uy >= uh || uy % up)
            continue;
        const float *row = x + (size_t)(uy / up) * w;
        const float *frow = f + (size_t)(fl - 1 - ky) * fl + (fl - 1);
        for (int kx = 0; kx < fl; kx++) {
            int ux = ox * down + kx - pad0;
            if (ux < 0 || ux >= uw || ux % up)
                continue;
            acc += __ldg(row + ux / up) * frow[-kx];
        }
    }
    return acc;
}

/* ---- epilogues ------------------------------------------------------------------ */

enum { EPI_RAW = 0, EPI_CONV = 1, EPI_MODCONV = 2 };

/* What happens to an accumulated output value before it is stored:
 *   EPI_RAW:     stored as is (transposed-conv planes before the FIR);
 *   EPI_CONV:    act(acc + bias[o] * bias_gain) * gain, clamped (fc, conv2d,
 *                conv_transpose2d);
 *   EPI_MODCONV: act(acc * dcoef[s, o] + noise * strength + bias[o]) * gain,
 *                clamped, the modconv epilogue of engine/cpu/modconv.c. */
typedef struct {
    int mode;
    const float *bias; /* [cout] or NULL */
    float bias_gain;
    int act;
    float gain, clamp;
    const float *dcoef; /* [n, dcoef_stride] or NULL (no demodulation) */
    int dcoef_stride;
    const float *noise; /* noise[s * noise_stride + y * yw + x], NULL: none */
    size_t noise_stride; /* 0: one map for every sample (const noise) */
    float noise_strength;
} epi_params;

/* `s` is the sample, `pix` the pixel's offset in its output plane. */
__device__ __forceinline__ float epi_apply(const epi_params &e, float acc, int o, int s,
                                           size_t pix)
{
    if (e.mode == EPI_CONV)
        return act_apply(acc + (e.bias ? e.bias[o] * e.bias_gain : 0.0f), e.act, e.gain, e.clamp);
    if (e.mode == EPI_MODCONV) {
        float v = acc * (e.dcoef ? e.dcoef[(size_t)s * e.dcoef_stride + o] : 1.0f);
        if (e.noise)
            v += e.noise[(size_t)s * e.noise_stride + pix] * e.noise_strength;
        return act_apply(v + (e.bias ? e.bias[o] : 0.0f), e.act, e.gain, e.clamp);
    }
    return acc;
}

/* ---- implicit-GEMM convolution (igemm.cu) ------------------------------------------ */

/* out[s, o, p] = sum_{i, t} W[o, i, tap t] * x[s, i, in(p, t)] * scale[s, i]
 * over a grid of oh x ow outputs per sample, where the taps of one launch are
 *   ky = ky0 + kystep * ty (ty < nty), kx likewise,
 *   input row = oy * stride + iy0 + iystep * ty, column likewise,
 * (zero outside the input), and output (oy, ox) is stored at row
 * oy * ysy + yoy, column ox * ysx + yox of a yh x yw plane of y. A stride/pad
 * correlation is one launch (all k x k taps, iy0 = -pad); a transposed conv
 * is one launch per output phase (see convt_launch). */
typedef struct {
    const float *x;
    int cin, h, w;
    size_t x_sample_stride; /* floats between samples (cin * h * w, or ldx for fc) */
    const float *scale;     /* [n, cin] per-sample input scales (styles) or NULL */
    const float *wt;
    int cout, k;
    int w_transposed; /* 0: W[cout, cin, k, k]; 1: W[cin, cout, k, k] (ConvTranspose2d) */
    float wgain;      /* multiplies W as it is loaded, before the product (as the CPU) */
    int n, oh, ow;
    int stride;
    int nty, ntx, ky0, kystep, kx0, kxstep, iy0, iystep, ix0, ixstep;
    float *y;
    int yh, yw, ysy, ysx, yoy, yox;
    size_t y_sample_stride;
    epi_params epi;
    /* Arithmetic: IG_MMA_NONE is the FP32 FMA kernel; the others run on
     * tensor cores (WMMA) with operands rounded to that type as they are
     * staged into shared memory and FP32 accumulation. */
    int mma;
    /* [cout] or NULL: multiplies row o of W as it is staged (tensor-core
     * kernel only; modconv's FP16 pre-normalisation 1 / max|W[o]|). */
    const float *wrow;
} igemm_params;

enum { IG_MMA_NONE = 0, IG_MMA_TF32 = 1, IG_MMA_FP16 = 2, IG_MMA_BF16 = 3 };

fs_status igemm_launch(const igemm_params *p, cudaStream_t stream);

/* A stride/pad correlation with every k x k tap: fills the geometry fields
 * of p (output oh x ow = y plane). */
void igemm_set_correlation(igemm_params *p, int k, int stride, int pad, int oh, int ow);

/* y[s, o, iy*st - pad + ky, ix*st - pad + kx] += W(i, o, ky, kx) x[s, i, iy, ix]
 * (+ epilogue), as a gather over the st x st output phases, one igemm launch
 * each; `p` carries x, scale, weights, n, y and the epilogue. */
fs_status convt_launch(igemm_params *p, int st, int pad, cudaStream_t stream);

/* ---- launchers shared between op files ----------------------------------------------- */

/* upfirdn2d on nc planes (upfirdn2d.cu). */
fs_status upfirdn2d_launch(const fs_upfirdn2d_args *a, cudaStream_t stream);

/* ---- the ops (one per backend.h entry) -------------------------------------------------- */

fs_status cuda_fc(fs_backend *b, const fs_fc_args *a);
fs_status cuda_normalize_2nd_moment(fs_backend *b, float *x, int n, int c);
fs_status cuda_lerp_rows(fs_backend *b, float *y, const float *a, int n, int rows, int c,
                         int row0, int row1, float t);
fs_status cuda_modconv(fs_backend *b, const fs_modconv_args *a);
fs_status cuda_conv2d(fs_backend *b, const fs_conv2d_args *a);
fs_status cuda_upfirdn2d(fs_backend *b, const fs_upfirdn2d_args *a);
fs_status cuda_bias_act(fs_backend *b, float *x, const float *bias, int n, int c, size_t hw,
                        fs_act act, float gain, float clamp);
fs_status cuda_axpby(fs_backend *b, float *y, const float *x, size_t n, float ys, float xs);
fs_status cuda_mbstd(fs_backend *b, const float *x, float *y, int n, int c, int h, int w,
                     int group, int f);
fs_status cuda_project(fs_backend *b, const float *x, const float *cmap, float *out, int n, int c,
                       float scale);
fs_status cuda_conv_transpose2d(fs_backend *b, const fs_conv_transpose2d_args *a);
fs_status cuda_instance_norm(fs_backend *b, float *x, const float *weight, const float *bias,
                             int n, int c, size_t hw, float eps, fs_act act);
fs_status cuda_to_uint8(fs_backend *b, const float *x, uint8_t *y, int n, int c, int h, int w);
fs_status cuda_avg_pool2d(fs_backend *b, const float *x, float *y, int nc, int h, int w, int k,
                          int stride, int pad);
fs_status cuda_channel_affine(fs_backend *b, const fs_channel_affine_args *a);
fs_status cuda_se_residual(fs_backend *b, const fs_se_residual_args *a);
fs_status cuda_upsample_add(fs_backend *b, const fs_upsample_add_args *a);
fs_status cuda_max_feature_map(fs_backend *b, const fs_max_feature_map_args *a);
fs_status cuda_max_pool2d(fs_backend *b, const fs_max_pool2d_args *a);
fs_status cuda_adaptive_avg_pool2d(fs_backend *b, const fs_adaptive_avg_pool2d_args *a);
fs_status cuda_blend(fs_backend *b, const fs_blend_args *a);
fs_status cuda_plan(fs_backend *b, fs_op_kind kind, const void *args, fs_plan **out);
void cuda_plan_free(fs_backend *b, fs_plan *p);
fs_feat_format cuda_feature_format(fs_backend *b, int fp16_layer);
/* modconv on the 16-bit NHWC formats (modconv_v2.cu); cuda_modconv calls it */
fs_status cuda_modconv_v2(fs_backend *b, const fs_modconv_args *a);
fs_status cuda_styles(fs_backend *b, const fs_styles_args *a);
fs_status cuda_torgb(fs_backend *b, const fs_torgb_args *a);
fs_status cuda_convert_features(fs_backend *b, const fs_convert_features_args *a);

#endif
