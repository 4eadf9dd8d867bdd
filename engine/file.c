/* mmap'd inputs and write-to-temp-then-rename outputs (see file.h). */
#define _GNU_SOURCE
#include "file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

fs_status fs_file_map_open(const char *path, fs_file_map *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fs_error(FS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fs_error(FS_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fs_error(FS_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return FS_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return fs_error(FS_ERR_IO, "%s: cannot map: %s", path, strerror(e));
    /* Parsers walk checkpoints front to back once. */
    madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
    out->data = p;
    out->size = (size_t)st.st_size;
    out->mapped = 1;
    return FS_OK;
}

void fs_file_map_close(fs_file_map *m)
{
    if (m->data) {
        if (m->mapped)
            munmap((void *)m->data, m->size);
        else
            free((void *)m->data);
    }
    memset(m, 0, sizeof *m);
}

/* ---- the registry of live temporaries ------------------------------------
 *
 * A signal may arrive on any thread, at any point, also while another thread
 * registers or releases a slot, so the handler cannot follow pointers to heap
 * memory (freed under it) or take locks. Each slot holds its own copy of the
 * path and a sequence counter (a seqlock): a writer makes it odd before it
 * changes the path and even after; the handler copies the path and uses the
 * copy only if the counter was even and unchanged across the copy and the
 * slot was live throughout. A slot is LIVE from before the temporary is
 * created until after it was renamed or unlinked, so no temporary exists
 * outside the registry; an unlink of one that is already gone fails
 * harmlessly with ENOENT. */

enum { SLOT_FREE, SLOT_CLAIMED, SLOT_LIVE };

typedef struct {
    atomic_int state;
    atomic_uint seq;
    volatile char path[FS_OUT_FILE_PATH_MAX];
} tmp_slot;

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal handler needs lock-free atomics");

static tmp_slot tmp_slots[FS_OUT_FILE_MAX_OPEN];

/* Claims a slot for path: 1 + its index (0 stays "none", so a zeroed
 * fs_out_file releases nothing), or 0 when all are taken. */
static int registry_add(const char *path)
{
    size_t n = strlen(path);
    if (n >= FS_OUT_FILE_PATH_MAX)
        return 0;
    for (int i = 0; i < FS_OUT_FILE_MAX_OPEN; i++) {
        int expect = SLOT_FREE;
        if (!atomic_compare_exchange_strong(&tmp_slots[i].state, &expect, SLOT_CLAIMED))
            continue;
        tmp_slot *t = &tmp_slots[i];
        atomic_fetch_add(&t->seq, 1); /* odd: the path is changing */
        for (size_t k = 0; k <= n; k++)
            t->path[k] = path[k];
        atomic_fetch_add(&t->seq, 1);
        atomic_store(&t->state, SLOT_LIVE);
        return i + 1;
    }
    return 0;
}

static void registry_release(int slot)
{
    if (slot > 0 && slot <= FS_OUT_FILE_MAX_OPEN)
        atomic_store(&tmp_slots[slot - 1].state, SLOT_FREE);
}

void fs_out_file_remove_temps(void)
{
    char p[FS_OUT_FILE_PATH_MAX];
    for (int i = 0; i < FS_OUT_FILE_MAX_OPEN; i++) {
        tmp_slot *t = &tmp_slots[i];
        if (atomic_load(&t->state) != SLOT_LIVE)
            continue;
        unsigned s1 = atomic_load(&t->seq);
        if (s1 & 1u)
            continue;
        size_t k = 0;
        while (k + 1 < sizeof p && (p[k] = t->path[k]) != '\0')
            k++;
        p[k] = '\0';
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load(&t->seq) != s1 || atomic_load(&t->state) != SLOT_LIVE)
            continue; /* released or reused while we copied */
        unlink(p);
    }
}

/* ---- output files ---------------------------------------------------------- */

fs_status fs_out_file_open(const char *path, fs_out_file *out)
{
    memset(out, 0, sizeof *out);
    size_t n = strlen(path);
    out->final_path = strdup(path);
    out->tmp_path = malloc(n + 32);
    if (!out->final_path || !out->tmp_path) {
        fs_out_file_abort(out);
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(out->tmp_path, n + 32, "%s.tmp.%ld", path, (long)getpid());
    /* Registered before it exists: a signal between open and registration
     * would otherwise leave it behind. */
    out->slot = registry_add(out->tmp_path);
    if (out->slot == 0) {
        int too_long = strlen(out->tmp_path) >= FS_OUT_FILE_PATH_MAX;
        free(out->tmp_path);
        out->tmp_path = NULL;
        fs_out_file_abort(out);
        return too_long ? fs_error(FS_ERR_LIMIT, "%s: path too long (more than %d bytes)", path,
                                   FS_OUT_FILE_PATH_MAX - 32)
                        : fs_error(FS_ERR_LIMIT, "%s: more than %d output files open at once",
                                   path, FS_OUT_FILE_MAX_OPEN);
    }
    int fd = open(out->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fs_status s = fs_error(FS_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        free(out->tmp_path);
        out->tmp_path = NULL; /* nothing to unlink */
        fs_out_file_abort(out);
        return s;
    }
    out->fp = fdopen(fd, "wb");
    if (!out->fp) {
        close(fd);
        fs_out_file_abort(out);
        return fs_error(FS_ERR_IO, "%s: cannot open stream", path);
    }
    setvbuf(out->fp, NULL, _IOFBF, 1 << 20);
    return FS_OK;
}

fs_status fs_out_file_write(fs_out_file *f, const void *buf, size_t n)
{
    if (n == 0)
        return FS_OK;
    if (fwrite(buf, 1, n, f->fp) != n)
        return fs_error(FS_ERR_IO, "%s: write failed: %s", f->final_path, strerror(errno));
    f->written += n;
    return FS_OK;
}

fs_status fs_out_file_pad(fs_out_file *f, size_t n)
{
    static const uint8_t zeros[4096];
    while (n > 0) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        FS_TRY(fs_out_file_write(f, zeros, k));
        n -= k;
    }
    return FS_OK;
}

fs_status fs_out_file_commit(fs_out_file *f)
{
    fs_status s = FS_OK;
    if (fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0)
        s = fs_error(FS_ERR_IO, "%s: write failed: %s", f->final_path, strerror(errno));
    if (fclose(f->fp) != 0 && s == FS_OK)
        s = fs_error(FS_ERR_IO, "%s: close failed: %s", f->final_path, strerror(errno));
    f->fp = NULL;
    if (s == FS_OK && rename(f->tmp_path, f->final_path) != 0)
        s = fs_error(FS_ERR_IO, "%s: cannot rename into place: %s", f->final_path, strerror(errno));
    if (s != FS_OK) {
        fs_out_file_abort(f);
        return s;
    }
    registry_release(f->slot); /* after the rename: the temporary is gone */
    free(f->tmp_path);
    free(f->final_path);
    memset(f, 0, sizeof *f);
    return FS_OK;
}

void fs_out_file_abort(fs_out_file *f)
{
    if (f->fp)
        fclose(f->fp);
    if (f->tmp_path)
        unlink(f->tmp_path);
    registry_release(f->slot);
    free(f->tmp_path);
    free(f->final_path);
    memset(f, 0, sizeof *f);
}

/* ---- stale temporaries ------------------------------------------------------ */

size_t fs_out_file_parse_tmp_name(const char *entry, long *pid)
{
    const char *tag = NULL;
    for (const char *p = strstr(entry, ".tmp."); p; p = strstr(p + 1, ".tmp."))
        tag = p; /* the last one: NAME may itself contain ".tmp." */
    if (!tag || tag == entry)
        return 0;
    const char *d = tag + 5;
    size_t nd = strlen(d);
    if (nd == 0 || nd > 10 || d[0] == '0')
        return 0;
    long v = 0;
    for (size_t k = 0; k < nd; k++) {
        if (d[k] < '0' || d[k] > '9')
            return 0;
        v = v * 10 + (d[k] - '0');
    }
    if (v <= 0 || v > INT_MAX)
        return 0;
    *pid = v;
    return (size_t)(tag - entry);
}

unsigned fs_out_file_sweep_temps(const char *dir, fs_out_name_match match, void *ctx,
                                 int min_age_seconds)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return 0;
    int dfd = dirfd(dp);
    long self = (long)getpid();
    time_t now = time(NULL);
    uid_t uid = geteuid();
    unsigned removed = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        long pid;
        size_t n = fs_out_file_parse_tmp_name(e->d_name, &pid);
        if (n == 0 || pid == self || !match(e->d_name, n, ctx))
            continue;
        struct stat st;
        if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            st.st_uid != uid || (min_age_seconds > 0 && now - st.st_mtime < min_age_seconds))
            continue;
        /* Last, right before the unlink: the pid is gone. */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        if (unlinkat(dfd, e->d_name, 0) == 0)
            removed++;
    }
    closedir(dp);
    return removed;
}

unsigned fs_out_file_clean_stale(const char *dir, fs_out_name_match match, void *ctx)
{
    return fs_out_file_sweep_temps(dir, match, ctx, FS_OUT_FILE_STALE_SECONDS);
}

typedef struct {
    const char *name;
    size_t len;
} exact_name;

static int match_exact(const char *name, size_t len, void *ctx)
{
    const exact_name *x = ctx;
    return len == x->len && memcmp(name, x->name, len) == 0;
}

unsigned fs_out_file_clean_stale_path(const char *path)
{
    const char *slash = strrchr(path, '/');
    exact_name x = {slash ? slash + 1 : path, 0};
    x.len = strlen(x.name);
    if (x.len == 0)
        return 0;
    if (!slash)
        return fs_out_file_clean_stale(".", match_exact, &x);
    size_t dl = slash == path ? 1 : (size_t)(slash - path); /* "/x" is in "/" */
    char *dir = malloc(dl + 1);
    if (!dir)
        return 0;
    memcpy(dir, path, dl);
    dir[dl] = '\0';
    unsigned r = fs_out_file_clean_stale(dir, match_exact, &x);
    free(dir);
    return r;
}
