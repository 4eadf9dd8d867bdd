/* Light CNN-9 checkpoints (AlfredXiangWu/LightCNN) -> flat weight files,
 * without Python (docs/identity.md).
 *
 * The released LightCNN_9Layers_checkpoint.pth.tar is a legacy torch.save of
 * {'epoch', 'arch', 'state_dict', 'prec1'} (not a tar archive, whatever the
 * name), written from DataParallel on GPUs: every key starts with 'module.'
 * and every storage is tagged 'cuda:0' (a location the reader ignores). A
 * 2017 file may be a Python 2 pickle (byte-string keys, _rebuild_tensor,
 * OrderedDict of pairs), which weights_tools/pickle.c reads. A bare state
 * dict, with or without 'module.', is taken too. The classifier fc2 is kept
 * when present and is optional: the identity feature is fc1's. */
#ifndef FS_LIGHTCNN_IMPORT_H
#define FS_LIGHTCNN_IMPORT_H

#include "../engine/lightcnn_config.h"
#include "pickle.h"
#include "state_dict.h"
#include "weights_writer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A training checkpoint (a dict whose 'state_dict' holds Light CNN's
 * features.0 MFM conv) or such a state dict itself. */
int fs_lightcnn_is_checkpoint(const fs_pv *top);

/* The Light CNN tensors of top (the checkpoint's state_dict, or top itself)
 * into sd, DataParallel's 'module.' prefix dropped; *format says which of
 * the two layouts it was. */
fs_status fs_lightcnn_state_dict(const fs_pv *top, const char *label, fs_state_dict *sd,
                                 const char **format);

/* 1 if the (canonical) names are Light CNN's. */
int fs_lightcnn_is_state_dict(const fs_state_dict *sd);
fs_status fs_lightcnn_infer_config(const fs_state_dict *sd, fs_lightcnn_config *c);
/* Adds every canonical tensor (canonical order, converted to dtype) and the
 * metadata; any tensor left over is an error naming it. */
fs_status fs_lightcnn_import(fs_weights_writer *w, fs_state_dict *sd, const fs_lightcnn_config *c,
                             fs_dtype dtype);

#ifdef __cplusplus
}
#endif
#endif
