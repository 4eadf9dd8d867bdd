/* Blocked SGEMM in the Goto/BLIS shape: B is packed into KC x NC panels of
 * NR-wide column strips, A into MC x KC panels of MR-high row strips, and a
 * register-tile micro-kernel runs over them (6 x 32 with AVX-512, 6 x 16
 * with AVX2). The micro-kernel is written with GCC vector extensions and
 * compiled three times (baseline x86-64, AVX2 + FMA, AVX-512), the best one
 * picked at run time, so one binary is both portable and fast. Callers may
 * pack B themselves (a conv packs its input panel straight from the
 * activations, no im2col buffer) and may run an epilogue on every finished
 * tile while it is in L1. */
#include "gemm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MR 6
#define NR 32
#define KC 256
#define MC 120
#define NC 1024


size_t fs_sgemm_scratch_floats(void) { return (size_t)KC * NC + (size_t)MC * KC + 64; }

static void pack_b(int kc, int nc, const float *b, size_t ldb, float *bp)
{
    for (int j = 0; j < nc; j += NR) {
        int nr = nc - j < NR ? nc - j : NR;
        for (int p = 0; p < kc; p++) {
            const float *src = b + (size_t)p * ldb + j;
            float *dst = bp + (size_t)(j / NR) * kc * NR + (size_t)p * NR;
            int q = 0;
            for (; q < nr; q++)
                dst[q] = src[q];
            for (; q < NR; q++)
                dst[q] = 0;
        }
    }
}

static void pack_a(int mc, int kc, const float *a, size_t lda, float *ap)
{
    for (int i = 0; i < mc; i += MR) {
        int mr = mc - i < MR ? mc - i : MR;
        float *dst = ap + (size_t)(i / MR) * kc * MR;
        for (int p = 0; p < kc; p++) {
            int q = 0;
            for (; q < mr; q++)
                dst[(size_t)p * MR + q] = a[(size_t)(i + q) * lda + p];
            for (; q < MR; q++)
                dst[(size_t)p * MR + q] = 0;
        }
    }
}

#define FS_GEMM_NAME(x) x##_base
#include "gemm_kernel.inc"
#undef FS_GEMM_NAME

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#pragma GCC push_options
#pragma GCC target("avx2,fma")
/* ISO C mode forbids contracting a*b+c into an FMA unless asked; the kernel
 * is written as multiply-add precisely so that it becomes one. */
#pragma GCC optimize("fp-contract=fast")
#define FS_GEMM_NAME(x) x##_avx2
#include "gemm_kernel.inc"
#undef FS_GEMM_NAME
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#pragma GCC optimize("fp-contract=fast")
#define FS_GEMM_WIDE 1
#define FS_GEMM_NAME(x) x##_avx512
#include "gemm_kernel.inc"
#undef FS_GEMM_NAME
#undef FS_GEMM_WIDE
#pragma GCC pop_options
#define FS_HAVE_AVX2_KERNEL 1
#endif

typedef void (*macro_fn)(int, int, int, const float *, const float *, float *, size_t, int,
                         const fs_sgemm_epi *, int, int, const fs_sgemm_cb *, int);

/* FS_GEMM_KERNEL=base|avx2|avx512 forces one (A/B runs, tests); all give the
 * same bits on a machine that has them, FMA contraction aside for base. */
static macro_fn pick_kernel(void)
{
#ifdef FS_HAVE_AVX2_KERNEL
    __builtin_cpu_init();
    const char *force = getenv("FS_GEMM_KERNEL");
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = avx2 && __builtin_cpu_supports("avx512f");
    if (force && !strcmp(force, "base"))
        return macro_kernel_base;
    if (force && !strcmp(force, "avx2") && avx2)
        return macro_kernel_avx2;
    if (avx512)
        return macro_kernel_avx512;
    if (avx2)
        return macro_kernel_avx2;
#endif
    return macro_kernel_base;
}

int fs_sgemm_mr(void) { return MR; }
int fs_sgemm_nr(void) { return NR; }
int fs_sgemm_kc(void) { return KC; }

static size_t padded_rows(int m) { return ((size_t)m + MR - 1) / MR * MR; }

size_t fs_sgemm_packed_a_floats(int m, int k) { return padded_rows(m) * (size_t)(k > 0 ? k : 1); }

/* Block pc (KC columns from pc) lives at pc * padded_rows: every earlier
 * block is a full KC wide. Within it, strip s at s * kc * MR, as pack_a lays
 * out one MC panel. */
void fs_sgemm_pack_a(int m, int k, const float *a, size_t lda, float *packed)
{
    size_t mp = padded_rows(m);
    for (int pc = 0; pc < k; pc += KC) {
        int kc = k - pc < KC ? k - pc : KC;
        pack_a(m, kc, a + pc, lda, packed + (size_t)pc * mp);
    }
}

static macro_fn macro_kernel;
static pthread_once_t kernel_once = PTHREAD_ONCE_INIT;
static void kernel_init(void) { macro_kernel = pick_kernel(); }

/* The one loop nest of every entry point. A comes either raw (a, lda: each
 * MC x KC panel packed here into scratch) or packed once (packed, rows from
 * row0 of an m_total-row matrix). B comes raw (b, ldb) or through the
 * caller's packer. Either way the kernel sees the same panels in the same
 * order, so the sums, and the results, are identical. */
static void gemm(int m, int n, int k, const float *a, size_t lda, const float *packed, int row0,
                 int m_total, const float *b, size_t ldb, const fs_sgemm_cb *cb, float *c,
                 size_t ldc, int accumulate, float *scratch)
{
    pthread_once(&kernel_once, kernel_init);
    float *bp = scratch;
    float *ap = scratch + (size_t)KC * NC;
    size_t mp = padded_rows(m_total);
    const fs_sgemm_epi *epi = cb && cb->epi.fn ? &cb->epi : NULL;
    if (k == 0) {
        if (!accumulate)
            for (int i = 0; i < m; i++)
                memset(c + (size_t)i * ldc, 0, (size_t)n * sizeof *c);
        for (int i = 0; epi && i < m; i += MR)
            for (int j = 0; j < n; j += NR)
                epi->fn(epi->ctx, i, m - i < MR ? m - i : MR, j, n - j < NR ? n - j : NR,
                        c + (size_t)i * ldc + j, ldc);
        return;
    }
    for (int jc = 0; jc < n; jc += NC) {
        int nc = n - jc < NC ? n - jc : NC;
        for (int pc = 0; pc < k; pc += KC) {
            int kc = k - pc < KC ? k - pc : KC;
            const fs_sgemm_cb *ind = cb && cb->b_col ? cb : NULL;
            if (ind)
                ; /* B read in place by the kernel */
            else if (cb && cb->pack_b)
                cb->pack_b(cb->pack_ctx, pc, kc, jc, nc, bp);
            else
                pack_b(kc, nc, b + (size_t)pc * ldb + jc, ldb, bp);
            int last = pc + kc >= k;
            for (int ic = 0; ic < m; ic += MC) {
                int mc = m - ic < MC ? m - ic : MC;
                const float *panel;
                if (packed) {
                    panel = packed + (size_t)pc * mp + (size_t)(row0 + ic) / MR * kc * MR;
                } else {
                    pack_a(mc, kc, a + (size_t)ic * lda + pc, lda, ap);
                    panel = ap;
                }
                macro_kernel(mc, nc, kc, panel, bp, c + (size_t)ic * ldc + jc, ldc,
                             accumulate || pc > 0, last ? epi : NULL, ic, jc, ind, pc);
            }
        }
    }
}

void fs_sgemm_ws(int m, int n, int k, const float *a, size_t lda, const float *b, size_t ldb,
                 float *c, size_t ldc, int accumulate, float *scratch)
{
    gemm(m, n, k, a, lda, NULL, 0, m, b, ldb, NULL, c, ldc, accumulate, scratch);
}

void fs_sgemm_ws_packed(int m, int n, int k, const float *packed, int row0, int m_total,
                        const float *b, size_t ldb, float *c, size_t ldc, int accumulate,
                        float *scratch)
{
    gemm(m, n, k, NULL, 0, packed, row0, m_total, b, ldb, NULL, c, ldc, accumulate, scratch);
}

void fs_sgemm_cb_run(int m, int n, int k, const float *a, size_t lda, const float *packed, int row0,
                     int m_total, const fs_sgemm_cb *cb, float *c, size_t ldc, float *scratch)
{
    gemm(m, n, k, a, lda, packed, row0, m_total, NULL, 0, cb, c, ldc, 0, scratch);
}

void fs_sgemm(int m, int n, int k, const float *a, size_t lda, const float *b, size_t ldb,
              float *c, size_t ldc, int accumulate)
{
    float *scratch = malloc(fs_sgemm_scratch_floats() * sizeof *scratch);
    if (!scratch) { /* fall back to the plain triple loop rather than fail */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                float s = accumulate ? c[(size_t)i * ldc + j] : 0;
                for (int p = 0; p < k; p++)
                    s += a[(size_t)i * lda + p] * b[(size_t)p * ldb + j];
                c[(size_t)i * ldc + j] = s;
            }
        return;
    }
    fs_sgemm_ws(m, n, k, a, lda, b, ldb, c, ldc, accumulate, scratch);
    free(scratch);
}
