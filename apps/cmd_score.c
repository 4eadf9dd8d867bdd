/* `facesynth score`: StyleGAN2 discriminator logits for a set of images,
 * given as an .npy array [N, C, R, R] in [-1, 1] (what `generate --save-raw`
 * writes) or as a directory of R x R PNGs (read in name order and mapped to
 * [-1, 1] as x / 127.5 - 1, like the official metrics code). A CVAE-GAN
 * network is handed to cvaegan_score.c after the arguments are parsed, a
 * SimGAN to simgan_score.c.
 *
 * The discriminator's minibatch-std layer mixes statistics across a group of
 * images, so a logit depends on which images share its batch. Images are run
 * in batches of --batch (default: the model's mbstd group size, which is how
 * the official training loop calls D) in input order; each batch must split
 * into whole groups. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/backend.h"
#include "../engine/file.h"
#include "../engine/image_io.h"
#include "../engine/progress.h"
#include "../engine/stylegan2.h"
#include "../weights_tools/npy.h"
#include "cli.h"
#include "simgan_cli.h"

#define CMD "score"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth score --network FILE --images FILE.npy|DIR [options]\n"
            "\n"
            "Runs a StyleGAN2 discriminator on images and prints one logit per image on\n"
            "stdout, as a tab-separated table: index, name, logit. With a CVAE-GAN, runs\n"
            "both of its discriminators (see below).\n"
            "\n"
            "      --network FILE      a discriminator .fsw, or a checkpoint whose D is used\n"
            "                          (a network pickle, or a bare D state dict), or a\n"
            "                          CVAE-GAN or a SimGAN (.fsw or checkpoint)\n"
            "      --images PATH       .npy float [N, C, R, R] in [-1, 1] (e.g. generate\n"
            "                          --save-raw), or a directory of PNG files (*.png,\n"
            "                          sorted by name; gray/palette expanded, alpha dropped)\n"
            "                          of size R x R (StyleGAN2) or square (CVAE-GAN: resized\n"
            "                          to R x R by area averaging when larger, bilinearly\n"
            "                          when smaller), mapped to [-1, 1] as x / 127.5 - 1;\n"
            "                          PNGs of at most %d x %d pixels\n"
            "      --batch N           images per forward pass (StyleGAN2 default: the\n"
            "                          model's minibatch-std group size; CVAE-GAN default 8,\n"
            "                          results do not depend on it)\n"
            "      --device D          cpu (default), cuda or cuda:N\n"
            "      --threads N         CPU worker threads (default 0: one per core)\n"
            "  -q, --quiet             no progress or summary on stderr\n"
            "  -h, --help              this text\n"
            "\n"
            "StyleGAN2:\n"
            "      --class K           class of a conditional network, for every image\n"
            "      --c FILE.npy        labels [N, c_dim] (or [1, c_dim] for every image)\n"
            "      --save-raw FILE.npy also write the logits as float32 [N, 1]\n"
            "      The minibatch-std layer pools over groups within a batch, so logits\n"
            "      depend on the batching; every batch must be a whole number of groups.\n"
            "\n"
            "CVAE-GAN: the table has the columns index, name, realism, identity, prob:\n"
            "      realism   = (mean(d1_src) + mean(d2_src)) / 2, each mean over the\n"
            "                  discriminator's patch map (D1 full scale, D2 half scale)\n"
            "      p         = (softmax(d1_cls) + softmax(d2_cls)) / 2\n"
            "      identity  = argmax p (the first on ties); prob = p[identity]\n"
            "      --save-raw-dir DIR  also write the raw heads as float32 .npy files in DIR\n"
            "                          (created if missing): d1_src [N, 1, R/64, R/64],\n"
            "                          d1_cls [N, n_id], d2_src [N, 1, R/128, R/128], d2_cls\n"
            "\n"
            "SimGAN (docs/simgan.md): the table has the columns index, name, realism: the\n"
            "      mean over the local discriminator's patch map of p(real), the softmax of\n"
            "      its two logits at each position (channel 0 = real); images of any size\n"
            "      (a folder of PNG/JPEG files read as 'refine' reads them, or an .npy\n"
            "      [N, C, H, W] in [-1, 1]); --batch default 8, results do not depend on it\n"
            "      --save-raw FILE.npy also write the patch maps, float32 [N, h', w'] with\n"
            "                          h' = ceil(ceil(H / 2) / 2) (images of one size)\n"            "\n"
            "when --network is a checkpoint (converted in memory, as 'convert' would):\n"
            "%s",
            FS_PNG_MAX_DIM, FS_PNG_MAX_DIM, cli_convert_help);
}

typedef struct {
    const char *network, *images, *c_path, *raw_path, *raw_dir;
    long class_idx, batch, threads;
    int has_class, quiet;
    cli_net_opts net;
    cli_images im;
    uint64_t n;
    /* model */
    fs_weights *w;
    fs_backend *b;
    fs_sg2_discriminator *d;
    float *labels;
    int label_rows;
    /* per batch */
    float *img, *c, *logits;
} score_state;

static void state_free(score_state *st)
{
    cli_images_free(&st->im);
    fs_sg2_discriminator_free(st->d);
    fs_backend_free(st->b);
    fs_weights_free(st->w);
    free(st->labels);
    free(st->img);
    free(st->c);
    free(st->logits);
}

/* The minibatch-std grouping the discriminator will apply to a batch of nb. */
static int batch_ok(const fs_sg2_config *cfg, uint64_t nb)
{
    if (nb == 0 || cfg->mbstd_num_channels == 0)
        return 1;
    uint64_t g = cfg->mbstd_group_size > 0 && (uint64_t)cfg->mbstd_group_size < nb
                     ? (uint64_t)cfg->mbstd_group_size : nb;
    return nb % g == 0;
}

static fs_status run(score_state *st)
{
    const fs_sg2_config *cfg = fs_sg2_discriminator_config(st->d);
    int R = (int)cfg->img_resolution, ic = (int)cfg->img_channels, cd = (int)cfg->c_dim;
    size_t img_len = (size_t)ic * R * R;
    int B = (int)st->batch;
    st->img = malloc((size_t)B * img_len * sizeof *st->img);
    st->c = malloc(((size_t)B * cd + 1) * sizeof *st->c);
    st->logits = malloc((size_t)st->n * sizeof *st->logits);
    if (!st->img || !st->c || !st->logits)
        return fs_error(FS_ERR_NOMEM, "out of memory for a batch of %d images", B);
    fs_progress prog = {0};
    fs_progress_start(&prog, stderr, st->quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO, "images",
                      "img/s", st->n);
    fs_status s = FS_OK;
    for (uint64_t i0 = 0; i0 < st->n && s == FS_OK; i0 += (uint64_t)B) {
        int nb = (int)(st->n - i0 < (uint64_t)B ? st->n - i0 : (uint64_t)B);
        const float *img;
        s = cli_images_get(&st->im, i0, nb, st->img, &img);
        for (int k = 0; k < nb && cd > 0; k++) {
            uint64_t i = i0 + (uint64_t)k;
            memcpy(st->c + (size_t)k * cd, st->labels + (st->label_rows == 1 ? 0 : i * cd),
                   (size_t)cd * sizeof *st->c);
        }
        if (s == FS_OK)
            s = fs_sg2_discriminator_run(st->d, img, cd > 0 ? st->c : NULL, nb,
                                         st->logits + i0);
        if (s == FS_OK)
            fs_progress_update(&prog, i0 + (uint64_t)nb);
    }
    if (s == FS_OK && st->raw_path) {
        int64_t shape[2] = {(int64_t)st->n, 1};
        s = fs_npy_write(st->raw_path, FS_DTYPE_F32, 2, shape, st->logits);
    }
    if (s != FS_OK) {
        fs_progress_abort(&prog);
        return s;
    }
    fs_progress_finish(&prog);
    printf("index\tname\tlogit\n");
    for (uint64_t i = 0; i < st->n; i++) {
        printf("%llu\t", (unsigned long long)i);
        cli_images_print_name(&st->im, i);
        printf("\t%.9g\n", st->logits[i]);
    }
    if (fflush(stdout) != 0)
        return fs_error(FS_ERR_IO, "stdout: write failed");
    return FS_OK;
}

static int prepare(score_state *st)
{
    fs_status s = cli_backend_open(st->threads, &st->b);
    if (s == FS_OK)
        s = fs_sg2_discriminator_init(&st->d, st->w, st->b);
    const fs_sg2_config *cfg = s == FS_OK ? fs_sg2_discriminator_config(st->d) : NULL;
    if (s == FS_OK)
        s = cli_images_open(&st->im, st->images, (int)cfg->img_channels,
                            (int)cfg->img_resolution, 0, "the discriminator");
    if (s != FS_OK)
        return cli_fail(s);
    st->n = st->im.n;
    s = cli_load_labels(st->c_path, st->has_class, st->class_idx, cfg->c_dim, st->n,
                        &st->labels, &st->label_rows);
    if (s != FS_OK)
        return s == FS_ERR_ARG ? cli_usage_error(CMD, "%s", fs_error_message()) : cli_fail(s);
    if (st->batch == 0) {
        uint64_t g = cfg->mbstd_group_size > 0 ? (uint64_t)cfg->mbstd_group_size : st->n;
        st->batch = (long)(g < st->n ? g : st->n);
    }
    if (st->batch > (long)st->n)
        st->batch = (long)st->n;
    uint64_t last = st->n % (uint64_t)st->batch;
    if (!batch_ok(cfg, (uint64_t)st->batch) || !batch_ok(cfg, last))
        return cli_usage_error(CMD, "batches of %ld (and a last one of %llu) do not split into "
                               "minibatch-std groups of %lld: choose --batch as a multiple of "
                               "%lld", st->batch, (unsigned long long)last,
                               (long long)cfg->mbstd_group_size,
                               (long long)cfg->mbstd_group_size);
    /* Everything checked: the temporaries dead runs left can go. */
    cli_clean_stale_output(st->raw_path);
    return 0;
}

int cmd_score(int argc, char **argv)
{
    enum { O_NET = 256, O_IMAGES, O_CLASS, O_C, O_RAW, O_BATCH, O_THREADS, O_RAW_DIR, O_DEVICE };
    static const struct option opts[] = {
        {"network", required_argument, 0, O_NET}, {"images", required_argument, 0, O_IMAGES},
        {"class", required_argument, 0, O_CLASS}, {"c", required_argument, 0, O_C},
        {"save-raw", required_argument, 0, O_RAW}, {"batch", required_argument, 0, O_BATCH},
        {"threads", required_argument, 0, O_THREADS}, {"device", required_argument, 0, O_DEVICE}, {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},            {"save-raw-dir", required_argument, 0, O_RAW_DIR},
        CLI_CONVERT_OPTIONS,                      {0, 0, 0, 0}};
    score_state st;
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
        case O_RAW_DIR: st.raw_dir = optarg; break;
        case O_IMAGES: st.images = optarg; break;
        case O_C: st.c_path = optarg; break;
        case O_RAW: st.raw_path = optarg; break;
        case 'q': st.quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case O_CLASS:
            if (!cli_parse_long(optarg, 0, 1L << 30, &st.class_idx))
                return cli_usage_error(CMD, "--class needs an integer >= 0, not '%s'", optarg);
            st.has_class = 1;
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
    if (st.raw_dir && !*st.raw_dir)
        return cli_usage_error(CMD, "--save-raw-dir is empty");
    int rc = cli_check_output(CMD, "--save-raw", st.raw_path);
    if (rc)
        return rc;
    fs_status s = cli_open_network(st.network, CLI_NET_DISCRIMINATOR, &st.net, &st.w);
    if (s != FS_OK)
        return cli_fail(s);
    if (fs_weights_family(st.w) == FS_FAMILY_CVAEGAN) {
        if (st.has_class || st.c_path || st.raw_path)
            rc = cli_usage_error(CMD, "%s is a CVAE-GAN: %s is a StyleGAN2 option%s", st.network,
                                 st.raw_path ? "--save-raw" : st.has_class ? "--class" : "--c",
                                 st.raw_path ? " (a CVAE-GAN has four outputs: use "
                                               "--save-raw-dir DIR)" : "");
        else {
            cli_cvae_score_args ca = {.images = st.images, .raw_dir = st.raw_dir,
                                      .batch = st.batch, .threads = st.threads,
                                      .quiet = st.quiet};
            rc = cvaegan_score(&ca, st.w);
            st.w = NULL; /* cvaegan_score owns it */
        }
        state_free(&st);
        return rc;
    }
    if (fs_weights_family(st.w) == FS_FAMILY_SIMGAN) {
        if (st.has_class || st.c_path || st.raw_dir)
            rc = cli_usage_error(CMD, "%s is a SimGAN: %s is a %s option", st.network,
                                 st.raw_dir ? "--save-raw-dir" : st.has_class ? "--class" : "--c",
                                 st.raw_dir ? "CVAE-GAN" : "StyleGAN2");
        else {
            cli_simgan_score_args sa = {.images = st.images, .raw_path = st.raw_path,
                                        .batch = st.batch ? st.batch : 8,
                                        .threads = st.threads, .quiet = st.quiet};
            rc = simgan_score(&sa, st.w);
            st.w = NULL; /* simgan_score owns it */
        }
        state_free(&st);
        return rc;
    }
    if (st.raw_dir) {
        state_free(&st);
        return cli_usage_error(CMD, "--save-raw-dir is a CVAE-GAN option; %s is a StyleGAN2 "
                               "discriminator (use --save-raw FILE.npy)", st.network);
    }
    rc = prepare(&st);
    if (rc == 0 && (s = run(&st)) != FS_OK)
        rc = cli_fail(s);
    state_free(&st);
    return rc;
}
