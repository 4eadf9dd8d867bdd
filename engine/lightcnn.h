/* Light CNN-9 over a backend (plan -> run): gray faces in [0, 1] -> the
 * 256-d identity feature, as the official network_9layers computes it
 * (docs/identity.md), and the official input pipelines.
 *
 * _init checks the weights against the lightcnn family, uploads them once
 * and plans every conv and linear layer; fs_lightcnn_forward then takes and
 * returns host arrays:
 *   x [n, 1, R, R] (R = input_resolution, 128) -> feature [n, feature_dim]
 * and, with a classifier in the file, the logits [n, num_classes]. The
 * feature is `fea` of the official forward (fc1's MFM output, not
 * normalised: identity comparisons take its cosine). */
#ifndef FS_LIGHTCNN_H
#define FS_LIGHTCNN_H

#include <stdint.h>

#include "backend.h"
#include "lightcnn_config.h"
#include "weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fs_lightcnn fs_lightcnn;

fs_status fs_lightcnn_init(fs_lightcnn **out, const fs_weights *w, fs_backend *b);
void fs_lightcnn_free(fs_lightcnn *m);
const fs_lightcnn_config *fs_lightcnn_get_config(const fs_lightcnn *m);

/* Intermediate results, host arrays of the whole batch, each optional:
 * features[k] receives the output of the official features.k (k = 0..8:
 * the MFM conv, the pools, the groups); its shape is
 * fs_lightcnn_layer_shape's. */
#define FS_LCNN_FEATURE_LAYERS 9
typedef struct {
    float *features[FS_LCNN_FEATURE_LAYERS];
} fs_lightcnn_trace;

/* Channels and side of features.k's output. */
void fs_lightcnn_layer_shape(const fs_lightcnn_config *c, int k, int *channels, int *side);

/* feature [n, feature_dim]; logits [n, num_classes] or NULL (FS_ERR_ARG when
 * asked of a file without a classifier); t may be NULL. */
fs_status fs_lightcnn_forward(fs_lightcnn *m, const float *x, int n, float *feature,
                              float *logits, const fs_lightcnn_trace *t);

/* ---- the official input pipelines ------------------------------------------------ */

/* The training/validation loader (load_imglist.py + train.py): PIL
 * Image.open(path).convert('L') (image_pil.h fs_pil_rgb_to_l), then
 * torchvision CenterCrop(r): a side shorter than r is first padded with
 * zeros, (r - side) // 2 before and the rest after; the crop then starts at
 * round((side - r) / 2) with Python's rounding (halves to even); then
 * ToTensor (u8 / 255 in float32). gray [h, w] -> x [r, r]. */
void fs_lightcnn_center_crop(const uint8_t *gray, int w, int h, int r, float *x);
/* Reads a PNG or JPEG file and applies the pipeline above into x [r, r]. */
fs_status fs_lightcnn_load_image(const char *path, int r, float *x);

#ifdef __cplusplus
}
#endif
#endif
