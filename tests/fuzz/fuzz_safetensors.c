/* libFuzzer harness for the safetensors reader and its JSON parser. The input
 * is tried both as a whole file and as bare JSON text, so that the parser is
 * exercised without the fuzzer first having to discover the length prefix. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../weights_tools/json.h"
#include "../../weights_tools/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fs_json *j;
    if (fs_json_parse(data, size, "fuzz.json", 0, &j) == FS_OK)
        fs_json_free(j);

    fs_safetensors *st;
    if (fs_safetensors_open(data, size, "fuzz.safetensors", &st) != FS_OK)
        return 0;
    for (size_t i = 0; i < fs_safetensors_count(st); i++) {
        const fs_st_tensor *t = fs_safetensors_tensor_at(st, i);
        if (fs_safetensors_find(st, t->name) != t || t->ndim < 0 || t->ndim > FS_ST_MAX_DIMS)
            __builtin_trap();
        if (t->nbytes > 0) {
            volatile uint8_t sink = t->data[0];
            sink = t->data[t->nbytes - 1];
            (void)sink;
        }
    }
    for (size_t i = 0; i < fs_safetensors_meta_count(st); i++) {
        const char *k, *v;
        fs_safetensors_meta_at(st, i, &k, &v);
        volatile size_t sink = strlen(k) + strlen(v);
        (void)sink;
    }
    fs_safetensors_free(st);
    return 0;
}
