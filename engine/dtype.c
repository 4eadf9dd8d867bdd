/* Element sizes, names and IEEE half / bfloat16 conversions.
 * The hosts we build for are little-endian (x86-64, aarch64); file formats are
 * little-endian too, so loads are plain memcpy. */
#include "dtype.h"

#include <math.h>
#include <string.h>

size_t fs_dtype_size(fs_dtype t)
{
    switch (t) {
    case FS_DTYPE_F32: case FS_DTYPE_I32: return 4;
    case FS_DTYPE_F16: case FS_DTYPE_BF16: case FS_DTYPE_I16: return 2;
    case FS_DTYPE_F64: case FS_DTYPE_I64: return 8;
    case FS_DTYPE_I8: case FS_DTYPE_U8: case FS_DTYPE_BOOL: return 1;
    default: return 0;
    }
}

const char *fs_dtype_name(fs_dtype t)
{
    switch (t) {
    case FS_DTYPE_F32: return "f32";
    case FS_DTYPE_F16: return "f16";
    case FS_DTYPE_BF16: return "bf16";
    case FS_DTYPE_F64: return "f64";
    case FS_DTYPE_I64: return "i64";
    case FS_DTYPE_I32: return "i32";
    case FS_DTYPE_I16: return "i16";
    case FS_DTYPE_I8: return "i8";
    case FS_DTYPE_U8: return "u8";
    case FS_DTYPE_BOOL: return "bool";
    default: return "invalid";
    }
}

fs_dtype fs_dtype_parse_storable(const char *s)
{
    if (!strcmp(s, "f32")) return FS_DTYPE_F32;
    if (!strcmp(s, "f16")) return FS_DTYPE_F16;
    if (!strcmp(s, "bf16")) return FS_DTYPE_BF16;
    return FS_DTYPE_INVALID;
}

int fs_dtype_is_storable(fs_dtype t)
{
    return t == FS_DTYPE_F32 || t == FS_DTYPE_F16 || t == FS_DTYPE_BF16;
}

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

uint16_t fs_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf or nan: keep a quiet nan payload bit */
        return (uint16_t)(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0));
    if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7c00u);
    if (absx < 0x38800000u) { /* below 2^-14: subnormal half (or zero) */
        /* Scale so the half subnormal step (2^-24) becomes 1.0 and let the FPU
         * round to nearest even. */
        float a = bits_f32(absx) * 16777216.0f;
        uint32_t m = (uint32_t)lrintf(a);
        return (uint16_t)(sign | m);
    }
    uint32_t mant = absx & 0x7fffffu;
    uint32_t exp = (absx >> 23) - 127 + 15;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        h++; /* may carry into the exponent, which is the right answer */
    return (uint16_t)(sign | h);
}

float fs_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0) {
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (exp == 31)
        return bits_f32(sign | 0x7f800000u | (mant << 13));
    return bits_f32(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

uint16_t fs_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40u); /* quiet nan */
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

float fs_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

double fs_dtype_load(fs_dtype t, const uint8_t *base, int64_t i)
{
    switch (t) {
    case FS_DTYPE_F32: { float v; memcpy(&v, base + 4 * i, 4); return v; }
    case FS_DTYPE_F64: { double v; memcpy(&v, base + 8 * i, 8); return v; }
    case FS_DTYPE_F16: { uint16_t v; memcpy(&v, base + 2 * i, 2); return fs_f16_to_f32(v); }
    case FS_DTYPE_BF16: { uint16_t v; memcpy(&v, base + 2 * i, 2); return fs_bf16_to_f32(v); }
    case FS_DTYPE_I64: { int64_t v; memcpy(&v, base + 8 * i, 8); return (double)v; }
    case FS_DTYPE_I32: { int32_t v; memcpy(&v, base + 4 * i, 4); return v; }
    case FS_DTYPE_I16: { int16_t v; memcpy(&v, base + 2 * i, 2); return v; }
    case FS_DTYPE_I8: return (int8_t)base[i];
    case FS_DTYPE_U8: case FS_DTYPE_BOOL: return base[i];
    default: return NAN;
    }
}
