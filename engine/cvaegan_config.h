/* CVAE-GAN hyper-parameters and the canonical tensor list they imply
 * (docs/cvaegan.md). All four are recoverable from tensor shapes: width w,
 * z_dim, n_id (identities) and img_resolution (a power of two >= 128). The
 * converter writes exactly this list; fs_cvaegan_check_weights proves a file
 * holds it. */
#ifndef FS_CVAEGAN_CONFIG_H
#define FS_CVAEGAN_CONFIG_H

#include <stdint.h>

#include "status.h"
#include "weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t width, z_dim, n_id, img_resolution;
} fs_cvaegan_config;

fs_status fs_cvaegan_config_finalize(const fs_cvaegan_config *c, const char *label);
int fs_cvaegan_num_deconvs(const fs_cvaegan_config *c);
/* Output channels of generator deconv i (the last one is 3). */
int64_t fs_cvaegan_deconv_out(const fs_cvaegan_config *c, int i);

fs_status fs_cvaegan_for_each_tensor(const fs_cvaegan_config *c, fs_tensor_spec_fn fn,
                                     void *user);
typedef fs_status (*fs_cvaegan_meta_fn)(void *user, const char *key, int64_t value);
fs_status fs_cvaegan_config_to_meta(const fs_cvaegan_config *c, fs_cvaegan_meta_fn put, void *user);
fs_status fs_cvaegan_config_from_weights(const fs_weights *w, fs_cvaegan_config *c);
fs_status fs_cvaegan_check_weights(const fs_weights *w);

#ifdef __cplusplus
}
#endif
#endif
