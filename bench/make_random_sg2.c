/* A StyleGAN2 generator with random weights, written as a .fsw: the
 * benchmarks' network where no checkpoint (and no PyTorch to make one) is at
 * hand. Weights and the learned constant are N(0, 1) as the official
 * initialisation draws them (equalised learning rate: the gains live in the
 * forward), biases 0 but the affine biases 1, noise strengths 0.1 so the
 * noise path does real work, w_avg N(0, 1); numpy's RandomState(seed).
 *
 *   build/bench/make_random_sg2 --out FILE [--resolution 256] [--channel-base 32768]
 *       [--channel-max 512] [--seed 0]
 *
 * Timing depends only on the shapes, which are config-f's for the given
 * resolution and channel base. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
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
} builder;

static int ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && !strcmp(s + a - b, tail);
}

static fs_status visit(void *user, const char *name, int ndim, const int64_t *shape)
{
    builder *bl = user;
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
    float fill = ends_with(name, "affine.bias")      ? 1.0f
                 : ends_with(name, "noise_strength") ? 0.1f
                 : ends_with(name, ".bias")          ? 0.0f
                                                     : NAN;
    for (int64_t i = 0; i < numel; i++)
        d[i] = fill == fill ? fill : (float)fs_np_random_gauss(&bl->rng);
    fs_view v = fs_view_contiguous(FS_DTYPE_F32, ndim, shape, d);
    return fs_weights_writer_add(bl->w, name, FS_DTYPE_F32, &v);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"resolution", required_argument, 0, 'r'},
                                         {"channel-base", required_argument, 0, 'b'},
                                         {"channel-max", required_argument, 0, 'm'},
                                         {"seed", required_argument, 0, 's'},
                                         {0, 0, 0, 0}};
    const char *out = NULL;
    fs_sg2_config c;
    fs_sg2_config_default_g(&c);
    c.img_resolution = 256;
    unsigned seed = 0;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'o': out = optarg; break;
        case 'r': c.img_resolution = atoll(optarg); break;
        case 'b': c.channel_base = atoll(optarg); break;
        case 'm': c.channel_max = atoll(optarg); break;
        case 's': seed = (unsigned)strtoul(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: make_random_sg2 --out FILE [--resolution R] "
                            "[--channel-base N] [--channel-max N] [--seed S]\n");
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "make_random_sg2: missing --out FILE\n");
        return 2;
    }
    builder bl;
    memset(&bl, 0, sizeof bl);
    fs_np_random_seed(&bl.rng, seed);
    fs_status s = fs_sg2_config_finalize(&c, out);
    if (s == FS_OK)
        s = fs_weights_writer_init(&bl.w, FS_FAMILY_STYLEGAN2_G);
    if (s == FS_OK)
        s = fs_sg2_config_to_meta(&c, fs_weights_writer_put_meta, bl.w);
    if (s == FS_OK)
        s = fs_sg2_for_each_tensor(&c, visit, &bl);
    if (s == FS_OK)
        s = fs_weights_writer_write_file(bl.w, out);
    fs_weights_writer_free(bl.w);
    for (size_t i = 0; i < bl.n; i++)
        free(bl.bufs[i]);
    free(bl.bufs);
    if (s != FS_OK) {
        fprintf(stderr, "make_random_sg2: %s\n", fs_error_message());
        return 1;
    }
    return 0;
}
