/* Status codes and the per-thread error message of the facesynth library.
 *
 * Every library function that can fail returns an fs_status; on failure it has
 * also left a one-line message (naming the file, offset or tensor at fault) that
 * fs_error_message() returns. The library never exits or aborts: only apps/ do. */
#ifndef FS_STATUS_H
#define FS_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FS_OK = 0,
    FS_ERR_IO = -1,          /* open/read/write/rename failed, disk full */
    FS_ERR_FORMAT = -2,      /* truncated or corrupt input */
    FS_ERR_UNSUPPORTED = -3, /* valid input we choose not to handle */
    FS_ERR_FORBIDDEN = -4,   /* untrusted input asked for something unsafe */
    FS_ERR_SHAPE = -5,       /* a tensor or array has the wrong shape */
    FS_ERR_MISSING = -6,     /* a required tensor or key is absent */
    FS_ERR_NOMEM = -7,       /* allocation failed */
    FS_ERR_LIMIT = -8,       /* input exceeds a documented size or depth cap */
    FS_ERR_ARG = -9,         /* bad argument from the caller */
    FS_ERR_CHECKSUM = -10,   /* stored checksum does not match the data */
    FS_ERR_DEVICE = -11,     /* CUDA, cuBLAS or cuDNN call failed */
} fs_status;

const char *fs_status_string(fs_status s);

/* Records a formatted message for the calling thread and returns s, so that
 * `return fs_error(FS_ERR_FORMAT, "%s: bad magic", path);` reads naturally. */
fs_status fs_error(fs_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to the current message (used to add a file name that an
 * inner parser of in-memory bytes could not know). */
void fs_error_prefix(const char *prefix);

/* The message of the last failure on this thread ("" if none). */
const char *fs_error_message(void);
void fs_error_clear(void);

#define FS_TRY(expr)                      \
    do {                                  \
        fs_status fs_try_s_ = (expr);     \
        if (fs_try_s_ != FS_OK)           \
            return fs_try_s_;             \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
