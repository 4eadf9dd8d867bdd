/* SimGAN image inputs for refine and score (simgan_cli.h). */
#include "simgan_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../engine/image_io.h"
#include "../engine/image_pil.h"
#include "../engine/simgan.h"
#include "../weights_tools/npy.h"
#include "cli.h"
#include "identity_cli.h"

void cli_sg_images_free(cli_sg_images *im)
{
    cli_names_free(im->names, im->names ? im->n : 0);
    free(im->w);
    free(im->h);
    free(im->npy);
    memset(im, 0, sizeof *im);
}

/* A decoded file as [C, h, w] floats (gray: Pillow's convert('L')). */
static fs_status decode(const cli_sg_images *im, const char *file, float **out, int *w, int *h)
{
    *out = NULL;
    uint8_t *rgb;
    FS_TRY(fs_pil_read_rgb(file, &rgb, w, h));
    size_t plane = (size_t)*w * *h;
    float *x = malloc(plane * (size_t)im->channels * sizeof *x);
    if (!x) {
        free(rgb);
        return fs_error(FS_ERR_NOMEM, "out of memory for %s", file);
    }
    if (im->channels == 1) {
        fs_pil_rgb_to_l(rgb, plane, rgb);
        for (size_t q = 0; q < plane; q++)
            x[q] = fs_simgan_from_u8(rgb[q]);
    } else {
        for (size_t q = 0; q < plane; q++)
            for (int c = 0; c < 3; c++)
                x[c * plane + q] = fs_simgan_from_u8(rgb[3 * q + (size_t)c]);
    }
    free(rgb);
    *out = x;
    return FS_OK;
}

fs_status cli_sg_images_open(cli_sg_images *im, const char *path, int channels)
{
    memset(im, 0, sizeof *im);
    im->path = path;
    im->channels = channels;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return fs_error(FS_ERR_IO, "%s: cannot open: no such file or directory", path);
    if (!S_ISDIR(sb.st_mode)) {
        int ndim;
        int64_t shape[FS_NPY_MAX_DIMS];
        FS_TRY(cli_read_npy(path, "--images", &ndim, shape, &im->npy));
        if (ndim != 4 || shape[0] < 1 || shape[1] != channels || shape[2] < 1 || shape[3] < 1 ||
            shape[2] > 65536 || shape[3] > 65536) {
            char got[128];
            cli_shape_string(got, sizeof got, ndim, shape);
            return fs_error(FS_ERR_SHAPE, "%s: images of shape %s, expected [N, %d, H, W] (in "
                            "[-1, 1]) with N >= 1", path, got, channels);
        }
        im->n = (size_t)shape[0];
        im->w = malloc(im->n * sizeof *im->w);
        im->h = malloc(im->n * sizeof *im->h);
        if (!im->w || !im->h)
            return fs_error(FS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < im->n; i++) {
            im->h[i] = (int)shape[2];
            im->w[i] = (int)shape[3];
        }
        return FS_OK;
    }
    FS_TRY(cli_list_images(path, "--images", &im->names, &im->n));
    im->w = malloc(im->n * sizeof *im->w);
    im->h = malloc(im->n * sizeof *im->h);
    if (!im->w || !im->h)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < im->n; i++) {
        char *file = cli_join(path, im->names[i]);
        uint8_t *rgb = NULL;
        fs_status s = file ? fs_pil_read_rgb(file, &rgb, &im->w[i], &im->h[i])
                           : fs_error(FS_ERR_NOMEM, "out of memory");
        free(rgb);
        free(file);
        FS_TRY(s);
    }
    return FS_OK;
}

int cli_sg_images_one_size(const cli_sg_images *im)
{
    return cli_sg_images_run(im, 0, (int)(im->n < 0x7fffffff ? im->n : 0x7fffffff)) ==
           (int)im->n;
}

int cli_sg_images_run(const cli_sg_images *im, size_t i0, int max)
{
    int k = 1;
    while (i0 + (size_t)k < im->n && k < max && im->w[i0 + (size_t)k] == im->w[i0] &&
           im->h[i0 + (size_t)k] == im->h[i0])
        k++;
    return k;
}

fs_status cli_sg_images_get(const cli_sg_images *im, size_t i0, int nb, float *dst,
                            const float **out)
{
    size_t len = (size_t)im->channels * im->w[i0] * im->h[i0];
    if (im->npy) {
        *out = im->npy + i0 * len;
        return FS_OK;
    }
    for (int k = 0; k < nb; k++) {
        char *file = cli_join(im->path, im->names[i0 + (size_t)k]);
        float *x = NULL;
        int w = 0, h = 0;
        fs_status s = file ? decode(im, file, &x, &w, &h) : fs_error(FS_ERR_NOMEM, "out of memory");
        if (s == FS_OK && (w != im->w[i0] || h != im->h[i0]))
            s = fs_error(FS_ERR_IO, "%s: the file changed while it was read", file);
        if (s == FS_OK)
            memcpy(dst + (size_t)k * len, x, len * sizeof *x);
        free(x);
        free(file);
        FS_TRY(s);
    }
    *out = dst;
    return FS_OK;
}

void cli_sg_images_print_name(const cli_sg_images *im, size_t i)
{
    if (im->names) {
        fputs(im->names[i], stdout);
        return;
    }
    const char *base = strrchr(im->path, '/');
    printf("%s[%zu]", base ? base + 1 : im->path, i);
}
