/* The styles op on the GPU (backend.h fs_styles_args): the affine styles and
 * the demodulation coefficients of every modulated layer of a synthesis
 * network, for all samples, in two cuBLAS calls and two small kernels per
 * forward:
 *   1. one grouped GEMM (cublasGemmGroupedBatchedEx, a group per layer):
 *      acc_l [n, cin_l] = ws[:, w_index_l, :] A_l^T;
 *   2. styles_finish_kernel1: styles = (acc * weight_gain + b) * gain, as the
 *      CPU's fc orders it, and s2 = styles^2;
 *   3. one grouped GEMM over the demodulated layers: acc_l [n, cout_l] =
 *      s2_l sw2_l^T, with sw2[o, i] = sum over the taps of W[o, i]^2 made
 *      once by the plan (FS_OP_STYLES);
 *   4. dcoef_finish_kernel1: dcoef = 1 / sqrt(acc + 1e-8).
 * cuBLAS is column-major: a row-major [rows, cols] block is a column-major
 * [cols, rows] one, so each product is computed transposed (C^T = B^T A^T)
 * with no copy. FP32 compute (CUBLAS_COMPUTE_32F: no TF32). Where grouped
 * GEMMs are missing (cuBLAS before 12.5) or refuse the shapes, and inside a
 * graph capture, one cublasSgemm per layer does the same.
 *
 * The cuBLAS handle lives in the plan (cuda_plan.cu) with a workspace of
 * its own, so that no cuBLAS call allocates; an unplanned call makes a handle
 * for the call and destroys it (which waits for the device), and is refused
 * inside a graph capture. The device pointer arrays the grouped GEMMs read
 * are written by a kernel from its parameters (styles_tables_kernel1), not
 * copied from host memory, so a forward can be captured into a graph: the
 * parameters are part of the recorded launch. */
#include <stdlib.h>
#include <string.h>

#include <cublas_v2.h>

#include "cuda_backend.h"
#include "cuda_common.cuh"
#include "cuda_plan.cuh"

#define CUBLAS_CHECK(call)                                                                 \
    do {                                                                                   \
        cublasStatus_t cublas_check_s_ = (call);                                           \
        if (cublas_check_s_ != CUBLAS_STATUS_SUCCESS)                                      \
            return fs_error(FS_ERR_DEVICE, "%s:%d: %s: %s", __FILE__, __LINE__, #call,     \
                            cublasGetStatusString(cublas_check_s_));                       \
    } while (0)

#if defined(CUBLAS_VERSION) && CUBLAS_VERSION >= 120500
#define STYLES_GROUPED 1
#else
#define STYLES_GROUPED 0
#endif

#define STYLES_BLOCK 256

/* One layer's block for the finishing kernels. */
typedef struct {
    float *y;        /* the layer's [n, len] block (styles or dcoef) */
    float *y2;       /* styles: the squares (same layout), else NULL */
    const float *b;  /* styles: the affine bias [len] */
    int len;         /* cin (styles) or cout (dcoef) */
    float wg, gain;  /* styles */
} styles_block;

/* One launch's worth of layers for styles_tables_kernel1, by value (about
 * 2.7 KB of the 4 KB of kernel parameters). */
#define STYLES_FILL_MAX 32
typedef struct {
    const float *aw[STYLES_FILL_MAX], *ws[STYLES_FILL_MAX], *ab[STYLES_FILL_MAX];
    const float *sw2[STYLES_FILL_MAX];
    float *sty[STYLES_FILL_MAX], *s2[STYLES_FILL_MAX], *dc[STYLES_FILL_MAX];
    int cin[STYLES_FILL_MAX], cout[STYLES_FILL_MAX], dslot[STYLES_FILL_MAX]; /* dslot -1: no demod */
    float wg[STYLES_FILL_MAX], gain[STYLES_FILL_MAX];
    int l0, count, L, D;
} styles_fill_params;

/* The grouped GEMMs' device pointer arrays (A, B, C of the styles GEMM over
 * L layers, then of the dcoef GEMM over D) and the finishing blocks (L, then
 * D) for layers l0 .. l0 + count. */
__global__ void styles_tables_kernel1(const styles_fill_params P, void **ptrs, styles_block *blocks)
{
    int j = threadIdx.x;
    if (j >= P.count)
        return;
    int l = P.l0 + j;
    ptrs[l] = (void *)P.aw[j];
    ptrs[P.L + l] = (void *)P.ws[j];
    ptrs[2 * P.L + l] = P.sty[j];
    styles_block sb = {P.sty[j], P.s2[j], P.ab[j], P.cin[j], P.wg[j], P.gain[j]};
    blocks[l] = sb;
    int d = P.dslot[j];
    if (d < 0)
        return;
    void **pd = ptrs + 3 * P.L;
    pd[d] = (void *)P.sw2[j];
    pd[P.D + d] = P.s2[j];
    pd[2 * P.D + d] = P.dc[j];
    styles_block db = {P.dc[j], NULL, NULL, P.cout[j], 1.0f, 1.0f};
    blocks[P.L + d] = db;
}

/* sw2[o, i] = sum_t w[(o, i), t]^2: thread per (o, i). */
__global__ void styles_weight_sq_kernel1(const float *__restrict__ w, float *__restrict__ sw2,
                                         int rows, int kk)
{
    for (int r = blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += gridDim.x * blockDim.x) {
        const float *wr = w + (size_t)r * kk;
        float acc = 0.0f;
        for (int t = 0; t < kk; t++)
            acc += wr[t] * wr[t];
        sw2[r] = acc;
    }
}

/* blockIdx.y: layer; the layer's n * len values grid-strided. */
__global__ void styles_finish_kernel1(const styles_block *__restrict__ blocks, int n)
{
    styles_block B = blocks[blockIdx.y];
    size_t total = (size_t)n * B.len;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(e % (size_t)B.len);
        float v = (B.y[e] * B.wg + (B.b ? B.b[i] : 0.0f)) * B.gain;
        B.y[e] = v;
        B.y2[e] = v * v;
    }
}

__global__ void dcoef_finish_kernel1(const styles_block *__restrict__ blocks, int n)
{
    styles_block B = blocks[blockIdx.y];
    size_t total = (size_t)n * B.len;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x)
        B.y[e] = 1.0f / sqrtf(B.y[e] + 1e-8f);
}

/* The scratch of a planned call (cuda_styles: pointer arrays | blocks | s2). */
size_t cuda_styles_scratch_bound(const fs_plan *p, int n)
{
    if (!p || p->kind != FS_OP_STYLES || n < 1)
        return 0;
    size_t LD = (size_t)p->n_layers + p->n_demod;
    return cuda_align(3 * LD * sizeof(void *)) + cuda_align(LD * sizeof(styles_block)) +
           cuda_align((size_t)n * p->s2_end * sizeof(float));
}

fs_status styles_weight_sq(const float *w, float *sw2, int cout, int cin, int kk, void *stream)
{
    int rows = cout * cin;
    styles_weight_sq_kernel1<<<cuda_blocks((size_t)rows, STYLES_BLOCK), STYLES_BLOCK, 0,
                               (cudaStream_t)stream>>>(w, sw2, rows, kk);
    CUDA_CHECK_LAUNCH("styles_weight_sq_kernel1");
    return FS_OK;
}

/* C_g (col-major m x N, ldc) = alpha op(A_g) B_g for each group g (one matrix
 * each), A transposed; d_ptrs: the 3 * count device pointer arrays (A, B, C)
 * matching h_ptrs on the host. */
static fs_status styles_gemms(cublasHandle_t h, int count, const int *m, int N, const int *k,
                              const int *lda, const int *ldb, const int *ldc, void **h_ptrs,
                              void **d_ptrs, int capturing)
{
    if (count == 0)
        return FS_OK;
    const float one = 1.0f, zero = 0.0f;
#if STYLES_GROUPED
    /* inside a graph capture: the per-layer GEMMs, whose capture cuBLAS
     * documents; the grouped GEMM's (it may stage its shape arrays) is not */
    if (!capturing) {
        cublasOperation_t *ta = (cublasOperation_t *)malloc(2 * (size_t)count * sizeof *ta);
        int *nn = (int *)malloc(2 * (size_t)count * sizeof *nn);
        float *ab = (float *)malloc(2 * (size_t)count * sizeof *ab);
        if (!ta || !nn || !ab) {
            free(ta);
            free(nn);
            free(ab);
            return fs_error(FS_ERR_NOMEM, "cuda styles: out of memory");
        }
        for (int g = 0; g < count; g++) {
            ta[g] = CUBLAS_OP_T;
            ta[count + g] = CUBLAS_OP_N;
            nn[g] = N;
            nn[count + g] = 1; /* group sizes */
            ab[g] = one;
            ab[count + g] = zero;
        }
        cublasStatus_t s = cublasGemmGroupedBatchedEx(
            h, ta, ta + count, m, nn, k, ab, (const void *const *)d_ptrs, CUDA_R_32F, lda,
            (const void *const *)(d_ptrs + count), CUDA_R_32F, ldb, ab + count,
            (void *const *)(d_ptrs + 2 * count), CUDA_R_32F, ldc, count, nn + count,
            CUBLAS_COMPUTE_32F);
        free(ta);
        free(nn);
        free(ab);
        if (s == CUBLAS_STATUS_SUCCESS)
            return FS_OK;
        if (s != CUBLAS_STATUS_NOT_SUPPORTED && s != CUBLAS_STATUS_ARCH_MISMATCH)
            return fs_error(FS_ERR_DEVICE, "cuda styles: cublasGemmGroupedBatchedEx: %s",
                            cublasGetStatusString(s));
    }
#else
    (void)d_ptrs;
    (void)capturing;
#endif
    for (int g = 0; g < count; g++)
        CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, m[g], N, k[g], &one,
                                 (const float *)h_ptrs[g], lda[g],
                                 (const float *)h_ptrs[count + g], ldb[g], &zero,
                                 (float *)h_ptrs[2 * count + g], ldc[g]));
    return FS_OK;
}

/* The host side of one call's tables: the pointer arrays (for the per-layer
 * fallback and the fill kernel's parameters), the GEMM shapes cuBLAS reads on
 * the host, and the finishing blocks. */
typedef struct {
    void **ptrs;        /* [3 L] styles GEMM, then [3 D] dcoef GEMM */
    int *ints;          /* m, k, lda, ldb, ldc of both */
    styles_block *blk;  /* [L] styles, then [D] dcoef */
} styles_tables;

static fs_status styles_run(fs_backend *b, const fs_styles_args *a, cublasHandle_t h,
                            void *workspace, size_t ws_bytes, const float *sw2,
                            const size_t *sw2_off, styles_tables *t, char *dev, float *s2)
{
    cudaStream_t stream = cuda_impl_of(b)->stream;
    int L = a->n_layers, D = 0, N = a->n;
    for (int l = 0; l < L; l++)
        D += a->layers[l].demodulate != 0;
    void **pS = t->ptrs, **pD = t->ptrs + 3 * L;
    int *mS = t->ints, *kS = mS + L, *ldaS = kS + L, *ldbS = ldaS + L, *ldcS = ldbS + L;
    int *mD = ldcS + L, *kD = mD + D, *ldaD = kD + D, *ldbD = ldaD + D, *ldcD = ldbD + D;
    styles_block *bS = t->blk, *bD = t->blk + L;
    int d = 0;
    for (int l = 0; l < L; l++) {
        const fs_style_layer *Ly = &a->layers[l];
        float *sty = a->styles + (size_t)N * Ly->style_off;
        float *sq = s2 + (size_t)N * Ly->style_off;
        pS[l] = (void *)Ly->affine_w;
        pS[L + l] = (void *)(a->ws + (size_t)Ly->w_index * a->w_dim);
        pS[2 * L + l] = sty;
        mS[l] = Ly->cin;
        kS[l] = a->w_dim;
        ldaS[l] = a->w_dim;
        ldbS[l] = a->num_ws * a->w_dim;
        ldcS[l] = Ly->cin;
        styles_block sb = {sty, sq, Ly->affine_b, Ly->cin, Ly->weight_gain, Ly->gain};
        bS[l] = sb;
        if (!Ly->demodulate)
            continue;
        float *dc = a->dcoef + (size_t)N * Ly->dcoef_off;
        pD[d] = (void *)(sw2 + sw2_off[l]);
        pD[D + d] = sq;
        pD[2 * D + d] = dc;
        mD[d] = Ly->cout;
        kD[d] = Ly->cin;
        ldaD[d] = Ly->cin;
        ldbD[d] = Ly->cin;
        ldcD[d] = Ly->cout;
        styles_block db = {dc, NULL, NULL, Ly->cout, 1.0f, 1.0f};
        bD[d] = db;
        d++;
    }
    /* the device tables, written by kernels from their parameters */
    size_t ptr_bytes = cuda_align((size_t)3 * (L + D) * sizeof(void *));
    void **dS = (void **)dev, **dD = (void **)dev + 3 * L;
    styles_block *dbS = (styles_block *)(dev + ptr_bytes), *dbD = dbS + L;
    d = 0;
    for (int l0 = 0; l0 < L; l0 += STYLES_FILL_MAX) {
        styles_fill_params P;
        memset(&P, 0, sizeof P);
        P.l0 = l0;
        P.count = L - l0 < STYLES_FILL_MAX ? L - l0 : STYLES_FILL_MAX;
        P.L = L;
        P.D = D;
        for (int j = 0; j < P.count; j++) {
            const fs_style_layer *Ly = &a->layers[l0 + j];
            P.aw[j] = Ly->affine_w;
            P.ws[j] = (const float *)pS[L + l0 + j];
            P.ab[j] = Ly->affine_b;
            P.sty[j] = (float *)pS[2 * L + l0 + j];
            P.s2[j] = bS[l0 + j].y2;
            P.cin[j] = Ly->cin;
            P.cout[j] = Ly->cout;
            P.wg[j] = Ly->weight_gain;
            P.gain[j] = Ly->gain;
            P.dslot[j] = -1;
            if (Ly->demodulate) {
                P.dslot[j] = d;
                P.sw2[j] = (const float *)pD[d];
                P.dc[j] = (float *)pD[2 * D + d];
                d++;
            }
        }
        styles_tables_kernel1<<<1, STYLES_FILL_MAX, 0, stream>>>(P, (void **)dev, dbS);
        CUDA_CHECK_LAUNCH("styles_tables_kernel1");
    }

    int capturing = 0;
    FS_TRY(cuda_capturing(b, &capturing));
    CUBLAS_CHECK(cublasSetStream(h, stream));
    if (ws_bytes)
        CUBLAS_CHECK(cublasSetWorkspace(h, workspace, ws_bytes));
    CUBLAS_CHECK(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST));
    CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    FS_TRY(styles_gemms(h, L, mS, N, kS, ldaS, ldbS, ldcS, pS, dS, capturing));
    int maxlen = 1;
    for (int l = 0; l < L; l++)
        maxlen = bS[l].len > maxlen ? bS[l].len : maxlen;
    dim3 g1(cuda_blocks((size_t)N * maxlen, STYLES_BLOCK), (unsigned)L);
    styles_finish_kernel1<<<g1, STYLES_BLOCK, 0, stream>>>(dbS, N);
    CUDA_CHECK_LAUNCH("styles_finish_kernel1");
    if (D == 0)
        return FS_OK;
    FS_TRY(styles_gemms(h, D, mD, N, kD, ldaD, ldbD, ldcD, pD, dD, capturing));
    maxlen = 1;
    for (int e = 0; e < D; e++)
        maxlen = bD[e].len > maxlen ? bD[e].len : maxlen;
    dim3 g2(cuda_blocks((size_t)N * maxlen, STYLES_BLOCK), (unsigned)D);
    dcoef_finish_kernel1<<<g2, STYLES_BLOCK, 0, stream>>>(dbD, N);
    CUDA_CHECK_LAUNCH("dcoef_finish_kernel1");
    return FS_OK;
}

fs_status cuda_styles(fs_backend *b, const fs_styles_args *a)
{
    FS_TRY(cuda_enter(b));
    if (a->n <= 0 || a->n_layers <= 0)
        return FS_OK;
    if (a->n_layers > 65535)
        return fs_error(FS_ERR_ARG, "cuda styles: %d layers", a->n_layers);
    const fs_plan *plan = a->plan;
    if (plan && (plan->kind != FS_OP_STYLES || plan->n_layers != a->n_layers))
        return fs_error(FS_ERR_ARG, "cuda styles: the plan was made for another network");
    int L = a->n_layers, D = 0;
    size_t s2_floats = 0, sw2_floats = 0;
    for (int l = 0; l < L; l++) {
        const fs_style_layer *Ly = &a->layers[l];
        if (Ly->w_index < 0 || Ly->w_index >= a->num_ws || Ly->cin < 1 || Ly->cout < 1)
            return fs_error(FS_ERR_ARG, "cuda styles: layer %d", l);
        size_t end = (size_t)a->n * (Ly->style_off + Ly->cin);
        s2_floats = end > s2_floats ? end : s2_floats;
        if (Ly->demodulate) {
            D++;
            sw2_floats += (size_t)Ly->cout * Ly->cin;
        }
    }
    if (D && !a->dcoef)
        return fs_error(FS_ERR_ARG, "cuda styles: demodulated layers and no dcoef");
    if (!plan) {
        int capturing = 0;
        FS_TRY(cuda_capturing(b, &capturing));
        if (capturing)
            return fs_error(FS_ERR_ARG, "cuda styles: an unplanned styles op cannot be captured "
                            "(it creates a cuBLAS handle): plan it");
    }

    /* scratch: pointer arrays | blocks | s2 | sw2 (unplanned) */
    size_t ptr_bytes = cuda_align((size_t)3 * (L + D) * sizeof(void *));
    size_t off_s2 = ptr_bytes + cuda_align((size_t)(L + D) * sizeof(styles_block));
    size_t off_sw2 = off_s2 + cuda_align(s2_floats * sizeof(float));
    size_t total = off_sw2 + (plan ? 0 : sw2_floats * sizeof(float));
    char *dev;
    FS_TRY(cuda_scratch(b, total, (void **)&dev));

    styles_tables t;
    t.ptrs = (void **)malloc((size_t)3 * (L + D) * sizeof(void *));
    t.ints = (int *)malloc((size_t)5 * (L + D) * sizeof(int));
    t.blk = (styles_block *)malloc((size_t)(L + D) * sizeof(styles_block));
    size_t *own_off = plan ? NULL : (size_t *)malloc((size_t)L * sizeof(size_t));
    fs_status st = FS_OK;
    if (!t.ptrs || !t.ints || !t.blk || (!plan && !own_off))
        st = fs_error(FS_ERR_NOMEM, "cuda styles: out of memory");
    const float *sw2 = plan ? plan->sw2 : (const float *)(dev + off_sw2);
    const size_t *sw2_off = plan ? plan->sw2_off : own_off;
    cublasHandle_t h = plan ? (cublasHandle_t)plan->cublas : NULL;
    if (st == FS_OK && !plan) {
        size_t o = 0;
        for (int l = 0; st == FS_OK && l < L; l++) {
            const fs_style_layer *Ly = &a->layers[l];
            own_off[l] = o;
            if (!Ly->demodulate)
                continue;
            st = styles_weight_sq(Ly->weight, (float *)(dev + off_sw2) + o, Ly->cout, Ly->cin,
                                  Ly->k * Ly->k, cuda_impl_of(b)->stream);
            o += (size_t)Ly->cout * Ly->cin;
        }
        if (st == FS_OK) {
            cublasStatus_t cs = cublasCreate(&h);
            if (cs != CUBLAS_STATUS_SUCCESS) {
                h = NULL;
                st = fs_error(FS_ERR_DEVICE, "cuda styles: cublasCreate: %s",
                              cublasGetStatusString(cs));
            }
        }
    }
    if (st == FS_OK)
        st = styles_run(b, a, h, plan ? plan->cublas_ws : NULL, plan ? plan->cublas_ws_bytes : 0,
                        sw2, sw2_off, &t, dev, (float *)(dev + off_s2));
    if (!plan && h)
        cublasDestroy(h);
    free(t.ptrs);
    free(t.ints);
    free(t.blk);
    free(own_off);
    return st;
}
