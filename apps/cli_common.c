/* Pieces every facesynth command shares: argument parsers, opening a network
 * from a .fsw or any checkpoint (with the converter's flags), labels, output
 * directories, and reading images from an .npy or a PNG directory. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/file.h"
#include "../engine/image_io.h"
#include "../engine/image_resize.h"
#include "../weights_tools/npy.h"
#include "cli.h"

/* ---- argument parsers ----------------------------------------------------- */

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

/* ---- converter options ------------------------------------------------------ */

const char cli_convert_help[] =
    "      --rename FILE       rename rules for a state dict with other module names:\n"
    "                          one 'REGEX REPLACEMENT' per line (POSIX extended, \\1-\\9)\n"
    "      --conv-clamp X      clamp of conv outputs (0 = none; official training: 256)\n"
    "      --architecture skip|resnet|orig\n"
    "      --mapping-lr X      mapping network learning-rate multiplier (0.01)\n"
    "      --num-fp16-res N    number of top resolutions the official code runs in fp16\n"
    "      --mbstd-group N     discriminator minibatch-std group size (0 = whole batch)\n";

void cli_net_opts_init(cli_net_opts *o)
{
    memset(o, 0, sizeof *o);
    fs_convert_options_default(&o->conv);
}

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    *out = v;
    return errno == 0 && end != s && *end == '\0';
}

int cli_convert_option(const char *cmd, int code, const char *arg, cli_net_opts *o)
{
    fs_sg2_overrides *ov = &o->conv.overrides;
    const char *flag;
    switch (code) {
    case CLI_O_CLAMP:
        flag = "--conv-clamp";
        if (!cli_parse_double(arg, &ov->conv_clamp) || ov->conv_clamp < 0)
            return cli_usage_error(cmd, "--conv-clamp needs a number >= 0, not '%s'", arg);
        ov->has_conv_clamp = 1;
        break;
    case CLI_O_ARCH:
        flag = "--architecture";
        if (!fs_sg2_arch_parse(arg, &ov->architecture))
            return cli_usage_error(cmd, "--architecture must be skip, resnet or orig");
        ov->has_architecture = 1;
        break;
    case CLI_O_MLR:
        flag = "--mapping-lr";
        if (!cli_parse_double(arg, &ov->mapping_lr) || ov->mapping_lr <= 0)
            return cli_usage_error(cmd, "--mapping-lr needs a number > 0, not '%s'", arg);
        ov->has_mapping_lr = 1;
        break;
    case CLI_O_FP16:
        flag = "--num-fp16-res";
        if (!parse_i64(arg, &ov->num_fp16_res) || ov->num_fp16_res < 0)
            return cli_usage_error(cmd, "--num-fp16-res needs an integer >= 0");
        ov->has_num_fp16_res = 1;
        break;
    case CLI_O_MBSTD:
        flag = "--mbstd-group";
        if (!parse_i64(arg, &ov->mbstd_group_size) || ov->mbstd_group_size < 0)
            return cli_usage_error(cmd, "--mbstd-group needs an integer >= 0");
        ov->has_mbstd_group = 1;
        break;
    case CLI_O_RENAME:
        flag = "--rename";
        if (!*arg)
            return cli_usage_error(cmd, "--rename needs a file name");
        o->conv.rename_path = arg;
        break;
    default:
        return -1;
    }
    if (!o->first_flag)
        o->first_flag = flag;
    if (code != CLI_O_RENAME && !o->first_sg2_flag)
        o->first_sg2_flag = flag;
    return 0;
}

/* ---- networks ------------------------------------------------------------------ */

fs_status cli_open_network(const char *path, cli_net_kind kind, const cli_net_opts *no,
                           fs_weights **out)
{
    *out = NULL;
    cli_net_opts defaults;
    if (!no) {
        cli_net_opts_init(&defaults);
        no = &defaults;
    }
    /* Converter flags mean nothing to a file that is already converted:
     * refuse them before any work. */
    int flat = fs_network_is_flat(path);
    if (flat < 0)
        return FS_ERR_IO;
    if (flat && no->first_flag)
        return fs_error(FS_ERR_ARG, "%s is a converted weight file: %s applies only to a "
                        "checkpoint converted on the fly", path, no->first_flag);
    fs_network_opts o;
    fs_network_opts_default(&o);
    o.convert = no->conv;
    o.convert.net = FS_NET_DEFAULT;
    o.want = kind == CLI_NET_DISCRIMINATOR ? FS_WANT_DISCRIMINATOR
             : kind == CLI_NET_GENERATOR   ? FS_WANT_GENERATOR
                                           : FS_WANT_CVAEGAN;
    fs_weights *w = NULL;
    FS_TRY(fs_network_open(path, &o, &w, NULL));
    if (fs_weights_family(w) == FS_FAMILY_CVAEGAN && no->first_sg2_flag) {
        fs_weights_free(w);
        return fs_error(FS_ERR_ARG, "%s: holds a CVAE-GAN: %s applies only to StyleGAN2 "
                        "checkpoints", path, no->first_sg2_flag);
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

/* ---- output files ------------------------------------------------------------------ */

fs_status cli_make_dirs(const char *dir)
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

fs_status cli_probe_dir(const char *dir)
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

fs_status cli_probe_output(const char *path)
{
    fs_out_file f;
    FS_TRY(fs_out_file_open(path, &f));
    fs_out_file_abort(&f);
    return FS_OK;
}

int cli_check_output(const char *cmd, const char *flag, const char *path)
{
    /* cli_probe_output alone would pass both: it creates "<path>.tmp.<pid>",
     * and only the final rename would fail, after the whole run. */
    struct stat sb;
    if (!*path)
        return cli_usage_error(cmd, "%s is empty", flag);
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return cli_fail(fs_error(FS_ERR_IO, "%s: %s names a directory, not a file", path, flag));
    fs_status s = cli_probe_output(path);
    return s == FS_OK ? 0 : cli_fail(s);
}

/* ---- images ---------------------------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_png_name(const char *s)
{
    size_t n = strlen(s);
    return s[0] != '.' && n > 4 && strcasecmp(s + n - 4, ".png") == 0;
}

static fs_status list_pngs(cli_images *im)
{
    DIR *dir = opendir(im->path);
    if (!dir)
        return fs_error(FS_ERR_IO, "%s: cannot open directory", im->path);
    size_t cap = 0, longest = 0;
    fs_status s = FS_OK;
    struct dirent *e;
    while (s == FS_OK && (e = readdir(dir))) {
        if (!is_png_name(e->d_name))
            continue;
        if (im->n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **t = realloc(im->names, nc * sizeof *t);
            if (!t) {
                s = fs_error(FS_ERR_NOMEM, "out of memory");
                break;
            }
            im->names = t;
            cap = nc;
        }
        if (!(im->names[im->n] = strdup(e->d_name)))
            s = fs_error(FS_ERR_NOMEM, "out of memory");
        else {
            size_t l = strlen(e->d_name);
            longest = l > longest ? l : longest;
            im->n++;
        }
    }
    closedir(dir);
    if (s != FS_OK)
        return s;
    if (im->n == 0)
        return fs_error(FS_ERR_ARG, "%s: no .png files in the directory", im->path);
    qsort(im->names, (size_t)im->n, sizeof *im->names, name_cmp);
    if (!(im->buf = malloc(strlen(im->path) + longest + 2)))
        return fs_error(FS_ERR_NOMEM, "out of memory");
    return FS_OK;
}

fs_status cli_images_open(cli_images *im, const char *path, int channels, int res, int resize,
                          const char *what)
{
    memset(im, 0, sizeof *im);
    im->path = path;
    im->what = what;
    im->channels = channels;
    im->res = res;
    im->resize = resize;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return fs_error(FS_ERR_IO, "%s: cannot open: no such file or directory", path);
    if (S_ISDIR(sb.st_mode)) {
        im->from_dir = 1;
        if (channels != 3)
            return fs_error(FS_ERR_UNSUPPORTED, "%s: PNG input needs a 3-channel network (%s "
                            "has %d channels); use an .npy array", path, what, channels);
        return list_pngs(im);
    }
    int ndim;
    int64_t shape[FS_NPY_MAX_DIMS];
    FS_TRY(fs_npy_read_f32(path, &ndim, shape, &im->npy));
    if (ndim != 4 || shape[0] < 1 || shape[1] != channels || shape[2] != res ||
        shape[3] != res) {
        char got[128];
        cli_shape_string(got, sizeof got, ndim, shape);
        return fs_error(FS_ERR_SHAPE, "%s: images of shape %s, expected [N, %d, %d, %d] "
                        "with N >= 1", path, got, channels, res, res);
    }
    im->n = (uint64_t)shape[0];
    return FS_OK;
}

fs_status cli_images_get(cli_images *im, uint64_t i0, int nb, float *dst, const float **out)
{
    size_t img_len = (size_t)im->channels * im->res * im->res;
    if (!im->from_dir) {
        *out = im->npy + i0 * img_len;
        return FS_OK;
    }
    int R = im->res;
    fs_status s = FS_OK;
    for (int k = 0; k < nb && s == FS_OK; k++) {
        sprintf(im->buf, "%s/%s", im->path, im->names[i0 + (uint64_t)k]);
        uint8_t *rgb;
        int w, h;
        s = fs_png_read_rgb(im->buf, &rgb, &w, &h);
        if (s != FS_OK)
            break;
        float *x = dst + (size_t)k * img_len;
        if (w == R && h == R)
            fs_image_hwc_u8_to_chw_f32(rgb, R, R, 3, x);
        else if (!im->resize)
            s = fs_error(FS_ERR_SHAPE, "%s: image is %dx%d, %s takes %dx%d", im->buf, w, h,
                         im->what, R, R);
        else if (w != h)
            s = fs_error(FS_ERR_SHAPE, "%s: image is %dx%d, not square: crop it to a square "
                         "face first (it would be resized to %dx%d)", im->buf, w, h, R, R);
        else
            s = fs_image_u8_to_chw_f32_resized(rgb, w, h, 3, x, R, R);
        free(rgb);
    }
    *out = dst;
    return s;
}

void cli_images_print_name(const cli_images *im, uint64_t i)
{
    if (im->from_dir) {
        fputs(im->names[i], stdout);
        return;
    }
    const char *base = strrchr(im->path, '/');
    printf("%s[%llu]", base ? base + 1 : im->path, (unsigned long long)i);
}

void cli_images_free(cli_images *im)
{
    if (im->names)
        for (uint64_t i = 0; i < im->n; i++)
            free(im->names[i]);
    free(im->names);
    free(im->npy);
    free(im->buf);
    memset(im, 0, sizeof *im);
}

/* ---- device selection ---------------------------------------------------- */

#ifdef FS_WITH_CUDA
#include "../kernels/cuda_backend.h"
#endif

static int device_cuda = -1; /* -1: the CPU backend */

int cli_device_option(const char *cmd, const char *arg)
{
    if (!strcmp(arg, "cpu")) {
        device_cuda = -1;
        return 0;
    }
    long idx = 0;
    if (!strcmp(arg, "cuda"))
        idx = 0;
    else if (strncmp(arg, "cuda:", 5) != 0 || !cli_parse_long(arg + 5, 0, 255, &idx))
        return cli_usage_error(cmd, "--device must be cpu, cuda or cuda:N, not '%s'", arg);
#ifdef FS_WITH_CUDA
    device_cuda = (int)idx;
    return 0;
#else
    return cli_usage_error(cmd, "--device %s: this build has no CUDA backend (use --device cpu)",
                           arg);
#endif
}

/* Index into precision_names; the order of fs_cuda_precision. */
static const char *const precision_names[] = {"fp32", "tf32", "fp16", "bf16", "mixed"};
static int precision = 0;

int cli_precision_option(const char *cmd, const char *arg)
{
    for (int i = 0; i < (int)(sizeof precision_names / sizeof *precision_names); i++)
        if (!strcmp(arg, precision_names[i])) {
            precision = i;
            return 0;
        }
    return cli_usage_error(cmd, "--precision must be fp32, tf32, fp16, bf16 or mixed, not '%s'",
                           arg);
}

int cli_precision_check(const char *cmd)
{
    if (device_cuda < 0 && precision != 0)
        return cli_usage_error(cmd, "--precision %s: the CPU backend computes in fp32 (use "
                               "--device cuda, or --precision fp32)", precision_names[precision]);
    return 0;
}

fs_status cli_backend_open(long threads, fs_backend **out)
{
#ifdef FS_WITH_CUDA
    if (device_cuda >= 0) {
        fs_status s = fs_backend_cuda_init_ex(out, device_cuda, (fs_cuda_precision)precision);
        if (s != FS_OK) {
            char flag[32];
            snprintf(flag, sizeof flag, "--device cuda:%d", device_cuda);
            fs_error_prefix(flag);
        }
        return s;
    }
#endif
    if (precision != 0)
        return fs_error(FS_ERR_ARG, "--precision %s: the CPU backend computes in fp32",
                        precision_names[precision]);
    return fs_backend_cpu_init(out, (int)threads);
}
