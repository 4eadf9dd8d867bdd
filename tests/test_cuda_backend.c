/* The CUDA backend against the CPU oracle, op by op, and on whole models.
 *
 * "ops" (tag gpu): every op of fs_backend_ops, at real StyleGAN2 / CVAE-GAN
 * layer shapes and at odd ones (non-square, tiny, k = h, phases with no
 * taps), on fresh random inputs seeded from the clock (the seed is printed
 * with every failure), run on both backends and compared:
 *   fp32 ops:      relative L2 error <= OP_TOL = 1e-5 (only summation order
 *                  and FMA contraction differ);
 *   Philox noise:  bit-exact, on a modconv with weight 0 and bias 0 whose
 *                  output is exactly the noise (act linear, gain 1, strength 1),
 *                  against fs_philox_normal on the host.
 * "models" (tag gpu): the generator, discriminator and CVAE-GAN goldens of
 * test_stylegan2_g.c / test_stylegan2_d.c / test_cvaegan.c on the CUDA
 * backend, relative L2 <= MODEL_TOL = 1e-5 as on the CPU; and random-noise
 * synthesis, CUDA against CPU.
 * FS_TEST_SEED=0x... replays a failing seed; FS_TEST_VERBOSE=1 prints every
 * error measured (the margins of a GPU run). Without a device both cases
 * report SKIP. */
#include "check_util.h"

#include <stdint.h>
#include <time.h>

#include "../engine/backend.h"
#include "../engine/image_io.h"

#ifdef FS_WITH_CUDA
#include "../engine/cvaegan.h"
#include "../engine/rng.h"
#include "../engine/stylegan2.h"
#include "../kernels/cuda_backend.h"
#include "../weights_tools/convert.h"
#include "../weights_tools/npy.h"

/* fp32 op tolerance. If a GPU run ever shows slightly more on the largest
 * reductions (K = 8192) because of summation order, 1e-4 is the documented
 * fallback; it has not been needed so far. */
#define OP_TOL 1e-5
#define MODEL_TOL 1e-5
/* Tensor-core modconv (fs_cuda_precision) against the CPU's float32, as the
 * issue sets them: TF32 <= 1e-3, FP16 / BF16 <= 1e-2, per op and for the
 * whole tiny generator in FP16. */
#define TF32_TOL 1e-3
#define HALF_TOL 1e-2

/* ---- random inputs -------------------------------------------------------------- */

static uint64_t g_seed, g_rng;

static void rng_init(void)
{
    /* splitmix64 of clock and pid: forked tests started in the same second differ */
    uint64_t z = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ ((uint64_t)clock() << 16);
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    g_seed = z ^ (z >> 31);
    if (getenv("FS_TEST_SEED")) /* reproduce a failure: FS_TEST_SEED=0x... */
        g_seed = strtoull(getenv("FS_TEST_SEED"), NULL, 0);
    g_rng = g_seed | 1;
}

static uint64_t rng_u64(void)
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545f4914f6cdd1dull;
}

/* Uniform in (lo, hi); with lo = -hi never exactly 0 (odd multiples of 2^-24). */
static float frand(float lo, float hi)
{
    double u = ((double)(rng_u64() >> 40) + 0.5) / 16777216.0;
    return (float)(lo + (hi - lo) * u);
}

/* ---- a buffer on both backends ---------------------------------------------------- */

static fs_backend *g_cpu, *g_gpu;

static void open_backends_prec(fs_cuda_precision p)
{
    rng_init();
    ck_assert_int_eq(fs_backend_cpu_init(&g_cpu, 0), FS_OK);
    fs_status s = p == FS_CUDA_FP32 ? fs_backend_cuda_init(&g_gpu, 0)
                                    : fs_backend_cuda_init_ex(&g_gpu, 0, p);
    ck_assert_msg(s == FS_OK, "cuda init: %s", fs_error_message());
}

static void open_backends(void) { open_backends_prec(FS_CUDA_FP32); }

static void close_backends(void)
{
    fs_backend_free(g_gpu);
    fs_backend_free(g_cpu);
    g_gpu = g_cpu = NULL;
}

typedef struct {
    size_t n;
    float *h; /* host copy of the initial contents */
    float *c; /* CPU backend */
    float *g; /* CUDA backend */
} buf;

#define SIDE(b, side) ((side) ? (b).g : (b).c)

static buf buf_from(const float *h, size_t n)
{
    buf b;
    b.n = n;
    b.h = malloc((n ? n : 1) * sizeof *b.h);
    ck_assert_ptr_nonnull(b.h);
    memcpy(b.h, h, n * sizeof *h);
    b.c = g_cpu->ops->alloc(g_cpu, n * sizeof(float));
    b.g = g_gpu->ops->alloc(g_gpu, n * sizeof(float));
    ck_assert_msg(b.c && b.g, "alloc %zu floats: %s", n, fs_error_message());
    ck_assert_int_eq(g_cpu->ops->upload(g_cpu, b.c, h, n * sizeof(float)), FS_OK);
    ck_assert_msg(g_gpu->ops->upload(g_gpu, b.g, h, n * sizeof(float)) == FS_OK, "%s",
                  fs_error_message());
    return b;
}

/* Random contents, also for outputs: an element a kernel forgets to write
 * keeps a value the CPU overwrote, and shows. */
static buf buf_rand(size_t n, float lo, float hi)
{
    float *h = malloc((n ? n : 1) * sizeof *h);
    ck_assert_ptr_nonnull(h);
    for (size_t i = 0; i < n; i++)
        h[i] = frand(lo, hi);
    buf b = buf_from(h, n);
    free(h);
    return b;
}

static void buf_free(buf *b)
{
    if (b->c)
        g_cpu->ops->release(g_cpu, b->c);
    if (b->g)
        g_gpu->ops->release(g_gpu, b->g);
    free(b->h);
    memset(b, 0, sizeof *b);
}

/* Downloads both sides (gpu into *gpu_out when given) and checks the
 * relative L2 error of the GPU result against the CPU's. */
static void expect_match(const buf *b, double tol, const char *what, float **gpu_out)
{
    float *c = malloc((b->n ? b->n : 1) * sizeof *c), *g = malloc((b->n ? b->n : 1) * sizeof *g);
    ck_assert(c && g);
    ck_assert_int_eq(g_cpu->ops->download(g_cpu, c, b->c, b->n * sizeof(float)), FS_OK);
    fs_status s = g_gpu->ops->download(g_gpu, g, b->g, b->n * sizeof(float));
    ck_assert_msg(s == FS_OK, "%s: download: %s", what, fs_error_message());
    size_t worst = 0;
    double wd = -1;
    for (size_t i = 0; i < b->n; i++) {
        double d = fabs((double)g[i] - (double)c[i]);
        if (!(d <= wd)) { /* also catches nan */
            wd = d;
            worst = i;
        }
    }
    double e = fs_check_rel_l2(g, c, b->n);
    if (getenv("FS_TEST_VERBOSE")) /* margins, for the record of a GPU run */
        printf("%-60s relative L2 %.3g\n", what, e);
    ck_assert_msg(e <= tol, "%s: relative L2 %.3g > %.0e (worst element %zu: gpu %.9g cpu %.9g; "
                  "seed 0x%016llx)", what, e, tol, worst, b->n ? g[worst] : 0.0,
                  b->n ? c[worst] : 0.0, (unsigned long long)g_seed);
    free(c);
    if (gpu_out)
        *gpu_out = g;
    else
        free(g);
}

/* Runs the statements (which set st_ from an op of `be`) on the CPU backend,
 * then on the CUDA one; SIDE(b, side) picks the matching buffer. */
#define RUN_BOTH(...)                                                                       \
    for (int side = 0; side < 2; side++) {                                                  \
        fs_backend *be = side ? g_gpu : g_cpu;                                              \
        fs_status st_ = FS_OK;                                                              \
        __VA_ARGS__;                                                                        \
        ck_assert_msg(st_ == FS_OK, "%s backend: %s", be->ops->name, fs_error_message());   \
    }

/* StyleGAN's [1, 3, 3, 1] outer product normalised to sum 1, or a random
 * (non-separable) filter. */
static buf make_fir(int fl, int random)
{
    float f[64];
    if (random) {
        for (int i = 0; i < fl * fl; i++)
            f[i] = frand(-0.2f, 0.5f);
    } else {
        static const double t4[4] = {1, 3, 3, 1};
        for (int y = 0; y < fl; y++)
            for (int x = 0; x < fl; x++)
                f[y * fl + x] = (float)(t4[y % 4] * t4[x % 4] / 64.0);
    }
    return buf_from(f, (size_t)fl * fl);
}

/* ---- fc ---------------------------------------------------------------------------------- */

static const struct {
    int n, in, out, ws_rows, act, has_bias;
    float wg, bg, gain, clamp;
} fc_cases[] = {
    {4, 512, 512, 0, FS_ACT_LRELU, 1, 0.01f / 22.627417f, 0.01f, 1, 0},   /* mapping */
    {2, 512, 512, 18, FS_ACT_LINEAR, 1, 1 / 22.627417f, 1, 1, 0},          /* affine, ldx */
    {4, 8192, 512, 0, FS_ACT_LRELU, 1, 1 / 90.50967f, 1, 1, 0},            /* D b4.fc */
    {32, 512, 512, 0, FS_ACT_LRELU, 1, 0.01f / 22.627417f, 0.01f, 1, 0},   /* batch 32 */
    {3, 37, 7, 0, FS_ACT_RELU, 0, 0.5f, 1, 1, 0},
    {5, 300, 100, 0, FS_ACT_TANH, 1, 0.1f, 2, 1.5f, 0.6f},
    {4, 64, 33, 0, FS_ACT_LEAKY001, 1, 0.2f, 1, 1, 0},
    {1, 512, 1, 0, FS_ACT_LINEAR, 1, 1 / 22.627417f, 1, 1, 0},             /* D b4.out */
};

START_TEST(test_fc)
{
    open_backends();
    int n = fc_cases[_i].n, in = fc_cases[_i].in, out = fc_cases[_i].out;
    int rows = fc_cases[_i].ws_rows, ldx = rows ? rows * in : 0;
    buf x = buf_rand((size_t)n * (rows ? rows : 1) * in, -1, 1);
    size_t xoff = rows ? (size_t)5 * in : 0; /* w_index 5 of each sample's ws */
    buf w = buf_rand((size_t)out * in, -2, 2), bias = buf_rand((size_t)out, -1, 1);
    buf y = buf_rand((size_t)n * out, -1, 1);
    RUN_BOTH(
        fs_fc_args a = {SIDE(x, side) + xoff, ldx, SIDE(w, side),
                        fc_cases[_i].has_bias ? SIDE(bias, side) : NULL, SIDE(y, side), n, in, out,
                        fc_cases[_i].wg, fc_cases[_i].bg, fc_cases[_i].gain, fc_cases[_i].clamp,
                        (fs_act)fc_cases[_i].act};
        st_ = be->ops->fc(be, &a));
    char what[64];
    snprintf(what, sizeof what, "fc case %d (%dx%d->%d)", _i, n, in, out);
    expect_match(&y, OP_TOL, what, NULL);
    buf_free(&x);
    buf_free(&w);
    buf_free(&bias);
    buf_free(&y);
    close_backends();
}
END_TEST

/* ---- modconv ------------------------------------------------------------------------------- */

static const struct {
    int n, cin, cout, h, w, k, up, demod, noise, act;
    float gain, clamp;
    int random_fir;
} mc_cases[] = {
    {4, 512, 512, 4, 4, 3, 1, 1, FS_NOISE_CONST, FS_ACT_LRELU, 1, 256, 0},     /* b4.conv1 */
    {4, 512, 512, 8, 8, 3, 1, 1, FS_NOISE_CONST, FS_ACT_LRELU, 1, 0.5f, 0},    /* clamp bites */
    {2, 512, 512, 16, 16, 3, 1, 1, FS_NOISE_RANDOM, FS_ACT_LRELU, 0.70710678f, 0, 0},
    {2, 512, 512, 8, 8, 3, 2, 1, FS_NOISE_CONST, FS_ACT_LRELU, 1, 256, 0},     /* b16.conv0 */
    {2, 128, 64, 128, 128, 3, 2, 1, FS_NOISE_RANDOM, FS_ACT_LRELU, 1, 256, 0}, /* b256.conv0 (cfg-f/4) */
    {2, 64, 3, 256, 256, 1, 1, 0, FS_NOISE_NONE, FS_ACT_LINEAR, 1, 256, 0},    /* ToRGB 256 */
    {4, 512, 3, 4, 4, 1, 1, 0, FS_NOISE_NONE, FS_ACT_LINEAR, 1, 0, 0},         /* ToRGB 4 */
    {3, 5, 7, 6, 5, 3, 1, 1, FS_NOISE_CONST, FS_ACT_TANH, 1.3f, 0, 0},         /* non-square */
    {3, 5, 7, 6, 5, 3, 2, 1, FS_NOISE_RANDOM, FS_ACT_RELU, 1, 0, 1},
    {2, 32, 48, 12, 12, 3, 2, 0, FS_NOISE_NONE, FS_ACT_LRELU, 1, 0, 0},        /* up, no demod */
    {4, 17, 20, 9, 9, 1, 1, 1, FS_NOISE_CONST, FS_ACT_LEAKY001, 0.9f, 0.3f, 0},
};

/* Input ranges of a modconv run: x in +-xr, W in +-wr, styles in
 * (slo, shi). */
typedef struct {
    float xr, wr, slo, shi;
} mc_ranges;

static const mc_ranges mc_default = {1, 1, -1.5f, 2.5f};

/* Modconv case ci on both backends (already open); the GPU output, for
 * callers that compare precisions, into *gpu_out when given. fp16 sets
 * fs_modconv_args.fp16. */
static void run_modconv_case(int ci, const mc_ranges *rg, int fp16, double tol, const char *tag,
                             float **gpu_out)
{
    int n = mc_cases[ci].n, cin = mc_cases[ci].cin, cout = mc_cases[ci].cout;
    int h = mc_cases[ci].h, w = mc_cases[ci].w, k = mc_cases[ci].k, up = mc_cases[ci].up;
    size_t oplane = (size_t)h * up * w * up;
    buf x = buf_rand((size_t)n * cin * h * w, -rg->xr, rg->xr);
    buf wt = buf_rand((size_t)cout * cin * k * k, -rg->wr, rg->wr);
    buf st = buf_rand((size_t)n * cin, rg->slo, rg->shi);
    buf bias = buf_rand((size_t)cout, -0.5f, 0.5f);
    buf noise = buf_rand(oplane, -2, 2);
    buf fir = make_fir(4, mc_cases[ci].random_fir);
    buf y = buf_rand((size_t)n * cout * oplane, -1, 1);
    uint64_t seeds[8];
    for (int i = 0; i < n; i++)
        seeds[i] = rng_u64();
    float strength = frand(0.1f, 1.0f);
    RUN_BOTH(
        fs_modconv_args a;
        memset(&a, 0, sizeof a);
        a.x = SIDE(x, side);
        a.weight = SIDE(wt, side);
        a.styles = SIDE(st, side);
        a.b = SIDE(bias, side);
        a.y = SIDE(y, side);
        a.n = n;
        a.cin = cin;
        a.cout = cout;
        a.h = h;
        a.w = w;
        a.k = k;
        a.up = up;
        a.demodulate = mc_cases[ci].demod;
        a.fir = SIDE(fir, side);
        a.fir_len = 4;
        a.noise_mode = (fs_noise_mode)mc_cases[ci].noise;
        a.noise_const = SIDE(noise, side);
        a.noise_strength = strength;
        a.noise_seeds = seeds; /* host memory, as the generator passes them */
        a.noise_stream = 7;
        a.act = (fs_act)mc_cases[ci].act;
        a.gain = mc_cases[ci].gain;
        a.clamp = mc_cases[ci].clamp;
        a.fp16 = fp16;
        st_ = be->ops->modconv(be, &a));
    char what[128];
    snprintf(what, sizeof what, "modconv%s case %d (n %d, %d->%d, %dx%d, k %d, up %d)", tag, ci, n,
             cin, cout, h, w, k, up);
    expect_match(&y, tol, what, gpu_out);
    buf_free(&x);
    buf_free(&wt);
    buf_free(&st);
    buf_free(&bias);
    buf_free(&noise);
    buf_free(&fir);
    buf_free(&y);
}

START_TEST(test_modconv)
{
    open_backends();
    run_modconv_case(_i, &mc_default, 0, OP_TOL, "", NULL);
    close_backends();
}
END_TEST

/* Tensor-core precisions against the CPU's float32, every case (the 1x1
 * ones stay FP32 on the GPU and so meet the tolerance trivially):
 * _i = case * 3 + {0 tf32, 1 fp16, 2 bf16}. */
static const struct {
    fs_cuda_precision p;
    double tol;
    const char *tag;
} mc_precs[3] = {
    {FS_CUDA_TF32, TF32_TOL, " tf32"},
    {FS_CUDA_FP16, HALF_TOL, " fp16"},
    {FS_CUDA_BF16, HALF_TOL, " bf16"},
};

START_TEST(test_modconv_precision)
{
    int ci = _i / 3, pi = _i % 3;
    open_backends_prec(mc_precs[pi].p);
    run_modconv_case(ci, &mc_default, 0, mc_precs[pi].tol, mc_precs[pi].tag, NULL);
    close_backends();
}
END_TEST

/* FP16 with operands beyond the FP16 range unless pre-normalised: |x * s|
 * up to 250 * 300 = 75000 and |W| up to 1e5 (65504 is the largest FP16).
 * _i: b4.conv1 (up 1), b16.conv0 (up 2), up without demodulation. */
START_TEST(test_modconv_fp16_range)
{
    static const int cases[3] = {0, 3, 9};
    static const mc_ranges big = {250, 1e5f, -300, 300};
    open_backends_prec(FS_CUDA_FP16);
    run_modconv_case(cases[_i], &big, 0, HALF_TOL, " fp16 range", NULL);
    close_backends();
}
END_TEST

/* The per-layer choice of FS_CUDA_MIXED: fp16 = 1 gives the FP16 backend's
 * bytes, fp16 = 0 the FP32 backend's, and FP16 really differs from FP32 (the
 * tensor-core path ran). Same inputs throughout: the RNG is re-seeded. */
START_TEST(test_modconv_mixed)
{
    static const int cases[2] = {1, 3}; /* 8x8 up 1, 8 -> 16 up 2 */
    int ci = cases[_i];
    size_t total = (size_t)mc_cases[ci].n * mc_cases[ci].cout * mc_cases[ci].h * mc_cases[ci].w *
                   mc_cases[ci].up * mc_cases[ci].up;
    static const struct { fs_cuda_precision p; int flag; } runs[4] = {
        {FS_CUDA_FP16, 0}, {FS_CUDA_MIXED, 1}, {FS_CUDA_FP32, 0}, {FS_CUDA_MIXED, 0}};
    float *out[4];
    uint64_t seed = 0;
    for (int r = 0; r < 4; r++) {
        open_backends_prec(runs[r].p);
        if (r == 0)
            seed = g_seed;
        g_seed = seed;
        g_rng = seed | 1;
        int half = runs[r].p == FS_CUDA_FP16 || (runs[r].p == FS_CUDA_MIXED && runs[r].flag);
        static const char *tags[4] = {" fp16", " mixed/fp16", " fp32", " mixed/fp32"};
        run_modconv_case(ci, &mc_default, runs[r].flag, half ? HALF_TOL : OP_TOL, tags[r],
                         &out[r]);
        close_backends();
    }
    ck_assert_msg(memcmp(out[0], out[1], total * sizeof(float)) == 0,
                  "mixed with fp16 = 1 differs from fp16 (seed 0x%016llx)", (unsigned long long)seed);
    ck_assert_msg(memcmp(out[2], out[3], total * sizeof(float)) == 0,
                  "mixed with fp16 = 0 differs from fp32 (seed 0x%016llx)", (unsigned long long)seed);
    ck_assert_msg(memcmp(out[0], out[2], total * sizeof(float)) != 0,
                  "fp16 gave the fp32 bytes: the tensor-core path did not run");
    for (int r = 0; r < 4; r++)
        free(out[r]);
}
END_TEST

/* Weight 0, bias 0, linear, gain 1, strength 1: the output is d * 0 + noise,
 * i.e. the Philox normals themselves, which must match the host bit for bit.
 * _i: 0 up=1, seeds in host memory; 1 up=2 (noise at the output resolution),
 * seeds in device memory. */
START_TEST(test_modconv_noise_bits)
{
    open_backends();
    int up = _i ? 2 : 1, n = 3, cin = 4, cout = 2, h = _i ? 64 : 128, w = _i ? 48 : 128;
    int oh = h * up, ow = w * up;
    buf x = buf_rand((size_t)n * cin * h * w, -1, 1);
    float *zeros = calloc((size_t)cout * cin * 9, sizeof *zeros);
    buf wt = buf_from(zeros, (size_t)cout * cin * 9);
    buf bias = buf_from(zeros, (size_t)cout);
    buf st = buf_rand((size_t)n * cin, 0.5f, 1.5f);
    buf fir = make_fir(4, 0);
    buf y = buf_rand((size_t)n * cout * oh * ow, -1, 1);
    uint64_t seeds[3] = {rng_u64(), rng_u64() & 0xffffffffu, rng_u64()};
    uint32_t stream = (uint32_t)rng_u64();
    uint64_t *dseeds = NULL;
    if (_i) {
        dseeds = g_gpu->ops->alloc(g_gpu, sizeof seeds);
        ck_assert_ptr_nonnull(dseeds);
        ck_assert_int_eq(g_gpu->ops->upload(g_gpu, dseeds, seeds, sizeof seeds), FS_OK);
    }
    fs_modconv_args a;
    memset(&a, 0, sizeof a);
    a.x = x.g;
    a.weight = wt.g;
    a.styles = st.g;
    a.b = bias.g;
    a.y = y.g;
    a.n = n;
    a.cin = cin;
    a.cout = cout;
    a.h = h;
    a.w = w;
    a.k = 3;
    a.up = up;
    a.demodulate = 1;
    a.fir = fir.g;
    a.fir_len = 4;
    a.noise_mode = FS_NOISE_RANDOM;
    a.noise_strength = 1.0f;
    a.noise_seeds = _i ? dseeds : seeds;
    a.noise_stream = stream;
    a.act = FS_ACT_LINEAR;
    a.gain = 1.0f;
    ck_assert_msg(g_gpu->ops->modconv(g_gpu, &a) == FS_OK, "%s", fs_error_message());
    size_t total = (size_t)n * cout * oh * ow;
    float *got = malloc(total * sizeof *got);
    ck_assert_int_eq(g_gpu->ops->download(g_gpu, got, y.g, total * sizeof(float)), FS_OK);
    size_t bad = 0, first = 0;
    float want_first = 0;
    for (int s = 0; s < n; s++)
        for (int o = 0; o < cout; o++)
            for (size_t p = 0; p < (size_t)oh * ow; p++) {
                float want = fs_philox_normal(seeds[s], stream, p);
                size_t i = ((size_t)s * cout + o) * oh * ow + p;
                if (memcmp(&want, &got[i], sizeof want) != 0 && !bad++) {
                    first = i;
                    want_first = want;
                }
            }
    ck_assert_msg(bad == 0, "up=%d: %zu noise values differ from fs_philox_normal; first at %zu: "
                  "gpu %a host %a (seed 0x%016llx)", up, bad, first, got[first], want_first,
                  (unsigned long long)g_seed);
    free(got);
    free(zeros);
    if (dseeds)
        g_gpu->ops->release(g_gpu, dseeds);
    buf_free(&x);
    buf_free(&wt);
    buf_free(&bias);
    buf_free(&st);
    buf_free(&fir);
    buf_free(&y);
    close_backends();
}
END_TEST

/* ---- conv2d -------------------------------------------------------------------------------- */

static const struct {
    int n, cin, cout, h, w, k, down, stride, pad, has_bias, act;
    float gain, clamp;
    int cvae; /* weight gain 1 instead of 1/sqrt(fan_in) */
    int random_fir;
} cv_cases[] = {
    {4, 64, 64, 32, 32, 3, 1, 1, 1, 1, FS_ACT_LRELU, 1, 0.7f, 0, 0},          /* D conv0 */
    {4, 64, 128, 32, 32, 3, 2, 1, 1, 1, FS_ACT_LRELU, 0.70710678f, 256, 0, 0}, /* D conv1 */
    {4, 64, 128, 32, 32, 1, 2, 1, 0, 0, FS_ACT_LINEAR, 0.70710678f, 0, 0, 0},  /* D skip */
    {4, 3, 64, 64, 64, 1, 1, 1, 0, 1, FS_ACT_LRELU, 1, 0, 0, 0},               /* fromrgb */
    {4, 513, 512, 4, 4, 3, 1, 1, 1, 1, FS_ACT_LRELU, 1, 0, 0, 0},              /* b4.conv */
    {2, 512, 512, 16, 16, 3, 2, 1, 1, 1, FS_ACT_LRELU, 1, 0, 0, 0},
    {3, 3, 8, 64, 64, 4, 1, 2, 1, 1, FS_ACT_LEAKY001, 1, 0, 1, 0},             /* CVAE D conv */
    {3, 8, 16, 12, 10, 3, 1, 2, 1, 0, FS_ACT_LINEAR, 1, 0, 1, 0},              /* encoder, non-square */
    {3, 8, 16, 12, 12, 1, 1, 2, 0, 0, FS_ACT_LINEAR, 1, 0, 1, 0},              /* encoder skip */
    {3, 32, 5, 4, 4, 4, 1, 1, 0, 0, FS_ACT_LINEAR, 1, 0, 1, 0},                /* cls: k = h */
    {3, 32, 1, 4, 4, 3, 1, 1, 1, 0, FS_ACT_LINEAR, 1, 0, 1, 0},                /* src */
    {2, 16, 24, 9, 11, 3, 2, 1, 1, 1, FS_ACT_TANH, 1.1f, 0.9f, 0, 1},          /* odd, random FIR */
    {2, 16, 24, 10, 6, 1, 2, 1, 0, 1, FS_ACT_RELU, 1, 0, 0, 1},
    {2, 7, 9, 13, 13, 5, 1, 3, 2, 1, FS_ACT_LRELU, 1, 0, 0, 0},                /* stride 3, pad 2 */
};

START_TEST(test_conv2d)
{
    open_backends();
    int n = cv_cases[_i].n, cin = cv_cases[_i].cin, cout = cv_cases[_i].cout, h = cv_cases[_i].h,
        w = cv_cases[_i].w, k = cv_cases[_i].k, down = cv_cases[_i].down;
    int stride = cv_cases[_i].stride, pad = cv_cases[_i].pad;
    int oh, ow;
    if (down == 2) {
        int p0 = k / 2 + 1, p1 = k / 2 + 1, fd = k == 1 ? 2 : 1, st = k == 1 ? 1 : 2;
        int fh = (h + p0 + p1 - 4) / fd + 1, fw = (w + p0 + p1 - 4) / fd + 1;
        oh = (fh - k) / st + 1;
        ow = (fw - k) / st + 1;
    } else {
        oh = (h + 2 * pad - k) / stride + 1;
        ow = (w + 2 * pad - k) / stride + 1;
    }
    buf x = buf_rand((size_t)n * cin * h * w, -1, 1);
    buf wt = buf_rand((size_t)cout * cin * k * k, -1, 1);
    buf bias = buf_rand((size_t)cout, -0.5f, 0.5f);
    buf fir = make_fir(4, cv_cases[_i].random_fir);
    buf y = buf_rand((size_t)n * cout * oh * ow, -1, 1);
    float wg = cv_cases[_i].cvae ? 1.0f : 1.0f / sqrtf((float)(cin * k * k));
    RUN_BOTH(
        fs_conv2d_args a = {SIDE(x, side), SIDE(wt, side),
                            cv_cases[_i].has_bias ? SIDE(bias, side) : NULL, SIDE(y, side), n, cin,
                            cout, h, w, k, down, SIDE(fir, side), 4, wg, cv_cases[_i].gain,
                            cv_cases[_i].clamp, (fs_act)cv_cases[_i].act, stride, pad};
        st_ = be->ops->conv2d(be, &a));
    char what[96];
    snprintf(what, sizeof what, "conv2d case %d (%d->%d, %dx%d, k %d, down %d)", _i, cin, cout, h,
             w, k, down);
    expect_match(&y, OP_TOL, what, NULL);
    buf_free(&x);
    buf_free(&wt);
    buf_free(&bias);
    buf_free(&fir);
    buf_free(&y);
    close_backends();
}
END_TEST

/* ---- upfirdn2d ------------------------------------------------------------------------------- */

static const struct {
    int nc, h, w, up, down, pad0, pad1, fl;
    float gain;
    int random_fir;
} ufd_cases[] = {
    {6, 32, 32, 2, 1, 2, 1, 4, 4, 0},  /* generator image up-sampling */
    {6, 64, 64, 1, 2, 1, 1, 4, 1, 0},  /* discriminator image down-sampling */
    {8, 17, 17, 1, 1, 1, 1, 4, 4, 0},  /* the up-conv's FIR */
    {5, 9, 7, 2, 2, 1, 2, 3, 2, 1},    /* odd filter, both */
    {4, 16, 12, 1, 1, -1, 0, 4, 1, 1}, /* negative pad crops */
    {3, 10, 10, 3, 1, 2, 2, 5, 1.5f, 1},
    {1024, 64, 64, 2, 1, 2, 1, 4, 4, 0},
};

START_TEST(test_upfirdn2d)
{
    open_backends();
    int nc = ufd_cases[_i].nc, h = ufd_cases[_i].h, w = ufd_cases[_i].w, up = ufd_cases[_i].up,
        down = ufd_cases[_i].down, p0 = ufd_cases[_i].pad0, p1 = ufd_cases[_i].pad1,
        fl = ufd_cases[_i].fl;
    int oh = (h * up + p0 + p1 - fl) / down + 1, ow = (w * up + p0 + p1 - fl) / down + 1;
    buf x = buf_rand((size_t)nc * h * w, -1, 1);
    buf fir = make_fir(fl, ufd_cases[_i].random_fir);
    buf y = buf_rand((size_t)nc * oh * ow, -1, 1);
    RUN_BOTH(
        fs_upfirdn2d_args a = {SIDE(x, side), SIDE(y, side), nc, h, w, up, down, p0, p1,
                               SIDE(fir, side), fl, ufd_cases[_i].gain};
        st_ = be->ops->upfirdn2d(be, &a));
    char what[64];
    snprintf(what, sizeof what, "upfirdn2d case %d", _i);
    expect_match(&y, OP_TOL, what, NULL);
    buf_free(&x);
    buf_free(&fir);
    buf_free(&y);
    close_backends();
}
END_TEST

/* ---- conv_transpose2d -------------------------------------------------------------------------- */

static const struct {
    int n, cin, cout, h, w, k, stride, pad, has_bias;
} ct_cases[] = {
    {2, 32, 16, 8, 8, 4, 2, 1, 1},  /* CVAE-GAN deconv */
    {2, 64, 3, 16, 16, 4, 2, 1, 1}, /* last deconv */
    {2, 8, 6, 5, 7, 2, 3, 0, 1},    /* k < stride: a phase gets only the bias */
    {2, 8, 6, 5, 4, 5, 3, 2, 1},
    {3, 12, 10, 4, 4, 3, 1, 1, 0},
    {2, 40, 20, 6, 6, 3, 2, 0, 1},  /* the modconv T geometry */
};

START_TEST(test_conv_transpose2d)
{
    open_backends();
    int n = ct_cases[_i].n, cin = ct_cases[_i].cin, cout = ct_cases[_i].cout, h = ct_cases[_i].h,
        w = ct_cases[_i].w, k = ct_cases[_i].k, s = ct_cases[_i].stride, p = ct_cases[_i].pad;
    int oh = (h - 1) * s - 2 * p + k, ow = (w - 1) * s - 2 * p + k;
    buf x = buf_rand((size_t)n * cin * h * w, -1, 1);
    buf wt = buf_rand((size_t)cin * cout * k * k, -1, 1);
    buf bias = buf_rand((size_t)cout, -0.5f, 0.5f);
    buf y = buf_rand((size_t)n * cout * oh * ow, -1, 1);
    RUN_BOTH(
        fs_conv_transpose2d_args a = {SIDE(x, side), SIDE(wt, side),
                                      ct_cases[_i].has_bias ? SIDE(bias, side) : NULL,
                                      SIDE(y, side), n, cin, cout, h, w, k, s, p};
        st_ = be->ops->conv_transpose2d(be, &a));
    char what[64];
    snprintf(what, sizeof what, "conv_transpose2d case %d", _i);
    expect_match(&y, OP_TOL, what, NULL);
    buf_free(&x);
    buf_free(&wt);
    buf_free(&bias);
    buf_free(&y);
    close_backends();
}
END_TEST

/* ---- elementwise and reductions ------------------------------------------------------------------ */

START_TEST(test_bias_act)
{
    open_backends();
    int act = _i % 5, with_bias = _i / 5 == 0;
    int n = 2, c = 64;
    size_t hw = 33 * 33;
    float gain = act == FS_ACT_LRELU ? 1.0f : 1.3f, clamp = _i % 2 ? 0.8f : 0.0f;
    buf x = buf_rand((size_t)n * c * hw, -2, 2), bias = buf_rand((size_t)c, -1, 1);
    RUN_BOTH(st_ = be->ops->bias_act(be, SIDE(x, side), with_bias ? SIDE(bias, side) : NULL, n, c, hw,
                               (fs_act)act, gain, clamp));
    char what[64];
    snprintf(what, sizeof what, "bias_act act %d bias %d clamp %g", act, with_bias, clamp);
    expect_match(&x, OP_TOL, what, NULL);
    /* the flat form the CVAE-GAN uses: n = c = 1 */
    buf z = buf_rand(100003, -3, 3);
    RUN_BOTH(st_ = be->ops->bias_act(be, SIDE(z, side), NULL, 1, 1, 100003, (fs_act)act, 1.0f, 0.0f));
    expect_match(&z, OP_TOL, "bias_act flat", NULL);
    buf_free(&x);
    buf_free(&bias);
    buf_free(&z);
    close_backends();
}
END_TEST

START_TEST(test_axpby)
{
    open_backends();
    size_t n = 1000003;
    buf y = buf_rand(n, -1, 1), x = buf_rand(n, -1, 1);
    float ys = _i ? 1.0f : 0.7f, xs = _i ? 1.0f : -1.3f;
    RUN_BOTH(st_ = be->ops->axpby(be, SIDE(y, side), SIDE(x, side), n, ys, xs));
    expect_match(&y, OP_TOL, "axpby", NULL);
    buf_free(&y);
    buf_free(&x);
    close_backends();
}
END_TEST

START_TEST(test_normalize_2nd_moment)
{
    static const int shapes[3][2] = {{5, 512}, {3, 7}, {32, 512}};
    open_backends();
    int n = shapes[_i][0], c = shapes[_i][1];
    buf x = buf_rand((size_t)n * c, -3, 3);
    RUN_BOTH(st_ = be->ops->normalize_2nd_moment(be, SIDE(x, side), n, c));
    expect_match(&x, OP_TOL, "normalize_2nd_moment", NULL);
    buf_free(&x);
    close_backends();
}
END_TEST

START_TEST(test_lerp_rows)
{
    static const struct { int n, rows, c, r0, r1; float t; } cs[3] = {
        {3, 18, 512, 0, 8, 0.7f}, {2, 14, 512, 4, 14, 0.5f}, {4, 6, 64, 2, 3, -0.3f}};
    open_backends();
    buf y = buf_rand((size_t)cs[_i].n * cs[_i].rows * cs[_i].c, -2, 2);
    buf avg = buf_rand((size_t)cs[_i].c, -1, 1);
    RUN_BOTH(st_ = be->ops->lerp_rows(be, SIDE(y, side), SIDE(avg, side), cs[_i].n, cs[_i].rows,
                                cs[_i].c, cs[_i].r0, cs[_i].r1, cs[_i].t));
    expect_match(&y, OP_TOL, "lerp_rows", NULL);
    buf_free(&y);
    buf_free(&avg);
    close_backends();
}
END_TEST

START_TEST(test_mbstd)
{
    static const struct { int n, c, h, w, group, f; } cs[] = {
        {4, 512, 4, 4, 4, 1}, {4, 512, 4, 4, 2, 1}, {6, 16, 4, 4, 3, 2},
        {2, 64, 4, 4, 0, 1},  {8, 32, 8, 8, 4, 4},  {32, 512, 4, 4, 4, 1}};
    open_backends();
    for (size_t q = 0; q < sizeof cs / sizeof *cs; q++) {
        size_t hw = (size_t)cs[q].h * cs[q].w;
        buf x = buf_rand((size_t)cs[q].n * cs[q].c * hw, -2, 2);
        buf y = buf_rand((size_t)cs[q].n * (cs[q].c + cs[q].f) * hw, -1, 1);
        RUN_BOTH(st_ = be->ops->mbstd(be, SIDE(x, side), SIDE(y, side), cs[q].n, cs[q].c, cs[q].h,
                                cs[q].w, cs[q].group, cs[q].f));
        char what[64];
        snprintf(what, sizeof what, "mbstd case %zu", q);
        expect_match(&y, OP_TOL, what, NULL);
        buf_free(&x);
        buf_free(&y);
    }
    /* a batch that is not a multiple of the group: the same error on both */
    buf x = buf_rand(6 * 16 * 16, -1, 1), y = buf_rand(6 * 17 * 16, -1, 1);
    ck_assert_int_eq(g_cpu->ops->mbstd(g_cpu, x.c, y.c, 6, 16, 4, 4, 4, 1), FS_ERR_ARG);
    ck_assert_int_eq(g_gpu->ops->mbstd(g_gpu, x.g, y.g, 6, 16, 4, 4, 4, 1), FS_ERR_ARG);
    ck_assert_int_eq(g_gpu->ops->mbstd(g_gpu, x.g, y.g, 6, 16, 4, 4, 3, 5), FS_ERR_ARG);
    buf_free(&x);
    buf_free(&y);
    close_backends();
}
END_TEST

START_TEST(test_project)
{
    static const struct { int n, c; float scale; } cs[2] = {{4, 512, 0.04419417f}, {3, 17, 0.5f}};
    open_backends();
    buf x = buf_rand((size_t)cs[_i].n * cs[_i].c, -1, 1);
    buf cm = buf_rand((size_t)cs[_i].n * cs[_i].c, -1, 1);
    buf out = buf_rand((size_t)cs[_i].n, -1, 1);
    RUN_BOTH(st_ = be->ops->project(be, SIDE(x, side), SIDE(cm, side), SIDE(out, side), cs[_i].n,
                              cs[_i].c, cs[_i].scale));
    expect_match(&out, OP_TOL, "project", NULL);
    buf_free(&x);
    buf_free(&cm);
    buf_free(&out);
    close_backends();
}
END_TEST

START_TEST(test_avg_pool2d)
{
    static const struct { int nc, h, w, k, s, p; } cs[3] = {
        {6, 64, 64, 3, 2, 1}, {3, 7, 9, 2, 1, 1}, {2, 10, 10, 3, 3, 0}};
    open_backends();
    int oh = (cs[_i].h + 2 * cs[_i].p - cs[_i].k) / cs[_i].s + 1;
    int ow = (cs[_i].w + 2 * cs[_i].p - cs[_i].k) / cs[_i].s + 1;
    buf x = buf_rand((size_t)cs[_i].nc * cs[_i].h * cs[_i].w, -1, 1);
    buf y = buf_rand((size_t)cs[_i].nc * oh * ow, -1, 1);
    RUN_BOTH(st_ = be->ops->avg_pool2d(be, SIDE(x, side), SIDE(y, side), cs[_i].nc, cs[_i].h, cs[_i].w,
                                 cs[_i].k, cs[_i].s, cs[_i].p));
    expect_match(&y, OP_TOL, "avg_pool2d", NULL);
    buf_free(&x);
    buf_free(&y);
    close_backends();
}
END_TEST

START_TEST(test_instance_norm)
{
    static const struct { int n, c; size_t hw; float eps; int act, affine; } cs[3] = {
        {2, 16, 64 * 64, 1e-5f, FS_ACT_RELU, 1},
        {3, 8, 4, 1e-5f, FS_ACT_LINEAR, 1},
        {2, 4, 33 * 33, 1e-3f, FS_ACT_TANH, 0}};
    open_backends();
    buf x = buf_rand((size_t)cs[_i].n * cs[_i].c * cs[_i].hw, 0.5f, 2.5f); /* mean far from 0 */
    buf wt = buf_rand((size_t)cs[_i].c, 0.5f, 1.5f), bias = buf_rand((size_t)cs[_i].c, -1, 1);
    RUN_BOTH(st_ = be->ops->instance_norm(be, SIDE(x, side), cs[_i].affine ? SIDE(wt, side) : NULL,
                                    cs[_i].affine ? SIDE(bias, side) : NULL, cs[_i].n, cs[_i].c,
                                    cs[_i].hw, cs[_i].eps, (fs_act)cs[_i].act));
    expect_match(&x, OP_TOL, "instance_norm", NULL);
    buf_free(&x);
    buf_free(&wt);
    buf_free(&bias);
    close_backends();
}
END_TEST

/* to_uint8, GPU against the CPU backend and fs_image_f32_to_u8 byte for
 * byte: random values over and past [-1, 1], every value that lands exactly
 * on an integer after x * 127.5f + 128 and its float neighbours (where an
 * FMA or another rounding order would change the byte), and NaN, +-inf,
 * +-0, huge and tiny values. _i: 0 [3, 3, 64, 64]; 1 [2, 1, 5, 7];
 * 2 [1, 4, 33, 17]. */
START_TEST(test_to_uint8)
{
    static const int shapes[3][4] = {{3, 3, 64, 64}, {2, 1, 5, 7}, {1, 4, 33, 17}};
    int n = shapes[_i][0], c = shapes[_i][1], h = shapes[_i][2], w = shapes[_i][3];
    size_t total = (size_t)n * c * h * w;
    open_backends();
    float *x = malloc(total * sizeof *x);
    ck_assert_ptr_nonnull(x);
    size_t i = 0;
    static const float specials[] = {0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, 1e30f,
                                     -1e30f, 1e-30f, -1e-30f, 127.0f / 127.5f, -128.0f / 127.5f};
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
        x[i++] = frand(-1.1f, 1.1f);
    for (size_t k = total; k > 1; k--) { /* shuffle: specials in every channel and sample */
        size_t j = rng_u64() % k;
        float t = x[k - 1];
        x[k - 1] = x[j];
        x[j] = t;
    }
    buf xb = buf_from(x, total);
    uint8_t *yc = g_cpu->ops->alloc(g_cpu, total), *yg = g_gpu->ops->alloc(g_gpu, total);
    ck_assert(yc && yg);
    RUN_BOTH(st_ = be->ops->to_uint8(be, SIDE(xb, side), side ? yg : yc, n, c, h, w));
    uint8_t *got = malloc(total), *want = malloc(total);
    ck_assert_int_eq(g_cpu->ops->download(g_cpu, want, yc, total), FS_OK);
    ck_assert_msg(g_gpu->ops->download(g_gpu, got, yg, total) == FS_OK, "%s", fs_error_message());
    uint8_t *direct = malloc(total);
    fs_image_nchw_f32_to_nhwc_u8(x, n, c, h, w, direct);
    ck_assert(memcmp(want, direct, total) == 0); /* the CPU op is the image_io rule */
    size_t bad = 0, first = 0;
    for (size_t k = 0; k < total; k++)
        if (got[k] != want[k] && !bad++)
            first = k;
    if (bad) {
        size_t plane = (size_t)h * w, s_ = first / (plane * c), r = first % (plane * c);
        size_t p = r / c, ch = r % c;
        float v = x[(s_ * c + ch) * plane + p];
        ck_assert_msg(0, "to_uint8: %zu bytes differ; first at %zu: x %a gpu %d cpu %d (seed "
                      "0x%016llx)", bad, first, v, got[first], want[first],
                      (unsigned long long)g_seed);
    }
    free(direct);
    free(got);
    free(want);
    free(x);
    g_cpu->ops->release(g_cpu, yc);
    g_gpu->ops->release(g_gpu, yg);
    buf_free(&xb);
    close_backends();
}
END_TEST

/* Memory round trip and the error paths of init. */
START_TEST(test_memory_and_init)
{
    open_backends();
    ck_assert_str_eq(g_gpu->ops->name, "cuda");
    size_t n = 3 * 1000 + 1;
    float *h = malloc(n * sizeof *h), *back = malloc(n * sizeof *back);
    for (size_t i = 0; i < n; i++)
        h[i] = frand(-1, 1);
    float *d = g_gpu->ops->alloc(g_gpu, n * sizeof(float));
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(g_gpu->ops->upload(g_gpu, d, h, n * sizeof(float)), FS_OK);
    ck_assert_int_eq(g_gpu->ops->synchronize(g_gpu), FS_OK);
    ck_assert_int_eq(g_gpu->ops->download(g_gpu, back, d, n * sizeof(float)), FS_OK);
    ck_assert(memcmp(h, back, n * sizeof *h) == 0);
    g_gpu->ops->release(g_gpu, d);
    fs_backend *bad = (fs_backend *)1;
    ck_assert_int_eq(fs_backend_cuda_init(&bad, 4096), FS_ERR_DEVICE);
    ck_assert_ptr_null(bad);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "device 4096"));
    free(h);
    free(back);
    close_backends();
}
END_TEST

/* ---- whole models ----------------------------------------------------------------------------------- */

#define SG2 FS_FIXTURES "/stylegan2"

typedef struct {
    float *data;
    int ndim;
    int64_t shape[FS_NPY_MAX_DIMS];
    size_t numel;
} arr;

static arr load(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    arr a;
    memset(&a, 0, sizeof a);
    fs_status s = fs_npy_read_f32(path, &a.ndim, a.shape, &a.data);
    ck_assert_msg(s == FS_OK, "%s: %s", path, fs_error_message());
    a.numel = 1;
    for (int d = 0; d < a.ndim; d++)
        a.numel *= (size_t)a.shape[d];
    return a;
}

static fs_weights *open_weights(const char *path, fs_net_select net, double conv_clamp)
{
    fs_convert_options o;
    fs_convert_options_default(&o);
    o.net = net;
    if (conv_clamp >= 0) {
        o.overrides.has_conv_clamp = 1;
        o.overrides.conv_clamp = conv_clamp;
    }
    uint8_t *buf_;
    size_t len;
    fs_weights *w;
    ck_assert_msg(fs_convert_to_memory(path, &o, &buf_, &len, NULL) == FS_OK, "%s",
                  fs_error_message());
    ck_assert_int_eq(fs_weights_open_owned(buf_, len, path, 0, &w), FS_OK);
    return w;
}

static void expect_golden(const float *got, const char *dir, const char *golden)
{
    arr want = load(dir, golden);
    double e = fs_check_rel_l2(got, want.data, want.numel);
    if (getenv("FS_TEST_VERBOSE"))
        printf("cuda %s/%-40s relative L2 %.3g\n", dir, golden, e);
    ck_assert_msg(e <= MODEL_TOL, "cuda %s/%s: relative L2 error %.3g > %.0e", dir, golden, e,
                  MODEL_TOL);
    free(want.data);
}

static const struct {
    const char *dir, *checkpoint;
    int conditional, has_cutoff, tf;
} g_fixtures[] = {
    {SG2 "/tiny", "network-snapshot.pkl", 0, 1, 0},
    {SG2 "/tiny-cond", "network-snapshot.pkl", 1, 1, 0},
    {SG2 "/tiny-tf", "stylegan2-tf-layout.pkl", 0, 0, 1},
};

static void synth_golden(fs_sg2_generator *g, const float *ws, int n, const char *dir,
                         const char *golden, fs_noise_mode noise)
{
    arr want = load(dir, golden);
    float *img = malloc(want.numel * sizeof *img);
    fs_sg2_synthesis_opts o = {noise, NULL, NULL, NULL};
    ck_assert_msg(fs_sg2_generator_synthesis(g, ws, n, &o, img) == FS_OK, "%s", fs_error_message());
    expect_golden(img, dir, golden);
    free(img);
    free(want.data);
}

START_TEST(test_generator_goldens)
{
    const char *dir = g_fixtures[_i].dir;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, g_fixtures[_i].checkpoint);
    fs_weights *w = open_weights(path, FS_NET_DEFAULT, -1);
    fs_backend *b;
    ck_assert_msg(fs_backend_cuda_init(&b, 0) == FS_OK, "%s", fs_error_message());
    fs_sg2_generator *g;
    ck_assert_msg(fs_sg2_generator_init(&g, w, b) == FS_OK, "%s", fs_error_message());
    arr z = load(dir, "z.npy"), c = {0};
    if (g_fixtures[_i].conditional)
        c = load(dir, "c.npy");
    int n = (int)z.shape[0];
    const fs_sg2_config *cfg = fs_sg2_generator_config(g);
    size_t ws_n = (size_t)n * fs_sg2_num_ws(cfg) * cfg->w_dim;
    float *ws = malloc(ws_n * sizeof *ws);
    static const struct { const char *ws, *img; float psi; int cutoff; } cases[] = {
        {"ws_psi1.npy", "img_psi1_const.npy", 1.0f, -1},
        {"ws_psi0.7.npy", "img_psi0.7_const.npy", 0.7f, -1},
        {"ws_psi0.5_cutoff4.npy", "img_psi0.5_cutoff4_const.npy", 0.5f, 4},
    };
    for (int k = 0; k < 3; k++) {
        if ((k == 2 && !g_fixtures[_i].has_cutoff) || (k == 1 && g_fixtures[_i].tf))
            continue;
        ck_assert_int_eq(fs_sg2_generator_mapping(g, z.data, c.data, n, cases[k].psi,
                                                  cases[k].cutoff, ws), FS_OK);
        expect_golden(ws, dir, cases[k].ws);
        arr wsg = load(dir, cases[k].ws);
        synth_golden(g, wsg.data, n, dir, cases[k].img, FS_NOISE_CONST);
        free(wsg.data);
    }
    if (g_fixtures[_i].tf) {
        ck_assert_int_eq(fs_sg2_generator_mapping(g, z.data, NULL, n, 0.7f, -1, ws), FS_OK);
        synth_golden(g, ws, n, dir, "img_psi0.7_const.npy", FS_NOISE_CONST);
    } else {
        arr w1 = load(dir, "ws_psi1.npy");
        synth_golden(g, w1.data, n, dir, "img_psi1_none.npy", FS_NOISE_NONE);
        free(w1.data);
        arr mixed = load(dir, "ws_mixed.npy");
        synth_golden(g, mixed.data, n, dir, "img_ws_mixed_const.npy", FS_NOISE_CONST);
        free(mixed.data);
    }
    free(ws);
    free(z.data);
    free(c.data);
    fs_sg2_generator_free(g);
    fs_backend_free(b);
    fs_weights_free(w);
}
END_TEST

/* Random noise has no official golden: CUDA against the CPU backend. */
START_TEST(test_generator_random_noise)
{
    const char *dir = g_fixtures[_i].dir;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, g_fixtures[_i].checkpoint);
    fs_weights *w = open_weights(path, FS_NET_DEFAULT, -1);
    rng_init();
    fs_backend *bc, *bg;
    ck_assert_int_eq(fs_backend_cpu_init(&bc, 0), FS_OK);
    ck_assert_msg(fs_backend_cuda_init(&bg, 0) == FS_OK, "%s", fs_error_message());
    fs_sg2_generator *gc, *gg;
    ck_assert_int_eq(fs_sg2_generator_init(&gc, w, bc), FS_OK);
    ck_assert_int_eq(fs_sg2_generator_init(&gg, w, bg), FS_OK);
    arr ws = load(dir, "ws_psi1.npy");
    int n = (int)ws.shape[0];
    const fs_sg2_config *cfg = fs_sg2_generator_config(gc);
    size_t numel = (size_t)n * cfg->img_channels * cfg->img_resolution * cfg->img_resolution;
    float *ic = malloc(numel * sizeof *ic), *ig = malloc(numel * sizeof *ig);
    uint64_t *seeds = malloc((size_t)n * sizeof *seeds);
    for (int i = 0; i < n; i++)
        seeds[i] = rng_u64();
    fs_sg2_synthesis_opts o = {FS_NOISE_RANDOM, seeds, NULL, NULL};
    ck_assert_int_eq(fs_sg2_generator_synthesis(gc, ws.data, n, &o, ic), FS_OK);
    ck_assert_msg(fs_sg2_generator_synthesis(gg, ws.data, n, &o, ig) == FS_OK, "%s",
                  fs_error_message());
    double e = fs_check_rel_l2(ig, ic, numel);
    if (getenv("FS_TEST_VERBOSE"))
        printf("cuda %s random noise vs cpu: relative L2 %.3g\n", dir, e);
    ck_assert_msg(e <= MODEL_TOL, "%s random noise: relative L2 %.3g (seed 0x%016llx)", dir, e,
                  (unsigned long long)g_seed);
    free(ic);
    free(ig);
    free(seeds);
    free(ws.data);
    fs_sg2_generator_free(gc);
    fs_sg2_generator_free(gg);
    fs_backend_free(bc);
    fs_backend_free(bg);
    fs_weights_free(w);
}
END_TEST

/* The tiny generators' const-noise goldens (official float32) with the
 * synthesis on tensor cores: _i = fixture * 2 + {0: FP16 everywhere,
 * 1: MIXED with num_fp16_res overridden to 2, so that of 4..32 the blocks
 * 16 and 32 run in FP16 and 4 and 8 in FP32}; relative L2 <= HALF_TOL. */
START_TEST(test_generator_precision)
{
    int fi = _i / 2, mixed = _i % 2;
    const char *dir = g_fixtures[fi].dir;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, g_fixtures[fi].checkpoint);
    fs_convert_options co;
    fs_convert_options_default(&co);
    if (mixed) {
        co.overrides.has_num_fp16_res = 1;
        co.overrides.num_fp16_res = 2;
    }
    uint8_t *bytes;
    size_t len;
    fs_weights *w;
    ck_assert_msg(fs_convert_to_memory(path, &co, &bytes, &len, NULL) == FS_OK, "%s",
                  fs_error_message());
    ck_assert_int_eq(fs_weights_open_owned(bytes, len, path, 0, &w), FS_OK);
    fs_backend *b;
    ck_assert_msg(fs_backend_cuda_init_ex(&b, 0, mixed ? FS_CUDA_MIXED : FS_CUDA_FP16) == FS_OK,
                  "%s", fs_error_message());
    fs_sg2_generator *g;
    ck_assert_msg(fs_sg2_generator_init(&g, w, b) == FS_OK, "%s", fs_error_message());
    arr ws = load(dir, "ws_psi1.npy"), want = load(dir, "img_psi1_const.npy");
    int n = (int)ws.shape[0];
    float *img = malloc(want.numel * sizeof *img);
    fs_sg2_synthesis_opts o = {FS_NOISE_CONST, NULL, NULL, NULL};
    ck_assert_msg(fs_sg2_generator_synthesis(g, ws.data, n, &o, img) == FS_OK, "%s",
                  fs_error_message());
    double e = fs_check_rel_l2(img, want.data, want.numel);
    if (getenv("FS_TEST_VERBOSE"))
        printf("cuda %s %s img_psi1_const: relative L2 %.3g\n", dir, mixed ? "mixed" : "fp16", e);
    ck_assert_msg(e <= HALF_TOL, "cuda %s %s: relative L2 %.3g > %.0e", dir,
                  mixed ? "mixed" : "fp16", e, HALF_TOL);
    free(img);
    free(ws.data);
    free(want.data);
    fs_sg2_generator_free(g);
    fs_backend_free(b);
    fs_weights_free(w);
}
END_TEST

static const struct {
    const char *dir, *checkpoint;
    double conv_clamp;
    int conditional;
} d_fixtures[] = {
    {SG2 "/tiny", "network-snapshot.pkl", -1, 0},
    {SG2 "/tiny", "D.pt", 256, 0},
    {SG2 "/tiny-cond", "network-snapshot.pkl", -1, 1},
    {SG2 "/tiny-cond", "D.pt", 2, 1},
    {SG2 "/tiny-tf", "stylegan2-tf-layout.pkl", -1, 0},
};

START_TEST(test_discriminator_scores)
{
    const char *dir = d_fixtures[_i].dir;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, d_fixtures[_i].checkpoint);
    fs_weights *w = open_weights(path, FS_NET_D, d_fixtures[_i].conv_clamp);
    fs_backend *b;
    ck_assert_msg(fs_backend_cuda_init(&b, 0) == FS_OK, "%s", fs_error_message());
    fs_sg2_discriminator *d;
    ck_assert_msg(fs_sg2_discriminator_init(&d, w, b) == FS_OK, "%s", fs_error_message());
    arr img = load(dir, "img_psi1_const.npy"), c = {0};
    if (d_fixtures[_i].conditional)
        c = load(dir, "c.npy");
    int n = (int)img.shape[0];
    float got[64];
    ck_assert_int_le(n, 64);
    ck_assert_msg(fs_sg2_discriminator_run(d, img.data, c.data, n, got) == FS_OK, "%s",
                  fs_error_message());
    expect_golden(got, dir, "D_scores_img_psi1_const.npy");
    free(img.data);
    free(c.data);
    fs_sg2_discriminator_free(d);
    fs_backend_free(b);
    fs_weights_free(w);
}
END_TEST

#define CVAE FS_FIXTURES "/cvaegan/tiny"

START_TEST(test_cvaegan_goldens)
{
    fs_weights *w = open_weights(CVAE "/cvaegan.pt", FS_NET_DEFAULT, -1);
    fs_backend *b;
    ck_assert_msg(fs_backend_cuda_init(&b, 0) == FS_OK, "%s", fs_error_message());
    fs_cvaegan *m;
    ck_assert_msg(fs_cvaegan_init(&m, w, b) == FS_OK, "%s", fs_error_message());
    arr x = load(CVAE, "x.npy"), z = load(CVAE, "z.npy"), c = load(CVAE, "c.npy");
    arr eps = load(CVAE, "eps.npy");
    const fs_cvaegan_config *cfg = fs_cvaegan_get_config(m);
    int n = (int)(z.numel / (size_t)cfg->z_dim);
    float *mu = malloc(z.numel * sizeof *mu), *lv = malloc(z.numel * sizeof *lv);
    ck_assert_msg(fs_cvaegan_encode(m, x.data, n, mu, lv) == FS_OK, "%s", fs_error_message());
    expect_golden(mu, CVAE, "mu.npy");
    expect_golden(lv, CVAE, "logvar.npy");
    float *img = malloc(x.numel * sizeof *img);
    ck_assert_int_eq(fs_cvaegan_generate(m, z.data, c.data, n, img), FS_OK);
    expect_golden(img, CVAE, "gen.npy");
    float d1s[64], d1c[64], d2s[64], d2c[64];
    ck_assert_int_eq(fs_cvaegan_discriminate(m, img, n, d1s, d1c, d2s, d2c), FS_OK);
    expect_golden(d1s, CVAE, "d1_src.npy");
    expect_golden(d1c, CVAE, "d1_cls.npy");
    expect_golden(d2s, CVAE, "d2_src.npy");
    expect_golden(d2c, CVAE, "d2_cls.npy");
    float *zr = malloc(z.numel * sizeof *zr);
    for (size_t i = 0; i < z.numel; i++)
        zr[i] = mu[i] + expf(0.5f * lv[i]) * eps.data[i];
    ck_assert_int_eq(fs_cvaegan_generate(m, zr, c.data, n, img), FS_OK);
    expect_golden(img, CVAE, "recon.npy");
    free(x.data);
    free(z.data);
    free(c.data);
    free(eps.data);
    free(mu);
    free(lv);
    free(img);
    free(zr);
    fs_cvaegan_free(m);
    fs_backend_free(b);
    fs_weights_free(w);
}
END_TEST

#define NCASES(a) ((int)(sizeof(a) / sizeof *(a)))
#endif /* FS_WITH_CUDA */

/* The CPU backend's to_uint8 (the oracle of test_to_uint8) is image_io.c's
 * conversion; runs without a GPU. */
START_TEST(test_cpu_to_uint8)
{
    fs_backend *b;
    ck_assert_int_eq(fs_backend_cpu_init(&b, 1), FS_OK);
    enum { N = 2, C = 3, H = 5, W = 4, T = N * C * H * W };
    float x[T];
    for (int i = 0; i < T; i++)
        x[i] = (float)(i - T / 2) / (T / 2) * 1.2f;
    x[7] = NAN;
    uint8_t got[T], want[T];
    ck_assert_int_eq(b->ops->to_uint8(b, x, got, N, C, H, W), FS_OK);
    fs_image_nchw_f32_to_nhwc_u8(x, N, C, H, W, want);
    ck_assert(memcmp(got, want, sizeof got) == 0);
    ck_assert_int_eq(b->ops->to_uint8(b, x, got, -1, C, H, W), FS_ERR_ARG);
    fs_backend_free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cuda_backend");
    TCase *ops = fs_check_gpu_tcase(s, "ops");
    TCase *models = fs_check_gpu_tcase(s, "models");
    TCase *cpu = tcase_create("cpu");
    tcase_add_test(cpu, test_cpu_to_uint8);
    suite_add_tcase(s, cpu);
#ifdef FS_WITH_CUDA
    tcase_add_test(ops, test_memory_and_init);
    tcase_add_loop_test(ops, test_fc, 0, NCASES(fc_cases));
    tcase_add_loop_test(ops, test_modconv, 0, NCASES(mc_cases));
    tcase_add_loop_test(ops, test_modconv_precision, 0, 3 * NCASES(mc_cases));
    tcase_add_loop_test(ops, test_modconv_fp16_range, 0, 3);
    tcase_add_loop_test(ops, test_modconv_mixed, 0, 2);
    tcase_add_loop_test(ops, test_modconv_noise_bits, 0, 2);
    tcase_add_loop_test(ops, test_conv2d, 0, NCASES(cv_cases));
    tcase_add_loop_test(ops, test_upfirdn2d, 0, NCASES(ufd_cases));
    tcase_add_loop_test(ops, test_conv_transpose2d, 0, NCASES(ct_cases));
    tcase_add_loop_test(ops, test_bias_act, 0, 10);
    tcase_add_loop_test(ops, test_axpby, 0, 2);
    tcase_add_loop_test(ops, test_normalize_2nd_moment, 0, 3);
    tcase_add_loop_test(ops, test_lerp_rows, 0, 3);
    tcase_add_test(ops, test_mbstd);
    tcase_add_loop_test(ops, test_project, 0, 2);
    tcase_add_loop_test(ops, test_avg_pool2d, 0, 3);
    tcase_add_loop_test(ops, test_instance_norm, 0, 3);
    tcase_add_loop_test(ops, test_to_uint8, 0, 3);
    tcase_add_loop_test(models, test_generator_goldens, 0, NCASES(g_fixtures));
    tcase_add_loop_test(models, test_generator_random_noise, 0, 2);
    tcase_add_loop_test(models, test_generator_precision, 0, 2 * 2); /* tiny, tiny-cond */
    tcase_add_loop_test(models, test_discriminator_scores, 0, NCASES(d_fixtures));
    tcase_add_test(models, test_cvaegan_goldens);
#else
    (void)ops;
    (void)models;
#endif
    return fs_check_run(s, "cuda_backend");
}
