/* StyleGAN2 architecture hyper-parameters and the canonical tensor set they
 * imply, for the generator and the discriminator.
 *
 * The canonical names follow the stylegan2-ada-pytorch module tree (without the
 * resample_filter buffers, which are a hyper-parameter here), because that is
 * the naming most checkpoints in circulation use; every converter maps its
 * source onto exactly this list, and the loader checks a file against it. */
#ifndef FS_STYLEGAN2_CONFIG_H
#define FS_STYLEGAN2_CONFIG_H

#include <stdint.h>

#include "status.h"
#include "weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FS_SG2_ARCH_ORIG = 0,
    FS_SG2_ARCH_SKIP = 1,
    FS_SG2_ARCH_RESNET = 2,
} fs_sg2_arch;

const char *fs_sg2_arch_name(fs_sg2_arch a);
int fs_sg2_arch_parse(const char *s, fs_sg2_arch *out); /* 1 on success */

#define FS_SG2_MAX_FILTER 8
#define FS_SG2_MAX_RES_LOG2 13 /* 8192 x 8192 */

typedef struct {
    int is_discriminator;
    int64_t z_dim, w_dim, c_dim;   /* D: z_dim = w_dim = 0 */
    int64_t img_resolution, img_channels;
    int64_t channel_base, channel_max;
    fs_sg2_arch architecture;
    double conv_clamp;             /* 0: no clamping */
    int64_t num_fp16_res;
    int64_t resample_filter_len;
    double resample_filter[FS_SG2_MAX_FILTER]; /* 1-D taps, e.g. 1 3 3 1 */
    /* mapping network (G) or label-to-cmap network (D) */
    int64_t mapping_layers;
    double mapping_lr_multiplier;
    int64_t embed_features;        /* 0 when c_dim == 0 */
    int64_t layer_features;
    /* discriminator epilogue */
    int64_t cmap_dim;              /* 0 when c_dim == 0 */
    int64_t mbstd_group_size;      /* 0: the whole batch is one group */
    int64_t mbstd_num_channels;
} fs_sg2_config;

/* The official constructors' defaults (stylegan2-ada-pytorch Generator and
 * Discriminator), before the dimensions of a particular network are known. */
void fs_sg2_config_default_g(fs_sg2_config *c);
void fs_sg2_config_default_d(fs_sg2_config *c);

/* Fills the fields that default to other fields (embed/layer features, cmap
 * dim) and checks ranges; label names the model in the message. */
fs_status fs_sg2_config_finalize(fs_sg2_config *c, const char *label);

/* Feature maps at a resolution: min(channel_base / res, channel_max). */
int64_t fs_sg2_channels(const fs_sg2_config *c, int64_t res);
int fs_sg2_log2(int64_t res);
/* Number of w vectors the synthesis network consumes (G only). */
int64_t fs_sg2_num_ws(const fs_sg2_config *c);

/* Calls fn once per canonical tensor, in the canonical order (mapping first,
 * then blocks from low to high resolution for G, high to low for D). */
fs_status fs_sg2_for_each_tensor(const fs_sg2_config *c, fs_tensor_spec_fn fn, void *user);

/* Metadata <-> config. to_meta calls put once per key. */
typedef fs_status (*fs_meta_put_fn)(void *user, const char *key, fs_meta_type type, int64_t i,
                                    double f, const char *str, const double *arr, size_t n);
fs_status fs_sg2_config_to_meta(const fs_sg2_config *c, fs_meta_put_fn put, void *user);
fs_status fs_sg2_config_from_weights(const fs_weights *w, fs_sg2_config *c);

/* The loader's family check: config readable and every tensor present. */
fs_status fs_sg2_check_weights(const fs_weights *w);

#ifdef __cplusplus
}
#endif
#endif
