/* The small ops of the CUDA backend, each as its cpu_backend.c counterpart:
 * normalize_2nd_moment, lerp_rows (truncation), axpby, minibatch-std,
 * the conditional projection, avg_pool2d (count_include_pad=False),
 * instance_norm (biased variance in double, as the CPU) and
 * conv_transpose2d (igemm.cu phases with a bias epilogue).
 *
 * Kernel versions (all v1): elementwise ops are one element per thread with
 * a grid-stride loop; row reductions are one block per row with a
 * warp-shuffle block reduction. None of these is on the hot path of a
 * generator forward pass except axpby (skip-image sums), which is
 * bandwidth-bound as written. */
#include "cuda_common.cuh"

#define MISC_BLOCK 256

/* ---- normalize_2nd_moment -------------------------------------------------------- */

__global__ void normalize_kernel1(float *__restrict__ x, int c)
{
    __shared__ float sh[32];
    float *r = x + (size_t)blockIdx.x * c;
    float s = 0.0f;
    for (int j = threadIdx.x; j < c; j += blockDim.x)
        s += r[j] * r[j];
    s = block_sum(s, sh);
    float k = 1.0f / sqrtf(s / (float)c + 1e-8f);
    for (int j = threadIdx.x; j < c; j += blockDim.x)
        r[j] *= k;
}

static fs_status normalize_launch(float *x, int n, int c, cudaStream_t stream)
{
    normalize_kernel1<<<n, MISC_BLOCK, 0, stream>>>(x, c);
    CUDA_CHECK_LAUNCH("normalize_kernel1");
    return FS_OK;
}

fs_status cuda_normalize_2nd_moment(fs_backend *b, float *x, int n, int c)
{
    FS_TRY(cuda_enter(b));
    if (n <= 0 || c <= 0)
        return FS_OK;
    return normalize_launch(x, n, c, cuda_impl_of(b)->stream);
}

/* ---- lerp_rows --------------------------------------------------------------------- */

__global__ void lerp_rows_kernel1(float *__restrict__ y, const float *__restrict__ a, int n,
                                  int rows, int c, int row0, int nr, float t)
{
    size_t total = (size_t)n * nr * c;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        int j = (int)(i % (size_t)c);
        size_t q = i / (size_t)c;
        int r = (int)(q % (size_t)nr), s = (int)(q / (size_t)nr);
        float *v = y + ((size_t)s * rows + row0 + r) * c + j;
        *v = a[j] + t * (*v - a[j]);
    }
}

static fs_status lerp_rows_launch(float *y, const float *a, int n, int rows, int c, int row0,
                                  int nr, float t, cudaStream_t stream)
{
    size_t total = (size_t)n * nr * c;
    lerp_rows_kernel1<<<cuda_blocks(total, MISC_BLOCK), MISC_BLOCK, 0, stream>>>(y, a, n, rows, c,
                                                                                row0, nr, t);
    CUDA_CHECK_LAUNCH("lerp_rows_kernel1");
    return FS_OK;
}

fs_status cuda_lerp_rows(fs_backend *b, float *y, const float *a, int n, int rows, int c, int row0,
                         int row1, float t)
{
    FS_TRY(cuda_enter(b));
    int nr = row1 - row0;
    if (n <= 0 || c <= 0 || nr <= 0)
        return FS_OK;
    return lerp_rows_launch(y, a, n, rows, c, row0, nr, t, cuda_impl_of(b)->stream);
}

/* ---- axpby --------------------------------------------------------------------------- */

__global__ void axpby_kernel1(float *__restrict__ y, const float *__restrict__ x, size_t n, float ys,
                              float xs)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] = y[i] * ys + x[i] * xs;
}

static fs_status axpby_launch(float *y, const float *x, size_t n, float ys, float xs,
                               cudaStream_t stream)
{
    axpby_kernel1<<<cuda_blocks(n, MISC_BLOCK), MISC_BLOCK, 0, stream>>>(y, x, n, ys, xs);
    CUDA_CHECK_LAUNCH("axpby_kernel1");
    return FS_OK;
}

fs_status cuda_axpby(fs_backend *b, float *y, const float *x, size_t n, float ys, float xs)
{
    FS_TRY(cuda_enter(b));
    if (n == 0)
        return FS_OK;
    return axpby_launch(y, x, n, ys, xs, cuda_impl_of(b)->stream);
}

/* ---- minibatch standard deviation ------------------------------------------------------ */

/* One block per (group m, feature ff): the mean over the feature's channels and
 * pixels of the std over the group's samples gg * mm + m. Per pixel the mean and
 * variance are float sums in sample order, as the CPU; the total is double. */
__global__ void mbstd_stat_kernel1(const float *__restrict__ x, float *__restrict__ v, int g,
                                   int mm, int c, int f, size_t hw)
{
    __shared__ double sh[32];
    int m = blockIdx.x / f, ff = blockIdx.x % f, cf = c / f;
    size_t count = (size_t)cf * hw;
    double total = 0;
    for (size_t e = threadIdx.x; e < count; e += blockDim.x) {
        int cc = ff * cf + (int)(e / hw);
        size_t p = e % hw;
        float mean = 0;
        for (int gg = 0; gg < g; gg++)
            mean += x[((size_t)(gg * mm + m) * c + cc) * hw + p];
        mean /= (float)g;
        float var = 0;
        for (int gg = 0; gg < g; gg++) {
            float d = x[((size_t)(gg * mm + m) * c + cc) * hw + p] - mean;
            var += d * d;
        }
        var /= (float)g;
        total += sqrtf(var + 1e-8f);
    }
    total = block_sum(total, sh);
    if (threadIdx.x == 0)
        v[m * f + ff] = (float)(total / ((double)cf * hw));
}

/* y [n, c + f, hw]: x's channels, then sample s's group statistics (m = s % mm). */
__global__ void mbstd_out_kernel1(const float *__restrict__ x, const float *__restrict__ v,
                                  float *__restrict__ y, int n, int c, int f, int mm, size_t hw)
{
    size_t per = (size_t)(c + f) * hw, total = (size_t)n * per;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t s = i / per, r = i - s * per;
        size_t ch = r / hw;
        y[i] = ch < (size_t)c ? x[s * c * hw + r] : v[(s % mm) * f + (ch - c)];
    }
}

static fs_status mbstd_launch(const float *x, float *y, float *v, int n, int c, int f, int g,
                              size_t hw, cudaStream_t stream)
{
    int mm = n / g;
    mbstd_stat_kernel1<<<mm * f, MISC_BLOCK, 0, stream>>>(x, v, g, mm, c, f, hw);
    CUDA_CHECK_LAUNCH("mbstd_stat_kernel1");
    size_t total = (size_t)n * (c + f) * hw;
    mbstd_out_kernel1<<<cuda_blocks(total, MISC_BLOCK), MISC_BLOCK, 0, stream>>>(x, v, y, n, c, f,
                                                                                 mm, hw);
    CUDA_CHECK_LAUNCH("mbstd_out_kernel1");
    return FS_OK;
}

fs_status cuda_mbstd(fs_backend *b, const float *x, float *y, int n, int c, int h, int w, int group,
                     int f)
{
    FS_TRY(cuda_enter(b));
    int g = group > 0 && group < n ? group : n;
    if (n % g != 0)
        return fs_error(FS_ERR_ARG, "minibatch-std: batch %d is not a multiple of the group %d", n, g);
    if (f <= 0 || c % f != 0)
        return fs_error(FS_ERR_ARG, "minibatch-std: %d channels, %d features", c, f);
    int mm = n / g;
    size_t hw = (size_t)h * w;
    float *v; /* the mm * f statistics */
    FS_TRY(cuda_scratch(b, (size_t)mm * f * sizeof(float), (void **)&v));
    return mbstd_launch(x, y, v, n, c, f, g, hw, cuda_impl_of(b)->stream);
}

/* ---- projection ------------------------------------------------------------------------- */

__global__ void project_kernel1(const float *__restrict__ x, const float *__restrict__ cmap,
                                float *__restrict__ out, int c, float scale)
{
    __shared__ float sh[32];
    size_t row = (size_t)blockIdx.x * c;
    float s = 0;
    for (int j = threadIdx.x; j < c; j += blockDim.x)
        s += x[row + j] * cmap[row + j];
    s = block_sum(s, sh);
    if (threadIdx.x == 0)
        out[blockIdx.x] = s * scale;
}

static fs_status project_launch(const float *x, const float *cmap, float *out, int n, int c,
                                 float scale, cudaStream_t stream)
{
    project_kernel1<<<n, MISC_BLOCK, 0, stream>>>(x, cmap, out, c, scale);
    CUDA_CHECK_LAUNCH("project_kernel1");
    return FS_OK;
}

fs_status cuda_project(fs_backend *b, const float *x, const float *cmap, float *out, int n, int c,
                       float scale)
{
    FS_TRY(cuda_enter(b));
    if (n <= 0)
        return FS_OK;
    return project_launch(x, cmap, out, n, c, scale, cuda_impl_of(b)->stream);
}

/* ---- avg_pool2d ---------------------------------------------------------------------------- */

__global__ void avg_pool2d_kernel1(const float *__restrict__ x, float *__restrict__ y, size_t total,
                                   int h, int w, int oh, int ow, int k, int stride, int pad)
{
    size_t ohw = (size_t)oh * ow;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t pl = i / ohw;
        int r = (int)(i - pl * ohw), oy = r / ow, ox = r - oy * ow;
        const float *xp = x + pl * h * w;
        float s = 0;
        int cnt = 0; /* count_include_pad=False: only real pixels */
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                int sy = oy * stride - pad + ky, sx = ox * stride - pad + kx;
                if (sy >= 0 && sy < h && sx >= 0 && sx < w) {
                    s += xp[(size_t)sy * w + sx];
                    cnt++;
                }
            }
        y[i] = cnt ? s / (float)cnt : 0.0f;
    }
}

static fs_status avg_pool2d_launch(const float *x, float *y, int nc, int h, int w, int oh, int ow,
                                    int k, int stride, int pad, cudaStream_t stream)
{
    size_t total = (size_t)nc * oh * ow;
    avg_pool2d_kernel1<<<cuda_blocks(total, MISC_BLOCK), MISC_BLOCK, 0, stream>>>(
        x, y, total, h, w, oh, ow, k, stride, pad);
    CUDA_CHECK_LAUNCH("avg_pool2d_kernel1");
    return FS_OK;
}

fs_status cuda_avg_pool2d(fs_backend *b, const float *x, float *y, int nc, int h, int w, int k,
                          int stride, int pad)
{
    FS_TRY(cuda_enter(b));
    if (stride <= 0 || k <= 0)
        return fs_error(FS_ERR_ARG, "cuda avg_pool2d: kernel %d, stride %d", k, stride);
    int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
    if (nc <= 0 || oh <= 0 || ow <= 0)
        return FS_OK;
    return avg_pool2d_launch(x, y, nc, h, w, oh, ow, k, stride, pad, cuda_impl_of(b)->stream);
}

/* ---- instance_norm ------------------------------------------------------------------------- */

/* One block per (sample, channel) plane: mean and biased variance in double
 * (two passes, as the CPU), then the affine transform and activation. */
__global__ void instance_norm_kernel1(float *__restrict__ x, const float *__restrict__ weight,
                                      const float *__restrict__ bias, int c, size_t hw, float eps,
                                      int act)
{
    __shared__ double sh[32];
    int j = blockIdx.x % c;
    float *p = x + (size_t)blockIdx.x * hw;
    double mean = 0;
    for (size_t q = threadIdx.x; q < hw; q += blockDim.x)
        mean += p[q];
    mean = block_sum(mean, sh) / (double)hw;
    double var = 0;
    for (size_t q = threadIdx.x; q < hw; q += blockDim.x)
        var += (p[q] - mean) * (p[q] - mean);
    var = block_sum(var, sh) / (double)hw;
    float inv = (float)(1.0 / sqrt(var + eps)), mu = (float)mean;
    float wj = weight ? weight[j] : 1.0f, bj = bias ? bias[j] : 0.0f;
    for (size_t q = threadIdx.x; q < hw; q += blockDim.x)
        p[q] = act_apply((p[q] - mu) * inv * wj + bj, act, 1.0f, 0.0f);
}

static fs_status instance_norm_launch(float *x, const float *weight, const float *bias, int n,
                                       int c, size_t hw, float eps, fs_act act, cudaStream_t stream)
{
    instance_norm_kernel1<<<n * c, MISC_BLOCK, 0, stream>>>(x, weight, bias, c, hw, eps, (int)act);
    CUDA_CHECK_LAUNCH("instance_norm_kernel1");
    return FS_OK;
}

fs_status cuda_instance_norm(fs_backend *b, float *x, const float *weight, const float *bias, int n,
                             int c, size_t hw, float eps, fs_act act)
{
    FS_TRY(cuda_enter(b));
    if (n <= 0 || c <= 0 || hw == 0)
        return FS_OK;
    return instance_norm_launch(x, weight, bias, n, c, hw, eps, act, cuda_impl_of(b)->stream);
}

/* ---- conv_transpose2d ----------------------------------------------------------------------- */

fs_status cuda_conv_transpose2d(fs_backend *b, const fs_conv_transpose2d_args *a)
{
    FS_TRY(cuda_enter(b));
    if (a->stride < 1 || a->k < 1)
        return fs_error(FS_ERR_ARG, "cuda conv_transpose2d: kernel %d, stride %d", a->k, a->stride);
    int oh = (a->h - 1) * a->stride - 2 * a->pad + a->k, ow = (a->w - 1) * a->stride - 2 * a->pad + a->k;
    if (a->n <= 0 || a->cout <= 0 || oh <= 0 || ow <= 0)
        return FS_OK;
    igemm_params p = {};
    p.x = a->x;
    p.cin = a->cin;
    p.h = a->h;
    p.w = a->w;
    p.x_sample_stride = (size_t)a->cin * a->h * a->w;
    p.scale = NULL;
    p.wt = a->weight;
    p.cout = a->cout;
    p.k = a->k;
    p.w_transposed = 1;
    p.wgain = 1.0f;
    p.n = a->n;
    p.y = a->y;
    p.yh = oh;
    p.yw = ow;
    p.y_sample_stride = (size_t)a->cout * oh * ow;
    p.epi.mode = EPI_CONV;
    p.epi.bias = a->b;
    p.epi.bias_gain = 1.0f;
    p.epi.act = FS_ACT_LINEAR;
    p.epi.gain = 1.0f;
    p.epi.clamp = 0.0f;
    return convt_launch(&p, a->stride, a->pad, cuda_impl_of(b)->stream);
}
