/* Progress of a long run (images generated, images scored) on stderr.
 *
 * On a terminal: one line redrawn in place at most 6 times a second,
 *   [########............] 1234/5000  24.7% | 81.2 img/s | ETA 00:00:46
 * Elsewhere (logs, CI): an appended line every 5 seconds. At the end one
 * summary line, "facesynth: 5000 images in 61.6 s (81.2 img/s)". Quiet mode
 * prints nothing. Rates are averages since the start, so the ETA settles
 * after the first few updates instead of jumping with each batch.
 *
 * Progress never goes to stdout: that is for data (score tables). */
#ifndef FS_PROGRESS_H
#define FS_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FS_PROGRESS_AUTO = 0,  /* TTY if the stream is a terminal, else LINES */
    FS_PROGRESS_TTY = 1,
    FS_PROGRESS_LINES = 2,
    FS_PROGRESS_QUIET = 3,
} fs_progress_mode;

#define FS_PROGRESS_TTY_INTERVAL (1.0 / 6.0) /* seconds */
#define FS_PROGRESS_LINE_INTERVAL 5.0        /* seconds */

typedef struct {
    FILE *out;
    fs_progress_mode mode; /* resolved: never AUTO after start */
    const char *noun;      /* "images" */
    const char *rate_unit; /* "img/s" */
    uint64_t total, done;
    double t0, last;       /* start and last draw, seconds */
    int line_open;         /* a TTY line is on screen without its newline */
    double (*clock)(void); /* seconds on a monotonic clock; replaceable for tests */
} fs_progress;

double fs_progress_now(void);

/* noun and rate_unit must outlive p. out is usually stderr. */
void fs_progress_start(fs_progress *p, FILE *out, fs_progress_mode mode, const char *noun,
                       const char *rate_unit, uint64_t total);
/* Records that `done` items are complete; draws when the interval has passed. */
void fs_progress_update(fs_progress *p, uint64_t done);
/* Clears the TTY line and prints the summary line. */
void fs_progress_finish(fs_progress *p);
/* Clears the TTY line so that an error message starts on a clean line. */
void fs_progress_abort(fs_progress *p);

#ifdef __cplusplus
}
#endif
#endif
