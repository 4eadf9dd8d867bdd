/* Internals shared by the CPU backend's op files: the backend state (thread
 * pool, per-worker GEMM and im2col scratch) and the tiling rules. The scalar
 * formulas shared with the CUDA kernels live in ../op_math.h. Not public. */
#ifndef FS_CPU_INTERNAL_H
#define FS_CPU_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "../backend.h"
#include "../op_math.h"
#include "gemm.h"
#include "threads.h"

struct fs_cpu_fir;

typedef struct {
    fs_pool *pool;
    int threads;
    int precision;   /* emulated CUDA v2 precision (backend.h fs_backend_cpu_init_ex) */
    float **scratch; /* per worker: GEMM packing buffers */
    float **col;     /* per worker: im2col / GEMM output tiles */
    size_t col_cap;  /* floats per worker */
} fs_cpu;

static inline fs_cpu *fs_cpu_of(fs_backend *b) { return b->impl; }

/* The CPU form of a layer (backend.h fs_plan), made once at network init. */
struct fs_plan {
    fs_op_kind kind;
    int cin, cout, k, h, w, up; /* the shapes it was made for (upfirdn2d: cin = nc) */
    float *wmat;                /* the weight in the op's GEMM layout, where that is not the
                                 * stored one (fc: [in, out] * gain; transposed convs:
                                 * [cout k k, cin]; conv2d: * weight_gain; modconv with
                                 * demodulation: the sum of W^2 over the taps, [cout, cin]) */
    float *packed;              /* the GEMM's A operand packed once (modconv, conv2d) */
    int packed_rows;
    struct fs_cpu_fir *fir;     /* modconv up: the blur of T; upfirdn2d; conv2d down: pre-filter */
};

fs_status fs_cpu_plan(fs_backend *b, fs_op_kind kind, const void *args, fs_plan **out);
void fs_cpu_plan_free(fs_backend *b, fs_plan *p);
/* FS_ERR_ARG unless p was made for this op and these shapes. */
fs_status fs_cpu_plan_check(const fs_plan *p, fs_op_kind kind, int cin, int cout, int k, int h,
                            int w, int up);
/* Per-op plan makers, each in its op's file; p arrives zeroed with kind and
 * shapes set. */
fs_status fs_cpu_fc_plan(const fs_fc_args *a, fs_plan *p);
fs_status fs_cpu_modconv_plan(const fs_modconv_args *a, fs_plan *p);
fs_status fs_cpu_conv2d_plan(const fs_conv2d_args *a, fs_plan *p);
fs_status fs_cpu_conv_transpose2d_plan(const fs_conv_transpose2d_args *a, fs_plan *p);
fs_status fs_cpu_upfirdn2d_plan(const fs_upfirdn2d_args *a, fs_plan *p);

/* upfirdn2d of nc planes [h, w] with a ready FIR plan (shared by conv2d). */
fs_status fs_cpu_upfirdn2d_run(fs_cpu *m, const struct fs_cpu_fir *fir, const float *x, float *y,
                               int nc, int h, int w);

/* The weight operand A of a conv GEMM, rows = output channels x rpc: packed
 * once by a plan, or the raw row-major matrix. */
typedef struct {
    const float *raw;
    size_t ld;
    const float *packed;
    int rows;
} fs_cpu_wop;

/* C[m, n] = A[row0 : row0 + m] B; with a packed A, row0 must sit on a strip
 * (fs_cpu_chunk keeps it there). */
static inline void fs_cpu_gemm_w(const fs_cpu_wop *w, int row0, int m, int n, int k,
                                 const float *bm, size_t ldb, float *c, size_t ldc,
                                 float *scratch)
{
    if (w->packed)
        fs_sgemm_ws_packed(m, n, k, w->packed, row0, w->rows, bm, ldb, c, ldc, 0, scratch);
    else
        fs_sgemm_ws(m, n, k, w->raw + (size_t)row0 * w->ld, w->ld, bm, ldb, c, ldc, 0, scratch);
}

/* Output channels per chunk for *chunks chunks of cout, rounded so that each
 * chunk's first GEMM row (channel x rows_per_channel) starts a packed strip;
 * *chunks is updated to the count that covers cout. */
int fs_cpu_chunk(int cout, int *chunks, int rows_per_channel);

/* Grows every worker's tile buffer to at least `floats`. */
fs_status fs_cpu_ensure_col(fs_cpu *m, size_t floats);

/* Output rows per tile so that a worker's buffer stays near 4 MB. */
int fs_cpu_tile_rows(long floats_per_row, int h);

/* Splits `cout` output channels into chunks so that tiles x chunks gives every
 * worker a few tasks even for small feature maps (GEMM rows are independent). */
int fs_cpu_channel_chunks(const fs_cpu *m, int tasks, int cout, int align);

/* The op implementations, one file per family. */
fs_status fs_cpu_fc(fs_backend *b, const fs_fc_args *a);
fs_status fs_cpu_normalize(fs_backend *b, float *x, int n, int c);
fs_status fs_cpu_lerp_rows(fs_backend *b, float *y, const float *a, int n, int rows, int c,
                           int row0, int row1, float t);
fs_status fs_cpu_bias_act(fs_backend *b, float *x, const float *bias, int n, int c, size_t hw,
                          fs_act act, float gain, float clamp);
fs_status fs_cpu_axpby(fs_backend *b, float *y, const float *x, size_t n, float ys, float xs);
fs_status fs_cpu_mbstd(fs_backend *b, const float *x, float *y, int n, int c, int h, int w,
                       int group, int f);
fs_status fs_cpu_project(fs_backend *b, const float *x, const float *cmap, float *out, int n,
                         int c, float scale);
fs_status fs_cpu_upfirdn2d(fs_backend *b, const fs_upfirdn2d_args *a);
fs_status fs_cpu_modconv(fs_backend *b, const fs_modconv_args *a);
fs_status fs_cpu_conv2d(fs_backend *b, const fs_conv2d_args *a);
fs_status fs_cpu_conv_transpose2d(fs_backend *b, const fs_conv_transpose2d_args *a);
fs_status fs_cpu_instance_norm(fs_backend *b, float *x, const float *weight, const float *bias,
                               int n, int c, size_t hw, float eps, fs_act act);
fs_status fs_cpu_to_uint8(fs_backend *b, const float *x, uint8_t *y, int n, int c, int h, int w);
fs_status fs_cpu_avg_pool2d(fs_backend *b, const float *x, float *y, int nc, int h, int w, int k,
                            int stride, int pad);
fs_status fs_cpu_channel_affine(fs_backend *b, const fs_channel_affine_args *a);
fs_status fs_cpu_se_residual(fs_backend *b, const fs_se_residual_args *a);
fs_status fs_cpu_upsample_add(fs_backend *b, const fs_upsample_add_args *a);
fs_status fs_cpu_max_feature_map(fs_backend *b, const fs_max_feature_map_args *a);
fs_status fs_cpu_max_pool2d(fs_backend *b, const fs_max_pool2d_args *a);
fs_status fs_cpu_adaptive_avg_pool2d(fs_backend *b, const fs_adaptive_avg_pool2d_args *a);
fs_status fs_cpu_blend(fs_backend *b, const fs_blend_args *a);
fs_status fs_cpu_styles_plan(const fs_styles_args *a, fs_plan *p);
fs_status fs_cpu_styles(fs_backend *b, const fs_styles_args *a);
fs_status fs_cpu_torgb(fs_backend *b, const fs_torgb_args *a);
fs_status fs_cpu_convert_features(fs_backend *b, const fs_convert_features_args *a);

/* ---- CUDA v2 feature formats (docs/precision.md) ------------------------------------- */

/* One element of a 16-bit feature format to float32 (exact) and a float32
 * rounded to it (nearest even, NaN kept): FS_FEAT_F16_NHWC is IEEE binary16,
 * FS_FEAT_BF16_NHWC bfloat16. */
uint16_t fs_cpu_feat_round(fs_feat_format f, float v);
float fs_cpu_feat_value(fs_feat_format f, uint16_t h);
/* v rounded to the format and back: r(v) of docs/precision.md. */
static inline float fs_cpu_feat_r(fs_feat_format f, float v)
{
    return fs_cpu_feat_value(f, fs_cpu_feat_round(f, v));
}

/* wsq[o, i] = sum over the kk taps of W[o, i, :]^2, in tap order: the static
 * half of the demodulation (modconv's plan and the styles op's share it, so
 * dcoef is the same bits either way). */
void fs_cpu_weight_sq(const float *w, int cout, int cin, int kk, float *wsq);

/* d[o] = 1 / sqrt(sum_i wsq[o, i] s[i]^2 + 1e-8) for one sample, the sum in
 * order of i over s2[i] = s[i] * s[i] (s2: room for cin floats). */
static inline void fs_cpu_demod_row(const float *wsq, const float *s, int cin, int cout,
                                    float *s2, float *d)
{
    for (int i = 0; i < cin; i++)
        s2[i] = s[i] * s[i];
    for (int o = 0; o < cout; o++) {
        const float *wo = wsq + (size_t)o * cin;
        float acc = 0;
        for (int i = 0; i < cin; i++)
            acc += wo[i] * s2[i];
        d[o] = 1.0f / sqrtf(acc + 1e-8f);
    }
}

/* modconv in a 16-bit format (modconv_half.c): the operand, the float32 GEMM
 * machinery, the epilogue of docs/precision.md §2. */
fs_status fs_cpu_modconv_half(fs_backend *b, const fs_modconv_args *a);
/* r(W) in the layer's format, [cout, cin, k, k] (malloc'd; NULL: no memory). */
float *fs_cpu_modconv_round_weight(const fs_modconv_args *a);

#endif
