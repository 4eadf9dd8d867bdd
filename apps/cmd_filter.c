/* `facesynth filter`: the landmark-disagreement filter of augmented face
 * images (keep an edited image only when its landmarks still agree with the
 * original's, so that the original's label stays valid), optionally also a
 * StyleGAN2 discriminator's realism score and an identity network's cosine
 * between the candidate and its reference (identity_cli.h).
 *
 * Each candidate pairs with the reference image of the same file name. Its
 * score is the normalised RMSE of its 68 dlib landmarks against the
 * reference's (engine/landmarks.h fs_lm_nme: over the reference's
 * outer-eye-corner distance), from dlib's integer points unless --subpixel.
 * Both images use the reference's box. The report lists every candidate;
 * two more files list the kept and the rejected ones. No image is ever
 * moved, changed or deleted. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/file.h"
#include "../engine/image_io.h"
#include "../engine/progress.h"
#include "../engine/stylegan2.h"
#include "cli.h"
#include "identity_cli.h"
#include "landmarks_cli.h"

#define CMD "filter"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth filter --reference ORIG_DIR --candidates AUG_DIR\n"
            "                        (--boxes FILE.json | --box L,T,R,B|ffhq) --max-nme X\n"
            "                        --report FILE.jsonl [options]\n"
            "\n"
            "Scores each candidate image against the reference image of the same name by\n"
            "the disagreement of their dlib landmarks, and keeps it when the score is at\n"
            "most --max-nme (and, with --min-realism, when a StyleGAN2 discriminator finds\n"
            "it real enough; with --min-identity-cos, when an identity network finds the\n"
            "same person). Images are only read: nothing is moved or deleted.\n"
            "\n"
            "  nme = sqrt(mean over the 68 points of |p_ref - p_cand|^2) / |p_ref[45] - p_ref[36]|\n"
            "        (0-based points 36 and 45: the outer eye corners of the reference)\n"
            "\n"
            "      --reference DIR     the original images (*.png)\n"
            "      --candidates DIR    the augmented images (*.png); each needs a reference\n"
            "                          of the same file name\n"
            "%s"
            "                          (--boxes: the reference's entry, one per reference;\n"
            "                          the candidate is read in the same box)\n"
            "      --max-nme X         keep candidates with nme <= X (e.g. 0.05)\n"
            "      --subpixel          score the un-rounded landmarks, not dlib's integer\n"
            "                          points\n"
            "      --report FILE.jsonl one JSON line per candidate, in name order:\n"
            "                          {\"image\": NAME, \"nme\": SCORE, \"kept\": true|false}\n"
            "                          (with \"realism\": LOGIT and \"id_cos\": COSINE before\n"
            "                          \"kept\" when scored;\n"
            "                          nme null when the reference's eye corners coincide:\n"
            "                          rejected). Two more files get the kept and the\n"
            "                          rejected lines: FILE.kept.jsonl, FILE.rejected.jsonl\n"
            "                          (a .jsonl suffix of FILE is replaced)\n"
            "      --min-realism Y     also require the discriminator's logit >= Y\n"
            "      --discriminator D   an unconditional StyleGAN2 discriminator (.fsw or a\n"
            "                          network pickle) for --min-realism: logits as 'facesynth\n"
            "                          score --network D --images AUG_DIR' computes them (the\n"
            "                          candidates in name order, batches of its minibatch-std\n"
            "                          group); candidates must have its resolution\n"
            "      --min-identity-cos X  also require the cosine of the candidate's identity\n"
            "                          embedding with its reference's >= X (-1 to 1; a\n"
            "                          zero embedding gives null: rejected)\n"
            "      --identity-network ID a Light CNN-9 or ArcFace IR-SE-50 checkpoint or\n"
            "                          .fsw for --min-identity-cos, each image prepared as\n"
            "                          'facesynth embed' prepares it\n"            "      --threads N         worker threads (default 0: one per core)\n"
            "  -q, --quiet             no progress or summary on stderr\n"
            "  -h, --help              this text\n",
            lm_box_help);
}

typedef struct {
    const char *ref_dir, *cand_dir, *boxes_path, *model_path, *report, *disc;
    fs_lm_box box;
    int has_box, ffhq, subpixel, has_nme, has_realism, quiet;
    double max_nme, min_realism;
    long threads;
    char *kept_path, *rejected_path;
    const char *id_net;      /* --identity-network */
    double min_id_cos;
    int has_id_cos;
} filter_args;

typedef struct {
    char **refs, **cands;
    size_t n_refs, n_cands;
    size_t *ref_of;    /* [n_cands]: index into refs */
    fs_lm_box *box_of; /* [n_refs] */
    int *ref_used;     /* [n_refs]: row in the run, or -1 */
    lm_boxes boxes;
    fs_dlib_model *model;
    double *xy;        /* [rows][2P] */
    float *realism;    /* [n_cands] or NULL */
    double *nme;       /* [n_cands] */
    double *id_cos;    /* [n_cands] or NULL */
} filter_state;

static void state_free(filter_state *st)
{
    lm_names_free(st->refs, st->n_refs);
    lm_names_free(st->cands, st->n_cands);
    free(st->ref_of);
    free(st->box_of);
    free(st->ref_used);
    lm_boxes_free(&st->boxes);
    fs_dlib_model_free(st->model);
    free(st->xy);
    free(st->realism);
    free(st->nme);
    free(st->id_cos);
}

static int find_name(char **names, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(names[mid], name);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Lists both directories, pairs the candidates and finds each used
 * reference's box. */
static fs_status pair_up(const filter_args *a, filter_state *st)
{
    FS_TRY(lm_list_pngs(a->ref_dir, "--reference", &st->refs, &st->n_refs));
    FS_TRY(lm_list_pngs(a->cand_dir, "--candidates", &st->cands, &st->n_cands));
    if (st->n_refs > INT32_MAX || st->n_cands > INT32_MAX)
        return fs_error(FS_ERR_LIMIT, "more than 2^31 images");
    st->ref_of = malloc(st->n_cands * sizeof *st->ref_of);
    st->box_of = malloc(st->n_refs * sizeof *st->box_of);
    st->ref_used = malloc(st->n_refs * sizeof *st->ref_used);
    if (!st->ref_of || !st->box_of || !st->ref_used)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    for (size_t r = 0; r < st->n_refs; r++)
        st->ref_used[r] = -1;
    for (size_t i = 0; i < st->n_cands; i++) {
        if (!lm_valid_utf8(st->cands[i]))
            return fs_error(FS_ERR_ARG, "%s/%s: the file name is not valid UTF-8 (the report is "
                            "JSON): rename it", a->cand_dir, st->cands[i]);
        int r = find_name(st->refs, st->n_refs, st->cands[i]);
        if (r < 0)
            return fs_error(FS_ERR_ARG, "%s/%s: no reference image of that name in %s",
                            a->cand_dir, st->cands[i], a->ref_dir);
        st->ref_of[i] = (size_t)r;
        st->ref_used[r] = 0;
    }
    if (!a->boxes_path) {
        for (size_t r = 0; r < st->n_refs; r++)
            st->box_of[r] = a->box;
        return FS_OK;
    }
    FS_TRY(lm_boxes_read(a->boxes_path, &st->boxes));
    int *seen = calloc(st->n_refs, sizeof *seen);
    if (!seen)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    fs_status s = FS_OK;
    for (size_t k = 0; k < st->boxes.n && s == FS_OK; k++) {
        int r = find_name(st->refs, st->n_refs, st->boxes.e[k].image);
        if (r < 0)
            continue; /* boxes of other images: a boxes file may cover a larger set */
        if (seen[r]++)
            s = fs_error(FS_ERR_ARG, "%s: '%s' has more than one box: filter compares one face "
                         "per image", a->boxes_path, st->boxes.e[k].image);
        st->box_of[r] = st->boxes.e[k].box;
    }
    for (size_t r = 0; r < st->n_refs && s == FS_OK; r++)
        if (st->ref_used[r] == 0 && !seen[r])
            s = fs_error(FS_ERR_ARG, "%s: no box for the reference image '%s'", a->boxes_path,
                         st->refs[r]);
    free(seen);
    return s;
}

static void on_progress(void *ctx, uint64_t done)
{
    fs_progress_update(ctx, done);
}

/* Landmarks of every used reference and every candidate, in one threaded
 * run: rows 0 .. R-1 the references, then the candidates. */
static fs_status run_landmarks(const filter_args *a, filter_state *st)
{
    size_t rows = 0;
    for (size_t r = 0; r < st->n_refs; r++)
        if (st->ref_used[r] == 0)
            st->ref_used[r] = (int)rows++;
    size_t n_ref_rows = rows;
    rows += st->n_cands;
    size_t D = 2 * (size_t)st->model->num_parts;
    fs_lm_job *jobs = calloc(rows, sizeof *jobs);
    uint64_t *row_ix = malloc(rows * sizeof *row_ix);
    char **paths = calloc(rows, sizeof *paths);
    st->xy = malloc(rows * D * sizeof *st->xy);
    fs_status s = FS_OK;
    if (!jobs || !row_ix || !paths || !st->xy)
        s = fs_error(FS_ERR_NOMEM, "out of memory for %zu images", rows);
    for (size_t r = 0; r < st->n_refs && s == FS_OK; r++) {
        if (st->ref_used[r] < 0)
            continue;
        size_t k = (size_t)st->ref_used[r];
        row_ix[k] = k;
        if (!(paths[k] = lm_join(a->ref_dir, st->refs[r])))
            s = fs_error(FS_ERR_NOMEM, "out of memory");
        jobs[k] = (fs_lm_job){.path = paths[k], .n_boxes = 1, .boxes = &st->box_of[r],
                              .rows = &row_ix[k], .ffhq_box = a->ffhq};
    }
    for (size_t i = 0; i < st->n_cands && s == FS_OK; i++) {
        size_t k = n_ref_rows + i;
        row_ix[k] = k;
        if (!(paths[k] = lm_join(a->cand_dir, st->cands[i])))
            s = fs_error(FS_ERR_NOMEM, "out of memory");
        jobs[k] = (fs_lm_job){.path = paths[k], .n_boxes = 1, .boxes = &st->box_of[st->ref_of[i]],
                              .rows = &row_ix[k], .ffhq_box = a->ffhq};
    }
    if (s == FS_OK) {
        fs_progress prog = {0};
        fs_progress_start(&prog, stderr, a->quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO,
                          "faces", "faces/s", rows);
        fs_lm_run_args ra = {.model = st->model, .jobs = jobs, .n_jobs = rows,
                             .threads = (int)a->threads, .xy = st->xy, .progress = on_progress,
                             .progress_ctx = &prog};
        s = fs_lm_run(&ra);
        if (s == FS_OK)
            fs_progress_finish(&prog);
        else
            fs_progress_abort(&prog);
    }
    /* the scores */
    if (s == FS_OK && !(st->nme = malloc(st->n_cands * sizeof *st->nme)))
        s = fs_error(FS_ERR_NOMEM, "out of memory");
    double *ra = s == FS_OK ? malloc(2 * D * sizeof *ra) : NULL;
    if (s == FS_OK && !ra)
        s = fs_error(FS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < st->n_cands && s == FS_OK; i++) {
        const double *ref = st->xy + (size_t)st->ref_used[st->ref_of[i]] * D;
        const double *cand = st->xy + (n_ref_rows + i) * D;
        if (!a->subpixel) {
            /* dlib's integer points, as a dlib user would compare them */
            for (size_t j = 0; j < D; j++) {
                ra[j] = (double)fs_lm_round(ref[j]);
                ra[D + j] = (double)fs_lm_round(cand[j]);
            }
            ref = ra, cand = ra + D;
        }
        st->nme[i] = fs_lm_nme(ref, cand, st->model->num_parts);
    }
    free(ra);
    for (size_t k = 0; paths && k < rows; k++)
        free(paths[k]);
    free(paths);
    free(row_ix);
    free(jobs);
    return s;
}

/* The discriminator of --discriminator, opened and checked before any
 * landmark work so that a bad file fails at once. */
typedef struct {
    fs_weights *w;
    fs_backend *b;
    fs_sg2_discriminator *d;
} realism_net;

static void realism_close(realism_net *r)
{
    fs_sg2_discriminator_free(r->d);
    fs_backend_free(r->b);
    fs_weights_free(r->w);
    memset(r, 0, sizeof *r);
}

static fs_status realism_open(const filter_args *a, realism_net *r)
{
    FS_TRY(cli_open_network(a->disc, CLI_NET_DISCRIMINATOR, NULL, &r->w));
    if (fs_weights_family(r->w) != FS_FAMILY_STYLEGAN2_D)
        return fs_error(FS_ERR_ARG, "%s: --discriminator takes a StyleGAN2 discriminator",
                        a->disc);
    FS_TRY(cli_backend_open(a->threads, &r->b));
    FS_TRY(fs_sg2_discriminator_init(&r->d, r->w, r->b));
    const fs_sg2_config *cfg = fs_sg2_discriminator_config(r->d);
    if (cfg->c_dim > 0)
        return fs_error(FS_ERR_ARG, "%s: the discriminator is conditional (c_dim %lld): filter "
                        "takes an unconditional one", a->disc, (long long)cfg->c_dim);
    return FS_OK;
}

/* The discriminator's logits for the candidates, batched as `score` does. */
static fs_status run_realism(const filter_args *a, filter_state *st, realism_net *r)
{
    const fs_sg2_config *cfg = fs_sg2_discriminator_config(r->d);
    cli_images im = {0};
    float *img = NULL;
    fs_status s = cli_images_open(&im, a->cand_dir, (int)cfg->img_channels,
                                  (int)cfg->img_resolution, 0, "the discriminator");
    if (s == FS_OK && im.n != st->n_cands)
        s = fs_error(FS_ERR_IO, "%s: the directory changed while it was read", a->cand_dir);
    uint64_t n = st->n_cands, g = 0, B = 0;
    if (s == FS_OK) {
        g = cfg->mbstd_group_size > 0 ? (uint64_t)cfg->mbstd_group_size : n;
        B = g < n ? g : n;
        size_t len = (size_t)cfg->img_channels * cfg->img_resolution * cfg->img_resolution;
        img = malloc(B * len * sizeof *img);
        st->realism = malloc(n * sizeof *st->realism);
        if (!img || !st->realism)
            s = fs_error(FS_ERR_NOMEM, "out of memory for a batch of %llu images",
                         (unsigned long long)B);
    }
    fs_progress prog = {0};
    int started = s == FS_OK;
    if (started)
        fs_progress_start(&prog, stderr, a->quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO,
                          "images", "img/s", n);
    for (uint64_t i0 = 0; s == FS_OK && i0 < n; i0 += B) {
        int nb = (int)(n - i0 < B ? n - i0 : B);
        const float *x;
        s = cli_images_get(&im, i0, nb, img, &x);
        if (s == FS_OK)
            s = fs_sg2_discriminator_run(r->d, x, NULL, nb, st->realism + i0);
        if (s == FS_OK)
            fs_progress_update(&prog, i0 + (uint64_t)nb);
    }
    if (started && s == FS_OK)
        fs_progress_finish(&prog);
    else if (started)
        fs_progress_abort(&prog);
    free(img);
    cli_images_free(&im);
    return s;
}

static fs_status write_reports(const filter_args *a, const filter_state *st, size_t *kept_n)
{
    fs_out_file f[3] = {{0}};
    const char *paths[3] = {a->report, a->kept_path, a->rejected_path};
    fs_status s = FS_OK;
    for (int k = 0; k < 3 && s == FS_OK; k++)
        s = fs_out_file_open(paths[k], &f[k]);
    size_t cap = 6 * 4096 + 256;
    char *line = s == FS_OK ? malloc(cap) : NULL, *name = line ? malloc(cap) : NULL;
    if (s == FS_OK && (!line || !name))
        s = fs_error(FS_ERR_NOMEM, "out of memory");
    *kept_n = 0;
    for (size_t i = 0; i < st->n_cands && s == FS_OK; i++) {
        double nme = st->nme[i];
        int kept = isfinite(nme) && nme <= a->max_nme &&
                   (!st->realism || st->realism[i] >= a->min_realism) &&
                   (!st->id_cos || (isfinite(st->id_cos[i]) && st->id_cos[i] >= a->min_id_cos));
        lm_json_string(name, cap - 200, st->cands[i]);
        char num[40], real[128] = "";
        if (isfinite(nme))
            snprintf(num, sizeof num, "%.17g", nme);
        else
            snprintf(num, sizeof num, "null");
        if (st->realism)
            snprintf(real, sizeof real, ", \"realism\": %.9g", (double)st->realism[i]);
        if (st->id_cos && isfinite(st->id_cos[i]))
            snprintf(real + strlen(real), sizeof real - strlen(real), ", \"id_cos\": %.9g",
                     st->id_cos[i]);
        else if (st->id_cos)
            snprintf(real + strlen(real), sizeof real - strlen(real), ", \"id_cos\": null");
        int len = snprintf(line, cap, "{\"image\": %s, \"nme\": %s%s, \"kept\": %s}\n", name,
                           num, real, kept ? "true" : "false");
        s = fs_out_file_write(&f[0], line, (size_t)len);
        if (s == FS_OK)
            s = fs_out_file_write(&f[kept ? 1 : 2], line, (size_t)len);
        *kept_n += (size_t)kept;
    }
    free(line);
    free(name);
    for (int k = 0; k < 3; k++) {
        if (s == FS_OK)
            s = fs_out_file_commit(&f[k]);
        else
            fs_out_file_abort(&f[k]);
    }
    return s;
}

/* FILE.jsonl -> FILE.kept.jsonl (a .jsonl suffix replaced, else appended). */
static char *sibling(const char *report, const char *what)
{
    size_t n = strlen(report);
    if (n > 6 && !strcmp(report + n - 6, ".jsonl"))
        n -= 6;
    size_t cap = n + strlen(what) + 8;
    char *p = malloc(cap);
    if (p)
        snprintf(p, cap, "%.*s.%s.jsonl", (int)n, report, what);
    return p;
}

int cmd_filter(int argc, char **argv)
{
    enum { O_REF = 256, O_CAND, O_BOXES, O_BOX, O_MODEL, O_NME, O_REPORT, O_SUBPIXEL, O_REAL,
           O_DISC, O_THREADS, O_ID_NET, O_ID_COS };
    static const struct option opts[] = {
        {"reference", required_argument, 0, O_REF},
        {"candidates", required_argument, 0, O_CAND},
        {"boxes", required_argument, 0, O_BOXES},
        {"box", required_argument, 0, O_BOX},
        {"model", required_argument, 0, O_MODEL},
        {"max-nme", required_argument, 0, O_NME},
        {"report", required_argument, 0, O_REPORT},
        {"subpixel", no_argument, 0, O_SUBPIXEL},
        {"min-realism", required_argument, 0, O_REAL},
        {"discriminator", required_argument, 0, O_DISC},
        {"threads", required_argument, 0, O_THREADS},
        {"identity-network", required_argument, 0, O_ID_NET},
        {"min-identity-cos", required_argument, 0, O_ID_COS},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    filter_args a = {0};
    cli_getopt_state go;
    cli_getopt_init(&go);
    int c;
    while ((c = cli_getopt(&go, CMD, argc, argv, ":qh", opts)) != -1) {
        switch (c) {
        case CLI_OPT_ERROR: return FS_EXIT_FAILURE;
        case O_REF: a.ref_dir = optarg; break;
        case O_CAND: a.cand_dir = optarg; break;
        case O_BOXES: a.boxes_path = optarg; break;
        case O_MODEL: a.model_path = optarg; break;
        case O_REPORT: a.report = optarg; break;
        case O_DISC: a.disc = optarg; break;
        case O_ID_NET: a.id_net = optarg; break;
        case O_ID_COS:
            if (!cli_parse_double(optarg, &a.min_id_cos) || a.min_id_cos < -1 ||
                a.min_id_cos > 1)
                return cli_usage_error(CMD, "--min-identity-cos needs a number from -1 to 1, "
                                       "not '%s'", optarg);
            a.has_id_cos = 1;
            break;
        case O_SUBPIXEL: a.subpixel = 1; break;
        case O_BOX: {
            int rc = lm_parse_box_flag(CMD, optarg, &a.box, &a.ffhq);
            if (rc)
                return rc;
            a.has_box = 1;
            break;
        }
        case O_NME:
            if (!cli_parse_double(optarg, &a.max_nme) || a.max_nme < 0)
                return cli_usage_error(CMD, "--max-nme needs a number >= 0, not '%s'", optarg);
            a.has_nme = 1;
            break;
        case O_REAL:
            if (!cli_parse_double(optarg, &a.min_realism))
                return cli_usage_error(CMD, "--min-realism needs a number, not '%s'", optarg);
            a.has_realism = 1;
            break;
        case O_THREADS: {
            int rc = cli_threads_option(CMD, optarg, &a.threads);
            if (rc)
                return rc;
            break;
        }
        case 'q': a.quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!a.ref_dir)
        return cli_usage_error(CMD, "missing --reference DIR");
    if (!a.cand_dir)
        return cli_usage_error(CMD, "missing --candidates DIR");
    if (!a.boxes_path && !a.has_box)
        return cli_usage_error(CMD, "missing the faces: give --boxes FILE.json or --box L,T,R,B");
    if (a.boxes_path && a.has_box)
        return cli_usage_error(CMD, "--boxes and --box are mutually exclusive");
    if (!a.has_nme)
        return cli_usage_error(CMD, "missing --max-nme X");
    if (!a.report)
        return cli_usage_error(CMD, "missing --report FILE.jsonl");
    if (a.has_realism != (a.disc != NULL))
        return cli_usage_error(CMD, "%s needs %s", a.has_realism ? "--min-realism" :
                               "--discriminator", a.has_realism ? "--discriminator D" :
                               "--min-realism Y");
    if (a.has_id_cos != (a.id_net != NULL))
        return cli_usage_error(CMD, "%s needs %s", a.has_id_cos ? "--min-identity-cos" :
                               "--identity-network", a.has_id_cos ? "--identity-network ID" :
                               "--min-identity-cos X");
    if (a.model_path && !*a.model_path)
        return cli_usage_error(CMD, "--model is empty");
    int rc = cli_check_output(CMD, "--report", a.report);
    if (rc)
        return rc;
    a.kept_path = sibling(a.report, "kept");
    a.rejected_path = sibling(a.report, "rejected");
    if (!a.kept_path || !a.rejected_path) {
        free(a.kept_path), free(a.rejected_path);
        return cli_fail(fs_error(FS_ERR_NOMEM, "out of memory"));
    }
    rc = cli_check_output(CMD, "--report", a.kept_path);
    if (!rc)
        rc = cli_check_output(CMD, "--report", a.rejected_path);
    filter_state st = {0};
    realism_net rn = {0};
    cli_identity id = {0};
    fs_status s = FS_OK;
    if (!rc) {
        s = pair_up(&a, &st);
        if (s == FS_OK && a.disc)
            s = realism_open(&a, &rn);
        if (s == FS_OK && a.id_net)
            s = cli_identity_open(a.id_net, NULL, a.threads, &id);
        if (s == FS_OK)
            s = lm_model_open(a.model_path, &st.model);
        if (s == FS_OK && st.model->num_parts != 68)
            s = fs_error(FS_ERR_ARG, "%s: a model of %d parts: the score needs the 68-point "
                         "layout (eye corners 36 and 45)", a.model_path ? a.model_path
                         : FS_DLIB_DEFAULT_MODEL, st.model->num_parts);
        if (s == FS_OK)
            s = run_landmarks(&a, &st);
        if (s == FS_OK && a.disc)
            s = run_realism(&a, &st, &rn);
        if (s == FS_OK && a.id_net && !(st.id_cos = malloc(st.n_cands * sizeof *st.id_cos)))
            s = fs_error(FS_ERR_NOMEM, "out of memory");
        if (s == FS_OK && a.id_net)
            s = cli_identity_pair_cosines(&id, a.ref_dir, st.refs, st.n_refs, a.cand_dir,
                                          st.cands, st.ref_of, st.n_cands, a.quiet, st.id_cos);
        size_t kept = 0;
        if (s == FS_OK) {
            cli_clean_stale_output(a.report);
            cli_clean_stale_output(a.kept_path);
            cli_clean_stale_output(a.rejected_path);
            s = write_reports(&a, &st, &kept);
        }
        if (s == FS_OK && !a.quiet)
            fprintf(stderr, "facesynth filter: kept %zu of %zu candidates (nme <= %g%s%s)\n",
                    kept, st.n_cands, a.max_nme, a.disc ? ", realism above the minimum" : "",
                    a.id_net ? ", identity cosine above the minimum" : "");
        rc = s == FS_OK ? 0 : cli_fail(s);
    }
    realism_close(&rn);
    cli_identity_close(&id);
    state_free(&st);
    free(a.kept_path);
    free(a.rejected_path);
    return rc;
}
