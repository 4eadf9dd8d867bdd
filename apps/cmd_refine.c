/* `facesynth refine`: synthetic images -> SimGAN-refined images
 * (docs/simgan.md), any size, gray or colour as the refiner was trained.
 *
 * Inputs: a folder of PNG and JPEG files (name order, Pillow's RGB or 'L'
 * decoding, u / 127.5 - 1) or an .npy [N, C, H, W] in [-1, 1]. Outputs: one
 * PNG per image in --outdir (NAME.png for an input NAME.png/.jpg/.jpeg,
 * imgNNNN.png for row NNNN of an .npy), 8-bit by the spec's rounding
 * clamp(floor((y + 1) * 127.5 + 0.5), 0, 255), gray or RGB; optionally the
 * float refiner outputs (--save-raw, images of one size).
 *
 * Every input is decoded and every output path checked before the first
 * forward pass. A run that fails later removes the images it wrote and a
 * folder it created; --save-raw is written last, atomically. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/file.h"
#include "../engine/image_io.h"
#include "../engine/network.h"
#include "../engine/progress.h"
#include "../engine/simgan.h"
#include "../weights_tools/npy.h"
#include "cli.h"
#include "identity_cli.h"
#include "simgan_cli.h"

#define CMD "refine"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth refine --network SIMGAN --images DIR|FILE.npy --outdir DIR\n"
            "                        [options]\n"
            "\n"
            "Refines synthetic face images with a SimGAN refiner (docs/simgan.md: conv,\n"
            "residual blocks, 1x1 conv, tanh; fully convolutional, so any image size) and\n"
            "writes the refined images.\n"
            "\n"
            "      --network FILE      a SimGAN state dict (.pt: refiner.* and optionally\n"
            "                          disc.*, docs/simgan.md's names) or its .fsw\n"
            "      --images PATH       a directory of PNG and JPEG files (*.png, *.jpg,\n"
            "                          *.jpeg, any case; sorted by name in byte order), of\n"
            "                          any size (at most %d x %d), read as PIL's\n"
            "                          convert('RGB') (convert('L'), Pillow's integer luma,\n"
            "                          for a gray refiner) and mapped to u / 127.5 - 1; or an\n"
            "                          .npy float [N, C, H, W] in [-1, 1]\n"
            "      --outdir DIR        the refined images as 8-bit PNGs (created if\n"
            "                          missing): NAME.png for an input NAME.png/.jpg/.jpeg,\n"
            "                          imgNNNN.png for row NNNN of an .npy; the bytes are\n"
            "                          clamp(floor((y + 1) * 127.5 + 0.5), 0, 255)\n"
            "      --save-raw FILE.npy also the refiner's float outputs, float32 [N, C, H, W]\n"
            "                          in (-1, 1) (images of one size)\n"
            "      --rename FILE       rules mapping a checkpoint's module names onto\n"
            "                          docs/simgan.md's (see 'convert --help')\n"
            "      --batch N           images per forward pass (default 8; consecutive\n"
            "                          images of one size share a batch; the results do not\n"
            "                          depend on it)\n"
            "      --device D          cpu (default), cuda or cuda:N\n"
            "      --threads N         CPU worker threads (default 0: one per core)\n"
            "  -q, --quiet             no progress or summary on stderr\n"
            "  -h, --help              this text\n",
            FS_PNG_MAX_DIM, FS_PNG_MAX_DIM);
}

typedef struct {
    const char *network, *images, *outdir, *raw_path, *rename;
    long batch, threads;
    int quiet;
    fs_weights *w;
    fs_backend *b;
    fs_simgan *m;
    int C;
    cli_sg_images im;
    char **out_names, **sorted_out;
    size_t *at;   /* [n + 1]: float offsets of each image's output */
    float *x, *y; /* a batch's input (folders), every output */
    uint8_t *u8;
    size_t written;
    cli_new_dirs made;
} refine_state;

static void state_free(refine_state *st)
{
    cli_names_free(st->out_names, st->out_names ? st->im.n : 0);
    free(st->sorted_out); /* its strings are out_names' */
    cli_sg_images_free(&st->im);
    free(st->at);
    free(st->x);
    free(st->y);
    free(st->u8);
    fs_simgan_free(st->m);
    fs_backend_free(st->b);
    fs_weights_free(st->w);
    cli_new_dirs_keep(&st->made);
}

/* The output names, unique, none of them a directory in --outdir. */
static fs_status plan_outputs(refine_state *st)
{
    size_t n = st->im.n;
    st->out_names = calloc(n, sizeof *st->out_names);
    st->sorted_out = calloc(n, sizeof *st->sorted_out);
    if (!st->out_names || !st->sorted_out)
        return fs_error(FS_ERR_NOMEM, "out of memory for %zu names", n);
    for (size_t i = 0; i < n; i++) {
        char *o = malloc(st->im.names ? strlen(st->im.names[i]) + 5 : 32);
        if (!o)
            return fs_error(FS_ERR_NOMEM, "out of memory");
        if (st->im.names) {
            const char *name = st->im.names[i], *dot = strrchr(name, '.');
            sprintf(o, "%.*s.png", (int)(dot - name), name);
        } else {
            sprintf(o, "img%04zu.png", i);
        }
        st->out_names[i] = st->sorted_out[i] = o;
    }
    qsort(st->sorted_out, n, sizeof *st->sorted_out, cli_str_cmp);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(st->sorted_out[i - 1], st->sorted_out[i]))
            return fs_error(FS_ERR_ARG, "%s: two input images would both be written as %s/%s "
                            "(rename one)", st->images, st->outdir, st->sorted_out[i]);
    for (size_t i = 0; i < n; i++) {
        char *p = cli_join(st->outdir, st->out_names[i]);
        struct stat sb;
        int dir = p && stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
        fs_status s = !p ? fs_error(FS_ERR_NOMEM, "out of memory")
                      : dir ? fs_error(FS_ERR_IO, "%s: is a directory, where this run writes a "
                                       "refined image", p) : FS_OK;
        free(p);
        FS_TRY(s);
    }
    return FS_OK;
}

static int is_output_name(const char *name, size_t len, void *ctx)
{
    const refine_state *st = ctx;
    char buf[1024];
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, name, len);
    buf[len] = '\0';
    const char *key = buf;
    return bsearch(&key, st->sorted_out, st->im.n, sizeof *st->sorted_out, cli_str_cmp) != NULL;
}

static void remove_written(refine_state *st)
{
    for (size_t i = 0; i < st->written; i++) {
        char *p = cli_join(st->outdir, st->out_names[i]);
        if (p)
            unlink(p);
        free(p);
    }
    st->written = 0;
}

static fs_status prepare(refine_state *st)
{
    fs_network_opts o;
    fs_network_opts_default(&o);
    o.want = FS_WANT_SIMGAN;
    o.convert.rename_path = st->rename;
    int flat = fs_network_is_flat(st->network);
    if (flat < 0)
        return FS_ERR_IO;
    if (flat && st->rename)
        return fs_error(FS_ERR_ARG, "%s is a converted weight file: --rename applies only to a "
                        "checkpoint converted on the fly", st->network);
    FS_TRY(fs_network_open(st->network, &o, &st->w, NULL));
    FS_TRY(cli_backend_open(st->threads, &st->b));
    FS_TRY(fs_simgan_init(&st->m, st->w, st->b));
    st->C = (int)fs_simgan_get_config(st->m)->channels;
    FS_TRY(cli_sg_images_open(&st->im, st->images, st->C));
    size_t n = st->im.n, largest = 0;
    if (st->raw_path && !cli_sg_images_one_size(&st->im))
        return fs_error(FS_ERR_ARG, "%s: the images have different sizes, so they do not stack "
                        "into one --save-raw array (refine one size at a time)", st->images);
    if (!(st->at = malloc((n + 1) * sizeof *st->at)))
        return fs_error(FS_ERR_NOMEM, "out of memory");
    st->at[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t img = (size_t)st->C * st->im.w[i] * st->im.h[i];
        largest = img > largest ? img : largest;
        st->at[i + 1] = st->at[i] + img;
    }
    size_t B = (size_t)st->batch < n ? (size_t)st->batch : n;
    st->batch = (long)B;
    /* every output is kept for --save-raw; otherwise one batch's worth */
    size_t keep = st->raw_path ? st->at[n] : B * largest;
    if (!(st->y = malloc(keep * sizeof *st->y)) || !(st->u8 = malloc(largest)) ||
        (!st->im.npy && !(st->x = malloc(B * largest * sizeof *st->x))))
        return fs_error(FS_ERR_NOMEM, "out of memory for a batch of %zu images", B);
    FS_TRY(plan_outputs(st));
    FS_TRY(cli_make_outdir(st->outdir, &st->made));
    /* everything checked: the temporaries dead runs left can go */
    fs_out_file_clean_stale(st->outdir, is_output_name, st);
    cli_clean_stale_output(st->raw_path);
    return FS_OK;
}

/* Image i's refined floats [C, h, w] -> [h, w, C] bytes -> its PNG. */
static fs_status write_image(refine_state *st, size_t i, const float *y)
{
    int w = st->im.w[i], h = st->im.h[i], C = st->C;
    size_t plane = (size_t)w * h;
    for (size_t q = 0; q < plane; q++)
        for (int c = 0; c < C; c++)
            st->u8[q * (size_t)C + (size_t)c] = fs_simgan_to_u8(y[(size_t)c * plane + q]);
    char *p = cli_join(st->outdir, st->out_names[i]);
    if (!p)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    fs_status s = fs_png_write_rgb8(p, st->u8, w, h, C);
    free(p);
    if (s == FS_OK)
        st->written++;
    return s;
}

static fs_status run(refine_state *st)
{
    size_t n = st->im.n;
    fs_progress prog = {0};
    fs_progress_start(&prog, stderr, st->quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO, "images",
                      "img/s", n);
    fs_status s = FS_OK;
    for (size_t i0 = 0; i0 < n && s == FS_OK;) {
        int nb = cli_sg_images_run(&st->im, i0, (int)st->batch);
        const float *x;
        float *y = st->raw_path ? st->y + st->at[i0] : st->y;
        s = cli_sg_images_get(&st->im, i0, nb, st->x, &x);
        if (s == FS_OK)
            s = fs_simgan_refine(st->m, x, nb, st->im.h[i0], st->im.w[i0], y);
        for (int k = 0; s == FS_OK && k < nb; k++)
            s = write_image(st, i0 + (size_t)k, y + (st->at[i0 + (size_t)k] - st->at[i0]));
        i0 += (size_t)nb;
        if (s == FS_OK)
            fs_progress_update(&prog, i0);
    }
    if (s == FS_OK && st->raw_path) {
        int64_t shape[4] = {(int64_t)n, st->C, st->im.h[0], st->im.w[0]};
        s = fs_npy_write(st->raw_path, FS_DTYPE_F32, 4, shape, st->y);
    }
    if (s != FS_OK) {
        fs_progress_abort(&prog);
        return s;
    }
    fs_progress_finish(&prog);
    if (!st->quiet)
        fprintf(stderr, "facesynth refine: %zu images refined into %s\n", n, st->outdir);
    return FS_OK;
}

int cmd_refine(int argc, char **argv)
{
    enum { O_NET = 256, O_IMAGES, O_OUTDIR, O_RAW, O_RENAME, O_BATCH, O_THREADS, O_DEVICE };
    static const struct option opts[] = {
        {"network", required_argument, 0, O_NET}, {"images", required_argument, 0, O_IMAGES},
        {"outdir", required_argument, 0, O_OUTDIR}, {"save-raw", required_argument, 0, O_RAW},
        {"rename", required_argument, 0, O_RENAME}, {"batch", required_argument, 0, O_BATCH},
        {"threads", required_argument, 0, O_THREADS}, {"device", required_argument, 0, O_DEVICE},
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    refine_state st;
    memset(&st, 0, sizeof st);
    st.batch = 8;
    int c;
    cli_getopt_state go;
    cli_getopt_init(&go);
    while ((c = cli_getopt(&go, CMD, argc, argv, ":qh", opts)) != -1) {
        switch (c) {
        case CLI_OPT_ERROR: return FS_EXIT_FAILURE;
        case O_NET: st.network = optarg; break;
        case O_IMAGES: st.images = optarg; break;
        case O_OUTDIR: st.outdir = optarg; break;
        case O_RAW: st.raw_path = optarg; break;
        case O_RENAME: st.rename = optarg; break;
        case 'q': st.quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case O_BATCH: {
            int rc = cli_batch_option(CMD, optarg, &st.batch);
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
        case O_DEVICE: {
            int rc = cli_device_option(CMD, optarg);
            if (rc)
                return rc;
            break;
        }
        default: return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!st.network)
        return cli_usage_error(CMD, "missing --network FILE (a SimGAN checkpoint or .fsw)");
    if (!st.images)
        return cli_usage_error(CMD, "missing --images DIR|FILE.npy");
    if (!st.outdir)
        return cli_usage_error(CMD, "missing --outdir DIR (where the refined images go)");
    if (!*st.outdir)
        return cli_usage_error(CMD, "--outdir is empty");
    if (st.rename && !*st.rename)
        return cli_usage_error(CMD, "--rename is empty");
    int rc = cli_check_output(CMD, "--save-raw", st.raw_path);
    if (rc)
        return rc;
    fs_status s = prepare(&st);
    if (s == FS_OK && (s = run(&st)) != FS_OK) {
        remove_written(&st);
        cli_new_dirs_remove(&st.made); /* only if nothing else is in it */
    }
    rc = s == FS_OK ? 0 : cli_fail(s);
    state_free(&st);
    return rc;
}
