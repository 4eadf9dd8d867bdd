/* e4e checkpoint import: the 'encoder.' half as an e4e-encoder file (shapes
 * -> config -> canonical tensors), and the pieces convert.c needs for the
 * 'decoder.' half (the state dict and latent_avg for the rosinality mapping). */
#include "e4e_import.h"

#include <stdio.h>
#include <string.h>

int fs_e4e_is_checkpoint(const fs_pv *top)
{
    if (!top || top->kind != FS_PV_DICT)
        return 0;
    const fs_pv *sd = fs_pv_dict_get(top, "state_dict");
    if (!sd || sd->kind != FS_PV_DICT)
        return 0;
    for (size_t i = 0; i < sd->u.dict.n; i++) {
        const fs_pv *k = sd->u.dict.keys[i];
        if (k->kind == FS_PV_STR && k->u.s.len > 8 && !memcmp(k->u.s.ptr, "encoder.", 8))
            return 1;
    }
    return 0;
}

fs_status fs_e4e_state_dict(const fs_pv *top, const char *label, const char *prefix,
                            fs_state_dict *sd)
{
    const fs_pv *d = fs_pv_dict_get(top, "state_dict");
    if (!d || d->kind != FS_PV_DICT)
        return fs_error(FS_ERR_FORMAT, "%s: the e4e checkpoint's 'state_dict' is not a dict", label);
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < d->u.dict.n; i++) {
        const fs_pv *k = d->u.dict.keys[i], *v = d->u.dict.vals[i];
        if (k->kind != FS_PV_STR)
            return fs_error(FS_ERR_FORMAT, "%s: state_dict key %zu is not a string", label, i);
        char key[400];
        fs_pv_str_copy(k, key, sizeof key);
        if (strncmp(key, prefix, pl) != 0 || v->kind == FS_PV_NONE)
            continue;
        fs_view view;
        FS_TRY(fs_view_from_pv(v, label, key, &view));
        FS_TRY(fs_sd_add(sd, key + pl, &view));
    }
    return FS_OK;
}

fs_status fs_e4e_latent_avg(const fs_pv *top, const char *label, fs_view *out)
{
    const fs_pv *v = fs_pv_dict_get(top, "latent_avg");
    if (!v || v->kind == FS_PV_NONE)
        return fs_error(FS_ERR_MISSING, "%s: the e4e checkpoint has no 'latent_avg' (the codes "
                        "are the encoder's output plus latent_avg)", label);
    return fs_view_from_pv(v, label, "latent_avg", out);
}

/* opts is a dict (vars(opts), as the official coach saves it) or an
 * argparse.Namespace object whose state is that dict. */
static const fs_pv *opts_dict(const fs_pv *top)
{
    const fs_pv *o = fs_pv_dict_get(top, "opts");
    if (o && o->kind == FS_PV_OBJECT)
        o = o->u.object.state;
    return o && o->kind == FS_PV_DICT ? o : NULL;
}

fs_status fs_e4e_read_opts(const fs_pv *top, const char *label, int *add_latent_avg)
{
    *add_latent_avg = 1;
    const fs_pv *o = opts_dict(top);
    if (!o)
        return FS_OK;
    const fs_pv *t = fs_pv_dict_get(o, "encoder_type");
    if (t && t->kind == FS_PV_STR && !fs_pv_is_str(t, "Encoder4Editing")) {
        char name[64];
        fs_pv_str_copy(t, name, sizeof name);
        return fs_error(FS_ERR_UNSUPPORTED, "%s: opts.encoder_type is '%s'; only e4e's "
                        "Encoder4Editing is supported (pSp encoders share its tensors but not "
                        "its forward)", label, name);
    }
    const fs_pv *f = fs_pv_dict_get(o, "start_from_latent_avg");
    if (f && (f->kind == FS_PV_BOOL || f->kind == FS_PV_INT))
        *add_latent_avg = f->u.i != 0;
    return FS_OK;
}

/* Dimension d of tensor `name`, which must have rank ndim. */
static fs_status dim_of(const fs_state_dict *sd, const char *name, int ndim, int d, int64_t *out)
{
    const fs_view *v;
    FS_TRY(fs_sd_need(sd, name, ndim, &v));
    *out = v->shape[d];
    return FS_OK;
}

fs_status fs_ir_se_infer_config(const fs_state_dict *sd, const char *prefix, fs_ir_se_config *c)
{
    memset(c, 0, sizeof *c);
    char name[160];
    int64_t in_ch;
    snprintf(name, sizeof name, "%sinput_layer.0.weight", prefix);
    FS_TRY(dim_of(sd, name, 4, 0, &c->input_width));
    FS_TRY(dim_of(sd, name, 4, 1, &in_ch));
    if (in_ch != 3)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: '%s' takes %lld input channels, not 3 (RGB)",
                        sd->label, name, (long long)in_ch);
    int stage = -1;
    for (int u = 0; u <= FS_IR_SE_MAX_UNITS; u++) {
        snprintf(name, sizeof name, "%sbody.%d.res_layer.1.weight", prefix, u);
        if (!fs_sd_find(sd, name))
            break;
        if (u == FS_IR_SE_MAX_UNITS)
            return fs_error(FS_ERR_UNSUPPORTED, "%s: more than %d IR-SE units", sd->label,
                            FS_IR_SE_MAX_UNITS);
        int64_t depth, in;
        FS_TRY(dim_of(sd, name, 4, 0, &depth));
        FS_TRY(dim_of(sd, name, 4, 1, &in));
        if (u == 0 || in != depth) {
            if (++stage == FS_IR_SE_STAGES)
                return fs_error(FS_ERR_UNSUPPORTED, "%s: the IR-SE trunk changes width at unit "
                                "%d, a fifth stage (IR-SE has %d)", sd->label, u, FS_IR_SE_STAGES);
            c->stage_width[stage] = depth;
            snprintf(name, sizeof name, "%sbody.%d.res_layer.5.fc1.weight", prefix, u);
            FS_TRY(dim_of(sd, name, 4, 0, &c->se_hidden[stage]));
        }
        c->stage_units[stage]++;
    }
    if (stage != FS_IR_SE_STAGES - 1)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: the IR-SE trunk has %d stages (unit widths "
                        "change %d times), not %d", sd->label, stage + 1, stage < 0 ? 0 : stage,
                        FS_IR_SE_STAGES);
    return fs_ir_se_config_check(c, sd->label);
}

fs_status fs_e4e_infer_config(const fs_state_dict *sd, const fs_view *latent_avg,
                              int add_latent_avg, fs_e4e_config *c)
{
    memset(c, 0, sizeof *c);
    FS_TRY(fs_ir_se_infer_config(sd, "", &c->body));
    char name[96];
    while (c->n_styles <= FS_E4E_MAX_STYLES) {
        snprintf(name, sizeof name, "styles.%lld.linear.weight", (long long)c->n_styles);
        if (!fs_sd_find(sd, name))
            break;
        c->n_styles++;
    }
    if (c->n_styles == 0)
        return fs_error(FS_ERR_MISSING, "%s: no 'styles.0.linear.weight': not an "
                        "Encoder4Editing state dict", sd->label);
    FS_TRY(dim_of(sd, "styles.0.linear.weight", 2, 0, &c->style_dim));
    /* style 0 reads c3 (1/16 of the input side) and halves it to 1 with
     * log2(side) convs: their count gives the input side */
    int convs = 0;
    for (;; convs++) {
        snprintf(name, sizeof name, "styles.0.convs.%d.weight", 2 * convs);
        if (!fs_sd_find(sd, name) || convs > 8)
            break;
    }
    c->input_resolution = 16LL << convs;
    c->add_latent_avg = add_latent_avg;
    FS_TRY(fs_e4e_config_check(c, sd->label));
    int64_t S = c->n_styles, D = c->style_dim;
    int ok = (latent_avg->ndim == 2 && latent_avg->shape[0] == S && latent_avg->shape[1] == D) ||
             (latent_avg->ndim == 1 && latent_avg->shape[0] == D);
    if (!ok) {
        char got[96];
        fs_shape_format(got, sizeof got, latent_avg->ndim, latent_avg->shape);
        return fs_error(FS_ERR_SHAPE, "%s: latent_avg has shape %s; the encoder's %lld styles of "
                        "%lld need [%lld, %lld] (or [%lld], added to every style)", sd->label,
                        got, (long long)S, (long long)D, (long long)S, (long long)D, (long long)D);
    }
    return FS_OK;
}

/* The family's tensor list, with latent_avg added from its own view (it is
 * not in the state dict) and broadcast when it is one row. */
typedef struct {
    fs_weights_importer k;
    const fs_view *avg;
    const fs_e4e_config *c;
} e4e_importer;

static fs_status visit(void *user, const char *name, int ndim, const int64_t *shape)
{
    e4e_importer *e = user;
    if (strcmp(name, "latent_avg") != 0)
        return fs_weights_import_visit(&e->k, name, ndim, shape);
    fs_view v = *e->avg;
    if (v.ndim == 1) {
        /* [D] -> [S, D]: stride 0 repeats the row */
        v.ndim = 2;
        v.shape[1] = v.shape[0];
        v.stride[1] = v.stride[0];
        v.shape[0] = e->c->n_styles;
        v.stride[0] = 0;
    }
    return fs_weights_writer_add(e->k.w, name, e->k.dtype, &v);
}

fs_status fs_e4e_import(fs_weights_writer *w, fs_state_dict *sd, const fs_e4e_config *c,
                        const fs_view *latent_avg, fs_dtype dtype)
{
    FS_TRY(fs_e4e_config_to_meta(c, fs_weights_writer_put_meta, w));
    e4e_importer e = {.k = {w, sd, dtype}, .avg = latent_avg, .c = c};
    FS_TRY(fs_e4e_for_each_tensor(c, visit, &e));
    fs_sd_mark_suffix(sd, ".num_batches_tracked"); /* a training counter */
    for (size_t i = 0; i < sd->n; i++)
        if (!sd->e[i].used)
            return fs_error(FS_ERR_UNSUPPORTED, "%s: tensor 'encoder.%s' has no place in "
                            "Encoder4Editing (IR-SE-50, %lld styles)", sd->label, sd->e[i].name,
                            (long long)c->n_styles);
    return FS_OK;
}
