/* ArcFace IR-SE-50 hyper-parameters and the canonical tensor list they imply
 * (docs/identity.md): TreB1eN's InsightFace_Pytorch Backbone(num_layers=50,
 * mode='ir_se'), which pSp and e4e load as model_ir_se50.pth for their
 * identity loss. The trunk is the IR-SE trunk of ir_se.h (shared with e4e's
 * encoder); the output layer is BatchNorm2d, flatten, Linear, BatchNorm1d.
 * The canonical names are the official state-dict names (num_batches_tracked
 * dropped). Everything is recoverable from tensor shapes; the converter
 * (weights_tools/arcface_import.c) infers it, fs_arcface_check_weights proves
 * a file holds exactly this list. */
#ifndef FS_ARCFACE_CONFIG_H
#define FS_ARCFACE_CONFIG_H

#include <stdint.h>

#include "ir_se.h"
#include "status.h"
#include "weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    fs_ir_se_config body;
    int64_t embedding_dim;    /* 512 */
    int64_t input_resolution; /* 112: the trunk ends at 7 x 7 */
} fs_arcface_config;

/* The trunk output side for the input side (halved, rounding up, per stage). */
int64_t fs_arcface_final_side(int64_t r);

fs_status fs_arcface_config_check(const fs_arcface_config *c, const char *label);
fs_status fs_arcface_for_each_tensor(const fs_arcface_config *c, fs_tensor_spec_fn fn,
                                     void *user);
fs_status fs_arcface_config_to_meta(const fs_arcface_config *c, fs_ir_se_meta_put_fn put,
                                    void *user);
fs_status fs_arcface_config_from_weights(const fs_weights *w, fs_arcface_config *c);
fs_status fs_arcface_check_weights(const fs_weights *w);

#ifdef __cplusplus
}
#endif
#endif
