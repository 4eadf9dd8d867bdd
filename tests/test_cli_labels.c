/* Labels and the other optional inputs on the command line, as a matrix:
 * every combination of latent source, network kind and label flag for
 * `generate` (StyleGAN2 and CVAE-GAN), of network kind and label flag for
 * `score`, and of eps source and optional outputs for `encode`.
 *
 * Why a matrix: an optional input that is absent leaves a NULL buffer behind,
 * and the code that copies from it runs only for some combinations (issue 8:
 * `generate --ws` on a conditional network copied the missing label with
 * memcpy and died of SIGSEGV). Each case states its expected outcome:
 *   - success: exit 0, nothing on stderr (-q), every output present and
 *     correct: against the official float outputs, or bit for bit against an
 *     equivalent command line (seeds vs --z of the seeds' z, --class vs the
 *     one-hot --c, ...), and the PNGs equal the saved floats through the
 *     uint8 rule;
 *   - refusal: exit 2, exactly one line "facesynth <command>: <message>" naming the
 *     problem, and no file left (no output directory, no temporaries).
 * A death by a signal fails the case with "killed by signal N" and the
 * command line.
 *
 * Decisions the matrix encodes (current behaviour and docs):
 *   - generate --ws on a conditional network needs no label: synthesis does
 *     not read it. Its images equal the official images of the same ws and
 *     those of the --z/--c pair the ws were mapped from.
 *   - --class / --c with --ws are refused ("... which --ws skips"), as --trunc
 *     is: they act only in the mapping network, which --ws skips.
 *   - a label for an unconditional network is refused ("the network is
 *     unconditional: --class takes no label").
 *
 * Also runs under valgrind: FS_CLI="valgrind -q --error-exitcode=9
 * build/facesynth" CK_TIMEOUT_MULTIPLIER=20 build/tests/test_cli_labels. */
#define CLI_TMP_PREFIX "/tmp/fs_lbl"
#include "cli_util.h"

#include "../engine/image_io.h"
#include "../engine/rng.h"

#define SG2 FS_FIXTURES "/stylegan2"
#define TINY SG2 "/tiny"
#define COND SG2 "/tiny-cond"
#define CV FS_FIXTURES "/cvaegan/tiny"

#define UNET "--network " TINY "/network-snapshot.pkl "
#define CNET "--network " COND "/network-snapshot.pkl "
#define VNET "--network " CV "/cvaegan.pt "

/* Every generate case makes four images: seeds 0-2,42, or the four rows of
 * the fixtures' z.npy / ws_psi1.npy. */
#define SEEDS "--seeds 0-2,42 "
#define NIMG 4
static const int seed_list[NIMG] = {0, 1, 2, 42};

/* ---- running a case ------------------------------------------------------------- */

/* Runs args (@ is dir) and fails the test on a death by a signal. Returns
 * the exit status. */
static int run_case(const char *tmpl, const char *dir, char *args, size_t acap, char *err,
                    size_t ecap, char *out_path, size_t ocap)
{
    expand(args, acap, tmpl, dir);
    int ws = run_cli_wait(args, err, ecap, out_path, ocap);
    char st[96];
    ck_assert_msg(ws != -1 && WIFEXITED(ws) && WEXITSTATUS(ws) <= 128, "'%s': %s; stderr: %s",
                  args, cli_status_text(ws, st, sizeof st), err);
    return WEXITSTATUS(ws);
}

/* The command must succeed quietly. Returns its stdout (to free). */
static char *expect_ok(const char *tmpl, const char *dir)
{
    char args[2048], err[8192], out[128];
    int rc = run_case(tmpl, dir, args, sizeof args, err, sizeof err, out, sizeof out);
    char *stdout_text = slurp(out);
    unlink(out);
    ck_assert_msg(rc == 0, "'%s': exit status %d, expected success; stderr: %s", args, rc, err);
    ck_assert_msg(err[0] == '\0', "'%s': succeeded but wrote to stderr: %s", args, err);
    return stdout_text;
}

/* The command must fail with exit status 2, one line naming the problem
 * (needle, @ is dir) and no file left in dir. */
static void expect_refusal(const char *tmpl, const char *needle_tmpl, const char *dir)
{
    char args[2048], needle[512], err[8192], p[600];
    int before = count_entries(dir);
    int rc = run_case(tmpl, dir, args, sizeof args, err, sizeof err, NULL, 0);
    expand(needle, sizeof needle, needle_tmpl, dir);
    ck_assert_msg(rc == 2, "'%s': exit status %d, expected 2 ('%s'); stderr: %s", args, rc,
                  needle, err);
    ck_assert_msg(cli_error_prefix_ok(args, err), "'%s': stderr '%s' lacks the command's prefix",
                  args, err);
    char *nl = strchr(err, '\n');
    ck_assert_msg(nl && nl[1] == '\0', "'%s': not exactly one line: '%s'", args, err);
    ck_assert_msg(strstr(err, needle), "'%s': stderr '%s' lacks '%s'", args, err, needle);
    snprintf(p, sizeof p, "%s/out", dir);
    ck_assert_msg(!exists(p), "'%s' left %s behind", args, p);
    ck_assert_msg(count_entries(dir) == before, "'%s' left files in %s", args, dir);
}

static arr load_at(const char *dir, const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return load_f32(p);
}

static void assert_bit_equal(const arr *a, const arr *b, const char *what)
{
    ck_assert_msg(a->numel == b->numel, "%s: %zu vs %zu values", what, a->numel, b->numel);
    ck_assert_msg(memcmp(a->data, b->data, a->numel * sizeof(float)) == 0, "%s differ", what);
}

/* ---- inputs ------------------------------------------------------------------ */

/* numpy's RandomState(seed).randn(1, zd) for the seed list, as float32. */
static void write_seed_z(const char *dir, int zd)
{
    float *z = malloc((size_t)NIMG * zd * sizeof *z);
    for (int i = 0; i < NIMG; i++) {
        fs_np_random r;
        fs_np_random_seed(&r, (uint32_t)seed_list[i]);
        for (int j = 0; j < zd; j++)
            z[(size_t)i * zd + j] = (float)fs_np_random_gauss(&r);
    }
    char p[600];
    snprintf(p, sizeof p, "%s/sz%d.npy", dir, zd);
    save_f32(p, 2, (const int64_t[]){NIMG, zd}, z);
    free(z);
}

static void write_row(const char *dir, const char *name, int ndim, const float *row)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    save_f32(p, ndim, ndim == 1 ? (const int64_t[]){5} : (const int64_t[]){1, 5}, row);
}

/* In every test's directory: sz128/sz64/sz32.npy, the seeds' z for tiny,
 * tiny-cond and the CVAE-GAN; labels of 5 classes: oh1.npy [1, 5] and
 * oh1_1d.npy [5] (one-hot 1), oh2.npy (one-hot 2), mix31.npy (0.25 on 1,
 * 0.75 on 3), c3rows.npy [3, 5] (too few rows for four images); adir/, a
 * directory where an output file is named. */
static void make_inputs(const char *dir)
{
    write_seed_z(dir, 128);
    write_seed_z(dir, 64);
    write_seed_z(dir, 32);
    static const float oh1[5] = {0, 1, 0, 0, 0}, oh2[5] = {0, 0, 1, 0, 0};
    static const float mix31[5] = {0, 0.25f, 0, 0.75f, 0};
    write_row(dir, "oh1.npy", 2, oh1);
    write_row(dir, "oh1_1d.npy", 1, oh1);
    write_row(dir, "oh2.npy", 2, oh2);
    write_row(dir, "mix31.npy", 2, mix31);
    float c3[15] = {1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0};
    char p[600];
    snprintf(p, sizeof p, "%s/c3rows.npy", dir);
    save_f32(p, 2, (const int64_t[]){3, 5}, c3);
    snprintf(p, sizeof p, "%s/adir", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
}

/* ---- generate ---------------------------------------------------------------- */

/* One generate combination. args is everything but the outputs, which are
 * always --outdir @/out --save-raw @/raw.npy -q. On success: */
typedef struct {
    const char *args;
    const char *needle;   /* a refusal: a piece of the message; NULL: success */
    int seeds;            /* PNGs are seedNNNN.png (else imgNNNN.png) */
    int res;              /* image resolution */
    const char *golden;   /* official float images, relative L2 <= 1e-5 */
    int golden_row;       /* only this row of them (-1: all) */
    const char *same_as;  /* args of a command line with bit-identical images */
    const char *close_to; /* args of one with images within relative L2 1e-5 */
    /* CVAE-GAN: the labels written next to raw.npy ([1, n_id] broadcast) */
    const char *labels;
    int mix_random;       /* labels drawn on the simplex of identities 1 and 3 */
} gen_case;

#define GEN_OUT " --outdir @/out --save-raw @/raw.npy -q"
#define REF_OUT " --outdir @/ref --save-raw @/ref.npy -q"

static const gen_case gen_cases[] = {
    /* StyleGAN2, unconditional */
    {.args = UNET SEEDS, .seeds = 1, .res = 32, .same_as = UNET "--z @/sz128.npy"},
    {.args = UNET SEEDS "--class 1", .needle = "the network is unconditional: --class takes no label"},
    {.args = UNET SEEDS "--c " COND "/c.npy", .needle = "the network is unconditional: --c takes no label"},
    {.args = UNET "--z " TINY "/z.npy", .res = 32, .golden = TINY "/img_psi1_const.npy",
     .golden_row = -1},
    {.args = UNET "--z " TINY "/z.npy --class 1", .needle = "the network is unconditional: --class"},
    {.args = UNET "--z " TINY "/z.npy --c " COND "/c.npy", .needle = "the network is unconditional: --c"},
    {.args = UNET "--ws " TINY "/ws_psi1.npy", .res = 32, .golden = TINY "/img_psi1_const.npy",
     .golden_row = -1, .close_to = UNET "--z " TINY "/z.npy"},
    {.args = UNET "--ws " TINY "/ws_psi1.npy --class 1", .needle = "--ws skips"},
    {.args = UNET "--ws " TINY "/ws_psi1.npy --c " COND "/c.npy", .needle = "--ws skips"},
    /* StyleGAN2, conditional (c_dim 5) */
    {.args = CNET SEEDS, .needle = "the network is conditional (c_dim 5): give --class K or --c FILE.npy"},
    {.args = CNET SEEDS "--class 1", .seeds = 1, .res = 16,
     .same_as = CNET "--z @/sz64.npy --c @/oh1.npy"},
    {.args = CNET SEEDS "--c " COND "/c.npy", .seeds = 1, .res = 16,
     .same_as = CNET "--z @/sz64.npy --c " COND "/c.npy"},
    {.args = CNET SEEDS "--c @/oh1_1d.npy", .seeds = 1, .res = 16,
     .same_as = CNET SEEDS "--class 1"},
    {.args = CNET SEEDS "--c @/c3rows.npy", .needle = "@/c3rows.npy: labels of shape [3, 5], expected [4, 5]"},
    {.args = CNET "--z " COND "/z.npy", .needle = "the network is conditional (c_dim 5)"},
    {.args = CNET "--z " COND "/z.npy --class 1", .res = 16, .golden = COND "/img_psi1_const.npy",
     .golden_row = 1, .same_as = CNET "--z " COND "/z.npy --c @/oh1.npy"},
    {.args = CNET "--z " COND "/z.npy --c " COND "/c.npy", .res = 16,
     .golden = COND "/img_psi1_const.npy", .golden_row = -1},
    /* issue 8: no label needed; the images of that ws, whatever label made it */
    {.args = CNET "--ws " COND "/ws_psi1.npy", .res = 16, .golden = COND "/img_psi1_const.npy",
     .golden_row = -1, .close_to = CNET "--z " COND "/z.npy --c " COND "/c.npy"},
    {.args = CNET "--ws " COND "/ws_psi1.npy --batch 3 --noise-mode none", .res = 16,
     .golden = COND "/img_psi1_none.npy", .golden_row = -1},
    {.args = CNET "--ws " COND "/ws_psi1.npy --class 1", .needle = "--ws skips"},
    {.args = CNET "--ws " COND "/ws_psi1.npy --c " COND "/c.npy", .needle = "--ws skips"},
    /* CVAE-GAN (n_id 5): exactly one of --identity, --mix, --c */
    {.args = VNET SEEDS, .needle = "a CVAE-GAN needs a label: --identity K (0 to 4), --mix LIST or --c FILE.npy"},
    {.args = VNET SEEDS "--identity 2", .seeds = 1, .res = 128, .labels = "@/oh2.npy",
     .same_as = VNET "--z @/sz32.npy --c @/oh2.npy"},
    {.args = VNET SEEDS "--mix 1,3", .seeds = 1, .res = 128, .mix_random = 1,
     .same_as = VNET "--z @/sz32.npy --c @/raw.labels.npy"},
    {.args = VNET SEEDS "--mix 1,3 --mix-weights 1,3", .seeds = 1, .res = 128,
     .labels = "@/mix31.npy", .same_as = VNET "--z @/sz32.npy --c @/mix31.npy"},
    {.args = VNET SEEDS "--c " CV "/c.npy", .seeds = 1, .res = 128, .labels = CV "/c.npy",
     .same_as = VNET "--z @/sz32.npy --c " CV "/c.npy"},
    {.args = VNET SEEDS "--c @/oh1_1d.npy", .seeds = 1, .res = 128, .labels = "@/oh1.npy",
     .same_as = VNET SEEDS "--identity 1"},
    {.args = VNET SEEDS "--c @/c3rows.npy", .needle = "@/c3rows.npy: labels of shape [3, 5], expected [4, 5]"},
    {.args = VNET SEEDS "--class 1", .needle = "--class is a StyleGAN2 option"},
    {.args = VNET SEEDS "--mix-weights 1,3", .needle = "a CVAE-GAN needs a label"},
    {.args = VNET SEEDS "--identity 1 --mix-weights 1,3", .needle = "--mix-weights needs --mix"},
    {.args = VNET SEEDS "--identity 1 --c " CV "/c.npy", .needle = "mutually exclusive"},
    {.args = VNET "--z " CV "/z.npy", .needle = "a CVAE-GAN needs a label"},
    {.args = VNET "--z " CV "/z.npy --identity 2", .res = 128, .labels = "@/oh2.npy",
     .same_as = VNET "--z " CV "/z.npy --c @/oh2.npy"},
    {.args = VNET "--z " CV "/z.npy --mix 1,3", .needle = "give --seeds, or --mix-weights with --z"},
    {.args = VNET "--z " CV "/z.npy --mix 1,3 --mix-weights 1,3", .res = 128,
     .labels = "@/mix31.npy", .same_as = VNET "--z " CV "/z.npy --c @/mix31.npy"},
    {.args = VNET "--z " CV "/z.npy --c " CV "/c.npy", .res = 128, .golden = CV "/gen.npy",
     .golden_row = -1, .labels = CV "/c.npy"},
    {.args = VNET "--z " CV "/z.npy --class 1", .needle = "--class is a StyleGAN2 option"},
    {.args = VNET "--ws " COND "/ws_psi1.npy", .needle = "--ws is a StyleGAN2 option"},
    {.args = VNET "--ws " COND "/ws_psi1.npy --identity 1", .needle = "--ws is a StyleGAN2 option"},
    {.args = VNET "--ws " COND "/ws_psi1.npy --c " CV "/c.npy", .needle = "--ws is a StyleGAN2 option"},
    /* CVAE-GAN flags on a StyleGAN2 network */
    {.args = CNET SEEDS "--identity 1", .needle = "--identity is a CVAE-GAN option"},
    {.args = UNET "--ws " TINY "/ws_psi1.npy --mix 1,3", .needle = "--mix is a CVAE-GAN option"},
};

/* The PNGs of a successful run equal its raw floats through the uint8 rule. */
static void check_pngs(const char *dir, const gen_case *c, const arr *raw)
{
    char p[600];
    snprintf(p, sizeof p, "%s/out", dir);
    ck_assert_msg(count_entries(p) == NIMG, "'%s': %d files in out/, expected %d", c->args,
                  count_entries(p), NIMG);
    size_t len = (size_t)3 * c->res * c->res;
    uint8_t *want = malloc(len);
    for (int i = 0; i < NIMG; i++) {
        if (c->seeds)
            snprintf(p, sizeof p, "%s/out/seed%04d.png", dir, seed_list[i]);
        else
            snprintf(p, sizeof p, "%s/out/img%04d.png", dir, i);
        uint8_t *rgb;
        int w, h;
        ck_assert_msg(fs_png_read_rgb(p, &rgb, &w, &h) == FS_OK, "'%s': %s", c->args,
                      fs_error_message());
        ck_assert_int_eq(w, c->res);
        ck_assert_int_eq(h, c->res);
        fs_image_nchw_f32_to_nhwc_u8(raw->data + i * len, 1, 3, c->res, c->res, want);
        ck_assert_msg(!memcmp(rgb, want, len), "'%s': %s is not the raw image %d", c->args, p,
                      i);
        free(rgb);
    }
    free(want);
}

/* The CVAE-GAN labels file next to raw.npy. */
static void check_labels(const char *dir, const gen_case *c)
{
    char p[600];
    snprintf(p, sizeof p, "%s/raw.labels.npy", dir);
    if (!c->labels && !c->mix_random) {
        ck_assert_msg(!exists(p), "'%s': a StyleGAN2 run wrote %s", c->args, p);
        return;
    }
    arr got = load_f32(p);
    ck_assert_int_eq(got.ndim, 2);
    ck_assert_int_eq(got.shape[0], NIMG);
    ck_assert_int_eq(got.shape[1], 5);
    if (c->labels) {
        char q[600];
        expand(q, sizeof q, c->labels, dir);
        arr want = load_f32(q);
        size_t rows = want.numel / 5;
        for (int i = 0; i < NIMG; i++)
            ck_assert_msg(!memcmp(got.data + i * 5, want.data + (rows == 1 ? 0 : i) * 5,
                                  5 * sizeof(float)),
                          "'%s': label row %d is not that of %s", c->args, i, c->labels);
        free(want.data);
    }
    if (c->mix_random)
        for (int i = 0; i < NIMG; i++) {
            const float *r = got.data + i * 5;
            ck_assert_msg(r[0] == 0 && r[2] == 0 && r[4] == 0 && r[1] > 0 && r[3] > 0 &&
                              fabsf(r[1] + r[3] - 1.0f) <= 1e-6f,
                          "'%s': row %d (%g %g %g %g %g) is not a mix of 1 and 3", c->args, i,
                          r[0], r[1], r[2], r[3], r[4]);
        }
    free(got.data);
}

START_TEST(test_generate_matrix)
{
    const gen_case *c = &gen_cases[_i];
    char *dir = make_tmpdir();
    make_inputs(dir);
    char tmpl[2048];
    snprintf(tmpl, sizeof tmpl, "generate %s" GEN_OUT, c->args);
    if (c->needle) {
        expect_refusal(tmpl, c->needle, dir);
        remove_tree(dir);
        free(dir);
        return;
    }
    free(expect_ok(tmpl, dir));
    arr raw = load_at(dir, "raw.npy");
    ck_assert_msg(raw.ndim == 4 && raw.shape[0] == NIMG && raw.shape[1] == 3 &&
                      raw.shape[2] == c->res && raw.shape[3] == c->res,
                  "'%s': raw.npy has the wrong shape", c->args);
    check_pngs(dir, c, &raw);
    check_labels(dir, c);
    size_t per = raw.numel / NIMG;
    if (c->golden) {
        arr want = load_f32(c->golden);
        ck_assert_uint_eq(want.numel, raw.numel);
        size_t off = c->golden_row < 0 ? 0 : (size_t)c->golden_row * per;
        size_t n = c->golden_row < 0 ? raw.numel : per;
        double e = fs_check_rel_l2(raw.data + off, want.data + off, n);
        ck_assert_msg(e <= 1e-5, "'%s': relative L2 %.3g from %s", c->args, e, c->golden);
        free(want.data);
    }
    const char *ref = c->same_as ? c->same_as : c->close_to;
    if (ref) {
        snprintf(tmpl, sizeof tmpl, "generate %s" REF_OUT, ref);
        free(expect_ok(tmpl, dir));
        arr r = load_at(dir, "ref.npy");
        if (c->same_as) {
            assert_bit_equal(&raw, &r, c->args);
        } else {
            ck_assert_uint_eq(r.numel, raw.numel);
            double e = fs_check_rel_l2(raw.data, r.data, raw.numel);
            ck_assert_msg(e <= 1e-5, "'%s': relative L2 %.3g from '%s'", c->args, e, ref);
        }
        free(r.data);
    }
    free(raw.data);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- score ------------------------------------------------------------------- */

/* One score combination; outputs: --save-raw @/raw.npy (StyleGAN2) or
 * --save-raw-dir @/out (CVAE-GAN), and the table on stdout. */
typedef struct {
    const char *args;
    const char *needle;   /* NULL: success */
    int cvae;
    const char *golden;   /* StyleGAN2: official logits [N, 1] */
    const char *same_as;  /* StyleGAN2: args with bit-identical logits */
} score_case;

#define UIMG " --images " TINY "/img_psi1_const.npy "
#define CIMG " --images " COND "/img_psi1_const.npy "
#define VIMG " --images " CV "/gen.npy "

static const score_case score_cases[] = {
    {.args = UNET UIMG, .golden = TINY "/D_scores_img_psi1_const.npy"},
    {.args = UNET UIMG "--class 1", .needle = "the network is unconditional: --class takes no label"},
    {.args = UNET UIMG "--c " COND "/c.npy", .needle = "the network is unconditional: --c takes no label"},
    {.args = CNET CIMG, .needle = "the network is conditional (c_dim 5): give --class K or --c FILE.npy"},
    {.args = CNET CIMG "--class 1", .same_as = CNET CIMG "--c @/oh1.npy"},
    {.args = CNET CIMG "--c @/oh1_1d.npy", .same_as = CNET CIMG "--class 1"},
    {.args = CNET CIMG "--c " COND "/c.npy", .golden = COND "/D_scores_img_psi1_const.npy"},
    {.args = CNET CIMG "--c @/c3rows.npy", .needle = "@/c3rows.npy: labels of shape [3, 5], expected [4, 5]"},
    {.args = CNET CIMG "--class 5", .needle = "--class 5 is out of range"},
    {.args = CNET CIMG "--class 1 --c " COND "/c.npy", .needle = "mutually exclusive"},
    {.args = VNET VIMG, .cvae = 1},
    {.args = VNET VIMG "--class 1", .needle = "--class is a StyleGAN2 option", .cvae = 1},
    {.args = VNET VIMG "--c " CV "/c.npy", .needle = "--c is a StyleGAN2 option", .cvae = 1},
    {.args = VNET VIMG "--class 1 --c " CV "/c.npy", .needle = "is a StyleGAN2 option", .cvae = 1},
};

START_TEST(test_score_matrix)
{
    const score_case *c = &score_cases[_i];
    char *dir = make_tmpdir();
    make_inputs(dir);
    char tmpl[2048];
    snprintf(tmpl, sizeof tmpl, "score %s %s -q", c->args,
             c->cvae ? "--save-raw-dir @/out" : "--save-raw @/raw.npy");
    if (c->needle) {
        expect_refusal(tmpl, c->needle, dir);
        char p[600];
        snprintf(p, sizeof p, "%s/raw.npy", dir);
        ck_assert(!exists(p));
        remove_tree(dir);
        free(dir);
        return;
    }
    char *table = expect_ok(tmpl, dir);
    int lines = 0;
    for (const char *t = table; *t; t++)
        lines += *t == '\n';
    ck_assert_msg(lines == NIMG + 1, "'%s': %d table lines: %s", c->args, lines, table);
    ck_assert(!strncmp(table, c->cvae ? "index\tname\trealism\tidentity\tprob\n"
                                      : "index\tname\tlogit\n", 10));
    free(table);
    if (c->cvae) {
        static const char *const heads[4] = {"d1_src", "d1_cls", "d2_src", "d2_cls"};
        for (int k = 0; k < 4; k++) {
            char name[64], golden[256];
            snprintf(name, sizeof name, "out/%s.npy", heads[k]);
            snprintf(golden, sizeof golden, CV "/%s.npy", heads[k]);
            arr got = load_at(dir, name), want = load_f32(golden);
            ck_assert_uint_eq(got.numel, want.numel);
            double e = fs_check_rel_l2(got.data, want.data, want.numel);
            ck_assert_msg(e <= 1e-5, "'%s': %s relative L2 %.3g", c->args, heads[k], e);
            free(got.data);
            free(want.data);
        }
    } else {
        arr raw = load_at(dir, "raw.npy");
        ck_assert_int_eq(raw.ndim, 2);
        ck_assert_int_eq(raw.shape[0], NIMG);
        ck_assert_int_eq(raw.shape[1], 1);
        if (c->golden) {
            arr want = load_f32(c->golden);
            double e = fs_check_rel_l2(raw.data, want.data, NIMG);
            ck_assert_msg(e <= 1e-5, "'%s': relative L2 %.3g", c->args, e);
            free(want.data);
        }
        if (c->same_as) {
            snprintf(tmpl, sizeof tmpl, "score %s --save-raw @/ref.npy -q", c->same_as);
            free(expect_ok(tmpl, dir));
            arr r = load_at(dir, "ref.npy");
            assert_bit_equal(&raw, &r, c->args);
            free(r.data);
        }
        free(raw.data);
    }
    remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- encode ------------------------------------------------------------------ */

typedef enum { EPS_SEEDED, EPS_FILE, EPS_MEAN } eps_kind;

/* One encode combination: eps source x optional outputs. z always goes to
 * @/z.npy; with mu_lv, mu and logvar to @/mu.npy and @/lv.npy. */
typedef struct {
    const char *args;
    const char *needle; /* NULL: success */
    eps_kind eps;
    uint64_t seed;
    int mu_lv;
} enc_case;

#define EIMG " --images " CV "/x.npy "

static const enc_case enc_cases[] = {
    {.args = VNET EIMG, .eps = EPS_SEEDED},
    {.args = VNET EIMG "--save-mu @/mu.npy --save-logvar @/lv.npy", .eps = EPS_SEEDED, .mu_lv = 1},
    {.args = VNET EIMG "--seed 7 --save-mu @/mu.npy --save-logvar @/lv.npy", .eps = EPS_SEEDED,
     .seed = 7, .mu_lv = 1},
    {.args = VNET EIMG "--eps " CV "/eps.npy", .eps = EPS_FILE},
    {.args = VNET EIMG "--eps " CV "/eps.npy --save-mu @/mu.npy --save-logvar @/lv.npy",
     .eps = EPS_FILE, .mu_lv = 1},
    {.args = VNET EIMG "--mean", .eps = EPS_MEAN},
    {.args = VNET EIMG "--mean --save-mu @/mu.npy --save-logvar @/lv.npy", .eps = EPS_MEAN,
     .mu_lv = 1},
    {.args = VNET EIMG "--eps " CV "/eps.npy --mean", .needle = "mutually exclusive"},
    {.args = VNET EIMG "--eps @/c3rows.npy", .needle = "@/c3rows.npy: --eps has shape [3, 5], expected [4, 32]"},
    {.args = VNET EIMG "--eps @/oh1.npy", .needle = "@/oh1.npy: --eps has shape [1, 5], expected [4, 32]"},
    {.args = VNET EIMG "--class 1", .needle = "unknown option '--class'"},
    {.args = VNET EIMG "--c " CV "/c.npy", .needle = "unknown option '--c'"},
    {.args = VNET EIMG "--identity 1", .needle = "unknown option '--identity'"},
    {.args = CNET EIMG, .needle = "not a CVAE-GAN"},
};

START_TEST(test_encode_matrix)
{
    const enc_case *c = &enc_cases[_i];
    char *dir = make_tmpdir();
    make_inputs(dir);
    char tmpl[2048];
    snprintf(tmpl, sizeof tmpl, "encode %s --save-raw @/z.npy -q", c->args);
    if (c->needle) {
        expect_refusal(tmpl, c->needle, dir);
        remove_tree(dir);
        free(dir);
        return;
    }
    int before = count_entries(dir);
    free(expect_ok(tmpl, dir));
    ck_assert_msg(count_entries(dir) == before + 1 + 2 * c->mu_lv, "'%s': %d new files",
                  c->args, count_entries(dir) - before);
    arr z = load_at(dir, "z.npy");
    ck_assert_int_eq(z.ndim, 2);
    ck_assert_int_eq(z.shape[0], 4);
    ck_assert_int_eq(z.shape[1], 32);
    /* mu and logvar: this run's, or the reference's */
    arr mu = c->mu_lv ? load_at(dir, "mu.npy") : load_f32(CV "/mu.npy");
    arr lv = c->mu_lv ? load_at(dir, "lv.npy") : load_f32(CV "/logvar.npy");
    if (c->mu_lv) {
        arr m = load_f32(CV "/mu.npy"), l = load_f32(CV "/logvar.npy");
        ck_assert_rel_l2_le(mu.data, m.data, m.numel, 1e-5);
        ck_assert_rel_l2_le(lv.data, l.data, l.numel, 1e-5);
        free(m.data);
        free(l.data);
    }
    arr eps = {0};
    if (c->eps == EPS_FILE)
        eps = load_f32(CV "/eps.npy");
    float *want = malloc(z.numel * sizeof *want);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 32; j++) {
            size_t k = (size_t)i * 32 + (size_t)j;
            float e = c->eps == EPS_MEAN   ? 0.0f
                      : c->eps == EPS_FILE ? eps.data[k]
                                           : fs_philox_normal(c->seed, (uint32_t)i, (uint64_t)j);
            want[k] = mu.data[k] + expf(0.5f * lv.data[k]) * e;
        }
    /* bit-exact against this run's mu/logvar; otherwise within the reference's */
    double tol = c->mu_lv ? 1e-6 : 1e-5;
    double e = fs_check_rel_l2(z.data, want, z.numel);
    ck_assert_msg(e <= tol, "'%s': z relative L2 %.3g", c->args, e);
    free(want);
    free(eps.data);
    free(z.data);
    free(mu.data);
    free(lv.data);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- output paths ---------------------------------------------------------- */

/* An output that can never be written (an empty name, a directory) is
 * refused before any work, not by the final rename after every image. */
static const cli_bad out_cases[] = {
    {"generate " UNET SEEDS "--outdir @/out --save-raw '' -q", "--save-raw"},
    {"generate " UNET SEEDS "--outdir @/out --save-raw @/adir -q", "@/adir"},
    {"generate " VNET SEEDS "--identity 1 --outdir @/out --save-raw '' -q", "--save-raw is empty"},
    {"generate " VNET SEEDS "--identity 1 --outdir @/out --save-raw @/adir -q",
     "@/adir: --save-raw names a directory"},
    {"generate " VNET SEEDS "--identity 1 --outdir @/out --save-labels '' -q",
     "--save-labels is empty"},
    {"generate " VNET SEEDS "--identity 1 --outdir @/out --save-labels @/adir -q",
     "@/adir: --save-labels names a directory"},
    {"generate " VNET SEEDS "--identity 1 --outdir @/out --save-raw @/adir.npy -q",
     "@/adir.labels.npy"},
    {"encode " VNET EIMG "--save-raw '' -q", "--save-raw is empty"},
    {"encode " VNET EIMG "--save-raw @/adir -q", "@/adir: --save-raw names a directory"},
    {"encode " VNET EIMG "--save-raw @/z.npy --save-mu '' -q", "--save-mu is empty"},
    {"encode " VNET EIMG "--save-raw @/z.npy --save-logvar @/adir -q",
     "@/adir: --save-logvar names a directory"},
    {"score " UNET UIMG "--save-raw '' -q", "--save-raw is empty"},
    {"score " UNET UIMG "--save-raw @/adir -q", "@/adir: --save-raw names a directory"},
};

START_TEST(test_output_paths)
{
    const cli_bad *c = &out_cases[_i];
    char *dir = make_tmpdir();
    make_inputs(dir);
    if (strstr(c->args, "@/adir.npy")) {
        /* X.labels.npy, written next to --save-raw X.npy, is a directory */
        char p[600];
        snprintf(p, sizeof p, "%s/adir.labels.npy", dir);
        ck_assert_int_eq(mkdir(p, 0755), 0);
    }
    expect_refusal(c->args, c->needle, dir);
    remove_tree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_labels");
    TCase *gen = tcase_create("generate");
    tcase_add_loop_test(gen, test_generate_matrix, 0,
                        (int)(sizeof gen_cases / sizeof *gen_cases));
    tcase_set_timeout(gen, 120);
    suite_add_tcase(s, gen);
    TCase *sc = tcase_create("score");
    tcase_add_loop_test(sc, test_score_matrix, 0, (int)(sizeof score_cases / sizeof *score_cases));
    tcase_set_timeout(sc, 120);
    suite_add_tcase(s, sc);
    TCase *enc = tcase_create("encode");
    tcase_add_loop_test(enc, test_encode_matrix, 0, (int)(sizeof enc_cases / sizeof *enc_cases));
    tcase_set_timeout(enc, 120);
    suite_add_tcase(s, enc);
    TCase *outs = tcase_create("output_paths");
    tcase_add_loop_test(outs, test_output_paths, 0, (int)(sizeof out_cases / sizeof *out_cases));
    tcase_set_timeout(outs, 120);
    suite_add_tcase(s, outs);
    return fs_check_run(s, "cli_labels");
}
