/* The CVAE-GAN of specs/cvaegan.md: encoder, conditional generator and the
 * two discriminators (full and half scale), over a backend.
 *
 * Hyper-parameters (all recoverable from tensor shapes): width w, z_dim,
 * n_id (identities), img_resolution (a power of two >= 128). */
#ifndef FS_CVAEGAN_H
#define FS_CVAEGAN_H

#include <stdint.h>

#include "backend.h"
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

typedef struct fs_cvaegan fs_cvaegan;

fs_status fs_cvaegan_init(fs_cvaegan **out, const fs_weights *w, fs_backend *b);
void fs_cvaegan_free(fs_cvaegan *m);
const fs_cvaegan_config *fs_cvaegan_get_config(const fs_cvaegan *m);

/* x [n, 3, R, R] in [-1, 1] -> mu, logvar [n, z_dim] */
fs_status fs_cvaegan_encode(fs_cvaegan *m, const float *x, int n, float *mu, float *logvar);
/* z [n, z_dim], c [n, n_id] -> img [n, 3, R, R] */
fs_status fs_cvaegan_generate(fs_cvaegan *m, const float *z, const float *c, int n, float *img);
/* img -> d1_src [n, 1, R/64, R/64], d1_cls [n, n_id], d2_src [n, 1, R/128, R/128], d2_cls */
fs_status fs_cvaegan_discriminate(fs_cvaegan *m, const float *img, int n, float *d1_src,
                                  float *d1_cls, float *d2_src, float *d2_cls);

#ifdef __cplusplus
}
#endif
#endif
