/* `facesynth landmarks`: dlib's 68 face landmarks for boxes in PNG images,
 * written un-rounded as float32 [K, P, 2] (engine/landmarks.h computes them
 * exactly as dlib does; docs/landmarks.md). Also the pieces `filter`
 * shares (landmarks_cli.h): boxes.json, --box, --model, PNG listings. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../engine/file.h"
#include "../engine/image_io.h"
#include "../engine/progress.h"
#include "../weights_tools/json.h"
#include "../weights_tools/npy.h"
#include "cli.h"
#include "landmarks_cli.h"

#define CMD "landmarks"

/* ---- shared with filter -------------------------------------------------------- */

const char lm_box_help[] =
    "      --boxes FILE.json   face boxes: [{\"image\": NAME, \"box\": [left, top, right,\n"
    "                          bottom]}, ...], dlib rectangles (right and bottom\n"
    "                          inclusive; a box may reach past the image); NAME is a\n"
    "                          file in the image directory\n"
    "      --box L,T,R,B       one box for every image (aligned crops share one)\n"
    "      --box ffhq          the box for FFHQ-style aligned crops, scaled to each\n"
    "                          image: round(w * 0.19584), round(h * 0.28173),\n"
    "                          round(w * 0.80414), round(h * 0.89003), i.e.\n"
    "                          [201, 288, 823, 911] at 1024 x 1024 (docs/landmarks.md)\n"
    "      --model FILE        dlib shape predictor (default: the 68-point model of\n"
    "                          Debian's libdlib-data, " FS_DLIB_DEFAULT_MODEL ")\n";

char *lm_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void lm_boxes_free(lm_boxes *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->e[i].image);
    free(b->e);
    memset(b, 0, sizeof *b);
}

static fs_status entry_error(const char *path, size_t i, const fs_json *v, const char *what)
{
    return fs_error(FS_ERR_FORMAT, "%s: entry %zu (offset %llu): %s", path, i,
                    (unsigned long long)v->offset, what);
}

static fs_status parse_entry(const char *path, size_t i, const fs_json *v, lm_box_entry *e)
{
    if (v->type != FS_JSON_OBJECT)
        return entry_error(path, i, v, "not an object {\"image\": NAME, \"box\": [l, t, r, b]}");
    for (size_t k = 0; k < v->u.object.count; k++) {
        const char *key = v->u.object.members[k].key;
        if (strcmp(key, "image") && strcmp(key, "box")) {
            char m[160];
            snprintf(m, sizeof m, "unknown key '%.64s' (an entry has \"image\" and \"box\")", key);
            return entry_error(path, i, v, m);
        }
    }
    const fs_json *im = fs_json_get(v, "image"), *bx = fs_json_get(v, "box");
    if (!im || !bx)
        return entry_error(path, i, v, im ? "no \"box\"" : "no \"image\"");
    if (im->type != FS_JSON_STRING || im->u.string.len == 0 ||
        strlen(im->u.string.chars) != im->u.string.len || strchr(im->u.string.chars, '/') ||
        !strcmp(im->u.string.chars, ".") || !strcmp(im->u.string.chars, ".."))
        return entry_error(path, i, im, "\"image\" must be a file name in the image directory "
                                        "(no '/')");
    if (bx->type != FS_JSON_ARRAY || bx->u.array.count != 4)
        return entry_error(path, i, bx, "\"box\" must be 4 integers [left, top, right, bottom]");
    int64_t c[4];
    for (int k = 0; k < 4; k++) {
        const fs_json *x = &bx->u.array.items[k];
        if (x->type != FS_JSON_INT)
            return entry_error(path, i, x, "\"box\" must be 4 integers [left, top, right, "
                                           "bottom] (dlib boxes are whole pixels)");
        c[k] = x->u.integer;
    }
    e->box = (fs_lm_box){.left = c[0], .top = c[1], .right = c[2], .bottom = c[3]};
    if (fs_lm_box_check(&e->box) != FS_OK) {
        char m[300];
        snprintf(m, sizeof m, "%s", fs_error_message());
        return entry_error(path, i, bx, m);
    }
    if (!(e->image = strdup(im->u.string.chars)))
        return fs_error(FS_ERR_NOMEM, "out of memory");
    return FS_OK;
}

fs_status lm_boxes_read(const char *path, lm_boxes *out)
{
    memset(out, 0, sizeof *out);
    fs_file_map fm;
    FS_TRY(fs_file_map_open(path, &fm));
    if (fm.size > LM_BOXES_MAX_BYTES) {
        fs_file_map_close(&fm);
        return fs_error(FS_ERR_LIMIT, "%s: %zu bytes: a boxes file may have at most %u MiB", path,
                        fm.size, LM_BOXES_MAX_BYTES >> 20);
    }
    fs_json *j = NULL;
    fs_status s = fs_json_parse(fm.data, fm.size, path, 0, &j);
    fs_file_map_close(&fm);
    if (s != FS_OK)
        return s;
    if (j->type != FS_JSON_ARRAY || j->u.array.count == 0)
        s = fs_error(FS_ERR_FORMAT, "%s: expected a non-empty JSON array of {\"image\": NAME, "
                     "\"box\": [left, top, right, bottom]}", path);
    else if (!(out->e = calloc(j->u.array.count, sizeof *out->e)))
        s = fs_error(FS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; s == FS_OK && i < j->u.array.count; i++) {
        s = parse_entry(path, i, &j->u.array.items[i], &out->e[i]);
        if (s == FS_OK)
            out->n = i + 1;
    }
    fs_json_free(j);
    if (s != FS_OK)
        lm_boxes_free(out);
    return s;
}

int lm_parse_box_flag(const char *cmd, const char *arg, fs_lm_box *box, int *ffhq)
{
    *ffhq = 0;
    if (!strcmp(arg, "ffhq")) {
        *ffhq = 1;
        return 0;
    }
    long long v[4];
    int n = -1;
    if (sscanf(arg, "%lld,%lld,%lld,%lld%n", &v[0], &v[1], &v[2], &v[3], &n) != 4 ||
        n != (int)strlen(arg))
        return cli_usage_error(cmd, "--box needs L,T,R,B (four integers) or ffhq, not '%s'", arg);
    *box = (fs_lm_box){.left = v[0], .top = v[1], .right = v[2], .bottom = v[3]};
    if (fs_lm_box_check(box) != FS_OK)
        return cli_usage_error(cmd, "--box: %s", fs_error_message());
    return 0;
}

fs_status lm_model_open(const char *path, fs_dlib_model **out)
{
    const char *p = path ? path : FS_DLIB_DEFAULT_MODEL;
    fs_status s = fs_dlib_model_load(p, out);
    if (s == FS_ERR_IO && !path) {
        char m[512];
        snprintf(m, sizeof m, "%s", fs_error_message());
        return fs_error(s, "%s (the default --model: install the Debian package libdlib-data, or "
                        "give --model FILE)", m);
    }
    return s;
}

void lm_names_free(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

fs_status lm_list_pngs(const char *dir, const char *flag, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    struct stat st;
    if (stat(dir, &st) != 0)
        return fs_error(FS_ERR_IO, "%s: %s: %s", dir, flag, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return fs_error(FS_ERR_ARG, "%s: %s takes a directory of PNG files", dir, flag);
    DIR *d = opendir(dir);
    if (!d)
        return fs_error(FS_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    char **v = NULL;
    size_t cap = 0, k = 0;
    fs_status s = FS_OK;
    struct dirent *e;
    while (s == FS_OK && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= 4 || strcasecmp(e->d_name + len - 4, ".png"))
            continue;
        if (k == cap) {
            cap = cap ? 2 * cap : 64;
            char **t = realloc(v, cap * sizeof *t);
            if (!t) {
                s = fs_error(FS_ERR_NOMEM, "out of memory");
                break;
            }
            v = t;
        }
        if (!(v[k] = strdup(e->d_name)))
            s = fs_error(FS_ERR_NOMEM, "out of memory");
        else
            k++;
    }
    closedir(d);
    if (s == FS_OK && k == 0)
        s = fs_error(FS_ERR_ARG, "%s: no .png files in the directory (%s)", dir, flag);
    if (s != FS_OK) {
        lm_names_free(v, k);
        return s;
    }
    qsort(v, k, sizeof *v, cli_str_cmp);
    *names = v;
    *n = k;
    return FS_OK;
}

int lm_valid_utf8(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s, n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2
                                         : (c >> 3) == 30 ? 3 : 9;
        if (n == 9 || (n == 1 && c < 0xc2) || (n == 3 && c > 0xf4))
            return 0;
        uint32_t cp = n == 0 ? c : c & (0x3fu >> n);
        for (unsigned k = 1; k <= n; k++) { /* a NUL stops here: it is not 10xxxxxx */
            if ((s[k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[k] & 0x3fu);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        s += n + 1;
    }
    return 1;
}

void lm_json_string(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    dst[n++] = '"';
    for (; *s && n + 8 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            dst[n++] = '\\', dst[n++] = (char)c;
        else if (c < 0x20)
            n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", c);
        else
            dst[n++] = (char)c;
    }
    dst[n++] = '"';
    dst[n] = '\0';
}

/* ---- the command ------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth landmarks --images DIR (--boxes FILE.json | --box L,T,R,B|ffhq)\n"
            "                           --save-raw FILE.npy [options]\n"
            "\n"
            "Finds the facial landmarks of each face box with a dlib shape predictor,\n"
            "computed exactly as dlib 19.24 computes them, and writes them un-rounded.\n"
            "\n"
            "      --images DIR        PNG files (*.png, not hidden; gray and palette\n"
            "                          expanded, alpha dropped; at most %d x %d), read as\n"
            "                          dlib reads RGB: intensity (r + g + b) / 3, truncated\n"
            "%s"
            "      --save-raw FILE.npy the landmarks as float32 [K, P, 2] (P = 68): one row\n"
            "                          per box (--boxes: in file order; --box: one per image,\n"
            "                          images sorted by name), (x, y) in pixels with pixel\n"
            "                          centres at whole numbers, before dlib's rounding:\n"
            "                          dlib's integer points are floor(v + 0.5) of the\n"
            "                          un-rounded values (computed in double; the float32\n"
            "                          file can differ where a value lies within float32\n"
            "                          rounding of a half)\n"
            "      --threads N         worker threads, each on one image at a time (default\n"
            "                          0: one per core)\n"
            "  -q, --quiet             no progress or summary on stderr\n"
            "  -h, --help              this text\n",
            FS_PNG_MAX_DIM, FS_PNG_MAX_DIM, lm_box_help);
}

typedef struct {
    const char *images, *boxes_path, *model_path, *raw_path;
    fs_lm_box box;
    int has_box, ffhq, quiet;
    long threads;
} lm_args;

static void on_progress(void *ctx, uint64_t done)
{
    fs_progress_update(ctx, done);
}

/* The jobs: one per distinct image, each with its boxes' rows. */
typedef struct {
    fs_lm_job *jobs;
    size_t n_jobs;
    char **paths;
    fs_lm_box *boxes;
    uint64_t *rows;
    uint64_t n_rows;
} lm_plan;

static void plan_free(lm_plan *p)
{
    for (size_t i = 0; p->paths && i < p->n_jobs; i++)
        free(p->paths[i]);
    free(p->paths);
    free(p->jobs);
    free(p->boxes);
    free(p->rows);
    memset(p, 0, sizeof *p);
}

typedef struct {
    const char *name;
    size_t entry;
} name_ix;

static int name_ix_cmp(const void *a, const void *b)
{
    const name_ix *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->entry > y->entry) - (x->entry < y->entry);
}

/* --boxes: the entries grouped by image, images in the order they first
 * appear, each image's boxes in file order. */
static fs_status plan_from_boxes(const char *dir, const lm_boxes *b, lm_plan *p)
{
    size_t n = b->n;
    name_ix *ix = malloc(n * sizeof *ix);
    size_t *job_of = malloc(n * sizeof *job_of);
    p->boxes = malloc(n * sizeof *p->boxes);
    p->rows = malloc(n * sizeof *p->rows);
    p->jobs = calloc(n, sizeof *p->jobs);
    p->paths = calloc(n, sizeof *p->paths);
    fs_status s = FS_OK;
    if (!ix || !job_of || !p->boxes || !p->rows || !p->jobs || !p->paths)
        s = fs_error(FS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; s == FS_OK && i < n; i++)
        ix[i] = (name_ix){.name = b->e[i].image, .entry = i};
    if (s == FS_OK) {
        /* each entry's job is its image's first entry's */
        qsort(ix, n, sizeof *ix, name_ix_cmp);
        size_t first = 0;
        for (size_t i = 0; i < n; i++) {
            if (i == 0 || strcmp(ix[i].name, ix[i - 1].name))
                first = ix[i].entry;
            job_of[ix[i].entry] = first;
        }
        /* jobs numbered in first-appearance order; boxes laid out job by job */
        size_t *count = calloc(n, sizeof *count), *start = calloc(n, sizeof *start);
        size_t *jid = calloc(n, sizeof *jid);
        if (!count || !start || !jid)
            s = fs_error(FS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; s == FS_OK && i < n; i++) {
            if (job_of[i] == i)
                jid[i] = p->n_jobs++;
            count[jid[job_of[i]]]++;
        }
        for (size_t j = 1; s == FS_OK && j < p->n_jobs; j++)
            start[j] = start[j - 1] + count[j - 1];
        for (size_t j = 0; s == FS_OK && j < p->n_jobs; j++)
            count[j] = 0;
        for (size_t i = 0; s == FS_OK && i < n; i++) {
            size_t j = jid[job_of[i]], at = start[j] + count[j]++;
            p->boxes[at] = b->e[i].box;
            p->rows[at] = i;
            if (job_of[i] == i) {
                if (!(p->paths[j] = lm_join(dir, b->e[i].image)))
                    s = fs_error(FS_ERR_NOMEM, "out of memory");
                p->jobs[j] = (fs_lm_job){.path = p->paths[j], .boxes = p->boxes + start[j],
                                         .rows = p->rows + start[j]};
            }
        }
        for (size_t j = 0; s == FS_OK && j < p->n_jobs; j++)
            p->jobs[j].n_boxes = count[j];
        /* a missing image fails now, before the model is read */
        struct stat st;
        for (size_t j = 0; s == FS_OK && j < p->n_jobs; j++)
            if (stat(p->paths[j], &st) != 0)
                s = fs_error(FS_ERR_IO, "%s: cannot open: %s", p->paths[j], strerror(errno));
        free(count), free(start), free(jid);
    }
    p->n_rows = n;
    free(ix);
    free(job_of);
    return s;
}

/* --box: one job per PNG of dir, in name order. */
static fs_status plan_from_dir(const char *dir, const fs_lm_box *box, int ffhq, lm_plan *p)
{
    char **names;
    size_t n;
    FS_TRY(lm_list_pngs(dir, "--images", &names, &n));
    p->boxes = malloc(sizeof *p->boxes);
    p->rows = malloc(n * sizeof *p->rows);
    p->jobs = calloc(n, sizeof *p->jobs);
    p->paths = calloc(n, sizeof *p->paths);
    fs_status s = FS_OK;
    if (!p->boxes || !p->rows || !p->jobs || !p->paths)
        s = fs_error(FS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; s == FS_OK && i < n; i++) {
        if (!(p->paths[i] = lm_join(dir, names[i]))) {
            s = fs_error(FS_ERR_NOMEM, "out of memory");
            break;
        }
        p->rows[i] = i;
        p->jobs[i] = (fs_lm_job){.path = p->paths[i], .n_boxes = 1, .boxes = p->boxes,
                                 .rows = &p->rows[i], .ffhq_box = ffhq};
        p->n_jobs = i + 1;
    }
    if (s == FS_OK) {
        p->boxes[0] = *box;
        p->n_rows = n;
    }
    lm_names_free(names, n);
    return s;
}

static fs_status run(const lm_args *a)
{
    lm_plan plan = {0};
    lm_boxes boxes = {0};
    fs_dlib_model *m = NULL;
    double *xy = NULL;
    float *out = NULL;
    fs_status s;
    if (a->boxes_path) {
        s = lm_boxes_read(a->boxes_path, &boxes);
        if (s == FS_OK) {
            struct stat st;
            if (stat(a->images, &st) != 0 || !S_ISDIR(st.st_mode))
                s = fs_error(FS_ERR_ARG, "%s: --images takes a directory of PNG files",
                             a->images);
        }
        if (s == FS_OK)
            s = plan_from_boxes(a->images, &boxes, &plan);
    } else {
        s = plan_from_dir(a->images, &a->box, a->ffhq, &plan);
    }
    if (s == FS_OK)
        s = lm_model_open(a->model_path, &m);
    size_t D = m ? 2 * (size_t)m->num_parts : 0;
    if (s == FS_OK && (!(xy = calloc(plan.n_rows * D, sizeof *xy)) ||
                       !(out = malloc(plan.n_rows * D * sizeof *out))))
        s = fs_error(FS_ERR_NOMEM, "out of memory for %llu faces",
                     (unsigned long long)plan.n_rows);
    if (s == FS_OK) {
        cli_clean_stale_output(a->raw_path);
        fs_progress prog = {0};
        fs_progress_start(&prog, stderr, a->quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO,
                          "faces", "faces/s", plan.n_rows);
        fs_lm_run_args ra = {.model = m, .jobs = plan.jobs, .n_jobs = plan.n_jobs,
                             .threads = (int)a->threads, .xy = xy, .progress = on_progress,
                             .progress_ctx = &prog};
        s = fs_lm_run(&ra);
        if (s == FS_OK) {
            for (size_t i = 0; i < plan.n_rows * D; i++)
                out[i] = (float)xy[i];
            int64_t shape[3] = {(int64_t)plan.n_rows, m->num_parts, 2};
            s = fs_npy_write(a->raw_path, FS_DTYPE_F32, 3, shape, out);
        }
        if (s == FS_OK)
            fs_progress_finish(&prog);
        else
            fs_progress_abort(&prog);
    }
    free(out);
    free(xy);
    fs_dlib_model_free(m);
    lm_boxes_free(&boxes);
    plan_free(&plan);
    return s;
}

int cmd_landmarks(int argc, char **argv)
{
    enum { O_IMAGES = 256, O_BOXES, O_BOX, O_MODEL, O_RAW, O_THREADS };
    static const struct option opts[] = {
        {"images", required_argument, 0, O_IMAGES}, {"boxes", required_argument, 0, O_BOXES},
        {"box", required_argument, 0, O_BOX},       {"model", required_argument, 0, O_MODEL},
        {"save-raw", required_argument, 0, O_RAW},  {"threads", required_argument, 0, O_THREADS},
        {"quiet", no_argument, 0, 'q'},             {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    lm_args a = {0};
    cli_getopt_state go;
    cli_getopt_init(&go);
    int c;
    while ((c = cli_getopt(&go, CMD, argc, argv, ":qh", opts)) != -1) {
        switch (c) {
        case CLI_OPT_ERROR: return FS_EXIT_FAILURE;
        case O_IMAGES: a.images = optarg; break;
        case O_BOXES: a.boxes_path = optarg; break;
        case O_MODEL: a.model_path = optarg; break;
        case O_RAW: a.raw_path = optarg; break;
        case O_BOX: {
            int rc = lm_parse_box_flag(CMD, optarg, &a.box, &a.ffhq);
            if (rc)
                return rc;
            a.has_box = 1;
            break;
        }
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
    if (!a.images)
        return cli_usage_error(CMD, "missing --images DIR");
    if (!a.boxes_path && !a.has_box)
        return cli_usage_error(CMD, "missing the faces: give --boxes FILE.json or --box L,T,R,B");
    if (a.boxes_path && a.has_box)
        return cli_usage_error(CMD, "--boxes and --box are mutually exclusive");
    if (!a.raw_path)
        return cli_usage_error(CMD, "missing --save-raw FILE.npy");
    if (a.model_path && !*a.model_path)
        return cli_usage_error(CMD, "--model is empty");
    int rc = cli_check_output(CMD, "--save-raw", a.raw_path);
    if (rc)
        return rc;
    fs_status s = run(&a);
    return s == FS_OK ? 0 : cli_fail(s);
}
