/* mmap'd inputs and write-to-temp-then-rename outputs (see file.h). */
#define _GNU_SOURCE
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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
    free(f->tmp_path);
    free(f->final_path);
    memset(f, 0, sizeof *f);
}
