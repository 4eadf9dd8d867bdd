/* Element-type conversion on the GPU: float32 -> f16 / bf16 / f32 (copy).
 *
 * Not yet called by a model: the CUDA v1 plans hold nothing and the kernels
 * convert operands as they stage them. It is the building block of the CUDA
 * v2 plan, which casts each layer's weights once into the precision a run
 * asks for. Rounding is to nearest even, bit-identical to fs_f32_to_f16 /
 * fs_f32_to_bf16 on the CPU (the oracle of tests/test_cuda_cast.c). */
#ifndef FS_KERNELS_CAST_H
#define FS_KERNELS_CAST_H

#include <stddef.h>

#include "../engine/dtype.h"
#include "../engine/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of CUDA devices (0 when the driver or a device is missing; never an error). */
int fs_cuda_device_count(void);

/* d_out[i] = convert(d_in[i]) for i < n, on `stream` (a cudaStream_t, NULL for
 * the default stream). Both pointers are device pointers. */
fs_status fs_cuda_cast_f32(const float *d_in, void *d_out, size_t n, fs_dtype out_dtype,
                           void *stream);

#ifdef __cplusplus
}
#endif
#endif
