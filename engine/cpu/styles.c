/* The styles op (backend.h fs_styles_args) on the CPU: placeholder until the
 * CUDA v2 work lands its oracle. */
#include "cpu_internal.h"

fs_status fs_cpu_styles_plan(const fs_styles_args *a, fs_plan *p)
{
    return fs_error(FS_ERR_UNSUPPORTED, "cpu backend: the styles op is not implemented yet");
}

fs_status fs_cpu_styles(fs_backend *b, const fs_styles_args *a)
{
    return fs_error(FS_ERR_UNSUPPORTED, "cpu backend: the styles op is not implemented yet");
}
