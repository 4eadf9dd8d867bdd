/* The StyleGAN2 checkpoint conventions other than the canonical one, each
 * reduced to a canonical state dict plus (where the file carries them) the
 * hyper-parameters:
 *   - stylegan2-ada-pytorch / stylegan3 network pickles (persistent modules
 *     with their constructor arguments),
 *   - the original TensorFlow StyleGAN2 pickles (dnnlib.tflib Network states),
 *   - rosinality's stylegan2-pytorch state dicts (also used by e4e). */
#ifndef FS_SG2_SOURCES_H
#define FS_SG2_SOURCES_H

#include "../engine/stylegan2_config.h"
#include "pickle.h"
#include "state_dict.h"

#ifdef __cplusplus
extern "C" {
#endif

/* module: the OBJECT of a persistent Generator or Discriminator. Walks its
 * submodules into sd (state_dict names) and reads c from `_init_kwargs`. */
fs_status fs_sg2_from_ada_module(const fs_pv *module, const char *label, fs_state_dict *sd,
                                 fs_sg2_config *c);

/* net: a dnnlib.tflib Network OBJECT (Gs/G: generator, D: discriminator). */
fs_status fs_sg2_from_tf_network(const fs_pv *net, int is_discriminator, const char *label,
                                 fs_state_dict *sd, fs_sg2_config *c);

/* ros: rosinality generator state dict; latent_avg may be NULL only when the
 * caller accepts a missing w_avg (it never does today: truncation needs it). */
fs_status fs_sg2_from_rosinality(fs_state_dict *ros, const fs_view *latent_avg,
                                 fs_state_dict *sd);

/* True when a state dict uses rosinality's generator names. */
int fs_sg2_is_rosinality(const fs_state_dict *sd);

#ifdef __cplusplus
}
#endif
#endif
