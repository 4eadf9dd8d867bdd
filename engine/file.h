/* Read-only file mappings and crash-safe output files.
 *
 * Inputs are mmap'd so that multi-hundred-megabyte checkpoints are parsed in
 * place and tensor data is never copied before it is needed. Outputs are written
 * to "<path>.tmp.<pid>" and renamed over <path> only after every byte (and
 * fsync) succeeded, so a failed run never leaves a partial file behind. */
#ifndef FS_FILE_H
#define FS_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const uint8_t *data; /* NULL for an empty file */
    size_t size;
    int mapped;          /* 1: munmap on free; 0: data is malloc'd */
} fs_file_map;

fs_status fs_file_map_open(const char *path, fs_file_map *out);
void fs_file_map_close(fs_file_map *m);

/* An output file being written under a temporary name. */
typedef struct {
    FILE *fp;
    char *final_path;
    char *tmp_path;
    uint64_t written;
} fs_out_file;

fs_status fs_out_file_open(const char *path, fs_out_file *out);
/* Writes n bytes; a short write (disk full) is an FS_ERR_IO naming the path. */
fs_status fs_out_file_write(fs_out_file *f, const void *buf, size_t n);
/* Writes n zero bytes. */
fs_status fs_out_file_pad(fs_out_file *f, size_t n);
/* Flushes, fsyncs and renames into place. Frees f in every case. */
fs_status fs_out_file_commit(fs_out_file *f);
/* Removes the temporary file. Safe on a zeroed or already-closed handle. */
void fs_out_file_abort(fs_out_file *f);

#ifdef __cplusplus
}
#endif
#endif
