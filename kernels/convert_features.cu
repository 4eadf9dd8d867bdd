/* The convert_features op on the GPU (backend.h fs_convert_features_args):
 * feature maps between fp32 NCHW and the 16-bit NHWC formats, every pair:
 *   F32_NCHW -> 16-bit NHWC: a 32 x 32 (channel x pixel) tile transposed
 *     through shared memory (reads coalesced along pixels, writes along
 *     channels), rounded to nearest even once;
 *   16-bit NHWC -> F32_NCHW: the reverse tile, widened exactly;
 *   F16 <-> BF16 (both NHWC): elementwise through fp32 (f16 -> f32 is exact,
 *     so the one rounding is to the target);
 *   same format: a copy.
 * Kernel version 1. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda_backend.h"
#include "cuda_common.cuh"
#include "feat16.cuh"

#define CF_TILE 32
#define CF_ROWS 8 /* block 32 x 8: each thread moves 4 elements of a tile */

/* y [n][hw][c] (16-bit) from x [n][c][hw] (fp32). grid: (hw tiles, c tiles, n). */
template <int FMT>
__global__ void convert_to_nhwc_kernel1(const float *__restrict__ x, uint16_t *__restrict__ y, int c,
                                        size_t hw)
{
    __shared__ float t[CF_TILE][CF_TILE + 1];
    size_t q0 = (size_t)blockIdx.x * CF_TILE;
    int c0 = blockIdx.y * CF_TILE;
    const float *xs = x + (size_t)blockIdx.z * c * hw;
    uint16_t *ys = y + (size_t)blockIdx.z * c * hw;
    for (int r = threadIdx.y; r < CF_TILE; r += CF_ROWS) {
        int ch = c0 + r;
        size_t q = q0 + threadIdx.x;
        if (ch < c && q < hw)
            t[r][threadIdx.x] = xs[(size_t)ch * hw + q];
    }
    __syncthreads();
    for (int r = threadIdx.y; r < CF_TILE; r += CF_ROWS) {
        size_t q = q0 + r;
        int ch = c0 + threadIdx.x;
        if (ch < c && q < hw)
            ys[q * c + ch] = feat16_round<FMT>(t[threadIdx.x][r]);
    }
}

/* y [n][c][hw] (fp32) from x [n][hw][c] (16-bit). */
template <int FMT>
__global__ void convert_to_nchw_kernel1(const uint16_t *__restrict__ x, float *__restrict__ y, int c,
                                        size_t hw)
{
    __shared__ float t[CF_TILE][CF_TILE + 1];
    size_t q0 = (size_t)blockIdx.x * CF_TILE;
    int c0 = blockIdx.y * CF_TILE;
    const uint16_t *xs = x + (size_t)blockIdx.z * c * hw;
    float *ys = y + (size_t)blockIdx.z * c * hw;
    for (int r = threadIdx.y; r < CF_TILE; r += CF_ROWS) {
        size_t q = q0 + r;
        int ch = c0 + threadIdx.x;
        if (ch < c && q < hw)
            t[threadIdx.x][r] = feat16_widen<FMT>(xs[q * c + ch]);
    }
    __syncthreads();
    for (int r = threadIdx.y; r < CF_TILE; r += CF_ROWS) {
        int ch = c0 + r;
        size_t q = q0 + threadIdx.x;
        if (ch < c && q < hw)
            ys[(size_t)ch * hw + q] = t[r][threadIdx.x];
    }
}

/* 16-bit XFMT -> 16-bit YFMT, elementwise (same NHWC order). */
template <int XFMT, int YFMT>
__global__ void convert_16_kernel1(const uint16_t *__restrict__ x, uint16_t *__restrict__ y, size_t len)
{
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < len;
         e += (size_t)gridDim.x * blockDim.x)
        y[e] = feat16_round<YFMT>(feat16_widen<XFMT>(x[e]));
}

fs_status cuda_convert_features(fs_backend *b, const fs_convert_features_args *a)
{
    FS_TRY(cuda_enter(b));
    cudaStream_t stream = cuda_impl_of(b)->stream;
    fs_feat_format xf = a->xfmt, yf = a->yfmt;
    if ((unsigned)xf > FS_FEAT_BF16_NHWC || (unsigned)yf > FS_FEAT_BF16_NHWC)
        return fs_error(FS_ERR_ARG, "cuda convert_features: format %d -> %d", (int)xf, (int)yf);
    if (a->n <= 0 || a->c <= 0 || a->hw == 0)
        return FS_OK;
    if (!a->x || !a->y || a->x == a->y)
        return fs_error(FS_ERR_ARG, "cuda convert_features: x and y must be distinct buffers");
    size_t len = (size_t)a->n * a->c * a->hw;
    if (xf == yf) {
        size_t esz = xf == FS_FEAT_F32_NCHW ? sizeof(float) : sizeof(uint16_t);
        CUDA_CHECK(cudaMemcpyAsync(a->y, a->x, len * esz, cudaMemcpyDeviceToDevice, stream));
        return FS_OK;
    }
    if (xf != FS_FEAT_F32_NCHW && yf != FS_FEAT_F32_NCHW) {
        unsigned blocks = cuda_blocks(len, 256);
        if (xf == FS_FEAT_F16_NHWC)
            convert_16_kernel1<FS_FEAT_F16_NHWC, FS_FEAT_BF16_NHWC><<<blocks, 256, 0, stream>>>(
                (const uint16_t *)a->x, (uint16_t *)a->y, len);
        else
            convert_16_kernel1<FS_FEAT_BF16_NHWC, FS_FEAT_F16_NHWC><<<blocks, 256, 0, stream>>>(
                (const uint16_t *)a->x, (uint16_t *)a->y, len);
        CUDA_CHECK_LAUNCH("convert_16_kernel1");
        return FS_OK;
    }
    size_t qt = (a->hw + CF_TILE - 1) / CF_TILE;
    if (qt > 0x7fffffffu || a->n > 65535 || (a->c + CF_TILE - 1) / CF_TILE > 65535)
        return fs_error(FS_ERR_ARG, "cuda convert_features: %d x %d x %zu too large", a->n, a->c,
                        a->hw);
    dim3 grid((unsigned)qt, (unsigned)((a->c + CF_TILE - 1) / CF_TILE), (unsigned)a->n);
    dim3 block(CF_TILE, CF_ROWS);
    if (xf == FS_FEAT_F32_NCHW) {
        if (yf == FS_FEAT_F16_NHWC)
            convert_to_nhwc_kernel1<FS_FEAT_F16_NHWC><<<grid, block, 0, stream>>>(
                (const float *)a->x, (uint16_t *)a->y, a->c, a->hw);
        else
            convert_to_nhwc_kernel1<FS_FEAT_BF16_NHWC><<<grid, block, 0, stream>>>(
                (const float *)a->x, (uint16_t *)a->y, a->c, a->hw);
        CUDA_CHECK_LAUNCH("convert_to_nhwc_kernel1");
        return FS_OK;
    }
    if (xf == FS_FEAT_F16_NHWC)
        convert_to_nchw_kernel1<FS_FEAT_F16_NHWC><<<grid, block, 0, stream>>>(
            (const uint16_t *)a->x, (float *)a->y, a->c, a->hw);
    else
        convert_to_nchw_kernel1<FS_FEAT_BF16_NHWC><<<grid, block, 0, stream>>>(
            (const uint16_t *)a->x, (float *)a->y, a->c, a->hw);
    CUDA_CHECK_LAUNCH("convert_to_nchw_kernel1");
    return FS_OK;
}
