/* Encoder4Editing as backend operations (docs/e4e.md), in the order of the
 * official forward (psp_encoders.py Encoder4Editing.forward):
 *   trunk (ir_se.c) -> taps c1, c2, c3
 *   w0 = styles[0](c3)
 *   for i = 1 .. n_styles - 1:
 *     i == 3: p2 = latlayer1(c2) + up(c3)      conv2d 1x1, upsample_add
 *     i == 7: p1 = latlayer2(c1) + up(p2)
 *     w[i] = w0 + styles[i](c3 | p2 | p1)      conv2d chain, fc, axpby
 *   codes = w + latent_avg                      bias_act (a per-column add)
 * The codes are built style-major, [n_styles, n, D], so that each style's
 * rows are one contiguous block for fc, axpby and bias_act; copy_rows then
 * lays them out as [n, n_styles, D].
 *
 * Like the other models, the head is one walk over its layers: at init with
 * planning set (every conv and the linear layers add their plans), then per
 * batch with the plans (RUN skips the unplanned ops in the plan walk). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev_weights.h"
#include "e4e.h"
#include "ir_se.h"

struct fs_e4e {
    fs_backend *b;
    const fs_weights *w;
    fs_e4e_config cfg;
    fs_dev_weights dw;
    fs_ir_se *body;
    fs_plan_table plans;
    int R, s1, s2, s3;   /* input side; sides of c1, c2, c3 */
    int cap;
    float *in, *c1, *c2, *c3, *p2, *p1, *sa, *sb, *wsm, *codes;
};

const fs_e4e_config *fs_e4e_get_config(const fs_e4e *m) { return &m->cfg; }

static void free_buffers(fs_e4e *m)
{
    float **bufs[] = {&m->in, &m->c1, &m->c2, &m->c3, &m->p2, &m->p1, &m->sa, &m->sb, &m->wsm,
                      &m->codes};
    fs_dev_buffers_release(m->b, bufs, sizeof bufs / sizeof *bufs);
    m->cap = 0;
}

void fs_e4e_free(fs_e4e *m)
{
    if (!m)
        return;
    free_buffers(m);
    fs_plan_table_free(&m->plans);
    fs_ir_se_free(m->body);
    fs_dev_weights_free(&m->dw);
    free(m);
}

static fs_status ensure_buffers(fs_e4e *m, int n)
{
    if (n <= m->cap)
        return FS_OK;
    free_buffers(m);
    const fs_e4e_config *c = &m->cfg;
    size_t C1 = (size_t)c->body.stage_width[1], C2 = (size_t)c->body.stage_width[2];
    size_t C3 = (size_t)c->body.stage_width[3], D = (size_t)c->style_dim;
    size_t S = (size_t)c->n_styles, s1 = (size_t)m->s1, s2 = (size_t)m->s2, s3 = (size_t)m->s3;
    /* a style head's ping-pong: its first conv halves the largest map it reads */
    size_t half = (m->cfg.n_styles > FS_E4E_MIDDLE_IND ? s1 : S > FS_E4E_COARSE_IND ? s2 : s3);
    half = (half + 1) / 2;
    fs_dev_buffer want[] = {
        {&m->in, 3 * (size_t)m->R * m->R}, {&m->c1, C1 * s1 * s1}, {&m->c2, C2 * s2 * s2},
        {&m->c3, C3 * s3 * s3}, {&m->p2, C3 * s2 * s2}, {&m->p1, C3 * s1 * s1},
        {&m->sa, D * half * half}, {&m->sb, D * half * half}, {&m->wsm, S * D},
        {&m->codes, S * D}};
    if (fs_dev_buffers_alloc(m->b, want, sizeof want / sizeof *want, (size_t)n) != FS_OK) {
        free_buffers(m);
        return FS_ERR_NOMEM; /* the backend's alloc recorded the message */
    }
    m->cap = n;
    return FS_OK;
}

#define RUN(call) FS_PLAN_RUN(&m->plans, call)

/* A conv with bias: 3x3 stride 2 pad 1 with LeakyReLU(0.01) (style heads) or
 * 1x1 linear (the laterals). */
static fs_status conv(fs_e4e *m, const char *name, const float *x, float *y, int n, int cin,
                      int cout, int h, int k, int stride, fs_act act)
{
    fs_conv2d_args a = {
        .x = x, .weight = fs_dev_weight(&m->dw, "%s.weight", name),
        .b = fs_dev_weight(&m->dw, "%s.bias", name), .y = y, .n = n, .cin = cin, .cout = cout,
        .h = h, .w = h, .k = k, .down = 1, .weight_gain = 1.0f, .gain = 1.0f, .clamp = 0.0f,
        .act = act, .stride = stride, .pad = k / 2, .tensor_cores = 1,
        .plan = fs_plan_table_get(&m->plans, name),
    };
    if (m->plans.planning)
        return fs_plan_table_add(&m->plans, name, FS_OP_CONV2D, &a);
    return m->b->ops->conv2d(m->b, &a);
}

/* GradualStyleBlock i on features f [n, cin, s, s] -> y [n, D]: log2(s)
 * convs 3x3 stride 2 with LeakyReLU(0.01), then EqualLinear(D, D) with
 * weight scale 1 / sqrt(D) (lr_mul 1: the bias as stored). */
static fs_status style_block(fs_e4e *m, int i, const float *f, int cin, int s, float *y, int n)
{
    int D = (int)m->cfg.style_dim, nc = fs_e4e_style_convs(&m->cfg, i);
    const float *x = f;
    float *bufs[2] = {m->sa, m->sb};
    char name[64];
    for (int k = 0; k < nc; k++) {
        snprintf(name, sizeof name, "styles.%d.convs.%d", i, 2 * k);
        FS_TRY(conv(m, name, x, bufs[k & 1], n, k ? D : cin, D, s, 3, 2, FS_ACT_LEAKY001));
        x = bufs[k & 1];
        s = (s - 1) / 2 + 1;
    }
    /* the official scale is the Python float 1 / sqrt(in_dim), rounded to
     * float when it multiplies the float weight */
    snprintf(name, sizeof name, "styles.%d.linear", i);
    fs_fc_args a = {
        .x = x, .w = fs_dev_weight(&m->dw, "%s.weight", name),
        .b = fs_dev_weight(&m->dw, "%s.bias", name), .y = y, .n = n, .in = D, .out = D,
        .weight_gain = (float)(1.0 / sqrt((double)D)), .bias_gain = 1.0f, .gain = 1.0f,
        .clamp = 0.0f, .act = FS_ACT_LINEAR, .plan = fs_plan_table_get(&m->plans, name),
    };
    if (m->plans.planning)
        return fs_plan_table_add(&m->plans, name, FS_OP_FC, &a);
    return m->b->ops->fc(m->b, &a);
}

static fs_status download(fs_e4e *m, float *dst, const float *src, size_t floats)
{
    return dst ? m->b->ops->download(m->b, dst, src, floats * sizeof(float)) : FS_OK;
}

/* Style i's raw output [n, D] into the trace's [n, S, D] styles_raw. */
static fs_status trace_style(fs_e4e *m, const fs_e4e_trace *t, int i, const float *y, int n)
{
    if (!t || !t->styles_raw)
        return FS_OK;
    size_t S = (size_t)m->cfg.n_styles, D = (size_t)m->cfg.style_dim;
    for (int k = 0; k < n; k++)
        FS_TRY(m->b->ops->download(m->b, t->styles_raw + ((size_t)k * S + i) * D,
                                   y + (size_t)k * D, D * sizeof(float)));
    return FS_OK;
}

/* [S, n, D] on the backend -> [n, S, D] on the host, through m->codes. */
static fs_status download_codes(fs_e4e *m, const float *sm, int n, float *host)
{
    size_t S = (size_t)m->cfg.n_styles, D = (size_t)m->cfg.style_dim;
    for (size_t i = 0; i < S; i++)
        FS_TRY(m->b->ops->copy_rows(m->b, m->codes + i * D, S * D, sm + i * (size_t)n * D, D,
                                    (size_t)n, D));
    return download(m, host, m->codes, (size_t)n * S * D);
}

/* The head: everything after the trunk. */
static fs_status head_walk(fs_e4e *m, int n, float *codes, const fs_e4e_trace *t)
{
    fs_backend *b = m->b;
    const fs_e4e_config *c = &m->cfg;
    int S = (int)c->n_styles, D = (int)c->style_dim;
    int C1 = (int)c->body.stage_width[1], C2 = (int)c->body.stage_width[2];
    int C3 = (int)c->body.stage_width[3];
    size_t nd = (size_t)n * D;
    FS_TRY(style_block(m, 0, m->c3, C3, m->s3, m->wsm, n));
    RUN(trace_style(m, t, 0, m->wsm, n));
    for (int i = 1; i < S; i++) {
        if (i == FS_E4E_COARSE_IND) {
            FS_TRY(conv(m, "latlayer1", m->c2, m->p2, n, C2, C3, m->s2, 1, 1, FS_ACT_LINEAR));
            RUN(b->ops->upsample_add(b, &(fs_upsample_add_args){
                .x = m->c3, .y = m->p2, .nc = n * C3, .h = m->s3, .w = m->s3, .oh = m->s2,
                .ow = m->s2}));
        } else if (i == FS_E4E_MIDDLE_IND) {
            FS_TRY(conv(m, "latlayer2", m->c1, m->p1, n, C1, C3, m->s1, 1, 1, FS_ACT_LINEAR));
            RUN(b->ops->upsample_add(b, &(fs_upsample_add_args){
                .x = m->p2, .y = m->p1, .nc = n * C3, .h = m->s2, .w = m->s2, .oh = m->s1,
                .ow = m->s1}));
        }
        int level = fs_e4e_style_level(i);
        const float *f = level == 0 ? m->c3 : level == 1 ? m->p2 : m->p1;
        int s = level == 0 ? m->s3 : level == 1 ? m->s2 : m->s1;
        float *wi = m->wsm + (size_t)i * nd;
        FS_TRY(style_block(m, i, f, C3, s, wi, n));
        RUN(trace_style(m, t, i, wi, n));
        /* w[:, i] += delta_i, with w[:, i] = w0: the sum is the same either way round */
        RUN(b->ops->axpby(b, wi, m->wsm, nd, 1.0f, 1.0f));
    }
    if (m->plans.planning)
        return FS_OK;
    if (t && t->enc)
        FS_TRY(download_codes(m, m->wsm, n, t->enc));
    if (c->add_latent_avg) {
        const float *avg = fs_dev_weight(&m->dw, "latent_avg");
        /* codes + latent_avg.repeat(n, 1, 1): row i of latent_avg on every
         * sample's style i, a per-column add over the [n, D] block */
        for (int i = 0; i < S; i++)
            FS_TRY(b->ops->bias_act(b, m->wsm + (size_t)i * nd, avg + (size_t)i * D, n, D, 1,
                                    FS_ACT_LINEAR, 1.0f, 0.0f));
    }
    return download_codes(m, m->wsm, n, codes);
}

static fs_status plan_head(fs_e4e *m)
{
    m->plans.planning = 1;
    fs_status s = head_walk(m, 0, NULL, NULL);
    m->plans.planning = 0;
    return s;
}

fs_status fs_e4e_init(fs_e4e **out, const fs_weights *w, fs_backend *b, const fs_e4e_opts *o)
{
    *out = NULL;
    if (fs_weights_family(w) != FS_FAMILY_E4E_ENCODER)
        return fs_error(FS_ERR_ARG, "%s: not an e4e encoder (it is a %s)", fs_weights_label(w),
                        fs_family_name(fs_weights_family(w)));
    fs_e4e *m = calloc(1, sizeof *m);
    if (!m)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory for the e4e encoder",
                        fs_weights_label(w));
    m->b = b;
    m->w = w;
    m->plans.b = b;
    /* The family check: a model never trusts a file it did not check. */
    fs_status s = fs_e4e_check_weights(w);
    if (s == FS_OK)
        s = fs_e4e_config_from_weights(w, &m->cfg);
    if (s == FS_OK)
        s = fs_dev_weights_upload(&m->dw, w, b);
    if (s == FS_OK) {
        m->R = (int)m->cfg.input_resolution;
        s = fs_ir_se_init(&m->body, &m->cfg.body, &m->dw, "", m->R, !(o && o->keep_bn));
    }
    if (s == FS_OK) {
        m->s1 = fs_ir_se_unit_res(m->body, FS_E4E_TAP_C1);
        m->s2 = fs_ir_se_unit_res(m->body, FS_E4E_TAP_C2);
        m->s3 = fs_ir_se_unit_res(m->body, FS_E4E_TAP_C3);
        /* the official head hard-codes 16/32/64 pixel features at 256 */
        for (int i = 0; s == FS_OK && i < m->cfg.n_styles; i++) {
            int level = fs_e4e_style_level(i);
            int side = level == 0 ? m->s3 : level == 1 ? m->s2 : m->s1;
            if (side != fs_e4e_style_spatial(&m->cfg, i))
                s = fs_error(FS_ERR_UNSUPPORTED, "%s: style %d reads %dx%d features, its block "
                             "was built for %lld", fs_weights_label(w), i, side, side,
                             (long long)fs_e4e_style_spatial(&m->cfg, i));
        }
    }
    if (s == FS_OK)
        s = plan_head(m);
    if (s != FS_OK) {
        fs_e4e_free(m);
        return s;
    }
    *out = m;
    return FS_OK;
}

fs_status fs_e4e_encode_traced(fs_e4e *m, const float *x, int n, float *codes,
                               const fs_e4e_trace *t)
{
    if (n <= 0)
        return fs_error(FS_ERR_ARG, "e4e encode: batch of %d", n);
    FS_TRY(ensure_buffers(m, n));
    size_t R = (size_t)m->R;
    FS_TRY(m->b->ops->upload(m->b, m->in, x, (size_t)n * 3 * R * R * sizeof(float)));
    static const int taps[3] = {FS_E4E_TAP_C1, FS_E4E_TAP_C2, FS_E4E_TAP_C3};
    float *tap_out[3] = {m->c1, m->c2, m->c3};
    FS_TRY(fs_ir_se_forward(m->body, m->in, n, 3, taps, tap_out));
    FS_TRY(head_walk(m, n, codes, t));
    if (t) {
        const fs_ir_se_config *bc = &m->cfg.body;
        size_t C3 = (size_t)bc->stage_width[3], s1 = (size_t)m->s1, s2 = (size_t)m->s2;
        size_t s3 = (size_t)m->s3;
        FS_TRY(download(m, t->c1, m->c1, (size_t)n * bc->stage_width[1] * s1 * s1));
        FS_TRY(download(m, t->c2, m->c2, (size_t)n * bc->stage_width[2] * s2 * s2));
        FS_TRY(download(m, t->c3, m->c3, (size_t)n * C3 * s3 * s3));
        if (m->cfg.n_styles > FS_E4E_COARSE_IND)
            FS_TRY(download(m, t->p2, m->p2, (size_t)n * C3 * s2 * s2));
        if (m->cfg.n_styles > FS_E4E_MIDDLE_IND)
            FS_TRY(download(m, t->p1, m->p1, (size_t)n * C3 * s1 * s1));
    }
    return FS_OK;
}

fs_status fs_e4e_encode(fs_e4e *m, const float *x, int n, float *codes)
{
    return fs_e4e_encode_traced(m, x, n, codes, NULL);
}
