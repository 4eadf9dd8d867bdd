/* Ops on latent codes on the GPU, as engine/cpu/latent.c: the 2nd-moment
 * normalisation of z and of the label embedding, truncation (lerp_rows) and
 * the broadcast of w to every layer (broadcast_rows).
 *
 * Kernel versions (v1): row reductions are one block per row with a
 * warp-shuffle block reduction; the rest one element per thread with a
 * grid-stride loop. A few thousand floats per call: latency, not bandwidth. */
#include "cuda_common.cuh"

#define LATENT_BLOCK 256

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
    normalize_kernel1<<<n, LATENT_BLOCK, 0, stream>>>(x, c);
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
    lerp_rows_kernel1<<<cuda_blocks(total, LATENT_BLOCK), LATENT_BLOCK, 0, stream>>>(y, a, n, rows, c,
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

