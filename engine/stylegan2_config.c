/* StyleGAN2 hyper-parameters, their metadata form, and the canonical tensor
 * list (names and shapes) that a generator or discriminator of a given
 * configuration owns. Shapes follow docs/stylegan2.md §3.1 and §2. */
#include "stylegan2_config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *fs_sg2_arch_name(fs_sg2_arch a)
{
    switch (a) {
    case FS_SG2_ARCH_ORIG: return "orig";
    case FS_SG2_ARCH_SKIP: return "skip";
    case FS_SG2_ARCH_RESNET: return "resnet";
    }
    return "invalid";
}

int fs_sg2_arch_parse(const char *s, fs_sg2_arch *out)
{
    for (int a = FS_SG2_ARCH_ORIG; a <= FS_SG2_ARCH_RESNET; a++)
        if (!strcmp(s, fs_sg2_arch_name((fs_sg2_arch)a))) {
            *out = (fs_sg2_arch)a;
            return 1;
        }
    return 0;
}

static void set_default_filter(fs_sg2_config *c)
{
    static const double taps[4] = {1, 3, 3, 1};
    c->resample_filter_len = 4;
    memcpy(c->resample_filter, taps, sizeof taps);
}

void fs_sg2_config_default_g(fs_sg2_config *c)
{
    memset(c, 0, sizeof *c);
    c->z_dim = 512;
    c->w_dim = 512;
    c->img_resolution = 1024;
    c->img_channels = 3;
    c->channel_base = 32768;
    c->channel_max = 512;
    c->architecture = FS_SG2_ARCH_SKIP;
    c->mapping_layers = 8;
    c->mapping_lr_multiplier = 0.01;
    c->embed_features = -1; /* "same as w_dim", resolved by finalize */
    c->layer_features = -1;
    set_default_filter(c);
}

void fs_sg2_config_default_d(fs_sg2_config *c)
{
    memset(c, 0, sizeof *c);
    c->is_discriminator = 1;
    c->img_resolution = 1024;
    c->img_channels = 3;
    c->channel_base = 32768;
    c->channel_max = 512;
    c->architecture = FS_SG2_ARCH_RESNET;
    c->mapping_layers = 8;
    c->mapping_lr_multiplier = 0.01;
    c->embed_features = -1;
    c->layer_features = -1;
    c->cmap_dim = -1;
    c->mbstd_group_size = 4;
    c->mbstd_num_channels = 1;
    set_default_filter(c);
}

int fs_sg2_log2(int64_t res)
{
    if (res <= 0 || (res & (res - 1)) != 0)
        return -1;
    int l = 0;
    while ((1LL << l) < res)
        l++;
    return l;
}

int64_t fs_sg2_channels(const fs_sg2_config *c, int64_t res)
{
    int64_t ch = c->channel_base / res;
    return ch < c->channel_max ? ch : c->channel_max;
}

int64_t fs_sg2_num_ws(const fs_sg2_config *c)
{
    return 2 * (int64_t)fs_sg2_log2(c->img_resolution) - 2;
}

#define LIMIT_DIM (1 << 16)

fs_status fs_sg2_config_finalize(fs_sg2_config *c, const char *label)
{
    const char *what = c->is_discriminator ? "discriminator" : "generator";
    int l = fs_sg2_log2(c->img_resolution);
    if (l < 2 || l > FS_SG2_MAX_RES_LOG2)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: %s resolution %lld is not a power of two in [4, %d]",
                        label, what, (long long)c->img_resolution, 1 << FS_SG2_MAX_RES_LOG2);
    if (c->img_channels < 1 || c->img_channels > 4)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: %lld image channels", label,
                        (long long)c->img_channels);
    if (c->channel_max < 1 || c->channel_max > LIMIT_DIM || c->channel_base < 1 ||
        c->channel_base > ((int64_t)LIMIT_DIM << FS_SG2_MAX_RES_LOG2) ||
        fs_sg2_channels(c, c->img_resolution) < 1)
        return fs_error(FS_ERR_UNSUPPORTED,
                        "%s: channel_base %lld / channel_max %lld leave no channels at %lldx%lld",
                        label, (long long)c->channel_base, (long long)c->channel_max,
                        (long long)c->img_resolution, (long long)c->img_resolution);
    if (c->c_dim < 0 || c->c_dim > LIMIT_DIM || c->z_dim < 0 || c->z_dim > LIMIT_DIM ||
        c->w_dim < 0 || c->w_dim > LIMIT_DIM)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: latent or label width out of range", label);
    if (!c->is_discriminator && (c->w_dim < 1 || (c->z_dim == 0 && c->c_dim == 0)))
        return fs_error(FS_ERR_UNSUPPORTED, "%s: generator needs w_dim > 0 and z_dim or c_dim > 0",
                        label);
    if (c->architecture < FS_SG2_ARCH_ORIG || c->architecture > FS_SG2_ARCH_RESNET)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: unknown architecture", label);
    if (!(c->conv_clamp >= 0) || !isfinite(c->conv_clamp))
        return fs_error(FS_ERR_UNSUPPORTED, "%s: conv_clamp must be a finite value >= 0", label);
    if (c->num_fp16_res < 0 || c->num_fp16_res > l)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: num_fp16_res %lld out of range", label,
                        (long long)c->num_fp16_res);
    if (c->resample_filter_len < 1 || c->resample_filter_len > FS_SG2_MAX_FILTER)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: resample filter of %lld taps", label,
                        (long long)c->resample_filter_len);
    if (c->mapping_layers < (c->is_discriminator ? 0 : 1) || c->mapping_layers > 64 ||
        !(c->mapping_lr_multiplier > 0) || !isfinite(c->mapping_lr_multiplier))
        return fs_error(FS_ERR_UNSUPPORTED, "%s: mapping network of %lld layers, lr multiplier %g",
                        label, (long long)c->mapping_layers, c->mapping_lr_multiplier);
    if (c->is_discriminator && c->c_dim == 0) {
        /* An unconditional D has no label mapping: give the unused fields one
         * value, so the same network always has the same metadata. */
        c->mapping_layers = 0;
        c->mapping_lr_multiplier = 0.01;
        c->embed_features = c->layer_features = 0;
    }
    if (c->is_discriminator) {
        if (c->cmap_dim < 0)
            c->cmap_dim = fs_sg2_channels(c, 4);
        if (c->c_dim == 0)
            c->cmap_dim = 0;
        if (c->cmap_dim > LIMIT_DIM)
            return fs_error(FS_ERR_UNSUPPORTED, "%s: cmap_dim out of range", label);
        if (c->mbstd_group_size < 0 || c->mbstd_num_channels < 0 || c->mbstd_num_channels > 64)
            return fs_error(FS_ERR_UNSUPPORTED, "%s: bad minibatch-std parameters", label);
        if (c->c_dim > 0 && c->mapping_layers < 1)
            return fs_error(FS_ERR_UNSUPPORTED, "%s: conditional discriminator without mapping",
                            label);
    }
    /* The label mapping of D is a MappingNetwork whose w is the cmap. */
    int64_t w = c->is_discriminator ? c->cmap_dim : c->w_dim;
    if (c->embed_features < 0)
        c->embed_features = w;
    if (c->c_dim == 0)
        c->embed_features = 0;
    if (c->layer_features < 0 || (c->is_discriminator && c->c_dim == 0))
        c->layer_features = c->is_discriminator && c->c_dim == 0 ? 0 : w;
    if (c->embed_features > LIMIT_DIM || c->layer_features > LIMIT_DIM)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: mapping width out of range", label);
    return FS_OK;
}

/* ---- canonical tensor list ------------------------------------------------ */

typedef struct {
    fs_tensor_spec_fn fn;
    void *user;
} emitter;

static fs_status emit(emitter *e, const char *name, int ndim, int64_t d0, int64_t d1,
                      int64_t d2, int64_t d3)
{
    int64_t shape[4] = {d0, d1, d2, d3};
    return e->fn(e->user, name, ndim, shape);
}

static fs_status emit_mapping(const fs_sg2_config *c, emitter *e, int64_t z_dim, int64_t w_dim,
                              int with_w_avg)
{
    char name[96];
    if (c->c_dim > 0) {
        FS_TRY(emit(e, "mapping.embed.weight", 2, c->embed_features, c->c_dim, 0, 0));
        FS_TRY(emit(e, "mapping.embed.bias", 1, c->embed_features, 0, 0, 0));
    }
    for (int64_t i = 0; i < c->mapping_layers; i++) {
        int64_t in = i == 0 ? z_dim + c->embed_features : c->layer_features;
        int64_t out = i == c->mapping_layers - 1 ? w_dim : c->layer_features;
        snprintf(name, sizeof name, "mapping.fc%lld.weight", (long long)i);
        FS_TRY(emit(e, name, 2, out, in, 0, 0));
        snprintf(name, sizeof name, "mapping.fc%lld.bias", (long long)i);
        FS_TRY(emit(e, name, 1, out, 0, 0, 0));
    }
    if (with_w_avg)
        FS_TRY(emit(e, "mapping.w_avg", 1, w_dim, 0, 0, 0));
    return FS_OK;
}

/* One modulated layer of the synthesis network. */
static fs_status emit_synth_layer(const fs_sg2_config *c, emitter *e, const char *prefix,
                                  int64_t cin, int64_t cout, int64_t res)
{
    char name[96];
#define N(suffix) (snprintf(name, sizeof name, "%s.%s", prefix, suffix), name)
    FS_TRY(emit(e, N("affine.weight"), 2, cin, c->w_dim, 0, 0));
    FS_TRY(emit(e, N("affine.bias"), 1, cin, 0, 0, 0));
    FS_TRY(emit(e, N("weight"), 4, cout, cin, 3, 3));
    FS_TRY(emit(e, N("bias"), 1, cout, 0, 0, 0));
    FS_TRY(emit(e, N("noise_strength"), 0, 0, 0, 0, 0));
    FS_TRY(emit(e, N("noise_const"), 2, res, res, 0, 0));
#undef N
    return FS_OK;
}

static fs_status emit_torgb(const fs_sg2_config *c, emitter *e, const char *block, int64_t cin)
{
    char name[96];
#define N(suffix) (snprintf(name, sizeof name, "%s.torgb.%s", block, suffix), name)
    FS_TRY(emit(e, N("affine.weight"), 2, cin, c->w_dim, 0, 0));
    FS_TRY(emit(e, N("affine.bias"), 1, cin, 0, 0, 0));
    FS_TRY(emit(e, N("weight"), 4, c->img_channels, cin, 1, 1));
    FS_TRY(emit(e, N("bias"), 1, c->img_channels, 0, 0, 0));
#undef N
    return FS_OK;
}

static fs_status emit_generator(const fs_sg2_config *c, emitter *e)
{
    FS_TRY(emit_mapping(c, e, c->z_dim, c->w_dim, 1));
    int top = fs_sg2_log2(c->img_resolution);
    char block[32], layer[64];
    for (int l = 2; l <= top; l++) {
        int64_t res = 1LL << l, ch = fs_sg2_channels(c, res);
        int is_last = l == top;
        snprintf(block, sizeof block, "synthesis.b%lld", (long long)res);
        if (l == 2) {
            snprintf(layer, sizeof layer, "%s.const", block);
            FS_TRY(emit(e, layer, 3, ch, 4, 4, 0));
        } else {
            int64_t cin = fs_sg2_channels(c, res / 2);
            snprintf(layer, sizeof layer, "%s.conv0", block);
            FS_TRY(emit_synth_layer(c, e, layer, cin, ch, res));
        }
        snprintf(layer, sizeof layer, "%s.conv1", block);
        FS_TRY(emit_synth_layer(c, e, layer, ch, ch, res));
        if (is_last || c->architecture == FS_SG2_ARCH_SKIP)
            FS_TRY(emit_torgb(c, e, block, ch));
        if (l > 2 && c->architecture == FS_SG2_ARCH_RESNET) {
            snprintf(layer, sizeof layer, "%s.skip.weight", block);
            FS_TRY(emit(e, layer, 4, ch, fs_sg2_channels(c, res / 2), 1, 1));
        }
    }
    return FS_OK;
}

static fs_status emit_conv(emitter *e, const char *prefix, int64_t cout, int64_t cin, int64_t k,
                           int bias)
{
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    FS_TRY(emit(e, name, 4, cout, cin, k, k));
    if (bias) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        FS_TRY(emit(e, name, 1, cout, 0, 0, 0));
    }
    return FS_OK;
}

static fs_status emit_discriminator(const fs_sg2_config *c, emitter *e)
{
    int top = fs_sg2_log2(c->img_resolution);
    char layer[64];
    for (int l = top; l >= 3; l--) {
        int64_t res = 1LL << l;
        int64_t tmp = fs_sg2_channels(c, res), out = fs_sg2_channels(c, res / 2);
        if (l == top || c->architecture == FS_SG2_ARCH_SKIP) {
            snprintf(layer, sizeof layer, "b%lld.fromrgb", (long long)res);
            FS_TRY(emit_conv(e, layer, tmp, c->img_channels, 1, 1));
        }
        snprintf(layer, sizeof layer, "b%lld.conv0", (long long)res);
        FS_TRY(emit_conv(e, layer, tmp, tmp, 3, 1));
        snprintf(layer, sizeof layer, "b%lld.conv1", (long long)res);
        FS_TRY(emit_conv(e, layer, out, tmp, 3, 1));
        if (c->architecture == FS_SG2_ARCH_RESNET) {
            snprintf(layer, sizeof layer, "b%lld.skip", (long long)res);
            FS_TRY(emit_conv(e, layer, out, tmp, 1, 0));
        }
    }
    if (c->c_dim > 0)
        FS_TRY(emit_mapping(c, e, 0, c->cmap_dim, 0));
    int64_t c4 = fs_sg2_channels(c, 4);
    if (c->architecture == FS_SG2_ARCH_SKIP || top == 2)
        FS_TRY(emit_conv(e, "b4.fromrgb", c4, c->img_channels, 1, 1));
    FS_TRY(emit_conv(e, "b4.conv", c4, c4 + c->mbstd_num_channels, 3, 1));
    FS_TRY(emit(e, "b4.fc.weight", 2, c4, c4 * 16, 0, 0));
    FS_TRY(emit(e, "b4.fc.bias", 1, c4, 0, 0, 0));
    int64_t nout = c->cmap_dim > 0 ? c->cmap_dim : 1;
    FS_TRY(emit(e, "b4.out.weight", 2, nout, c4, 0, 0));
    FS_TRY(emit(e, "b4.out.bias", 1, nout, 0, 0, 0));
    return FS_OK;
}

fs_status fs_sg2_for_each_tensor(const fs_sg2_config *c, fs_tensor_spec_fn fn, void *user)
{
    emitter e = {fn, user};
    return c->is_discriminator ? emit_discriminator(c, &e) : emit_generator(c, &e);
}

/* ---- metadata ------------------------------------------------------------- */

fs_status fs_sg2_config_to_meta(const fs_sg2_config *c, fs_meta_put_fn put, void *u)
{
#define PUT_I(k, v) FS_TRY(put(u, k, FS_META_I64, (v), 0, NULL, NULL, 0))
#define PUT_F(k, v) FS_TRY(put(u, k, FS_META_F64, 0, (v), NULL, NULL, 0))
    if (!c->is_discriminator) {
        PUT_I("z_dim", c->z_dim);
        PUT_I("w_dim", c->w_dim);
    }
    PUT_I("c_dim", c->c_dim);
    PUT_I("img_resolution", c->img_resolution);
    PUT_I("img_channels", c->img_channels);
    PUT_I("channel_base", c->channel_base);
    PUT_I("channel_max", c->channel_max);
    FS_TRY(put(u, "architecture", FS_META_STR, 0, 0, fs_sg2_arch_name(c->architecture), NULL, 0));
    PUT_F("conv_clamp", c->conv_clamp);
    PUT_I("num_fp16_res", c->num_fp16_res);
    FS_TRY(put(u, "resample_filter", FS_META_F64_ARRAY, 0, 0, NULL, c->resample_filter,
               (size_t)c->resample_filter_len));
    PUT_I("mapping_layers", c->mapping_layers);
    PUT_F("mapping_lr_multiplier", c->mapping_lr_multiplier);
    PUT_I("embed_features", c->embed_features);
    PUT_I("layer_features", c->layer_features);
    if (c->is_discriminator) {
        PUT_I("cmap_dim", c->cmap_dim);
        PUT_I("mbstd_group_size", c->mbstd_group_size);
        PUT_I("mbstd_num_channels", c->mbstd_num_channels);
    } else {
        PUT_I("num_ws", fs_sg2_num_ws(c));
    }
#undef PUT_I
#undef PUT_F
    return FS_OK;
}

fs_status fs_sg2_config_from_weights(const fs_weights *w, fs_sg2_config *c)
{
    int is_d = fs_weights_family(w) == FS_FAMILY_STYLEGAN2_D;
    if (is_d)
        fs_sg2_config_default_d(c);
    else
        fs_sg2_config_default_g(c);
    if (!is_d) {
        FS_TRY(fs_weights_meta_i64(w, "z_dim", &c->z_dim));
        FS_TRY(fs_weights_meta_i64(w, "w_dim", &c->w_dim));
    }
    FS_TRY(fs_weights_meta_i64(w, "c_dim", &c->c_dim));
    FS_TRY(fs_weights_meta_i64(w, "img_resolution", &c->img_resolution));
    FS_TRY(fs_weights_meta_i64(w, "img_channels", &c->img_channels));
    FS_TRY(fs_weights_meta_i64(w, "channel_base", &c->channel_base));
    FS_TRY(fs_weights_meta_i64(w, "channel_max", &c->channel_max));
    const char *arch;
    FS_TRY(fs_weights_meta_str(w, "architecture", &arch));
    if (!fs_sg2_arch_parse(arch, &c->architecture))
        return fs_error(FS_ERR_UNSUPPORTED, "%s: unknown architecture '%s'", fs_weights_label(w),
                        arch);
    FS_TRY(fs_weights_meta_f64(w, "conv_clamp", &c->conv_clamp));
    FS_TRY(fs_weights_meta_i64(w, "num_fp16_res", &c->num_fp16_res));
    const double *taps;
    size_t ntaps;
    FS_TRY(fs_weights_meta_f64_array(w, "resample_filter", &taps, &ntaps));
    if (ntaps < 1 || ntaps > FS_SG2_MAX_FILTER)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: resample filter of %zu taps",
                        fs_weights_label(w), ntaps);
    c->resample_filter_len = (int64_t)ntaps;
    memcpy(c->resample_filter, taps, ntaps * sizeof *taps);
    FS_TRY(fs_weights_meta_i64(w, "mapping_layers", &c->mapping_layers));
    FS_TRY(fs_weights_meta_f64(w, "mapping_lr_multiplier", &c->mapping_lr_multiplier));
    FS_TRY(fs_weights_meta_i64(w, "embed_features", &c->embed_features));
    FS_TRY(fs_weights_meta_i64(w, "layer_features", &c->layer_features));
    if (is_d) {
        FS_TRY(fs_weights_meta_i64(w, "cmap_dim", &c->cmap_dim));
        FS_TRY(fs_weights_meta_i64(w, "mbstd_group_size", &c->mbstd_group_size));
        FS_TRY(fs_weights_meta_i64(w, "mbstd_num_channels", &c->mbstd_num_channels));
    }
    FS_TRY(fs_sg2_config_finalize(c, fs_weights_label(w)));
    if (!is_d) {
        int64_t num_ws;
        FS_TRY(fs_weights_meta_i64(w, "num_ws", &num_ws));
        if (num_ws != fs_sg2_num_ws(c))
            return fs_error(FS_ERR_FORMAT, "%s: num_ws %lld does not match resolution %lld",
                            fs_weights_label(w), (long long)num_ws, (long long)c->img_resolution);
    }
    return FS_OK;
}

fs_status fs_sg2_check_weights(const fs_weights *w)
{
    fs_sg2_config c;
    FS_TRY(fs_sg2_config_from_weights(w, &c));
    fs_weights_checker k = {w, 0};
    FS_TRY(fs_sg2_for_each_tensor(&c, fs_weights_checker_visit, &k));
    return fs_weights_checker_finish(&k);
}
