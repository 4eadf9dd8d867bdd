/* Feature-format conversion (backend.h fs_convert_features_args) on the CPU: placeholder. */
#include "cpu_internal.h"

fs_status fs_cpu_convert_features(fs_backend *b, const fs_convert_features_args *a)
{
    return fs_error(FS_ERR_UNSUPPORTED, "cpu backend: convert_features is not implemented yet");
}
