/* `facesynth invert`: real face images -> StyleGAN2 W+ codes with an e4e
 * encoder (docs/e4e.md), optionally re-synthesised by a generator with the
 * reconstruction error of each image.
 *
 * Images come from a folder of PNG and JPEG files, read in name order and
 * prepared exactly as the official inference prepares them (image_pil.h:
 * PIL convert('RGB'), Pillow's bilinear resize to the encoder's input size,
 * (x / 255 - 0.5) / 0.5), or from an .npy array already in that form.
 *
 * Nothing is written unless every input is good: the folder's images are
 * all decoded once before the first forward pass, the generator is checked
 * against the encoder, and every output path is probed. A run that fails
 * later removes the reconstructions it wrote and a folder it created; the
 * codes (--save-raw) are written last, atomically. */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/backend.h"
#include "../engine/e4e.h"
#include "../engine/file.h"
#include "../engine/image_io.h"
#include "../engine/image_pil.h"
#include "../engine/progress.h"
#include "../engine/stylegan2.h"
#include "../weights_tools/npy.h"
#include "cli.h"

#define CMD "invert"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth invert --network E4E --images DIR|FILE.npy --save-raw WP.npy\n"
            "                        [--generator G --outdir DIR] [options]\n"
            "\n"
            "Encodes face images into a StyleGAN2 generator's W+ space with an e4e encoder\n"
            "(Encoder4Editing) and writes the codes as float32 [N, n_styles, w_dim]: the\n"
            "encoder's output plus latent_avg, as the official e4e inference returns them\n"
            "(use them with 'generate --ws').\n"
            "\n"
            "      --network FILE      an e4e checkpoint (.pt, as released: its encoder is\n"
            "                          used) or an e4e-encoder .fsw ('convert --net encoder')\n"
            "      --images PATH       a directory of PNG and JPEG files (*.png, *.jpg,\n"
            "                          *.jpeg, any case; sorted by name in byte order), each\n"
            "                          prepared as the official transform does: converted to\n"
            "                          RGB as PIL's convert('RGB') (gray copied, alpha\n"
            "                          dropped, palettes looked up, 16-bit as Pillow reads\n"
            "                          it), resized to the encoder's input size (256 x 256)\n"
            "                          with Pillow's bilinear filter whatever its size and\n"
            "                          aspect, mapped to (x / 255 - 0.5) / 0.5; at most\n"
            "                          %d x %d pixels. Or an .npy float [N, 3, 256, 256]\n"
            "                          already in that form\n"
            "      --save-raw FILE.npy the codes, float32 [N, n_styles, w_dim], rows in image\n"
            "                          order\n"
            "\n"
            "reconstructions:\n"
            "      --generator FILE    a StyleGAN2 generator whose w_dim and number of ws\n"
            "                          match the encoder's codes: the e4e checkpoint itself\n"
            "                          (its decoder), a network pickle, a converted .fsw...;\n"
            "                          synthesised with noise const (the official inference's\n"
            "                          fixed noise) and no truncation. Prints one line per\n"
            "                          image on stdout, tab-separated: index, name, mse, the\n"
            "                          mean squared error in [-1, 1] between the input and\n"
            "                          the reconstruction average-pooled to the input size\n"
            "                          (pSp's face_pool)\n"
            "      --outdir DIR        also write the reconstructions as PNGs (created if\n"
            "                          missing): NAME.png for an input NAME.png/.jpg/.jpeg,\n"
            "                          imgNNNN.png for row NNNN of an .npy\n"
            "\n"
            "options:\n"
            "      --batch N           images per forward pass (default 4; the codes do not\n"
            "                          depend on it)\n"
            "      --device D          cpu (default), cuda or cuda:N\n"
            "      --precision P       CUDA arithmetic: fp32 (default); tf32, fp16 or bf16 run\n"
            "                          the encoder's convs (and the generator's) on tensor\n"
            "                          cores; mixed keeps the encoder in fp32 (the official\n"
            "                          e4e runs in fp32) and the generator as 'generate'\n"
            "                          (on the CPU: the generator's fp16, bf16 or mixed\n"
            "                          emulated, the encoder in fp32)\n"
            "      --threads N         CPU worker threads (default 0: one per core)\n"
            "  -q, --quiet             no progress or summary on stderr\n"
            "  -h, --help              this text\n",
            FS_PNG_MAX_DIM, FS_PNG_MAX_DIM);
}

typedef struct {
    const char *network, *images, *raw_path, *generator, *outdir;
    long batch, threads;
    int quiet;
    /* state */
    fs_weights *ew, *gw;
    fs_backend *b;
    fs_e4e *enc;
    fs_sg2_generator *g;
    int R, S, D, gres;
    uint64_t n;
    char **names;      /* input file names (folder) */
    char **out_names;  /* reconstruction file names, in input order */
    char **sorted_out; /* the same, sorted (for the stale-temporary matcher) */
    float *npy;        /* all images (.npy input) */
    char *path;        /* scratch path buffer */
    size_t path_cap;
    float *x, *codes, *recon;
    uint8_t *u8;
    double *mse;
    uint64_t written;  /* reconstructions written so far */
    cli_new_dirs made;
} inv_state;

static void free_names(char **v, uint64_t n)
{
    if (v)
        for (uint64_t i = 0; i < n; i++)
            free(v[i]);
    free(v);
}

static void state_free(inv_state *st)
{
    free_names(st->names, st->n);
    free_names(st->out_names, st->n);
    free(st->sorted_out); /* its strings are out_names' */
    free(st->npy);
    free(st->path);
    free(st->x);
    free(st->codes);
    free(st->recon);
    free(st->u8);
    free(st->mse);
    fs_sg2_generator_free(st->g);
    fs_e4e_free(st->enc);
    fs_backend_free(st->b);
    fs_weights_free(st->gw);
    fs_weights_free(st->ew);
    cli_new_dirs_keep(&st->made);
}

/* ---- inputs ------------------------------------------------------------------------- */

static fs_status path_of(inv_state *st, const char *dir, const char *name)
{
    size_t need = strlen(dir) + strlen(name) + 2;
    if (need > st->path_cap) {
        char *p = realloc(st->path, need);
        if (!p)
            return fs_error(FS_ERR_NOMEM, "out of memory");
        st->path = p;
        st->path_cap = need;
    }
    snprintf(st->path, st->path_cap, "%s/%s", dir, name);
    return FS_OK;
}

static fs_status list_images(inv_state *st)
{
    DIR *dir = opendir(st->images);
    if (!dir)
        return fs_error(FS_ERR_IO, "%s: cannot open directory", st->images);
    size_t cap = 0;
    fs_status s = FS_OK;
    struct dirent *e;
    while (s == FS_OK && (e = readdir(dir))) {
        if (!cli_is_photo_name(e->d_name))
            continue;
        if (st->n == cap) {
            size_t nc = cap ? 2 * cap : 64;
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
        return fs_error(FS_ERR_ARG, "%s: no .png, .jpg or .jpeg files in the directory",
                        st->images);
    qsort(st->names, (size_t)st->n, sizeof *st->names, cli_str_cmp);
    return FS_OK;
}

/* Every image decoded once before any work, so that a bad file stops the
 * run before anything is written. */
static fs_status check_images(inv_state *st)
{
    for (uint64_t i = 0; i < st->n; i++) {
        FS_TRY(path_of(st, st->images, st->names[i]));
        uint8_t *rgb;
        int w, h;
        FS_TRY(fs_pil_read_rgb(st->path, &rgb, &w, &h));
        free(rgb);
    }
    return FS_OK;
}

static fs_status open_images(inv_state *st)
{
    struct stat sb;
    if (stat(st->images, &sb) != 0)
        return fs_error(FS_ERR_IO, "%s: cannot open: no such file or directory", st->images);
    if (S_ISDIR(sb.st_mode)) {
        FS_TRY(list_images(st));
        return check_images(st);
    }
    int ndim;
    int64_t shape[FS_NPY_MAX_DIMS];
    FS_TRY(cli_read_npy(st->images, "--images", &ndim, shape, &st->npy));
    if (ndim != 4 || shape[0] < 1 || shape[1] != 3 || shape[2] != st->R || shape[3] != st->R) {
        char got[128];
        cli_shape_string(got, sizeof got, ndim, shape);
        return fs_error(FS_ERR_SHAPE, "%s: images of shape %s, expected [N, 3, %d, %d] with "
                        "N >= 1 (the encoder's input, already normalised to [-1, 1])",
                        st->images, got, st->R, st->R);
    }
    st->n = (uint64_t)shape[0];
    return FS_OK;
}

/* Images i0 .. i0 + nb - 1 as [nb, 3, R, R]. */
static fs_status load_batch(inv_state *st, uint64_t i0, int nb, const float **out)
{
    size_t len = (size_t)3 * st->R * st->R;
    if (st->npy) {
        *out = st->npy + i0 * len;
        return FS_OK;
    }
    for (int k = 0; k < nb; k++) {
        FS_TRY(path_of(st, st->images, st->names[i0 + (uint64_t)k]));
        FS_TRY(fs_pil_load_transformed(st->path, st->R, st->x + (size_t)k * len));
    }
    *out = st->x;
    return FS_OK;
}

/* ---- networks ----------------------------------------------------------------------- */

static fs_status open_encoder(inv_state *st)
{
    fs_network_opts o;
    fs_network_opts_default(&o);
    o.want = FS_WANT_E4E_ENCODER;
    FS_TRY(fs_network_open(st->network, &o, &st->ew, NULL));
    FS_TRY(cli_backend_open(st->threads, &st->b));
    FS_TRY(fs_e4e_init(&st->enc, st->ew, st->b, NULL));
    const fs_e4e_config *c = fs_e4e_get_config(st->enc);
    st->R = (int)c->input_resolution;
    st->S = (int)c->n_styles;
    st->D = (int)c->style_dim;
    return FS_OK;
}

static fs_status open_generator(inv_state *st)
{
    FS_TRY(cli_open_network(st->generator, CLI_NET_GENERATOR, NULL, &st->gw));
    if (fs_weights_family(st->gw) != FS_FAMILY_STYLEGAN2_G)
        return fs_error(FS_ERR_ARG, "%s: holds a %s; --generator takes a StyleGAN2 generator",
                        st->generator, fs_family_name(fs_weights_family(st->gw)));
    FS_TRY(fs_sg2_generator_init(&st->g, st->gw, st->b));
    const fs_sg2_config *c = fs_sg2_generator_config(st->g);
    if (c->w_dim != st->D || fs_sg2_num_ws(c) != st->S || c->img_channels != 3 || c->c_dim != 0)
        return fs_error(FS_ERR_ARG, "%s: the generator takes %lld ws of %lld (%lld channels%s), "
                        "the encoder %s makes %d codes of %d for an unconditional RGB generator",
                        st->generator, (long long)fs_sg2_num_ws(c), (long long)c->w_dim,
                        (long long)c->img_channels, c->c_dim ? ", conditional" : "",
                        st->network, st->S, st->D);
    st->gres = (int)c->img_resolution;
    return FS_OK;
}

/* ---- outputs ------------------------------------------------------------------------ */

/* The reconstruction names: the input's name with .png for its extension,
 * or imgNNNN.png. Two inputs that would share one (a.jpg and a.png) are an
 * error, as is a name that is a directory in --outdir. */
static fs_status plan_outputs(inv_state *st)
{
    st->out_names = calloc((size_t)st->n, sizeof *st->out_names);
    st->sorted_out = calloc((size_t)st->n, sizeof *st->sorted_out);
    if (!st->out_names || !st->sorted_out)
        return fs_error(FS_ERR_NOMEM, "out of memory for %llu names", (unsigned long long)st->n);
    for (uint64_t i = 0; i < st->n; i++) {
        char *o;
        if (st->names) {
            const char *dot = strrchr(st->names[i], '.');
            size_t stem = (size_t)(dot - st->names[i]);
            o = malloc(stem + 5);
            if (o)
                snprintf(o, stem + 5, "%.*s.png", (int)stem, st->names[i]);
        } else {
            o = malloc(32);
            if (o)
                snprintf(o, 32, "img%04llu.png", (unsigned long long)i);
        }
        if (!o)
            return fs_error(FS_ERR_NOMEM, "out of memory");
        st->out_names[i] = st->sorted_out[i] = o;
    }
    qsort(st->sorted_out, (size_t)st->n, sizeof *st->sorted_out, cli_str_cmp);
    for (uint64_t i = 1; i < st->n; i++)
        if (!strcmp(st->sorted_out[i - 1], st->sorted_out[i]))
            return fs_error(FS_ERR_ARG, "%s: two input images would both be reconstructed as "
                            "%s/%s (rename one)", st->images, st->outdir, st->sorted_out[i]);
    for (uint64_t i = 0; i < st->n; i++) {
        FS_TRY(path_of(st, st->outdir, st->out_names[i]));
        struct stat sb;
        if (stat(st->path, &sb) == 0 && S_ISDIR(sb.st_mode))
            return fs_error(FS_ERR_IO, "%s: is a directory, where this run writes a "
                            "reconstruction", st->path);
    }
    return FS_OK;
}

static int is_output_name(const char *name, size_t len, void *ctx)
{
    const inv_state *st = ctx;
    char buf[1024];
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, name, len);
    buf[len] = '\0';
    const char *key = buf;
    return bsearch(&key, st->sorted_out, (size_t)st->n, sizeof *st->sorted_out, cli_str_cmp) != NULL;
}

static void remove_written(inv_state *st)
{
    for (uint64_t i = 0; i < st->written; i++)
        if (path_of(st, st->outdir, st->out_names[i]) == FS_OK)
            unlink(st->path);
    st->written = 0;
}

/* pSp's face_pool (AdaptiveAvgPool2d to the input size) of the
 * reconstruction, then the mean squared difference with the input. */
static double recon_mse(const float *img, int gr, const float *x, int r)
{
    double sum = 0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < r; i++) {
            int y0 = (int)((long)i * gr / r), y1 = (int)(((long)i + 1) * gr + r - 1) / r;
            for (int j = 0; j < r; j++) {
                int x0 = (int)((long)j * gr / r), x1 = (int)(((long)j + 1) * gr + r - 1) / r;
                double acc = 0;
                for (int yy = y0; yy < y1; yy++)
                    for (int xx = x0; xx < x1; xx++)
                        acc += img[((size_t)c * gr + yy) * gr + xx];
                double d = acc / ((double)(y1 - y0) * (x1 - x0)) - x[((size_t)c * r + i) * r + j];
                sum += d * d;
            }
        }
    return sum / (3.0 * r * r);
}

/* ---- the run ----------------------------------------------------------------------------- */

static fs_status prepare(inv_state *st)
{
    FS_TRY(open_encoder(st));
    FS_TRY(open_images(st));
    if (st->generator)
        FS_TRY(open_generator(st));
    int B = (int)((uint64_t)st->batch < st->n ? (uint64_t)st->batch : st->n);
    uint64_t bytes;
    if (__builtin_mul_overflow(st->n, (uint64_t)st->S * st->D * sizeof(float), &bytes) ||
        bytes > SIZE_MAX || !(st->codes = malloc((size_t)bytes)))
        return fs_error(FS_ERR_NOMEM, "out of memory for the codes of %llu images",
                        (unsigned long long)st->n);
    size_t img = (size_t)3 * st->R * st->R, gimg = (size_t)3 * st->gres * st->gres;
    if (!st->npy && !(st->x = malloc((size_t)B * img * sizeof *st->x)))
        return fs_error(FS_ERR_NOMEM, "out of memory for a batch of %d images", B);
    if (st->g && (!(st->recon = malloc((size_t)B * gimg * sizeof *st->recon)) ||
                  !(st->u8 = malloc((size_t)B * gimg)) ||
                  !(st->mse = malloc((size_t)st->n * sizeof *st->mse))))
        return fs_error(FS_ERR_NOMEM, "out of memory for a batch of %d reconstructions", B);
    st->batch = B;
    if (st->outdir) {
        FS_TRY(plan_outputs(st));
        FS_TRY(cli_make_outdir(st->outdir, &st->made));
        /* everything checked: the temporaries dead runs left can go */
        fs_out_file_clean_stale(st->outdir, is_output_name, st);
    }
    cli_clean_stale_output(st->raw_path);
    return FS_OK;
}

static fs_status run(inv_state *st)
{
    size_t img = (size_t)3 * st->R * st->R, gimg = (size_t)3 * st->gres * st->gres;
    size_t per = (size_t)st->S * st->D;
    fs_progress prog = {0};
    fs_progress_start(&prog, stderr, st->quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO, "images",
                      "img/s", st->n);
    fs_status s = FS_OK;
    for (uint64_t i0 = 0; i0 < st->n && s == FS_OK; i0 += (uint64_t)st->batch) {
        int nb = (int)(st->n - i0 < (uint64_t)st->batch ? st->n - i0 : (uint64_t)st->batch);
        const float *x;
        s = load_batch(st, i0, nb, &x);
        if (s == FS_OK)
            s = fs_e4e_encode(st->enc, x, nb, st->codes + i0 * per);
        if (s == FS_OK && st->g) {
            fs_sg2_generate_args a = {.n = nb, .ws = st->codes + i0 * per, .psi = 1.0f,
                                      .cutoff = -1, .noise_mode = FS_NOISE_CONST,
                                      .images = st->outdir ? st->u8 : NULL,
                                      .img_out = st->recon};
            s = fs_sg2_generate(st->g, &a);
            for (int k = 0; s == FS_OK && k < nb; k++) {
                st->mse[i0 + (uint64_t)k] =
                    recon_mse(st->recon + (size_t)k * gimg, st->gres, x + (size_t)k * img, st->R);
                if (!st->outdir)
                    continue;
                s = path_of(st, st->outdir, st->out_names[i0 + (uint64_t)k]);
                if (s == FS_OK)
                    s = fs_png_write_rgb8(st->path, st->u8 + (size_t)k * gimg, st->gres,
                                          st->gres, 3);
                if (s == FS_OK)
                    st->written++;
            }
        }
        if (s == FS_OK)
            fs_progress_update(&prog, i0 + (uint64_t)nb);
    }
    if (s == FS_OK) {
        int64_t shape[3] = {(int64_t)st->n, st->S, st->D};
        s = fs_npy_write(st->raw_path, FS_DTYPE_F32, 3, shape, st->codes);
    }
    if (s != FS_OK) {
        fs_progress_abort(&prog);
        return s;
    }
    fs_progress_finish(&prog);
    if (st->g) {
        printf("index\tname\tmse\n");
        for (uint64_t i = 0; i < st->n; i++) {
            const char *name = st->names ? st->names[i] : NULL;
            if (name)
                printf("%llu\t%s\t%.9g\n", (unsigned long long)i, name, st->mse[i]);
            else
                printf("%llu\t%s[%llu]\t%.9g\n", (unsigned long long)i,
                       strrchr(st->images, '/') ? strrchr(st->images, '/') + 1 : st->images,
                       (unsigned long long)i, st->mse[i]);
        }
        fflush(stdout);
    }
    return FS_OK;
}

int cmd_invert(int argc, char **argv)
{
    enum { O_NET = 256, O_IMAGES, O_RAW, O_GEN, O_OUTDIR, O_BATCH, O_THREADS, O_DEVICE,
           O_PRECISION };
    static const struct option opts[] = {
        {"network", required_argument, 0, O_NET},   {"images", required_argument, 0, O_IMAGES},
        {"save-raw", required_argument, 0, O_RAW},  {"generator", required_argument, 0, O_GEN},
        {"outdir", required_argument, 0, O_OUTDIR}, {"batch", required_argument, 0, O_BATCH},
        {"threads", required_argument, 0, O_THREADS},
        {"device", required_argument, 0, O_DEVICE},
        {"precision", required_argument, 0, O_PRECISION}, {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
    inv_state st;
    memset(&st, 0, sizeof st);
    st.batch = 4;
    int c;
    cli_getopt_state go;
    cli_getopt_init(&go);
    while ((c = cli_getopt(&go, CMD, argc, argv, ":qh", opts)) != -1) {
        switch (c) {
        case CLI_OPT_ERROR: return FS_EXIT_FAILURE;
        case O_NET: st.network = optarg; break;
        case O_IMAGES: st.images = optarg; break;
        case O_RAW: st.raw_path = optarg; break;
        case O_GEN: st.generator = optarg; break;
        case O_OUTDIR: st.outdir = optarg; break;
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
        case O_PRECISION: {
            int rc = cli_precision_option(CMD, optarg);
            if (rc)
                return rc;
            break;
        }
        default: return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    int prc = cli_precision_check(CMD);
    if (prc)
        return prc;
    if (!st.network)
        return cli_usage_error(CMD, "missing --network FILE (an e4e checkpoint or encoder .fsw)");
    if (!st.images)
        return cli_usage_error(CMD, "missing --images DIR|FILE.npy");
    if (!st.raw_path)
        return cli_usage_error(CMD, "missing --save-raw FILE.npy (where the codes go)");
    if (st.outdir && !st.generator)
        return cli_usage_error(CMD, "--outdir needs --generator (the network that renders the "
                               "reconstructions)");
    if (st.outdir && !*st.outdir)
        return cli_usage_error(CMD, "--outdir is empty");
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
