/* f32 -> f16 / bf16 casts on the GPU (see cast.h).
 *
 * Kernel versions (llm.c style: the launcher picks one):
 *   1: one element per thread, grid-stride loop: the reference.
 *   2: four elements per thread with 16-byte loads when the pointers allow,
 *      which is what keeps a memory-bound cast near the copy bandwidth. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cast.h"

template <typename T> __device__ __forceinline__ T convert(float x);
template <> __device__ __forceinline__ float convert<float>(float x) { return x; }
template <> __device__ __forceinline__ __half convert<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 convert<__nv_bfloat16>(float x)
{
    return __float2bfloat16_rn(x);
}

template <typename T>
__global__ void cast_f32_kernel1(const float *__restrict__ in, T *__restrict__ out, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        out[i] = convert<T>(in[i]);
}

template <typename T>
__global__ void cast_f32_kernel2(const float4 *__restrict__ in, T *__restrict__ out, size_t n4)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n4;
         i += (size_t)gridDim.x * blockDim.x) {
        float4 v = in[i];
        out[4 * i + 0] = convert<T>(v.x);
        out[4 * i + 1] = convert<T>(v.y);
        out[4 * i + 2] = convert<T>(v.z);
        out[4 * i + 3] = convert<T>(v.w);
    }
}

template <typename T>
static cudaError_t cast_launch(const float *in, void *out_v, size_t n, cudaStream_t stream)
{
    T *out = static_cast<T *>(out_v);
    const int block = 256;
    const size_t max_blocks = 65535;
    size_t n4 = ((reinterpret_cast<uintptr_t>(in) & 15) == 0) ? n / 4 : 0;
    if (n4) {
        size_t blocks = (n4 + block - 1) / block;
        cast_f32_kernel2<T><<<(unsigned)(blocks < max_blocks ? blocks : max_blocks), block, 0,
                              stream>>>(reinterpret_cast<const float4 *>(in), out, n4);
    }
    size_t rest = n - 4 * n4;
    if (rest) {
        size_t blocks = (rest + block - 1) / block;
        cast_f32_kernel1<T><<<(unsigned)(blocks < max_blocks ? blocks : max_blocks), block, 0,
                              stream>>>(in + 4 * n4, out + 4 * n4, rest);
    }
    return cudaGetLastError();
}

extern "C" int fs_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* clear the sticky "no driver" error */
        return 0;
    }
    return n;
}

extern "C" fs_status fs_cuda_cast_f32(const float *d_in, void *d_out, size_t n,
                                      fs_dtype out_dtype, void *stream)
{
    if (n == 0)
        return FS_OK;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    cudaError_t e;
    switch (out_dtype) {
    case FS_DTYPE_F32: e = cast_launch<float>(d_in, d_out, n, s); break;
    case FS_DTYPE_F16: e = cast_launch<__half>(d_in, d_out, n, s); break;
    case FS_DTYPE_BF16: e = cast_launch<__nv_bfloat16>(d_in, d_out, n, s); break;
    default: return fs_error(FS_ERR_ARG, "fs_cuda_cast_f32: unsupported output dtype");
    }
    if (e != cudaSuccess)
        return fs_error(FS_ERR_DEVICE, "fs_cuda_cast_f32: kernel launch: %s", cudaGetErrorString(e));
    return FS_OK;
}
