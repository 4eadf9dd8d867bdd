/* The styles op on the GPU (backend.h): placeholder until CUDA v2 lands it. */
#include "cuda_common.cuh"

fs_status cuda_styles(fs_backend *b, const fs_styles_args *a)
{
    return fs_error(FS_ERR_UNSUPPORTED, "cuda backend: the styles op is not implemented yet");
}
