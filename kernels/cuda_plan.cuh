/* The CUDA backend's layer plan (backend.h's opaque fs_plan), private to
 * kernels/: what cuda_plan.cu prepares once per layer and the ops read.
 *   FS_OP_MODCONV (16-bit formats): the weight rounded once to the layer's
 *     format, packed K-contiguous as [cout][k * k][cin] so that the K index
 *     tap * cin + c of the v2 implicit GEMM is one contiguous run, the very
 *     order NHWC activations are gathered in (modconv_v2.cu).
 *   FS_OP_STYLES: sw2[o, i] = sum over the taps of W[o, i]^2 of every
 *     demodulated layer, concatenated, and the cuBLAS handle the op runs its
 *     two grouped GEMMs on (styles.cu).
 * Other kinds, and modconv layers in F32_NCHW, need no plan (NULL). */
#ifndef FS_KERNELS_CUDA_PLAN_CUH
#define FS_KERNELS_CUDA_PLAN_CUH

#include <stddef.h>
#include <stdint.h>

#include "../engine/backend.h"
#include "cuda_common.cuh"

struct fs_plan {
    fs_op_kind kind;
    /* FS_OP_MODCONV */
    int cin, cout, k, up;
    fs_feat_format fmt; /* the format w16 is rounded to */
    uint16_t *w16;      /* [cout][k * k][cin], device */
    /* FS_OP_STYLES */
    int n_layers;
    float *sw2;         /* device: layer l's [cout, cin] at sw2_off[l] (demodulated only) */
    size_t *sw2_off;    /* host, [n_layers] */
    void *cublas;       /* cublasHandle_t */
    void *cublas_ws;    /* its workspace (device), so that no call allocates */
    size_t cublas_ws_bytes;
    int n_demod;        /* layers with demodulation */
    size_t s2_end;      /* max over layers of style_off + cin: the styles' floats per sample */
};

/* The packing of modconv_v2.cu: w16[(o * kk + t) * cin + i] = r(w[(o * cin + i) * kk + t])
 * in `fmt`, on `stream` (cudaStream_t). */
fs_status modconv_v2_pack_weights(const float *w, uint16_t *w16, int cout, int cin, int kk,
                                  fs_feat_format fmt, void *stream);

/* sw2[o, i] = sum_t w[(o * cin + i) * kk + t]^2 (styles.cu). */
fs_status styles_weight_sq(const float *w, float *sw2, int cout, int cin, int kk, void *stream);

/* The most scratch the v2 ops take for batches of up to n, for the backend's
 * reserve (which must size the scratch before a graph capture):
 *   modconv v2 on the 16-bit formats, any noise mode, planned or not
 *   (modconv_v2.cu; the layer's shape as cuda_common.cuh records it);
 *   the styles op with its plan (styles.cu). */
size_t cuda_modconv_v2_scratch_bound(const cuda_layer_shape *l, int n);
size_t cuda_styles_scratch_bound(const fs_plan *p, int n);

#endif
