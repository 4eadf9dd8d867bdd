/* Times every modulated-conv layer of the StyleGAN2 config-f 1024^2 synthesis
 * network (batch 32 by default; the layers are the FS_OPC_SG2F_SYNTH cases of
 * the shared op table tests/backend_op_cases.h, their batch replaced by
 * --batch) on the CUDA backend against a cuDNN baseline
 * of the same layer in the non-fused formulation NVIDIA's own code uses for
 * batched inference:
 *   up=1:  xs = x * s (cudnnOpTensor), t = conv(xs, W) (cudnnConvolutionForward),
 *          y = t * d (cudnnOpTensor; ToRGB: no d);
 *   up=2:  xs = x * s, t = conv_transpose(xs, W, stride 2) (BackwardData),
 *          u = depthwise 4x4 FIR of t (grouped ConvolutionForward, pad 1),
 *          y = u * d.
 * Ours is the whole fused op (demod coefficients, noise, bias, lrelu, clamp
 * included); the baseline leaves out bias/act/noise, so it is a lower bound.
 * Both run on the backend's stream and are timed with CUDA events: median of
 * --reps runs after 2 warm-up runs. cuDNN picks its fastest algorithm
 * (cudnnFind*) in FP32 FMA math; --tf32 lets it use TF32 tensor cores.
 * --precision sets ours (fs_cuda_precision: fp32 default, tf32, fp16, bf16 on
 * tensor cores; mixed = fp16 in the top 4 resolutions, as the official
 * num_fp16_res = 4); the cuDNN baseline stays FP32 (or TF32 with --tf32).
 * TFLOP/s counts 2 * n * cout * cin * k^2 * (input pixels): the transposed
 * conv's inserted zeros are not counted.
 *
 *   build/bench/bench_cuda_layers [--batch 32] [--reps 10] [--res 1024] [--tf32] [--device 0]
 *                                 [--precision fp32|tf32|fp16|bf16|mixed]
 *
 * A benchmark, so failures print and exit (the library never does). */
#include <cuda_runtime.h>
#include <cudnn.h>
#include <math.h>
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

typedef struct {
    cudnnHandle_t h;
    const layer *l;
    int n;
    const float *x, *s, *w, *d, *fir;
    float *xs, *t, *u, *y, *ws;
    size_t ws_bytes;
    cudnnTensorDescriptor_t dx, ds, dt, du, dd;
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
    CKDNN(cudnnOpTensor(c->h, c->mul, &one, c->dx, c->x, &one, c->ds, c->s, &zero, c->dx, c->xs));
    if (l->up == 1)
        CKDNN(cudnnConvolutionForward(c->h, &one, c->dx, c->xs, c->fw, c->w, c->conv, c->algo_f,
                                      c->ws, c->ws_bytes, &zero, c->dt, l->demod ? c->t : c->y));
    else {
        CKDNN(cudnnConvolutionBackwardData(c->h, &one, c->fw, c->w, c->dx, c->xs, c->conv,
                                           c->algo_b, c->ws, c->ws_bytes, &zero, c->dt, c->t));
        CKDNN(cudnnConvolutionForward(c->h, &one, c->dt, c->t, c->ffir, c->fir, c->cfir,
                                      c->algo_fir, c->ws, c->ws_bytes, &zero, c->du, c->u));
    }
    if (l->demod)
        CKDNN(cudnnOpTensor(c->h, c->mul, &one, c->du, l->up == 1 ? c->t : c->u, &one, c->dd, c->d,
                            &zero, c->du, c->y));
}

static void dnn_setup(dnn_ctx *c, cudnnMathType_t math)
{
    const layer *l = c->l;
    int n = c->n, h = l->res_in, oh = h * l->up;
    CKDNN(cudnnCreateTensorDescriptor(&c->dx));
    CKDNN(cudnnCreateTensorDescriptor(&c->ds));
    CKDNN(cudnnCreateTensorDescriptor(&c->dt));
    CKDNN(cudnnCreateTensorDescriptor(&c->du));
    CKDNN(cudnnCreateTensorDescriptor(&c->dd));
    CKDNN(cudnnCreateFilterDescriptor(&c->fw));
    CKDNN(cudnnCreateFilterDescriptor(&c->ffir));
    CKDNN(cudnnCreateConvolutionDescriptor(&c->conv));
    CKDNN(cudnnCreateConvolutionDescriptor(&c->cfir));
    CKDNN(cudnnCreateOpTensorDescriptor(&c->mul));
    CKDNN(cudnnSetOpTensorDescriptor(c->mul, CUDNN_OP_TENSOR_MUL, CUDNN_DATA_FLOAT,
                                     CUDNN_NOT_PROPAGATE_NAN));
    CKDNN(cudnnSetTensor4dDescriptor(c->dx, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, l->cin, h, h));
    CKDNN(cudnnSetTensor4dDescriptor(c->ds, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, l->cin, 1, 1));
    CKDNN(cudnnSetTensor4dDescriptor(c->du, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, l->cout, oh, oh));
    CKDNN(cudnnSetTensor4dDescriptor(c->dd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, l->cout, 1, 1));
    size_t ws = 0, need = 0;
    int got;
    if (l->up == 1) {
        CKDNN(cudnnSetFilter4dDescriptor(c->fw, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, l->cout,
                                         l->cin, l->k, l->k));
        CKDNN(cudnnSetConvolution2dDescriptor(c->conv, l->k / 2, l->k / 2, 1, 1, 1, 1,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
        CKDNN(cudnnSetConvolutionMathType(c->conv, math));
        CKDNN(cudnnSetTensor4dDescriptor(c->dt, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, l->cout,
                                         oh, oh));
        cudnnConvolutionFwdAlgoPerf_t pf;
        CKDNN(cudnnFindConvolutionForwardAlgorithm(c->h, c->dx, c->fw, c->conv, c->dt, 1, &got, &pf));
        c->algo_f = pf.algo;
        CKDNN(cudnnSetConvolutionMathType(c->conv, pf.mathType));
        CKDNN(cudnnGetConvolutionForwardWorkspaceSize(c->h, c->dx, c->fw, c->conv, c->dt, c->algo_f,
                                                      &need));
        ws = need;
    } else {
        /* transposed conv cin -> cout = the data gradient of a conv cout -> cin */
        int th = 2 * h + 1;
        CKDNN(cudnnSetFilter4dDescriptor(c->fw, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, l->cin,
                                         l->cout, 3, 3));
        CKDNN(cudnnSetConvolution2dDescriptor(c->conv, 0, 0, 2, 2, 1, 1, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT));
        CKDNN(cudnnSetConvolutionMathType(c->conv, math));
        CKDNN(cudnnSetTensor4dDescriptor(c->dt, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, l->cout,
                                         th, th));
        cudnnConvolutionBwdDataAlgoPerf_t pb;
        CKDNN(cudnnFindConvolutionBackwardDataAlgorithm(c->h, c->fw, c->dx, c->conv, c->dt, 1, &got,
                                                        &pb));
        c->algo_b = pb.algo;
        CKDNN(cudnnSetConvolutionMathType(c->conv, pb.mathType));
        CKDNN(cudnnGetConvolutionBackwardDataWorkspaceSize(c->h, c->fw, c->dx, c->conv, c->dt,
                                                           c->algo_b, &need));
        ws = need;
        /* the 4x4 FIR, depthwise: groups = cout, pad 1 */
        CKDNN(cudnnSetFilter4dDescriptor(c->ffir, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, l->cout, 1,
                                         4, 4));
        CKDNN(cudnnSetConvolution2dDescriptor(c->cfir, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT));
        CKDNN(cudnnSetConvolutionGroupCount(c->cfir, l->cout));
        CKDNN(cudnnSetConvolutionMathType(c->cfir, math));
        cudnnConvolutionFwdAlgoPerf_t pf;
        CKDNN(cudnnFindConvolutionForwardAlgorithm(c->h, c->dt, c->ffir, c->cfir, c->du, 1, &got,
                                                   &pf));
        c->algo_fir = pf.algo;
        CKDNN(cudnnSetConvolutionMathType(c->cfir, pf.mathType));
        CKDNN(cudnnGetConvolutionForwardWorkspaceSize(c->h, c->dt, c->ffir, c->cfir, c->du,
                                                      c->algo_fir, &need));
        ws = need > ws ? need : ws;
        CK(cudaMalloc((void **)&c->u, (size_t)n * l->cout * oh * oh * sizeof(float)));
        c->t = NULL;
        CK(cudaMalloc((void **)&c->t, (size_t)n * l->cout * th * th * sizeof(float)));
    }
    if (l->up == 1)
        CK(cudaMalloc((void **)&c->t, (size_t)n * l->cout * oh * oh * sizeof(float)));
    CK(cudaMalloc((void **)&c->xs, (size_t)n * l->cin * h * h * sizeof(float)));
    c->ws_bytes = ws;
    c->ws = NULL;
    if (ws)
        CK(cudaMalloc((void **)&c->ws, ws));
}

static void dnn_free(dnn_ctx *c)
{
    cudaFree(c->xs);
    cudaFree(c->t);
    cudaFree(c->u);
    cudaFree(c->ws);
    cudnnDestroyTensorDescriptor(c->dx);
    cudnnDestroyTensorDescriptor(c->ds);
    cudnnDestroyTensorDescriptor(c->dt);
    cudnnDestroyTensorDescriptor(c->du);
    cudnnDestroyTensorDescriptor(c->dd);
    cudnnDestroyFilterDescriptor(c->fw);
    cudnnDestroyFilterDescriptor(c->ffir);
    cudnnDestroyConvolutionDescriptor(c->conv);
    cudnnDestroyConvolutionDescriptor(c->cfir);
    cudnnDestroyOpTensorDescriptor(c->mul);
}

int main(int argc, char **argv)
{
    int batch = 32, reps = 10, max_res = 1024, device = 0;
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
        else {
            fprintf(stderr, "usage: %s [--batch N] [--reps N] [--res R] [--tf32] [--device N] "
                    "[--precision fp32|tf32|fp16|bf16|mixed]\n", argv[0]);
            return 2;
        }
    }
    if (batch < 1 || reps < 1 || reps > 256 || max_res < 4 || max_res > 1024) {
        fprintf(stderr, "bench_cuda_layers: batch >= 1, 1 <= reps <= 256, 4 <= res <= 1024\n");
        return 2;
    }
    fs_backend *b;
    if (prec < 0)
        prec = 0;
    CKFS(fs_backend_cuda_init_ex(&b, device, (fs_cuda_precision)prec));
    /* mixed: fp16 from max(2^(log2 R + 1 - 4), 8) up, as num_fp16_res = 4 */
    int log2r = 0;
    while ((1 << (log2r + 1)) <= max_res)
        log2r++;
    int fp16_res = log2r + 1 - 4 < 3 ? 8 : 1 << (log2r + 1 - 4);
    struct cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, device));
    timer tm = {(cudaStream_t)fs_backend_cuda_stream(b), NULL, NULL, reps};
    CK(cudaEventCreate(&tm.t0));
    CK(cudaEventCreate(&tm.t1));
    cudnnHandle_t h;
    CKDNN(cudnnCreate(&h));
    CKDNN(cudnnSetStream(h, tm.stream));
    printf("# StyleGAN2 config-f synthesis modconv layers, batch %d, %s, ours %s, cuDNN %zu, %s "
           "math\n", batch, prop.name, prec_names[prec], cudnnGetVersion(),
           math == CUDNN_FMA_MATH ? "FP32 FMA" : "TF32-allowed");
    printf("%-10s %4s %4s %5s %2s %2s %9s | %9s %8s | %9s %8s | %6s\n", "layer", "cin", "cout",
           "res", "k", "up", "GFLOP", "ours ms", "TFLOP/s", "cudnn ms", "TFLOP/s", "ratio");
    layer ls[32];
    int nl = layers_of(max_res, ls, 32);
    double tot_ours = 0, tot_dnn = 0, tot_flop = 0;
    float fir16[16];
    static const float t4[4] = {1, 3, 3, 1};
    for (int i = 0; i < 16; i++)
        fir16[i] = t4[i / 4] * t4[i % 4] / 64.0f;
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
        float *fir;
        CK(cudaMalloc((void **)&fir, sizeof fir16));
        CK(cudaMemcpy(fir, fir16, sizeof fir16, cudaMemcpyHostToDevice));
        float *fir_dw = NULL; /* cuDNN's depthwise filter: one copy per channel */
        if (l->up == 2) {
            CK(cudaMalloc((void **)&fir_dw, (size_t)l->cout * sizeof fir16));
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
        dc.x = x;
        dc.s = s;
        dc.w = w;
        dc.d = d;
        dc.fir = fir_dw;
        dc.y = y;
        dnn_setup(&dc, math);
        float ms_dnn = time_median(&tm, run_dnn, &dc);
        dnn_free(&dc);

        double gflop = 2.0 * n * l->cout * l->cin * l->k * l->k * (double)hin * hin / 1e9;
        printf("%-10s %4d %4d %5d %2d %2d %9.2f | %9.3f %8.2f | %9.3f %8.2f | %6.2f\n", l->name,
               l->cin, l->cout, oh, l->k, l->up, gflop, ms_ours, gflop / ms_ours, ms_dnn,
               gflop / ms_dnn, ms_dnn / ms_ours);
        fflush(stdout);
        tot_ours += ms_ours;
        tot_dnn += ms_dnn;
        tot_flop += gflop;
        float *bufs[] = {x, w, s, bias, noise, d, y, fir, fir_dw};
        for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
            cudaFree(bufs[i]);
    }
    printf("%-10s %30.2f | %9.3f %8.2f | %9.3f %8.2f | %6.2f\n", "total", tot_flop, tot_ours,
           tot_flop / tot_ours, tot_dnn, tot_flop / tot_dnn, tot_dnn / tot_ours);
    printf("# modconv layers only: ours %.1f img/s, cuDNN baseline %.1f img/s\n",
           batch * 1000.0 / tot_ours, batch * 1000.0 / tot_dnn);
    cudnnDestroy(h);
    cudaEventDestroy(tm.t0);
    cudaEventDestroy(tm.t1);
    fs_backend_free(b);
    return 0;
}
