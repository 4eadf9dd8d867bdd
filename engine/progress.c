/* Progress lines on stderr (see progress.h). */
#include "progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

double fs_progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void fs_progress_start(fs_progress *p, FILE *out, fs_progress_mode mode, const char *noun,
                       const char *rate_unit, uint64_t total)
{
    p->out = out;
    if (mode == FS_PROGRESS_AUTO)
        mode = isatty(fileno(out)) ? FS_PROGRESS_TTY : FS_PROGRESS_LINES;
    p->mode = mode;
    p->noun = noun;
    p->rate_unit = rate_unit;
    p->total = total;
    p->done = 0;
    p->line_open = 0;
    if (!p->clock)
        p->clock = fs_progress_now;
    p->t0 = p->last = p->clock();
}

static void format_eta(char *buf, size_t cap, double seconds)
{
    if (!(seconds >= 0) || seconds > 359999) { /* also NaN; 99:59:59 is the widest we show */
        snprintf(buf, cap, "--:--:--");
        return;
    }
    unsigned s = (unsigned)(seconds + 0.5);
    snprintf(buf, cap, "%02u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
}

static void draw(fs_progress *p, double now)
{
    double el = now - p->t0;
    double rate = el > 0 ? (double)p->done / el : 0;
    char eta[16];
    format_eta(eta, sizeof eta, rate > 0 ? (double)(p->total - p->done) / rate : -1);
    double pct = p->total ? 100.0 * (double)p->done / (double)p->total : 100.0;
    if (p->mode == FS_PROGRESS_TTY) {
        char bar[21];
        int fill = p->total ? (int)(20 * p->done / p->total) : 20;
        for (int i = 0; i < 20; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[20] = '\0';
        /* \033[K clears what a longer previous line left behind */
        fprintf(p->out, "\r[%s] %llu/%llu %5.1f%% | %.*f %s | ETA %s\033[K", bar,
                (unsigned long long)p->done, (unsigned long long)p->total, pct,
                rate < 10 ? 2 : 1, rate, p->rate_unit, eta);
        p->line_open = 1;
    } else {
        fprintf(p->out, "facesynth: %llu/%llu %s (%.1f%%), %.*f %s, ETA %s\n",
                (unsigned long long)p->done, (unsigned long long)p->total, p->noun, pct,
                rate < 10 ? 2 : 1, rate, p->rate_unit, eta);
    }
    fflush(p->out);
    p->last = now;
}

void fs_progress_update(fs_progress *p, uint64_t done)
{
    p->done = done;
    if (p->mode == FS_PROGRESS_QUIET)
        return;
    double now = p->clock();
    double interval =
        p->mode == FS_PROGRESS_TTY ? FS_PROGRESS_TTY_INTERVAL : FS_PROGRESS_LINE_INTERVAL;
    /* The TTY line also shows the final count before the summary replaces it. */
    if (now - p->last >= interval || (p->mode == FS_PROGRESS_TTY && done == p->total))
        draw(p, now);
}

void fs_progress_abort(fs_progress *p)
{
    if (p->mode == FS_PROGRESS_TTY && p->line_open) {
        fputs("\r\033[K", p->out);
        fflush(p->out);
    }
    p->line_open = 0;
}

void fs_progress_finish(fs_progress *p)
{
    if (p->mode == FS_PROGRESS_QUIET)
        return;
    fs_progress_abort(p);
    double el = p->clock() - p->t0;
    double rate = el > 0 ? (double)p->done / el : 0;
    /* "1 image", not "1 images": the nouns are regular plurals */
    int len = (int)strlen(p->noun);
    if (p->done == 1 && len > 1 && p->noun[len - 1] == 's')
        len--;
    fprintf(p->out, "facesynth: %llu %.*s in %.2f s (%.*f %s)\n", (unsigned long long)p->done,
            len, p->noun, el, rate < 10 ? 2 : 1, rate, p->rate_unit);
    fflush(p->out);
}
