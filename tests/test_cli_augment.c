/* `facesynth augment` end to end on the tiny fixtures (the e4e encoder of
 * tests/fixtures/e4e with the 32 x 32 generator of stylegan2/tiny, whose
 * W+ space it encodes into).
 *
 * Checked independently of augment's own pipeline: the candidates are
 * rebuilt with `invert` then `edit --ws ... --alpha-range --per-image
 * --alpha-seed` (same images byte for byte, same strengths); their scores
 * are recomputed here from the library's predictor and the formula of
 * docs/landmarks.md (points of the 32 x 32 candidates taken to the
 * original's pixels); the decisions, the kept files, the labels carried to
 * dataset.json (class ids, reals, lists) and provenance.jsonl are compared
 * with them. Errors: one line, exit status 2, nothing written.
 *
 * Needs Debian's dlib model (libdlib-data); without it the cases print SKIP. */
#define CLI_TMP_PREFIX "/tmp/fs_h12_aug"
#include "cli_util.h"

#include <stdarg.h>

#include "../engine/image_io.h"
#include "../engine/landmarks.h"
#include "../weights_tools/json.h"

#define E4E FS_FIXTURES "/e4e/e4e.pt"
#define GEN FS_FIXTURES "/stylegan2/tiny/network-snapshot.pkl"
#define BND FS_FIXTURES "/interfacegan/boundary_a.npy"
#define LM FS_FIXTURES "/landmarks"
#define K 4

static const char *model_path(void)
{
    const char *p = getenv("FS_DLIB_MODEL");
    return p && *p ? p : FS_DLIB_DEFAULT_MODEL;
}

static const char *model_flag(void)
{
    static char f[600];
    const char *p = getenv("FS_DLIB_MODEL");
    snprintf(f, sizeof f, p && *p ? "--model %s " : "", p);
    return f;
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static fs_json *load_json_text(const char *text, const char *label)
{
    fs_json *j;
    ck_assert_msg(fs_json_parse((const uint8_t *)text, strlen(text), label, 0, &j) == FS_OK,
                  "%s", fs_error_message());
    return j;
}

/* in/: three sources of two sizes (a 256 and a 384 astronaut, a 256 noise
 * image) and labels.json with a class id, a list and a real (plus an entry
 * for an image that is not there). */
static void make_inputs(const char *dir)
{
    sh("mkdir %s/in && cp " LM "/astronaut.png %s/in/a.png && cp " LM "/astronaut_large.png "
       "%s/in/b.png && cp " LM "/noise_rgb.png %s/in/c.png", dir, dir, dir, dir);
    write_file(dir, "labels.json", "{\"labels\": [[\"b.png\", [0.25,\n 1.0 , -2]], [\"a.png\", 3], "
                                   "[\"zz.png\", 9], [\"c.png\", 1.876818462881787]]}");
}

/* Landmarks of a PNG in its FFHQ box, as doubles. */
static void predict_png(const fs_dlib_model *m, const char *path, double *xy, int *w, int *h)
{
    uint8_t *rgb;
    ck_assert_msg(fs_png_read_rgb(path, &rgb, w, h) == FS_OK, "%s", fs_error_message());
    uint8_t *g = malloc((size_t)*w * *h);
    ck_assert_ptr_nonnull(g);
    fs_lm_intensity_rgb(rgb, (size_t)*w * *h, g);
    fs_lm_image img = {.pixels = g, .width = *w, .height = *h, .stride = (size_t)*w};
    fs_lm_box box = fs_lm_ffhq_box(*w, *h);
    float shape[136];
    ck_assert_int_eq(fs_lm_predict(m, &img, &box, NULL, NULL, shape, xy, NULL), FS_OK);
    free(g);
    free(rgb);
}

/* The score of docs/landmarks.md, written out here: integer points, the
 * candidate's taken to the original's pixels, RMS over 68 points divided by
 * the original's distance between points 36 and 45. */
static double nme_by_hand(const double *ref, int rw, int rh, const double *cand, int cres)
{
    double sum = 0;
    for (int i = 0; i < 68; i++) {
        double rx = floor(ref[2 * i] + 0.5), ry = floor(ref[2 * i + 1] + 0.5);
        double cx = (floor(cand[2 * i] + 0.5) + 0.5) * rw / cres - 0.5;
        double cy = (floor(cand[2 * i + 1] + 0.5) + 0.5) * rh / cres - 0.5;
        sum += (rx - cx) * (rx - cx) + (ry - cy) * (ry - cy);
    }
    double ex = floor(ref[90] + 0.5) - floor(ref[72] + 0.5);
    double ey = floor(ref[91] + 0.5) - floor(ref[73] + 0.5);
    return sqrt(sum / 68) / sqrt(ex * ex + ey * ey);
}

/* dir/dataset.json: n entries, each a written image with its source's
 * label, as labels.json gave it. */
static void check_dataset(const char *dir, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/dataset.json", dir);
    char *ds = slurp(p);
    fs_json *j = load_json_text(ds, "dataset.json");
    const fs_json *labels = fs_json_get(j, "labels");
    ck_assert(labels && labels->type == FS_JSON_ARRAY);
    ck_assert_uint_eq(labels->u.array.count, n);
    for (size_t k = 0; k < labels->u.array.count; k++) {
        const fs_json *e = &labels->u.array.items[k];
        const char *name = e->u.array.items[0].u.string.chars;
        const fs_json *v = &e->u.array.items[1];
        snprintf(p, sizeof p, "%s/%s", dir, name);
        ck_assert_msg(exists(p), "%s listed but not written", name);
        if (name[0] == 'a') {
            ck_assert(v->type == FS_JSON_INT && v->u.integer == 3);
        } else if (name[0] == 'b') {
            ck_assert(v->type == FS_JSON_ARRAY && v->u.array.count == 3);
            ck_assert(v->u.array.items[0].type == FS_JSON_REAL);
            ck_assert_double_eq(v->u.array.items[0].u.real, 0.25);
            ck_assert(v->u.array.items[1].type == FS_JSON_REAL); /* 1.0 stays a real */
            ck_assert(v->u.array.items[2].type == FS_JSON_INT && v->u.array.items[2].u.integer == -2);
        } else {
            ck_assert(v->type == FS_JSON_REAL);
        }
        /* the label's own text, whitespace aside: no digit changed */
        const char *text = name[0] == 'a' ? "3" : name[0] == 'b' ? "[0.25, 1.0, -2]"
                                                                  : "1.876818462881787";
        char entry[128];
        snprintf(entry, sizeof entry, "[\"%s\", %s]", name, text);
        ck_assert_msg(strstr(ds, entry), "dataset.json lacks %s", entry);
    }
    fs_json_free(j);
    free(ds);
}

START_TEST(test_augment_end_to_end)
{
    char *dir = make_tmpdir();
    make_inputs(dir);
    /* the candidates, the independent way */
    run_ok("invert -q --network " E4E " --images %s/in --save-raw %s/codes.npy", dir, dir);
    run_ok("edit -q --network " GEN " --ws %s/codes.npy --space wp --layers 0-5 --boundary " BND
           " --alpha-range 1,3 --per-image %d --alpha-seed 7 --outdir %s/ed", dir, K, dir);
    fs_dlib_model *m;
    ck_assert_msg(fs_dlib_model_load(model_path(), &m) == FS_OK, "%s", fs_error_message());
    const char *src[3] = {"a.png", "b.png", "c.png"};
    double ref[3][136], want[3][K];
    int rw[3], rh[3];
    char p[512], q[512];
    for (int s = 0; s < 3; s++) {
        snprintf(p, sizeof p, "%s/in/%s", dir, src[s]);
        predict_png(m, p, ref[s], &rw[s], &rh[s]);
        for (int e = 0; e < K; e++) {
            double xy[136];
            int w, h;
            snprintf(p, sizeof p, "%s/ed/img%04d_b00_e%03d.png", dir, s, e);
            predict_png(m, p, xy, &w, &h);
            ck_assert_int_eq(w, 32);
            want[s][e] = nme_by_hand(ref[s], rw[s], rh[s], xy, 32);
        }
    }
    fs_dlib_model_free(m);
    /* a threshold between the scores, so that both decisions occur */
    double sorted[3 * K];
    memcpy(sorted, want, sizeof sorted);
    for (int i = 0; i < 3 * K; i++)
        for (int k = i + 1; k < 3 * K; k++)
            if (sorted[k] < sorted[i]) {
                double t = sorted[i];
                sorted[i] = sorted[k], sorted[k] = t;
            }
    double thr = (sorted[5] + sorted[6]) / 2;

    run_ok("augment -q %s--encoder " E4E " --generator " GEN " --images %s/in --labels "
           "%s/labels.json --boundary " BND " --alpha-range 1,3 --per-image %d --alpha-seed 7 "
           "--layers 0-5 --max-nme %.17g --outdir %s/out --batch 3", model_flag(), dir, dir, K,
           thr, dir);

    /* provenance: every candidate, its strength from edit's labels.tsv */
    snprintf(p, sizeof p, "%s/ed/labels.tsv", dir);
    char *tsv = slurp(p);
    snprintf(p, sizeof p, "%s/out/provenance.jsonl", dir);
    char *prov = slurp(p);
    char *line = prov, *row = strchr(tsv, '\n') + 1;
    int kept_n = 0;
    for (int s = 0; s < 3; s++)
        for (int e = 0; e < K; e++) {
            char *nl = strchr(line, '\n');
            ck_assert_ptr_nonnull(nl);
            *nl = '\0';
            fs_json *j = load_json_text(line, "provenance.jsonl");
            char name[64];
            snprintf(name, sizeof name, "%c_e%03d.png", 'a' + s, e);
            ck_assert_str_eq(fs_json_get(j, "image")->u.string.chars, name);
            ck_assert_str_eq(fs_json_get(j, "source")->u.string.chars, src[s]);
            ck_assert_str_eq(fs_json_get(j, "boundary")->u.string.chars, BND);
            ck_assert_str_eq(fs_json_get(j, "layers")->u.string.chars, "0-5");
            ck_assert_int_eq(strlen(fs_json_get(j, "boundary_sha256")->u.string.chars), 64);
            /* edit's row: image source seed boundary boundary_sha256 normalized space
             * layers distance alpha conditions conditions_sha256 */
            char *end = strchr(row, '\n'), *f[12];
            ck_assert_ptr_nonnull(end);
            *end = '\0';
            int nf = 0;
            for (char *t = row; nf < 12;) {
                f[nf++] = t;
                char *tab = strchr(t, '\t');
                if (!tab)
                    break;
                *tab = '\0';
                t = tab + 1;
            }
            row = end + 1;
            ck_assert_int_ge(nf, 10);
            char ename[64];
            snprintf(ename, sizeof ename, "img%04d_b00_e%03d.png", s, e);
            ck_assert_str_eq(f[0], ename);
            /* the text, read with strtod (fs_json's reals may be an ulp off) */
            const char *at = strstr(line, "\"alpha\": ");
            ck_assert_ptr_nonnull(at);
            ck_assert_double_eq(strtod(at + 9, NULL), strtod(f[9], NULL));
            ck_assert_str_eq(fs_json_get(j, "boundary_sha256")->u.string.chars, f[4]);
            double nme = fs_json_get(j, "nme")->u.real;
            ck_assert_msg(fabs(nme - want[s][e]) <= 1e-12, "%s: nme %.17g, by hand %.17g", name,
                          nme, want[s][e]);
            int kept = fs_json_get(j, "kept")->u.boolean;
            ck_assert_int_eq(kept, want[s][e] <= thr);
            /* kept: the image edit made, byte for byte; rejected: not written */
            snprintf(p, sizeof p, "%s/out/%s", dir, name);
            if (kept) {
                snprintf(q, sizeof q, "%s/ed/img%04d_b00_e%03d.png", dir, s, e);
                ck_assert_msg(files_equal(p, q), "%s differs from edit's image", name);
                kept_n++;
            } else {
                ck_assert_msg(!exists(p), "%s was rejected but written", name);
            }
            fs_json_free(j);
            line = nl + 1;
        }
    ck_assert_int_eq(*line, '\0');
    ck_assert_int_eq(kept_n, 6);
    free(prov);
    free(tsv);

    /* dataset.json: each kept image with its source's label, as given */
    snprintf(p, sizeof p, "%s/out", dir);
    check_dataset(p, (size_t)kept_n);
    /* images, dataset.json, provenance.jsonl: nothing else */
    snprintf(p, sizeof p, "%s/out", dir);
    ck_assert_int_eq(count_entries(p), kept_n + 2);
    /* no labels: {"labels": null}; the same decisions with --batch 1 */
    run_ok("augment -q %s--encoder " E4E " --generator " GEN " --images %s/in --boundary " BND
           " --alpha-range 1,3 --per-image %d --alpha-seed 7 --layers 0-5 --max-nme %.17g "
           "--outdir %s/out2 --batch 1", model_flag(), dir, K, thr, dir);
    snprintf(p, sizeof p, "%s/out2/dataset.json", dir);
    char *nl = slurp(p);
    ck_assert_str_eq(nl, "{\"labels\": null}\n");
    free(nl);
    snprintf(p, sizeof p, "%s/out/provenance.jsonl", dir);
    snprintf(q, sizeof q, "%s/out2/provenance.jsonl", dir);
    ck_assert(files_equal(p, q));
    /* everything kept: every source's label reaches dataset.json */
    run_ok("augment -q %s--encoder " E4E " --generator " GEN " --images %s/in --labels "
           "%s/labels.json --boundary " BND " --alpha-range 1,3 --per-image %d --alpha-seed 7 "
           "--layers 0-5 --max-nme 1e9 --outdir %s/out3", model_flag(), dir, dir, K, dir);
    snprintf(p, sizeof p, "%s/out3", dir);
    check_dataset(p, 3 * K);
    /* the sources are untouched */
    snprintf(p, sizeof p, "%s/in/a.png", dir);
    ck_assert(files_equal(p, LM "/astronaut.png"));
    remove_tree(dir);
    free(dir);
}
END_TEST

#define AUG "augment --encoder " E4E " --generator " GEN " --boundary " BND " --alpha-range 1,3 " \
            "--per-image 2 --max-nme 0.1 "

static const cli_bad bad_cases[] = {
    {AUG "--outdir @/out", "missing --images"},
    {"augment --generator " GEN " --images @/in --boundary " BND " --alpha-range 1,3 "
     "--per-image 2 --max-nme 0.1 --outdir @/out", "missing --encoder"},
    {AUG "--images @/in", "missing --outdir"},
    {"augment --encoder " E4E " --generator " GEN " --images @/in --boundary " BND
     " --per-image 2 --max-nme 0.1 --outdir @/out", "missing --alpha-range"},
    {AUG "--images @/in --outdir @/out --alpha-range 3,1", "--alpha-range is given twice"},
    {"augment --encoder " E4E " --generator " GEN " --images @/in --boundary " BND
     " --alpha-range 3,1 --per-image 2 --max-nme 0.1 --outdir @/out", "empty range"},
    {AUG "--images @/in --outdir @/full", "--outdir is not empty"},
    {AUG "--images @/in --outdir @/out --labels @/l_missing.json", "no label for the image 'c.png'"},
    {AUG "--images @/in --outdir @/out --labels @/l_bad.json", "a label must be"},
    {AUG "--images @/in --outdir @/out --labels @/l_layout.json", "dataset.json layout"},
    {AUG "--images @/in --outdir @/out --layers 0-99", "layer 99 is out of range"},
    {AUG "--images @/bad --outdir @/out", "@/bad/x.png"},
    {AUG "--images @/twins --outdir @/out", "share the name a"},
    {"augment --encoder " E4E " --generator " GEN " --images @/in --boundary " FS_FIXTURES
     "/stylegan2/seeds_z512.npy --alpha-range 1,3 --per-image 2 --max-nme 0.1 --outdir @/out",
     "seeds_z512.npy"},
    {"augment --encoder " GEN " --generator " GEN " --images @/in --boundary " BND
     " --alpha-range 1,3 --per-image 2 --max-nme 0.1 --outdir @/out", GEN},
    {AUG "--images @/in --outdir @/out --model @/nothing.dat", "@/nothing.dat"},
};

START_TEST(test_augment_errors)
{
    const cli_bad *c = &bad_cases[_i];
    char *dir = make_tmpdir();
    make_inputs(dir);
    sh("mkdir %s/full %s/bad %s/twins && touch %s/full/x && cp " LM "/noise_rgb.png %s/twins/a.png "
       "&& cp " LM "/noise_rgb.png %s/twins/a.PNG", dir, dir, dir, dir, dir, dir);
    write_file(dir, "bad/x.png", "\x89PNG\r\n\x1a\n not really");
    write_file(dir, "l_missing.json", "{\"labels\": [[\"a.png\", 1], [\"b.png\", 2]]}");
    write_file(dir, "l_bad.json", "{\"labels\": [[\"a.png\", 1], [\"b.png\", \"x\"], "
                                  "[\"c.png\", 2]]}");
    write_file(dir, "l_layout.json", "[[\"a.png\", 1]]");
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
    char p[512];
    snprintf(p, sizeof p, "%s/full", dir);
    ck_assert_int_eq(count_entries(p), 1);
    remove_tree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_augment");
    if (access(model_path(), R_OK) == 0) {
        TCase *tc = tcase_create("augment");
        tcase_add_test(tc, test_augment_end_to_end);
        tcase_add_loop_test(tc, test_augment_errors, 0,
                            (int)(sizeof bad_cases / sizeof *bad_cases));
        /* about 10 s on an idle 2-core machine; shared machines are far slower */
        tcase_set_timeout(tc, 1200);
        suite_add_tcase(s, tc);
    } else {
        printf("SKIP: cli_augment: test_augment_end_to_end, test_augment_errors: no dlib model at "
               "%s (install the Debian package libdlib-data, or set FS_DLIB_MODEL)\n",
               model_path());
    }
    return fs_check_run(s, "cli_augment");
}
