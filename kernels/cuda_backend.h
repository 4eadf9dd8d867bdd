/* The CUDA backend: every operation of engine/backend.h on one NVIDIA GPU,
 * with our own kernels (the kernels/ .cu files), in float32, on one stream per backend.
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

/* The CUDA backend on device `device` (0-based, as cudaSetDevice counts).
 * FS_ERR_DEVICE with a message when there is no driver, no such device or the
 * context cannot be created. Free with fs_backend_free. */
fs_status fs_backend_cuda_init(fs_backend **out, int device);

/* The backend's stream (a cudaStream_t) for callers that interleave their own
 * CUDA work or timing events with the ops: work queued on it runs in order
 * with them. NULL for a backend that is not the CUDA one. */
void *fs_backend_cuda_stream(fs_backend *b);

#ifdef __cplusplus
}
#endif
#endif
