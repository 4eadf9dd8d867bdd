/* CRC-32C (Castagnoli), the checksum of the flat weight format.
 * Uses the SSE4.2 crc32 instruction when the CPU has it (several GB/s, so
 * verifying a 360 MB file costs well under a tenth of a second) and a
 * slice-by-8 table otherwise. */
#ifndef FS_CRC32C_H
#define FS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* crc of the concatenation: pass 0 for the first block, then the previous result. */
uint32_t fs_crc32c(uint32_t crc, const void *data, size_t n);
/* The table path alone, for tests that compare the two. */
uint32_t fs_crc32c_portable(uint32_t crc, const void *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif
