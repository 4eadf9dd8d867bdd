/* The CPU StyleGAN2 discriminator against the official scores
 * D(img_psi1_const, c) of each fixture, relative L2 <= 1e-5, from the
 * network pickle, the D state dict and (TF) the TensorFlow pickle. */
#include "check_util.h"

#include "../engine/backend.h"
#include "../engine/stylegan2.h"
#include "../weights_tools/convert.h"
#include "../weights_tools/npy.h"

#define SG2 FS_FIXTURES "/stylegan2"

static float *load(const char *dir, const char *name, size_t *numel, int64_t *shape0)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int ndim;
    int64_t shape[FS_NPY_MAX_DIMS];
    float *data;
    ck_assert_msg(fs_npy_read_f32(path, &ndim, shape, &data) == FS_OK, "%s", fs_error_message());
    *numel = 1;
    for (int d = 0; d < ndim; d++)
        *numel *= (size_t)shape[d];
    if (shape0)
        *shape0 = shape[0];
    return data;
}

typedef struct {
    const char *dir, *checkpoint;
    double conv_clamp;
    int conditional;
} fixture;

static const fixture fixtures[] = {
    {SG2 "/tiny", "network-snapshot.pkl", -1, 0},
    {SG2 "/tiny", "D.pt", 256, 0},
    {SG2 "/tiny-cond", "network-snapshot.pkl", -1, 1},
    {SG2 "/tiny-cond", "D.pt", 2, 1},
    {SG2 "/tiny-tf", "stylegan2-tf-layout.pkl", -1, 0},
    {SG2 "/tiny-resnet", "network-snapshot.pkl", -1, 0}, /* skip-architecture D */
    {SG2 "/tiny-orig", "network-snapshot.pkl", -1, 0},   /* orig-architecture D */
};

START_TEST(test_discriminator_scores)
{
    const fixture *f = &fixtures[_i];
    char path[512];
    snprintf(path, sizeof path, "%s/%s", f->dir, f->checkpoint);
    fs_convert_options o;
    fs_convert_options_default(&o);
    o.net = FS_NET_D;
    if (f->conv_clamp >= 0) {
        o.overrides.has_conv_clamp = 1;
        o.overrides.conv_clamp = f->conv_clamp;
    }
    uint8_t *buf;
    size_t len;
    ck_assert_msg(fs_convert_to_memory(path, &o, &buf, &len, NULL) == FS_OK, "%s",
                  fs_error_message());
    fs_weights *w;
    ck_assert_int_eq(fs_weights_open_owned(buf, len, path, 0, &w), FS_OK);
    fs_backend *b;
    ck_assert_int_eq(fs_backend_cpu_init(&b, 2), FS_OK);
    fs_sg2_discriminator *d;
    ck_assert_msg(fs_sg2_discriminator_init(&d, w, b) == FS_OK, "%s", fs_error_message());
    size_t n_img, n_want, n_c;
    int64_t n;
    float *img = load(f->dir, "img_psi1_const.npy", &n_img, &n);
    float *want = load(f->dir, "D_scores_img_psi1_const.npy", &n_want, NULL);
    float *c = f->conditional ? load(f->dir, "c.npy", &n_c, NULL) : NULL;
    float got[16];
    ck_assert_msg(fs_sg2_discriminator_run(d, img, c, (int)n, got) == FS_OK, "%s",
                  fs_error_message());
    double e = fs_check_rel_l2(got, want, (size_t)n);
    ck_assert_msg(e <= 1e-5, "%s: relative L2 %.3g (got %g, want %g)", path, e, got[0], want[0]);
    free(img);
    free(want);
    free(c);
    fs_sg2_discriminator_free(d);
    fs_backend_free(b);
    fs_weights_free(w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stylegan2_d");
    TCase *tc = tcase_create("cpu");
    tcase_add_loop_test(tc, test_discriminator_scores, 0, (int)(sizeof fixtures / sizeof *fixtures));
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return fs_check_run(s, "stylegan2_d");
}
