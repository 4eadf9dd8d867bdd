/* The StyleGAN2 discriminator as a sequence of backend operations:
 * fromrgb at the top resolution (every block for 'skip'), then per block
 * conv0 -> conv1 (FIR + stride-2) with a 1x1 down-sampled residual for
 * 'resnet', then the 4x4 epilogue: minibatch std -> conv -> fc -> out, and
 * for conditional models the projection onto the label embedding (cmap)
 * (docs/stylegan2.md §2).
 *
 * One walk serves two purposes: at init it runs with planning set and n = 0,
 * planning every layer on the backend (fs_plan_table); every forward then
 * runs the same walk with the plans. Ops without a plan are skipped in the
 * plan walk (RUN). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stylegan2.h"
#include "dev_weights.h"

struct fs_sg2_discriminator {
    fs_backend *b;
    const fs_weights *w;
    fs_sg2_config cfg;
    fs_dev_weights dw;
    float *fir;
    fs_plan_table plans;
    int cap;
    float *x0, *x1, *tmp, *img, *img_dn, *vec_a, *vec_b, *cmap, *out, *cbuf;
};

const fs_sg2_config *fs_sg2_discriminator_config(const fs_sg2_discriminator *d) { return &d->cfg; }

static fs_status forward(fs_sg2_discriminator *d, const float *img, const float *c_host, int n,
                         float *logits);

fs_status fs_sg2_discriminator_init(fs_sg2_discriminator **out, const fs_weights *w,
                                    fs_backend *b)
{
    *out = NULL;
    if (fs_weights_family(w) != FS_FAMILY_STYLEGAN2_D)
        return fs_error(FS_ERR_ARG, "%s: not a StyleGAN2 discriminator (it is a %s)",
                        fs_weights_label(w), fs_family_name(fs_weights_family(w)));
    fs_sg2_discriminator *d = calloc(1, sizeof *d);
    if (!d)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory for the discriminator",
                        fs_weights_label(w));
    d->b = b;
    d->w = w;
    d->plans.b = b;
    /* The family check: a model never trusts a file it did not check. */
    fs_status s = fs_sg2_check_weights(w);
    if (s == FS_OK)
        s = fs_sg2_config_from_weights(w, &d->cfg);
    if (s == FS_OK)
        s = fs_dev_weights_upload(&d->dw, w, b);
    if (s == FS_OK)
        s = fs_dev_fir(b, d->cfg.resample_filter, (int)d->cfg.resample_filter_len, &d->fir);
    if (s == FS_OK) {
        d->plans.planning = 1;
        s = forward(d, NULL, NULL, 0, NULL);
        d->plans.planning = 0;
    }
    if (s != FS_OK) {
        fs_sg2_discriminator_free(d);
        return s;
    }
    *out = d;
    return FS_OK;
}

static void free_buffers(fs_sg2_discriminator *d)
{
    float **bufs[] = {&d->x0, &d->x1, &d->tmp, &d->img, &d->img_dn, &d->vec_a, &d->vec_b,
                      &d->cmap, &d->out, &d->cbuf};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) {
        if (*bufs[i])
            d->b->ops->release(d->b, *bufs[i]);
        *bufs[i] = NULL;
    }
    d->cap = 0;
}

void fs_sg2_discriminator_free(fs_sg2_discriminator *d)
{
    if (!d)
        return;
    free_buffers(d);
    fs_plan_table_free(&d->plans);
    if (d->fir)
        d->b->ops->release(d->b, d->fir);
    fs_dev_weights_free(&d->dw);
    free(d);
}

static fs_status ensure_buffers(fs_sg2_discriminator *d, int n)
{
    if (n <= d->cap)
        return FS_OK;
    free_buffers(d);
    const fs_sg2_config *c = &d->cfg;
    size_t R = (size_t)c->img_resolution, act = 0;
    for (size_t r = 4; r <= R; r *= 2) {
        size_t ch = (size_t)fs_sg2_channels(c, (int64_t)r) + (size_t)c->mbstd_num_channels;
        act = ch * r * r > act ? ch * r * r : act;
    }
    size_t c4 = (size_t)fs_sg2_channels(c, 4);
    size_t vec = c4 * 16 + (size_t)c->cmap_dim + (size_t)c->layer_features + (size_t)c->embed_features + 1;
    size_t ic = (size_t)c->img_channels;
    struct { float **p; size_t floats; } want[] = {
        {&d->x0, act * n},   {&d->x1, act * n},    {&d->tmp, act * n},
        {&d->img, ic * R * R * n}, {&d->img_dn, ic * R * R * n},
        {&d->vec_a, vec * n}, {&d->vec_b, vec * n}, {&d->cmap, vec * n},
        {&d->out, vec * n},  {&d->cbuf, ((size_t)c->c_dim + 1) * n}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        *want[i].p = d->b->ops->alloc(d->b, want[i].floats * sizeof(float));
        if (!*want[i].p) {
            free_buffers(d);
            return FS_ERR_NOMEM; /* the backend's alloc recorded the message */
        }
    }
    d->cap = n;
    return FS_OK;
}

/* Conv2dLayer: weight gain 1/sqrt(fan_in), bias, lrelu or linear, the
 * layer gain and conv_clamp * gain. Which layers clamp follows the official
 * constructors: the block convs and fromrgb do; the residual 1x1 and the
 * epilogue's fromrgb (skip architecture) are built without conv_clamp. */
enum { NO_CLAMP = 0, CLAMP = 1 };

/* In the plan walk, only the planned layers act. */
#define RUN(call) FS_PLAN_RUN(&d->plans, call)

static fs_status conv_layer(fs_sg2_discriminator *d, const char *name, const float *x, float *y,
                            int n, int cin, int cout, int h, int k, int down, int bias, fs_act act,
                            float gain, int clamped)
{
    float clamp = clamped ? (float)d->cfg.conv_clamp : 0.0f;
    fs_conv2d_args a = {
        .x = x, .weight = fs_dev_weight(&d->dw, "%s.weight", name),
        .b = bias ? fs_dev_weight(&d->dw, "%s.bias", name) : NULL, .y = y, .n = n, .cin = cin,
        .cout = cout, .h = h, .w = h, .k = k, .down = down, .fir = d->fir,
        .fir_len = (int)d->cfg.resample_filter_len,
        .weight_gain = 1.0f / sqrtf((float)(cin * k * k)), .gain = gain,
        .clamp = clamp > 0 ? clamp * gain : 0.0f, .act = act, .stride = 1, .pad = k / 2,
        .plan = fs_plan_table_get(&d->plans, name),
    };
    if (d->plans.planning)
        return fs_plan_table_add(&d->plans, name, FS_OP_CONV2D, &a);
    return d->b->ops->conv2d(d->b, &a);
}

static fs_status fc_layer(fs_sg2_discriminator *d, const char *name, const float *x, float *y,
                          int n, int in, int out, fs_act act, float lr)
{
    fs_fc_args a = {
        .x = x, .w = fs_dev_weight(&d->dw, "%s.weight", name),
        .b = fs_dev_weight(&d->dw, "%s.bias", name), .y = y, .n = n, .in = in, .out = out,
        .weight_gain = lr / sqrtf((float)in), .bias_gain = lr, .gain = 1.0f, .clamp = 0.0f,
        .act = act, .plan = fs_plan_table_get(&d->plans, name),
    };
    if (d->plans.planning)
        return fs_plan_table_add(&d->plans, name, FS_OP_FC, &a);
    return d->b->ops->fc(d->b, &a);
}

/* downsample2d of the skip image: FIR with pad 1, keep every second sample */
static fs_status downsample(fs_sg2_discriminator *d, int res, int nc)
{
    char name[32];
    snprintf(name, sizeof name, "b%d.img_down", res);
    fs_upfirdn2d_args u = {
        .x = d->img, .y = d->img_dn, .nc = nc, .h = res, .w = res, .up = 1, .down = 2,
        .pad0 = 1, .pad1 = 1, .fir = d->fir, .fir_len = (int)d->cfg.resample_filter_len,
        .gain = 1.0f, .plan = fs_plan_table_get(&d->plans, name),
    };
    if (d->plans.planning)
        return fs_plan_table_add(&d->plans, name, FS_OP_UPFIRDN2D, &u);
    FS_TRY(d->b->ops->upfirdn2d(d->b, &u));
    float *t = d->img;
    d->img = d->img_dn;
    d->img_dn = t;
    return FS_OK;
}

/* The label -> cmap mapping network: normalize(embed(c)) -> FC x L (lrelu). */
static fs_status cmap_of(fs_sg2_discriminator *d, const float *c_host, int n, float **cmap)
{
    const fs_sg2_config *c = &d->cfg;
    fs_backend *b = d->b;
    RUN(b->ops->upload(b, d->cbuf, c_host, (size_t)n * c->c_dim * sizeof(float)));
    FS_TRY(fc_layer(d, "mapping.embed", d->cbuf, d->vec_a, n, (int)c->c_dim, (int)c->embed_features,
                    FS_ACT_LINEAR, 1.0f));
    RUN(b->ops->normalize_2nd_moment(b, d->vec_a, n, (int)c->embed_features));
    float *x = d->vec_a, *y = d->cmap;
    int in = (int)c->embed_features;
    char name[32];
    for (int i = 0; i < c->mapping_layers; i++) {
        int o = i == c->mapping_layers - 1 ? (int)c->cmap_dim : (int)c->layer_features;
        snprintf(name, sizeof name, "mapping.fc%d", i);
        FS_TRY(fc_layer(d, name, x, y, n, in, o, FS_ACT_LRELU, (float)c->mapping_lr_multiplier));
        float *t = x;
        x = y;
        y = t;
        in = o;
    }
    *cmap = x;
    return FS_OK;
}

fs_status fs_sg2_discriminator_run(fs_sg2_discriminator *d, const float *img, const float *c_host,
                                   int n, float *logits)
{
    const fs_sg2_config *c = &d->cfg;
    if (n <= 0)
        return fs_error(FS_ERR_ARG, "discriminator: batch of %d", n);
    if (c->c_dim > 0 && !c_host)
        return fs_error(FS_ERR_ARG, "%s: the discriminator is conditional (c_dim %lld): labels "
                        "are required", fs_weights_label(d->w), (long long)c->c_dim);
    int g = c->mbstd_group_size > 0 && c->mbstd_group_size < n ? (int)c->mbstd_group_size : n;
    if (c->mbstd_num_channels > 0 && n % g != 0)
        return fs_error(FS_ERR_ARG, "%s: batch of %d images is not a multiple of the "
                        "minibatch-std group size %d", fs_weights_label(d->w), n, g);
    FS_TRY(ensure_buffers(d, n));
    return forward(d, img, c_host, n, logits);
}

static fs_status forward(fs_sg2_discriminator *d, const float *img, const float *c_host, int n,
                         float *logits)
{
    const fs_sg2_config *c = &d->cfg;
    fs_backend *b = d->b;
    int R = (int)c->img_resolution, ic = (int)c->img_channels;
    RUN(b->ops->upload(b, d->img, img, (size_t)n * ic * R * R * sizeof(float)));
    float g2 = sqrtf(0.5f);
    float *x = d->x0, *y = d->x1;
    int have_x = 0;
    char name[64];
    for (int res = R; res >= 8; res /= 2) {
        int tmp_ch = (int)fs_sg2_channels(c, res), out_ch = (int)fs_sg2_channels(c, res / 2);
        size_t plane = (size_t)res * res;
        if (!have_x || c->architecture == FS_SG2_ARCH_SKIP) {
            snprintf(name, sizeof name, "b%d.fromrgb", res);
            FS_TRY(conv_layer(d, name, d->img, have_x ? d->tmp : x, n, ic, tmp_ch, res, 1, 1, 1,
                              FS_ACT_LRELU, 1.0f, CLAMP));
            if (have_x)
                RUN(b->ops->axpby(b, x, d->tmp, (size_t)n * tmp_ch * plane, 1.0f, 1.0f));
            have_x = 1;
            if (c->architecture == FS_SG2_ARCH_SKIP)
                FS_TRY(downsample(d, res, n * ic));
        }
        if (c->architecture == FS_SG2_ARCH_RESNET) {
            snprintf(name, sizeof name, "b%d.skip", res);
            FS_TRY(conv_layer(d, name, x, y, n, tmp_ch, out_ch, res, 1, 2, 0, FS_ACT_LINEAR, g2,
                              NO_CLAMP));
            snprintf(name, sizeof name, "b%d.conv0", res);
            FS_TRY(conv_layer(d, name, x, d->tmp, n, tmp_ch, tmp_ch, res, 3, 1, 1, FS_ACT_LRELU, 1.0f, CLAMP));
            snprintf(name, sizeof name, "b%d.conv1", res);
            FS_TRY(conv_layer(d, name, d->tmp, x, n, tmp_ch, out_ch, res, 3, 2, 1, FS_ACT_LRELU, g2, CLAMP));
            RUN(b->ops->axpby(b, y, x, (size_t)n * out_ch * plane / 4, 1.0f, 1.0f));
        } else {
            snprintf(name, sizeof name, "b%d.conv0", res);
            FS_TRY(conv_layer(d, name, x, d->tmp, n, tmp_ch, tmp_ch, res, 3, 1, 1, FS_ACT_LRELU, 1.0f, CLAMP));
            snprintf(name, sizeof name, "b%d.conv1", res);
            FS_TRY(conv_layer(d, name, d->tmp, y, n, tmp_ch, out_ch, res, 3, 2, 1, FS_ACT_LRELU, 1.0f, CLAMP));
        }
        float *t = x;
        x = y;
        y = t;
    }
    int c4 = (int)fs_sg2_channels(c, 4);
    if (!have_x || c->architecture == FS_SG2_ARCH_SKIP) {
        FS_TRY(conv_layer(d, "b4.fromrgb", d->img, have_x ? d->tmp : x, n, ic, c4, 4, 1, 1, 1,
                          FS_ACT_LRELU, 1.0f, NO_CLAMP));
        if (have_x)
            RUN(b->ops->axpby(b, x, d->tmp, (size_t)n * c4 * 16, 1.0f, 1.0f));
    }
    int cin = c4;
    if (c->mbstd_num_channels > 0) {
        RUN(b->ops->mbstd(b, x, y, n, c4, 4, 4, (int)c->mbstd_group_size,
                          (int)c->mbstd_num_channels));
        float *t = x;
        x = y;
        y = t;
        cin += (int)c->mbstd_num_channels;
    }
    FS_TRY(conv_layer(d, "b4.conv", x, y, n, cin, c4, 4, 3, 1, 1, FS_ACT_LRELU, 1.0f, CLAMP));
    /* flatten [n, c4, 4, 4] -> [n, 16 c4]: NCHW is already that order */
    FS_TRY(fc_layer(d, "b4.fc", y, d->vec_b, n, c4 * 16, c4, FS_ACT_LRELU, 1.0f));
    int nout = c->cmap_dim > 0 ? (int)c->cmap_dim : 1;
    FS_TRY(fc_layer(d, "b4.out", d->vec_b, d->out, n, c4, nout, FS_ACT_LINEAR, 1.0f));
    if (c->cmap_dim > 0) {
        float *cmap;
        FS_TRY(cmap_of(d, c_host, n, &cmap));
        RUN(b->ops->project(b, d->out, cmap, d->vec_b, n, nout, 1.0f / sqrtf((float)nout)));
        RUN(b->ops->download(b, logits, d->vec_b, (size_t)n * sizeof(float)));
        return FS_OK;
    }
    RUN(b->ops->download(b, logits, d->out, (size_t)n * sizeof(float)));
    return FS_OK;
}
