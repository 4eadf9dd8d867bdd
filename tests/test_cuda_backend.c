/* The CUDA backend as a whole: memory and initialisation, and the models
 * end to end. The ops one by one (CUDA against the CPU, every precision, at
 * real layer shapes) are tests/test_backend_ops.c.
 *
 * "backend" (tag gpu): memory round trip, init errors.
 * "models" (tag gpu): the generator, discriminator and CVAE-GAN goldens of
 * test_stylegan2_g.c / test_stylegan2_d.c / test_cvaegan.c on the CUDA
 * backend, relative L2 <= MODEL_TOL = 1e-5 as on the CPU; the tiny
 * generators in FP16 and MIXED precision against the same goldens (<=
 * HALF_TOL); and random-noise synthesis, CUDA against CPU (seeded from the
 * clock, the seed printed with a failure; FS_TEST_SEED=0x... replays it).
 * "chunks" (tag gpu): v1 modconv (up 1 and 2, random and const noise) and
 * the down-sampling conv2d (k 3 and 1) with the chunk byte limit
 * (fs_backend_cuda_set_chunk_bytes) set so that each call runs in three
 * sample chunks (engine/chunk_plan.c says so first), against the CPU.
 * "host path" (tag gpu): pinned memory, download_async and fences; reserve
 * and the FS_ERR_LIMIT of an op past it; graph capture and replay (a replay
 * reads the pinned input anew), and what a capture refuses (pageable
 * uploads, downloads, allocation) with the backend usable after each.
 * "threads" (tag gpu): two threads, each with its own backend and generator
 * on device 0, generate at once and get the images one thread alone gets.
 * FS_TEST_VERBOSE=1 prints every error measured (the margins of a GPU run).
 * Without a device every case reports SKIP. */
#include "fixture_util.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#ifdef FS_WITH_CUDA
#include "../engine/backend.h"
#include "../engine/chunk_plan.h"
#include "../engine/cvaegan.h"
#include "../engine/stylegan2.h"
#include "../kernels/cuda_backend.h"

#include <cuda_runtime_api.h> /* test_graphs: a capture the runtime itself invalidates */

#define MODEL_TOL 1e-5
#define HALF_TOL 1e-2 /* tensor-core synthesis (FP16 / MIXED) against the float32 goldens */

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

/* ---- the backend ---------------------------------------------------------------------------------- */

/* Memory round trip and the error paths of init. */
START_TEST(test_memory_and_init)
{
    rng_init();
    fs_backend *g_gpu;
    ck_assert_msg(fs_backend_cuda_init(&g_gpu, 0) == FS_OK, "cuda init: %s", fs_error_message());
    ck_assert_str_eq(g_gpu->ops->name, "cuda");
    size_t n = 3 * 1000 + 1;
    float *h = malloc(n * sizeof *h), *back = malloc(n * sizeof *back);
    for (size_t i = 0; i < n; i++)
        h[i] = (float)((double)(rng_u64() >> 40) / 16777216.0 - 0.5);
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
    fs_backend_free(g_gpu);
}
END_TEST


/* ---- whole models ----------------------------------------------------------------------------------- */

#define SG2 FS_FIXTURES "/stylegan2"

static void expect_golden(const float *got, const char *dir, const char *golden)
{
    fs_fixture_expect_close("cuda", got, dir, golden, MODEL_TOL);
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
    fs_fixture_arr want = fs_fixture_load(dir, golden);
    float *img = malloc(want.numel * sizeof *img);
    fs_sg2_synthesis_opts o = {.noise_mode = noise};
    ck_assert_msg(fs_sg2_generator_synthesis(g, ws, n, &o, img) == FS_OK, "%s", fs_error_message());
    expect_golden(img, dir, golden);
    free(img);
    free(want.data);
}

START_TEST(test_generator_goldens)
{
    const char *dir = g_fixtures[_i].dir;
    fs_weights *w = fs_fixture_open_in(dir, g_fixtures[_i].checkpoint, FS_WANT_GENERATOR, -1);
    fs_backend *b;
    ck_assert_msg(fs_backend_cuda_init(&b, 0) == FS_OK, "%s", fs_error_message());
    fs_sg2_generator *g;
    ck_assert_msg(fs_sg2_generator_init(&g, w, b) == FS_OK, "%s", fs_error_message());
    fs_fixture_arr z = fs_fixture_load(dir, "z.npy"), c = {0};
    if (g_fixtures[_i].conditional)
        c = fs_fixture_load(dir, "c.npy");
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
        fs_fixture_arr wsg = fs_fixture_load(dir, cases[k].ws);
        synth_golden(g, wsg.data, n, dir, cases[k].img, FS_NOISE_CONST);
        free(wsg.data);
    }
    if (g_fixtures[_i].tf) {
        ck_assert_int_eq(fs_sg2_generator_mapping(g, z.data, NULL, n, 0.7f, -1, ws), FS_OK);
        synth_golden(g, ws, n, dir, "img_psi0.7_const.npy", FS_NOISE_CONST);
    } else {
        fs_fixture_arr w1 = fs_fixture_load(dir, "ws_psi1.npy");
        synth_golden(g, w1.data, n, dir, "img_psi1_none.npy", FS_NOISE_NONE);
        free(w1.data);
        fs_fixture_arr mixed = fs_fixture_load(dir, "ws_mixed.npy");
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
    fs_weights *w = fs_fixture_open_in(dir, g_fixtures[_i].checkpoint, FS_WANT_GENERATOR, -1);
    rng_init();
    fs_backend *bc, *bg;
    ck_assert_int_eq(fs_backend_cpu_init(&bc, 0), FS_OK);
    ck_assert_msg(fs_backend_cuda_init(&bg, 0) == FS_OK, "%s", fs_error_message());
    fs_sg2_generator *gc, *gg;
    ck_assert_int_eq(fs_sg2_generator_init(&gc, w, bc), FS_OK);
    ck_assert_int_eq(fs_sg2_generator_init(&gg, w, bg), FS_OK);
    fs_fixture_arr ws = fs_fixture_load(dir, "ws_psi1.npy");
    int n = (int)ws.shape[0];
    const fs_sg2_config *cfg = fs_sg2_generator_config(gc);
    size_t numel = (size_t)n * cfg->img_channels * cfg->img_resolution * cfg->img_resolution;
    float *ic = malloc(numel * sizeof *ic), *ig = malloc(numel * sizeof *ig);
    uint64_t *seeds = malloc((size_t)n * sizeof *seeds);
    for (int i = 0; i < n; i++)
        seeds[i] = rng_u64();
    fs_sg2_synthesis_opts o = {.noise_mode = FS_NOISE_RANDOM, .noise_seeds = seeds};
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
    fs_network_opts no = fs_fixture_opts(FS_WANT_GENERATOR, -1);
    if (mixed) {
        no.convert.overrides.has_num_fp16_res = 1;
        no.convert.overrides.num_fp16_res = 2;
    }
    fs_weights *w = fs_fixture_open(path, &no);
    fs_backend *b;
    ck_assert_msg(fs_backend_cuda_init_ex(&b, 0, mixed ? FS_CUDA_MIXED : FS_CUDA_FP16) == FS_OK,
                  "%s", fs_error_message());
    fs_sg2_generator *g;
    ck_assert_msg(fs_sg2_generator_init(&g, w, b) == FS_OK, "%s", fs_error_message());
    fs_fixture_arr ws = fs_fixture_load(dir, "ws_psi1.npy"), want = fs_fixture_load(dir, "img_psi1_const.npy");
    int n = (int)ws.shape[0];
    float *img = malloc(want.numel * sizeof *img);
    fs_sg2_synthesis_opts o = {.noise_mode = FS_NOISE_CONST};
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
    fs_weights *w = fs_fixture_open_in(dir, d_fixtures[_i].checkpoint, FS_WANT_DISCRIMINATOR,
                                       d_fixtures[_i].conv_clamp);
    fs_backend *b;
    ck_assert_msg(fs_backend_cuda_init(&b, 0) == FS_OK, "%s", fs_error_message());
    fs_sg2_discriminator *d;
    ck_assert_msg(fs_sg2_discriminator_init(&d, w, b) == FS_OK, "%s", fs_error_message());
    fs_fixture_arr img = fs_fixture_load(dir, "img_psi1_const.npy"), c = {0};
    if (d_fixtures[_i].conditional)
        c = fs_fixture_load(dir, "c.npy");
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
    fs_weights *w = fs_fixture_open_in(CVAE, "cvaegan.pt", FS_WANT_CVAEGAN, -1);
    fs_backend *b;
    ck_assert_msg(fs_backend_cuda_init(&b, 0) == FS_OK, "%s", fs_error_message());
    fs_cvaegan *m;
    ck_assert_msg(fs_cvaegan_init(&m, w, b) == FS_OK, "%s", fs_error_message());
    fs_fixture_arr x = fs_fixture_load(CVAE, "x.npy"), z = fs_fixture_load(CVAE, "z.npy"), c = fs_fixture_load(CVAE, "c.npy");
    fs_fixture_arr eps = fs_fixture_load(CVAE, "eps.npy");
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

/* ---- the chunked paths --------------------------------------------------------------------------- */

static float *rand_floats(size_t n, float scale)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)((double)(rng_u64() >> 40) / 16777216.0 * 2.0 - 1.0) * scale;
    return p;
}

/* A host array on both backends: *c for the CPU, *g uploaded to the GPU. */
static void both(fs_backend *bg, const float *h, size_t n, const float **c, float **g)
{
    *c = h;
    *g = bg->ops->alloc(bg, n * sizeof(float));
    ck_assert_ptr_nonnull(*g);
    ck_assert_int_eq(bg->ops->upload(bg, *g, h, n * sizeof(float)), FS_OK);
}

/* StyleGAN2's [1, 3, 3, 1] as a normalised 2-D filter. */
static void fir4(float *f)
{
    static const float k[4] = {1, 3, 3, 1};
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            f[y * 4 + x] = k[y] * k[x] / 64.0f;
}

/* _i: up (1, 2) x noise (random with host seeds, random with device seeds,
 * const): one modconv in three chunks on CUDA against the CPU. */
START_TEST(test_modconv_chunks)
{
    rng_init();
    int up = 1 + _i / 3, noise_kind = _i % 3;
    int n = 5, cin = 8, cout = 12, h = 8, w = 8, oh = h * up, ow = w * up;
    fs_backend *bc, *bg;
    ck_assert_int_eq(fs_backend_cpu_init(&bc, 0), FS_OK);
    ck_assert_msg(fs_backend_cuda_init(&bg, 0) == FS_OK, "%s", fs_error_message());
    int random = noise_kind < 2;
    fs_modconv_chunk_in ci = {n, cin, cout, h, w, up, 1, random, 0};
    fs_modconv_chunk_plan cp;
    fs_modconv_chunk_plan_make(&ci, (size_t)512 << 20, &cp);
    /* two samples a chunk: 2, 2, 1; up 1 with const noise has no
     * temporaries, so even a 1-byte limit leaves one chunk */
    size_t limit = cp.per_sample ? 2 * cp.per_sample : 1;
    fs_modconv_chunk_plan_make(&ci, limit, &cp);
    ck_assert_int_eq(cp.n_chunks, cp.per_sample ? 3 : 1);
    ck_assert_int_eq(fs_backend_cuda_set_chunk_bytes(bg, limit), FS_OK);

    size_t nx = (size_t)n * cin * h * w, nw = (size_t)cout * cin * 9, ny = (size_t)n * cout * oh * ow;
    float *hx = rand_floats(nx, 1.0f), *hw_ = rand_floats(nw, 0.5f);
    float *hs = rand_floats((size_t)n * cin, 1.0f), *hb = rand_floats(cout, 0.2f);
    float *hn = rand_floats((size_t)oh * ow, 1.0f), hf[16];
    fir4(hf);
    const float *cx, *cw, *cs, *cb, *cn, *cf;
    float *gx, *gw, *gs, *gb, *gn, *gf;
    both(bg, hx, nx, &cx, &gx);
    both(bg, hw_, nw, &cw, &gw);
    both(bg, hs, (size_t)n * cin, &cs, &gs);
    both(bg, hb, cout, &cb, &gb);
    both(bg, hn, (size_t)oh * ow, &cn, &gn);
    both(bg, hf, 16, &cf, &gf);
    uint64_t seeds[5];
    for (int i = 0; i < n; i++)
        seeds[i] = rng_u64();
    uint64_t *gseeds = bg->ops->alloc(bg, sizeof seeds);
    ck_assert_int_eq(bg->ops->upload(bg, gseeds, seeds, sizeof seeds), FS_OK);
    float *yc = malloc(ny * sizeof *yc), *yg = malloc(ny * sizeof *yg);
    float *gy = bg->ops->alloc(bg, ny * sizeof(float));
    fs_modconv_args a = {.x = cx, .weight = cw, .styles = cs, .b = cb, .y = yc, .n = n, .cin = cin,
                         .cout = cout, .h = h, .w = w, .k = 3, .up = up, .demodulate = 1,
                         .fir = cf, .fir_len = 4,
                         .noise_mode = random ? FS_NOISE_RANDOM : FS_NOISE_CONST,
                         .noise_const = cn, .noise_strength = 0.3f, .noise_seeds = seeds,
                         .noise_stream = 5, .act = FS_ACT_LRELU, .gain = 1.0f, .clamp = 256.0f};
    ck_assert_int_eq(bc->ops->modconv(bc, &a), FS_OK);
    a.x = gx, a.weight = gw, a.styles = gs, a.b = gb, a.y = gy, a.fir = gf, a.noise_const = gn;
    a.noise_seeds = noise_kind == 1 ? gseeds : seeds;
    ck_assert_msg(bg->ops->modconv(bg, &a) == FS_OK, "%s", fs_error_message());
    ck_assert_int_eq(bg->ops->download(bg, yg, gy, ny * sizeof(float)), FS_OK);
    double e = fs_check_rel_l2(yg, yc, ny);
    if (getenv("FS_TEST_VERBOSE"))
        printf("modconv up %d noise %d in %d chunks: relative L2 %.3g\n", up, noise_kind,
               cp.n_chunks, e);
    ck_assert_msg(e <= MODEL_TOL, "modconv up %d noise %d, 3 chunks: relative L2 %.3g (seed "
                  "0x%016llx)", up, noise_kind, e, (unsigned long long)g_seed);
    float *gp[] = {gx, gw, gs, gb, gn, gf, gy};
    for (int i = 0; i < 7; i++)
        bg->ops->release(bg, gp[i]);
    bg->ops->release(bg, gseeds);
    free(hx), free(hw_), free(hs), free(hb), free(hn), free(yc), free(yg);
    fs_backend_free(bc);
    fs_backend_free(bg);
}
END_TEST

/* _i: k 3 (the discriminator's down conv) or k 1 (its resnet skip). */
START_TEST(test_conv2d_chunks)
{
    rng_init();
    int k = _i == 0 ? 3 : 1, n = 5, cin = 6, cout = 7, h = 12, w = 10;
    fs_backend *bc, *bg;
    ck_assert_int_eq(fs_backend_cpu_init(&bc, 0), FS_OK);
    ck_assert_msg(fs_backend_cuda_init(&bg, 0) == FS_OK, "%s", fs_error_message());
    fs_conv2d_down_plan dp;
    fs_conv2d_down_plan_make(n, cin, h, w, k, 4, (size_t)512 << 20, &dp);
    size_t limit = 2 * dp.per_sample;
    fs_conv2d_down_plan_make(n, cin, h, w, k, 4, limit, &dp);
    ck_assert_int_eq(dp.n_chunks, 3);
    ck_assert_int_eq(fs_backend_cuda_set_chunk_bytes(bg, limit), FS_OK);
    size_t nx = (size_t)n * cin * h * w, nw = (size_t)cout * cin * k * k;
    size_t ny = (size_t)n * cout * dp.oh * dp.ow;
    float *hx = rand_floats(nx, 1.0f), *hw_ = rand_floats(nw, 1.0f), *hb = rand_floats(cout, 0.2f);
    float hf[16];
    fir4(hf);
    const float *cx, *cw, *cb, *cf;
    float *gx, *gw, *gb, *gf;
    both(bg, hx, nx, &cx, &gx);
    both(bg, hw_, nw, &cw, &gw);
    both(bg, hb, cout, &cb, &gb);
    both(bg, hf, 16, &cf, &gf);
    float *yc = malloc(ny * sizeof *yc), *yg = malloc(ny * sizeof *yg);
    float *gy = bg->ops->alloc(bg, ny * sizeof(float));
    fs_conv2d_args a = {.x = cx, .weight = cw, .b = k == 3 ? cb : NULL, .y = yc, .n = n,
                        .cin = cin, .cout = cout, .h = h, .w = w, .k = k, .down = 2, .fir = cf,
                        .fir_len = 4, .weight_gain = 1.0f / sqrtf((float)(cin * k * k)),
                        .gain = k == 3 ? sqrtf(2.0f) : 1.0f, .clamp = k == 3 ? 256.0f : 0.0f,
                        .act = k == 3 ? FS_ACT_LRELU : FS_ACT_LINEAR};
    ck_assert_int_eq(bc->ops->conv2d(bc, &a), FS_OK);
    a.x = gx, a.weight = gw, a.b = k == 3 ? gb : NULL, a.y = gy, a.fir = gf;
    ck_assert_msg(bg->ops->conv2d(bg, &a) == FS_OK, "%s", fs_error_message());
    ck_assert_int_eq(bg->ops->download(bg, yg, gy, ny * sizeof(float)), FS_OK);
    double e = fs_check_rel_l2(yg, yc, ny);
    if (getenv("FS_TEST_VERBOSE"))
        printf("conv2d down k %d in %d chunks: relative L2 %.3g\n", k, dp.n_chunks, e);
    ck_assert_msg(e <= MODEL_TOL, "conv2d down k %d, 3 chunks: relative L2 %.3g (seed 0x%016llx)",
                  k, e, (unsigned long long)g_seed);
    float *gp[] = {gx, gw, gb, gf, gy};
    for (int i = 0; i < 5; i++)
        bg->ops->release(bg, gp[i]);
    free(hx), free(hw_), free(hb), free(yc), free(yg);
    fs_backend_free(bc);
    fs_backend_free(bg);
}
END_TEST

/* ---- the host path --------------------------------------------------------------------------------- */

START_TEST(test_pinned_fences)
{
    fs_backend *b;
    ck_assert_msg(fs_backend_cuda_init(&b, 0) == FS_OK, "%s", fs_error_message());
    size_t n = 1 << 20;
    float *h = b->ops->alloc_host(b, n * sizeof(float)), *back = b->ops->alloc_host(b, n * sizeof(float));
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_nonnull(back);
    for (size_t i = 0; i < n; i++)
        h[i] = (float)i;
    float *d = b->ops->alloc(b, n * sizeof(float));
    fs_fence *f;
    ck_assert_int_eq(b->ops->fence_create(b, &f), FS_OK);
    ck_assert_int_eq(b->ops->fence_wait(b, f), FS_OK); /* never signalled: at once */
    ck_assert_int_eq(b->ops->fence_order(b, f), FS_OK);
    ck_assert_int_eq(b->ops->upload(b, d, h, n * sizeof(float)), FS_OK);
    ck_assert_int_eq(b->ops->axpby(b, d, d, n, 1.0f, 1.0f), FS_OK); /* d = 2 h */
    ck_assert_int_eq(b->ops->download_async(b, back, d, n * sizeof(float), f), FS_OK);
    ck_assert_int_eq(b->ops->fence_order(b, f), FS_OK);
    ck_assert_int_eq(b->ops->axpby(b, d, d, n, 0.0f, 0.0f), FS_OK); /* after the copy read d */
    ck_assert_int_eq(b->ops->fence_wait(b, f), FS_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(back[i] == 2.0f * (float)i, "element %zu: %g", i, back[i]);
    ck_assert_int_eq(b->ops->synchronize(b), FS_OK);
    b->ops->fence_free(b, f);
    b->ops->release(b, d);
    b->ops->release_host(b, h);
    b->ops->release_host(b, back);
    fs_backend_free(b);
}
END_TEST

/* A graph of upload (pinned) + axpby + to_uint8 replayed with new inputs;
 * then every refusal inside a capture, the backend usable after each. */
START_TEST(test_graphs)
{
    fs_backend *b;
    ck_assert_msg(fs_backend_cuda_init(&b, 0) == FS_OK, "%s", fs_error_message());
    int n = 2, c = 3, hw = 16;
    size_t len = (size_t)n * c * hw * hw;
    float *in = b->ops->alloc_host(b, len * sizeof(float));
    uint8_t *out = b->ops->alloc_host(b, len);
    float *d = b->ops->alloc(b, len * sizeof(float));
    uint8_t *u8 = b->ops->alloc(b, len);
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(b->ops->capture_begin(b), FS_OK);
    ck_assert_int_eq(b->ops->upload(b, d, in, len * sizeof(float)), FS_OK);
    ck_assert_int_eq(b->ops->axpby(b, d, d, len, 0.5f, 0.0f), FS_OK);
    ck_assert_int_eq(b->ops->to_uint8(b, d, u8, n, c, hw, hw), FS_OK);
    fs_graph *g;
    ck_assert_msg(b->ops->capture_end(b, &g) == FS_OK, "%s", fs_error_message());
    ck_assert_ptr_nonnull(g);
    fs_fence *f;
    ck_assert_int_eq(b->ops->fence_create(b, &f), FS_OK);
    for (int rep = 0; rep < 3; rep++) {
        for (size_t i = 0; i < len; i++)
            in[i] = (float)((i + (size_t)rep * 7) % 256) / 127.5f - 1.0f; /* halved to [-.5, .5] */
        ck_assert_int_eq(b->ops->graph_launch(b, g), FS_OK);
        ck_assert_int_eq(b->ops->download_async(b, out, u8, len, f), FS_OK);
        ck_assert_int_eq(b->ops->fence_wait(b, f), FS_OK);
        /* the expected bytes: the backend's own rule on the host (image_io.h) */
        for (int s = 0; s < n; s++)
            for (int ch = 0; ch < c; ch++)
                for (int p = 0; p < hw * hw; p++) {
                    float v = in[((size_t)s * c + ch) * hw * hw + p] * 0.5f;
                    volatile float t = v * 127.5f;
                    float u = t + 128.0f;
                    int want = u < 0 ? 0 : u > 255 ? 255 : (int)u;
                    ck_assert_int_eq(out[((size_t)s * hw * hw + p) * c + ch], want);
                }
    }
    b->ops->graph_free(b, g);

    /* refusals: each leaves capture mode through capture_end */
    float *pageable = calloc(len, sizeof(float));
    ck_assert_int_eq(b->ops->capture_begin(b), FS_OK);
    ck_assert_int_eq(b->ops->upload(b, d, pageable, len * sizeof(float)), FS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "pageable"));
    ck_assert_int_eq(b->ops->download(b, pageable, d, 16), FS_ERR_ARG);
    ck_assert_ptr_null(b->ops->alloc(b, 16));
    ck_assert_int_eq(b->ops->synchronize(b), FS_ERR_ARG);
    ck_assert_int_eq(b->ops->capture_begin(b), FS_ERR_ARG); /* no nesting */
    /* an empty capture: a graph or an error, either way out of capture mode */
    if (b->ops->capture_end(b, &g) == FS_OK)
        b->ops->graph_free(b, g);
    ck_assert_int_eq(b->ops->synchronize(b), FS_OK);
    /* an error the runtime finds mid-capture (a synchronisation of the
     * capturing stream behind the backend's back) invalidates it:
     * capture_end fails with no graph, leaves capture mode, and the
     * backend works on, a new capture too */
    ck_assert_int_eq(b->ops->capture_begin(b), FS_OK);
    ck_assert_int_eq(b->ops->axpby(b, d, d, len, 1.0f, 0.0f), FS_OK);
    ck_assert_int_ne(cudaStreamSynchronize((cudaStream_t)fs_backend_cuda_stream(b)), cudaSuccess);
    (void)cudaGetLastError();
    g = (fs_graph *)&g; /* capture_end must clear it */
    ck_assert_int_eq(b->ops->capture_end(b, &g), FS_ERR_DEVICE);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(b->ops->axpby(b, d, d, len, 1.0f, 0.0f), FS_OK);
    ck_assert_int_eq(b->ops->synchronize(b), FS_OK);
    ck_assert_int_eq(b->ops->capture_begin(b), FS_OK);
    ck_assert_int_eq(b->ops->axpby(b, d, d, len, 1.0f, 0.0f), FS_OK);
    ck_assert_msg(b->ops->capture_end(b, &g) == FS_OK, "%s", fs_error_message());
    ck_assert_int_eq(b->ops->graph_launch(b, g), FS_OK);
    ck_assert_int_eq(b->ops->synchronize(b), FS_OK);
    b->ops->graph_free(b, g);
    /* scratch: reserve, then an op needing more fails (not inside a capture either) */
    ck_assert_int_eq(fs_backend_cuda_set_chunk_bytes(b, 0), FS_OK);
    ck_assert_int_eq(b->ops->reserve(b, 1), FS_OK);
    size_t reserved = fs_backend_cuda_scratch_bytes(b);
    float fir[16];
    fir4(fir);
    float *gf = b->ops->alloc(b, sizeof fir), *gw = b->ops->alloc(b, 64 * 64 * 9 * sizeof(float));
    float *gx = b->ops->alloc(b, (size_t)4 * 64 * 32 * 32 * sizeof(float));
    float *gy = b->ops->alloc(b, (size_t)4 * 64 * 16 * 16 * sizeof(float));
    ck_assert_int_eq(b->ops->upload(b, gf, fir, sizeof fir), FS_OK);
    fs_conv2d_args ca = {.x = gx, .weight = gw, .y = gy, .n = 4, .cin = 64, .cout = 64, .h = 32,
                         .w = 32, .k = 3, .down = 2, .fir = gf, .fir_len = 4, .weight_gain = 1.0f,
                         .gain = 1.0f, .act = FS_ACT_LINEAR};
    ck_assert_int_eq(b->ops->conv2d(b, &ca), FS_ERR_LIMIT); /* never planned: not in the bound */
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "reserved"));
    ck_assert_uint_eq(fs_backend_cuda_scratch_bytes(b), reserved);
    fs_plan *pl;
    ck_assert_int_eq(b->ops->plan(b, FS_OP_CONV2D, &ca, &pl), FS_OK);
    ck_assert_int_eq(b->ops->reserve(b, 4), FS_OK); /* planned now: covered */
    size_t at4 = fs_backend_cuda_scratch_bytes(b);
    ck_assert_int_eq(b->ops->capture_begin(b), FS_OK);
    ca.plan = pl;
    ck_assert_msg(b->ops->conv2d(b, &ca) == FS_OK, "%s", fs_error_message());
    ck_assert_int_eq(b->ops->capture_end(b, &g), FS_OK);
    ck_assert_int_eq(b->ops->graph_launch(b, g), FS_OK);
    ck_assert_int_eq(b->ops->synchronize(b), FS_OK);
    /* a larger reserve re-allocates the scratch the graph holds: refused */
    ck_assert_int_eq(b->ops->reserve(b, 64), FS_OK);
    ck_assert_uint_gt(fs_backend_cuda_scratch_bytes(b), at4);
    ck_assert_int_eq(b->ops->graph_launch(b, g), FS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "re-allocated"));
    b->ops->graph_free(b, g);
    b->ops->plan_free(b, pl);
    float *gp[] = {gf, gw, gx, gy, d};
    for (int i = 0; i < 5; i++)
        b->ops->release(b, gp[i]);
    b->ops->release(b, u8);
    b->ops->fence_free(b, f);
    b->ops->release_host(b, in);
    b->ops->release_host(b, out);
    free(pageable);
    fs_backend_free(b);
}
END_TEST

/* fs_sg2_generator_reserve then a larger batch: a clear FS_ERR_LIMIT. */
START_TEST(test_generator_reserve)
{
    fs_weights *w = fs_fixture_open_in(SG2 "/tiny", "network-snapshot.pkl", FS_WANT_GENERATOR, -1);
    fs_backend *b;
    ck_assert_msg(fs_backend_cuda_init(&b, 0) == FS_OK, "%s", fs_error_message());
    fs_sg2_generator *g;
    ck_assert_int_eq(fs_sg2_generator_init(&g, w, b), FS_OK);
    ck_assert_msg(fs_sg2_generator_reserve(g, 4) == FS_OK, "%s", fs_error_message());
    const fs_sg2_config *cfg = fs_sg2_generator_config(g);
    int n = 8;
    float *z = calloc((size_t)n * cfg->z_dim, sizeof *z);
    uint64_t seeds[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t *img = malloc((size_t)n * cfg->img_channels * cfg->img_resolution * cfg->img_resolution);
    fs_sg2_generate_args a = {.n = 4, .z = z, .psi = 1.0f, .cutoff = -1,
                              .noise_mode = FS_NOISE_RANDOM, .noise_seeds = seeds, .images = img};
    ck_assert_msg(fs_sg2_generate(g, &a) == FS_OK, "%s", fs_error_message());
    a.n = 8;
    ck_assert_int_eq(fs_sg2_generate(g, &a), FS_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "reserve"));
    ck_assert_msg(fs_sg2_generator_reserve(g, 8) == FS_OK, "%s", fs_error_message());
    ck_assert_msg(fs_sg2_generate(g, &a) == FS_OK, "%s", fs_error_message());
    free(z);
    free(img);
    fs_sg2_generator_free(g);
    fs_backend_free(b);
    fs_weights_free(w);
}
END_TEST

/* ---- threads --------------------------------------------------------------------------------------- */

typedef struct {
    const char *path;
    const float *z;
    const uint64_t *seeds;
    const uint8_t *want;
    int n, reps;
    size_t bytes;
    int mismatches;
    fs_status status;
    char msg[256];
} thread_job;

/* Each thread: its own backend and generator, reps forwards compared with
 * the reference. No Check asserts here (they belong to the test's thread). */
static void *generate_thread(void *arg)
{
    thread_job *j = arg;
    fs_backend *b = NULL;
    fs_sg2_generator *g = NULL;
    fs_weights *w = NULL;
    uint8_t *img = malloc(j->bytes);
    /* the thread's own weights too: nothing of the library is shared */
    fs_network_opts o = fs_fixture_opts(FS_WANT_GENERATOR, -1);
    j->status = fs_network_open(j->path, &o, &w, NULL);
    if (j->status == FS_OK)
        j->status = fs_backend_cuda_init(&b, 0);
    if (j->status == FS_OK)
        j->status = fs_sg2_generator_init(&g, w, b);
    for (int r = 0; r < j->reps && j->status == FS_OK; r++) {
        fs_sg2_generate_args a = {.n = j->n, .z = j->z, .psi = 0.7f, .cutoff = -1,
                                  .noise_mode = FS_NOISE_RANDOM, .noise_seeds = j->seeds,
                                  .images = img};
        j->status = fs_sg2_generate(g, &a);
        if (j->status == FS_OK && memcmp(img, j->want, j->bytes) != 0)
            j->mismatches++;
    }
    if (j->status != FS_OK)
        snprintf(j->msg, sizeof j->msg, "%s", fs_error_message());
    fs_sg2_generator_free(g);
    fs_backend_free(b);
    fs_weights_free(w);
    free(img);
    return NULL;
}

START_TEST(test_two_threads)
{
    fs_weights *w = fs_fixture_open_in(SG2 "/tiny", "network-snapshot.pkl", FS_WANT_GENERATOR, -1);
    fs_backend *b;
    ck_assert_msg(fs_backend_cuda_init(&b, 0) == FS_OK, "%s", fs_error_message());
    fs_sg2_generator *g;
    ck_assert_int_eq(fs_sg2_generator_init(&g, w, b), FS_OK);
    const fs_sg2_config *cfg = fs_sg2_generator_config(g);
    int n = 6;
    rng_init();
    float *z = rand_floats((size_t)n * cfg->z_dim, 2.0f);
    uint64_t seeds[6];
    for (int i = 0; i < n; i++)
        seeds[i] = rng_u64();
    size_t bytes = (size_t)n * cfg->img_channels * cfg->img_resolution * cfg->img_resolution;
    uint8_t *want = malloc(bytes);
    fs_sg2_generate_args a = {.n = n, .z = z, .psi = 0.7f, .cutoff = -1,
                              .noise_mode = FS_NOISE_RANDOM, .noise_seeds = seeds, .images = want};
    ck_assert_msg(fs_sg2_generate(g, &a) == FS_OK, "%s", fs_error_message());
    fs_sg2_generator_free(g);
    fs_backend_free(b);
    thread_job jobs[2];
    pthread_t th[2];
    for (int t = 0; t < 2; t++) {
        jobs[t] = (thread_job){.path = SG2 "/tiny/network-snapshot.pkl", .z = z, .seeds = seeds, .want = want, .n = n, .reps = 25,
                               .bytes = bytes};
        ck_assert_int_eq(pthread_create(&th[t], NULL, generate_thread, &jobs[t]), 0);
    }
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < 2; t++) {
        ck_assert_msg(jobs[t].status == FS_OK, "thread %d: %s", t, jobs[t].msg);
        ck_assert_msg(jobs[t].mismatches == 0, "thread %d: %d of %d forwards differ (seed "
                      "0x%016llx)", t, jobs[t].mismatches, jobs[t].reps, (unsigned long long)g_seed);
    }
    free(want);
    free(z);
    fs_weights_free(w);
}
END_TEST

#define NCASES(a) ((int)(sizeof(a) / sizeof *(a)))
#endif /* FS_WITH_CUDA */

int main(void)
{
    Suite *s = suite_create("cuda_backend");
    TCase *backend = fs_check_gpu_tcase(s, "backend");
    TCase *models = fs_check_gpu_tcase(s, "models");
    TCase *chunks = fs_check_gpu_tcase(s, "chunks");
    TCase *host = fs_check_gpu_tcase(s, "host path");
    TCase *threads = fs_check_gpu_tcase(s, "threads");
#ifdef FS_WITH_CUDA
    tcase_add_loop_test(chunks, test_modconv_chunks, 0, 2 * 3);
    tcase_add_loop_test(chunks, test_conv2d_chunks, 0, 2);
    tcase_add_test(host, test_pinned_fences);
    tcase_add_test(host, test_graphs);
    tcase_add_test(host, test_generator_reserve);
    tcase_add_test(threads, test_two_threads);
    tcase_add_test(backend, test_memory_and_init);
    tcase_add_loop_test(models, test_generator_goldens, 0, NCASES(g_fixtures));
    tcase_add_loop_test(models, test_generator_random_noise, 0, 2);
    tcase_add_loop_test(models, test_generator_precision, 0, 2 * 2); /* tiny, tiny-cond */
    tcase_add_loop_test(models, test_discriminator_scores, 0, NCASES(d_fixtures));
    tcase_add_test(models, test_cvaegan_goldens);
#else
    (void)backend;
    (void)models;
    (void)chunks;
    (void)host;
    (void)threads;
#endif
    return fs_check_run(s, "cuda_backend");
}
