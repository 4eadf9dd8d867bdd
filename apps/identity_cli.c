/* Identity networks on the command line (identity_cli.h). */
#include "identity_cli.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../engine/image_pil.h"
#include "../engine/network.h"
#include "../engine/progress.h"
#include "cli.h"

fs_status cli_identity_open(const char *path, const char *rename_path, long threads,
                            cli_identity *id)
{
    memset(id, 0, sizeof *id);
    id->path = path;
    int flat = fs_network_is_flat(path);
    if (flat < 0)
        return FS_ERR_IO;
    if (flat && rename_path)
        return fs_error(FS_ERR_ARG, "%s is a converted weight file: --rename applies only to a "
                        "checkpoint converted on the fly", path);
    fs_network_opts o;
    fs_network_opts_default(&o);
    o.want = FS_WANT_IDENTITY;
    o.convert.rename_path = rename_path;
    FS_TRY(fs_network_open(path, &o, &id->w, NULL));
    FS_TRY(cli_backend_open(threads, &id->b));
    if (fs_weights_family(id->w) == FS_FAMILY_LIGHTCNN) {
        FS_TRY(fs_lightcnn_init(&id->lc, id->w, id->b));
        const fs_lightcnn_config *c = fs_lightcnn_get_config(id->lc);
        if (c->in_channels != 1)
            return fs_error(FS_ERR_UNSUPPORTED, "%s: a Light CNN of %lld input channels: the "
                            "official pipeline feeds it gray images", path,
                            (long long)c->in_channels);
        id->dim = (int)c->feature_dim;
        id->channels = 1;
        id->res = (int)c->input_resolution;
        id->what = "Light CNN-9 feature";
    } else {
        FS_TRY(fs_arcface_init(&id->af, id->w, id->b, NULL));
        const fs_arcface_config *c = fs_arcface_get_config(id->af);
        id->dim = (int)c->embedding_dim;
        id->channels = 3;
        id->res = (int)c->input_resolution;
        id->what = "ArcFace embedding";
    }
    return FS_OK;
}

void cli_identity_close(cli_identity *id)
{
    fs_lightcnn_free(id->lc);
    fs_arcface_free(id->af);
    fs_backend_free(id->b);
    fs_weights_free(id->w);
    memset(id, 0, sizeof *id);
}

fs_status cli_identity_check_size(const cli_identity *id, const char *file, int w, int h,
                                  int *side)
{
    *side = 0;
    if (id->lc) { /* any size: the crop pads or cuts to res */
        *side = id->res;
        return FS_OK;
    }
    if (w != h || !fs_arcface_side_ok(id->af, w))
        return fs_error(FS_ERR_SHAPE, "%s: image is %dx%d; ArcFace takes %dx%d faces%s", file, w,
                        h, id->res, id->res,
                        id->res == 112 ? " or square aligned faces of 256x256 and up (cropped "
                                         "and pooled as pSp's identity loss does)" : "");
    *side = w;
    return FS_OK;
}

fs_status cli_identity_prepare_rgb(const cli_identity *id, uint8_t *rgb, int w, int h,
                                   const char *label, float **x, int *side)
{
    *x = NULL;
    FS_TRY(cli_identity_check_size(id, label, w, h, side));
    size_t floats = id->lc ? (size_t)id->res * id->res : (size_t)3 * w * h;
    if (!(*x = malloc(floats * sizeof **x)))
        return fs_error(FS_ERR_NOMEM, "out of memory for %s", label);
    if (id->lc) {
        /* convert('L') in place: each pixel's luma over its first byte */
        fs_pil_rgb_to_l(rgb, (size_t)w * h, rgb);
        fs_lightcnn_center_crop(rgb, w, h, id->res, *x);
    } else {
        fs_pil_normalize_chw(rgb, w, h, *x);
    }
    return FS_OK;
}

fs_status cli_identity_load(const cli_identity *id, const char *file, float **x, int *side)
{
    *x = NULL;
    uint8_t *rgb;
    int w, h;
    FS_TRY(fs_pil_read_rgb(file, &rgb, &w, &h));
    fs_status s = cli_identity_prepare_rgb(id, rgb, w, h, file, x, side);
    free(rgb);
    return s;
}

fs_status cli_identity_embed(cli_identity *id, const float *x, int n, int side, float *out)
{
    if (id->lc)
        return fs_lightcnn_forward(id->lc, x, n, out, NULL, NULL);
    return fs_arcface_embed(id->af, x, n, side, out, NULL);
}

fs_status cli_identity_embed_files(cli_identity *id, const char *dir, char *const *names,
                                   const size_t *idx, size_t count, int batch, float *out,
                                   fs_progress *prog, uint64_t done)
{
    float **x = calloc((size_t)batch, sizeof *x), *in = NULL;
    int *side = calloc((size_t)batch, sizeof *side);
    size_t in_cap = 0;
    fs_status s = x && side ? FS_OK : fs_error(FS_ERR_NOMEM, "out of memory");
    for (size_t k0 = 0; k0 < count && s == FS_OK;) {
        /* decode up to `batch` images; the batch ends before one of another side */
        int nb = 0;
        while (s == FS_OK && nb < batch && k0 + (size_t)nb < count) {
            char *path = cli_join(dir, names[idx[k0 + (size_t)nb]]);
            s = path ? cli_identity_load(id, path, &x[nb], &side[nb])
                     : fs_error(FS_ERR_NOMEM, "out of memory");
            free(path);
            if (s != FS_OK)
                break;
            if (nb > 0 && side[nb] != side[0]) {
                free(x[nb]);
                x[nb] = NULL;
                break;
            }
            nb++;
        }
        size_t len = (size_t)id->channels * side[0] * side[0];
        if (s == FS_OK && (size_t)nb * len > in_cap) {
            free(in);
            in_cap = (size_t)nb * len;
            if (!(in = malloc(in_cap * sizeof *in)))
                s = fs_error(FS_ERR_NOMEM, "out of memory for a batch of %d images", nb);
        }
        for (int k = 0; k < nb && s == FS_OK; k++)
            memcpy(in + (size_t)k * len, x[k], len * sizeof *in);
        if (s == FS_OK)
            s = cli_identity_embed(id, in, nb, side[0], out + k0 * (size_t)id->dim);
        for (int k = 0; k < batch; k++) {
            free(x[k]);
            x[k] = NULL;
        }
        k0 += (size_t)nb;
        if (s == FS_OK && prog)
            fs_progress_update(prog, done + k0);
    }
    free(in);
    free(x);
    free(side);
    return s;
}

fs_status cli_identity_pair_cosines(cli_identity *id, const char *ref_dir, char *const *refs,
                                    size_t n_refs, const char *cand_dir, char *const *cands,
                                    const size_t *ref_of, size_t n_cands, int quiet, double *cos)
{
    /* the references the candidates use, each once, in name order */
    size_t *row = malloc(n_refs * sizeof *row), *used = malloc(n_refs * sizeof *used);
    size_t *all = malloc(n_cands * sizeof *all), nu = 0;
    float *re = NULL, *ce = NULL;
    fs_status s = row && used && all ? FS_OK : fs_error(FS_ERR_NOMEM, "out of memory");
    for (size_t r = 0; s == FS_OK && r < n_refs; r++)
        row[r] = SIZE_MAX;
    for (size_t i = 0; s == FS_OK && i < n_cands; i++) {
        all[i] = i;
        if (row[ref_of[i]] == SIZE_MAX)
            row[ref_of[i]] = 0;
    }
    for (size_t r = 0; s == FS_OK && r < n_refs; r++)
        if (row[r] != SIZE_MAX) {
            row[r] = nu;
            used[nu++] = r;
        }
    if (s == FS_OK && (!(re = malloc((nu ? nu : 1) * (size_t)id->dim * sizeof *re)) ||
                       !(ce = malloc((n_cands ? n_cands : 1) * (size_t)id->dim * sizeof *ce))))
        s = fs_error(FS_ERR_NOMEM, "out of memory for %zu embeddings", nu + n_cands);
    fs_progress prog = {0};
    if (s == FS_OK) {
        fs_progress_start(&prog, stderr, quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO, "faces",
                          "faces/s", nu + n_cands);
        s = cli_identity_embed_files(id, ref_dir, refs, used, nu, 8, re, &prog, 0);
        if (s == FS_OK)
            s = cli_identity_embed_files(id, cand_dir, cands, all, n_cands, 8, ce, &prog, nu);
        if (s == FS_OK)
            fs_progress_finish(&prog);
        else
            fs_progress_abort(&prog);
    }
    for (size_t i = 0; s == FS_OK && i < n_cands; i++)
        cos[i] = cli_cosine(ce + i * (size_t)id->dim, re + row[ref_of[i]] * (size_t)id->dim,
                            id->dim);
    free(row);
    free(used);
    free(all);
    free(re);
    free(ce);
    return s;
}

double cli_cosine(const float *a, const float *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / (sqrt(aa) * sqrt(bb)) : NAN;
}

/* ---- folders ---------------------------------------------------------------------- */

void cli_names_free(char **names, size_t n)
{
    if (names)
        for (size_t i = 0; i < n; i++)
            free(names[i]);
    free(names);
}

fs_status cli_list_images(const char *dir, const char *flag, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return fs_error(FS_ERR_IO, "%s: cannot open directory (%s)", dir, flag);
    size_t cap = 0;
    fs_status s = FS_OK;
    struct dirent *e;
    while (s == FS_OK && (e = readdir(d))) {
        if (!cli_is_photo_name(e->d_name))
            continue;
        if (*n == cap) {
            size_t nc = cap ? 2 * cap : 64;
            char **t = realloc(*names, nc * sizeof *t);
            if (!t) {
                s = fs_error(FS_ERR_NOMEM, "out of memory");
                break;
            }
            *names = t;
            cap = nc;
        }
        if (!((*names)[*n] = strdup(e->d_name)))
            s = fs_error(FS_ERR_NOMEM, "out of memory");
        else
            (*n)++;
    }
    closedir(d);
    if (s == FS_OK && *n == 0)
        s = fs_error(FS_ERR_ARG, "%s: no .png, .jpg or .jpeg files in the directory (%s)", dir,
                     flag);
    if (s != FS_OK) {
        cli_names_free(*names, *n);
        *names = NULL;
        *n = 0;
        return s;
    }
    qsort(*names, *n, sizeof **names, cli_str_cmp);
    return FS_OK;
}

char *cli_join(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/%s", dir, name);
    return p;
}
