/* The adaptive_avg_pool2d op on the GPU, as engine/cpu/adaptive_avg_pool2d.c:
 * the same windows, the sum in float in the same row-by-row order, then the
 * division by the row count and by the column count (__fadd_rn / __fdiv_rn:
 * no contraction, IEEE division), so the results are the CPU's bit for bit.
 *
 * Kernel versions (v1): one output element per thread, grid-stride. */
#include "cuda_common.cuh"

#define AP_BLOCK 256

__global__ void adaptive_avg_pool2d_kernel1(const float *__restrict__ x, float *__restrict__ y,
                                            size_t total, int h, int w, int y0, int x0, int ih,
                                            int iw, int oh, int ow)
{
    size_t ohw = (size_t)oh * ow;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t plane = i / ohw, q = i - plane * ohw;
        int oy = (int)(q / (size_t)ow), ox = (int)(q - (size_t)oy * ow);
        int ys = (int)((long long)oy * ih / oh);
        int ye = (int)(((long long)(oy + 1) * ih + oh - 1) / oh);
        int xs = (int)((long long)ox * iw / ow);
        int xe = (int)(((long long)(ox + 1) * iw + ow - 1) / ow);
        const float *p = x + plane * (size_t)h * w + (size_t)y0 * w + x0;
        float sum = 0.0f;
        for (int yy = ys; yy < ye; yy++)
            for (int xx = xs; xx < xe; xx++)
                sum = __fadd_rn(sum, p[(size_t)yy * w + xx]);
        y[i] = __fdiv_rn(__fdiv_rn(sum, (float)(ye - ys)), (float)(xe - xs));
    }
}

static fs_status adaptive_avg_pool2d_launch(const fs_adaptive_avg_pool2d_args *a,
                                            cudaStream_t stream)
{
    size_t total = (size_t)a->nc * a->oh * a->ow;
    adaptive_avg_pool2d_kernel1<<<cuda_blocks(total, AP_BLOCK), AP_BLOCK, 0, stream>>>(
        a->x, a->y, total, a->h, a->w, a->y0, a->x0, a->ih, a->iw, a->oh, a->ow);
    CUDA_CHECK_LAUNCH("adaptive_avg_pool2d_kernel1");
    return FS_OK;
}

fs_status cuda_adaptive_avg_pool2d(fs_backend *b, const fs_adaptive_avg_pool2d_args *a)
{
    FS_TRY(cuda_enter(b));
    if (a->nc < 0 || a->h < 1 || a->w < 1 || a->ih < 1 || a->iw < 1 || a->y0 < 0 || a->x0 < 0 ||
        a->y0 > a->h - a->ih || a->x0 > a->w - a->iw || a->oh < 1 || a->ow < 1)
        return fs_error(FS_ERR_ARG, "cuda adaptive_avg_pool2d: bad window (%dx%d at %d,%d of "
                        "%dx%d planes, output %dx%d)", a->ih, a->iw, a->y0, a->x0, a->h, a->w,
                        a->oh, a->ow);
    if (a->nc == 0)
        return FS_OK;
    return adaptive_avg_pool2d_launch(a, cuda_impl_of(b)->stream);
}
