/* Light CNN-9 as backend operations (docs/identity.md), in the order of the
 * official network_9layers.forward:
 *   features.0   MFM conv 5x5 pad 2      conv2d -> max_feature_map
 *   features.1   MaxPool 2x2, ceil_mode  max_pool2d
 *   features.2   group: MFM 1x1, MFM 3x3 conv2d -> mfm, conv2d -> mfm
 *   features.3   pool
 *   features.4   group, features.5 pool
 *   features.6   group, features.7 group, features.8 pool
 *   fc1          flatten (C, H, W), MFM linear: the feature
 *   fc2          linear: the logits (optional)
 * Each MFM layer's conv writes its 2C channels to the scratch buffer T and
 * the max_feature_map op reduces them into one of two ping-pong buffers.
 *
 * Like the other models, the network is one walk over its layers: at init
 * with planning set (every conv and linear layer adds its plan), then per
 * batch with the plans (RUN skips the unplanned ops in the plan walk). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev_weights.h"
#include "image_pil.h"
#include "lightcnn.h"

struct fs_lightcnn {
    fs_backend *b;
    const fs_weights *w;
    fs_lightcnn_config cfg;
    fs_dev_weights dw;
    fs_plan_table plans;
    int R;
    size_t t_floats, p_floats; /* per sample: the largest pre-MFM and post-MFM maps */
    int cap;
    float *in, *t, *p[2];
};

const fs_lightcnn_config *fs_lightcnn_get_config(const fs_lightcnn *m) { return &m->cfg; }

/* features.k -> (stage whose width it has, side divisor) */
void fs_lightcnn_layer_shape(const fs_lightcnn_config *c, int k, int *channels, int *side)
{
    static const int stage[FS_LCNN_FEATURE_LAYERS] = {0, 0, 1, 1, 2, 2, 3, 4, 4};
    static const int pools[FS_LCNN_FEATURE_LAYERS] = {0, 1, 1, 2, 2, 3, 3, 3, 4};
    *channels = (int)c->widths[stage[k]];
    int64_t s = c->input_resolution;
    for (int i = 0; i < pools[k]; i++)
        s = (s + 1) / 2;
    *side = (int)s;
}

static void free_buffers(fs_lightcnn *m)
{
    float **bufs[] = {&m->in, &m->t, &m->p[0], &m->p[1]};
    fs_dev_buffers_release(m->b, bufs, sizeof bufs / sizeof *bufs);
    m->cap = 0;
}

void fs_lightcnn_free(fs_lightcnn *m)
{
    if (!m)
        return;
    free_buffers(m);
    fs_plan_table_free(&m->plans);
    fs_dev_weights_free(&m->dw);
    free(m);
}

static fs_status ensure_buffers(fs_lightcnn *m, int n)
{
    if (n <= m->cap)
        return FS_OK;
    free_buffers(m);
    size_t in = (size_t)m->cfg.in_channels * m->R * m->R;
    fs_dev_buffer want[] = {
        {&m->in, in}, {&m->t, m->t_floats}, {&m->p[0], m->p_floats}, {&m->p[1], m->p_floats}};
    if (fs_dev_buffers_alloc(m->b, want, sizeof want / sizeof *want, (size_t)n) != FS_OK) {
        free_buffers(m);
        return FS_ERR_NOMEM; /* the backend's alloc recorded the message */
    }
    m->cap = n;
    return FS_OK;
}

#define RUN(call) FS_PLAN_RUN(&m->plans, call)

/* An MFM conv: conv (with bias) of x into T, then the maximum of T's halves
 * into y [n, out, h, h]. */
static fs_status mfm_conv(fs_lightcnn *m, const char *module, const float *x, float *y, int n,
                          int cin, int out, int h, int k)
{
    fs_conv2d_args a = {
        .x = x, .weight = fs_dev_weight(&m->dw, "%s.filter.weight", module),
        .b = fs_dev_weight(&m->dw, "%s.filter.bias", module), .y = m->t, .n = n, .cin = cin,
        .cout = 2 * out, .h = h, .w = h, .k = k, .down = 1, .weight_gain = 1.0f, .gain = 1.0f,
        .clamp = 0.0f, .act = FS_ACT_LINEAR, .stride = 1, .pad = k / 2,
        .plan = fs_plan_table_get(&m->plans, module),
    };
    if (m->plans.planning)
        return fs_plan_table_add(&m->plans, module, FS_OP_CONV2D, &a);
    FS_TRY(m->b->ops->conv2d(m->b, &a));
    return m->b->ops->max_feature_map(
        m->b, &(fs_max_feature_map_args){.x = m->t, .y = y, .n = n, .c = out,
                                         .hw = (size_t)h * h});
}

/* MaxPool2d(2, 2, ceil_mode=True) of x [n, c, h, h]. */
static fs_status pool(fs_lightcnn *m, const float *x, float *y, int n, int c, int h)
{
    return m->b->ops->max_pool2d(m->b, &(fs_max_pool2d_args){
        .x = x, .y = y, .nc = n * c, .h = h, .w = h, .k = 2, .stride = 2, .pad = 0,
        .ceil_mode = 1});
}

static fs_status linear(fs_lightcnn *m, const char *name, const char *wname, const char *bname,
                        const float *x, float *y, int n, int in, int out)
{
    fs_fc_args a = {
        .x = x, .w = fs_dev_weight(&m->dw, "%s", wname), .b = fs_dev_weight(&m->dw, "%s", bname),
        .y = y, .n = n, .in = in, .out = out, .weight_gain = 1.0f, .bias_gain = 1.0f,
        .gain = 1.0f, .clamp = 0.0f, .act = FS_ACT_LINEAR,
        .plan = fs_plan_table_get(&m->plans, name),
    };
    if (m->plans.planning)
        return fs_plan_table_add(&m->plans, name, FS_OP_FC, &a);
    return m->b->ops->fc(m->b, &a);
}

static fs_status trace(fs_lightcnn *m, const fs_lightcnn_trace *t, int k, const float *y, int n)
{
    if (!t || !t->features[k])
        return FS_OK;
    int c, side;
    fs_lightcnn_layer_shape(&m->cfg, k, &c, &side);
    return m->b->ops->download(m->b, t->features[k], y,
                               (size_t)n * c * side * side * sizeof(float));
}

/* The walk: planning (n = 0) or running; feature and logits are host
 * arrays, logits NULL when not wanted. */
static fs_status walk(fs_lightcnn *m, int n, float *feature, float *logits,
                      const fs_lightcnn_trace *t)
{
    static const int module[FS_LCNN_STAGES] = {0, 2, 4, 6, 7};
    static const int pool_after[FS_LCNN_STAGES] = {1, 1, 1, 0, 1};
    const fs_lightcnn_config *c = &m->cfg;
    int h = m->R, cin = (int)c->in_channels, k = 0;
    const float *x = m->in;
    float *y = m->p[0];
    char name[64];
    for (int s = 0; s < FS_LCNN_STAGES; s++) {
        int out = (int)c->widths[s];
        if (s == 0) {
            FS_TRY(mfm_conv(m, "features.0", x, y, n, cin, out, h, 5));
        } else {
            /* group: conv_a (1x1, in -> in) into the other buffer, then conv */
            float *mid = y == m->p[0] ? m->p[1] : m->p[0];
            snprintf(name, sizeof name, "features.%d.conv_a", module[s]);
            FS_TRY(mfm_conv(m, name, x, y, n, cin, cin, h, 1));
            snprintf(name, sizeof name, "features.%d.conv", module[s]);
            FS_TRY(mfm_conv(m, name, y, mid, n, cin, out, h, 3));
            y = mid;
        }
        RUN(trace(m, t, k++, y, n));
        x = y;
        y = y == m->p[0] ? m->p[1] : m->p[0];
        cin = out;
        if (pool_after[s]) {
            RUN(pool(m, x, y, n, cin, h));
            h = (h + 1) / 2;
            RUN(trace(m, t, k++, y, n));
            x = y;
            y = y == m->p[0] ? m->p[1] : m->p[0];
        }
    }
    /* fc1 on the flattened map (NCHW rows are view(N, -1)), MFM, fc2 */
    int F = (int)c->feature_dim, in = cin * h * h;
    FS_TRY(linear(m, "fc1", "fc1.filter.weight", "fc1.filter.bias", x, m->t, n, in, 2 * F));
    RUN(m->b->ops->max_feature_map(m->b, &(fs_max_feature_map_args){
        .x = m->t, .y = y, .n = n, .c = F, .hw = 1}));
    if (c->num_classes > 0 && (logits || m->plans.planning))
        FS_TRY(linear(m, "fc2", "fc2.weight", "fc2.bias", y, m->t, n, F, (int)c->num_classes));
    if (m->plans.planning)
        return FS_OK;
    FS_TRY(m->b->ops->download(m->b, feature, y, (size_t)n * F * sizeof(float)));
    if (logits)
        FS_TRY(m->b->ops->download(m->b, logits, m->t,
                                   (size_t)n * c->num_classes * sizeof(float)));
    return FS_OK;
}

/* The per-sample sizes of the buffers: T holds a conv's 2C outputs, the
 * ping-pong buffers an MFM or pool output (the fc layers are smaller). */
static void size_buffers(fs_lightcnn *m)
{
    const fs_lightcnn_config *c = &m->cfg;
    size_t t = (size_t)2 * c->feature_dim, p = (size_t)c->feature_dim;
    if (c->num_classes > (int64_t)t)
        t = (size_t)c->num_classes;
    int64_t h = m->R, cin = c->in_channels;
    for (int s = 0; s < FS_LCNN_STAGES; s++) {
        int64_t out = c->widths[s], widest = out > cin ? out : cin;
        size_t plane = (size_t)(h * h);
        if (2 * widest * plane > t)
            t = 2 * (size_t)widest * plane;
        if ((size_t)widest * plane > p)
            p = (size_t)widest * plane;
        cin = out;
        if (s != 3)
            h = (h + 1) / 2;
    }
    m->t_floats = t;
    m->p_floats = p;
}

fs_status fs_lightcnn_init(fs_lightcnn **out, const fs_weights *w, fs_backend *b)
{
    *out = NULL;
    if (fs_weights_family(w) != FS_FAMILY_LIGHTCNN)
        return fs_error(FS_ERR_ARG, "%s: not a Light CNN (it is a %s)", fs_weights_label(w),
                        fs_family_name(fs_weights_family(w)));
    fs_lightcnn *m = calloc(1, sizeof *m);
    if (!m)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory for Light CNN", fs_weights_label(w));
    m->b = b;
    m->w = w;
    m->plans.b = b;
    /* The family check: a model never trusts a file it did not check. */
    fs_status s = fs_lightcnn_check_weights(w);
    if (s == FS_OK)
        s = fs_lightcnn_config_from_weights(w, &m->cfg);
    if (s == FS_OK)
        s = fs_dev_weights_upload(&m->dw, w, b);
    if (s == FS_OK) {
        m->R = (int)m->cfg.input_resolution;
        size_buffers(m);
        m->plans.planning = 1;
        s = walk(m, 0, NULL, NULL, NULL);
        m->plans.planning = 0;
    }
    if (s != FS_OK) {
        fs_lightcnn_free(m);
        return s;
    }
    *out = m;
    return FS_OK;
}

fs_status fs_lightcnn_forward(fs_lightcnn *m, const float *x, int n, float *feature,
                              float *logits, const fs_lightcnn_trace *t)
{
    if (n <= 0)
        return fs_error(FS_ERR_ARG, "Light CNN: batch of %d", n);
    if (logits && m->cfg.num_classes == 0)
        return fs_error(FS_ERR_ARG, "%s: the Light CNN file has no classifier (fc2)",
                        fs_weights_label(m->w));
    FS_TRY(ensure_buffers(m, n));
    size_t R = (size_t)m->R;
    FS_TRY(m->b->ops->upload(m->b, m->in, x,
                             (size_t)n * m->cfg.in_channels * R * R * sizeof(float)));
    return walk(m, n, feature, logits, t);
}

/* ---- input pipeline ---------------------------------------------------------------- */

/* Python 3's round() of a half-integer h / 2 (h an integer): halves to even. */
static int round_half_even_div2(int h)
{
    int q = h >= 0 ? h / 2 : -((-h) / 2); /* toward zero */
    if (h % 2 == 0)
        return q;
    /* q + 0.5 or q - 0.5: the even neighbour */
    int lo = h > 0 ? q : q - 1;
    return lo % 2 == 0 ? lo : lo + 1;
}

void fs_lightcnn_center_crop(const uint8_t *gray, int w, int h, int r, float *x)
{
    /* torchvision >= 0.8: pad the short sides with zeros, then crop */
    int pl = w < r ? (r - w) / 2 : 0, pt = h < r ? (r - h) / 2 : 0;
    int pw = w < r ? r : w, ph = h < r ? r : h;
    int top = round_half_even_div2(ph - r), left = round_half_even_div2(pw - r);
    for (int i = 0; i < r; i++) {
        int sy = top + i - pt;
        for (int j = 0; j < r; j++) {
            int sx = left + j - pl;
            uint8_t u = sy >= 0 && sy < h && sx >= 0 && sx < w ? gray[(size_t)sy * w + sx] : 0;
            x[(size_t)i * r + j] = (float)u / 255.0f;
        }
    }
}

fs_status fs_lightcnn_load_image(const char *path, int r, float *x)
{
    uint8_t *rgb;
    int w, h;
    FS_TRY(fs_pil_read_rgb(path, &rgb, &w, &h));
    /* convert('L') in place: each pixel's luma over its first byte */
    fs_pil_rgb_to_l(rgb, (size_t)w * h, rgb);
    fs_lightcnn_center_crop(rgb, w, h, r, x);
    free(rgb);
    return FS_OK;
}
