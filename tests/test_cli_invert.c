/* `facesynth invert` end to end against the official e4e outputs
 * (tests/fixtures/e4e): the codes of a folder of PNGs of every size and mode
 * (the official preprocessing) and of an .npy, each within relative L2 1e-5;
 * the reconstructions through the tiny StyleGAN2 and their MSE; the result
 * independent of --batch and of the encoder's form (.pt or .fsw); JPEG
 * inputs; an e4e file used as its own generator; and one-line errors with
 * exit status 2 that leave no file behind. */
#define CLI_TMP_PREFIX "/tmp/fs_inv"
#include "cli_util.h"

#include "../engine/image_io.h"

#define E4E FS_FIXTURES "/e4e"
#define NET "--network " E4E "/e4e.pt "
#define TINY FS_FIXTURES "/stylegan2/tiny/network-snapshot.pkl"
#define TOL 1e-5
#define S 8
#define D 128
#define PER (S * D)

static void copy_file(const char *from, const char *to)
{
    fs_file_map m;
    ck_assert_int_eq(fs_file_map_open(from, &m), FS_OK);
    FILE *f = fopen(to, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(m.data, 1, m.size, f), m.size);
    fclose(f);
    fs_file_map_close(&m);
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* The fixture folder in name order: gray_80x96, img0, img1, img2,
 * small_64x64, wide_300x200; its goldens: codes (img0..2) and tf_codes
 * (small, wide, gray). */
static void folder_goldens(float *want, const char *codes, const char *tf_codes)
{
    char p[256];
    snprintf(p, sizeof p, E4E "/%s", codes);
    arr c = load_f32(p);
    snprintf(p, sizeof p, E4E "/%s", tf_codes);
    arr t = load_f32(p);
    memcpy(want + 0 * PER, t.data + 2 * PER, PER * sizeof(float));
    memcpy(want + 1 * PER, c.data, 3 * PER * sizeof(float));
    memcpy(want + 4 * PER, t.data, 2 * PER * sizeof(float));
    fs_fixture_free(&c);
    fs_fixture_free(&t);
}

/* The MSE invert prints: pSp's face_pool of the 32x32 reconstruction to
 * 256x256 (each pixel repeated 8x8), against the input. */
static double expected_mse(const float *recon, const float *x)
{
    double sum = 0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 256; i++)
            for (int j = 0; j < 256; j++) {
                double d = recon[(c * 32 + i / 8) * 32 + j / 8] - x[(c * 256 + i) * 256 + j];
                sum += d * d;
            }
    return sum / (3.0 * 256 * 256);
}

/* The table on stdout: index, name, mse. */
static int read_mse(const char *out_path, double *mse, char names[][64], int max)
{
    char *txt = slurp(out_path);
    ck_assert_msg(!strncmp(txt, "index\tname\tmse\n", 15), "table header: '%.40s'", txt);
    int n = 0;
    for (char *line = strchr(txt, '\n') + 1; *line && n < max; n++) {
        unsigned idx;
        ck_assert_int_eq(sscanf(line, "%u\t%63[^\t]\t%lf", &idx, names[n], &mse[n]), 3);
        ck_assert_uint_eq(idx, (unsigned)n);
        line = strchr(line, '\n') + 1;
    }
    free(txt);
    return n;
}

START_TEST(test_folder)
{
    char *dir = make_tmpdir();
    char args[2048], err[8192], out[256], p[512];
    snprintf(args, sizeof args, "invert " NET "--images " E4E "/images --save-raw %s/wp.npy "
             "--generator " TINY " --outdir %s/rec --batch 4 -q", dir, dir);
    ck_assert_msg(run_cli(args, err, sizeof err, out, sizeof out) == 0, "%s", err);
    snprintf(p, sizeof p, "%s/wp.npy", dir);
    arr wp = load_f32(p);
    ck_assert_int_eq(wp.ndim, 3);
    ck_assert_int_eq(wp.shape[0], 6);
    ck_assert_int_eq(wp.shape[1], S);
    ck_assert_int_eq(wp.shape[2], D);
    float want[6 * PER];
    folder_goldens(want, "codes.npy", "tf_codes.npy");
    double e = fs_check_rel_l2(wp.data, want, 6 * PER);
    if (getenv("FS_TEST_VERBOSE"))
        printf("invert folder codes: relative L2 %.3g\n", e);
    ck_assert_msg(e <= TOL, "folder codes: relative L2 %.3g > %.0e", e, TOL);
    /* MSE of each reconstruction, from the goldens */
    double mse[6];
    char names[6][64];
    ck_assert_int_eq(read_mse(out, mse, names, 6), 6);
    unlink(out);
    static const char *const order[6] = {"gray_80x96.png", "img0.png", "img1.png", "img2.png",
                                         "small_64x64.png", "wide_300x200.png"};
    arr rx = load_f32(E4E "/img_recon.npy"), rt = load_f32(E4E "/tf_img_recon.npy");
    arr x = load_f32(E4E "/x.npy"), tx = load_f32(E4E "/tf_x.npy");
    static const int tf_row[6] = {2, -1, -1, -1, 0, 1};
    for (int i = 0; i < 6; i++) {
        ck_assert_str_eq(names[i], order[i]);
        int t = tf_row[i], k = t >= 0 ? t : i - 1;
        const float *recon = (t >= 0 ? rt.data : rx.data) + (size_t)k * 3 * 32 * 32;
        const float *xi = (t >= 0 ? tx.data : x.data) + (size_t)k * 3 * 256 * 256;
        double m = expected_mse(recon, xi);
        ck_assert_msg(fabs(mse[i] - m) <= 1e-5 * m, "%s: mse %.9g, expected %.9g", names[i],
                      mse[i], m);
        /* the PNG: the golden reconstruction as gen_images.py converts it,
         * up to one level where float noise crosses a rounding boundary */
        snprintf(p, sizeof p, "%s/rec/%s", dir, order[i]);
        uint8_t *png;
        int w, h;
        ck_assert_int_eq(fs_png_read_rgb(p, &png, &w, &h), FS_OK);
        ck_assert_int_eq(w, 32);
        ck_assert_int_eq(h, 32);
        int off = 0;
        for (int c = 0; c < 3; c++)
            for (int q = 0; q < 32 * 32; q++) {
                int d = (int)png[q * 3 + c] - fs_image_f32_to_u8(recon[c * 1024 + q]);
                ck_assert_msg(d >= -1 && d <= 1, "%s: pixel %d off by %d", p, q, d);
                off += d != 0;
            }
        ck_assert_msg(off <= 8, "%s: %d values off by one", p, off);
        free(png);
    }
    snprintf(p, sizeof p, "%s/rec", dir);
    ck_assert_int_eq(count_entries(p), 6);
    fs_fixture_free(&rx);
    fs_fixture_free(&rt);
    fs_fixture_free(&x);
    fs_fixture_free(&tx);
    fs_fixture_free(&wp);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* An .npy input; --batch does not change a byte; a converted .fsw encodes
 * as the checkpoint does. */
START_TEST(test_npy_batch_fsw)
{
    char *dir = make_tmpdir();
    char p[512], q[512], f[512];
    run_ok("invert " NET "--images " E4E "/x.npy --save-raw %s/b3.npy -q", dir);
    run_ok("invert " NET "--images " E4E "/x.npy --save-raw %s/b1.npy --batch 1 -q", dir);
    run_ok("convert " E4E "/e4e.pt --net encoder -o %s/enc.fsw", dir);
    run_ok("invert --network %s/enc.fsw --images " E4E "/x.npy --save-raw %s/fsw.npy -q", dir,
           dir);
    snprintf(p, sizeof p, "%s/b3.npy", dir);
    snprintf(q, sizeof q, "%s/b1.npy", dir);
    snprintf(f, sizeof f, "%s/fsw.npy", dir);
    ck_assert_msg(files_equal(p, q), "--batch 1 and 3 differ");
    ck_assert_msg(files_equal(p, f), "the .fsw and the .pt differ");
    arr got = load_f32(p);
    fs_fixture_expect_close("invert", got.data, E4E, "codes.npy", TOL);
    fs_fixture_free(&got);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* JPEGs beside PNGs (reconstructed as NAME.png), and an e4e checkpoint with
 * a decoder used as its own generator. */
START_TEST(test_jpeg_and_own_decoder)
{
    char *dir = make_tmpdir();
    char p[512], args[2048], err[8192], out[256];
    snprintf(p, sizeof p, "%s/in", dir);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    static const char *const files[3] = {"j420.jpg", "jgray.jpg", "pal4trns.png"};
    for (int i = 0; i < 3; i++) {
        char from[256], to[512];
        snprintf(from, sizeof from, E4E "/pil/%s", files[i]);
        snprintf(to, sizeof to, "%s/in/%s", dir, files[i]);
        copy_file(from, to);
    }
    snprintf(args, sizeof args, "invert --network " E4E "/small_cuda.pt --images %s/in "
             "--save-raw %s/wp.npy --generator " E4E "/small_cuda.pt --outdir %s/rec -q", dir,
             dir, dir);
    ck_assert_msg(run_cli(args, err, sizeof err, out, sizeof out) == 0, "%s", err);
    double mse[3];
    char names[3][64];
    ck_assert_int_eq(read_mse(out, mse, names, 3), 3);
    unlink(out);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(names[i], files[i]);
        ck_assert_msg(isfinite(mse[i]) && mse[i] > 0, "%s: mse %g", names[i], mse[i]);
    }
    static const char *const recs[3] = {"j420.png", "jgray.png", "pal4trns.png"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/rec/%s", dir, recs[i]);
        ck_assert_msg(exists(p), "%s missing", p);
    }
    snprintf(p, sizeof p, "%s/wp.npy", dir);
    arr wp = load_f32(p);
    ck_assert_int_eq(wp.shape[0], 3);
    ck_assert_int_eq(wp.shape[1], 8);
    ck_assert_int_eq(wp.shape[2], 16);
    fs_fixture_free(&wp);
    remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_help)
{
    char err[4096], out[256];
    ck_assert_int_eq(run_cli("invert --help", err, sizeof err, out, sizeof out), 0);
    char *txt = slurp(out);
    ck_assert_ptr_nonnull(strstr(txt, "--generator"));
    ck_assert_ptr_nonnull(strstr(txt, "Pillow's bilinear"));
    free(txt);
    unlink(out);
}
END_TEST

/* ---- errors ------------------------------------------------------------------------- */

/* @ is the temporary directory; @/bad holds the bad inputs (made_bad_inputs). */
static const cli_bad bad_cases[] = {
    {"invert " NET "--images @/empty --save-raw @/wp.npy", "no .png, .jpg or .jpeg files"},
    {"invert " NET "--images @/trunc --save-raw @/wp.npy", "bad PNG"},
    {"invert " NET "--images @/notimg --save-raw @/wp.npy", "neither a PNG nor a JPEG"},
    {"invert " NET "--images @/halfjpg --save-raw @/wp.npy", "bad JPEG"},
    {"invert " NET "--images @/dup --save-raw @/wp.npy --generator " TINY " --outdir @/out",
     "would both be reconstructed as"},
    {"invert " NET "--images @/shape.npy --save-raw @/wp.npy", "expected [N, 3, 256, 256]"},
    {"invert " NET "--images " E4E "/x.npy --save-raw @/wp.npy --generator " FS_FIXTURES
     "/stylegan2/tiny-cond/network-snapshot.pkl --outdir @/out", "the generator takes"},
    {"invert " NET "--images " E4E "/x.npy --save-raw @/wp.npy --generator " FS_FIXTURES
     "/cvaegan/tiny/cvaegan.pt --outdir @/out", "--generator takes a StyleGAN2 generator"},
    {"invert " NET "--images " E4E "/x.npy --save-raw @/wp.npy --generator " E4E
     "/e4e.pt --outdir @/out", "no 'decoder.' tensors"},
    {"invert --network " TINY " --images " E4E "/x.npy --save-raw @/wp.npy",
     "not an e4e encoder"},
    {"invert " NET "--images " E4E "/x.npy --save-raw @/wp.npy --outdir @/out",
     "--outdir needs --generator"},
    {"invert " NET "--images " E4E "/x.npy", "missing --save-raw"},
    {"invert " NET "--images " E4E "/x.npy --save-raw @/wp.npy --batch 0", "--batch"},
};

static void make_bad_inputs(const char *dir)
{
    char p[512];
    static const char *const sub[] = {"bad", "empty", "trunc", "notimg", "halfjpg", "dup"};
    for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, sub[i]);
        ck_assert_int_eq(mkdir(p, 0777), 0);
    }
    snprintf(p, sizeof p, "%s/bad/readme.txt", dir); /* not an image name: ignored */
    write_bytes(p, "x", 1);
    snprintf(p, sizeof p, "%s/empty/notes.txt", dir);
    write_bytes(p, "x", 1);
    /* a good image before the bad one: nothing may be written for it either */
    snprintf(p, sizeof p, "%s/trunc/a.png", dir);
    copy_file(E4E "/images/img0.png", p);
    fs_file_map m;
    ck_assert_int_eq(fs_file_map_open(E4E "/images/img1.png", &m), FS_OK);
    snprintf(p, sizeof p, "%s/trunc/b.png", dir);
    write_bytes(p, m.data, m.size - 100);
    fs_file_map_close(&m);
    snprintf(p, sizeof p, "%s/notimg/a.png", dir);
    write_bytes(p, "hello, not an image\n", 20);
    ck_assert_int_eq(fs_file_map_open(E4E "/pil/j444.jpg", &m), FS_OK);
    snprintf(p, sizeof p, "%s/halfjpg/a.jpg", dir);
    write_bytes(p, m.data, m.size / 2);
    snprintf(p, sizeof p, "%s/dup/a.jpg", dir);
    write_bytes(p, m.data, m.size);
    fs_file_map_close(&m);
    snprintf(p, sizeof p, "%s/dup/a.png", dir);
    copy_file(E4E "/images/small_64x64.png", p);
    snprintf(p, sizeof p, "%s/shape.npy", dir);
    float z[3 * 64 * 64] = {0};
    save_f32(p, 4, (int64_t[]){1, 3, 64, 64}, z);
}

START_TEST(test_errors)
{
    const cli_bad *c = &bad_cases[_i];
    char *dir = make_tmpdir();
    make_bad_inputs(dir);
    int before = count_entries(dir);
    char args[2048], needle[512], err[4096], p[512];
    expand(args, sizeof args, c->args, dir);
    expand(needle, sizeof needle, c->needle, dir);
    ck_assert_int_eq(run_cli(args, err, sizeof err, NULL, 0), 2);
    ck_assert_msg(strstr(err, needle) != NULL, "'%s': stderr '%s' lacks '%s'", args, err, needle);
    ck_assert_msg(cli_error_prefix_ok(args, err), "'%s': '%s' lacks the command's prefix", args,
                  err);
    char *nl = strchr(err, '\n');
    ck_assert_msg(nl && nl[1] == '\0', "'%s': not exactly one line: '%s'", args, err);
    /* nothing written: no codes, no output directory, no temporaries */
    snprintf(p, sizeof p, "%s/out", dir);
    ck_assert_msg(!exists(p), "'%s' created %s", args, p);
    ck_assert_msg(count_entries(dir) == before, "'%s' left files in %s", args, dir);
    snprintf(p, sizeof p, "%s/trunc", dir);
    ck_assert_int_eq(count_entries(p), 2);
    remove_tree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_invert");
    TCase *tc = tcase_create("invert");
    tcase_add_test(tc, test_folder);
    tcase_add_test(tc, test_npy_batch_fsw);
    tcase_add_test(tc, test_jpeg_and_own_decoder);
    tcase_add_test(tc, test_help);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    TCase *bad = tcase_create("errors");
    tcase_add_loop_test(bad, test_errors, 0, (int)(sizeof bad_cases / sizeof *bad_cases));
    tcase_set_timeout(bad, 300);
    suite_add_tcase(s, bad);
    return fs_check_run(s, "cli_invert");
}
