/* Single-threaded cache-blocked SGEMM for the CPU backend:
 * C[M, N] (+)= A[M, K] B[K, N], all row-major with leading dimensions.
 * Callers parallelise over independent output tiles. */
#ifndef FS_CPU_GEMM_H
#define FS_CPU_GEMM_H

#include <stddef.h>

/* accumulate: 0 overwrites C, 1 adds to it. */
void fs_sgemm(int m, int n, int k, const float *a, size_t lda, const float *b, size_t ldb,
              float *c, size_t ldc, int accumulate);

/* Scratch the GEMM packs into; one per thread, reused across calls. */
size_t fs_sgemm_scratch_floats(void);
void fs_sgemm_ws(int m, int n, int k, const float *a, size_t lda, const float *b, size_t ldb,
                 float *c, size_t ldc, int accumulate, float *scratch);

#endif
