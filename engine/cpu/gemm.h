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

/* Columns per packed B strip and the K block: what a caller's B packer
 * writes (see fs_sgemm_cb). */
int fs_sgemm_nr(void);
int fs_sgemm_kc(void);

/* A caller-packed B and a per-tile epilogue.
 * pack_b(ctx, pc, kc, jc, nc, bp): rows [pc, pc + kc) and columns
 *   [jc, jc + nc) of B into bp, strip by strip: column j at
 *   bp[(j / NR) * kc * NR + p * NR + j % NR], the last strip zero-padded to NR.
 * epi.fn(ctx, i0, mr, j0, nr, c, ldc): called once for every finished tile
 *   (rows [i0, i0 + mr), columns [j0, j0 + nr) of this call's C, at c), after
 *   its last K block, while the tile is still in L1; it may rewrite it. */
typedef struct {
    void (*fn)(void *ctx, int i0, int mr, int j0, int nr, float *c, size_t ldc);
    void *ctx;
} fs_sgemm_epi;
typedef struct {
    void (*pack_b)(void *ctx, int pc, int kc, int jc, int nc, float *bp);
    void *pack_ctx;
    fs_sgemm_epi epi;
    /* Or B read in place, never packed (a conv over a zero-padded input):
     * element (p, j) at b_col(pack_ctx, j - j % NR)[j % NR + b_off[p]], each
     * strip of NR columns contiguous; n must be a multiple of NR. */
    const float *(*b_col)(void *ctx, int j);
    const int *b_off; /* [k] */
} fs_sgemm_cb;
/* C[m, n] = A B (never accumulates) with A raw (a, lda) or packed (packed,
 * row0, m_total as fs_sgemm_ws_packed), B from cb->pack_b (or, when NULL,
 * nothing: pack_b is required), then cb->epi per tile. */
void fs_sgemm_cb_run(int m, int n, int k, const float *a, size_t lda, const float *packed, int row0,
                     int m_total, const fs_sgemm_cb *cb, float *c, size_t ldc, float *scratch);

#endif
