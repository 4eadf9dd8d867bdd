/* `facesynth score` with a SimGAN (docs/simgan.md): the local
 * discriminator's probability that each patch is real. For every image the
 * table on stdout has its index, name and realism, the mean of its patch
 * map; --save-raw writes the maps, float32 [N, h', w'] (images of one size).
 * Images of any size, in batches of consecutive same-size images; the
 * numbers do not depend on --batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/progress.h"
#include "../engine/simgan.h"
#include "../weights_tools/npy.h"
#include "cli.h"
#include "simgan_cli.h"

typedef struct {
    fs_backend *b;
    fs_simgan *m;
    cli_sg_images im;
    float *x, *p, *realism;
    size_t *at; /* [n + 1]: where image i's map starts in p */
} sg_score;

static void sg_free(sg_score *st)
{
    fs_simgan_free(st->m);
    fs_backend_free(st->b);
    cli_sg_images_free(&st->im);
    free(st->x);
    free(st->p);
    free(st->realism);
    free(st->at);
}

static fs_status score(const cli_simgan_score_args *a, fs_weights *w, sg_score *st)
{
    FS_TRY(cli_backend_open(a->threads, &st->b));
    FS_TRY(fs_simgan_init(&st->m, w, st->b));
    const fs_simgan_config *c = fs_simgan_get_config(st->m);
    if (!c->has_discriminator)
        return fs_error(FS_ERR_ARG, "%s: the SimGAN file holds only the refiner (no disc.* "
                        "tensors): score needs its discriminator", fs_weights_label(w));
    FS_TRY(cli_sg_images_open(&st->im, a->images, (int)c->channels));
    size_t n = st->im.n, largest = 0;
    if (a->raw_path && !cli_sg_images_one_size(&st->im))
        return fs_error(FS_ERR_ARG, "%s: the images have different sizes, so their patch maps "
                        "do not stack into one --save-raw array (score one size at a time)",
                        a->images);
    if (!(st->at = malloc((n + 1) * sizeof *st->at)) ||
        !(st->realism = malloc(n * sizeof *st->realism)))
        return fs_error(FS_ERR_NOMEM, "out of memory");
    st->at[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t img = (size_t)c->channels * st->im.w[i] * st->im.h[i];
        largest = img > largest ? img : largest;
        st->at[i + 1] = st->at[i] + (size_t)fs_simgan_patch_side(st->im.h[i]) *
                                        (size_t)fs_simgan_patch_side(st->im.w[i]);
    }
    size_t B = (size_t)a->batch < n ? (size_t)a->batch : n;
    if (!(st->p = malloc(st->at[n] * sizeof *st->p)) ||
        (!st->im.npy && !(st->x = malloc(B * largest * sizeof *st->x))))
        return fs_error(FS_ERR_NOMEM, "out of memory for a batch of %zu images", B);
    cli_clean_stale_output(a->raw_path);
    fs_progress prog = {0};
    fs_progress_start(&prog, stderr, a->quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO, "images",
                      "img/s", n);
    fs_status s = FS_OK;
    for (size_t i0 = 0; i0 < n && s == FS_OK;) {
        int nb = cli_sg_images_run(&st->im, i0, (int)B);
        const float *x;
        s = cli_sg_images_get(&st->im, i0, nb, st->x, &x);
        if (s == FS_OK)
            s = fs_simgan_discriminate(st->m, x, nb, st->im.h[i0], st->im.w[i0], NULL,
                                       st->p + st->at[i0]);
        for (int k = 0; s == FS_OK && k < nb; k++) {
            size_t i = i0 + (size_t)k;
            double sum = 0;
            for (size_t q = st->at[i]; q < st->at[i + 1]; q++)
                sum += st->p[q];
            st->realism[i] = (float)(sum / (double)(st->at[i + 1] - st->at[i]));
        }
        i0 += (size_t)nb;
        if (s == FS_OK)
            fs_progress_update(&prog, i0);
    }
    if (s == FS_OK && a->raw_path) {
        int64_t shape[3] = {(int64_t)n, fs_simgan_patch_side(st->im.h[0]),
                            fs_simgan_patch_side(st->im.w[0])};
        s = fs_npy_write(a->raw_path, FS_DTYPE_F32, 3, shape, st->p);
    }
    if (s != FS_OK) {
        fs_progress_abort(&prog);
        return s;
    }
    fs_progress_finish(&prog);
    printf("index\tname\trealism\n");
    for (size_t i = 0; i < n; i++) {
        printf("%zu\t", i);
        cli_sg_images_print_name(&st->im, i);
        printf("\t%.9g\n", (double)st->realism[i]);
    }
    if (fflush(stdout) != 0)
        return fs_error(FS_ERR_IO, "stdout: write failed");
    return FS_OK;
}

int simgan_score(const cli_simgan_score_args *a, fs_weights *w)
{
    sg_score st;
    memset(&st, 0, sizeof st);
    fs_status s = score(a, w, &st);
    sg_free(&st);
    fs_weights_free(w);
    return s == FS_OK ? 0 : cli_fail(s);
}
