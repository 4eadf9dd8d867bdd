/* A read-only ZIP directory reader for in-memory archives (torch.save zip
 * files, .npz). Entries must be stored (method 0) to be read: torch writes them
 * that way and 64-byte aligns their data so tensors can be used in place.
 * ZIP64 end records, sizes and offsets are supported. Every offset and size is
 * checked against the buffer before use; names are bounded; duplicate names,
 * overlapping entries and inconsistent local headers are errors. */
#ifndef FS_ZIP_H
#define FS_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *name;     /* NUL-terminated, as stored */
    uint16_t method;      /* 0 stored, 8 deflated, ... */
    uint32_t crc32;
    uint64_t comp_size;
    uint64_t size;        /* uncompressed */
    uint64_t data_offset; /* of the (possibly compressed) bytes within the buffer */
} fs_zip_entry;

typedef struct fs_zip fs_zip;

fs_status fs_zip_open(const uint8_t *buf, size_t len, const char *label, fs_zip **out);
void fs_zip_free(fs_zip *z);

size_t fs_zip_count(const fs_zip *z);
const fs_zip_entry *fs_zip_entry_at(const fs_zip *z, size_t i);
const fs_zip_entry *fs_zip_find(const fs_zip *z, const char *name);

/* Pointer to a stored entry's bytes inside buf; FS_ERR_UNSUPPORTED for a
 * compressed entry. verify_crc: also check the CRC-32 of the data
 * (FS_ERR_CHECKSUM on a mismatch). Readers of checkpoints pass 1 for every
 * entry they use: the check is cheap next to reading the bytes at all. */
fs_status fs_zip_entry_data(const fs_zip *z, const fs_zip_entry *e, int verify_crc,
                            const uint8_t **data);

#ifdef __cplusplus
}
#endif
#endif
