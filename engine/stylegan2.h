/* StyleGAN2 generator and discriminator over a backend (plan -> run).
 *
 * _init uploads the weights once (as float32) and records every layer's
 * shapes; the forward functions take and return host arrays:
 *   mapping:   z [n, z_dim], c [n, c_dim] -> ws [n, num_ws, w_dim]
 *   synthesis: ws -> img [n, img_channels, R, R] (float, nominally [-1, 1])
 *   discriminator: img, c -> logits [n]
 * Semantics: research/stylegan2.md §1 and §2 (stylegan2-ada-pytorch). */
#ifndef FS_STYLEGAN2_H
#define FS_STYLEGAN2_H

#include "backend.h"
#include "stylegan2_config.h"
#include "weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fs_sg2_generator fs_sg2_generator;
typedef struct fs_sg2_discriminator fs_sg2_discriminator;

fs_status fs_sg2_generator_init(fs_sg2_generator **out, const fs_weights *w, fs_backend *b);
void fs_sg2_generator_free(fs_sg2_generator *g);
const fs_sg2_config *fs_sg2_generator_config(const fs_sg2_generator *g);

/* psi == 1: no truncation; cutoff < 0: truncate every w (else the first cutoff). */
fs_status fs_sg2_generator_mapping(fs_sg2_generator *g, const float *z, const float *c, int n,
                                   float psi, int cutoff, float *ws);

/* Called after each synthesis block with sample 0's feature map and image. */
typedef void (*fs_sg2_trace_fn)(void *user, int res, const float *x, int channels,
                                const float *img, int img_channels);

typedef struct {
    fs_noise_mode noise_mode;
    const uint64_t *noise_seeds; /* [n] for FS_NOISE_RANDOM */
    fs_sg2_trace_fn trace;       /* optional */
    void *trace_user;
} fs_sg2_synthesis_opts;

fs_status fs_sg2_generator_synthesis(fs_sg2_generator *g, const float *ws, int n,
                                     const fs_sg2_synthesis_opts *o, float *img);

fs_status fs_sg2_discriminator_init(fs_sg2_discriminator **out, const fs_weights *w,
                                    fs_backend *b);
void fs_sg2_discriminator_free(fs_sg2_discriminator *d);
const fs_sg2_config *fs_sg2_discriminator_config(const fs_sg2_discriminator *d);
/* img [n, C, R, R] in [-1, 1]; c [n, c_dim] or NULL when c_dim == 0. */
fs_status fs_sg2_discriminator_run(fs_sg2_discriminator *d, const float *img, const float *c,
                                   int n, float *logits);

#ifdef __cplusplus
}
#endif
#endif
