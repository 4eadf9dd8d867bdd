/* Light CNN-9 hyper-parameters, metadata and canonical tensor list
 * (lightcnn_config.h). */
#include <math.h>
#include <stdio.h>

#include "lightcnn_config.h"

/* features.N of each stage: 0 a single MFM conv, the others groups (1x1, 3x3) */
static const int stage_module[FS_LCNN_STAGES] = {0, 2, 4, 6, 7};

int64_t fs_lightcnn_final_side(int64_t r)
{
    for (int k = 0; k < 4; k++)
        r = (r + 1) / 2; /* MaxPool2d(2, 2, ceil_mode=True) */
    return r;
}

fs_status fs_lightcnn_config_check(const fs_lightcnn_config *c, const char *label)
{
    if (c->in_channels < 1 || c->in_channels > 4)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: Light CNN with %lld input channels (1 to 4)",
                        label, (long long)c->in_channels);
    for (int s = 0; s < FS_LCNN_STAGES; s++)
        if (c->widths[s] < 1 || c->widths[s] > 65536)
            return fs_error(FS_ERR_UNSUPPORTED, "%s: Light CNN width %lld of features.%d out of "
                            "range", label, (long long)c->widths[s], stage_module[s]);
    if (c->feature_dim < 1 || c->feature_dim > 65536)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: Light CNN feature dimension %lld out of range",
                        label, (long long)c->feature_dim);
    if (c->num_classes < 0 || c->num_classes > (1 << 24))
        return fs_error(FS_ERR_UNSUPPORTED, "%s: Light CNN with %lld classes out of range", label,
                        (long long)c->num_classes);
    if (c->input_resolution < 16 || c->input_resolution > 4096)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: Light CNN input side %lld out of range [16, "
                        "4096]", label, (long long)c->input_resolution);
    return FS_OK;
}

static fs_status emit(fs_tensor_spec_fn fn, void *u, const char *name, int ndim, int64_t a,
                      int64_t b, int64_t c, int64_t d)
{
    int64_t shape[4] = {a, b, c, d};
    return fn(u, name, ndim, shape);
}

/* An MFM conv: weight [2 out, in, k, k] and bias [2 out]. */
static fs_status emit_mfm(fs_tensor_spec_fn fn, void *u, const char *module, int64_t in,
                          int64_t out, int k)
{
    char name[96];
    snprintf(name, sizeof name, "%s.filter.weight", module);
    FS_TRY(emit(fn, u, name, 4, 2 * out, in, k, k));
    snprintf(name, sizeof name, "%s.filter.bias", module);
    return emit(fn, u, name, 1, 2 * out, 0, 0, 0);
}

fs_status fs_lightcnn_for_each_tensor(const fs_lightcnn_config *c, fs_tensor_spec_fn fn, void *u)
{
    FS_TRY(emit_mfm(fn, u, "features.0", c->in_channels, c->widths[0], 5));
    char module[64];
    for (int s = 1; s < FS_LCNN_STAGES; s++) {
        int64_t in = c->widths[s - 1];
        snprintf(module, sizeof module, "features.%d.conv_a", stage_module[s]);
        FS_TRY(emit_mfm(fn, u, module, in, in, 1));
        snprintf(module, sizeof module, "features.%d.conv", stage_module[s]);
        FS_TRY(emit_mfm(fn, u, module, in, c->widths[s], 3));
    }
    int64_t side = fs_lightcnn_final_side(c->input_resolution);
    FS_TRY(emit(fn, u, "fc1.filter.weight", 2, 2 * c->feature_dim,
                c->widths[FS_LCNN_STAGES - 1] * side * side, 0, 0));
    FS_TRY(emit(fn, u, "fc1.filter.bias", 1, 2 * c->feature_dim, 0, 0, 0));
    if (c->num_classes == 0)
        return FS_OK;
    FS_TRY(emit(fn, u, "fc2.weight", 2, c->num_classes, c->feature_dim, 0, 0));
    return emit(fn, u, "fc2.bias", 1, c->num_classes, 0, 0, 0);
}

fs_status fs_lightcnn_config_to_meta(const fs_lightcnn_config *c, fs_ir_se_meta_put_fn put,
                                     void *u)
{
    double widths[FS_LCNN_STAGES];
    for (int s = 0; s < FS_LCNN_STAGES; s++)
        widths[s] = (double)c->widths[s];
    FS_TRY(put(u, "in_channels", FS_META_I64, c->in_channels, 0, NULL, NULL, 0));
    FS_TRY(put(u, "widths", FS_META_F64_ARRAY, 0, 0, NULL, widths, FS_LCNN_STAGES));
    FS_TRY(put(u, "feature_dim", FS_META_I64, c->feature_dim, 0, NULL, NULL, 0));
    FS_TRY(put(u, "num_classes", FS_META_I64, c->num_classes, 0, NULL, NULL, 0));
    return put(u, "input_resolution", FS_META_I64, c->input_resolution, 0, NULL, NULL, 0);
}

fs_status fs_lightcnn_config_from_weights(const fs_weights *w, fs_lightcnn_config *c)
{
    const double *v;
    size_t n;
    FS_TRY(fs_weights_meta_i64(w, "in_channels", &c->in_channels));
    FS_TRY(fs_weights_meta_f64_array(w, "widths", &v, &n));
    if (n != FS_LCNN_STAGES)
        return fs_error(FS_ERR_FORMAT, "%s: metadata 'widths' has %zu values, expected %d",
                        fs_weights_label(w), n, FS_LCNN_STAGES);
    for (int s = 0; s < FS_LCNN_STAGES; s++) {
        if (!(v[s] >= 1 && v[s] <= 65536) || v[s] != floor(v[s]))
            return fs_error(FS_ERR_FORMAT, "%s: metadata 'widths'[%d] = %g is not a width",
                            fs_weights_label(w), s, v[s]);
        c->widths[s] = (int64_t)v[s];
    }
    FS_TRY(fs_weights_meta_i64(w, "feature_dim", &c->feature_dim));
    FS_TRY(fs_weights_meta_i64(w, "num_classes", &c->num_classes));
    FS_TRY(fs_weights_meta_i64(w, "input_resolution", &c->input_resolution));
    return fs_lightcnn_config_check(c, fs_weights_label(w));
}

fs_status fs_lightcnn_check_weights(const fs_weights *w)
{
    fs_lightcnn_config c;
    FS_TRY(fs_lightcnn_config_from_weights(w, &c));
    fs_weights_checker k = {w, 0};
    FS_TRY(fs_lightcnn_for_each_tensor(&c, fs_weights_checker_visit, &k));
    return fs_weights_checker_finish(&k);
}
