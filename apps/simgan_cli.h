/* SimGAN on the command line (docs/simgan.md): the images `facesynth refine`
 * (cmd_refine.c) and the SimGAN branch of `facesynth score` (simgan_score.c)
 * read, and that branch's entry point. */
#ifndef FS_SIMGAN_CLI_H
#define FS_SIMGAN_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/status.h"
#include "../engine/weights.h"

/* Images of any size: a folder of PNG and JPEG files (name order; PIL
 * convert('RGB'), or convert('L') for a gray network; u / 127.5 - 1 in
 * float32, the spec's scaling) or an .npy [N, C, H, W] in [-1, 1]. Every
 * file is decoded once when opened, so that nothing runs on a bad input. */
typedef struct {
    const char *path;
    int channels;
    char **names;  /* folder */
    size_t n;
    int *w, *h;    /* [n] */
    float *npy;    /* .npy */
} cli_sg_images;

fs_status cli_sg_images_open(cli_sg_images *im, const char *path, int channels);
void cli_sg_images_free(cli_sg_images *im);
/* 1 when every image has the size of the first. */
int cli_sg_images_one_size(const cli_sg_images *im);
/* How many images from i0 on (at most max) share image i0's size. */
int cli_sg_images_run(const cli_sg_images *im, size_t i0, int max);
/* Images i0 .. i0 + nb - 1 (one size) as float [nb, C, h, w]: a pointer into
 * the .npy or decoded into dst. */
fs_status cli_sg_images_get(const cli_sg_images *im, size_t i0, int nb, float *dst,
                            const float **out);
/* "file.png" or "x.npy[i]" on stdout. */
void cli_sg_images_print_name(const cli_sg_images *im, size_t i);

/* `score` with a SimGAN, after cmd_score parsed the arguments and opened the
 * file (which it takes over); returns the exit status. */
typedef struct {
    const char *images, *raw_path;
    long batch, threads;
    int quiet;
} cli_simgan_score_args;
int simgan_score(const cli_simgan_score_args *a, fs_weights *w);

#endif
