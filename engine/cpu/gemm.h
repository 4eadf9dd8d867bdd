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

/* A weight used by many calls is packed once (at plan time) for every KC
 * block and MR-row strip, and each call then packs only B. Rows of the packed
 * A may be used from any multiple of fs_sgemm_mr() on. The sums are formed in
 * the same order as fs_sgemm_ws, so results are bit-identical to it. */
int fs_sgemm_mr(void);
size_t fs_sgemm_packed_a_floats(int m, int k);
void fs_sgemm_pack_a(int m, int k, const float *a, size_t lda, float *packed);
/* C[m, n] (+)= A[row0 : row0 + m, :] B: row0 % fs_sgemm_mr() == 0, m_total
 * the packed A's row count. */
void fs_sgemm_ws_packed(int m, int n, int k, const float *packed, int row0, int m_total,
                        const float *b, size_t ldb, float *c, size_t ldc, int accumulate,
                        float *scratch);

#endif
