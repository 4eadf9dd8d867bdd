/* The sample chunking and scratch layout of the CUDA backend's v1 modconv
 * and down-sampling conv2d (kernels/modconv.cu, kernels/conv2d.cu), as plain
 * C compiled in every build: the kernels need it at run time, the backend's
 * reserve op needs it to bound the scratch of every planned layer before a
 * forward, and tests/test_chunk_plan.c checks it on machines without a GPU.
 *
 * Both ops make per-sample temporaries (noise maps, the transposed conv's
 * planes, the FIR-filtered input) in chunks of samples that fit in a byte
 * limit, so that a batch of 32 at 1024^2 needs no second multi-GB activation
 * buffer; the per-batch pieces (demodulation coefficients, noise seeds,
 * FP16 pre-normalisation) grow with n. Offsets are multiples of
 * FS_CHUNK_ALIGN, so every partition of the scratch is aligned for any
 * element type. */
#ifndef FS_CHUNK_PLAN_H
#define FS_CHUNK_PLAN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FS_CHUNK_ALIGN ((size_t)256)

/* bytes rounded up to FS_CHUNK_ALIGN. */
size_t fs_chunk_align(size_t bytes);

/* Samples per chunk: as many as fit in `limit` bytes at `per_sample` bytes
 * each, at least 1 (a sample larger than the limit is a chunk of its own)
 * and at most n; n when per_sample is 0 (nothing to chunk). 0 when n <= 0. */
int fs_chunk_samples(size_t per_sample, int n, size_t limit);

/* The number of chunks of `chunk` samples that cover n samples. */
int fs_chunk_count(int n, int chunk);

/* One v1 modconv call (fs_modconv_args in F32_NCHW). */
typedef struct {
    int n, cin, cout, h, w, up; /* up 1 or 2 (stride-2 transposed conv + FIR) */
    int need_dcoef;  /* demodulation or FP16 pre-normalisation: dcoef [n, cout] */
    int random;      /* FS_NOISE_RANDOM: seeds [n] and noise planes per chunk */
    int prenorm;     /* FP16 tensor cores: winv, wmax [cout], sn [n, cin], smax [n] */
} fs_modconv_chunk_in;

/* Its scratch, in this order: dcoef [n, cout] floats | seeds [n] uint64 |
 * winv [cout], wmax [cout], sn [n, cin], smax [n] floats | noise
 * [chunk, oh, ow] floats | T [chunk, cout, 2h + 1, 2w + 1] floats (up 2).
 * A piece the call does not need has size 0 (its offset equals the next). */
typedef struct {
    int chunk, n_chunks;
    size_t per_sample;  /* bytes of the chunked pieces per sample */
    size_t off_dcoef, off_seeds, off_norm, off_noise, off_t;
    size_t norm_floats; /* 2 cout + n cin + n with prenorm, else 0 */
    size_t total;       /* bytes of scratch the call needs (at least 1) */
} fs_modconv_chunk_plan;

void fs_modconv_chunk_plan_make(const fs_modconv_chunk_in *in, size_t limit,
                                fs_modconv_chunk_plan *out);

/* One down-sampling conv2d call (fs_conv2d_args with down == 2): the FIR
 * runs first with the conv's padding folded in, decimating by 2 itself for
 * a 1x1 conv (fdown 2), into the filtered image [chunk, cin, fh, fw]; then
 * the conv runs 'valid' with stride 2 (k > 1) or 1 (k == 1) to oh x ow.
 * The same pads and sizes as engine/cpu/conv2d.c. */
typedef struct {
    int p0, p1, fdown, fh, fw, stride, oh, ow;
    int empty;          /* 1: no output (fh, fw, oh or ow <= 0): the op does nothing */
    int chunk, n_chunks;
    size_t per_sample;  /* bytes of the filtered image per sample */
    size_t total;       /* bytes of scratch (per_sample * chunk, at least 1) */
} fs_conv2d_down_plan;

void fs_conv2d_down_plan_make(int n, int cin, int h, int w, int k, int fir_len, size_t limit,
                              fs_conv2d_down_plan *out);

#ifdef __cplusplus
}
#endif
#endif
