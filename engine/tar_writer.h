/* POSIX ustar archives, written member by member into an fs_out_file (so a
 * tar file appears under its name whole, or not at all): the WebDataset
 * shards of `facesynth dataset --format tar`. Every header field that could
 * vary between runs is fixed (mtime 0, uid and gid 0, no user or group
 * names, mode 0644), so an archive is a function of its members alone. */
#ifndef FS_TAR_WRITER_H
#define FS_TAR_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "file.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FS_TAR_BLOCK 512
#define FS_TAR_NAME_MAX 100 /* member names fit the header's name field */
#define FS_TAR_SIZE_MAX 077777777777ull /* 11 octal digits: 8 GiB - 1 */

/* The 512-byte header of a regular file `name` of `size` bytes. FS_ERR_ARG
 * for an empty name, one over FS_TAR_NAME_MAX bytes or a size over
 * FS_TAR_SIZE_MAX. */
fs_status fs_tar_header(uint8_t hdr[FS_TAR_BLOCK], const char *name, uint64_t size);
/* Header, data, zero padding to the next block. */
fs_status fs_tar_write_member(fs_out_file *f, const char *name, const void *data, size_t n);
/* The end-of-archive marker: two zero blocks. */
fs_status fs_tar_write_end(fs_out_file *f);

#ifdef __cplusplus
}
#endif
#endif
