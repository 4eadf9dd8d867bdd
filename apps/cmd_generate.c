/* `facesynth generate`: images from a StyleGAN2 generator, compatible with
 * NVlabs gen_images.py: the same seed gives the same z (numpy RandomState),
 * the same truncation, noise and uint8 conversion, and the same file names
 * (seed%04d.png), so the same PNG bytes' pixels. A CVAE-GAN network is handed
 * to cvaegan_generate.c after the arguments are parsed.
 *
 * Everything that can be checked is checked before the first image is
 * written (arguments, network, input arrays, their shapes and values, labels,
 * every output path), so a bad invocation fails with one line and leaves no
 * files. A run that fails later (disk full) keeps the images already
 * written, each complete, and removes an output directory it created and
 * left empty. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/backend.h"
#include "../engine/file.h"
#include "../engine/image_io.h"
#include "../engine/progress.h"
#include "../engine/rng.h"
#include "../engine/sg2_pipeline.h"
#include "../engine/stylegan2.h"
#include "../weights_tools/convert.h"
#include "../weights_tools/npy.h"
#include "cli.h"
#include "seeds.h"

/* ---- generate --------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth generate --network FILE (--seeds LIST | --z FILE.npy | --ws FILE.npy)\n"
            "                          [options]\n"
            "\n"
            "Generates images with a StyleGAN2 generator as NVlabs gen_images.py does: seed s\n"
            "uses z = numpy.random.RandomState(s).randn(1, z_dim), and the PNGs have the\n"
            "same pixels as the official script's (within the generator's float accuracy).\n"
            "With a CVAE-GAN network, the same z with an identity label (see below).\n"
            "\n"
            "input:\n"
            "      --network FILE      a .fsw weight file or any checkpoint 'convert' reads\n"
            "                          (its G_ema, or Gs for TensorFlow pickles; a CVAE-GAN)\n"
            "      --seeds LIST        e.g. 0-35,40: inclusive ranges and single seeds,\n"
            "                          0 to 4294967295; writes seedNNNN.png\n"
            "      --z FILE.npy        latents [N, z_dim] (float32/64); writes imgNNNN.png\n"
            "      --ws FILE.npy       intermediate latents [N, num_ws, w_dim]: skips the\n"
            "                          mapping network; writes imgNNNN.png (StyleGAN2)\n"
            "      --class K           class of a conditional StyleGAN2 (one-hot label)\n"
            "      --c FILE.npy        labels [N, c_dim] (or [1, c_dim] for every image);\n"
            "                          for a CVAE-GAN [N, n_id] (or [1, n_id])\n"
            "\n"
            "StyleGAN2 options:\n"
            "      --trunc PSI         truncation psi (default 1: none)\n"
            "      --trunc-cutoff N    truncate only the first N ws (default: all)\n"
            "      --noise-mode M      const (default), random or none; random noise is\n"
            "                          seeded by each image's seed (or row index), so it is\n"
            "                          reproducible, but not torch.randn's\n"
            "\n"
            "CVAE-GAN labels (exactly one of --identity, --mix, --c):\n"
            "      --identity K        identity K, 0 <= K < n_id: the one-hot label\n"
            "      --mix LIST          a new identity mixing the one-hot labels of LIST\n"
            "                          (e.g. 3,7,9: two or more distinct identities)\n"
            "      --mix-weights LIST  its weights, e.g. 0.5,0.3,0.2: >= 0, one per identity,\n"
            "                          normalised to sum 1. Without it, each image draws its\n"
            "                          own weights, uniform on the simplex, from its seed:\n"
            "                            r = numpy.random.RandomState(seed)\n"
            "                            z = r.randn(1, z_dim)\n"
            "                            e = r.standard_exponential(k)   # -log(1 - U)\n"
            "                            weights = (e / e.sum()).astype(float32)\n"
            "                          (needs --seeds)\n"
            "      --save-labels FILE.npy  write the label of every image, float32 [N, n_id],\n"
            "                          rows in image order; with --save-raw X.npy the labels\n"
            "                          are always written to X.labels.npy as well\n"
            "      File names carry only the seed (seedNNNN.png): give each --identity\n"
            "      or --mix its own --outdir, or an image of another label is overwritten.\n"
            "\n"
            "options:\n"
            "      --outdir DIR        output directory, created if missing (default: out)\n"
            "      --save-raw FILE.npy also write every image as float32 [N, C, R, R],\n"
            "                          before the uint8 conversion (held in memory)\n"
            "      --batch N           images per forward pass (default 4); results do not\n"
            "                          depend on it\n"
            "      --device D          cpu (default), cuda or cuda:N\n"
            "      --precision P       CUDA arithmetic: fp32 (default), tf32, fp16 or bf16\n"
            "                          (features in that format, FP32 accumulation) or mixed\n"
            "                          (fp16 in the top num_fp16_res resolutions, as the\n"
            "                          official code); the CPU emulates all but tf32\n"
            "      --threads N         CPU worker threads (default 0: one per core)\n"
            "  -q, --quiet             no progress or summary on stderr\n"
            "  -h, --help              this text\n"
            "\n"
            "when --network is a checkpoint (converted in memory, as 'convert' would):\n"
            "%s",
            cli_convert_help);
}

#define CMD "generate"

typedef enum { SRC_SEEDS, SRC_Z, SRC_WS } source_kind;

typedef struct {
    const char *network, *seeds, *z_path, *ws_path, *c_path, *outdir, *raw_path;
    double psi;
    int has_psi;
    long cutoff;
    int has_cutoff;
    long class_idx;
    int has_class;
    fs_noise_mode noise;
    long batch, threads;
    int quiet;
    /* CVAE-GAN */
    long identity;
    int has_identity;
    const char *mix, *mix_weights, *labels_path;
    /* the first flag given that only a StyleGAN2 / only a CVAE-GAN takes */
    const char *sg2_flag, *cvae_flag;
    cli_net_opts net;
} gen_args;

typedef struct {
    gen_args a;
    source_kind src;
    fs_seed_list seeds;
    float *zfile, *wsfile, *labels;
    int label_rows;
    uint64_t total;
    fs_weights *w;
    fs_backend *b;
    fs_sg2_generator *g;
    /* per batch */
    float *z, *c;
    uint8_t *u8;
    uint64_t *noise_seeds;
    float *raw;
    char *path;
    cli_new_dirs made; /* the output directories this run created */
} gen_state;

static void state_free(gen_state *st)
{
    fs_seed_list_free(&st->seeds);
    free(st->zfile);
    free(st->wsfile);
    free(st->labels);
    fs_sg2_generator_free(st->g);
    fs_backend_free(st->b);
    fs_weights_free(st->w);
    free(st->z);
    free(st->c);
    free(st->u8);
    free(st->noise_seeds);
    free(st->raw);
    free(st->path);
    cli_new_dirs_keep(&st->made);
}

/* Reads --z / --ws and checks the trailing dimensions against the network. */
static fs_status load_latents(const char *path, const char *flag, int want_ndim,
                              const int64_t *want_tail, float **data, uint64_t *n)
{
    int ndim;
    int64_t shape[FS_NPY_MAX_DIMS];
    FS_TRY(cli_read_npy(path, flag, &ndim, shape, data));
    int ok = ndim == want_ndim && shape[0] > 0;
    for (int d = 1; ok && d < want_ndim; d++)
        ok = shape[d] == want_tail[d - 1];
    if (!ok) {
        char got[128], want[128];
        int64_t ws[3] = {0, want_tail[0], want_ndim > 2 ? want_tail[1] : 0};
        cli_shape_string(got, sizeof got, ndim, shape);
        cli_shape_string(want, sizeof want, want_ndim, ws);
        free(*data);
        *data = NULL;
        return fs_error(FS_ERR_SHAPE, "%s: %s has shape %s, expected [N%s with N >= 1", path,
                        flag, got, want + 2);
    }
    *n = (uint64_t)shape[0];
    return FS_OK;
}

/* The inputs of images i0 .. i0 + nb - 1 into st->z, st->c and
 * st->noise_seeds (ws are read from the --ws array in place). */
static void fill_batch(gen_state *st, uint64_t i0, int nb)
{
    const fs_sg2_config *cfg = fs_sg2_generator_config(st->g);
    int zd = (int)cfg->z_dim, cd = (int)cfg->c_dim;
    for (int k = 0; k < nb; k++) {
        uint64_t i = i0 + (uint64_t)k;
        if (st->src == SRC_SEEDS) {
            uint32_t seed = fs_seed_list_at(&st->seeds, i);
            fs_np_random r;
            fs_np_random_seed(&r, seed);
            /* float64 randn, cast to float32 as the mapping network's
             * z.to(torch.float32) does */
            for (int j = 0; j < zd; j++)
                st->z[(size_t)k * zd + j] = (float)fs_np_random_gauss(&r);
            st->noise_seeds[k] = seed;
        } else {
            if (st->src == SRC_Z)
                memcpy(st->z + (size_t)k * zd, st->zfile + i * (uint64_t)zd,
                       (size_t)zd * sizeof *st->z);
            st->noise_seeds[k] = i;
        }
        /* Labels feed the mapping network only: --ws has none to copy. */
        if (cd > 0 && st->src != SRC_WS)
            memcpy(st->c + (size_t)k * cd,
                   st->labels + (st->label_rows == 1 ? 0 : i * (uint64_t)cd),
                   (size_t)cd * sizeof *st->c);
    }
}

/* The PNGs of images i0 .. i0 + nb - 1 from u8 [nb, R, R, C]. */
static fs_status write_batch(gen_state *st, uint64_t i0, int nb, const uint8_t *u8)
{
    const fs_sg2_config *cfg = fs_sg2_generator_config(st->g);
    int R = (int)cfg->img_resolution, ic = (int)cfg->img_channels;
    size_t img_len = (size_t)ic * R * R, plen = strlen(st->a.outdir) + 40;
    fs_status s = FS_OK;
    for (int k = 0; k < nb && s == FS_OK; k++) {
        uint64_t i = i0 + (uint64_t)k;
        if (st->src == SRC_SEEDS)
            snprintf(st->path, plen, "%s/seed%04u.png", st->a.outdir,
                     fs_seed_list_at(&st->seeds, i));
        else
            snprintf(st->path, plen, "%s/img%04llu.png", st->a.outdir, (unsigned long long)i);
        s = fs_png_write_rgb8(st->path, u8 + (size_t)k * img_len, R, R, ic);
    }
    return s;
}

static fs_sg2_generate_args batch_args(const gen_state *st, uint64_t i0, int nb)
{
    const fs_sg2_config *cfg = fs_sg2_generator_config(st->g);
    int cd = (int)cfg->c_dim, wd = (int)cfg->w_dim, nws = (int)fs_sg2_num_ws(cfg);
    return (fs_sg2_generate_args){
        .n = nb,
        .z = st->src == SRC_WS ? NULL : st->z,
        .c = cd > 0 && st->src != SRC_WS ? st->c : NULL,
        .ws = st->src == SRC_WS ? st->wsfile + i0 * (uint64_t)nws * wd : NULL,
        .psi = (float)st->a.psi,
        .cutoff = st->a.has_cutoff ? (int)st->a.cutoff : -1,
        .noise_mode = st->a.noise,
        .noise_seeds = st->noise_seeds,
    };
}

/* One fs_sg2_generate per batch, then its PNGs: --save-raw (the float
 * images come down with the uint8 ones). */
static fs_status run_direct(gen_state *st, int B, fs_progress *prog)
{
    const fs_sg2_config *cfg = fs_sg2_generator_config(st->g);
    size_t img_len = (size_t)cfg->img_channels * cfg->img_resolution * cfg->img_resolution;
    fs_status s = FS_OK;
    for (uint64_t i0 = 0; i0 < st->total && s == FS_OK; i0 += (uint64_t)B) {
        int nb = (int)(st->total - i0 < (uint64_t)B ? st->total - i0 : (uint64_t)B);
        fill_batch(st, i0, nb);
        fs_sg2_generate_args ga = batch_args(st, i0, nb);
        ga.images = st->u8;
        ga.img_out = st->raw ? st->raw + i0 * img_len : NULL;
        if ((s = fs_sg2_generate(st->g, &ga)) != FS_OK)
            break;
        if ((s = write_batch(st, i0, nb, st->u8)) == FS_OK)
            fs_progress_update(prog, i0 + (uint64_t)nb);
    }
    return s;
}

/* The batch pipeline (engine/sg2_pipeline.h): up to two batches in flight,
 * so that on a GPU one batch's PNGs are written while the next computes;
 * the same images as run_direct, byte for byte. */
static fs_status run_pipelined(gen_state *st, int B, fs_progress *prog)
{
    fs_sg2_pipeline_opts o = fs_sg2_pipeline_defaults(B);
    o.ws_input = st->src == SRC_WS;
    o.psi = (float)st->a.psi;
    o.cutoff = st->a.has_cutoff ? (int)st->a.cutoff : -1;
    o.noise_mode = st->a.noise;
    fs_sg2_pipeline *p;
    FS_TRY(fs_sg2_pipeline_init(&p, st->g, st->b, &o));
    fs_status s = FS_OK, failed = FS_OK; /* failed: a submit's error, raised once drained */
    char why[512] = "";
    uint64_t next = 0, done = 0;
    while (s == FS_OK && done < st->total) {
        /* the inputs are copied by submit: st->z etc. serve every batch */
        while (failed == FS_OK && next < st->total && fs_sg2_pipeline_in_flight(p) < 2) {
            int nb = (int)(st->total - next < (uint64_t)B ? st->total - next : (uint64_t)B);
            fill_batch(st, next, nb);
            fs_sg2_generate_args ga = batch_args(st, next, nb);
            fs_sg2_pipeline_batch bt = {.n = nb, .z = ga.z, .c = ga.c, .ws = ga.ws,
                                        .noise_seeds = ga.noise_seeds, .tag = (int64_t)next};
            if ((failed = fs_sg2_pipeline_submit(p, &bt)) != FS_OK)
                snprintf(why, sizeof why, "%s", fs_error_message());
            next += (uint64_t)nb;
        }
        /* A batch that failed to start leaves the ones before it to finish
         * and be written, as run_direct writes every batch before the one
         * that fails: the same files either way. An error of theirs comes
         * first, as it would there. */
        if (fs_sg2_pipeline_in_flight(p) == 0)
            break;
        fs_sg2_pipeline_result r;
        s = fs_sg2_pipeline_wait(p, &r);
        /* written before the next submit, which may reuse r.images */
        if (s == FS_OK)
            s = write_batch(st, (uint64_t)r.tag, r.n, r.images);
        if (s == FS_OK) {
            done += (uint64_t)r.n;
            fs_progress_update(prog, done);
        }
    }
    fs_sg2_pipeline_free(p);
    if (s == FS_OK && failed != FS_OK)
        s = fs_error(failed, "%s", why);
    return s;
}

static fs_status run(gen_state *st)
{
    const gen_args *a = &st->a;
    const fs_sg2_config *cfg = fs_sg2_generator_config(st->g);
    int zd = (int)cfg->z_dim, cd = (int)cfg->c_dim, ic = (int)cfg->img_channels;
    int R = (int)cfg->img_resolution;
    size_t img_len = (size_t)ic * R * R; /* values per image */
    int B = (int)(a->batch < (long)st->total ? a->batch : (long)st->total);

    st->z = malloc(((size_t)B * zd + 1) * sizeof *st->z);
    st->c = malloc(((size_t)B * cd + 1) * sizeof *st->c);
    st->u8 = malloc((size_t)B * img_len);
    st->noise_seeds = malloc((size_t)B * sizeof *st->noise_seeds);
    size_t plen = strlen(a->outdir) + 40;
    st->path = malloc(plen);
    if (!st->z || !st->c || !st->u8 || !st->noise_seeds || !st->path)
        return fs_error(FS_ERR_NOMEM, "out of memory for a batch of %d images", B);
    if (a->raw_path) {
        /* All of it up front: running out of memory is then an error before
         * the first image rather than after the last. */
        uint64_t bytes;
        if (__builtin_mul_overflow(st->total, (uint64_t)img_len * sizeof(float), &bytes) ||
            bytes > SIZE_MAX || !(st->raw = malloc((size_t)bytes)))
            return fs_error(FS_ERR_NOMEM, "--save-raw: %llu images need %.1f GiB of memory",
                            (unsigned long long)st->total,
                            (double)st->total * (double)img_len * 4.0 / 1073741824.0);
    }

    fs_progress prog = {0};
    fs_progress_start(&prog, stderr, a->quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO, "images",
                      "img/s", st->total);
    /* the pipeline has no float images (--save-raw) and needs a z (or ws) */
    int direct = st->raw || (st->src != SRC_WS && zd <= 0);
    fs_status s = direct ? run_direct(st, B, &prog) : run_pipelined(st, B, &prog);
    if (s == FS_OK && st->raw) {
        int64_t shape[4] = {(int64_t)st->total, ic, R, R};
        s = fs_npy_write(a->raw_path, FS_DTYPE_F32, 4, shape, st->raw);
    }
    if (s != FS_OK) {
        fs_progress_abort(&prog);
        return s;
    }
    fs_progress_finish(&prog);
    return FS_OK;
}

/* Network-dependent checks and loading; 0 or an exit status. */
static int prepare(gen_state *st)
{
    gen_args *a = &st->a;
    fs_status s = cli_backend_open(a->threads, &st->b);
    if (s == FS_OK)
        s = fs_sg2_generator_init(&st->g, st->w, st->b);
    if (s != FS_OK)
        return cli_fail(s);
    const fs_sg2_config *cfg = fs_sg2_generator_config(st->g);
    if (st->src == SRC_Z) {
        int64_t tail[1] = {cfg->z_dim};
        s = load_latents(a->z_path, "--z", 2, tail, &st->zfile, &st->total);
    } else if (st->src == SRC_WS) {
        int64_t tail[2] = {fs_sg2_num_ws(cfg), cfg->w_dim};
        s = load_latents(a->ws_path, "--ws", 3, tail, &st->wsfile, &st->total);
    } else {
        st->total = st->seeds.count;
    }
    if (s != FS_OK)
        return cli_fail(s);
    if (st->src == SRC_WS) {
        if (a->has_class || a->c_path)
            return cli_usage_error(CMD, "--class and --c feed the mapping network, which --ws "
                                   "skips");
    } else {
        s = cli_load_labels(a->c_path, a->has_class, a->class_idx, cfg->c_dim, st->total,
                            &st->labels, &st->label_rows);
        if (s != FS_OK)
            return s == FS_ERR_ARG ? cli_usage_error(CMD, "%s", fs_error_message())
                                   : cli_fail(s);
    }
    if (st->total > (uint64_t)INT64_MAX / 2)
        return cli_usage_error(CMD, "too many images");
    /* Fail now, not after hours of generation, if an output cannot be
     * written; before the output directory, which would stay behind. */
    int rc = cli_check_output(CMD, "--save-raw", a->raw_path);
    cli_image_names names = {.seeds = st->src == SRC_SEEDS ? &st->seeds : NULL,
                             .n = st->total};
    if (!rc)
        rc = cli_check_image_names(CMD, a->outdir, &names);
    if (rc)
        return rc;
    if ((s = cli_make_outdir(a->outdir, &st->made)) != FS_OK)
        return cli_fail(s);
    /* Everything checked: the temporaries dead runs left can go. */
    cli_clean_stale_images(a->outdir, &names);
    cli_clean_stale_output(a->raw_path);
    return 0;
}

int cmd_generate(int argc, char **argv)
{
    enum { O_NET = 256, O_SEEDS, O_TRUNC, O_CUTOFF, O_CLASS, O_NOISE, O_OUTDIR, O_BATCH,
           O_DEVICE, O_THREADS, O_Z, O_WS, O_C, O_RAW, O_IDENTITY, O_MIX, O_MIXW, O_LABELS,
           O_PRECISION };
    static const struct option opts[] = {
        {"network", required_argument, 0, O_NET},     {"seeds", required_argument, 0, O_SEEDS},
        {"trunc", required_argument, 0, O_TRUNC},     {"trunc-cutoff", required_argument, 0, O_CUTOFF},
        {"class", required_argument, 0, O_CLASS},     {"noise-mode", required_argument, 0, O_NOISE},
        {"outdir", required_argument, 0, O_OUTDIR},   {"batch", required_argument, 0, O_BATCH},
        {"device", required_argument, 0, O_DEVICE},   {"threads", required_argument, 0, O_THREADS},
        {"z", required_argument, 0, O_Z},             {"ws", required_argument, 0, O_WS},
        {"c", required_argument, 0, O_C},             {"save-raw", required_argument, 0, O_RAW},
        {"identity", required_argument, 0, O_IDENTITY}, {"mix", required_argument, 0, O_MIX},
        {"mix-weights", required_argument, 0, O_MIXW},
        {"save-labels", required_argument, 0, O_LABELS},
        {"precision", required_argument, 0, O_PRECISION},
        {"quiet", no_argument, 0, 'q'},               {"help", no_argument, 0, 'h'},
        CLI_CONVERT_OPTIONS,                          {0, 0, 0, 0}};
    gen_state st;
    memset(&st, 0, sizeof st);
    gen_args *a = &st.a;
    a->psi = 1.0;
    a->noise = FS_NOISE_CONST;
    a->outdir = "out";
    a->batch = 4;
    cli_net_opts_init(&a->net);
    int c;
    cli_getopt_state go;
    cli_getopt_init(&go);
    while ((c = cli_getopt(&go, CMD, argc, argv, ":qh", opts)) != -1) {
        if (c == CLI_OPT_ERROR)
            return FS_EXIT_FAILURE;
        const char *flag = go.name ? go.name : "";
        switch (c) {
        case O_WS: case O_TRUNC: case O_CUTOFF: case O_CLASS: case O_NOISE:
            if (!a->sg2_flag)
                a->sg2_flag = flag;
            break;
        case O_IDENTITY: case O_MIX: case O_MIXW: case O_LABELS:
            if (!a->cvae_flag)
                a->cvae_flag = flag;
            break;
        }
        int r = cli_convert_option(CMD, c, optarg, &a->net);
        if (r >= 0) {
            if (r != 0)
                return r;
            continue;
        }
        switch (c) {
        case O_NET: a->network = optarg; break;
        case O_SEEDS: a->seeds = optarg; break;
        case O_Z: a->z_path = optarg; break;
        case O_WS: a->ws_path = optarg; break;
        case O_C: a->c_path = optarg; break;
        case O_OUTDIR: a->outdir = optarg; break;
        case O_RAW: a->raw_path = optarg; break;
        case O_MIX: a->mix = optarg; break;
        case O_MIXW: a->mix_weights = optarg; break;
        case O_LABELS: a->labels_path = optarg; break;
        case 'q': a->quiet = 1; break;
        case O_IDENTITY:
            if (!cli_parse_long(optarg, 0, 1L << 30, &a->identity))
                return cli_usage_error(CMD, "--identity needs an integer >= 0, not '%s'",
                                       optarg);
            a->has_identity = 1;
            break;
        case 'h': usage(stdout); return 0;
        case O_TRUNC:
            if (!cli_parse_double(optarg, &a->psi))
                return cli_usage_error(CMD, "--trunc needs a number, not '%s'", optarg);
            a->has_psi = 1;
            break;
        case O_CUTOFF:
            if (!cli_parse_long(optarg, 0, 1 << 20, &a->cutoff))
                return cli_usage_error(CMD, "--trunc-cutoff needs an integer >= 0, not '%s'",
                                       optarg);
            a->has_cutoff = 1;
            break;
        case O_CLASS:
            if (!cli_parse_long(optarg, 0, 1L << 30, &a->class_idx))
                return cli_usage_error(CMD, "--class needs an integer >= 0, not '%s'", optarg);
            a->has_class = 1;
            break;
        case O_NOISE:
            if (!cli_parse_noise(optarg, &a->noise))
                return cli_usage_error(CMD, "--noise-mode must be const, random or none, not '%s'",
                                       optarg);
            break;
        case O_BATCH: {
            int rc = cli_batch_option(CMD, optarg, &a->batch);
            if (rc)
                return rc;
            break;
        }
        case O_THREADS: {
            int rc = cli_threads_option(CMD, optarg, &a->threads);
            if (rc)
                return rc;
            break;
        }
        case O_DEVICE:
        {
            int rc = cli_device_option(CMD, optarg);
            if (rc)
                return rc;
            break;
        }
        case O_PRECISION:
        {
            int rc = cli_precision_option(CMD, optarg);
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
    if (!a->network)
        return cli_usage_error(CMD, "missing --network FILE");
    int prc = cli_precision_check(CMD);
    if (prc)
        return prc;
    int nsrc = !!a->seeds + !!a->z_path + !!a->ws_path;
    if (nsrc != 1)
        return cli_usage_error(CMD, nsrc ? "--seeds, --z and --ws are mutually exclusive"
                                         : "missing --seeds LIST (or --z / --ws FILE.npy)");
    if (a->ws_path && (a->has_psi || a->has_cutoff))
        return cli_usage_error(CMD, "--trunc and --trunc-cutoff act in the mapping network, "
                               "which --ws skips");
    if (!*a->outdir)
        return cli_usage_error(CMD, "--outdir is empty");
    st.src = a->seeds ? SRC_SEEDS : a->z_path ? SRC_Z : SRC_WS;
    if (st.src == SRC_SEEDS) {
        fs_status s = fs_seed_list_parse(a->seeds, &st.seeds);
        if (s != FS_OK)
            return cli_usage_error(CMD, "--seeds: %s", fs_error_message());
    }
    int rc;
    fs_status s = cli_open_network(a->network, CLI_NET_GENERATOR, &a->net, &st.w);
    if (s != FS_OK) {
        rc = cli_fail(s);
        state_free(&st);
        return rc;
    }
    if (fs_weights_family(st.w) == FS_FAMILY_CVAEGAN) {
        if (a->sg2_flag)
            rc = cli_usage_error(CMD, "--%s is a StyleGAN2 option; %s is a CVAE-GAN (labels: "
                                 "--identity K, --mix LIST or --c FILE.npy)", a->sg2_flag,
                                 a->network);
        else {
            cli_cvae_gen_args ca = {
                .seeds = st.src == SRC_SEEDS ? &st.seeds : NULL,
                .z_path = a->z_path, .c_path = a->c_path, .outdir = a->outdir,
                .raw_path = a->raw_path, .labels_path = a->labels_path,
                .identity = a->identity, .has_identity = a->has_identity,
                .mix = a->mix, .mix_weights = a->mix_weights,
                .batch = a->batch, .threads = a->threads, .quiet = a->quiet,
            };
            rc = cvaegan_generate(&ca, st.w);
            st.w = NULL; /* cvaegan_generate owns it */
        }
        state_free(&st);
        return rc;
    }
    if (a->cvae_flag) {
        rc = cli_usage_error(CMD, "--%s is a CVAE-GAN option; %s is a StyleGAN2 generator",
                             a->cvae_flag, a->network);
        state_free(&st);
        return rc;
    }
    rc = prepare(&st);
    if (rc == 0 && (s = run(&st)) != FS_OK) {
        rc = cli_fail(s);
        cli_new_dirs_remove(&st.made); /* only if nothing was written into it */
    }
    state_free(&st);
    return rc;
}
