/* The CPU backend's outputs do not depend on the thread count or on how a
 * batch is split (README "Scaling out": the same seed gives the same image
 * whatever the batch size, the thread count or the process), byte for byte:
 *   - the StyleGAN2 generator (tiny fixture, 32x32) with 1, 2 and 3 workers,
 *     and every sample run alone against the whole batch;
 *   - the modulated conv at full-width layer shapes, planned, where the work
 *     splits differently with the batch and the workers: the implicit-GEMM
 *     3x3 path (input read in place and packed), the 1x1 ToRGB and the
 *     up-sampling path, with const and random noise. */
#include "fixture_util.h"

#include "../engine/backend.h"
#include "../engine/stylegan2.h"

#define SG2 FS_FIXTURES "/stylegan2"

static void fill(float *p, size_t n, uint32_t seed, float scale)
{
    uint32_t s = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 2.0f * scale;
    }
}

/* n images of the tiny generator on a backend with `threads` workers, in
 * calls of `per_call` samples. */
static float *generate(int threads, int n, int per_call, size_t *numel)
{
    fs_network_opts o = fs_fixture_opts(FS_WANT_GENERATOR, -1);
    fs_weights *w = fs_fixture_open(SG2 "/tiny/network-snapshot.pkl", &o);
    fs_backend *b;
    fs_sg2_generator *g;
    ck_assert_int_eq(fs_backend_cpu_init(&b, threads), FS_OK);
    ck_assert_msg(fs_sg2_generator_init(&g, w, b) == FS_OK, "%s", fs_error_message());
    const fs_sg2_config *c = fs_sg2_generator_config(g);
    size_t zd = c->z_dim, per_ws = fs_sg2_num_ws(c) * c->w_dim;
    size_t per_img = (size_t)c->img_channels * c->img_resolution * c->img_resolution;
    float *z = malloc((size_t)n * zd * sizeof *z), *ws = malloc((size_t)n * per_ws * sizeof *ws);
    float *img = malloc((size_t)n * per_img * sizeof *img);
    fill(z, (size_t)n * zd, 7, 2.0f);
    fs_sg2_synthesis_opts so = {.noise_mode = FS_NOISE_CONST};
    for (int i = 0; i < n; i += per_call) {
        int k = n - i < per_call ? n - i : per_call;
        ck_assert_int_eq(fs_sg2_generator_mapping(g, z + i * zd, NULL, k, 0.7f, -1, ws + i * per_ws),
                         FS_OK);
        ck_assert_int_eq(fs_sg2_generator_synthesis(g, ws + i * per_ws, k, &so, img + i * per_img),
                         FS_OK);
    }
    *numel = (size_t)n * per_img;
    free(z);
    free(ws);
    fs_sg2_generator_free(g);
    fs_backend_free(b);
    fs_weights_free(w);
    return img;
}

START_TEST(test_generator_threads_and_batch)
{
    size_t numel, other;
    float *ref = generate(2, 5, 5, &numel);
    static const int runs[][2] = {{1, 5}, {3, 5}, {2, 1}, {3, 2}};
    for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
        float *img = generate(runs[r][0], 5, runs[r][1], &other);
        ck_assert_uint_eq(other, numel);
        ck_assert_msg(memcmp(img, ref, numel * sizeof *img) == 0,
                      "tiny generator: %d threads, %d samples a call differ from 2 threads, "
                      "batch 5", runs[r][0], runs[r][1]);
        free(img);
    }
    free(ref);
}
END_TEST

typedef struct {
    const char *name;
    int cin, cout, h, w, k, up, demod;
    fs_noise_mode noise;
} mc_shape;

static const mc_shape shapes[] = {
    {"3x3 64x64 (read in place)", 64, 48, 64, 64, 3, 1, 1, FS_NOISE_CONST},
    {"3x3 16x16 (packed)", 96, 40, 16, 16, 3, 1, 1, FS_NOISE_RANDOM},
    {"1x1 torgb 64x64", 64, 3, 64, 64, 1, 1, 0, FS_NOISE_NONE},
    {"up 32x32 -> 64x64 (read in place)", 64, 40, 32, 32, 3, 2, 1, FS_NOISE_CONST},
    {"up 8x8 -> 16x16 (packed)", 48, 36, 8, 8, 3, 2, 1, FS_NOISE_RANDOM},
};

/* y for n samples on `threads` workers, `per_call` samples a call. */
static float *run_modconv(const mc_shape *s, int threads, int n, int per_call)
{
    fs_backend *b;
    ck_assert_int_eq(fs_backend_cpu_init(&b, threads), FS_OK);
    int oh = s->h * s->up, ow = s->w * s->up;
    size_t xn = (size_t)s->cin * s->h * s->w, yn = (size_t)s->cout * oh * ow;
    float *x = malloc(n * xn * sizeof *x), *y = malloc(n * yn * sizeof *y);
    float *wt = malloc((size_t)s->cout * s->cin * s->k * s->k * sizeof *wt);
    float *st = malloc((size_t)n * s->cin * sizeof *st), *bias = malloc(s->cout * sizeof *bias);
    float *nc = malloc((size_t)oh * ow * sizeof *nc);
    uint64_t seeds[8] = {11, 22, 33, 44, 55, 66, 77, 88};
    fill(x, n * xn, 1, 1.0f);
    fill(wt, (size_t)s->cout * s->cin * s->k * s->k, 2, 1.0f);
    fill(st, (size_t)n * s->cin, 3, 1.5f);
    fill(bias, s->cout, 4, 0.5f);
    fill(nc, (size_t)oh * ow, 5, 1.0f);
    float fir[16], f1[4] = {1, 3, 3, 1};
    for (int i = 0; i < 16; i++)
        fir[i] = f1[i / 4] * f1[i % 4] / 64.0f;
    fs_modconv_args a = {.weight = wt, .b = bias, .cin = s->cin, .cout = s->cout, .h = s->h,
                         .w = s->w, .k = s->k, .up = s->up, .demodulate = s->demod,
                         .fir = s->up == 2 ? fir : NULL, .fir_len = s->up == 2 ? 4 : 0,
                         .noise_mode = s->noise, .noise_const = nc, .noise_strength = 0.3f,
                         .noise_stream = 5, .act = s->k == 1 ? FS_ACT_LINEAR : FS_ACT_LRELU,
                         .gain = 1.0f, .clamp = 256.0f};
    fs_plan *plan = NULL;
    ck_assert_int_eq(b->ops->plan(b, FS_OP_MODCONV, &a, &plan), FS_OK);
    a.plan = plan;
    for (int i = 0; i < n; i += per_call) {
        a.n = n - i < per_call ? n - i : per_call;
        a.x = x + i * xn;
        a.y = y + i * yn;
        a.styles = st + (size_t)i * s->cin;
        a.noise_seeds = seeds + i;
        ck_assert_msg(b->ops->modconv(b, &a) == FS_OK, "%s", fs_error_message());
    }
    b->ops->plan_free(b, plan);
    free(x);
    free(wt);
    free(st);
    free(bias);
    free(nc);
    fs_backend_free(b);
    return y;
}

START_TEST(test_modconv_threads_and_batch)
{
    const mc_shape *s = &shapes[_i];
    int n = 3;
    size_t yn = (size_t)n * s->cout * s->h * s->up * s->w * s->up;
    float *ref = run_modconv(s, 2, n, n);
    static const int runs[][2] = {{1, 3}, {3, 3}, {2, 1}, {1, 1}};
    for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
        float *y = run_modconv(s, runs[r][0], n, runs[r][1]);
        ck_assert_msg(memcmp(y, ref, yn * sizeof *y) == 0,
                      "modconv %s: %d threads, %d samples a call differ from 2 threads, batch 3",
                      s->name, runs[r][0], runs[r][1]);
        free(y);
    }
    free(ref);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cpu_invariance");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, test_generator_threads_and_batch);
    tcase_add_loop_test(tc, test_modconv_threads_and_batch, 0,
                        (int)(sizeof shapes / sizeof *shapes));
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return fs_check_run(s, "cpu_invariance");
}
