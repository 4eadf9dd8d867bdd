/* The CVAE-GAN of docs/cvaegan.md over a backend: encoder, conditional
 * generator and the two discriminators (full and half scale). _init checks
 * the weights against the family and uploads them once; the forward
 * functions take and return host arrays. */
#ifndef FS_CVAEGAN_H
#define FS_CVAEGAN_H

#include <stdint.h>

#include "backend.h"
#include "cvaegan_config.h"
#include "weights.h"

#ifdef __cplusplus
extern "C" {
#endif

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
