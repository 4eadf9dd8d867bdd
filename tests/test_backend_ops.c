/* Every backend op, case by case from the one table of tests/backend_op_cases.h:
 *
 * "cpu" (every machine): the CPU backend against a naive reference written
 *   here straight from the formulas of engine/backend.h and the official
 *   StyleGAN2 / PyTorch semantics (plain loops, double accumulation), on
 *   fresh random inputs (never 0), relative L2 <= REF_TOL over the output, or
 *   over a random sample of it (half on the plane borders) where the whole
 *   reference would cost more than REF_BUDGET multiply-adds. Philox noise,
 *   uint8 conversion and copies bit for bit. The ops that take a plan
 *   (backend.h) run twice: with plan NULL and with a plan made once, as a
 *   model makes it at init. Cases too big for a quick CPU run (see
 *   heavy()) run here only with FS_TEST_HEAVY=1 (FS_TEST_HEAVY=0 leaves them out
 *   of the "gpu" case too, for compute-sanitizer).
 * "gpu" (tag gpu; SKIP without a device): every case, heavy ones included, on
 *   the CUDA backend against the CPU backend: fp32 relative L2 <= OP_TOL, the
 *   modconv cases and the e4e conv2d cases (tensor_cores set) also with
 *   tensor cores (TF32 <= TF32_TOL, FP16 and BF16 <=
 *   HALF_TOL), the exact ones bit for bit; FP16 operands beyond the FP16
 *   range; the per-layer choice of FS_CUDA_MIXED; invalid arguments.
 *
 * CUDA v2 (docs/precision.md): the modconv cases with fmt F16_NHWC or
 * BF16_NHWC, the styles, torgb and convert_features cases. On the CPU the
 * 16-bit outputs are checked against a reference that applies the same
 * roundings (the operand r(x r(s / smax)), r(W), y rounded once) and sums in
 * double: each element is r(want) but for at most 1% that float32 sums put
 * on the other side of a rounding boundary, which must then lie within one
 * ulp of the format of want (plus 1e-5 of the output's rms near 0); styles
 * (styles and dcoef each) and torgb (float32 math) within REF_TOL;
 * conversions bit for bit. On the GPU against the CPU: 16-bit outputs
 * within HALF_ULPS ulps plus HALF_FLOOR rms per element, styles and torgb
 * within OP_TOL, conversions and the exact noise cases bit for bit, and
 * feature_format as the CPU emulates it.
 *
 * Inputs come from one seed (a fresh one per run, printed; FS_TEST_SEED=0x...
 * replays it) and the case index, so a failing case replays alone.
 * FS_TEST_VERBOSE=1 prints every error measured.
 *
 *   build/tests/test_backend_ops --perf [--backend cpu|cuda] [--filter TEXT] [--batch N]
 *       [--reps N] [--threads N] [--precision fp32|tf32|fp16|bf16|mixed]
 * times each case (a case name or op name containing TEXT): median of --reps
 * runs after two warm-up runs, CUDA events on the backend's stream for CUDA,
 * the monotonic clock for the CPU, the layer's plan made before the timing;
 * prints GFLOP/s and GB/s (tensor bytes moved once). --batch replaces each
 * case's batch, as bench_cuda_layers does. */
#include "check_util.h"

#include <stdint.h>
#include <time.h>

#include "../engine/backend.h"
#include "../engine/dtype.h"
#include "../engine/rng.h"
#include "backend_op_cases.h"

#ifdef FS_WITH_CUDA
#include <cuda_runtime.h>

#include "../kernels/cuda_backend.h"
#endif

#define REF_TOL 1e-5  /* CPU backend (float32) against the double reference */
#define OP_TOL 1e-5   /* CUDA FP32 against the CPU: summation order and FMA only */
#define TF32_TOL 1e-3 /* tensor-core modconv against the CPU's float32 */
#define HALF_TOL 1e-2
/* CUDA v2's 16-bit feature outputs against the CPU's emulation of the same
 * roundings (docs/precision.md): every element within HALF_ULPS ulps of the
 * format plus HALF_FLOOR times the output's rms */
#define HALF_ULPS 2
#define HALF_FLOOR 1e-4
#define REF_BUDGET 2e7 /* reference multiply-adds per case before it samples */
#define REF_MAX_SAMPLES 100000

/* ---- random inputs ---------------------------------------------------------------------------- */

static uint64_t g_seed;

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in (lo, hi) on a grid of 2^24 points offset by half a step: with
 * lo = -hi never exactly 0, so a kernel that skips an input cannot pass. */
static float uniform(uint64_t *s, float lo, float hi)
{
    double u = ((double)(splitmix64(s) >> 40) + 0.5) / 16777216.0;
    return (float)(lo + (hi - lo) * u);
}

/* The inputs of case `index`: the same for every backend and every test. */
static uint64_t case_seed(int index)
{
    uint64_t s = g_seed ^ ((uint64_t)(index + 1) * 0xd1b54a32d192ed03ull);
    return splitmix64(&s);
}

static void seed_init(void)
{
    if (getenv("FS_TEST_SEED")) { /* replay a failure */
        g_seed = strtoull(getenv("FS_TEST_SEED"), NULL, 0);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t s = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^
                 ((uint64_t)getpid() << 40);
    g_seed = splitmix64(&s);
}

/* ---- a case instance: its tensors on the host ------------------------------------------------- */

/* Slots; what each holds depends on the op (see inst_make). */
enum { X, W, B, S, AUX, FIR, D, Y, NSLOT };

typedef struct {
    float xr, wr, slo, shi; /* modconv: x in +-xr, W in +-wr, styles in (slo, shi) */
} ranges;

static const ranges default_ranges = {1, 1, -1.5f, 2.5f};

typedef struct {
    fs_op_case c;   /* a copy, with the batch n of this run */
    int oh, ow, fl;
    size_t bytes[NSLOT];
    void *h[NSLOT]; /* initial contents; the output slot too (random: a skipped
                       element keeps a value the reference overwrites) */
    int out;        /* the slot the op writes; X for the in-place ops */
    int out_u8;     /* to_uint8: bytes, not floats */
    int out_es;     /* bytes per output element: 1, 2 (a 16-bit feature format) or 4 */
    fs_feat_format out_fmt; /* the output's format where out_es is 2 */
    size_t split;   /* styles: the dcoef part of the output starts here (elements) */
    /* styles: the layers (fs_opc_style_layers) and each one's offsets in the
     * concatenated affine weights (W), biases (B) and conv weights (AUX) and
     * its style_off / dcoef_off */
    fs_opc_style_layer sl[FS_OPC_MAX_STYLE_LAYERS];
    size_t aw_off[FS_OPC_MAX_STYLE_LAYERS], ab_off[FS_OPC_MAX_STYLE_LAYERS];
    size_t cw_off[FS_OPC_MAX_STYLE_LAYERS], st_off[FS_OPC_MAX_STYLE_LAYERS];
    size_t dc_off[FS_OPC_MAX_STYLE_LAYERS];
    int nsl, num_ws;
    size_t sum_cin, sum_cout;
    size_t out_len; /* elements */
    size_t xoff;    /* fc: row0 of each sample's ws rows */
    uint64_t *seeds; /* modconv noise seeds, host memory as the generator passes them */
    uint32_t stream;
    float strength;
    int fp16;       /* fs_modconv_args.fp16 */
} inst;

#define F(I, slot) ((float *)(I)->h[slot])

/* Sizes in floats of each slot for op c at batch n (Y of to_uint8: bytes). */
static void inst_sizes(const fs_op_case *c, int n, size_t len[NSLOT], int *out)
{
    int oh, ow;
    fs_opc_out_hw(c, &oh, &ow);
    size_t plane = (size_t)c->h * c->w, oplane = (size_t)oh * ow;
    int fl = fs_opc_fir_len(c);
    memset(len, 0, NSLOT * sizeof *len);
    *out = Y;
    switch (c->op) {
    case FS_CASE_FC:
        len[X] = (size_t)n * (c->rows ? c->rows : 1) * c->cin;
        len[W] = (size_t)c->cout * c->cin;
        len[B] = c->no_bias ? 0 : (size_t)c->cout;
        len[Y] = (size_t)n * c->cout;
        break;
    case FS_CASE_NORMALIZE_2ND_MOMENT:
        len[X] = (size_t)n * c->cin;
        *out = X;
        break;
    case FS_CASE_LERP_ROWS:
        len[X] = (size_t)n * c->rows * c->cin;
        len[S] = (size_t)c->cin;
        *out = X;
        break;
    case FS_CASE_MODCONV:
        len[X] = (size_t)n * c->cin * plane;
        len[W] = (size_t)c->cout * c->cin * c->k * c->k;
        len[S] = (size_t)n * c->cin;
        len[B] = (size_t)c->cout;
        len[AUX] = oplane; /* noise_const */
        len[FIR] = (size_t)fl * fl;
        len[D] = c->dcoef ? (size_t)n * c->cout : 0;
        len[Y] = (size_t)n * c->cout * oplane;
        break;
    case FS_CASE_STYLES: { /* ws in X, affines in W and B, conv weights in AUX;
                              Y: the styles, then dcoef */
        fs_opc_style_layer l[FS_OPC_MAX_STYLE_LAYERS];
        int nws, nl = fs_opc_style_layers(c, l, FS_OPC_MAX_STYLE_LAYERS, &nws);
        len[X] = (size_t)n * nws * c->k;
        for (int i = 0; i < nl; i++) {
            len[W] += (size_t)l[i].cin * c->k;
            len[B] += (size_t)l[i].cin;
            len[AUX] += (size_t)l[i].cout * l[i].cin * l[i].k * l[i].k;
            len[Y] += (size_t)n * (l[i].cin + (l[i].demod ? l[i].cout : 0));
        }
        break;
    }
    case FS_CASE_TORGB: /* features in X, weight W, styles S, bias B, img_prev AUX */
        len[X] = (size_t)n * c->cin * plane;
        len[W] = (size_t)c->cout * c->cin;
        len[S] = (size_t)n * c->cin;
        len[B] = (size_t)c->cout;
        len[AUX] = c->up ? (size_t)n * c->cout * (c->h / 2) * (c->w / 2) : 0;
        len[FIR] = (size_t)fl * fl;
        len[Y] = (size_t)n * c->cout * plane;
        break;
    case FS_CASE_CONVERT_FEATURES:
        len[X] = len[Y] = (size_t)n * c->cin * plane;
        break;
    case FS_CASE_CONV2D:
        len[X] = (size_t)n * c->cin * plane;
        len[W] = (size_t)c->cout * c->cin * c->k * c->k;
        len[B] = c->no_bias ? 0 : (size_t)c->cout;
        len[FIR] = c->down == 2 ? (size_t)fl * fl : 0;
        len[Y] = (size_t)n * c->cout * oplane;
        break;
    case FS_CASE_UPFIRDN2D:
        len[X] = (size_t)n * c->cin * plane;
        len[FIR] = (size_t)fl * fl;
        len[Y] = (size_t)n * c->cin * oplane;
        break;
    case FS_CASE_BIAS_ACT:
        len[X] = (size_t)n * c->cin * plane;
        len[B] = c->no_bias ? 0 : (size_t)c->cin;
        *out = X;
        break;
    case FS_CASE_AXPBY: /* y (in place) in X, x in S */
        len[X] = len[S] = (size_t)n * c->cin * plane;
        *out = X;
        break;
    case FS_CASE_MBSTD:
        len[X] = (size_t)n * c->cin * plane;
        len[Y] = (size_t)n * (c->cin + c->f) * plane;
        break;
    case FS_CASE_PROJECT: /* cmap in S */
        len[X] = len[S] = (size_t)n * c->cin;
        len[Y] = (size_t)n;
        break;
    case FS_CASE_CONV_TRANSPOSE2D:
        len[X] = (size_t)n * c->cin * plane;
        len[W] = (size_t)c->cin * c->cout * c->k * c->k;
        len[B] = c->no_bias ? 0 : (size_t)c->cout;
        len[Y] = (size_t)n * c->cout * oplane;
        break;
    case FS_CASE_INSTANCE_NORM: /* affine weight in W, bias in B */
        len[X] = (size_t)n * c->cin * plane;
        len[W] = len[B] = c->no_bias ? 0 : (size_t)c->cin;
        *out = X;
        break;
    case FS_CASE_AVG_POOL2D:
        len[X] = (size_t)n * c->cin * plane;
        len[Y] = (size_t)n * c->cin * oplane;
        break;
    case FS_CASE_TO_UINT8:
        len[X] = (size_t)n * c->cin * plane;
        len[Y] = (size_t)n * c->cin * plane;
        break;
    case FS_CASE_COPY_ROWS: /* src in X, dst in Y */
        len[X] = c->lds ? (size_t)n * c->lds : (size_t)c->cin;
        len[Y] = (size_t)n * c->ldd;
        break;
    case FS_CASE_CHANNEL_AFFINE: /* scale in W, shift in B, slopes in S */
        len[X] = len[Y] = (size_t)n * c->cin * plane;
        len[W] = len[B] = c->no_bias ? 0 : (size_t)c->cin;
        len[S] = c->prelu ? (size_t)c->cin : 0;
        break;
    case FS_CASE_SE_RESIDUAL: { /* r in X, shortcut in AUX, fc1 in W, fc2 in S */
        size_t sh = (size_t)(c->h - 1) * c->stride + 1 + c->out_h;
        size_t sw = (size_t)(c->w - 1) * c->stride + 1 + c->out_h;
        len[X] = len[Y] = (size_t)n * c->cin * plane;
        len[AUX] = (size_t)n * c->cin * sh * sw;
        len[W] = len[S] = (size_t)c->cin * c->cout;
        break;
    }
    case FS_CASE_UPSAMPLE_ADD: /* x in X, y (added to) in Y */
        len[X] = (size_t)n * c->cin * plane;
        len[Y] = (size_t)n * c->cin * oplane;
        break;
    case FS_CASE_MAX_FEATURE_MAP: /* cin output channels from 2 cin */
        len[X] = (size_t)n * 2 * c->cin * plane;
        len[Y] = (size_t)n * c->cin * plane;
        break;
    case FS_CASE_MAX_POOL2D:
    case FS_CASE_ADAPTIVE_AVG_POOL2D:
        len[X] = (size_t)n * c->cin * plane;
        len[Y] = (size_t)n * c->cin * oplane;
        break;
    case FS_CASE_BLEND: /* bytes: a in X, b in S, y in Y; the weights (floats) in W */
        len[X] = len[S] = len[Y] = (size_t)n * c->cin * plane;
        len[W] = (size_t)n;
        break;
    default: break;
    }
}

/* 1 where slot k of op c holds bytes, not floats. */
static int slot_u8(const fs_op_case *c, int k)
{
    return (c->op == FS_CASE_TO_UINT8 && k == Y) ||
           (c->op == FS_CASE_BLEND && (k == X || k == S || k == Y));
}

/* The feature format of slot k: the 16-bit ones hold uint16 NHWC. */
static fs_feat_format slot_fmt(const fs_op_case *c, int k)
{
    switch (c->op) {
    case FS_CASE_MODCONV: return k == X || k == Y ? c->fmt : FS_FEAT_F32_NCHW;
    case FS_CASE_TORGB: return k == X ? c->fmt : FS_FEAT_F32_NCHW;
    case FS_CASE_CONVERT_FEATURES: return k == X ? c->fmt : k == Y ? c->fmt2 : FS_FEAT_F32_NCHW;
    default: return FS_FEAT_F32_NCHW;
    }
}

static size_t slot_esize(const fs_op_case *c, int k)
{
    return slot_u8(c, k) ? 1 : slot_fmt(c, k) != FS_FEAT_F32_NCHW ? 2 : sizeof(float);
}

static size_t inst_total_bytes(const fs_op_case *c, int n)
{
    size_t len[NSLOT], total = 0;
    int out;
    inst_sizes(c, n, len, &out);
    for (int k = 0; k < NSLOT; k++)
        total += len[k] * slot_esize(c, k);
    return total;
}

/* ---- the 16-bit formats ------------------------------------------------------------------------ */

static uint16_t half_round(fs_feat_format f, float v)
{
    return f == FS_FEAT_BF16_NHWC ? fs_f32_to_bf16(v) : fs_f32_to_f16(v);
}

static float half_value(fs_feat_format f, uint16_t h)
{
    return f == FS_FEAT_BF16_NHWC ? fs_bf16_to_f32(h) : fs_f16_to_f32(h);
}

static float half_r(fs_feat_format f, float v) { return half_value(f, half_round(f, v)); }

/* One unit in the last place of the format at |v| (subnormal spacing below
 * the smallest normal). */
static double half_ulp(fs_feat_format f, double v)
{
    int e;
    frexp(fabs(v), &e); /* |v| = m 2^e, m in [0.5, 1): floor(log2 |v|) = e - 1 */
    int lo = f == FS_FEAT_BF16_NHWC ? -126 : -14, bits = f == FS_FEAT_BF16_NHWC ? 7 : 10;
    e = v == 0 || e - 1 < lo ? lo : e - 1;
    return ldexp(1.0, e - bits);
}

/* Too big for the default CPU run (2 cores, a few seconds for the suite):
 * over 3 GFLOP (a twentieth of a second of the CPU backend, seconds of
 * reference) or over 64 MB of tensors. They run against the CUDA backend on a GPU machine, and
 * against the reference with FS_TEST_HEAVY=1. */
static int heavy(const fs_op_case *c)
{
    return fs_opc_flops(c, c->n) > 3e9 || inst_total_bytes(c, c->n) > (size_t)64 << 20;
}

static void fill(uint64_t *s, float *p, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = uniform(s, lo, hi);
}

/* to_uint8 inputs: random values over and past [-1, 1], every value that
 * lands exactly on an integer after x * 127.5f + 128 and its float
 * neighbours (where an FMA or another rounding order changes the byte), NaN,
 * +-inf, +-0, huge and tiny values; shuffled so every channel sees them. */
static void fill_uint8_inputs(uint64_t *s, float *x, size_t total)
{
    static const float specials[] = {0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, 1e30f,
                                     -1e30f, 1e-30f, -1e-30f, 127.0f / 127.5f, -128.0f / 127.5f};
    size_t i = 0;
    for (size_t k = 0; k < sizeof specials / sizeof *specials && i < total; k++)
        x[i++] = specials[k];
    if (i < total)
        x[i++] = NAN;
    for (int k = 0; k <= 256 && i + 3 <= total; k++) {
        float v = ((float)k - 128.0f) / 127.5f;
        x[i++] = v;
        x[i++] = nextafterf(v, -INFINITY);
        x[i++] = nextafterf(v, INFINITY);
    }
    while (i < total)
        x[i++] = uniform(s, -1.1f, 1.1f);
    for (size_t k = total; k > 1; k--) {
        size_t j = splitmix64(s) % k;
        float t = x[k - 1];
        x[k - 1] = x[j];
        x[j] = t;
    }
}

/* StyleGAN's [1, 3, 3, 1] outer product normalised to sum 1; random 1: a
 * random non-separable filter, 2: the outer product of two different random
 * taps (separable, asymmetric), where flipping it or not shows. */
static void fill_fir(uint64_t *s, float *f, int fl, int random)
{
    static const double t4[4] = {1, 3, 3, 1};
    float v[32], h[32];
    for (int i = 0; i < fl; i++) {
        v[i] = uniform(s, 0.1f, 1.0f);
        h[i] = uniform(s, -0.3f, 1.0f);
    }
    for (int y = 0; y < fl; y++)
        for (int x = 0; x < fl; x++)
            f[y * fl + x] = random == 2                ? v[y] * h[x]
                            : random || fl != 4 ? uniform(s, -0.2f, 0.5f)
                                                : (float)(t4[y] * t4[x] / 64.0);
}

/* Uniform in (lo, hi), rounded to a 16-bit format. */
static void fill16(uint64_t *s, uint16_t *p, size_t n, float lo, float hi, fs_feat_format f)
{
    for (size_t i = 0; i < n; i++)
        p[i] = half_round(f, uniform(s, lo, hi));
}

/* convert_features from float32 to fp16 past its range: overflow to inf,
 * the largest finite, subnormals and the ties between them, inf; then
 * magnitudes spread over 2^-26 .. 2^17. */
static void fill_range(uint64_t *s, float *x, size_t total)
{
    static const float sp[] = {70000.0f, -70000.0f, 65519.0f, -65520.0f, 65504.0f, 1e-6f,
                               -6e-8f, 2.98023224e-8f, -8.94069672e-8f, INFINITY, -INFINITY,
                               6.1035156e-5f, 6.1e-5f};
    size_t i = 0;
    for (; i < sizeof sp / sizeof *sp && i < total; i++)
        x[i] = sp[i];
    for (; i < total; i++)
        x[i] = (splitmix64(s) & 1 ? -1.0f : 1.0f) * ldexpf(uniform(s, 1.0f, 2.0f),
                                                           (int)(splitmix64(s) % 44) - 27);
}

static int inst_make(inst *I, const fs_op_case *c, int n, uint64_t seed, const ranges *rg)
{
    memset(I, 0, sizeof *I);
    I->c = *c;
    I->c.n = n;
    c = &I->c;
    fs_opc_out_hw(c, &I->oh, &I->ow);
    I->fl = fs_opc_fir_len(c);
    size_t len[NSLOT];
    inst_sizes(c, n, len, &I->out);
    I->out_u8 = slot_u8(c, I->out);
    I->out_es = (int)slot_esize(c, I->out);
    I->out_fmt = slot_fmt(c, I->out);
    I->out_len = len[I->out];
    uint64_t s = seed;
    for (int k = 0; k < NSLOT; k++) {
        if (!len[k])
            continue;
        I->bytes[k] = len[k] * slot_esize(c, k);
        I->h[k] = malloc(I->bytes[k]);
        if (!I->h[k])
            return 0;
    }
    /* defaults: inputs in +-1, outputs prefilled in +-1 (16-bit slots: rounded) */
    for (int k = 0; k < NSLOT; k++)
        if (len[k] && slot_esize(c, k) == 2)
            fill16(&s, I->h[k], len[k], -1, 1, slot_fmt(c, k));
        else if (len[k] && !slot_u8(c, k))
            fill(&s, F(I, k), len[k], -1, 1);
    switch (c->op) {
    case FS_CASE_FC:
        fill(&s, F(I, W), len[W], -2, 2);
        I->xoff = c->rows ? (size_t)c->row0 * c->cin : 0;
        break;
    case FS_CASE_NORMALIZE_2ND_MOMENT: fill(&s, F(I, X), len[X], -3, 3); break;
    case FS_CASE_LERP_ROWS: fill(&s, F(I, X), len[X], -2, 2); break;
    case FS_CASE_MODCONV: {
        float xr = c->srange ? 250 : rg->xr;
        if (c->fmt)
            fill16(&s, I->h[X], len[X], -xr, xr, c->fmt);
        else
            fill(&s, F(I, X), len[X], -xr, xr);
        fill(&s, F(I, W), len[W], -rg->wr, rg->wr);
        if (c->srange)
            fill(&s, F(I, S), len[S], -c->srange, c->srange);
        else
            fill(&s, F(I, S), len[S], rg->slo, rg->shi);
        if (len[D]) /* any positive d: the output shows whether the op used it */
            fill(&s, F(I, D), len[D], 0.5f / sqrtf((float)c->cin * c->k * c->k),
                 1.5f / sqrtf((float)c->cin * c->k * c->k));
        fill(&s, F(I, B), len[B], -0.5f, 0.5f);
        fill(&s, F(I, AUX), len[AUX], -2, 2);
        fill_fir(&s, F(I, FIR), I->fl, c->random_fir);
        I->seeds = malloc((size_t)n * sizeof *I->seeds);
        if (!I->seeds)
            return 0;
        for (int i = 0; i < n; i++) /* one seed below 2^32: the high key word 0 */
            I->seeds[i] = i == 1 ? splitmix64(&s) & 0xffffffffu : splitmix64(&s);
        I->stream = (uint32_t)splitmix64(&s);
        I->strength = uniform(&s, 0.1f, 1.0f);
        if (c->exact) { /* the output is the noise: weight 0, bias 0, strength 1 */
            memset(I->h[W], 0, I->bytes[W]);
            memset(I->h[B], 0, I->bytes[B]);
            I->strength = 1.0f;
        }
        break;
    }
    case FS_CASE_STYLES: {
        I->nsl = fs_opc_style_layers(c, I->sl, FS_OPC_MAX_STYLE_LAYERS, &I->num_ws);
        size_t aw = 0, ab = 0, cw = 0;
        for (int l = 0; l < I->nsl; l++) {
            const fs_opc_style_layer *L = &I->sl[l];
            I->aw_off[l] = aw;
            I->ab_off[l] = ab;
            I->cw_off[l] = cw;
            I->st_off[l] = I->sum_cin;
            I->dc_off[l] = I->sum_cout;
            aw += (size_t)L->cin * c->k;
            ab += (size_t)L->cin;
            cw += (size_t)L->cout * L->cin * L->k * L->k;
            I->sum_cin += (size_t)L->cin;
            I->sum_cout += L->demod ? (size_t)L->cout : 0;
        }
        I->split = (size_t)n * I->sum_cin;
        fill(&s, F(I, X), len[X], -2, 2);
        fill(&s, F(I, W), len[W], -2, 2);
        fill(&s, F(I, B), len[B], 0.5f, 1.5f); /* the affine biases sit near 1 */
        break;
    }
    case FS_CASE_TORGB:
        fill(&s, F(I, S), len[S], -1.5f / sqrtf((float)c->cin), 2.5f / sqrtf((float)c->cin));
        fill(&s, F(I, B), len[B], -0.5f, 0.5f);
        fill_fir(&s, F(I, FIR), I->fl, c->random_fir);
        break;
    case FS_CASE_CONVERT_FEATURES:
        if (strstr(c->name, ".range"))
            fill_range(&s, F(I, X), len[X]);
        else if (!c->fmt)
            fill(&s, F(I, X), len[X], -3, 3);
        break;
    case FS_CASE_CONV2D:
        fill(&s, F(I, B), len[B], -0.5f, 0.5f);
        if (len[FIR])
            fill_fir(&s, F(I, FIR), I->fl, c->random_fir);
        break;
    case FS_CASE_UPFIRDN2D: fill_fir(&s, F(I, FIR), I->fl, c->random_fir); break;
    case FS_CASE_BIAS_ACT: fill(&s, F(I, X), len[X], -2, 2); break;
    case FS_CASE_MBSTD: fill(&s, F(I, X), len[X], -2, 2); break;
    case FS_CASE_CONV_TRANSPOSE2D: fill(&s, F(I, B), len[B], -0.5f, 0.5f); break;
    case FS_CASE_INSTANCE_NORM:
        fill(&s, F(I, X), len[X], 0.5f, 2.5f); /* mean far from 0 */
        fill(&s, F(I, W), len[W], 0.5f, 1.5f);
        break;
    case FS_CASE_CHANNEL_AFFINE:
        fill(&s, F(I, X), len[X], -2, 2);
        if (len[W]) {
            fill(&s, F(I, W), len[W], 0.2f, 1.5f);
            fill(&s, F(I, B), len[B], -0.5f, 0.5f);
        }
        if (len[S])
            fill(&s, F(I, S), len[S], 0.05f, 0.5f);
        break;
    case FS_CASE_SE_RESIDUAL:
        /* channel means away from 0, weights scaled so the gates spread over (0, 1) */
        fill(&s, F(I, X), len[X], -0.5f, 1.5f);
        fill(&s, F(I, W), len[W], -2.0f / sqrtf((float)c->cin), 2.0f / sqrtf((float)c->cin));
        fill(&s, F(I, S), len[S], -3.0f / sqrtf((float)c->cout), 3.0f / sqrtf((float)c->cout));
        break;
    case FS_CASE_TO_UINT8:
        fill_uint8_inputs(&s, F(I, X), len[X]);
        for (size_t i = 0; i < len[Y]; i++)
            ((uint8_t *)I->h[Y])[i] = (uint8_t)splitmix64(&s);
        break;
    case FS_CASE_BLEND: {
        /* random bytes; weights 0, 1 and 1/2 (with an odd a + b the sum lands
         * on .5 and the rounding half up shows) first, then uniform in [0, 1] */
        static const float edge_w[] = {0.0f, 1.0f, 0.5f};
        for (int k = X; k <= Y; k++)
            if (slot_u8(c, k))
                for (size_t i = 0; i < len[k]; i++)
                    ((uint8_t *)I->h[k])[i] = (uint8_t)splitmix64(&s);
        for (size_t i = 0; i < len[W]; i++)
            F(I, W)[i] = i < 3 ? edge_w[i] : uniform(&s, 0.0f, 1.0f);
        break;
    }
    default: break;
    }
    return 1;
}

static void inst_free(inst *I)
{
    for (int k = 0; k < NSLOT; k++)
        free(I->h[k]);
    free(I->seeds);
    memset(I, 0, sizeof *I);
}

/* ---- running a case on a backend ------------------------------------------------------------------ */

typedef struct {
    void *p[NSLOT];
} dev;

static void dev_free(fs_backend *be, dev *d)
{
    for (int k = 0; k < NSLOT; k++)
        if (d->p[k])
            be->ops->release(be, d->p[k]);
    memset(d, 0, sizeof *d);
}

static fs_status dev_upload(fs_backend *be, const inst *I, dev *d)
{
    memset(d, 0, sizeof *d);
    for (int k = 0; k < NSLOT; k++) {
        if (!I->bytes[k])
            continue;
        d->p[k] = be->ops->alloc(be, I->bytes[k]);
        if (!d->p[k]) {
            dev_free(be, d);
            return fs_error(FS_ERR_NOMEM, "%s: cannot allocate %zu bytes", be->ops->name,
                            I->bytes[k]);
        }
        fs_status s = be->ops->upload(be, d->p[k], I->h[k], I->bytes[k]);
        if (s != FS_OK) {
            dev_free(be, d);
            return s;
        }
    }
    return FS_OK;
}

/* The arguments of the ops that take a plan, from the case (designated
 * initialisers: the arg structs may grow). */
typedef struct {
    union {
        fs_fc_args fc;
        fs_modconv_args mc;
        fs_conv2d_args cv;
        fs_conv_transpose2d_args ct;
        fs_upfirdn2d_args ud;
        fs_styles_args st;
    };
    fs_style_layer layers[FS_OPC_MAX_STYLE_LAYERS]; /* styles: host descriptors */
} plan_args;

static int plan_kind(const fs_op_case *c, fs_op_kind *kind)
{
    switch (c->op) {
    case FS_CASE_FC: *kind = FS_OP_FC; return 1;
    case FS_CASE_MODCONV: *kind = FS_OP_MODCONV; return 1;
    case FS_CASE_CONV2D: *kind = FS_OP_CONV2D; return 1;
    case FS_CASE_CONV_TRANSPOSE2D: *kind = FS_OP_CONV_TRANSPOSE2D; return 1;
    case FS_CASE_UPFIRDN2D: *kind = FS_OP_UPFIRDN2D; return 1;
    case FS_CASE_STYLES: *kind = FS_OP_STYLES; return 1;
    default: return 0;
    }
}

static void plan_args_of(const inst *I, const dev *d, const fs_plan *plan, plan_args *a)
{
    const fs_op_case *c = &I->c;
    float *x = d->p[X], *w = d->p[W], *b = d->p[B], *s = d->p[S], *aux = d->p[AUX];
    float *fir = d->p[FIR], *y = d->p[Y];
    int n = c->n;
    memset(a, 0, sizeof *a);
    switch (c->op) {
    case FS_CASE_FC:
        a->fc = (fs_fc_args){.x = x + I->xoff, .ldx = c->rows ? c->rows * c->cin : 0, .w = w,
                             .b = b, .y = y, .n = n, .in = c->cin, .out = c->cout,
                             .weight_gain = fs_opc_wgain(c),
                             .bias_gain = c->bgain ? c->bgain : 1.0f, .gain = fs_opc_gain(c),
                             .clamp = c->clamp, .act = c->act, .plan = plan};
        break;
    case FS_CASE_MODCONV:
        a->mc = (fs_modconv_args){.x = x, .weight = w, .styles = s, .b = b, .y = y, .n = n,
                                  .cin = c->cin, .cout = c->cout, .h = c->h, .w = c->w,
                                  .k = c->k, .up = c->up, .demodulate = c->demod, .fir = fir,
                                  .fir_len = I->fl, .noise_mode = c->noise, .noise_const = aux,
                                  .noise_strength = I->strength, .noise_seeds = I->seeds,
                                  .noise_stream = I->stream, .act = c->act,
                                  .gain = fs_opc_gain(c), .clamp = c->clamp, .fp16 = I->fp16,
                                  .fmt = c->fmt, .dcoef = d->p[D], .plan = plan};
        if (c->fmt) { /* 16-bit NHWC features in the same slots */
            a->mc.x = NULL;
            a->mc.y = NULL;
            a->mc.x16 = d->p[X];
            a->mc.y16 = d->p[Y];
        }
        break;
    case FS_CASE_STYLES: {
        for (int l = 0; l < I->nsl; l++) {
            const fs_opc_style_layer *L = &I->sl[l];
            a->layers[l] = (fs_style_layer){
                .affine_w = w + I->aw_off[l], .affine_b = b + I->ab_off[l],
                .weight = aux + I->cw_off[l], .cin = L->cin, .cout = L->cout, .k = L->k,
                .w_index = L->w_index, .demodulate = L->demod,
                .weight_gain = 1.0f / sqrtf((float)c->k),
                .gain = L->demod ? 1.0f : 1.0f / sqrtf((float)L->cin),
                .style_off = I->st_off[l], .dcoef_off = I->dc_off[l]};
        }
        a->st = (fs_styles_args){.layers = a->layers, .n_layers = I->nsl, .ws = x, .n = n,
                                 .num_ws = I->num_ws, .w_dim = c->k, .styles = y,
                                 .dcoef = y ? y + I->split : NULL, .plan = plan};
        break;
    }
    case FS_CASE_CONV2D:
        a->cv = (fs_conv2d_args){.x = x, .weight = w, .b = b, .y = y, .n = n, .cin = c->cin,
                                 .cout = c->cout, .h = c->h, .w = c->w, .k = c->k,
                                 .down = c->down, .fir = fir, .fir_len = fir ? I->fl : 0,
                                 .weight_gain = fs_opc_wgain(c), .gain = fs_opc_gain(c),
                                 .clamp = c->clamp, .act = c->act, .stride = c->stride,
                                 .pad = c->pad, .tensor_cores = c->tensor_cores, .plan = plan};
        break;
    case FS_CASE_CONV_TRANSPOSE2D:
        a->ct = (fs_conv_transpose2d_args){.x = x, .weight = w, .b = b, .y = y, .n = n,
                                           .cin = c->cin, .cout = c->cout, .h = c->h,
                                           .w = c->w, .k = c->k, .stride = c->stride,
                                           .pad = c->pad, .plan = plan};
        break;
    case FS_CASE_UPFIRDN2D:
        a->ud = (fs_upfirdn2d_args){.x = x, .y = y, .nc = n * c->cin, .h = c->h, .w = c->w,
                                    .up = c->up, .down = c->down, .pad0 = c->pad,
                                    .pad1 = c->pad1, .fir = fir, .fir_len = I->fl,
                                    .gain = fs_opc_gain(c), .plan = plan};
        break;
    default: break;
    }
}

/* The layer's plan, made as a model makes it at init (after the weights are
 * in backend memory); NULL for ops without plans and where the backend
 * needs none. */
static fs_status make_plan(fs_backend *be, const inst *I, const dev *d, fs_plan **out)
{
    *out = NULL;
    fs_op_kind kind;
    if (!plan_kind(&I->c, &kind))
        return FS_OK;
    plan_args a;
    plan_args_of(I, d, NULL, &a);
    return be->ops->plan(be, kind, &a, out);
}

/* The op itself; plan NULL: the op prepares what it needs per call. */
static fs_status launch(fs_backend *be, const inst *I, const dev *d, const fs_plan *plan)
{
    const fs_op_case *c = &I->c;
    float *x = d->p[X], *w = d->p[W], *b = d->p[B], *s = d->p[S], *y = d->p[Y];
    int n = c->n;
    plan_args a;
    plan_args_of(I, d, plan, &a);
    switch (c->op) {
    case FS_CASE_FC: return be->ops->fc(be, &a.fc);
    case FS_CASE_MODCONV: return be->ops->modconv(be, &a.mc);
    case FS_CASE_CONV2D: return be->ops->conv2d(be, &a.cv);
    case FS_CASE_CONV_TRANSPOSE2D: return be->ops->conv_transpose2d(be, &a.ct);
    case FS_CASE_UPFIRDN2D: return be->ops->upfirdn2d(be, &a.ud);
    case FS_CASE_STYLES: return be->ops->styles(be, &a.st);
    case FS_CASE_TORGB:
        return be->ops->torgb(be, &(fs_torgb_args){
            .fmt = c->fmt, .x = c->fmt ? NULL : x, .x16 = c->fmt ? d->p[X] : NULL, .weight = w,
            .styles = s, .b = b, .img_prev = d->p[AUX], .img = y, .fir = d->p[FIR],
            .fir_len = I->fl, .n = n, .cin = c->cin, .cout = c->cout, .h = c->h, .w = c->w,
            .clamp = c->clamp});
    case FS_CASE_CONVERT_FEATURES:
        return be->ops->convert_features(be, &(fs_convert_features_args){
            .xfmt = c->fmt, .yfmt = c->fmt2, .x = d->p[X], .y = d->p[Y], .n = n, .c = c->cin,
            .hw = (size_t)c->h * c->w});
    case FS_CASE_NORMALIZE_2ND_MOMENT: return be->ops->normalize_2nd_moment(be, x, n, c->cin);
    case FS_CASE_LERP_ROWS:
        return be->ops->lerp_rows(be, x, s, n, c->rows, c->cin, c->row0, c->row1, c->t);
    case FS_CASE_BIAS_ACT:
        return be->ops->bias_act(be, x, b, n, c->cin, (size_t)c->h * c->w, c->act,
                                 fs_opc_gain(c), c->clamp);
    case FS_CASE_AXPBY:
        return be->ops->axpby(be, x, s, (size_t)n * c->cin * c->h * c->w, c->t, c->xs);
    case FS_CASE_MBSTD: return be->ops->mbstd(be, x, y, n, c->cin, c->h, c->w, c->group, c->f);
    case FS_CASE_PROJECT: return be->ops->project(be, x, s, y, n, c->cin, fs_opc_gain(c));
    case FS_CASE_INSTANCE_NORM:
        return be->ops->instance_norm(be, x, w, b, n, c->cin, (size_t)c->h * c->w, c->eps,
                                      c->act);
    case FS_CASE_AVG_POOL2D:
        return be->ops->avg_pool2d(be, x, y, n * c->cin, c->h, c->w, c->k, c->stride, c->pad);
    case FS_CASE_TO_UINT8: return be->ops->to_uint8(be, x, d->p[Y], n, c->cin, c->h, c->w);
    case FS_CASE_COPY_ROWS:
        return be->ops->copy_rows(be, y + c->row0, (size_t)c->ldd, x, (size_t)c->lds,
                                  (size_t)n, (size_t)c->cin);
    case FS_CASE_CHANNEL_AFFINE:
        return be->ops->channel_affine(be, &(fs_channel_affine_args){
            .x = x, .y = y, .n = n, .c = c->cin, .hw = (size_t)c->h * c->w, .scale = w,
            .shift = b, .slope = s});
    case FS_CASE_SE_RESIDUAL:
        return be->ops->se_residual(be, &(fs_se_residual_args){
            .r = x, .sc = d->p[AUX], .fc1 = w, .fc2 = s, .y = y, .n = n, .c = c->cin,
            .cr = c->cout, .h = c->h, .w = c->w, .sc_stride = c->stride,
            .sc_h = (c->h - 1) * c->stride + 1 + c->out_h,
            .sc_w = (c->w - 1) * c->stride + 1 + c->out_h});
    case FS_CASE_UPSAMPLE_ADD:
        return be->ops->upsample_add(be, &(fs_upsample_add_args){
            .x = x, .y = y, .nc = n * c->cin, .h = c->h, .w = c->w, .oh = c->out_h,
            .ow = c->out_w});
    case FS_CASE_MAX_FEATURE_MAP:
        return be->ops->max_feature_map(be, &(fs_max_feature_map_args){
            .x = x, .y = y, .n = n, .c = c->cin, .hw = (size_t)c->h * c->w});
    case FS_CASE_MAX_POOL2D:
        return be->ops->max_pool2d(be, &(fs_max_pool2d_args){
            .x = x, .y = y, .nc = n * c->cin, .h = c->h, .w = c->w, .k = c->k,
            .stride = c->stride, .pad = c->pad, .ceil_mode = c->ceil_mode});
    case FS_CASE_ADAPTIVE_AVG_POOL2D:
        return be->ops->adaptive_avg_pool2d(be, &(fs_adaptive_avg_pool2d_args){
            .x = x, .y = y, .nc = n * c->cin, .h = c->h, .w = c->w, .y0 = c->win_y0,
            .x0 = c->win_x0, .ih = c->win_h ? c->win_h : c->h, .iw = c->win_w ? c->win_w : c->w,
            .oh = c->out_h, .ow = c->out_w});
    case FS_CASE_BLEND:
        return be->ops->blend(be, &(fs_blend_args){
            .a = d->p[X], .b = d->p[S], .w = w, .y = d->p[Y], .n = n,
            .len = (size_t)c->cin * c->h * c->w});
    default: return fs_error(FS_ERR_ARG, "unknown op %d", (int)c->op);
    }
}

static size_t out_bytes(const inst *I) { return I->bytes[I->out]; }

/* Uploads, runs (with the layer's plan when `planned`), downloads the
 * output into a new host buffer. */
static void *run_on(fs_backend *be, const inst *I, int planned)
{
    const char *how = planned ? "planned" : "unplanned";
    dev d;
    fs_status s = dev_upload(be, I, &d);
    ck_assert_msg(s == FS_OK, "%s: %s: upload: %s", I->c.name, be->ops->name, fs_error_message());
    fs_plan *plan = NULL;
    if (planned) {
        s = make_plan(be, I, &d, &plan);
        ck_assert_msg(s == FS_OK, "%s: %s: plan: %s", I->c.name, be->ops->name,
                      fs_error_message());
    }
    s = launch(be, I, &d, plan);
    ck_assert_msg(s == FS_OK, "%s: %s %s: %s", I->c.name, be->ops->name, how, fs_error_message());
    void *out = malloc(out_bytes(I));
    ck_assert_ptr_nonnull(out);
    s = be->ops->download(be, out, d.p[I->out], out_bytes(I));
    ck_assert_msg(s == FS_OK, "%s: %s %s: download: %s", I->c.name, be->ops->name, how,
                  fs_error_message());
    if (plan)
        be->ops->plan_free(be, plan);
    dev_free(be, &d);
    return out;
}

/* ---- the naive reference ---------------------------------------------------------------------------- */

/* act(v) * gain, clamped to +-clamp (0: none); LRELU is StyleGAN's slope 0.2
 * times sqrt(2), LEAKY001 torch's LeakyReLU(0.01) (backend.h). */
static double ref_act(double v, fs_act act, double gain, double clamp)
{
    switch (act) {
    case FS_ACT_LRELU: v = (v < 0 ? v * 0.2 : v) * sqrt(2.0); break;
    case FS_ACT_RELU: v = v < 0 ? 0 : v; break;
    case FS_ACT_LEAKY001: v = v < 0 ? v * 0.01 : v; break;
    case FS_ACT_TANH: v = tanh(v); break;
    default: break;
    }
    v *= gain;
    if (clamp > 0)
        v = v < -clamp ? -clamp : v > clamp ? clamp : v;
    return v;
}

/* upfirdn2d at (py, px) of the padded, zero-inserted plane (the top-left tap):
 * gain * sum f[fl-1-i][fl-1-j] u[py+i][px+j], a true convolution as
 * upfirdn2d(flip_filter=False) computes it. */
static double ref_fir_at(const float *x, int h, int w, int up, int p0, const float *f, int fl,
                         double gain, int py, int px)
{
    double acc = 0;
    for (int i = 0; i < fl; i++) {
        int qy = py + i - p0;
        if (qy < 0 || qy >= h * up || qy % up)
            continue;
        for (int j = 0; j < fl; j++) {
            int qx = px + j - p0;
            if (qx < 0 || qx >= w * up || qx % up)
                continue;
            acc += (double)x[(size_t)(qy / up) * w + qx / up] *
                   f[(fl - 1 - i) * fl + (fl - 1 - j)];
        }
    }
    return acc * gain;
}

typedef struct {
    const inst *I;
    double *dcoef;  /* modconv: [n, cout] demodulation (16-bit formats: times smax[n]) */
    /* modconv: the conv's operands, x [n, cin, h, w] and W as float; styles
     * ms [n, cin] or NULL (16-bit formats: the rounded operand r(x r(s / smax))
     * and r(W) of docs/precision.md §2, the styles already in it) */
    const float *mx, *mw, *ms;
    float *own_x, *own_w;
    double *stat;   /* normalize: [n] scale; mbstd: [groups, f]; instance_norm: [n c][2] */
    double *fcache; /* conv2d down 2: the FIR output, NaN until computed */
    int fh, fw, p0;
} ref_ctx;

static void ref_prepare(ref_ctx *r, const inst *I)
{
    memset(r, 0, sizeof *r);
    r->I = I;
    const fs_op_case *c = &I->c;
    int n = c->n;
    size_t hw = (size_t)c->h * c->w;
    if (c->op == FS_CASE_MODCONV) {
        r->mx = F(I, X);
        r->mw = F(I, W);
        r->ms = F(I, S);
    }
    if (c->op == FS_CASE_MODCONV && c->fmt) {
        /* the operand and weight rounded as the op must round them: the same
         * float32 operations, so the same values */
        size_t nx = (size_t)n * c->cin * hw, nw = (size_t)c->cout * c->cin * c->k * c->k;
        r->own_x = malloc(nx * sizeof *r->own_x);
        r->own_w = malloc(nw * sizeof *r->own_w);
        r->dcoef = malloc((size_t)n * c->cout * sizeof *r->dcoef);
        ck_assert(r->own_x && r->own_w && r->dcoef);
        for (size_t i = 0; i < nw; i++)
            r->own_w[i] = half_r(c->fmt, F(I, W)[i]);
        const uint16_t *x16 = I->h[X];
        for (int s = 0; s < n; s++) {
            const float *st = F(I, S) + (size_t)s * c->cin;
            float smax = 0;
            for (int i = 0; i < c->cin; i++)
                smax = fabsf(st[i]) > smax ? fabsf(st[i]) : smax;
            smax = smax > 0 ? smax : 1.0f;
            for (int i = 0; i < c->cin; i++) {
                float sr = half_r(c->fmt, st[i] / smax);
                for (size_t p = 0; p < hw; p++)
                    r->own_x[((size_t)s * c->cin + i) * hw + p] = half_r(
                        c->fmt, half_value(c->fmt, x16[((size_t)s * hw + p) * c->cin + i]) * sr);
            }
            /* d as the float32 reference below computes it, or the given one */
            for (int o = 0; o < c->cout; o++) {
                double d = 1;
                if (c->dcoef) {
                    d = F(I, D)[(size_t)s * c->cout + o];
                } else if (c->demod) {
                    double acc = 0;
                    for (int i = 0; i < c->cin; i++)
                        for (int q = 0; q < c->k * c->k; q++) {
                            double wv = F(I, W)[((size_t)o * c->cin + i) * c->k * c->k + q];
                            acc += (wv * st[i]) * (wv * st[i]);
                        }
                    d = 1.0 / sqrt(acc + 1e-8);
                }
                r->dcoef[(size_t)s * c->cout + o] = d * smax;
            }
        }
        r->mx = r->own_x;
        r->mw = r->own_w;
        r->ms = NULL;
    } else if (c->op == FS_CASE_MODCONV && c->dcoef) {
        r->dcoef = malloc((size_t)n * c->cout * sizeof *r->dcoef);
        ck_assert_ptr_nonnull(r->dcoef);
        for (size_t i = 0; i < (size_t)n * c->cout; i++)
            r->dcoef[i] = F(I, D)[i];
    } else if (c->op == FS_CASE_STYLES) {
        /* every output in double: styles, then d from them */
        r->stat = malloc(I->out_len * sizeof *r->stat);
        ck_assert_ptr_nonnull(r->stat);
        for (int l = 0; l < I->nsl; l++) {
            const fs_opc_style_layer *L = &I->sl[l];
            double wg = 1.0 / sqrt((double)(float)c->k), gain = L->demod ? 1.0 : 1.0 / sqrt((double)L->cin);
            wg = (float)wg;
            gain = (float)gain;
            double *st = r->stat + (size_t)n * I->st_off[l];
            for (int s = 0; s < n; s++)
                for (int i = 0; i < L->cin; i++) {
                    const float *wv = F(I, X) + ((size_t)s * I->num_ws + L->w_index) * c->k;
                    const float *a = F(I, W) + I->aw_off[l] + (size_t)i * c->k;
                    double acc = 0;
                    for (int j = 0; j < c->k; j++)
                        acc += (double)a[j] * wv[j];
                    st[(size_t)s * L->cin + i] = (acc * wg + F(I, B)[I->ab_off[l] + i]) * gain;
                }
            if (!L->demod)
                continue;
            double *dc = r->stat + I->split + (size_t)n * I->dc_off[l];
            size_t kk = (size_t)L->k * L->k;
            for (int s = 0; s < n; s++)
                for (int o = 0; o < L->cout; o++) {
                    double acc = 0;
                    for (int i = 0; i < L->cin; i++) {
                        const float *wk = F(I, AUX) + I->cw_off[l] + ((size_t)o * L->cin + i) * kk;
                        double sv = st[(size_t)s * L->cin + i];
                        for (size_t q = 0; q < kk; q++)
                            acc += (wk[q] * sv) * (wk[q] * sv);
                    }
                    dc[(size_t)s * L->cout + o] = 1.0 / sqrt(acc + 1e-8);
                }
        }
    } else if (c->op == FS_CASE_MODCONV && c->demod) {
        /* official: w = W * s; d = rsqrt(sum(w^2) + 1e-8) over cin, k, k */
        r->dcoef = malloc((size_t)n * c->cout * sizeof *r->dcoef);
        ck_assert_ptr_nonnull(r->dcoef);
        size_t kk = (size_t)c->k * c->k;
        for (int s = 0; s < n; s++)
            for (int o = 0; o < c->cout; o++) {
                double acc = 0;
                for (int i = 0; i < c->cin; i++) {
                    double st = F(I, S)[(size_t)s * c->cin + i];
                    const float *wk = F(I, W) + ((size_t)o * c->cin + i) * kk;
                    for (size_t q = 0; q < kk; q++)
                        acc += (wk[q] * st) * (wk[q] * st);
                }
                r->dcoef[(size_t)s * c->cout + o] = 1.0 / sqrt(acc + 1e-8);
            }
    } else if (c->op == FS_CASE_NORMALIZE_2ND_MOMENT) {
        r->stat = malloc((size_t)n * sizeof *r->stat);
        ck_assert_ptr_nonnull(r->stat);
        for (int i = 0; i < n; i++) {
            double acc = 0;
            for (int j = 0; j < c->cin; j++) {
                double v = F(I, X)[(size_t)i * c->cin + j];
                acc += v * v;
            }
            r->stat[i] = 1.0 / sqrt(acc / c->cin + 1e-8);
        }
    } else if (c->op == FS_CASE_MBSTD) {
        /* official MinibatchStdLayer: x.reshape(G, -1, F, c, H, W), so sample
         * g * M + m is member g of group m */
        int g = c->group > 0 && c->group < n ? c->group : n, groups = n / g;
        int cf = c->cin / c->f;
        r->stat = calloc((size_t)groups * c->f, sizeof *r->stat);
        ck_assert_ptr_nonnull(r->stat);
        for (int m = 0; m < groups; m++)
            for (int ff = 0; ff < c->f; ff++) {
                double total = 0;
                for (int ch = ff * cf; ch < (ff + 1) * cf; ch++)
                    for (size_t p = 0; p < hw; p++) {
                        double mean = 0, var = 0;
                        for (int gg = 0; gg < g; gg++)
                            mean += F(I, X)[((size_t)(gg * groups + m) * c->cin + ch) * hw + p];
                        mean /= g;
                        for (int gg = 0; gg < g; gg++) {
                            double d =
                                F(I, X)[((size_t)(gg * groups + m) * c->cin + ch) * hw + p] - mean;
                            var += d * d;
                        }
                        total += sqrt(var / g + 1e-8);
                    }
                r->stat[(size_t)m * c->f + ff] = total / ((double)cf * hw);
            }
    } else if (c->op == FS_CASE_INSTANCE_NORM) {
        r->stat = malloc((size_t)n * c->cin * 2 * sizeof *r->stat);
        ck_assert_ptr_nonnull(r->stat);
        for (size_t i = 0; i < (size_t)n * c->cin; i++) {
            const float *p = F(I, X) + i * hw;
            double mean = 0, var = 0;
            for (size_t q = 0; q < hw; q++)
                mean += p[q];
            mean /= (double)hw;
            for (size_t q = 0; q < hw; q++)
                var += (p[q] - mean) * (p[q] - mean);
            r->stat[2 * i] = mean;
            r->stat[2 * i + 1] = var / (double)hw; /* biased, as InstanceNorm2d */
        }
    } else if (c->op == FS_CASE_SE_RESIDUAL) {
        /* the gates, from the formula in double: channel means, fc1, ReLU,
         * fc2, sigmoid */
        r->stat = malloc((size_t)n * c->cin * sizeof *r->stat);
        double *m = malloc((size_t)c->cin * sizeof *m), *hid = malloc((size_t)c->cout * sizeof *hid);
        ck_assert(r->stat && m && hid);
        for (int s = 0; s < n; s++) {
            for (int ch = 0; ch < c->cin; ch++) {
                const float *p = F(I, X) + ((size_t)s * c->cin + ch) * hw;
                double acc = 0;
                for (size_t q = 0; q < hw; q++)
                    acc += p[q];
                m[ch] = acc / (double)hw;
            }
            for (int j = 0; j < c->cout; j++) {
                double z = 0;
                for (int k = 0; k < c->cin; k++)
                    z += (double)F(I, W)[(size_t)j * c->cin + k] * m[k];
                hid[j] = z > 0 ? z : 0;
            }
            for (int ch = 0; ch < c->cin; ch++) {
                double z = 0;
                for (int j = 0; j < c->cout; j++)
                    z += (double)F(I, S)[(size_t)ch * c->cout + j] * hid[j];
                r->stat[(size_t)s * c->cin + ch] = 1.0 / (1.0 + exp(-z));
            }
        }
        free(m);
        free(hid);
    } else if (c->op == FS_CASE_CONV2D && c->down == 2) {
        int p1;
        fs_opc_down_pads(c, &r->p0, &p1);
        r->fh = c->h + r->p0 + p1 - I->fl + 1;
        r->fw = c->w + r->p0 + p1 - I->fl + 1;
        size_t cells = (size_t)n * c->cin * r->fh * r->fw;
        if (cells <= ((size_t)4 << 20)) {
            r->fcache = malloc(cells * sizeof *r->fcache);
            ck_assert_ptr_nonnull(r->fcache);
            for (size_t i = 0; i < cells; i++)
                r->fcache[i] = NAN;
        }
    }
}

static void ref_release(ref_ctx *r)
{
    free(r->own_x);
    free(r->own_w);
    free(r->dcoef);
    free(r->stat);
    free(r->fcache);
    memset(r, 0, sizeof *r);
}

/* The FIR stage of the down-sampling conv at (sample s, channel i, fy, fx). */
static double ref_down_fir(ref_ctx *r, int s, int i, int fy, int fx)
{
    const inst *I = r->I;
    const fs_op_case *c = &I->c;
    size_t at = (((size_t)s * c->cin + i) * r->fh + fy) * r->fw + fx;
    if (r->fcache && !isnan(r->fcache[at]))
        return r->fcache[at];
    const float *plane = F(I, X) + ((size_t)s * c->cin + i) * c->h * c->w;
    double v = ref_fir_at(plane, c->h, c->w, 1, r->p0, F(I, FIR), I->fl, 1.0, fy, fx);
    if (r->fcache)
        r->fcache[at] = v;
    return v;
}

/* The modconv's stride-2 transposed conv of the modulated input at (ty, tx)
 * of T [2h+1, 2w+1] (conv_transpose2d(x * s, W^T, stride 2, pad 0)). */
static double ref_modconv_t(const ref_ctx *r, int s, int o, int ty, int tx)
{
    const inst *I = r->I;
    const fs_op_case *c = &I->c;
    if (ty < 0 || tx < 0 || ty > 2 * c->h || tx > 2 * c->w)
        return 0;
    double acc = 0;
    for (int ky = ty & 1; ky < c->k; ky += 2) {
        int iy = (ty - ky) / 2;
        if (iy < 0 || iy >= c->h)
            continue;
        for (int kx = tx & 1; kx < c->k; kx += 2) {
            int ix = (tx - kx) / 2;
            if (ix < 0 || ix >= c->w)
                continue;
            for (int i = 0; i < c->cin; i++)
                acc += (double)r->mx[(((size_t)s * c->cin + i) * c->h + iy) * c->w + ix] *
                       (r->ms ? r->ms[(size_t)s * c->cin + i] : 1.0f) *
                       r->mw[(((size_t)o * c->cin + i) * c->k + ky) * c->k + kx];
        }
    }
    return acc;
}

/* Output element i (flat, in the op's output layout). */
static double ref_at(ref_ctx *r, size_t i)
{
    const inst *I = r->I;
    const fs_op_case *c = &I->c;
    int oh = I->oh, ow = I->ow;
    size_t hw = (size_t)c->h * c->w, ohw = (size_t)oh * ow;
    switch (c->op) {
    case FS_CASE_FC: {
        int row = (int)(i / c->cout), o = (int)(i % c->cout);
        size_t ldx = c->rows ? (size_t)c->rows * c->cin : (size_t)c->cin;
        const float *x = F(I, X) + I->xoff + row * ldx, *w = F(I, W) + (size_t)o * c->cin;
        double acc = 0;
        for (int j = 0; j < c->cin; j++)
            acc += (double)x[j] * w[j];
        double v = acc * fs_opc_wgain(c);
        if (I->h[B])
            v += (double)F(I, B)[o] * (c->bgain ? c->bgain : 1.0f);
        return ref_act(v, c->act, fs_opc_gain(c), c->clamp);
    }
    case FS_CASE_NORMALIZE_2ND_MOMENT: return F(I, X)[i] * r->stat[i / c->cin];
    case FS_CASE_LERP_ROWS: {
        int row = (int)((i / c->cin) % c->rows);
        double a = F(I, S)[i % c->cin], v = F(I, X)[i];
        return row >= c->row0 && row < c->row1 ? a + c->t * (v - a) : v;
    }
    case FS_CASE_MODCONV: {
        int s = (int)(i / (c->cout * ohw)), o = (int)(i / ohw % c->cout);
        int yy = (int)(i / ow % oh), xx = (int)(i % ow);
        if (c->fmt) { /* NHWC */
            o = (int)(i % c->cout);
            yy = (int)(i / c->cout / ow % oh);
            xx = (int)(i / c->cout % ow);
        }
        double acc = 0;
        if (c->up == 1) {
            int p = c->k / 2;
            for (int ci = 0; ci < c->cin; ci++) {
                double st = r->ms ? r->ms[(size_t)s * c->cin + ci] : 1.0, part = 0;
                for (int ky = 0; ky < c->k; ky++) {
                    int sy = yy + ky - p;
                    if (sy < 0 || sy >= c->h)
                        continue;
                    for (int kx = 0; kx < c->k; kx++) {
                        int sx = xx + kx - p;
                        if (sx < 0 || sx >= c->w)
                            continue;
                        part += (double)r->mx[(((size_t)s * c->cin + ci) * c->h + sy) * c->w + sx] *
                                r->mw[(((size_t)o * c->cin + ci) * c->k + ky) * c->k + kx];
                    }
                }
                acc += part * st;
            }
        } else {
            /* then upfirdn2d(T, f, pad 1, gain up^2 = 4) */
            int fl = I->fl;
            const float *f = F(I, FIR);
            for (int a = 0; a < fl; a++)
                for (int b = 0; b < fl; b++)
                    acc += ref_modconv_t(r, s, o, yy + a - 1, xx + b - 1) *
                           f[(fl - 1 - a) * fl + (fl - 1 - b)];
            acc *= 4;
        }
        double v = acc * (r->dcoef ? r->dcoef[(size_t)s * c->cout + o] : 1.0);
        size_t p = (size_t)yy * ow + xx;
        if (c->noise == FS_NOISE_CONST)
            v += (double)F(I, AUX)[p] * I->strength;
        else if (c->noise == FS_NOISE_RANDOM)
            v += (double)fs_philox_normal(I->seeds[s], I->stream, p) * I->strength;
        v += F(I, B)[o];
        return ref_act(v, c->act, fs_opc_gain(c), c->clamp);
    }
    case FS_CASE_CONV2D: {
        int s = (int)(i / (c->cout * ohw)), o = (int)(i / ohw % c->cout);
        int yy = (int)(i / ow % oh), xx = (int)(i % ow);
        double acc = 0;
        for (int ci = 0; ci < c->cin; ci++)
            for (int ky = 0; ky < c->k; ky++)
                for (int kx = 0; kx < c->k; kx++) {
                    double wv = F(I, W)[(((size_t)o * c->cin + ci) * c->k + ky) * c->k + kx], xv;
                    if (c->down == 2) { /* FIR, then a stride-2 correlation without padding */
                        xv = ref_down_fir(r, s, ci, yy * 2 + ky, xx * 2 + kx);
                    } else {
                        int st = c->stride ? c->stride : 1;
                        int sy = yy * st + ky - c->pad, sx = xx * st + kx - c->pad;
                        if (sy < 0 || sy >= c->h || sx < 0 || sx >= c->w)
                            continue;
                        xv = F(I, X)[(((size_t)s * c->cin + ci) * c->h + sy) * c->w + sx];
                    }
                    acc += xv * wv;
                }
        double v = acc * fs_opc_wgain(c) + (I->h[B] ? F(I, B)[o] : 0.0f);
        return ref_act(v, c->act, fs_opc_gain(c), c->clamp);
    }
    case FS_CASE_UPFIRDN2D: {
        size_t plane = i / ohw;
        int yy = (int)(i / ow % oh), xx = (int)(i % ow);
        return ref_fir_at(F(I, X) + plane * hw, c->h, c->w, c->up, c->pad, F(I, FIR), I->fl,
                          fs_opc_gain(c), yy * c->down, xx * c->down);
    }
    case FS_CASE_BIAS_ACT: {
        double v = F(I, X)[i] + (I->h[B] ? F(I, B)[i / hw % c->cin] : 0.0f);
        return ref_act(v, c->act, fs_opc_gain(c), c->clamp);
    }
    case FS_CASE_AXPBY: return (double)F(I, X)[i] * c->t + (double)F(I, S)[i] * c->xs;
    case FS_CASE_MBSTD: {
        int cc = c->cin + c->f, s = (int)(i / (cc * hw)), ch = (int)(i / hw % cc);
        if (ch < c->cin)
            return F(I, X)[((size_t)s * c->cin + ch) * hw + i % hw];
        int g = c->group > 0 && c->group < c->n ? c->group : c->n, groups = c->n / g;
        return r->stat[(size_t)(s % groups) * c->f + (ch - c->cin)];
    }
    case FS_CASE_PROJECT: {
        double acc = 0;
        for (int j = 0; j < c->cin; j++)
            acc += (double)F(I, X)[i * c->cin + j] * F(I, S)[i * c->cin + j];
        return acc * fs_opc_gain(c);
    }
    case FS_CASE_CONV_TRANSPOSE2D: {
        int s = (int)(i / (c->cout * ohw)), o = (int)(i / ohw % c->cout);
        int yy = (int)(i / ow % oh), xx = (int)(i % ow);
        double acc = I->h[B] ? F(I, B)[o] : 0.0f;
        for (int ky = 0; ky < c->k; ky++) {
            int ty = yy + c->pad - ky;
            if (ty < 0 || ty % c->stride || ty / c->stride >= c->h)
                continue;
            for (int kx = 0; kx < c->k; kx++) {
                int tx = xx + c->pad - kx;
                if (tx < 0 || tx % c->stride || tx / c->stride >= c->w)
                    continue;
                for (int ci = 0; ci < c->cin; ci++)
                    acc += (double)F(I, X)[(((size_t)s * c->cin + ci) * c->h + ty / c->stride) *
                                               c->w + tx / c->stride] *
                           F(I, W)[(((size_t)ci * c->cout + o) * c->k + ky) * c->k + kx];
            }
        }
        return acc;
    }
    case FS_CASE_INSTANCE_NORM: {
        size_t sc = i / hw;
        int ch = (int)(sc % c->cin);
        double v = (F(I, X)[i] - r->stat[2 * sc]) / sqrt(r->stat[2 * sc + 1] + c->eps);
        if (I->h[W])
            v = v * F(I, W)[ch] + F(I, B)[ch];
        return ref_act(v, c->act, 1, 0);
    }
    case FS_CASE_AVG_POOL2D: {
        size_t plane = i / ohw;
        int yy = (int)(i / ow % oh), xx = (int)(i % ow), cnt = 0;
        double acc = 0;
        for (int ky = 0; ky < c->k; ky++)
            for (int kx = 0; kx < c->k; kx++) {
                int sy = yy * c->stride - c->pad + ky, sx = xx * c->stride - c->pad + kx;
                if (sy >= 0 && sy < c->h && sx >= 0 && sx < c->w) { /* count_include_pad=False */
                    acc += F(I, X)[plane * hw + (size_t)sy * c->w + sx];
                    cnt++;
                }
            }
        return cnt ? acc / cnt : 0;
    }
    case FS_CASE_TO_UINT8: {
        /* y [n, h, w, c]; t = x * 127.5f then t + 128.0f, two float
         * roundings (volatile: no FMA), NaN and below 0 -> 0, clamp 255,
         * truncate */
        int ch = (int)(i % c->cin);
        size_t p = i / c->cin % hw, s = i / ((size_t)c->cin * hw);
        volatile float t = F(I, X)[(s * c->cin + ch) * hw + p] * 127.5f;
        t = t + 128.0f;
        return !(t > 0.0f) ? 0 : t >= 255.0f ? 255 : (double)(uint8_t)t;
    }
    case FS_CASE_BLEND: {
        /* w a + (1 - w) b + 1/2 in float32, each operation rounded (volatile:
         * no FMA), clamped, truncated: round half up */
        size_t len = (size_t)c->cin * hw;
        volatile float w = F(I, W)[i / len], wb = 1.0f - w;
        volatile float p = (float)((const uint8_t *)I->h[X])[i] * w;
        volatile float q = (float)((const uint8_t *)I->h[S])[i] * wb;
        volatile float v = p + q;
        v = v + 0.5f;
        return !(v > 0.0f) ? 0 : v >= 255.0f ? 255 : (double)(uint8_t)v;
    }
    case FS_CASE_CHANNEL_AFFINE: {
        int ch = (int)(i / hw % c->cin);
        double v = F(I, X)[i];
        if (I->h[W])
            v = v * F(I, W)[ch] + F(I, B)[ch];
        if (I->h[S] && v < 0)
            v *= F(I, S)[ch];
        return v;
    }
    case FS_CASE_SE_RESIDUAL: {
        /* r * g + the shortcut at (y * stride, x * stride) of its larger plane */
        size_t plane = i / hw;
        int yy = (int)(i % hw / c->w), xx = (int)(i % c->w);
        size_t sh = (size_t)(c->h - 1) * c->stride + 1 + c->out_h;
        size_t sw = (size_t)(c->w - 1) * c->stride + 1 + c->out_h;
        double sc = F(I, AUX)[(plane * sh + (size_t)yy * c->stride) * sw + (size_t)xx * c->stride];
        return F(I, X)[i] * r->stat[plane] + sc;
    }
    case FS_CASE_UPSAMPLE_ADD: {
        /* align_corners=True: source = out index * (in - 1) / (out - 1) */
        size_t plane = i / ohw;
        int yy = (int)(i / ow % oh), xx = (int)(i % ow);
        double sy = oh > 1 ? (double)yy * (c->h - 1) / (oh - 1) : 0;
        double sx = ow > 1 ? (double)xx * (c->w - 1) / (ow - 1) : 0;
        int y0 = (int)floor(sy), x0 = (int)floor(sx);
        int y1 = y0 + 1 < c->h ? y0 + 1 : y0, x1 = x0 + 1 < c->w ? x0 + 1 : x0;
        double fy = sy - y0, fx = sx - x0;
        const float *p = F(I, X) + plane * hw;
        double v = (1 - fy) * ((1 - fx) * p[y0 * c->w + x0] + fx * p[y0 * c->w + x1]) +
                   fy * ((1 - fx) * p[y1 * c->w + x0] + fx * p[y1 * c->w + x1]);
        return v + F(I, Y)[i];
    }
    case FS_CASE_MAX_FEATURE_MAP: {
        /* the larger of channel j and channel c + j of the same sample */
        size_t chw = (size_t)c->cin * hw, s = i / chw, q = i % chw;
        double a = F(I, X)[2 * s * chw + q], b = F(I, X)[2 * s * chw + chw + q];
        return a > b ? a : b;
    }
    case FS_CASE_MAX_POOL2D: {
        /* the window's maximum over the positions inside the plane (padding never wins) */
        size_t plane = i / ohw;
        int yy = (int)(i / ow % oh), xx = (int)(i % ow);
        double m = -INFINITY;
        for (int ky = 0; ky < c->k; ky++)
            for (int kx = 0; kx < c->k; kx++) {
                int sy = yy * c->stride - c->pad + ky, sx = xx * c->stride - c->pad + kx;
                if (sy >= 0 && sy < c->h && sx >= 0 && sx < c->w &&
                    F(I, X)[plane * hw + (size_t)sy * c->w + sx] > m)
                    m = F(I, X)[plane * hw + (size_t)sy * c->w + sx];
            }
        return m;
    }
    case FS_CASE_ADAPTIVE_AVG_POOL2D: {
        /* AdaptiveAvgPool2d of the window: rows floor(i in / out) to ceil((i + 1) in / out) */
        size_t plane = i / ohw;
        int yy = (int)(i / ow % oh), xx = (int)(i % ow);
        int ih = c->win_h ? c->win_h : c->h, iw = c->win_w ? c->win_w : c->w;
        int y0 = (int)floor((double)yy * ih / oh), y1 = (int)ceil((double)(yy + 1) * ih / oh);
        int x0 = (int)floor((double)xx * iw / ow), x1 = (int)ceil((double)(xx + 1) * iw / ow);
        double acc = 0;
        for (int sy = y0; sy < y1; sy++)
            for (int sx = x0; sx < x1; sx++)
                acc += F(I, X)[plane * hw + (size_t)(c->win_y0 + sy) * c->w + c->win_x0 + sx];
        return acc / ((double)(y1 - y0) * (x1 - x0));
    }
    case FS_CASE_STYLES: return r->stat[i];
    case FS_CASE_TORGB: {
        /* clamp(sum_i W[c, i] s[i] f[i] + b[c]) + up2(img_prev) */
        int s = (int)(i / (c->cout * hw)), o = (int)(i / hw % c->cout);
        size_t p = i % hw;
        int yy = (int)(p / c->w), xx = (int)(p % c->w);
        double acc = 0;
        for (int ci = 0; ci < c->cin; ci++) {
            double f = c->fmt ? half_value(c->fmt, ((const uint16_t *)I->h[X])
                                                       [((size_t)s * hw + p) * c->cin + ci])
                              : F(I, X)[((size_t)s * c->cin + ci) * hw + p];
            acc += (double)F(I, W)[(size_t)o * c->cin + ci] * F(I, S)[(size_t)s * c->cin + ci] * f;
        }
        double v = ref_act(acc + F(I, B)[o], FS_ACT_LINEAR, 1, c->clamp);
        if (c->up)
            v += ref_fir_at(F(I, AUX) + ((size_t)s * c->cout + o) * (c->h / 2) * (c->w / 2),
                            c->h / 2, c->w / 2, 2, 2, F(I, FIR), I->fl, 4.0, yy, xx);
        return v;
    }
    case FS_CASE_CONVERT_FEATURES: {
        /* the source value of output element i (the output's layout) */
        size_t chw = (size_t)c->cin * hw, s = i / chw, ch, p;
        if (c->fmt2) {
            p = i % chw / c->cin;
            ch = i % c->cin;
        } else {
            ch = i % chw / hw;
            p = i % hw;
        }
        if (!c->fmt)
            return F(I, X)[s * chw + ch * hw + p];
        return half_value(c->fmt, ((const uint16_t *)I->h[X])[s * chw + p * c->cin + ch]);
    }
    case FS_CASE_COPY_ROWS: {
        /* dst[r * ldd + j] = src[r * lds + j], the rest of dst untouched */
        size_t row = i / c->ldd, j = i % c->ldd;
        if (j < (size_t)c->row0 || j >= (size_t)c->row0 + c->cin)
            return F(I, Y)[i];
        return F(I, X)[row * c->lds + (j - c->row0)];
    }
    default: return 0;
    }
}

/* Reference multiply-adds per output element, for the sampling decision. */
static double ref_cost(const inst *I)
{
    const fs_op_case *c = &I->c;
    int half = (c->k + 1) / 2;
    switch (c->op) {
    case FS_CASE_FC: return c->cin;
    case FS_CASE_MODCONV:
        return c->up == 1 ? (double)c->cin * c->k * c->k
                          : (double)c->cin * I->fl * I->fl * half * half;
    case FS_CASE_CONV2D: {
        if (c->down != 2)
            return (double)c->cin * c->k * c->k;
        /* each FIR value costs fl^2 once when ref_prepare caches them, each time if not */
        int p0, p1;
        fs_opc_down_pads(c, &p0, &p1);
        double cells = (double)c->n * c->cin * (c->h + p0 + p1 - I->fl + 1) *
                       (c->w + p0 + p1 - I->fl + 1);
        return (double)c->cin * c->k * c->k * (cells <= (4 << 20) ? 2 : I->fl * I->fl);
    }
    case FS_CASE_CONV_TRANSPOSE2D: {
        int t = (c->k + c->stride - 1) / c->stride;
        return (double)c->cin * t * t;
    }
    case FS_CASE_UPFIRDN2D: return (double)I->fl * I->fl;
    case FS_CASE_TORGB: return c->cin + (double)I->fl * I->fl;
    case FS_CASE_PROJECT: return c->cin;
    case FS_CASE_AVG_POOL2D: return (double)c->k * c->k;
    case FS_CASE_UPSAMPLE_ADD: return 4;
    case FS_CASE_MAX_POOL2D: return (double)c->k * c->k;
    case FS_CASE_ADAPTIVE_AVG_POOL2D: {
        double wh = c->win_h ? c->win_h : c->h, ww = c->win_w ? c->win_w : c->w;
        return (wh / c->out_h + 1) * (ww / c->out_w + 1);
    }
    default: return 1;
    }
}

static const char *verbose(void) { return getenv("FS_TEST_VERBOSE"); }

/* The backend's output `got` against the reference: every element, or a
 * sample where that would cost more than REF_BUDGET: half uniform, half on
 * the borders of the output planes (where padding bugs live). */
static void check_reference(const inst *I, const void *got, const char *backend)
{
    const fs_op_case *c = &I->c;
    ref_ctx r;
    ref_prepare(&r, I);
    size_t total = I->out_len, count = total;
    double per = ref_cost(I);
    int sampled = (double)total * per > REF_BUDGET;
    if (sampled) {
        count = (size_t)(REF_BUDGET / per);
        count = count < 2000 ? 2000 : count > REF_MAX_SAMPLES ? REF_MAX_SAMPLES : count;
        count = count > total ? total : count;
    }
    uint64_t s = case_seed((int)(c - fs_op_cases)) ^ 0x5a5a5a5a5a5a5a5aull;
    size_t ohw = (size_t)I->oh * I->ow, planes = ohw ? total / ohw : 0;
    /* maxima involve no rounding: the reference's value is the float itself */
    int exact = c->exact || I->out_u8 || c->op == FS_CASE_COPY_ROWS ||
                c->op == FS_CASE_MAX_FEATURE_MAP || c->op == FS_CASE_MAX_POOL2D ||
                c->op == FS_CASE_CONVERT_FEATURES;
    /* styles: the styles and dcoef parts (scales far apart) each on its own */
    double num = 0, den = 0, num2 = 0, den2 = 0, worst_d = -1, worst_got = 0, worst_want = 0;
    size_t worst = 0, bad = 0;
    /* 16-bit outputs: elements off r(want), and the worst distance past one
     * ulp of the format from want */
    size_t off_r = 0;
    double past_ulp = 0;
    for (size_t k = 0; k < count; k++) {
        size_t i = k;
        if (sampled) {
            i = splitmix64(&s) % total;
            if ((k & 1) && planes && I->oh > 2 && I->ow > 2 && c->op != FS_CASE_FC &&
                c->op != FS_CASE_TO_UINT8) {
                size_t plane = splitmix64(&s) % planes;
                int side = (int)(splitmix64(&s) % 4), yy, xx;
                if (side < 2) {
                    yy = side ? I->oh - 1 : 0;
                    xx = (int)(splitmix64(&s) % (uint64_t)I->ow);
                } else {
                    xx = side == 3 ? I->ow - 1 : 0;
                    yy = (int)(splitmix64(&s) % (uint64_t)I->oh);
                }
                i = plane * ohw + (size_t)yy * I->ow + xx;
            }
        }
        double want = ref_at(&r, i);
        double g = I->out_u8       ? ((const uint8_t *)got)[i]
                   : I->out_es == 2 ? half_value(I->out_fmt, ((const uint16_t *)got)[i])
                                    : ((const float *)got)[i];
        if (exact) {
            int same = I->out_u8 ? g == want
                       : I->out_es == 2
                           ? ((const uint16_t *)got)[i] == half_round(I->out_fmt, (float)want)
                           : memcmp(&((const float *)got)[i], &(float){(float)want},
                                    sizeof(float)) == 0;
            if (!same && !bad++) {
                worst = i;
                worst_got = g;
                worst_want = want;
            }
            continue;
        }
        double d = g - want;
        if (I->split && i >= I->split) {
            num2 += d * d;
            den2 += want * want;
        } else {
            num += d * d;
            den += want * want;
        }
        if (I->out_es == 2) {
            if (((const uint16_t *)got)[i] != half_round(I->out_fmt, (float)want))
                off_r++;
            double past = fabs(d) - half_ulp(I->out_fmt, want);
            past_ulp = !(past <= past_ulp) ? past : past_ulp; /* nan wins */
        }
        if (!(fabs(d) <= worst_d)) { /* also catches nan */
            worst_d = fabs(d);
            worst = i;
            worst_got = g;
            worst_want = want;
        }
    }
    ref_release(&r);
    char shape[96];
    fs_opc_describe(c, c->n, shape, sizeof shape);
    if (exact) {
        if (verbose())
            printf("%-34s %-16s %s vs reference: %zu of %zu differ\n", c->name, fs_case_op_names[c->op],
                   backend, bad, count);
        ck_assert_msg(bad == 0, "%s (%s, %s): %s differs from the reference in %zu of %zu elements;"
                      " first at %zu: got %.9g want %.9g (seed 0x%016llx)", c->name,
                      fs_case_op_names[c->op], shape, backend, bad, count, worst, worst_got, worst_want,
                      (unsigned long long)g_seed);
        return;
    }
    double e = den > 0 ? sqrt(num / den) : sqrt(num);
    if (I->split) {
        double e2 = den2 > 0 ? sqrt(num2 / den2) : sqrt(num2);
        if (verbose())
            printf("%-34s %-16s %s vs reference: dcoef relative L2 %.3g\n", c->name,
                   fs_case_op_names[c->op], backend, e2);
        ck_assert_msg(e2 <= REF_TOL, "%s (%s): %s vs reference: dcoef relative L2 %.3g > %.0e "
                      "(seed 0x%016llx)", c->name, shape, backend, e2, REF_TOL,
                      (unsigned long long)g_seed);
    }
    if (I->out_es == 2) {
        /* the same roundings as the reference: r(want) but where float32
         * sums put want within float noise of a rounding boundary, and then
         * the neighbour (within one ulp of want; a floor of 1e-5 of the
         * output's rms for values cancelled near 0); at most 1% of them */
        double rms = sqrt(den / (double)count);
        if (verbose())
            printf("%-34s %-16s %s vs reference: %zu of %zu off r(want), worst %.3g past 1 ulp "
                   "(rms %.3g)\n", c->name, fs_case_op_names[c->op], backend, off_r, count,
                   past_ulp, rms);
        ck_assert_msg(past_ulp <= 1e-5 * rms, "%s (%s): %s vs reference: an element %.3g past "
                      "one ulp of %s (worst element %zu: got %.9g want %.9g; seed 0x%016llx)",
                      c->name, shape, backend, past_ulp, fs_opc_fmt_name(I->out_fmt), worst,
                      worst_got, worst_want, (unsigned long long)g_seed);
        ck_assert_msg(off_r <= count / 100 + 1, "%s (%s): %s vs reference: %zu of %zu elements "
                      "not rounded as the reference rounds (seed 0x%016llx)", c->name, shape,
                      backend, off_r, count, (unsigned long long)g_seed);
    }
    if (verbose())
        printf("%-34s %-16s %s vs reference: relative L2 %.3g over %zu%s elements\n", c->name,
               fs_case_op_names[c->op], backend, e, count, sampled ? " sampled" : "");
    ck_assert_msg(I->out_es == 2 || e <= REF_TOL, "%s (%s, %s): %s vs reference: relative L2 %.3g > %.0e over %zu%s "
                  "elements (worst element %zu: got %.9g want %.9g; seed 0x%016llx)", c->name,
                  fs_case_op_names[c->op], shape, backend, e, REF_TOL, count, sampled ? " sampled" : "",
                  worst, worst_got, worst_want, (unsigned long long)g_seed);
}

/* ---- the CPU against the reference ----------------------------------------------------------------- */

static int g_cpu_cases[FS_CASE_NCASES], g_cpu_ncases, g_heavy_skipped;
static int g_gpu_cases[FS_CASE_NCASES], g_gpu_ncases;

START_TEST(test_cpu_vs_reference)
{
    int idx = g_cpu_cases[_i];
    const fs_op_case *c = &fs_op_cases[idx];
    inst I;
    ck_assert(inst_make(&I, c, c->n, case_seed(idx), &default_ranges));
    fs_backend *be;
    ck_assert_int_eq(fs_backend_cpu_init(&be, 0), FS_OK);
    fs_op_kind kind;
    for (int planned = 0; planned <= plan_kind(c, &kind); planned++) {
        void *got = run_on(be, &I, planned);
        check_reference(&I, got, planned ? "cpu planned" : "cpu");
        free(got);
    }
    fs_backend_free(be);
    inst_free(&I);
}
END_TEST

/* Arguments every backend must refuse, with the same status. */
static void check_invalid_args(fs_backend *be)
{
    size_t hw = 16;
    float *x = be->ops->alloc(be, 6 * 17 * hw * sizeof(float));
    float *y = be->ops->alloc(be, 6 * 17 * hw * sizeof(float));
    uint8_t *u = be->ops->alloc(be, 6 * 17 * hw);
    ck_assert(x && y && u);
    /* a batch that is not a multiple of the group; channels not a multiple of f */
    ck_assert_int_eq(be->ops->mbstd(be, x, y, 6, 16, 4, 4, 4, 1), FS_ERR_ARG);
    ck_assert_int_eq(be->ops->mbstd(be, x, y, 6, 16, 4, 4, 3, 5), FS_ERR_ARG);
    ck_assert_int_eq(be->ops->to_uint8(be, x, u, -1, 3, 4, 4), FS_ERR_ARG);
    /* padding past half the window, a window larger than the padded plane, a pool
     * window outside its plane, a negative channel count */
    ck_assert_int_eq(be->ops->max_pool2d(be, &(fs_max_pool2d_args){
        .x = x, .y = y, .nc = 2, .h = 4, .w = 4, .k = 2, .stride = 2, .pad = 2}), FS_ERR_ARG);
    ck_assert_int_eq(be->ops->max_pool2d(be, &(fs_max_pool2d_args){
        .x = x, .y = y, .nc = 2, .h = 4, .w = 4, .k = 7, .stride = 1, .pad = 1}), FS_ERR_ARG);
    ck_assert_int_eq(be->ops->adaptive_avg_pool2d(be, &(fs_adaptive_avg_pool2d_args){
        .x = x, .y = y, .nc = 2, .h = 4, .w = 4, .y0 = 1, .x0 = 0, .ih = 4, .iw = 4, .oh = 2,
        .ow = 2}), FS_ERR_ARG);
    ck_assert_int_eq(be->ops->max_feature_map(be, &(fs_max_feature_map_args){
        .x = x, .y = y, .n = 1, .c = -1, .hw = hw}), FS_ERR_ARG);
    ck_assert_int_eq(be->ops->blend(be, &(fs_blend_args){
        .a = u, .b = u, .w = x, .y = u, .n = -1, .len = hw}), FS_ERR_ARG);
    be->ops->release(be, x);
    be->ops->release(be, y);
    be->ops->release(be, u);
}

START_TEST(test_cpu_invalid_args)
{
    fs_backend *be;
    ck_assert_int_eq(fs_backend_cpu_init(&be, 1), FS_OK);
    check_invalid_args(be);
    fs_backend_free(be);
}
END_TEST

/* ---- CUDA against the CPU ------------------------------------------------------------------------------ */

#ifdef FS_WITH_CUDA
static int find_case(const char *name)
{
    for (int i = 0; i < FS_CASE_NCASES; i++)
        if (!strcmp(fs_op_cases[i].name, name))
            return i;
    ck_abort_msg("no case %s in tests/backend_op_cases.h", name);
    return -1;
}

static fs_backend *cuda_open(fs_cuda_precision p)
{
    fs_backend *be;
    fs_status s = fs_backend_cuda_init_ex(&be, 0, p);
    ck_assert_msg(s == FS_OK, "cuda init (%s): %s", fs_cuda_precision_name(p), fs_error_message());
    return be;
}

/* got (CUDA) against want (CPU): relative L2 <= tol, or bit for bit when
 * exact (tol < 0). */
static void expect_match(const inst *I, const void *got, const void *want, double tol,
                         const char *what)
{
    const fs_op_case *c = &I->c;
    size_t n = I->out_len, bad = 0, first = 0;
    if (tol < 0) {
        size_t es = (size_t)I->out_es;
        for (size_t i = 0; i < n; i++)
            if (memcmp((const char *)got + i * es, (const char *)want + i * es, es) && !bad++)
                first = i;
        if (verbose())
            printf("%-34s %-16s %s: %zu of %zu differ from the cpu\n", c->name,
                   fs_case_op_names[c->op], what, bad, n);
        double g = I->out_u8 ? ((const uint8_t *)got)[first]
                   : es == 2 ? ((const uint16_t *)got)[first] : ((const float *)got)[first];
        double w = I->out_u8 ? ((const uint8_t *)want)[first]
                   : es == 2 ? ((const uint16_t *)want)[first] : ((const float *)want)[first];
        ck_assert_msg(bad == 0, "%s (%s): %s: %zu of %zu elements differ from the cpu; first at "
                      "%zu: %.9g vs cpu %.9g (seed 0x%016llx)", c->name, fs_case_op_names[c->op], what,
                      bad, n, first, g, w, (unsigned long long)g_seed);
        return;
    }
    if (I->out_es == 2) {
        /* 16-bit features: every element within HALF_ULPS ulps of the
         * format at the CPU's value, plus HALF_FLOOR of the output's rms for
         * values cancelled near 0 (the sums' order differs; both sides round
         * the same float32 epilogue once) */
        const uint16_t *g16 = got, *w16 = want;
        double ss = 0, worst_x = -1;
        for (size_t i = 0; i < n; i++) {
            double w = half_value(I->out_fmt, w16[i]);
            ss += w * w;
        }
        double rms = n ? sqrt(ss / (double)n) : 0;
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
            double w = half_value(I->out_fmt, w16[i]), g = half_value(I->out_fmt, g16[i]);
            double x = fabs(g - w) - (HALF_ULPS * half_ulp(I->out_fmt, w) + HALF_FLOOR * rms);
            off += g16[i] != w16[i];
            if (!(x <= worst_x)) {
                worst_x = x;
                first = i;
            }
        }
        if (verbose())
            printf("%-34s %-16s %s vs cpu: %zu of %zu elements differ, worst %.3g past the "
                   "bound\n", c->name, fs_case_op_names[c->op], what, off, n, worst_x);
        ck_assert_msg(worst_x <= 0, "%s (%s): %s vs cpu: element %zu %.9g vs cpu %.9g, past %d "
                      "ulps of %s + %.0e rms (seed 0x%016llx)", c->name, fs_case_op_names[c->op],
                      what, first, n ? half_value(I->out_fmt, g16[first]) : 0.0,
                      n ? half_value(I->out_fmt, w16[first]) : 0.0, HALF_ULPS,
                      fs_opc_fmt_name(I->out_fmt), HALF_FLOOR, (unsigned long long)g_seed);
        return;
    }
    if (I->split) { /* styles: dcoef on its own (the styles dominate the total) */
        double e2 = fs_check_rel_l2((const float *)got + I->split, (const float *)want + I->split,
                                    n - I->split);
        if (verbose())
            printf("%-34s %-16s %s vs cpu: dcoef relative L2 %.3g\n", c->name,
                   fs_case_op_names[c->op], what, e2);
        ck_assert_msg(e2 <= tol, "%s (%s): %s vs cpu: dcoef relative L2 %.3g > %.0e (seed "
                      "0x%016llx)", c->name, fs_case_op_names[c->op], what, e2, tol,
                      (unsigned long long)g_seed);
    }
    const float *g = got, *w = want;
    double wd = -1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)g[i] - (double)w[i]);
        if (!(d <= wd)) {
            wd = d;
            first = i;
        }
    }
    double e = fs_check_rel_l2(g, w, n);
    if (verbose())
        printf("%-34s %-16s %s vs cpu: relative L2 %.3g\n", c->name, fs_case_op_names[c->op], what, e);
    ck_assert_msg(e <= tol, "%s (%s): %s vs cpu: relative L2 %.3g > %.0e (worst element %zu: %.9g "
                  "vs cpu %.9g; seed 0x%016llx)", c->name, fs_case_op_names[c->op], what, e, tol, first,
                  n ? g[first] : 0.0, n ? w[first] : 0.0, (unsigned long long)g_seed);
}

static const struct {
    fs_cuda_precision p;
    double tol;
} precisions[] = {
    {FS_CUDA_TF32, TF32_TOL},
    {FS_CUDA_FP16, HALF_TOL},
    {FS_CUDA_BF16, HALF_TOL},
};

/* Case _i on CUDA in FP32 against the CPU backend; modconv cases (but the
 * exact ones, whose zero weights the FP16 pre-normalisation divides by) and
 * the conv2d cases that allow tensor cores (e4e) also in every tensor-core
 * precision. */
START_TEST(test_cuda_vs_cpu)
{
    int idx = g_gpu_cases[_i];
    const fs_op_case *c = &fs_op_cases[idx];
    inst I;
    ck_assert(inst_make(&I, c, c->n, case_seed(idx), &default_ranges));
    fs_backend *cpu;
    ck_assert_int_eq(fs_backend_cpu_init(&cpu, 0), FS_OK);
    void *want = run_on(cpu, &I, 1);
    fs_backend_free(cpu);
    /* the maxima, and the pool whose kernel repeats the CPU's float sums and divisions */
    int exact = c->exact || I.out_u8 || c->op == FS_CASE_COPY_ROWS ||
                c->op == FS_CASE_MAX_FEATURE_MAP || c->op == FS_CASE_MAX_POOL2D ||
                c->op == FS_CASE_ADAPTIVE_AVG_POOL2D || c->op == FS_CASE_CONVERT_FEATURES;
    fs_backend *gpu = cuda_open(FS_CUDA_FP32);
    ck_assert_str_eq(gpu->ops->name, "cuda");
    fs_op_kind kind;
    for (int planned = 0; planned <= plan_kind(c, &kind); planned++) {
        void *got = run_on(gpu, &I, planned);
        expect_match(&I, got, want, exact ? -1 : OP_TOL,
                     planned ? "cuda fp32 planned" : "cuda fp32");
        free(got);
    }
    fs_backend_free(gpu);
    /* the 16-bit formats fix their own precision: not rerun per backend precision */
    if (((c->op == FS_CASE_MODCONV && !c->fmt) || (c->op == FS_CASE_CONV2D && c->tensor_cores)) &&
        !exact)
        for (size_t p = 0; p < sizeof precisions / sizeof *precisions; p++) {
            gpu = cuda_open(precisions[p].p);
            void *got = run_on(gpu, &I, 1);
            fs_backend_free(gpu);
            char what[32];
            snprintf(what, sizeof what, "cuda %s", fs_cuda_precision_name(precisions[p].p));
            expect_match(&I, got, want, precisions[p].tol, what);
            free(got);
        }
    free(want);
    inst_free(&I);
}
END_TEST

/* FP16 with operands beyond the FP16 range unless pre-normalised: |x * s| up
 * to 250 * 300 = 75000 and |W| up to 1e5 (65504 is the largest FP16). */
START_TEST(test_cuda_fp16_range)
{
    static const char *const names[3] = {"sg2f.g.b4.conv1", "sg2f.g.b16.conv0",
                                          "odd.modconv.up.nodemod"};
    static const ranges big = {250, 1e5f, -300, 300};
    int idx = find_case(names[_i]);
    inst I;
    ck_assert(inst_make(&I, &fs_op_cases[idx], fs_op_cases[idx].n, case_seed(idx), &big));
    fs_backend *cpu;
    ck_assert_int_eq(fs_backend_cpu_init(&cpu, 0), FS_OK);
    void *want = run_on(cpu, &I, 1);
    fs_backend_free(cpu);
    fs_backend *gpu = cuda_open(FS_CUDA_FP16);
    void *got = run_on(gpu, &I, 1);
    fs_backend_free(gpu);
    expect_match(&I, got, want, HALF_TOL, "cuda fp16, operands past the fp16 range");
    free(got);
    free(want);
    inst_free(&I);
}
END_TEST

/* The per-layer choice of FS_CUDA_MIXED: fs_modconv_args.fp16 = 1 gives the
 * FP16 backend's bytes, 0 the FP32 backend's, and FP16 really differs from
 * FP32 (the tensor-core path ran). */
START_TEST(test_cuda_mixed)
{
    static const char *const names[2] = {"sg2f.g.b8.conv1.clamp", "sg2f.g.b16.conv0"};
    static const struct {
        fs_cuda_precision p;
        int flag;
        double tol;
        const char *what;
    } runs[4] = {{FS_CUDA_FP16, 0, HALF_TOL, "cuda fp16"},
                 {FS_CUDA_MIXED, 1, HALF_TOL, "cuda mixed, fp16 layer"},
                 {FS_CUDA_FP32, 0, OP_TOL, "cuda fp32"},
                 {FS_CUDA_MIXED, 0, OP_TOL, "cuda mixed, fp32 layer"}};
    int idx = find_case(names[_i]);
    inst I;
    ck_assert(inst_make(&I, &fs_op_cases[idx], fs_op_cases[idx].n, case_seed(idx),
                        &default_ranges));
    fs_backend *cpu;
    ck_assert_int_eq(fs_backend_cpu_init(&cpu, 0), FS_OK);
    void *want = run_on(cpu, &I, 1), *out[4];
    fs_backend_free(cpu);
    for (int r = 0; r < 4; r++) {
        fs_backend *gpu = cuda_open(runs[r].p);
        I.fp16 = runs[r].flag;
        out[r] = run_on(gpu, &I, 1);
        fs_backend_free(gpu);
        expect_match(&I, out[r], want, runs[r].tol, runs[r].what);
    }
    size_t bytes = out_bytes(&I);
    ck_assert_msg(!memcmp(out[0], out[1], bytes), "%s: mixed with fp16 = 1 differs from fp16",
                  I.c.name);
    ck_assert_msg(!memcmp(out[2], out[3], bytes), "%s: mixed with fp16 = 0 differs from fp32",
                  I.c.name);
    ck_assert_msg(memcmp(out[0], out[2], bytes), "%s: fp16 gave the fp32 bytes: the tensor-core "
                  "path did not run", I.c.name);
    for (int r = 0; r < 4; r++)
        free(out[r]);
    free(want);
    inst_free(&I);
}
END_TEST

/* The feature format of each layer kind: CUDA v2's choice is the one the
 * CPU emulates for the same precision (fs_backend_cpu_init_ex). */
START_TEST(test_cuda_feature_format)
{
    static const fs_cuda_precision ps[4] = {FS_CUDA_FP32, FS_CUDA_FP16, FS_CUDA_BF16,
                                            FS_CUDA_MIXED};
    for (int k = 0; k < 4; k++) {
        fs_backend *gpu = cuda_open(ps[k]), *cpu;
        ck_assert_int_eq(fs_backend_cpu_init_ex(&cpu, 1, (int)ps[k]), FS_OK);
        for (int fp16 = 0; fp16 <= 1; fp16++)
            ck_assert_msg(gpu->ops->feature_format(gpu, fp16) ==
                              cpu->ops->feature_format(cpu, fp16),
                          "%s, fp16 layer %d: cuda format %d, the cpu emulates %d",
                          fs_cuda_precision_name(ps[k]), fp16,
                          (int)gpu->ops->feature_format(gpu, fp16),
                          (int)cpu->ops->feature_format(cpu, fp16));
        fs_backend_free(cpu);
        fs_backend_free(gpu);
    }
}
END_TEST

START_TEST(test_cuda_invalid_args)
{
    fs_backend *gpu = cuda_open(FS_CUDA_FP32);
    check_invalid_args(gpu);
    fs_backend_free(gpu);
}
END_TEST
#endif /* FS_WITH_CUDA */

/* ---- --perf ------------------------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int perf_usage(void)
{
    fprintf(stderr, "usage: test_backend_ops --perf [--backend cpu|cuda] [--filter TEXT] "
            "[--batch N] [--reps N] [--threads N] [--precision fp32|tf32|fp16|bf16|mixed]\n");
    return 2;
}

static int perf_main(int argc, char **argv)
{
    const char *backend = "cpu", *filter = NULL, *prec = "fp32";
    int batch = 0, reps = 10, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--perf"))
            continue;
        if (i + 1 >= argc)
            return perf_usage();
        if (!strcmp(argv[i], "--backend"))
            backend = argv[++i];
        else if (!strcmp(argv[i], "--filter"))
            filter = argv[++i];
        else if (!strcmp(argv[i], "--batch"))
            batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--precision"))
            prec = argv[++i];
        else
            return perf_usage();
    }
    if (reps < 1 || reps > 1000 || batch < 0 || threads < 0)
        return perf_usage();
    int cuda = !strcmp(backend, "cuda");
    if (!cuda && strcmp(backend, "cpu"))
        return perf_usage();
    fs_backend *be = NULL;
    fs_status st;
#ifdef FS_WITH_CUDA
    cudaEvent_t ev0 = NULL, ev1 = NULL;
    cudaStream_t stream = NULL;
    if (cuda) {
        int p = -1;
        for (int k = FS_CUDA_FP32; k <= FS_CUDA_MIXED; k++)
            if (!strcmp(prec, fs_cuda_precision_name((fs_cuda_precision)k)))
                p = k;
        if (p < 0)
            return perf_usage();
        st = fs_backend_cuda_init_ex(&be, 0, (fs_cuda_precision)p);
        if (st == FS_OK) {
            stream = (cudaStream_t)fs_backend_cuda_stream(be);
            if (cudaEventCreate(&ev0) != cudaSuccess || cudaEventCreate(&ev1) != cudaSuccess)
                st = fs_error(FS_ERR_DEVICE, "cudaEventCreate failed");
        }
    } else
#endif
    {
        if (cuda) {
            fprintf(stderr, "test_backend_ops: built without CUDA (no nvcc)\n");
            return 1;
        }
        st = fs_backend_cpu_init(&be, threads);
    }
    if (st != FS_OK) {
        fprintf(stderr, "test_backend_ops: %s\n", fs_error_message());
        return 1;
    }
    printf("# backend ops on %s%s%s, median of up to %d runs after 2 warm-up runs (a case stops "
           "after 3 runs once it has taken 2 s)\n", backend, cuda ? " " : "", cuda ? prec : "", reps);
    printf("%-34s %-16s %-28s %9s %10s %9s %8s\n", "case", "op", "shape", "GFLOP", "ms", "GFLOP/s",
           "GB/s");
    double tot_ms = 0, tot_flop = 0;
    int failed = 0, ran = 0;
    for (int ci = 0; ci < FS_CASE_NCASES; ci++) {
        const fs_op_case *c = &fs_op_cases[ci];
        if (filter && !strstr(c->name, filter) && !strstr(fs_case_op_names[c->op], filter))
            continue;
        int n = batch ? batch : c->n;
        char shape[96];
        fs_opc_describe(c, n, shape, sizeof shape);
        inst I;
        dev d;
        if (!inst_make(&I, c, n, case_seed(ci), &default_ranges)) {
            printf("%-34s %-16s %-28s out of host memory\n", c->name, fs_case_op_names[c->op], shape);
            inst_free(&I);
            failed = 1;
            continue;
        }
        st = dev_upload(be, &I, &d);
        fs_plan *plan = NULL; /* made once, outside the timing, as a model does */
        if (st == FS_OK)
            st = make_plan(be, &I, &d, &plan);
        double ms[1000];
        int done = 0;
        for (int r = 0; st == FS_OK && r < 2; r++)
            st = launch(be, &I, &d, plan);
        if (st == FS_OK)
            st = be->ops->synchronize(be);
        double spent = 0;
        while (st == FS_OK && done < reps && !(done >= 3 && spent > 2.0)) {
#ifdef FS_WITH_CUDA
            if (cuda) {
                float t;
                cudaEventRecord(ev0, stream);
                st = launch(be, &I, &d, plan);
                cudaEventRecord(ev1, stream);
                if (cudaEventSynchronize(ev1) != cudaSuccess ||
                    cudaEventElapsedTime(&t, ev0, ev1) != cudaSuccess)
                    st = fs_error(FS_ERR_DEVICE, "CUDA event timing failed");
                ms[done] = t;
            } else
#endif
            {
                double t0 = now_s();
                st = launch(be, &I, &d, plan);
                ms[done] = (now_s() - t0) * 1e3;
            }
            spent += ms[done] / 1e3;
            done++;
        }
        if (st == FS_OK)
            st = be->ops->synchronize(be);
        if (plan)
            be->ops->plan_free(be, plan);
        if (d.p[X])
            dev_free(be, &d);
        if (st != FS_OK) {
            printf("%-34s %-16s %-28s error: %s\n", c->name, fs_case_op_names[c->op], shape,
                   fs_error_message());
            failed = 1;
            inst_free(&I);
            continue;
        }
        qsort(ms, (size_t)done, sizeof *ms, cmp_double);
        double med = ms[done / 2], flop = fs_opc_flops(c, n);
        double bytes = (double)inst_total_bytes(c, n);
        printf("%-34s %-16s %-28s %9.4f %10.4f %9.2f %8.2f\n", c->name, fs_case_op_names[c->op], shape,
               flop / 1e9, med, flop / 1e6 / med, bytes / 1e6 / med);
        fflush(stdout);
        tot_ms += med;
        tot_flop += flop;
        ran++;
        inst_free(&I);
    }
    printf("%-34s %-16s %-28s %9.4f %10.4f %9.2f\n", "total", "", "", tot_flop / 1e9, tot_ms,
           tot_ms > 0 ? tot_flop / 1e6 / tot_ms : 0.0);
#ifdef FS_WITH_CUDA
    if (ev0)
        cudaEventDestroy(ev0);
    if (ev1)
        cudaEventDestroy(ev1);
#endif
    fs_backend_free(be);
    if (!ran)
        fprintf(stderr, "test_backend_ops: no case matches --filter %s\n", filter ? filter : "");
    return failed || !ran;
}

/* ---- main ---------------------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    seed_init();
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--perf"))
            return perf_main(argc, argv);
    if (argc > 1)
        return perf_usage();
    /* FS_TEST_HEAVY unset: heavy cases on the GPU only; 1: everywhere; 0:
     * nowhere (compute-sanitizer runs) */
    const char *hv = getenv("FS_TEST_HEAVY");
    int all = hv && strcmp(hv, "0"), none = hv && !strcmp(hv, "0");
    for (int i = 0; i < FS_CASE_NCASES; i++) {
        int h = heavy(&fs_op_cases[i]);
        if (!h || all)
            g_cpu_cases[g_cpu_ncases++] = i;
        else
            g_heavy_skipped++;
        if (!h || !none)
            g_gpu_cases[g_gpu_ncases++] = i;
    }
    printf("backend_ops: %d cases, seed 0x%016llx (FS_TEST_SEED=0x%016llx replays it)\n",
           FS_CASE_NCASES, (unsigned long long)g_seed, (unsigned long long)g_seed);
    if (g_heavy_skipped)
        printf("backend_ops: %d heavy cases run against the reference only with FS_TEST_HEAVY=1%s\n",
               g_heavy_skipped, none ? "" : " (on a GPU machine: CUDA against the CPU)");
    Suite *s = suite_create("backend_ops");
    TCase *cpu = tcase_create("cpu");
    tcase_add_loop_test(cpu, test_cpu_vs_reference, 0, g_cpu_ncases);
    tcase_add_test(cpu, test_cpu_invalid_args);
    tcase_set_timeout(cpu, all ? 900 : 60);
    suite_add_tcase(s, cpu);
    TCase *gpu = fs_check_gpu_tcase(s, "gpu");
#ifdef FS_WITH_CUDA
    tcase_add_loop_test(gpu, test_cuda_vs_cpu, 0, g_gpu_ncases);
    tcase_add_loop_test(gpu, test_cuda_fp16_range, 0, 3);
    tcase_add_loop_test(gpu, test_cuda_mixed, 0, 2);
    tcase_add_test(gpu, test_cuda_feature_format);
    tcase_add_test(gpu, test_cuda_invalid_args);
#else
    (void)gpu;
#endif
    return fs_check_run(s, "backend_ops");
}
