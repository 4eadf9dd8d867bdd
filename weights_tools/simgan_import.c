/* SimGAN import (simgan_import.h): shapes -> config -> canonical tensors. */
#include "simgan_import.h"

#include <stdio.h>
#include <string.h>

int fs_simgan_is_state_dict(const fs_state_dict *sd)
{
    return fs_sd_find(sd, "refiner.conv_in.weight") != NULL;
}

fs_status fs_simgan_infer_config(const fs_state_dict *sd, fs_simgan_config *c)
{
    memset(c, 0, sizeof *c);
    const fs_view *v;
    FS_TRY(fs_sd_need(sd, "refiner.conv_in.weight", 4, &v));
    c->width = v->shape[0];
    c->channels = v->shape[1];
    char name[64];
    for (;;) {
        snprintf(name, sizeof name, "refiner.blocks.%lld.conv1.weight", (long long)c->blocks);
        if (!fs_sd_find(sd, name) || c->blocks > FS_SIMGAN_MAX_BLOCKS)
            break;
        c->blocks++;
    }
    for (size_t i = 0; i < sd->n && !c->has_discriminator; i++)
        c->has_discriminator = strncmp(sd->e[i].name, "disc.", 5) == 0;
    return fs_simgan_config_check(c, sd->label);
}

fs_status fs_simgan_import(fs_weights_writer *w, fs_state_dict *sd, const fs_simgan_config *c,
                           fs_dtype dtype)
{
    FS_TRY(fs_simgan_config_to_meta(c, fs_weights_writer_put_meta, w));
    fs_weights_importer k = {w, sd, dtype};
    FS_TRY(fs_simgan_for_each_tensor(c, fs_weights_import_visit, &k));
    for (size_t i = 0; i < sd->n; i++)
        if (!sd->e[i].used)
            return fs_error(FS_ERR_UNSUPPORTED, "%s: tensor '%s' has no place in the SimGAN of "
                            "docs/simgan.md (use --rename to map module names)", sd->label,
                            sd->e[i].name);
    return FS_OK;
}
