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
 * FS_TEST_VERBOSE=1 prints every error measured (the margins of a GPU run).
 * Without a device both cases report SKIP. */
#include "fixture_util.h"

#include <stdint.h>
#include <time.h>

#ifdef FS_WITH_CUDA
#include "../engine/backend.h"
#include "../engine/cvaegan.h"
#include "../engine/stylegan2.h"
#include "../kernels/cuda_backend.h"

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

#define NCASES(a) ((int)(sizeof(a) / sizeof *(a)))
#endif /* FS_WITH_CUDA */

int main(void)
{
    Suite *s = suite_create("cuda_backend");
    TCase *backend = fs_check_gpu_tcase(s, "backend");
    TCase *models = fs_check_gpu_tcase(s, "models");
#ifdef FS_WITH_CUDA
    tcase_add_test(backend, test_memory_and_init);
    tcase_add_loop_test(models, test_generator_goldens, 0, NCASES(g_fixtures));
    tcase_add_loop_test(models, test_generator_random_noise, 0, 2);
    tcase_add_loop_test(models, test_generator_precision, 0, 2 * 2); /* tiny, tiny-cond */
    tcase_add_loop_test(models, test_discriminator_scores, 0, NCASES(d_fixtures));
    tcase_add_test(models, test_cvaegan_goldens);
#else
    (void)backend;
    (void)models;
#endif
    return fs_check_run(s, "cuda_backend");
}
