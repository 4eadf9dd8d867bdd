/* The chunk arithmetic of the CUDA backend's modconv and down-sampling
 * conv2d (chunk_plan.h): host code with no CUDA in it, so that the kernels,
 * the backend's scratch bound and the CPU tests all use the same numbers. */
#include "chunk_plan.h"

#include <stdint.h>

size_t fs_chunk_align(size_t bytes)
{
    return (bytes + FS_CHUNK_ALIGN - 1) & ~(FS_CHUNK_ALIGN - 1);
}

int fs_chunk_samples(size_t per_sample, int n, size_t limit)
{
    if (n <= 0)
        return 0;
    if (per_sample == 0)
        return n;
    size_t c = limit / per_sample;
    return c < 1 ? 1 : c > (size_t)n ? n : (int)c;
}

int fs_chunk_count(int n, int chunk)
{
    return n > 0 && chunk > 0 ? (n + chunk - 1) / chunk : 0;
}

void fs_modconv_chunk_plan_make(const fs_modconv_chunk_in *in, size_t limit,
                                fs_modconv_chunk_plan *out)
{
    int n = in->n > 0 ? in->n : 0;
    size_t plane = (size_t)in->h * in->up * (size_t)in->w * in->up;
    size_t tplane = (size_t)(2 * in->h + 1) * (size_t)(2 * in->w + 1);
    size_t noise_ps = in->random ? plane * sizeof(float) : 0;
    size_t t_ps = in->up == 2 ? (size_t)in->cout * tplane * sizeof(float) : 0;
    *out = (fs_modconv_chunk_plan){0};
    out->per_sample = noise_ps + t_ps;
    out->chunk = fs_chunk_samples(out->per_sample, n, limit);
    out->n_chunks = fs_chunk_count(n, out->chunk);
    out->off_dcoef = 0;
    out->off_seeds = out->off_dcoef +
                     fs_chunk_align(in->need_dcoef ? (size_t)n * in->cout * sizeof(float) : 0);
    out->off_norm = out->off_seeds + fs_chunk_align(in->random ? (size_t)n * sizeof(uint64_t) : 0);
    out->norm_floats = in->prenorm ? 2 * (size_t)in->cout + (size_t)n * in->cin + (size_t)n : 0;
    out->off_noise = out->off_norm + fs_chunk_align(out->norm_floats * sizeof(float));
    out->off_t = out->off_noise + fs_chunk_align((size_t)out->chunk * noise_ps);
    out->total = out->off_t + (size_t)out->chunk * t_ps;
    if (out->total == 0)
        out->total = 1;
}

void fs_conv2d_down_plan_make(int n, int cin, int h, int w, int k, int fir_len, size_t limit,
                              fs_conv2d_down_plan *out)
{
    *out = (fs_conv2d_down_plan){0};
    int fl = fir_len;
    out->p0 = k / 2 + (fl - 2 + 1) / 2;
    out->p1 = k / 2 + (fl - 2) / 2;
    out->fdown = k == 1 ? 2 : 1;
    out->fh = (h + out->p0 + out->p1 - fl) / out->fdown + 1;
    out->fw = (w + out->p0 + out->p1 - fl) / out->fdown + 1;
    out->stride = k == 1 ? 1 : 2;
    out->oh = (out->fh - k) / out->stride + 1;
    out->ow = (out->fw - k) / out->stride + 1;
    /* the test the op has always made (and the CPU's sizes agree with) */
    out->empty = out->fh <= 0 || out->fw <= 0 || out->oh <= 0 || out->ow <= 0;
    out->per_sample = out->empty ? 0 : (size_t)cin * out->fh * out->fw * sizeof(float);
    out->chunk = out->empty ? 0 : fs_chunk_samples(out->per_sample, n, limit);
    out->n_chunks = fs_chunk_count(n, out->chunk);
    out->total = out->per_sample * (size_t)out->chunk;
    if (out->total == 0)
        out->total = 1;
}
