/* `facesynth embed`: face images -> identity embeddings with Light CNN-9 or
 * ArcFace IR-SE-50 (docs/identity.md).
 *
 * Images come from a folder of PNG and JPEG files, read in name order and
 * prepared exactly as each network's official pipeline does
 * (identity_cli.h), or from an .npy array that already is the network's
 * input tensor. Every image is decoded and checked once before the first
 * forward pass; the embeddings (--save-raw) are written at the end,
 * atomically. Images of different sides (ArcFace: 112 and 256) run in
 * separate batches; the result never depends on --batch. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../engine/image_io.h"
#include "../engine/image_pil.h"
#include "../engine/progress.h"
#include "../weights_tools/npy.h"
#include "cli.h"
#include "identity_cli.h"

#define CMD "embed"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth embed --network ID --images DIR|FILE.npy --save-raw EMB.npy\n"
            "                       [options]\n"
            "\n"
            "Computes the identity embedding of each face image with an identity network\n"
            "and writes them as float32 [N, D], rows in image order:\n"
            "  Light CNN-9 (AlfredXiangWu/LightCNN): the 256-d feature of fc1, as the\n"
            "    official extract_features.py writes it (not normalised);\n"
            "  ArcFace IR-SE-50 (pSp/e4e's model_ir_se50.pth): the l2-normalised 512-d\n"
            "    embedding the Backbone returns.\n"
            "Compare two embeddings by their cosine.\n"
            "\n"
            "      --network FILE      a Light CNN checkpoint (LightCNN_9Layers_checkpoint\n"
            "                          .pth.tar as released: legacy torch.save, 'module.'\n"
            "                          keys), an IR-SE-50 state dict (model_ir_se50.pth),\n"
            "                          or either converted to .fsw\n"
            "      --images PATH       a directory of PNG and JPEG files (*.png, *.jpg,\n"
            "                          *.jpeg, any case; sorted by name in byte order),\n"
            "                          prepared as the official code does:\n"
            "                          Light CNN: PIL convert('L') (Pillow's integer luma),\n"
            "                            then torchvision CenterCrop(128): sides shorter\n"
            "                            than 128 padded with zeros, the crop centred with\n"
            "                            Python's rounding; then / 255;\n"
            "                          ArcFace: PIL convert('RGB'), (x / 255 - 0.5) / 0.5;\n"
            "                            112x112 faces used as they are; 256x256 aligned\n"
            "                            faces (StyleGAN2/e4e outputs) cropped to\n"
            "                            [35:223, 32:220] and average-pooled to 112 as\n"
            "                            pSp's identity loss does; larger square faces\n"
            "                            pooled to 256 first (pSp's face_pool);\n"
            "                          at most %d x %d pixels. Or an .npy float array that\n"
            "                          is the network's input: Light CNN [N, 1, 128, 128] in\n"
            "                          [0, 1]; ArcFace [N, 3, S, S] in [-1, 1], S 112 or 256\n"
            "                          and up\n"
            "      --save-raw FILE.npy the embeddings, float32 [N, D]\n"
            "      --rename FILE       rules mapping a checkpoint's module names onto the\n"
            "                          official ones (see 'convert --help')\n"
            "      --batch N           images per forward pass (default 8)\n"
            "      --device D          cpu (default), cuda or cuda:N\n"
            "      --threads N         CPU worker threads (default 0: one per core)\n"
            "  -q, --quiet             no progress or summary on stderr\n"
            "  -h, --help              this text\n",
            FS_PNG_MAX_DIM, FS_PNG_MAX_DIM);
}

typedef struct {
    const char *network, *images, *raw_path, *rename;
    long batch, threads;
    int quiet;
    cli_identity id;
    char **names;  /* folder input */
    size_t n;
    int *sides;    /* [n] */
    float *npy;    /* .npy input */
    int npy_side;
    float *x, *emb;
} embed_state;

static void state_free(embed_state *st)
{
    cli_names_free(st->names, st->names ? st->n : 0);
    free(st->sides);
    free(st->npy);
    free(st->x);
    free(st->emb);
    cli_identity_close(&st->id);
}

/* Every file decoded once: a bad file or a size the network cannot take
 * stops the run before any work. */
static fs_status check_folder(embed_state *st)
{
    FS_TRY(cli_list_images(st->images, "--images", &st->names, &st->n));
    if (!(st->sides = malloc(st->n * sizeof *st->sides)))
        return fs_error(FS_ERR_NOMEM, "out of memory");
    fs_status s = FS_OK;
    for (size_t i = 0; i < st->n && s == FS_OK; i++) {
        char *path = cli_join(st->images, st->names[i]);
        uint8_t *rgb = NULL;
        int w, h;
        s = path ? fs_pil_read_rgb(path, &rgb, &w, &h) : fs_error(FS_ERR_NOMEM, "out of memory");
        if (s == FS_OK)
            s = cli_identity_check_size(&st->id, path, w, h, &st->sides[i]);
        free(rgb);
        free(path);
    }
    return s;
}

static fs_status check_npy(embed_state *st)
{
    int ndim;
    int64_t shape[FS_NPY_MAX_DIMS];
    FS_TRY(cli_read_npy(st->images, "--images", &ndim, shape, &st->npy));
    int ok = ndim == 4 && shape[0] >= 1 && shape[1] == st->id.channels && shape[2] == shape[3] &&
             shape[2] <= 16384;
    if (ok && st->id.lc)
        ok = shape[2] == st->id.res;
    if (ok && st->id.af)
        ok = fs_arcface_side_ok(st->id.af, (int)shape[2]);
    if (!ok) {
        char got[128];
        cli_shape_string(got, sizeof got, ndim, shape);
        if (st->id.lc)
            return fs_error(FS_ERR_SHAPE, "%s: images of shape %s; Light CNN takes [N, 1, %d, "
                            "%d] (gray in [0, 1]) with N >= 1", st->images, got, st->id.res,
                            st->id.res);
        return fs_error(FS_ERR_SHAPE, "%s: images of shape %s; ArcFace takes [N, 3, S, S] in "
                        "[-1, 1] with S %d%s and N >= 1", st->images, got, st->id.res,
                        st->id.res == 112 ? " or 256 and up" : "");
    }
    st->n = (size_t)shape[0];
    st->npy_side = (int)shape[2];
    return FS_OK;
}

static int side_of(const embed_state *st, size_t i)
{
    return st->npy ? st->npy_side : st->sides[i];
}

static fs_status prepare(embed_state *st)
{
    FS_TRY(cli_identity_open(st->network, st->rename, st->threads, &st->id));
    struct stat sb;
    if (stat(st->images, &sb) != 0)
        return fs_error(FS_ERR_IO, "%s: cannot open: no such file or directory", st->images);
    FS_TRY(S_ISDIR(sb.st_mode) ? check_folder(st) : check_npy(st));
    size_t B = (size_t)st->batch < st->n ? (size_t)st->batch : st->n, largest = 0;
    for (size_t i = 0; i < st->n; i++) {
        size_t len = (size_t)st->id.channels * side_of(st, i) * side_of(st, i);
        largest = len > largest ? len : largest;
    }
    uint64_t bytes;
    if (__builtin_mul_overflow((uint64_t)st->n, (uint64_t)st->id.dim * sizeof(float), &bytes) ||
        bytes > SIZE_MAX || !(st->emb = malloc((size_t)bytes)))
        return fs_error(FS_ERR_NOMEM, "out of memory for %zu embeddings", st->n);
    if (!st->npy && !(st->x = malloc(B * largest * sizeof *st->x)))
        return fs_error(FS_ERR_NOMEM, "out of memory for a batch of %zu images", B);
    st->batch = (long)B;
    cli_clean_stale_output(st->raw_path);
    return FS_OK;
}

/* Images i0 .. i0 + nb - 1 (all of one side) as the network's input. */
static fs_status load_batch(embed_state *st, size_t i0, int nb, int side, const float **out)
{
    size_t len = (size_t)st->id.channels * side * side;
    if (st->npy) {
        *out = st->npy + i0 * len;
        return FS_OK;
    }
    for (int k = 0; k < nb; k++) {
        char *path = cli_join(st->images, st->names[i0 + (size_t)k]);
        float *x = NULL;
        int got = 0;
        fs_status s = path ? cli_identity_load(&st->id, path, &x, &got)
                           : fs_error(FS_ERR_NOMEM, "out of memory");
        if (s == FS_OK && got != side)
            s = fs_error(FS_ERR_IO, "%s: the file changed while it was read", path);
        if (s == FS_OK)
            memcpy(st->x + (size_t)k * len, x, len * sizeof *x);
        free(x);
        free(path);
        FS_TRY(s);
    }
    *out = st->x;
    return FS_OK;
}

static fs_status run(embed_state *st)
{
    fs_progress prog = {0};
    fs_progress_start(&prog, stderr, st->quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO, "faces",
                      "faces/s", st->n);
    fs_status s = FS_OK;
    for (size_t i0 = 0; i0 < st->n && s == FS_OK;) {
        /* a batch: consecutive images of one side, at most --batch */
        int side = side_of(st, i0), nb = 1;
        while (i0 + (size_t)nb < st->n && nb < st->batch && side_of(st, i0 + (size_t)nb) == side)
            nb++;
        const float *x;
        s = load_batch(st, i0, nb, side, &x);
        if (s == FS_OK)
            s = cli_identity_embed(&st->id, x, nb, side, st->emb + i0 * (size_t)st->id.dim);
        i0 += (size_t)nb;
        if (s == FS_OK)
            fs_progress_update(&prog, i0);
    }
    if (s == FS_OK) {
        int64_t shape[2] = {(int64_t)st->n, st->id.dim};
        s = fs_npy_write(st->raw_path, FS_DTYPE_F32, 2, shape, st->emb);
    }
    if (s != FS_OK) {
        fs_progress_abort(&prog);
        return s;
    }
    fs_progress_finish(&prog);
    if (!st->quiet)
        fprintf(stderr, "facesynth embed: %zu images -> %s, float32 [%zu, %d] (%s)\n", st->n,
                st->raw_path, st->n, st->id.dim, st->id.what);
    return FS_OK;
}

int cmd_embed(int argc, char **argv)
{
    enum { O_NET = 256, O_IMAGES, O_RAW, O_BATCH, O_THREADS, O_DEVICE, O_RENAME };
    static const struct option opts[] = {
        {"network", required_argument, 0, O_NET}, {"images", required_argument, 0, O_IMAGES},
        {"save-raw", required_argument, 0, O_RAW}, {"batch", required_argument, 0, O_BATCH},
        {"threads", required_argument, 0, O_THREADS}, {"device", required_argument, 0, O_DEVICE},
        {"rename", required_argument, 0, O_RENAME}, {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    embed_state st;
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
        return cli_usage_error(CMD, "missing --network FILE (a Light CNN or ArcFace IR-SE "
                               "checkpoint or .fsw)");
    if (!st.images)
        return cli_usage_error(CMD, "missing --images DIR|FILE.npy");
    if (!st.raw_path)
        return cli_usage_error(CMD, "missing --save-raw FILE.npy (where the embeddings go)");
    if (st.rename && !*st.rename)
        return cli_usage_error(CMD, "--rename is empty");
    int rc = cli_check_output(CMD, "--save-raw", st.raw_path);
    if (rc)
        return rc;
    fs_status s = prepare(&st);
    if (s == FS_OK)
        s = run(&st);
    rc = s == FS_OK ? 0 : cli_fail(s);
    state_free(&st);
    return rc;
}
