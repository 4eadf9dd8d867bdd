/* CRC-32 as ZIP, gzip and PNG use it (reflected polynomial 0xEDB88320), for
 * checking every member of a torch.save zip as it is read. On x86-64 CPUs
 * with PCLMULQDQ and SSE4.1 (chosen at run time, so the binary still runs on
 * any x86-64) it folds the data with carry-less multiplies (about 14 GB/s on
 * a Zen 4 core, against about 2 GB/s for the tables);
 * elsewhere, and for the last few bytes, it uses slicing-by-8 tables. The two
 * give the same result for any input and any split into calls. */
#ifndef FS_CRC32_H
#define FS_CRC32_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* crc of the concatenation: pass 0 for the first block, then the previous
 * result (zlib's crc32() convention; crc32("123456789") is 0xCBF43926). */
uint32_t fs_crc32(uint32_t crc, const void *data, size_t n);
/* The table path alone, for tests and benchmarks that compare the two. */
uint32_t fs_crc32_portable(uint32_t crc, const void *data, size_t n);
/* Which path fs_crc32 takes on this CPU: "pclmul" or "portable". */
const char *fs_crc32_impl(void);

/* The constants of the folding path, derived in crc32.c; here so that
 * tests/test_crc32.c can recompute each one and compare. K(e) is x^e mod P,
 * bit-reflected in 32 bits and shifted left by one. */
#define FS_CRC32_K_544 0x154442bd4ull /* K(4*128+32): fold a lane's high-order half by 512 bits */
#define FS_CRC32_K_480 0x1c6e41596ull /* K(4*128-32): its low-order half */
#define FS_CRC32_K_160 0x1751997d0ull /* K(128+32): fold by 128 bits, high-order half */
#define FS_CRC32_K_96 0x0ccaa009eull  /* K(128-32): low-order half; also 128 -> 96 bits */
#define FS_CRC32_K_64 0x163cd6124ull  /* K(64): 96 -> 64 bits */
#define FS_CRC32_MU 0x1f7011641ull    /* floor(x^64 / P), 33-bit reflected (Barrett) */
#define FS_CRC32_P 0x1db710641ull     /* P, 33-bit reflected (Barrett) */

#ifdef __cplusplus
}
#endif
#endif
