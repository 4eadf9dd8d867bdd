/* A dataset run (dataset.h fs_ds_run_*, fs_ds_merge): the checks against an
 * existing OUT, the writer pool, the commit protocol, resume and merge.
 *
 * Commit protocol. Work is done chunk by chunk (`chunk` consecutive images).
 * Every file is written under a temporary name, fsync'd and renamed into
 * place (file.h); a chunk is committed by its manifest part, which is
 * written the same way only after every file of the chunk is in place and
 * the directories holding them were fsync'd. So after a kill -9 at any
 * moment a part that exists means its images do, complete; a chunk without
 * its part is redone whole on resume (its images are a function of their
 * index: rewriting one that survived gives the same bytes), after the
 * temporaries the killed run left in it are removed. A tar file is one file
 * of this protocol: whole or absent.
 *
 * Threads. The calling thread renders batches on the backend; a pool of
 * writer threads encodes (PNG/JPEG), writes and commits, so encoding overlaps
 * the next batch's compute. The queue between them is bounded; the first
 * error of any thread stops the run, and is returned by the calling thread
 * with its message (messages are per thread, status.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../weights_tools/json.h"
#include "dataset_internal.h"
#include "file.h"
#include "progress.h"
#include "tar_writer.h"

#define JOB_NAME "job.json"
#define MANIFEST_NAME "manifest.jsonl"
#define LABELS_NAME "dataset.json"
#define LOG_NAME "run.log"

/* ---- files -------------------------------------------------------------------- */

fs_status fs_ds_write_file(const char *path, const void *data, size_t n)
{
    fs_out_file f;
    FS_TRY(fs_out_file_open(path, &f));
    fs_status s = fs_out_file_write(&f, data, n);
    if (s != FS_OK) {
        fs_out_file_abort(&f);
        return s;
    }
    return fs_out_file_commit(&f);
}

fs_status fs_ds_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fs_error(FS_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    int r = fsync(fd), e = errno;
    close(fd);
    /* some file systems cannot fsync a directory (EINVAL): nothing to wait for */
    if (r != 0 && e != EINVAL && e != EROFS)
        return fs_error(FS_ERR_IO, "%s: cannot sync directory: %s", dir, strerror(e));
    return FS_OK;
}

fs_status fs_ds_mkdir(const char *dir)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return FS_OK;
        return fs_error(FS_ERR_IO, "%s: exists and is not a directory", dir);
    }
    return fs_error(FS_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
}

int64_t fs_ds_read_number(const char **p, const char *end, int width)
{
    const char *s = *p;
    size_t nd = 0;
    while (s + nd < end && s[nd] >= '0' && s[nd] <= '9')
        nd++;
    if (nd < (size_t)width || nd > 18 || (nd > (size_t)width && s[0] == '0'))
        return -1;
    int64_t v = 0;
    for (size_t k = 0; k < nd; k++)
        v = v * 10 + (s[k] - '0');
    *p = s + nd;
    return v;
}

static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
    }
    return p;
}

static int file_exists(const char *dir, const char *name)
{
    char *p = path_join(dir, name);
    struct stat st;
    int r = p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return r;
}

/* A whole small file into a NUL-terminated buffer. */
static fs_status read_text(const char *path, char **out, size_t *len)
{
    fs_file_map m;
    FS_TRY(fs_file_map_open(path, &m));
    if (m.size > (64u << 20)) {
        fs_file_map_close(&m);
        return fs_error(FS_ERR_LIMIT, "%s: larger than 64 MiB", path);
    }
    char *t = malloc(m.size + 1);
    if (!t) {
        fs_file_map_close(&m);
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", path);
    }
    if (m.size)
        memcpy(t, m.data, m.size);
    t[m.size] = '\0';
    *len = m.size;
    fs_file_map_close(&m);
    *out = t;
    return FS_OK;
}

/* The chunk of a manifest part name, or -1. */
static int64_t part_chunk(const fs_ds_plan *p, const char *name, size_t len)
{
    static const char pre[] = "manifest.part-", suf[] = ".jsonl";
    if (len < sizeof pre - 1 + sizeof suf - 1 || memcmp(name, pre, sizeof pre - 1))
        return -1;
    const char *q = name + sizeof pre - 1, *end = name + len;
    int64_t c = fs_ds_read_number(&q, end, p->chunk_digits);
    if (c < 0 || (uint64_t)c >= p->n_chunks || (size_t)(end - q) != sizeof suf - 1 ||
        memcmp(q, suf, sizeof suf - 1))
        return -1;
    return c;
}

/* Marks done[c] for every chunk of [c0, c1) whose part is in dir; 0 or
 * an error. */
static fs_status scan_parts(const char *dir, const fs_ds_plan *p, uint64_t c0, uint64_t c1,
                            uint8_t *done)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return fs_error(FS_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(dp))) {
        int64_t c = part_chunk(p, e->d_name, strlen(e->d_name));
        if (c >= 0 && (uint64_t)c >= c0 && (uint64_t)c < c1)
            done[c - c0] = 1;
    }
    closedir(dp);
    return FS_OK;
}

/* ---- the run state ---------------------------------------------------------------- */

struct fs_ds_run {
    fs_ds_run_args a;
    fs_ds_plan plan;
    char *out;       /* outdir, trailing slashes dropped */
    char *job_text;
    int job_exists, merged;
    uint64_t c0, c1; /* this shard's chunks */
    uint8_t *done;   /* [c1 - c0] */
    uint64_t shard_images, todo_images;
    char *note;      /* the run log's note, owned */
};

void fs_ds_run_free(fs_ds_run *r)
{
    if (!r)
        return;
    fs_ds_plan_free(&r->plan);
    free(r->out);
    free(r->job_text);
    free(r->done);
    free(r->note);
    free(r);
}

uint64_t fs_ds_run_shard_images(const fs_ds_run *r) { return r->shard_images; }
uint64_t fs_ds_run_todo(const fs_ds_run *r) { return r->todo_images; }

/* Entries a fresh OUT may already hold: the temporaries of a run killed
 * before its job.json was in place, and the CLI's probe file. */
static int harmless_entry(const char *name)
{
    long pid;
    size_t n = fs_out_file_parse_tmp_name(name, &pid);
    return (n == sizeof JOB_NAME - 1 && !memcmp(name, JOB_NAME, n)) ||
           !strncmp(name, ".facesynth-probe", 16);
}

static fs_status check_out(fs_ds_run *r)
{
    struct stat st;
    if (stat(r->out, &st) != 0) {
        if (errno == ENOENT)
            return FS_OK; /* a new dataset */
        return fs_error(FS_ERR_IO, "%s: %s", r->out, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return fs_error(FS_ERR_IO, "%s: exists and is not a directory", r->out);
    char *jp = path_join(r->out, JOB_NAME);
    if (!jp)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    if (stat(jp, &st) == 0) {
        char *text;
        size_t len;
        fs_status s = read_text(jp, &text, &len);
        free(jp);
        if (s != FS_OK)
            return s;
        s = fs_ds_job_compare(text, r->job_text, r->out);
        free(text);
        if (s != FS_OK)
            return s;
        r->job_exists = 1;
        r->merged = file_exists(r->out, MANIFEST_NAME) && file_exists(r->out, LABELS_NAME);
        if (r->merged)
            memset(r->done, 1, r->c1 - r->c0);
        else
            FS_TRY(scan_parts(r->out, &r->plan, r->c0, r->c1, r->done));
        return FS_OK;
    }
    free(jp);
    DIR *dp = opendir(r->out);
    if (!dp)
        return fs_error(FS_ERR_IO, "%s: cannot list: %s", r->out, strerror(errno));
    struct dirent *e;
    const char *other = NULL;
    while ((e = readdir(dp)) && !other)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && !harmless_entry(e->d_name))
            other = e->d_name;
    fs_status s = other ? fs_error(FS_ERR_ARG, "%s: exists and is not a facesynth dataset (it "
                                   "holds '%s' but no job.json); give a new or empty --outdir",
                                   r->out, other)
                        : FS_OK;
    closedir(dp);
    return s;
}

fs_status fs_ds_run_prepare(const fs_ds_run_args *a, fs_ds_run **out)
{
    *out = NULL;
    if (a->batch < 1 || a->writers < 1)
        return fs_error(FS_ERR_ARG, "dataset: batch %d and writers %d must be >= 1", a->batch,
                        a->writers);
    if (a->shard.n < 1 || a->shard.k >= a->shard.n)
        return fs_error(FS_ERR_ARG, "dataset: shard %llu of %llu",
                        (unsigned long long)a->shard.k, (unsigned long long)a->shard.n);
    fs_ds_run *r = calloc(1, sizeof *r);
    if (!r)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    r->a = *a;
    r->a.run_note = NULL; /* a copy: the caller's text may not outlive this call */
    if (a->run_note && !(r->note = strdup(a->run_note))) {
        free(r);
        return fs_error(FS_ERR_NOMEM, "out of memory");
    }
    r->a.run_note = r->note;
    size_t n = strlen(a->outdir);
    while (n > 1 && a->outdir[n - 1] == '/')
        n--;
    fs_status s = FS_OK;
    if (!(r->out = strndup(a->outdir, n)))
        s = fs_error(FS_ERR_NOMEM, "out of memory");
    if (s == FS_OK)
        s = fs_ds_plan_init(&r->plan, a->job);
    if (s == FS_OK)
        s = fs_ds_job_text(a->job, &r->job_text);
    if (s == FS_OK) {
        fs_ds_shard_chunks(&a->shard, r->plan.n_chunks, &r->c0, &r->c1);
        if (!(r->done = calloc(r->c1 - r->c0 + 1, 1)))
            s = fs_error(FS_ERR_NOMEM, "out of memory for %llu chunks",
                         (unsigned long long)(r->c1 - r->c0));
    }
    if (s == FS_OK)
        s = check_out(r);
    if (s != FS_OK) {
        fs_ds_run_free(r);
        return s;
    }
    uint64_t done_images = 0;
    for (uint64_t c = r->c0; c < r->c1; c++) {
        uint64_t g0, g1;
        fs_ds_chunk_images(&r->plan, c, &g0, &g1);
        r->shard_images += g1 - g0;
        if (r->done[c - r->c0])
            done_images += g1 - g0;
    }
    r->todo_images = r->shard_images - done_images;
    if (done_images && !a->resume) {
        s = fs_error(FS_ERR_ARG, "%s already holds %llu of the %llu images of this %s%s: add "
                     "--resume to go on with it", r->out, (unsigned long long)done_images,
                     (unsigned long long)r->shard_images, a->shard.n > 1 ? "shard" : "dataset",
                     r->merged ? " (it is complete)" : "");
        fs_ds_run_free(r);
        return s;
    }
    *out = r;
    return FS_OK;
}

/* ---- the writer pool ------------------------------------------------------------ */

typedef struct ds_item {
    uint64_t g;
    uint8_t *pix;
    char *line;
    size_t line_len;
    struct ds_item *next;
} ds_item;

typedef struct ds_chunk {
    uint64_t c, g0, n, left;
    char **lines;
    size_t *line_lens;
    uint8_t **enc; /* tar: the encoded images, in order */
    size_t *enc_lens;
    struct ds_chunk *next;
} ds_chunk;

typedef struct {
    fs_ds_run *run;
    int w, h, ch;
    pthread_mutex_t mu;
    pthread_cond_t cv_item, cv_space;
    ds_item *head, *tail;
    int queued, cap, stop;
    ds_chunk *chunks;
    atomic_int failed;
    fs_status err;
    char msg[1024];
    atomic_uint_least64_t written;
} ds_pool;

static void chunk_free(ds_chunk *k)
{
    if (!k)
        return;
    for (uint64_t i = 0; i < k->n; i++) {
        free(k->lines ? k->lines[i] : NULL);
        free(k->enc ? k->enc[i] : NULL);
    }
    free(k->lines);
    free(k->line_lens);
    free(k->enc);
    free(k->enc_lens);
    free(k);
}

static void pool_fail(ds_pool *P, fs_status s)
{
    pthread_mutex_lock(&P->mu);
    if (!atomic_load(&P->failed)) {
        P->err = s;
        snprintf(P->msg, sizeof P->msg, "%s", fs_error_message());
        atomic_store(&P->failed, 1);
    }
    pthread_cond_broadcast(&P->cv_space);
    pthread_cond_broadcast(&P->cv_item);
    pthread_mutex_unlock(&P->mu);
}

/* The tar file of a complete chunk: per sample its image, .json (the
 * manifest line) and .cls (the identity). */
static fs_status write_tar(ds_pool *P, ds_chunk *k)
{
    fs_ds_run *r = P->run;
    const fs_ds_plan *p = &r->plan;
    char name[96], member[FS_TAR_NAME_MAX + 8];
    fs_ds_tar_name(p, k->c, name, sizeof name);
    char *path = path_join(r->out, name);
    if (!path)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    fs_out_file f;
    fs_status s = fs_out_file_open(path, &f);
    free(path);
    for (uint64_t i = 0; i < k->n && s == FS_OK; i++) {
        uint64_t g = k->g0 + i;
        fs_ds_image_name(p, g, member, sizeof member);
        s = fs_tar_write_member(&f, member, k->enc[i], k->enc_lens[i]);
        char *dot = strrchr(member, '.');
        if (s == FS_OK) {
            strcpy(dot, ".json");
            s = fs_tar_write_member(&f, member, k->lines[i], k->line_lens[i]);
        }
        if (s == FS_OK) {
            char cls[24];
            int n = snprintf(cls, sizeof cls, "%" PRIu64, g / p->job->per_identity);
            strcpy(dot, ".cls");
            s = fs_tar_write_member(&f, member, cls, (size_t)n);
        }
    }
    if (s == FS_OK)
        s = fs_tar_write_end(&f);
    if (s != FS_OK) {
        fs_out_file_abort(&f);
        return s;
    }
    return fs_out_file_commit(&f);
}

/* Every file of chunk k is in place: make the renames durable, then commit
 * the chunk with its manifest part. */
static fs_status commit_chunk(ds_pool *P, ds_chunk *k)
{
    fs_ds_run *r = P->run;
    const fs_ds_plan *p = &r->plan;
    char name[96];
    fs_status s = FS_OK;
    if (p->job->format == FS_DS_TAR) {
        s = write_tar(P, k);
    } else {
        uint64_t i0 = k->g0 / p->job->per_identity;
        uint64_t i1 = (k->g0 + k->n - 1) / p->job->per_identity;
        for (uint64_t i = i0; i <= i1 && s == FS_OK; i++) {
            snprintf(name, sizeof name, "%0*" PRIu64, p->id_digits, i);
            char *dir = path_join(r->out, name);
            s = dir ? fs_ds_sync_dir(dir) : fs_error(FS_ERR_NOMEM, "out of memory");
            free(dir);
        }
    }
    if (s == FS_OK)
        s = fs_ds_sync_dir(r->out); /* the tar's rename, the identity directories */
    if (s != FS_OK)
        return s;
    size_t total = 0;
    for (uint64_t i = 0; i < k->n; i++)
        total += k->line_lens[i] + 1;
    char *text = malloc(total ? total : 1), *q = text;
    if (!text)
        return fs_error(FS_ERR_NOMEM, "out of memory for a manifest part");
    for (uint64_t i = 0; i < k->n; i++) {
        memcpy(q, k->lines[i], k->line_lens[i]);
        q += k->line_lens[i];
        *q++ = '\n';
    }
    fs_ds_part_name(p, k->c, name, sizeof name);
    char *path = path_join(r->out, name);
    s = path ? fs_ds_write_file(path, text, total) : fs_error(FS_ERR_NOMEM, "out of memory");
    free(path);
    free(text);
    if (s == FS_OK)
        s = fs_ds_sync_dir(r->out);
    return s;
}

static fs_status process_item(ds_pool *P, ds_item *it)
{
    fs_ds_run *r = P->run;
    const fs_ds_plan *p = &r->plan;
    const fs_ds_job *j = p->job;
    uint8_t *enc;
    size_t enc_len;
    FS_TRY(fs_ds_encode(j->image, j->quality, it->pix, P->w, P->h, P->ch, &enc, &enc_len));
    pthread_mutex_lock(&P->mu);
    ds_chunk *k = P->chunks;
    while (k && !(it->g >= k->g0 && it->g < k->g0 + k->n))
        k = k->next;
    pthread_mutex_unlock(&P->mu);
    if (!k) {
        free(enc);
        return fs_error(FS_ERR_ARG, "dataset: image %llu has no chunk record",
                        (unsigned long long)it->g);
    }
    uint64_t i = it->g - k->g0;
    fs_status s = FS_OK;
    if (j->format == FS_DS_TAR) {
        k->enc[i] = enc; /* slot i is this thread's alone */
        k->enc_lens[i] = enc_len;
    } else {
        char name[96];
        fs_ds_image_name(p, it->g, name, sizeof name);
        char *path = path_join(r->out, name);
        if (!path) {
            free(enc);
            return fs_error(FS_ERR_NOMEM, "out of memory");
        }
        char *slash = strrchr(path, '/');
        *slash = '\0';
        s = fs_ds_mkdir(path);
        *slash = '/';
        if (s == FS_OK)
            s = fs_ds_write_file(path, enc, enc_len);
        free(path);
        free(enc);
        if (s != FS_OK)
            return s;
    }
    k->lines[i] = it->line;
    k->line_lens[i] = it->line_len;
    it->line = NULL;
    pthread_mutex_lock(&P->mu);
    int complete = --k->left == 0;
    if (complete) { /* off the active list: this thread commits it */
        ds_chunk **pp = &P->chunks;
        while (*pp != k)
            pp = &(*pp)->next;
        *pp = k->next;
    }
    pthread_mutex_unlock(&P->mu);
    atomic_fetch_add(&P->written, 1);
    if (complete) {
        s = commit_chunk(P, k);
        chunk_free(k);
    }
    return s;
}

static void item_free(ds_item *it)
{
    free(it->pix);
    free(it->line);
    free(it);
}

static void *writer_main(void *arg)
{
    ds_pool *P = arg;
    for (;;) {
        pthread_mutex_lock(&P->mu);
        while (!P->head && !P->stop)
            pthread_cond_wait(&P->cv_item, &P->mu);
        ds_item *it = P->head;
        if (!it) {
            pthread_mutex_unlock(&P->mu);
            return NULL;
        }
        P->head = it->next;
        if (!P->head)
            P->tail = NULL;
        P->queued--;
        pthread_cond_signal(&P->cv_space);
        pthread_mutex_unlock(&P->mu);
        if (!atomic_load(&P->failed)) {
            fs_status s = process_item(P, it);
            if (s != FS_OK)
                pool_fail(P, s);
        }
        item_free(it);
    }
}

/* Queues image g (takes pix and line); blocks while the queue is full. */
static fs_status pool_submit(ds_pool *P, uint64_t g, uint8_t *pix, char *line, size_t line_len)
{
    const fs_ds_plan *p = &P->run->plan;
    ds_item *it = calloc(1, sizeof *it);
    ds_chunk *k = NULL;
    if (g % p->job->chunk == 0) { /* the first image of its chunk: its record */
        k = calloc(1, sizeof *k);
        if (k) {
            k->c = g / p->job->chunk;
            fs_ds_chunk_images(p, k->c, &k->g0, &k->n);
            k->n -= k->g0;
            k->left = k->n;
            k->lines = calloc(k->n, sizeof *k->lines);
            k->line_lens = calloc(k->n, sizeof *k->line_lens);
            if (p->job->format == FS_DS_TAR) {
                k->enc = calloc(k->n, sizeof *k->enc);
                k->enc_lens = calloc(k->n, sizeof *k->enc_lens);
            }
        }
        if (!k || !k->lines || !k->line_lens ||
            (p->job->format == FS_DS_TAR && (!k->enc || !k->enc_lens))) {
            chunk_free(k);
            k = NULL;
            free(it);
            it = NULL;
        }
    }
    if (!it) {
        free(pix);
        free(line);
        return fs_error(FS_ERR_NOMEM, "out of memory for the writer queue");
    }
    it->g = g;
    it->pix = pix;
    it->line = line;
    it->line_len = line_len;
    pthread_mutex_lock(&P->mu);
    if (k) {
        k->next = P->chunks;
        P->chunks = k;
    }
    while (P->queued >= P->cap && !atomic_load(&P->failed))
        pthread_cond_wait(&P->cv_space, &P->mu);
    if (atomic_load(&P->failed)) {
        fs_status e = P->err; /* the writer's error is the one reported */
        pthread_mutex_unlock(&P->mu);
        item_free(it);
        return e;
    }
    if (P->tail)
        P->tail->next = it;
    else
        P->head = it;
    P->tail = it;
    P->queued++;
    pthread_cond_signal(&P->cv_item);
    pthread_mutex_unlock(&P->mu);
    return FS_OK;
}

/* ---- the run log ------------------------------------------------------------------ */

/* One JSON line appended with one write(): run.log is for people (when,
 * where, how fast), the one file of OUT that is not deterministic. */
static void log_line(const fs_ds_run *r, const char *event, const char *extra)
{
    char host[256] = "?", when[32] = "?", *path = path_join(r->out, LOG_NAME);
    if (!path)
        return;
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fs_ds_sb b = {0};
    fs_ds_sb_printf(&b, "{\"time\":\"%s\",\"host\":", when);
    fs_ds_sb_json_string(&b, host);
    fs_ds_sb_printf(&b, ",\"pid\":%ld,\"event\":\"%s\",\"shard\":\"%llu/%llu\"", (long)getpid(),
                    event, (unsigned long long)r->a.shard.k, (unsigned long long)r->a.shard.n);
    if (r->a.run_note) {
        fs_ds_sb_printf(&b, ",\"note\":");
        fs_ds_sb_json_string(&b, r->a.run_note);
    }
    fs_ds_sb_printf(&b, "%s}\n", extra ? extra : "");
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0 && !b.oom) {
        ssize_t w = write(fd, b.p, b.len);
        (void)w;
    }
    if (fd >= 0)
        close(fd);
    fs_ds_sb_free(&b);
    free(path);
}

/* ---- execute ---------------------------------------------------------------------- */

/* job.json: created exclusively (link of the written temporary, which fails
 * when a concurrent shard was first), or checked against the one there. */
static fs_status write_job(fs_ds_run *r)
{
    char *path = path_join(r->out, JOB_NAME);
    if (!path)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    fs_out_file f;
    fs_status s = fs_out_file_open(path, &f);
    if (s == FS_OK)
        s = fs_out_file_write(&f, r->job_text, strlen(r->job_text));
    if (s == FS_OK && (fflush(f.fp) != 0 || fsync(fileno(f.fp)) != 0))
        s = fs_error(FS_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    if (s == FS_OK && link(f.tmp_path, path) != 0) {
        if (errno == EEXIST) {
            char *text;
            size_t len;
            s = read_text(path, &text, &len);
            if (s == FS_OK) {
                s = fs_ds_job_compare(text, r->job_text, r->out);
                free(text);
            }
        } else {
            s = fs_error(FS_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        }
    }
    fs_out_file_abort(&f); /* the temporary goes; the link stays */
    free(path);
    if (s == FS_OK)
        s = fs_ds_sync_dir(r->out);
    return s;
}

typedef struct {
    const fs_ds_run *r;
    uint64_t identity; /* the directory swept (folder format) */
} sweep_ctx;

static int chunk_todo(const fs_ds_run *r, uint64_t c)
{
    return c >= r->c0 && c < r->c1 && !r->done[c - r->c0];
}

/* OUT's own files: job.json, and the parts and tars of chunks to redo. */
static int match_root(const char *name, size_t len, void *ctx)
{
    const sweep_ctx *x = ctx;
    const fs_ds_plan *p = &x->r->plan;
    if ((len == sizeof JOB_NAME - 1 && !memcmp(name, JOB_NAME, len)))
        return 1;
    int64_t c = part_chunk(p, name, len);
    if (c < 0 && p->job->format == FS_DS_TAR) {
        const char *q = name, *end = name + len;
        c = fs_ds_read_number(&q, end, p->chunk_digits);
        if (c >= 0 && !(end - q == 4 && !memcmp(q, ".tar", 4)))
            c = -1;
    }
    return c >= 0 && chunk_todo(x->r, (uint64_t)c);
}

/* An image of identity x->identity in a chunk to redo. */
static int match_image(const char *name, size_t len, void *ctx)
{
    const sweep_ctx *x = ctx;
    const fs_ds_plan *p = &x->r->plan;
    const char *q = name, *end = name + len;
    int64_t v = fs_ds_read_number(&q, end, p->var_digits);
    if (v < 0 || (uint64_t)v >= p->job->per_identity || end - q != 4 ||
        memcmp(q, p->job->image == FS_DS_JPEG ? ".jpg" : ".png", 4))
        return 0;
    uint64_t g = x->identity * p->job->per_identity + (uint64_t)v;
    return chunk_todo(x->r, g / p->job->chunk);
}

/* Removes the temporaries that dead processes left in the chunks this run
 * redoes, of any age (min_age_seconds 0): a resume owns those chunks, so what
 * a killed run of them left is garbage at once. */
static void sweep(const fs_ds_run *r)
{
    sweep_ctx x = {.r = r};
    fs_out_file_sweep_temps(r->out, match_root, &x, 0);
    /* images exist only after job.json did */
    if (r->plan.job->format != FS_DS_FOLDER || !r->job_exists)
        return;
    const fs_ds_plan *p = &r->plan;
    uint64_t last = UINT64_MAX;
    for (uint64_t c = r->c0; c < r->c1; c++) {
        if (r->done[c - r->c0])
            continue;
        uint64_t g0, g1;
        fs_ds_chunk_images(p, c, &g0, &g1);
        for (uint64_t i = g0 / p->job->per_identity; i <= (g1 - 1) / p->job->per_identity; i++) {
            if (i == last)
                continue;
            last = i;
            char name[32];
            snprintf(name, sizeof name, "%0*" PRIu64, p->id_digits, i);
            char *dir = path_join(r->out, name);
            if (!dir)
                return;
            x.identity = i;
            fs_out_file_sweep_temps(dir, match_image, &x, 0);
            free(dir);
        }
    }
}

fs_status fs_ds_run_execute(fs_ds_run *r, fs_ds_progress_fn progress, void *user)
{
    const fs_ds_run_args *a = &r->a;
    const fs_ds_plan *p = &r->plan;
    FS_TRY(fs_ds_mkdir(r->out));
    FS_TRY(write_job(r));
    sweep(r);
    char extra[160];
    snprintf(extra, sizeof extra, ",\"images\":%llu,\"todo\":%llu",
             (unsigned long long)r->shard_images, (unsigned long long)r->todo_images);
    log_line(r, "start", extra);
    double t0 = fs_progress_now();

    fs_ds_render *rd = NULL;
    fs_status s = FS_OK;
    int B = a->batch;
    if (r->todo_images)
        s = fs_ds_render_init(&rd, p, a->g, a->cvae, a->d, a->cvae_scores, B);
    ds_pool P;
    memset(&P, 0, sizeof P);
    P.run = r;
    P.cap = 2 * B > 4 * a->writers ? 2 * B : 4 * a->writers;
    pthread_mutex_init(&P.mu, NULL);
    pthread_cond_init(&P.cv_item, NULL);
    pthread_cond_init(&P.cv_space, NULL);
    pthread_t *th = calloc((size_t)a->writers, sizeof *th);
    int started = 0;
    uint64_t *idx = malloc((size_t)B * sizeof *idx);
    fs_ds_image_info *info = malloc((size_t)B * sizeof *info);
    double *scores = malloc((size_t)B * sizeof *scores);
    uint8_t *pix = NULL;
    if (s == FS_OK && rd) {
        P.w = P.h = p->job->img_res;
        P.ch = p->job->img_channels;
        if (fs_ds_render_image_bytes(rd) != (size_t)P.w * P.h * P.ch)
            s = fs_error(FS_ERR_ARG, "dataset: the network's images are not the job's %dx%dx%d",
                         P.w, P.h, P.ch);
        pix = malloc((size_t)B * fs_ds_render_image_bytes(rd));
    }
    if (s == FS_OK && (!th || !idx || !info || !scores || (rd && !pix)))
        s = fs_error(FS_ERR_NOMEM, "out of memory for a batch of %d images", B);
    for (int t = 0; t < a->writers && s == FS_OK && rd; t++) {
        if (pthread_create(&th[t], NULL, writer_main, &P) != 0)
            s = fs_error(FS_ERR_NOMEM, "cannot start writer thread %d", t);
        else
            started++;
    }
    /* the chunks to do, in order, in batches that may span chunks */
    uint64_t c = r->c0, g = 0, g_end = 0;
    size_t img_bytes = rd ? fs_ds_render_image_bytes(rd) : 0;
    while (s == FS_OK && rd) {
        int n = 0;
        while (n < B) {
            if (g == g_end) {
                while (c < r->c1 && r->done[c - r->c0])
                    c++;
                if (c >= r->c1)
                    break;
                fs_ds_chunk_images(p, c, &g, &g_end);
                c++;
            }
            idx[n++] = g++;
        }
        if (n == 0)
            break;
        if ((s = fs_ds_render_batch(rd, idx, n, pix, info, scores)) != FS_OK)
            break;
        for (int k = 0; k < n && s == FS_OK; k++) {
            char *line;
            size_t len;
            s = fs_ds_manifest_line(p, &info[k], p->job->disc_sha256[0] ? &scores[k] : NULL,
                                    &line, &len);
            uint8_t *copy = s == FS_OK ? malloc(img_bytes) : NULL;
            if (s == FS_OK && !copy) {
                free(line);
                s = fs_error(FS_ERR_NOMEM, "out of memory for the writer queue");
            }
            if (s == FS_OK) {
                memcpy(copy, pix + (size_t)k * img_bytes, img_bytes);
                s = pool_submit(&P, idx[k], copy, line, len);
            }
        }
        if (progress)
            progress(user, atomic_load(&P.written));
    }
    if (s != FS_OK && !atomic_load(&P.failed)) /* this thread's own error stops the writers */
        pool_fail(&P, s);
    pthread_mutex_lock(&P.mu);
    P.stop = 1;
    pthread_cond_broadcast(&P.cv_item);
    pthread_mutex_unlock(&P.mu);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    if (atomic_load(&P.failed)) {
        s = P.err;
        fs_error(s, "%s", P.msg);
    }
    while (P.chunks) { /* chunks a failure left incomplete */
        ds_chunk *k = P.chunks;
        P.chunks = k->next;
        chunk_free(k);
    }
    while (P.head) {
        ds_item *it = P.head;
        P.head = it->next;
        item_free(it);
    }
    pthread_mutex_destroy(&P.mu);
    pthread_cond_destroy(&P.cv_item);
    pthread_cond_destroy(&P.cv_space);
    free(th);
    free(idx);
    free(info);
    free(scores);
    free(pix);
    fs_ds_render_free(rd);
    if (progress && s == FS_OK)
        progress(user, r->todo_images);

    double dt = fs_progress_now() - t0;
    uint64_t written = atomic_load(&P.written);
    char *msg = s == FS_OK ? NULL : strdup(fs_error_message());
    fs_ds_sb b = {0};
    fs_ds_sb_printf(&b, ",\"written\":%llu,\"seconds\":%.3f,\"img_per_s\":%.3f,\"status\":",
                    (unsigned long long)written, dt, dt > 0 ? (double)written / dt : 0.0);
    fs_ds_sb_json_string(&b, s == FS_OK ? "ok" : msg ? msg : "error");
    log_line(r, "end", b.oom ? NULL : b.p);
    fs_ds_sb_free(&b);
    if (msg) {
        fs_error(s, "%s", msg);
        free(msg);
    }
    if (s == FS_OK && a->shard.n == 1) {
        int state;
        s = fs_ds_merge(r->out, &state);
    }
    return s;
}

/* ---- merge --------------------------------------------------------------------------- */

static fs_status write_labels(const char *path, const fs_ds_plan *p)
{
    const fs_ds_job *j = p->job;
    fs_out_file f;
    FS_TRY(fs_out_file_open(path, &f));
    fs_ds_sb b = {0};
    fs_status s = fs_out_file_write(&f, "{\"labels\": [\n", 13);
    char name[96];
    int mixed = 0;
    uint64_t src[2] = {0, 0};
    double phi = 1;
    for (uint64_t g = 0; g < p->total && s == FS_OK; g++) {
        uint64_t i = g / j->per_identity;
        if (g % j->per_identity == 0)
            fs_ds_identity_mixup(p, i, &mixed, src, &phi);
        b.len = 0;
        fs_ds_image_name(p, g, name, sizeof name);
        fs_ds_sb_printf(&b, "[\"%s\", ", name);
        if (j->mixup_prob > 0) {
            /* soft labels: a vector over the identities */
            float wa = (float)phi, wb = (float)(1.0 - phi);
            fs_ds_sb_put(&b, "[", 1);
            for (uint64_t q = 0; q < j->identities; q++) {
                if (q)
                    fs_ds_sb_put(&b, ",", 1);
                if (!mixed)
                    fs_ds_sb_put(&b, q == i ? "1" : "0", 1);
                else if (q == src[0])
                    fs_ds_sb_float(&b, wa);
                else if (q == src[1])
                    fs_ds_sb_float(&b, wb);
                else
                    fs_ds_sb_put(&b, "0", 1);
            }
            fs_ds_sb_put(&b, "]", 1);
        } else {
            fs_ds_sb_printf(&b, "%" PRIu64, i);
        }
        fs_ds_sb_printf(&b, "]%s\n", g + 1 < p->total ? "," : "");
        if (b.oom)
            s = fs_error(FS_ERR_NOMEM, "%s: out of memory", path);
        else
            s = fs_out_file_write(&f, b.p, b.len);
    }
    if (s == FS_OK)
        s = fs_out_file_write(&f, "]}\n", 3);
    fs_ds_sb_free(&b);
    if (s != FS_OK) {
        fs_out_file_abort(&f);
        return s;
    }
    return fs_out_file_commit(&f);
}

/* The parts, in order, into manifest.jsonl; each must hold its chunk's
 * images, one line each. */
static fs_status write_manifest(const char *out, const char *path, const fs_ds_plan *p)
{
    fs_out_file f;
    FS_TRY(fs_out_file_open(path, &f));
    fs_status s = FS_OK;
    char name[96];
    for (uint64_t c = 0; c < p->n_chunks && s == FS_OK; c++) {
        fs_ds_part_name(p, c, name, sizeof name);
        char *pp = path_join(out, name);
        fs_file_map m;
        s = pp ? fs_file_map_open(pp, &m) : fs_error(FS_ERR_NOMEM, "out of memory");
        if (s != FS_OK) {
            free(pp);
            break;
        }
        uint64_t g0, g1, lines = 0;
        fs_ds_chunk_images(p, c, &g0, &g1);
        for (size_t q = 0; q < m.size; q++)
            lines += m.data[q] == '\n';
        if (lines != g1 - g0 || (m.size && m.data[m.size - 1] != '\n'))
            s = fs_error(FS_ERR_FORMAT, "%s: %llu lines, expected %llu (the chunk's images)", pp,
                         (unsigned long long)lines, (unsigned long long)(g1 - g0));
        else
            s = fs_out_file_write(&f, m.data, m.size);
        fs_file_map_close(&m);
        free(pp);
    }
    if (s != FS_OK) {
        fs_out_file_abort(&f);
        return s;
    }
    return fs_out_file_commit(&f);
}

fs_status fs_ds_merge(const char *outdir, int *state)
{
    *state = 0;
    size_t n = strlen(outdir);
    while (n > 1 && outdir[n - 1] == '/')
        n--;
    char *out = strndup(outdir, n);
    char *jp = out ? path_join(out, JOB_NAME) : NULL;
    char *mp = out ? path_join(out, MANIFEST_NAME) : NULL;
    char *lp = out ? path_join(out, LABELS_NAME) : NULL;
    char *text = NULL;
    fs_ds_job job;
    fs_ds_plan plan;
    memset(&job, 0, sizeof job);
    memset(&plan, 0, sizeof plan);
    uint8_t *have = NULL;
    fs_status s = out && jp && mp && lp ? FS_OK : fs_error(FS_ERR_NOMEM, "out of memory");
    struct stat st;
    if (s == FS_OK && (stat(out, &st) != 0 || !S_ISDIR(st.st_mode)))
        s = fs_error(FS_ERR_IO, "%s: not a directory", out);
    if (s == FS_OK && stat(jp, &st) != 0)
        s = fs_error(FS_ERR_ARG, "%s: no job.json: not a facesynth dataset", out);
    size_t len;
    if (s == FS_OK)
        s = read_text(jp, &text, &len);
    if (s == FS_OK)
        s = fs_ds_job_parse(text, len, jp, &job);
    if (s == FS_OK)
        s = fs_ds_plan_init(&plan, &job);
    if (s == FS_OK && !(have = calloc(plan.n_chunks, 1)))
        s = fs_error(FS_ERR_NOMEM, "out of memory");
    if (s == FS_OK)
        s = scan_parts(out, &plan, 0, plan.n_chunks, have);
    uint64_t missing = 0, first = 0, present = 0;
    for (uint64_t c = 0; s == FS_OK && c < plan.n_chunks; c++) {
        if (!have[c] && !missing++)
            first = c;
        present += have[c];
    }
    int merged = s == FS_OK && file_exists(out, MANIFEST_NAME) && file_exists(out, LABELS_NAME);
    if (s == FS_OK && merged) {
        *state = 1; /* a merge that was stopped while it removed the parts */
    } else if (s == FS_OK && missing) {
        uint64_t g0, g1;
        fs_ds_chunk_images(&plan, first, &g0, &g1);
        s = fs_error(FS_ERR_ARG, "%s: %llu of %llu chunks are not done (the first is chunk "
                     "%llu, images %llu-%llu): run their shards (again, with --resume) before "
                     "merging", out, (unsigned long long)missing,
                     (unsigned long long)plan.n_chunks, (unsigned long long)first,
                     (unsigned long long)g0, (unsigned long long)(g1 - 1));
    } else if (s == FS_OK) {
        s = write_manifest(out, mp, &plan);
        if (s == FS_OK)
            s = write_labels(lp, &plan);
        if (s == FS_OK)
            s = fs_ds_sync_dir(out);
    }
    /* both merged files are in place: the parts are redundant */
    for (uint64_t c = 0; s == FS_OK && present && c < plan.n_chunks; c++) {
        if (!have[c])
            continue;
        char name[96];
        fs_ds_part_name(&plan, c, name, sizeof name);
        char *pp = path_join(out, name);
        if (pp && unlink(pp) != 0 && errno != ENOENT)
            s = fs_error(FS_ERR_IO, "%s: cannot remove: %s", pp, strerror(errno));
        free(pp);
    }
    if (s == FS_OK && present)
        s = fs_ds_sync_dir(out);
    free(have);
    fs_ds_plan_free(&plan);
    free(text);
    free(out);
    free(jp);
    free(mp);
    free(lp);
    return s;
}
