/* ArcFace IR-SE-50 hyper-parameters, metadata and canonical tensor list
 * (arcface_config.h): the IR-SE trunk's list (ir_se.c) plus the output
 * layer's. */
#include <stdio.h>

#include "arcface_config.h"

int64_t fs_arcface_final_side(int64_t r)
{
    for (int s = 0; s < FS_IR_SE_STAGES; s++)
        r = (r - 1) / 2 + 1; /* each stage's first unit: conv 3x3 stride 2 pad 1 */
    return r;
}

fs_status fs_arcface_config_check(const fs_arcface_config *c, const char *label)
{
    FS_TRY(fs_ir_se_config_check(&c->body, label));
    if (c->embedding_dim < 1 || c->embedding_dim > 65536)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: ArcFace embedding dimension %lld out of range",
                        label, (long long)c->embedding_dim);
    if (c->input_resolution < 16 || c->input_resolution > 4096 || c->input_resolution % 16)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: ArcFace input side %lld is not a multiple of "
                        "16 in [16, 4096]", label, (long long)c->input_resolution);
    return FS_OK;
}

static fs_status emit(fs_tensor_spec_fn fn, void *u, const char *name, int ndim, int64_t a,
                      int64_t b)
{
    int64_t shape[4] = {a, b, 0, 0};
    return fn(u, name, ndim, shape);
}

static fs_status emit_bn(fs_tensor_spec_fn fn, void *u, const char *module, int64_t ch)
{
    static const char *const parts[4] = {"weight", "bias", "running_mean", "running_var"};
    char name[64];
    for (int k = 0; k < 4; k++) {
        snprintf(name, sizeof name, "%s.%s", module, parts[k]);
        FS_TRY(emit(fn, u, name, 1, ch, 0));
    }
    return FS_OK;
}

fs_status fs_arcface_for_each_tensor(const fs_arcface_config *c, fs_tensor_spec_fn fn, void *u)
{
    FS_TRY(fs_ir_se_for_each_tensor(&c->body, "", fn, u));
    int64_t ch = c->body.stage_width[FS_IR_SE_STAGES - 1];
    int64_t side = fs_arcface_final_side(c->input_resolution);
    FS_TRY(emit_bn(fn, u, "output_layer.0", ch));
    FS_TRY(emit(fn, u, "output_layer.3.weight", 2, c->embedding_dim, ch * side * side));
    FS_TRY(emit(fn, u, "output_layer.3.bias", 1, c->embedding_dim, 0));
    return emit_bn(fn, u, "output_layer.4", c->embedding_dim);
}

fs_status fs_arcface_config_to_meta(const fs_arcface_config *c, fs_ir_se_meta_put_fn put,
                                    void *u)
{
    FS_TRY(fs_ir_se_config_to_meta(&c->body, put, u));
    FS_TRY(put(u, "embedding_dim", FS_META_I64, c->embedding_dim, 0, NULL, NULL, 0));
    return put(u, "input_resolution", FS_META_I64, c->input_resolution, 0, NULL, NULL, 0);
}

fs_status fs_arcface_config_from_weights(const fs_weights *w, fs_arcface_config *c)
{
    FS_TRY(fs_ir_se_config_from_weights(w, &c->body));
    FS_TRY(fs_weights_meta_i64(w, "embedding_dim", &c->embedding_dim));
    FS_TRY(fs_weights_meta_i64(w, "input_resolution", &c->input_resolution));
    return fs_arcface_config_check(c, fs_weights_label(w));
}

fs_status fs_arcface_check_weights(const fs_weights *w)
{
    fs_arcface_config c;
    FS_TRY(fs_arcface_config_from_weights(w, &c));
    fs_weights_checker k = {w, 0};
    FS_TRY(fs_arcface_for_each_tensor(&c, fs_weights_checker_visit, &k));
    return fs_weights_checker_finish(&k);
}
