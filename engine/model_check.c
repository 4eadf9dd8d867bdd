/* Dispatch of the loader's family check to each model's own module. */
#include "model_check.h"

#include "cvaegan.h"
#include "stylegan2_config.h"

fs_status fs_model_check(const fs_weights *w)
{
    switch (fs_weights_family(w)) {
    case FS_FAMILY_STYLEGAN2_G:
    case FS_FAMILY_STYLEGAN2_D:
        return fs_sg2_check_weights(w);
    case FS_FAMILY_CVAEGAN:
        return fs_cvaegan_check_weights(w);
    default:
        return fs_error(FS_ERR_UNSUPPORTED, "%s: unknown model family", fs_weights_label(w));
    }
}
