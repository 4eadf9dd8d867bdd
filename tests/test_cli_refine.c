/* `facesynth refine` and the SimGAN branch of `facesynth score` end to end
 * (docs/simgan.md), against tests/fixtures/simgan: the refined floats
 * (--save-raw, 1e-5) and PNG bytes (the spec's rounding: the golden bytes,
 * but for a value that lands within float noise of a rounding edge) of the
 * gray 35 x 55 and RGB 64 x 64 sets, from .npy and from PNG folders (the same
 * numbers: u / 127.5 - 1 is exact); a folder of mixed sizes; --batch
 * independence; score's patch maps and per-image realism; --rename; and
 * one-line errors that leave nothing behind. */
#define CLI_TMP_PREFIX "/tmp/fs_h16_refine"
#include "cli_util.h"

#include <math.h>

#include "../engine/image_io.h"
#include "../engine/simgan.h"

#define SG FS_FIXTURES "/simgan"

static const char *const variants[2] = {"gray35x55", "rgb64x64"};

/* A uint8 .npy of the fixture folder. */
typedef struct {
    fs_file_map map;
    fs_npy a;
} u8_arr;

static u8_arr load_u8(const char *path)
{
    u8_arr r;
    ck_assert_msg(fs_file_map_open(path, &r.map) == FS_OK, "%s", fs_error_message());
    ck_assert(fs_npy_parse(r.map.data, r.map.size, path, &r.a) == FS_OK);
    return r;
}

/* A refined PNG (gray or RGB) against its golden bytes [C, h, w]: at most
 * one pixel in 10000 one off (a float straddling a rounding edge). */
static void expect_png(const char *png, const uint8_t *want, int C, int h, int w)
{
    uint8_t *rgb;
    int pw, ph;
    ck_assert_msg(fs_png_read_rgb(png, &rgb, &pw, &ph) == FS_OK, "%s", fs_error_message());
    ck_assert_int_eq(pw, w);
    ck_assert_int_eq(ph, h);
    size_t plane = (size_t)w * h, off = 0;
    for (size_t q = 0; q < plane; q++) {
        int differs = 0;
        for (int c = 0; c < 3; c++) {
            int got = rgb[3 * q + (size_t)c], exp = want[(size_t)(C == 1 ? 0 : c) * plane + q];
            ck_assert_msg(abs(got - exp) <= 1, "%s: pixel %zu channel %d: %d vs %d", png, q, c,
                          got, exp);
            differs |= got != exp;
        }
        off += (size_t)differs;
    }
    ck_assert_msg(off <= plane / 10000 + 1, "%s: %zu pixels differ", png, off);
    free(rgb);
}

/* The golden inputs as PNGs in dir/in: x0.png, x1.png, x2.png. */
static void write_inputs(const char *dir, int v)
{
    char p[512];
    snprintf(p, sizeof p, SG "/%s_x_u8.npy", variants[v]);
    u8_arr u = load_u8(p);
    int n = (int)u.a.shape[0], C = (int)u.a.shape[1], h = (int)u.a.shape[2];
    int w = (int)u.a.shape[3];
    size_t plane = (size_t)w * h;
    uint8_t *hwc = malloc(plane * (size_t)C);
    ck_assert_ptr_nonnull(hwc);
    const uint8_t *b = u.a.data;
    snprintf(p, sizeof p, "%s/in", dir);
    mkdir(p, 0777);
    for (int i = 0; i < n; i++) {
        for (size_t q = 0; q < plane; q++)
            for (int c = 0; c < C; c++)
                hwc[q * (size_t)C + (size_t)c] = b[((size_t)i * C + (size_t)c) * plane + q];
        snprintf(p, sizeof p, "%s/in/x%d.png", dir, i);
        ck_assert(fs_png_write_rgb8(p, hwc, w, h, C) == FS_OK);
    }
    free(hwc);
    fs_file_map_close(&u.map);
}

START_TEST(test_refine)
{
    int v = _i;
    char *dir = make_tmpdir(), p[512], q[512];
    run_ok("refine -q --network " SG "/%s_simgan.pt --images " SG "/%s_x.npy --outdir %s/a "
           "--save-raw %s/a.npy --batch 2", variants[v], variants[v], dir, dir);
    snprintf(p, sizeof p, "%s/a.npy", dir);
    snprintf(q, sizeof q, SG "/%s_refined.npy", variants[v]);
    arr got = load_f32(p), want = load_f32(q);
    ck_assert_int_eq(got.ndim, 4);
    ck_assert(!memcmp(got.shape, want.shape, sizeof got.shape));
    double e = fs_check_rel_l2(got.data, want.data, want.numel);
    ck_assert_msg(e <= 1e-5, "%s refined: relative L2 %.3g", variants[v], e);
    snprintf(q, sizeof q, SG "/%s_refined_u8.npy", variants[v]);
    u8_arr u = load_u8(q);
    int C = (int)want.shape[1], h = (int)want.shape[2], w = (int)want.shape[3];
    size_t img = (size_t)C * h * w;
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/a/img%04d.png", dir, i);
        expect_png(p, (const uint8_t *)u.a.data + i * img, C, h, w);
    }
    /* the same images as PNG files, batch 1: the same floats and files */
    write_inputs(dir, v);
    run_ok("refine -q --network " SG "/%s_simgan.pt --images %s/in --outdir %s/b "
           "--save-raw %s/b.npy --batch 1", variants[v], dir, dir, dir);
    snprintf(p, sizeof p, "%s/a.npy", dir);
    snprintf(q, sizeof q, "%s/b.npy", dir);
    ck_assert(files_equal(p, q));
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/a/img%04d.png", dir, i);
        snprintf(q, sizeof q, "%s/b/x%d.png", dir, i);
        ck_assert(files_equal(p, q));
    }
    fs_file_map_close(&u.map);
    fs_fixture_free(&got);
    fs_fixture_free(&want);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* score: the patch maps of the refined images and the table's realism, the
 * mean of each map. */
START_TEST(test_score)
{
    int v = _i;
    char *dir = make_tmpdir(), p[512], out[512];
    snprintf(out, sizeof out, "%s/table.tsv", dir);
    char args[1024], err[4096];
    snprintf(args, sizeof args, "score -q --network " SG "/%s_simgan.pt --images " SG
             "/%s_refined.npy --save-raw %s/p.npy --batch 1", variants[v], variants[v], dir);
    ck_assert_msg(run_cli(args, err, sizeof err, out, sizeof out) == 0, "%s", err);
    snprintf(p, sizeof p, "%s/p.npy", dir);
    arr got = load_f32(p);
    snprintf(p, sizeof p, SG "/%s_d_prob_real.npy", variants[v]);
    arr want = load_f32(p);
    ck_assert_int_eq(got.ndim, 3);
    ck_assert(!memcmp(got.shape, want.shape, sizeof got.shape));
    double e = fs_check_rel_l2(got.data, want.data, want.numel);
    ck_assert_msg(e <= 1e-5, "%s p_real: relative L2 %.3g", variants[v], e);
    char *txt = slurp(out);
    ck_assert(!strncmp(txt, "index\tname\trealism\n", 19));
    size_t plane = want.numel / 3;
    char *line = strchr(txt, '\n') + 1;
    for (int i = 0; i < 3; i++) {
        double mean = 0, r;
        for (size_t k = 0; k < plane; k++)
            mean += want.data[i * plane + k];
        mean /= (double)plane;
        ck_assert_int_eq(sscanf(strrchr(strtok(line, "\n"), '\t') + 1, "%lf", &r), 1);
        ck_assert_msg(fabs(r - mean) < 1e-5, "realism %d: %.9g vs %.9g", i, r, mean);
        line += strlen(line) + 1;
    }
    free(txt);
    fs_fixture_free(&got);
    fs_fixture_free(&want);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* A folder of two sizes: refined image by image (each as when alone);
 * --save-raw, which needs one size, is refused before anything is written. */
START_TEST(test_mixed_sizes_and_rename)
{
    char *dir = make_tmpdir(), p[512], q[512];
    write_inputs(dir, 1);
    /* a 20 x 30 crop of x0 as another image */
    snprintf(p, sizeof p, "%s/in/x0.png", dir);
    uint8_t *rgb, crop[20 * 30 * 3];
    int w, h;
    ck_assert(fs_png_read_rgb(p, &rgb, &w, &h) == FS_OK);
    for (int r = 0; r < 20; r++)
        memcpy(crop + r * 30 * 3, rgb + ((size_t)(r + 5) * w + 7) * 3, 30 * 3);
    free(rgb);
    snprintf(p, sizeof p, "%s/in/x1a.png", dir);
    ck_assert(fs_png_write_rgb8(p, crop, 30, 20, 3) == FS_OK);
    run_ok("refine -q --network " SG "/rgb64x64_simgan.pt --images %s/in --outdir %s/o --batch 4",
           dir, dir);
    snprintf(p, sizeof p, "%s/alone", dir);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/in/x1a.png", dir);
    snprintf(q, sizeof q, "%s/alone/x1a.png", dir);
    ck_assert_int_eq(rename(p, q), 0);
    run_ok("refine -q --network " SG "/rgb64x64_simgan.pt --images %s/alone --outdir %s/o2", dir,
           dir);
    snprintf(p, sizeof p, "%s/o/x1a.png", dir);
    snprintf(q, sizeof q, "%s/o2/x1a.png", dir);
    ck_assert(files_equal(p, q));
    /* --rename: the foreign-named small SimGAN equals the canonical one */
    run_ok("refine -q --network " SG "/small_simgan.pt --images %s/in --outdir %s/c", dir, dir);
    run_ok("refine -q --network " SG "/small_foreign.pt --rename " SG "/rename_rules.txt "
           "--images %s/in --outdir %s/f", dir, dir);
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/c/x%d.png", dir, i);
        snprintf(q, sizeof q, "%s/f/x%d.png", dir, i);
        ck_assert(files_equal(p, q));
    }
    remove_tree(dir);
    free(dir);
}
END_TEST

static const cli_bad bad_cases[] = {
    {"refine --network " SG "/rgb64x64_simgan.pt --images " SG "/rgb64x64_x.npy",
     "missing --outdir"},
    {"refine --network " SG "/rgb64x64_simgan.pt --images " SG "/gray35x55_x.npy --outdir @/o",
     "expected [N, 3, H, W]"},
    {"refine --network " FS_FIXTURES "/lightcnn/small_py2.pth.tar --images " SG
     "/rgb64x64_x.npy --outdir @/o", "not a SimGAN"},
    {"refine --network " SG "/rgb64x64_simgan.pt --images @/mixed --outdir @/o --save-raw "
     "@/r.npy", "different sizes"},
    {"refine --network " SG "/rgb64x64_simgan.pt --images @/dup --outdir @/o",
     "would both be written as"},
    {"refine --network " SG "/small_foreign.pt --images " SG "/rgb64x64_x.npy --outdir @/o",
     "--rename"},
    {"score --network " SG "/small_refiner.pt --images " SG "/rgb64x64_x.npy",
     "holds only the refiner"},
    {"score --network " SG "/rgb64x64_simgan.pt --images " SG "/rgb64x64_x.npy --class 1",
     "is a SimGAN: --class is a StyleGAN2 option"},
    {"score --network " SG "/rgb64x64_simgan.pt --images @/mixed --save-raw @/p.npy",
     "different sizes"},
};

START_TEST(test_errors)
{
    const cli_bad *c = &bad_cases[_i];
    char *dir = make_tmpdir(), p[512];
    uint8_t px[4 * 6 * 3] = {0};
    snprintf(p, sizeof p, "%s/mixed", dir);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    snprintf(p, sizeof p, "%s/mixed/a.png", dir);
    ck_assert(fs_png_write_rgb8(p, px, 6, 4, 3) == FS_OK);
    snprintf(p, sizeof p, "%s/mixed/b.png", dir);
    ck_assert(fs_png_write_rgb8(p, px, 4, 6, 3) == FS_OK);
    snprintf(p, sizeof p, "%s/dup", dir);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    snprintf(p, sizeof p, "%s/dup/a.png", dir);
    ck_assert(fs_png_write_rgb8(p, px, 6, 4, 3) == FS_OK);
    snprintf(p, sizeof p, "%s/dup/a.jpg", dir);
    ck_assert(fs_png_write_rgb8(p, px, 6, 4, 3) == FS_OK); /* recognised by content */
    int before = count_entries(dir);
    char args[2048], needle[512], err[4096];
    expand(args, sizeof args, c->args, dir);
    expand(needle, sizeof needle, c->needle, dir);
    ck_assert_int_eq(run_cli(args, err, sizeof err, NULL, 0), 2);
    ck_assert_msg(strstr(err, needle) != NULL, "'%s': stderr '%s' lacks '%s'", args, err, needle);
    ck_assert_msg(cli_error_prefix_ok(args, err), "'%s': '%s' lacks the prefix", args, err);
    char *nl = strchr(err, '\n');
    ck_assert_msg(nl && nl[1] == '\0', "'%s': not exactly one line: '%s'", args, err);
    snprintf(p, sizeof p, "%s/o", dir);
    ck_assert_msg(!exists(p), "'%s' created %s", args, p);
    ck_assert_msg(count_entries(dir) == before, "'%s' left files in %s", args, dir);
    remove_tree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_refine");
    TCase *tc = tcase_create("refine");
    tcase_add_loop_test(tc, test_refine, 0, 2);
    tcase_add_loop_test(tc, test_score, 0, 2);
    tcase_add_test(tc, test_mixed_sizes_and_rename);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    TCase *bad = tcase_create("errors");
    tcase_add_loop_test(bad, test_errors, 0, (int)(sizeof bad_cases / sizeof *bad_cases));
    tcase_set_timeout(bad, 120);
    suite_add_tcase(s, bad);
    return fs_check_run(s, "cli_refine");
}
