/* SimGAN state dicts (docs/simgan.md names: refiner.*, optionally disc.*)
 * -> flat weight files. Checkpoints trained under other module names are
 * mapped onto these with --rename rules (cvaegan_import.h) before this runs. */
#ifndef FS_SIMGAN_IMPORT_H
#define FS_SIMGAN_IMPORT_H

#include "../engine/simgan_config.h"
#include "state_dict.h"
#include "weights_writer.h"

#ifdef __cplusplus
extern "C" {
#endif

int fs_simgan_is_state_dict(const fs_state_dict *sd);
/* C and F from refiner.conv_in, B from the refiner.blocks.* entries, the
 * discriminator present when any disc.* tensor is. */
fs_status fs_simgan_infer_config(const fs_state_dict *sd, fs_simgan_config *c);
fs_status fs_simgan_import(fs_weights_writer *w, fs_state_dict *sd, const fs_simgan_config *c,
                           fs_dtype dtype);

#ifdef __cplusplus
}
#endif
#endif
