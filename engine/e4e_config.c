/* e4e-encoder hyper-parameters, metadata and canonical tensor list: the
 * official state-dict names of Encoder4Editing without the 'encoder.' prefix
 * (BatchNorm's num_batches_tracked dropped), plus latent_avg [n_styles,
 * style_dim]. */
#include <stdio.h>

#include "e4e_config.h"

int fs_e4e_style_level(int i)
{
    return i < FS_E4E_COARSE_IND ? 0 : i < FS_E4E_MIDDLE_IND ? 1 : 2;
}

int64_t fs_e4e_style_spatial(const fs_e4e_config *c, int i)
{
    /* c3, p2 and p1 are 1/16, 1/8 and 1/4 of the input side (16, 32, 64 at 256) */
    return c->input_resolution >> (4 - fs_e4e_style_level(i));
}

int fs_e4e_style_convs(const fs_e4e_config *c, int i)
{
    int k = 0;
    while ((1LL << k) < fs_e4e_style_spatial(c, i))
        k++;
    return k;
}

fs_status fs_e4e_config_check(const fs_e4e_config *c, const char *label)
{
    FS_TRY(fs_ir_se_config_check(&c->body, label));
    static const int64_t units50[FS_IR_SE_STAGES] = {3, 4, 14, 3};
    for (int s = 0; s < FS_IR_SE_STAGES; s++)
        if (c->body.stage_units[s] != units50[s])
            return fs_error(FS_ERR_UNSUPPORTED,
                            "%s: the e4e trunk has %lld/%lld/%lld/%lld units per stage; "
                            "Encoder4Editing taps units 6, 20 and 23 and needs IR-SE-50's 3/4/14/3",
                            label, (long long)c->body.stage_units[0],
                            (long long)c->body.stage_units[1], (long long)c->body.stage_units[2],
                            (long long)c->body.stage_units[3]);
    int64_t r = c->input_resolution;
    if (r < 16 || r > 4096 || (r & (r - 1)))
        return fs_error(FS_ERR_UNSUPPORTED, "%s: e4e input side %lld is not a power of two in "
                        "[16, 4096]", label, (long long)r);
    if (c->n_styles < 1 || c->n_styles > FS_E4E_MAX_STYLES)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: %lld e4e styles (1 to %d)", label,
                        (long long)c->n_styles, FS_E4E_MAX_STYLES);
    if (c->style_dim < 1 || c->style_dim > 65536)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: e4e style dimension %lld out of range", label,
                        (long long)c->style_dim);
    if (c->add_latent_avg != 0 && c->add_latent_avg != 1)
        return fs_error(FS_ERR_FORMAT, "%s: add_latent_avg is %lld, not 0 or 1", label,
                        (long long)c->add_latent_avg);
    return FS_OK;
}

static fs_status emit(fs_tensor_spec_fn fn, void *u, const char *name, int ndim, int64_t a,
                      int64_t b, int64_t c, int64_t d)
{
    int64_t shape[4] = {a, b, c, d};
    return fn(u, name, ndim, shape);
}

fs_status fs_e4e_for_each_tensor(const fs_e4e_config *c, fs_tensor_spec_fn fn, void *u)
{
    FS_TRY(fs_ir_se_for_each_tensor(&c->body, "", fn, u));
    int64_t c1 = c->body.stage_width[1], c2 = c->body.stage_width[2];
    int64_t c3 = c->body.stage_width[3], d = c->style_dim;
    char name[96];
    for (int i = 0; i < c->n_styles; i++) {
        int nc = fs_e4e_style_convs(c, i);
        for (int k = 0; k < nc; k++) {
            snprintf(name, sizeof name, "styles.%d.convs.%d.weight", i, 2 * k);
            FS_TRY(emit(fn, u, name, 4, d, k ? d : c3, 3, 3));
            snprintf(name, sizeof name, "styles.%d.convs.%d.bias", i, 2 * k);
            FS_TRY(emit(fn, u, name, 1, d, 0, 0, 0));
        }
        snprintf(name, sizeof name, "styles.%d.linear.weight", i);
        FS_TRY(emit(fn, u, name, 2, d, d, 0, 0));
        snprintf(name, sizeof name, "styles.%d.linear.bias", i);
        FS_TRY(emit(fn, u, name, 1, d, 0, 0, 0));
    }
    FS_TRY(emit(fn, u, "latlayer1.weight", 4, c3, c2, 1, 1));
    FS_TRY(emit(fn, u, "latlayer1.bias", 1, c3, 0, 0, 0));
    FS_TRY(emit(fn, u, "latlayer2.weight", 4, c3, c1, 1, 1));
    FS_TRY(emit(fn, u, "latlayer2.bias", 1, c3, 0, 0, 0));
    return emit(fn, u, "latent_avg", 2, c->n_styles, d, 0, 0);
}

fs_status fs_e4e_config_to_meta(const fs_e4e_config *c, fs_ir_se_meta_put_fn put, void *u)
{
    FS_TRY(fs_ir_se_config_to_meta(&c->body, put, u));
    FS_TRY(put(u, "n_styles", FS_META_I64, c->n_styles, 0, NULL, NULL, 0));
    FS_TRY(put(u, "style_dim", FS_META_I64, c->style_dim, 0, NULL, NULL, 0));
    FS_TRY(put(u, "input_resolution", FS_META_I64, c->input_resolution, 0, NULL, NULL, 0));
    return put(u, "add_latent_avg", FS_META_I64, c->add_latent_avg, 0, NULL, NULL, 0);
}

fs_status fs_e4e_config_from_weights(const fs_weights *w, fs_e4e_config *c)
{
    FS_TRY(fs_ir_se_config_from_weights(w, &c->body));
    FS_TRY(fs_weights_meta_i64(w, "n_styles", &c->n_styles));
    FS_TRY(fs_weights_meta_i64(w, "style_dim", &c->style_dim));
    FS_TRY(fs_weights_meta_i64(w, "input_resolution", &c->input_resolution));
    FS_TRY(fs_weights_meta_i64(w, "add_latent_avg", &c->add_latent_avg));
    return fs_e4e_config_check(c, fs_weights_label(w));
}

fs_status fs_e4e_check_weights(const fs_weights *w)
{
    fs_e4e_config c;
    FS_TRY(fs_e4e_config_from_weights(w, &c));
    fs_weights_checker k = {w, 0};
    FS_TRY(fs_e4e_for_each_tensor(&c, fs_weights_checker_visit, &k));
    return fs_weights_checker_finish(&k);
}
