/* `facesynth generate`: images from a StyleGAN2 generator, compatible with
 * NVlabs gen_images.py: the same seed gives the same z (numpy RandomState),
 * the same truncation, noise and uint8 conversion, and the same file names
 * (seed%04d.png), so the same PNG bytes' pixels.
 *
 * Everything that can be checked is checked before the first image is
 * written (arguments, network, input arrays and their shapes, labels, output
 * directory), so a bad invocation fails with one line and leaves no files.
 *
 * Also holds the pieces `score` shares: opening a network from a .fsw or any
 * checkpoint, reading labels, and the small argument parsers. */
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
#include "../engine/stylegan2.h"
#include "../weights_tools/convert.h"
#include "../weights_tools/npy.h"
#include "cli.h"
#include "seeds.h"

/* ---- shared with score ---------------------------------------------------- */

int cli_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

int cli_parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

void cli_shape_string(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
}

fs_status cli_open_network(const char *path, int discriminator, fs_weights **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fs_error(FS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char magic[8];
    size_t k = fread(magic, 1, sizeof magic, f);
    fclose(f);
    fs_weights *w = NULL;
    fs_status s;
    if (k == sizeof magic && memcmp(magic, FS_FSW_MAGIC, sizeof magic) == 0) {
        s = fs_weights_open(path, FS_WEIGHTS_VERIFY_ALL, &w);
    } else {
        /* Any checkpoint the converter reads, converted in memory. Its data
         * checksums were computed a moment ago: verifying them again would
         * only cost time. */
        fs_convert_options o;
        fs_convert_options_default(&o);
        o.net = discriminator ? FS_NET_D : FS_NET_DEFAULT;
        uint8_t *buf;
        size_t len;
        s = fs_convert_to_memory(path, &o, &buf, &len, NULL);
        if (s == FS_OK)
            s = fs_weights_open_owned(buf, len, path, FS_WEIGHTS_SKIP_DATA_CRC, &w);
    }
    if (s != FS_OK)
        return s;
    fs_family want = discriminator ? FS_FAMILY_STYLEGAN2_D : FS_FAMILY_STYLEGAN2_G;
    if (fs_weights_family(w) != want) {
        s = fs_error(FS_ERR_ARG, "%s: holds a %s, not a StyleGAN2 %s", path,
                     fs_family_name(fs_weights_family(w)),
                     discriminator ? "discriminator" : "generator");
        fs_weights_free(w);
        return s;
    }
    *out = w;
    return FS_OK;
}

fs_status cli_load_labels(const char *c_path, int has_class, long class_idx, int64_t c_dim,
                          uint64_t n, float **labels, int *rows)
{
    *labels = NULL;
    *rows = 0;
    if (c_dim == 0) {
        if (has_class || c_path)
            return fs_error(FS_ERR_ARG, "the network is unconditional: %s takes no label",
                            has_class ? "--class" : "--c");
        return FS_OK;
    }
    if (has_class && c_path)
        return fs_error(FS_ERR_ARG, "--class and --c are mutually exclusive");
    if (!has_class && !c_path)
        return fs_error(FS_ERR_ARG,
                        "the network is conditional (c_dim %lld): give --class K or --c FILE.npy",
                        (long long)c_dim);
    if (has_class) {
        if (class_idx < 0 || class_idx >= c_dim)
            return fs_error(FS_ERR_ARG, "--class %ld is out of range: the network has %lld "
                            "classes (0 to %lld)", class_idx, (long long)c_dim,
                            (long long)c_dim - 1);
        float *c = calloc((size_t)c_dim, sizeof *c);
        if (!c)
            return fs_error(FS_ERR_NOMEM, "out of memory");
        c[class_idx] = 1.0f; /* one-hot, as gen_images.py builds it */
        *labels = c;
        *rows = 1;
        return FS_OK;
    }
    int ndim;
    int64_t shape[FS_NPY_MAX_DIMS];
    float *c;
    FS_TRY(fs_npy_read_f32(c_path, &ndim, shape, &c));
    /* [N, c_dim], or one label for every image: [1, c_dim] or [c_dim] */
    int64_t r = ndim == 2 ? shape[0] : 1;
    if (!((ndim == 2 && shape[1] == c_dim && (r == (int64_t)n || r == 1)) ||
          (ndim == 1 && shape[0] == c_dim))) {
        char got[128], also[64] = "";
        cli_shape_string(got, sizeof got, ndim, shape);
        if (n != 1)
            snprintf(also, sizeof also, " (or [1, %lld] for all images)", (long long)c_dim);
        free(c);
        return fs_error(FS_ERR_SHAPE, "%s: labels of shape %s, expected [%llu, %lld]%s", c_path,
                        got, (unsigned long long)n, (long long)c_dim, also);
    }
    *labels = c;
    *rows = (int)r;
    return FS_OK;
}

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
            "\n"
            "input:\n"
            "      --network FILE      a .fsw weight file or any checkpoint 'convert' reads\n"
            "                          (its G_ema, or Gs for TensorFlow pickles)\n"
            "      --seeds LIST        e.g. 0-35,40: inclusive ranges and single seeds,\n"
            "                          0 to 4294967295; writes seedNNNN.png\n"
            "      --z FILE.npy        latents [N, z_dim] (float32/64); writes imgNNNN.png\n"
            "      --ws FILE.npy       intermediate latents [N, num_ws, w_dim]: skips the\n"
            "                          mapping network; writes imgNNNN.png\n"
            "      --class K           class of a conditional network (one-hot label)\n"
            "      --c FILE.npy        labels [N, c_dim] (or [1, c_dim] for every image)\n"
            "\n"
            "options:\n"
            "      --trunc PSI         truncation psi (default 1: none)\n"
            "      --trunc-cutoff N    truncate only the first N ws (default: all)\n"
            "      --noise-mode M      const (default), random or none; random noise is\n"
            "                          seeded by each image's seed (or row index), so it is\n"
            "                          reproducible, but not torch.randn's\n"
            "      --outdir DIR        output directory, created if missing (default: out)\n"
            "      --save-raw FILE.npy also write every image as float32 [N, C, R, R],\n"
            "                          before the uint8 conversion (held in memory)\n"
            "      --batch N           images per forward pass (default 4); results do not\n"
            "                          depend on it\n"
            "      --device cpu        where to run (only cpu for now)\n"
            "      --threads N         CPU worker threads (default 0: one per core)\n"
            "  -q, --quiet             no progress or summary on stderr\n"
            "  -h, --help              this text\n");
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
} gen_args;

/* mkdir -p: every missing component, 0777 before the umask. */
static fs_status make_dirs(const char *dir)
{
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    if (!p)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    memcpy(p, dir, n + 1);
    fs_status s = FS_OK;
    for (size_t i = 1; i <= n && s == FS_OK; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char saved = p[i];
        p[i] = '\0';
        struct stat st;
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            s = fs_error(FS_ERR_IO, "%s: cannot create directory %s: %s", dir, p,
                         strerror(errno));
        else if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
            s = fs_error(FS_ERR_IO, "%s: %s is not a directory", dir, p);
        p[i] = saved;
    }
    free(p);
    return s;
}

/* Creating a file is the only reliable test of writability (read-only
 * mounts, ACLs, root ignoring mode bits). */
static fs_status probe_dir(const char *dir)
{
    size_t n = strlen(dir) + 64;
    char *p = malloc(n);
    if (!p)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    snprintf(p, n, "%s/.facesynth-probe.%ld", dir, (long)getpid());
    FILE *f = fopen(p, "wx");
    fs_status s = FS_OK;
    if (!f)
        s = fs_error(FS_ERR_IO, "%s: output directory is not writable: %s", dir,
                     strerror(errno));
    else {
        fclose(f);
        unlink(p);
    }
    free(p);
    return s;
}

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
    float *z, *c, *ws, *img;
    uint8_t *u8;
    uint64_t *noise_seeds;
    float *raw;
    char *path;
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
    free(st->ws);
    free(st->img);
    free(st->u8);
    free(st->noise_seeds);
    free(st->raw);
    free(st->path);
}

/* Reads --z / --ws and checks the trailing dimensions against the network. */
static fs_status load_latents(const char *path, const char *flag, int want_ndim,
                              const int64_t *want_tail, float **data, uint64_t *n)
{
    int ndim;
    int64_t shape[FS_NPY_MAX_DIMS];
    FS_TRY(fs_npy_read_f32(path, &ndim, shape, data));
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

static fs_status run(gen_state *st)
{
    const gen_args *a = &st->a;
    const fs_sg2_config *cfg = fs_sg2_generator_config(st->g);
    int zd = (int)cfg->z_dim, cd = (int)cfg->c_dim, wd = (int)cfg->w_dim;
    int nws = (int)fs_sg2_num_ws(cfg), ic = (int)cfg->img_channels;
    int R = (int)cfg->img_resolution;
    size_t img_len = (size_t)ic * R * R; /* floats per image */
    int B = (int)(a->batch < (long)st->total ? a->batch : (long)st->total);

    st->z = malloc(((size_t)B * zd + 1) * sizeof *st->z);
    st->c = malloc(((size_t)B * cd + 1) * sizeof *st->c);
    st->ws = malloc((size_t)B * nws * wd * sizeof *st->ws);
    st->img = malloc((size_t)B * img_len * sizeof *st->img);
    st->u8 = malloc((size_t)B * img_len);
    st->noise_seeds = malloc((size_t)B * sizeof *st->noise_seeds);
    size_t plen = strlen(a->outdir) + 40;
    st->path = malloc(plen);
    if (!st->z || !st->c || !st->ws || !st->img || !st->u8 || !st->noise_seeds || !st->path)
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
    fs_sg2_synthesis_opts so = {a->noise, st->noise_seeds, NULL, NULL};
    fs_status s = FS_OK;
    for (uint64_t i0 = 0; i0 < st->total && s == FS_OK; i0 += (uint64_t)B) {
        int nb = (int)(st->total - i0 < (uint64_t)B ? st->total - i0 : (uint64_t)B);
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
            if (cd > 0)
                memcpy(st->c + (size_t)k * cd,
                       st->labels + (st->label_rows == 1 ? 0 : i * (uint64_t)cd),
                       (size_t)cd * sizeof *st->c);
        }
        const float *ws = st->ws;
        if (st->src == SRC_WS)
            ws = st->wsfile + i0 * (uint64_t)nws * wd;
        else
            s = fs_sg2_generator_mapping(st->g, st->z, cd > 0 ? st->c : NULL, nb,
                                         (float)a->psi, a->has_cutoff ? (int)a->cutoff : -1,
                                         st->ws);
        if (s == FS_OK)
            s = fs_sg2_generator_synthesis(st->g, ws, nb, &so, st->img);
        if (s != FS_OK)
            break;
        fs_image_nchw_f32_to_nhwc_u8(st->img, nb, ic, R, R, st->u8);
        for (int k = 0; k < nb && s == FS_OK; k++) {
            uint64_t i = i0 + (uint64_t)k;
            if (st->src == SRC_SEEDS)
                snprintf(st->path, plen, "%s/seed%04u.png", a->outdir,
                         fs_seed_list_at(&st->seeds, i));
            else
                snprintf(st->path, plen, "%s/img%04llu.png", a->outdir, (unsigned long long)i);
            s = fs_png_write_rgb8(st->path, st->u8 + (size_t)k * img_len, R, R, ic);
        }
        if (st->raw)
            memcpy(st->raw + i0 * img_len, st->img, (size_t)nb * img_len * sizeof *st->img);
        if (s == FS_OK)
            fs_progress_update(&prog, i0 + (uint64_t)nb);
    }
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
    fs_status s = cli_open_network(a->network, 0, &st->w);
    if (s == FS_OK)
        s = fs_backend_cpu_init(&st->b, (int)a->threads);
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
    if (a->raw_path) {
        /* Fail now, not after hours of generation, if the .npy cannot be
         * created; before the output directory, which would stay behind. */
        fs_out_file f;
        s = fs_out_file_open(a->raw_path, &f);
        if (s == FS_OK)
            fs_out_file_abort(&f);
    }
    if (s == FS_OK)
        s = make_dirs(a->outdir);
    if (s == FS_OK)
        s = probe_dir(a->outdir);
    if (s != FS_OK)
        return cli_fail(s);
    return 0;
}

int cmd_generate(int argc, char **argv)
{
    enum { O_NET = 256, O_SEEDS, O_TRUNC, O_CUTOFF, O_CLASS, O_NOISE, O_OUTDIR, O_BATCH,
           O_DEVICE, O_THREADS, O_Z, O_WS, O_C, O_RAW };
    static const struct option opts[] = {
        {"network", required_argument, 0, O_NET},     {"seeds", required_argument, 0, O_SEEDS},
        {"trunc", required_argument, 0, O_TRUNC},     {"trunc-cutoff", required_argument, 0, O_CUTOFF},
        {"class", required_argument, 0, O_CLASS},     {"noise-mode", required_argument, 0, O_NOISE},
        {"outdir", required_argument, 0, O_OUTDIR},   {"batch", required_argument, 0, O_BATCH},
        {"device", required_argument, 0, O_DEVICE},   {"threads", required_argument, 0, O_THREADS},
        {"z", required_argument, 0, O_Z},             {"ws", required_argument, 0, O_WS},
        {"c", required_argument, 0, O_C},             {"save-raw", required_argument, 0, O_RAW},
        {"quiet", no_argument, 0, 'q'},               {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    gen_state st;
    memset(&st, 0, sizeof st);
    gen_args *a = &st.a;
    a->psi = 1.0;
    a->noise = FS_NOISE_CONST;
    a->outdir = "out";
    a->batch = 4;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":qh", opts, NULL)) != -1) {
        switch (c) {
        case O_NET: a->network = optarg; break;
        case O_SEEDS: a->seeds = optarg; break;
        case O_Z: a->z_path = optarg; break;
        case O_WS: a->ws_path = optarg; break;
        case O_C: a->c_path = optarg; break;
        case O_OUTDIR: a->outdir = optarg; break;
        case O_RAW: a->raw_path = optarg; break;
        case 'q': a->quiet = 1; break;
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
            if (!strcmp(optarg, "const"))
                a->noise = FS_NOISE_CONST;
            else if (!strcmp(optarg, "random"))
                a->noise = FS_NOISE_RANDOM;
            else if (!strcmp(optarg, "none"))
                a->noise = FS_NOISE_NONE;
            else
                return cli_usage_error(CMD, "--noise-mode must be const, random or none, not '%s'",
                                       optarg);
            break;
        case O_BATCH:
            if (!cli_parse_long(optarg, 1, 4096, &a->batch))
                return cli_usage_error(CMD, "--batch needs an integer from 1 to 4096, not '%s'",
                                       optarg);
            break;
        case O_THREADS:
            if (!cli_parse_long(optarg, 0, 4096, &a->threads))
                return cli_usage_error(CMD, "--threads needs an integer from 0 to 4096, not '%s'",
                                       optarg);
            break;
        case O_DEVICE:
            if (!strcmp(optarg, "cuda") || !strncmp(optarg, "cuda:", 5))
                return cli_usage_error(CMD, "--device %s: the CUDA generator is not available "
                                       "yet (use --device cpu)", optarg);
            if (strcmp(optarg, "cpu") != 0)
                return cli_usage_error(CMD, "--device must be cpu, not '%s'", optarg);
            break;
        case ':':
            return cli_usage_error(CMD, "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!a->network)
        return cli_usage_error(CMD, "missing --network FILE");
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
    int rc = prepare(&st);
    if (rc == 0) {
        fs_status s = run(&st);
        if (s != FS_OK)
            rc = cli_fail(s);
    }
    state_free(&st);
    return rc;
}
