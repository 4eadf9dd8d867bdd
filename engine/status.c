/* Status strings and the thread-local error message buffer. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FS_ERROR_MAX 1024

static _Thread_local char error_buf[FS_ERROR_MAX];

const char *fs_status_string(fs_status s)
{
    switch (s) {
    case FS_OK: return "ok";
    case FS_ERR_IO: return "i/o error";
    case FS_ERR_FORMAT: return "corrupt or truncated input";
    case FS_ERR_UNSUPPORTED: return "unsupported input";
    case FS_ERR_FORBIDDEN: return "forbidden content in untrusted input";
    case FS_ERR_SHAPE: return "wrong shape";
    case FS_ERR_MISSING: return "missing tensor or key";
    case FS_ERR_NOMEM: return "out of memory";
    case FS_ERR_LIMIT: return "size or depth limit exceeded";
    case FS_ERR_ARG: return "bad argument";
    case FS_ERR_CHECKSUM: return "checksum mismatch";
    case FS_ERR_DEVICE: return "device error";
    }
    return "unknown status";
}

fs_status fs_error(fs_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_buf, sizeof error_buf, fmt, ap);
    va_end(ap);
    /* Messages are one line by contract: fold anything a format string pulled
     * in from untrusted input. */
    for (char *p = error_buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return s;
}

void fs_error_prefix(const char *prefix)
{
    char tmp[2 * FS_ERROR_MAX];
    snprintf(tmp, sizeof tmp, "%s: %s", prefix, error_buf);
    size_t n = strlen(tmp);
    if (n >= FS_ERROR_MAX)
        n = FS_ERROR_MAX - 1; /* keep the front: it names the file */
    memcpy(error_buf, tmp, n);
    error_buf[n] = '\0';
}

const char *fs_error_message(void) { return error_buf; }

void fs_error_clear(void) { error_buf[0] = '\0'; }
