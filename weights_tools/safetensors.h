/* A strict safetensors reader (huggingface/safetensors format): an 8-byte
 * little-endian header length, a JSON header, then one byte buffer.
 *
 * Everything the format specification requires is enforced before any tensor
 * is exposed: header length within the file and <= 100,000,000 bytes, a JSON
 * object with no duplicate keys, known dtypes, shapes whose byte size matches
 * data_offsets, offsets inside the buffer, no overlaps, no holes and no bytes
 * left over. Tensor data points into the input buffer (zero copy). */
#ifndef FS_SAFETENSORS_H
#define FS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/dtype.h"
#include "../engine/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FS_ST_MAX_DIMS 8

typedef struct {
    const char *name;       /* NUL-terminated, unescaped UTF-8 */
    fs_dtype dtype;         /* FS_DTYPE_INVALID for a valid-but-unsupported type (F8, ...) */
    const char *dtype_name; /* as written in the header, e.g. "F8_E4M3" */
    int ndim;
    int64_t shape[FS_ST_MAX_DIMS];
    const uint8_t *data;
    uint64_t nbytes;
} fs_st_tensor;

typedef struct fs_safetensors fs_safetensors;

fs_status fs_safetensors_open(const uint8_t *buf, size_t len, const char *label,
                              fs_safetensors **out);
void fs_safetensors_free(fs_safetensors *st);

size_t fs_safetensors_count(const fs_safetensors *st);
const fs_st_tensor *fs_safetensors_tensor_at(const fs_safetensors *st, size_t i);
const fs_st_tensor *fs_safetensors_find(const fs_safetensors *st, const char *name);

/* The "__metadata__" string map (may be empty). */
size_t fs_safetensors_meta_count(const fs_safetensors *st);
void fs_safetensors_meta_at(const fs_safetensors *st, size_t i, const char **key,
                            const char **value);

#ifdef __cplusplus
}
#endif
#endif
