/* Original TensorFlow StyleGAN2 pickles -> canonical state dict.
 *
 * A TF pickle holds dnnlib.tflib Network states: static_kwargs (the builder's
 * arguments), components (sub-networks) and variables ((name, ndarray) pairs).
 * The hyper-parameters take the defaults and the kwarg translation of the
 * official converter (stylegan2-ada-pytorch legacy.py): fmap_base is half of
 * channel_base, unknown kwargs are refused. The layout transforms are views:
 * kernels [kh, kw, in, out] -> [out, in, kh, kw]; the up-sampling conv and the
 * resnet skip of the generator are stored flipped; dense weights are [in, out];
 * mod_bias is stored without its +1; noise inputs are [1, 1, r, r] in a single
 * numbered list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sg2_sources.h"

#define MAX_COMPONENT_DEPTH 8

typedef struct {
    fs_state_dict vars; /* TF variable name -> view */
    const char *label;
} tf_net;

static fs_status collect(tf_net *t, const fs_pv *net, const char *prefix, int depth)
{
    if (depth > MAX_COMPONENT_DEPTH)
        return fs_error(FS_ERR_LIMIT, "%s: TF components nested too deep", t->label);
    if (net->kind != FS_PV_OBJECT || !net->u.object.state ||
        net->u.object.state->kind != FS_PV_DICT)
        return fs_error(FS_ERR_FORMAT, "%s: TF component '%s' is not a Network", t->label, prefix);
    const fs_pv *st = net->u.object.state;
    const fs_pv *vars = fs_pv_dict_get(st, "variables");
    char name[512];
    if (vars) {
        if (vars->kind != FS_PV_LIST && vars->kind != FS_PV_TUPLE)
            return fs_error(FS_ERR_FORMAT, "%s: TF variables of '%s' are not a list", t->label,
                            prefix);
        for (size_t i = 0; i < vars->u.seq.n; i++) {
            const fs_pv *pair = vars->u.seq.items[i];
            if ((pair->kind != FS_PV_TUPLE && pair->kind != FS_PV_LIST) || pair->u.seq.n != 2 ||
                pair->u.seq.items[0]->kind != FS_PV_STR)
                return fs_error(FS_ERR_FORMAT, "%s: TF variable %zu of '%s' is not (name, value)",
                                t->label, i, prefix);
            char key[256];
            fs_pv_str_copy(pair->u.seq.items[0], key, sizeof key);
            snprintf(name, sizeof name, "%s%s", prefix, key);
            fs_view v;
            FS_TRY(fs_view_from_pv(pair->u.seq.items[1], t->label, name, &v));
            FS_TRY(fs_sd_add(&t->vars, name, &v));
        }
    }
    const fs_pv *comps = fs_pv_dict_get(st, "components");
    if (comps && comps->kind == FS_PV_DICT)
        for (size_t i = 0; i < comps->u.dict.n; i++) {
            if (comps->u.dict.keys[i]->kind != FS_PV_STR)
                return fs_error(FS_ERR_FORMAT, "%s: non-string TF component name", t->label);
            char key[128];
            fs_pv_str_copy(comps->u.dict.keys[i], key, sizeof key);
            snprintf(name, sizeof name, "%s%s/", prefix, key);
            FS_TRY(collect(t, comps->u.dict.vals[i], name, depth + 1));
        }
    return FS_OK;
}

/* ---- static_kwargs --------------------------------------------------------- */

typedef struct {
    const fs_pv *kw;
    const char *label;
    const char *known[40];
    int n_known;
} tf_kwargs;

static const fs_pv *kw(tf_kwargs *k, const char *name)
{
    if (k->n_known < 40)
        k->known[k->n_known++] = name;
    const fs_pv *v = fs_pv_dict_get(k->kw, name);
    return v && v->kind != FS_PV_NONE ? v : NULL;
}

static fs_status kw_int(tf_kwargs *k, const char *name, int64_t *out)
{
    const fs_pv *v = kw(k, name);
    if (!v)
        return FS_OK;
    if (v->kind != FS_PV_INT)
        return fs_error(FS_ERR_FORMAT, "%s: TF kwarg %s is not an integer", k->label, name);
    *out = v->u.i;
    return FS_OK;
}

static fs_status kw_num(tf_kwargs *k, const char *name, double *out)
{
    const fs_pv *v = kw(k, name);
    if (!v)
        return FS_OK;
    if (v->kind == FS_PV_INT)
        *out = (double)v->u.i;
    else if (v->kind == FS_PV_FLOAT)
        *out = v->u.f;
    else
        return fs_error(FS_ERR_FORMAT, "%s: TF kwarg %s is not a number", k->label, name);
    return FS_OK;
}

static fs_status kw_str_is(tf_kwargs *k, const char *name, const char *want)
{
    const fs_pv *v = kw(k, name);
    if (v && !fs_pv_is_str(v, want))
        return fs_error(FS_ERR_UNSUPPORTED, "%s: TF kwarg %s must be '%s'", k->label, name, want);
    return FS_OK;
}

static fs_status kw_arch(tf_kwargs *k, fs_sg2_config *c)
{
    const fs_pv *v = kw(k, "architecture");
    char s[32] = "";
    if (v && v->kind == FS_PV_STR)
        fs_pv_str_copy(v, s, sizeof s);
    if (v && !fs_sg2_arch_parse(s, &c->architecture))
        return fs_error(FS_ERR_UNSUPPORTED, "%s: TF architecture '%s' is not supported", k->label, s);
    return FS_OK;
}

static fs_status kw_filter(tf_kwargs *k, fs_sg2_config *c)
{
    const fs_pv *v = kw(k, "resample_kernel");
    if (!v)
        return FS_OK;
    if ((v->kind != FS_PV_LIST && v->kind != FS_PV_TUPLE) || v->u.seq.n < 1 ||
        v->u.seq.n > FS_SG2_MAX_FILTER)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: TF resample_kernel is not a short list", k->label);
    c->resample_filter_len = (int64_t)v->u.seq.n;
    for (size_t i = 0; i < v->u.seq.n; i++) {
        const fs_pv *t = v->u.seq.items[i];
        if (t->kind != FS_PV_INT && t->kind != FS_PV_FLOAT)
            return fs_error(FS_ERR_UNSUPPORTED, "%s: TF resample_kernel tap is not a number",
                            k->label);
        c->resample_filter[i] = t->kind == FS_PV_INT ? (double)t->u.i : t->u.f;
    }
    return FS_OK;
}

static fs_status kw_unknown(tf_kwargs *k)
{
    for (size_t i = 0; i < k->kw->u.dict.n; i++) {
        const fs_pv *key = k->kw->u.dict.keys[i];
        int ok = 0;
        for (int j = 0; j < k->n_known && !ok; j++)
            ok = fs_pv_is_str(key, k->known[j]);
        if (!ok) {
            char s[64] = "?";
            if (key->kind == FS_PV_STR)
                fs_pv_str_copy(key, s, sizeof s);
            return fs_error(FS_ERR_UNSUPPORTED, "%s: unknown TensorFlow kwarg '%s'", k->label, s);
        }
    }
    return FS_OK;
}

static fs_status tf_config(const fs_pv *net, int is_d, const char *label, fs_sg2_config *c)
{
    const fs_pv *st = net->u.object.state;
    const fs_pv *ver = fs_pv_dict_get(st, "version");
    if (!ver || ver->kind != FS_PV_INT || ver->u.i < 4)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: TF network pickle version too low (need 4)", label);
    const fs_pv *skw = fs_pv_dict_get(st, "static_kwargs");
    if (!skw || skw->kind != FS_PV_DICT)
        return fs_error(FS_ERR_FORMAT, "%s: TF network has no static_kwargs dict", label);
    tf_kwargs k = {skw, label, {0}, 0};
    int64_t fmap_base = 16384;
    if (!is_d) {
        fs_sg2_config_default_g(c);
        FS_TRY(kw_int(&k, "latent_size", &c->z_dim));
        FS_TRY(kw_int(&k, "label_size", &c->c_dim));
        FS_TRY(kw_int(&k, "dlatent_size", &c->w_dim));
        FS_TRY(kw_int(&k, "resolution", &c->img_resolution));
        FS_TRY(kw_int(&k, "num_channels", &c->img_channels));
        FS_TRY(kw_int(&k, "mapping_layers", &c->mapping_layers));
        FS_TRY(kw_int(&k, "label_fmaps", &c->embed_features));
        FS_TRY(kw_int(&k, "mapping_fmaps", &c->layer_features));
        FS_TRY(kw_str_is(&k, "mapping_nonlinearity", "lrelu"));
        FS_TRY(kw_num(&k, "mapping_lrmul", &c->mapping_lr_multiplier));
        kw(&k, "w_avg_beta");
        const fs_pv *noise = kw(&k, "use_noise");
        if (noise && !noise->u.i)
            return fs_error(FS_ERR_UNSUPPORTED, "%s: TF use_noise=False is not supported", label);
        kw(&k, "truncation_psi");
        kw(&k, "truncation_cutoff");
        kw(&k, "style_mixing_prob");
    } else {
        fs_sg2_config_default_d(c);
        c->mapping_layers = 0;
        c->mapping_lr_multiplier = 0.1;
        c->mbstd_group_size = 0; /* legacy.py passes None unless the kwarg is set */
        FS_TRY(kw_int(&k, "label_size", &c->c_dim));
        FS_TRY(kw_int(&k, "resolution", &c->img_resolution));
        FS_TRY(kw_int(&k, "num_channels", &c->img_channels));
        FS_TRY(kw_int(&k, "mapping_fmaps", &c->cmap_dim));
        c->embed_features = c->layer_features = c->cmap_dim;
        kw(&k, "freeze_layers");
        FS_TRY(kw_int(&k, "mapping_layers", &c->mapping_layers));
        FS_TRY(kw_num(&k, "mapping_lrmul", &c->mapping_lr_multiplier));
        FS_TRY(kw_int(&k, "mbstd_group_size", &c->mbstd_group_size));
        FS_TRY(kw_int(&k, "mbstd_num_features", &c->mbstd_num_channels));
    }
    FS_TRY(kw_int(&k, "fmap_base", &fmap_base));
    c->channel_base = fmap_base * 2;
    FS_TRY(kw_int(&k, "fmap_max", &c->channel_max));
    FS_TRY(kw_int(&k, "num_fp16_res", &c->num_fp16_res));
    FS_TRY(kw_num(&k, "conv_clamp", &c->conv_clamp));
    FS_TRY(kw_arch(&k, c));
    FS_TRY(kw_filter(&k, c));
    FS_TRY(kw_str_is(&k, "nonlinearity", "lrelu"));
    kw(&k, "structure");
    return kw_unknown(&k);
}

/* ---- variable mapping ------------------------------------------------------ */

enum { T_NONE = 0, T_DENSE = 1, T_CONV = 2, T_CONV_FLIP = 3, T_FIRST = 4, T_NOISE = 5, T_PLUS1 = 6 };

typedef struct {
    tf_net *t;
    fs_state_dict *out;
    int is_d;
    int top; /* log2 resolution */
} map_ctx;

static fs_status take(map_ctx *m, const char *canon, const char *tf_name, int how)
{
    fs_sd_entry *e = fs_sd_find(&m->t->vars, tf_name);
    if (!e)
        return fs_error(FS_ERR_MISSING, "%s: TF variable '%s' (for %s) is missing", m->t->label,
                        tf_name, canon);
    fs_view v = e->view;
    static const int to_oihw[4] = {3, 2, 0, 1}, swap[2] = {1, 0};
    switch (how) {
    case T_DENSE:
        if (v.ndim != 2)
            return fs_error(FS_ERR_SHAPE, "%s: TF variable '%s' is not 2-D", m->t->label, tf_name);
        FS_TRY(fs_view_permute(&v, swap));
        break;
    case T_CONV_FLIP:
    case T_CONV:
        if (v.ndim != 4)
            return fs_error(FS_ERR_SHAPE, "%s: TF variable '%s' is not 4-D", m->t->label, tf_name);
        if (how == T_CONV_FLIP) {
            FS_TRY(fs_view_flip(&v, 0));
            FS_TRY(fs_view_flip(&v, 1));
        }
        FS_TRY(fs_view_permute(&v, to_oihw));
        break;
    case T_FIRST: /* [1, ...] -> [...] */
    case T_NOISE: /* [1, 1, r, r] -> [r, r] */
        for (int i = 0; i < (how == T_FIRST ? 1 : 2); i++) {
            if (v.ndim == 0 || v.shape[0] != 1)
                return fs_error(FS_ERR_SHAPE, "%s: TF variable '%s' has no leading size-1 axis",
                                m->t->label, tf_name);
            memmove(v.shape, v.shape + 1, (size_t)(v.ndim - 1) * sizeof v.shape[0]);
            memmove(v.stride, v.stride + 1, (size_t)(v.ndim - 1) * sizeof v.stride[0]);
            v.ndim--;
        }
        break;
    case T_PLUS1:
        v.add += 1.0;
        break;
    default:
        break;
    }
    e->used = 1;
    return fs_sd_add(m->out, canon, &v);
}

/* The TF name of a canonical generator tensor, and how to transform it. */
static fs_status map_generator_tensor(void *user, const char *name, int ndim, const int64_t *shape)
{
    map_ctx *m = user;
    char tf[160], layer[16], field[48];
    int a, r, used = 0;
    if (!strcmp(name, "mapping.w_avg"))
        return take(m, name, "dlatent_avg", T_NONE);
    if (!strcmp(name, "mapping.embed.weight"))
        return take(m, name, "mapping/LabelEmbed/weight", T_DENSE);
    if (!strcmp(name, "mapping.embed.bias"))
        return take(m, name, "mapping/LabelEmbed/bias", T_NONE);
    if (sscanf(name, "mapping.fc%d.%47s", &a, field) == 2) {
        snprintf(tf, sizeof tf, "mapping/Dense%d/%s", a, field);
        return take(m, name, tf, !strcmp(field, "weight") ? T_DENSE : T_NONE);
    }
    if (!strcmp(name, "synthesis.b4.const"))
        return take(m, name, "synthesis/4x4/Const/const", T_FIRST);
    if (sscanf(name, "synthesis.b%d.skip.weight%n", &r, &used) == 1 && used) {
        snprintf(tf, sizeof tf, "synthesis/%dx%d/Skip/weight", r, r);
        return take(m, name, tf, T_CONV_FLIP);
    }
    if (sscanf(name, "synthesis.b%d.%15[a-z0-9].%47s", &r, layer, field) != 3)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: no TF source for '%s'", m->t->label, name);
    const char *tf_layer = !strcmp(layer, "conv0")   ? "Conv0_up"
                           : !strcmp(layer, "conv1") ? (r == 4 ? "Conv" : "Conv1")
                                                     : "ToRGB";
    int log2r = 0;
    while ((1 << log2r) < r)
        log2r++;
    if (!strcmp(field, "noise_const")) {
        int idx = r == 4 ? 0 : 2 * log2r - (!strcmp(layer, "conv0") ? 5 : 4);
        snprintf(tf, sizeof tf, "synthesis/noise%d", idx);
        return take(m, name, tf, T_NOISE);
    }
    snprintf(tf, sizeof tf, "synthesis/%dx%d/%s/", r, r, tf_layer);
    size_t n = strlen(tf);
    int how = T_NONE;
    if (!strcmp(field, "weight")) {
        snprintf(tf + n, sizeof tf - n, "weight");
        how = !strcmp(layer, "conv0") ? T_CONV_FLIP : T_CONV;
    } else if (!strcmp(field, "affine.weight")) {
        snprintf(tf + n, sizeof tf - n, "mod_weight");
        how = T_DENSE;
    } else if (!strcmp(field, "affine.bias")) {
        snprintf(tf + n, sizeof tf - n, "mod_bias");
        how = T_PLUS1;
    } else {
        snprintf(tf + n, sizeof tf - n, "%s", field); /* bias, noise_strength */
    }
    return take(m, name, tf, how);
}

static fs_status map_discriminator_tensor(void *user, const char *name, int ndim,
                                          const int64_t *shape)
{
    map_ctx *m = user;
    char tf[160], layer[16], field[48];
    int a, r;
    if (!strcmp(name, "mapping.embed.weight"))
        return take(m, name, "LabelEmbed/weight", T_DENSE);
    if (!strcmp(name, "mapping.embed.bias"))
        return take(m, name, "LabelEmbed/bias", T_NONE);
    if (sscanf(name, "mapping.fc%d.%47s", &a, field) == 2) {
        snprintf(tf, sizeof tf, "Mapping%d/%s", a, field);
        return take(m, name, tf, !strcmp(field, "weight") ? T_DENSE : T_NONE);
    }
    if (sscanf(name, "b4.%15[a-z].%47s", layer, field) == 2 && strcmp(layer, "fromrgb") != 0) {
        int dense = strcmp(layer, "conv") != 0;
        snprintf(tf, sizeof tf, "%s/%s",
                 !strcmp(layer, "conv") ? "4x4/Conv" : !strcmp(layer, "fc") ? "4x4/Dense0" : "Output",
                 field);
        return take(m, name, tf, !strcmp(field, "weight") ? (dense ? T_DENSE : T_CONV) : T_NONE);
    }
    if (sscanf(name, "b%d.%15[a-z0-9].%47s", &r, layer, field) != 3)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: no TF source for '%s'", m->t->label, name);
    const char *tf_layer = !strcmp(layer, "fromrgb") ? "FromRGB"
                           : !strcmp(layer, "conv0") ? "Conv0"
                           : !strcmp(layer, "conv1") ? "Conv1_down"
                                                     : "Skip";
    snprintf(tf, sizeof tf, "%dx%d/%s/%s", r, r, tf_layer, field);
    return take(m, name, tf, !strcmp(field, "weight") ? T_CONV : T_NONE);
}

/* The 'orig' architecture stores its single output layer as ToRGB_lod0 (and
 * D's input layer as FromRGB_lod0); rename it to the per-resolution name. */
static fs_status rename_lod_layers(tf_net *t, fs_sg2_config *c)
{
    for (size_t i = 0; i < t->vars.n; i++) {
        char *n = t->vars.e[i].name;
        const char *pat = c->is_discriminator ? "FromRGB_lod%d/%n" : "synthesis/ToRGB_lod%d/%n";
        int lod, used = 0;
        if (sscanf(n, pat, &lod, &used) != 1 || !used || lod < 0 || lod > 12)
            continue;
        long long r = c->img_resolution >> lod;
        char buf[256];
        snprintf(buf, sizeof buf, c->is_discriminator ? "%lldx%lld/FromRGB/%s" : "synthesis/%lldx%lld/ToRGB/%s",
                 r, r, n + used);
        char *copy = strdup(buf);
        if (!copy)
            return fs_error(FS_ERR_NOMEM, "%s: out of memory", t->label);
        free(n);
        t->vars.e[i].name = copy;
        c->architecture = FS_SG2_ARCH_ORIG;
    }
    return FS_OK;
}

fs_status fs_sg2_from_tf_network(const fs_pv *net, int is_discriminator, const char *label,
                                 fs_state_dict *sd, fs_sg2_config *c)
{
    if (net->kind != FS_PV_OBJECT || strcmp(net->u.object.class_name, "Network") != 0 ||
        !net->u.object.state || net->u.object.state->kind != FS_PV_DICT)
        return fs_error(FS_ERR_FORMAT, "%s: expected a TF Network object", label);
    FS_TRY(tf_config(net, is_discriminator, label, c));
    tf_net t;
    t.label = label;
    fs_sd_init(&t.vars, label);
    fs_status s = collect(&t, net, "", 0);
    if (s == FS_OK)
        s = rename_lod_layers(&t, c);
    if (s == FS_OK)
        s = fs_sg2_config_finalize(c, label);
    if (s == FS_OK) {
        map_ctx m = {.t = &t, .out = sd, .is_d = is_discriminator,
                     .top = fs_sg2_log2(c->img_resolution)};
        s = fs_sg2_for_each_tensor(c, is_discriminator ? map_discriminator_tensor
                                                       : map_generator_tensor, &m);
    }
    fs_sd_free(&t.vars);
    return s;
}
