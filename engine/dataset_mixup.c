/* Domain mixup (dataset.h fs_mixup_*, `facesynth mixup`): synthetic faces
 * blended pixel-wise with real ones, as SynFace does, with soft labels over
 * both sets' classes.
 *
 * Each set is a directory: an ImageFolder tree (one subdirectory per class,
 * sorted by name) or one flat directory (a single class); where the
 * directory holds a dataset.json (stylegan2-ada's, or `facesynth dataset`'s),
 * its labels (class ids or soft vectors) are used instead. Images (*.png,
 * *.jpg, *.jpeg, any case, not hidden) are taken in the strcmp order of
 * their paths relative to the set.
 *
 * Synthetic image j is paired with real image k and weight phi drawn from
 * RandomState(fs_ds_seed32(seed, DOMAIN, j, 0)): k = floor(random_sample()
 * Nr), then phi = the fixed weight or beta(a, b). The output is
 * blend(synthetic, real, phi) by the backend's blend op (backend.h), its
 * label phi * label_synthetic ++ (1 - phi) * label_real over the
 * synthetic classes followed by the real ones (float32). Every image of
 * both sets must have one size, checked from the file headers before
 * anything is written. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../weights_tools/json.h"
#include "dataset_internal.h"
#include "file.h"
#include "image_io.h"
#include "image_jpeg.h"

#define MIXUP_MAX_CLASSES (1 << 24)

typedef struct {
    char *rel;      /* path relative to the set */
    int cls;        /* class id, or -1 with a vector */
    float *vec;     /* [n_classes] soft label, or NULL */
} mix_image;

typedef struct {
    const char *dir, *what; /* "--synthetic" */
    mix_image *im;
    size_t n, cap;
    int n_classes;
    char **class_names; /* [n_classes] */
    int w, h;
} mix_set;

struct fs_mixup {
    fs_mixup_args a;
    mix_set syn, real;
    char **out_rel; /* [syn.n]: output paths relative to OUT */
};

/* ---- listing ---------------------------------------------------------------------- */

static int is_image_name(const char *s)
{
    if (s[0] == '.')
        return 0;
    const char *dot = strrchr(s, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") ||
                   !strcasecmp(dot, ".jpeg"));
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int image_cmp(const void *a, const void *b)
{
    return strcmp(((const mix_image *)a)->rel, ((const mix_image *)b)->rel);
}

static fs_status set_add(mix_set *s, char *rel, int cls)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        mix_image *p = realloc(s->im, cap * sizeof *p);
        if (!p) {
            free(rel);
            return fs_error(FS_ERR_NOMEM, "%s: out of memory", s->dir);
        }
        s->im = p;
        s->cap = cap;
    }
    s->im[s->n++] = (mix_image){.rel = rel, .cls = cls};
    return FS_OK;
}

/* Sorted names in dir: images (dirs 0) or subdirectories (dirs 1). */
static fs_status list_dir(const char *dir, int dirs, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *dp = opendir(dir);
    if (!dp)
        return fs_error(FS_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    char **v = NULL;
    size_t cap = 0;
    struct dirent *e;
    fs_status s = FS_OK;
    while (s == FS_OK && (e = readdir(dp))) {
        if (e->d_name[0] == '.')
            continue;
        struct stat st;
        if (fstatat(dirfd(dp), e->d_name, &st, 0) != 0)
            continue;
        if (dirs ? !S_ISDIR(st.st_mode) : !(S_ISREG(st.st_mode) && is_image_name(e->d_name)))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            char **p = realloc(v, cap * sizeof *p);
            if (!p) {
                s = fs_error(FS_ERR_NOMEM, "%s: out of memory", dir);
                break;
            }
            v = p;
        }
        if (!(v[*n] = strdup(e->d_name)))
            s = fs_error(FS_ERR_NOMEM, "%s: out of memory", dir);
        else
            (*n)++;
    }
    closedir(dp);
    if (s != FS_OK) {
        for (size_t i = 0; i < *n; i++)
            free(v[i]);
        free(v);
        *n = 0;
        return s;
    }
    if (*n)
        qsort(v, *n, sizeof *v, str_cmp);
    *out = v;
    return FS_OK;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static char *join(const char *a, const char *b)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", a, b) < 0)
        return NULL;
    return p;
}

/* Labels from DIR/dataset.json: {"labels": [[path, id | [floats]], ...]}. */
static fs_status read_labels_json(mix_set *s, const char *path)
{
    fs_file_map m;
    FS_TRY(fs_file_map_open(path, &m));
    fs_json *o = NULL;
    fs_status st = fs_json_parse(m.data ? m.data : (const uint8_t *)"", m.size, path, 0, &o);
    fs_file_map_close(&m);
    if (st != FS_OK)
        return st;
    const fs_json *labels = o->type == FS_JSON_OBJECT ? fs_json_get(o, "labels") : NULL;
    if (!labels || labels->type != FS_JSON_ARRAY) {
        fs_json_free(o);
        return fs_error(FS_ERR_FORMAT, "%s: no \"labels\" array", path);
    }
    int vec_len = -1, max_id = -1;
    for (size_t i = 0; i < labels->u.array.count && st == FS_OK; i++) {
        const fs_json *it = &labels->u.array.items[i];
        const fs_json *name = it->type == FS_JSON_ARRAY && it->u.array.count == 2
                                  ? &it->u.array.items[0] : NULL;
        const fs_json *lab = name ? &it->u.array.items[1] : NULL;
        if (!name || name->type != FS_JSON_STRING ||
            (lab->type != FS_JSON_INT && lab->type != FS_JSON_ARRAY)) {
            st = fs_error(FS_ERR_FORMAT, "%s: labels item %zu is not [path, class id or vector]",
                          path, i);
            break;
        }
        if (!is_image_name(strrchr(name->u.string.chars, '/') ? strrchr(name->u.string.chars, '/') + 1
                                                                : name->u.string.chars) ||
            strstr(name->u.string.chars, "..") || name->u.string.chars[0] == '/') {
            st = fs_error(FS_ERR_FORMAT, "%s: labels item %zu: '%s' is not an image path inside "
                          "the set", path, i, name->u.string.chars);
            break;
        }
        char *rel = strdup(name->u.string.chars);
        if (!rel || (st = set_add(s, rel, -1)) != FS_OK) {
            if (!rel)
                st = fs_error(FS_ERR_NOMEM, "out of memory");
            break;
        }
        mix_image *mi = &s->im[s->n - 1];
        if (lab->type == FS_JSON_INT) {
            if (vec_len >= 0 || lab->u.integer < 0 || lab->u.integer >= MIXUP_MAX_CLASSES) {
                st = fs_error(FS_ERR_FORMAT, "%s: labels item %zu: class ids and vectors are "
                              "mixed, or the id is outside [0, %d)", path, i, MIXUP_MAX_CLASSES);
                break;
            }
            mi->cls = (int)lab->u.integer;
            max_id = mi->cls > max_id ? mi->cls : max_id;
        } else {
            size_t n = lab->u.array.count;
            if (max_id >= 0 || n == 0 || n > MIXUP_MAX_CLASSES ||
                (vec_len >= 0 && (size_t)vec_len != n)) {
                st = fs_error(FS_ERR_FORMAT, "%s: labels item %zu: the vectors differ in length, "
                              "or are mixed with class ids", path, i);
                break;
            }
            vec_len = (int)n;
            if (!(mi->vec = malloc(n * sizeof *mi->vec))) {
                st = fs_error(FS_ERR_NOMEM, "out of memory");
                break;
            }
            for (size_t q = 0; q < n && st == FS_OK; q++) {
                const fs_json *v = &lab->u.array.items[q];
                if (v->type == FS_JSON_INT)
                    mi->vec[q] = (float)v->u.integer;
                else if (v->type == FS_JSON_REAL)
                    mi->vec[q] = (float)v->u.real;
                else
                    st = fs_error(FS_ERR_FORMAT, "%s: labels item %zu: a vector value is not a "
                                  "number", path, i);
            }
        }
    }
    fs_json_free(o);
    if (st != FS_OK)
        return st;
    if (s->n == 0)
        return fs_error(FS_ERR_FORMAT, "%s: no labels", path);
    s->n_classes = vec_len >= 0 ? vec_len : max_id + 1;
    return FS_OK;
}

static fs_status set_class_names_numeric(mix_set *s)
{
    if (!(s->class_names = calloc((size_t)s->n_classes, sizeof *s->class_names)))
        return fs_error(FS_ERR_NOMEM, "out of memory");
    for (int c = 0; c < s->n_classes; c++)
        if (asprintf(&s->class_names[c], "%d", c) < 0) {
            s->class_names[c] = NULL;
            return fs_error(FS_ERR_NOMEM, "out of memory");
        }
    return FS_OK;
}

static fs_status set_open(mix_set *s, const char *dir, const char *what)
{
    memset(s, 0, sizeof *s);
    s->dir = dir;
    s->what = what;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return fs_error(FS_ERR_IO, "%s %s: not a directory", what, dir);
    char *lp = join(dir, "dataset.json");
    if (!lp)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    fs_status r;
    if (stat(lp, &st) == 0) {
        r = read_labels_json(s, lp);
        free(lp);
        if (r == FS_OK)
            r = set_class_names_numeric(s);
        if (r != FS_OK)
            return r;
    } else {
        free(lp);
        char **classes;
        size_t nc;
        FS_TRY(list_dir(dir, 1, &classes, &nc));
        /* ImageFolder: the classes are the subdirectories that hold images, in
         * name order; their names move to class_names */
        if (nc && !(s->class_names = calloc(nc, sizeof *s->class_names))) {
            free_names(classes, nc);
            return fs_error(FS_ERR_NOMEM, "out of memory");
        }
        r = FS_OK;
        for (size_t c = 0; c < nc && r == FS_OK; c++) {
            char *sub = join(dir, classes[c]), **files = NULL;
            size_t nf = 0;
            r = sub ? list_dir(sub, 0, &files, &nf) : fs_error(FS_ERR_NOMEM, "out of memory");
            free(sub);
            for (size_t f = 0; f < nf && r == FS_OK; f++) {
                char *rel = join(classes[c], files[f]);
                r = rel ? set_add(s, rel, s->n_classes) : fs_error(FS_ERR_NOMEM, "out of memory");
            }
            free_names(files, nf);
            if (r == FS_OK && nf > 0) {
                s->class_names[s->n_classes++] = classes[c];
                classes[c] = NULL;
            }
        }
        free_names(classes, nc);
        if (r != FS_OK)
            return r;
        if (s->n_classes == 0) { /* one flat directory: one class */
            char **files;
            size_t nf;
            FS_TRY(list_dir(dir, 0, &files, &nf));
            for (size_t f = 0; f < nf; f++) {
                if ((r = set_add(s, files[f], 0)) != FS_OK) {
                    for (size_t q = f + 1; q < nf; q++)
                        free(files[q]);
                    free(files);
                    return r;
                }
            }
            free(files);
            const char *base = strrchr(dir, '/');
            free(s->class_names);
            if (!(s->class_names = calloc(1, sizeof *s->class_names)) ||
                !(s->class_names[0] = strdup(base && base[1] ? base + 1 : dir)))
                return fs_error(FS_ERR_NOMEM, "out of memory");
            s->n_classes = 1;
        }
    }
    if (s->n == 0)
        return fs_error(FS_ERR_ARG, "%s %s: no PNG or JPEG images", what, dir);
    qsort(s->im, s->n, sizeof *s->im, image_cmp);
    return FS_OK;
}

static void set_free(mix_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->im[i].rel);
        free(s->im[i].vec);
    }
    free(s->im);
    if (s->class_names)
        for (int c = 0; c < s->n_classes; c++)
            free(s->class_names[c]);
    free(s->class_names);
    memset(s, 0, sizeof *s);
}

/* ---- image sizes from the headers -------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Width and height of a PNG (its IHDR) or a JPEG (its first SOF marker). */
static fs_status image_size(const char *path, int *w, int *h)
{
    fs_file_map m;
    FS_TRY(fs_file_map_open(path, &m));
    const uint8_t *d = m.data;
    size_t n = m.size;
    fs_status s = fs_error(FS_ERR_FORMAT, "%s: not a PNG or JPEG file, or no size in its "
                           "header", path);
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 24 && !memcmp(d, png_sig, 8) && !memcmp(d + 12, "IHDR", 4)) {
        uint32_t pw = be32(d + 16), ph = be32(d + 20);
        if (pw >= 1 && ph >= 1 && pw <= FS_PNG_MAX_DIM && ph <= FS_PNG_MAX_DIM) {
            *w = (int)pw;
            *h = (int)ph;
            s = FS_OK;
        }
    } else if (fs_jpeg_sniff(d, n)) {
        size_t i = 2;
        while (i + 4 <= n) {
            if (d[i] != 0xFF) {
                i++;
                continue;
            }
            uint8_t mk = d[i + 1];
            if (mk == 0xFF) {
                i++;
                continue;
            }
            if (mk == 0xD8 || mk == 0x01 || (mk >= 0xD0 && mk <= 0xD7)) {
                i += 2;
                continue;
            }
            size_t len = (size_t)d[i + 2] << 8 | d[i + 3];
            int sof = mk >= 0xC0 && mk <= 0xCF && mk != 0xC4 && mk != 0xC8 && mk != 0xCC;
            if (sof && len >= 7 && i + 9 <= n) {
                int jh = d[i + 5] << 8 | d[i + 6], jw = d[i + 7] << 8 | d[i + 8];
                if (jw >= 1 && jh >= 1 && jw <= FS_PNG_MAX_DIM && jh <= FS_PNG_MAX_DIM) {
                    *w = jw;
                    *h = jh;
                    s = FS_OK;
                }
                break;
            }
            if (mk == 0xD9 || mk == 0xDA || len < 2)
                break;
            i += 2 + len;
        }
    }
    fs_file_map_close(&m);
    if (s == FS_OK)
        fs_error_clear();
    return s;
}

/* Every image of s against w x h (set from the first image read when 0),
 * first naming that image. */
static fs_status set_sizes(mix_set *s, int *w, int *h, char **first)
{
    for (size_t i = 0; i < s->n; i++) {
        char *p = join(s->dir, s->im[i].rel);
        if (!p)
            return fs_error(FS_ERR_NOMEM, "out of memory");
        int iw = 0, ih = 0;
        fs_status r = image_size(p, &iw, &ih);
        if (r == FS_OK && !*first) {
            *w = iw;
            *h = ih;
            *first = p;
            continue;
        }
        if (r == FS_OK && (iw != *w || ih != *h))
            r = fs_error(FS_ERR_SHAPE, "%s is %dx%d, but %s is %dx%d: every image of both sets "
                         "must have one size", p, iw, ih, *first, *w, *h);
        free(p);
        if (r != FS_OK)
            return r;
    }
    return FS_OK;
}

/* ---- prepare ------------------------------------------------------------------------ */

void fs_mixup_free(fs_mixup *m)
{
    if (!m)
        return;
    if (m->out_rel)
        for (size_t i = 0; i < m->syn.n; i++)
            free(m->out_rel[i]);
    free(m->out_rel);
    set_free(&m->syn);
    set_free(&m->real);
    free(m);
}

uint64_t fs_mixup_count(const fs_mixup *m) { return m->syn.n; }

fs_status fs_mixup_prepare(const fs_mixup_args *a, fs_mixup **out)
{
    *out = NULL;
    if (a->fixed ? !(a->weight >= 0 && a->weight <= 1) : !(a->beta_a > 0 && a->beta_b > 0))
        return fs_error(FS_ERR_ARG, "mixup: the weight must be in [0, 1], beta's A and B > 0");
    fs_mixup *m = calloc(1, sizeof *m);
    if (!m)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    m->a = *a;
    fs_status s = set_open(&m->syn, a->synthetic, "--synthetic");
    if (s == FS_OK)
        s = set_open(&m->real, a->real, "--real");
    int w = 0, h = 0;
    char *first = NULL;
    if (s == FS_OK)
        s = set_sizes(&m->syn, &w, &h, &first);
    if (s == FS_OK)
        s = set_sizes(&m->real, &w, &h, &first);
    free(first);
    m->syn.w = m->real.w = w;
    m->syn.h = m->real.h = h;
    /* output names: the synthetic path with the output's extension */
    if (s == FS_OK && !(m->out_rel = calloc(m->syn.n, sizeof *m->out_rel)))
        s = fs_error(FS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; s == FS_OK && i < m->syn.n; i++) {
        const char *rel = m->syn.im[i].rel, *dot = strrchr(rel, '.');
        if (asprintf(&m->out_rel[i], "%.*s.%s", (int)(dot - rel), rel,
                     a->image == FS_DS_JPEG ? "jpg" : "png") < 0) {
            m->out_rel[i] = NULL;
            s = fs_error(FS_ERR_NOMEM, "out of memory");
        }
    }
    /* two inputs that differ only in their extension ("a.png", "a.jpg") would
     * write one output: compare the output names in sorted order */
    char **sorted = s == FS_OK ? malloc(m->syn.n * sizeof *sorted) : NULL;
    if (s == FS_OK && !sorted)
        s = fs_error(FS_ERR_NOMEM, "out of memory");
    if (s == FS_OK) {
        memcpy(sorted, m->out_rel, m->syn.n * sizeof *sorted);
        qsort(sorted, m->syn.n, sizeof *sorted, str_cmp);
        for (size_t i = 1; s == FS_OK && i < m->syn.n; i++)
            if (!strcmp(sorted[i], sorted[i - 1]))
                s = fs_error(FS_ERR_ARG, "--synthetic %s: two images would both be written as %s "
                             "(they differ only in their extension)", a->synthetic, sorted[i]);
    }
    free(sorted);
    /* OUT: new, or an empty directory */
    struct stat st;
    if (s == FS_OK && stat(a->outdir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            s = fs_error(FS_ERR_IO, "%s: exists and is not a directory", a->outdir);
        } else {
            DIR *dp = opendir(a->outdir);
            struct dirent *e;
            while (dp && s == FS_OK && (e = readdir(dp)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                    s = fs_error(FS_ERR_ARG, "%s: exists and is not empty (it holds '%s'); "
                                 "give a new or empty --outdir", a->outdir, e->d_name);
            if (dp)
                closedir(dp);
        }
    }
    if (s != FS_OK) {
        fs_mixup_free(m);
        return s;
    }
    *out = m;
    return FS_OK;
}

/* ---- execute ------------------------------------------------------------------------ */

/* The draw of synthetic image j: its real partner and phi. */
static void draw_pair(const fs_mixup *m, uint64_t j, uint64_t *k, double *phi)
{
    fs_np_random r;
    fs_np_random_seed(&r, fs_ds_seed32(m->a.seed, FS_DS_TAG_DOMAIN, j, 0));
    uint64_t n = m->real.n;
    uint64_t v = (uint64_t)(fs_np_random_double(&r) * (double)n);
    *k = v < n ? v : n - 1;
    *phi = m->a.fixed ? m->a.weight : fs_ds_np_beta(&r, m->a.beta_a, m->a.beta_b);
}

static fs_status decode_file(const char *path, int w, int h, uint8_t *dst)
{
    fs_file_map fm;
    FS_TRY(fs_file_map_open(path, &fm));
    uint8_t *rgb = NULL;
    int iw = 0, ih = 0;
    fs_status s = fs_jpeg_sniff(fm.data, fm.size)
                      ? fs_jpeg_decode_rgb(fm.data, fm.size, path, &rgb, &iw, &ih)
                      : fs_png_decode_rgb(fm.data, fm.size, path, &rgb, &iw, &ih);
    fs_file_map_close(&fm);
    if (s == FS_OK && (iw != w || ih != h))
        s = fs_error(FS_ERR_SHAPE, "%s: decodes to %dx%d, not %dx%d", path, iw, ih, w, h);
    if (s == FS_OK)
        memcpy(dst, rgb, (size_t)w * h * 3);
    free(rgb);
    return s;
}

/* A parallel loop over [0, n) on `threads` threads, the first error wins. */
typedef fs_status (*par_fn)(void *ctx, size_t i);
typedef struct {
    par_fn fn;
    void *ctx;
    size_t n, next;
    pthread_mutex_t mu;
    fs_status err;
    char msg[1024];
} par_loop;

static void *par_main(void *arg)
{
    par_loop *L = arg;
    for (;;) {
        pthread_mutex_lock(&L->mu);
        size_t i = L->err == FS_OK ? L->next++ : L->n;
        pthread_mutex_unlock(&L->mu);
        if (i >= L->n)
            return NULL;
        fs_status s = L->fn(L->ctx, i);
        if (s != FS_OK) {
            pthread_mutex_lock(&L->mu);
            if (L->err == FS_OK) {
                L->err = s;
                snprintf(L->msg, sizeof L->msg, "%s", fs_error_message());
            }
            pthread_mutex_unlock(&L->mu);
        }
    }
}

static fs_status par_run(int threads, size_t n, par_fn fn, void *ctx)
{
    par_loop L = {.fn = fn, .ctx = ctx, .n = n};
    pthread_mutex_init(&L.mu, NULL);
    pthread_t th[64];
    int started = 0;
    for (int t = 0; t < threads && t < 64 && (size_t)t < n; t++)
        if (pthread_create(&th[t], NULL, par_main, &L) == 0)
            started++;
    if (!started)
        par_main(&L);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&L.mu);
    if (L.err != FS_OK)
        return fs_error(L.err, "%s", L.msg);
    return FS_OK;
}

typedef struct {
    fs_mixup *m;
    uint64_t j0;
    uint64_t *k;
    uint8_t *a, *b;
    size_t bytes;
} batch_ctx;

static fs_status decode_task(void *vctx, size_t i)
{
    batch_ctx *c = vctx;
    fs_mixup *m = c->m;
    size_t q = i / 2;
    const mix_set *s = i % 2 ? &m->real : &m->syn;
    const char *rel = i % 2 ? m->real.im[c->k[q]].rel : m->syn.im[c->j0 + q].rel;
    char *p = join(s->dir, rel);
    if (!p)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    fs_status r = decode_file(p, s->w, s->h, (i % 2 ? c->b : c->a) + q * c->bytes);
    free(p);
    return r;
}

static fs_status write_task(void *vctx, size_t q)
{
    batch_ctx *c = vctx;
    fs_mixup *m = c->m;
    uint8_t *enc;
    size_t len;
    FS_TRY(fs_ds_encode(m->a.image, m->a.quality, c->a + q * c->bytes, m->syn.w, m->syn.h, 3,
                        &enc, &len));
    char *p = join(m->a.outdir, m->out_rel[c->j0 + q]);
    fs_status s = p ? FS_OK : fs_error(FS_ERR_NOMEM, "out of memory");
    char *slash = p ? strrchr(p, '/') : NULL;
    if (s == FS_OK && slash && slash > p + strlen(m->a.outdir)) {
        *slash = '\0'; /* a class directory */
        s = fs_ds_mkdir(p);
        *slash = '/';
    }
    if (s == FS_OK)
        s = fs_ds_write_file(p, enc, len);
    free(p);
    free(enc);
    return s;
}

/* The soft label of output j as (class, weight) pairs into b: the
 * synthetic label times phi, then the real one times 1 - phi. */
static void label_pairs(fs_ds_sb *b, const fs_mixup *m, uint64_t j, uint64_t k, double phi,
                        int as_vector)
{
    const mix_image *sj = &m->syn.im[j], *rk = &m->real.im[k];
    float ws = (float)phi, wr = (float)(1.0 - phi);
    int cs = m->syn.n_classes, cr = m->real.n_classes, first = 1;
    fs_ds_sb_put(b, "[", 1);
    for (int c = 0; c < cs + cr; c++) {
        const mix_image *src = c < cs ? sj : rk;
        int cc = c < cs ? c : c - cs;
        float l = src->vec ? src->vec[cc] : (float)(src->cls == cc);
        float v = (c < cs ? ws : wr) * l;
        if (as_vector) {
            if (c)
                fs_ds_sb_put(b, ",", 1);
            fs_ds_sb_float(b, v);
        } else if (v != 0) {
            fs_ds_sb_printf(b, "%s[%d,", first ? "" : ",", c);
            fs_ds_sb_float(b, v);
            fs_ds_sb_put(b, "]", 1);
            first = 0;
        }
    }
    fs_ds_sb_put(b, "]", 1);
}

static fs_status write_meta(const fs_mixup *m, const uint64_t *pk, const double *pphi)
{
    char *mp = join(m->a.outdir, "manifest.jsonl"), *lp = join(m->a.outdir, "dataset.json");
    fs_out_file fm = {0}, fl = {0};
    fs_status s = mp && lp ? FS_OK : fs_error(FS_ERR_NOMEM, "out of memory");
    if (s == FS_OK)
        s = fs_out_file_open(mp, &fm);
    if (s == FS_OK)
        s = fs_out_file_open(lp, &fl);
    fs_ds_sb b = {0};
    if (s == FS_OK) {
        fs_ds_sb_printf(&b, "{\"classes\": [");
        for (int c = 0; c < m->syn.n_classes + m->real.n_classes; c++) {
            int syn = c < m->syn.n_classes;
            char *name = NULL;
            if (asprintf(&name, "%s/%s", syn ? "synthetic" : "real",
                         syn ? m->syn.class_names[c]
                             : m->real.class_names[c - m->syn.n_classes]) < 0) {
                s = fs_error(FS_ERR_NOMEM, "out of memory");
                break;
            }
            fs_ds_sb_printf(&b, "%s", c ? ", " : "");
            fs_ds_sb_json_string(&b, name);
            free(name);
        }
        fs_ds_sb_printf(&b, "],\n\"labels\": [\n");
        if (s == FS_OK)
            s = b.oom ? fs_error(FS_ERR_NOMEM, "out of memory") : fs_out_file_write(&fl, b.p, b.len);
    }
    for (uint64_t j = 0; s == FS_OK && j < m->syn.n; j++) {
        b.len = 0;
        fs_ds_sb_printf(&b, "{\"index\":%" PRIu64 ",\"file\":", j);
        fs_ds_sb_json_string(&b, m->out_rel[j]);
        fs_ds_sb_printf(&b, ",\"synthetic\":");
        fs_ds_sb_json_string(&b, m->syn.im[j].rel);
        fs_ds_sb_printf(&b, ",\"real\":");
        fs_ds_sb_json_string(&b, m->real.im[pk[j]].rel);
        fs_ds_sb_printf(&b, ",\"seed\":%" PRIu32 ",\"draw_seed\":%" PRIu32 ",\"phi\":",
                        m->a.seed, fs_ds_seed32(m->a.seed, FS_DS_TAG_DOMAIN, j, 0));
        fs_ds_sb_double(&b, pphi[j]);
        fs_ds_sb_printf(&b, ",\"label\":");
        label_pairs(&b, m, j, pk[j], pphi[j], 0);
        fs_ds_sb_printf(&b, "}\n");
        s = b.oom ? fs_error(FS_ERR_NOMEM, "out of memory") : fs_out_file_write(&fm, b.p, b.len);
        if (s != FS_OK)
            break;
        b.len = 0;
        fs_ds_sb_printf(&b, "[");
        fs_ds_sb_json_string(&b, m->out_rel[j]);
        fs_ds_sb_printf(&b, ", ");
        label_pairs(&b, m, j, pk[j], pphi[j], 1);
        fs_ds_sb_printf(&b, "]%s\n", j + 1 < m->syn.n ? "," : "");
        s = b.oom ? fs_error(FS_ERR_NOMEM, "out of memory") : fs_out_file_write(&fl, b.p, b.len);
    }
    if (s == FS_OK)
        s = fs_out_file_write(&fl, "]}\n", 3);
    fs_ds_sb_free(&b);
    if (s == FS_OK)
        s = fs_out_file_commit(&fm);
    else
        fs_out_file_abort(&fm);
    if (s == FS_OK)
        s = fs_out_file_commit(&fl);
    else
        fs_out_file_abort(&fl);
    free(mp);
    free(lp);
    return s;
}

fs_status fs_mixup_execute(fs_mixup *m, fs_backend *be, fs_ds_progress_fn progress, void *user)
{
    const fs_mixup_args *a = &m->a;
    size_t bytes = (size_t)m->syn.w * m->syn.h * 3;
    int B = a->batch > 0 ? a->batch : 1;
    uint64_t n = m->syn.n;
    uint64_t *pk = malloc(n * sizeof *pk);
    double *pphi = malloc(n * sizeof *pphi);
    float *wts = malloc((size_t)B * sizeof *wts);
    uint8_t *ha = malloc((size_t)B * bytes), *hb = malloc((size_t)B * bytes);
    uint8_t *da = be->ops->alloc(be, (size_t)B * bytes), *db = be->ops->alloc(be, (size_t)B * bytes);
    float *dw = be->ops->alloc(be, (size_t)B * sizeof *dw);
    fs_status s = FS_OK;
    if (!pk || !pphi || !wts || !ha || !hb || !da || !db || !dw)
        s = fs_error(FS_ERR_NOMEM, "mixup: out of memory for a batch of %d pairs", B);
    if (s == FS_OK)
        s = fs_ds_mkdir(a->outdir);
    for (uint64_t j = 0; s == FS_OK && j < n; j++)
        draw_pair(m, j, &pk[j], &pphi[j]);
    for (uint64_t j0 = 0; s == FS_OK && j0 < n; j0 += (uint64_t)B) {
        int nb = (int)(n - j0 < (uint64_t)B ? n - j0 : (uint64_t)B);
        batch_ctx c = {.m = m, .j0 = j0, .k = pk + j0, .a = ha, .b = hb, .bytes = bytes};
        s = par_run(a->writers, 2 * (size_t)nb, decode_task, &c);
        for (int q = 0; q < nb; q++)
            wts[q] = (float)pphi[j0 + q];
        if (s == FS_OK)
            s = be->ops->upload(be, da, ha, (size_t)nb * bytes);
        if (s == FS_OK)
            s = be->ops->upload(be, db, hb, (size_t)nb * bytes);
        if (s == FS_OK)
            s = be->ops->upload(be, dw, wts, (size_t)nb * sizeof *wts);
        if (s == FS_OK)
            s = be->ops->blend(be, &(fs_blend_args){.a = da, .b = db, .w = dw, .y = da, .n = nb,
                                                    .len = bytes});
        if (s == FS_OK)
            s = be->ops->download(be, ha, da, (size_t)nb * bytes);
        if (s == FS_OK)
            s = par_run(a->writers, (size_t)nb, write_task, &c);
        if (s == FS_OK && progress)
            progress(user, j0 + (uint64_t)nb);
    }
    if (s == FS_OK)
        s = fs_ds_sync_dir(a->outdir);
    if (s == FS_OK)
        s = write_meta(m, pk, pphi);
    if (da)
        be->ops->release(be, da);
    if (db)
        be->ops->release(be, db);
    if (dw)
        be->ops->release(be, dw);
    free(pk);
    free(pphi);
    free(wts);
    free(ha);
    free(hb);
    return s;
}
