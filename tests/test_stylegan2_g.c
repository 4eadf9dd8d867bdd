/* The CPU StyleGAN2 generator against golden outputs of the official
 * stylegan2-ada-pytorch code (tests/fixtures/stylegan2/): ws for every
 * truncation case, images for every noise/truncation/mixing case, and the
 * per-block traces, each to a relative L2 error <= 1e-5, from every source
 * format of the checkpoint. */
#include "fixture_util.h"

#include "../engine/backend.h"
#include "../engine/stylegan2.h"

#define SG2 FS_FIXTURES "/stylegan2"
#define TOL 1e-5

typedef struct {
    fs_weights *w;
    fs_backend *b;
    fs_sg2_generator *g;
} model;

static model open_model(const char *path, double conv_clamp)
{
    model m;
    fs_network_opts o = fs_fixture_opts(FS_WANT_GENERATOR, conv_clamp);
    m.w = fs_fixture_open(path, &o);
    ck_assert_int_eq(fs_backend_cpu_init(&m.b, 2), FS_OK);
    ck_assert_msg(fs_sg2_generator_init(&m.g, m.w, m.b) == FS_OK, "%s", fs_error_message());
    return m;
}

static void close_model(model *m)
{
    fs_sg2_generator_free(m->g);
    fs_backend_free(m->b);
    fs_weights_free(m->w);
}

typedef struct {
    const char *dir;
    const char *checkpoint;
    double conv_clamp; /* for state dicts; < 0: from the file */
    int conditional;
    int has_cutoff_case;
    int has_mixed_case;
} fixture;

static const fixture fixtures[] = {
    {SG2 "/tiny", "network-snapshot.pkl", -1, 0, 1, 1},
    {SG2 "/tiny", "G_ema.pt", 256, 0, 1, 1},
    {SG2 "/tiny", "G_ema_legacy.pt", 256, 0, 1, 1},
    {SG2 "/tiny", "G_ema.safetensors", 256, 0, 1, 1},
    {SG2 "/tiny", "rosinality.pt", 256, 0, 1, 1},
    {SG2 "/tiny-cond", "network-snapshot.pkl", -1, 1, 1, 1},
    {SG2 "/tiny-cond", "G_ema.safetensors", 2, 1, 1, 1},
    {SG2 "/tiny-tf", "stylegan2-tf-layout.pkl", -1, 0, 0, 0},
    {SG2 "/tiny-resnet", "network-snapshot.pkl", -1, 0, 0, 0}, /* resnet architecture */
    {SG2 "/tiny-orig", "network-snapshot.pkl", -1, 0, 0, 0},   /* orig architecture */
};

static void check_case(model *m, const fs_fixture_arr *ws, const char *dir, const char *golden,
                       fs_noise_mode noise)
{
    int n = (int)ws->shape[0];
    fs_fixture_arr want = fs_fixture_load(dir, golden);
    float *img = malloc(want.numel * sizeof *img);
    fs_sg2_synthesis_opts o = {.noise_mode = noise};
    ck_assert_msg(fs_sg2_generator_synthesis(m->g, ws->data, n, &o, img) == FS_OK, "%s",
                  fs_error_message());
    double e = fs_check_rel_l2(img, want.data, want.numel);
    ck_assert_msg(e <= TOL, "%s/%s: relative L2 error %.3g > %.0e", dir, golden, e, TOL);
    free(img);
    free(want.data);
}

START_TEST(test_generator_goldens)
{
    const fixture *f = &fixtures[_i];
    char path[512];
    snprintf(path, sizeof path, "%s/%s", f->dir, f->checkpoint);
    model m = open_model(path, f->conv_clamp);
    fs_fixture_arr z = fs_fixture_load(f->dir, "z.npy");
    fs_fixture_arr c = {0};
    if (f->conditional)
        c = fs_fixture_load(f->dir, "c.npy");
    int n = (int)z.shape[0];
    const fs_sg2_config *cfg = fs_sg2_generator_config(m.g);
    size_t ws_n = (size_t)n * fs_sg2_num_ws(cfg) * cfg->w_dim;
    float *ws = malloc(ws_n * sizeof *ws);
    static const struct { const char *ws, *img; float psi; int cutoff; } cases[] = {
        {"ws_psi1.npy", "img_psi1_const.npy", 1.0f, -1},
        {"ws_psi0.7.npy", "img_psi0.7_const.npy", 0.7f, -1},
        {"ws_psi0.5_cutoff4.npy", "img_psi0.5_cutoff4_const.npy", 0.5f, 4},
    };
    for (int k = 0; k < 3; k++) {
        if (k == 2 && !f->has_cutoff_case)
            continue;
        if (k == 1 && strstr(f->dir, "tiny-tf"))
            continue; /* no ws_psi0.7 golden there: its image is checked below */
        ck_assert_int_eq(fs_sg2_generator_mapping(m.g, z.data, f->conditional ? c.data : NULL, n,
                                                  cases[k].psi, cases[k].cutoff, ws), FS_OK);
        fs_fixture_arr want = fs_fixture_load(f->dir, cases[k].ws);
        ck_assert_uint_eq(want.numel, ws_n);
        double e = fs_check_rel_l2(ws, want.data, ws_n);
        ck_assert_msg(e <= TOL, "%s %s: relative L2 %.3g", path, cases[k].ws, e);
        check_case(&m, &want, f->dir, cases[k].img, FS_NOISE_CONST);
        free(want.data);
    }
    if (strstr(f->dir, "tiny-tf")) {
        ck_assert_int_eq(fs_sg2_generator_mapping(m.g, z.data, NULL, n, 0.7f, -1, ws), FS_OK);
        fs_fixture_arr wsa = {ws, 3, {n, fs_sg2_num_ws(cfg), cfg->w_dim}, ws_n};
        check_case(&m, &wsa, f->dir, "img_psi0.7_const.npy", FS_NOISE_CONST);
    } else {
        fs_fixture_arr w1 = fs_fixture_load(f->dir, "ws_psi1.npy");
        check_case(&m, &w1, f->dir, "img_psi1_none.npy", FS_NOISE_NONE);
        free(w1.data);
        if (f->has_mixed_case) {
            fs_fixture_arr mixed = fs_fixture_load(f->dir, "ws_mixed.npy");
            check_case(&m, &mixed, f->dir, "img_ws_mixed_const.npy", FS_NOISE_CONST);
            free(mixed.data);
        }
    }
    free(ws);
    free(z.data);
    free(c.data);
    close_model(&m);
}
END_TEST

typedef struct {
    const char *dir;
    int failures;
    char msg[256];
} trace_ctx;

static void trace_cb(void *user, int res, const float *x, int ch, const float *img, int ic)
{
    trace_ctx *t = user;
    char name[64];
    snprintf(name, sizeof name, "trace_b%d_x.npy", res);
    fs_fixture_arr wx = fs_fixture_load(t->dir, name);
    double ex = fs_check_rel_l2(x, wx.data, wx.numel);
    snprintf(name, sizeof name, "trace_b%d_img.npy", res);
    fs_fixture_arr wi = fs_fixture_load(t->dir, name);
    double ei = img ? fs_check_rel_l2(img, wi.data, wi.numel) : 1.0;
    if ((ex > TOL || ei > TOL) && !t->failures++)
        snprintf(t->msg, sizeof t->msg, "block %d: x error %.3g, img error %.3g", res, ex, ei);
    free(wx.data);
    free(wi.data);
}

START_TEST(test_generator_traces)
{
    static const char *const dirs[2] = {SG2 "/tiny", SG2 "/tiny-cond"};
    char path[512];
    snprintf(path, sizeof path, "%s/network-snapshot.pkl", dirs[_i]);
    model m = open_model(path, -1);
    fs_fixture_arr ws = fs_fixture_load(dirs[_i], "ws_psi1.npy");
    const fs_sg2_config *cfg = fs_sg2_generator_config(m.g);
    size_t per = (size_t)fs_sg2_num_ws(cfg) * cfg->w_dim;
    float *img = malloc((size_t)cfg->img_channels * cfg->img_resolution * cfg->img_resolution * sizeof *img);
    trace_ctx t = {.dir = dirs[_i]};
    fs_sg2_synthesis_opts o = {.noise_mode = FS_NOISE_CONST, .trace = trace_cb, .trace_user = &t};
    (void)per;
    ck_assert_int_eq(fs_sg2_generator_synthesis(m.g, ws.data, 1, &o, img), FS_OK);
    ck_assert_msg(t.failures == 0, "%s", t.msg);
    free(img);
    free(ws.data);
    close_model(&m);
}
END_TEST

START_TEST(test_conditional_needs_label)
{
    model m = open_model(SG2 "/tiny-cond/network-snapshot.pkl", -1);
    float z[64] = {0.5f}, ws[6 * 64];
    ck_assert_int_eq(fs_sg2_generator_mapping(m.g, z, NULL, 1, 1.0f, -1, ws), FS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "label"));
    close_model(&m);
}
END_TEST

/* fs_sg2_generator_buffers_epoch moves when, and only when, the buffers are
 * made again (a batch larger than any before): what tells a pipeline its
 * graphs point at freed memory. */
START_TEST(test_buffers_epoch)
{
    model m = open_model(SG2 "/tiny/network-snapshot.pkl", -1);
    unsigned long e0 = fs_sg2_generator_buffers_epoch(m.g);
    ck_assert_int_eq(fs_sg2_generator_reserve(m.g, 3), FS_OK);
    unsigned long e1 = fs_sg2_generator_buffers_epoch(m.g);
    ck_assert_uint_ne(e1, e0);
    ck_assert_int_eq(fs_sg2_generator_reserve(m.g, 2), FS_OK); /* fits: nothing re-made */
    const fs_sg2_config *c = fs_sg2_generator_config(m.g);
    float *z = calloc(4 * (size_t)c->z_dim, sizeof *z);
    float *ws = malloc(4 * (size_t)fs_sg2_num_ws(c) * c->w_dim * sizeof *ws);
    ck_assert_int_eq(fs_sg2_generator_mapping(m.g, z, NULL, 3, 1.0f, -1, ws), FS_OK);
    ck_assert_uint_eq(fs_sg2_generator_buffers_epoch(m.g), e1);
    ck_assert_int_eq(fs_sg2_generator_mapping(m.g, z, NULL, 4, 1.0f, -1, ws), FS_OK);
    ck_assert_uint_ne(fs_sg2_generator_buffers_epoch(m.g), e1);
    free(z);
    free(ws);
    close_model(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stylegan2_g");
    TCase *tc = tcase_create("cpu");
    tcase_add_loop_test(tc, test_generator_goldens, 0, (int)(sizeof fixtures / sizeof *fixtures));
    tcase_add_loop_test(tc, test_generator_traces, 0, 2);
    tcase_add_test(tc, test_conditional_needs_label);
    tcase_add_test(tc, test_buffers_epoch);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return fs_check_run(s, "stylegan2_g");
}
