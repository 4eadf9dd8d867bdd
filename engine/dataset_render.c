/* Pixels of dataset images (dataset_internal.h fs_ds_render_*): the
 * descriptions of dataset_plan.c turned into latent codes, run through the
 * network, and optionally scored.
 *
 * StyleGAN2: one mapping call for the batch maps every code it needs (each
 * image's identity, or the two sources of a mixed identity, and its
 * variation); image k's ws are then assembled on the host (identity w on
 * the layers outside the mix mask, the variation's w inside it, a mixed
 * identity as phi w_a + (1 - phi) w_b in float32), every edit adds alpha
 * times its boundary on the edit layers (edit.h fs_edit_offset, in the
 * boundary's own precision), and fs_sg2_generate synthesises them with the
 * noise keyed by the variation seed. The backend computes every image the
 * same way whatever else is in its batch, so a batch boundary never changes
 * a byte.
 *
 * CVAE-GAN: G(z_v, label), the label one-hot or the two-source mixture.
 *
 * Scores: each image alone (n = 1, so a discriminator's minibatch-std group
 * is the image itself), from its uint8 pixels as written (x / 127.5 - 1). */
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"
#include "image_io.h"

/* The float32 arithmetic of a mixed code: two products and a sum, each
 * rounded, never fused. */
#pragma GCC optimize("fp-contract=off")

struct fs_ds_render {
    const fs_ds_plan *plan;
    const fs_ds_job *job;
    fs_sg2_generator *g;
    fs_cvaegan *cvae;
    fs_sg2_discriminator *d;
    int cvae_scores;
    int max_batch, res, ch, zd, wd, nws, nid;
    size_t image_bytes;
    unsigned char edit_layers[FS_DS_MAX_WS];
    float *z;         /* [3 max_batch, zd]: the codes to map, or the CVAE's z */
    float *zvar;      /* [zd]: one variation's z */
    float *wrows;     /* [3 max_batch, nws, wd]: their ws */
    float *ws;        /* [max_batch, nws, wd] */
    float *label;     /* [max_batch, nid] */
    float *img;       /* [max_batch, C, R, R] float images (CVAE), or one for scoring */
    float *heads;     /* CVAE scoring: d1_src, d1_cls, d2_src, d2_cls of one image */
    uint64_t *noise_seeds;
};

void fs_ds_render_free(fs_ds_render *r)
{
    if (!r)
        return;
    free(r->z);
    free(r->zvar);
    free(r->wrows);
    free(r->ws);
    free(r->label);
    free(r->img);
    free(r->heads);
    free(r->noise_seeds);
    free(r);
}

size_t fs_ds_render_image_bytes(const fs_ds_render *r) { return r->image_bytes; }

fs_status fs_ds_render_init(fs_ds_render **out, const fs_ds_plan *plan, fs_sg2_generator *g,
                            fs_cvaegan *cvae, fs_sg2_discriminator *d, int cvae_scores,
                            int max_batch)
{
    *out = NULL;
    const fs_ds_job *j = plan->job;
    if ((j->family == FS_DS_SG2) != (g != NULL) || (j->family == FS_DS_CVAE) != (cvae != NULL))
        return fs_error(FS_ERR_ARG, "dataset: the network does not match the job's family");
    if (max_batch < 1)
        return fs_error(FS_ERR_ARG, "dataset: batch %d", max_batch);
    fs_ds_render *r = calloc(1, sizeof *r);
    if (!r)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    r->plan = plan;
    r->job = j;
    r->g = g;
    r->cvae = cvae;
    r->d = d;
    r->cvae_scores = cvae_scores;
    r->max_batch = max_batch;
    size_t B = (size_t)max_batch;
    if (g) {
        const fs_sg2_config *c = fs_sg2_generator_config(g);
        r->res = (int)c->img_resolution;
        r->ch = (int)c->img_channels;
        r->zd = (int)c->z_dim;
        r->wd = (int)c->w_dim;
        r->nws = (int)fs_sg2_num_ws(c);
        size_t code = (size_t)r->nws * r->wd;
        r->z = malloc(3 * B * r->zd * sizeof *r->z);
        r->zvar = malloc((size_t)r->zd * sizeof *r->zvar);
        r->wrows = malloc(3 * B * code * sizeof *r->wrows);
        r->ws = malloc(B * code * sizeof *r->ws);
        r->noise_seeds = malloc(B * sizeof *r->noise_seeds);
        if (d)
            r->img = malloc((size_t)r->ch * r->res * r->res * sizeof *r->img);
        for (int l = 0; l < r->nws && l < FS_DS_MAX_WS; l++)
            r->edit_layers[l] = (unsigned char)(j->edit_mask >> l & 1);
        if (!r->z || !r->zvar || !r->wrows || !r->ws || !r->noise_seeds || (d && !r->img)) {
            fs_ds_render_free(r);
            return fs_error(FS_ERR_NOMEM, "out of memory for a batch of %d images", max_batch);
        }
    } else {
        const fs_cvaegan_config *c = fs_cvaegan_get_config(cvae);
        r->res = (int)c->img_resolution;
        r->ch = 3;
        r->zd = (int)c->z_dim;
        r->nid = (int)c->n_id;
        size_t plane = (size_t)r->res * r->res;
        size_t d1 = (size_t)(r->res / 64) * (r->res / 64), d2 = (size_t)(r->res / 128) * (r->res / 128);
        r->z = malloc(B * r->zd * sizeof *r->z);
        r->label = malloc(B * r->nid * sizeof *r->label);
        r->img = malloc(B * 3 * plane * sizeof *r->img);
        if (cvae_scores)
            r->heads = malloc((d1 + d2 + 2 * (size_t)r->nid + 2) * sizeof *r->heads);
        if (!r->z || !r->label || !r->img || (cvae_scores && !r->heads)) {
            fs_ds_render_free(r);
            return fs_error(FS_ERR_NOMEM, "out of memory for a batch of %d images", max_batch);
        }
    }
    if (r->zd != j->z_dim) {
        int zd = r->zd;
        fs_ds_render_free(r);
        return fs_error(FS_ERR_ARG, "dataset: the network's z_dim %d is not the job's %d", zd,
                        j->z_dim);
    }
    r->image_bytes = (size_t)r->res * r->res * r->ch;
    *out = r;
    return FS_OK;
}

static double mean(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return n ? s / (double)n : 0;
}

/* Realism of image k's uint8 pixels. */
static fs_status score_one(fs_ds_render *r, const uint8_t *pix, double *out)
{
    fs_image_hwc_u8_to_chw_f32(pix, r->res, r->res, r->ch, r->img);
    if (r->d) {
        float logit;
        FS_TRY(fs_sg2_discriminator_run(r->d, r->img, NULL, 1, &logit));
        *out = logit;
        return FS_OK;
    }
    /* the CVAE-GAN's score command: the mean of both scales' src maps */
    size_t d1 = (size_t)(r->res / 64) * (r->res / 64), d2 = (size_t)(r->res / 128) * (r->res / 128);
    float *d1s = r->heads, *d1c = d1s + d1, *d2s = d1c + r->nid, *d2c = d2s + d2;
    FS_TRY(fs_cvaegan_discriminate(r->cvae, r->img, 1, d1s, d1c, d2s, d2c));
    *out = 0.5 * (mean(d1s, d1) + mean(d2s, d2));
    return FS_OK;
}

static fs_status render_sg2(fs_ds_render *r, const uint64_t *idx, int n, uint8_t *pixels,
                            fs_ds_image_info *info)
{
    const fs_ds_job *j = r->job;
    size_t wd = (size_t)r->wd, code = (size_t)r->nws * wd;
    int with_var = j->mix_mask != 0;
    /* rows of the mapping call: per image, its identity code(s), then its
     * variation's; id_row[k], src rows, var_row[k] index them */
    int rows = 0, id_row[2 * 4096], var_row[4096];
    if (n > 4096)
        return fs_error(FS_ERR_ARG, "dataset: batch %d is over 4096", n);
    for (int k = 0; k < n; k++) {
        fs_ds_image_info *in = &info[k];
        fs_ds_describe(r->plan, idx[k], in, with_var ? r->zvar : NULL);
        if (in->mixed) {
            fs_ds_identity_z(r->plan, in->src[0], r->z + (size_t)rows * r->zd);
            fs_ds_identity_z(r->plan, in->src[1], r->z + (size_t)(rows + 1) * r->zd);
            id_row[2 * k] = rows;
            id_row[2 * k + 1] = rows + 1;
            rows += 2;
        } else {
            fs_ds_identity_z(r->plan, in->identity, r->z + (size_t)rows * r->zd);
            id_row[2 * k] = id_row[2 * k + 1] = rows++;
        }
        if (with_var)
            memcpy(r->z + (size_t)rows * r->zd, r->zvar, (size_t)r->zd * sizeof *r->z);
        var_row[k] = with_var ? rows++ : -1;
        r->noise_seeds[k] = in->variation_seed;
    }
    FS_TRY(fs_sg2_generator_mapping(r->g, r->z, NULL, rows, (float)j->psi, -1, r->wrows));
    for (int k = 0; k < n; k++) {
        const fs_ds_image_info *in = &info[k];
        float *w = r->ws + (size_t)k * code;
        /* the first ws row of each mapped code (all rows are equal: the
         * truncation covers every layer) */
        const float *wa = r->wrows + (size_t)id_row[2 * k] * code;
        const float *wb = r->wrows + (size_t)id_row[2 * k + 1] * code;
        const float *wv = with_var ? r->wrows + (size_t)var_row[k] * code : NULL;
        float ident[8192];
        const float *wi = wa;
        if (in->mixed) {
            if (wd > sizeof ident / sizeof *ident)
                return fs_error(FS_ERR_LIMIT, "dataset: w_dim %zu is over 8192", wd);
            float fa = in->weight[0], fb = in->weight[1];
            for (size_t q = 0; q < wd; q++) {
                float pa = fa * wa[q];
                float pb = fb * wb[q];
                ident[q] = pa + pb;
            }
            wi = ident;
        }
        for (int l = 0; l < r->nws; l++)
            memcpy(w + (size_t)l * wd, (j->mix_mask >> l & 1) ? wv : wi, wd * sizeof *w);
        for (int e = 0; e < j->n_edits; e++)
            fs_edit_offset(w, r->nws, &j->edits[e].b, r->edit_layers, in->alpha[e], w);
    }
    fs_sg2_generate_args ga = {
        .n = n,
        .ws = r->ws,
        .psi = 1.0f,
        .cutoff = -1,
        .noise_mode = j->noise,
        .noise_seeds = r->noise_seeds,
        .images = pixels,
    };
    return fs_sg2_generate(r->g, &ga);
}

static fs_status render_cvae(fs_ds_render *r, const uint64_t *idx, int n, uint8_t *pixels,
                             fs_ds_image_info *info)
{
    size_t nid = (size_t)r->nid;
    memset(r->label, 0, (size_t)n * nid * sizeof *r->label);
    for (int k = 0; k < n; k++) {
        fs_ds_image_info *in = &info[k];
        fs_ds_describe(r->plan, idx[k], in, r->z + (size_t)k * r->zd);
        float *c = r->label + (size_t)k * nid;
        if (in->mixed) {
            c[in->src[0]] = in->weight[0];
            c[in->src[1]] = in->weight[1];
        } else {
            c[in->identity] = 1.0f;
        }
    }
    FS_TRY(fs_cvaegan_generate(r->cvae, r->z, r->label, n, r->img));
    fs_image_nchw_f32_to_nhwc_u8(r->img, n, 3, r->res, r->res, pixels);
    return FS_OK;
}

fs_status fs_ds_render_batch(fs_ds_render *r, const uint64_t *idx, int n, uint8_t *pixels,
                             fs_ds_image_info *info, double *scores)
{
    if (n < 1 || n > r->max_batch)
        return fs_error(FS_ERR_ARG, "dataset: batch of %d images (at most %d)", n, r->max_batch);
    FS_TRY(r->g ? render_sg2(r, idx, n, pixels, info) : render_cvae(r, idx, n, pixels, info));
    if (r->d || r->cvae_scores)
        for (int k = 0; k < n; k++)
            FS_TRY(score_one(r, pixels + (size_t)k * r->image_bytes, &scores[k]));
    return FS_OK;
}
