/* e4e's Encoder4Editing against the official code (tests/fixtures/e4e, made
 * with omertov/encoder4editing at reduced widths, README there): the trunk
 * taps c1/c2/c3, the FPN maps p2/p1, w0, every style's raw output, the
 * encoder output and the final codes, for the fixture's 256x256 inputs and
 * for the images resized by the official preprocessing; then the codes
 * through tests/fixtures/stylegan2/tiny against the official
 * reconstructions. Everything within relative L2 1e-5 on the CPU, with the
 * BatchNorms folded into the convs (the default) and kept as ops.
 *
 * Also: the converter's e4e paths (the .fsw written equals the in-memory
 * conversion; zip and legacy files whose storages say 'cuda:0'; the decoder
 * as a StyleGAN2 generator; refusals), the Pillow-exact preprocessing, and,
 * tagged gpu, the CUDA backend against the CPU (fp32 1e-5, fp16 1e-2). */
#include "fixture_util.h"

#include <math.h>

#include "../engine/backend.h"
#include "../engine/e4e.h"
#include "../engine/file.h"
#include "../engine/image_io.h"
#include "../engine/image_jpeg.h"
#include "../engine/image_pil.h"
#include "../engine/stylegan2.h"
#include "../weights_tools/convert.h"

#ifdef FS_WITH_CUDA
#include "../kernels/cuda_backend.h"
#endif

#define DIR_ FS_FIXTURES "/e4e"
#define TINY FS_FIXTURES "/stylegan2/tiny/network-snapshot.pkl"
#define TOL 1e-5

typedef struct {
    fs_weights *w;
    fs_backend *b;
    fs_e4e *m;
} model;

static model open_model_on(const char *path, fs_backend *b, int keep_bn)
{
    model m = {.b = b};
    fs_network_opts o = fs_fixture_opts(FS_WANT_E4E_ENCODER, -1);
    m.w = fs_fixture_open(path, &o);
    fs_e4e_opts eo = {.keep_bn = keep_bn};
    fs_status s = fs_e4e_init(&m.m, m.w, m.b, &eo);
    ck_assert_msg(s == FS_OK, "%s: %s", path, fs_error_message());
    return m;
}

static model open_model(int keep_bn)
{
    fs_backend *b;
    ck_assert_int_eq(fs_backend_cpu_init(&b, 2), FS_OK);
    return open_model_on(DIR_ "/e4e.pt", b, keep_bn);
}

static void close_model(model *m)
{
    fs_e4e_free(m->m);
    fs_backend_free(m->b);
    fs_weights_free(m->w);
}

typedef struct {
    int n;
    size_t codes, c1, c2, c3, p2, p1;
    float *x, *out, *t_c1, *t_c2, *t_c3, *t_p2, *t_p1, *raw, *enc;
    fs_e4e_trace t;
} run_result;

/* Encodes x (a fixture file) with every trace output. */
static run_result run(model *m, const char *x_name)
{
    run_result r;
    memset(&r, 0, sizeof r);
    fs_fixture_arr xa = fs_fixture_load(DIR_, x_name);
    const fs_e4e_config *c = fs_e4e_get_config(m->m);
    r.n = (int)xa.shape[0];
    r.x = xa.data;
    r.codes = (size_t)r.n * c->n_styles * c->style_dim;
    size_t n = (size_t)r.n;
    r.c1 = n * c->body.stage_width[1] * 64 * 64;
    r.c2 = n * c->body.stage_width[2] * 32 * 32;
    r.c3 = n * c->body.stage_width[3] * 16 * 16;
    r.p2 = n * c->body.stage_width[3] * 32 * 32;
    r.p1 = n * c->body.stage_width[3] * 64 * 64;
    r.out = malloc(r.codes * sizeof(float));
    r.raw = malloc(r.codes * sizeof(float));
    r.enc = malloc(r.codes * sizeof(float));
    r.t_c1 = malloc(r.c1 * sizeof(float));
    r.t_c2 = malloc(r.c2 * sizeof(float));
    r.t_c3 = malloc(r.c3 * sizeof(float));
    r.t_p2 = malloc(r.p2 * sizeof(float));
    r.t_p1 = malloc(r.p1 * sizeof(float));
    ck_assert(r.out && r.raw && r.enc && r.t_c1 && r.t_c2 && r.t_c3 && r.t_p2 && r.t_p1);
    r.t = (fs_e4e_trace){.c1 = r.t_c1, .c2 = r.t_c2, .c3 = r.t_c3, .p2 = r.t_p2, .p1 = r.t_p1,
                         .styles_raw = r.raw, .enc = r.enc};
    fs_status s = fs_e4e_encode_traced(m->m, r.x, r.n, r.out, &r.t);
    ck_assert_msg(s == FS_OK, "encode: %s", fs_error_message());
    return r;
}

static void run_free(run_result *r)
{
    free(r->x);
    free(r->out);
    free(r->raw);
    free(r->enc);
    free(r->t_c1);
    free(r->t_c2);
    free(r->t_c3);
    free(r->t_p2);
    free(r->t_p1);
}

/* The fixture's taps are sample 0 only: the first n-th of each map. */
static void check_goldens(const char *who, model *m)
{
    run_result r = run(m, "x.npy");
    fs_fixture_expect_close(who, r.t_c1, DIR_, "c1.npy", TOL);
    fs_fixture_expect_close(who, r.t_c2, DIR_, "c2.npy", TOL);
    fs_fixture_expect_close(who, r.t_c3, DIR_, "c3.npy", TOL);
    fs_fixture_expect_close(who, r.t_p2, DIR_, "p2.npy", TOL);
    fs_fixture_expect_close(who, r.t_p1, DIR_, "p1.npy", TOL);
    const fs_e4e_config *c = fs_e4e_get_config(m->m);
    size_t S = (size_t)c->n_styles, D = (size_t)c->style_dim;
    float *w0 = malloc((size_t)r.n * D * sizeof *w0);
    ck_assert_ptr_nonnull(w0);
    for (int k = 0; k < r.n; k++)
        memcpy(w0 + (size_t)k * D, r.enc + (size_t)k * S * D, D * sizeof *w0);
    fs_fixture_expect_close(who, w0, DIR_, "w0.npy", TOL);
    free(w0);
    fs_fixture_expect_close(who, r.raw, DIR_, "styles_raw.npy", TOL);
    fs_fixture_expect_close(who, r.enc, DIR_, "enc.npy", TOL);
    fs_fixture_expect_close(who, r.out, DIR_, "codes.npy", TOL);
    run_free(&r);
    r = run(m, "tf_x.npy");
    fs_fixture_expect_close(who, r.enc, DIR_, "tf_enc.npy", TOL);
    fs_fixture_expect_close(who, r.out, DIR_, "tf_codes.npy", TOL);
    run_free(&r);
}

START_TEST(test_goldens_folded)
{
    model m = open_model(0);
    check_goldens("cpu folded", &m);
    close_model(&m);
}
END_TEST

START_TEST(test_goldens_bn_kept)
{
    model m = open_model(1);
    check_goldens("cpu bn kept", &m);
    close_model(&m);
}
END_TEST

/* A sample's codes do not depend on the batch around it. */
START_TEST(test_batch_independent)
{
    model m = open_model(0);
    run_result r = run(&m, "x.npy");
    const fs_e4e_config *c = fs_e4e_get_config(m.m);
    size_t per = (size_t)c->n_styles * c->style_dim, img = 3 * 256 * 256;
    float *one = malloc(per * sizeof *one);
    ck_assert_ptr_nonnull(one);
    for (int k = 0; k < r.n; k++) {
        ck_assert_int_eq(fs_e4e_encode(m.m, r.x + k * img, 1, one), FS_OK);
        double e = fs_check_rel_l2(one, r.out + k * per, per);
        ck_assert_msg(e <= 1e-6, "sample %d alone vs in the batch: relative L2 %.3g", k, e);
    }
    free(one);
    run_free(&r);
    close_model(&m);
}
END_TEST

/* The codes through the tiny StyleGAN2 (the fixture's decoder stand-in:
 * w_dim 128, 8 ws) against the official synthesis, noise const. */
static void check_recon(model *m, fs_weights *g_w, const char *x_name, const char *golden)
{
    fs_sg2_generator *g;
    ck_assert_msg(fs_sg2_generator_init(&g, g_w, m->b) == FS_OK, "%s", fs_error_message());
    run_result r = run(m, x_name);
    const fs_sg2_config *gc = fs_sg2_generator_config(g);
    size_t img = (size_t)r.n * 3 * gc->img_resolution * gc->img_resolution;
    float *out = malloc(img * sizeof *out);
    ck_assert_ptr_nonnull(out);
    fs_sg2_generate_args a = {.n = r.n, .ws = r.out, .psi = 1.0f, .cutoff = -1,
                              .noise_mode = FS_NOISE_CONST, .img_out = out};
    ck_assert_msg(fs_sg2_generate(g, &a) == FS_OK, "%s", fs_error_message());
    fs_fixture_expect_close("cpu", out, DIR_, golden, TOL);
    free(out);
    run_free(&r);
    fs_sg2_generator_free(g);
}

START_TEST(test_reconstruction)
{
    model m = open_model(0);
    fs_network_opts o = fs_fixture_opts(FS_WANT_GENERATOR, -1);
    fs_weights *g = fs_fixture_open(TINY, &o);
    check_recon(&m, g, "x.npy", "img_recon.npy");
    check_recon(&m, g, "tf_x.npy", "tf_img_recon.npy");
    fs_weights_free(g);
    close_model(&m);
}
END_TEST



/* ---- the official preprocessing ------------------------------------------------------ */

/* Decoding, resizing and normalising reproduce the official transform's
 * tensors bit for bit. */
static void expect_transform(const char *const *files, int n, const char *golden)
{
    fs_fixture_arr want = fs_fixture_load(DIR_, golden);
    ck_assert_uint_eq(want.numel, (size_t)n * 3 * 256 * 256);
    float *x = malloc(want.numel * sizeof *x);
    ck_assert_ptr_nonnull(x);
    char path[256];
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, DIR_ "/images/%s", files[i]);
        fs_status s = fs_pil_load_transformed(path, 256, x + (size_t)i * 3 * 256 * 256);
        ck_assert_msg(s == FS_OK, "%s: %s", path, fs_error_message());
    }
    size_t bad = 0;
    for (size_t i = 0; i < want.numel; i++)
        bad += memcmp(&x[i], &want.data[i], sizeof *x) != 0;
    ck_assert_msg(bad == 0, "%s: %zu of %zu values differ from the official transform", golden,
                  bad, want.numel);
    free(x);
    fs_fixture_free(&want);
}

START_TEST(test_transform)
{
    static const char *const x[3] = {"img0.png", "img1.png", "img2.png"};
    static const char *const tf[3] = {"small_64x64.png", "wide_300x200.png", "gray_80x96.png"};
    expect_transform(x, 3, "x.npy");
    expect_transform(tf, 3, "tf_x.npy");
}
END_TEST

/* Every PNG colour type and depth and the JPEG variants, as Pillow's
 * convert('RGB') decodes them (the goldens are 8-bit RGB PNGs). */
START_TEST(test_decode_like_pillow)
{
    static const char *const files[] = {"gray2.png", "gray16.png", "ga16.png", "rgb16.png",
                                        "rgba16.png", "rgba8.png", "pal4trns.png", "j420.jpg",
                                        "j444.jpg", "jprog.jpg", "jgray.jpg", "jcmyk.jpg"};
    for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
        char path[256], gpath[256];
        snprintf(path, sizeof path, DIR_ "/pil/%s", files[k]);
        snprintf(gpath, sizeof gpath, DIR_ "/pil/%.*s.rgb.png", (int)(strlen(files[k]) - 4),
                 files[k]);
        uint8_t *got, *want;
        int w, h, gw, gh;
        ck_assert_msg(fs_pil_read_rgb(path, &got, &w, &h) == FS_OK, "%s: %s", path,
                      fs_error_message());
        ck_assert_int_eq(fs_png_read_rgb(gpath, &want, &gw, &gh), FS_OK);
        ck_assert_msg(w == gw && h == gh, "%s: %dx%d, Pillow %dx%d", path, w, h, gw, gh);
        size_t bad = 0;
        for (size_t i = 0; i < (size_t)w * h * 3; i++)
            bad += got[i] != want[i];
        ck_assert_msg(bad == 0, "%s: %zu bytes differ from Pillow's", path, bad);
        free(got);
        free(want);
    }
    /* a 400x300 image shrunk to 256x256 */
    uint8_t *src, *want, out[256 * 256 * 3];
    int w, h, gw, gh;
    ck_assert_int_eq(fs_pil_read_rgb(DIR_ "/pil/resize_src.png", &src, &w, &h), FS_OK);
    ck_assert_int_eq(fs_png_read_rgb(DIR_ "/pil/resize_256.rgb.png", &want, &gw, &gh), FS_OK);
    ck_assert_int_eq(fs_pil_resize_bilinear_rgb8(src, w, h, out, 256, 256), FS_OK);
    ck_assert_msg(!memcmp(out, want, sizeof out), "the 400x300 -> 256x256 resize differs");
    free(src);
    free(want);
}
END_TEST

/* Bad files: one message naming the file. */
START_TEST(test_decode_refusals)
{
    uint8_t *rgb;
    int w, h;
    static const uint8_t trunc_png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13,
                                        'I', 'H', 'D', 'R', 0, 0, 0, 4};
    ck_assert_int_eq(fs_pil_png_decode_rgb(trunc_png, sizeof trunc_png, "t.png", &rgb, &w, &h),
                     FS_ERR_FORMAT);
    ck_assert_ptr_null(rgb);
    /* a JPEG cut in the middle of its scan data */
    fs_file_map m;
    ck_assert_int_eq(fs_file_map_open(DIR_ "/pil/j444.jpg", &m), FS_OK);
    fs_status s = fs_jpeg_decode_rgb(m.data, m.size / 2, "half.jpg", &rgb, &w, &h);
    ck_assert_int_eq(s, FS_ERR_FORMAT);
    ck_assert_msg(strstr(fs_error_message(), "half.jpg"), "%s", fs_error_message());
    ck_assert_ptr_null(rgb);
    s = fs_jpeg_decode_rgb(m.data, 40, "header.jpg", &rgb, &w, &h);
    ck_assert_int_eq(s, FS_ERR_FORMAT);
    fs_file_map_close(&m);
    ck_assert_int_eq(fs_pil_read_rgb(DIR_ "/meta.json", &rgb, &w, &h), FS_ERR_FORMAT);
    ck_assert_msg(strstr(fs_error_message(), "neither a PNG nor a JPEG"), "%s",
                  fs_error_message());
}
END_TEST

/* ---- the converter ------------------------------------------------------------------- */

static fs_weights *open_as(const char *path, fs_network_want want, fs_net_select net)
{
    fs_network_opts o = fs_fixture_opts(want, -1);
    o.convert.net = net;
    return fs_fixture_open(path, &o);
}

/* Same tensor names, shapes, dtypes and bytes, in the same order. */
static void expect_same_tensors(const fs_weights *a, const fs_weights *b)
{
    size_t n = fs_weights_tensor_count(a);
    ck_assert_uint_eq(n, fs_weights_tensor_count(b));
    for (size_t i = 0; i < n; i++) {
        const fs_tensor *x = fs_weights_tensor_at(a, i), *y = fs_weights_tensor_at(b, i);
        ck_assert_str_eq(x->name, y->name);
        ck_assert_int_eq(x->ndim, y->ndim);
        for (int d = 0; d < x->ndim; d++)
            ck_assert_int_eq(x->shape[d], y->shape[d]);
        ck_assert_int_eq(x->dtype, y->dtype);
        ck_assert_uint_eq(x->nbytes, y->nbytes);
        ck_assert_msg(!memcmp(x->data, y->data, x->nbytes), "tensor %s differs", x->name);
    }
}

/* Files saved from a GPU say 'cuda:0' for every storage; zip and legacy
 * streams of the same checkpoint give the same tensors. */
START_TEST(test_convert_cuda_tagged)
{
    fs_weights *z = open_as(DIR_ "/small_cuda.pt", FS_WANT_E4E_ENCODER, FS_NET_DEFAULT);
    fs_weights *l = open_as(DIR_ "/small_cuda_legacy.pt", FS_WANT_E4E_ENCODER, FS_NET_DEFAULT);
    ck_assert_int_eq(fs_weights_family(z), FS_FAMILY_E4E_ENCODER);
    expect_same_tensors(z, l);
    fs_e4e_config c;
    ck_assert_int_eq(fs_e4e_config_from_weights(z, &c), FS_OK);
    ck_assert_int_eq(c.body.input_width, 4);
    ck_assert_int_eq(c.body.stage_width[3], 32);
    ck_assert_int_eq(c.body.se_hidden[3], 2);
    ck_assert_int_eq(c.n_styles, 8);
    ck_assert_int_eq(c.style_dim, 16);
    ck_assert_int_eq(c.input_resolution, 256);
    /* a [16] latent_avg is the same row on every style */
    fs_weights *a = open_as(DIR_ "/small_avg1d.pt", FS_WANT_E4E_ENCODER, FS_NET_DEFAULT);
    expect_same_tensors(z, a);
    fs_weights_free(a);
    fs_weights_free(l);
    fs_weights_free(z);
}
END_TEST

/* --net decoder: rosinality's generator under 'decoder.', with latent_avg's
 * row as w_avg, converts exactly as the same tensors in rosinality's own
 * {'g_ema', 'latent_avg'} file; a caller that runs a generator gets it too. */
START_TEST(test_convert_decoder)
{
    fs_weights *d = open_as(DIR_ "/small_cuda.pt", FS_WANT_ANY, FS_NET_DECODER);
    fs_weights *g = open_as(DIR_ "/small_cuda.pt", FS_WANT_GENERATOR, FS_NET_DEFAULT);
    fs_weights *r = open_as(DIR_ "/small_decoder_ros.pt", FS_WANT_GENERATOR, FS_NET_DEFAULT);
    ck_assert_int_eq(fs_weights_family(d), FS_FAMILY_STYLEGAN2_G);
    expect_same_tensors(d, r);
    expect_same_tensors(g, r);
    int64_t w_dim, res;
    ck_assert_int_eq(fs_weights_meta_i64(d, "w_dim", &w_dim), FS_OK);
    ck_assert_int_eq(fs_weights_meta_i64(d, "img_resolution", &res), FS_OK);
    ck_assert_int_eq(w_dim, 16);
    ck_assert_int_eq(res, 32);
    fs_weights_free(r);
    fs_weights_free(g);
    fs_weights_free(d);
}
END_TEST

/* The .fsw `convert` writes is the in-memory conversion every command uses. */
START_TEST(test_convert_file)
{
    char out[] = "/tmp/fs_e4e_enc_XXXXXX";
    int fd = mkstemp(out);
    ck_assert_int_ge(fd, 0);
    close(fd);
    fs_convert_options co;
    fs_convert_options_default(&co);
    co.net = FS_NET_ENCODER;
    fs_convert_report rep;
    ck_assert_msg(fs_convert_file(DIR_ "/e4e.pt", out, &co, &rep) == FS_OK, "%s",
                  fs_error_message());
    ck_assert_int_eq(rep.family, FS_FAMILY_E4E_ENCODER);
    ck_assert_str_eq(rep.net, "encoder");
    fs_weights *f, *m = open_as(DIR_ "/e4e.pt", FS_WANT_E4E_ENCODER, FS_NET_DEFAULT);
    ck_assert_int_eq(fs_weights_open(out, FS_WEIGHTS_VERIFY_ALL, &f), FS_OK);
    expect_same_tensors(f, m);
    ck_assert_int_eq(fs_network_check(f), FS_OK);
    fs_weights_free(f);
    fs_weights_free(m);
    unlink(out);
}
END_TEST

static void expect_refused(const char *path, fs_network_want want, fs_net_select net,
                           const char *text)
{
    fs_network_opts o = fs_fixture_opts(want, -1);
    o.convert.net = net;
    fs_weights *w = NULL;
    fs_status s = fs_network_open(path, &o, &w, NULL);
    ck_assert_msg(s != FS_OK, "%s was accepted", path);
    ck_assert_msg(strstr(fs_error_message(), text), "%s: message '%s' lacks '%s'", path,
                  fs_error_message(), text);
    ck_assert_ptr_null(w);
}

START_TEST(test_convert_refusals)
{
    expect_refused(DIR_ "/small_psp.pt", FS_WANT_ANY, FS_NET_DEFAULT, "GradualStyleEncoder");
    expect_refused(DIR_ "/e4e.pt", FS_WANT_ANY, FS_NET_DECODER, "no 'decoder.' tensors");
    expect_refused(DIR_ "/e4e.pt", FS_WANT_GENERATOR, FS_NET_DEFAULT, "no 'decoder.' tensors");
    expect_refused(DIR_ "/e4e.pt", FS_WANT_ANY, FS_NET_D, "--net encoder or --net decoder");
    expect_refused(FS_FIXTURES "/stylegan2/tiny/rosinality.pt", FS_WANT_ANY, FS_NET_ENCODER,
                   "only to e4e checkpoints");
    expect_refused(TINY, FS_WANT_E4E_ENCODER, FS_NET_DEFAULT, "not an e4e encoder");
    expect_refused(DIR_ "/e4e.pt", FS_WANT_ANY, FS_NET_DECODER, "decoder");
}
END_TEST

/* ---- CUDA against the CPU (tag gpu) ---------------------------------------------------- */

#ifdef FS_WITH_CUDA
static void expect_vs_cpu(const char *what, const float *got, const float *want, size_t n,
                          double tol)
{
    double e = fs_check_rel_l2(got, want, n);
    if (getenv("FS_TEST_VERBOSE"))
        printf("%-22s vs cpu: relative L2 %.3g\n", what, e);
    ck_assert_msg(e <= tol, "%s vs cpu: relative L2 %.3g > %.0e", what, e, tol);
}

/* fp32: every trace within 1e-5 of the CPU; fp16 and bf16 tensor cores
 * (every conv of the encoder) within 1e-2, tf32 within 1e-3. */
START_TEST(test_cuda_vs_cpu)
{
    model cpu = open_model(0);
    run_result want = run(&cpu, "x.npy");
    static const struct {
        fs_cuda_precision p;
        double tol;
    } precs[] = {{FS_CUDA_FP32, 1e-5}, {FS_CUDA_TF32, 1e-3}, {FS_CUDA_FP16, 1e-2},
                 {FS_CUDA_BF16, 1e-2}};
    for (size_t k = 0; k < sizeof precs / sizeof *precs; k++) {
        fs_backend *gb;
        fs_status s = fs_backend_cuda_init_ex(&gb, 0, precs[k].p);
        ck_assert_msg(s == FS_OK, "cuda: %s", fs_error_message());
        model gpu = open_model_on(DIR_ "/e4e.pt", gb, 0);
        run_result got = run(&gpu, "x.npy");
        char what[64];
        const char *pn = fs_cuda_precision_name(precs[k].p);
        double tol = precs[k].tol;
        snprintf(what, sizeof what, "cuda %s c1", pn);
        expect_vs_cpu(what, got.t_c1, want.t_c1, want.c1, tol);
        snprintf(what, sizeof what, "cuda %s c3", pn);
        expect_vs_cpu(what, got.t_c3, want.t_c3, want.c3, tol);
        snprintf(what, sizeof what, "cuda %s p1", pn);
        expect_vs_cpu(what, got.t_p1, want.t_p1, want.p1, tol);
        snprintf(what, sizeof what, "cuda %s codes", pn);
        expect_vs_cpu(what, got.out, want.out, want.codes, tol);
        if (precs[k].p == FS_CUDA_FP32)
            fs_fixture_expect_close("cuda fp32", got.out, DIR_, "codes.npy", TOL);
        run_free(&got);
        close_model(&gpu);
    }
    run_free(&want);
    close_model(&cpu);
}
END_TEST
#endif

int main(void)
{
    Suite *s = suite_create("e4e");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, test_goldens_folded);
    tcase_add_test(tc, test_goldens_bn_kept);
    tcase_add_test(tc, test_batch_independent);
    tcase_add_test(tc, test_reconstruction);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    TCase *pre = tcase_create("preprocess");
    tcase_add_test(pre, test_transform);
    tcase_add_test(pre, test_decode_like_pillow);
    tcase_add_test(pre, test_decode_refusals);
    suite_add_tcase(s, pre);
    TCase *cv = tcase_create("convert");
    tcase_add_test(cv, test_convert_cuda_tagged);
    tcase_add_test(cv, test_convert_decoder);
    tcase_add_test(cv, test_convert_file);
    tcase_add_test(cv, test_convert_refusals);
    tcase_set_timeout(cv, 60);
    suite_add_tcase(s, cv);
    TCase *gpu = fs_check_gpu_tcase(s, "gpu");
#ifdef FS_WITH_CUDA
    tcase_add_test(gpu, test_cuda_vs_cpu);
#else
    (void)gpu;
#endif
    return fs_check_run(s, "e4e");
}
