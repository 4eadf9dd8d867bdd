/* The fused ToRGB + skip op (backend.h fs_torgb_args) on the CPU: placeholder. */
#include "cpu_internal.h"

fs_status fs_cpu_torgb(fs_backend *b, const fs_torgb_args *a)
{
    return fs_error(FS_ERR_UNSUPPORTED, "cpu backend: the torgb op is not implemented yet");
}
