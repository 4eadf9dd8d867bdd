/* libFuzzer harness for the ZIP reader: open the archive, then look up and
 * read (with CRC) every entry, as the torch.save loader does. */
#include <stddef.h>
#include <stdint.h>

#include "../../weights_tools/zip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fs_zip *z;
    if (fs_zip_open(data, size, "fuzz.zip", &z) != FS_OK)
        return 0;
    for (size_t i = 0; i < fs_zip_count(z); i++) {
        const fs_zip_entry *e = fs_zip_entry_at(z, i);
        const uint8_t *p;
        if (fs_zip_find(z, e->name) != e)
            __builtin_trap(); /* names are unique, so lookup must find this entry */
        if (fs_zip_entry_data(z, e, 1, &p) == FS_OK && e->size > 0) {
            /* Touch both ends so ASan sees any out-of-range pointer. */
            volatile uint8_t sink = p[0];
            sink = p[e->size - 1];
            (void)sink;
        }
    }
    fs_zip_free(z);
    return 0;
}
