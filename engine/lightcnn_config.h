/* Light CNN-9 hyper-parameters and the canonical tensor list they imply
 * (docs/identity.md): AlfredXiangWu/LightCNN's network_9layers, whose state
 * dict names (without DataParallel's 'module.') are the canonical names.
 * Everything is recoverable from tensor shapes; the converter
 * (weights_tools/lightcnn_import.c) infers it and writes exactly this list,
 * and fs_lightcnn_check_weights proves a file holds it.
 *
 * Layers: features.0 (MFM conv 5x5), pool, features.2 / 4 (group: MFM 1x1,
 * MFM 3x3) each followed by a pool, features.6 and 7 (groups), pool, fc1 (MFM
 * linear: the identity feature), and the optional classifier fc2. */
#ifndef FS_LIGHTCNN_CONFIG_H
#define FS_LIGHTCNN_CONFIG_H

#include <stdint.h>

#include "ir_se.h"
#include "status.h"
#include "weights.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The MFM layers with their own width: features.0, 2, 4, 6, 7. */
#define FS_LCNN_STAGES 5

typedef struct {
    int64_t in_channels;              /* 1: the official network takes gray images */
    int64_t widths[FS_LCNN_STAGES];   /* MFM outputs: 48, 96, 192, 128, 128 */
    int64_t feature_dim;              /* fc1's MFM output, the identity feature: 256 */
    int64_t num_classes;              /* fc2's outputs (79077 released); 0: no classifier */
    int64_t input_resolution;         /* 128: fc1 reads 8 x 8 features */
} fs_lightcnn_config;

/* The feature map side after the four ceil-mode 2x2 pools of an r x r input. */
int64_t fs_lightcnn_final_side(int64_t r);

fs_status fs_lightcnn_config_check(const fs_lightcnn_config *c, const char *label);
fs_status fs_lightcnn_for_each_tensor(const fs_lightcnn_config *c, fs_tensor_spec_fn fn,
                                      void *user);
/* Metadata: in_channels, widths (f64 array), feature_dim, num_classes,
 * input_resolution; put as fs_weights_writer_put_meta. */
fs_status fs_lightcnn_config_to_meta(const fs_lightcnn_config *c, fs_ir_se_meta_put_fn put,
                                     void *user);
fs_status fs_lightcnn_config_from_weights(const fs_weights *w, fs_lightcnn_config *c);
/* The family check: config sound, every tensor present with its shape,
 * nothing else in the file. */
fs_status fs_lightcnn_check_weights(const fs_weights *w);

#ifdef __cplusplus
}
#endif
#endif
