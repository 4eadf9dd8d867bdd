/* The CPU backend: the table of backend.h filled with the float32 ops of the
 * cpu_*.c files, plus memory, threads and per-worker scratch. This backend is
 * the oracle the CUDA kernels are tested against, so every op follows the
 * official formulas literally (research/stylegan2.md §1.4-1.7, §2); speed
 * comes from tiling, threads and the blocked GEMM, never from changing the math. */
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

static void *cpu_alloc(fs_backend *b, size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p)
        fs_error(FS_ERR_NOMEM, "cpu backend: cannot allocate %zu bytes", bytes);
    return p;
}

static void cpu_release(fs_backend *b, void *p) { free(p); }

static fs_status cpu_copy(fs_backend *b, void *dst, const void *src, size_t bytes)
{
    memcpy(dst, src, bytes);
    return FS_OK;
}

static fs_status cpu_sync(fs_backend *b) { return FS_OK; }

fs_status fs_cpu_ensure_col(fs_cpu *m, size_t floats)
{
    if (floats <= m->col_cap)
        return FS_OK;
    for (int t = 0; t < m->threads; t++) {
        free(m->col[t]);
        m->col[t] = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
        if (!m->col[t]) {
            m->col_cap = 0;
            return fs_error(FS_ERR_NOMEM, "cpu backend: cannot allocate %zu-float conv tiles",
                            floats);
        }
    }
    m->col_cap = floats;
    return FS_OK;
}

int fs_cpu_tile_rows(long floats_per_row, int h)
{
    long rows = (1L << 20) / (floats_per_row > 0 ? floats_per_row : 1);
    if (rows < 1)
        rows = 1;
    return rows > h ? h : (int)rows;
}

int fs_cpu_channel_chunks(const fs_cpu *m, int tasks, int cout, int align)
{
    int want = 4 * m->threads;
    if (tasks >= want || cout < 2 * align)
        return 1;
    int chunks = (want + tasks - 1) / tasks;
    if (chunks > cout / align)
        chunks = cout / align;
    return chunks < 1 ? 1 : chunks;
}

static void cpu_destroy(fs_backend *b)
{
    fs_cpu *m = fs_cpu_of(b);
    if (m) {
        for (int t = 0; t < m->threads; t++) {
            if (m->scratch)
                free(m->scratch[t]);
            if (m->col)
                free(m->col[t]);
        }
        free(m->scratch);
        free(m->col);
        fs_pool_free(m->pool);
        free(m);
    }
    free(b);
}

static const fs_backend_ops cpu_ops = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .release = cpu_release,
    .upload = cpu_copy,
    .download = cpu_copy,
    .fc = fs_cpu_fc,
    .normalize_2nd_moment = fs_cpu_normalize,
    .lerp_rows = fs_cpu_lerp_rows,
    .modconv = fs_cpu_modconv,
    .conv2d = fs_cpu_conv2d,
    .upfirdn2d = fs_cpu_upfirdn2d,
    .bias_act = fs_cpu_bias_act,
    .axpby = fs_cpu_axpby,
    .mbstd = fs_cpu_mbstd,
    .project = fs_cpu_project,
    .conv_transpose2d = fs_cpu_conv_transpose2d,
    .instance_norm = fs_cpu_instance_norm,
    .avg_pool2d = fs_cpu_avg_pool2d,
    .synchronize = cpu_sync,
    .to_uint8 = fs_cpu_to_uint8,
};

fs_status fs_backend_cpu_init(fs_backend **out, int threads)
{
    *out = NULL;
    fs_backend *b = calloc(1, sizeof *b);
    fs_cpu *m = calloc(1, sizeof *m);
    if (!b || !m) {
        free(b);
        free(m);
        return fs_error(FS_ERR_NOMEM, "cpu backend: out of memory");
    }
    b->ops = &cpu_ops;
    b->impl = m;
    fs_status s = fs_pool_init(&m->pool, threads);
    if (s != FS_OK) {
        free(m);
        free(b);
        return s;
    }
    m->threads = fs_pool_size(m->pool);
    m->scratch = calloc((size_t)m->threads, sizeof *m->scratch);
    m->col = calloc((size_t)m->threads, sizeof *m->col);
    if (!m->scratch || !m->col) {
        cpu_destroy(b);
        return fs_error(FS_ERR_NOMEM, "cpu backend: out of memory");
    }
    for (int t = 0; t < m->threads; t++) {
        m->scratch[t] = aligned_alloc(64, (fs_sgemm_scratch_floats() * sizeof(float) + 63) / 64 * 64);
        if (!m->scratch[t]) {
            cpu_destroy(b);
            return fs_error(FS_ERR_NOMEM, "cpu backend: out of memory");
        }
    }
    *out = b;
    return FS_OK;
}

void fs_backend_free(fs_backend *b)
{
    if (b)
        b->ops->destroy(b);
}
