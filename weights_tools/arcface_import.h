/* ArcFace IR-SE-50 state dicts (pSp's model_ir_se50.pth, TreB1eN's
 * InsightFace_Pytorch Backbone) -> flat weight files, without Python
 * (docs/identity.md). The file is a plain state dict, zip or legacy
 * torch.save, with or without BatchNorm's num_batches_tracked (dropped
 * either way); the IR-SE trunk's shapes are read by e4e_import.h's
 * fs_ir_se_infer_config, the one reader of that trunk. */
#ifndef FS_ARCFACE_IMPORT_H
#define FS_ARCFACE_IMPORT_H

#include "../engine/arcface_config.h"
#include "state_dict.h"
#include "weights_writer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if the names are the Backbone's: an input layer and an output layer. */
int fs_arcface_is_state_dict(const fs_state_dict *sd);
fs_status fs_arcface_infer_config(const fs_state_dict *sd, fs_arcface_config *c);
fs_status fs_arcface_import(fs_weights_writer *w, fs_state_dict *sd, const fs_arcface_config *c,
                            fs_dtype dtype);

#ifdef __cplusplus
}
#endif
#endif
