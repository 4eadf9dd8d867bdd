/* The convert_features op on the GPU (backend.h): placeholder until CUDA v2 lands it. */
#include "cuda_common.cuh"

fs_status cuda_convert_features(fs_backend *b, const fs_convert_features_args *a)
{
    return fs_error(FS_ERR_UNSUPPORTED, "cuda backend: convert_features is not implemented yet");
}
