/* The torgb op on the GPU (backend.h): placeholder until CUDA v2 lands it. */
#include "cuda_common.cuh"

fs_status cuda_torgb(fs_backend *b, const fs_torgb_args *a)
{
    return fs_error(FS_ERR_UNSUPPORTED, "cuda backend: the torgb op is not implemented yet");
}
