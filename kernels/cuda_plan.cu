/* The CUDA backend's layer plans (backend.h fs_plan) and its choice of
 * feature format per layer (fs_backend_ops.feature_format). */
#include "cuda_backend.h"
#include "cuda_common.cuh"

/* The v1 kernels read every weight as the flat file stores it, in fp32, so a
 * layer needs no prepared form here yet: the plan is NULL and ops run as
 * before. Pre-packed fp16 weights in the kernels' own layout are CUDA v2's
 * plan. */
fs_status cuda_plan(fs_backend *b, fs_op_kind kind, const void *args, fs_plan **out)
{
    *out = NULL;
    return FS_OK;
}

void cuda_plan_free(fs_backend *b, fs_plan *p) {}

/* v1 computes every layer with fp32 features (the v2 formats: CUDA v2). */
fs_feat_format cuda_feature_format(fs_backend *b, int fp16_layer)
{
    return FS_FEAT_F32_NCHW;
}

