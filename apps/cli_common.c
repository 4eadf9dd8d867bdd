/* Pieces every facesynth command shares: the option loop, argument parsers,
 * opening a network from a .fsw or any checkpoint (with the converter's
 * flags), float inputs, labels, output paths and directories (checked before
 * any work, cleaned up after a failure or a signal), and reading images from
 * an .npy or a PNG directory. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
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

/* The probe file cli_probe_dir writes (as its temporary) and removes. */
#define CLI_PROBE_NAME ".facesynth-probe"

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

/* ---- the option loop ---------------------------------------------------------- */

void cli_getopt_init(cli_getopt_state *g)
{
    memset(g, 0, sizeof *g);
    optind = 1;
    opterr = 0;
}

void cli_getopt_repeatable(cli_getopt_state *g, const struct option *opts, const char *name)
{
    for (int k = 0; opts[k].name && k < CLI_OPTS_MAX; k++)
        if (!strcmp(opts[k].name, name))
            g->repeatable[k] = 1;
}

/* The table entry of the option getopt_long just returned: by its long
 * index, or, for a short option, the long option with the same code. */
static int option_entry(const struct option *opts, int li, int code)
{
    if (li >= 0)
        return li;
    for (int k = 0; opts[k].name; k++)
        if (opts[k].val == code && !opts[k].flag)
            return k;
    return -1;
}

int cli_getopt(cli_getopt_state *g, const char *cmd, int argc, char **argv,
               const char *shortopts, const struct option *opts)
{
    int li = -1;
    int c = getopt_long(argc, argv, shortopts, opts, &li);
    g->name = NULL;
    if (c == -1)
        return -1;
    const char *last = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
    if (c == ':') {
        /* optopt: the short option, or the long option's code */
        int k = option_entry(opts, -1, optopt);
        if (k >= 0)
            cli_usage_error(cmd, "--%s needs a value", opts[k].name);
        else
            cli_usage_error(cmd, "%s needs a value", last);
        return CLI_OPT_ERROR;
    }
    if (c == '?') {
        int k = optopt ? option_entry(opts, -1, optopt) : -1;
        if (k >= 0 && !strncmp(last, "--", 2) && strchr(last, '='))
            cli_usage_error(cmd, "--%s takes no value ('%s')", opts[k].name, last);
        else if (!strncmp(last, "--", 2) || optopt <= 0 || optopt >= 128) {
            /* getopt_long says '?' alike for an unknown name and for an
             * abbreviation of several ("--s"): tell them apart */
            size_t n = strcspn(last + 2, "="), hits = 0;
            for (int j = 0; opts[j].name && n > 0; j++)
                hits += !strncmp(opts[j].name, last + 2, n);
            if (hits > 1)
                cli_usage_error(cmd, "ambiguous option '%.*s': it abbreviates %zu options",
                                (int)(n + 2), last, hits);
            else
                cli_usage_error(cmd, "unknown option '%s'", last);
        } else
            cli_usage_error(cmd, "unknown option '-%c'", optopt);
        return CLI_OPT_ERROR;
    }
    int k = option_entry(opts, li, c);
    if (k < 0 || k >= CLI_OPTS_MAX)
        return c; /* a short option of its own (none takes a value) */
    g->name = opts[k].name;
    if (opts[k].has_arg == required_argument) {
        /* "--seeds --outdir x": getopt took "--outdir" as the seed list */
        if (optarg && optarg[0] == '-' && optarg[1] == '-') {
            cli_usage_error(cmd, "--%s needs a value, but the next argument is '%s'",
                            opts[k].name, optarg);
            return CLI_OPT_ERROR;
        }
        if (g->seen[k] && !g->repeatable[k]) {
            cli_usage_error(cmd, "--%s is given twice: it takes one value", opts[k].name);
            return CLI_OPT_ERROR;
        }
        g->seen[k] = 1;
    }
    return c;
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

/* ---- float inputs ------------------------------------------------------------- */

fs_status cli_check_finite(const char *path, const char *flag, const float *x, int ndim,
                           const int64_t *shape)
{
    uint64_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= (uint64_t)shape[d];
    uint64_t i = 0;
    while (i < n && isfinite(x[i]))
        i++;
    if (i == n)
        return FS_OK;
    const char *what = isnan(x[i]) ? "nan" : x[i] > 0 ? "inf" : "-inf";
    if (ndim <= 1)
        return fs_error(FS_ERR_FORMAT, "%s: %s column %llu is %s: every value must be finite",
                        path, flag, (unsigned long long)i, what);
    uint64_t row_len = n / (uint64_t)shape[0];
    uint64_t row = i / row_len, col = i % row_len;
    char idx[160] = "";
    if (ndim > 2) {
        /* the full index, last dimension fastest */
        int64_t at[FS_NPY_MAX_DIMS];
        uint64_t r = i;
        for (int d = ndim - 1; d >= 0; d--) {
            at[d] = (int64_t)(r % (uint64_t)shape[d]);
            r /= (uint64_t)shape[d];
        }
        char sh[128];
        cli_shape_string(sh, sizeof sh, ndim, at);
        snprintf(idx, sizeof idx, " (index %s)", sh);
    }
    return fs_error(FS_ERR_FORMAT, "%s: %s row %llu, column %llu%s is %s%s: every value must be "
                    "finite", path, flag, (unsigned long long)row, (unsigned long long)col, idx,
                    what, isinf(x[i]) ? " in float32" : "");
}

fs_status cli_read_npy(const char *path, const char *flag, int *ndim, int64_t *shape,
                       float **out)
{
    FS_TRY(fs_npy_read_f32(path, ndim, shape, out));
    fs_status s = cli_check_finite(path, flag, *out, *ndim, shape);
    if (s != FS_OK) {
        free(*out);
        *out = NULL;
    }
    return s;
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
    FS_TRY(cli_read_npy(c_path, "--c", &ndim, shape, &c));
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

/* New directories, as the signal handler sees them. Simpler than the file
 * registry's seqlock: the main thread fills a slot before the run and sets
 * `live` after the path is complete; a slot is never reused (a command makes
 * one or two directories), so a handler on another thread never reads a
 * path that is being rewritten. (A signal between a mkdir and this
 * registration leaves that directory: a window of a few instructions.) */
#define CLI_DIR_SLOTS 4
static struct {
    atomic_int live;
    size_t keep;
    char path[4096];
} new_dir_slots[CLI_DIR_SLOTS];
static int new_dir_slots_used;

/* rmdir path, then each parent, down to (not including) its first keep
 * bytes; stops at the first failure (a directory that is not empty). Only
 * async-signal-safe calls: the handler uses it on its own copy. */
static void remove_dir_chain(char *path, size_t keep)
{
    size_t n = strlen(path);
    while (n > keep) {
        if (rmdir(path) != 0)
            return;
        while (n > keep && path[n - 1] != '/')
            n--;
        while (n > keep && path[n - 1] == '/')
            n--;
        path[n] = '\0';
    }
}

static void on_fatal_signal(int sig)
{
    int saved = errno;
    fs_out_file_remove_temps();
    char p[4096];
    for (int i = 0; i < CLI_DIR_SLOTS; i++) {
        if (!atomic_load(&new_dir_slots[i].live))
            continue;
        size_t k = 0;
        while (k + 1 < sizeof p && (p[k] = new_dir_slots[i].path[k]) != '\0')
            k++;
        p[k] = '\0';
        remove_dir_chain(p, new_dir_slots[i].keep);
    }
    errno = saved;
    /* SA_RESETHAND restored the default action; the signal is blocked until
     * the handler returns, and is then delivered again: the process ends as
     * if the handler had never run, with the signal's status. */
    raise(sig);
}

void cli_install_signal_cleanup(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old, sa = {.sa_handler = on_fatal_signal,
                                    .sa_flags = SA_RESETHAND};
        sigemptyset(&sa.sa_mask);
        for (size_t j = 0; j < sizeof sigs / sizeof *sigs; j++)
            sigaddset(&sa.sa_mask, sigs[j]); /* one cleanup at a time */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue; /* nohup and friends: stay ignored */
        sigaction(sigs[i], &sa, NULL);
    }
}

fs_status cli_make_dirs(const char *dir, cli_new_dirs *made)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    char *p = malloc(n + 1);
    if (!p)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    memcpy(p, dir, n);
    p[n] = '\0';
    fs_status s = FS_OK;
    /* keep: length of the prefix that existed (n: all of it, nothing made);
     * last: end of the deepest directory made */
    size_t keep = n, last = 0;
    for (size_t i = 1; i <= n && s == FS_OK; i++) {
        if ((p[i] != '/' && p[i] != '\0') || p[i - 1] == '/')
            continue;
        char saved = p[i];
        p[i] = '\0';
        struct stat st;
        if (mkdir(p, 0777) == 0) {
            last = i;
            if (keep == n) {
                size_t k = i;
                while (k > 0 && p[k - 1] != '/')
                    k--; /* start of this component */
                while (k > 0 && p[k - 1] == '/')
                    k--; /* and its separator */
                keep = k;
            }
        } else if (errno != EEXIST) {
            s = fs_error(FS_ERR_IO, "%s: cannot create directory %s: %s", dir, p,
                         strerror(errno));
        }
        if (s == FS_OK && (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)))
            s = fs_error(FS_ERR_IO, "%s: %s is not a directory", dir, p);
        p[i] = saved;
    }
    if (s != FS_OK && keep < n) {
        p[last] = '\0'; /* the deepest one made: nothing stays */
        remove_dir_chain(p, keep);
    }
    if (s != FS_OK || !made) {
        free(p);
        return s;
    }
    made->path = p;
    made->keep = keep;
    made->slot = 0;
    if (keep < n && n < sizeof new_dir_slots[0].path && new_dir_slots_used < CLI_DIR_SLOTS) {
        int i = new_dir_slots_used++;
        memcpy(new_dir_slots[i].path, p, n + 1);
        new_dir_slots[i].keep = keep;
        atomic_store(&new_dir_slots[i].live, 1);
        made->slot = i + 1;
    }
    return FS_OK;
}

static void new_dirs_release(cli_new_dirs *made)
{
    if (made->slot > 0)
        atomic_store(&new_dir_slots[made->slot - 1].live, 0);
    free(made->path);
    memset(made, 0, sizeof *made);
}

void cli_new_dirs_remove(cli_new_dirs *made)
{
    if (made->path && made->keep < strlen(made->path))
        remove_dir_chain(made->path, made->keep);
    new_dirs_release(made);
}

void cli_new_dirs_keep(cli_new_dirs *made)
{
    new_dirs_release(made);
}

fs_status cli_make_outdir(const char *dir, cli_new_dirs *made)
{
    fs_status s = cli_make_dirs(dir, made);
    if (s == FS_OK)
        s = cli_probe_dir(dir);
    if (s != FS_OK)
        cli_new_dirs_remove(made);
    return s;
}

fs_status cli_probe_dir(const char *dir)
{
    /* Through fs_out_file: its temporary is registered for the signal
     * handler, and a stale one is recognised by cli_clean_stale_images. */
    size_t n = strlen(dir) + 32;
    char *p = malloc(n);
    if (!p)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    snprintf(p, n, "%s/" CLI_PROBE_NAME, dir);
    fs_out_file f;
    fs_status s = fs_out_file_open(p, &f);
    if (s == FS_ERR_IO)
        s = fs_error(FS_ERR_IO, "%s: output directory is not writable: %s", dir,
                     strerror(errno));
    else if (s == FS_OK)
        fs_out_file_abort(&f);
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
    if (!path)
        return 0;
    if (!*path)
        return cli_usage_error(cmd, "%s is empty", flag);
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return cli_fail(fs_error(FS_ERR_IO, "%s: %s names a directory, not a file", path, flag));
    fs_status s = cli_probe_output(path);
    return s == FS_OK ? 0 : cli_fail(s);
}

void cli_clean_stale_output(const char *path)
{
    if (path && *path)
        fs_out_file_clean_stale_path(path);
}

/* ---- the images generate writes ------------------------------------------------ */

/* "seed" or "img", a number as "%04u"/"%04llu" writes it, ".png": the
 * number, or -1. */
static int64_t image_number(const char *name, size_t len, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (len < pl + 4 + 4 || memcmp(name, prefix, pl) != 0 ||
        memcmp(name + len - 4, ".png", 4) != 0)
        return -1;
    const char *d = name + pl;
    size_t nd = len - pl - 4;
    if (nd > 20 || (nd > 4 && d[0] == '0'))
        return -1; /* not how %04u writes a number */
    uint64_t v = 0;
    for (size_t k = 0; k < nd; k++) {
        if (d[k] < '0' || d[k] > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(d[k] - '0');
    }
    return v > (uint64_t)INT64_MAX ? -1 : (int64_t)v;
}

/* Matches the names of cli_image_names; a seed list is looked up in a
 * sorted, merged copy of its ranges (a directory may hold millions of files
 * and a list millions of ranges). */
typedef struct {
    const cli_image_names *in;
    fs_seed_range *r;
    size_t n;
} image_matcher;

static int range_cmp(const void *a, const void *b)
{
    const fs_seed_range *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

static fs_status matcher_init(image_matcher *m, const cli_image_names *in)
{
    memset(m, 0, sizeof *m);
    m->in = in;
    if (!in->seeds)
        return FS_OK;
    size_t n = in->seeds->n_ranges;
    if (!(m->r = malloc((n ? n : 1) * sizeof *m->r)))
        return fs_error(FS_ERR_NOMEM, "out of memory");
    memcpy(m->r, in->seeds->ranges, n * sizeof *m->r);
    qsort(m->r, n, sizeof *m->r, range_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && (uint64_t)m->r[i].first <= (uint64_t)m->r[k - 1].last + 1) {
            if (m->r[i].last > m->r[k - 1].last)
                m->r[k - 1].last = m->r[i].last;
        } else {
            m->r[k++] = m->r[i];
        }
    }
    m->n = k;
    return FS_OK;
}

static int matcher_has_seed(const image_matcher *m, uint64_t seed)
{
    size_t lo = 0, hi = m->n; /* the last range with first <= seed */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->r[mid].first <= seed)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && seed <= m->r[lo - 1].last;
}

static int is_image_name(const char *name, size_t len, void *ctx)
{
    const image_matcher *m = ctx;
    if (len == strlen(CLI_PROBE_NAME) && !memcmp(name, CLI_PROBE_NAME, len))
        return 1;
    if (m->in->seeds) {
        int64_t v = image_number(name, len, "seed");
        return v >= 0 && v <= UINT32_MAX && matcher_has_seed(m, (uint64_t)v);
    }
    int64_t v = image_number(name, len, "img");
    return v >= 0 && (uint64_t)v < m->in->n;
}

int cli_check_image_names(const char *cmd, const char *dir, const cli_image_names *names)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return 0; /* new, or the probe will say why it cannot be written */
    image_matcher m;
    fs_status s = matcher_init(&m, names);
    struct dirent *e;
    int rc = s == FS_OK ? 0 : cli_fail(s);
    while (!rc && (e = readdir(dp))) {
        if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN && e->d_type != DT_LNK)
            continue;
        if (!strcmp(e->d_name, CLI_PROBE_NAME) || !is_image_name(e->d_name, strlen(e->d_name), &m))
            continue;
        struct stat st;
        if (fstatat(dirfd(dp), e->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode))
            rc = cli_fail(fs_error(FS_ERR_IO, "%s/%s: is a directory, where this run writes an "
                                   "image", dir, e->d_name));
    }
    closedir(dp);
    free(m.r);
    return rc;
}

void cli_clean_stale_images(const char *dir, const cli_image_names *names)
{
    image_matcher m;
    if (matcher_init(&m, names) == FS_OK) /* best effort, as the cleaning itself */
        fs_out_file_clean_stale(dir, is_image_name, &m);
    free(m.r);
}

/* ---- images ---------------------------------------------------------------------- */

char *cli_layers_string(const unsigned char *mask, int n)
{
    char *t = malloc((size_t)n * 24 + 2);
    if (!t)
        return NULL;
    size_t k = 0;
    for (int i = 0; i < n;) {
        if (!mask[i]) {
            i++;
            continue;
        }
        int j = i;
        while (j + 1 < n && mask[j + 1])
            j++;
        k += (size_t)sprintf(t + k, k ? ",%d" : "%d", i);
        if (j > i)
            k += (size_t)sprintf(t + k, "-%d", j);
        i = j + 1;
    }
    t[k] = '\0';
    return t;
}

int cli_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cli_is_photo_name(const char *s)
{
    size_t n = strlen(s);
    if (s[0] == '.')
        return 0;
    return (n > 4 && (!strcasecmp(s + n - 4, ".png") || !strcasecmp(s + n - 4, ".jpg"))) ||
           (n > 5 && !strcasecmp(s + n - 5, ".jpeg"));
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
    qsort(im->names, (size_t)im->n, sizeof *im->names, cli_str_cmp);
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
    FS_TRY(cli_read_npy(path, "--images", &ndim, shape, &im->npy));
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

/* The names are the library's (backend.h fs_backend_open); the CLI checks
 * them while parsing so that a bad flag fails before any work. */
static const char *device_name = "cpu";
static const char *precision_name = "fp32";

int cli_device_option(const char *cmd, const char *arg)
{
    int idx = fs_backend_device_index(arg);
    if (idx == -2)
        return cli_usage_error(cmd, "--device must be cpu, cuda or cuda:N, not '%s'", arg);
    if (idx >= 0 && !fs_backend_has_cuda())
        return cli_usage_error(cmd, "--device %s: this build has no CUDA backend (use --device "
                               "cpu)", arg);
    device_name = arg;
    return 0;
}

int cli_precision_option(const char *cmd, const char *arg)
{
    if (fs_backend_precision_parse(arg) < 0)
        return cli_usage_error(cmd, "--precision must be fp32, tf32, fp16, bf16 or mixed, not "
                               "'%s'", arg);
    precision_name = arg;
    return 0;
}

/* The CPU emulates fp16, bf16 and mixed (the CUDA v2 roundings of the
 * StyleGAN2 synthesis layers, docs/precision.md); tf32 it cannot. */
int cli_parse_noise(const char *s, fs_noise_mode *out)
{
    if (!strcmp(s, "const"))
        *out = FS_NOISE_CONST;
    else if (!strcmp(s, "random"))
        *out = FS_NOISE_RANDOM;
    else if (!strcmp(s, "none"))
        *out = FS_NOISE_NONE;
    else
        return 0;
    return 1;
}

int cli_batch_option(const char *cmd, const char *arg, long *out)
{
    if (!cli_parse_long(arg, 1, 4096, out))
        return cli_usage_error(cmd, "--batch needs an integer from 1 to 4096, not '%s'", arg);
    return 0;
}

int cli_threads_option(const char *cmd, const char *arg, long *out)
{
    if (!cli_parse_long(arg, 0, 4096, out))
        return cli_usage_error(cmd, "--threads needs an integer from 0 to 4096, not '%s'", arg);
    return 0;
}

int cli_precision_check(const char *cmd)
{
    if (fs_backend_device_index(device_name) == -1 && fs_backend_precision_parse(precision_name) == 1)
        return cli_usage_error(cmd, "--precision tf32: the CPU backend emulates fp16, bf16 and "
                               "mixed, not tf32 (use --device cuda, or another precision)");
    return 0;
}

fs_status cli_backend_open(long threads, fs_backend **out)
{
    fs_status s = fs_backend_open(device_name, precision_name, (int)threads, out);
    if (s != FS_OK && fs_backend_device_index(device_name) >= 0) {
        char flag[32];
        snprintf(flag, sizeof flag, "--device %s", device_name);
        fs_error_prefix(flag);
    }
    return s;
}
