/* modconv v2 on the 16-bit NHWC feature formats: placeholder until it lands. */
#include "cuda_common.cuh"

fs_status cuda_modconv_v2(fs_backend *b, const fs_modconv_args *a)
{
    return fs_error(FS_ERR_UNSUPPORTED, "cuda modconv: the 16-bit NHWC formats are not "
                    "implemented yet");
}
