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
 * seeds of fs_modconv_args (FS_NOISE_RANDOM) may be host or device memory
 * (inside a graph capture: device or pinned host memory only).
 *
 * The host path (docs/cuda_host_path.md): alloc_host gives pinned memory;
 * reserve sizes the scratch for a batch before the first forward so that no
 * op allocates inside one; capture_begin / capture_end record a forward as a
 * CUDA graph that graph_launch replays; download_async copies on a second
 * stream, ordered by fences, so that one batch's images come down while the
 * next batch computes (engine/sg2_pipeline.h drives all of it).
 *
 * Threads. The backend keeps no global mutable state (the ops table is
 * constant; streams, events, scratch, the reservation and the planned
 * shapes are per backend), and the error message is per thread (status.h).
 *   - One backend used by one thread at a time is safe, also when that
 *     thread changes (every call makes the backend's device current on the
 *     calling thread: cudaSetDevice, which the caller's own CUDA code on that
 *     thread then sees).
 *   - Two threads, each with its own backend (and its own models on it), on
 *     the same device or different ones, are safe: each backend has its own
 *     streams and scratch; graphs are captured in thread-local mode, so one
 *     thread's capture does not refuse the other's allocations.
 *   - One backend (or a model on it) called from two threads at once is not
 *     safe: the scratch, the capture state and the models' activation
 *     buffers are shared; serialise such calls with a lock.
 *   Backends on one device share its context: a kernel fault (a sticky
 *   error) breaks every backend on that device, and alloc / release /
 *   reserve (cudaMalloc / cudaFree) briefly synchronise the whole device,
 *   so do them at setup, not per batch.
 *
 * Plain C API with no CUDA types, so C callers need no CUDA headers. Declared
 * only in builds with nvcc (FS_WITH_CUDA). */
#ifndef FS_KERNELS_CUDA_BACKEND_H
#define FS_KERNELS_CUDA_BACKEND_H

#include <stddef.h>

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

/* The sample-chunk size of the ops' temporaries (modconv's noise maps and
 * transposed-conv planes, the down-sampling conv's filtered input), in
 * bytes; 0 restores the default (512 MiB). Small values make small layers
 * take the multi-chunk paths (tests). Set it before reserve: reserve bounds
 * the scratch at the chunk size of the moment. FS_ERR_ARG for a backend
 * that is not the CUDA one. */
fs_status fs_backend_cuda_set_chunk_bytes(fs_backend *b, size_t bytes);

/* The bytes of device scratch the backend holds now (after reserve: the
 * reservation); 0 for a backend that is not the CUDA one. */
size_t fs_backend_cuda_scratch_bytes(fs_backend *b);

#ifdef __cplusplus
}
#endif
#endif
