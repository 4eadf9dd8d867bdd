/* Light CNN-9 import (lightcnn_import.h): the state dict out of the training
 * checkpoint, 'module.' dropped, shapes -> config -> canonical tensors. */
#include "lightcnn_import.h"

#include <stdio.h>
#include <string.h>

#define FIRST_KEY "features.0.filter.weight"
#define DP_PREFIX "module."

/* 1 if the dict has a string key that is FIRST_KEY, with or without 'module.'. */
static int has_first_key(const fs_pv *d)
{
    return fs_pv_dict_get(d, FIRST_KEY) || fs_pv_dict_get(d, DP_PREFIX FIRST_KEY);
}

int fs_lightcnn_is_checkpoint(const fs_pv *top)
{
    if (!top || top->kind != FS_PV_DICT)
        return 0;
    const fs_pv *sd = fs_pv_dict_get(top, "state_dict");
    return (sd && sd->kind == FS_PV_DICT && has_first_key(sd)) || has_first_key(top);
}

fs_status fs_lightcnn_state_dict(const fs_pv *top, const char *label, fs_state_dict *sd,
                                 const char **format)
{
    const fs_pv *d = fs_pv_dict_get(top, "state_dict");
    if (d && d->kind == FS_PV_DICT && has_first_key(d)) {
        *format = "Light CNN training checkpoint";
    } else {
        d = top;
        *format = "Light CNN state dict";
    }
    size_t pl = strlen(DP_PREFIX);
    for (size_t i = 0; i < d->u.dict.n; i++) {
        const fs_pv *k = d->u.dict.keys[i], *v = d->u.dict.vals[i];
        if (k->kind != FS_PV_STR)
            return fs_error(FS_ERR_FORMAT, "%s: state_dict key %zu is a %s, not a string", label,
                            i, fs_pv_kind_name(k->kind));
        char key[400];
        fs_pv_str_copy(k, key, sizeof key);
        if (k->u.s.len >= sizeof key)
            return fs_error(FS_ERR_FORMAT, "%s: a state_dict key of %zu bytes", label, k->u.s.len);
        if (v->kind != FS_PV_TENSOR)
            return fs_error(FS_ERR_FORMAT, "%s: state_dict entry '%s' is a %s, not a tensor",
                            label, key, fs_pv_kind_name(v->kind));
        fs_view view;
        FS_TRY(fs_view_from_pv(v, label, key, &view));
        /* DataParallel's wrapper: the loaders strip it or wrap the model */
        const char *name = strncmp(key, DP_PREFIX, pl) == 0 ? key + pl : key;
        FS_TRY(fs_sd_add(sd, name, &view));
    }
    return FS_OK;
}

int fs_lightcnn_is_state_dict(const fs_state_dict *sd)
{
    return fs_sd_find(sd, FIRST_KEY) != NULL;
}

static fs_status dim_of(const fs_state_dict *sd, const char *name, int ndim, int d, int64_t *out)
{
    const fs_view *v;
    FS_TRY(fs_sd_need(sd, name, ndim, &v));
    *out = v->shape[d];
    return FS_OK;
}

/* An MFM layer's output width: half its 2C outputs. */
static fs_status mfm_width(const fs_state_dict *sd, const char *name, int ndim, int64_t *out)
{
    int64_t two;
    FS_TRY(dim_of(sd, name, ndim, 0, &two));
    if (two < 2 || two % 2)
        return fs_error(FS_ERR_SHAPE, "%s: '%s' has %lld outputs: a max-feature-map layer needs "
                        "an even number", sd->label, name, (long long)two);
    *out = two / 2;
    return FS_OK;
}

fs_status fs_lightcnn_infer_config(const fs_state_dict *sd, fs_lightcnn_config *c)
{
    static const int module[FS_LCNN_STAGES] = {0, 2, 4, 6, 7};
    memset(c, 0, sizeof *c);
    FS_TRY(dim_of(sd, FIRST_KEY, 4, 1, &c->in_channels));
    char name[64];
    for (int s = 0; s < FS_LCNN_STAGES; s++) {
        snprintf(name, sizeof name, s ? "features.%d.conv.filter.weight" : FIRST_KEY, module[s]);
        FS_TRY(mfm_width(sd, name, 4, &c->widths[s]));
    }
    FS_TRY(mfm_width(sd, "fc1.filter.weight", 2, &c->feature_dim));
    /* fc1 reads C x s x s features of an input side 16 s (four 2x2 pools) */
    int64_t in, last = c->widths[FS_LCNN_STAGES - 1], side = 1;
    FS_TRY(dim_of(sd, "fc1.filter.weight", 2, 1, &in));
    while (side * side * last < in && side < 4096)
        side++;
    if (side * side * last != in)
        return fs_error(FS_ERR_SHAPE, "%s: fc1 reads %lld features, not %lld channels of a "
                        "square map", sd->label, (long long)in, (long long)last);
    c->input_resolution = 16 * side;
    if (fs_sd_find(sd, "fc2.weight"))
        FS_TRY(dim_of(sd, "fc2.weight", 2, 0, &c->num_classes));
    return fs_lightcnn_config_check(c, sd->label);
}

fs_status fs_lightcnn_import(fs_weights_writer *w, fs_state_dict *sd, const fs_lightcnn_config *c,
                             fs_dtype dtype)
{
    FS_TRY(fs_lightcnn_config_to_meta(c, fs_weights_writer_put_meta, w));
    fs_weights_importer k = {w, sd, dtype};
    FS_TRY(fs_lightcnn_for_each_tensor(c, fs_weights_import_visit, &k));
    for (size_t i = 0; i < sd->n; i++)
        if (!sd->e[i].used)
            return fs_error(FS_ERR_UNSUPPORTED, "%s: tensor '%s' has no place in Light CNN-9 "
                            "(use --rename to map module names)", sd->label, sd->e[i].name);
    return FS_OK;
}
