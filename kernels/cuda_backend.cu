/* The CUDA backend's ops table, memory and lifetime (see cuda_backend.h).
 *
 * One non-blocking stream per backend: every op launches on it, so ops run in
 * the order the model code calls them and reuse of the scratch buffer between
 * ops is safe without extra synchronisation. upload is an async copy (from
 * pageable memory the runtime stages the source before returning, so the
 * caller may free it at once); download waits for the stream, since the host
 * reads the result next. The host path (docs/cuda_host_path.md) lives here
 * too: pinned host memory, the scratch reservation, graph capture and the
 * second stream of download_async with its fences. The backend keeps no
 * global mutable state: everything is in its cuda_impl, so backends on
 * different threads never share anything but the device (cuda_backend.h).
 * copy_rows lives here with the other memory ops;
 * the compute ops live in one file per family, named as their CPU partners
 * in engine/cpu/ (docs/ops.md): fc.cu, latent.cu, modconv.cu, conv2d.cu,
 * upfirdn2d.cu, bias_act.cu, d_epilogue.cu, norm_pool.cu, to_uint8.cu,
 * channel_affine.cu, se_residual.cu, upsample_add.cu, max_feature_map.cu,
 * max_pool2d.cu, adaptive_avg_pool2d.cu, blend.cu. */
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"
#include "cuda_common.cuh"
#include "cuda_plan.cuh"

fs_status cuda_enter(fs_backend *b)
{
    /* cudaGetDevice is a pure per-thread query: set the device only when it
     * differs (inside a graph capture too, where fewer calls are better) */
    int cur = -1, want = cuda_impl_of(b)->device;
    if (cudaGetDevice(&cur) == cudaSuccess && cur == want)
        return FS_OK;
    cudaGetLastError();
    CUDA_CHECK(cudaSetDevice(want));
    return FS_OK;
}

fs_status cuda_capturing(fs_backend *b, int *capturing)
{
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    CUDA_CHECK(cudaStreamIsCapturing(cuda_impl_of(b)->stream, &st));
    *capturing = st != cudaStreamCaptureStatusNone; /* invalidated: still in capture mode */
    return FS_OK;
}

fs_status cuda_device_limits(fs_backend *b, int *sms, int *smem_optin)
{
    cuda_impl *m = cuda_impl_of(b);
    if (!m->sms) {
        int s = 0, most = 0;
        CUDA_CHECK(cudaDeviceGetAttribute(&s, cudaDevAttrMultiProcessorCount, m->device));
        CUDA_CHECK(cudaDeviceGetAttribute(&most, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                                          m->device));
        m->smem_optin = most;
        m->sms = s;
    }
    if (sms)
        *sms = m->sms;
    if (smem_optin)
        *smem_optin = m->smem_optin;
    return FS_OK;
}

/* Replaces the scratch by one of at least `bytes` (the caller checked that
 * it may). cudaFree waits for the device, so queued work on the old buffer
 * completes first. */
static fs_status scratch_grow(fs_backend *b, size_t bytes)
{
    cuda_impl *m = cuda_impl_of(b);
    m->scratch_epoch++; /* graphs captured before point at the old buffer */
    if (m->scratch) {
        CUDA_CHECK(cudaFree(m->scratch));
        m->scratch = NULL;
        m->scratch_bytes = 0;
    }
    size_t want = cuda_align(bytes);
    cudaError_t e = cudaMalloc(&m->scratch, want);
    if (e != cudaSuccess) {
        m->scratch = NULL;
        cudaGetLastError();
        return fs_error(FS_ERR_NOMEM, "cuda backend: cannot allocate %zu bytes of scratch: %s",
                        want, cudaGetErrorString(e));
    }
    m->scratch_bytes = want;
    return FS_OK;
}

fs_status cuda_scratch_for(fs_backend *b, size_t bytes, const char *op, void **out)
{
    cuda_impl *m = cuda_impl_of(b);
    if (bytes > m->scratch_bytes) {
        int capturing = 0;
        FS_TRY(cuda_capturing(b, &capturing));
        if (capturing)
            return fs_error(FS_ERR_LIMIT, "cuda %s: needs %zu bytes of scratch inside a graph "
                            "capture, which cannot allocate (%zu there): reserve the batch "
                            "before capturing", op, bytes, m->scratch_bytes);
        if (m->scratch_fixed)
            return fs_error(FS_ERR_LIMIT, "cuda %s: needs %zu bytes of scratch, %zu reserved for "
                            "batches of up to %d: reserve a larger batch, or reserve again "
                            "after planning this layer (growing mid-forward would synchronise "
                            "the device)", op, bytes, m->scratch_bytes, m->reserved_batch);
        FS_TRY(scratch_grow(b, bytes));
    }
    *out = m->scratch;
    return FS_OK;
}

/* ---- memory ------------------------------------------------------------------------ */

static void *cuda_alloc(fs_backend *b, size_t bytes)
{
    if (cuda_enter(b) != FS_OK)
        return NULL;
    int capturing = 0;
    if (cuda_capturing(b, &capturing) != FS_OK)
        return NULL;
    if (capturing) {
        fs_error(FS_ERR_ARG, "cuda backend: allocation of %zu bytes inside a graph capture "
                 "(allocate before capture_begin)", bytes);
        return NULL;
    }
    void *p = NULL;
    /* never 0 bytes: callers read NULL as failure */
    cudaError_t e = cudaMalloc(&p, cuda_align(bytes ? bytes : 1));
    if (e != cudaSuccess) {
        cudaGetLastError(); /* out-of-memory is not sticky: keep the context usable */
        fs_error(FS_ERR_NOMEM, "cuda backend: cannot allocate %zu bytes: %s", bytes,
                 cudaGetErrorString(e));
        return NULL;
    }
    return p;
}

static void cuda_release(fs_backend *b, void *p)
{
    if (!p || cuda_enter(b) != FS_OK)
        return;
    if (cudaFree(p) != cudaSuccess)
        cudaGetLastError(); /* void interface: a later call reports a broken context */
}

cudaMemoryType cuda_pointer_type(const void *p)
{
    /* a pure query, but made in relaxed capture mode: inside a capture the
     * runtime may count driver queries as "potentially unsafe" calls, which
     * would fail and invalidate the capture */
    cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
    int swapped = cudaThreadExchangeStreamCaptureMode(&mode) == cudaSuccess;
    cudaPointerAttributes attr;
    cudaError_t e = cudaPointerGetAttributes(&attr, p);
    if (swapped)
        cudaThreadExchangeStreamCaptureMode(&mode); /* the previous mode back */
    if (e != cudaSuccess) {
        cudaGetLastError(); /* older runtimes flag plain host pointers as an error */
        return cudaMemoryTypeUnregistered;
    }
    return attr.type;
}

/* 1 if p is page-locked host memory (alloc_host's or registered). */
static int host_is_pinned(const void *p) { return cuda_pointer_type(p) == cudaMemoryTypeHost; }

/* A captured upload reads its source at every replay, so only pinned memory
 * (whose lifetime the caller manages with the graph's) may be captured; the
 * runtime refuses pageable copies in a capture anyway, with a vaguer error. */
static fs_status capture_check_host(fs_backend *b, const void *host, const char *what)
{
    int capturing = 0;
    FS_TRY(cuda_capturing(b, &capturing));
    if (capturing && !host_is_pinned(host))
        return fs_error(FS_ERR_ARG, "cuda backend: %s of pageable host memory inside a graph "
                        "capture (stage it in alloc_host memory)", what);
    return FS_OK;
}

static fs_status cuda_upload(fs_backend *b, void *dst, const void *src, size_t bytes)
{
    FS_TRY(cuda_enter(b));
    if (bytes == 0)
        return FS_OK;
    FS_TRY(capture_check_host(b, src, "upload"));
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cuda_impl_of(b)->stream));
    return FS_OK;
}

/* Synchronising calls refuse a capture in progress with a message of their
 * own (the runtime would invalidate the capture with a generic one). */
static fs_status capture_refuse(fs_backend *b, const char *what)
{
    int capturing = 0;
    FS_TRY(cuda_capturing(b, &capturing));
    if (capturing)
        return fs_error(FS_ERR_ARG, "cuda backend: %s inside a graph capture (it waits for the "
                        "stream; use download_async and a fence outside the capture)", what);
    return FS_OK;
}

static fs_status cuda_download(fs_backend *b, void *dst, const void *src, size_t bytes)
{
    FS_TRY(cuda_enter(b));
    FS_TRY(capture_refuse(b, "download"));
    cudaStream_t s = cuda_impl_of(b)->stream;
    if (bytes)
        CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
    return FS_OK;
}

/* copy_rows: one element per thread, grid-stride. lds may be 0 (one source
 * row repeated), which cudaMemcpy2D does not allow. Tiny on every call path
 * (w to num_ws rows, the constant to n samples): latency-bound. */
__global__ void copy_rows_kernel1(float *__restrict__ dst, size_t ldd, const float *__restrict__ src,
                                  size_t lds, size_t rows, size_t cols)
{
    size_t total = rows * cols;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t r = i / cols, c = i % cols;
        dst[r * ldd + c] = src[r * lds + c];
    }
}

static fs_status cuda_copy_rows(fs_backend *b, float *dst, size_t ldd, const float *src,
                                size_t lds, size_t rows, size_t cols)
{
    if (rows == 0 || cols == 0)
        return FS_OK;
    FS_TRY(cuda_enter(b));
    copy_rows_kernel1<<<cuda_blocks(rows * cols, 256), 256, 0, cuda_impl_of(b)->stream>>>(
        dst, ldd, src, lds, rows, cols);
    CUDA_CHECK_LAUNCH("copy_rows_kernel1");
    return FS_OK;
}

static fs_status cuda_synchronize(fs_backend *b)
{
    FS_TRY(cuda_enter(b));
    FS_TRY(capture_refuse(b, "synchronize"));
    CUDA_CHECK(cudaStreamSynchronize(cuda_impl_of(b)->stream));
    return FS_OK;
}

static void cuda_destroy(fs_backend *b)
{
    cuda_impl *m = cuda_impl_of(b);
    if (m) {
        if (cudaSetDevice(m->device) == cudaSuccess) {
            if (m->stream) {
                /* a capture left open (a caller's error path) must end first */
                cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
                if (cudaStreamIsCapturing(m->stream, &st) == cudaSuccess &&
                    st != cudaStreamCaptureStatusNone) {
                    cudaGraph_t g = NULL;
                    if (cudaStreamEndCapture(m->stream, &g) == cudaSuccess && g)
                        cudaGraphDestroy(g);
                }
                cudaStreamSynchronize(m->stream);
            }
            if (m->copy_stream)
                cudaStreamSynchronize(m->copy_stream);
            if (m->scratch)
                cudaFree(m->scratch);
            if (m->queued)
                cudaEventDestroy(m->queued);
            if (m->copy_stream)
                cudaStreamDestroy(m->copy_stream);
            if (m->stream)
                cudaStreamDestroy(m->stream);
        }
        cudaGetLastError();
        free(m->shapes);
        free(m);
    }
    free(b);
}

/* ---- the host path ------------------------------------------------------------------ */

/* Layers that use scratch are remembered at plan time (once per distinct
 * shape), so that reserve can bound the scratch of a whole forward. */
static fs_status remember_shape(fs_backend *b, const cuda_layer_shape *l)
{
    cuda_impl *m = cuda_impl_of(b);
    for (int i = 0; i < m->n_shapes; i++)
        if (memcmp(&m->shapes[i], l, sizeof *l) == 0)
            return FS_OK;
    if (m->n_shapes == m->cap_shapes) {
        int cap = m->cap_shapes ? 2 * m->cap_shapes : 32;
        cuda_layer_shape *p = (cuda_layer_shape *)realloc(m->shapes, (size_t)cap * sizeof *p);
        if (!p)
            return fs_error(FS_ERR_NOMEM, "cuda backend: out of memory for a layer shape");
        m->shapes = p;
        m->cap_shapes = cap;
    }
    m->shapes[m->n_shapes++] = *l;
    return FS_OK;
}

static fs_status cuda_plan_op(fs_backend *b, fs_op_kind kind, const void *args, fs_plan **out)
{
    FS_TRY(cuda_plan(b, kind, args, out));
    cuda_layer_shape l;
    memset(&l, 0, sizeof l); /* compared bytewise: no stray padding */
    if (kind == FS_OP_MODCONV) {
        const fs_modconv_args *a = (const fs_modconv_args *)args;
        l.kind = kind;
        l.cin = a->cin;
        l.cout = a->cout;
        l.h = a->h;
        l.w = a->w;
        l.k = a->k;
        l.up = a->up;
        l.demodulate = a->demodulate;
        l.fp16 = a->fp16;
        l.fmt = (int)a->fmt;
    } else if (kind == FS_OP_STYLES) {
        /* what styles.cu's bound reads of the plan, copied: the plan may be
         * freed before a later reserve */
        const fs_plan *p = *out;
        if (!p)
            return FS_OK; /* nothing planned, nothing to bound: the op refuses captures */
        l.kind = kind;
        l.cin = p->n_layers;
        l.cout = p->n_demod;
        l.s2_end = p->s2_end;
    } else if (kind == FS_OP_CONV2D && ((const fs_conv2d_args *)args)->down == 2) {
        const fs_conv2d_args *a = (const fs_conv2d_args *)args;
        l.kind = kind;
        l.cin = a->cin;
        l.cout = a->cout;
        l.h = a->h;
        l.w = a->w;
        l.k = a->k;
        l.fir_len = a->fir_len;
    } else {
        return FS_OK;
    }
    fs_status s = remember_shape(b, &l);
    if (s != FS_OK) {
        cuda_plan_free(b, *out);
        *out = NULL;
    }
    return s;
}

static fs_status cuda_reserve(fs_backend *b, int max_batch)
{
    if (max_batch < 1)
        return fs_error(FS_ERR_ARG, "cuda backend: reserve for a batch of %d", max_batch);
    FS_TRY(cuda_enter(b));
    FS_TRY(capture_refuse(b, "reserve"));
    cuda_impl *m = cuda_impl_of(b);
    int n = max_batch > m->reserved_batch ? max_batch : m->reserved_batch;
    size_t need = 1;
    for (int i = 0; i < m->n_shapes; i++) {
        const cuda_layer_shape *l = &m->shapes[i];
        size_t v = 0;
        if (l->kind == FS_OP_MODCONV) {
            /* v1 bounds the float32 format, v2 the 16-bit ones (0 for the other) */
            size_t v1 = cuda_modconv_scratch_bound(b, l, n);
            size_t v2 = cuda_modconv_v2_scratch_bound(l, n);
            v = v1 > v2 ? v1 : v2;
        } else if (l->kind == FS_OP_STYLES) {
            fs_plan p;
            memset(&p, 0, sizeof p);
            p.kind = FS_OP_STYLES;
            p.n_layers = l->cin;
            p.n_demod = l->cout;
            p.s2_end = l->s2_end;
            v = cuda_styles_scratch_bound(&p, n);
        } else {
            v = cuda_conv2d_scratch_bound(b, l, n);
        }
        need = v > need ? v : need;
    }
    if (need > m->scratch_bytes)
        FS_TRY(scratch_grow(b, need));
    m->reserved_batch = n;
    m->scratch_fixed = 1;
    return FS_OK;
}

static void *cuda_alloc_host(fs_backend *b, size_t bytes)
{
    if (cuda_enter(b) != FS_OK)
        return NULL;
    void *p = NULL;
    /* portable: pinned for every context, whichever device is current */
    cudaError_t e = cudaHostAlloc(&p, bytes ? bytes : 1, cudaHostAllocPortable);
    if (e != cudaSuccess) {
        cudaGetLastError();
        fs_error(FS_ERR_NOMEM, "cuda backend: cannot allocate %zu bytes of pinned host memory: %s",
                 bytes, cudaGetErrorString(e));
        return NULL;
    }
    return p;
}

static void cuda_release_host(fs_backend *b, void *p)
{
    if (!p || cuda_enter(b) != FS_OK)
        return;
    if (cudaFreeHost(p) != cudaSuccess)
        cudaGetLastError(); /* void interface, as release */
}

struct fs_graph {
    cudaGraphExec_t exec;
    unsigned long scratch_epoch; /* the scratch it was captured on */
};

struct fs_fence {
    cudaEvent_t ev;
};

/* Thread-local capture mode: only this thread's unsafe calls are refused,
 * so another thread's backend on the same device keeps allocating and
 * synchronising while this one records (global mode would refuse them). */
static fs_status cuda_capture_begin(fs_backend *b)
{
    FS_TRY(cuda_enter(b));
    FS_TRY(capture_refuse(b, "capture_begin"));
    cuda_impl *m = cuda_impl_of(b);
    m->capture_epoch = m->scratch_epoch;
    CUDA_CHECK(cudaStreamBeginCapture(m->stream, cudaStreamCaptureModeThreadLocal));
    return FS_OK;
}

static fs_status cuda_capture_end(fs_backend *b, fs_graph **out)
{
    *out = NULL;
    FS_TRY(cuda_enter(b));
    cudaGraph_t graph = NULL;
    cudaError_t e = cudaStreamEndCapture(cuda_impl_of(b)->stream, &graph);
    if (e != cudaSuccess || !graph) {
        if (graph)
            cudaGraphDestroy(graph);
        cudaGetLastError(); /* an invalidated capture is not a sticky error */
        return fs_error(FS_ERR_DEVICE, "cuda backend: graph capture failed: %s",
                        cudaGetErrorString(e != cudaSuccess ? e : cudaErrorStreamCaptureInvalidated));
    }
    fs_graph *g = (fs_graph *)calloc(1, sizeof *g);
    if (!g) {
        cudaGraphDestroy(graph);
        return fs_error(FS_ERR_NOMEM, "cuda backend: out of memory for a graph");
    }
    g->scratch_epoch = cuda_impl_of(b)->capture_epoch;
    e = cudaGraphInstantiate(&g->exec, graph, 0);
    cudaGraphDestroy(graph); /* the executable graph keeps what it needs */
    if (e != cudaSuccess) {
        cudaGetLastError();
        free(g);
        return fs_error(FS_ERR_DEVICE, "cuda backend: cudaGraphInstantiate: %s",
                        cudaGetErrorString(e));
    }
    *out = g;
    return FS_OK;
}

static fs_status cuda_graph_launch(fs_backend *b, fs_graph *g)
{
    if (!g)
        return fs_error(FS_ERR_ARG, "cuda backend: graph_launch of no graph");
    FS_TRY(cuda_enter(b));
    FS_TRY(capture_refuse(b, "graph_launch"));
    cuda_impl *m = cuda_impl_of(b);
    if (g->scratch_epoch != m->scratch_epoch)
        return fs_error(FS_ERR_ARG, "cuda backend: graph_launch of a graph captured before the "
                        "scratch was re-allocated (a larger reserve): it would use freed memory; "
                        "capture it again");
    CUDA_CHECK(cudaGraphLaunch(g->exec, m->stream));
    return FS_OK;
}

static void cuda_graph_free(fs_backend *b, fs_graph *g)
{
    if (!g)
        return;
    if (cuda_enter(b) == FS_OK && cudaGraphExecDestroy(g->exec) != cudaSuccess)
        cudaGetLastError();
    free(g);
}

static fs_status cuda_fence_create(fs_backend *b, fs_fence **out)
{
    *out = NULL;
    FS_TRY(cuda_enter(b));
    fs_fence *f = (fs_fence *)calloc(1, sizeof *f);
    if (!f)
        return fs_error(FS_ERR_NOMEM, "cuda backend: out of memory for a fence");
    cudaError_t e = cudaEventCreateWithFlags(&f->ev, cudaEventDisableTiming);
    if (e != cudaSuccess) {
        cudaGetLastError();
        free(f);
        return fs_error(FS_ERR_DEVICE, "cuda backend: cudaEventCreateWithFlags: %s",
                        cudaGetErrorString(e));
    }
    *out = f;
    return FS_OK;
}

static void cuda_fence_free(fs_backend *b, fs_fence *f)
{
    if (!f)
        return;
    if (cuda_enter(b) == FS_OK && cudaEventDestroy(f->ev) != cudaSuccess)
        cudaGetLastError();
    free(f);
}

/* The copy waits for everything queued on the compute stream so far (the
 * `queued` event), runs on the copy stream, and records f behind it. */
static fs_status cuda_download_async(fs_backend *b, void *dst, const void *src, size_t bytes,
                                     fs_fence *f)
{
    if (!f)
        return fs_error(FS_ERR_ARG, "cuda backend: download_async without a fence");
    FS_TRY(cuda_enter(b));
    FS_TRY(capture_refuse(b, "download_async"));
    cuda_impl *m = cuda_impl_of(b);
    CUDA_CHECK(cudaEventRecord(m->queued, m->stream));
    CUDA_CHECK(cudaStreamWaitEvent(m->copy_stream, m->queued, 0));
    if (bytes)
        CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, m->copy_stream));
    CUDA_CHECK(cudaEventRecord(f->ev, m->copy_stream));
    return FS_OK;
}

/* Outside a capture only: a captured wait on an event recorded outside it
 * would need an external-event node, which the pipeline has no use for. */
static fs_status cuda_fence_order(fs_backend *b, fs_fence *f)
{
    if (!f)
        return fs_error(FS_ERR_ARG, "cuda backend: fence_order without a fence");
    FS_TRY(cuda_enter(b));
    FS_TRY(capture_refuse(b, "fence_order"));
    CUDA_CHECK(cudaStreamWaitEvent(cuda_impl_of(b)->stream, f->ev, 0));
    return FS_OK;
}

static fs_status cuda_fence_wait(fs_backend *b, fs_fence *f)
{
    if (!f)
        return fs_error(FS_ERR_ARG, "cuda backend: fence_wait without a fence");
    FS_TRY(cuda_enter(b));
    CUDA_CHECK(cudaEventSynchronize(f->ev));
    return FS_OK;
}

/* Designated initialisers in declaration order (C++20), so the table cannot
 * silently shift when backend.h gains an op. */
static const fs_backend_ops cuda_ops = {
    .name = "cuda",
    .destroy = cuda_destroy,
    .alloc = cuda_alloc,
    .release = cuda_release,
    .upload = cuda_upload,
    .download = cuda_download,
    .plan = cuda_plan_op,
    .plan_free = cuda_plan_free,
    .copy_rows = cuda_copy_rows,
    .fc = cuda_fc,
    .normalize_2nd_moment = cuda_normalize_2nd_moment,
    .lerp_rows = cuda_lerp_rows,
    .modconv = cuda_modconv,
    .conv2d = cuda_conv2d,
    .upfirdn2d = cuda_upfirdn2d,
    .bias_act = cuda_bias_act,
    .axpby = cuda_axpby,
    .mbstd = cuda_mbstd,
    .project = cuda_project,
    .conv_transpose2d = cuda_conv_transpose2d,
    .instance_norm = cuda_instance_norm,
    .avg_pool2d = cuda_avg_pool2d,
    .synchronize = cuda_synchronize,
    .to_uint8 = cuda_to_uint8,
    .channel_affine = cuda_channel_affine,
    .se_residual = cuda_se_residual,
    .upsample_add = cuda_upsample_add,
    .max_feature_map = cuda_max_feature_map,
    .max_pool2d = cuda_max_pool2d,
    .adaptive_avg_pool2d = cuda_adaptive_avg_pool2d,
    .blend = cuda_blend,
    .feature_format = cuda_feature_format,
    .styles = cuda_styles,
    .torgb = cuda_torgb,
    .convert_features = cuda_convert_features,
    .alloc_host = cuda_alloc_host,
    .release_host = cuda_release_host,
    .reserve = cuda_reserve,
    .capture_begin = cuda_capture_begin,
    .capture_end = cuda_capture_end,
    .graph_launch = cuda_graph_launch,
    .graph_free = cuda_graph_free,
    .fence_create = cuda_fence_create,
    .fence_free = cuda_fence_free,
    .download_async = cuda_download_async,
    .fence_order = cuda_fence_order,
    .fence_wait = cuda_fence_wait,
};

extern "C" void *fs_backend_cuda_stream(fs_backend *b)
{
    return b && b->ops == &cuda_ops ? (void *)cuda_impl_of(b)->stream : NULL;
}

extern "C" fs_status fs_backend_cuda_set_chunk_bytes(fs_backend *b, size_t bytes)
{
    if (!b || b->ops != &cuda_ops)
        return fs_error(FS_ERR_ARG, "fs_backend_cuda_set_chunk_bytes: not a CUDA backend");
    cuda_impl_of(b)->chunk_bytes = bytes ? bytes : FS_CUDA_CHUNK_BYTES;
    return FS_OK;
}

extern "C" size_t fs_backend_cuda_scratch_bytes(fs_backend *b)
{
    return b && b->ops == &cuda_ops ? cuda_impl_of(b)->scratch_bytes : 0;
}

extern "C" const char *fs_cuda_precision_name(fs_cuda_precision p)
{
    switch (p) {
    case FS_CUDA_FP32: return "fp32";
    case FS_CUDA_TF32: return "tf32";
    case FS_CUDA_FP16: return "fp16";
    case FS_CUDA_BF16: return "bf16";
    case FS_CUDA_MIXED: return "mixed";
    }
    return "?";
}

extern "C" fs_status fs_backend_cuda_init(fs_backend **out, int device)
{
    return fs_backend_cuda_init_ex(out, device, FS_CUDA_FP32);
}

extern "C" fs_status fs_backend_cuda_init_ex(fs_backend **out, int device,
                                             fs_cuda_precision precision)
{
    *out = NULL;
    if ((int)precision < (int)FS_CUDA_FP32 || (int)precision > (int)FS_CUDA_MIXED)
        return fs_error(FS_ERR_ARG, "cuda backend: unknown precision %d", (int)precision);
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return fs_error(FS_ERR_DEVICE, "cuda backend: no usable CUDA driver or device: %s",
                        cudaGetErrorString(e));
    }
    if (device < 0 || device >= count)
        return fs_error(FS_ERR_DEVICE, "cuda backend: device %d requested, %d present", device,
                        count);
    fs_backend *b = (fs_backend *)calloc(1, sizeof *b);
    cuda_impl *m = (cuda_impl *)calloc(1, sizeof *m);
    if (!b || !m) {
        free(b);
        free(m);
        return fs_error(FS_ERR_NOMEM, "cuda backend: out of memory");
    }
    m->device = device;
    m->precision = (int)precision;
    m->chunk_bytes = FS_CUDA_CHUNK_BYTES;
    b->ops = &cuda_ops;
    b->impl = m;
    fs_status s = cuda_enter(b);
    if (s == FS_OK) {
        /* Non-blocking: the legacy default stream must not serialise with us. */
        e = cudaStreamCreateWithFlags(&m->stream, cudaStreamNonBlocking);
        if (e != cudaSuccess) {
            m->stream = NULL;
            s = fs_error(FS_ERR_DEVICE, "%s:%d: cudaStreamCreateWithFlags: %s", __FILE__, __LINE__,
                         cudaGetErrorString(e));
        }
    }
    if (s == FS_OK) {
        /* download_async's lane: copies of one batch beside the next one's ops */
        e = cudaStreamCreateWithFlags(&m->copy_stream, cudaStreamNonBlocking);
        if (e != cudaSuccess) {
            m->copy_stream = NULL;
            s = fs_error(FS_ERR_DEVICE, "%s:%d: cudaStreamCreateWithFlags: %s", __FILE__, __LINE__,
                         cudaGetErrorString(e));
        }
    }
    if (s == FS_OK) {
        e = cudaEventCreateWithFlags(&m->queued, cudaEventDisableTiming);
        if (e != cudaSuccess) {
            m->queued = NULL;
            s = fs_error(FS_ERR_DEVICE, "%s:%d: cudaEventCreateWithFlags: %s", __FILE__, __LINE__,
                         cudaGetErrorString(e));
        }
    }
    if (s != FS_OK) {
        cuda_destroy(b);
        return s;
    }
    *out = b;
    return FS_OK;
}
