/* ArcFace IR-SE-50 over a backend (plan -> run): RGB faces in [-1, 1] ->
 * l2-normalised identity embeddings, as the official Backbone computes them,
 * with pSp's identity-loss input path for 256 x 256 aligned faces
 * (docs/identity.md).
 *
 * _init checks the weights against the arcface-ir-se family, uploads them,
 * builds the IR-SE trunk of ir_se.h (the one shared with e4e's encoder; each
 * BatchNorm right after a conv folded into it unless keep_bn) and plans every
 * conv and the linear layer. fs_arcface_embed then takes host arrays
 *   x [n, 3, S, S] -> emb [n, embedding_dim] (unit length)
 * with S the input side R (112: used as is), 256 (pSp's extract_feats: the
 * crop [35:223, 32:220] then AdaptiveAvgPool2d to 112) or a larger side
 * (pSp's face_pool, AdaptiveAvgPool2d to 256, first: how pSp pools its 1024
 * outputs before the identity loss). */
#ifndef FS_ARCFACE_H
#define FS_ARCFACE_H

#include "arcface_config.h"
#include "backend.h"
#include "weights.h"

#ifdef __cplusplus
extern "C" {
#endif

/* pSp's ID-loss crop of a 256 x 256 face (criteria/id_loss.py). */
#define FS_ARCFACE_ID_SIDE 256
#define FS_ARCFACE_CROP_TOP 35
#define FS_ARCFACE_CROP_LEFT 32
#define FS_ARCFACE_CROP_SIZE 188

typedef struct fs_arcface fs_arcface;

typedef struct {
    /* 1: keep every BatchNorm as a channel_affine op; 0 (default): fold the
     * ones right after a conv into it (as e4e's encoder does) */
    int keep_bn;
} fs_arcface_opts;

/* o may be NULL (defaults). */
fs_status fs_arcface_init(fs_arcface **out, const fs_weights *w, fs_backend *b,
                          const fs_arcface_opts *o);
void fs_arcface_free(fs_arcface *m);
const fs_arcface_config *fs_arcface_get_config(const fs_arcface *m);

/* 1 if fs_arcface_embed takes images of side s. */
int fs_arcface_side_ok(const fs_arcface *m, int s);

/* Intermediate results, host arrays of the whole batch, each optional. */
typedef struct {
    float *input; /* [n, 3, R, R]: what the trunk reads (the pooled crop for 256) */
    float *units[FS_IR_SE_MAX_UNITS]; /* unit u's output [n, depth, r, r] */
    float *raw;   /* [n, E]: the output layer's result, before l2_norm */
} fs_arcface_trace;

/* emb [n, E]: raw / ||raw||_2 per sample (no epsilon, as the official
 * l2_norm). t may be NULL. */
fs_status fs_arcface_embed(fs_arcface *m, const float *x, int n, int side, float *emb,
                           const fs_arcface_trace *t);

#ifdef __cplusplus
}
#endif
#endif
