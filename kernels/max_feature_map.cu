/* The max_feature_map op on the GPU, as engine/cpu/max_feature_map.c:
 * y = max of the two channel halves, NaN winning (op_math.h fs_max_nan), so
 * the results are the CPU's bit for bit.
 *
 * Kernel versions (v1): one output element per thread, grid-stride. */
#include "cuda_common.cuh"

#define MFM_BLOCK 256

__global__ void max_feature_map_kernel1(const float *__restrict__ x, float *__restrict__ y,
                                        size_t total, size_t chw)
{
    /* output element i of sample s reads x[s, j] and x[s, c + j]: offsets
     * s * 2chw + r and that + chw, with r = i - s * chw */
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t s = i / chw, r = i - s * chw;
        const float *lo = x + 2 * s * chw + r;
        y[i] = fs_max_nan(lo[0], lo[chw]);
    }
}

static fs_status max_feature_map_launch(const fs_max_feature_map_args *a, cudaStream_t stream)
{
    size_t chw = (size_t)a->c * a->hw, total = (size_t)a->n * chw;
    max_feature_map_kernel1<<<cuda_blocks(total, MFM_BLOCK), MFM_BLOCK, 0, stream>>>(
        a->x, a->y, total, chw);
    CUDA_CHECK_LAUNCH("max_feature_map_kernel1");
    return FS_OK;
}

fs_status cuda_max_feature_map(fs_backend *b, const fs_max_feature_map_args *a)
{
    FS_TRY(cuda_enter(b));
    if (a->n < 0 || a->c < 0)
        return fs_error(FS_ERR_ARG, "cuda max_feature_map: negative shape [%d, %d]", a->n, a->c);
    if (a->n == 0 || a->c == 0 || a->hw == 0)
        return FS_OK;
    return max_feature_map_launch(a, cuda_impl_of(b)->stream);
}
