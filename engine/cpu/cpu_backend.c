/* The CPU backend: the table of backend.h filled with the float32 ops of the
 * op files of engine/cpu/, plus memory, threads, per-worker scratch and the
 * layer plans. This backend is the oracle the CUDA kernels are tested
 * against, so every op follows the official formulas literally
 * (docs/stylegan2.md §1.4-1.7, §2); speed comes from tiling, threads, plans
 * and the blocked GEMM, never from changing the math. */
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"
#include "fir_plan.h"

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

int fs_cpu_chunk(int cout, int *chunks, int rows_per_channel)
{
    int mr = fs_sgemm_mr(), g = rows_per_channel, t = mr;
    while (t) { /* gcd(rows_per_channel, MR) */
        int r = g % t;
        g = t;
        t = r;
    }
    int step = mr / g;
    int chunk = (cout + *chunks - 1) / *chunks;
    chunk = (chunk + step - 1) / step * step;
    if (chunk > cout)
        chunk = cout;
    *chunks = (cout + chunk - 1) / chunk;
    return chunk;
}

fs_status fs_cpu_plan_check(const fs_plan *p, fs_op_kind kind, int cin, int cout, int k, int h,
                            int w, int up)
{
    if (p->kind != kind || p->cin != cin || p->cout != cout || p->k != k || p->h != h ||
        p->w != w || p->up != up)
        return fs_error(FS_ERR_ARG, "cpu backend: a layer plan used for another layer (planned "
                        "op %d %dx%d k%d %dx%d up%d, called as op %d %dx%d k%d %dx%d up%d)",
                        (int)p->kind, p->cin, p->cout, p->k, p->h, p->w, p->up, (int)kind, cin,
                        cout, k, h, w, up);
    return FS_OK;
}

void fs_cpu_plan_free(fs_backend *b, fs_plan *p)
{
    if (!p)
        return;
    free(p->wmat);
    free(p->packed);
    fs_cpu_fir_free(p->fir);
    free(p);
}

fs_status fs_cpu_plan(fs_backend *b, fs_op_kind kind, const void *args, fs_plan **out)
{
    *out = NULL;
    fs_plan *p = calloc(1, sizeof *p);
    if (!p)
        return fs_error(FS_ERR_NOMEM, "cpu backend: out of memory for a layer plan");
    p->kind = kind;
    fs_status s;
    switch (kind) {
    case FS_OP_FC: s = fs_cpu_fc_plan(args, p); break;
    case FS_OP_MODCONV: s = fs_cpu_modconv_plan(args, p); break;
    case FS_OP_CONV2D: s = fs_cpu_conv2d_plan(args, p); break;
    case FS_OP_CONV_TRANSPOSE2D: s = fs_cpu_conv_transpose2d_plan(args, p); break;
    case FS_OP_UPFIRDN2D: s = fs_cpu_upfirdn2d_plan(args, p); break;
    case FS_OP_STYLES: s = fs_cpu_styles_plan(args, p); break;
    default: s = fs_error(FS_ERR_ARG, "cpu backend: no plan for op %d", (int)kind); break;
    }
    if (s != FS_OK) {
        fs_cpu_plan_free(b, p);
        return s;
    }
    *out = p;
    return FS_OK;
}

/* Floats, row by row: the broadcast and placement copies of the models. */
static fs_status cpu_copy_rows(fs_backend *b, float *dst, size_t ldd, const float *src,
                               size_t lds, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++)
        memcpy(dst + r * ldd, src + r * lds, cols * sizeof *dst);
    return FS_OK;
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

/* ---- the host path (backend.h): trivial on the CPU -------------------------- */

/* Every CPU buffer is host memory already: "pinned" memory is the aligned
 * kind alloc makes. */
static void *cpu_alloc_host(fs_backend *b, size_t bytes) { return cpu_alloc(b, bytes); }

static void cpu_release_host(fs_backend *b, void *p) { free(p); }

/* The CPU's scratch is per worker and sized by the ops' tiles, not by the
 * batch: nothing to reserve. */
static fs_status cpu_reserve(fs_backend *b, int max_batch)
{
    if (max_batch < 1)
        return fs_error(FS_ERR_ARG, "cpu backend: reserve for a batch of %d", max_batch);
    return FS_OK;
}

/* No graphs: ops run as they are called, so callers run them directly. */
static fs_status cpu_capture_begin(fs_backend *b)
{
    return fs_error(FS_ERR_UNSUPPORTED, "cpu backend: no graph capture (run the ops directly)");
}

static fs_status cpu_capture_end(fs_backend *b, fs_graph **out)
{
    *out = NULL;
    return fs_error(FS_ERR_UNSUPPORTED, "cpu backend: no graph capture");
}

static fs_status cpu_graph_launch(fs_backend *b, fs_graph *g)
{
    return fs_error(FS_ERR_UNSUPPORTED, "cpu backend: no graphs to launch");
}

static void cpu_graph_free(fs_backend *b, fs_graph *g) {}

/* Ops finish before they return, so a fence has nothing to wait for; it is
 * still a distinct allocation, so callers can treat it like any other. */
static fs_status cpu_fence_create(fs_backend *b, fs_fence **out)
{
    *out = calloc(1, 1);
    return *out ? FS_OK : fs_error(FS_ERR_NOMEM, "cpu backend: out of memory for a fence");
}

static void cpu_fence_free(fs_backend *b, fs_fence *f) { free(f); }

static fs_status cpu_download_async(fs_backend *b, void *dst, const void *src, size_t bytes,
                                    fs_fence *f)
{
    if (bytes)
        memcpy(dst, src, bytes);
    return FS_OK;
}

static fs_status cpu_fence_noop(fs_backend *b, fs_fence *f) { return FS_OK; }

/* fp16 / bf16: every layer in that format; mixed: the official fp16 layers
 * in fp16, the rest in fp32 (the CUDA v2 backend's choice, emulated). */
static fs_feat_format cpu_feature_format(fs_backend *b, int fp16_layer)
{
    switch (fs_cpu_of(b)->precision) {
    case 2: return FS_FEAT_F16_NHWC;
    case 3: return FS_FEAT_BF16_NHWC;
    case 4: return fp16_layer ? FS_FEAT_F16_NHWC : FS_FEAT_F32_NCHW;
    default: return FS_FEAT_F32_NCHW;
    }
}

static const fs_backend_ops cpu_ops = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .release = cpu_release,
    .upload = cpu_copy,
    .download = cpu_copy,
    .plan = fs_cpu_plan,
    .plan_free = fs_cpu_plan_free,
    .copy_rows = cpu_copy_rows,
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
    .channel_affine = fs_cpu_channel_affine,
    .se_residual = fs_cpu_se_residual,
    .upsample_add = fs_cpu_upsample_add,
    .max_feature_map = fs_cpu_max_feature_map,
    .max_pool2d = fs_cpu_max_pool2d,
    .adaptive_avg_pool2d = fs_cpu_adaptive_avg_pool2d,
    .blend = fs_cpu_blend,
    .feature_format = cpu_feature_format,
    .styles = fs_cpu_styles,
    .torgb = fs_cpu_torgb,
    .convert_features = fs_cpu_convert_features,
    .alloc_host = cpu_alloc_host,
    .release_host = cpu_release_host,
    .reserve = cpu_reserve,
    .capture_begin = cpu_capture_begin,
    .capture_end = cpu_capture_end,
    .graph_launch = cpu_graph_launch,
    .graph_free = cpu_graph_free,
    .fence_create = cpu_fence_create,
    .fence_free = cpu_fence_free,
    .download_async = cpu_download_async,
    .fence_order = cpu_fence_noop,
    .fence_wait = cpu_fence_noop,
};

fs_status fs_backend_cpu_init(fs_backend **out, int threads)
{
    return fs_backend_cpu_init_ex(out, threads, 0);
}

fs_status fs_backend_cpu_init_ex(fs_backend **out, int threads, int precision)
{
    *out = NULL;
    if (precision != 0 && precision != 2 && precision != 3 && precision != 4)
        return fs_error(FS_ERR_ARG, "cpu backend: precision %d cannot be emulated (fp32, fp16, "
                        "bf16 or mixed)", precision);
    fs_backend *b = calloc(1, sizeof *b);
    fs_cpu *m = calloc(1, sizeof *m);
    if (!b || !m) {
        free(b);
        free(m);
        return fs_error(FS_ERR_NOMEM, "cpu backend: out of memory");
    }
    b->ops = &cpu_ops;
    b->impl = m;
    m->precision = precision;
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
