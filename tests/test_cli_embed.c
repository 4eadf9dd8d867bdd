/* `facesynth embed` and the identity filter of `facesynth filter` end to end
 * (docs/identity.md): Light CNN-9 features of a folder of PNGs of every kind
 * the official loader takes (the goldens of tests/fixtures/lightcnn, 1e-4)
 * and of x.npy; ArcFace IR-SE-50 embeddings of x.npy, of a folder mixing
 * 112 x 112 faces and 256 x 256 ones (the ID-loss crop), against
 * tests/fixtures/arcface (1e-5); independence of --batch; the filter's
 * "id_cos" equal to the cosine of embed's outputs, and the keep rule, and
 * the same for augment's provenance.jsonl; and
 * one-line errors that leave nothing behind. The golden cases use the two
 * fixture checkpoints (22 and 11 MB, committed); the rest runs with the
 * small variants. */
#define CLI_TMP_PREFIX "/tmp/fs_h16_embed"
#include "cli_util.h"

#include <math.h>
#include <unistd.h>

#include "../engine/image_io.h"

#define LC FS_FIXTURES "/lightcnn"
#define AF FS_FIXTURES "/arcface"
#define LC_CKPT LC "/LightCNN_9Layers_checkpoint.pth.tar"
#define AF_CKPT AF "/model_ir_se50.pth"
#define LC_SMALL LC "/small_py2.pth.tar"
#define AF_SMALL AF "/small_zip.pth"
#define LM FS_FIXTURES "/landmarks"

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

static void expect_rows(const float *got, const float *want, size_t len, double tol,
                        const char *what)
{
    double e = fs_check_rel_l2(got, want, len);
    if (getenv("FS_TEST_VERBOSE"))
        printf("%-40s relative L2 %.3g\n", what, e);
    ck_assert_msg(e <= tol, "%s: relative L2 %.3g > %.0e", what, e, tol);
}

/* The fixture's five PNGs in name order: gray_96x144 (tf row 1), img0..2 (x
 * rows), rgb_151x133 (tf row 0). */
START_TEST(test_lightcnn_folder_and_npy)
{
    char *dir = make_tmpdir();
    run_ok("embed -q --network " LC_CKPT " --images " LC "/images --save-raw %s/f.npy "
           "--batch 2", dir);
    char p[512];
    snprintf(p, sizeof p, "%s/f.npy", dir);
    arr got = load_f32(p), fea = load_f32(LC "/fea.npy"), tf = load_f32(LC "/tf_fea.npy");
    ck_assert_int_eq(got.ndim, 2);
    ck_assert_int_eq(got.shape[0], 5);
    ck_assert_int_eq(got.shape[1], 256);
    expect_rows(got.data, tf.data + 256, 256, 1e-4, "gray_96x144 (loader)");
    expect_rows(got.data + 256, fea.data, 3 * 256, 1e-4, "img0..2 (extraction)");
    expect_rows(got.data + 4 * 256, tf.data, 256, 1e-4, "rgb_151x133 (loader)");
    /* the .npy input, in batches of 1 and of 3: the same bytes */
    run_ok("embed -q --network " LC_CKPT " --images " LC "/x.npy --save-raw %s/x1.npy --batch 1",
           dir);
    run_ok("embed -q --network " LC_CKPT " --images " LC "/x.npy --save-raw %s/x3.npy", dir);
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/x1.npy", dir);
    snprintf(b, sizeof b, "%s/x3.npy", dir);
    ck_assert(files_equal(a, b));
    arr x1 = load_f32(a);
    expect_rows(x1.data, fea.data, 3 * 256, 1e-4, "x.npy");
    fs_fixture_free(&got);
    fs_fixture_free(&fea);
    fs_fixture_free(&tf);
    fs_fixture_free(&x1);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* x.npy -> emb.npy; PNGs of the same faces (x = (u / 255 - 0.5) / 0.5 is
 * exact in reverse) next to the 256 x 256 ID-loss faces in one folder. */
START_TEST(test_arcface)
{
    char *dir = make_tmpdir(), p[512];
    run_ok("embed -q --network " AF_CKPT " --images " AF "/x.npy --save-raw %s/e.npy", dir);
    snprintf(p, sizeof p, "%s/e.npy", dir);
    arr e = load_f32(p), emb = load_f32(AF "/emb.npy"), idemb = load_f32(AF "/id_emb.npy");
    expect_rows(e.data, emb.data, emb.numel, 1e-5, "x.npy");
    fs_fixture_free(&e);
    /* the folder: a0..a3 (112 from x.npy), b0..b2 (256 from x256_u8.npy) */
    arr x = load_f32(AF "/x.npy");
    snprintf(p, sizeof p, "%s/faces", dir);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    uint8_t *hwc = malloc(256 * 256 * 3);
    ck_assert_ptr_nonnull(hwc);
    for (int i = 0; i < 4; i++) {
        for (int q = 0; q < 112 * 112; q++)
            for (int c = 0; c < 3; c++)
                hwc[q * 3 + c] = (uint8_t)lrint(
                    ((double)x.data[((size_t)i * 3 + c) * 112 * 112 + q] * 0.5 + 0.5) * 255);
        snprintf(p, sizeof p, "%s/faces/a%d.png", dir, i);
        ck_assert(fs_png_write_rgb8(p, hwc, 112, 112, 3) == FS_OK);
    }
    fs_file_map m;
    fs_npy u8;
    ck_assert(fs_file_map_open(AF "/x256_u8.npy", &m) == FS_OK);
    ck_assert(fs_npy_parse(m.data, m.size, "x256_u8", &u8) == FS_OK);
    const uint8_t *ub = u8.data;
    for (int i = 0; i < 3; i++) {
        for (int q = 0; q < 256 * 256; q++)
            for (int c = 0; c < 3; c++)
                hwc[q * 3 + c] = ub[((size_t)i * 3 + c) * 256 * 256 + q];
        snprintf(p, sizeof p, "%s/faces/b%d.png", dir, i);
        ck_assert(fs_png_write_rgb8(p, hwc, 256, 256, 3) == FS_OK);
    }
    fs_file_map_close(&m);
    free(hwc);
    run_ok("embed -q --network " AF_CKPT " --images %s/faces --save-raw %s/f.npy --batch 3", dir,
           dir);
    snprintf(p, sizeof p, "%s/f.npy", dir);
    e = load_f32(p);
    ck_assert_int_eq(e.shape[0], 7);
    expect_rows(e.data, emb.data, 4 * 128, 1e-5, "112x112 PNGs");
    expect_rows(e.data + 4 * 128, idemb.data, 3 * 128, 1e-5, "256x256 PNGs (ID-loss crop)");
    fs_fixture_free(&e);
    fs_fixture_free(&x);
    fs_fixture_free(&emb);
    fs_fixture_free(&idemb);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* The identity filter: id_cos is the cosine of the two images' embeddings as
 * `embed` computes them; a candidate is kept only above --min-identity-cos.
 * The small Light CNN (any image size) on the landmark fixture's faces. */
START_TEST(test_filter_identity)
{
    char *dir = make_tmpdir(), p[512], q[512];
    static const char *const refs[2] = {"astronaut.png", "astronaut_bright.png"};
    static const char *const cands[2] = {"astronaut_blur.png", "astronaut_edge.png"};
    snprintf(p, sizeof p, "%s/ref", dir);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    snprintf(p, sizeof p, "%s/cand", dir);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, LM "/%s", refs[i]);
        snprintf(q, sizeof q, "%s/ref/%c.png", dir, 'a' + i);
        copy_file(p, q);
        snprintf(p, sizeof p, LM "/%s", cands[i]);
        snprintf(q, sizeof q, "%s/cand/%c.png", dir, 'a' + i);
        copy_file(p, q);
    }
    run_ok("embed -q --network " LC_SMALL " --images %s/ref --save-raw %s/r.npy", dir, dir);
    run_ok("embed -q --network " LC_SMALL " --images %s/cand --save-raw %s/c.npy", dir, dir);
    snprintf(p, sizeof p, "%s/r.npy", dir);
    snprintf(q, sizeof q, "%s/c.npy", dir);
    arr r = load_f32(p), c = load_f32(q);
    double cosv[2];
    for (int i = 0; i < 2; i++) {
        double ab = 0, aa = 0, bb = 0;
        for (int k = 0; k < 8; k++) {
            ab += (double)r.data[i * 8 + k] * c.data[i * 8 + k];
            aa += (double)r.data[i * 8 + k] * r.data[i * 8 + k];
            bb += (double)c.data[i * 8 + k] * c.data[i * 8 + k];
        }
        cosv[i] = ab / (sqrt(aa) * sqrt(bb));
    }
    /* a threshold between the two cosines keeps exactly the higher one */
    double mid = (cosv[0] + cosv[1]) / 2;
    run_ok("filter -q --reference %s/ref --candidates %s/cand --box 83,51,170,138 --max-nme 10 "
           "--report %s/rep.jsonl --identity-network " LC_SMALL " --min-identity-cos %.9f", dir,
           dir, dir, mid);
    snprintf(p, sizeof p, "%s/rep.jsonl", dir);
    char *txt = slurp(p), *line = txt;
    for (int i = 0; i < 2; i++) {
        char *at = strstr(line, "\"id_cos\": ");
        ck_assert_ptr_nonnull(at);
        double got = strtod(at + 10, NULL);
        ck_assert_msg(fabs(got - cosv[i]) < 1e-6, "id_cos %d: %.9g vs %.9g", i, got, cosv[i]);
        int kept = strstr(at, "\"kept\": true") && strstr(at, "\"kept\": true") < strchr(at, '\n');
        ck_assert_int_eq(kept, cosv[i] >= mid);
        /* id_cos comes after nme and before kept */
        ck_assert(strstr(line, "\"nme\": ") < at);
        line = strchr(line, '\n') + 1;
    }
    free(txt);
    fs_fixture_free(&r);
    fs_fixture_free(&c);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* augment --identity-network: each candidate's id_cos in provenance.jsonl is
 * the cosine of `embed`'s embeddings of the written image and of its source;
 * a threshold between two of them decides as it should. */
START_TEST(test_augment_identity)
{
    char *dir = make_tmpdir(), p[512], q[512];
    snprintf(p, sizeof p, "%s/in", dir);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    snprintf(p, sizeof p, "%s/in/a.png", dir);
    copy_file(LM "/astronaut.png", p);
    snprintf(p, sizeof p, "%s/in/b.png", dir);
    copy_file(LM "/astronaut_bright.png", p);
#define AUG_ID "augment -q --encoder " FS_FIXTURES "/e4e/e4e.pt --generator " FS_FIXTURES \
               "/stylegan2/tiny/network-snapshot.pkl --boundary " FS_FIXTURES \
               "/interfacegan/boundary_a.npy --alpha-range 1,3 --per-image 2 --max-nme 1e9 " \
               "--identity-network " LC_SMALL " "
    run_ok(AUG_ID "--images %s/in --outdir %s/all --min-identity-cos -1", dir, dir);
    run_ok("embed -q --network " LC_SMALL " --images %s/in --save-raw %s/src.npy", dir, dir);
    run_ok("embed -q --network " LC_SMALL " --images %s/all --save-raw %s/cand.npy", dir, dir);
    snprintf(p, sizeof p, "%s/src.npy", dir);
    snprintf(q, sizeof q, "%s/cand.npy", dir);
    arr src = load_f32(p), cand = load_f32(q);
    ck_assert_int_eq(cand.shape[0], 4); /* a_e000, a_e001, b_e000, b_e001 */
    double want[4];
    for (int i = 0; i < 4; i++) {
        const float *a = cand.data + i * 8, *b = src.data + (i / 2) * 8;
        double ab = 0, aa = 0, bb = 0;
        for (int k = 0; k < 8; k++) {
            ab += (double)a[k] * b[k];
            aa += (double)a[k] * a[k];
            bb += (double)b[k] * b[k];
        }
        want[i] = ab / (sqrt(aa) * sqrt(bb));
    }
    snprintf(p, sizeof p, "%s/all/provenance.jsonl", dir);
    char *txt = slurp(p), *line = txt;
    for (int i = 0; i < 4; i++) {
        char *at = strstr(line, "\"id_cos\": ");
        ck_assert_ptr_nonnull(at);
        ck_assert_msg(fabs(strtod(at + 10, NULL) - want[i]) < 1e-6, "id_cos %d", i);
        line = strchr(line, '\n') + 1;
    }
    free(txt);
    /* between the lowest and the highest cosine: only those at or above it are kept */
    double lo = want[0], hi = want[0];
    for (int i = 1; i < 4; i++) {
        lo = want[i] < lo ? want[i] : lo;
        hi = want[i] > hi ? want[i] : hi;
    }
    double mid = (lo + hi) / 2;
    run_ok(AUG_ID "--images %s/in --outdir %s/some --min-identity-cos %.9f", dir, dir, mid);
    static const char *const names[4] = {"a_e000.png", "a_e001.png", "b_e000.png", "b_e001.png"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/some/%s", dir, names[i]);
        ck_assert_msg(exists(p) == (want[i] >= mid), "%s: kept %d, cosine %.9g, threshold %.9g",
                      names[i], exists(p), want[i], mid);
    }
    fs_fixture_free(&src);
    fs_fixture_free(&cand);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* The small networks (always here): shapes, and the same result from the
 * Light CNN checkpoint and its .fsw. */
START_TEST(test_small)
{
    char *dir = make_tmpdir(), p[512], q[512];
    run_ok("embed -q --network " LC_SMALL " --images " LC "/images --save-raw %s/a.npy", dir);
    run_ok("convert " LC_SMALL " -o %s/lc.fsw", dir);
    run_ok("embed -q --network %s/lc.fsw --images " LC "/images --save-raw %s/b.npy", dir, dir);
    snprintf(p, sizeof p, "%s/a.npy", dir);
    snprintf(q, sizeof q, "%s/b.npy", dir);
    ck_assert(files_equal(p, q));
    arr a = load_f32(p);
    ck_assert_int_eq(a.shape[0], 5);
    ck_assert_int_eq(a.shape[1], 8);
    fs_fixture_free(&a);
    run_ok("embed -q --network " AF_SMALL " --images " AF "/x.npy --save-raw %s/c.npy", dir);
    snprintf(p, sizeof p, "%s/c.npy", dir);
    a = load_f32(p);
    for (int i = 0; i < 4; i++) {
        double n = 0;
        for (int k = 0; k < 8; k++)
            n += (double)a.data[i * 8 + k] * a.data[i * 8 + k];
        ck_assert(fabs(n - 1) < 1e-6);
    }
    fs_fixture_free(&a);
    remove_tree(dir);
    free(dir);
}
END_TEST

static const cli_bad bad_cases[] = {
    {"embed --network " LC_SMALL " --images " LC "/images", "missing --save-raw"},
    {"embed --images " LC "/images --save-raw @/e.npy", "missing --network"},
    {"embed --network " FS_FIXTURES "/simgan/small_simgan.pt --images " LC
     "/images --save-raw @/e.npy", "not an identity network"},
    {"embed --network " LC_SMALL " --images " AF "/x.npy --save-raw @/e.npy",
     "Light CNN takes [N, 1, 128, 128]"},
    {"embed --network " AF_SMALL " --images " LC "/x.npy --save-raw @/e.npy",
     "ArcFace takes [N, 3, S, S]"},
    {"embed --network " AF_SMALL " --images " LC "/images --save-raw @/e.npy",
     "gray_96x144.png: image is 96x144; ArcFace takes 112x112"},
    {"embed --network " LC_SMALL " --images @/empty --save-raw @/e.npy",
     "no .png, .jpg or .jpeg files"},
    {"embed --network " LC_SMALL " --images @/trunc --save-raw @/e.npy", "bad PNG"},
    {"embed --network " LC_SMALL " --images " LC "/images --save-raw @/e.npy --batch 0",
     "--batch"},
    {"filter --reference @/trunc --candidates @/trunc --box 1,1,9,9 --max-nme 1 --report "
     "@/r.jsonl --min-identity-cos 0.5", "--min-identity-cos needs --identity-network"},
    {"filter --reference @/trunc --candidates @/trunc --box 1,1,9,9 --max-nme 1 --report "
     "@/r.jsonl --identity-network " LC_SMALL " --min-identity-cos 2",
     "--min-identity-cos needs a number from -1 to 1"},
    {"filter --reference @/trunc --candidates @/trunc --box 1,1,9,9 --max-nme 1 --report "
     "@/r.jsonl --identity-network " FS_FIXTURES "/simgan/small_simgan.pt --min-identity-cos 0",
     "not an identity network"},
};

START_TEST(test_errors)
{
    const cli_bad *c = &bad_cases[_i];
    char *dir = make_tmpdir(), p[512];
    snprintf(p, sizeof p, "%s/empty", dir);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    snprintf(p, sizeof p, "%s/trunc", dir);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    snprintf(p, sizeof p, "%s/trunc/a.png", dir);
    copy_file(LC "/images/img0.png", p);
    fs_file_map m;
    ck_assert_int_eq(fs_file_map_open(LC "/images/img1.png", &m), FS_OK);
    snprintf(p, sizeof p, "%s/trunc/b.png", dir);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(m.data, 1, m.size - 100, f), m.size - 100);
    fclose(f);
    fs_file_map_close(&m);
    int before = count_entries(dir);
    char args[2048], needle[512], err[4096];
    expand(args, sizeof args, c->args, dir);
    expand(needle, sizeof needle, c->needle, dir);
    ck_assert_int_eq(run_cli(args, err, sizeof err, NULL, 0), 2);
    ck_assert_msg(strstr(err, needle) != NULL, "'%s': stderr '%s' lacks '%s'", args, err, needle);
    ck_assert_msg(cli_error_prefix_ok(args, err), "'%s': '%s' lacks the prefix", args, err);
    char *nl = strchr(err, '\n');
    ck_assert_msg(nl && nl[1] == '\0', "'%s': not exactly one line: '%s'", args, err);
    ck_assert_msg(count_entries(dir) == before, "'%s' left files in %s", args, dir);
    remove_tree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_embed");
    TCase *tc = tcase_create("embed");
    tcase_add_test(tc, test_small);
    tcase_add_test(tc, test_filter_identity);
    tcase_add_test(tc, test_augment_identity);
    tcase_add_test(tc, test_lightcnn_folder_and_npy);
    tcase_add_test(tc, test_arcface);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    TCase *bad = tcase_create("errors");
    tcase_add_loop_test(bad, test_errors, 0, (int)(sizeof bad_cases / sizeof *bad_cases));
    tcase_set_timeout(bad, 120);
    suite_add_tcase(s, bad);
    return fs_check_run(s, "cli_embed");
}
