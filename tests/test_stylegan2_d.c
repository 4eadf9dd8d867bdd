/* The CPU StyleGAN2 discriminator against the official scores
 * D(img_psi1_const, c) of each fixture, relative L2 <= 1e-5, from the
 * network pickle, the D state dict and (TF) the TensorFlow pickle. */
#include "fixture_util.h"

#include "../engine/backend.h"
#include "../engine/stylegan2.h"

#define SG2 FS_FIXTURES "/stylegan2"

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
    fs_weights *w = fs_fixture_open_in(f->dir, f->checkpoint, FS_WANT_DISCRIMINATOR, f->conv_clamp);
    fs_backend *b;
    ck_assert_int_eq(fs_backend_cpu_init(&b, 2), FS_OK);
    fs_sg2_discriminator *d;
    ck_assert_msg(fs_sg2_discriminator_init(&d, w, b) == FS_OK, "%s", fs_error_message());
    fs_fixture_arr img = fs_fixture_load(f->dir, "img_psi1_const.npy"), c = {0};
    if (f->conditional)
        c = fs_fixture_load(f->dir, "c.npy");
    int n = (int)img.shape[0];
    float got[16];
    ck_assert_int_le(n, 16);
    ck_assert_msg(fs_sg2_discriminator_run(d, img.data, c.data, n, got) == FS_OK, "%s",
                  fs_error_message());
    fs_fixture_expect_close(f->checkpoint, got, f->dir, "D_scores_img_psi1_const.npy", 1e-5);
    fs_fixture_free(&img);
    fs_fixture_free(&c);
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
