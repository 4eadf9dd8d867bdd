/* SimGAN hyper-parameters and the canonical tensor list they imply
 * (docs/simgan.md): the refiner (conv_in, B residual blocks of width F,
 * conv_out) and, optionally, the local discriminator (five convs of fixed
 * widths 96, 64, 32, 32, 2). C, F and B come from tensor shapes; the
 * converter (weights_tools/simgan_import.c) infers them and writes exactly
 * this list, and fs_simgan_check_weights proves a file holds it. */
#ifndef FS_SIMGAN_CONFIG_H
#define FS_SIMGAN_CONFIG_H

#include <stdint.h>

#include "ir_se.h"
#include "status.h"
#include "weights.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FS_SIMGAN_MAX_BLOCKS 64
#define FS_SIMGAN_DISC_LAYERS 5

/* The discriminator's output channels per conv, and their kernels and
 * strides (docs/simgan.md). */
static const int fs_simgan_disc_out[FS_SIMGAN_DISC_LAYERS] = {96, 64, 32, 32, 2};
static const int fs_simgan_disc_k[FS_SIMGAN_DISC_LAYERS] = {3, 3, 3, 1, 1};
static const int fs_simgan_disc_stride[FS_SIMGAN_DISC_LAYERS] = {2, 2, 1, 1, 1};

typedef struct {
    int64_t channels;          /* C: 1 gray, 3 RGB */
    int64_t width;             /* F: 64 in the paper */
    int64_t blocks;            /* B: 4 in the paper */
    int64_t has_discriminator; /* 1: the disc.* tensors are in the file */
} fs_simgan_config;

fs_status fs_simgan_config_check(const fs_simgan_config *c, const char *label);
fs_status fs_simgan_for_each_tensor(const fs_simgan_config *c, fs_tensor_spec_fn fn,
                                    void *user);
fs_status fs_simgan_config_to_meta(const fs_simgan_config *c, fs_ir_se_meta_put_fn put,
                                   void *user);
fs_status fs_simgan_config_from_weights(const fs_weights *w, fs_simgan_config *c);
fs_status fs_simgan_check_weights(const fs_weights *w);

#ifdef __cplusplus
}
#endif
#endif
