/* libFuzzer harness for the --rename rules file (weights_tools/
 * cvaegan_import.c): parse the rules from memory, then apply them to a small
 * state dict with CVAE-GAN-like and foreign names, one of them as long as a
 * name may be, so that back-references and over-long results are exercised. */
#include <stddef.h>
#include <stdint.h>

#include "../../weights_tools/convert.h"
#include "../../weights_tools/cvaegan_import.h"

static const char *const names[] = {
    "encoder.stem_conv.weight",
    "enc.blocks.0.conv1.weight",
    "netG.deconvs.4.bias",
    "module.discriminators.1.convs.5.weight",
    "a",
    "x123456789.x123456789.x123456789.x123456789.x123456789.x123456789.x123456789.x123456789.x12345",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fs_rename_rules *r = NULL;
    if (fs_rename_rules_parse((const char *)data, size, "fuzz.rules", &r) != FS_OK)
        return 0;
    static const float value = 1.0f;
    int64_t shape[1] = {1};
    fs_state_dict sd;
    fs_sd_init(&sd, "fuzz.pt");
    fs_status s = FS_OK;
    for (size_t i = 0; s == FS_OK && i < sizeof names / sizeof names[0]; i++) {
        fs_view v = fs_view_contiguous(FS_DTYPE_F32, 1, shape, &value);
        s = fs_sd_add(&sd, names[i], &v);
    }
    if (s == FS_OK)
        (void)fs_rename_apply(r, &sd);
    fs_sd_free(&sd);
    fs_rename_rules_free(r);
    return 0;
}
