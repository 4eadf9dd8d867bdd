/* SimGAN over a backend (plan -> run): the refiner and the local patch
 * discriminator of docs/simgan.md, on images of any size.
 *
 * _init checks the weights against the simgan family and uploads them; the
 * layers are planned for an image size at its first use and re-planned when
 * the size changes (a plan fixes the plane size). Host arrays in and out:
 *   fs_simgan_refine:       x [n, C, h, w] in [-1, 1] -> y [n, C, h, w] in (-1, 1)
 *   fs_simgan_discriminate: x [n, C, h, w] -> logits [n, 2, h2, w2] (channel 0
 *                           "real") and/or p_real [n, h2, w2]
 * with h2 = ceil(ceil(h / 2) / 2) (two stride-2 convs), likewise w2. */
#ifndef FS_SIMGAN_H
#define FS_SIMGAN_H

#include <stdint.h>

#include "backend.h"
#include "simgan_config.h"
#include "weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fs_simgan fs_simgan;

fs_status fs_simgan_init(fs_simgan **out, const fs_weights *w, fs_backend *b);
void fs_simgan_free(fs_simgan *m);
const fs_simgan_config *fs_simgan_get_config(const fs_simgan *m);

/* The patch map side for an input side (conv 3x3, stride 2, pad 1, twice). */
int fs_simgan_patch_side(int side);

fs_status fs_simgan_refine(fs_simgan *m, const float *x, int n, int h, int w, float *y);
/* FS_ERR_ARG for a file without the discriminator; logits or p_real may be
 * NULL. p_real = 1 / (1 + exp(l1 - l0)), the softmax's channel 0. */
fs_status fs_simgan_discriminate(fs_simgan *m, const float *x, int n, int h, int w,
                                 float *logits, float *p_real);

/* The spec's scalings, in float32 arithmetic: an 8-bit value u -> u / 127.5
 * - 1, and a refiner output y -> clamp(floor((y + 1) * 127.5 + 0.5), 0, 255)
 * (each product and sum rounded to float separately; NaN -> 0). */
float fs_simgan_from_u8(uint8_t u);
uint8_t fs_simgan_to_u8(float y);

#ifdef __cplusplus
}
#endif
#endif
