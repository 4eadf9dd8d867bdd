/* Internals shared by the CPU backend's op files: the backend state (thread
 * pool, per-worker GEMM and im2col scratch), the activation epilogue, and the
 * tiling rule. Not part of the public interface. */
#ifndef FS_CPU_INTERNAL_H
#define FS_CPU_INTERNAL_H

#include <math.h>
#include <stddef.h>

#include "backend.h"
#include "cpu_gemm.h"
#include "cpu_threads.h"

#define FS_SQRT2 1.41421356237309504880f

typedef struct {
    fs_pool *pool;
    int threads;
    float **scratch; /* per worker: GEMM packing buffers */
    float **col;     /* per worker: im2col / GEMM output tiles */
    size_t col_cap;  /* floats per worker */
} fs_cpu;

static inline fs_cpu *fs_cpu_of(fs_backend *b) { return b->impl; }

static inline float fs_act_apply(float x, fs_act act, float gain, float clamp)
{
    switch (act) {
    case FS_ACT_LRELU: x = (x < 0 ? x * 0.2f : x) * FS_SQRT2; break;
    case FS_ACT_RELU: x = x < 0 ? 0.0f : x; break;
    case FS_ACT_LEAKY001: x = x < 0 ? x * 0.01f : x; break;
    case FS_ACT_TANH: x = tanhf(x); break;
    default: break;
    }
    x *= gain;
    if (clamp > 0)
        x = x < -clamp ? -clamp : x > clamp ? clamp : x;
    return x;
}

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

#endif
