/* The CVAE-GAN forward passes as backend operations (docs/cvaegan.md).
 *
 * Each network is one walk over its layers. At init every walk runs once
 * with planning set and n = 0, planning the conv, transposed-conv and fc
 * layers on the backend (fs_plan_table); the forwards then run the same
 * walks with the plans. Ops without a plan are skipped in the plan walk (RUN). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvaegan.h"
#include "dev_weights.h"

struct fs_cvaegan {
    fs_backend *b;
    const fs_weights *w;
    fs_cvaegan_config cfg;
    fs_dev_weights dw;
    fs_plan_table plans;
    int cap;
    float *a, *bb, *t, *in, *vec, *pooled;
};

const fs_cvaegan_config *fs_cvaegan_get_config(const fs_cvaegan *m) { return &m->cfg; }

static fs_status plan_network(fs_cvaegan *m);

fs_status fs_cvaegan_init(fs_cvaegan **out, const fs_weights *w, fs_backend *b)
{
    *out = NULL;
    if (fs_weights_family(w) != FS_FAMILY_CVAEGAN)
        return fs_error(FS_ERR_ARG, "%s: not a CVAE-GAN (it is a %s)", fs_weights_label(w),
                        fs_family_name(fs_weights_family(w)));
    fs_cvaegan *m = calloc(1, sizeof *m);
    if (!m)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory for the CVAE-GAN", fs_weights_label(w));
    m->b = b;
    m->w = w;
    m->plans.b = b;
    /* The family check: a model never trusts a file it did not check. */
    fs_status s = fs_cvaegan_check_weights(w);
    if (s == FS_OK)
        s = fs_cvaegan_config_from_weights(w, &m->cfg);
    if (s == FS_OK)
        s = fs_dev_weights_upload(&m->dw, w, b);
    if (s == FS_OK)
        s = plan_network(m);
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
    fs_dev_buffers_release(m->b, bufs, sizeof bufs / sizeof *bufs);
    m->cap = 0;
}

void fs_cvaegan_free(fs_cvaegan *m)
{
    if (!m)
        return;
    free_buffers(m);
    fs_plan_table_free(&m->plans);
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
    fs_dev_buffer want[] = {
        {&m->a, act * n}, {&m->bb, act * n}, {&m->t, act * n}, {&m->in, 3 * R * R * n},
        {&m->vec, vec * n}, {&m->pooled, 3 * (R / 2) * (R / 2) * n}};
    if (fs_dev_buffers_alloc(m->b, want, sizeof want / sizeof *want, 1) != FS_OK) {
        free_buffers(m);
        return FS_ERR_NOMEM; /* the backend's alloc recorded the message */
    }
    m->cap = n;
    return FS_OK;
}

/* In the plan walk, only the planned layers act. */
#define RUN(call) FS_PLAN_RUN(&m->plans, call)

static fs_status conv(fs_cvaegan *m, const char *name, int has_bias, const float *x, float *y,
                      int n, int cin, int cout, int h, int k, int stride, int pad, fs_act act)
{
    fs_conv2d_args a = {
        .x = x, .weight = fs_dev_weight(&m->dw, "%s.weight", name),
        .b = has_bias ? fs_dev_weight(&m->dw, "%s.bias", name) : NULL, .y = y, .n = n,
        .cin = cin, .cout = cout, .h = h, .w = h, .k = k, .down = 1, .weight_gain = 1.0f,
        .gain = 1.0f, .clamp = 0.0f, .act = act, .stride = stride, .pad = pad,
        .plan = fs_plan_table_get(&m->plans, name),
    };
    if (m->plans.planning)
        return fs_plan_table_add(&m->plans, name, FS_OP_CONV2D, &a);
    return m->b->ops->conv2d(m->b, &a);
}

/* Linear layer: plain PyTorch nn.Linear (no equalised-lr gains). */
static fs_status linear(fs_cvaegan *m, const char *name, const float *x, float *y, int n, int in,
                        int out, fs_act act)
{
    fs_fc_args f = {
        .x = x, .w = fs_dev_weight(&m->dw, "%s.weight", name),
        .b = fs_dev_weight(&m->dw, "%s.bias", name), .y = y, .n = n, .in = in, .out = out,
        .weight_gain = 1.0f, .bias_gain = 1.0f, .gain = 1.0f, .clamp = 0.0f, .act = act,
        .plan = fs_plan_table_get(&m->plans, name),
    };
    if (m->plans.planning)
        return fs_plan_table_add(&m->plans, name, FS_OP_FC, &f);
    return m->b->ops->fc(m->b, &f);
}

static fs_status deconv(fs_cvaegan *m, const char *name, const float *x, float *y, int n,
                        int cin, int cout, int h)
{
    fs_conv_transpose2d_args t = {
        .x = x, .weight = fs_dev_weight(&m->dw, "%s.weight", name),
        .b = fs_dev_weight(&m->dw, "%s.bias", name), .y = y, .n = n, .cin = cin, .cout = cout,
        .h = h, .w = h, .k = 4, .stride = 2, .pad = 1, .plan = fs_plan_table_get(&m->plans, name),
    };
    if (m->plans.planning)
        return fs_plan_table_add(&m->plans, name, FS_OP_CONV_TRANSPOSE2D, &t);
    return m->b->ops->conv_transpose2d(m->b, &t);
}

static fs_status inorm(fs_cvaegan *m, const char *name, float *x, int n, int c, int h, fs_act act)
{
    if (m->plans.planning)
        return FS_OK;
    return m->b->ops->instance_norm(m->b, x, fs_dev_weight(&m->dw, "%s.weight", name),
                                    fs_dev_weight(&m->dw, "%s.bias", name), n, c,
                                    (size_t)h * h, 1e-5f, act);
}

/* The encoder from m->in. */
static fs_status encode_walk(fs_cvaegan *m, int n, float *mu, float *logvar)
{
    const fs_cvaegan_config *c = &m->cfg;
    fs_backend *b = m->b;
    int R = (int)c->img_resolution, w = (int)c->width;
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
        RUN(b->ops->axpby(b, y, m->t, len, 1.0f, 1.0f));
        RUN(b->ops->bias_act(b, y, NULL, 1, 1, len, FS_ACT_RELU, 1.0f, 0.0f));
        float *tt = x;
        x = y;
        y = tt;
        h = oh;
    }
    int flat = 8 * w * h * h, z = (int)c->z_dim;
    FS_TRY(linear(m, "encoder.fc_mu", x, m->vec, n, flat, z, FS_ACT_LINEAR));
    RUN(b->ops->download(b, mu, m->vec, (size_t)n * z * sizeof(float)));
    FS_TRY(linear(m, "encoder.fc_logvar", x, m->vec, n, flat, z, FS_ACT_LINEAR));
    RUN(b->ops->download(b, logvar, m->vec, (size_t)n * z * sizeof(float)));
    return FS_OK;
}

fs_status fs_cvaegan_encode(fs_cvaegan *m, const float *x_host, int n, float *mu, float *logvar)
{
    if (n <= 0)
        return fs_error(FS_ERR_ARG, "encode: batch of %d", n);
    FS_TRY(ensure_buffers(m, n));
    int R = (int)m->cfg.img_resolution;
    FS_TRY(m->b->ops->upload(m->b, m->in, x_host, (size_t)n * 3 * R * R * sizeof(float)));
    return encode_walk(m, n, mu, logvar);
}

/* The generator from [z, c] in m->vec. */
static fs_status generate_walk(fs_cvaegan *m, int n, float *img)
{
    const fs_cvaegan_config *c = &m->cfg;
    fs_backend *b = m->b;
    int in = (int)(c->z_dim + c->n_id), c0 = 8 * (int)c->width;
    /* [n, 4 c0] is already [n, c0, 2, 2] */
    FS_TRY(linear(m, "generator.fc", m->vec, m->a, n, in, 4 * c0, FS_ACT_RELU));
    float *x = m->a, *y = m->bb;
    int h = 2, cin = c0, nd = fs_cvaegan_num_deconvs(c);
    char name[64];
    for (int i = 0; i < nd; i++) {
        int cout = (int)fs_cvaegan_deconv_out(c, i);
        snprintf(name, sizeof name, "generator.deconvs.%d", i);
        FS_TRY(deconv(m, name, x, y, n, cin, cout, h));
        h *= 2;
        if (i < nd - 1) {
            snprintf(name, sizeof name, "generator.norms.%d", i);
            FS_TRY(inorm(m, name, y, n, cout, h, FS_ACT_RELU));
        } else {
            RUN(b->ops->bias_act(b, y, NULL, 1, 1, (size_t)n * cout * h * h, FS_ACT_TANH, 1.0f,
                                 0.0f));
        }
        float *tt = x;
        x = y;
        y = tt;
        cin = cout;
    }
    RUN(b->ops->download(b, img, x, (size_t)n * 3 * h * h * sizeof(float)));
    return FS_OK;
}

fs_status fs_cvaegan_generate(fs_cvaegan *m, const float *z, const float *c_host, int n, float *img)
{
    const fs_cvaegan_config *c = &m->cfg;
    fs_backend *b = m->b;
    if (n <= 0)
        return fs_error(FS_ERR_ARG, "generate: batch of %d", n);
    FS_TRY(ensure_buffers(m, n));
    size_t zd = (size_t)c->z_dim, nid = (size_t)c->n_id, in = zd + nid;
    /* [z, c] rows, assembled on the host: one upload */
    float *cat = malloc((size_t)n * in * sizeof *cat);
    if (!cat)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory for %d generator inputs",
                        fs_weights_label(m->w), n);
    for (int i = 0; i < n; i++) {
        memcpy(cat + (size_t)i * in, z + (size_t)i * zd, zd * sizeof *cat);
        memcpy(cat + (size_t)i * in + zd, c_host + (size_t)i * nid, nid * sizeof *cat);
    }
    fs_status s = b->ops->upload(b, m->vec, cat, (size_t)n * in * sizeof *cat);
    free(cat);
    FS_TRY(s);
    return generate_walk(m, n, img);
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
    RUN(b->ops->download(b, src, m->t, (size_t)n * h * h * sizeof(float)));
    snprintf(name, sizeof name, "discriminators.%d.cls", k);
    FS_TRY(conv(m, name, 0, x, m->t, n, ch, (int)m->cfg.n_id, h, h, 1, 0, FS_ACT_LINEAR));
    RUN(b->ops->download(b, cls, m->t, (size_t)n * m->cfg.n_id * sizeof(float)));
    return FS_OK;
}

static fs_status plan_network(fs_cvaegan *m)
{
    int R = (int)m->cfg.img_resolution;
    m->plans.planning = 1;
    fs_status s = encode_walk(m, 0, NULL, NULL);
    if (s == FS_OK)
        s = generate_walk(m, 0, NULL);
    if (s == FS_OK)
        s = disc(m, 0, NULL, 0, R, NULL, NULL);
    if (s == FS_OK)
        s = disc(m, 1, NULL, 0, R / 2, NULL, NULL);
    m->plans.planning = 0;
    return s;
}

fs_status fs_cvaegan_discriminate(fs_cvaegan *m, const float *img, int n, float *d1_src,
                                  float *d1_cls, float *d2_src, float *d2_cls)
{
    fs_backend *b = m->b;
    if (n <= 0)
        return fs_error(FS_ERR_ARG, "discriminate: batch of %d", n);
    FS_TRY(ensure_buffers(m, n));
    int R = (int)m->cfg.img_resolution;
    FS_TRY(b->ops->upload(b, m->in, img, (size_t)n * 3 * R * R * sizeof(float)));
    FS_TRY(disc(m, 0, m->in, n, R, d1_src, d1_cls));
    /* D2 sees the 3x3 / stride-2 average (padding not counted) */
    FS_TRY(b->ops->avg_pool2d(b, m->in, m->pooled, n * 3, R, R, 3, 2, 1));
    return disc(m, 1, m->pooled, n, R / 2, d2_src, d2_cls);
}
