/* stylegan2-ada-pytorch and stylegan3 network pickles -> canonical state dict.
 *
 * Each persistent module arrives as an OBJECT whose state is the module's
 * __dict__: `_parameters` and `_buffers` (name -> tensor), `_modules`
 * (name -> module) and `_init_kwargs`, the constructor arguments. Tensors are
 * collected under their state_dict names; the hyper-parameters come from the
 * arguments, never from guesses, and unknown arguments are refused because a
 * fork that adds one usually changes the network. */
#include <stdio.h>
#include <string.h>

#include "sg2_sources.h"

#define MAX_MODULE_DEPTH 32

static fs_status walk_module(const fs_pv *mod, const char *prefix, const char *label,
                             fs_state_dict *sd, int depth)
{
    if (depth > MAX_MODULE_DEPTH)
        return fs_error(FS_ERR_LIMIT, "%s: modules nested deeper than %d", label,
                        MAX_MODULE_DEPTH);
    if (mod->kind != FS_PV_OBJECT || !mod->u.object.state ||
        mod->u.object.state->kind != FS_PV_DICT)
        return fs_error(FS_ERR_FORMAT, "%s: module '%s' is not a persistent module object", label,
                        prefix[0] ? prefix : "<root>");
    const fs_pv *st = mod->u.object.state;
    const fs_pv *skip = fs_pv_dict_get(st, "_non_persistent_buffers_set");
    static const char *const groups[2] = {"_parameters", "_buffers"};
    char name[512];
    for (int g = 0; g < 2; g++) {
        const fs_pv *d = fs_pv_dict_get(st, groups[g]);
        if (!d)
            continue;
        if (d->kind != FS_PV_DICT)
            return fs_error(FS_ERR_FORMAT, "%s: %s of module '%s' is not a dict", label, groups[g],
                            prefix);
        for (size_t i = 0; i < d->u.dict.n; i++) {
            const fs_pv *k = d->u.dict.keys[i], *v = d->u.dict.vals[i];
            if (k->kind != FS_PV_STR)
                return fs_error(FS_ERR_FORMAT, "%s: non-string tensor name in '%s'", label, prefix);
            char key[256];
            fs_pv_str_copy(k, key, sizeof key);
            int non_persistent = 0;
            if (g == 1 && skip && skip->kind == FS_PV_SET)
                for (size_t j = 0; j < skip->u.seq.n; j++)
                    non_persistent |= fs_pv_is_str(skip->u.seq.items[j], key);
            if (v->kind == FS_PV_NONE || non_persistent)
                continue;
            snprintf(name, sizeof name, "%s%s", prefix, key);
            fs_view view;
            FS_TRY(fs_view_from_pv(v, label, name, &view));
            FS_TRY(fs_sd_add(sd, name, &view));
        }
    }
    const fs_pv *mods = fs_pv_dict_get(st, "_modules");
    if (!mods)
        return FS_OK;
    if (mods->kind != FS_PV_DICT)
        return fs_error(FS_ERR_FORMAT, "%s: _modules of '%s' is not a dict", label, prefix);
    for (size_t i = 0; i < mods->u.dict.n; i++) {
        const fs_pv *k = mods->u.dict.keys[i], *v = mods->u.dict.vals[i];
        if (k->kind != FS_PV_STR)
            return fs_error(FS_ERR_FORMAT, "%s: non-string module name in '%s'", label, prefix);
        if (v->kind == FS_PV_NONE)
            continue;
        char key[256];
        fs_pv_str_copy(k, key, sizeof key);
        snprintf(name, sizeof name, "%s%s.", prefix, key);
        FS_TRY(walk_module(v, name, label, sd, depth + 1));
    }
    return FS_OK;
}

/* ---- constructor arguments ------------------------------------------------ */

typedef struct {
    const fs_pv *dict;
    const char *label;
    const char *where; /* "G", "G.mapping_kwargs", ... for messages */
    const char *const *known;
} kwargs;

static fs_status kw_check_known(const kwargs *kw)
{
    if (!kw->dict)
        return FS_OK;
    if (kw->dict->kind != FS_PV_DICT)
        return fs_error(FS_ERR_FORMAT, "%s: %s constructor arguments are not a dict", kw->label,
                        kw->where);
    for (size_t i = 0; i < kw->dict->u.dict.n; i++) {
        const fs_pv *k = kw->dict->u.dict.keys[i];
        int ok = 0;
        for (const char *const *n = kw->known; *n && !ok; n++)
            ok = fs_pv_is_str(k, *n);
        if (!ok) {
            char key[64] = "?";
            if (k->kind == FS_PV_STR)
                fs_pv_str_copy(k, key, sizeof key);
            return fs_error(FS_ERR_UNSUPPORTED, "%s: unknown %s constructor argument '%s'",
                            kw->label, kw->where, key);
        }
    }
    return FS_OK;
}

static const fs_pv *kw_get(const kwargs *kw, const char *key)
{
    const fs_pv *v = kw->dict ? fs_pv_dict_get(kw->dict, key) : NULL;
    return v && v->kind != FS_PV_NONE ? v : NULL;
}

static fs_status kw_int(const kwargs *kw, const char *key, int64_t *out)
{
    const fs_pv *v = kw_get(kw, key);
    if (!v)
        return FS_OK;
    if (v->kind != FS_PV_INT && v->kind != FS_PV_BOOL)
        return fs_error(FS_ERR_FORMAT, "%s: %s.%s is not an integer", kw->label, kw->where, key);
    *out = v->u.i;
    return FS_OK;
}

static fs_status kw_float(const kwargs *kw, const char *key, double *out)
{
    const fs_pv *v = kw_get(kw, key);
    if (!v)
        return FS_OK;
    if (v->kind == FS_PV_INT)
        *out = (double)v->u.i;
    else if (v->kind == FS_PV_FLOAT)
        *out = v->u.f;
    else
        return fs_error(FS_ERR_FORMAT, "%s: %s.%s is not a number", kw->label, kw->where, key);
    return FS_OK;
}

/* Arguments whose only supported value is one string (activation 'lrelu'). */
static fs_status kw_require_str(const kwargs *kw, const char *key, const char *want)
{
    const fs_pv *v = kw_get(kw, key);
    if (v && !fs_pv_is_str(v, want))
        return fs_error(FS_ERR_UNSUPPORTED, "%s: %s.%s must be '%s'", kw->label, kw->where, key,
                        want);
    return FS_OK;
}

static fs_status kw_require_true(const kwargs *kw, const char *key)
{
    const fs_pv *v = kw_get(kw, key);
    if (v && !((v->kind == FS_PV_BOOL || v->kind == FS_PV_INT) && v->u.i))
        return fs_error(FS_ERR_UNSUPPORTED, "%s: %s.%s = False is not supported", kw->label,
                        kw->where, key);
    return FS_OK;
}

static fs_status kw_arch(const kwargs *kw, fs_sg2_config *c)
{
    const fs_pv *v = kw_get(kw, "architecture");
    if (!v)
        return FS_OK;
    char s[32] = "";
    if (v->kind == FS_PV_STR)
        fs_pv_str_copy(v, s, sizeof s);
    if (!fs_sg2_arch_parse(s, &c->architecture))
        return fs_error(FS_ERR_UNSUPPORTED, "%s: %s.architecture '%s' is not orig, skip or resnet",
                        kw->label, kw->where, s);
    return FS_OK;
}

static fs_status kw_filter(const kwargs *kw, fs_sg2_config *c)
{
    const fs_pv *v = kw_get(kw, "resample_filter");
    if (!v)
        return FS_OK;
    if ((v->kind != FS_PV_LIST && v->kind != FS_PV_TUPLE) || v->u.seq.n < 1 ||
        v->u.seq.n > FS_SG2_MAX_FILTER)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: %s.resample_filter must be a list of 1 to %d taps",
                        kw->label, kw->where, FS_SG2_MAX_FILTER);
    c->resample_filter_len = (int64_t)v->u.seq.n;
    for (size_t i = 0; i < v->u.seq.n; i++) {
        const fs_pv *t = v->u.seq.items[i];
        if (t->kind == FS_PV_INT)
            c->resample_filter[i] = (double)t->u.i;
        else if (t->kind == FS_PV_FLOAT)
            c->resample_filter[i] = t->u.f;
        else
            return fs_error(FS_ERR_UNSUPPORTED, "%s: %s.resample_filter has a non-number tap",
                            kw->label, kw->where);
    }
    return FS_OK;
}

static fs_status kw_conv_clamp(const kwargs *kw, fs_sg2_config *c)
{
    c->conv_clamp = 0; /* None */
    return kw_float(kw, "conv_clamp", &c->conv_clamp);
}

/* Arguments read by the mapping network (G's, and D's label mapping). */
static const char *const mapping_known[] = {"num_layers", "embed_features", "layer_features",
                                            "activation", "lr_multiplier", "w_avg_beta", NULL};

static fs_status read_mapping(const kwargs *kw, fs_sg2_config *c)
{
    FS_TRY(kw_check_known(kw));
    FS_TRY(kw_int(kw, "num_layers", &c->mapping_layers));
    FS_TRY(kw_int(kw, "embed_features", &c->embed_features));
    FS_TRY(kw_int(kw, "layer_features", &c->layer_features));
    FS_TRY(kw_float(kw, "lr_multiplier", &c->mapping_lr_multiplier));
    return kw_require_str(kw, "activation", "lrelu");
}

/* Arguments of SynthesisNetwork and SynthesisBlock/Layer, which stylegan2-ada
 * nests under synthesis_kwargs and stylegan3 passes flat to the Generator. */
static const char *const synthesis_known[] = {
    "channel_base", "channel_max", "num_fp16_res", "conv_clamp", "architecture",
    "resample_filter", "use_noise", "activation", "fp16_channels_last", "fused_modconv_default",
    NULL};

static fs_status read_synthesis(const kwargs *kw, fs_sg2_config *c)
{
    FS_TRY(kw_int(kw, "channel_base", &c->channel_base));
    FS_TRY(kw_int(kw, "channel_max", &c->channel_max));
    FS_TRY(kw_int(kw, "num_fp16_res", &c->num_fp16_res));
    FS_TRY(kw_conv_clamp(kw, c));
    FS_TRY(kw_arch(kw, c));
    FS_TRY(kw_filter(kw, c));
    FS_TRY(kw_require_true(kw, "use_noise"));
    return kw_require_str(kw, "activation", "lrelu");
}

static fs_status generator_config(const fs_pv *kw_dict, const char *label, fs_sg2_config *c)
{
    static const char *const g_known[] = {
        "z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs",
        "synthesis_kwargs",
        /* stylegan3's flat synthesis arguments */
        "channel_base", "channel_max", "num_fp16_res", "conv_clamp", "architecture",
        "resample_filter", "use_noise", "activation", "fp16_channels_last",
        "fused_modconv_default", NULL};
    fs_sg2_config_default_g(c);
    kwargs top = {kw_dict, label, "G", g_known};
    FS_TRY(kw_check_known(&top));
    FS_TRY(kw_int(&top, "z_dim", &c->z_dim));
    FS_TRY(kw_int(&top, "c_dim", &c->c_dim));
    FS_TRY(kw_int(&top, "w_dim", &c->w_dim));
    FS_TRY(kw_int(&top, "img_resolution", &c->img_resolution));
    FS_TRY(kw_int(&top, "img_channels", &c->img_channels));
    kwargs map = {kw_get(&top, "mapping_kwargs"), label, "G.mapping_kwargs", mapping_known};
    FS_TRY(read_mapping(&map, c));
    FS_TRY(read_synthesis(&top, c));
    kwargs syn = {kw_get(&top, "synthesis_kwargs"), label, "G.synthesis_kwargs", synthesis_known};
    FS_TRY(kw_check_known(&syn));
    if (syn.dict)
        FS_TRY(read_synthesis(&syn, c));
    return fs_sg2_config_finalize(c, label);
}

static fs_status discriminator_config(const fs_pv *kw_dict, const char *label, fs_sg2_config *c)
{
    static const char *const d_known[] = {
        "c_dim", "img_resolution", "img_channels", "architecture", "channel_base",
        "channel_max", "num_fp16_res", "conv_clamp", "cmap_dim", "block_kwargs",
        "mapping_kwargs", "epilogue_kwargs", NULL};
    static const char *const block_known[] = {"activation", "resample_filter",
                                              "fp16_channels_last", "freeze_layers", NULL};
    static const char *const epilogue_known[] = {"mbstd_group_size", "mbstd_num_channels",
                                                 "activation", NULL};
    fs_sg2_config_default_d(c);
    kwargs top = {kw_dict, label, "D", d_known};
    FS_TRY(kw_check_known(&top));
    FS_TRY(kw_int(&top, "c_dim", &c->c_dim));
    FS_TRY(kw_int(&top, "img_resolution", &c->img_resolution));
    FS_TRY(kw_int(&top, "img_channels", &c->img_channels));
    FS_TRY(kw_arch(&top, c));
    FS_TRY(kw_int(&top, "channel_base", &c->channel_base));
    FS_TRY(kw_int(&top, "channel_max", &c->channel_max));
    FS_TRY(kw_int(&top, "num_fp16_res", &c->num_fp16_res));
    FS_TRY(kw_conv_clamp(&top, c));
    FS_TRY(kw_int(&top, "cmap_dim", &c->cmap_dim));
    kwargs blk = {kw_get(&top, "block_kwargs"), label, "D.block_kwargs", block_known};
    FS_TRY(kw_check_known(&blk));
    FS_TRY(kw_filter(&blk, c));
    FS_TRY(kw_require_str(&blk, "activation", "lrelu"));
    kwargs map = {kw_get(&top, "mapping_kwargs"), label, "D.mapping_kwargs", mapping_known};
    FS_TRY(read_mapping(&map, c));
    kwargs epi = {kw_get(&top, "epilogue_kwargs"), label, "D.epilogue_kwargs", epilogue_known};
    FS_TRY(kw_check_known(&epi));
    if (kw_get(&epi, "mbstd_group_size") == NULL && epi.dict &&
        fs_pv_dict_get(epi.dict, "mbstd_group_size"))
        c->mbstd_group_size = 0; /* None: the whole batch forms one group */
    FS_TRY(kw_int(&epi, "mbstd_group_size", &c->mbstd_group_size));
    FS_TRY(kw_int(&epi, "mbstd_num_channels", &c->mbstd_num_channels));
    FS_TRY(kw_require_str(&epi, "activation", "lrelu"));
    return fs_sg2_config_finalize(c, label);
}

fs_status fs_sg2_from_ada_module(const fs_pv *module, const char *label, fs_state_dict *sd,
                                 fs_sg2_config *c)
{
    if (module->kind != FS_PV_OBJECT)
        return fs_error(FS_ERR_FORMAT, "%s: the network is a %s, not a module", label,
                        fs_pv_kind_name(module->kind));
    const char *cls = module->u.object.class_name;
    int is_d = !strcmp(cls, "Discriminator");
    if (!is_d && strcmp(cls, "Generator") != 0)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: network class '%s' is not a StyleGAN2 "
                        "Generator or Discriminator", label, cls);
    const fs_pv *st = module->u.object.state;
    const fs_pv *args = st ? fs_pv_dict_get(st, "_init_args") : NULL;
    if (args && (args->kind == FS_PV_TUPLE || args->kind == FS_PV_LIST) && args->u.seq.n > 0)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: %s was built with positional arguments", label,
                        cls);
    const fs_pv *kw = st ? fs_pv_dict_get(st, "_init_kwargs") : NULL;
    if (!kw || kw->kind != FS_PV_DICT)
        return fs_error(FS_ERR_MISSING, "%s: %s has no constructor arguments (_init_kwargs)",
                        label, cls);
    FS_TRY(walk_module(module, "", label, sd, 0));
    if (!is_d && fs_sd_find(sd, "synthesis.input.affine.weight"))
        return fs_error(FS_ERR_UNSUPPORTED,
                        "%s: this is a StyleGAN3 (alias-free) generator; only StyleGAN2 "
                        "generators are supported",
                        label);
    return is_d ? discriminator_config(kw, label, c) : generator_config(kw, label, c);
}
