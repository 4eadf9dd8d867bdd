/* The StyleGAN2 generator as a sequence of backend operations
 * (docs/stylegan2.md §1).
 *
 * mapping:   normalize(z) (++ normalize(embed(c))) -> FC x L (lrelu, lr mult)
 *            -> broadcast to num_ws -> truncation toward w_avg
 * synthesis: const -> per block [conv0 (up) -> conv1 -> ToRGB (+ upsampled
 *            skip image)], each conv a fused modulated-conv op whose styles
 *            come from one affine FC of the block's w.
 *
 * _init checks the file, uploads the weights once and plans every layer on
 * the backend (ops->plan). A forward keeps everything on the backend from the
 * latents to the uint8 images (fs_sg2_generate): only z or ws (and labels,
 * noise seeds) go up, and only the images come down. The noise seeds go up
 * into a backend buffer, and once the buffers exist a forward allocates
 * nothing.
 *
 * Feature formats (docs/precision.md): where the backend computes a layer in
 * a 16-bit format (ops->feature_format, e.g. CUDA v2 in fp16/bf16/mixed, or
 * the CPU emulating it), the synthesis network runs its "v2" form: one styles
 * op per forward computes every layer's styles and demodulation, each layer's
 * features live in that layer's format (16-bit NHWC or float32 NCHW, with a
 * convert_features op where the format changes), the convs are modconv ops
 * in their format, and ToRGB with the skip image's up-sampling is one torgb
 * op. A backend that keeps every layer in float32 runs the per-layer affine +
 * modconv form, exactly as before the v2 ops existed. Resnet generators stay
 * on that float32 form whatever the backend says (their skip branch has no
 * 16-bit op). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stylegan2.h"
#include "dev_weights.h"

typedef struct {
    const float *weight, *bias, *affine_w, *affine_b, *noise_const;
    float noise_strength;
    int cin, cout, res, up, k, w_index;
    int demodulate;
    uint32_t stream; /* noise stream id */
    fs_feat_format fmt;           /* v2: the format of the layer's features */
    size_t style_off, dcoef_off;  /* v2: its blocks in the styles op's outputs */
    fs_plan *plan, *affine_plan;
} synth_layer;

typedef struct {
    int res;
    synth_layer conv0, conv1, torgb;
    int has_conv0, has_torgb;
    const float *skip_w;           /* resnet */
    fs_plan *skip_plan, *skip_up_plan;
    fs_plan *img_up_plan;          /* the skip image's up-sampling into this block */
} synth_block;

#define MAX_MAPPING_LAYERS 64 /* the config check's bound */

struct fs_sg2_generator {
    fs_backend *b;
    const fs_weights *w;
    fs_sg2_config cfg;
    fs_dev_weights dw;
    float *fir;
    const float *const_dev; /* synthesis.b4.const, broadcast to every sample */
    const float *w_avg;
    synth_block blocks[FS_SG2_MAX_RES_LOG2 + 1];
    int n_blocks;
    int num_ws;
    fs_plan *embed_plan, *map_plans[MAX_MAPPING_LAYERS];
    /* v2 (a 16-bit layer and not resnet): the styles op's layer list and plan */
    int v2;
    fs_style_layer style_layers[3 * (FS_SG2_MAX_RES_LOG2 + 1)];
    int n_style_layers;
    size_t sum_cin, sum_cout;
    fs_plan *styles_plan;
    /* buffers sized for `cap` samples */
    int cap;
    float *x0, *x1, *tmp, *img, *img_up, *styles, *ws_dev, *map_a, *map_b, *map_z, *map_c, *emb;
    float *styles_all, *dcoef_all; /* v2: every layer's styles and d, layer-major */
    uint16_t *h0, *h1;             /* v2: 16-bit features */
    uint8_t *u8;
    uint64_t *seeds_dev;           /* backend memory */
    unsigned long epoch;           /* ensure_buffers' re-allocations */
};

const fs_sg2_config *fs_sg2_generator_config(const fs_sg2_generator *g) { return &g->cfg; }

static void layer_init(fs_sg2_generator *g, synth_layer *l, const char *prefix, int cin, int cout,
                       int res, int up, int k, int w_index, int demod, uint32_t stream)
{
    *l = (synth_layer){
        .weight = fs_dev_weight(&g->dw, "%s.weight", prefix),
        .bias = fs_dev_weight(&g->dw, "%s.bias", prefix),
        .affine_w = fs_dev_weight(&g->dw, "%s.affine.weight", prefix),
        .affine_b = fs_dev_weight(&g->dw, "%s.affine.bias", prefix),
        .noise_const = demod ? fs_dev_weight(&g->dw, "%s.noise_const", prefix) : NULL,
        .noise_strength = demod ? fs_host_scalar(g->w, "%s.noise_strength", prefix) : 0.0f,
        .cin = cin,
        .cout = cout,
        .res = res,
        .up = up,
        .k = k,
        .w_index = w_index,
        .demodulate = demod,
        .stream = stream,
    };
}

/* ---- the layers' arguments, shared by the plan step and the forward ------------- */

static fs_fc_args embed_args(const fs_sg2_generator *g, const float *x, float *y, int n)
{
    const fs_sg2_config *c = &g->cfg;
    return (fs_fc_args){
        .x = x, .w = fs_dev_weight(&g->dw, "mapping.embed.weight"),
        .b = fs_dev_weight(&g->dw, "mapping.embed.bias"), .y = y, .n = n,
        .in = (int)c->c_dim, .out = (int)c->embed_features,
        .weight_gain = 1.0f / sqrtf((float)c->c_dim), .bias_gain = 1.0f, .gain = 1.0f,
        .clamp = 0.0f, .act = FS_ACT_LINEAR, .plan = g->embed_plan,
    };
}

static fs_fc_args mapping_args(const fs_sg2_generator *g, int i, const float *x, float *y, int n)
{
    const fs_sg2_config *c = &g->cfg;
    int in = i == 0 ? (int)(c->z_dim + c->embed_features) : (int)c->layer_features;
    int out = i == c->mapping_layers - 1 ? (int)c->w_dim : (int)c->layer_features;
    float lr = (float)c->mapping_lr_multiplier;
    return (fs_fc_args){
        .x = x, .w = fs_dev_weight(&g->dw, "mapping.fc%d.weight", i),
        .b = fs_dev_weight(&g->dw, "mapping.fc%d.bias", i), .y = y, .n = n, .in = in,
        .out = out, .weight_gain = lr / sqrtf((float)in), .bias_gain = lr, .gain = 1.0f,
        .clamp = 0.0f, .act = FS_ACT_LRELU, .plan = g->map_plans[i],
    };
}

/* styles = affine(w[:, w_index]) * gain: [n, cin] */
static fs_fc_args affine_args(const fs_sg2_generator *g, const synth_layer *l, int n, float gain)
{
    int wd = (int)g->cfg.w_dim;
    return (fs_fc_args){
        .x = g->ws_dev + (size_t)l->w_index * wd, .ldx = g->num_ws * wd, .w = l->affine_w,
        .b = l->affine_b, .y = g->styles, .n = n, .in = wd, .out = l->cin,
        .weight_gain = 1.0f / sqrtf((float)wd), .bias_gain = 1.0f, .gain = gain, .clamp = 0.0f,
        .act = FS_ACT_LINEAR, .plan = l->affine_plan,
    };
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

static fs_modconv_args modconv_args(const fs_sg2_generator *g, const synth_layer *l,
                                    const float *x, float *y, int n, fs_noise_mode noise,
                                    float gain)
{
    float clamp = (float)g->cfg.conv_clamp;
    return (fs_modconv_args){
        .x = x, .weight = l->weight, .styles = g->styles, .b = l->bias, .y = y, .n = n,
        .cin = l->cin, .cout = l->cout, .h = l->up == 2 ? l->res / 2 : l->res,
        .w = l->up == 2 ? l->res / 2 : l->res, .k = l->k, .up = l->up,
        .demodulate = l->demodulate, .fir = g->fir, .fir_len = (int)g->cfg.resample_filter_len,
        .noise_mode = l->demodulate ? noise : FS_NOISE_NONE, .noise_const = l->noise_const,
        .noise_strength = l->noise_strength, .noise_seeds = g->seeds_dev,
        .noise_stream = l->stream, .act = l->demodulate ? FS_ACT_LRELU : FS_ACT_LINEAR,
        .gain = gain, .clamp = clamp > 0 ? clamp * gain : 0.0f,
        /* read only by a CUDA backend in mixed precision */
        .fp16 = block_is_fp16(&g->cfg, l->res), .fmt = l->fmt, .plan = l->plan,
    };
}

/* resnet: the 1x1 skip conv at the input resolution, then its up-sampling */
static fs_conv2d_args skip_args(const fs_sg2_generator *g, const synth_block *bk, const float *x,
                                float *y, int n)
{
    return (fs_conv2d_args){
        .x = x, .weight = bk->skip_w, .y = y, .n = n, .cin = bk->conv0.cin,
        .cout = bk->conv0.cout, .h = bk->res / 2, .w = bk->res / 2, .k = 1,
        .weight_gain = 1.0f / sqrtf((float)bk->conv0.cin), .gain = 1.0f, .clamp = 0.0f,
        .act = FS_ACT_LINEAR, .stride = 1, .pad = 0, .plan = bk->skip_plan,
    };
}

/* The official 2x FIR up-sampling (pad 2/1, gain 4) of nc planes at res / 2. */
static fs_upfirdn2d_args up_args(const fs_sg2_generator *g, int res, const float *x, float *y,
                                 int nc, const fs_plan *plan)
{
    return (fs_upfirdn2d_args){
        .x = x, .y = y, .nc = nc, .h = res / 2, .w = res / 2, .up = 2, .down = 1, .pad0 = 2,
        .pad1 = 1, .fir = g->fir, .fir_len = (int)g->cfg.resample_filter_len, .gain = 4.0f,
        .plan = plan,
    };
}

/* ---- plan ------------------------------------------------------------------------ */

static fs_status plan_layer(fs_sg2_generator *g, synth_layer *l)
{
    fs_backend *b = g->b;
    if (!g->v2) { /* v2: the styles op's plan holds every affine */
        fs_fc_args fa = affine_args(g, l, 0, 1.0f);
        FS_TRY(b->ops->plan(b, FS_OP_FC, &fa, &l->affine_plan));
    }
    fs_modconv_args ma = modconv_args(g, l, NULL, NULL, 0, FS_NOISE_NONE, 1.0f);
    return b->ops->plan(b, FS_OP_MODCONV, &ma, &l->plan);
}

/* fp16 holds magnitudes up to 65504: a convolution weight beyond it would
 * round to infinity in the v2 operand r(W) (docs/precision.md §2). Trained
 * StyleGAN2 weights are of order 1, so this refuses only broken or exotic
 * files, and names the tensor; bf16 has float32's range. */
static fs_status check_fp16_weights(const fs_sg2_generator *g)
{
    const fs_weights *w = g->w;
    for (size_t i = 0; i < fs_weights_tensor_count(w); i++) {
        const fs_tensor *t = fs_weights_tensor_at(w, i);
        size_t len = strlen(t->name);
        if (strncmp(t->name, "synthesis.", 10) != 0 || len < 13 ||
            (strcmp(t->name + len - 13, ".conv0.weight") != 0 &&
             strcmp(t->name + len - 13, ".conv1.weight") != 0 &&
             strcmp(t->name + len - 13, ".torgb.weight") != 0))
            continue;
        size_t n = (size_t)(t->nbytes / (fs_dtype_size(t->dtype) ? fs_dtype_size(t->dtype) : 1));
        for (size_t k = 0; k < n; k++) {
            float v = t->dtype == FS_DTYPE_F32  ? ((const float *)t->data)[k]
                      : t->dtype == FS_DTYPE_BF16 ? fs_bf16_to_f32(((const uint16_t *)t->data)[k])
                                                  : 0.0f; /* f16 storage fits by definition */
            if (!(fabsf(v) <= 65504.0f))
                return fs_error(FS_ERR_UNSUPPORTED, "%s: %s holds %g, beyond the fp16 range of "
                                "the fp16 feature format (use bf16 or fp32)", fs_weights_label(w),
                                t->name, (double)v);
        }
    }
    return FS_OK;
}

/* v2: each layer's feature format, whether the network runs the v2 form, and
 * the styles op's layer list (every modulated layer in forward order, ToRGB
 * with its 1 / sqrt(cin) gain and no demodulation). */
static void choose_formats(fs_sg2_generator *g)
{
    fs_backend *b = g->b;
    int any16 = 0;
    for (int i = 0; i < g->n_blocks; i++) {
        synth_block *bk = &g->blocks[i];
        fs_feat_format f = b->ops->feature_format(b, block_is_fp16(&g->cfg, bk->res));
        bk->conv0.fmt = bk->conv1.fmt = bk->torgb.fmt = f;
        any16 |= f != FS_FEAT_F32_NCHW;
    }
    g->v2 = any16 && g->cfg.architecture != FS_SG2_ARCH_RESNET;
    if (!g->v2) {
        for (int i = 0; i < g->n_blocks; i++) /* the float32 form everywhere */
            g->blocks[i].conv0.fmt = g->blocks[i].conv1.fmt = g->blocks[i].torgb.fmt =
                FS_FEAT_F32_NCHW;
        return;
    }
    g->n_style_layers = 0;
    g->sum_cin = g->sum_cout = 0;
    for (int i = 0; i < g->n_blocks; i++) {
        synth_block *bk = &g->blocks[i];
        synth_layer *ls[3] = {bk->has_conv0 ? &bk->conv0 : NULL, &bk->conv1,
                              bk->has_torgb ? &bk->torgb : NULL};
        for (int k = 0; k < 3; k++) {
            synth_layer *l = ls[k];
            if (!l)
                continue;
            l->style_off = g->sum_cin;
            l->dcoef_off = g->sum_cout;
            g->style_layers[g->n_style_layers++] = (fs_style_layer){
                .affine_w = l->affine_w, .affine_b = l->affine_b, .weight = l->weight,
                .cin = l->cin, .cout = l->cout, .k = l->k, .w_index = l->w_index,
                .demodulate = l->demodulate,
                .weight_gain = 1.0f / sqrtf((float)g->cfg.w_dim),
                .gain = l->demodulate ? 1.0f : 1.0f / sqrtf((float)l->cin),
                .style_off = l->style_off, .dcoef_off = l->dcoef_off};
            g->sum_cin += (size_t)l->cin;
            g->sum_cout += l->demodulate ? (size_t)l->cout : 0;
        }
    }
}

static fs_styles_args styles_args(const fs_sg2_generator *g, int n)
{
    return (fs_styles_args){
        .layers = g->style_layers, .n_layers = g->n_style_layers, .ws = g->ws_dev, .n = n,
        .num_ws = g->num_ws, .w_dim = (int)g->cfg.w_dim, .styles = g->styles_all,
        .dcoef = g->dcoef_all, .plan = g->styles_plan};
}

/* Every layer prepared once on the backend: nothing is re-planned per call. */
static fs_status plan_network(fs_sg2_generator *g)
{
    fs_backend *b = g->b;
    const fs_sg2_config *c = &g->cfg;
    if (c->mapping_layers > MAX_MAPPING_LAYERS)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: %lld mapping layers (at most %d)",
                        fs_weights_label(g->w), (long long)c->mapping_layers, MAX_MAPPING_LAYERS);
    if (c->c_dim > 0) {
        fs_fc_args e = embed_args(g, NULL, NULL, 0);
        FS_TRY(b->ops->plan(b, FS_OP_FC, &e, &g->embed_plan));
    }
    for (int i = 0; i < c->mapping_layers; i++) {
        fs_fc_args m = mapping_args(g, i, NULL, NULL, 0);
        FS_TRY(b->ops->plan(b, FS_OP_FC, &m, &g->map_plans[i]));
    }
    int ic = (int)c->img_channels;
    choose_formats(g);
    for (int i = 0; g->v2 && i < g->n_blocks; i++)
        if (g->blocks[i].conv1.fmt == FS_FEAT_F16_NHWC) {
            FS_TRY(check_fp16_weights(g));
            break;
        }
    if (g->v2) {
        fs_styles_args sa = styles_args(g, 0);
        FS_TRY(b->ops->plan(b, FS_OP_STYLES, &sa, &g->styles_plan));
    }
    for (int i = 0; i < g->n_blocks; i++) {
        synth_block *bk = &g->blocks[i];
        if (bk->has_conv0)
            FS_TRY(plan_layer(g, &bk->conv0));
        FS_TRY(plan_layer(g, &bk->conv1));
        if (bk->has_torgb && !g->v2) /* v2: the torgb op */
            FS_TRY(plan_layer(g, &bk->torgb));
        if (bk->skip_w) {
            fs_conv2d_args sk = skip_args(g, bk, NULL, NULL, 0);
            FS_TRY(b->ops->plan(b, FS_OP_CONV2D, &sk, &bk->skip_plan));
            fs_upfirdn2d_args up = up_args(g, bk->res, NULL, NULL, bk->conv0.cout, NULL);
            FS_TRY(b->ops->plan(b, FS_OP_UPFIRDN2D, &up, &bk->skip_up_plan));
        }
        if (i > 0 && bk->has_torgb && !g->v2) {
            fs_upfirdn2d_args up = up_args(g, bk->res, NULL, NULL, ic, NULL);
            FS_TRY(b->ops->plan(b, FS_OP_UPFIRDN2D, &up, &bk->img_up_plan));
        }
    }
    return FS_OK;
}

fs_status fs_sg2_generator_init(fs_sg2_generator **out, const fs_weights *w, fs_backend *b)
{
    *out = NULL;
    if (fs_weights_family(w) != FS_FAMILY_STYLEGAN2_G)
        return fs_error(FS_ERR_ARG, "%s: not a StyleGAN2 generator (it is a %s)",
                        fs_weights_label(w), fs_family_name(fs_weights_family(w)));
    fs_sg2_generator *g = calloc(1, sizeof *g);
    if (!g)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory for the generator", fs_weights_label(w));
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
    if (s != FS_OK) {
        fs_sg2_generator_free(g);
        return s;
    }
    const fs_sg2_config *c = &g->cfg;
    g->const_dev = fs_dev_weight(&g->dw, "synthesis.b4.const");
    g->w_avg = fs_dev_weight(&g->dw, "mapping.w_avg");
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
    s = plan_network(g);
    if (s != FS_OK) {
        fs_sg2_generator_free(g);
        return s;
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
    float **bufs[] = {&g->x0,    &g->x1,    &g->tmp,   &g->img,   &g->img_up, &g->styles,
                      &g->ws_dev, &g->map_a, &g->map_b, &g->map_z, &g->map_c,  &g->emb,
                      &g->styles_all, &g->dcoef_all};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) {
        release(g->b, *bufs[i]);
        *bufs[i] = NULL;
    }
    release(g->b, g->u8);
    g->u8 = NULL;
    release(g->b, g->h0);
    release(g->b, g->h1);
    g->h0 = g->h1 = NULL;
    release(g->b, g->seeds_dev);
    g->seeds_dev = NULL;
    g->cap = 0;
}

void fs_sg2_generator_free(fs_sg2_generator *g)
{
    if (!g)
        return;
    free_buffers(g);
    fs_backend *b = g->b;
    for (int i = 0; i < g->n_blocks; i++) {
        synth_block *bk = &g->blocks[i];
        synth_layer *ls[] = {&bk->conv0, &bk->conv1, &bk->torgb};
        for (int k = 0; k < 3; k++) {
            b->ops->plan_free(b, ls[k]->plan);
            b->ops->plan_free(b, ls[k]->affine_plan);
        }
        b->ops->plan_free(b, bk->skip_plan);
        b->ops->plan_free(b, bk->skip_up_plan);
        b->ops->plan_free(b, bk->img_up_plan);
    }
    b->ops->plan_free(b, g->embed_plan);
    b->ops->plan_free(b, g->styles_plan);
    for (int i = 0; i < MAX_MAPPING_LAYERS; i++)
        b->ops->plan_free(b, g->map_plans[i]);
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
    g->epoch++; /* graphs of the old buffers are stale, whatever happens next */
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
    size_t zd = (size_t)c->z_dim > 0 ? (size_t)c->z_dim : 1;
    size_t cd = (size_t)c->c_dim > 0 ? (size_t)c->c_dim : 1;
    size_t ef = (size_t)c->embed_features > 0 ? (size_t)c->embed_features : 1;
    struct { float **p; size_t floats; } want[] = {
        {&g->x0, act * n},         {&g->x1, act * n},          {&g->tmp, act * n},
        {&g->img, ic * R * R * n}, {&g->img_up, ic * R * R * n}, {&g->styles, wmax * n},
        {&g->ws_dev, (size_t)g->num_ws * c->w_dim * n},
        {&g->map_a, map_w * n},    {&g->map_b, map_w * n},     {&g->map_z, zd * n},
        {&g->map_c, cd * n},       {&g->emb, ef * n},
        /* v2 (1 float otherwise) */
        {&g->styles_all, g->v2 ? g->sum_cin * n : 1},
        {&g->dcoef_all, g->v2 && g->sum_cout ? g->sum_cout * n : 1}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        *want[i].p = b->ops->alloc(b, want[i].floats * sizeof(float));
        if (!*want[i].p) {
            free_buffers(g);
            return FS_ERR_NOMEM; /* the backend's alloc recorded the message */
        }
    }
    g->u8 = b->ops->alloc(b, ic * R * R * n);
    g->seeds_dev = b->ops->alloc(b, (size_t)n * sizeof *g->seeds_dev);
    if (g->v2) {
        g->h0 = b->ops->alloc(b, act * n * sizeof *g->h0);
        g->h1 = b->ops->alloc(b, act * n * sizeof *g->h1);
    }
    if (!g->u8 || !g->seeds_dev || (g->v2 && (!g->h0 || !g->h1))) {
        free_buffers(g);
        return FS_ERR_NOMEM; /* the backend's alloc recorded the message */
    }
    g->cap = n;
    return FS_OK;
}

fs_status fs_sg2_generator_reserve(fs_sg2_generator *g, int max_batch)
{
    if (max_batch <= 0)
        return fs_error(FS_ERR_ARG, "reserve: batch of %d", max_batch);
    FS_TRY(ensure_buffers(g, max_batch));
    return g->b->ops->reserve(g->b, max_batch);
}

const float *fs_sg2_generator_images_dev(const fs_sg2_generator *g) { return g->img; }

unsigned long fs_sg2_generator_buffers_epoch(const fs_sg2_generator *g) { return g->epoch; }

/* The mapping network on the backend, leaving ws in g->ws_dev. z [n, z_dim]
 * and c [n, c_dim] are host arrays: the only uploads. */
static fs_status mapping_on_backend(fs_sg2_generator *g, const float *z, const float *c, int n,
                                    float psi, int cutoff)
{
    const fs_sg2_config *cfg = &g->cfg;
    fs_backend *b = g->b;
    if (cfg->c_dim > 0 && !c)
        return fs_error(FS_ERR_ARG, "%s: the generator is conditional (c_dim %lld): a label is "
                        "required", fs_weights_label(g->w), (long long)cfg->c_dim);
    int zd = (int)cfg->z_dim, ef = (int)cfg->embed_features, in0 = zd + ef;
    /* x = [normalize(z), normalize(embed(c))] */
    if (zd > 0) {
        FS_TRY(b->ops->upload(b, g->map_z, z, (size_t)n * zd * sizeof(float)));
        FS_TRY(b->ops->normalize_2nd_moment(b, g->map_z, n, zd));
    }
    const float *x0 = g->map_z;
    if (cfg->c_dim > 0) {
        FS_TRY(b->ops->upload(b, g->map_c, c, (size_t)n * cfg->c_dim * sizeof(float)));
        fs_fc_args e = embed_args(g, g->map_c, g->emb, n);
        FS_TRY(b->ops->fc(b, &e));
        FS_TRY(b->ops->normalize_2nd_moment(b, g->emb, n, ef));
        if (zd > 0)
            FS_TRY(b->ops->copy_rows(b, g->map_a, (size_t)in0, g->map_z, (size_t)zd, (size_t)n,
                                     (size_t)zd));
        FS_TRY(b->ops->copy_rows(b, g->map_a + zd, (size_t)in0, g->emb, (size_t)ef, (size_t)n,
                                 (size_t)ef));
        x0 = g->map_a;
    }
    /* FC x L, ping-ponging between map_a and map_b (the first reads x0) */
    const float *x = x0;
    float *y = g->map_b;
    for (int i = 0; i < cfg->mapping_layers; i++) {
        fs_fc_args a = mapping_args(g, i, x, y, n);
        FS_TRY(b->ops->fc(b, &a));
        x = y;
        y = y == g->map_b ? g->map_a : g->map_b;
    }
    /* broadcast to num_ws, then truncate toward w_avg */
    size_t wd = (size_t)cfg->w_dim, row = (size_t)g->num_ws * wd;
    for (int k = 0; k < g->num_ws; k++)
        FS_TRY(b->ops->copy_rows(b, g->ws_dev + (size_t)k * wd, row, x, wd, (size_t)n, wd));
    if (psi != 1.0f) {
        int rows = cutoff < 0 || cutoff > g->num_ws ? g->num_ws : cutoff;
        FS_TRY(b->ops->lerp_rows(b, g->ws_dev, g->w_avg, n, g->num_ws, (int)wd, 0, rows, psi));
    }
    return FS_OK;
}

fs_status fs_sg2_generator_mapping(fs_sg2_generator *g, const float *z, const float *c, int n,
                                   float psi, int cutoff, float *ws)
{
    if (n <= 0)
        return fs_error(FS_ERR_ARG, "mapping: batch of %d", n);
    FS_TRY(ensure_buffers(g, n));
    FS_TRY(mapping_on_backend(g, z, c, n, psi, cutoff));
    return g->b->ops->download(g->b, ws, g->ws_dev,
                               (size_t)n * g->num_ws * g->cfg.w_dim * sizeof(float));
}

static fs_status run_layer(fs_sg2_generator *g, const synth_layer *l, const float *x, float *y,
                           int n, fs_noise_mode noise, float gain)
{
    fs_fc_args fa = affine_args(g, l, n, l->demodulate ? 1.0f : 1.0f / sqrtf((float)l->cin));
    FS_TRY(g->b->ops->fc(g->b, &fa));
    fs_modconv_args a = modconv_args(g, l, x, y, n, noise, gain);
    return g->b->ops->modconv(g->b, &a);
}

/* Sample 0's features and image after a block, downloaded for the trace. */
static fs_status trace_block(fs_sg2_generator *g, const synth_block *bk, const float *x,
                             int have_img, const fs_sg2_synthesis_opts *o)
{
    fs_backend *b = g->b;
    int ch = bk->conv1.cout, ic = (int)g->cfg.img_channels;
    size_t plane = (size_t)bk->res * bk->res;
    float *hx = malloc((size_t)ch * plane * sizeof *hx);
    float *hi = malloc((size_t)ic * plane * sizeof *hi);
    fs_status st = hx && hi ? FS_OK
                            : fs_error(FS_ERR_NOMEM, "%s: out of memory for a block trace",
                                       fs_weights_label(g->w));
    if (st == FS_OK)
        st = b->ops->download(b, hx, x, (size_t)ch * plane * sizeof(float));
    if (st == FS_OK && have_img)
        st = b->ops->download(b, hi, g->img, (size_t)ic * plane * sizeof(float));
    if (st == FS_OK)
        o->trace(o->trace_user, bk->res, hx, ch, have_img ? hi : NULL, ic);
    free(hx);
    free(hi);
    return st;
}

/* ---- v2: layers in their feature format ---------------------------------------------- */

/* Features of one layer boundary: a buffer and its format. */
typedef struct {
    void *p;
    fs_feat_format fmt;
} feat;

/* The buffer of format f that is not `busy` (two per kind: float32 x0/x1,
 * 16-bit h0/h1). */
static void *spare(const fs_sg2_generator *g, fs_feat_format f, const void *busy)
{
    if (f == FS_FEAT_F32_NCHW)
        return busy == g->x0 ? (void *)g->x1 : (void *)g->x0;
    return busy == g->h0 ? (void *)g->h1 : (void *)g->h0;
}

/* x in format f: converted into a spare buffer where it is not already. */
static fs_status to_format(fs_sg2_generator *g, feat *x, fs_feat_format f, int n, int c,
                           size_t hw)
{
    if (x->fmt == f)
        return FS_OK;
    void *y = spare(g, f, x->p);
    fs_convert_features_args a = {.xfmt = x->fmt, .yfmt = f, .x = x->p, .y = y, .n = n, .c = c,
                                  .hw = hw};
    FS_TRY(g->b->ops->convert_features(g->b, &a));
    *x = (feat){y, f};
    return FS_OK;
}

/* One conv layer of the v2 form, x (in any format) to the layer's format. */
static fs_status run_layer_v2(fs_sg2_generator *g, const synth_layer *l, feat *x, int n,
                              fs_noise_mode noise)
{
    int in_res = l->up == 2 ? l->res / 2 : l->res;
    FS_TRY(to_format(g, x, l->fmt, n, l->cin, (size_t)in_res * in_res));
    void *y = spare(g, l->fmt, x->p);
    int f32 = l->fmt == FS_FEAT_F32_NCHW;
    fs_modconv_args a = modconv_args(g, l, f32 ? x->p : NULL, f32 ? y : NULL, n, noise, 1.0f);
    a.x16 = f32 ? NULL : x->p;
    a.y16 = f32 ? NULL : y;
    a.styles = g->styles_all + (size_t)n * l->style_off;
    a.dcoef = l->demodulate ? g->dcoef_all + (size_t)n * l->dcoef_off : NULL;
    FS_TRY(g->b->ops->modconv(g->b, &a));
    *x = (feat){y, l->fmt};
    return FS_OK;
}

static fs_status synthesis_v2(fs_sg2_generator *g, int n, const fs_sg2_synthesis_opts *o)
{
    const fs_sg2_config *c = &g->cfg;
    fs_backend *b = g->b;
    fs_styles_args sa = styles_args(g, n);
    FS_TRY(b->ops->styles(b, &sa));
    int ic = (int)c->img_channels, have_img = 0;
    feat x = {g->x0, FS_FEAT_F32_NCHW};
    for (int i = 0; i < g->n_blocks; i++) {
        const synth_block *bk = &g->blocks[i];
        int res = bk->res;
        size_t plane = (size_t)res * res;
        if (!bk->has_conv0) {
            size_t len = (size_t)bk->conv1.cin * plane;
            FS_TRY(b->ops->copy_rows(b, g->x0, len, g->const_dev, 0, (size_t)n, len));
            x = (feat){g->x0, FS_FEAT_F32_NCHW};
        } else {
            FS_TRY(run_layer_v2(g, &bk->conv0, &x, n, o->noise_mode));
        }
        FS_TRY(run_layer_v2(g, &bk->conv1, &x, n, o->noise_mode));
        if (bk->has_torgb) {
            /* ToRGB + the up-sampled previous image, into the other image buffer */
            const synth_layer *l = &bk->torgb;
            fs_torgb_args ta = {
                .fmt = x.fmt, .x = x.fmt == FS_FEAT_F32_NCHW ? x.p : NULL,
                .x16 = x.fmt == FS_FEAT_F32_NCHW ? NULL : x.p, .weight = l->weight,
                .styles = g->styles_all + (size_t)n * l->style_off, .b = l->bias,
                .img_prev = have_img ? g->img : NULL, .img = g->img_up, .fir = g->fir,
                .fir_len = (int)c->resample_filter_len, .n = n, .cin = l->cin, .cout = ic,
                .h = res, .w = res, .clamp = c->conv_clamp > 0 ? (float)c->conv_clamp : 0.0f};
            FS_TRY(b->ops->torgb(b, &ta));
            float *ti = g->img;
            g->img = g->img_up;
            g->img_up = ti;
            have_img = 1;
        }
        if (o->trace) {
            /* sample 0's features as float32 NCHW, in tmp where they are 16-bit */
            const float *xf = x.p;
            if (x.fmt != FS_FEAT_F32_NCHW) {
                fs_convert_features_args cv = {.xfmt = x.fmt, .yfmt = FS_FEAT_F32_NCHW,
                                               .x = x.p, .y = g->tmp, .n = 1,
                                               .c = bk->conv1.cout, .hw = plane};
                FS_TRY(b->ops->convert_features(b, &cv));
                xf = g->tmp;
            }
            FS_TRY(trace_block(g, bk, xf, have_img, o));
        }
    }
    return FS_OK;
}

/* The synthesis network on the backend, from g->ws_dev to g->img. */
static fs_status synthesis_on_backend(fs_sg2_generator *g, int n, const fs_sg2_synthesis_opts *o)
{
    const fs_sg2_config *c = &g->cfg;
    fs_backend *b = g->b;
    if (o->noise_mode == FS_NOISE_RANDOM) {
        if (!o->noise_seeds)
            return fs_error(FS_ERR_ARG, "synthesis: random noise needs per-sample seeds");
        FS_TRY(b->ops->upload(b, g->seeds_dev, o->noise_seeds, (size_t)n * sizeof *g->seeds_dev));
    }
    if (g->v2)
        return synthesis_v2(g, n, o);
    int ic = (int)c->img_channels;
    fs_noise_mode nm = o->noise_mode;
    float *x = g->x0, *y = g->x1;
    int have_img = 0;
    for (int i = 0; i < g->n_blocks; i++) {
        const synth_block *bk = &g->blocks[i];
        int res = bk->res;
        size_t plane = (size_t)res * res;
        if (!bk->has_conv0) {
            /* the learned constant, the same for every sample */
            size_t len = (size_t)bk->conv1.cin * plane;
            FS_TRY(b->ops->copy_rows(b, x, len, g->const_dev, 0, (size_t)n, len));
            FS_TRY(run_layer(g, &bk->conv1, x, y, n, nm, 1.0f));
        } else if (bk->skip_w) {
            /* resnet: y = skip(x) * sqrt(.5) + conv1(conv0(x)) * sqrt(.5) */
            float g2 = sqrtf(0.5f);
            fs_conv2d_args sk = skip_args(g, bk, x, g->tmp, n);
            FS_TRY(b->ops->conv2d(b, &sk));
            fs_upfirdn2d_args up = up_args(g, res, g->tmp, y, n * bk->conv0.cout, bk->skip_up_plan);
            FS_TRY(b->ops->upfirdn2d(b, &up));
            /* the official skip layer has no conv_clamp */
            FS_TRY(b->ops->bias_act(b, y, NULL, n, bk->conv0.cout, plane, FS_ACT_LINEAR, g2, 0.0f));
            FS_TRY(run_layer(g, &bk->conv0, x, g->tmp, n, nm, 1.0f));
            FS_TRY(run_layer(g, &bk->conv1, g->tmp, x, n, nm, g2));
            FS_TRY(b->ops->axpby(b, y, x, (size_t)n * bk->conv1.cout * plane, 1.0f, 1.0f));
        } else {
            FS_TRY(run_layer(g, &bk->conv0, x, g->tmp, n, nm, 1.0f));
            FS_TRY(run_layer(g, &bk->conv1, g->tmp, y, n, nm, 1.0f));
        }
        float *t = x;
        x = y;
        y = t;
        /* x holds the block's features; now the image path */
        if (have_img) {
            fs_upfirdn2d_args up = up_args(g, res, g->img, g->img_up, n * ic, bk->img_up_plan);
            FS_TRY(b->ops->upfirdn2d(b, &up));
            float *ti = g->img;
            g->img = g->img_up;
            g->img_up = ti;
        }
        if (bk->has_torgb) {
            if (have_img) {
                FS_TRY(run_layer(g, &bk->torgb, x, g->img_up, n, nm, 1.0f));
                FS_TRY(b->ops->axpby(b, g->img, g->img_up, (size_t)n * ic * plane, 1.0f, 1.0f));
            } else {
                FS_TRY(run_layer(g, &bk->torgb, x, g->img, n, nm, 1.0f));
                have_img = 1;
            }
        }
        if (o->trace)
            FS_TRY(trace_block(g, bk, x, have_img, o));
    }
    return FS_OK;
}

fs_status fs_sg2_generator_synthesis(fs_sg2_generator *g, const float *ws, int n,
                                     const fs_sg2_synthesis_opts *o, float *img)
{
    const fs_sg2_config *c = &g->cfg;
    fs_backend *b = g->b;
    if (n <= 0)
        return fs_error(FS_ERR_ARG, "synthesis: batch of %d", n);
    FS_TRY(ensure_buffers(g, n));
    FS_TRY(b->ops->upload(b, g->ws_dev, ws, (size_t)n * g->num_ws * c->w_dim * sizeof(float)));
    FS_TRY(synthesis_on_backend(g, n, o));
    size_t R = (size_t)c->img_resolution;
    return b->ops->download(b, img, g->img, (size_t)n * c->img_channels * R * R * sizeof(float));
}

fs_status fs_sg2_generate(fs_sg2_generator *g, const fs_sg2_generate_args *a)
{
    const fs_sg2_config *c = &g->cfg;
    fs_backend *b = g->b;
    int n = a->n;
    if (n <= 0)
        return fs_error(FS_ERR_ARG, "generate: batch of %d", n);
    if (!a->z == !a->ws)
        return fs_error(FS_ERR_ARG, "generate: give exactly one of z and ws");
    FS_TRY(ensure_buffers(g, n));
    size_t ws_bytes = (size_t)n * g->num_ws * c->w_dim * sizeof(float);
    if (a->z)
        FS_TRY(mapping_on_backend(g, a->z, a->c, n, a->psi, a->cutoff));
    else
        FS_TRY(b->ops->upload(b, g->ws_dev, a->ws, ws_bytes));
    fs_sg2_synthesis_opts so = {.noise_mode = a->noise_mode, .noise_seeds = a->noise_seeds};
    FS_TRY(synthesis_on_backend(g, n, &so));
    size_t R = (size_t)c->img_resolution, ic = (size_t)c->img_channels;
    if (a->images) {
        FS_TRY(b->ops->to_uint8(b, g->img, g->u8, n, (int)ic, (int)R, (int)R));
        FS_TRY(b->ops->download(b, a->images, g->u8, (size_t)n * ic * R * R));
    }
    if (a->ws_out)
        FS_TRY(b->ops->download(b, a->ws_out, g->ws_dev, ws_bytes));
    if (a->img_out)
        FS_TRY(b->ops->download(b, a->img_out, g->img, (size_t)n * ic * R * R * sizeof(float)));
    return FS_OK;
}
