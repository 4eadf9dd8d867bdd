/* ArcFace IR-SE-50 (docs/identity.md) against the official code's goldens
 * (tests/fixtures/arcface, made with e4e's model_irse.py and IDLoss at width
 * divisor 4, README there): the raw output layer and the l2-normalised
 * embeddings of 112 x 112 inputs, their pairwise cosines; the 256 x 256 ID-loss
 * path (the pooled crop exactly as AdaptiveAvgPool2d, the embeddings, and
 * IDLoss.forward's five numbers); the statistics of every body unit; relative
 * L2 <= 1e-5 and cosines within 1e-5, with the BatchNorms folded (the
 * default) and kept. The checkpoint (11 MB, random weights) is committed.
 * The small variants of
 * tests/fixtures/tools/make_identity_variants.py (zip with
 * num_batches_tracked, legacy without) convert to the same tensors. Tagged
 * gpu: the CUDA backend against the goldens. */
#include "fixture_util.h"

#include <math.h>
#include <unistd.h>

#include "../engine/arcface.h"
#include "../engine/backend.h"
#include "../engine/file.h"
#include "../weights_tools/convert.h"

#ifdef FS_WITH_CUDA
#include "../kernels/cuda_backend.h"
#endif

#define DIR_ FS_FIXTURES "/arcface"
#define CKPT DIR_ "/model_ir_se50.pth"
#define TOL 1e-5

typedef struct {
    fs_weights *w;
    fs_backend *b;
    fs_arcface *m;
} model;

static model open_model_on(const char *path, fs_backend *b, int keep_bn)
{
    model m = {.b = b};
    fs_network_opts o = fs_fixture_opts(FS_WANT_IDENTITY, -1);
    m.w = fs_fixture_open(path, &o);
    fs_arcface_opts ao = {.keep_bn = keep_bn};
    fs_status s = fs_arcface_init(&m.m, m.w, m.b, &ao);
    ck_assert_msg(s == FS_OK, "%s: %s", path, fs_error_message());
    return m;
}

static model open_cpu(const char *path, int keep_bn)
{
    fs_backend *b;
    ck_assert_int_eq(fs_backend_cpu_init(&b, 2), FS_OK);
    return open_model_on(path, b, keep_bn);
}

static void close_model(model *m)
{
    fs_arcface_free(m->m);
    fs_backend_free(m->b);
    fs_weights_free(m->w);
}

static double dot(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* The output side of a unit of stage s at 112: halved by each stage's first unit. */
static int unit_side(int stage) { return 112 >> (stage + 1); }

/* x256_u8.npy as the ID loss reads it: (float32(u8) / 255 - 0.5) / 0.5. */
static float *load_x256(int *n)
{
    fs_file_map map;
    fs_npy a;
    ck_assert(fs_file_map_open(DIR_ "/x256_u8.npy", &map) == FS_OK);
    ck_assert(fs_npy_parse(map.data, map.size, "x256_u8.npy", &a) == FS_OK);
    ck_assert_int_eq(a.dtype, FS_DTYPE_U8);
    float *x = malloc(a.nbytes * sizeof *x);
    ck_assert_ptr_nonnull(x);
    const uint8_t *u = a.data;
    for (size_t i = 0; i < a.nbytes; i++) {
        volatile float t = (float)u[i] / 255.0f;
        t = t - 0.5f;
        x[i] = t / 0.5f;
    }
    *n = (int)a.shape[0];
    fs_file_map_close(&map);
    return x;
}

static void check_goldens(const char *who, model *m)
{
    const fs_arcface_config *c = fs_arcface_get_config(m->m);
    int E = (int)c->embedding_dim;
    /* the 112 x 112 backbone inputs, every unit traced */
    fs_fixture_arr x = fs_fixture_load(DIR_, "x.npy");
    int n = (int)x.shape[0];
    float *emb = malloc((size_t)n * E * sizeof *emb), *raw = malloc((size_t)n * E * sizeof *raw);
    fs_arcface_trace t = {.raw = raw};
    int nu = fs_ir_se_num_units(&c->body);
    for (int u = 0; u < nu; u++) {
        fs_ir_se_unit un = fs_ir_se_unit_at(&c->body, u);
        int r = unit_side(un.stage);
        t.units[u] = malloc((size_t)n * un.depth * r * r * sizeof(float));
        ck_assert_ptr_nonnull(t.units[u]);
    }
    fs_status s = fs_arcface_embed(m->m, x.data, n, 112, emb, &t);
    ck_assert_msg(s == FS_OK, "%s", fs_error_message());
    fs_fixture_expect_close(who, raw, DIR_, "raw.npy", TOL);
    fs_fixture_expect_close(who, emb, DIR_, "emb.npy", TOL);
    fs_fixture_arr cos = fs_fixture_load(DIR_, "cos.npy");
    double worst = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double d = fabs(dot(emb + i * E, emb + j * E, E) - cos.data[i * n + j]);
            worst = d > worst ? d : worst;
        }
    if (getenv("FS_TEST_VERBOSE"))
        printf("%s cosines: largest difference %.3g\n", who, worst);
    ck_assert_msg(worst <= 1e-5, "%s: a cosine differs by %.3g", who, worst);
    /* body units 0..23 of sample 0: mean, std, min, max (row 0, the input layer, is not
     * tapped) */
    fs_fixture_arr st = fs_fixture_load(DIR_, "body_stats.npy");
    for (int u = 0; u < nu; u++) {
        fs_ir_se_unit un = fs_ir_se_unit_at(&c->body, u);
        int r = unit_side(un.stage);
        size_t cnt = (size_t)un.depth * r * r;
        const float *v = t.units[u];
        double sum = 0, lo = INFINITY, hi = -INFINITY, ss = 0;
        for (size_t q = 0; q < cnt; q++) {
            sum += v[q];
            lo = v[q] < lo ? v[q] : lo;
            hi = v[q] > hi ? v[q] : hi;
        }
        double mean = sum / (double)cnt;
        for (size_t q = 0; q < cnt; q++)
            ss += (v[q] - mean) * (v[q] - mean);
        double got[4] = {mean, sqrt(ss / (double)(cnt - 1)), lo, hi};
        const float *want = st.data + 4 * (u + 1);
        for (int q = 0; q < 4; q++)
            ck_assert_msg(fabs(got[q] - want[q]) <= 1e-5 * (fabs(want[1]) + fabs(want[0])),
                          "%s body.%d stat %d: %.7g vs %.7g", who, u, q, got[q], want[q]);
        free(t.units[u]);
    }
    fs_fixture_free(&st);
    fs_fixture_free(&cos);
    fs_fixture_free(&x);
    /* the ID-loss path: 256 x 256 faces, cropped and pooled */
    int n2;
    float *x256 = load_x256(&n2);
    float *pooled = malloc((size_t)n2 * 3 * 112 * 112 * sizeof *pooled);
    ck_assert_ptr_nonnull(pooled);
    fs_arcface_trace t2 = {.input = pooled};
    s = fs_arcface_embed(m->m, x256, n2, 256, emb, &t2);
    ck_assert_msg(s == FS_OK, "%s", fs_error_message());
    fs_fixture_expect_close(who, pooled, DIR_, "pooled.npy", TOL);
    fs_fixture_expect_close(who, emb, DIR_, "id_emb.npy", TOL);
    /* IDLoss.forward(y_hat = 0, y = 1, x = 2) */
    fs_fixture_arr il = fs_fixture_load(DIR_, "id_loss.npy");
    double dt = dot(emb, emb + E, E), di = dot(emb, emb + 2 * E, E);
    double dv = dot(emb + E, emb + 2 * E, E);
    double got[5] = {1 - dt, dt - dv, dt, di, dv};
    for (int k = 0; k < 5; k++)
        ck_assert_msg(fabs(got[k] - il.data[k]) <= 1e-5, "%s id_loss[%d]: %.8g vs %.8g", who, k,
                      got[k], il.data[k]);
    fs_fixture_free(&il);
    free(pooled);
    free(x256);
    free(emb);
    free(raw);
}

START_TEST(test_goldens)
{
    model m = open_cpu(CKPT, _i);
    const fs_arcface_config *c = fs_arcface_get_config(m.m);
    ck_assert_int_eq(c->input_resolution, 112);
    ck_assert_int_eq(c->embedding_dim, 128);
    check_goldens(_i ? "cpu bn kept" : "cpu", &m);
    close_model(&m);
}
END_TEST

/* Sizes: 112 and 256 and up are taken (1024 goes through face_pool first:
 * equal to pooling to 256 by hand); others are refused. */
START_TEST(test_sides)
{
    model m = open_cpu(CKPT, 0);
    ck_assert(fs_arcface_side_ok(m.m, 112) && fs_arcface_side_ok(m.m, 256) &&
              fs_arcface_side_ok(m.m, 1024));
    ck_assert(!fs_arcface_side_ok(m.m, 128) && !fs_arcface_side_ok(m.m, 200));
    float e[128];
    float *x = calloc(3 * 128 * 128, sizeof *x);
    ck_assert_int_eq(fs_arcface_embed(m.m, x, 1, 128, e, NULL), FS_ERR_SHAPE);
    ck_assert(strstr(fs_error_message(), "not 128x128"));
    free(x);
    /* a 512 image whose 2 x 2 blocks are constant pools to the 256 image exactly */
    int n;
    float *x256 = load_x256(&n);
    float *x512 = malloc((size_t)3 * 512 * 512 * sizeof *x512), a[128], b[128];
    ck_assert_ptr_nonnull(x512);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 512; i++)
            for (int j = 0; j < 512; j++)
                x512[((size_t)c * 512 + i) * 512 + j] = x256[((size_t)c * 256 + i / 2) * 256 + j / 2];
    ck_assert_int_eq(fs_arcface_embed(m.m, x256, 1, 256, a, NULL), FS_OK);
    ck_assert_int_eq(fs_arcface_embed(m.m, x512, 1, 512, b, NULL), FS_OK);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    free(x512);
    free(x256);
    close_model(&m);
}
END_TEST

/* The small Backbone of make_identity_variants.py as a zip with
 * num_batches_tracked and as a legacy stream (storages on cuda:0) without:
 * the same tensors, the same unit-length embeddings, for 112 and 256 inputs. */
START_TEST(test_variants)
{
    model a = open_cpu(DIR_ "/small_zip.pth", 0), b = open_cpu(DIR_ "/small_legacy.pth", 0);
    ck_assert_uint_eq(fs_weights_tensor_count(a.w), fs_weights_tensor_count(b.w));
    for (size_t i = 0; i < fs_weights_tensor_count(a.w); i++) {
        const fs_tensor *t = fs_weights_tensor_at(a.w, i), *u = fs_weights_find(b.w, t->name);
        ck_assert_msg(u && u->nbytes == t->nbytes && !memcmp(u->data, t->data, t->nbytes),
                      "tensor %s differs", t->name);
    }
    ck_assert_int_eq(fs_arcface_get_config(a.m)->embedding_dim, 8);
    fs_fixture_arr x = fs_fixture_load(DIR_, "x.npy");
    float e1[4 * 8], e2[4 * 8];
    ck_assert_int_eq(fs_arcface_embed(a.m, x.data, 4, 112, e1, NULL), FS_OK);
    ck_assert_int_eq(fs_arcface_embed(b.m, x.data, 4, 112, e2, NULL), FS_OK);
    ck_assert(!memcmp(e1, e2, sizeof e1));
    for (int i = 0; i < 4; i++)
        ck_assert(fabs(dot(e1 + 8 * i, e1 + 8 * i, 8) - 1.0) < 1e-6);
    int n;
    float *x256 = load_x256(&n);
    ck_assert_int_eq(fs_arcface_embed(a.m, x256, n, 256, e1, NULL), FS_OK);
    free(x256);
    fs_fixture_free(&x);
    close_model(&a);
    close_model(&b);
}
END_TEST

START_TEST(test_cuda_vs_cpu)
{
#ifdef FS_WITH_CUDA
    fs_backend *b;
    fs_status s = fs_backend_cuda_init(&b, 0);
    ck_assert_msg(s == FS_OK, "%s", fs_error_message());
    model m = open_model_on(CKPT, b, 0);
    check_goldens("cuda", &m);
    close_model(&m);
#endif
}
END_TEST

int main(void)
{
    Suite *s = suite_create("arcface");
    TCase *cv = tcase_create("convert");
    tcase_add_test(cv, test_variants);
    tcase_set_timeout(cv, 60);
    suite_add_tcase(s, cv);
    TCase *tc = tcase_create("cpu");
    tcase_add_loop_test(tc, test_goldens, 0, 2);
    tcase_add_test(tc, test_sides);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    TCase *gpu = fs_check_gpu_tcase(s, "gpu");
    tcase_add_test(gpu, test_cuda_vs_cpu);
    return fs_check_run(s, "arcface");
}
