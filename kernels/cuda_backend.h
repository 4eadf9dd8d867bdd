/* The CUDA backend: every operation of engine/backend.h on one NVIDIA GPU,
 * with our own kernels (the kernels/ .cu files), in float32 (modconv optionally on
 * tensor cores, see fs_cuda_precision), on one stream per backend.
 *
 * Memory the ops receive is device memory from the backend's alloc (cudaMalloc);
 * upload/download copy between host and device on the backend's stream and
 * download returns only once the host copy is complete. Ops are asynchronous:
 * a kernel fault surfaces as FS_ERR_DEVICE from a later download or
 * synchronize. Every failing CUDA call becomes FS_ERR_DEVICE with a
 * "file:line: call: reason" message; nothing exits or aborts.
 *
 * One host-memory exception, as the generator passes it: the per-sample noise
 * seeds of fs_modconv_args (FS_NOISE_RANDOM) may be host or device memory.
 *
 * Plain C API with no CUDA types, so C callers need no CUDA headers. Declared
 * only in builds with nvcc (FS_WITH_CUDA). */
#ifndef FS_KERNELS_CUDA_BACKEND_H
#define FS_KERNELS_CUDA_BACKEND_H

#include "../engine/backend.h"
#include "../engine/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The compute precision of the modulated convolutions (the 3x3 convs and the
 * up-sampling transposed conv of modconv; every other op, the 1x1 ToRGB
 * included, always computes in FP32):
 *   FP32:  FP32 FMA, no tensor cores (the CPU oracle's arithmetic);
 *   TF32:  tensor cores, operands rounded to TF32, FP32 accumulation;
 *   FP16:  tensor cores, operands in FP16 (weights pre-normalised by max|W|
 *          per output channel and styles by max|s| per sample, as the
 *          official fp16 path does, undone exactly in the epilogue), FP32
 *          accumulation;
 *   BF16:  tensor cores, operands in BF16, FP32 accumulation;
 *   MIXED: the official default: FP16 for the layers the generator marks
 *          (fs_modconv_args.fp16: the top num_fp16_res resolutions), FP32 for
 *          the rest.
 * Operands are converted as they are staged into shared memory; activations
 * stay FP32 in device memory (writing the next layer's precision is a later
 * step), and every epilogue (demodulation, noise, bias, activation, gain,
 * clamp) runs in FP32. */
typedef enum {
    FS_CUDA_FP32 = 0,
    FS_CUDA_TF32 = 1,
    FS_CUDA_FP16 = 2,
    FS_CUDA_BF16 = 3,
    FS_CUDA_MIXED = 4,
} fs_cuda_precision;

/* The CUDA backend on device `device` (0-based, as cudaSetDevice counts), in
 * FP32. FS_ERR_DEVICE with a message when there is no driver, no such device
 * or the context cannot be created. Free with fs_backend_free. */
fs_status fs_backend_cuda_init(fs_backend **out, int device);

/* The same with a compute precision (FS_ERR_ARG for a value not in the enum). */
fs_status fs_backend_cuda_init_ex(fs_backend **out, int device, fs_cuda_precision precision);

/* "fp32", "tf32", "fp16", "bf16" or "mixed"; "?" for anything else. */
const char *fs_cuda_precision_name(fs_cuda_precision p);

/* The backend's stream (a cudaStream_t) for callers that interleave their own
 * CUDA work or timing events with the ops: work queued on it runs in order
 * with them. NULL for a backend that is not the CUDA one. */
void *fs_backend_cuda_stream(fs_backend *b);

#ifdef __cplusplus
}
#endif
#endif
