/* `facesynth score` with a CVAE-GAN: both discriminators on every image
 * (docs/cvaegan.md, "filtering"), a table on stdout and, with
 * --save-raw-dir, the four raw heads as .npy files.
 *
 *   realism  = (mean(d1_src) + mean(d2_src)) / 2, each mean over the patch map
 *   p        = (softmax(d1_cls) + softmax(d2_cls)) / 2
 *   identity = argmax p (the first index on ties), prob = p[identity]
 * computed in double from the float heads.
 *
 * The discriminators have no cross-image layer, so the results do not depend
 * on --batch. Outputs are checked before any work and written at the end,
 * each atomically; if one of them cannot be written, those already written
 * are removed again, and a --save-raw-dir this run created is removed when it
 * stays empty. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/backend.h"
#include "../engine/cvaegan.h"
#include "../engine/progress.h"
#include "../weights_tools/npy.h"
#include "cli.h"

#define CMD "score"

static const char *const head_names[4] = {"d1_src", "d1_cls", "d2_src", "d2_cls"};

typedef struct {
    const cli_cvae_score_args *a;
    fs_weights *w;
    fs_backend *b;
    fs_cvaegan *m;
    cli_images im;
    int R, nid, s1, s2; /* s1, s2: the patch maps' sides, R/64 and R/128 */
    int batch;
    float *img;
    float *head[4];     /* [N, ...] each, in head_names order */
    char *path[4];
    cli_new_dirs made;  /* the directories of --save-raw-dir this run created */
} cvae_score;

static void score_free(cvae_score *sc)
{
    cli_images_free(&sc->im);
    fs_cvaegan_free(sc->m);
    fs_backend_free(sc->b);
    fs_weights_free(sc->w);
    free(sc->img);
    for (int k = 0; k < 4; k++) {
        free(sc->head[k]);
        free(sc->path[k]);
    }
    cli_new_dirs_keep(&sc->made);
}

static size_t head_len(const cvae_score *sc, int k)
{
    return k == 0 ? (size_t)sc->s1 * sc->s1 : k == 2 ? (size_t)sc->s2 * sc->s2 : (size_t)sc->nid;
}

static fs_status prepare(cvae_score *sc)
{
    const cli_cvae_score_args *a = sc->a;
    FS_TRY(cli_backend_open(a->threads, &sc->b));
    FS_TRY(fs_cvaegan_init(&sc->m, sc->w, sc->b));
    const fs_cvaegan_config *cfg = fs_cvaegan_get_config(sc->m);
    sc->R = (int)cfg->img_resolution;
    sc->nid = (int)cfg->n_id;
    sc->s1 = sc->R / 64;
    sc->s2 = sc->R / 128;
    FS_TRY(cli_images_open(&sc->im, a->images, 3, sc->R, 1, "the CVAE-GAN"));
    uint64_t n = sc->im.n;
    sc->batch = (int)(a->batch > 0 ? a->batch : 8);
    if ((uint64_t)sc->batch > n)
        sc->batch = (int)n;
    if (sc->im.from_dir &&
        !(sc->img = malloc((size_t)sc->batch * 3 * sc->R * sc->R * sizeof *sc->img)))
        return fs_error(FS_ERR_NOMEM, "out of memory for a batch of %d images", sc->batch);
    for (int k = 0; k < 4; k++) {
        uint64_t bytes;
        if (__builtin_mul_overflow(n, (uint64_t)head_len(sc, k) * sizeof(float), &bytes) ||
            bytes > SIZE_MAX || !(sc->head[k] = malloc((size_t)bytes)))
            return fs_error(FS_ERR_NOMEM, "out of memory for the scores of %llu images",
                            (unsigned long long)n);
    }
    return FS_OK;
}

/* --save-raw-dir, after every input was checked: the directory (the one
 * thing that could stay behind) and its four files. 0 or an exit status. */
static int prepare_outputs(cvae_score *sc)
{
    const char *dir = sc->a->raw_dir;
    for (int k = 0; k < 4; k++) {
        size_t len = strlen(dir) + 16;
        if (!(sc->path[k] = malloc(len)))
            return cli_fail(fs_error(FS_ERR_NOMEM, "out of memory"));
        snprintf(sc->path[k], len, "%s/%s.npy", dir, head_names[k]);
    }
    fs_status s = cli_make_dirs(dir, &sc->made);
    if (s != FS_OK)
        return cli_fail(s);
    for (int k = 0; k < 4; k++) {
        int rc = cli_check_output(CMD, "--save-raw-dir", sc->path[k]);
        if (rc)
            return rc;
    }
    /* Everything checked: the temporaries dead runs left can go. */
    for (int k = 0; k < 4; k++)
        cli_clean_stale_output(sc->path[k]);
    return 0;
}

static fs_status write_heads(cvae_score *sc)
{
    int64_t n = (int64_t)sc->im.n;
    int64_t shapes[4][4] = {{n, 1, sc->s1, sc->s1}, {n, sc->nid}, {n, 1, sc->s2, sc->s2},
                            {n, sc->nid}};
    for (int k = 0; k < 4; k++) {
        fs_status s = fs_npy_write(sc->path[k], FS_DTYPE_F32, k & 1 ? 2 : 4, shapes[k],
                                   sc->head[k]);
        if (s != FS_OK) {
            for (int j = 0; j < k; j++)
                unlink(sc->path[j]);
            return s;
        }
    }
    return FS_OK;
}

static void softmax_add(const float *x, int n, double *p)
{
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    for (int i = 0; i < n; i++)
        sum += exp((double)x[i] - mx);
    for (int i = 0; i < n; i++)
        p[i] += 0.5 * exp((double)x[i] - mx) / sum;
}

static double mean(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s / (double)n;
}

static fs_status print_table(cvae_score *sc)
{
    double *p = malloc((size_t)sc->nid * sizeof *p);
    if (!p)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    size_t l1 = head_len(sc, 0), l2 = head_len(sc, 2), nid = (size_t)sc->nid;
    printf("index\tname\trealism\tidentity\tprob\n");
    for (uint64_t i = 0; i < sc->im.n; i++) {
        double realism = 0.5 * (mean(sc->head[0] + i * l1, l1) + mean(sc->head[2] + i * l2, l2));
        memset(p, 0, nid * sizeof *p);
        softmax_add(sc->head[1] + i * nid, sc->nid, p);
        softmax_add(sc->head[3] + i * nid, sc->nid, p);
        int best = 0;
        for (int k = 1; k < sc->nid; k++)
            if (p[k] > p[best])
                best = k;
        printf("%llu\t", (unsigned long long)i);
        cli_images_print_name(&sc->im, i);
        printf("\t%.9g\t%d\t%.9g\n", realism, best, p[best]);
    }
    free(p);
    if (fflush(stdout) != 0)
        return fs_error(FS_ERR_IO, "stdout: write failed");
    return FS_OK;
}

static fs_status run(cvae_score *sc)
{
    uint64_t n = sc->im.n;
    fs_progress prog = {0};
    fs_progress_start(&prog, stderr, sc->a->quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO,
                      "images", "img/s", n);
    fs_status s = FS_OK;
    for (uint64_t i0 = 0; i0 < n && s == FS_OK; i0 += (uint64_t)sc->batch) {
        int nb = (int)(n - i0 < (uint64_t)sc->batch ? n - i0 : (uint64_t)sc->batch);
        const float *img;
        s = cli_images_get(&sc->im, i0, nb, sc->img, &img);
        if (s == FS_OK)
            s = fs_cvaegan_discriminate(sc->m, img, nb, sc->head[0] + i0 * head_len(sc, 0),
                                        sc->head[1] + i0 * head_len(sc, 1),
                                        sc->head[2] + i0 * head_len(sc, 2),
                                        sc->head[3] + i0 * head_len(sc, 3));
        if (s == FS_OK)
            fs_progress_update(&prog, i0 + (uint64_t)nb);
    }
    if (s == FS_OK && sc->a->raw_dir)
        s = write_heads(sc);
    if (s != FS_OK) {
        fs_progress_abort(&prog);
        return s;
    }
    fs_progress_finish(&prog);
    return print_table(sc);
}

int cvaegan_score(const cli_cvae_score_args *a, fs_weights *w)
{
    cvae_score sc;
    memset(&sc, 0, sizeof sc);
    sc.a = a;
    sc.w = w;
    fs_status s = prepare(&sc);
    int rc = s == FS_OK ? 0 : cli_fail(s);
    if (rc == 0 && a->raw_dir)
        rc = prepare_outputs(&sc);
    if (rc == 0 && (s = run(&sc)) != FS_OK)
        rc = cli_fail(s);
    if (rc != 0)
        cli_new_dirs_remove(&sc.made); /* only if empty: never anything this run did not create */
    score_free(&sc);
    return rc;
}
