/* Element types and the scalar conversions between them.
 *
 * The flat weight format stores F32, F16 or BF16. Source checkpoints may hold
 * any of the types below; they are converted element by element when a tensor
 * is written. Conversions to 16-bit round to nearest even, as the hardware does. */
#ifndef FS_DTYPE_H
#define FS_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FS_DTYPE_INVALID = 0,
    FS_DTYPE_F32 = 1,
    FS_DTYPE_F16 = 2,
    FS_DTYPE_BF16 = 3,
    /* source-only types (never stored in a flat weight file) */
    FS_DTYPE_F64 = 16,
    FS_DTYPE_I64 = 17,
    FS_DTYPE_I32 = 18,
    FS_DTYPE_I16 = 19,
    FS_DTYPE_I8 = 20,
    FS_DTYPE_U8 = 21,
    FS_DTYPE_BOOL = 22,
} fs_dtype;

/* Bytes per element; 0 for FS_DTYPE_INVALID or an unknown value. */
size_t fs_dtype_size(fs_dtype t);
/* "f32", "f16", "bf16", "f64", ...; "invalid" for unknown values. */
const char *fs_dtype_name(fs_dtype t);
/* Parses the names above (the three storable ones only); INVALID otherwise. */
fs_dtype fs_dtype_parse_storable(const char *s);
int fs_dtype_is_storable(fs_dtype t);

uint16_t fs_f32_to_f16(float f);
float fs_f16_to_f32(uint16_t h);
uint16_t fs_f32_to_bf16(float f);
float fs_bf16_to_f32(uint16_t h);

/* Reads element i (little-endian) of an array of type t as a double. */
double fs_dtype_load(fs_dtype t, const uint8_t *base, int64_t i);

#ifdef __cplusplus
}
#endif
#endif
