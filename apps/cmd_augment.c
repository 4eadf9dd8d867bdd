/* `facesynth augment`: the seed augmentation pipeline in one command. Each
 * real, labelled face image is inverted into StyleGAN2's W+ space with an
 * e4e encoder (engine/e4e.h), edited along a boundary with random strengths
 * (engine/edit.h, InterFaceGAN's offset edits), synthesised (stylegan2.h),
 * and each candidate is kept only when its dlib landmarks agree with the
 * original image's (engine/landmarks.h, the score of `facesynth filter`),
 * so that the original's label stays valid for it. The kept images get the
 * label of their source in a stylegan2-ada dataset.json; provenance.jsonl
 * records every candidate, kept or not. With --identity-network, a candidate
 * must also keep its source's identity: the cosine of their embeddings
 * (identity_cli.h, as `facesynth embed` computes them) at least
 * --min-identity-cos.
 *
 * The candidates are exactly those of `facesynth invert` followed by
 * `facesynth edit --ws CODES --space wp --alpha-range A,B --per-image K
 * --alpha-seed S [--layers L]`: the same codes, the same strength draws
 * (numpy's RandomState(S + source index)), the same images.
 *
 * Everything is checked before the first image is written (images decoded,
 * networks matched, boundary, labels, landmark model, output folder empty);
 * a failure later removes every image this run wrote and the folder if it
 * made it; dataset.json and provenance.jsonl are written last, atomically. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/backend.h"
#include "../engine/e4e.h"
#include "../engine/edit.h"
#include "../engine/file.h"
#include "../engine/image_io.h"
#include "../engine/image_pil.h"
#include "../engine/progress.h"
#include "../engine/stylegan2.h"
#include "../weights_tools/json.h"
#include "cli.h"
#include "identity_cli.h"
#include "landmarks_cli.h"

#define CMD "augment"

/* A labels file larger than this is refused. */
#define AUG_LABELS_MAX_BYTES (256u << 20)
/* The longest identity embedding kept on the stack (ArcFace's is 512). */
#define FS_AUG_MAX_EMB 4096

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth augment --encoder E4E --generator G --images DIR\n"
            "                         --boundary FILE --alpha-range A,B --per-image K\n"
            "                         --max-nme X --outdir OUT [options]\n"
            "\n"
            "For each face image: inverts it with an e4e encoder, edits its W+ code K times\n"
            "along the boundary with random strengths, synthesises the candidates, and keeps\n"
            "those whose dlib landmarks agree with the original's (nme <= X, the score of\n"
            "'facesynth filter'). Writes the kept images, their labels and the provenance of\n"
            "every candidate. The candidates equal 'facesynth invert' then 'facesynth edit\n"
            "--ws CODES --space wp --alpha-range A,B --per-image K --alpha-seed S'.\n"
            "\n"
            "      --encoder FILE      an e4e checkpoint (.pt) or an e4e-encoder .fsw\n"
            "      --generator FILE    the StyleGAN2 generator of the encoder's W+ space (the\n"
            "                          e4e checkpoint itself, a network pickle, a .fsw...);\n"
            "                          noise const, no truncation\n"
            "      --images DIR        face images (*.png, *.jpg, *.jpeg; FFHQ-aligned, as e4e\n"
            "                          expects), in name order, prepared for the encoder as\n"
            "                          'facesynth invert' prepares them\n"
            "      --labels FILE.json  the images' labels in the stylegan2-ada dataset.json\n"
            "                          layout, {\"labels\": [[NAME, LABEL], ...]}: LABEL a class\n"
            "                          id, a number or a list of numbers (e.g. blendshape\n"
            "                          activations); every image needs one\n"
            "      --boundary FILE     a W boundary (.npy or .pt, as 'edit' reads it)\n"
            "      --alpha-range A,B   strengths alpha uniform in [A, B): code + alpha *\n"
            "                          boundary on the layers of --layers\n"
            "      --per-image K       candidates per image\n"
            "      --layers LIST       the ws edited, e.g. 0-5 (default: all)\n"
            "      --alpha-seed S      image i draws its K strengths from numpy's\n"
            "                          RandomState(S + i) (default 0)\n"
            "      --max-nme X         keep candidates with nme <= X (e.g. 0.05)\n"
            "      --subpixel          score the un-rounded landmarks, not dlib's integer\n"
            "                          points\n"
            "      --min-identity-cos X  also require the cosine of the candidate's identity\n"
            "                          embedding with its source image's >= X (-1 to 1)\n"
            "      --identity-network ID a Light CNN-9 or ArcFace IR-SE-50 checkpoint or .fsw\n"
            "                          for --min-identity-cos, each image prepared as\n"
            "                          'facesynth embed' prepares it (ArcFace: the candidates'\n"
            "                          side must be 112 or 256 and up)\n"            "      --box L,T,R,B|ffhq  the face box in the original images (default ffhq:\n"
            "                          see 'facesynth landmarks --help'); the candidates use\n"
            "                          the same box scaled to their size, and their points\n"
            "                          are scaled back before the score\n"
            "      --model FILE        dlib shape predictor (default: Debian libdlib-data's\n"
            "                          " FS_DLIB_DEFAULT_MODEL ")\n"
            "      --outdir DIR        a new or empty folder: the kept images STEM_eNNN.png\n"
            "                          (STEM: the source's name without its extension, NNN\n"
            "                          the edit), dataset.json ({\"labels\": [[NAME, LABEL],\n"
            "                          ...]} of the kept images, or {\"labels\": null} without\n"
            "                          --labels) and provenance.jsonl (one JSON line per\n"
            "                          candidate: image, source, boundary, boundary_sha256,\n"
            "                          layers, alpha, nme, id_cos with --identity-network,\n"
            "                          kept)\n"
            "      --batch N           images per encoder and generator pass (default 4;\n"
            "                          results do not depend on it)\n"
            "      --device D          cpu (default), cuda or cuda:N\n"
            "      --threads N         CPU worker threads (default 0: one per core)\n"
            "  -q, --quiet             no progress or summary on stderr\n"
            "  -h, --help              this text\n");
}

typedef struct {
    const char *encoder, *generator, *images, *labels_path, *boundary_path, *layers, *outdir,
        *model_path;
    double a_lo, a_hi, max_nme;
    int has_alpha, has_nme, has_per_image, subpixel, quiet, ffhq;
    fs_lm_box box;
    long per_image, alpha_seed, batch, threads;
    const char *id_net; /* --identity-network */
    double min_id_cos;
    int has_id_cos;
} aug_args;

/* A growing text buffer for the two JSON files. */
typedef struct {
    char *s;
    size_t n, cap;
} strbuf;

static fs_status sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static fs_status sb_printf(strbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0)
            return fs_error(FS_ERR_ARG, "cannot format output text");
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return FS_OK;
        }
        size_t nc = b->cap ? b->cap : 4096;
        while (nc <= b->n + (size_t)k)
            nc *= 2;
        char *t = realloc(b->s, nc);
        if (!t)
            return fs_error(FS_ERR_NOMEM, "out of memory");
        b->s = t;
        b->cap = nc;
    }
}

typedef struct {
    aug_args a;
    char **names;       /* source images, sorted */
    char **stems;       /* their names without the extension */
    uint64_t n;
    fs_json *labels_doc;
    const fs_json **label_of; /* [n] or NULL */
    fs_file_map labels_map;   /* the labels file, whose text is copied verbatim */
    fs_weights *ew, *gw;
    fs_backend *b;
    fs_e4e *enc;
    fs_sg2_generator *g;
    int R, S, D, gres;
    fs_boundary bnd;
    unsigned char *mask;
    char *layers_text;
    fs_dlib_model *lm;
    fs_lm_workspace *lws;
    double *ref_xy;     /* [n][2P]: the originals' landmarks, in their pixels */
    int *ref_w, *ref_h;
    cli_new_dirs made;
    char **written;     /* paths of the images written, removed after a failure */
    uint64_t n_written;
    strbuf dataset, prov;
    uint64_t kept;
    cli_identity id;    /* --identity-network */
    float *src_emb;     /* [n, id.dim]: the sources' embeddings */
} aug_state;

static void free_strings(char **v, uint64_t n)
{
    for (uint64_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static void state_free(aug_state *st)
{
    free_strings(st->names, st->n);
    free_strings(st->stems, st->n);
    free_strings(st->written, st->n_written);
    fs_json_free(st->labels_doc);
    free(st->label_of);
    fs_file_map_close(&st->labels_map);
    fs_sg2_generator_free(st->g);
    fs_e4e_free(st->enc);
    fs_backend_free(st->b);
    fs_weights_free(st->gw);
    fs_weights_free(st->ew);
    fs_boundary_free(&st->bnd);
    free(st->mask);
    free(st->layers_text);
    fs_lm_workspace_free(st->lws);
    fs_dlib_model_free(st->lm);
    free(st->ref_xy);
    free(st->ref_w);
    free(st->ref_h);
    free(st->dataset.s);
    free(st->prov.s);
    cli_identity_close(&st->id);
    free(st->src_emb);
    cli_new_dirs_keep(&st->made);
}

/* ---- inputs ------------------------------------------------------------------------ */

/* The images of the folder, their stems (unique), all valid UTF-8. */
static fs_status list_images(aug_state *st)
{
    const char *dir = st->a.images;
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return fs_error(FS_ERR_ARG, "%s: --images takes a directory of PNG and JPEG files", dir);
    DIR *d = opendir(dir);
    if (!d)
        return fs_error(FS_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    size_t cap = 0;
    fs_status s = FS_OK;
    struct dirent *e;
    while (s == FS_OK && (e = readdir(d))) {
        if (!cli_is_photo_name(e->d_name))
            continue;
        if (st->n == cap) {
            cap = cap ? 2 * cap : 64;
            char **t = realloc(st->names, cap * sizeof *t);
            if (!t) {
                s = fs_error(FS_ERR_NOMEM, "out of memory");
                break;
            }
            st->names = t;
        }
        if (!(st->names[st->n] = strdup(e->d_name)))
            s = fs_error(FS_ERR_NOMEM, "out of memory");
        else
            st->n++;
    }
    closedir(d);
    if (s != FS_OK)
        return s;
    if (st->n == 0)
        return fs_error(FS_ERR_ARG, "%s: no .png, .jpg or .jpeg files in the directory", dir);
    qsort(st->names, (size_t)st->n, sizeof *st->names, cli_str_cmp);
    if (!(st->stems = calloc((size_t)st->n, sizeof *st->stems)))
        return fs_error(FS_ERR_NOMEM, "out of memory");
    for (uint64_t i = 0; i < st->n; i++) {
        if (!lm_valid_utf8(st->names[i]))
            return fs_error(FS_ERR_ARG, "%s/%s: the file name is not valid UTF-8 (the outputs "
                            "are JSON): rename it", dir, st->names[i]);
        size_t stem = (size_t)(strrchr(st->names[i], '.') - st->names[i]);
        if (!(st->stems[i] = strndup(st->names[i], stem)))
            return fs_error(FS_ERR_NOMEM, "out of memory");
    }
    char **sorted = malloc((size_t)st->n * sizeof *sorted);
    if (!sorted)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    memcpy(sorted, st->stems, (size_t)st->n * sizeof *sorted);
    qsort(sorted, (size_t)st->n, sizeof *sorted, cli_str_cmp);
    for (uint64_t i = 1; i < st->n && s == FS_OK; i++)
        if (!strcmp(sorted[i - 1], sorted[i]))
            s = fs_error(FS_ERR_ARG, "%s: two images share the name %s (with different "
                         "extensions): their outputs would collide; rename one", dir, sorted[i]);
    free(sorted);
    return s;
}

static fs_status label_check(const char *path, const fs_json *v)
{
    if (v->type == FS_JSON_INT || v->type == FS_JSON_REAL)
        return FS_OK;
    if (v->type == FS_JSON_ARRAY) {
        for (size_t k = 0; k < v->u.array.count; k++) {
            fs_json_type t = v->u.array.items[k].type;
            if (t != FS_JSON_INT && t != FS_JSON_REAL)
                break;
            if (k + 1 == v->u.array.count)
                return FS_OK;
        }
        if (v->u.array.count == 0)
            return fs_error(FS_ERR_FORMAT, "%s: offset %llu: an empty label list", path,
                            (unsigned long long)v->offset);
    }
    return fs_error(FS_ERR_FORMAT, "%s: offset %llu: a label must be a class id, a number or a "
                    "list of numbers", path, (unsigned long long)v->offset);
}

/* --labels: {"labels": [[NAME, LABEL], ...]}; every source needs exactly
 * one; entries for other images are allowed. */
static fs_status read_labels(aug_state *st)
{
    const char *path = st->a.labels_path;
    fs_file_map *fm = &st->labels_map;
    FS_TRY(fs_file_map_open(path, fm));
    if (fm->size > AUG_LABELS_MAX_BYTES)
        return fs_error(FS_ERR_LIMIT, "%s: %zu bytes: a labels file may have at most %u MiB",
                        path, fm->size, AUG_LABELS_MAX_BYTES >> 20);
    FS_TRY(fs_json_parse(fm->data, fm->size, path, 0, &st->labels_doc));
    const fs_json *doc = st->labels_doc, *list = NULL;
    if (doc->type == FS_JSON_OBJECT)
        list = fs_json_get(doc, "labels");
    if (!list || list->type != FS_JSON_ARRAY)
        return fs_error(FS_ERR_FORMAT, "%s: expected the dataset.json layout {\"labels\": "
                        "[[NAME, LABEL], ...]}", path);
    if (!(st->label_of = calloc((size_t)st->n, sizeof *st->label_of)))
        return fs_error(FS_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < list->u.array.count; k++) {
        const fs_json *e = &list->u.array.items[k];
        if (e->type != FS_JSON_ARRAY || e->u.array.count != 2 ||
            e->u.array.items[0].type != FS_JSON_STRING)
            return fs_error(FS_ERR_FORMAT, "%s: offset %llu: entry %zu is not [NAME, LABEL]",
                            path, (unsigned long long)e->offset, k);
        const char *name = e->u.array.items[0].u.string.chars;
        const char **hit = bsearch(&name, st->names, (size_t)st->n, sizeof *st->names, cli_str_cmp);
        if (!hit)
            continue; /* a label file may cover a larger set */
        uint64_t i = (uint64_t)(hit - (const char **)st->names);
        if (st->label_of[i])
            return fs_error(FS_ERR_FORMAT, "%s: offset %llu: '%s' has a second label", path,
                            (unsigned long long)e->offset, name);
        FS_TRY(label_check(path, &e->u.array.items[1]));
        st->label_of[i] = &e->u.array.items[1];
    }
    for (uint64_t i = 0; i < st->n; i++)
        if (!st->label_of[i])
            return fs_error(FS_ERR_ARG, "%s: no label for the image '%s'", path, st->names[i]);
    return FS_OK;
}

/* A double as JSON: the shortest of %.15g..%.17g that reads back the same;
 * a real keeps a '.', so that it stays a real for a JSON reader. */
static fs_status put_real(strbuf *b, double v, int keep_real)
{
    char t[40];
    for (int p = 15; p <= 17; p++) {
        snprintf(t, sizeof t, "%.*g", p, v);
        if (strtod(t, NULL) == v)
            break;
    }
    int plain = !strpbrk(t, ".eE");
    return sb_printf(b, "%s%s", t, keep_real && plain ? ".0" : "");
}

/* A label copied as the labels file writes it: the number's own text (so
 * that 1.0 stays 1.0 and no digit changes), a list with its whitespace
 * normalised to ", ". label_check allowed only numbers and flat lists of
 * numbers, so the text ends at the first ']' or at the number's last
 * character. */
static fs_status put_label(strbuf *b, const fs_file_map *fm, const fs_json *v)
{
    const char *t = (const char *)fm->data + v->offset, *end = (const char *)fm->data + fm->size;
    if (*t != '[') {
        size_t n = 0;
        while (t + n < end && strchr("+-0123456789.eE", t[n]) && t[n])
            n++;
        return sb_printf(b, "%.*s", (int)n, t);
    }
    FS_TRY(sb_printf(b, "["));
    for (t++; t < end && *t != ']'; t++) {
        if (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
            continue;
        FS_TRY(sb_printf(b, *t == ',' ? ", " : "%c", *t));
    }
    return sb_printf(b, "]");
}

/* ---- networks and the edit ------------------------------------------------------------- */

static fs_status open_networks(aug_state *st)
{
    fs_network_opts o;
    fs_network_opts_default(&o);
    o.want = FS_WANT_E4E_ENCODER;
    FS_TRY(fs_network_open(st->a.encoder, &o, &st->ew, NULL));
    FS_TRY(cli_backend_open(st->a.threads, &st->b));
    FS_TRY(fs_e4e_init(&st->enc, st->ew, st->b, NULL));
    const fs_e4e_config *ec = fs_e4e_get_config(st->enc);
    st->R = (int)ec->input_resolution;
    st->S = (int)ec->n_styles;
    st->D = (int)ec->style_dim;
    FS_TRY(cli_open_network(st->a.generator, CLI_NET_GENERATOR, NULL, &st->gw));
    if (fs_weights_family(st->gw) != FS_FAMILY_STYLEGAN2_G)
        return fs_error(FS_ERR_ARG, "%s: holds a %s; --generator takes a StyleGAN2 generator",
                        st->a.generator, fs_family_name(fs_weights_family(st->gw)));
    FS_TRY(fs_sg2_generator_init(&st->g, st->gw, st->b));
    const fs_sg2_config *c = fs_sg2_generator_config(st->g);
    if (c->w_dim != st->D || fs_sg2_num_ws(c) != st->S || c->img_channels != 3 || c->c_dim != 0)
        return fs_error(FS_ERR_ARG, "%s: the generator takes %lld ws of %lld (%lld channels%s), "
                        "the encoder %s makes %d codes of %d for an unconditional RGB generator",
                        st->a.generator, (long long)fs_sg2_num_ws(c), (long long)c->w_dim,
                        (long long)c->img_channels, c->c_dim ? ", conditional" : "",
                        st->a.encoder, st->S, st->D);
    st->gres = (int)c->img_resolution;
    if (!st->a.id_net)
        return FS_OK;
    int side;
    FS_TRY(cli_identity_open(st->a.id_net, NULL, st->a.threads, &st->id));
    return cli_identity_check_size(&st->id, st->a.generator, st->gres, st->gres, &side);
}

/* The identity embedding of an RGB image (a copy is converted: Light CNN
 * grays it in place). */
static fs_status embed_rgb(aug_state *st, const uint8_t *rgb, int w, int h, const char *label,
                          float *out)
{
    size_t bytes = (size_t)w * h * 3;
    uint8_t *copy = malloc(bytes);
    float *x = NULL;
    int side = 0;
    if (!copy)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    memcpy(copy, rgb, bytes);
    fs_status s = cli_identity_prepare_rgb(&st->id, copy, w, h, label, &x, &side);
    if (s == FS_OK)
        s = cli_identity_embed(&st->id, x, 1, side, out);
    free(x);
    free(copy);
    return s;
}

static fs_status prepare_edit(aug_state *st)
{
    FS_TRY(fs_boundary_load(st->a.boundary_path, &st->bnd));
    FS_TRY(fs_boundary_check_dim(&st->bnd, st->a.boundary_path, st->D, "augment (W+ edits)",
                                 "w_dim"));
    if (!lm_valid_utf8(st->a.boundary_path))
        return fs_error(FS_ERR_ARG, "%s: the path is not valid UTF-8 (provenance.jsonl is JSON)",
                        st->a.boundary_path);
    if (!fs_boundary_is_unit(&st->bnd) && !st->a.quiet)
        fprintf(stderr, "facesynth augment: warning: %s has norm %.9g, not 1: its edits are "
                "scaled by it\n", st->a.boundary_path, st->bnd.norm);
    if (!(st->mask = malloc((size_t)st->S)))
        return fs_error(FS_ERR_NOMEM, "out of memory");
    if (st->a.layers)
        FS_TRY(fs_edit_parse_layers(st->a.layers, st->S, st->mask));
    else
        memset(st->mask, 1, (size_t)st->S);
    if (!(st->layers_text = cli_layers_string(st->mask, st->S)))
        return fs_error(FS_ERR_NOMEM, "out of memory");
    return FS_OK;
}

/* ---- landmarks --------------------------------------------------------------------- */

/* An explicit box of an image w x h in the candidate's frame (gres x gres):
 * pixel centres scaled, (v + 0.5) * gres / w - 0.5. */
static fs_lm_box scaled_box(const fs_lm_box *b, int w, int h, int gres)
{
    double sx = (double)gres / w, sy = (double)gres / h;
    return (fs_lm_box){.left = fs_lm_round(((double)b->left + 0.5) * sx - 0.5),
                       .top = fs_lm_round(((double)b->top + 0.5) * sy - 0.5),
                       .right = fs_lm_round(((double)b->right + 0.5) * sx - 0.5),
                       .bottom = fs_lm_round(((double)b->bottom + 0.5) * sy - 0.5)};
}

/* Landmarks of an RGB image in a box. */
static fs_status predict_rgb(aug_state *st, const uint8_t *rgb, int w, int h, const fs_lm_box *box,
                             double *xy)
{
    size_t n = (size_t)w * (size_t)h;
    uint8_t *gray = malloc(n ? n : 1);
    float *shape = malloc(2 * (size_t)st->lm->num_parts * sizeof *shape);
    fs_status s = FS_OK;
    if (!gray || !shape)
        s = fs_error(FS_ERR_NOMEM, "out of memory for a %d x %d image", w, h);
    if (s == FS_OK) {
        fs_lm_intensity_rgb(rgb, n, gray);
        fs_lm_image img = {.pixels = gray, .width = w, .height = h, .stride = (size_t)w};
        s = fs_lm_predict(st->lm, &img, box, st->lws, NULL, shape, xy, NULL);
    }
    free(gray);
    free(shape);
    return s;
}

/* Every original decoded once (a bad file stops the run before any output)
 * and its landmarks found. */
static fs_status originals(aug_state *st)
{
    FS_TRY(lm_model_open(st->a.model_path, &st->lm));
    if (st->lm->num_parts != 68)
        return fs_error(FS_ERR_ARG, "%s: a model of %d parts: the score needs the 68-point "
                        "layout (eye corners 36 and 45)",
                        st->a.model_path ? st->a.model_path : FS_DLIB_DEFAULT_MODEL,
                        st->lm->num_parts);
    FS_TRY(fs_lm_workspace_new(st->lm, &st->lws));
    st->ref_xy = malloc((size_t)st->n * 136 * sizeof *st->ref_xy);
    st->ref_w = malloc((size_t)st->n * sizeof *st->ref_w);
    st->ref_h = malloc((size_t)st->n * sizeof *st->ref_h);
    if (!st->ref_xy || !st->ref_w || !st->ref_h)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    if (st->a.id_net &&
        !(st->src_emb = malloc((size_t)st->n * (size_t)st->id.dim * sizeof *st->src_emb)))
        return fs_error(FS_ERR_NOMEM, "out of memory");
    for (uint64_t i = 0; i < st->n; i++) {
        char *p = lm_join(st->a.images, st->names[i]);
        if (!p)
            return fs_error(FS_ERR_NOMEM, "out of memory");
        uint8_t *rgb;
        int w, h;
        fs_status s = fs_pil_read_rgb(p, &rgb, &w, &h);
        if (s == FS_OK) {
            fs_lm_box box = st->a.ffhq ? fs_lm_ffhq_box(w, h) : st->a.box;
            s = predict_rgb(st, rgb, w, h, &box, st->ref_xy + i * 136);
            if (s == FS_OK && st->a.id_net)
                s = embed_rgb(st, rgb, w, h, p, st->src_emb + i * (size_t)st->id.dim);
            free(rgb);
            if (s != FS_OK)
                fs_error_prefix(p);
        }
        free(p);
        FS_TRY(s);
        st->ref_w[i] = w;
        st->ref_h[i] = h;
    }
    return FS_OK;
}

/* The candidate's score against source i: its points taken to the
 * original's pixels ((v + 0.5) * size / gres - 0.5), both integer unless
 * --subpixel. */
static double score(const aug_state *st, uint64_t i, const double *cand)
{
    double ref[136], c[136];
    double sx = (double)st->ref_w[i] / st->gres, sy = (double)st->ref_h[i] / st->gres;
    for (int j = 0; j < 136; j++) {
        double r = st->ref_xy[i * 136 + (size_t)j], v = cand[j];
        if (!st->a.subpixel) {
            r = (double)fs_lm_round(r);
            v = (double)fs_lm_round(v);
        }
        ref[j] = r;
        c[j] = (v + 0.5) * (j % 2 ? sy : sx) - 0.5;
    }
    return fs_lm_nme(ref, c, 68);
}

/* ---- outputs ------------------------------------------------------------------------- */

static fs_status prepare_outdir(aug_state *st)
{
    const char *dir = st->a.outdir;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        int empty = 1;
        while (empty && (e = readdir(d)))
            empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
        closedir(d);
        if (!empty)
            return fs_error(FS_ERR_ARG, "%s: --outdir is not empty: augment writes a new data set "
                            "(its dataset.json lists only this run's images)", dir);
    }
    return cli_make_outdir(dir, &st->made);
}

static void remove_written(aug_state *st)
{
    for (uint64_t i = 0; i < st->n_written; i++)
        unlink(st->written[i]);
}

static fs_status write_text(const char *dir, const char *name, const strbuf *b)
{
    char *p = lm_join(dir, name);
    if (!p)
        return fs_error(FS_ERR_NOMEM, "out of memory");
    fs_out_file f;
    fs_status s = fs_out_file_open(p, &f);
    if (s == FS_OK) {
        s = fs_out_file_write(&f, b->s ? b->s : "", b->n);
        if (s == FS_OK)
            s = fs_out_file_commit(&f);
        else
            fs_out_file_abort(&f);
    }
    free(p);
    return s;
}

/* ---- the run ---------------------------------------------------------------------------- */

static fs_status run(aug_state *st)
{
    const aug_args *a = &st->a;
    int K = (int)a->per_image, B = (int)a->batch;
    uint64_t nb_max = (uint64_t)B < st->n ? (uint64_t)B : st->n;
    size_t img = (size_t)3 * st->R * st->R, code = (size_t)st->S * st->D;
    size_t gimg = (size_t)3 * st->gres * st->gres;
    float *x = malloc(nb_max * img * sizeof *x);
    float *codes = malloc(nb_max * code * sizeof *codes);
    float *ws = malloc((size_t)K * code * sizeof *ws);
    uint8_t *u8 = malloc((size_t)K * gimg);
    double *alphas = malloc((size_t)K * sizeof *alphas), xy[136];
    fs_status s = FS_OK;
    if (!x || !codes || !ws || !u8 || !alphas)
        s = fs_error(FS_ERR_NOMEM, "out of memory for %d candidates of %d x %d", K, st->gres,
                     st->gres);
    if (s == FS_OK && !(st->written = calloc((size_t)st->n * (size_t)K, sizeof *st->written)))
        s = fs_error(FS_ERR_NOMEM, "out of memory");
    if (s == FS_OK)
        s = sb_printf(&st->dataset, st->label_of ? "{\"labels\": [" : "{\"labels\": null}\n");
    char name[4096], jname[6 * 4096 + 8], jsrc[6 * 4096 + 8];
    char *jbnd = malloc(6 * strlen(a->boundary_path) + 8);
    if (s == FS_OK && !jbnd)
        s = fs_error(FS_ERR_NOMEM, "out of memory");
    if (jbnd)
        lm_json_string(jbnd, 6 * strlen(a->boundary_path) + 8, a->boundary_path);
    fs_progress prog = {0};
    fs_progress_start(&prog, stderr, a->quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO, "images",
                      "img/s", st->n);
    for (uint64_t i0 = 0; i0 < st->n && s == FS_OK; i0 += nb_max) {
        int nb = (int)(st->n - i0 < nb_max ? st->n - i0 : nb_max);
        for (int k = 0; k < nb && s == FS_OK; k++) {
            char *p = lm_join(a->images, st->names[i0 + (uint64_t)k]);
            s = p ? fs_pil_load_transformed(p, st->R, x + (size_t)k * img)
                  : fs_error(FS_ERR_NOMEM, "out of memory");
            free(p);
        }
        if (s == FS_OK)
            s = fs_e4e_encode(st->enc, x, nb, codes);
        for (int k = 0; k < nb && s == FS_OK; k++) {
            uint64_t i = i0 + (uint64_t)k;
            /* the strengths as `edit --ws --alpha-seed S` draws them for row i */
            fs_np_random r;
            fs_np_random_seed(&r, (uint32_t)((uint64_t)a->alpha_seed + i));
            fs_edit_draw_alphas(&r, a->a_lo, a->a_hi, K, alphas);
            for (int e = 0; e < K; e++)
                fs_edit_offset(codes + (size_t)k * code, st->S, &st->bnd, st->mask, alphas[e],
                               ws + (size_t)e * code);
            for (int e0 = 0; e0 < K && s == FS_OK; e0 += B) {
                int ne = K - e0 < B ? K - e0 : B;
                fs_sg2_generate_args ga = {.n = ne, .ws = ws + (size_t)e0 * code, .psi = 1.0f,
                                           .cutoff = -1, .noise_mode = FS_NOISE_CONST,
                                           .images = u8 + (size_t)e0 * gimg};
                s = fs_sg2_generate(st->g, &ga);
            }
            lm_json_string(jsrc, sizeof jsrc, st->names[i]);
            for (int e = 0; e < K && s == FS_OK; e++) {
                const uint8_t *rgb = u8 + (size_t)e * gimg;
                fs_lm_box box = a->ffhq ? fs_lm_ffhq_box(st->gres, st->gres)
                                        : scaled_box(&a->box, st->ref_w[i], st->ref_h[i],
                                                     st->gres);
                s = predict_rgb(st, rgb, st->gres, st->gres, &box, xy);
                if (s != FS_OK)
                    break;
                double nme = score(st, i, xy), id_cos = NAN;
                int kept = isfinite(nme) && nme <= a->max_nme;
                if (a->id_net) {
                    float emb[FS_AUG_MAX_EMB];
                    s = st->id.dim <= FS_AUG_MAX_EMB
                            ? embed_rgb(st, rgb, st->gres, st->gres, a->generator, emb)
                            : fs_error(FS_ERR_LIMIT, "an identity embedding of %d values",
                                       st->id.dim);
                    if (s != FS_OK)
                        break;
                    id_cos = cli_cosine(emb, st->src_emb + i * (size_t)st->id.dim, st->id.dim);
                    kept = kept && isfinite(id_cos) && id_cos >= a->min_id_cos;
                }
                snprintf(name, sizeof name, "%s_e%03d.png", st->stems[i], e);
                lm_json_string(jname, sizeof jname, name);
                if (kept) {
                    char *p = lm_join(a->outdir, name);
                    if (!p) {
                        s = fs_error(FS_ERR_NOMEM, "out of memory");
                        break;
                    }
                    s = fs_png_write_rgb8(p, rgb, st->gres, st->gres, 3);
                    if (s != FS_OK) {
                        free(p);
                        break;
                    }
                    st->written[st->n_written++] = p;
                    if (st->label_of) {
                        s = sb_printf(&st->dataset, "%s\n  [%s, ", st->kept ? "," : "", jname);
                        if (s == FS_OK)
                            s = put_label(&st->dataset, &st->labels_map, st->label_of[i]);
                        if (s == FS_OK)
                            s = sb_printf(&st->dataset, "]");
                    }
                    st->kept++;
                }
                if (s == FS_OK)
                    s = sb_printf(&st->prov, "{\"image\": %s, \"source\": %s, \"boundary\": %s, "
                                  "\"boundary_sha256\": \"%s\", \"layers\": \"%s\", \"alpha\": ",
                                  jname, jsrc, jbnd, st->bnd.sha256, st->layers_text);
                if (s == FS_OK)
                    s = put_real(&st->prov, alphas[e], 1);
                if (s == FS_OK && isfinite(nme)) {
                    s = sb_printf(&st->prov, ", \"nme\": ");
                    if (s == FS_OK)
                        s = put_real(&st->prov, nme, 1);
                } else if (s == FS_OK)
                    s = sb_printf(&st->prov, ", \"nme\": null");
                if (s == FS_OK && a->id_net && isfinite(id_cos)) {
                    s = sb_printf(&st->prov, ", \"id_cos\": ");
                    if (s == FS_OK)
                        s = put_real(&st->prov, id_cos, 1);
                } else if (s == FS_OK && a->id_net)
                    s = sb_printf(&st->prov, ", \"id_cos\": null");
                if (s == FS_OK)
                    s = sb_printf(&st->prov, ", \"kept\": %s}\n", kept ? "true" : "false");
            }
        }
        if (s == FS_OK)
            fs_progress_update(&prog, i0 + (uint64_t)nb);
    }
    if (s == FS_OK && st->label_of)
        s = sb_printf(&st->dataset, "%s]}\n", st->kept ? "\n" : "");
    if (s == FS_OK)
        s = write_text(a->outdir, "provenance.jsonl", &st->prov);
    if (s == FS_OK) {
        s = write_text(a->outdir, "dataset.json", &st->dataset);
        if (s != FS_OK) {
            char *p = lm_join(a->outdir, "provenance.jsonl");
            if (p)
                unlink(p);
            free(p);
        }
    }
    if (s == FS_OK)
        fs_progress_finish(&prog);
    else
        fs_progress_abort(&prog);
    free(x), free(codes), free(ws), free(u8), free(alphas), free(jbnd);
    return s;
}

static fs_status prepare(aug_state *st)
{
    FS_TRY(list_images(st));
    if (st->a.labels_path)
        FS_TRY(read_labels(st));
    FS_TRY(open_networks(st));
    FS_TRY(prepare_edit(st));
    FS_TRY(originals(st));
    return prepare_outdir(st);
}

int cmd_augment(int argc, char **argv)
{
    enum { O_ENC = 256, O_GEN, O_IMAGES, O_LABELS, O_BND, O_ALPHA, O_PER, O_LAYERS, O_ASEED,
           O_NME, O_SUBPIXEL, O_BOX, O_MODEL, O_OUTDIR, O_BATCH, O_DEVICE, O_THREADS, O_ID_NET,
           O_ID_COS };
    static const struct option opts[] = {
        {"encoder", required_argument, 0, O_ENC},
        {"generator", required_argument, 0, O_GEN},
        {"images", required_argument, 0, O_IMAGES},
        {"labels", required_argument, 0, O_LABELS},
        {"boundary", required_argument, 0, O_BND},
        {"alpha-range", required_argument, 0, O_ALPHA},
        {"per-image", required_argument, 0, O_PER},
        {"layers", required_argument, 0, O_LAYERS},
        {"alpha-seed", required_argument, 0, O_ASEED},
        {"max-nme", required_argument, 0, O_NME},
        {"subpixel", no_argument, 0, O_SUBPIXEL},
        {"box", required_argument, 0, O_BOX},
        {"model", required_argument, 0, O_MODEL},
        {"outdir", required_argument, 0, O_OUTDIR},
        {"batch", required_argument, 0, O_BATCH},
        {"device", required_argument, 0, O_DEVICE},
        {"threads", required_argument, 0, O_THREADS},
        {"identity-network", required_argument, 0, O_ID_NET},
        {"min-identity-cos", required_argument, 0, O_ID_COS},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    aug_state st;
    memset(&st, 0, sizeof st);
    aug_args *a = &st.a;
    a->batch = 4;
    a->ffhq = 1;
    cli_getopt_state go;
    cli_getopt_init(&go);
    int c;
    while ((c = cli_getopt(&go, CMD, argc, argv, ":qh", opts)) != -1) {
        switch (c) {
        case CLI_OPT_ERROR: return FS_EXIT_FAILURE;
        case O_ENC: a->encoder = optarg; break;
        case O_GEN: a->generator = optarg; break;
        case O_IMAGES: a->images = optarg; break;
        case O_LABELS: a->labels_path = optarg; break;
        case O_BND: a->boundary_path = optarg; break;
        case O_LAYERS: a->layers = optarg; break;
        case O_MODEL: a->model_path = optarg; break;
        case O_OUTDIR: a->outdir = optarg; break;
        case O_SUBPIXEL: a->subpixel = 1; break;
        case O_ID_NET: a->id_net = optarg; break;
        case O_ID_COS:
            if (!cli_parse_double(optarg, &a->min_id_cos) || a->min_id_cos < -1 ||
                a->min_id_cos > 1)
                return cli_usage_error(CMD, "--min-identity-cos needs a number from -1 to 1, "
                                       "not '%s'", optarg);
            a->has_id_cos = 1;
            break;
        case 'q': a->quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case O_ALPHA: {
            char *end;
            errno = 0;
            a->a_lo = strtod(optarg, &end);
            int ok = errno == 0 && end != optarg && *end == ',';
            const char *second = ok ? end + 1 : "";
            ok = ok && cli_parse_double(second, &a->a_hi) && isfinite(a->a_lo);
            if (!ok)
                return cli_usage_error(CMD, "--alpha-range needs A,B (two numbers), not '%s'",
                                       optarg);
            if (a->a_lo > a->a_hi)
                return cli_usage_error(CMD, "--alpha-range %s is an empty range: A must be <= B",
                                       optarg);
            a->has_alpha = 1;
            break;
        }
        case O_PER:
            if (!cli_parse_long(optarg, 1, 100000, &a->per_image))
                return cli_usage_error(CMD, "--per-image needs an integer from 1 to 100000, not "
                                       "'%s'", optarg);
            a->has_per_image = 1;
            break;
        case O_ASEED:
            if (!cli_parse_long(optarg, 0, 4294967295L, &a->alpha_seed))
                return cli_usage_error(CMD, "--alpha-seed needs an integer from 0 to 4294967295, "
                                       "not '%s'", optarg);
            break;
        case O_NME:
            if (!cli_parse_double(optarg, &a->max_nme) || a->max_nme < 0)
                return cli_usage_error(CMD, "--max-nme needs a number >= 0, not '%s'", optarg);
            a->has_nme = 1;
            break;
        case O_BOX: {
            int rc = lm_parse_box_flag(CMD, optarg, &a->box, &a->ffhq);
            if (rc)
                return rc;
            break;
        }
        case O_BATCH: {
            int rc = cli_batch_option(CMD, optarg, &a->batch);
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
            int rc = cli_threads_option(CMD, optarg, &a->threads);
            if (rc)
                return rc;
            break;
        }
        default: return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    static const struct {
        size_t off;
        const char *msg;
    } required[] = {
        {offsetof(aug_args, encoder), "missing --encoder FILE (an e4e checkpoint)"},
        {offsetof(aug_args, generator), "missing --generator FILE"},
        {offsetof(aug_args, images), "missing --images DIR"},
        {offsetof(aug_args, boundary_path), "missing --boundary FILE"},
        {offsetof(aug_args, outdir), "missing --outdir DIR"},
    };
    for (size_t k = 0; k < sizeof required / sizeof *required; k++)
        if (!*(const char **)((const char *)a + required[k].off))
            return cli_usage_error(CMD, "%s", required[k].msg);
    if (!a->has_alpha)
        return cli_usage_error(CMD, "missing --alpha-range A,B");
    if (!a->has_per_image)
        return cli_usage_error(CMD, "missing --per-image K");
    if (!a->has_nme)
        return cli_usage_error(CMD, "missing --max-nme X");
    if (!*a->outdir)
        return cli_usage_error(CMD, "--outdir is empty");
    if (a->model_path && !*a->model_path)
        return cli_usage_error(CMD, "--model is empty");
    if (a->has_id_cos != (a->id_net != NULL))
        return cli_usage_error(CMD, "%s needs %s", a->has_id_cos ? "--min-identity-cos" :
                               "--identity-network", a->has_id_cos ? "--identity-network ID" :
                               "--min-identity-cos X");
    fs_status s = prepare(&st);
    if (s == FS_OK && (s = run(&st)) != FS_OK) {
        remove_written(&st);
        cli_new_dirs_remove(&st.made); /* only what this run created, and only if empty */
    }
    if (s == FS_OK && !a->quiet)
        fprintf(stderr, "facesynth augment: kept %llu of %llu candidates from %llu images "
                "(nme <= %g%s)\n", (unsigned long long)st.kept,
                (unsigned long long)st.n * (unsigned long long)a->per_image,
                (unsigned long long)st.n, a->max_nme,
                a->id_net ? ", identity cosine above the minimum" : "");
    int rc = s == FS_OK ? 0 : cli_fail(s);
    state_free(&st);
    return rc;
}
