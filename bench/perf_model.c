/* The per-layer performance model of the StyleGAN2 config-f synthesis network
 * on the CUDA backend (issue 14), computed from the layer shapes alone: no GPU.
 * For every layer (conv0 = up-sampling modconv, conv1, torgb, the skip image's
 * up-sampling) at 256, 512 and 1024 pixels it counts the FLOPs and the HBM
 * bytes of
 *   v1: what kernels/modconv.cu, igemm.cu, upfirdn2d.cu and bias_act.cu do
 *       today: fp32 NCHW features; the implicit GEMM's grid is pixel tiles
 *       (fast) by 64-channel cout tiles, so every cout tile streams the whole
 *       input again; an up layer runs four phase GEMMs (each streams the input)
 *       into an fp32 T plane [cout, 2h+1, 2w+1] that a separate FIR kernel
 *       reads back; demodulation, ToRGB, the skip upfirdn2d and the image
 *       axpby are kernels of their own; noise is read from memory;
 *   v2: fp16 NHWC features, the up-sampling conv fused with its FIR (each CTA
 *       computes the T tile its output tile needs, halo included, in shared
 *       memory, as four phase GEMMs issued in m16 row steps, then 16 fp32 FIR
 *       MACs per output, as kernels/modconv_v2.cu does), ToRGB fused with the skip up-sampling and the image add, all
 *       styles and demodulation coefficients in one op per forward;
 * and predicts each kernel's time as max(FLOPs / peak, bytes / bandwidth)
 * (tensor FLOPs at the fp16 tensor peak, the rest at the fp32 peak, the two
 * added when one kernel does both), summed over the network at batch 32 and
 * turned into img/s for an H100 SXM and an H200. These are predictions at
 * peak rates, an upper bound to compare with measurements, not measurements.
 * Launch latency, wave tails and cache effects other than the one stated
 * (rereads()) are not modelled.
 *
 *   cc -O2 -o build-x/perf_model bench/perf_model.c -lm   (or make BUILD=... BUILD/bench/perf_model)
 *   perf_model [--batch 32] [--tile 16] [--noise const|random] [--fir-separable] [--tc-eff 1.0]
 *              [--md FILE] [--json FILE]
 * Without --md the markdown goes to stdout. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Peaks (dense; the fp16 tensor rate with fp32 accumulation). */
typedef struct {
    const char *name;
    double tc_tflops, fp32_tflops, bw_tbs;
} device;
static const device devices[] = {
    {"H100 SXM", 989.4, 66.9, 3.35},
    {"H200", 989.4, 66.9, 4.8},
};
#define NDEV 2

/* One kernel: FLOPs on tensor cores, FLOPs on the fp32 pipes, HBM bytes. */
typedef struct {
    double tc, fma, bytes;
} kern;

enum { V1_FP32 = 0, V1_TC = 1, V2 = 2, NVAR = 3 };
static const char *const var_names[NVAR] = {"v1 fp32", "v1 tensor-core", "v2 fp16"};

#define MAXK 6
typedef struct {
    char block[8], name[16];
    int res, cin, cout;
    double flops;      /* useful FLOPs of the layer (the GEMM counts zero-skipping up-convs) */
    kern v1[MAXK];     /* v1 kernels (tc = the 3x3 GEMM, which --precision may put on tensor cores) */
    int nv1;
    kern v2[MAXK];
    int nv2;
    const char *v2_note;
} layer;

typedef struct {
    int batch, tile, random_noise, fir_sep;
    double tc_eff;
} params;

static int r16(int v) { return (v + 15) / 16 * 16; }

/* The GEMM rows the fused up-sampling kernel issues for a t x t output tile:
 * the (t+3)^2 T tile splits by parity into a x a, a x b, b x a and b x b
 * positions (a = ceil((t+3)/2), b = floor), each rounded up to m16 tiles. */
static double up_gemm_rows(int t)
{
    int a = (t + 4) / 2, b = (t + 3) / 2;
    return r16(a * a) + 2.0 * r16(a * b) + r16(b * b);
}

static double sum_bytes(const kern *k, int n)
{
    double b = 0;
    for (int i = 0; i < n; i++)
        b += k[i].bytes;
    return b;
}

static double sum_flops(const kern *k, int n)
{
    double f = 0;
    for (int i = 0; i < n; i++)
        f += k[i].tc + k[i].fma;
    return f;
}

/* Seconds for one kernel. v1 fp32 runs the GEMM on the fp32 pipes too. */
static double kern_time(const kern *k, const device *d, int var, double tc_eff, int *mem_bound)
{
    double tc = k->tc, fma = k->fma;
    if (var == V1_FP32) {
        fma += tc;
        tc = 0;
    }
    double tcomp = tc / (d->tc_tflops * 1e12 * tc_eff) + fma / (d->fp32_tflops * 1e12);
    double tmem = k->bytes / (d->bw_tbs * 1e12);
    if (mem_bound)
        *mem_bound = tmem > tcomp;
    return tmem > tcomp ? tmem : tcomp;
}

static double layer_time(const layer *l, const device *d, int var, double tc_eff, int *mem_bound)
{
    const kern *k = var == V2 ? l->v2 : l->v1;
    int n = var == V2 ? l->nv2 : l->nv1;
    double t = 0, tmem = 0, tall = 0;
    for (int i = 0; i < n; i++) {
        int mb;
        double ti = kern_time(&k[i], d, var, tc_eff, &mb);
        t += ti;
        tall += ti;
        if (mb)
            tmem += ti;
    }
    if (mem_bound)
        *mem_bound = tall > 0 && tmem > 0.5 * tall;
    return t;
}

/* Official channel rule (docs/stylegan2.md §1, engine fs_sg2_channels):
 * C(r) = min(channel_base / r, channel_max), config-f: 32768 and 512. */
static int channels(int res)
{
    int c = 32768 / res;
    return c < 512 ? c : 512;
}

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

/* Both parts have a 50 MB L2. An input that v1 streams several times (once per
 * cout tile and phase) is counted once from HBM when it fits in half of it,
 * else once per pass. */
#define L2_BYTES 50e6
static double rereads(double bytes, int passes) { return bytes <= L2_BYTES / 2 ? bytes : bytes * passes; }

#define F32 4.0
#define F16 2.0

/* The next layer record of L, zeroed, with its block, name and shape. */
static layer *new_layer(layer *L, int *nl, const char *block, const char *name, int res, int cin,
                        int cout)
{
    layer *l = &L[(*nl)++];
    memset(l, 0, sizeof *l);
    snprintf(l->block, sizeof l->block, "%s", block);
    snprintf(l->name, sizeof l->name, "%s", name);
    l->res = res;
    l->cin = cin;
    l->cout = cout;
    return l;
}

static int build(int R, const params *P, layer *L, int cap)
{
    int nl = 0;
    const double n = P->batch;
    const double t = P->tile;
    /* fused up-sampling: a t x t output tile needs (t+3)^2 T positions, made
     * as four phase GEMMs whose rows modconv_v2_up_kernel1 issues in m16 steps */
    const double halo = up_gemm_rows(P->tile) / (t * t);
    /* the FIR over the T tile: 16 MACs per output as the kernel does, or the
     * separable form ((t+3) x t horizontal, then t x t vertical, 4 taps) */
    const double fir_mac_v2 = P->fir_sep ? ((t + 3) * t * 4 + t * t * 4) / (t * t) : 16.0;
    for (int res = 4; res <= R; res *= 2) {
        int c = channels(res), cprev = res > 4 ? channels(res / 2) : c;
        double r2 = (double)res * res, h2 = r2 / 4;
        double noise_bytes_v1 = P->random_noise ? n * r2 * F32 : r2 * F32;
        char block[8];
        snprintf(block, sizeof block, "b%d", res);
        if (res > 4 && nl < cap) { /* conv0: cprev -> c, up 2 */
            layer *l = new_layer(L, &nl, block, "conv0 up", res, cprev, c);
            double gemm = 2.0 * n * cprev * c * 9 * h2;
            double w = (double)c * cprev * 9;
            l->flops = gemm;
            int tiles = ceil_div(c, 64);
            /* v1: demod (W once, dcoef), noise (random), 4 phase GEMMs, FIR + epilogue */
            l->v1[l->nv1++] = (kern){0, 2.0 * n * c * cprev * 9, w * F32 + n * c * F32};
            if (P->random_noise)
                l->v1[l->nv1++] = (kern){0, 0, n * r2 * F32};
            double tplane = n * c * (2.0 * res / 2 + 1) * (2.0 * res / 2 + 1);
            l->v1[l->nv1++] = (kern){gemm, 0,
                                     rereads(n * cprev * h2 * F32, 4 * tiles) + w * F32 + tplane * F32};
            l->v1[l->nv1++] = (kern){0, 2.0 * 16 * n * c * r2,
                                     tplane * F32 + n * c * r2 * F32 + noise_bytes_v1};
            /* v2: one kernel: the T tile (halo included) on tensor cores, the
             * separable FIR and the epilogue in fp32, x and y in fp16 */
            l->v2[l->nv2++] = (kern){gemm * halo, 2.0 * fir_mac_v2 * n * c * r2,
                                     n * cprev * h2 * F16 + w * F16 + n * c * r2 * F16 + r2 * F32};
            l->v2_note = "fused up + FIR";
        }
        if (nl < cap) { /* conv1: c -> c */
            layer *l = new_layer(L, &nl, block, "conv1", res, c, c);
            double gemm = 2.0 * n * c * c * 9 * r2;
            double w = (double)c * c * 9;
            l->flops = gemm;
            int tiles = ceil_div(c, 64);
            l->v1[l->nv1++] = (kern){0, 2.0 * n * c * c * 9, w * F32 + n * c * F32};
            if (P->random_noise)
                l->v1[l->nv1++] = (kern){0, 0, n * r2 * F32};
            l->v1[l->nv1++] = (kern){gemm, 0, rereads(n * c * r2 * F32, tiles) + w * F32 +
                                                  n * c * r2 * F32 + noise_bytes_v1};
            l->v2[l->nv2++] = (kern){gemm, 0, n * c * r2 * F16 + w * F16 + n * c * r2 * F16 + r2 * F32};
            l->v2_note = "";
        }
        if (nl < cap) { /* torgb: c -> 3, 1x1, fp32 in both; v2 adds the skip image */
            layer *l = new_layer(L, &nl, block, "torgb", res, c, 3);
            double f = 2.0 * n * c * 3 * r2;
            l->flops = f;
            /* v1: the 16 x 256-tile GEMM into img or img_up, then img += img_up (axpby) */
            l->v1[l->nv1++] = (kern){0, f, n * c * r2 * F32 + n * 3 * r2 * F32};
            if (res > 4)
                l->v1[l->nv1++] = (kern){0, n * 3 * r2, 3.0 * n * 3 * r2 * F32};
            /* v2: features in, previous image in, image out; the skip FIR
             * (polyphase: 2 x 2 taps per output of the 2x up-sampling) */
            l->v2[l->nv2++] = (kern){0, f + (res > 4 ? 2.0 * 4 * n * 3 * r2 : 0),
                                     n * c * r2 * F16 + (res > 4 ? n * 3 * h2 * F32 : 0) +
                                         n * 3 * r2 * F32};
            l->v2_note = res > 4 ? "ToRGB + skip up + add" : "ToRGB";
        }
        if (res > 4 && nl < cap) { /* the skip image's up-sampling (v1 only) */
            layer *l = new_layer(L, &nl, block, "skip up", res, 3, 3);
            l->flops = 2.0 * 16 * n * 3 * r2; /* as docs/stylegan2.md §5 counts the FIR */
            l->v1[l->nv1++] = (kern){0, l->flops, n * 3 * h2 * F32 + n * 3 * r2 * F32};
            l->nv2 = 0;
            l->v2_note = "in torgb";
        }
    }
    /* the affine styles of every layer (v1: one fc per layer; v2: one op that
     * also makes the demodulation coefficients from sum_k W^2), and to_uint8 */
    if (nl + 2 <= cap) {
        layer *l = new_layer(L, &nl, "all", "styles", 0, 0, 0);
        double aw = 0, sw2 = 0, dflops = 0;
        int nws = 0;
        for (int res = 4; res <= R; res *= 2) {
            int c = channels(res), cprev = res > 4 ? channels(res / 2) : c;
            aw += (res > 4 ? cprev : 0) + c + c; /* conv0, conv1, torgb affines: 512 x cin */
            sw2 += (res > 4 ? (double)c * cprev : 0) + (double)c * c;
            dflops += 2.0 * n * ((res > 4 ? (double)c * cprev : 0) + (double)c * c);
            nws += res > 4 ? 2 : 1;
        }
        l->flops = 2.0 * n * 512 * aw;
        l->v1[l->nv1++] = (kern){0, l->flops, 512 * aw * F32 + n * nws * 512 * F32 + n * aw * F32};
        l->v2[l->nv2++] = (kern){0, l->flops + dflops,
                                 512 * aw * F32 + sw2 * F32 + n * nws * 512 * F32 + n * aw * F32};
        l->v2_note = "+ demod coefficients";
        l = new_layer(L, &nl, "all", "to_uint8", 0, 0, 0);
        l->v1[l->nv1++] = (kern){0, 2.0 * n * 3 * R * R, n * 3.0 * R * R * (F32 + 1)};
        l->v2[l->nv2++] = l->v1[0];
        l->v2_note = "";
    }
    return nl;
}

typedef struct {
    double flops, bytes[NVAR], sec[NDEV][NVAR];
} totals;

static totals total_of(const layer *L, int nl, const params *P)
{
    totals T;
    memset(&T, 0, sizeof T);
    for (int i = 0; i < nl; i++) {
        T.flops += L[i].flops;
        T.bytes[V1_FP32] += sum_bytes(L[i].v1, L[i].nv1);
        T.bytes[V1_TC] += sum_bytes(L[i].v1, L[i].nv1);
        T.bytes[V2] += sum_bytes(L[i].v2, L[i].nv2);
        for (int d = 0; d < NDEV; d++)
            for (int v = 0; v < NVAR; v++)
                T.sec[d][v] += layer_time(&L[i], &devices[d], v, P->tc_eff, NULL);
    }
    return T;
}

static void md_network(FILE *f, int R, const layer *L, int nl, const params *P)
{
    double n = P->batch;
    fprintf(f, "\n### %d x %d (config-f, channel_base 32768), batch %d\n\n", R, R, P->batch);
    fprintf(f, "Per image. MB = HBM bytes / 1e6; FLOP/B = arithmetic intensity; µs = predicted time "
               "(H100 SXM unless marked); bound = what limits v2 on the H100 (C compute, M memory).\n\n");
    fprintf(f, "| block | layer | cin→cout | GFLOP | v1 MB | v2 MB | v1 FLOP/B | v2 FLOP/B | "
               "v1 fp32 µs | v1 tc µs | v2 µs | v2 µs H200 | bound | v2 form |\n");
    fprintf(f, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
    for (int i = 0; i < nl; i++) {
        const layer *l = &L[i];
        double b1 = sum_bytes(l->v1, l->nv1), b2 = sum_bytes(l->v2, l->nv2);
        double f1 = sum_flops(l->v1, l->nv1), f2 = sum_flops(l->v2, l->nv2);
        int mb;
        double t2 = layer_time(l, &devices[0], V2, P->tc_eff, &mb);
        char io[24] = "";
        if (l->cin)
            snprintf(io, sizeof io, "%d→%d", l->cin, l->cout);
        char ai2[16] = "-";
        if (b2 > 0)
            snprintf(ai2, sizeof ai2, "%.0f", f2 / b2);
        fprintf(f, "| %s | %s | %s | %.3f | %.1f | %.1f | %.0f | %s | %.2f | %.2f | %.2f | %.2f | %s | %s |\n",
                l->block, l->name, io, l->flops / n / 1e9, b1 / n / 1e6, b2 / n / 1e6,
                b1 > 0 ? f1 / b1 : 0, ai2,
                layer_time(l, &devices[0], V1_FP32, P->tc_eff, NULL) / n * 1e6,
                layer_time(l, &devices[0], V1_TC, P->tc_eff, NULL) / n * 1e6, t2 / n * 1e6,
                layer_time(l, &devices[1], V2, P->tc_eff, NULL) / n * 1e6,
                l->nv2 ? (mb ? "M" : "C") : "-", l->v2_note ? l->v2_note : "");
    }
    totals T = total_of(L, nl, P);
    fprintf(f, "| **total** | | | **%.2f** | **%.0f** | **%.0f** | %.0f | %.0f | **%.1f** | **%.1f** | "
               "**%.1f** | **%.1f** | | |\n\n",
            T.flops / n / 1e9, T.bytes[V1_FP32] / n / 1e6, T.bytes[V2] / n / 1e6,
            T.flops / T.bytes[V1_FP32], T.flops / T.bytes[V2], T.sec[0][V1_FP32] / n * 1e6,
            T.sec[0][V1_TC] / n * 1e6, T.sec[0][V2] / n * 1e6, T.sec[1][V2] / n * 1e6);
}

static void json_kern(FILE *f, const kern *k, int nk)
{
    fprintf(f, "[");
    for (int i = 0; i < nk; i++)
        fprintf(f, "%s{\"tensor_flop\": %.6g, \"fp32_flop\": %.6g, \"hbm_bytes\": %.6g}",
                i ? ", " : "", k[i].tc, k[i].fma, k[i].bytes);
    fprintf(f, "]");
}

int main(int argc, char **argv)
{
    params P = {32, 16, 0, 0, 1.0};
    const char *md_path = NULL, *json_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            P.batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tile") && i + 1 < argc)
            P.tile = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--fir-separable"))
            P.fir_sep = 1;
        else if (!strcmp(argv[i], "--tc-eff") && i + 1 < argc)
            P.tc_eff = atof(argv[++i]);
        else if (!strcmp(argv[i], "--noise") && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "const") && strcmp(argv[i], "random")) {
                fprintf(stderr, "perf_model: --noise const|random\n");
                return 2;
            }
            P.random_noise = !strcmp(argv[i], "random");
        } else if (!strcmp(argv[i], "--md") && i + 1 < argc)
            md_path = argv[++i];
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json_path = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--batch N] [--tile T] [--noise const|random] [--fir-separable] [--tc-eff F] "
                            "[--md FILE] [--json FILE]\n", argv[0]);
            return 2;
        }
    }
    if (P.batch < 1 || P.tile < 2 || P.tile % 2 || !(P.tc_eff > 0 && P.tc_eff <= 1)) {
        fprintf(stderr, "perf_model: batch >= 1, tile even >= 2, 0 < tc-eff <= 1\n");
        return 2;
    }
    FILE *md = md_path ? fopen(md_path, "w") : stdout;
    if (!md) {
        perror(md_path);
        return 1;
    }
    static const int resolutions[] = {256, 512, 1024};
    layer L[3][64];
    int nl[3];
    totals T[3];
    for (int k = 0; k < 3; k++) {
        nl[k] = build(resolutions[k], &P, L[k], 64);
        T[k] = total_of(L[k], nl[k], &P);
    }

    fprintf(md, "## Predicted img/s (batch %d, %s noise, tensor efficiency %.2f, fused-up tile %dx%d, "
                "%s FIR)\n\n", P.batch, P.random_noise ? "random" : "const", P.tc_eff, P.tile, P.tile,
            P.fir_sep ? "separable" : "16-tap");
    fprintf(md, "| resolution | GFLOP/img | v1 MB/img | v2 MB/img |");
    for (int d = 0; d < NDEV; d++)
        for (int v = 0; v < NVAR; v++)
            fprintf(md, " %s %s |", devices[d].name, var_names[v]);
    fprintf(md, "\n|---:|---:|---:|---:|");
    for (int d = 0; d < NDEV * NVAR; d++)
        fprintf(md, "---:|");
    fprintf(md, "\n");
    for (int k = 0; k < 3; k++) {
        fprintf(md, "| %d | %.2f | %.0f | %.0f |", resolutions[k], T[k].flops / P.batch / 1e9,
                T[k].bytes[V1_FP32] / P.batch / 1e6, T[k].bytes[V2] / P.batch / 1e6);
        for (int d = 0; d < NDEV; d++)
            for (int v = 0; v < NVAR; v++)
                fprintf(md, " %.0f |", P.batch / T[k].sec[d][v]);
        fprintf(md, "\n");
    }
    fprintf(md, "\nPeaks: H100 SXM %.1f TFLOP/s fp16 tensor (dense), %.1f TFLOP/s fp32, %.2f TB/s "
                "(ridge %.0f FLOP/B); H200 the same compute and %.1f TB/s (ridge %.0f FLOP/B).\n",
            devices[0].tc_tflops, devices[0].fp32_tflops, devices[0].bw_tbs,
            devices[0].tc_tflops / devices[0].bw_tbs, devices[1].bw_tbs,
            devices[1].tc_tflops / devices[1].bw_tbs);

    /* the halo of the fused up-sampling kernel */
    fprintf(md, "\n## Halo of the fused up-sampling conv (per output tile)\n\n");
    fprintf(md, "| output tile | T tile | T positions / outputs | GEMM rows issued (m16 steps) / outputs "
                "(modelled GEMM factor) | x tile | x reads / x pixels (L2→smem) | separable FIR MAC per "
                "output (16 unseparated) | conv0 tensor GFLOP/img at 1024 |\n");
    fprintf(md, "|---|---|---:|---:|---|---:|---:|---:|\n");
    static const int tiles[] = {8, 16, 32, 64};
    double conv0_1024 = 0;
    for (int i = 0; i < nl[2]; i++)
        if (!strcmp(L[2][i].name, "conv0 up"))
            conv0_1024 += L[2][i].flops / P.batch;
    for (int i = 0; i < 4; i++) {
        double t = tiles[i], tt = t + 3, xt = t / 2 + 2;
        double g = up_gemm_rows(tiles[i]) / (t * t);
        fprintf(md, "| %dx%d%s | %.0fx%.0f | %.3f | %.3f | %.0fx%.0f | %.3f | %.2f | %.2f |\n", tiles[i],
                tiles[i], tiles[i] == P.tile ? " (modelled)" : "", tt, tt, tt * tt / (t * t), g, xt, xt,
                xt * xt / (t * t / 4), (tt * t * 4 + t * t * 4) / (t * t), conv0_1024 * g / 1e9);
    }
    for (int k = 0; k < 3; k++)
        md_network(md, resolutions[k], L[k], nl[k], &P);
    if (md != stdout)
        fclose(md);

    if (json_path) {
        FILE *f = fopen(json_path, "w");
        if (!f) {
            perror(json_path);
            return 1;
        }
        char date[32];
        time_t now = time(NULL);
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        fprintf(f, "{\n \"date\": \"%s\",\n \"generator\": \"bench/perf_model.c\",\n \"kind\": "
                   "\"prediction at peak rates, not a measurement\",\n",
                date);
        fprintf(f, " \"params\": {\"batch\": %d, \"fused_up_tile\": %d, \"fused_up_gemm_factor\": %g, "
                   "\"fir_macs_per_output\": \"%s\", \"noise\": \"%s\", \"tensor_efficiency\": %g},\n",
                P.batch, P.tile, up_gemm_rows(P.tile) / ((double)P.tile * P.tile),
                P.fir_sep ? "separable" : "16", P.random_noise ? "random" : "const", P.tc_eff);
        fprintf(f, " \"devices\": [");
        for (int d = 0; d < NDEV; d++)
            fprintf(f, "%s{\"name\": \"%s\", \"fp16_tensor_tflops\": %g, \"fp32_tflops\": %g, "
                       "\"hbm_tbs\": %g}",
                    d ? ", " : "", devices[d].name, devices[d].tc_tflops, devices[d].fp32_tflops,
                    devices[d].bw_tbs);
        fprintf(f, "],\n \"networks\": [\n");
        for (int k = 0; k < 3; k++) {
            fprintf(f, "  {\"resolution\": %d, \"gflop_per_img\": %.6g, \"totals\": {", resolutions[k],
                    T[k].flops / P.batch / 1e9);
            for (int v = 0; v < NVAR; v++) {
                fprintf(f, "%s\"%s\": {\"mb_per_img\": %.6g", v ? ", " : "", var_names[v],
                        T[k].bytes[v] / P.batch / 1e6);
                for (int d = 0; d < NDEV; d++)
                    fprintf(f, ", \"%s img/s\": %.6g", devices[d].name, P.batch / T[k].sec[d][v]);
                fprintf(f, "}");
            }
            fprintf(f, "},\n   \"layers\": [\n");
            for (int i = 0; i < nl[k]; i++) {
                const layer *l = &L[k][i];
                fprintf(f, "    {\"block\": \"%s\", \"layer\": \"%s\", \"res\": %d, \"cin\": %d, "
                           "\"cout\": %d, \"flop\": %.6g, \"v1_kernels\": ",
                        l->block, l->name, l->res, l->cin, l->cout, l->flops);
                json_kern(f, l->v1, l->nv1);
                fprintf(f, ", \"v2_kernels\": ");
                json_kern(f, l->v2, l->nv2);
                fprintf(f, ", \"us_per_img\": {");
                for (int d = 0; d < NDEV; d++)
                    for (int v = 0; v < NVAR; v++)
                        fprintf(f, "%s\"%s %s\": %.6g", d || v ? ", " : "", devices[d].name,
                                var_names[v],
                                layer_time(l, &devices[d], v, P.tc_eff, NULL) / P.batch * 1e6);
                fprintf(f, "}}%s\n", i + 1 < nl[k] ? "," : "");
            }
            fprintf(f, "   ]}%s\n", k < 2 ? "," : "");
        }
        fprintf(f, " ]\n}\n");
        fclose(f);
    }
    return 0;
}
