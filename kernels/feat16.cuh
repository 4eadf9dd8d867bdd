/* One 16-bit feature value (backend.h fs_feat_format F16_NHWC / BF16_NHWC)
 * to and from float32 in device code, shared by the v2 kernels
 * (modconv_v2.cu, torgb.cu, convert_features.cu): widening is exact, rounding
 * is to nearest even, as engine/dtype.c's fs_f32_to_f16 / fs_f32_to_bf16 on
 * the CPU. */
#ifndef FS_KERNELS_FEAT16_CUH
#define FS_KERNELS_FEAT16_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "../engine/backend.h"

/* The value of the 16-bit feature in the low half of h, exactly. */
template <int FMT> __device__ __forceinline__ float feat16_widen(unsigned h)
{
    if (FMT == FS_FEAT_F16_NHWC)
        return __half2float(__ushort_as_half((unsigned short)h));
    return __uint_as_float(h << 16); /* bf16: the top half of a float */
}

/* v rounded to nearest even in the format. */
template <int FMT> __device__ __forceinline__ uint16_t feat16_round(float v)
{
    if (FMT == FS_FEAT_F16_NHWC)
        return __half_as_ushort(__float2half_rn(v));
    return __bfloat16_as_ushort(__float2bfloat16_rn(v));
}

#endif
