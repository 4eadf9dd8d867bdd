/* libFuzzer harness for boundary files (engine/boundary_io.c): .npy or a
 * torch.save holding one tensor, then the checks, the norm and the SHA-256;
 * on success, normalisation and a projection against itself must behave. */
#include <stddef.h>
#include <stdint.h>

#include "../../engine/edit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fs_boundary b;
    if (fs_boundary_parse(data, size, "fuzz.npy", &b) != FS_OK)
        return 0;
    fs_boundary c, out;
    if (fs_boundary_copy(&b, &c) == FS_OK) {
        fs_boundary_normalize(&c);
        if (fs_boundary_project(&b, &c, 1, NULL, &out) == FS_OK)
            fs_boundary_free(&out); /* normally refused: b lies in the span of c */
        fs_boundary_free(&c);
    }
    fs_boundary_free(&b);
    return 0;
}
