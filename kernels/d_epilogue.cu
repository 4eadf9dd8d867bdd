/* The discriminator epilogue's own ops on the GPU, as engine/cpu/d_epilogue.c:
 * the minibatch standard deviation channels and the conditional projection.
 *
 * Kernel versions (v1): mbstd is one block per (group member, feature) for
 * the statistic, then one element per thread; the projection is one block
 * per sample with a block reduction. Both run once per image on small maps. */
#include "cuda_common.cuh"

#define DEPI_BLOCK 256

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
    mbstd_stat_kernel1<<<mm * f, DEPI_BLOCK, 0, stream>>>(x, v, g, mm, c, f, hw);
    CUDA_CHECK_LAUNCH("mbstd_stat_kernel1");
    size_t total = (size_t)n * (c + f) * hw;
    mbstd_out_kernel1<<<cuda_blocks(total, DEPI_BLOCK), DEPI_BLOCK, 0, stream>>>(x, v, y, n, c, f,
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
    project_kernel1<<<n, DEPI_BLOCK, 0, stream>>>(x, cmap, out, c, scale);
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

