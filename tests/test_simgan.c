/* SimGAN (docs/simgan.md) against the reference implementation's goldens
 * (tests/fixtures/simgan, README there): for the gray 35 x 55 and the RGB
 * 64 x 64 checkpoints, the refined images (relative L2 <= 1e-5), their
 * uint8 form by the spec's rounding (exact), the discriminator's logits on
 * the refined and the raw inputs, and the per-patch probability of "real";
 * the spec's input scaling (exact); re-planning when the image size changes;
 * the converter's SimGAN paths (--rename, a refiner-only file, refusals);
 * and, tagged gpu, the CUDA backend against the CPU. */
#include "fixture_util.h"

#include <math.h>

#include "../engine/backend.h"
#include "../engine/file.h"
#include "../engine/simgan.h"
#include "../weights_tools/convert.h"

#ifdef FS_WITH_CUDA
#include "../kernels/cuda_backend.h"
#endif

#define DIR_ FS_FIXTURES "/simgan"
#define TOL 1e-5

static const char *const variants[2] = {"gray35x55", "rgb64x64"};

typedef struct {
    fs_weights *w;
    fs_backend *b;
    fs_simgan *m;
} model;

static model open_model_on(const char *path, fs_backend *b, const char *rename)
{
    model m = {.b = b};
    fs_network_opts o = fs_fixture_opts(FS_WANT_SIMGAN, -1);
    o.convert.rename_path = rename;
    m.w = fs_fixture_open(path, &o);
    fs_status s = fs_simgan_init(&m.m, m.w, m.b);
    ck_assert_msg(s == FS_OK, "%s: %s", path, fs_error_message());
    return m;
}

static model open_variant(int v)
{
    fs_backend *b;
    ck_assert_int_eq(fs_backend_cpu_init(&b, 2), FS_OK);
    char path[256];
    snprintf(path, sizeof path, DIR_ "/%s_simgan.pt", variants[v]);
    return open_model_on(path, b, NULL);
}

static void close_model(model *m)
{
    fs_simgan_free(m->m);
    fs_backend_free(m->b);
    fs_weights_free(m->w);
}

/* A uint8 .npy of the fixture folder: its parsed header and bytes. */
typedef struct {
    fs_file_map map;
    fs_npy a;
} u8_arr;

static u8_arr load_u8(const char *name)
{
    u8_arr r;
    char path[256];
    snprintf(path, sizeof path, DIR_ "/%s", name);
    ck_assert_msg(fs_file_map_open(path, &r.map) == FS_OK, "%s", fs_error_message());
    ck_assert_msg(fs_npy_parse(r.map.data, r.map.size, path, &r.a) == FS_OK, "%s",
                  fs_error_message());
    ck_assert_int_eq(r.a.dtype, FS_DTYPE_U8);
    return r;
}

static fs_fixture_arr load(int v, const char *what)
{
    char name[96];
    snprintf(name, sizeof name, "%s_%s.npy", variants[v], what);
    return fs_fixture_load(DIR_, name);
}

static void expect(int v, const char *who, const float *got, const char *what, double tol)
{
    char name[96];
    snprintf(name, sizeof name, "%s_%s.npy", variants[v], what);
    fs_fixture_expect_close(who, got, DIR_, name, tol);
}

/* x = u / 127.5 - 1 (float32) gives the fixture's x bit for bit, and the
 * golden refined images give the golden bytes by the spec's rounding. */
START_TEST(test_scaling)
{
    for (int v = 0; v < 2; v++) {
        char name[96];
        snprintf(name, sizeof name, "%s_x_u8.npy", variants[v]);
        u8_arr u = load_u8(name);
        fs_fixture_arr x = load(v, "x");
        ck_assert_uint_eq(u.a.nbytes, x.numel);
        const uint8_t *ub = u.a.data;
        for (size_t i = 0; i < x.numel; i++)
            ck_assert_msg(fs_simgan_from_u8(ub[i]) == x.data[i], "%s x[%zu]", variants[v], i);
        fs_file_map_close(&u.map);
        snprintf(name, sizeof name, "%s_refined_u8.npy", variants[v]);
        u = load_u8(name);
        fs_fixture_arr y = load(v, "refined");
        ub = u.a.data;
        for (size_t i = 0; i < y.numel; i++)
            ck_assert_msg(fs_simgan_to_u8(y.data[i]) == ub[i], "%s refined_u8[%zu]: %d, want %d",
                          variants[v], i, fs_simgan_to_u8(y.data[i]), ub[i]);
        fs_file_map_close(&u.map);
        fs_fixture_free(&x);
        fs_fixture_free(&y);
    }
    /* the rounding's edges: half up, clamping, NaN */
    ck_assert_int_eq(fs_simgan_to_u8(-1.0f), 0);
    ck_assert_int_eq(fs_simgan_to_u8(1.0f), 255);
    ck_assert_int_eq(fs_simgan_to_u8(-2.0f), 0);
    ck_assert_int_eq(fs_simgan_to_u8(3.0f), 255);
    ck_assert_int_eq(fs_simgan_to_u8(NAN), 0);
    ck_assert_int_eq(fs_simgan_to_u8(0.25f / 127.5f - 1.0f), 0); /* 0.25 + 0.5: down */
    ck_assert_int_eq(fs_simgan_to_u8(0.5f / 127.5f - 1.0f), 1);  /* 0.5 + 0.5: up */
    ck_assert_int_eq(fs_simgan_to_u8(0.0f), 128);                /* 127.5 + 0.5: up */
}
END_TEST

/* Everything the fixture has, for one model on one backend. */
static void check_goldens(const char *who, model *m, int v)
{
    fs_fixture_arr x = load(v, "x"), refined = load(v, "refined");
    int n = (int)x.shape[0], C = (int)x.shape[1], h = (int)x.shape[2], w = (int)x.shape[3];
    int h2 = fs_simgan_patch_side(h), w2 = fs_simgan_patch_side(w);
    size_t cells = (size_t)n * h2 * w2;
    float *y = malloc(x.numel * sizeof *y), *logits = malloc(2 * cells * sizeof *logits);
    float *p = malloc(cells * sizeof *p);
    ck_assert(y && logits && p);
    ck_assert_int_eq(C, (int)fs_simgan_get_config(m->m)->channels);
    fs_status s = fs_simgan_refine(m->m, x.data, n, h, w, y);
    ck_assert_msg(s == FS_OK, "%s", fs_error_message());
    expect(v, who, y, "refined", TOL);
    /* the bytes: the golden's, except where the two floats straddle a rounding edge */
    size_t off = 0;
    for (size_t i = 0; i < x.numel; i++) {
        int a = fs_simgan_to_u8(y[i]), b = fs_simgan_to_u8(refined.data[i]);
        ck_assert_msg(abs(a - b) <= 1, "%s byte %zu: %d vs %d", who, i, a, b);
        off += a != b;
    }
    ck_assert_msg(off <= x.numel / 10000 + 1, "%s: %zu bytes differ from the golden's", who,
                  off);
    s = fs_simgan_discriminate(m->m, refined.data, n, h, w, logits, p);
    ck_assert_msg(s == FS_OK, "%s", fs_error_message());
    expect(v, who, logits, "d_logits", TOL);
    expect(v, who, p, "d_prob_real", TOL);
    s = fs_simgan_discriminate(m->m, x.data, n, h, w, logits, NULL);
    ck_assert_msg(s == FS_OK, "%s", fs_error_message());
    expect(v, who, logits, "d_logits_x", TOL);
    free(y);
    free(logits);
    free(p);
    fs_fixture_free(&x);
    fs_fixture_free(&refined);
}

START_TEST(test_goldens)
{
    model m = open_variant(_i);
    check_goldens("cpu", &m, _i);
    close_model(&m);
}
END_TEST

/* One image at a time, another size in between (the plans are remade), and
 * back: the same numbers as the batch. */
START_TEST(test_sizes_and_batches)
{
    model m = open_variant(0);
    fs_fixture_arr x = load(0, "x");
    int n = (int)x.shape[0], h = (int)x.shape[2], w = (int)x.shape[3];
    size_t img = x.numel / (size_t)n;
    float *all = malloc(x.numel * sizeof *all), *one = malloc(img * sizeof *one);
    float *other = malloc((size_t)20 * 31 * sizeof *other);
    ck_assert(all && one && other);
    ck_assert_int_eq(fs_simgan_refine(m.m, x.data, n, h, w, all), FS_OK);
    for (int i = 0; i < n; i++) {
        /* a 20 x 31 crop of image i first: any size is allowed */
        for (int r = 0; r < 20; r++)
            memcpy(other + (size_t)r * 31, x.data + i * img + (size_t)(r + 3) * w + 5,
                   31 * sizeof *other);
        ck_assert_int_eq(fs_simgan_refine(m.m, other, 1, 20, 31, other), FS_OK);
        ck_assert_int_eq(fs_simgan_refine(m.m, x.data + i * img, 1, h, w, one), FS_OK);
        ck_assert_msg(memcmp(one, all + i * img, img * sizeof *one) == 0,
                      "image %d alone differs from the batch", i);
    }
    /* a 1 x 1 image: the patch map is 1 x 1 */
    float px = 0.25f, logit[2], pr;
    ck_assert_int_eq(fs_simgan_patch_side(1), 1);
    ck_assert_int_eq(fs_simgan_discriminate(m.m, &px, 1, 1, 1, logit, &pr), FS_OK);
    ck_assert(fabsf(pr - 1.0f / (1.0f + expf(logit[1] - logit[0]))) < 1e-6f);
    free(all);
    free(one);
    free(other);
    fs_fixture_free(&x);
    close_model(&m);
}
END_TEST

/* The small SimGAN of make_identity_variants.py under foreign module names
 * (a legacy stream) with --rename rules equals the canonical file; without
 * the rules it is refused, naming --rename; a refiner-only file refines and
 * refuses to score; --net is refused, the discriminator role is not. */
START_TEST(test_convert_rename)
{
    fs_backend *b;
    ck_assert_int_eq(fs_backend_cpu_init(&b, 1), FS_OK);
    model canon = open_model_on(DIR_ "/small_simgan.pt", b, NULL);
    model renamed = open_model_on(DIR_ "/small_foreign.pt", b, DIR_ "/rename_rules.txt");
    model ref = open_model_on(DIR_ "/small_refiner.pt", b, NULL);
    ck_assert_uint_eq(fs_weights_tensor_count(canon.w), 22);
    ck_assert_uint_eq(fs_weights_tensor_count(ref.w), 12);
    for (size_t i = 0; i < fs_weights_tensor_count(canon.w); i++) {
        const fs_tensor *t = fs_weights_tensor_at(canon.w, i);
        const fs_tensor *u = fs_weights_find(renamed.w, t->name);
        ck_assert_msg(u && u->nbytes == t->nbytes && !memcmp(u->data, t->data, t->nbytes),
                      "tensor %s differs", t->name);
    }
    fs_fixture_arr x = load(1, "x");
    int n = (int)x.shape[0];
    float *y1 = malloc(x.numel * sizeof *y1), *y2 = malloc(x.numel * sizeof *y2);
    float p1[3 * 16 * 16], p2[3 * 16 * 16];
    ck_assert(y1 && y2);
    ck_assert_int_eq(fs_simgan_refine(canon.m, x.data, n, 64, 64, y1), FS_OK);
    ck_assert_int_eq(fs_simgan_refine(ref.m, x.data, n, 64, 64, y2), FS_OK);
    ck_assert(!memcmp(y1, y2, x.numel * sizeof *y1));
    ck_assert_int_eq(fs_simgan_discriminate(canon.m, y1, n, 64, 64, NULL, p1), FS_OK);
    ck_assert_int_eq(fs_simgan_discriminate(renamed.m, y1, n, 64, 64, NULL, p2), FS_OK);
    ck_assert(!memcmp(p1, p2, sizeof p1));
    ck_assert_int_eq(fs_simgan_discriminate(ref.m, y1, n, 64, 64, NULL, p2), FS_ERR_ARG);
    ck_assert(strstr(fs_error_message(), "only the refiner"));
    free(y1);
    free(y2);
    fs_fixture_free(&x);
    fs_simgan_free(canon.m);
    fs_simgan_free(renamed.m);
    fs_simgan_free(ref.m);
    fs_weights_free(canon.w);
    fs_weights_free(renamed.w);
    fs_weights_free(ref.w);
    fs_backend_free(b);

    fs_weights *w = NULL;
    fs_network_opts o = fs_fixture_opts(FS_WANT_SIMGAN, -1);
    ck_assert_int_eq(fs_network_open(DIR_ "/small_foreign.pt", &o, &w, NULL), FS_ERR_UNSUPPORTED);
    ck_assert(strstr(fs_error_message(), "--rename"));
    o.convert.net = FS_NET_D;
    ck_assert_int_eq(fs_network_open(DIR_ "/small_simgan.pt", &o, &w, NULL), FS_ERR_ARG);
    ck_assert(strstr(fs_error_message(), "--net applies only to StyleGAN2"));
    o = fs_fixture_opts(FS_WANT_DISCRIMINATOR, -1);
    ck_assert_int_eq(fs_network_open(DIR_ "/small_simgan.pt", &o, &w, NULL), FS_OK);
    ck_assert_int_eq(fs_weights_family(w), FS_FAMILY_SIMGAN);
    fs_weights_free(w);
    w = NULL;
    o = fs_fixture_opts(FS_WANT_IDENTITY, -1);
    ck_assert_int_eq(fs_network_open(DIR_ "/small_simgan.pt", &o, &w, NULL), FS_ERR_ARG);
    ck_assert(strstr(fs_error_message(), "not an identity network"));
}
END_TEST

START_TEST(test_cuda_vs_cpu)
{
#ifdef FS_WITH_CUDA
    for (int v = 0; v < 2; v++) {
        fs_backend *b;
        fs_status s = fs_backend_cuda_init(&b, 0);
        ck_assert_msg(s == FS_OK, "%s", fs_error_message());
        char path[256];
        snprintf(path, sizeof path, DIR_ "/%s_simgan.pt", variants[v]);
        model m = open_model_on(path, b, NULL);
        check_goldens("cuda", &m, v);
        close_model(&m);
    }
#endif
}
END_TEST

int main(void)
{
    Suite *s = suite_create("simgan");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, test_scaling);
    tcase_add_loop_test(tc, test_goldens, 0, 2);
    tcase_add_test(tc, test_sizes_and_batches);
    tcase_add_test(tc, test_convert_rename);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    TCase *gpu = fs_check_gpu_tcase(s, "gpu");
    tcase_add_test(gpu, test_cuda_vs_cpu);
    return fs_check_run(s, "simgan");
}
