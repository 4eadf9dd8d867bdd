/* libFuzzer harness for the .npy reader: parse, then convert float arrays to
 * C-ordered float32 (which walks Fortran-ordered data index by index). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../weights_tools/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fs_npy a;
    if (fs_npy_parse(data, size, "fuzz.npy", &a) != FS_OK)
        return 0;
    if (a.nbytes > 0) {
        volatile uint8_t sink = a.data[0];
        sink = a.data[a.nbytes - 1];
        (void)sink;
    }
    float *f;
    if (fs_npy_to_f32(&a, "fuzz.npy", &f) == FS_OK)
        free(f);
    return 0;
}
