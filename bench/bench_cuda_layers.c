/* Times every modulated-conv layer of the StyleGAN2 config-f 1024^2 synthesis
 * network (batch 32 by default; the layers are the FS_OPC_SG2F_SYNTH cases of
 * the shared op table tests/backend_op_cases.h, their batch replaced by
 * --batch) on the CUDA backend against cuDNN, in two parts:
 *
 * v1 (fp32 NCHW features, every layer, ToRGB included) against a cuDNN
 * baseline of the same layer in the non-fused formulation NVIDIA's own code
 * uses for batched inference:
 *   up=1:  xs = x * s (cudnnOpTensor), t = conv(xs, W) (cudnnConvolutionForward),
 *          y = t * d (cudnnOpTensor; ToRGB: no d);
 *   up=2:  xs = x * s, t = conv_transpose(xs, W, stride 2) (BackwardData),
 *          u = depthwise 4x4 FIR of t (grouped ConvolutionForward, pad 1),
 *          y = u * d.
 * cuDNN picks its fastest algorithm (cudnnFind*) in FP32 FMA math; --tf32
 * lets it use TF32 tensor cores. --precision sets ours (fs_cuda_precision:
 * fp32 default, tf32, fp16, bf16 on tensor cores; mixed = fp16 in the top 4
 * resolutions, as the official num_fp16_res = 4); features stay fp32 NCHW.
 *
 * v2 (every 3x3 layer): our modconv on 16-bit NHWC features (fmt F16_NHWC,
 * or BF16_NHWC with --v2-format bf16: kernels/modconv_v2.cu) through the
 * backend op on a second backend in that precision, with the layer's plan
 * (weights packed once, as the generator does) and the demodulation
 * coefficients given (as the styles op gives them), against the same cuDNN
 * formulation on fp16 (bf16) NHWC tensors with tensor-op math and fp32
 * compute; "conv only" is cuDNN's convolution call alone (for up=2 the
 * transposed conv without the FIR), its bare GEMM speed.
 *
 * Ours is always the whole fused op (demodulation, noise, bias, lrelu, clamp
 * included); the baselines leave out bias/act/noise, so they are lower
 * bounds. All run on the backend's stream and are timed with CUDA events:
 * the median of --reps runs after 2 warm-up runs. TFLOP/s counts
 * 2 * n * cout * cin * k^2 * (input pixels): the transposed conv's inserted
 * zeros are not counted; % of peak is against the device's dense peak for
 * the arithmetic (fp32, tf32 or fp16/bf16 tensor), looked up by device name
 * (H100/H200/A100/L40S; --peak-fp16/--peak-fp32 override, TFLOP/s).
 *
 *   build/bench/bench_cuda_layers [--batch 32] [--reps 10] [--res 1024] [--tf32] [--device 0]
 *                                 [--precision fp32|tf32|fp16|bf16|mixed] [--no-v1] [--no-v2]
 *                                 [--v2-format f16|bf16] [--peak-fp16 T] [--peak-fp32 T]
 *                                 [--json FILE]
 *
 * A benchmark, so failures print and exit (the library never does). */
#include <cuda_runtime.h>
#include <cudnn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/backend.h"
#include "../kernels/cuda_backend.h"
#include "../tests/backend_op_cases.h"

#define CK(call)                                                                             \
    do {                                                                                     \
        cudaError_t e_ = (call);                                                             \
        if (e_ != cudaSuccess) {                                                             \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)
#define CKDNN(call)                                                                          \
    do {                                                                                     \
        cudnnStatus_t s_ = (call);                                                           \
        if (s_ != CUDNN_STATUS_SUCCESS) {                                                    \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudnnGetErrorString(s_)); \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)
#define CKFS(call)                                                                           \
    do {                                                                                     \
        fs_status s_ = (call);                                                               \
        if (s_ != FS_OK) {                                                                   \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, fs_error_message()); \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

typedef struct {
    char name[24];
    int cin, cout, res_in, k, up, demod;
    const fs_op_case *c; /* the case of the shared table */
} layer;

/* The config-f synthesis layers of the shared table, in network order, up to
 * output resolution max_res. */
static int layers_of(int max_res, layer *out, int cap)
{
    int n = 0;
    for (int i = 0; i < FS_CASE_NCASES && n < cap; i++) {
        const fs_op_case *c = &fs_op_cases[i];
        if (!(c->sets & FS_OPC_SG2F_SYNTH) || c->h * c->up > max_res)
            continue;
        layer l = {.cin = c->cin, .cout = c->cout, .res_in = c->h, .k = c->k, .up = c->up,
                   .demod = c->demod, .c = c};
        snprintf(l.name, sizeof l.name, "%s", strncmp(c->name, "sg2f.g.", 7) ? c->name : c->name + 7);
        out[n++] = l;
    }
    return n;
}

/* Device buffer filled with values in [-1, 1) (no denormals, no zeros). */
static float *dev_rand(size_t n)
{
    static float *pattern;
    const size_t chunk = 1 << 20;
    if (!pattern) {
        pattern = malloc(chunk * sizeof *pattern);
        uint64_t s = 0x9e3779b97f4a7c15ull;
        for (size_t i = 0; i < chunk; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            pattern[i] = (float)((double)(s >> 40) / 8388608.0 - 1.0) + 1e-3f;
        }
    }
    float *d;
    CK(cudaMalloc((void **)&d, (n ? n : 1) * sizeof *d));
    for (size_t o = 0; o < n; o += chunk)
        CK(cudaMemcpy(d + o, pattern, (n - o < chunk ? n - o : chunk) * sizeof *d,
                      cudaMemcpyHostToDevice));
    return d;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    cudaStream_t stream;
    cudaEvent_t t0, t1;
    int reps;
} timer;

typedef void (*run_fn)(void *ctx);

static float time_median(timer *t, run_fn fn, void *ctx)
{
    float ms[256];
    for (int i = 0; i < 2; i++)
        fn(ctx);
    for (int i = 0; i < t->reps; i++) {
        CK(cudaEventRecord(t->t0, t->stream));
        fn(ctx);
        CK(cudaEventRecord(t->t1, t->stream));
        CK(cudaEventSynchronize(t->t1));
        CK(cudaEventElapsedTime(&ms[i], t->t0, t->t1));
    }
    qsort(ms, (size_t)t->reps, sizeof *ms, cmp_float);
    return ms[t->reps / 2];
}

/* ---- ours ------------------------------------------------------------------------ */

typedef struct {
    fs_backend *b;
    fs_modconv_args a;
} ours_ctx;

static void run_ours(void *p)
{
    ours_ctx *c = p;
    CKFS(c->b->ops->modconv(c->b, &c->a));
}

/* ---- cuDNN baseline -------------------------------------------------------------------- */

/* The baseline in one data type and layout: fp32 NCHW (v1's) or 16-bit NHWC
 * (v2's); buffers hold elements of esize bytes. */
typedef struct {
    cudnnHandle_t h;
    const layer *l;
    int n;
    cudnnDataType_t dt;
    cudnnTensorFormat_t fmt;
    size_t esize;
    const void *x, *s, *w, *d, *fir;
    void *xs, *t, *u, *y, *ws;
    size_t ws_bytes;
    int conv_only; /* run: the convolution call alone */
    cudnnTensorDescriptor_t dx, ds, dt_, du, dd;
    cudnnFilterDescriptor_t fw, ffir;
    cudnnConvolutionDescriptor_t conv, cfir;
    cudnnOpTensorDescriptor_t mul;
    cudnnConvolutionFwdAlgo_t algo_f, algo_fir;
    cudnnConvolutionBwdDataAlgo_t algo_b;
} dnn_ctx;

static void run_dnn(void *p)
{
    dnn_ctx *c = p;
    const float one = 1.0f, zero = 0.0f;
    const layer *l = c->l;
    if (!c->conv_only)
        CKDNN(cudnnOpTensor(c->h, c->mul, &one, c->dx, c->x, &one, c->ds, c->s, &zero, c->dx, c->xs));
    if (l->up == 1)
        CKDNN(cudnnConvolutionForward(c->h, &one, c->dx, c->xs, c->fw, c->w, c->conv, c->algo_f,
                                      c->ws, c->ws_bytes, &zero, c->dt_, l->demod ? c->t : c->y));
    else {
        CKDNN(cudnnConvolutionBackwardData(c->h, &one, c->fw, c->w, c->dx, c->xs, c->conv,
                                           c->algo_b, c->ws, c->ws_bytes, &zero, c->dt_, c->t));
        if (c->conv_only)
            return;
        CKDNN(cudnnConvolutionForward(c->h, &one, c->dt_, c->t, c->ffir, c->fir, c->cfir,
                                      c->algo_fir, c->ws, c->ws_bytes, &zero, c->du, c->u));
    }
    if (l->demod && !c->conv_only)
        CKDNN(cudnnOpTensor(c->h, c->mul, &one, c->du, l->up == 1 ? c->t : c->u, &one, c->dd, c->d,
                            &zero, c->du, c->y));
}

static void *dev_alloc(size_t bytes)
{
    void *d;
    CK(cudaMalloc(&d, bytes ? bytes : 1));
    return d;
}

/* A cuDNN call of the setup: a failure (a layout or algorithm this cuDNN
 * lacks) skips the baseline of this layer instead of ending the run. */
#define CKDNN_SETUP(call)                                                                    \
    do {                                                                                     \
        cudnnStatus_t s_ = (call);                                                           \
        if (s_ != CUDNN_STATUS_SUCCESS) {                                                    \
            fprintf(stderr, "%s:%d: %s: %s (baseline skipped)\n", __FILE__, __LINE__, #call,  \
                    cudnnGetErrorString(s_));                                                \
            return -1;                                                                       \
        }                                                                                    \
    } while (0)

/* 0, or -1 when cuDNN cannot run this layer in this type and layout. */
static int dnn_setup(dnn_ctx *c, cudnnMathType_t math)
{
    const layer *l = c->l;
    int n = c->n, h = l->res_in, oh = h * l->up;
    const cudnnDataType_t dt = c->dt;
    const cudnnTensorFormat_t fmt = c->fmt;
    CKDNN_SETUP(cudnnCreateTensorDescriptor(&c->dx));
    CKDNN_SETUP(cudnnCreateTensorDescriptor(&c->ds));
    CKDNN_SETUP(cudnnCreateTensorDescriptor(&c->dt_));
    CKDNN_SETUP(cudnnCreateTensorDescriptor(&c->du));
    CKDNN_SETUP(cudnnCreateTensorDescriptor(&c->dd));
    CKDNN_SETUP(cudnnCreateFilterDescriptor(&c->fw));
    CKDNN_SETUP(cudnnCreateFilterDescriptor(&c->ffir));
    CKDNN_SETUP(cudnnCreateConvolutionDescriptor(&c->conv));
    CKDNN_SETUP(cudnnCreateConvolutionDescriptor(&c->cfir));
    CKDNN_SETUP(cudnnCreateOpTensorDescriptor(&c->mul));
    /* products and sums in fp32 whatever the storage */
    CKDNN_SETUP(cudnnSetOpTensorDescriptor(c->mul, CUDNN_OP_TENSOR_MUL, CUDNN_DATA_FLOAT,
                                     CUDNN_NOT_PROPAGATE_NAN));
    CKDNN_SETUP(cudnnSetTensor4dDescriptor(c->dx, fmt, dt, n, l->cin, h, h));
    CKDNN_SETUP(cudnnSetTensor4dDescriptor(c->ds, fmt, dt, n, l->cin, 1, 1));
    CKDNN_SETUP(cudnnSetTensor4dDescriptor(c->du, fmt, dt, n, l->cout, oh, oh));
    CKDNN_SETUP(cudnnSetTensor4dDescriptor(c->dd, fmt, dt, n, l->cout, 1, 1));
    size_t ws = 0, need = 0;
    int got;
    if (l->up == 1) {
        CKDNN_SETUP(cudnnSetFilter4dDescriptor(c->fw, dt, fmt, l->cout, l->cin, l->k, l->k));
        CKDNN_SETUP(cudnnSetConvolution2dDescriptor(c->conv, l->k / 2, l->k / 2, 1, 1, 1, 1,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
        CKDNN_SETUP(cudnnSetConvolutionMathType(c->conv, math));
        CKDNN_SETUP(cudnnSetTensor4dDescriptor(c->dt_, fmt, dt, n, l->cout, oh, oh));
        cudnnConvolutionFwdAlgoPerf_t pf;
        CKDNN_SETUP(cudnnFindConvolutionForwardAlgorithm(c->h, c->dx, c->fw, c->conv, c->dt_, 1, &got, &pf));
        c->algo_f = pf.algo;
        CKDNN_SETUP(cudnnSetConvolutionMathType(c->conv, pf.mathType));
        CKDNN_SETUP(cudnnGetConvolutionForwardWorkspaceSize(c->h, c->dx, c->fw, c->conv, c->dt_, c->algo_f,
                                                      &need));
        ws = need;
        c->t = dev_alloc((size_t)n * l->cout * oh * oh * c->esize);
    } else {
        /* transposed conv cin -> cout = the data gradient of a conv cout -> cin */
        int th = 2 * h + 1;
        CKDNN_SETUP(cudnnSetFilter4dDescriptor(c->fw, dt, fmt, l->cin, l->cout, 3, 3));
        CKDNN_SETUP(cudnnSetConvolution2dDescriptor(c->conv, 0, 0, 2, 2, 1, 1, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT));
        CKDNN_SETUP(cudnnSetConvolutionMathType(c->conv, math));
        CKDNN_SETUP(cudnnSetTensor4dDescriptor(c->dt_, fmt, dt, n, l->cout, th, th));
        cudnnConvolutionBwdDataAlgoPerf_t pb;
        CKDNN_SETUP(cudnnFindConvolutionBackwardDataAlgorithm(c->h, c->fw, c->dx, c->conv, c->dt_, 1, &got,
                                                        &pb));
        c->algo_b = pb.algo;
        CKDNN_SETUP(cudnnSetConvolutionMathType(c->conv, pb.mathType));
        CKDNN_SETUP(cudnnGetConvolutionBackwardDataWorkspaceSize(c->h, c->fw, c->dx, c->conv, c->dt_,
                                                           c->algo_b, &need));
        ws = need;
        /* the 4x4 FIR, depthwise: groups = cout, pad 1 */
        CKDNN_SETUP(cudnnSetFilter4dDescriptor(c->ffir, dt, fmt, l->cout, 1, 4, 4));
        CKDNN_SETUP(cudnnSetConvolution2dDescriptor(c->cfir, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT));
        CKDNN_SETUP(cudnnSetConvolutionGroupCount(c->cfir, l->cout));
        CKDNN_SETUP(cudnnSetConvolutionMathType(c->cfir, math));
        cudnnConvolutionFwdAlgoPerf_t pf;
        CKDNN_SETUP(cudnnFindConvolutionForwardAlgorithm(c->h, c->dt_, c->ffir, c->cfir, c->du, 1, &got,
                                                   &pf));
        c->algo_fir = pf.algo;
        CKDNN_SETUP(cudnnSetConvolutionMathType(c->cfir, pf.mathType));
        CKDNN_SETUP(cudnnGetConvolutionForwardWorkspaceSize(c->h, c->dt_, c->ffir, c->cfir, c->du,
                                                      c->algo_fir, &need));
        ws = need > ws ? need : ws;
        c->u = dev_alloc((size_t)n * l->cout * oh * oh * c->esize);
        c->t = dev_alloc((size_t)n * l->cout * th * th * c->esize);
    }
    c->xs = dev_alloc((size_t)n * l->cin * h * h * c->esize);
    c->ws_bytes = ws;
    c->ws = ws ? dev_alloc(ws) : NULL;
    return 0;
}

static void dnn_free(dnn_ctx *c)
{
    cudaFree(c->xs);
    cudaFree(c->t);
    cudaFree(c->u);
    cudaFree(c->ws);
    cudnnDestroyTensorDescriptor(c->dx);
    cudnnDestroyTensorDescriptor(c->ds);
    cudnnDestroyTensorDescriptor(c->dt_);
    cudnnDestroyTensorDescriptor(c->du);
    cudnnDestroyTensorDescriptor(c->dd);
    cudnnDestroyFilterDescriptor(c->fw);
    cudnnDestroyFilterDescriptor(c->ffir);
    cudnnDestroyConvolutionDescriptor(c->conv);
    cudnnDestroyConvolutionDescriptor(c->cfir);
    cudnnDestroyOpTensorDescriptor(c->mul);
}

/* ---- 16-bit data ----------------------------------------------------------------------- */

/* float -> IEEE binary16 / bfloat16 bits, round to nearest even; the bench's
 * values are normal numbers in [-1, 1], far from overflow and subnormals. */
static uint16_t to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u, mant = u & 0x7fffffu;
    int e = (int)((u >> 23) & 0xff) - 127 + 15;
    if (e <= 0)
        return (uint16_t)sign; /* not reached by the data here */
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1)))
        h++;
    return (uint16_t)(sign | h);
}

static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

/* Device buffer of n 16-bit values in [-1, 1) (the same pattern as dev_rand). */
static uint16_t *dev_rand16(size_t n, int bf16)
{
    const size_t chunk = 1 << 20;
    uint16_t *host = malloc(chunk * sizeof *host);
    if (!host) {
        fprintf(stderr, "bench_cuda_layers: out of memory\n");
        exit(1);
    }
    uint64_t s = 0x243f6a8885a308d3ull;
    for (size_t i = 0; i < chunk; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float v = (float)((double)(s >> 40) / 8388608.0 - 1.0) + 1e-3f;
        host[i] = bf16 ? to_bf16(v) : to_f16(v);
    }
    uint16_t *d;
    CK(cudaMalloc((void **)&d, (n ? n : 1) * sizeof *d));
    for (size_t o = 0; o < n; o += chunk)
        CK(cudaMemcpy(d + o, host, (n - o < chunk ? n - o : chunk) * sizeof *d,
                      cudaMemcpyHostToDevice));
    free(host);
    return d;
}

/* ---- peaks ------------------------------------------------------------------------------- */

/* Dense TFLOP/s of the part by name: fp16/bf16 tensor (fp32 accumulate), tf32
 * tensor, fp32 FMA. 0 when unknown (no % of peak printed). The PCIe H100 is
 * matched before the SXM part, which reports as "H100 80GB HBM3". */
typedef struct {
    const char *match;
    double fp16, tf32, fp32;
} peak_row;
static const peak_row peak_table[] = {
    {"H100 PCIe", 756.0, 378.0, 51.2}, {"H100 NVL", 835.0, 417.5, 60.0},
    {"H200", 989.4, 494.7, 66.9},      {"H100", 989.4, 494.7, 66.9},
    {"A100", 312.0, 156.0, 19.5},      {"L40S", 362.1, 183.0, 91.6},
};

static peak_row peaks_of(const char *name)
{
    for (size_t i = 0; i < sizeof peak_table / sizeof *peak_table; i++)
        if (strstr(name, peak_table[i].match))
            return peak_table[i];
    return (peak_row){"unknown", 0, 0, 0};
}

static void fmt_pct(char *buf, size_t len, double tflops, double peak)
{
    if (peak > 0)
        snprintf(buf, len, "%5.1f%%", 100.0 * tflops / peak);
    else
        snprintf(buf, len, "%6s", "-");
}

/* ---- the run ------------------------------------------------------------------------------ */

typedef struct {
    char name[24];
    int cin, cout, res, k, up;
    double gflop, ms_ours, ms_dnn, ms_dnn_conv;
} row;

/* A JSON number, or null for NaN (a baseline cuDNN could not run). */
static void json_num(FILE *f, const char *key, double v)
{
    if (isnan(v))
        fprintf(f, ", \"%s\": null", key);
    else
        fprintf(f, ", \"%s\": %.6g", key, v);
}

static void json_rows(FILE *f, const char *key, const row *r, int nr, int with_conv)
{
    fprintf(f, "  \"%s\": [\n", key);
    for (int i = 0; i < nr; i++) {
        fprintf(f, "   {\"layer\": \"%s\", \"cin\": %d, \"cout\": %d, \"res\": %d, \"k\": %d, "
                   "\"up\": %d, \"gflop\": %.6g, \"ours_ms\": %.6g",
                r[i].name, r[i].cin, r[i].cout, r[i].res, r[i].k, r[i].up, r[i].gflop,
                r[i].ms_ours);
        json_num(f, "cudnn_ms", r[i].ms_dnn);
        if (with_conv)
            json_num(f, "cudnn_conv_only_ms", r[i].ms_dnn_conv);
        fprintf(f, "}%s\n", i + 1 < nr ? "," : "");
    }
    fprintf(f, "  ]");
}

int main(int argc, char **argv)
{
    int batch = 32, reps = 10, max_res = 1024, device = 0, do_v1 = 1, do_v2 = 1, v2_bf16 = 0;
    double peak16_arg = 0, peak32_arg = 0;
    const char *json_path = NULL;
    cudnnMathType_t math = CUDNN_FMA_MATH;
    static const char *const prec_names[] = {"fp32", "tf32", "fp16", "bf16", "mixed"};
    int prec = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            const char *v = argv[++i];
            for (int k = 0; k < 5; k++)
                if (!strcmp(v, prec_names[k]))
                    prec = k;
            if (prec < 0) {
                fprintf(stderr, "bench_cuda_layers: --precision fp32|tf32|fp16|bf16|mixed\n");
                return 2;
            }
            continue;
        }
        if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--res") && i + 1 < argc)
            max_res = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--device") && i + 1 < argc)
            device = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tf32"))
            math = CUDNN_DEFAULT_MATH;
        else if (!strcmp(argv[i], "--no-v1"))
            do_v1 = 0;
        else if (!strcmp(argv[i], "--no-v2"))
            do_v2 = 0;
        else if (!strcmp(argv[i], "--v2-format") && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "f16") && strcmp(v, "bf16")) {
                fprintf(stderr, "bench_cuda_layers: --v2-format f16|bf16\n");
                return 2;
            }
            v2_bf16 = !strcmp(v, "bf16");
        } else if (!strcmp(argv[i], "--peak-fp16") && i + 1 < argc)
            peak16_arg = atof(argv[++i]);
        else if (!strcmp(argv[i], "--peak-fp32") && i + 1 < argc)
            peak32_arg = atof(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json_path = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--batch N] [--reps N] [--res R] [--tf32] [--device N] "
                    "[--precision fp32|tf32|fp16|bf16|mixed] [--no-v1] [--no-v2] "
                    "[--v2-format f16|bf16] [--peak-fp16 T] [--peak-fp32 T] [--json FILE]\n",
                    argv[0]);
            return 2;
        }
    }
    if (batch < 1 || reps < 1 || reps > 256 || max_res < 4 || max_res > 1024) {
        fprintf(stderr, "bench_cuda_layers: batch >= 1, 1 <= reps <= 256, 4 <= res <= 1024\n");
        return 2;
    }
    if (prec < 0)
        prec = 0;
    struct cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, device));
    peak_row pk = peaks_of(prop.name);
    if (peak16_arg > 0)
        pk.fp16 = peak16_arg;
    if (peak32_arg > 0)
        pk.fp32 = peak32_arg;
    /* the peak v1's GEMMs run against, by precision */
    double peak_v1 = prec == FS_CUDA_FP32 ? pk.fp32 : prec == FS_CUDA_TF32 ? pk.tf32 : pk.fp16;
    double peak_dnn32 = math == CUDNN_FMA_MATH ? pk.fp32 : pk.tf32;

    cudnnHandle_t h;
    CKDNN(cudnnCreate(&h));
    layer ls[32];
    int nl = layers_of(max_res, ls, 32);
    row r1[32], r2[32];
    int n1 = 0, n2 = 0;
    double tot_ours = 0, tot_dnn = 0, tot_flop = 0;
    float fir16[16];
    static const float t4[4] = {1, 3, 3, 1};
    for (int i = 0; i < 16; i++)
        fir16[i] = t4[i / 4] * t4[i % 4] / 64.0f;
    /* mixed: fp16 from max(2^(log2 R + 1 - 4), 8) up, as num_fp16_res = 4 */
    int log2r = 0;
    while ((1 << (log2r + 1)) <= max_res)
        log2r++;
    int fp16_res = log2r + 1 - 4 < 3 ? 8 : 1 << (log2r + 1 - 4);

    if (do_v1) {
        fs_backend *b;
        CKFS(fs_backend_cuda_init_ex(&b, device, (fs_cuda_precision)prec));
        timer tm = {(cudaStream_t)fs_backend_cuda_stream(b), NULL, NULL, reps};
        CK(cudaEventCreate(&tm.t0));
        CK(cudaEventCreate(&tm.t1));
        CKDNN(cudnnSetStream(h, tm.stream));
        printf("# v1: StyleGAN2 config-f synthesis modconv layers, batch %d, %s, ours %s (fp32 NCHW), "
               "cuDNN %zu, %s math; peaks %.1f (ours) / %.1f (cuDNN) TFLOP/s\n", batch, prop.name,
               prec_names[prec], cudnnGetVersion(),
               math == CUDNN_FMA_MATH ? "FP32 FMA" : "TF32-allowed", peak_v1, peak_dnn32);
        printf("%-10s %4s %4s %5s %2s %2s %9s | %9s %8s %6s | %9s %8s %6s | %6s\n", "layer", "cin",
               "cout", "res", "k", "up", "GFLOP", "ours ms", "TFLOP/s", "%peak", "cudnn ms",
               "TFLOP/s", "%peak", "ratio");
        for (int li = 0; li < nl; li++) {
            const layer *l = &ls[li];
            int n = batch, hin = l->res_in, oh = hin * l->up;
            float *x = dev_rand((size_t)n * l->cin * hin * hin);
            float *w = dev_rand((size_t)l->cout * l->cin * l->k * l->k);
            float *s = dev_rand((size_t)n * l->cin);
            float *bias = dev_rand((size_t)l->cout);
            float *noise = dev_rand((size_t)oh * oh);
            float *d = dev_rand((size_t)n * l->cout);
            float *y = dev_rand((size_t)n * l->cout * oh * oh);
            float *fir = dev_alloc(sizeof fir16);
            CK(cudaMemcpy(fir, fir16, sizeof fir16, cudaMemcpyHostToDevice));
            float *fir_dw = NULL; /* cuDNN's depthwise filter: one copy per channel */
            if (l->up == 2) {
                fir_dw = dev_alloc((size_t)l->cout * sizeof fir16);
                for (int g = 0; g < l->cout; g++)
                    CK(cudaMemcpy(fir_dw + 16 * g, fir16, sizeof fir16, cudaMemcpyHostToDevice));
            }
            /* the case's own epilogue: const noise, lrelu and clamp 256 (ToRGB: linear, no noise) */
            const fs_op_case *c = l->c;
            ours_ctx oc = {.b = b,
                           .a = {.x = x, .weight = w, .styles = s, .b = bias, .y = y, .n = n,
                                 .cin = l->cin, .cout = l->cout, .h = hin, .w = hin, .k = l->k,
                                 .up = l->up, .demodulate = l->demod, .fir = fir, .fir_len = 4,
                                 .noise_mode = c->noise, .noise_const = noise,
                                 .noise_strength = 0.1f, .act = c->act,
                                 .gain = c->gain != 0 ? c->gain : 1.0f, .clamp = c->clamp,
                                 .fp16 = oh >= fp16_res /* read in --precision mixed only */}};
            float ms_ours = time_median(&tm, run_ours, &oc);

            dnn_ctx dc;
            memset(&dc, 0, sizeof dc);
            dc.h = h;
            dc.l = l;
            dc.n = n;
            dc.dt = CUDNN_DATA_FLOAT;
            dc.fmt = CUDNN_TENSOR_NCHW;
            dc.esize = sizeof(float);
            dc.x = x;
            dc.s = s;
            dc.w = w;
            dc.d = d;
            dc.fir = fir_dw;
            dc.y = y;
            float ms_dnn = dnn_setup(&dc, math) == 0 ? time_median(&tm, run_dnn, &dc) : NAN;
            dnn_free(&dc);

            double gflop = 2.0 * n * l->cout * l->cin * l->k * l->k * (double)hin * hin / 1e9;
            char p1[16], p2[16];
            fmt_pct(p1, sizeof p1, gflop / ms_ours, l->k == 3 ? peak_v1 : pk.fp32);
            fmt_pct(p2, sizeof p2, gflop / ms_dnn, peak_dnn32);
            printf("%-10s %4d %4d %5d %2d %2d %9.2f | %9.3f %8.2f %6s | %9.3f %8.2f %6s | %6.2f\n",
                   l->name, l->cin, l->cout, oh, l->k, l->up, gflop, ms_ours, gflop / ms_ours, p1,
                   ms_dnn, gflop / ms_dnn, p2, ms_dnn / ms_ours);
            fflush(stdout);
            r1[n1++] = (row){.cin = l->cin, .cout = l->cout, .res = oh, .k = l->k, .up = l->up,
                             .gflop = gflop, .ms_ours = ms_ours, .ms_dnn = ms_dnn};
            memcpy(r1[n1 - 1].name, l->name, sizeof r1[n1 - 1].name); /* both char[24] */
            tot_ours += ms_ours;
            tot_dnn += ms_dnn;
            tot_flop += gflop;
            void *bufs[] = {x, w, s, bias, noise, d, y, fir, fir_dw};
            for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
                cudaFree(bufs[i]);
        }
        printf("%-10s %30.2f | %9.3f %8.2f %6s | %9.3f %8.2f %6s | %6.2f\n", "total", tot_flop,
               tot_ours, tot_flop / tot_ours, "", tot_dnn, tot_flop / tot_dnn, "",
               tot_dnn / tot_ours);
        printf("# v1 modconv layers only: ours %.1f img/s, cuDNN baseline %.1f img/s\n\n",
               batch * 1000.0 / tot_ours, batch * 1000.0 / tot_dnn);
        cudaEventDestroy(tm.t0);
        cudaEventDestroy(tm.t1);
        fs_backend_free(b);
    }

    double tot2_ours = 0, tot2_dnn = 0, tot2_conv = 0, tot2_flop = 0;
    if (do_v2) {
        const fs_feat_format ffmt = v2_bf16 ? FS_FEAT_BF16_NHWC : FS_FEAT_F16_NHWC;
        const cudnnDataType_t ddt = v2_bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_HALF;
        fs_backend *b;
        CKFS(fs_backend_cuda_init_ex(&b, device, v2_bf16 ? FS_CUDA_BF16 : FS_CUDA_FP16));
        timer tm = {(cudaStream_t)fs_backend_cuda_stream(b), NULL, NULL, reps};
        CK(cudaEventCreate(&tm.t0));
        CK(cudaEventCreate(&tm.t1));
        CKDNN(cudnnSetStream(h, tm.stream));
        printf("# v2: 3x3 modconv layers on %s NHWC features, batch %d, %s, cuDNN %zu %s NHWC "
               "tensor-op math, fp32 compute; peak %.1f TFLOP/s\n", v2_bf16 ? "bf16" : "fp16",
               batch, prop.name, cudnnGetVersion(), v2_bf16 ? "bf16" : "fp16", pk.fp16);
        printf("%-10s %4s %4s %5s %2s %9s | %9s %8s %6s | %9s %8s %6s | %9s %8s %6s | %6s\n",
               "layer", "cin", "cout", "res", "up", "GFLOP", "v2 ms", "TFLOP/s", "%peak",
               "cudnn ms", "TFLOP/s", "%peak", "conv ms", "TFLOP/s", "%peak", "ratio");
        for (int li = 0; li < nl; li++) {
            const layer *l = &ls[li];
            if (l->k != 3)
                continue;
            int n = batch, hin = l->res_in, oh = hin * l->up;
            uint16_t *x16 = dev_rand16((size_t)n * hin * hin * l->cin, v2_bf16);
            uint16_t *y16 = dev_rand16((size_t)n * oh * oh * l->cout, v2_bf16);
            float *w = dev_rand((size_t)l->cout * l->cin * 9);
            float *s = dev_rand((size_t)n * l->cin);
            float *bias = dev_rand((size_t)l->cout);
            float *noise = dev_rand((size_t)oh * oh);
            float *dcoef = dev_rand((size_t)n * l->cout);
            float *fir = dev_alloc(sizeof fir16);
            CK(cudaMemcpy(fir, fir16, sizeof fir16, cudaMemcpyHostToDevice));
            const fs_op_case *c = l->c;
            ours_ctx oc = {.b = b,
                           .a = {.weight = w, .styles = s, .b = bias, .n = n, .cin = l->cin,
                                 .cout = l->cout, .h = hin, .w = hin, .k = 3, .up = l->up,
                                 .demodulate = 1, .fir = fir, .fir_len = 4, .noise_mode = c->noise,
                                 .noise_const = noise, .noise_strength = 0.1f, .act = c->act,
                                 .gain = c->gain != 0 ? c->gain : 1.0f, .clamp = c->clamp,
                                 .fp16 = 1, .fmt = ffmt, .x16 = x16, .y16 = y16, .dcoef = dcoef}};
            /* the layer's plan: the weights packed once, as the generator's init does */
            fs_plan *plan = NULL;
            CKFS(b->ops->plan(b, FS_OP_MODCONV, &oc.a, &plan));
            oc.a.plan = plan;
            float ms_ours = time_median(&tm, run_ours, &oc);

            /* cuDNN on the same 16-bit NHWC data; its s, d and the depthwise FIR in 16 bits */
            uint16_t *w16 = dev_rand16((size_t)l->cout * l->cin * 9, v2_bf16);
            uint16_t *s16 = dev_rand16((size_t)n * l->cin, v2_bf16);
            uint16_t *d16 = dev_rand16((size_t)n * l->cout, v2_bf16);
            uint16_t *fir_dw = NULL;
            if (l->up == 2) {
                uint16_t f16[16];
                for (int i = 0; i < 16; i++)
                    f16[i] = v2_bf16 ? to_bf16(fir16[i]) : to_f16(fir16[i]);
                fir_dw = dev_alloc((size_t)l->cout * sizeof f16);
                for (int g = 0; g < l->cout; g++)
                    CK(cudaMemcpy(fir_dw + 16 * g, f16, sizeof f16, cudaMemcpyHostToDevice));
            }
            dnn_ctx dc;
            memset(&dc, 0, sizeof dc);
            dc.h = h;
            dc.l = l;
            dc.n = n;
            dc.dt = ddt;
            dc.fmt = CUDNN_TENSOR_NHWC;
            dc.esize = 2;
            dc.x = x16;
            dc.s = s16;
            dc.w = w16;
            dc.d = d16;
            dc.fir = fir_dw;
            dc.y = y16;
            float ms_dnn = NAN, ms_conv = NAN;
            if (dnn_setup(&dc, CUDNN_TENSOR_OP_MATH) == 0) {
                ms_dnn = time_median(&tm, run_dnn, &dc);
                dc.conv_only = 1;
                ms_conv = time_median(&tm, run_dnn, &dc);
            }
            dnn_free(&dc);
            b->ops->plan_free(b, plan);

            double gflop = 2.0 * n * l->cout * l->cin * 9 * (double)hin * hin / 1e9;
            char p1[16], p2[16], p3[16];
            fmt_pct(p1, sizeof p1, gflop / ms_ours, pk.fp16);
            fmt_pct(p2, sizeof p2, gflop / ms_dnn, pk.fp16);
            fmt_pct(p3, sizeof p3, gflop / ms_conv, pk.fp16);
            printf("%-10s %4d %4d %5d %2d %9.2f | %9.3f %8.2f %6s | %9.3f %8.2f %6s | %9.3f %8.2f "
                   "%6s | %6.2f\n", l->name, l->cin, l->cout, oh, l->up, gflop, ms_ours,
                   gflop / ms_ours, p1, ms_dnn, gflop / ms_dnn, p2, ms_conv, gflop / ms_conv, p3,
                   ms_dnn / ms_ours);
            fflush(stdout);
            r2[n2++] = (row){.cin = l->cin, .cout = l->cout, .res = oh, .k = 3, .up = l->up,
                             .gflop = gflop, .ms_ours = ms_ours, .ms_dnn = ms_dnn,
                             .ms_dnn_conv = ms_conv};
            memcpy(r2[n2 - 1].name, l->name, sizeof r2[n2 - 1].name);
            tot2_ours += ms_ours;
            tot2_dnn += ms_dnn;
            tot2_conv += ms_conv;
            tot2_flop += gflop;
            void *bufs[] = {x16, y16, w, s, bias, noise, dcoef, fir, w16, s16, d16, fir_dw};
            for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
                cudaFree(bufs[i]);
        }
        char p1[16], p2[16], p3[16];
        fmt_pct(p1, sizeof p1, tot2_flop / tot2_ours, pk.fp16);
        fmt_pct(p2, sizeof p2, tot2_flop / tot2_dnn, pk.fp16);
        fmt_pct(p3, sizeof p3, tot2_flop / tot2_conv, pk.fp16);
        printf("%-10s %25.2f | %9.3f %8.2f %6s | %9.3f %8.2f %6s | %9.3f %8.2f %6s | %6.2f\n",
               "total", tot2_flop, tot2_ours, tot2_flop / tot2_ours, p1, tot2_dnn,
               tot2_flop / tot2_dnn, p2, tot2_conv, tot2_flop / tot2_conv, p3,
               tot2_dnn / tot2_ours);
        printf("# v2 3x3 layers only: ours %.1f img/s, cuDNN baseline %.1f img/s (conv alone %.1f)\n",
               batch * 1000.0 / tot2_ours, batch * 1000.0 / tot2_dnn, batch * 1000.0 / tot2_conv);
        cudaEventDestroy(tm.t0);
        cudaEventDestroy(tm.t1);
        fs_backend_free(b);
    }
    cudnnDestroy(h);

    if (json_path) {
        FILE *f = fopen(json_path, "w");
        if (!f) {
            perror(json_path);
            return 1;
        }
        fprintf(f, "{\n  \"device\": \"%s\", \"batch\": %d, \"reps\": %d, \"cudnn\": %zu,\n"
                   "  \"v1_precision\": \"%s\", \"cudnn_v1_math\": \"%s\", \"v2_format\": \"%s\",\n"
                   "  \"peak_tflops\": {\"fp16\": %g, \"tf32\": %g, \"fp32\": %g},\n",
                prop.name, batch, reps, cudnnGetVersion(), prec_names[prec],
                math == CUDNN_FMA_MATH ? "fp32" : "tf32", v2_bf16 ? "bf16" : "f16", pk.fp16, pk.tf32,
                pk.fp32);
        json_rows(f, "v1", r1, n1, 0);
        fprintf(f, ",\n");
        json_rows(f, "v2", r2, n2, 1);
        fprintf(f, "\n}\n");
        fclose(f);
    }
    return 0;
}
