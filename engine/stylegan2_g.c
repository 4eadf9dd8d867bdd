/* The StyleGAN2 generator as a sequence of backend operations.
 *
 * mapping:   normalize(z) (++ normalize(embed(c))) -> FC x L (lrelu, lr mult)
 *            -> broadcast to num_ws -> truncation toward w_avg
 * synthesis: const -> per block [conv0 (up) -> conv1 -> ToRGB (+ upsampled
 *            skip image)], each conv a fused modulated-conv op whose styles
 *            come from one affine FC of the block's w. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stylegan2.h"
#include "stylegan2_weights.h"

typedef struct {
    const float *weight, *bias, *affine_w, *affine_b, *noise_const;
    float noise_strength;
    int cin, cout, res, up, k, w_index;
    int demodulate;
    uint32_t stream; /* noise stream id */
} synth_layer;

typedef struct {
    int res;
    synth_layer conv0, conv1, torgb;
    int has_conv0, has_torgb;
    const float *skip_w; /* resnet */
} synth_block;

struct fs_sg2_generator {
    fs_backend *b;
    const fs_weights *w;
    fs_sg2_config cfg;
    fs_dev_weights dw;
    float *fir;
    float *const_host; /* synthesis.b4.const, broadcast to every sample */
    synth_block blocks[FS_SG2_MAX_RES_LOG2 + 1];
    int n_blocks;
    int num_ws;
    /* buffers sized for `cap` samples */
    int cap;
    float *x0, *x1, *tmp, *img, *img_up, *styles, *ws_dev, *map_a, *map_b;
    uint64_t *seeds_dev;
};

const fs_sg2_config *fs_sg2_generator_config(const fs_sg2_generator *g) { return &g->cfg; }

static void layer_init(fs_sg2_generator *g, synth_layer *l, const char *prefix, int cin, int cout,
                       int res, int up, int k, int w_index, int demod, uint32_t stream)
{
    l->weight = fs_dev_weight(&g->dw, "%s.weight", prefix);
    l->bias = fs_dev_weight(&g->dw, "%s.bias", prefix);
    l->affine_w = fs_dev_weight(&g->dw, "%s.affine.weight", prefix);
    l->affine_b = fs_dev_weight(&g->dw, "%s.affine.bias", prefix);
    l->noise_const = demod ? fs_dev_weight(&g->dw, "%s.noise_const", prefix) : NULL;
    l->noise_strength = demod ? fs_host_scalar(g->w, "%s.noise_strength", prefix) : 0.0f;
    l->cin = cin;
    l->cout = cout;
    l->res = res;
    l->up = up;
    l->k = k;
    l->w_index = w_index;
    l->demodulate = demod;
    l->stream = stream;
}

fs_status fs_sg2_generator_init(fs_sg2_generator **out, const fs_weights *w, fs_backend *b)
{
    *out = NULL;
    if (fs_weights_family(w) != FS_FAMILY_STYLEGAN2_G)
        return fs_error(FS_ERR_ARG, "%s: not a StyleGAN2 generator (it is a %s)",
                        fs_weights_label(w), fs_family_name(fs_weights_family(w)));
    fs_sg2_generator *g = calloc(1, sizeof *g);
    if (!g)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    g->b = b;
    g->w = w;
    /* The family check: a model never trusts a file it did not check. */
    fs_status s = fs_sg2_check_weights(w);
    if (s == FS_OK)
        s = fs_sg2_config_from_weights(w, &g->cfg);
    if (s == FS_OK)
        s = fs_dev_weights_upload(&g->dw, w, b);
    if (s == FS_OK)
        s = fs_dev_fir(b, g->cfg.resample_filter, (int)g->cfg.resample_filter_len, &g->fir);
    const fs_tensor *cst = fs_weights_find(w, "synthesis.b4.const");
    if (s == FS_OK && !(g->const_host = malloc((size_t)cst->nbytes / fs_dtype_size(cst->dtype) *
                                               sizeof(float))))
        s = fs_error(FS_ERR_NOMEM, "out of memory");
    if (s == FS_OK)
        for (uint64_t k = 0; k < cst->nbytes / fs_dtype_size(cst->dtype); k++)
            g->const_host[k] = (float)fs_dtype_load(cst->dtype, cst->data, (int64_t)k);
    if (s != FS_OK) {
        fs_sg2_generator_free(g);
        return s;
    }
    const fs_sg2_config *c = &g->cfg;
    g->num_ws = (int)fs_sg2_num_ws(c);
    int top = fs_sg2_log2(c->img_resolution), w_idx = 0;
    char prefix[64];
    uint32_t stream = 0;
    for (int l = 2; l <= top; l++) {
        synth_block *bk = &g->blocks[g->n_blocks++];
        int res = 1 << l, ch = (int)fs_sg2_channels(c, res);
        bk->res = res;
        if (l > 2) {
            int cin = (int)fs_sg2_channels(c, res / 2);
            snprintf(prefix, sizeof prefix, "synthesis.b%d.conv0", res);
            layer_init(g, &bk->conv0, prefix, cin, ch, res, 2, 3, w_idx++, 1, stream++);
            bk->has_conv0 = 1;
            if (c->architecture == FS_SG2_ARCH_RESNET)
                bk->skip_w = fs_dev_weight(&g->dw, "synthesis.b%d.skip.weight", res);
        }
        snprintf(prefix, sizeof prefix, "synthesis.b%d.conv1", res);
        layer_init(g, &bk->conv1, prefix, ch, ch, res, 1, 3, w_idx++, 1, stream++);
        bk->has_torgb = l == top || c->architecture == FS_SG2_ARCH_SKIP;
        if (bk->has_torgb) {
            snprintf(prefix, sizeof prefix, "synthesis.b%d.torgb", res);
            /* ToRGB shares its w with the next block's first conv */
            layer_init(g, &bk->torgb, prefix, ch, (int)c->img_channels, res, 1, 1, w_idx, 0, 0);
        }
    }
    *out = g;
    return FS_OK;
}

static void release(fs_backend *b, void *p)
{
    if (p)
        b->ops->release(b, p);
}

static void free_buffers(fs_sg2_generator *g)
{
    float **bufs[] = {&g->x0, &g->x1, &g->tmp, &g->img, &g->img_up, &g->styles, &g->ws_dev,
                      &g->map_a, &g->map_b};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) {
        release(g->b, *bufs[i]);
        *bufs[i] = NULL;
    }
    free(g->seeds_dev);
    g->seeds_dev = NULL;
    g->cap = 0;
}

void fs_sg2_generator_free(fs_sg2_generator *g)
{
    if (!g)
        return;
    free_buffers(g);
    free(g->const_host);
    release(g->b, g->fir);
    fs_dev_weights_free(&g->dw);
    free(g);
}

/* Plans the activation buffers once per batch size (grown, never shrunk). */
static fs_status ensure_buffers(fs_sg2_generator *g, int n)
{
    if (n <= g->cap)
        return FS_OK;
    free_buffers(g);
    const fs_sg2_config *c = &g->cfg;
    size_t act = 0, wmax = (size_t)c->w_dim;
    for (int i = 0; i < g->n_blocks; i++) {
        size_t r = (size_t)g->blocks[i].res;
        size_t ch = (size_t)fs_sg2_channels(c, (int64_t)r);
        act = ch * r * r > act ? ch * r * r : act;
        wmax = ch > wmax ? ch : wmax;
    }
    size_t R = (size_t)c->img_resolution, ic = (size_t)c->img_channels;
    size_t map_w = (size_t)(c->z_dim + c->embed_features);
    map_w = map_w > (size_t)c->layer_features ? map_w : (size_t)c->layer_features;
    map_w = map_w > (size_t)c->w_dim ? map_w : (size_t)c->w_dim;
    fs_backend *b = g->b;
    struct { float **p; size_t floats; } want[] = {
        {&g->x0, act * n},         {&g->x1, act * n},          {&g->tmp, act * n},
        {&g->img, ic * R * R * n}, {&g->img_up, ic * R * R * n}, {&g->styles, wmax * n},
        {&g->ws_dev, (size_t)g->num_ws * c->w_dim * n},
        {&g->map_a, map_w * n},    {&g->map_b, map_w * n}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        *want[i].p = b->ops->alloc(b, want[i].floats * sizeof(float));
        if (!*want[i].p) {
            free_buffers(g);
            return FS_ERR_NOMEM;
        }
    }
    g->seeds_dev = calloc((size_t)n, sizeof *g->seeds_dev);
    if (!g->seeds_dev) {
        free_buffers(g);
        return fs_error(FS_ERR_NOMEM, "out of memory");
    }
    g->cap = n;
    return FS_OK;
}

fs_status fs_sg2_generator_mapping(fs_sg2_generator *g, const float *z, const float *c, int n,
                                   float psi, int cutoff, float *ws)
{
    const fs_sg2_config *cfg = &g->cfg;
    fs_backend *b = g->b;
    if (n <= 0)
        return fs_error(FS_ERR_ARG, "mapping: batch of %d", n);
    if (cfg->c_dim > 0 && !c)
        return fs_error(FS_ERR_ARG, "%s: the generator is conditional (c_dim %lld): a label is "
                        "required", fs_weights_label(g->w), (long long)cfg->c_dim);
    FS_TRY(ensure_buffers(g, n));
    int zd = (int)cfg->z_dim, ef = (int)cfg->embed_features, in0 = zd + ef;
    /* x = [normalize(z), normalize(embed(c))], assembled on the host: z is
     * already there and the embedding is a few hundred floats per sample. */
    float *xin = malloc((size_t)n * in0 * sizeof *xin);
    float *emb = cfg->c_dim > 0 ? malloc((size_t)n * ef * sizeof *emb) : NULL;
    if (!xin || (cfg->c_dim > 0 && !emb)) {
        free(xin);
        free(emb);
        return fs_error(FS_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        const float *zi = z + (size_t)i * zd;
        float *r = xin + (size_t)i * in0, acc = 0;
        for (int j = 0; j < zd; j++)
            acc += zi[j] * zi[j];
        float k = zd > 0 ? 1.0f / sqrtf(acc / (float)zd + 1e-8f) : 0.0f;
        for (int j = 0; j < zd; j++)
            r[j] = zi[j] * k;
    }
    fs_status s = FS_OK;
    if (cfg->c_dim > 0) {
        fs_fc_args e = {g->map_b, 0, fs_dev_weight(&g->dw, "mapping.embed.weight"),
                        fs_dev_weight(&g->dw, "mapping.embed.bias"), g->map_a, n,
                        (int)cfg->c_dim, ef, 1.0f / sqrtf((float)cfg->c_dim), 1.0f, 1.0f, 0.0f,
                        FS_ACT_LINEAR};
        s = b->ops->upload(b, g->map_b, c, (size_t)n * cfg->c_dim * sizeof(float));
        if (s == FS_OK)
            s = b->ops->fc(b, &e);
        if (s == FS_OK)
            s = b->ops->normalize_2nd_moment(b, g->map_a, n, ef);
        if (s == FS_OK)
            s = b->ops->download(b, emb, g->map_a, (size_t)n * ef * sizeof(float));
        for (int i = 0; s == FS_OK && i < n; i++)
            memcpy(xin + (size_t)i * in0 + zd, emb + (size_t)i * ef, (size_t)ef * sizeof *emb);
    }
    if (s == FS_OK)
        s = b->ops->upload(b, g->map_a, xin, (size_t)n * in0 * sizeof(float));
    free(xin);
    free(emb);
    FS_TRY(s);
    float *x = g->map_a, *y = g->map_b;
    int in = in0;
    float lr = (float)cfg->mapping_lr_multiplier;
    for (int i = 0; i < cfg->mapping_layers; i++) {
        int o = i == cfg->mapping_layers - 1 ? (int)cfg->w_dim : (int)cfg->layer_features;
        fs_fc_args a = {x, 0, fs_dev_weight(&g->dw, "mapping.fc%d.weight", i),
                        fs_dev_weight(&g->dw, "mapping.fc%d.bias", i), y, n, in, o,
                        lr / sqrtf((float)in), lr, 1.0f, 0.0f, FS_ACT_LRELU};
        FS_TRY(b->ops->fc(b, &a));
        float *t = x;
        x = y;
        y = t;
        in = o;
    }
    /* broadcast to num_ws, then truncate toward w_avg */
    int wd = (int)cfg->w_dim;
    float *w_host = malloc((size_t)n * wd * sizeof *w_host);
    if (!w_host)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    s = b->ops->download(b, w_host, x, (size_t)n * wd * sizeof(float));
    for (int i = 0; s == FS_OK && i < n; i++)
        for (int k = 0; k < g->num_ws; k++)
            memcpy(ws + ((size_t)i * g->num_ws + k) * wd, w_host + (size_t)i * wd,
                   (size_t)wd * sizeof(float));
    free(w_host);
    FS_TRY(s);
    if (psi != 1.0f) {
        int rows = cutoff < 0 || cutoff > g->num_ws ? g->num_ws : cutoff;
        float *avg = malloc((size_t)wd * sizeof *avg);
        if (!avg)
            return fs_error(FS_ERR_NOMEM, "out of memory");
        s = b->ops->download(b, avg, fs_dev_weight(&g->dw, "mapping.w_avg"), (size_t)wd * sizeof(float));
        for (int i = 0; s == FS_OK && i < n; i++)
            for (int r = 0; r < rows; r++) {
                float *v = ws + ((size_t)i * g->num_ws + r) * wd;
                for (int j = 0; j < wd; j++)
                    v[j] = avg[j] + psi * (v[j] - avg[j]);
            }
        free(avg);
        FS_TRY(s);
    }
    return FS_OK;
}

/* styles = affine(w[:, w_index]) * gain, into g->styles [n, cin] */
static fs_status styles_of(fs_sg2_generator *g, const synth_layer *l, int n, float gain)
{
    int wd = (int)g->cfg.w_dim;
    fs_fc_args a = {g->ws_dev + (size_t)l->w_index * wd, g->num_ws * wd, l->affine_w, l->affine_b,
                    g->styles, n, wd, l->cin, 1.0f / sqrtf((float)wd), 1.0f, gain, 0.0f,
                    FS_ACT_LINEAR};
    return g->b->ops->fc(g->b, &a);
}

/* Whether the official code runs the layers of the block at resolution res in
 * fp16: res >= max(2^(log2 R + 1 - num_fp16_res), 8) (networks.py
 * SynthesisNetwork / SynthesisBlock); never with num_fp16_res 0. */
static int block_is_fp16(const fs_sg2_config *c, int res)
{
    if (c->num_fp16_res <= 0)
        return 0;
    int64_t e = fs_sg2_log2(c->img_resolution) + 1 - c->num_fp16_res;
    int64_t fp16_res = e < 3 ? 8 : (int64_t)1 << e;
    return res >= fp16_res;
}

static fs_status run_layer(fs_sg2_generator *g, const synth_layer *l, const float *x, float *y,
                           int n, const fs_sg2_synthesis_opts *o, float gain)
{
    float clamp = (float)g->cfg.conv_clamp;
    FS_TRY(styles_of(g, l, n, l->demodulate ? 1.0f : 1.0f / sqrtf((float)l->cin)));
    fs_modconv_args a;
    memset(&a, 0, sizeof a);
    a.x = x;
    a.weight = l->weight;
    a.styles = g->styles;
    a.b = l->bias;
    a.y = y;
    a.n = n;
    a.cin = l->cin;
    a.cout = l->cout;
    a.h = a.w = l->up == 2 ? l->res / 2 : l->res;
    a.k = l->k;
    a.up = l->up;
    a.demodulate = l->demodulate;
    a.fir = g->fir;
    a.fir_len = (int)g->cfg.resample_filter_len;
    a.noise_mode = l->demodulate ? o->noise_mode : FS_NOISE_NONE;
    a.noise_const = l->noise_const;
    a.noise_strength = l->noise_strength;
    a.noise_seeds = g->seeds_dev;
    a.noise_stream = l->stream;
    a.act = l->demodulate ? FS_ACT_LRELU : FS_ACT_LINEAR;
    a.gain = gain;
    a.clamp = clamp > 0 ? clamp * gain : 0.0f;
    a.fp16 = block_is_fp16(&g->cfg, l->res); /* read only by a CUDA backend in mixed precision */
    return g->b->ops->modconv(g->b, &a);
}

fs_status fs_sg2_generator_synthesis(fs_sg2_generator *g, const float *ws, int n,
                                     const fs_sg2_synthesis_opts *o, float *img)
{
    const fs_sg2_config *c = &g->cfg;
    fs_backend *b = g->b;
    FS_TRY(ensure_buffers(g, n));
    if (o->noise_mode == FS_NOISE_RANDOM) {
        if (!o->noise_seeds)
            return fs_error(FS_ERR_ARG, "synthesis: random noise needs per-sample seeds");
        memcpy(g->seeds_dev, o->noise_seeds, (size_t)n * sizeof *g->seeds_dev);
    }
    FS_TRY(b->ops->upload(b, g->ws_dev, ws, (size_t)n * g->num_ws * c->w_dim * sizeof(float)));
    int ic = (int)c->img_channels;
    float *x = g->x0, *y = g->x1;
    int have_img = 0;
    for (int i = 0; i < g->n_blocks; i++) {
        const synth_block *bk = &g->blocks[i];
        int res = bk->res;
        size_t plane = (size_t)res * res;
        if (!bk->has_conv0) {
            /* the learned constant, the same for every sample */
            size_t bytes = (size_t)bk->conv1.cin * plane * sizeof(float);
            for (int s = 0; s < n; s++)
                FS_TRY(b->ops->upload(b, x + (size_t)s * bk->conv1.cin * plane, g->const_host, bytes));
            FS_TRY(run_layer(g, &bk->conv1, x, y, n, o, 1.0f));
        } else if (bk->skip_w) {
            /* resnet: y = skip(x) * sqrt(.5) + conv1(conv0(x)) * sqrt(.5) */
            float g2 = sqrtf(0.5f);
            fs_conv2d_args sk = {x, bk->skip_w, NULL, g->tmp, n, bk->conv0.cin, bk->conv0.cout,
                                 res / 2, res / 2, 1, 1, NULL, 0,
                                 1.0f / sqrtf((float)bk->conv0.cin), 1.0f, 0.0f, FS_ACT_LINEAR,
                                 1, 0};
            FS_TRY(b->ops->conv2d(b, &sk));
            /* 1x1 conv, then the FIR up-sampling (pad 2/1, gain 4), into y */
            fs_upfirdn2d_args up = {g->tmp, y, n * bk->conv0.cout, res / 2, res / 2, 2, 1, 2, 1,
                                    g->fir, (int)c->resample_filter_len, 4.0f};
            FS_TRY(b->ops->upfirdn2d(b, &up));
            /* the official skip layer has no conv_clamp */
            FS_TRY(b->ops->bias_act(b, y, NULL, n, bk->conv0.cout, plane, FS_ACT_LINEAR, g2, 0.0f));
            FS_TRY(run_layer(g, &bk->conv0, x, g->tmp, n, o, 1.0f));
            FS_TRY(run_layer(g, &bk->conv1, g->tmp, x, n, o, g2));
            FS_TRY(b->ops->axpby(b, y, x, (size_t)n * bk->conv1.cout * plane, 1.0f, 1.0f));
        } else {
            FS_TRY(run_layer(g, &bk->conv0, x, g->tmp, n, o, 1.0f));
            FS_TRY(run_layer(g, &bk->conv1, g->tmp, y, n, o, 1.0f));
        }
        float *t = x;
        x = y;
        y = t;
        /* x holds the block's features; now the image path */
        if (have_img) {
            fs_upfirdn2d_args up = {g->img, g->img_up, n * ic, res / 2, res / 2, 2, 1, 2, 1,
                                    g->fir, (int)c->resample_filter_len, 4.0f};
            FS_TRY(b->ops->upfirdn2d(b, &up));
            float *ti = g->img;
            g->img = g->img_up;
            g->img_up = ti;
        }
        if (bk->has_torgb) {
            if (have_img) {
                FS_TRY(run_layer(g, &bk->torgb, x, g->img_up, n, o, 1.0f));
                FS_TRY(b->ops->axpby(b, g->img, g->img_up, (size_t)n * ic * plane, 1.0f, 1.0f));
            } else {
                FS_TRY(run_layer(g, &bk->torgb, x, g->img, n, o, 1.0f));
                have_img = 1;
            }
        }
        if (o->trace) {
            int ch = bk->conv1.cout;
            float *hx = malloc((size_t)ch * plane * sizeof *hx);
            float *hi = malloc((size_t)ic * plane * sizeof *hi);
            fs_status st = hx && hi ? FS_OK : fs_error(FS_ERR_NOMEM, "out of memory");
            if (st == FS_OK)
                st = b->ops->download(b, hx, x, (size_t)ch * plane * sizeof(float));
            if (st == FS_OK && have_img)
                st = b->ops->download(b, hi, g->img, (size_t)ic * plane * sizeof(float));
            if (st == FS_OK)
                o->trace(o->trace_user, res, hx, ch, have_img ? hi : NULL, ic);
            free(hx);
            free(hi);
            FS_TRY(st);
        }
    }
    size_t R = (size_t)c->img_resolution;
    return b->ops->download(b, img, g->img, (size_t)n * ic * R * R * sizeof(float));
}
