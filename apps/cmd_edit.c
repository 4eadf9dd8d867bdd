/* `facesynth edit`: InterFaceGAN-style latent editing on a StyleGAN2
 * generator (docs/editing.md). Each source latent (a seed, a row of --z or
 * of --ws) is edited along each --boundary, either swept to the signed
 * distances of --distances (InterFaceGAN's linear_interpolate) or offset by
 * --per-image random strengths drawn from --alpha-range, and every edit is
 * synthesised. The math is the library's (engine/edit.h); this file parses,
 * checks, batches and writes.
 *
 * Outputs come in source-major order (every edit of source 0, then of
 * source 1, ...): PNGs, optional float32 arrays of the images and of the ws
 * synthesised, and a tab-separated labels file, one row per image, with its
 * provenance (source, boundary file and SHA-256, space, layers, distance or
 * strength, conditions). As in generate, everything that can be checked is
 * checked before the first image is written, and the arrays and the labels
 * are written under temporary names renamed at the end. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "../engine/backend.h"
#include "../engine/edit.h"
#include "../engine/file.h"
#include "../engine/image_io.h"
#include "../engine/progress.h"
#include "../engine/rng.h"
#include "../engine/stylegan2.h"
#include "../weights_tools/npy.h"
#include "cli.h"
#include "seeds.h"

#define CMD "edit"
#define MAX_BOUNDARIES 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth edit --network FILE (--seeds LIST | --z FILE.npy | --ws FILE.npy)\n"
            "                      --boundary FILE [--boundary FILE ...]\n"
            "                      (--distances START:END:STEPS | --alpha-range A,B) [options]\n"
            "\n"
            "Edits latent codes along InterFaceGAN boundaries (unit normals of hyperplanes in\n"
            "a latent space) and synthesises every edit with a StyleGAN2 generator. Each\n"
            "boundary is applied on its own; images come source by source: all edits of\n"
            "source 0 (boundary by boundary), then of source 1, ...\n"
            "\n"
            "latents (as in 'generate'):\n"
            "      --network FILE      a .fsw weight file or any checkpoint 'convert' reads\n"
            "      --seeds LIST        e.g. 0-35,40: z = numpy RandomState(seed).randn(1, z_dim)\n"
            "      --z FILE.npy        latents [N, z_dim] (float32/64)\n"
            "      --ws FILE.npy       W+ codes [N, num_ws, w_dim] (e.g. from e4e inversion)\n"
            "      --trunc PSI         truncation psi in the mapping (default 1: none)\n"
            "      --trunc-cutoff N    truncate only the first N ws (not with --space w)\n"
            "      --class K           class of a conditional network (one-hot label)\n"
            "      --c FILE.npy        labels [N, c_dim] (or [1, c_dim])\n"
            "      --noise-mode M      const (default), random or none; random noise is\n"
            "                          seeded by the source's seed (or row), the same for\n"
            "                          every edit of a source\n"
            "\n"
            "the edit:\n"
            "      --boundary FILE     a boundary: .npy float32/float64 of shape (1, D) or (D,),\n"
            "                          or a torch .pt holding one such tensor; repeatable\n"
            "      --space S           the latent edited (default wp):\n"
            "                            z   edit z, then map (D = z_dim)\n"
            "                            w   edit the w of the first layer, then broadcast it\n"
            "                                to every layer (D = w_dim)\n"
            "                            wp  edit the W+ code on the layers of --layers\n"
            "      --layers LIST       with --space wp: the ws edited, e.g. 0-3,8 (inclusive;\n"
            "                          default: all)\n"
            "      --distances START:END:STEPS\n"
            "                          a sweep over numpy.linspace(START, END, STEPS), as\n"
            "                          InterFaceGAN's linear_interpolate: with --space z or w\n"
            "                          the code is moved to signed distance d from the\n"
            "                          hyperplane (its current projection is replaced); with\n"
            "                          wp, d * boundary is added\n"
            "      --alpha-range A,B   random-strength edits, code + alpha * boundary, alpha\n"
            "                          uniform in [A, B] (A <= B), drawn per source as\n"
            "                            r = numpy.random.RandomState(seed)  # --seeds\n"
            "                            z = r.randn(1, z_dim)               # (the source's z)\n"
            "                            alpha = r.uniform(A, B, size=(n_boundaries, K))\n"
            "                          or, for row i of --z / --ws, from\n"
            "                          RandomState((S + i) mod 2^32) without the z draw\n"
            "      --per-image K       with --alpha-range: K edits of each source per\n"
            "                          boundary (default 1)\n"
            "      --alpha-seed S      with --alpha-range and --z or --ws: S above (default 0)\n"
            "      --condition FILE    a condition boundary, repeatable: every boundary is first\n"
            "                          made orthogonal to all conditions at once, as\n"
            "                          InterFaceGAN's project_boundary (see 'facesynth\n"
            "                          boundary project')\n"
            "      --normalize         divide each boundary and condition by its norm (a norm\n"
            "                          other than 1 is otherwise only warned about)\n"
            "\n"
            "output:\n"
            "      --outdir DIR        output directory, created if missing (default: out);\n"
            "                          images seedNNNN_bBB_eEEE.png (imgNNNN_... for --z/--ws):\n"
            "                          source, boundary index, edit index\n"
            "      --save-raw FILE.npy float32 images [N, C, R, R] before the uint8 conversion\n"
            "      --save-ws FILE.npy  float32 ws synthesised [N, num_ws, w_dim]\n"
            "      --save-labels FILE  the labels file (default: DIR/labels.tsv): one row per\n"
            "                          image, tab-separated, with a header row\n"
            "      --batch N           images per forward pass (default 4)\n"
            "      --device D          cpu (default), cuda or cuda:N\n"
            "      --precision P       CUDA modconv arithmetic: fp32 (default), tf32, fp16,\n"
            "                          bf16 or mixed (the CPU emulates all but tf32)\n"
            "      --threads N         CPU worker threads (default 0: one per core)\n"
            "  -q, --quiet             no progress on stderr\n"
            "  -h, --help              this text\n"
            "\n"
            "when --network is a checkpoint (converted in memory, as 'convert' would):\n"
            "%s",
            cli_convert_help);
}

typedef enum { SRC_SEEDS, SRC_Z, SRC_WS } source_kind;
typedef enum { SPACE_Z, SPACE_W, SPACE_WP } edit_space;
static const char *const space_names[] = {"z", "w", "wp"};

typedef struct {
    const char *network, *seeds, *z_path, *ws_path, *c_path, *outdir, *raw_path, *wsout_path,
        *labels_path, *layers, *distances, *alpha_range;
    const char *bpaths[MAX_BOUNDARIES], *cpaths[MAX_BOUNDARIES];
    int nb, nc;
    edit_space space;
    int has_space;
    double psi;
    int has_psi;
    long cutoff;
    int has_cutoff;
    long class_idx;
    int has_class;
    fs_noise_mode noise;
    long batch, threads;
    int quiet, normalize;
    long per_image;
    int has_per_image;
    long alpha_seed;
    int has_alpha_seed;
    cli_net_opts net;
} edit_args;

typedef struct {
    edit_args a;
    source_kind src;
    fs_seed_list seeds;
    fs_seed_range *sorted; /* merged seed ranges, for recognising image names */
    size_t n_sorted;
    float *zfile, *wsfile, *labels;
    int label_rows;
    uint64_t n_src, total, per_src;
    int n_edit;              /* edits of one source along one boundary */
    double d_start, d_end, a_lo, a_hi;
    double *dist;            /* [n_edit] with --distances */
    fs_boundary bnd[MAX_BOUNDARIES], conds[MAX_BOUNDARIES]; /* as read */
    fs_boundary used[MAX_BOUNDARIES]; /* after --normalize and the projection */
    unsigned char *mask;     /* [num_ws] with --space wp */
    char *layers_text, *cond_text, *cond_sha;
    fs_weights *w;
    fs_backend *b;
    fs_sg2_generator *g;
    int zd, wd, cd, nws, ic, R;
    /* per batch */
    float *src_z, *src_ws, *z, *c, *ws, *raw;
    double *alphas;
    uint8_t *u8;
    uint64_t *noise_seeds;
    char *labels_default; /* DIR/labels.tsv when --save-labels is not given */
    fs_out_file raw_f, ws_f, labels_f;
    cli_new_dirs made;
} edit_state;

static void state_free(edit_state *st)
{
    fs_seed_list_free(&st->seeds);
    free(st->sorted);
    free(st->zfile);
    free(st->wsfile);
    free(st->labels);
    free(st->dist);
    for (int i = 0; i < MAX_BOUNDARIES; i++) {
        fs_boundary_free(&st->bnd[i]);
        fs_boundary_free(&st->conds[i]);
        fs_boundary_free(&st->used[i]);
    }
    free(st->mask);
    free(st->layers_text);
    free(st->cond_text);
    free(st->cond_sha);
    fs_sg2_generator_free(st->g);
    fs_backend_free(st->b);
    fs_weights_free(st->w);
    free(st->src_z);
    free(st->src_ws);
    free(st->z);
    free(st->c);
    free(st->ws);
    free(st->raw);
    free(st->alphas);
    free(st->u8);
    free(st->noise_seeds);
    free(st->labels_default);
    fs_out_file_abort(&st->raw_f);
    fs_out_file_abort(&st->ws_f);
    fs_out_file_abort(&st->labels_f);
    cli_new_dirs_keep(&st->made);
}

/* ---- argument parsing helpers ------------------------------------------------ */

/* "START:END:STEPS" */
static int parse_distances(const char *s, double *start, double *end, long *steps)
{
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return 0;
    strcpy(buf, s);
    char *c1 = strchr(buf, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c1 || !c2 || strchr(c2 + 1, ':'))
        return 0;
    *c1 = *c2 = '\0';
    return cli_parse_double(buf, start) && cli_parse_double(c1 + 1, end) &&
           cli_parse_long(c2 + 1, -1000000000L, 1000000000L, steps);
}

/* "A,B" */
static int parse_pair(const char *s, double *a, double *b)
{
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return 0;
    strcpy(buf, s);
    char *comma = strchr(buf, ',');
    if (!comma || strchr(comma + 1, ','))
        return 0;
    *comma = '\0';
    return cli_parse_double(buf, a) && cli_parse_double(comma + 1, b);
}

/* A path the labels file can hold: no tab or newline (and, for the list of
 * conditions, no ';', its separator). */
static int check_label_path(const char *flag, const char *p, int is_condition)
{
    if (strpbrk(p, "\t\n\r") || (is_condition && strchr(p, ';')))
        return cli_usage_error(CMD, "%s '%s': a path with a tab, a newline%s cannot be recorded "
                               "in the labels file; rename it", flag, p,
                               is_condition ? " or a ';'" : "");
    return 0;
}

/* ---- image names --------------------------------------------------------------- */

static int range_cmp(const void *x, const void *y)
{
    const fs_seed_range *a = x, *b = y;
    return a->first < b->first ? -1 : a->first > b->first;
}

static fs_status sort_seed_ranges(edit_state *st)
{
    size_t n = st->seeds.n_ranges;
    if (!(st->sorted = malloc((n ? n : 1) * sizeof *st->sorted)))
        return fs_error(FS_ERR_NOMEM, "out of memory");
    memcpy(st->sorted, st->seeds.ranges, n * sizeof *st->sorted);
    qsort(st->sorted, n, sizeof *st->sorted, range_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && (uint64_t)st->sorted[i].first <= (uint64_t)st->sorted[k - 1].last + 1) {
            if (st->sorted[i].last > st->sorted[k - 1].last)
                st->sorted[k - 1].last = st->sorted[i].last;
        } else {
            st->sorted[k++] = st->sorted[i];
        }
    }
    st->n_sorted = k;
    return FS_OK;
}

static int has_seed(const edit_state *st, uint64_t seed)
{
    size_t lo = 0, hi = st->n_sorted;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->sorted[mid].first <= seed)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && seed <= st->sorted[lo - 1].last;
}

/* Reads a number written with "%0Nu" (at least width digits, no leading
 * zero beyond them) at *p; -1 if there is none. */
static int64_t read_number(const char **p, const char *end, int width)
{
    const char *s = *p;
    size_t nd = 0;
    while (s + nd < end && s[nd] >= '0' && s[nd] <= '9')
        nd++;
    if (nd < (size_t)width || nd > 18 || (nd > (size_t)width && s[0] == '0'))
        return -1;
    int64_t v = 0;
    for (size_t k = 0; k < nd; k++)
        v = v * 10 + (s[k] - '0');
    *p = s + nd;
    return v;
}

static int match_prefix(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return 0;
    *p += n;
    return 1;
}

/* Whether name is one of the images this run writes (or the directory
 * probe): for the stale-temporary cleanup and the directory check. */
static int is_edit_image(const char *name, size_t len, void *ctx)
{
    const edit_state *st = ctx;
    const char *p = name, *end = name + len;
    if (len == 16 && !memcmp(name, ".facesynth-probe", 16))
        return 1;
    int64_t src, b, e;
    if (st->src == SRC_SEEDS) {
        if (!match_prefix(&p, end, "seed") || (src = read_number(&p, end, 4)) < 0 ||
            src > UINT32_MAX || !has_seed(st, (uint64_t)src))
            return 0;
    } else if (!match_prefix(&p, end, "img") || (src = read_number(&p, end, 4)) < 0 ||
               (uint64_t)src >= st->n_src) {
        return 0;
    }
    if (!match_prefix(&p, end, "_b") || (b = read_number(&p, end, 2)) < 0 || b >= st->a.nb ||
        !match_prefix(&p, end, "_e") || (e = read_number(&p, end, 3)) < 0 || e >= st->n_edit)
        return 0;
    return p == end - 4 && !memcmp(p, ".png", 4);
}

/* Before any work: no image this run writes may be a directory. */
static int check_image_dirs(edit_state *st)
{
    DIR *dp = opendir(st->a.outdir);
    if (!dp)
        return 0; /* new, or the probe says why it cannot be written */
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(dp))) {
        if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN && e->d_type != DT_LNK)
            continue;
        if (!strcmp(e->d_name, ".facesynth-probe") ||
            !is_edit_image(e->d_name, strlen(e->d_name), st))
            continue;
        struct stat sb;
        if (fstatat(dirfd(dp), e->d_name, &sb, 0) == 0 && S_ISDIR(sb.st_mode))
            rc = cli_fail(fs_error(FS_ERR_IO, "%s/%s: is a directory, where this run writes an "
                                   "image", st->a.outdir, e->d_name));
    }
    closedir(dp);
    return rc;
}

static void image_name(const edit_state *st, uint64_t s, int b, int e, char *buf, size_t cap)
{
    if (st->src == SRC_SEEDS)
        snprintf(buf, cap, "seed%04u_b%02d_e%03d.png", fs_seed_list_at(&st->seeds, s), b, e);
    else
        snprintf(buf, cap, "img%04llu_b%02d_e%03d.png", (unsigned long long)s, b, e);
}

/* ---- streamed outputs ------------------------------------------------------------ */

/* A float32 .npy header for `shape`, as numpy (and fs_npy_write) writes it:
 * version 1.0, the dict padded with spaces to a 64-byte boundary. */
static fs_status npy_begin(fs_out_file *f, int ndim, const int64_t *shape)
{
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%lld", i ? ", " : "",
                      (long long)shape[i]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", ndim == 1 ? "," : "");
    size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64;
    uint8_t hdr[320];
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    size_t hl = total - 10;
    hdr[8] = (uint8_t)(hl & 0xff);
    hdr[9] = (uint8_t)(hl >> 8);
    memcpy(hdr + 10, dict, (size_t)n);
    memset(hdr + 10 + n, ' ', total - 10 - (size_t)n - 1);
    hdr[total - 1] = '\n';
    return fs_out_file_write(f, hdr, total);
}

/* ---- setup ---------------------------------------------------------------------- */

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

/* "0-3,8" from the mask (or "all"), for the labels. */
static char *layers_string(const unsigned char *mask, int n)
{
    int all = 1;
    for (int l = 0; l < n; l++)
        all &= mask[l] != 0;
    if (!all)
        return cli_layers_string(mask, n);
    char *s = malloc(4);
    if (s)
        strcpy(s, "all");
    return s;
}

/* Reads the boundaries and conditions, checks them against the space,
 * normalises and projects. 0 or an exit status. */
static int prepare_boundaries(edit_state *st, int dim, const char *what)
{
    edit_args *a = &st->a;
    const char *space = a->space == SPACE_Z ? "--space z" : a->space == SPACE_W ? "--space w"
                                                                                 : "--space wp";
    fs_status s = FS_OK;
    for (int i = 0; i < a->nb && s == FS_OK; i++)
        if ((s = fs_boundary_load(a->bpaths[i], &st->bnd[i])) == FS_OK)
            s = fs_boundary_check_dim(&st->bnd[i], a->bpaths[i], dim, space, what);
    for (int i = 0; i < a->nc && s == FS_OK; i++)
        if ((s = fs_boundary_load(a->cpaths[i], &st->conds[i])) == FS_OK)
            s = fs_boundary_check_dim(&st->conds[i], a->cpaths[i], dim, space, what);
    if (s != FS_OK)
        return cli_fail(s);
    for (int i = 0; i < a->nb + a->nc; i++) {
        fs_boundary *bd = i < a->nb ? &st->bnd[i] : &st->conds[i - a->nb];
        const char *p = i < a->nb ? a->bpaths[i] : a->cpaths[i - a->nb];
        if (a->normalize)
            fs_boundary_normalize(bd);
        else if (!fs_boundary_is_unit(bd))
            fprintf(stderr, "facesynth edit: warning: %s has norm %.9g, not 1: its edits are "
                    "scaled by it (--normalize divides by the norm)\n", p, bd->norm);
    }
    const char *names[MAX_BOUNDARIES + 1];
    for (int i = 0; i < a->nc; i++)
        names[i + 1] = a->cpaths[i];
    for (int i = 0; i < a->nb && s == FS_OK; i++) {
        names[0] = a->bpaths[i];
        s = fs_boundary_project(&st->bnd[i], st->conds, a->nc, names, &st->used[i]);
    }
    if (s != FS_OK)
        return cli_fail(s);
    /* the conditions, for every label row */
    size_t cap = 2;
    for (int i = 0; i < a->nc; i++)
        cap += strlen(a->cpaths[i]) + 1;
    st->cond_text = malloc(cap);
    st->cond_sha = malloc((size_t)a->nc * 65 + 2);
    if (!st->cond_text || !st->cond_sha)
        return cli_fail(fs_error(FS_ERR_NOMEM, "out of memory"));
    strcpy(st->cond_text, a->nc ? "" : "-");
    strcpy(st->cond_sha, a->nc ? "" : "-");
    for (int i = 0; i < a->nc; i++) {
        if (i) {
            strcat(st->cond_text, ";");
            strcat(st->cond_sha, ";");
        }
        strcat(st->cond_text, a->cpaths[i]);
        strcat(st->cond_sha, st->conds[i].sha256);
    }
    return 0;
}

/* Network-dependent checks and loading; 0 or an exit status. */
static int prepare(edit_state *st)
{
    edit_args *a = &st->a;
    fs_status s = cli_backend_open(a->threads, &st->b);
    if (s == FS_OK)
        s = fs_sg2_generator_init(&st->g, st->w, st->b);
    if (s != FS_OK)
        return cli_fail(s);
    const fs_sg2_config *cfg = fs_sg2_generator_config(st->g);
    st->zd = (int)cfg->z_dim;
    st->wd = (int)cfg->w_dim;
    st->cd = (int)cfg->c_dim;
    st->nws = (int)fs_sg2_num_ws(cfg);
    st->ic = (int)cfg->img_channels;
    st->R = (int)cfg->img_resolution;

    int rc = a->space == SPACE_Z ? prepare_boundaries(st, st->zd, "z_dim")
                                 : prepare_boundaries(st, st->wd, "w_dim");
    if (rc)
        return rc;
    if (a->space == SPACE_WP) {
        if (!(st->mask = malloc((size_t)st->nws)))
            return cli_fail(fs_error(FS_ERR_NOMEM, "out of memory"));
        if (a->layers) {
            if ((s = fs_edit_parse_layers(a->layers, st->nws, st->mask)) != FS_OK)
                return cli_usage_error(CMD, "%s", fs_error_message());
        } else {
            memset(st->mask, 1, (size_t)st->nws);
        }
        if (!(st->layers_text = layers_string(st->mask, st->nws)))
            return cli_fail(fs_error(FS_ERR_NOMEM, "out of memory"));
    }

    if (st->src == SRC_Z) {
        int64_t tail[1] = {st->zd};
        s = load_latents(a->z_path, "--z", 2, tail, &st->zfile, &st->n_src);
    } else if (st->src == SRC_WS) {
        int64_t tail[2] = {st->nws, st->wd};
        s = load_latents(a->ws_path, "--ws", 3, tail, &st->wsfile, &st->n_src);
    } else {
        st->n_src = st->seeds.count;
    }
    if (s != FS_OK)
        return cli_fail(s);
    if (st->src == SRC_WS) {
        if (a->has_class || a->c_path)
            return cli_usage_error(CMD, "--class and --c feed the mapping network, which --ws "
                                   "skips");
        if (a->space == SPACE_W) {
            /* the broadcast keeps only the first w: say so when that drops
             * something */
            size_t row = (size_t)st->wd, code = (size_t)st->nws * row;
            for (uint64_t i = 0; i < st->n_src; i++) {
                const float *c = st->wsfile + i * code;
                int same = 1;
                for (int l = 1; l < st->nws && same; l++)
                    same = !memcmp(c, c + (size_t)l * row, row * sizeof *c);
                if (!same) {
                    fprintf(stderr, "facesynth edit: warning: %s: the ws of row %llu differ "
                            "between layers; --space w edits the first and broadcasts it, "
                            "dropping the others (--space wp keeps them)\n", a->ws_path,
                            (unsigned long long)i);
                    break;
                }
            }
        }
    } else {
        s = cli_load_labels(a->c_path, a->has_class, a->class_idx, st->cd, st->n_src,
                            &st->labels, &st->label_rows);
        if (s != FS_OK)
            return s == FS_ERR_ARG ? cli_usage_error(CMD, "%s", fs_error_message())
                                   : cli_fail(s);
    }
    st->per_src = (uint64_t)a->nb * (uint64_t)st->n_edit;
    if (st->n_src > (uint64_t)INT64_MAX / 4 / st->per_src ||
        st->n_src * st->per_src > 1000000000000ull)
        return cli_usage_error(CMD, "%llu sources x %llu edits is too many images",
                               (unsigned long long)st->n_src, (unsigned long long)st->per_src);
    st->total = st->n_src * st->per_src;

    /* Outputs: checked before the output directory is made, which would
     * otherwise stay behind. */
    if (st->src == SRC_SEEDS && (s = sort_seed_ranges(st)) != FS_OK)
        return cli_fail(s);
    const char *outs[3] = {a->raw_path, a->wsout_path, a->labels_path};
    const char *flags[3] = {"--save-raw", "--save-ws", "--save-labels"};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < i; j++)
            if (outs[i] && outs[j] && !strcmp(outs[i], outs[j]))
                return cli_usage_error(CMD, "%s and %s name the same file '%s'", flags[j],
                                       flags[i], outs[i]);
    rc = cli_check_output(CMD, "--save-raw", a->raw_path);
    if (!rc)
        rc = cli_check_output(CMD, "--save-ws", a->wsout_path);
    if (!rc && a->labels_path != st->labels_default)
        rc = cli_check_output(CMD, "--save-labels", a->labels_path);
    if (!rc)
        rc = check_image_dirs(st);
    if (rc)
        return rc;
    s = cli_make_dirs(a->outdir, &st->made);
    if (s == FS_OK)
        s = cli_probe_dir(a->outdir);
    if (s == FS_OK && a->labels_path == st->labels_default) /* inside the new directory */
        rc = cli_check_output(CMD, "--save-labels", a->labels_path);
    if (s != FS_OK || rc) {
        cli_new_dirs_remove(&st->made);
        return rc ? rc : cli_fail(s);
    }
    fs_out_file_clean_stale(a->outdir, is_edit_image, st);
    cli_clean_stale_output(a->raw_path);
    cli_clean_stale_output(a->wsout_path);
    cli_clean_stale_output(a->labels_path);
    return 0;
}

/* ---- the run ------------------------------------------------------------------------ */

/* z of source s (seeds: drawn; --z: copied) and, with --alpha-range, its
 * n_b * K strengths. */
static void source_latent(edit_state *st, uint64_t s, float *z, double *alphas)
{
    const edit_args *a = &st->a;
    fs_np_random r;
    if (st->src == SRC_SEEDS) {
        fs_np_random_seed(&r, fs_seed_list_at(&st->seeds, s));
        for (int j = 0; j < st->zd; j++)
            z[j] = (float)fs_np_random_gauss(&r); /* float64 randn, cast as the mapping does */
    } else {
        if (st->src == SRC_Z)
            memcpy(z, st->zfile + s * (uint64_t)st->zd, (size_t)st->zd * sizeof *z);
        fs_np_random_seed(&r, (uint32_t)((uint64_t)a->alpha_seed + s));
    }
    if (a->alpha_range)
        fs_edit_draw_alphas(&r, st->a_lo, st->a_hi, a->nb * st->n_edit, alphas);
}

static fs_status write_label(edit_state *st, const char *name, uint64_t s, int b, double value)
{
    const edit_args *a = &st->a;
    char seed[24], num[64];
    if (st->src == SRC_SEEDS)
        snprintf(seed, sizeof seed, "%u", fs_seed_list_at(&st->seeds, s));
    else
        strcpy(seed, "-");
    snprintf(num, sizeof num, "%.17g", value);
#define LABEL_ARGS                                                                              \
    name, (unsigned long long)s, seed, a->bpaths[b], st->bnd[b].sha256, a->normalize,        \
        space_names[a->space], a->space == SPACE_WP ? st->layers_text : "-",                  \
        a->distances ? num : "-", a->distances ? "-" : num, st->cond_text, st->cond_sha
    static const char fmt[] = "%s\t%llu\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n";
    char small[2048], *line = small;
    int n = snprintf(small, sizeof small, fmt, LABEL_ARGS);
    if (n < 0)
        return fs_error(FS_ERR_IO, "%s: cannot format a row", a->labels_path);
    if ((size_t)n >= sizeof small) { /* long paths */
        if (!(line = malloc((size_t)n + 1)))
            return fs_error(FS_ERR_NOMEM, "out of memory");
        snprintf(line, (size_t)n + 1, fmt, LABEL_ARGS);
    }
#undef LABEL_ARGS
    fs_status r = fs_out_file_write(&st->labels_f, line, (size_t)n);
    if (line != small)
        free(line);
    return r;
}

static fs_status run(edit_state *st)
{
    const edit_args *a = &st->a;
    int B = (int)(a->batch < (long)st->total ? a->batch : (long)st->total);
    int zd = st->zd, wd = st->wd, cd = st->cd, nws = st->nws;
    size_t code = (size_t)nws * wd, img_len = (size_t)st->ic * st->R * st->R;
    int max_src = B + 1; /* the sources one batch of images spans */
    int n_alpha = a->alpha_range ? a->nb * st->n_edit : 1;

    st->src_z = malloc((size_t)max_src * zd * sizeof *st->src_z);
    st->src_ws = malloc((size_t)max_src * code * sizeof *st->src_ws);
    st->alphas = malloc((size_t)max_src * n_alpha * sizeof *st->alphas);
    st->z = malloc(((size_t)B * zd + 1) * sizeof *st->z);
    st->c = malloc(((size_t)max_src * cd + 1) * sizeof *st->c);
    st->ws = malloc((size_t)B * code * sizeof *st->ws);
    st->raw = a->raw_path ? malloc((size_t)B * img_len * sizeof *st->raw) : NULL;
    st->u8 = malloc((size_t)B * img_len);
    st->noise_seeds = malloc((size_t)B * sizeof *st->noise_seeds);
    size_t plen = strlen(a->outdir) + 80;
    char *ipath = malloc(plen);
    if (!st->src_z || !st->src_ws || !st->alphas || !st->z || !st->c || !st->ws ||
        (a->raw_path && !st->raw) || !st->u8 || !st->noise_seeds || !ipath) {
        free(ipath);
        return fs_error(FS_ERR_NOMEM, "out of memory for a batch of %d images", B);
    }

    fs_status s = fs_out_file_open(a->labels_path, &st->labels_f);
    if (s == FS_OK) {
        static const char header[] = "image\tsource\tseed\tboundary\tboundary_sha256\tnormalized"
                                     "\tspace\tlayers\tdistance\talpha\tconditions"
                                     "\tconditions_sha256\n";
        s = fs_out_file_write(&st->labels_f, header, sizeof header - 1);
    }
    if (s == FS_OK && a->raw_path && (s = fs_out_file_open(a->raw_path, &st->raw_f)) == FS_OK) {
        int64_t shape[4] = {(int64_t)st->total, st->ic, st->R, st->R};
        s = npy_begin(&st->raw_f, 4, shape);
    }
    if (s == FS_OK && a->wsout_path &&
        (s = fs_out_file_open(a->wsout_path, &st->ws_f)) == FS_OK) {
        int64_t shape[3] = {(int64_t)st->total, nws, wd};
        s = npy_begin(&st->ws_f, 3, shape);
    }

    fs_progress prog = {0};
    fs_progress_start(&prog, stderr, a->quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO, "images",
                      "img/s", st->total);
    for (uint64_t i0 = 0; i0 < st->total && s == FS_OK; i0 += (uint64_t)B) {
        int nb = (int)(st->total - i0 < (uint64_t)B ? st->total - i0 : (uint64_t)B);
        uint64_t s_lo = i0 / st->per_src, s_hi = (i0 + (uint64_t)nb - 1) / st->per_src;
        int ns = (int)(s_hi - s_lo + 1);
        /* The sources' own codes: z, and for W/W+ their ws (one mapping
         * call for the sources of the batch, not one per edit). */
        for (int k = 0; k < ns; k++)
            source_latent(st, s_lo + (uint64_t)k, st->src_z + (size_t)k * zd,
                          st->alphas + (size_t)k * n_alpha);
        if (a->space != SPACE_Z) {
            if (st->src == SRC_WS) {
                memcpy(st->src_ws, st->wsfile + s_lo * code, (size_t)ns * code * sizeof(float));
            } else {
                for (int k = 0; k < ns && cd > 0; k++) /* st->c holds B + 1 rows */
                    memcpy(st->c + (size_t)k * cd,
                           st->labels + (st->label_rows == 1 ? 0 : (s_lo + (uint64_t)k) * cd),
                           (size_t)cd * sizeof *st->c);
                s = fs_sg2_generator_mapping(st->g, st->src_z, cd > 0 ? st->c : NULL, ns,
                                             (float)a->psi, a->has_cutoff ? (int)a->cutoff : -1,
                                             st->src_ws);
                if (s != FS_OK)
                    break;
            }
        }
        /* Every image of the batch: its source, boundary and edit. */
        for (int k = 0; k < nb; k++) {
            uint64_t i = i0 + (uint64_t)k, src = i / st->per_src;
            int rem = (int)(i % st->per_src), bi = rem / st->n_edit, e = rem % st->n_edit;
            int ks = (int)(src - s_lo);
            const fs_boundary *bd = &st->used[bi];
            int sweep = a->distances != NULL;
            double value = sweep ? st->dist[e] : st->alphas[(size_t)ks * n_alpha +
                                                            (size_t)bi * st->n_edit + e];
            st->noise_seeds[k] = st->src == SRC_SEEDS ? fs_seed_list_at(&st->seeds, src) : src;
            if (a->space == SPACE_Z) {
                const float *z0 = st->src_z + (size_t)ks * zd;
                float *zo = st->z + (size_t)k * zd;
                if (sweep)
                    fs_edit_to_distances(z0, bd, &value, 1, zo);
                else
                    fs_edit_offset(z0, 1, bd, NULL, value, zo);
                if (cd > 0)
                    memcpy(st->c + (size_t)k * cd,
                           st->labels + (st->label_rows == 1 ? 0 : src * (uint64_t)cd),
                           (size_t)cd * sizeof *st->c);
            } else if (a->space == SPACE_W) {
                const float *w0 = st->src_ws + (size_t)ks * code; /* its first w */
                float *wo = st->ws + (size_t)k * code;
                if (sweep)
                    fs_edit_to_distances(w0, bd, &value, 1, wo);
                else
                    fs_edit_offset(w0, 1, bd, NULL, value, wo);
                for (int l = 1; l < nws; l++)
                    memcpy(wo + (size_t)l * wd, wo, (size_t)wd * sizeof *wo);
            } else {
                fs_edit_offset(st->src_ws + (size_t)ks * code, nws, bd, st->mask, value,
                               st->ws + (size_t)k * code);
            }
            image_name(st, src, bi, e, ipath, plen);
            if ((s = write_label(st, ipath, src, bi, value)) != FS_OK)
                break;
        }
        if (s != FS_OK)
            break;
        fs_sg2_generate_args ga = {
            .n = nb,
            .z = a->space == SPACE_Z ? st->z : NULL,
            .c = a->space == SPACE_Z && cd > 0 ? st->c : NULL,
            .ws = a->space == SPACE_Z ? NULL : st->ws,
            .psi = (float)a->psi,
            .cutoff = a->has_cutoff ? (int)a->cutoff : -1,
            .noise_mode = a->noise,
            .noise_seeds = st->noise_seeds,
            .images = st->u8,
            .ws_out = a->space == SPACE_Z && a->wsout_path ? st->ws : NULL,
            .img_out = st->raw,
        };
        if ((s = fs_sg2_generate(st->g, &ga)) != FS_OK)
            break;
        for (int k = 0; k < nb && s == FS_OK; k++) {
            uint64_t i = i0 + (uint64_t)k, src = i / st->per_src;
            int rem = (int)(i % st->per_src);
            char name[80];
            image_name(st, src, rem / st->n_edit, rem % st->n_edit, name, sizeof name);
            snprintf(ipath, plen, "%s/%s", a->outdir, name);
            s = fs_png_write_rgb8(ipath, st->u8 + (size_t)k * img_len, st->R, st->R, st->ic);
        }
        if (s == FS_OK && a->raw_path)
            s = fs_out_file_write(&st->raw_f, st->raw, (size_t)nb * img_len * sizeof(float));
        if (s == FS_OK && a->wsout_path)
            s = fs_out_file_write(&st->ws_f, st->ws, (size_t)nb * code * sizeof(float));
        if (s == FS_OK)
            fs_progress_update(&prog, i0 + (uint64_t)nb);
    }
    free(ipath);
    if (s == FS_OK && a->raw_path)
        s = fs_out_file_commit(&st->raw_f);
    if (s == FS_OK && a->wsout_path)
        s = fs_out_file_commit(&st->ws_f);
    if (s == FS_OK)
        s = fs_out_file_commit(&st->labels_f);
    if (s != FS_OK) {
        fs_progress_abort(&prog);
        return s;
    }
    fs_progress_finish(&prog);
    return FS_OK;
}

/* ---- the command ------------------------------------------------------------------ */

int cmd_edit(int argc, char **argv)
{
    enum { O_NET = 256, O_SEEDS, O_Z, O_WS, O_TRUNC, O_CUTOFF, O_CLASS, O_C, O_NOISE,
           O_BOUNDARY, O_SPACE, O_LAYERS, O_DIST, O_ALPHA, O_PER, O_ASEED, O_COND, O_NORM,
           O_OUTDIR, O_RAW, O_SAVEWS, O_LABELS, O_BATCH, O_DEVICE, O_PRECISION, O_THREADS };
    static const struct option opts[] = {
        {"network", required_argument, 0, O_NET},      {"seeds", required_argument, 0, O_SEEDS},
        {"z", required_argument, 0, O_Z},              {"ws", required_argument, 0, O_WS},
        {"trunc", required_argument, 0, O_TRUNC},      {"trunc-cutoff", required_argument, 0, O_CUTOFF},
        {"class", required_argument, 0, O_CLASS},      {"c", required_argument, 0, O_C},
        {"noise-mode", required_argument, 0, O_NOISE}, {"boundary", required_argument, 0, O_BOUNDARY},
        {"space", required_argument, 0, O_SPACE},      {"layers", required_argument, 0, O_LAYERS},
        {"distances", required_argument, 0, O_DIST},  {"alpha-range", required_argument, 0, O_ALPHA},
        {"per-image", required_argument, 0, O_PER},    {"alpha-seed", required_argument, 0, O_ASEED},
        {"condition", required_argument, 0, O_COND},  {"normalize", no_argument, 0, O_NORM},
        {"outdir", required_argument, 0, O_OUTDIR},    {"save-raw", required_argument, 0, O_RAW},
        {"save-ws", required_argument, 0, O_SAVEWS},   {"save-labels", required_argument, 0, O_LABELS},
        {"batch", required_argument, 0, O_BATCH},      {"device", required_argument, 0, O_DEVICE},
        {"precision", required_argument, 0, O_PRECISION},
        {"threads", required_argument, 0, O_THREADS},
        {"quiet", no_argument, 0, 'q'},                {"help", no_argument, 0, 'h'},
        CLI_CONVERT_OPTIONS,                           {0, 0, 0, 0}};
    edit_state st;
    memset(&st, 0, sizeof st);
    edit_args *a = &st.a;
    a->psi = 1.0;
    a->noise = FS_NOISE_CONST;
    a->outdir = "out";
    a->batch = 4;
    a->space = SPACE_WP;
    a->per_image = 1;
    cli_net_opts_init(&a->net);
    int c, rc;
    cli_getopt_state go;
    cli_getopt_init(&go);
    cli_getopt_repeatable(&go, opts, "boundary");
    cli_getopt_repeatable(&go, opts, "condition");
    while ((c = cli_getopt(&go, CMD, argc, argv, ":qh", opts)) != -1) {
        if (c == CLI_OPT_ERROR)
            return FS_EXIT_FAILURE;
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
        case O_SAVEWS: a->wsout_path = optarg; break;
        case O_LABELS: a->labels_path = optarg; break;
        case O_LAYERS: a->layers = optarg; break;
        case O_NORM: a->normalize = 1; break;
        case 'q': a->quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case O_BOUNDARY:
        case O_COND:
        {
            int is_cond = c == O_COND;
            int *n = is_cond ? &a->nc : &a->nb;
            if (*n >= MAX_BOUNDARIES)
                return cli_usage_error(CMD, "at most %d --%s files", MAX_BOUNDARIES,
                                       is_cond ? "condition" : "boundary");
            if (!*optarg)
                return cli_usage_error(CMD, "--%s needs a file name",
                                       is_cond ? "condition" : "boundary");
            if ((rc = check_label_path(is_cond ? "--condition" : "--boundary", optarg, is_cond)))
                return rc;
            (is_cond ? a->cpaths : a->bpaths)[(*n)++] = optarg;
            break;
        }
        case O_SPACE:
            if (!strcmp(optarg, "z"))
                a->space = SPACE_Z;
            else if (!strcmp(optarg, "w"))
                a->space = SPACE_W;
            else if (!strcmp(optarg, "wp"))
                a->space = SPACE_WP;
            else
                return cli_usage_error(CMD, "--space must be z, w or wp, not '%s'", optarg);
            a->has_space = 1;
            break;
        case O_DIST:
        {
            long steps;
            if (!parse_distances(optarg, &st.d_start, &st.d_end, &steps))
                return cli_usage_error(CMD, "--distances needs START:END:STEPS (two numbers and "
                                       "an integer), not '%s'", optarg);
            if (steps < 1)
                return cli_usage_error(CMD, "--distances %s: STEPS is %ld; a sweep needs at "
                                       "least 1 step", optarg, steps);
            if (steps > 100000)
                return cli_usage_error(CMD, "--distances %s: STEPS is %ld; at most 100000",
                                       optarg, steps);
            st.n_edit = (int)steps;
            a->distances = optarg;
            break;
        }
        case O_ALPHA:
            if (!parse_pair(optarg, &st.a_lo, &st.a_hi))
                return cli_usage_error(CMD, "--alpha-range needs A,B (two numbers), not '%s'",
                                       optarg);
            if (st.a_lo > st.a_hi)
                return cli_usage_error(CMD, "--alpha-range %s is an empty range: A must be <= B",
                                       optarg);
            a->alpha_range = optarg;
            break;
        case O_PER:
            if (!cli_parse_long(optarg, 1, 100000, &a->per_image))
                return cli_usage_error(CMD, "--per-image needs an integer from 1 to 100000, not "
                                       "'%s'", optarg);
            a->has_per_image = 1;
            break;
        case O_ASEED:
            if (!cli_parse_long(optarg, 0, 4294967295L, &a->alpha_seed))
                return cli_usage_error(CMD, "--alpha-seed needs an integer from 0 to "
                                       "4294967295, not '%s'", optarg);
            a->has_alpha_seed = 1;
            break;
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
                return cli_usage_error(CMD, "--noise-mode must be const, random or none, not "
                                       "'%s'", optarg);
            break;
        case O_BATCH:
            if ((rc = cli_batch_option(CMD, optarg, &a->batch)))
                return rc;
            break;
        case O_THREADS:
            if ((rc = cli_threads_option(CMD, optarg, &a->threads)))
                return rc;
            break;
        case O_DEVICE:
            if ((rc = cli_device_option(CMD, optarg)))
                return rc;
            break;
        case O_PRECISION:
            if ((rc = cli_precision_option(CMD, optarg)))
                return rc;
            break;
        default:
            return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!a->network)
        return cli_usage_error(CMD, "missing --network FILE");
    if ((rc = cli_precision_check(CMD)))
        return rc;
    int nsrc = !!a->seeds + !!a->z_path + !!a->ws_path;
    if (nsrc != 1)
        return cli_usage_error(CMD, nsrc ? "--seeds, --z and --ws are mutually exclusive"
                                         : "missing --seeds LIST (or --z / --ws FILE.npy)");
    if (a->nb == 0)
        return cli_usage_error(CMD, "missing --boundary FILE");
    if (!!a->distances + !!a->alpha_range != 1)
        return cli_usage_error(CMD, a->distances ? "--distances and --alpha-range are mutually "
                                                   "exclusive"
                                                 : "missing --distances START:END:STEPS (or "
                                                   "--alpha-range A,B)");
    if (a->alpha_range)
        st.n_edit = (int)a->per_image;
    else if (a->has_per_image || a->has_alpha_seed)
        return cli_usage_error(CMD, "--%s goes with --alpha-range",
                               a->has_per_image ? "per-image" : "alpha-seed");
    if (a->has_alpha_seed && a->seeds)
        return cli_usage_error(CMD, "--alpha-seed is for --z and --ws: with --seeds each "
                               "source draws its strengths from its own seed");
    if (a->layers && a->space != SPACE_WP)
        return cli_usage_error(CMD, "--layers selects ws of --space wp");
    if (a->space == SPACE_Z && a->ws_path)
        return cli_usage_error(CMD, "--space z edits z, which --ws codes do not have (use "
                               "--space w or wp)");
    if (a->ws_path && (a->has_psi || a->has_cutoff))
        return cli_usage_error(CMD, "--trunc and --trunc-cutoff act in the mapping network, "
                               "which --ws skips");
    if (a->space == SPACE_W && a->has_cutoff)
        return cli_usage_error(CMD, "--trunc-cutoff makes the ws differ between layers, and "
                               "--space w broadcasts one w to all of them (use --space wp)");
    if (!*a->outdir)
        return cli_usage_error(CMD, "--outdir is empty");
    st.src = a->seeds ? SRC_SEEDS : a->z_path ? SRC_Z : SRC_WS;
    if (st.src == SRC_SEEDS) {
        fs_status s = fs_seed_list_parse(a->seeds, &st.seeds);
        if (s != FS_OK)
            return cli_usage_error(CMD, "--seeds: %s", fs_error_message());
    }
    if (a->distances) {
        if (!(st.dist = malloc((size_t)st.n_edit * sizeof *st.dist))) {
            state_free(&st);
            return cli_fail(fs_error(FS_ERR_NOMEM, "out of memory"));
        }
        fs_edit_linspace(st.d_start, st.d_end, st.n_edit, st.dist);
    }
    if (!a->labels_path) {
        size_t n = strlen(a->outdir) + 16;
        if (!(st.labels_default = malloc(n))) {
            state_free(&st);
            return cli_fail(fs_error(FS_ERR_NOMEM, "out of memory"));
        }
        snprintf(st.labels_default, n, "%s/labels.tsv", a->outdir);
        a->labels_path = st.labels_default;
    }
    fs_status s = cli_open_network(a->network, CLI_NET_GENERATOR, &a->net, &st.w);
    if (s != FS_OK) {
        rc = cli_fail(s);
        state_free(&st);
        return rc;
    }
    if (fs_weights_family(st.w) == FS_FAMILY_CVAEGAN) {
        rc = cli_usage_error(CMD, "%s is a CVAE-GAN: edit works on StyleGAN2 generators",
                             a->network);
        state_free(&st);
        return rc;
    }
    rc = prepare(&st);
    if (rc == 0 && (s = run(&st)) != FS_OK) {
        rc = cli_fail(s);
        fs_out_file_abort(&st.raw_f);
        fs_out_file_abort(&st.ws_f);
        fs_out_file_abort(&st.labels_f);
        cli_new_dirs_remove(&st.made); /* only if nothing was written into it */
    }
    state_free(&st);
    return rc;
}
