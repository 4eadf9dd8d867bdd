/* e4e's Encoder4Editing over a backend (plan -> run): images in [-1, 1] ->
 * W+ codes for a StyleGAN2 generator (docs/e4e.md).
 *
 * _init checks the weights against the e4e-encoder family, uploads them once
 * (as float32), folds each BatchNorm that follows a conv into that conv and
 * plans every conv and linear layer; fs_e4e_encode then takes and returns
 * host arrays:
 *   x [n, 3, R, R] (R = input_resolution, 256) -> codes [n, n_styles, style_dim]
 * with codes = w0 repeated + per-style deltas (+ latent_avg), as the official
 * pSp / load_e4e_standalone return them. */
#ifndef FS_E4E_H
#define FS_E4E_H

#include "backend.h"
#include "e4e_config.h"
#include "weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fs_e4e fs_e4e;

typedef struct {
    /* 1 (the default): the BatchNorms right after a conv (res_layer.4, the
     * shortcut's, the input layer's) folded into the conv at init; 0: kept
     * as channel_affine ops (docs/e4e.md gives the measured difference). */
    int keep_bn;
} fs_e4e_opts;

/* o may be NULL (defaults). */
fs_status fs_e4e_init(fs_e4e **out, const fs_weights *w, fs_backend *b, const fs_e4e_opts *o);
void fs_e4e_free(fs_e4e *m);
const fs_e4e_config *fs_e4e_get_config(const fs_e4e *m);

/* Intermediate results for tests and debugging, host arrays of the whole
 * batch, each optional (NULL: not wanted). */
typedef struct {
    float *c1, *c2, *c3;  /* trunk taps [n, C, s, s] */
    float *p2, *p1;       /* FPN maps [n, C3, s, s] */
    float *styles_raw;    /* [n, n_styles, D]: w0 for style 0, the delta for the others */
    float *enc;           /* [n, n_styles, D]: w0 + deltas, before latent_avg */
} fs_e4e_trace;

fs_status fs_e4e_encode(fs_e4e *m, const float *x, int n, float *codes);
/* The same with intermediate outputs; t may be NULL. */
fs_status fs_e4e_encode_traced(fs_e4e *m, const float *x, int n, float *codes,
                               const fs_e4e_trace *t);

#ifdef __cplusplus
}
#endif
#endif
