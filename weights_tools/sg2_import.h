/* From a state dict in canonical StyleGAN2 names to a flat weight file:
 * hyper-parameters read from constructor arguments or inferred from shapes,
 * overrides applied, every canonical tensor taken with its exact shape, the
 * dropped buffers (resample filters) checked, and nothing left unexplained. */
#ifndef FS_SG2_IMPORT_H
#define FS_SG2_IMPORT_H

#include "../engine/stylegan2_config.h"
#include "state_dict.h"
#include "weights_writer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hyper-parameters a bare state dict cannot carry; `has_*` marks those the
 * user set on the command line. */
typedef struct {
    int has_conv_clamp;
    double conv_clamp;
    int has_architecture;
    fs_sg2_arch architecture;
    int has_mapping_lr;
    double mapping_lr;
    int has_num_fp16_res;
    int64_t num_fp16_res;
    int has_mbstd_group;
    int64_t mbstd_group_size;
} fs_sg2_overrides;

/* Reads what the shapes of a canonical state dict determine (dimensions,
 * resolution, channel counts, architecture); the rest keeps c's values. */
fs_status fs_sg2_infer_config(const fs_state_dict *sd, fs_sg2_config *c);

void fs_sg2_apply_overrides(fs_sg2_config *c, const fs_sg2_overrides *o);

/* Adds every canonical tensor (in canonical order, converted to dtype) and the
 * config's metadata to the writer. */
fs_status fs_sg2_import(fs_weights_writer *w, fs_state_dict *sd, const fs_sg2_config *c,
                        fs_dtype dtype);

#ifdef __cplusplus
}
#endif
#endif
