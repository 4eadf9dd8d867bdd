/* The CUDA backend's ops table, memory and lifetime (see cuda_backend.h).
 *
 * One non-blocking stream per backend: every op launches on it, so ops run in
 * the order the model code calls them and reuse of the scratch buffer between
 * ops is safe without extra synchronisation. upload is an async copy (from
 * pageable memory the runtime stages the source before returning, so the
 * caller may free it at once); download waits for the stream, since the host
 * reads the result next. copy_rows lives here with the other memory ops;
 * the compute ops live in one file per family, named as their CPU partners
 * in engine/cpu/ (docs/ops.md): fc.cu, latent.cu, modconv.cu, conv2d.cu,
 * upfirdn2d.cu, bias_act.cu, d_epilogue.cu, norm_pool.cu, to_uint8.cu,
 * channel_affine.cu, se_residual.cu, upsample_add.cu, max_feature_map.cu,
 * max_pool2d.cu, adaptive_avg_pool2d.cu, blend.cu. */
#include <stdlib.h>

#include "cuda_backend.h"
#include "cuda_common.cuh"

fs_status cuda_enter(fs_backend *b)
{
    CUDA_CHECK(cudaSetDevice(cuda_impl_of(b)->device));
    return FS_OK;
}

fs_status cuda_scratch(fs_backend *b, size_t bytes, void **out)
{
    cuda_impl *m = cuda_impl_of(b);
    if (bytes > m->scratch_bytes) {
        if (m->scratch) {
            CUDA_CHECK(cudaFree(m->scratch)); /* waits for kernels still using it */
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
    }
    *out = m->scratch;
    return FS_OK;
}

/* ---- memory ------------------------------------------------------------------------ */

static void *cuda_alloc(fs_backend *b, size_t bytes)
{
    if (cuda_enter(b) != FS_OK)
        return NULL;
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

static fs_status cuda_upload(fs_backend *b, void *dst, const void *src, size_t bytes)
{
    FS_TRY(cuda_enter(b));
    if (bytes == 0)
        return FS_OK;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cuda_impl_of(b)->stream));
    return FS_OK;
}

static fs_status cuda_download(fs_backend *b, void *dst, const void *src, size_t bytes)
{
    FS_TRY(cuda_enter(b));
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
    CUDA_CHECK(cudaStreamSynchronize(cuda_impl_of(b)->stream));
    return FS_OK;
}

static void cuda_destroy(fs_backend *b)
{
    cuda_impl *m = cuda_impl_of(b);
    if (m) {
        if (cudaSetDevice(m->device) == cudaSuccess) {
            if (m->stream)
                cudaStreamSynchronize(m->stream);
            if (m->scratch)
                cudaFree(m->scratch);
            if (m->stream)
                cudaStreamDestroy(m->stream);
        }
        cudaGetLastError();
        free(m);
    }
    free(b);
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
    .plan = cuda_plan,
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
};

extern "C" void *fs_backend_cuda_stream(fs_backend *b)
{
    return b && b->ops == &cuda_ops ? (void *)cuda_impl_of(b)->stream : NULL;
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
    if (s != FS_OK) {
        cuda_destroy(b);
        return s;
    }
    *out = b;
    return FS_OK;
}
