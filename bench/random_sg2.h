/* A StyleGAN2 generator with random weights as bench/make_random_sg2.c draws
 * them (weights and the learned constant N(0, 1), biases 0 but the affine
 * biases 1, noise strengths 0.1, w_avg N(0, 1); numpy's RandomState(seed)),
 * shared by make_random_sg2 (written to a file) and bench_precision (kept in
 * memory). Include once, in a program linked with the library. */
#ifndef FS_BENCH_RANDOM_SG2_H
#define FS_BENCH_RANDOM_SG2_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/rng.h"
#include "../engine/stylegan2_config.h"
#include "../weights_tools/view.h"
#include "../weights_tools/weights_writer.h"

typedef struct {
    fs_weights_writer *w;
    fs_np_random rng;
    float **bufs;
    size_t n, cap;
} random_sg2_builder;

static int random_sg2_ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && !strcmp(s + a - b, tail);
}

static fs_status random_sg2_visit(void *user, const char *name, int ndim, const int64_t *shape)
{
    random_sg2_builder *bl = user;
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++)
        numel *= shape[d];
    float *d = malloc((size_t)(numel ? numel : 1) * sizeof *d);
    if (!d)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", name);
    if (bl->n == bl->cap) {
        size_t cap = bl->cap ? 2 * bl->cap : 256;
        float **p = realloc(bl->bufs, cap * sizeof *p);
        if (!p) {
            free(d);
            return fs_error(FS_ERR_NOMEM, "out of memory");
        }
        bl->bufs = p;
        bl->cap = cap;
    }
    bl->bufs[bl->n++] = d;
    float fill = random_sg2_ends_with(name, "affine.bias")      ? 1.0f
                 : random_sg2_ends_with(name, "noise_strength") ? 0.1f
                 : random_sg2_ends_with(name, ".bias")          ? 0.0f
                                                                : NAN;
    for (int64_t i = 0; i < numel; i++)
        d[i] = fill == fill ? fill : (float)fs_np_random_gauss(&bl->rng);
    fs_view v = fs_view_contiguous(FS_DTYPE_F32, ndim, shape, d);
    return fs_weights_writer_add(bl->w, name, FS_DTYPE_F32, &v);
}

/* Finalizes *c (label names it in errors) and draws its tensors from seed:
 * written to path where that is not NULL, else returned in *buf, *len (the
 * caller frees *buf). */
static fs_status random_sg2_write(fs_sg2_config *c, unsigned seed, const char *label,
                                  const char *path, uint8_t **buf, size_t *len)
{
    random_sg2_builder bl;
    memset(&bl, 0, sizeof bl);
    fs_np_random_seed(&bl.rng, seed);
    fs_status s = fs_sg2_config_finalize(c, label);
    if (s == FS_OK)
        s = fs_weights_writer_init(&bl.w, FS_FAMILY_STYLEGAN2_G);
    if (s == FS_OK)
        s = fs_sg2_config_to_meta(c, fs_weights_writer_put_meta, bl.w);
    if (s == FS_OK)
        s = fs_sg2_for_each_tensor(c, random_sg2_visit, &bl);
    if (s == FS_OK)
        s = path ? fs_weights_writer_write_file(bl.w, path)
                 : fs_weights_writer_write_memory(bl.w, buf, len);
    fs_weights_writer_free(bl.w);
    for (size_t i = 0; i < bl.n; i++)
        free(bl.bufs[i]);
    free(bl.bufs);
    return s;
}

#endif
