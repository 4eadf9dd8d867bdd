/* The CVAE-GAN forward passes as backend operations (specs/cvaegan.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvaegan.h"
#include "stylegan2_weights.h"

struct fs_cvaegan {
    fs_backend *b;
    const fs_weights *w;
    fs_cvaegan_config cfg;
    fs_dev_weights dw;
    int cap;
    float *a, *bb, *t, *in, *vec, *pooled;
};

const fs_cvaegan_config *fs_cvaegan_get_config(const fs_cvaegan *m) { return &m->cfg; }

fs_status fs_cvaegan_init(fs_cvaegan **out, const fs_weights *w, fs_backend *b)
{
    *out = NULL;
    if (fs_weights_family(w) != FS_FAMILY_CVAEGAN)
        return fs_error(FS_ERR_ARG, "%s: not a CVAE-GAN (it is a %s)", fs_weights_label(w),
                        fs_family_name(fs_weights_family(w)));
    fs_cvaegan *m = calloc(1, sizeof *m);
    if (!m)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    m->b = b;
    m->w = w;
    /* The family check: a model never trusts a file it did not check. */
    fs_status s = fs_cvaegan_check_weights(w);
    if (s == FS_OK)
        s = fs_cvaegan_config_from_weights(w, &m->cfg);
    if (s == FS_OK)
        s = fs_dev_weights_upload(&m->dw, w, b);
    if (s != FS_OK) {
        fs_cvaegan_free(m);
        return s;
    }
    *out = m;
    return FS_OK;
}

static void free_buffers(fs_cvaegan *m)
{
    float **bufs[] = {&m->a, &m->bb, &m->t, &m->in, &m->vec, &m->pooled};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) {
        if (*bufs[i])
            m->b->ops->release(m->b, *bufs[i]);
        *bufs[i] = NULL;
    }
    m->cap = 0;
}

void fs_cvaegan_free(fs_cvaegan *m)
{
    if (!m)
        return;
    free_buffers(m);
    fs_dev_weights_free(&m->dw);
    free(m);
}

/* The largest activation of any of the three networks is the full-resolution
 * map with the most channels: w at R (encoder stem and D1's first conv) or the
 * generator's output-side layers; 8w at R/2 bounds the rest. */
static fs_status ensure_buffers(fs_cvaegan *m, int n)
{
    if (n <= m->cap)
        return FS_OK;
    free_buffers(m);
    const fs_cvaegan_config *c = &m->cfg;
    size_t R = (size_t)c->img_resolution, w = (size_t)c->width;
    size_t act = (w > 3 ? w : 3) * R * R;
    size_t half = 8 * w * (R / 2) * (R / 2);
    act = act > half ? act : half;
    size_t vec = (size_t)(c->z_dim + c->n_id) + 32 * w + 8 * w * (R / 16) * (R / 16) + 4 * 8 * w;
    struct { float **p; size_t floats; } want[] = {
        {&m->a, act * n}, {&m->bb, act * n}, {&m->t, act * n}, {&m->in, 3 * R * R * n},
        {&m->vec, vec * n}, {&m->pooled, 3 * (R / 2) * (R / 2) * n}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        *want[i].p = m->b->ops->alloc(m->b, want[i].floats * sizeof(float));
        if (!*want[i].p) {
            free_buffers(m);
            return FS_ERR_NOMEM;
        }
    }
    m->cap = n;
    return FS_OK;
}

static fs_status conv(fs_cvaegan *m, const char *name, int has_bias, const float *x, float *y,
                      int n, int cin, int cout, int h, int k, int stride, int pad, fs_act act)
{
    fs_conv2d_args a = {x, fs_dev_weight(&m->dw, "%s.weight", name),
                        has_bias ? fs_dev_weight(&m->dw, "%s.bias", name) : NULL,
                        y, n, cin, cout, h, h, k, 1, NULL, 0, 1.0f, 1.0f, 0.0f, act, stride, pad};
    return m->b->ops->conv2d(m->b, &a);
}

static fs_status inorm(fs_cvaegan *m, const char *name, float *x, int n, int c, int h, fs_act act)
{
    return m->b->ops->instance_norm(m->b, x, fs_dev_weight(&m->dw, "%s.weight", name),
                                    fs_dev_weight(&m->dw, "%s.bias", name), n, c,
                                    (size_t)h * h, 1e-5f, act);
}

fs_status fs_cvaegan_encode(fs_cvaegan *m, const float *x_host, int n, float *mu, float *logvar)
{
    const fs_cvaegan_config *c = &m->cfg;
    fs_backend *b = m->b;
    FS_TRY(ensure_buffers(m, n));
    int R = (int)c->img_resolution, w = (int)c->width;
    FS_TRY(b->ops->upload(b, m->in, x_host, (size_t)n * 3 * R * R * sizeof(float)));
    FS_TRY(conv(m, "encoder.stem_conv", 0, m->in, m->a, n, 3, w, R, 3, 1, 1, FS_ACT_LINEAR));
    FS_TRY(inorm(m, "encoder.stem_norm", m->a, n, w, R, FS_ACT_RELU));
    static const int mult[5] = {1, 2, 4, 8, 8};
    float *x = m->a, *y = m->bb;
    int h = R;
    char name[64];
    for (int i = 0; i < 4; i++) {
        int cin = w * mult[i], cout = w * mult[i + 1], oh = h / 2;
        snprintf(name, sizeof name, "encoder.blocks.%d.conv1", i);
        FS_TRY(conv(m, name, 0, x, m->t, n, cin, cout, h, 3, 2, 1, FS_ACT_LINEAR));
        snprintf(name, sizeof name, "encoder.blocks.%d.norm1", i);
        FS_TRY(inorm(m, name, m->t, n, cout, oh, FS_ACT_RELU));
        snprintf(name, sizeof name, "encoder.blocks.%d.conv2", i);
        FS_TRY(conv(m, name, 0, m->t, y, n, cout, cout, oh, 3, 1, 1, FS_ACT_LINEAR));
        snprintf(name, sizeof name, "encoder.blocks.%d.norm2", i);
        FS_TRY(inorm(m, name, y, n, cout, oh, FS_ACT_LINEAR));
        snprintf(name, sizeof name, "encoder.blocks.%d.skip", i);
        FS_TRY(conv(m, name, 0, x, m->t, n, cin, cout, h, 1, 2, 0, FS_ACT_LINEAR));
        size_t len = (size_t)n * cout * oh * oh;
        FS_TRY(b->ops->axpby(b, y, m->t, len, 1.0f, 1.0f));
        FS_TRY(b->ops->bias_act(b, y, NULL, 1, 1, len, FS_ACT_RELU, 1.0f, 0.0f));
        float *tt = x;
        x = y;
        y = tt;
        h = oh;
    }
    int flat = 8 * w * h * h, z = (int)c->z_dim;
    fs_fc_args f = {x, 0, fs_dev_weight(&m->dw, "encoder.fc_mu.weight"),
                    fs_dev_weight(&m->dw, "encoder.fc_mu.bias"), m->vec, n, flat, z, 1.0f, 1.0f,
                    1.0f, 0.0f, FS_ACT_LINEAR};
    FS_TRY(b->ops->fc(b, &f));
    FS_TRY(b->ops->download(b, mu, m->vec, (size_t)n * z * sizeof(float)));
    f.w = fs_dev_weight(&m->dw, "encoder.fc_logvar.weight");
    f.b = fs_dev_weight(&m->dw, "encoder.fc_logvar.bias");
    FS_TRY(b->ops->fc(b, &f));
    return b->ops->download(b, logvar, m->vec, (size_t)n * z * sizeof(float));
}

fs_status fs_cvaegan_generate(fs_cvaegan *m, const float *z, const float *c_host, int n, float *img)
{
    const fs_cvaegan_config *c = &m->cfg;
    fs_backend *b = m->b;
    FS_TRY(ensure_buffers(m, n));
    int zd = (int)c->z_dim, nid = (int)c->n_id, in = zd + nid, c0 = 8 * (int)c->width;
    float *cat = malloc((size_t)n * in * sizeof *cat);
    if (!cat)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        memcpy(cat + (size_t)i * in, z + (size_t)i * zd, (size_t)zd * sizeof *cat);
        memcpy(cat + (size_t)i * in + zd, c_host + (size_t)i * nid, (size_t)nid * sizeof *cat);
    }
    fs_status s = b->ops->upload(b, m->vec, cat, (size_t)n * in * sizeof *cat);
    free(cat);
    FS_TRY(s);
    fs_fc_args f = {m->vec, 0, fs_dev_weight(&m->dw, "generator.fc.weight"),
                    fs_dev_weight(&m->dw, "generator.fc.bias"), m->a, n, in, 4 * c0, 1.0f, 1.0f,
                    1.0f, 0.0f, FS_ACT_RELU};
    FS_TRY(b->ops->fc(b, &f)); /* [n, 4 c0] is already [n, c0, 2, 2] */
    float *x = m->a, *y = m->bb;
    int h = 2, cin = c0, nd = fs_cvaegan_num_deconvs(c);
    char name[64];
    for (int i = 0; i < nd; i++) {
        int cout = (int)fs_cvaegan_deconv_out(c, i);
        snprintf(name, sizeof name, "generator.deconvs.%d", i);
        fs_conv_transpose2d_args t = {x, fs_dev_weight(&m->dw, "%s.weight", name),
                                      fs_dev_weight(&m->dw, "%s.bias", name), y, n, cin, cout, h, h,
                                      4, 2, 1};
        FS_TRY(b->ops->conv_transpose2d(b, &t));
        h *= 2;
        if (i < nd - 1) {
            snprintf(name, sizeof name, "generator.norms.%d", i);
            FS_TRY(inorm(m, name, y, n, cout, h, FS_ACT_RELU));
        } else {
            FS_TRY(b->ops->bias_act(b, y, NULL, 1, 1, (size_t)n * cout * h * h, FS_ACT_TANH, 1.0f,
                                    0.0f));
        }
        float *tt = x;
        x = y;
        y = tt;
        cin = cout;
    }
    return b->ops->download(b, img, x, (size_t)n * 3 * h * h * sizeof(float));
}

/* One discriminator on an image already in backend memory. */
static fs_status disc(fs_cvaegan *m, int k, const float *img, int n, int res, float *src,
                      float *cls)
{
    fs_backend *b = m->b;
    int w = (int)m->cfg.width, ch = 3, h = res;
    const float *x = img;
    float *bufs[2] = {m->a, m->bb};
    char name[64];
    for (int i = 0; i < 6; i++) {
        int co = w << i;
        snprintf(name, sizeof name, "discriminators.%d.convs.%d", k, i);
        FS_TRY(conv(m, name, 1, x, bufs[i & 1], n, ch, co, h, 4, 2, 1, FS_ACT_LEAKY001));
        x = bufs[i & 1];
        ch = co;
        h /= 2;
    }
    snprintf(name, sizeof name, "discriminators.%d.src", k);
    FS_TRY(conv(m, name, 0, x, m->t, n, ch, 1, h, 3, 1, 1, FS_ACT_LINEAR));
    FS_TRY(b->ops->download(b, src, m->t, (size_t)n * h * h * sizeof(float)));
    snprintf(name, sizeof name, "discriminators.%d.cls", k);
    FS_TRY(conv(m, name, 0, x, m->t, n, ch, (int)m->cfg.n_id, h, h, 1, 0, FS_ACT_LINEAR));
    return b->ops->download(b, cls, m->t, (size_t)n * m->cfg.n_id * sizeof(float));
}

fs_status fs_cvaegan_discriminate(fs_cvaegan *m, const float *img, int n, float *d1_src,
                                  float *d1_cls, float *d2_src, float *d2_cls)
{
    fs_backend *b = m->b;
    FS_TRY(ensure_buffers(m, n));
    int R = (int)m->cfg.img_resolution;
    FS_TRY(b->ops->upload(b, m->in, img, (size_t)n * 3 * R * R * sizeof(float)));
    FS_TRY(disc(m, 0, m->in, n, R, d1_src, d1_cls));
    /* D2 sees the 3x3 / stride-2 average (padding not counted) */
    FS_TRY(b->ops->avg_pool2d(b, m->in, m->pooled, n * 3, R, R, 3, 2, 1));
    return disc(m, 1, m->pooled, n, R / 2, d2_src, d2_cls);
}
