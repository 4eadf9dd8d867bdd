/* `facesynth encode`: images -> latents with a CVAE-GAN's encoder
 * (docs/cvaegan.md): mu, logvar = E(x), z = mu + exp(0.5 logvar) * eps.
 *
 * eps comes from --eps FILE.npy, or is 0 with --mean (z = mu), or else is
 * drawn from the engine's counter-based generator: eps[i][j] =
 * fs_philox_normal(seed, i, j) for image i (its index in the input) and
 * latent component j, so a row does not depend on the batching, the thread
 * count or the other images.
 *
 * Everything is held in memory and written at the end, each file atomically;
 * if one cannot be written, those already written are removed again. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/backend.h"
#include "../engine/cvaegan.h"
#include "../engine/image_io.h"
#include "../engine/progress.h"
#include "../engine/rng.h"
#include "../weights_tools/npy.h"
#include "cli.h"

#define CMD "encode"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth encode --network FILE --images FILE.npy|DIR --save-raw Z.npy\n"
            "                        [--eps FILE.npy | --mean | --seed S] [options]\n"
            "\n"
            "Encodes images with a CVAE-GAN's encoder: mu, logvar = E(x), and writes\n"
            "z = mu + exp(0.5 * logvar) * eps as float32 [N, z_dim] (the latents that\n"
            "'generate --z' takes, e.g. to re-render a face with another --identity).\n"
            "\n"
            "      --network FILE      a CVAE-GAN .fsw or checkpoint\n"
            "      --images PATH       .npy float [N, 3, R, R] in [-1, 1], or a directory of\n"
            "                          square PNG files (*.png, sorted by name in byte order,\n"
            "                          as 'LC_ALL=C ls'; gray/palette expanded, alpha\n"
            "                          dropped) resized to R x R -- area average when larger,\n"
            "                          bilinear (half-pixel centres) when smaller -- and\n"
            "                          mapped to [-1, 1] as x / 127.5 - 1; PNGs of at most\n"
            "                          %d x %d pixels\n"
            "      --save-raw FILE.npy z, float32 [N, z_dim], rows in image order\n"
            "      --save-mu FILE.npy  also write mu, float32 [N, z_dim]\n"
            "      --save-logvar FILE.npy  also write logvar, float32 [N, z_dim]\n"
            "\n"
            "eps (one of):\n"
            "      --eps FILE.npy      eps [N, z_dim]\n"
            "      --mean              eps = 0: z = mu\n"
            "      --seed S            (default 0) eps[i][j] = the engine's Philox4x32-10\n"
            "                          normal fs_philox_normal(S, i, j) for image i and\n"
            "                          component j: independent of --batch and --threads\n"
            "\n"
            "options:\n"
            "      --batch N           images per forward pass (default 8)\n"
            "      --device D          cpu (default), cuda or cuda:N\n"
            "      --threads N         CPU worker threads (default 0: one per core)\n"
            "  -q, --quiet             no progress or summary on stderr\n"
            "  -h, --help              this text\n"
            "      --rename FILE       rename rules for a checkpoint with other module names\n"
            "                          (as 'convert --rename')\n",
            FS_PNG_MAX_DIM, FS_PNG_MAX_DIM);
}

typedef struct {
    const char *network, *images, *eps_path, *z_path, *mu_path, *lv_path;
    int mean, has_seed, quiet;
    long seed_l;
    uint64_t seed;
    long batch, threads;
    cli_net_opts net;
    /* state */
    fs_weights *w;
    fs_backend *b;
    fs_cvaegan *m;
    cli_images im;
    int zd, R;
    float *eps, *img, *mu, *lv, *z;
} enc_state;

static void state_free(enc_state *st)
{
    cli_images_free(&st->im);
    fs_cvaegan_free(st->m);
    fs_backend_free(st->b);
    fs_weights_free(st->w);
    free(st->eps);
    free(st->img);
    free(st->mu);
    free(st->lv);
    free(st->z);
}

static fs_status prepare(enc_state *st)
{
    FS_TRY(cli_open_network(st->network, CLI_NET_CVAEGAN, &st->net, &st->w));
    FS_TRY(cli_backend_open(st->threads, &st->b));
    FS_TRY(fs_cvaegan_init(&st->m, st->w, st->b));
    const fs_cvaegan_config *cfg = fs_cvaegan_get_config(st->m);
    st->zd = (int)cfg->z_dim;
    st->R = (int)cfg->img_resolution;
    FS_TRY(cli_images_open(&st->im, st->images, 3, st->R, 1, "the encoder"));
    uint64_t n = st->im.n;
    if (n > (uint64_t)UINT32_MAX + 1)
        return fs_error(FS_ERR_LIMIT, "%s: %llu images, more than 2^32", st->images,
                        (unsigned long long)n);
    if (st->eps_path) {
        int ndim;
        int64_t shape[FS_NPY_MAX_DIMS];
        FS_TRY(cli_read_npy(st->eps_path, "--eps", &ndim, shape, &st->eps));
        if (ndim != 2 || shape[0] != (int64_t)n || shape[1] != st->zd) {
            char got[128];
            cli_shape_string(got, sizeof got, ndim, shape);
            return fs_error(FS_ERR_SHAPE, "%s: --eps has shape %s, expected [%llu, %d] (one row "
                            "per image of %s)", st->eps_path, got, (unsigned long long)n,
                            st->zd, st->images);
        }
    }
    long batch = st->batch > 0 ? st->batch : 8;
    st->batch = (uint64_t)batch > n ? (long)n : batch;
    uint64_t bytes;
    if (__builtin_mul_overflow(n, (uint64_t)st->zd * sizeof(float), &bytes) || bytes > SIZE_MAX)
        return fs_error(FS_ERR_NOMEM, "out of memory for the latents of %llu images",
                        (unsigned long long)n);
    st->mu = malloc((size_t)bytes);
    st->lv = malloc((size_t)bytes);
    st->z = malloc((size_t)bytes);
    if (st->im.from_dir)
        st->img = malloc((size_t)st->batch * 3 * st->R * st->R * sizeof *st->img);
    if (!st->mu || !st->lv || !st->z || (st->im.from_dir && !st->img))
        return fs_error(FS_ERR_NOMEM, "out of memory for the latents of %llu images",
                        (unsigned long long)n);
    /* Everything checked: the temporaries dead runs left can go. */
    cli_clean_stale_output(st->z_path);
    cli_clean_stale_output(st->mu_path);
    cli_clean_stale_output(st->lv_path);
    return FS_OK;
}

static fs_status run(enc_state *st)
{
    uint64_t n = st->im.n;
    size_t zd = (size_t)st->zd;
    fs_progress prog = {0};
    fs_progress_start(&prog, stderr, st->quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO, "images",
                      "img/s", n);
    fs_status s = FS_OK;
    for (uint64_t i0 = 0; i0 < n && s == FS_OK; i0 += (uint64_t)st->batch) {
        int nb = (int)(n - i0 < (uint64_t)st->batch ? n - i0 : (uint64_t)st->batch);
        const float *img;
        s = cli_images_get(&st->im, i0, nb, st->img, &img);
        if (s == FS_OK)
            s = fs_cvaegan_encode(st->m, img, nb, st->mu + i0 * zd, st->lv + i0 * zd);
        if (s == FS_OK)
            fs_progress_update(&prog, i0 + (uint64_t)nb);
    }
    for (uint64_t i = 0; s == FS_OK && i < n; i++)
        for (size_t j = 0; j < zd; j++) {
            size_t k = (size_t)i * zd + j;
            if (st->mean) {
                st->z[k] = st->mu[k];
                continue;
            }
            float eps = st->eps ? st->eps[k] : fs_philox_normal(st->seed, (uint32_t)i, j);
            st->z[k] = st->mu[k] + expf(0.5f * st->lv[k]) * eps;
        }
    int64_t shape[2] = {(int64_t)n, st->zd};
    const char *paths[3] = {st->z_path, st->mu_path, st->lv_path};
    const float *data[3] = {st->z, st->mu, st->lv};
    for (int k = 0; k < 3 && s == FS_OK; k++) {
        if (paths[k])
            s = fs_npy_write(paths[k], FS_DTYPE_F32, 2, shape, data[k]);
        if (s != FS_OK)
            for (int j = 0; j < k; j++)
                if (paths[j])
                    unlink(paths[j]);
    }
    if (s != FS_OK) {
        fs_progress_abort(&prog);
        return s;
    }
    fs_progress_finish(&prog);
    return FS_OK;
}

int cmd_encode(int argc, char **argv)
{
    enum { O_NET = 256, O_IMAGES, O_EPS, O_MEAN, O_SEED, O_RAW, O_MU, O_LV, O_BATCH, O_THREADS, O_DEVICE };
    static const struct option opts[] = {
        {"network", required_argument, 0, O_NET},  {"images", required_argument, 0, O_IMAGES},
        {"eps", required_argument, 0, O_EPS},      {"mean", no_argument, 0, O_MEAN},
        {"seed", required_argument, 0, O_SEED},    {"save-raw", required_argument, 0, O_RAW},
        {"save-mu", required_argument, 0, O_MU},   {"save-logvar", required_argument, 0, O_LV},
        {"batch", required_argument, 0, O_BATCH},  {"threads", required_argument, 0, O_THREADS}, {"device", required_argument, 0, O_DEVICE},
        {"quiet", no_argument, 0, 'q'},            {"help", no_argument, 0, 'h'},
        {"rename", required_argument, 0, CLI_O_RENAME}, {0, 0, 0, 0}};
    enc_state st;
    memset(&st, 0, sizeof st);
    cli_net_opts_init(&st.net);
    int c;
    cli_getopt_state go;
    cli_getopt_init(&go);
    while ((c = cli_getopt(&go, CMD, argc, argv, ":qh", opts)) != -1) {
        if (c == CLI_OPT_ERROR)
            return FS_EXIT_FAILURE;
        int r = cli_convert_option(CMD, c, optarg, &st.net);
        if (r >= 0) {
            if (r != 0)
                return r;
            continue;
        }
        switch (c) {
        case O_NET: st.network = optarg; break;
        case O_IMAGES: st.images = optarg; break;
        case O_EPS: st.eps_path = optarg; break;
        case O_MEAN: st.mean = 1; break;
        case O_RAW: st.z_path = optarg; break;
        case O_MU: st.mu_path = optarg; break;
        case O_LV: st.lv_path = optarg; break;
        case 'q': st.quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case O_SEED:
            if (!cli_parse_long(optarg, 0, 0x7fffffffffffffffL, &st.seed_l))
                return cli_usage_error(CMD, "--seed needs an integer >= 0, not '%s'", optarg);
            st.seed = (uint64_t)st.seed_l;
            st.has_seed = 1;
            break;
        case O_BATCH: {
            int rc = cli_batch_option(CMD, optarg, &st.batch);
            if (rc)
                return rc;
            break;
        }
        case O_DEVICE: {
            int rc = cli_device_option(CMD, optarg);
            if (rc)
                return rc;
            break;
        }
        case O_THREADS: {
            int rc = cli_threads_option(CMD, optarg, &st.threads);
            if (rc)
                return rc;
            break;
        }
        default:
            return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!st.network)
        return cli_usage_error(CMD, "missing --network FILE");
    if (!st.images)
        return cli_usage_error(CMD, "missing --images FILE.npy|DIR");
    if (!st.z_path)
        return cli_usage_error(CMD, "missing --save-raw FILE.npy (where z goes)");
    if (!!st.eps_path + st.mean + st.has_seed > 1)
        return cli_usage_error(CMD, "--eps, --mean and --seed are mutually exclusive");
    const char *outs[3] = {st.z_path, st.mu_path, st.lv_path};
    static const char *const out_flags[3] = {"--save-raw", "--save-mu", "--save-logvar"};
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < i; j++)
            if (outs[i] && outs[j] && !strcmp(outs[i], outs[j]))
                return cli_usage_error(CMD, "two outputs are the same file '%s'", outs[i]);
        int rc = cli_check_output(CMD, out_flags[i], outs[i]);
        if (rc)
            return rc;
    }
    fs_status s = prepare(&st);
    if (s == FS_OK)
        s = run(&st);
    int rc = s == FS_OK ? 0 : cli_fail(s);
    state_free(&st);
    return rc;
}
