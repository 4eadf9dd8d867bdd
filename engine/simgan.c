/* SimGAN's refiner and local discriminator as backend operations
 * (docs/simgan.md):
 *   refiner   conv_in 3x3 + ReLU                 conv2d (act relu)
 *             per block: t = relu(conv1(h))      conv2d (act relu)
 *                        h = relu(h + conv2(t))  conv2d, axpby, bias_act (relu)
 *             conv_out 1x1 + tanh                conv2d (act tanh)
 *   disc      conv1, conv2: 3x3 stride 2 + ReLU  conv2d
 *             MaxPool 3x3 stride 1 pad 1         max_pool2d
 *             conv3 3x3, conv4 1x1 + ReLU        conv2d
 *             conv5 1x1: the logits              conv2d
 *   p_real    softmax over the two logits, channel 0, on the host
 * Each network is one walk over its layers, run with planning set when the
 * image size changes (every conv adds its plan for that size) and then with
 * the plans. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev_weights.h"
#include "simgan.h"

/* One network's plans, made for one image size. */
typedef struct {
    fs_plan_table plans;
    int h, w; /* 0: none yet */
} sized_plans;

struct fs_simgan {
    fs_backend *b;
    const fs_weights *w;
    fs_simgan_config cfg;
    fs_dev_weights dw;
    sized_plans rp, dp; /* refiner, discriminator */
    size_t cap;         /* floats of each buffer */
    float *buf[4];
};

const fs_simgan_config *fs_simgan_get_config(const fs_simgan *m) { return &m->cfg; }

int fs_simgan_patch_side(int side)
{
    for (int k = 0; k < 2; k++)
        side = (side - 1) / 2 + 1;
    return side;
}

float fs_simgan_from_u8(uint8_t u)
{
    volatile float t = (float)u / 127.5f; /* two roundings, as float32 tensors compute it */
    return t - 1.0f;
}

uint8_t fs_simgan_to_u8(float y)
{
    volatile float t = y + 1.0f; /* no FMA: each step rounds to float */
    t = t * 127.5f;
    t = t + 0.5f;
    float f = floorf(t);
    return !(f > 0.0f) ? 0 : f >= 255.0f ? 255 : (uint8_t)f;
}

static void free_buffers(fs_simgan *m)
{
    for (int k = 0; k < 4; k++) {
        if (m->buf[k])
            m->b->ops->release(m->b, m->buf[k]);
        m->buf[k] = NULL;
    }
    m->cap = 0;
}

void fs_simgan_free(fs_simgan *m)
{
    if (!m)
        return;
    free_buffers(m);
    fs_plan_table_free(&m->rp.plans);
    fs_plan_table_free(&m->dp.plans);
    fs_dev_weights_free(&m->dw);
    free(m);
}

/* Four buffers of `floats` each (the largest map of the run). */
static fs_status ensure_buffers(fs_simgan *m, size_t floats)
{
    if (floats <= m->cap)
        return FS_OK;
    free_buffers(m);
    for (int k = 0; k < 4; k++)
        if (!(m->buf[k] = m->b->ops->alloc(m->b, floats * sizeof(float)))) {
            free_buffers(m);
            return FS_ERR_NOMEM; /* the backend's alloc recorded the message */
        }
    m->cap = floats;
    return FS_OK;
}

#define RUN(t, call) FS_PLAN_RUN(t, call)

/* A conv with bias, "same" padding, the given stride and activation. */
static fs_status conv(fs_simgan *m, fs_plan_table *t, const char *module, const float *x,
                      float *y, int n, int cin, int cout, int h, int w, int k, int stride,
                      fs_act act)
{
    fs_conv2d_args a = {
        .x = x, .weight = fs_dev_weight(&m->dw, "%s.weight", module),
        .b = fs_dev_weight(&m->dw, "%s.bias", module), .y = y, .n = n, .cin = cin,
        .cout = cout, .h = h, .w = w, .k = k, .down = 1, .weight_gain = 1.0f, .gain = 1.0f,
        .clamp = 0.0f, .act = act, .stride = stride, .pad = k / 2,
        .plan = fs_plan_table_get(t, module),
    };
    if (t->planning)
        return fs_plan_table_add(t, module, FS_OP_CONV2D, &a);
    return m->b->ops->conv2d(m->b, &a);
}

/* The refiner on buf[0] (the input) into buf[3]. */
static fs_status refiner_walk(fs_simgan *m, int n, int h, int w)
{
    fs_plan_table *t = &m->rp.plans;
    fs_backend *b = m->b;
    int C = (int)m->cfg.channels, F = (int)m->cfg.width;
    float *hb = m->buf[1], *tb = m->buf[2], *ob = m->buf[3];
    size_t total = (size_t)n * F * h * w;
    FS_TRY(conv(m, t, "refiner.conv_in", m->buf[0], hb, n, C, F, h, w, 3, 1, FS_ACT_RELU));
    char c1[48], c2[48];
    for (int i = 0; i < m->cfg.blocks; i++) {
        snprintf(c1, sizeof c1, "refiner.blocks.%d.conv1", i);
        snprintf(c2, sizeof c2, "refiner.blocks.%d.conv2", i);
        FS_TRY(conv(m, t, c1, hb, tb, n, F, F, h, w, 3, 1, FS_ACT_RELU));
        FS_TRY(conv(m, t, c2, tb, ob, n, F, F, h, w, 3, 1, FS_ACT_LINEAR));
        /* h + conv2(t), then the ReLU after the sum; the new h is that buffer */
        RUN(t, b->ops->axpby(b, ob, hb, total, 1.0f, 1.0f));
        RUN(t, b->ops->bias_act(b, ob, NULL, 1, 1, total, FS_ACT_RELU, 1.0f, 0.0f));
        float *swap = hb;
        hb = ob;
        ob = swap;
    }
    return conv(m, t, "refiner.conv_out", hb, m->buf[3] == hb ? ob : m->buf[3], n, F, C, h, w, 1,
                1, FS_ACT_TANH);
}

/* Where the refiner's output lands: buf[3] unless the last block's h is there. */
static float *refiner_out(const fs_simgan *m)
{
    return m->cfg.blocks % 2 ? m->buf[1] : m->buf[3];
}

/* The discriminator on buf[0] into buf[3] (the logits). */
static fs_status disc_walk(fs_simgan *m, int n, int h, int w)
{
    fs_plan_table *t = &m->dp.plans;
    int cin = (int)m->cfg.channels;
    const float *x = m->buf[0];
    float *ping[2] = {m->buf[1], m->buf[2]};
    char name[32];
    for (int l = 0; l < FS_SIMGAN_DISC_LAYERS; l++) {
        int cout = fs_simgan_disc_out[l], k = fs_simgan_disc_k[l], s = fs_simgan_disc_stride[l];
        float *y = l == FS_SIMGAN_DISC_LAYERS - 1 ? m->buf[3] : ping[l & 1];
        snprintf(name, sizeof name, "disc.conv%d", l + 1);
        FS_TRY(conv(m, t, name, x, y, n, cin, cout, h, w, k, s,
                    l == FS_SIMGAN_DISC_LAYERS - 1 ? FS_ACT_LINEAR : FS_ACT_RELU));
        h = (h - 1) / s + 1;
        w = (w - 1) / s + 1;
        x = y;
        cin = cout;
        if (l == 1) { /* MaxPool2d(3, 1, 1) between conv2 and conv3 */
            float *p = ping[0];
            RUN(t, m->b->ops->max_pool2d(m->b, &(fs_max_pool2d_args){
                .x = x, .y = p, .nc = n * cin, .h = h, .w = w, .k = 3, .stride = 1, .pad = 1}));
            x = p;
            /* conv3 must not write where it reads */
            ping[0] = m->buf[2];
            ping[1] = m->buf[1];
        }
    }
    return FS_OK;
}

/* (Re-)plans a network for h x w when the size changed. */
static fs_status plan_for(fs_simgan *m, sized_plans *sp, int h, int w,
                          fs_status (*walk)(fs_simgan *, int, int, int))
{
    if (sp->h == h && sp->w == w)
        return FS_OK;
    fs_plan_table_free(&sp->plans);
    memset(&sp->plans, 0, sizeof sp->plans);
    sp->plans.b = m->b;
    sp->h = sp->w = 0;
    sp->plans.planning = 1;
    fs_status s = walk(m, 0, h, w);
    sp->plans.planning = 0;
    if (s == FS_OK) {
        sp->h = h;
        sp->w = w;
    }
    return s;
}

fs_status fs_simgan_init(fs_simgan **out, const fs_weights *w, fs_backend *b)
{
    *out = NULL;
    if (fs_weights_family(w) != FS_FAMILY_SIMGAN)
        return fs_error(FS_ERR_ARG, "%s: not a SimGAN (it is a %s)", fs_weights_label(w),
                        fs_family_name(fs_weights_family(w)));
    fs_simgan *m = calloc(1, sizeof *m);
    if (!m)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory for the SimGAN", fs_weights_label(w));
    m->b = b;
    m->w = w;
    m->rp.plans.b = m->dp.plans.b = b;
    /* The family check: a model never trusts a file it did not check. */
    fs_status s = fs_simgan_check_weights(w);
    if (s == FS_OK)
        s = fs_simgan_config_from_weights(w, &m->cfg);
    if (s == FS_OK)
        s = fs_dev_weights_upload(&m->dw, w, b);
    if (s != FS_OK) {
        fs_simgan_free(m);
        return s;
    }
    *out = m;
    return FS_OK;
}

static fs_status check_shape(const fs_simgan *m, int n, int h, int w)
{
    if (n <= 0 || h < 1 || w < 1 || h > 65536 || w > 65536)
        return fs_error(FS_ERR_ARG, "SimGAN: a batch of %d images of %dx%d", n, w, h);
    return FS_OK;
}

/* floats a * b * c * d, refusing a total that cannot be allocated */
static fs_status product(size_t a, size_t b, size_t c, size_t d, size_t *out)
{
    if (__builtin_mul_overflow(a, b, out) || __builtin_mul_overflow(*out, c, out) ||
        __builtin_mul_overflow(*out, d, out) || *out > SIZE_MAX / sizeof(float))
        return fs_error(FS_ERR_LIMIT, "SimGAN: images too large for one batch");
    return FS_OK;
}

fs_status fs_simgan_refine(fs_simgan *m, const float *x, int n, int h, int w, float *y)
{
    FS_TRY(check_shape(m, n, h, w));
    size_t C = (size_t)m->cfg.channels, F = (size_t)m->cfg.width, floats;
    FS_TRY(product((size_t)n, F > C ? F : C, (size_t)h, (size_t)w, &floats));
    FS_TRY(plan_for(m, &m->rp, h, w, refiner_walk));
    FS_TRY(ensure_buffers(m, floats));
    size_t img = (size_t)n * C * h * w * sizeof(float);
    FS_TRY(m->b->ops->upload(m->b, m->buf[0], x, img));
    FS_TRY(refiner_walk(m, n, h, w));
    return m->b->ops->download(m->b, y, refiner_out(m), img);
}

fs_status fs_simgan_discriminate(fs_simgan *m, const float *x, int n, int h, int w,
                                 float *logits, float *p_real)
{
    FS_TRY(check_shape(m, n, h, w));
    if (!m->cfg.has_discriminator)
        return fs_error(FS_ERR_ARG, "%s: the SimGAN file holds only the refiner (no disc.* "
                        "tensors): it cannot score images", fs_weights_label(m->w));
    int h1 = (h - 1) / 2 + 1, w1 = (w - 1) / 2 + 1;
    size_t C = (size_t)m->cfg.channels, floats, in;
    /* the largest maps: the input and conv1's 96 channels at half size */
    FS_TRY(product((size_t)n, (size_t)fs_simgan_disc_out[0], (size_t)h1, (size_t)w1, &floats));
    FS_TRY(product((size_t)n, C, (size_t)h, (size_t)w, &in));
    FS_TRY(plan_for(m, &m->dp, h, w, disc_walk));
    FS_TRY(ensure_buffers(m, floats > in ? floats : in));
    FS_TRY(m->b->ops->upload(m->b, m->buf[0], x, in * sizeof(float)));
    FS_TRY(disc_walk(m, n, h, w));
    int h2 = fs_simgan_patch_side(h), w2 = fs_simgan_patch_side(w);
    size_t plane = (size_t)h2 * w2, cells = (size_t)n * 2 * plane;
    float *l = logits ? logits : malloc(cells * sizeof *l);
    if (!l)
        return fs_error(FS_ERR_NOMEM, "SimGAN: out of memory for %zu logits", cells);
    fs_status s = m->b->ops->download(m->b, l, m->buf[3], cells * sizeof(float));
    for (size_t i = 0; s == FS_OK && p_real && i < (size_t)n; i++)
        for (size_t q = 0; q < plane; q++) {
            const float *li = l + i * 2 * plane;
            double d = (double)li[plane + q] - (double)li[q];
            p_real[i * plane + q] = (float)(1.0 / (1.0 + exp(d)));
        }
    if (!logits)
        free(l);
    return s;
}
