/* Read-only file mappings and crash-safe output files.
 *
 * Inputs are mmap'd so that multi-hundred-megabyte checkpoints are parsed in
 * place and tensor data is never copied before it is needed. Outputs are written
 * to "<path>.tmp.<pid>" and renamed over <path> only after every byte (and
 * fsync) succeeded, so a failed run never leaves a partial file behind.
 *
 * A killed process cannot rename or unlink anything, so two more pieces keep
 * temporaries from piling up: every live temporary is listed in a fixed,
 * static registry that a signal handler can walk with async-signal-safe calls
 * only (fs_out_file_remove_temps), and a later run removes the temporaries
 * that dead processes left (fs_out_file_clean_stale). */
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
    int slot; /* 1 + its index in the registry of live temporaries; 0: none */
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

/* Most temporaries open at once (fs_out_file_open fails with FS_ERR_LIMIT
 * beyond it) and the longest temporary path the registry holds. */
#define FS_OUT_FILE_MAX_OPEN 64
#define FS_OUT_FILE_PATH_MAX 4096

/* Unlinks every temporary that an fs_out_file of this process has open.
 * Async-signal-safe (atomics, a copy loop and unlink only): meant for a
 * SIGINT/SIGTERM handler, which then re-raises the signal. Files that are
 * being opened, renamed or removed concurrently are handled: the worst case
 * is an unlink that fails with ENOENT. */
void fs_out_file_remove_temps(void);

/* A temporary older than this many seconds may be stale (see below). */
#define FS_OUT_FILE_STALE_SECONDS 60

/* Decides whether name (not NUL-terminated: len bytes) is the final name of
 * a file this run writes; ctx is the caller's. */
typedef int (*fs_out_name_match)(const char *name, size_t len, void *ctx);

/* Removes, in dir, the temporaries "<NAME>.tmp.<PID>" that dead processes
 * left, for the NAMEs match accepts. A file is removed only when all hold:
 *   - PID is a canonical decimal process id (no sign, no leading zero) other
 *     than this process's, and kill(PID, 0) fails with ESRCH: no such process
 *     here (EPERM means it is alive under another user);
 *   - it is a regular file (not a link) owned by this user;
 *   - it was last modified FS_OUT_FILE_STALE_SECONDS or more ago: a pid means
 *     nothing across machines or pid namespaces that share the directory
 *     (NFS, containers), and a live writer keeps its temporary's mtime fresh.
 * Best effort: an unreadable directory removes nothing. Returns the number
 * of files removed. */
unsigned fs_out_file_clean_stale(const char *dir, fs_out_name_match match, void *ctx);
/* The same for the temporaries of one output path. */
unsigned fs_out_file_clean_stale_path(const char *path);

/* The sweep behind fs_out_file_clean_stale, with the age as a parameter: a
 * file is removed only if it was last modified min_age_seconds or more ago;
 * min_age_seconds <= 0 skips the age check (any mtime, even a future one),
 * for a caller that owns the NAMEs and knows their temporaries are garbage
 * at once. Every other condition above holds as stated. */
unsigned fs_out_file_sweep_temps(const char *dir, fs_out_name_match match, void *ctx,
                                 int min_age_seconds);

/* "<NAME>.tmp.<PID>": the length of NAME (stores PID in *pid), or 0 when entry
 * is not exactly of that form (NAME non-empty, the last ".tmp." ends it since
 * NAME may itself contain ".tmp."; PID canonical decimal, 1 .. INT_MAX). */
size_t fs_out_file_parse_tmp_name(const char *entry, long *pid);

#ifdef __cplusplus
}
#endif
#endif
