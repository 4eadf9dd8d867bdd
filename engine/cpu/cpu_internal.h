/* Internals shared by the CPU backend's op files: the backend state (thread
 * pool, per-worker GEMM and im2col scratch) and the tiling rules. The scalar
 * formulas shared with the CUDA kernels live in ../op_math.h. Not public. */
#ifndef FS_CPU_INTERNAL_H
#define FS_CPU_INTERNAL_H

#include <math.h>
#include <stddef.h>

#include "../backend.h"
#include "../op_math.h"
#include "gemm.h"
#include "threads.h"

typedef struct {
    fs_pool *pool;
    int threads;
    float **scratch; /* per worker: GEMM packing buffers */
    float **col;     /* per worker: im2col / GEMM output tiles */
    size_t col_cap;  /* floats per worker */
} fs_cpu;

static inline fs_cpu *fs_cpu_of(fs_backend *b) { return b->impl; }

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
