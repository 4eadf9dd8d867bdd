/* ArcFace IR-SE-50 import (arcface_import.h): shapes -> config -> canonical
 * tensors. */
#include "arcface_import.h"

#include <string.h>

#include "e4e_import.h"

int fs_arcface_is_state_dict(const fs_state_dict *sd)
{
    return fs_sd_find(sd, "input_layer.0.weight") && fs_sd_find(sd, "output_layer.3.weight");
}

fs_status fs_arcface_infer_config(const fs_state_dict *sd, fs_arcface_config *c)
{
    memset(c, 0, sizeof *c);
    FS_TRY(fs_ir_se_infer_config(sd, "", &c->body));
    const fs_view *v;
    FS_TRY(fs_sd_need(sd, "output_layer.3.weight", 2, &v));
    c->embedding_dim = v->shape[0];
    /* the linear layer reads C x s x s features of an input side 16 s */
    int64_t in = v->shape[1], ch = c->body.stage_width[FS_IR_SE_STAGES - 1], side = 1;
    while (side * side * ch < in && side < 256)
        side++;
    if (side * side * ch != in)
        return fs_error(FS_ERR_SHAPE, "%s: output_layer.3 reads %lld features, not %lld channels "
                        "of a square map", sd->label, (long long)in, (long long)ch);
    c->input_resolution = 16 * side;
    return fs_arcface_config_check(c, sd->label);
}

fs_status fs_arcface_import(fs_weights_writer *w, fs_state_dict *sd, const fs_arcface_config *c,
                            fs_dtype dtype)
{
    FS_TRY(fs_arcface_config_to_meta(c, fs_weights_writer_put_meta, w));
    fs_weights_importer k = {w, sd, dtype};
    FS_TRY(fs_arcface_for_each_tensor(c, fs_weights_import_visit, &k));
    fs_sd_mark_suffix(sd, ".num_batches_tracked"); /* a training counter */
    for (size_t i = 0; i < sd->n; i++)
        if (!sd->e[i].used)
            return fs_error(FS_ERR_UNSUPPORTED, "%s: tensor '%s' has no place in the ArcFace "
                            "IR-SE backbone (%d units)", sd->label, sd->e[i].name,
                            fs_ir_se_num_units(&c->body));
    return FS_OK;
}
