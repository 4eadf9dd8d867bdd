/* StyleGAN2 generator and discriminator over a backend (plan -> run).
 *
 * _init checks the weights against the family, uploads them once (as
 * float32) and plans every layer on the backend; the forward functions take
 * and return host arrays:
 *   fs_sg2_generate: z (+ c) or ws -> uint8 images, all on the backend
 *   mapping:   z [n, z_dim], c [n, c_dim] -> ws [n, num_ws, w_dim]
 *   synthesis: ws -> img [n, img_channels, R, R] (float, nominally [-1, 1])
 *   discriminator: img, c -> logits [n]
 * Semantics: docs/stylegan2.md §1 and §2 (stylegan2-ada-pytorch). */
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

/* Latents in, uint8 images out, in one pass on the backend: mapping (from z),
 * truncation, the ws broadcast, synthesis and the uint8 conversion all run
 * there, and nothing crosses to the host between the upload of the latents
 * and the download of the results. */
typedef struct {
    int n;
    const float *z;      /* [n, z_dim], or NULL with ws */
    const float *c;      /* [n, c_dim] with z on a conditional network; else ignored */
    const float *ws;     /* [n, num_ws, w_dim]: skips the mapping (and the label) */
    float psi;           /* truncation (1: none), with z */
    int cutoff;          /* truncate the first cutoff ws; < 0: all */
    fs_noise_mode noise_mode;
    const uint64_t *noise_seeds; /* [n] for FS_NOISE_RANDOM */
    uint8_t *images;     /* out: [n, R, R, img_channels] (image_io.h rule), or NULL */
    float *ws_out;       /* out, optional: the ws synthesised [n, num_ws, w_dim] */
    float *img_out;      /* out, optional: float images [n, img_channels, R, R] */
} fs_sg2_generate_args;

fs_status fs_sg2_generate(fs_sg2_generator *g, const fs_sg2_generate_args *a);

/* Sizes the generator's activation buffers and the backend's scratch
 * (ops->reserve) for batches of up to max_batch, so that no forward of at
 * most that many samples allocates (a requirement of graph capture,
 * engine/sg2_pipeline.h). */
fs_status fs_sg2_generator_reserve(fs_sg2_generator *g, int max_batch);

/* The backend buffer holding the float images [n, C, R, R] of the last
 * forward. Which buffer that is can change from one forward to the next:
 * read it after each (the pipeline converts and downloads from it). */
const float *fs_sg2_generator_images_dev(const fs_sg2_generator *g);

/* A count of the times the generator's activation buffers were (re)made: it
 * changes whenever a larger batch re-allocates them, which leaves every
 * graph captured before pointing at freed memory (the pipeline checks it
 * before replaying one). */
unsigned long fs_sg2_generator_buffers_epoch(const fs_sg2_generator *g);

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
