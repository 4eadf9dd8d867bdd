/* ArcFace IR-SE-50 as backend operations (docs/identity.md), in the order of
 * the official Backbone.forward and IDLoss.extract_feats:
 *   [S > 256]  face_pool to 256          adaptive_avg_pool2d (whole plane)
 *   [S = 256]  crop + pool to 112        adaptive_avg_pool2d (the window)
 *   input_layer, body                    the IR-SE trunk (ir_se.c)
 *   output_layer: BatchNorm2d            channel_affine
 *                 Dropout (eval: none), Flatten (NCHW rows)
 *                 Linear                 fc (planned)
 *                 BatchNorm1d            channel_affine over [n, E, 1]
 *   l2_norm                              on the host, per sample, after the
 *                                        download (E values; the sum in double)
 * The output layer's BatchNorms are computed as the trunk's are
 * (fs_ir_se_bn_terms). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arcface.h"
#include "dev_weights.h"
#include "ir_se.h"

struct fs_arcface {
    fs_backend *b;
    const fs_weights *w;
    fs_arcface_config cfg;
    fs_dev_weights dw;
    fs_ir_se *body;
    fs_plan_table plans;
    int R, s, nunits;          /* input side, trunk output side */
    const float *bn2_scale, *bn2_shift, *bn1_scale, *bn1_shift;
    float *derived[4];
    int cap, cap_side;
    float *in, *f256, *pooled, *feat, *raw;
};

const fs_arcface_config *fs_arcface_get_config(const fs_arcface *m) { return &m->cfg; }

int fs_arcface_side_ok(const fs_arcface *m, int s)
{
    return s == m->R ||
           (m->R == 112 && s >= FS_ARCFACE_ID_SIDE && s <= 16384);
}

static void free_buffers(fs_arcface *m)
{
    float **bufs[] = {&m->in, &m->f256, &m->pooled, &m->feat, &m->raw};
    fs_dev_buffers_release(m->b, bufs, sizeof bufs / sizeof *bufs);
    m->cap = m->cap_side = 0;
}

void fs_arcface_free(fs_arcface *m)
{
    if (!m)
        return;
    free_buffers(m);
    fs_plan_table_free(&m->plans);
    fs_ir_se_free(m->body);
    for (int i = 0; i < 4; i++)
        if (m->derived[i])
            m->b->ops->release(m->b, m->derived[i]);
    fs_dev_weights_free(&m->dw);
    free(m);
}

static fs_status ensure_buffers(fs_arcface *m, int n, int side)
{
    if (n <= m->cap && side == m->cap_side)
        return FS_OK;
    free_buffers(m);
    size_t R = (size_t)m->R, S = (size_t)side, C = (size_t)m->cfg.body.stage_width[3];
    size_t E = (size_t)m->cfg.embedding_dim, s = (size_t)m->s;
    fs_dev_buffer want[] = {
        {&m->in, 3 * S * S}, {&m->f256, side > FS_ARCFACE_ID_SIDE ? 3 * 256 * 256 : 0},
        {&m->pooled, side != m->R ? 3 * R * R : 0}, {&m->feat, C * s * s}, {&m->raw, E}};
    if (fs_dev_buffers_alloc(m->b, want, sizeof want / sizeof *want, (size_t)n) != FS_OK) {
        free_buffers(m);
        return FS_ERR_NOMEM; /* the backend's alloc recorded the message */
    }
    m->cap = n;
    m->cap_side = side;
    return FS_OK;
}

/* A BatchNorm of the output layer as alpha/beta on the backend. */
static fs_status bn_upload(fs_arcface *m, const char *module, int ch, int slot,
                           const float **scale, const float **shift)
{
    float *host = malloc(2 * (size_t)ch * sizeof *host);
    if (!host)
        return fs_error(FS_ERR_NOMEM, "ArcFace: out of memory");
    fs_status s = fs_ir_se_bn_terms(m->w, module, ch, host, host + ch);
    if (s == FS_OK && !(m->derived[slot] = m->b->ops->alloc(m->b, 2 * (size_t)ch * sizeof(float))))
        s = FS_ERR_NOMEM; /* the backend's alloc recorded the message */
    if (s == FS_OK)
        s = m->b->ops->upload(m->b, m->derived[slot], host, 2 * (size_t)ch * sizeof(float));
    free(host);
    *scale = m->derived[slot];
    *shift = m->derived[slot] ? m->derived[slot] + ch : NULL;
    return s;
}

static fs_status linear(fs_arcface *m, const float *x, float *y, int n)
{
    int C = (int)m->cfg.body.stage_width[3], E = (int)m->cfg.embedding_dim;
    fs_fc_args a = {
        .x = x, .w = fs_dev_weight(&m->dw, "output_layer.3.weight"),
        .b = fs_dev_weight(&m->dw, "output_layer.3.bias"), .y = y, .n = n,
        .in = C * m->s * m->s, .out = E, .weight_gain = 1.0f, .bias_gain = 1.0f, .gain = 1.0f,
        .clamp = 0.0f, .act = FS_ACT_LINEAR, .plan = fs_plan_table_get(&m->plans, "linear"),
    };
    if (m->plans.planning)
        return fs_plan_table_add(&m->plans, "linear", FS_OP_FC, &a);
    return m->b->ops->fc(m->b, &a);
}

fs_status fs_arcface_init(fs_arcface **out, const fs_weights *w, fs_backend *b,
                          const fs_arcface_opts *o)
{
    *out = NULL;
    if (fs_weights_family(w) != FS_FAMILY_ARCFACE)
        return fs_error(FS_ERR_ARG, "%s: not an ArcFace IR-SE network (it is a %s)",
                        fs_weights_label(w), fs_family_name(fs_weights_family(w)));
    fs_arcface *m = calloc(1, sizeof *m);
    if (!m)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory for ArcFace", fs_weights_label(w));
    m->b = b;
    m->w = w;
    m->plans.b = b;
    /* The family check: a model never trusts a file it did not check. */
    fs_status s = fs_arcface_check_weights(w);
    if (s == FS_OK)
        s = fs_arcface_config_from_weights(w, &m->cfg);
    if (s == FS_OK)
        s = fs_dev_weights_upload(&m->dw, w, b);
    if (s == FS_OK) {
        m->R = (int)m->cfg.input_resolution;
        m->s = (int)fs_arcface_final_side(m->R);
        m->nunits = fs_ir_se_num_units(&m->cfg.body);
        s = fs_ir_se_init(&m->body, &m->cfg.body, &m->dw, "", m->R, !(o && o->keep_bn));
    }
    int C = (int)m->cfg.body.stage_width[3], E = (int)m->cfg.embedding_dim;
    if (s == FS_OK)
        s = bn_upload(m, "output_layer.0", C, 0, &m->bn2_scale, &m->bn2_shift);
    if (s == FS_OK)
        s = bn_upload(m, "output_layer.4", E, 1, &m->bn1_scale, &m->bn1_shift);
    if (s == FS_OK) {
        m->plans.planning = 1;
        s = linear(m, NULL, NULL, 0);
        m->plans.planning = 0;
    }
    if (s != FS_OK) {
        fs_arcface_free(m);
        return s;
    }
    *out = m;
    return FS_OK;
}

static fs_status pool(fs_arcface *m, const float *x, float *y, int n, int side, int y0, int x0,
                      int win, int out)
{
    return m->b->ops->adaptive_avg_pool2d(m->b, &(fs_adaptive_avg_pool2d_args){
        .x = x, .y = y, .nc = 3 * n, .h = side, .w = side, .y0 = y0, .x0 = x0, .ih = win,
        .iw = win, .oh = out, .ow = out});
}

/* The trunk with every unit tapped into a temporary buffer, each downloaded
 * into the trace (tests and debugging only). */
static fs_status traced_trunk(fs_arcface *m, const float *x, int n, const fs_arcface_trace *t)
{
    int taps[FS_IR_SE_MAX_UNITS];
    float *bufs[FS_IR_SE_MAX_UNITS] = {0};
    fs_status s = FS_OK;
    for (int u = 0; u < m->nunits && s == FS_OK; u++) {
        fs_ir_se_unit un = fs_ir_se_unit_at(&m->cfg.body, u);
        int r = fs_ir_se_unit_res(m->body, u);
        taps[u] = u;
        if (u == m->nunits - 1)
            bufs[u] = m->feat;
        else if (!(bufs[u] = m->b->ops->alloc(m->b, (size_t)n * un.depth * r * r * sizeof(float))))
            s = FS_ERR_NOMEM; /* the backend's alloc recorded the message */
    }
    if (s == FS_OK)
        s = fs_ir_se_forward(m->body, x, n, m->nunits, taps, bufs);
    for (int u = 0; u < m->nunits && s == FS_OK; u++) {
        fs_ir_se_unit un = fs_ir_se_unit_at(&m->cfg.body, u);
        int r = fs_ir_se_unit_res(m->body, u);
        if (t->units[u])
            s = m->b->ops->download(m->b, t->units[u], bufs[u],
                                    (size_t)n * un.depth * r * r * sizeof(float));
    }
    for (int u = 0; u < m->nunits - 1; u++)
        if (bufs[u])
            m->b->ops->release(m->b, bufs[u]);
    return s;
}

fs_status fs_arcface_embed(fs_arcface *m, const float *x, int n, int side, float *emb,
                           const fs_arcface_trace *t)
{
    if (n <= 0)
        return fs_error(FS_ERR_ARG, "ArcFace: batch of %d", n);
    if (!fs_arcface_side_ok(m, side))
        return fs_error(FS_ERR_SHAPE, "%s: ArcFace takes %dx%d faces%s, not %dx%d",
                        fs_weights_label(m->w), m->R, m->R,
                        m->R == 112 ? " or aligned faces of 256x256 and up (pSp's ID-loss crop)"
                                    : "", side, side);
    FS_TRY(ensure_buffers(m, n, side));
    fs_backend *b = m->b;
    FS_TRY(b->ops->upload(b, m->in, x, (size_t)n * 3 * side * side * sizeof(float)));
    const float *in = m->in;
    if (side > FS_ARCFACE_ID_SIDE) {
        FS_TRY(pool(m, in, m->f256, n, side, 0, 0, side, FS_ARCFACE_ID_SIDE));
        in = m->f256;
    }
    if (side != m->R) {
        FS_TRY(pool(m, in, m->pooled, n, FS_ARCFACE_ID_SIDE, FS_ARCFACE_CROP_TOP,
                    FS_ARCFACE_CROP_LEFT, FS_ARCFACE_CROP_SIZE, m->R));
        in = m->pooled;
    }
    if (t && t->input)
        FS_TRY(b->ops->download(b, t->input, in, (size_t)n * 3 * m->R * m->R * sizeof(float)));
    int last = m->nunits - 1;
    float *tap_out[1] = {m->feat};
    FS_TRY(t ? traced_trunk(m, in, n, t) : fs_ir_se_forward(m->body, in, n, 1, &last, tap_out));
    int C = (int)m->cfg.body.stage_width[3], E = (int)m->cfg.embedding_dim;
    FS_TRY(b->ops->channel_affine(b, &(fs_channel_affine_args){
        .x = m->feat, .y = m->feat, .n = n, .c = C, .hw = (size_t)m->s * m->s,
        .scale = m->bn2_scale, .shift = m->bn2_shift}));
    FS_TRY(linear(m, m->feat, m->raw, n));
    FS_TRY(b->ops->channel_affine(b, &(fs_channel_affine_args){
        .x = m->raw, .y = m->raw, .n = n, .c = E, .hw = 1, .scale = m->bn1_scale,
        .shift = m->bn1_shift}));
    FS_TRY(b->ops->download(b, emb, m->raw, (size_t)n * E * sizeof(float)));
    if (t && t->raw)
        memcpy(t->raw, emb, (size_t)n * E * sizeof(float));
    for (int i = 0; i < n; i++) {
        float *e = emb + (size_t)i * E;
        double ss = 0;
        for (int k = 0; k < E; k++)
            ss += (double)e[k] * e[k];
        float norm = (float)sqrt(ss);
        for (int k = 0; k < E; k++)
            e[k] = e[k] / norm;
    }
    return FS_OK;
}
