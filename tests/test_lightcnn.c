/* Light CNN-9 (docs/identity.md) against the official code's goldens
 * (tests/fixtures/lightcnn, README there): the 256-d feature and the logits
 * for the extraction inputs (x.npy) and for the training loader's inputs
 * (tf_x.npy), the map fc1 reads (feat8) and the per-layer statistics of
 * sample 0; relative L2 <= 1e-4 (the official float32 forward is itself 3.6e-5
 * from float64). The official input pipelines bit for bit: PNG -> gray -> /255
 * and Pillow's convert('L') + torchvision's CenterCrop with its padding and
 * Python rounding. The released checkpoint layout (legacy torch.save,
 * 'module.', cuda:0) is the fixture checkpoint itself (22 MB, committed:
 * random weights at the released widths). The small
 * variants made by tests/fixtures/tools/make_identity_variants.py (a Python
 * 2 pickle, zip, no classifier, no prefix) convert to the same tensors and
 * features. Tagged gpu: the CUDA backend against the goldens. */
#include "fixture_util.h"

#include <math.h>
#include <unistd.h>

#include "../engine/backend.h"
#include "../engine/image_pil.h"
#include "../engine/lightcnn.h"
#include "../weights_tools/convert.h"

#ifdef FS_WITH_CUDA
#include "../kernels/cuda_backend.h"
#endif

#define DIR_ FS_FIXTURES "/lightcnn"
#define CKPT DIR_ "/LightCNN_9Layers_checkpoint.pth.tar"
#define TOL 1e-4

typedef struct {
    fs_weights *w;
    fs_backend *b;
    fs_lightcnn *m;
} model;

static model open_model_on(const char *path, fs_backend *b)
{
    model m = {.b = b};
    fs_network_opts o = fs_fixture_opts(FS_WANT_IDENTITY, -1);
    m.w = fs_fixture_open(path, &o);
    fs_status s = fs_lightcnn_init(&m.m, m.w, m.b);
    ck_assert_msg(s == FS_OK, "%s: %s", path, fs_error_message());
    return m;
}

static model open_cpu(const char *path)
{
    fs_backend *b;
    ck_assert_int_eq(fs_backend_cpu_init(&b, 2), FS_OK);
    return open_model_on(path, b);
}

static void close_model(model *m)
{
    fs_lightcnn_free(m->m);
    fs_backend_free(m->b);
    fs_weights_free(m->w);
}

/* mean, std (unbiased), min, max of n values */
static void stats(const float *v, size_t n, double out[4])
{
    double s = 0, lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        s += v[i];
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    double mean = s / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - mean) * (v[i] - mean);
    out[0] = mean;
    out[1] = sqrt(ss / (double)(n - 1));
    out[2] = lo;
    out[3] = hi;
}

static void check_goldens(const char *who, model *m)
{
    const fs_lightcnn_config *c = fs_lightcnn_get_config(m->m);
    static const char *const sets[2][3] = {{"x.npy", "fea.npy", "out.npy"},
                                           {"tf_x.npy", "tf_fea.npy", "tf_out.npy"}};
    for (int k = 0; k < 2; k++) {
        fs_fixture_arr x = fs_fixture_load(DIR_, sets[k][0]);
        int n = (int)x.shape[0];
        float *fea = malloc((size_t)n * c->feature_dim * sizeof *fea);
        float *out = malloc((size_t)n * c->num_classes * sizeof *out);
        float *layers[FS_LCNN_FEATURE_LAYERS];
        fs_lightcnn_trace t;
        for (int l = 0; l < FS_LCNN_FEATURE_LAYERS; l++) {
            int ch, side;
            fs_lightcnn_layer_shape(c, l, &ch, &side);
            layers[l] = t.features[l] = malloc((size_t)n * ch * side * side * sizeof(float));
            ck_assert_ptr_nonnull(layers[l]);
        }
        ck_assert(fea && out);
        fs_status s = fs_lightcnn_forward(m->m, x.data, n, fea, out, &t);
        ck_assert_msg(s == FS_OK, "%s", fs_error_message());
        fs_fixture_expect_close(who, fea, DIR_, sets[k][1], TOL);
        fs_fixture_expect_close(who, out, DIR_, sets[k][2], TOL);
        if (k == 0) {
            fs_fixture_expect_close(who, layers[8], DIR_, "feat8.npy", TOL);
            /* every layer's statistics of sample 0, each within 1e-4 of its scale */
            fs_fixture_arr st = fs_fixture_load(DIR_, "trace_stats.npy");
            for (int l = 0; l < FS_LCNN_FEATURE_LAYERS; l++) {
                int ch, side;
                fs_lightcnn_layer_shape(c, l, &ch, &side);
                double got[4];
                stats(layers[l], (size_t)ch * side * side, got);
                double scale = fabs(st.data[4 * l + 1]) + fabs(st.data[4 * l]);
                for (int q = 0; q < 4; q++)
                    ck_assert_msg(fabs(got[q] - st.data[4 * l + q]) <= 1e-4 * scale,
                                  "%s features.%d stat %d: %.7g vs %.7g", who, l, q, got[q],
                                  st.data[4 * l + q]);
            }
            fs_fixture_free(&st);
        }
        for (int l = 0; l < FS_LCNN_FEATURE_LAYERS; l++)
            free(layers[l]);
        free(fea);
        free(out);
        fs_fixture_free(&x);
    }
}

START_TEST(test_goldens)
{
    model m = open_cpu(CKPT);
    const fs_lightcnn_config *c = fs_lightcnn_get_config(m.m);
    ck_assert_int_eq(c->input_resolution, 128);
    ck_assert_int_eq(c->feature_dim, 256);
    ck_assert_int_eq(c->num_classes, 100);
    check_goldens("cpu", &m);
    close_model(&m);
}
END_TEST

/* Batch 1 against batch 3: the official float32 forward agrees exactly. */
START_TEST(test_batch_independent)
{
    model m = open_cpu(CKPT);
    fs_fixture_arr x = fs_fixture_load(DIR_, "x.npy");
    float all[3 * 256], one[256];
    ck_assert_int_eq(fs_lightcnn_forward(m.m, x.data, 3, all, NULL, NULL), FS_OK);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(fs_lightcnn_forward(m.m, x.data + (size_t)i * 128 * 128, 1, one, NULL,
                                             NULL), FS_OK);
        ck_assert(memcmp(one, all + i * 256, sizeof one) == 0);
    }
    fs_fixture_free(&x);
    close_model(&m);
}
END_TEST

/* The two official pipelines, from the PNGs, equal x.npy and tf_x.npy bit for bit. */
START_TEST(test_preprocess)
{
    static const char *const x_files[3] = {"img0.png", "img1.png", "img2.png"};
    static const char *const tf_files[2] = {"rgb_151x133.png", "gray_96x144.png"};
    fs_fixture_arr x = fs_fixture_load(DIR_, "x.npy"), tf = fs_fixture_load(DIR_, "tf_x.npy");
    float img[128 * 128];
    char path[256];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, DIR_ "/images/%s", x_files[i]);
        ck_assert_msg(fs_lightcnn_load_image(path, 128, img) == FS_OK, "%s", fs_error_message());
        ck_assert_msg(memcmp(img, x.data + (size_t)i * 128 * 128, sizeof img) == 0, "%s", path);
    }
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, DIR_ "/images/%s", tf_files[i]);
        ck_assert_msg(fs_lightcnn_load_image(path, 128, img) == FS_OK, "%s", fs_error_message());
        for (size_t q = 0; q < 128 * 128; q++)
            ck_assert_msg(img[q] == tf.data[(size_t)i * 128 * 128 + q], "%s pixel %zu: %.9g vs "
                          "%.9g", path, q, img[q], tf.data[(size_t)i * 128 * 128 + q]);
    }
    fs_fixture_free(&x);
    fs_fixture_free(&tf);
}
END_TEST

/* The crop's rounding and padding on small images: CenterCrop(4) of 1..w*h. */
START_TEST(test_center_crop_rules)
{
    uint8_t g[7 * 9];
    for (int i = 0; i < 7 * 9; i++)
        g[i] = (uint8_t)(i + 1);
    float y[16];
    /* 9 wide, 7 high: left = round(2.5) = 2, top = round(1.5) = 2 */
    fs_lightcnn_center_crop(g, 9, 7, 4, y);
    ck_assert(y[0] == (float)g[2 * 9 + 2] / 255.0f);
    /* 3 wide, 2 high into 4: pad left (4 - 3) // 2 = 0, top (4 - 2) // 2 = 1 */
    fs_lightcnn_center_crop(g, 3, 2, 4, y);
    ck_assert(y[0] == 0.0f && y[4] == 1.0f / 255.0f && y[4 + 3] == 0.0f && y[12] == 0.0f);
    /* 6 wide, 5 high: left = round(1.0) = 1, top = round(0.5) = 0 */
    fs_lightcnn_center_crop(g, 6, 5, 4, y);
    ck_assert(y[0] == (float)g[1] / 255.0f);
}
END_TEST

/* Every tensor of a equals b's, bit for bit, and neither has more. */
static void same_tensors(const fs_weights *a, const fs_weights *b)
{
    ck_assert_uint_eq(fs_weights_tensor_count(a), fs_weights_tensor_count(b));
    for (size_t i = 0; i < fs_weights_tensor_count(a); i++) {
        const fs_tensor *t = fs_weights_tensor_at(a, i), *u = fs_weights_find(b, t->name);
        ck_assert_msg(u && u->nbytes == t->nbytes && !memcmp(u->data, t->data, t->nbytes),
                      "tensor %s differs", t->name);
    }
}

/* The small checkpoints of make_identity_variants.py: a Python 2 / PyTorch 0.2
 * legacy file, the same object as a zip, and its bare state dict without the
 * 'module.' prefix nor the classifier: the same tensors, the same features;
 * logits are refused without fc2. */
START_TEST(test_variants)
{
    model py2 = open_cpu(DIR_ "/small_py2.pth.tar");
    model zip = open_cpu(DIR_ "/small_zip.pth.tar");
    model bare = open_cpu(DIR_ "/small_nohead.pth");
    same_tensors(py2.w, zip.w);
    const fs_lightcnn_config *c = fs_lightcnn_get_config(py2.m);
    ck_assert_int_eq(c->feature_dim, 8);
    ck_assert_int_eq(c->num_classes, 5);
    ck_assert_int_eq(c->input_resolution, 128);
    ck_assert_int_eq(fs_lightcnn_get_config(bare.m)->num_classes, 0);
    ck_assert_uint_eq(fs_weights_tensor_count(bare.w), fs_weights_tensor_count(py2.w) - 2);
    fs_fixture_arr x = fs_fixture_load(DIR_, "x.npy");
    float f1[3 * 8], f2[3 * 8], f3[3 * 8], logits[3 * 5];
    ck_assert_int_eq(fs_lightcnn_forward(py2.m, x.data, 3, f1, logits, NULL), FS_OK);
    ck_assert_int_eq(fs_lightcnn_forward(zip.m, x.data, 3, f2, NULL, NULL), FS_OK);
    ck_assert_int_eq(fs_lightcnn_forward(bare.m, x.data, 3, f3, NULL, NULL), FS_OK);
    ck_assert(!memcmp(f1, f2, sizeof f1) && !memcmp(f1, f3, sizeof f1));
    ck_assert_int_eq(fs_lightcnn_forward(bare.m, x.data, 3, f3, logits, NULL), FS_ERR_ARG);
    ck_assert(strstr(fs_error_message(), "no classifier"));
    fs_fixture_free(&x);
    close_model(&py2);
    close_model(&zip);
    close_model(&bare);
}
END_TEST

/* Converter refusals: a Light CNN is not a generator, --net means nothing to it. */
START_TEST(test_convert_refusals)
{
    fs_weights *w = NULL;
    fs_network_opts o = fs_fixture_opts(FS_WANT_GENERATOR, -1);
    ck_assert_int_eq(fs_network_open(DIR_ "/small_py2.pth.tar", &o, &w, NULL), FS_ERR_ARG);
    ck_assert(strstr(fs_error_message(), "holds a lightcnn"));
    o = fs_fixture_opts(FS_WANT_ANY, -1);
    o.convert.net = FS_NET_G;
    ck_assert_int_eq(fs_network_open(DIR_ "/small_py2.pth.tar", &o, &w, NULL), FS_ERR_ARG);
    ck_assert(strstr(fs_error_message(), "--net applies only to StyleGAN2"));
    o = fs_fixture_opts(FS_WANT_ANY, 256);
    ck_assert_int_eq(fs_network_open(DIR_ "/small_zip.pth.tar", &o, &w, NULL), FS_ERR_ARG);
    ck_assert(strstr(fs_error_message(), "--conv-clamp applies only to StyleGAN2"));
    ck_assert_ptr_null(w);
}
END_TEST

START_TEST(test_cuda_vs_cpu)
{
#ifdef FS_WITH_CUDA
    fs_backend *b;
    fs_status s = fs_backend_cuda_init(&b, 0);
    ck_assert_msg(s == FS_OK, "%s", fs_error_message());
    model m = open_model_on(CKPT, b);
    check_goldens("cuda", &m);
    close_model(&m);
#endif
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lightcnn");
    TCase *pre = tcase_create("preprocess");
    tcase_add_test(pre, test_preprocess);
    tcase_add_test(pre, test_center_crop_rules);
    suite_add_tcase(s, pre);
    TCase *cv = tcase_create("convert");
    tcase_add_test(cv, test_variants);
    tcase_add_test(cv, test_convert_refusals);
    tcase_set_timeout(cv, 60);
    suite_add_tcase(s, cv);
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, test_goldens);
    tcase_add_test(tc, test_batch_independent);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    TCase *gpu = fs_check_gpu_tcase(s, "gpu");
    tcase_add_test(gpu, test_cuda_vs_cpu);
    return fs_check_run(s, "lightcnn");
}
