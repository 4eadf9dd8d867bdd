/* `facesynth landmarks` and `facesynth filter` end to end.
 *
 * landmarks: the .npy rows against dlib's own points (tests/fixtures/
 * landmarks: integer points by dlib's rounding rule, un-rounded points to
 * float32 precision), row order for --boxes and --box, thread-count
 * independence, --box ffhq. filter: the disagreement scores against dlib's
 * (pairs.json, integer and --subpixel, within 1e-6), the keep decisions, the
 * three JSON-lines files, images left untouched, the realism filter against
 * `facesynth score`'s logits. Errors: one line, exit status 2, nothing
 * written.
 *
 * The cases that run the predictor need Debian's model file
 * (libdlib-data); without it they print SKIP and do not run. */
#define CLI_TMP_PREFIX "/tmp/fs_h12_lm"
#include "cli_util.h"

#include <stdarg.h>

#include "../engine/landmarks.h"
#include "../weights_tools/json.h"

#define LM FS_FIXTURES "/landmarks"
#define TINY_PKL FS_FIXTURES "/stylegan2/tiny/network-snapshot.pkl"

static const char *model_path(void)
{
    const char *p = getenv("FS_DLIB_MODEL");
    return p && *p ? p : FS_DLIB_DEFAULT_MODEL;
}

/* "--model PATH " when FS_DLIB_MODEL names another copy, else "". */
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

static fs_json *load_json(const char *path)
{
    fs_file_map fm;
    ck_assert_msg(fs_file_map_open(path, &fm) == FS_OK, "%s", fs_error_message());
    fs_json *j;
    ck_assert_msg(fs_json_parse(fm.data, fm.size, path, 0, &j) == FS_OK, "%s",
                  fs_error_message());
    fs_file_map_close(&fm);
    return j;
}

static double num(const fs_json *v)
{
    return v->type == FS_JSON_INT ? (double)v->u.integer : v->u.real;
}

static const fs_json *at(const fs_json *a, size_t i)
{
    ck_assert(a->type == FS_JSON_ARRAY && i < a->u.array.count);
    return &a->u.array.items[i];
}

/* Row r of an [K, 68, 2] array against landmarks.json case k. */
static void expect_case(const arr *a, size_t r, const fs_json *cases, size_t k)
{
    const fs_json *c = at(cases, k);
    const fs_json *pts = fs_json_get(c, "points"), *pf = fs_json_get(c, "points_float");
    for (int i = 0; i < 68; i++)
        for (int d = 0; d < 2; d++) {
            float v = a->data[(r * 68 + (size_t)i) * 2 + (size_t)d];
            double want = num(at(at(pf, (size_t)i), (size_t)d));
            /* One float32 step at most: dlib maps the box with a pseudo-inverse a few
             * ulps from exact, ours is exact, and where the double lies on a float32
             * tie (u * w + left often carries just one bit more than float32) the
             * two round to neighbours. */
            float w32 = (float)want;
            ck_assert_msg(v == w32 || v == nextafterf(w32, INFINITY) ||
                              v == nextafterf(w32, -INFINITY),
                          "row %zu (case %zu) part %d: %.9g vs dlib %.9g", r, k, i, v, w32);
            /* dlib's rule on the stored value, away from float32's rounding of halves */
            double frac = v - floor(v);
            if (fabs(frac - 0.5) > 1e-4)
                ck_assert_int_eq(fs_lm_round(v), (int64_t)num(at(at(pts, (size_t)i), (size_t)d)));
        }
}

START_TEST(test_landmarks_boxes)
{
    char *dir = make_tmpdir();
    fs_json *j = load_json(LM "/landmarks.json");
    const fs_json *cases = fs_json_get(j, "cases");
    run_ok("landmarks -q %s--images " LM " --boxes " LM "/boxes.json --save-raw %s/a.npy",
           model_flag(), dir);
    char p[512];
    snprintf(p, sizeof p, "%s/a.npy", dir);
    arr a = load_f32(p);
    ck_assert_int_eq(a.ndim, 3);
    ck_assert_int_eq(a.shape[0], 14);
    ck_assert_int_eq(a.shape[1], 68);
    ck_assert_int_eq(a.shape[2], 2);
    for (size_t k = 0; k < 14; k++)
        expect_case(&a, k, cases, k);
    /* any thread count, the same bytes */
    run_ok("landmarks -q %s--images " LM " --boxes " LM "/boxes.json --save-raw %s/b.npy "
           "--threads 1", model_flag(), dir);
    run_ok("landmarks -q %s--images " LM " --boxes " LM "/boxes.json --save-raw %s/c.npy "
           "--threads 5", model_flag(), dir);
    char q[512];
    snprintf(q, sizeof q, "%s/b.npy", dir);
    ck_assert(files_equal(p, q));
    snprintf(q, sizeof q, "%s/c.npy", dir);
    ck_assert(files_equal(p, q));
    /* entries in another order, one image's boxes apart: rows follow the file */
    snprintf(q, sizeof q, "%s/boxes.json", dir);
    FILE *f = fopen(q, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[{\"box\": [-60, -40, 440, 460], \"image\": \"astronaut_large.png\"},\n"
               " {\"image\": \"astronaut.png\", \"box\": [90, 60, 165, 135]},\n"
               " {\"image\": \"astronaut_large.png\", \"box\": [57, 57, 318, 318]},\n"
               " {\"image\": \"astronaut.png\", \"box\": [83, 51, 170, 138]}]\n");
    fclose(f);
    run_ok("landmarks -q %s--images " LM " --boxes %s --save-raw %s/d.npy", model_flag(), q, dir);
    snprintf(q, sizeof q, "%s/d.npy", dir);
    arr d = load_f32(q);
    ck_assert_int_eq(d.shape[0], 4);
    const size_t want_case[] = {13, 2, 12, 0};
    for (size_t r = 0; r < 4; r++)
        expect_case(&d, r, cases, want_case[r]);
    free(a.data);
    free(d.data);
    fs_json_free(j);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* --box: one row per PNG in name order. */
START_TEST(test_landmarks_one_box)
{
    char *dir = make_tmpdir();
    sh("mkdir %s/img && cp " LM "/astronaut_blur.png %s/img/b.png && cp " LM "/astronaut.png "
       "%s/img/a.png && cp " LM "/astronaut_bright.png %s/img/C.PNG", dir, dir, dir, dir);
    run_ok("landmarks -q %s--images %s/img --box 83,51,170,138 --save-raw %s/o.npy", model_flag(),
           dir, dir);
    char p[512];
    snprintf(p, sizeof p, "%s/o.npy", dir);
    arr a = load_f32(p);
    ck_assert_int_eq(a.shape[0], 3);
    fs_json *j = load_json(LM "/landmarks.json");
    const fs_json *cases = fs_json_get(j, "cases");
    expect_case(&a, 0, cases, 5); /* C.PNG sorts first (strcmp): bright */
    expect_case(&a, 1, cases, 0); /* a.png */
    expect_case(&a, 2, cases, 3); /* b.png: blur */
    /* ffhq: the same as the box it names for these 256 x 256 images */
    fs_lm_box fb = fs_lm_ffhq_box(256, 256);
    run_ok("landmarks -q %s--images %s/img --box ffhq --save-raw %s/f.npy", model_flag(), dir,
           dir);
    run_ok("landmarks -q %s--images %s/img --box %lld,%lld,%lld,%lld --save-raw %s/g.npy",
           model_flag(), dir, (long long)fb.left, (long long)fb.top, (long long)fb.right,
           (long long)fb.bottom, dir);
    char q[512];
    snprintf(p, sizeof p, "%s/f.npy", dir);
    snprintf(q, sizeof q, "%s/g.npy", dir);
    ck_assert(files_equal(p, q));
    free(a.data);
    fs_json_free(j);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- filter ---------------------------------------------------------------------- */

/* ref/{a,b,c}.png = the astronaut; cand/a.png blurred, b.png shifted,
 * c.png brightened (pairs.json's three pairs, in that order). */
static void make_pair_dirs(const char *dir)
{
    sh("mkdir %s/ref %s/cand && for n in a b c; do cp " LM "/astronaut.png %s/ref/$n.png; done "
       "&& cp " LM "/astronaut_blur.png %s/cand/a.png && cp " LM "/astronaut_shift2.png "
       "%s/cand/b.png && cp " LM "/astronaut_bright.png %s/cand/c.png", dir, dir, dir, dir, dir,
       dir);
}

typedef struct {
    char image[64];
    double nme, realism;
    int nme_null, kept, has_realism;
} report_line;

/* Parses a JSON-lines report, checking each line's keys and their order. */
static int read_report(const char *path, report_line *out, int cap)
{
    char *text = slurp(path);
    int n = 0;
    for (char *line = text; *line; n++) {
        char *nl = strchr(line, '\n');
        ck_assert_msg(nl != NULL, "%s: last line without a newline", path);
        ck_assert_int_lt(n, cap);
        fs_json *j;
        ck_assert_msg(fs_json_parse((const uint8_t *)line, (size_t)(nl - line), path, 0, &j) ==
                          FS_OK, "%s", fs_error_message());
        ck_assert(j->type == FS_JSON_OBJECT);
        const fs_json_member *m = j->u.object.members;
        size_t k = j->u.object.count;
        ck_assert(k == 3 || k == 4);
        ck_assert_str_eq(m[0].key, "image");
        ck_assert_str_eq(m[1].key, "nme");
        ck_assert_str_eq(m[k - 1].key, "kept");
        snprintf(out[n].image, sizeof out[n].image, "%s", m[0].value.u.string.chars);
        out[n].nme_null = m[1].value.type == FS_JSON_NULL;
        out[n].nme = out[n].nme_null ? NAN : num(&m[1].value);
        out[n].has_realism = k == 4;
        if (k == 4) {
            ck_assert_str_eq(m[2].key, "realism");
            out[n].realism = num(&m[2].value);
        }
        ck_assert(m[k - 1].value.type == FS_JSON_BOOL);
        out[n].kept = m[k - 1].value.u.boolean;
        fs_json_free(j);
        line = nl + 1;
    }
    free(text);
    return n;
}

START_TEST(test_filter_scores)
{
    char *dir = make_tmpdir();
    make_pair_dirs(dir);
    fs_json *pj = load_json(LM "/pairs.json");
    const fs_json *pairs = fs_json_get(pj, "pairs");
    const char *key[2] = {"nrmse", "nrmse_float"};
    for (int sub = 0; sub < 2; sub++) {
        /* between the two smaller scores and the largest */
        double max_nme = sub ? 0.02 : 0.02;
        run_ok("filter -q %s--reference %s/ref --candidates %s/cand --box 83,51,170,138 "
               "--max-nme %g --report %s/s%d.jsonl%s", model_flag(), dir, dir, max_nme, dir, sub,
               sub ? " --subpixel" : "");
        char p[512];
        report_line r[8], kept[8], rej[8];
        snprintf(p, sizeof p, "%s/s%d.jsonl", dir, sub);
        ck_assert_int_eq(read_report(p, r, 8), 3);
        snprintf(p, sizeof p, "%s/s%d.kept.jsonl", dir, sub);
        int nk = read_report(p, kept, 8);
        snprintf(p, sizeof p, "%s/s%d.rejected.jsonl", dir, sub);
        int nr = read_report(p, rej, 8);
        const char *names[3] = {"a.png", "b.png", "c.png"};
        int ik = 0, ir = 0;
        for (int i = 0; i < 3; i++) {
            ck_assert_str_eq(r[i].image, names[i]);
            double want = num(fs_json_get(at(pairs, (size_t)i), key[sub]));
            ck_assert_msg(fabs(r[i].nme - want) <= 1e-6, "%s %s: nme %.17g, dlib %.17g", key[sub],
                          names[i], r[i].nme, want);
            ck_assert_int_eq(r[i].kept, r[i].nme <= max_nme);
            ck_assert(!r[i].has_realism);
            report_line *l = r[i].kept ? &kept[ik++] : &rej[ir++];
            ck_assert_str_eq(l->image, names[i]);
            ck_assert_double_eq(l->nme, r[i].nme);
        }
        ck_assert_int_eq(nk, 2); /* the blur and the brightening keep their landmarks */
        ck_assert_int_eq(nr, 1);
        ck_assert_int_eq(ik, nk);
        ck_assert_int_eq(ir, nr);
    }
    /* the same through --boxes, and nothing touched in the image folders */
    char p[512];
    snprintf(p, sizeof p, "%s/boxes.json", dir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[{\"image\": \"c.png\", \"box\": [83, 51, 170, 138]}, {\"image\": \"b.png\", "
               "\"box\": [83, 51, 170, 138]}, {\"image\": \"zz.png\", \"box\": [0, 0, 9, 9]}, "
               "{\"image\": \"a.png\", \"box\": [83, 51, 170, 138]}]");
    fclose(f);
    run_ok("filter -q %s--reference %s/ref --candidates %s/cand --boxes %s --max-nme 0.02 "
           "--report %s/t.jsonl", model_flag(), dir, dir, p, dir);
    char q[512];
    snprintf(p, sizeof p, "%s/s0.jsonl", dir);
    snprintf(q, sizeof q, "%s/t.jsonl", dir);
    ck_assert(files_equal(p, q));
    snprintf(p, sizeof p, "%s/cand", dir);
    ck_assert_int_eq(count_entries(p), 3);
    snprintf(p, sizeof p, "%s/ref", dir);
    ck_assert_int_eq(count_entries(p), 3);
    snprintf(p, sizeof p, "%s/cand/b.png", dir);
    ck_assert(files_equal(p, LM "/astronaut_shift2.png"));
    fs_json_free(pj);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* --min-realism: the logits are `score`'s for the candidate folder, and
 * the decision needs both tests. On the tiny network's 32 x 32 images the
 * landmarks mean little, but every candidate equals its reference (nme 0). */
START_TEST(test_filter_realism)
{
    char *dir = make_tmpdir();
    run_ok("generate -q --network " TINY_PKL " --seeds 0-5 --outdir %s/ref", dir);
    sh("cp -r %s/ref %s/cand", dir, dir);
    char out[256], err[4096], args[1024];
    snprintf(args, sizeof args, "score -q --network " TINY_PKL " --images %s/cand", dir);
    ck_assert_int_eq(run_cli(args, err, sizeof err, out, sizeof out), 0);
    char *table = slurp(out);
    unlink(out);
    double logit[6];
    char *l = strchr(table, '\n') + 1;
    for (int i = 0; i < 6; i++) {
        unsigned idx;
        char name[64];
        ck_assert_int_eq(sscanf(l, "%u\t%63s\t%lf", &idx, name, &logit[i]), 3);
        l = strchr(l, '\n') + 1;
    }
    free(table);
    double sorted[6];
    memcpy(sorted, logit, sizeof sorted);
    for (int i = 0; i < 6; i++)
        for (int k = i + 1; k < 6; k++)
            if (sorted[k] < sorted[i]) {
                double t = sorted[i];
                sorted[i] = sorted[k], sorted[k] = t;
            }
    double thr = (sorted[2] + sorted[3]) / 2;
    run_ok("filter -q %s--reference %s/ref --candidates %s/cand --box 4,4,27,27 --max-nme 0 "
           "--min-realism %.17g --discriminator " TINY_PKL " --report %s/r.jsonl", model_flag(),
           dir, dir, thr, dir);
    char p[512];
    snprintf(p, sizeof p, "%s/r.jsonl", dir);
    report_line r[8];
    ck_assert_int_eq(read_report(p, r, 8), 6);
    int kept = 0;
    for (int i = 0; i < 6; i++) {
        char want[32];
        snprintf(want, sizeof want, "seed%04d.png", i);
        ck_assert_str_eq(r[i].image, want);
        ck_assert(r[i].has_realism);
        ck_assert_double_eq(r[i].nme, 0);
        ck_assert_msg((float)r[i].realism == (float)logit[i], "%s: realism %.9g, score %.9g", want,
                      r[i].realism, logit[i]);
        ck_assert_int_eq(r[i].kept, logit[i] >= thr);
        kept += r[i].kept;
    }
    ck_assert_int_eq(kept, 3);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- errors -------------------------------------------------------------------- */

static const cli_bad bad_cases[] = {
    {"landmarks --box 1,2,3,4 --save-raw @/o.npy", "missing --images DIR"},
    {"landmarks --images @/img --save-raw @/o.npy", "give --boxes FILE.json or --box"},
    {"landmarks --images @/img --box 1,2,3,4", "missing --save-raw"},
    {"landmarks --images @/img --box 1,2,3,4 --boxes @/boxes.json --save-raw @/o.npy",
     "mutually exclusive"},
    {"landmarks --images @/img --box 1,2,3 --save-raw @/o.npy", "--box needs L,T,R,B"},
    {"landmarks --images @/img --box 1,2,3,4x --save-raw @/o.npy", "--box needs L,T,R,B"},
    {"landmarks --images @/img --box 10,2,5,4 --save-raw @/o.npy", "is empty"},
    {"landmarks --images @/img --box 0,0,99999999,4 --save-raw @/o.npy", "within"},
    {"landmarks --images @/img --box 1,2,3,4 --save-raw @", "names a directory"},
    {"landmarks --images @/nothing --box 1,2,3,4 --save-raw @/o.npy", "@/nothing"},
    {"landmarks --images @/boxes.json --box 1,2,3,4 --save-raw @/o.npy", "takes a directory"},
    {"landmarks --images @/empty --box 1,2,3,4 --save-raw @/o.npy", "no .png files"},
    {"landmarks --images @/img --box 1,2,3,4 --model @/nothing.dat --save-raw @/o.npy",
     "@/nothing.dat: cannot open"},
    {"landmarks --images @/img --box 1,2,3,4 --model @/boxes.json --save-raw @/o.npy",
     "not a dlib shape predictor"},
    {"landmarks --images @/img --boxes @/nothing.json --save-raw @/o.npy", "@/nothing.json"},
    {"landmarks --images @/img --boxes @/b_obj.json --save-raw @/o.npy",
     "expected a non-empty JSON array"},
    {"landmarks --images @/img --boxes @/b_key.json --save-raw @/o.npy",
     "entry 0 (offset 1): unknown key 'score'"},
    {"landmarks --images @/img --boxes @/b_slash.json --save-raw @/o.npy", "no '/'"},
    {"landmarks --images @/img --boxes @/b_real.json --save-raw @/o.npy", "4 integers"},
    {"landmarks --images @/img --boxes @/b_three.json --save-raw @/o.npy", "4 integers"},
    {"landmarks --images @/img --boxes @/b_syntax.json --save-raw @/o.npy", "JSON"},
    {"landmarks --images @/img --boxes @/b_missing.json --save-raw @/o.npy", "@/img/zz.png"},
    {"landmarks --images @/img --box 1,2,3,4 --threads -1 --save-raw @/o.npy", "--threads"},
    {"filter --candidates @/img --box 1,2,3,4 --max-nme 1 --report @/r.jsonl",
     "missing --reference"},
    {"filter --reference @/img --box 1,2,3,4 --max-nme 1 --report @/r.jsonl",
     "missing --candidates"},
    {"filter --reference @/img --candidates @/img --box 1,2,3,4 --report @/r.jsonl",
     "missing --max-nme"},
    {"filter --reference @/img --candidates @/img --box 1,2,3,4 --max-nme 1",
     "missing --report"},
    {"filter --reference @/img --candidates @/img --box 1,2,3,4 --max-nme -1 --report @/r.jsonl",
     "--max-nme needs a number >= 0"},
    {"filter --reference @/img --candidates @/img --box 1,2,3,4 --max-nme nan --report @/r.jsonl",
     "--max-nme needs a number >= 0"},
    {"filter --reference @/img --candidates @/img --box 1,2,3,4 --max-nme 1 --report @/r.jsonl "
     "--min-realism 0", "--min-realism needs --discriminator"},
    {"filter --reference @/img --candidates @/img --box 1,2,3,4 --max-nme 1 --report @/r.jsonl "
     "--discriminator @/d.pkl", "--discriminator needs --min-realism"},
    {"filter --reference @/img --candidates @/cand2 --box 1,2,3,4 --max-nme 1 --report "
     "@/r.jsonl", "@/cand2/zz.png: no reference image of that name in @/img"},
    {"filter --reference @/img --candidates @/img --boxes @/b_twice.json --max-nme 1 --report "
     "@/r.jsonl", "'a.png' has more than one box"},
    {"filter --reference @/img --candidates @/img --boxes @/b_one.json --max-nme 1 --report "
     "@/r.jsonl", "no box for the reference image 'b.png'"},
    {"filter --reference @/img --candidates @/img --box 1,2,3,4 --max-nme 1 --report "
     "@/r.jsonl --min-realism 0 --discriminator @/boxes.json", "@/boxes.json"},
    {"filter --reference @/img --candidates @/img --box 1,2,3,4 --max-nme 1 --report @",
     "names a directory"},
    {"filter --reference @/img --candidates @/img --box 1,2,3,4 --max-nme 1 --report @/r.jsonl "
     "--model @/nothing.dat", "@/nothing.dat: cannot open"},
};

/* Errors found while predicting: they need the model. */
static const cli_bad bad_model_cases[] = {
    {"landmarks --images @/bad --box 1,2,3,4 --save-raw @/o.npy", "@/bad/x.png"},
    {"filter --reference @/img --candidates @/bad --box 1,2,3,4 --max-nme 1 --report @/r.jsonl",
     "no reference image of that name"},
    {"filter --reference @/bad --candidates @/bad --box 1,2,3,4 --max-nme 1 --report @/r.jsonl",
     "@/bad/x.png"},
};

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void make_bad_inputs(const char *dir)
{
    sh("mkdir %s/img %s/empty %s/bad %s/cand2 && cp " LM "/noise_rgb.png %s/img/a.png && cp "
       LM "/noise_rgb.png %s/img/b.png && cp " LM "/noise_rgb.png %s/cand2/zz.png", dir, dir,
       dir, dir, dir, dir, dir);
    write_file(dir, "bad/x.png", "\x89PNG\r\n\x1a\n not really");
    write_file(dir, "boxes.json", "[{\"image\": \"a.png\", \"box\": [1, 2, 30, 40]}]");
    write_file(dir, "b_obj.json", "{\"image\": \"a.png\", \"box\": [1, 2, 30, 40]}");
    write_file(dir, "b_key.json", "[{\"image\": \"a.png\", \"box\": [1, 2, 30, 40], \"score\": 1}]");
    write_file(dir, "b_slash.json", "[{\"image\": \"../a.png\", \"box\": [1, 2, 30, 40]}]");
    write_file(dir, "b_real.json", "[{\"image\": \"a.png\", \"box\": [1, 2, 30.5, 40]}]");
    write_file(dir, "b_three.json", "[{\"image\": \"a.png\", \"box\": [1, 2, 30]}]");
    write_file(dir, "b_syntax.json", "[{\"image\": \"a.png\", \"box\": [1, 2, 30, 40]}");
    write_file(dir, "b_missing.json", "[{\"image\": \"a.png\", \"box\": [1, 2, 30, 40]}, "
                                      "{\"image\": \"zz.png\", \"box\": [1, 2, 30, 40]}]");
    write_file(dir, "b_twice.json", "[{\"image\": \"a.png\", \"box\": [1, 2, 30, 40]}, "
                                    "{\"image\": \"b.png\", \"box\": [1, 2, 30, 40]}, "
                                    "{\"image\": \"a.png\", \"box\": [1, 2, 30, 41]}]");
    write_file(dir, "b_one.json", "[{\"image\": \"a.png\", \"box\": [1, 2, 30, 40]}]");
}

static void expect_error(const cli_bad *c)
{
    char *dir = make_tmpdir();
    make_bad_inputs(dir);
    int before = count_entries(dir);
    char args[2048], needle[512], err[4096];
    expand(args, sizeof args, c->args, dir);
    expand(needle, sizeof needle, c->needle, dir);
    ck_assert_int_eq(run_cli(args, err, sizeof err, NULL, 0), 2);
    ck_assert_msg(strstr(err, needle) != NULL, "'%s': stderr '%s' lacks '%s'", args, err, needle);
    ck_assert_msg(cli_error_prefix_ok(args, err), "'%s': '%s' lacks the command's prefix", args,
                  err);
    char *nl = strchr(err, '\n');
    ck_assert_msg(nl && nl[1] == '\0', "'%s': not exactly one line: '%s'", args, err);
    /* nothing written, nothing removed */
    ck_assert_msg(count_entries(dir) == before, "'%s' left files in %s", args, dir);
    char p[512];
    snprintf(p, sizeof p, "%s/img", dir);
    ck_assert_int_eq(count_entries(p), 2);
    remove_tree(dir);
    free(dir);
}

START_TEST(test_cli_errors)
{
    expect_error(&bad_cases[_i]);
}
END_TEST

START_TEST(test_cli_model_errors)
{
    expect_error(&bad_model_cases[_i]);
}
END_TEST

START_TEST(test_help)
{
    char err[4096], out[256];
    ck_assert_int_eq(run_cli("landmarks --help", err, sizeof err, out, sizeof out), 0);
    char *t = slurp(out);
    unlink(out);
    ck_assert_ptr_nonnull(strstr(t, "floor(v + 0.5)"));
    ck_assert_ptr_nonnull(strstr(t, FS_DLIB_DEFAULT_MODEL));
    free(t);
    ck_assert_int_eq(run_cli("filter --help", err, sizeof err, out, sizeof out), 0);
    t = slurp(out);
    unlink(out);
    ck_assert_ptr_nonnull(strstr(t, "p_ref[45] - p_ref[36]"));
    free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_landmarks");
    TCase *bad = tcase_create("errors");
    tcase_add_loop_test(bad, test_cli_errors, 0, (int)(sizeof bad_cases / sizeof *bad_cases));
    tcase_add_test(bad, test_help);
    tcase_set_timeout(bad, 600);
    suite_add_tcase(s, bad);
    static const char *const model_cases[] = {"test_landmarks_boxes", "test_landmarks_one_box",
                                              "test_filter_scores", "test_filter_realism",
                                              "test_cli_model_errors"};
    if (access(model_path(), R_OK) == 0) {
        TCase *tc = tcase_create("dlib");
        tcase_add_test(tc, test_landmarks_boxes);
        tcase_add_test(tc, test_landmarks_one_box);
        tcase_add_test(tc, test_filter_scores);
        tcase_add_test(tc, test_filter_realism);
        tcase_add_loop_test(tc, test_cli_model_errors, 0,
                            (int)(sizeof bad_model_cases / sizeof *bad_model_cases));
        tcase_set_timeout(tc, 900); /* a few seconds idle; shared machines are slower */
        suite_add_tcase(s, tc);
    } else {
        for (size_t i = 0; i < sizeof model_cases / sizeof *model_cases; i++)
            printf("SKIP: cli_landmarks: %s: no dlib model at %s (install the Debian package "
                   "libdlib-data, or set FS_DLIB_MODEL)\n", model_cases[i], model_path());
    }
    return fs_check_run(s, "cli_landmarks");
}
