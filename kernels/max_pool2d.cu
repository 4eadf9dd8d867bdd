/* The max_pool2d op on the GPU, as engine/cpu/max_pool2d.c: the window
 * clipped to the plane, scanned in the same order from -inf with NaN winning
 * (op_math.h fs_max_nan); a maximum involves no rounding, so the results are
 * the CPU's bit for bit.
 *
 * Kernel versions (v1): one output element per thread, grid-stride. */
#include "cuda_common.cuh"

#define MP_BLOCK 256

__global__ void max_pool2d_kernel1(const float *__restrict__ x, float *__restrict__ y,
                                   size_t total, int h, int w, int oh, int ow, int k, int stride,
                                   int pad)
{
    size_t ohw = (size_t)oh * ow;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t plane = i / ohw, q = i - plane * ohw;
        int oy = (int)(q / (size_t)ow), ox = (int)(q - (size_t)oy * ow);
        int ys = oy * stride - pad, ye = min(ys + k, h);
        int xs = ox * stride - pad, xe = min(xs + k, w);
        ys = max(ys, 0);
        xs = max(xs, 0);
        const float *p = x + plane * (size_t)h * w;
        float m = -INFINITY;
        for (int yy = ys; yy < ye; yy++)
            for (int xx = xs; xx < xe; xx++)
                m = fs_max_nan(p[(size_t)yy * w + xx], m);
        y[i] = m;
    }
}

static fs_status max_pool2d_launch(const fs_max_pool2d_args *a, int oh, int ow,
                                   cudaStream_t stream)
{
    size_t total = (size_t)a->nc * oh * ow;
    max_pool2d_kernel1<<<cuda_blocks(total, MP_BLOCK), MP_BLOCK, 0, stream>>>(
        a->x, a->y, total, a->h, a->w, oh, ow, a->k, a->stride, a->pad);
    CUDA_CHECK_LAUNCH("max_pool2d_kernel1");
    return FS_OK;
}

fs_status cuda_max_pool2d(fs_backend *b, const fs_max_pool2d_args *a)
{
    FS_TRY(cuda_enter(b));
    if (a->nc < 0 || a->h < 1 || a->w < 1 || a->k < 1 || a->stride < 1 || a->pad < 0 ||
        2 * a->pad > a->k)
        return fs_error(FS_ERR_ARG, "cuda max_pool2d: bad shape (%d planes %dx%d, k %d, stride "
                        "%d, pad %d: pad at most k / 2)", a->nc, a->h, a->w, a->k, a->stride,
                        a->pad);
    int oh = fs_max_pool2d_out_size(a->h, a->k, a->stride, a->pad, a->ceil_mode);
    int ow = fs_max_pool2d_out_size(a->w, a->k, a->stride, a->pad, a->ceil_mode);
    if (oh < 1 || ow < 1)
        return fs_error(FS_ERR_ARG, "cuda max_pool2d: a %dx%d plane is smaller than the %dx%d "
                        "window", a->h, a->w, a->k, a->k);
    if (a->nc == 0)
        return FS_OK;
    return max_pool2d_launch(a, oh, ow, cuda_impl_of(b)->stream);
}
