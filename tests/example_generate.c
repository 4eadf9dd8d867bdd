/* The library used as an installed package would use it: a program that
 * includes only <facesynth/engine/facesynth.h>, links only libfacesynth.a,
 * opens a network (any checkpoint or .fsw), picks a backend by name and
 * writes one PNG per seed, with gen_images.py's z for each seed.
 * `make check-install` builds it against a staged `make install` and
 * compares its images with `facesynth generate`'s.
 *
 *   example_generate NETWORK OUTDIR [cpu|cuda[:N]] [SEED...] */
#include <facesynth/engine/facesynth.h>

#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what)
{
    fprintf(stderr, "example_generate: %s: %s\n", what, fs_error_message());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: example_generate NETWORK OUTDIR [DEVICE] [SEED...]\n");
        return 2;
    }
    fs_weights *w = NULL;
    fs_backend *b = NULL;
    fs_sg2_generator *g = NULL;
    fs_network_opts no;
    fs_network_opts_default(&no);
    no.want = FS_WANT_GENERATOR;
    if (fs_network_open(argv[1], &no, &w, NULL) != FS_OK)
        return fail(argv[1]);
    if (fs_backend_open(argc > 3 ? argv[3] : "cpu", NULL, 0, &b) != FS_OK)
        return fail("backend");
    if (fs_sg2_generator_init(&g, w, b) != FS_OK)
        return fail("generator");
    const fs_sg2_config *c = fs_sg2_generator_config(g);
    int R = (int)c->img_resolution, ic = (int)c->img_channels, zd = (int)c->z_dim;
    float *z = malloc((size_t)zd * sizeof *z);
    uint8_t *img = malloc((size_t)R * R * ic);
    if (!z || !img) {
        fprintf(stderr, "example_generate: out of memory\n");
        return 1;
    }
    int rc = 0;
    for (int i = 4; i < argc || (argc <= 4 && i == 4); i++) {
        unsigned seed = i < argc ? (unsigned)strtoul(argv[i], NULL, 10) : 0;
        fs_np_random r;
        fs_np_random_seed(&r, seed);
        for (int j = 0; j < zd; j++)
            z[j] = (float)fs_np_random_gauss(&r);
        uint64_t noise_seed = seed;
        fs_sg2_generate_args a = {.n = 1, .z = z, .psi = 1.0f, .cutoff = -1,
                                  .noise_mode = FS_NOISE_CONST, .noise_seeds = &noise_seed,
                                  .images = img};
        char path[4096];
        snprintf(path, sizeof path, "%s/seed%04u.png", argv[2], seed);
        if (fs_sg2_generate(g, &a) != FS_OK || fs_png_write_rgb8(path, img, R, R, ic) != FS_OK) {
            rc = fail(path);
            break;
        }
    }
    free(z);
    free(img);
    fs_sg2_generator_free(g);
    fs_backend_free(b);
    fs_weights_free(w);
    return rc;
}
