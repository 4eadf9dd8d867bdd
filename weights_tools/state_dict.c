/* State dicts: named views collected from a checkpoint, checked for
 * duplicates, bound storage and in-bounds strides as they come in. */
#include "state_dict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fs_sd_init(fs_state_dict *sd, const char *label)
{
    memset(sd, 0, sizeof *sd);
    sd->label = label;
}

void fs_sd_free(fs_state_dict *sd)
{
    for (size_t i = 0; i < sd->n; i++)
        free(sd->e[i].name);
    free(sd->e);
    memset(sd, 0, sizeof *sd);
}

fs_sd_entry *fs_sd_find(const fs_state_dict *sd, const char *name)
{
    for (size_t i = 0; i < sd->n; i++)
        if (!strcmp(sd->e[i].name, name))
            return &sd->e[i];
    return NULL;
}

fs_status fs_sd_add(fs_state_dict *sd, const char *name, const fs_view *v)
{
    if (fs_sd_find(sd, name))
        return fs_error(FS_ERR_FORMAT, "%s: tensor '%s' appears twice", sd->label, name);
    if (sd->n == sd->cap) {
        size_t cap = sd->cap ? sd->cap * 2 : 128;
        fs_sd_entry *e = realloc(sd->e, cap * sizeof *e);
        if (!e)
            return fs_error(FS_ERR_NOMEM, "%s: out of memory", sd->label);
        sd->e = e;
        sd->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", sd->label);
    sd->e[sd->n++] = (fs_sd_entry){copy, *v, 0};
    return FS_OK;
}

fs_status fs_sd_need(const fs_state_dict *sd, const char *name, int ndim, const fs_view **v)
{
    fs_sd_entry *e = fs_sd_find(sd, name);
    if (!e)
        return fs_error(FS_ERR_MISSING, "%s: tensor '%s' is missing", sd->label, name);
    if (e->view.ndim != ndim)
        return fs_error(FS_ERR_SHAPE, "%s: tensor '%s' has rank %d, expected %d", sd->label, name,
                        e->view.ndim, ndim);
    *v = &e->view;
    return FS_OK;
}

void fs_sd_mark_suffix(fs_state_dict *sd, const char *suffix)
{
    size_t ls = strlen(suffix);
    for (size_t i = 0; i < sd->n; i++) {
        size_t ln = strlen(sd->e[i].name);
        if (ln >= ls && !strcmp(sd->e[i].name + ln - ls, suffix))
            sd->e[i].used = 1;
    }
}

fs_status fs_view_from_pv(const fs_pv *v, const char *label, const char *name, fs_view *out)
{
    memset(out, 0, sizeof *out);
    switch (v->kind) {
    case FS_PV_TENSOR: {
        const fs_pv *st = v->u.tensor.storage;
        if (!st || st->kind != FS_PV_STORAGE || !st->u.storage.data)
            return fs_error(FS_ERR_FORMAT, "%s: tensor '%s' has no storage data", label, name);
        size_t es = fs_dtype_size(st->u.storage.dtype);
        if (!es)
            return fs_error(FS_ERR_UNSUPPORTED, "%s: tensor '%s' has an unsupported dtype", label,
                            name);
        /* The pickle reader proved offset and strides stay inside numel. */
        out->dtype = st->u.storage.dtype;
        out->ndim = v->u.tensor.ndim;
        for (int d = 0; d < out->ndim; d++) {
            out->shape[d] = v->u.tensor.shape[d];
            out->stride[d] = v->u.tensor.stride[d];
        }
        out->base = st->u.storage.data + (size_t)v->u.tensor.offset * es;
        return FS_OK;
    }
    case FS_PV_NDARRAY: {
        *out = fs_view_contiguous(v->u.ndarray.dtype, v->u.ndarray.ndim, v->u.ndarray.shape,
                                  v->u.ndarray.data);
        if (v->u.ndarray.fortran) { /* column-major: strides grow left to right */
            int64_t s = 1;
            for (int d = 0; d < out->ndim; d++) {
                out->stride[d] = s;
                s *= out->shape[d];
            }
        }
        if (!fs_dtype_size(out->dtype))
            return fs_error(FS_ERR_UNSUPPORTED, "%s: array '%s' has an unsupported dtype", label,
                            name);
        return FS_OK;
    }
    case FS_PV_FLOAT:
        *out = fs_view_contiguous(FS_DTYPE_F64, 0, NULL, &v->u.f);
        return FS_OK;
    case FS_PV_INT:
        *out = fs_view_contiguous(FS_DTYPE_I64, 0, NULL, &v->u.i);
        return FS_OK;
    default:
        return fs_error(FS_ERR_FORMAT, "%s: '%s' is a %s, not a tensor", label, name,
                        fs_pv_kind_name(v->kind));
    }
}

fs_status fs_sd_from_pv_dict(fs_state_dict *sd, const fs_pv *dict, const char *prefix)
{
    if (!dict || dict->kind != FS_PV_DICT)
        return fs_error(FS_ERR_FORMAT, "%s: expected a dict of tensors", sd->label);
    char name[512];
    for (size_t i = 0; i < dict->u.dict.n; i++) {
        const fs_pv *k = dict->u.dict.keys[i], *v = dict->u.dict.vals[i];
        if (k->kind != FS_PV_STR)
            return fs_error(FS_ERR_FORMAT, "%s: state dict key %zu is not a string", sd->label, i);
        char key[400];
        fs_pv_str_copy(k, key, sizeof key);
        snprintf(name, sizeof name, "%s%s", prefix, key);
        if (v->kind == FS_PV_NONE)
            continue; /* an unset optional parameter */
        fs_view view;
        FS_TRY(fs_view_from_pv(v, sd->label, name, &view));
        FS_TRY(fs_sd_add(sd, name, &view));
    }
    return FS_OK;
}
