/* `facesynth score`: StyleGAN2 discriminator logits for a set of images,
 * given as an .npy array [N, C, R, R] in [-1, 1] (what `generate --save-raw`
 * writes) or as a directory of R x R PNGs (read in name order and mapped to
 * [-1, 1] as x / 127.5 - 1, like the official metrics code).
 *
 * The discriminator's minibatch-std layer mixes statistics across a group of
 * images, so a logit depends on which images share its batch. Images are run
 * in batches of --batch (default: the model's mbstd group size, which is how
 * the official training loop calls D) in input order; each batch must split
 * into whole groups. */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../engine/backend.h"
#include "../engine/file.h"
#include "../engine/image_io.h"
#include "../engine/progress.h"
#include "../engine/stylegan2.h"
#include "../weights_tools/npy.h"
#include "cli.h"

#define CMD "score"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth score --network FILE --images FILE.npy|DIR [options]\n"
            "\n"
            "Runs a StyleGAN2 discriminator on images and prints one logit per image on\n"
            "stdout, as a tab-separated table: index, name, logit.\n"
            "\n"
            "      --network FILE      a discriminator .fsw, or a checkpoint whose D is used\n"
            "                          (a network pickle, or a bare D state dict)\n"
            "      --images PATH       .npy float [N, C, R, R] in [-1, 1] (e.g. generate\n"
            "                          --save-raw), or a directory of R x R PNG files (*.png,\n"
            "                          sorted by name; gray/palette expanded, alpha dropped)\n"
            "      --class K           class of a conditional network, for every image\n"
            "      --c FILE.npy        labels [N, c_dim] (or [1, c_dim] for every image)\n"
            "      --save-raw FILE.npy also write the logits as float32 [N, 1]\n"
            "      --batch N           images per forward pass (default: the model's\n"
            "                          minibatch-std group size). The minibatch-std layer\n"
            "                          pools over groups within a batch, so logits depend on\n"
            "                          the batching; every batch must be a whole number of\n"
            "                          groups\n"
            "      --threads N         CPU worker threads (default 0: one per core)\n"
            "  -q, --quiet             no progress or summary on stderr\n"
            "  -h, --help              this text\n");
}

typedef struct {
    const char *network, *images, *c_path, *raw_path;
    long class_idx, batch, threads;
    int has_class, quiet;
    /* images */
    int from_dir;
    char **names; /* PNG file names (dir) */
    float *npy;   /* all images (npy) */
    uint64_t n;
    /* model */
    fs_weights *w;
    fs_backend *b;
    fs_sg2_discriminator *d;
    float *labels;
    int label_rows;
    /* per batch */
    float *img, *c, *logits;
    char *path;
} score_state;

static void state_free(score_state *st)
{
    if (st->names)
        for (uint64_t i = 0; i < st->n; i++)
            free(st->names[i]);
    free(st->names);
    free(st->npy);
    fs_sg2_discriminator_free(st->d);
    fs_backend_free(st->b);
    fs_weights_free(st->w);
    free(st->labels);
    free(st->img);
    free(st->c);
    free(st->logits);
    free(st->path);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_png_name(const char *s)
{
    size_t n = strlen(s);
    return s[0] != '.' && n > 4 && strcasecmp(s + n - 4, ".png") == 0;
}

static fs_status list_pngs(score_state *st)
{
    DIR *dir = opendir(st->images);
    if (!dir)
        return fs_error(FS_ERR_IO, "%s: cannot open directory", st->images);
    size_t cap = 0;
    fs_status s = FS_OK;
    struct dirent *e;
    while (s == FS_OK && (e = readdir(dir))) {
        if (!is_png_name(e->d_name))
            continue;
        if (st->n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **t = realloc(st->names, nc * sizeof *t);
            if (!t) {
                s = fs_error(FS_ERR_NOMEM, "out of memory");
                break;
            }
            st->names = t;
            cap = nc;
        }
        if (!(st->names[st->n] = strdup(e->d_name)))
            s = fs_error(FS_ERR_NOMEM, "out of memory");
        else
            st->n++;
    }
    closedir(dir);
    if (s != FS_OK)
        return s;
    if (st->n == 0)
        return fs_error(FS_ERR_ARG, "%s: no .png files in the directory", st->images);
    qsort(st->names, (size_t)st->n, sizeof *st->names, name_cmp);
    return FS_OK;
}

static fs_status load_images(score_state *st, const fs_sg2_config *cfg)
{
    struct stat sb;
    if (stat(st->images, &sb) != 0)
        return fs_error(FS_ERR_IO, "%s: cannot open: no such file or directory", st->images);
    if (S_ISDIR(sb.st_mode)) {
        st->from_dir = 1;
        if (cfg->img_channels != 3)
            return fs_error(FS_ERR_UNSUPPORTED, "%s: PNG input needs a 3-channel "
                            "discriminator (this one has %lld); use an .npy array",
                            st->images, (long long)cfg->img_channels);
        return list_pngs(st);
    }
    int ndim;
    int64_t shape[FS_NPY_MAX_DIMS];
    FS_TRY(fs_npy_read_f32(st->images, &ndim, shape, &st->npy));
    int64_t R = cfg->img_resolution;
    if (ndim != 4 || shape[0] < 1 || shape[1] != cfg->img_channels || shape[2] != R ||
        shape[3] != R) {
        char got[128];
        cli_shape_string(got, sizeof got, ndim, shape);
        return fs_error(FS_ERR_SHAPE, "%s: images of shape %s, expected [N, %lld, %lld, %lld] "
                        "with N >= 1", st->images, got, (long long)cfg->img_channels,
                        (long long)R, (long long)R);
    }
    st->n = (uint64_t)shape[0];
    return FS_OK;
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
    st->path = malloc(strlen(st->images) + 512);
    if (!st->img || !st->c || !st->logits || !st->path)
        return fs_error(FS_ERR_NOMEM, "out of memory for a batch of %d images", B);
    fs_progress prog = {0};
    fs_progress_start(&prog, stderr, st->quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO, "images",
                      "img/s", st->n);
    fs_status s = FS_OK;
    for (uint64_t i0 = 0; i0 < st->n && s == FS_OK; i0 += (uint64_t)B) {
        int nb = (int)(st->n - i0 < (uint64_t)B ? st->n - i0 : (uint64_t)B);
        const float *img = st->npy ? st->npy + i0 * img_len : st->img;
        for (int k = 0; k < nb && s == FS_OK && st->from_dir; k++) {
            const char *name = st->names[i0 + (uint64_t)k];
            snprintf(st->path, strlen(st->images) + 512, "%s/%s", st->images, name);
            uint8_t *rgb;
            int w, h;
            s = fs_png_read_rgb(st->path, &rgb, &w, &h);
            if (s == FS_OK && (w != R || h != R))
                s = fs_error(FS_ERR_SHAPE, "%s: image is %dx%d, the discriminator takes %dx%d",
                             st->path, w, h, R, R);
            if (s == FS_OK)
                fs_image_hwc_u8_to_chw_f32(rgb, R, R, 3, st->img + (size_t)k * img_len);
            free(rgb);
        }
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
    const char *base = strrchr(st->images, '/');
    base = base ? base + 1 : st->images;
    printf("index\tname\tlogit\n");
    for (uint64_t i = 0; i < st->n; i++) {
        if (st->from_dir)
            printf("%llu\t%s\t%.9g\n", (unsigned long long)i, st->names[i], st->logits[i]);
        else
            printf("%llu\t%s[%llu]\t%.9g\n", (unsigned long long)i, base,
                   (unsigned long long)i, st->logits[i]);
    }
    if (fflush(stdout) != 0)
        return fs_error(FS_ERR_IO, "stdout: write failed");
    return FS_OK;
}

static int prepare(score_state *st)
{
    fs_status s = cli_open_network(st->network, 1, &st->w);
    if (s == FS_OK)
        s = fs_backend_cpu_init(&st->b, (int)st->threads);
    if (s == FS_OK)
        s = fs_sg2_discriminator_init(&st->d, st->w, st->b);
    if (s == FS_OK)
        s = load_images(st, fs_sg2_discriminator_config(st->d));
    if (s != FS_OK)
        return cli_fail(s);
    const fs_sg2_config *cfg = fs_sg2_discriminator_config(st->d);
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
    if (st->raw_path) {
        fs_out_file f;
        s = fs_out_file_open(st->raw_path, &f);
        if (s != FS_OK)
            return cli_fail(s);
        fs_out_file_abort(&f);
    }
    return 0;
}

int cmd_score(int argc, char **argv)
{
    enum { O_NET = 256, O_IMAGES, O_CLASS, O_C, O_RAW, O_BATCH, O_THREADS };
    static const struct option opts[] = {
        {"network", required_argument, 0, O_NET}, {"images", required_argument, 0, O_IMAGES},
        {"class", required_argument, 0, O_CLASS}, {"c", required_argument, 0, O_C},
        {"save-raw", required_argument, 0, O_RAW}, {"batch", required_argument, 0, O_BATCH},
        {"threads", required_argument, 0, O_THREADS}, {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    score_state st;
    memset(&st, 0, sizeof st);
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":qh", opts, NULL)) != -1) {
        switch (c) {
        case O_NET: st.network = optarg; break;
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
        case O_BATCH:
            if (!cli_parse_long(optarg, 1, 4096, &st.batch))
                return cli_usage_error(CMD, "--batch needs an integer from 1 to 4096, not '%s'",
                                       optarg);
            break;
        case O_THREADS:
            if (!cli_parse_long(optarg, 0, 4096, &st.threads))
                return cli_usage_error(CMD, "--threads needs an integer from 0 to 4096, not '%s'",
                                       optarg);
            break;
        case ':':
            return cli_usage_error(CMD, "option '%s' needs a value", argv[optind - 1]);
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
    int rc = prepare(&st);
    if (rc == 0) {
        fs_status s = run(&st);
        if (s != FS_OK)
            rc = cli_fail(s);
    }
    state_free(&st);
    return rc;
}
