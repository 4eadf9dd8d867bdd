/* The CUDA backend's layer plans (backend.h fs_plan, defined in
 * cuda_plan.cuh) and its choice of feature format per layer
 * (fs_backend_ops.feature_format).
 *
 * Plans: a modconv layer computed in a 16-bit format gets its weight rounded
 * once to that format and packed [cout][k * k][cin] for modconv v2; the
 * styles op gets sw2 (the static half of every layer's demodulation) and
 * its cuBLAS handle. Everything else runs unplanned (NULL): the v1 kernels
 * read the weights as the flat file stores them. */
#include <stdlib.h>

#include <cublas_v2.h>

#include "cuda_backend.h"
#include "cuda_common.cuh"
#include "cuda_plan.cuh"

/* FP16: every layer in fp16; BF16: bf16; MIXED: fp16 for the official fp16
 * layers (the top num_fp16_res resolutions), fp32 below them; FP32 / TF32:
 * fp32 features (v1). */
fs_feat_format cuda_feature_format(fs_backend *b, int fp16_layer)
{
    switch (cuda_impl_of(b)->precision) {
    case FS_CUDA_FP16: return FS_FEAT_F16_NHWC;
    case FS_CUDA_BF16: return FS_FEAT_BF16_NHWC;
    case FS_CUDA_MIXED: return fp16_layer ? FS_FEAT_F16_NHWC : FS_FEAT_F32_NCHW;
    default: return FS_FEAT_F32_NCHW;
    }
}

static fs_status plan_modconv(fs_backend *b, const fs_modconv_args *a, fs_plan **out)
{
    fs_feat_format fmt = cuda_feature_format(b, a->fp16);
    if (fmt == FS_FEAT_F32_NCHW || a->cin < 1 || a->cout < 1 || a->k < 1)
        return FS_OK; /* v1: no plan */
    fs_plan *p = (fs_plan *)calloc(1, sizeof *p);
    if (!p)
        return fs_error(FS_ERR_NOMEM, "cuda plan: out of memory");
    p->kind = FS_OP_MODCONV;
    p->cin = a->cin;
    p->cout = a->cout;
    p->k = a->k;
    p->up = a->up;
    p->fmt = fmt;
    size_t count = (size_t)a->cout * a->k * a->k * a->cin;
    cudaError_t e = cudaMalloc((void **)&p->w16, count * sizeof(uint16_t));
    if (e != cudaSuccess) {
        free(p);
        return fs_error(FS_ERR_DEVICE, "cuda plan: cudaMalloc of %zu bytes: %s",
                        count * sizeof(uint16_t), cudaGetErrorString(e));
    }
    fs_status st = modconv_v2_pack_weights(a->weight, p->w16, a->cout, a->cin, a->k * a->k, fmt,
                                           cuda_impl_of(b)->stream);
    if (st != FS_OK) {
        cuda_plan_free(b, p);
        return st;
    }
    *out = p;
    return FS_OK;
}

/* sw2 of every demodulated layer, concatenated, and a cuBLAS handle. */
static fs_status plan_styles(fs_backend *b, const fs_styles_args *a, fs_plan **out)
{
    fs_plan *p = (fs_plan *)calloc(1, sizeof *p);
    if (!p)
        return fs_error(FS_ERR_NOMEM, "cuda plan: out of memory");
    p->kind = FS_OP_STYLES;
    p->n_layers = a->n_layers;
    p->sw2_off = (size_t *)calloc(a->n_layers > 0 ? a->n_layers : 1, sizeof *p->sw2_off);
    if (!p->sw2_off) {
        free(p);
        return fs_error(FS_ERR_NOMEM, "cuda plan: out of memory");
    }
    size_t total = 0;
    for (int l = 0; l < a->n_layers; l++) {
        const fs_style_layer *L = &a->layers[l];
        p->sw2_off[l] = total;
        if (L->demodulate) {
            total += (size_t)L->cout * L->cin;
            p->n_demod++;
        }
        if (L->style_off + L->cin > p->s2_end)
            p->s2_end = L->style_off + L->cin;
    }
    fs_status st = FS_OK;
    cudaError_t e = cudaMalloc((void **)&p->sw2, (total ? total : 1) * sizeof(float));
    if (e != cudaSuccess) {
        p->sw2 = NULL;
        st = fs_error(FS_ERR_DEVICE, "cuda plan: cudaMalloc: %s", cudaGetErrorString(e));
    }
    for (int l = 0; st == FS_OK && l < a->n_layers; l++) {
        const fs_style_layer *L = &a->layers[l];
        if (L->demodulate)
            st = styles_weight_sq(L->weight, p->sw2 + p->sw2_off[l], L->cout, L->cin, L->k * L->k,
                                  cuda_impl_of(b)->stream);
    }
    if (st == FS_OK) {
        cublasHandle_t h;
        cublasStatus_t cs = cublasCreate(&h);
        if (cs != CUBLAS_STATUS_SUCCESS)
            st = fs_error(FS_ERR_DEVICE, "cuda plan: cublasCreate: %s", cublasGetStatusString(cs));
        else
            p->cublas = h;
    }
    if (st == FS_OK) {
        /* a workspace of the plan's own: cuBLAS then never allocates inside
         * a forward (graph capture); 4 MiB covers its fp32 GEMM kernels */
        p->cublas_ws_bytes = (size_t)4 << 20;
        e = cudaMalloc(&p->cublas_ws, p->cublas_ws_bytes);
        if (e != cudaSuccess) {
            p->cublas_ws = NULL;
            st = fs_error(FS_ERR_DEVICE, "cuda plan: cudaMalloc of the cuBLAS workspace: %s",
                          cudaGetErrorString(e));
        }
    }
    if (st != FS_OK) {
        cuda_plan_free(b, p);
        return st;
    }
    *out = p;
    return FS_OK;
}

fs_status cuda_plan(fs_backend *b, fs_op_kind kind, const void *args, fs_plan **out)
{
    *out = NULL;
    FS_TRY(cuda_enter(b));
    if (kind == FS_OP_MODCONV)
        return plan_modconv(b, (const fs_modconv_args *)args, out);
    if (kind == FS_OP_STYLES)
        return plan_styles(b, (const fs_styles_args *)args, out);
    return FS_OK;
}

/* cudaFree and cublasDestroy wait for the device, so work queued with the
 * plan completes first. Errors here have nowhere to go: a void op. */
void cuda_plan_free(fs_backend *b, fs_plan *p)
{
    if (!p)
        return;
    if (cuda_enter(b) == FS_OK) {
        if (p->w16)
            cudaFree(p->w16);
        if (p->sw2)
            cudaFree(p->sw2);
        if (p->cublas)
            cublasDestroy((cublasHandle_t)p->cublas);
        if (p->cublas_ws)
            cudaFree(p->cublas_ws);
    }
    free(p->sw2_off);
    free(p);
}
