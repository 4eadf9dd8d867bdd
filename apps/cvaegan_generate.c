/* `facesynth generate` with a CVAE-GAN (docs/cvaegan.md): img = G(z, c).
 *
 * z: for seed s, numpy.random.RandomState(s).randn(1, z_dim) cast to float32,
 * exactly as for StyleGAN2; or rows of --z. c: the one-hot label of
 * --identity K; a convex combination of the one-hot labels of --mix (weights
 * from --mix-weights, or drawn per image from its seed's RandomState after z:
 * e = standard_exponential(k), i.e. -log(1 - random_sample()), normalised to
 * sum 1 -- uniform on the simplex); or rows of --c.
 *
 * As for StyleGAN2, everything is checked (network, arrays and their values,
 * labels, every output path) before the first image is written. The labels
 * of the images are written with --save-labels, and next to --save-raw X.npy
 * as X.labels.npy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/backend.h"
#include "../engine/cvaegan.h"
#include "../engine/image_io.h"
#include "../engine/progress.h"
#include "../engine/rng.h"
#include "../weights_tools/npy.h"
#include "cli.h"

#define CMD "generate"

typedef enum { LBL_IDENTITY, LBL_MIX_FIXED, LBL_MIX_RANDOM, LBL_FILE } label_kind;

typedef struct {
    const cli_cvae_gen_args *a;
    fs_weights *w;
    fs_backend *b;
    fs_cvaegan *m;
    int zd, nid, R;
    uint64_t total;
    float *zfile;
    label_kind lk;
    float *cfile; /* --c rows */
    int c_rows;
    int mix_n;
    long *mix_idx;
    float *mix_row; /* --mix with --mix-weights: the one label */
    double *mix_e;  /* --mix without: the exponential variates of an image */
    char *raw_labels_path;
    float *labels;  /* [total, nid] when any labels file is written */
    /* per batch */
    float *z, *c, *img, *raw;
    uint8_t *u8;
    char *path;
    cli_new_dirs made; /* the output directories this run created */
} cvae_gen;

static void gen_free(cvae_gen *g)
{
    fs_cvaegan_free(g->m);
    fs_backend_free(g->b);
    fs_weights_free(g->w);
    free(g->zfile);
    free(g->cfile);
    free(g->mix_idx);
    free(g->mix_row);
    free(g->mix_e);
    free(g->raw_labels_path);
    free(g->labels);
    free(g->z);
    free(g->c);
    free(g->img);
    free(g->raw);
    free(g->u8);
    free(g->path);
    cli_new_dirs_keep(&g->made);
}

/* Items of a comma-separated list: count, or -1 for an empty item. */
static int list_count(const char *s)
{
    int n = 1;
    if (!*s)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p == ',') {
            if (p == s || p[1] == '\0' || p[1] == ',')
                return -1;
            n++;
        }
    }
    return n;
}

/* Item k of the list into buf (an over-long item is cut to a non-number). */
static const char *list_item(const char *s, int k, char *buf, size_t cap)
{
    for (; k > 0; k--)
        s = strchr(s, ',') + 1;
    size_t n = strcspn(s, ",");
    if (n >= cap) {
        n = cap - 4;
        memcpy(buf + n, "...", 4);
    } else {
        buf[n] = '\0';
    }
    memcpy(buf, s, n);
    return buf;
}

/* --mix and --mix-weights; 0 or an exit status. */
static int parse_mix(cvae_gen *g)
{
    const cli_cvae_gen_args *a = g->a;
    char item[64];
    int n = list_count(a->mix);
    if (n < 0)
        return cli_usage_error(CMD, "--mix '%s': an empty item (a doubled comma, or a comma at "
                               "an end)", a->mix);
    if (n < 2)
        return cli_usage_error(CMD, "--mix '%s': give two or more identities to mix (one "
                               "identity is --identity K)", a->mix);
    if (n > g->nid)
        return cli_usage_error(CMD, "--mix lists %d identities, the network has %d", n, g->nid);
    g->mix_n = n;
    if (!(g->mix_idx = malloc((size_t)n * sizeof *g->mix_idx)))
        return cli_fail(fs_error(FS_ERR_NOMEM, "out of memory"));
    for (int k = 0; k < n; k++) {
        list_item(a->mix, k, item, sizeof item);
        if (!cli_parse_long(item, 0, 1L << 30, &g->mix_idx[k]))
            return cli_usage_error(CMD, "--mix item '%s' is not an identity number", item);
        if (g->mix_idx[k] >= g->nid)
            return cli_usage_error(CMD, "--mix identity %ld is out of range: the network has %d "
                                   "identities (0 to %d)", g->mix_idx[k], g->nid, g->nid - 1);
        for (int j = 0; j < k; j++)
            if (g->mix_idx[j] == g->mix_idx[k])
                return cli_usage_error(CMD, "--mix lists identity %ld twice", g->mix_idx[k]);
    }
    if (!a->mix_weights) {
        if (!a->seeds)
            return cli_usage_error(CMD, "--mix without --mix-weights draws each image's weights "
                                   "from its seed: give --seeds, or --mix-weights with --z");
        if (!(g->mix_e = malloc((size_t)n * sizeof *g->mix_e)))
            return cli_fail(fs_error(FS_ERR_NOMEM, "out of memory"));
        g->lk = LBL_MIX_RANDOM;
        return 0;
    }
    int nw = list_count(a->mix_weights);
    if (nw != n)
        return cli_usage_error(CMD, nw < 0 ? "--mix-weights '%s': an empty item"
                                           : "--mix-weights '%s' has %d weights for %d "
                                             "identities", a->mix_weights, nw, n);
    double *wt = malloc((size_t)n * sizeof *wt), sum = 0;
    if (!wt)
        return cli_fail(fs_error(FS_ERR_NOMEM, "out of memory"));
    for (int k = 0; k < n; k++) {
        list_item(a->mix_weights, k, item, sizeof item);
        if (!cli_parse_double(item, &wt[k]) || wt[k] < 0) {
            free(wt);
            return cli_usage_error(CMD, "--mix-weights item '%s' is not a number >= 0", item);
        }
        sum += wt[k];
    }
    if (!(sum > 0) || !isfinite(sum)) {
        free(wt);
        return cli_usage_error(CMD, "--mix-weights '%s' sum to %g: they must have a positive, "
                               "finite sum", a->mix_weights, sum);
    }
    g->mix_row = calloc((size_t)g->nid, sizeof *g->mix_row);
    if (g->mix_row)
        for (int k = 0; k < n; k++)
            g->mix_row[g->mix_idx[k]] = (float)(wt[k] / sum);
    free(wt);
    if (!g->mix_row)
        return cli_fail(fs_error(FS_ERR_NOMEM, "out of memory"));
    g->lk = LBL_MIX_FIXED;
    return 0;
}

/* Everything that can fail before the first image; 0 or an exit status. */
static int prepare(cvae_gen *g)
{
    const cli_cvae_gen_args *a = g->a;
    int prc = cli_check_output(CMD, "--save-raw", a->raw_path);
    if (!prc)
        prc = cli_check_output(CMD, "--save-labels", a->labels_path);
    if (prc)
        return prc;
    fs_status s = cli_backend_open(a->threads, &g->b);
    if (s == FS_OK)
        s = fs_cvaegan_init(&g->m, g->w, g->b);
    if (s != FS_OK)
        return cli_fail(s);
    const fs_cvaegan_config *cfg = fs_cvaegan_get_config(g->m);
    g->zd = (int)cfg->z_dim;
    g->nid = (int)cfg->n_id;
    g->R = (int)cfg->img_resolution;

    int nlab = !!a->has_identity + !!a->mix + !!a->c_path;
    if (nlab != 1)
        return cli_usage_error(CMD, nlab ? "--identity, --mix and --c are mutually exclusive"
                                         : "a CVAE-GAN needs a label: --identity K (0 to %d), "
                                           "--mix LIST or --c FILE.npy", g->nid - 1);
    if (a->mix_weights && !a->mix)
        return cli_usage_error(CMD, "--mix-weights needs --mix LIST");

    if (a->z_path) {
        int ndim;
        int64_t shape[FS_NPY_MAX_DIMS];
        s = cli_read_npy(a->z_path, "--z", &ndim, shape, &g->zfile);
        if (s != FS_OK)
            return cli_fail(s);
        if (ndim != 2 || shape[0] < 1 || shape[1] != g->zd) {
            char got[128];
            cli_shape_string(got, sizeof got, ndim, shape);
            return cli_fail(fs_error(FS_ERR_SHAPE, "%s: --z has shape %s, expected [N, %d] "
                                     "with N >= 1", a->z_path, got, g->zd));
        }
        g->total = (uint64_t)shape[0];
    } else {
        g->total = a->seeds->count;
    }

    if (a->has_identity) {
        if (a->identity >= g->nid)
            return cli_usage_error(CMD, "--identity %ld is out of range: the network has %d "
                                   "identities (0 to %d)", a->identity, g->nid, g->nid - 1);
        g->lk = LBL_IDENTITY;
    } else if (a->mix) {
        int rc = parse_mix(g);
        if (rc)
            return rc;
    } else {
        s = cli_load_labels(a->c_path, 0, 0, g->nid, g->total, &g->cfile, &g->c_rows);
        if (s != FS_OK)
            return s == FS_ERR_ARG ? cli_usage_error(CMD, "%s", fs_error_message())
                                   : cli_fail(s);
        g->lk = LBL_FILE;
    }

    if (a->raw_path) {
        size_t n = strlen(a->raw_path);
        if (!(g->raw_labels_path = malloc(n + 16)))
            return cli_fail(fs_error(FS_ERR_NOMEM, "out of memory"));
        if (n > 4 && !strcmp(a->raw_path + n - 4, ".npy"))
            n -= 4;
        snprintf(g->raw_labels_path, n + 16, "%.*s.labels.npy", (int)n, a->raw_path);
        int rc = cli_check_output(CMD, "--save-raw (its labels file)", g->raw_labels_path);
        if (rc)
            return rc;
    }
    if (a->labels_path && a->raw_path && !strcmp(a->labels_path, a->raw_path))
        return cli_usage_error(CMD, "--save-labels and --save-raw name the same file");

    size_t img_len = (size_t)3 * g->R * g->R;
    int B = (int)(a->batch < (long)g->total ? a->batch : (long)g->total);
    g->z = malloc((size_t)B * g->zd * sizeof *g->z);
    g->c = malloc((size_t)B * g->nid * sizeof *g->c);
    g->img = malloc((size_t)B * img_len * sizeof *g->img);
    g->u8 = malloc((size_t)B * img_len);
    g->path = malloc(strlen(a->outdir) + 40);
    if (!g->z || !g->c || !g->img || !g->u8 || !g->path)
        return cli_fail(fs_error(FS_ERR_NOMEM, "out of memory for a batch of %d images", B));
    /* All of it up front: running out of memory is then an error before the
     * first image rather than after the last. */
    uint64_t bytes;
    if (a->raw_path &&
        (__builtin_mul_overflow(g->total, (uint64_t)img_len * sizeof(float), &bytes) ||
         bytes > SIZE_MAX || !(g->raw = malloc((size_t)bytes))))
        return cli_fail(fs_error(FS_ERR_NOMEM, "--save-raw: %llu images need %.1f GiB of memory",
                                 (unsigned long long)g->total,
                                 (double)g->total * (double)img_len * 4.0 / 1073741824.0));
    if ((a->raw_path || a->labels_path) &&
        (__builtin_mul_overflow(g->total, (uint64_t)g->nid * sizeof(float), &bytes) ||
         bytes > SIZE_MAX || !(g->labels = malloc((size_t)bytes))))
        return cli_fail(fs_error(FS_ERR_NOMEM, "labels of %llu images need %.1f GiB of memory",
                                 (unsigned long long)g->total,
                                 (double)g->total * g->nid * 4.0 / 1073741824.0));

    /* The output directory last: it is the one thing that would stay. */
    cli_image_names names = {.seeds = a->seeds, .n = g->total};
    int rc = cli_check_image_names(CMD, a->outdir, &names);
    if (rc)
        return rc;
    if ((s = cli_make_outdir(a->outdir, &g->made)) != FS_OK)
        return cli_fail(s);
    /* Everything checked: the temporaries dead runs left can go. */
    cli_clean_stale_images(a->outdir, &names);
    cli_clean_stale_output(a->raw_path);
    cli_clean_stale_output(g->raw_labels_path);
    cli_clean_stale_output(a->labels_path);
    return 0;
}

/* The label of image i into row (n_id floats). r: the image's RandomState,
 * just after its z was drawn; NULL with --z (parse_mix refuses random
 * weights without seeds). */
static void make_label(const cvae_gen *g, uint64_t i, fs_np_random *r, float *row)
{
    size_t nid = (size_t)g->nid;
    switch (g->lk) {
    case LBL_IDENTITY:
        memset(row, 0, nid * sizeof *row);
        row[g->a->identity] = 1.0f;
        break;
    case LBL_MIX_FIXED:
        memcpy(row, g->mix_row, nid * sizeof *row);
        break;
    case LBL_FILE:
        memcpy(row, g->cfile + (g->c_rows == 1 ? 0 : i * nid), nid * sizeof *row);
        break;
    case LBL_MIX_RANDOM: {
        /* k standard exponentials, normalised: uniform on the simplex.
         * numpy: e = r.standard_exponential(k); (e / e.sum()).astype(float32) */
        double *ep = g->mix_e, sum = 0;
        for (int k = 0; k < g->mix_n; k++) {
            ep[k] = -log(1.0 - fs_np_random_double(r));
            sum += ep[k];
        }
        memset(row, 0, nid * sizeof *row);
        for (int k = 0; k < g->mix_n; k++)
            row[g->mix_idx[k]] = sum > 0 ? (float)(ep[k] / sum) : 1.0f / (float)g->mix_n;
        break;
    }
    }
}

static fs_status run(cvae_gen *g)
{
    const cli_cvae_gen_args *a = g->a;
    int zd = g->zd, nid = g->nid, R = g->R;
    size_t img_len = (size_t)3 * R * R;
    int B = (int)(a->batch < (long)g->total ? a->batch : (long)g->total);
    size_t plen = strlen(a->outdir) + 40;
    fs_progress prog = {0};
    fs_progress_start(&prog, stderr, a->quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO, "images",
                      "img/s", g->total);
    fs_status s = FS_OK;
    for (uint64_t i0 = 0; i0 < g->total && s == FS_OK; i0 += (uint64_t)B) {
        int nb = (int)(g->total - i0 < (uint64_t)B ? g->total - i0 : (uint64_t)B);
        for (int k = 0; k < nb; k++) {
            uint64_t i = i0 + (uint64_t)k;
            float *z = g->z + (size_t)k * zd, *c = g->c + (size_t)k * nid;
            fs_np_random r;
            if (a->seeds) {
                fs_np_random_seed(&r, fs_seed_list_at(a->seeds, i));
                for (int j = 0; j < zd; j++)
                    z[j] = (float)fs_np_random_gauss(&r);
            } else {
                memcpy(z, g->zfile + i * (uint64_t)zd, (size_t)zd * sizeof *z);
            }
            make_label(g, i, a->seeds ? &r : NULL, c);
            if (g->labels)
                memcpy(g->labels + i * (uint64_t)nid, c, (size_t)nid * sizeof *c);
        }
        s = fs_cvaegan_generate(g->m, g->z, g->c, nb, g->img);
        if (s != FS_OK)
            break;
        fs_image_nchw_f32_to_nhwc_u8(g->img, nb, 3, R, R, g->u8);
        for (int k = 0; k < nb && s == FS_OK; k++) {
            uint64_t i = i0 + (uint64_t)k;
            if (a->seeds)
                snprintf(g->path, plen, "%s/seed%04u.png", a->outdir,
                         fs_seed_list_at(a->seeds, i));
            else
                snprintf(g->path, plen, "%s/img%04llu.png", a->outdir, (unsigned long long)i);
            s = fs_png_write_rgb8(g->path, g->u8 + (size_t)k * img_len, R, R, 3);
        }
        if (g->raw)
            memcpy(g->raw + i0 * img_len, g->img, (size_t)nb * img_len * sizeof *g->img);
        if (s == FS_OK)
            fs_progress_update(&prog, i0 + (uint64_t)nb);
    }
    int64_t ishape[4] = {(int64_t)g->total, 3, R, R}, lshape[2] = {(int64_t)g->total, nid};
    if (s == FS_OK && g->raw)
        s = fs_npy_write(a->raw_path, FS_DTYPE_F32, 4, ishape, g->raw);
    if (s == FS_OK && g->raw_labels_path)
        s = fs_npy_write(g->raw_labels_path, FS_DTYPE_F32, 2, lshape, g->labels);
    if (s == FS_OK && a->labels_path)
        s = fs_npy_write(a->labels_path, FS_DTYPE_F32, 2, lshape, g->labels);
    if (s != FS_OK) {
        fs_progress_abort(&prog);
        return s;
    }
    fs_progress_finish(&prog);
    return FS_OK;
}

int cvaegan_generate(const cli_cvae_gen_args *a, fs_weights *w)
{
    cvae_gen g;
    memset(&g, 0, sizeof g);
    g.a = a;
    g.w = w;
    int rc = prepare(&g);
    if (rc == 0) {
        fs_status s = run(&g);
        if (s != FS_OK) {
            rc = cli_fail(s);
            cli_new_dirs_remove(&g.made); /* only if nothing was written into it */
        }
    }
    gen_free(&g);
    return rc;
}
