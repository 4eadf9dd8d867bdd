/* The dataset's plan (dataset.h): the seeded draws that define every image,
 * the job file, names, manifest lines, layer lists and shards. Nothing here
 * touches a network or a file; dataset_render.c turns a description into
 * pixels and dataset_run.c writes them.
 *
 * The draws are written so that a reader with numpy (or a few lines of
 * Python with the same MT19937) can recompute them from docs/datasets.md:
 * tests/test_dataset_reader.py does. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../weights_tools/json.h"
#include "dataset.h"
#include "dataset_internal.h"

/* ---- text buffer ------------------------------------------------------------ */

static int sb_reserve(fs_ds_sb *b, size_t more)
{
    if (b->oom)
        return 0;
    if (b->len + more + 1 <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

void fs_ds_sb_put(fs_ds_sb *b, const char *s, size_t n)
{
    if (!sb_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void fs_ds_sb_printf(fs_ds_sb *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        fs_ds_sb_put(b, small, (size_t)n);
        return;
    }
    if (!sb_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void fs_ds_sb_json_string(fs_ds_sb *b, const char *s)
{
    fs_ds_sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            fs_ds_sb_put(b, e, 2);
        } else if (*p < 0x20) {
            fs_ds_sb_printf(b, "\\u%04x", *p);
        } else {
            fs_ds_sb_put(b, (const char *)p, 1);
        }
    }
    fs_ds_sb_put(b, "\"", 1);
}

void fs_ds_sb_double(fs_ds_sb *b, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        fs_ds_sb_printf(b, "%.0f", v == 0 ? 0.0 : v); /* no "-0" */
    else
        fs_ds_sb_printf(b, "%.17g", v);
}

void fs_ds_sb_float(fs_ds_sb *b, float v)
{
    if (v == floorf(v) && fabsf(v) < 1e7f)
        fs_ds_sb_printf(b, "%.0f", v == 0 ? 0.0 : (double)v);
    else
        fs_ds_sb_printf(b, "%.9g", (double)v);
}

void fs_ds_sb_free(fs_ds_sb *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- the seeded draws ---------------------------------------------------------- */

uint32_t fs_ds_seed32(uint32_t s, uint32_t tag, uint64_t i, uint32_t j)
{
    uint32_t ctr[4] = {(uint32_t)i, (uint32_t)(i >> 32), j, 0}, key[2] = {s, tag}, out[4];
    fs_philox4x32(ctr, key, out);
    return out[0];
}

static double np_standard_exponential(fs_np_random *r)
{
    return -log(1.0 - fs_np_random_double(r)); /* numpy: U in [0, 1) */
}

double fs_ds_np_standard_gamma(fs_np_random *r, double shape)
{
    if (shape == 1.0)
        return np_standard_exponential(r);
    if (shape == 0.0)
        return 0.0;
    if (shape < 1.0) {
        for (;;) {
            double u = fs_np_random_double(r);
            double v = np_standard_exponential(r);
            if (u <= 1.0 - shape) {
                double x = pow(u, 1.0 / shape);
                if (x <= v)
                    return x;
            } else {
                double y = -log((1 - u) / shape);
                double x = pow(1.0 - shape + shape * y, 1.0 / shape);
                if (x <= v + y)
                    return x;
            }
        }
    }
    double b = shape - 1.0 / 3.0, c = 1.0 / sqrt(9 * b);
    for (;;) {
        double x, v;
        do {
            x = fs_np_random_gauss(r);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        double u = fs_np_random_double(r);
        if (u < 1.0 - 0.0331 * (x * x) * (x * x))
            return b * v;
        if (log(u) < 0.5 * x * x + b * (1.0 - v + log(v)))
            return b * v;
    }
}

double fs_ds_np_beta(fs_np_random *r, double a, double b)
{
    if (a <= 1.0 && b <= 1.0) {
        for (;;) { /* Johnk's algorithm */
            double u = fs_np_random_double(r), v = fs_np_random_double(r);
            double x = pow(u, 1.0 / a), y = pow(v, 1.0 / b);
            if (x + y <= 1.0) {
                if (x + y > 0)
                    return x / (x + y);
                /* both underflowed: the same ratio in logs */
                double lx = log(u) / a, ly = log(v) / b, lm = lx > ly ? lx : ly;
                lx -= lm;
                ly -= lm;
                return exp(lx - log(exp(lx) + exp(ly)));
            }
        }
    }
    double ga = fs_ds_np_standard_gamma(r, a);
    double gb = fs_ds_np_standard_gamma(r, b);
    return ga / (ga + gb);
}

/* floor(u * n) for u = random_sample(): an index in [0, n). */
static uint64_t draw_index(fs_np_random *r, uint64_t n)
{
    uint64_t k = (uint64_t)(fs_np_random_double(r) * (double)n);
    return k < n ? k : n - 1;
}

/* ---- layer lists ---------------------------------------------------------------- */

static int parse_uint(const char **p, long *out)
{
    const char *s = *p;
    if (!isdigit((unsigned char)*s))
        return 0;
    long v = 0;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (*s++ - '0');
        if (v > 1000000)
            return 0;
    }
    *p = s;
    *out = v;
    return 1;
}

fs_status fs_ds_parse_layers(const char *s, int num_ws, const char *flag, uint64_t *mask)
{
    *mask = 0;
    if (num_ws < 1 || num_ws > FS_DS_MAX_WS)
        return fs_error(FS_ERR_ARG, "%s: the network has %d ws, at most %d are supported", flag,
                        num_ws, FS_DS_MAX_WS);
    uint64_t all = num_ws == 64 ? ~0ull : (1ull << num_ws) - 1;
    if (!strcmp(s, "none"))
        return FS_OK;
    if (!strcmp(s, "all")) {
        *mask = all;
        return FS_OK;
    }
    const char *p = s;
    for (;;) {
        long a, b;
        const char *item = p;
        if (!parse_uint(&p, &a))
            return fs_error(FS_ERR_ARG, "%s '%s': expected a layer number at '%s' (e.g. 8- or "
                            "0-3,8, or none)", flag, s, item);
        b = a;
        int open = 0;
        if (*p == '-') {
            p++;
            if (*p == ',' || *p == '\0') {
                open = 1;
                b = num_ws - 1;
            } else if (!parse_uint(&p, &b)) {
                return fs_error(FS_ERR_ARG, "%s '%s': expected a layer number after '-'", flag,
                                s);
            }
        }
        if (a >= num_ws)
            return fs_error(FS_ERR_ARG, "%s '%s': layer %ld, but the network has %d ws (0-%d)%s",
                            flag, s, a, num_ws, num_ws - 1,
                            open ? "; give a lower start or 'none'" : "");
        if (b >= num_ws)
            return fs_error(FS_ERR_ARG, "%s '%s': layer %ld, but the network has %d ws (0-%d)",
                            flag, s, b, num_ws, num_ws - 1);
        if (b < a)
            return fs_error(FS_ERR_ARG, "%s '%s': %ld-%ld is an empty range", flag, s, a, b);
        for (long l = a; l <= b; l++)
            *mask |= 1ull << l;
        if (*p == '\0')
            return FS_OK;
        if (*p != ',')
            return fs_error(FS_ERR_ARG, "%s '%s': unexpected '%c'", flag, s, *p);
        p++;
    }
}

void fs_ds_layers_string(uint64_t mask, int num_ws, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int l = 0; l < num_ws && l < 64;) {
        if (!(mask >> l & 1)) {
            l++;
            continue;
        }
        int e = l;
        while (e + 1 < num_ws && e + 1 < 64 && (mask >> (e + 1) & 1))
            e++;
        int k = e > l ? snprintf(buf + n, cap - n, "%s%d-%d", n ? "," : "", l, e)
                      : snprintf(buf + n, cap - n, "%s%d", n ? "," : "", l);
        if (k < 0 || (size_t)k >= cap - n)
            return;
        n += (size_t)k;
        l = e + 1;
    }
    if (n == 0)
        snprintf(buf, cap, "none");
}

/* ---- the job -------------------------------------------------------------------- */

void fs_ds_job_free(fs_ds_job *job)
{
    for (int i = 0; i < job->n_edits; i++) {
        free(job->edits[i].path);
        fs_boundary_free(&job->edits[i].b);
    }
    job->n_edits = 0;
}

static const char *noise_name(fs_noise_mode m)
{
    return m == FS_NOISE_RANDOM ? "random" : m == FS_NOISE_NONE ? "none" : "const";
}

fs_status fs_ds_job_text(const fs_ds_job *j, char **out)
{
    fs_ds_sb b = {0};
    int sg2 = j->family == FS_DS_SG2;
    char layers[256];
    fs_ds_sb_printf(&b, "{\n  \"format_version\": 1,\n");
    fs_ds_sb_printf(&b, "  \"family\": \"%s\",\n", sg2 ? "stylegan2" : "cvaegan");
    fs_ds_sb_printf(&b, "  \"network_sha256\": \"%s\",\n", j->network_sha256);
    fs_ds_sb_printf(&b, "  \"identities\": %" PRIu64 ",\n", j->identities);
    fs_ds_sb_printf(&b, "  \"per_identity\": %" PRIu64 ",\n", j->per_identity);
    fs_ds_sb_printf(&b, "  \"seed\": %" PRIu32 ",\n", j->seed);
    fs_ds_sb_printf(&b, "  \"z_dim\": %d,\n  \"w_dim\": %d,\n  \"num_ws\": %d,\n", j->z_dim,
                    j->w_dim, j->num_ws);
    fs_ds_sb_printf(&b, "  \"classes\": %d,\n", j->n_classes);
    fs_ds_sb_printf(&b, "  \"resolution\": %d,\n  \"channels\": %d,\n", j->img_res,
                    j->img_channels);
    if (sg2) {
        fs_ds_sb_printf(&b, "  \"psi\": ");
        fs_ds_sb_double(&b, j->psi);
        fs_ds_layers_string(j->mix_mask, j->num_ws, layers, sizeof layers);
        fs_ds_sb_printf(&b, ",\n  \"noise\": \"%s\",\n  \"mix_layers\": \"%s\",\n",
                        noise_name(j->noise), layers);
        fs_ds_sb_printf(&b, "  \"edits\": [");
        for (int i = 0; i < j->n_edits; i++) {
            const fs_ds_edit *e = &j->edits[i];
            fs_ds_sb_printf(&b, "%s{\"boundary\": ", i ? ", " : "");
            fs_ds_sb_json_string(&b, e->path);
            fs_ds_sb_printf(&b, ", \"sha256\": \"%s\", \"range\": [", e->b.sha256);
            fs_ds_sb_double(&b, e->lo);
            fs_ds_sb_printf(&b, ", ");
            fs_ds_sb_double(&b, e->hi);
            fs_ds_sb_printf(&b, "]}");
        }
        fs_ds_layers_string(j->edit_mask, j->num_ws, layers, sizeof layers);
        fs_ds_sb_printf(&b, "],\n  \"edit_layers\": \"%s\",\n",
                        j->n_edits ? layers : "none");
    } else {
        fs_ds_sb_printf(&b, "  \"psi\": null,\n  \"noise\": null,\n  \"mix_layers\": null,\n"
                            "  \"edits\": [],\n  \"edit_layers\": null,\n");
    }
    fs_ds_sb_printf(&b, "  \"mixup_prob\": ");
    fs_ds_sb_double(&b, j->mixup_prob);
    fs_ds_sb_printf(&b, ",\n");
    if (j->mixup_prob > 0 && j->mixup_fixed) {
        fs_ds_sb_printf(&b, "  \"mixup_weight\": ");
        fs_ds_sb_double(&b, j->mixup_weight);
        fs_ds_sb_printf(&b, ",\n  \"mixup_beta\": null,\n");
    } else if (j->mixup_prob > 0) {
        fs_ds_sb_printf(&b, "  \"mixup_weight\": null,\n  \"mixup_beta\": [");
        fs_ds_sb_double(&b, j->beta_a);
        fs_ds_sb_printf(&b, ", ");
        fs_ds_sb_double(&b, j->beta_b);
        fs_ds_sb_printf(&b, "],\n");
    } else {
        fs_ds_sb_printf(&b, "  \"mixup_weight\": null,\n  \"mixup_beta\": null,\n");
    }
    if (j->disc_sha256[0])
        fs_ds_sb_printf(&b, "  \"discriminator_sha256\": \"%s\",\n", j->disc_sha256);
    else
        fs_ds_sb_printf(&b, "  \"discriminator_sha256\": null,\n");
    fs_ds_sb_printf(&b, "  \"format\": \"%s\",\n  \"image\": \"%s\",\n",
                    j->format == FS_DS_TAR ? "tar" : "folder",
                    j->image == FS_DS_JPEG ? "jpg" : "png");
    if (j->image == FS_DS_JPEG)
        fs_ds_sb_printf(&b, "  \"quality\": %d,\n", j->quality);
    else
        fs_ds_sb_printf(&b, "  \"quality\": null,\n");
    fs_ds_sb_printf(&b, "  \"chunk\": %" PRIu64 ",\n  \"precision\": \"%s\"\n}\n", j->chunk,
                    j->precision);
    if (b.oom) {
        fs_ds_sb_free(&b);
        return fs_error(FS_ERR_NOMEM, "job.json: out of memory");
    }
    *out = b.p;
    return FS_OK;
}

/* The member of a JSON object, checked for its type. */
static fs_status json_member(const fs_json *o, const char *key, fs_json_type t, int nullable,
                             const char *label, const fs_json **out)
{
    *out = NULL;
    const fs_json *v = fs_json_get(o, key);
    if (!v)
        return fs_error(FS_ERR_FORMAT, "%s: no \"%s\"", label, key);
    if (nullable && v->type == FS_JSON_NULL) {
        *out = NULL;
        return FS_OK;
    }
    int ok = v->type == t || (t == FS_JSON_REAL && v->type == FS_JSON_INT);
    if (!ok)
        return fs_error(FS_ERR_FORMAT, "%s: \"%s\" is %s, expected %s", label, key,
                        fs_json_type_name(v->type), fs_json_type_name(t));
    *out = v;
    return FS_OK;
}

static double json_number(const fs_json *v)
{
    return v->type == FS_JSON_INT ? (double)v->u.integer : v->u.real;
}

static fs_status json_count(const fs_json *o, const char *key, int64_t lo, int64_t hi,
                            const char *label, int64_t *out)
{
    const fs_json *v = NULL;
    FS_TRY(json_member(o, key, FS_JSON_INT, 0, label, &v));
    if (v->u.integer < lo || v->u.integer > hi)
        return fs_error(FS_ERR_FORMAT, "%s: \"%s\" is %" PRId64 ", outside [%" PRId64 ", %" PRId64
                        "]", label, key, v->u.integer, lo, hi);
    *out = v->u.integer;
    return FS_OK;
}

static fs_status json_enum(const fs_json *o, const char *key, const char *a, const char *b,
                           const char *label, int *out)
{
    const fs_json *v = NULL;
    FS_TRY(json_member(o, key, FS_JSON_STRING, 0, label, &v));
    if (!strcmp(v->u.string.chars, a))
        *out = 0;
    else if (!strcmp(v->u.string.chars, b))
        *out = 1;
    else
        return fs_error(FS_ERR_FORMAT, "%s: \"%s\" is '%s', expected '%s' or '%s'", label, key,
                        v->u.string.chars, a, b);
    return FS_OK;
}

static fs_status job_from_json(const fs_json *o, const char *label, fs_ds_job *j)
{
    if (o->type != FS_JSON_OBJECT)
        return fs_error(FS_ERR_FORMAT, "%s: not a JSON object", label);
    int64_t v;
    int e;
    FS_TRY(json_count(o, "format_version", 1, 1, label, &v));
    FS_TRY(json_enum(o, "family", "stylegan2", "cvaegan", label, &e));
    j->family = e ? FS_DS_CVAE : FS_DS_SG2;
    FS_TRY(json_count(o, "identities", 1, (int64_t)FS_DS_MAX_IDENTITIES, label, &v));
    j->identities = (uint64_t)v;
    FS_TRY(json_count(o, "per_identity", 1, (int64_t)FS_DS_MAX_IMAGES, label, &v));
    j->per_identity = (uint64_t)v;
    FS_TRY(json_count(o, "seed", 0, UINT32_MAX, label, &v));
    j->seed = (uint32_t)v;
    FS_TRY(json_count(o, "classes", 0, INT32_MAX, label, &v));
    j->n_classes = (int)v;
    FS_TRY(json_count(o, "chunk", 1, (int64_t)FS_DS_MAX_IMAGES, label, &v));
    j->chunk = (uint64_t)v;
    FS_TRY(json_enum(o, "format", "folder", "tar", label, &e));
    j->format = e ? FS_DS_TAR : FS_DS_FOLDER;
    FS_TRY(json_enum(o, "image", "png", "jpg", label, &e));
    j->image = e ? FS_DS_JPEG : FS_DS_PNG;
    const fs_json *m;
    FS_TRY(json_member(o, "mixup_prob", FS_JSON_REAL, 0, label, &m));
    j->mixup_prob = json_number(m);
    if (!(j->mixup_prob >= 0 && j->mixup_prob <= 1))
        return fs_error(FS_ERR_FORMAT, "%s: \"mixup_prob\" outside [0, 1]", label);
    if (j->mixup_prob > 0) {
        FS_TRY(json_member(o, "mixup_weight", FS_JSON_REAL, 1, label, &m));
        if (m) {
            j->mixup_fixed = 1;
            j->mixup_weight = json_number(m);
        } else {
            FS_TRY(json_member(o, "mixup_beta", FS_JSON_ARRAY, 0, label, &m));
            if (m->u.array.count != 2 || (m->u.array.items[0].type != FS_JSON_INT &&
                                          m->u.array.items[0].type != FS_JSON_REAL) ||
                (m->u.array.items[1].type != FS_JSON_INT &&
                 m->u.array.items[1].type != FS_JSON_REAL))
                return fs_error(FS_ERR_FORMAT, "%s: \"mixup_beta\" is not two numbers", label);
            j->beta_a = json_number(&m->u.array.items[0]);
            j->beta_b = json_number(&m->u.array.items[1]);
        }
    }
    return FS_OK;
}

fs_status fs_ds_job_parse(const char *text, size_t len, const char *label, fs_ds_job *out)
{
    memset(out, 0, sizeof *out);
    fs_json *o;
    FS_TRY(fs_json_parse((const uint8_t *)text, len, label, 0, &o));
    fs_status s = job_from_json(o, label, out);
    fs_json_free(o);
    return s;
}

/* The line of text at p (without its newline), trimmed of the indentation
 * and a trailing comma, into buf. */
static void line_at(const char *p, char *buf, size_t cap)
{
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\n");
    if (n > 0 && p[n - 1] == ',')
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
}

fs_status fs_ds_job_compare(const char *existing, const char *ours, const char *label)
{
    const char *a = existing, *b = ours;
    while (*a && *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || memcmp(a, b, la) != 0) {
            char was[200], now[200];
            line_at(a, was, sizeof was);
            line_at(b, now, sizeof now);
            return fs_error(FS_ERR_ARG, "%s holds a dataset made with other flags: %s there, %s "
                            "here; give a new --outdir (or the same flags to --resume)", label,
                            was, now);
        }
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
    }
    if (*a || *b)
        return fs_error(FS_ERR_ARG, "%s holds a dataset made with other flags (its job.json "
                        "differs); give a new --outdir", label);
    return FS_OK;
}

/* ---- the plan -------------------------------------------------------------------- */

static int digits(uint64_t v)
{
    int d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

static int max_int(int a, int b) { return a > b ? a : b; }

fs_status fs_ds_plan_init(fs_ds_plan *p, const fs_ds_job *j)
{
    memset(p, 0, sizeof *p);
    p->job = j;
    if (j->identities < 1 || j->identities > FS_DS_MAX_IDENTITIES)
        return fs_error(FS_ERR_ARG, "--identities must be from 1 to %llu",
                        (unsigned long long)FS_DS_MAX_IDENTITIES);
    /* the variation is the 32-bit word j of its stream's counter */
    if (j->per_identity < 1 || j->per_identity > UINT32_MAX)
        return fs_error(FS_ERR_ARG, "--per-identity must be from 1 to %lu",
                        (unsigned long)UINT32_MAX);
    if (j->identities > FS_DS_MAX_IMAGES / j->per_identity)
        return fs_error(FS_ERR_ARG, "--identities %llu x --per-identity %llu is more than %llu "
                        "images", (unsigned long long)j->identities,
                        (unsigned long long)j->per_identity,
                        (unsigned long long)FS_DS_MAX_IMAGES);
    if (j->chunk < 1 || j->chunk > FS_DS_MAX_IMAGES)
        return fs_error(FS_ERR_ARG, "--chunk-size must be at least 1");
    if (j->family == FS_DS_CVAE && j->identities > (uint64_t)j->n_classes)
        return fs_error(FS_ERR_ARG, "--identities %llu: the CVAE-GAN has %d identities (its "
                        "classes)", (unsigned long long)j->identities, j->n_classes);
    if (!(j->mixup_prob >= 0 && j->mixup_prob <= 1))
        return fs_error(FS_ERR_ARG, "--mixup-prob must be in [0, 1]");
    p->total = j->identities * j->per_identity;
    p->n_chunks = (p->total + j->chunk - 1) / j->chunk;
    p->id_digits = max_int(5, digits(j->identities - 1));
    p->var_digits = max_int(4, digits(j->per_identity - 1));
    p->chunk_digits = max_int(6, digits(p->n_chunks - 1));
    p->index_digits = max_int(9, digits(p->total - 1));
    if (j->mixup_prob == 0)
        return FS_OK;
    if (j->mixup_fixed ? !(j->mixup_weight >= 0 && j->mixup_weight <= 1)
                       : !(j->beta_a > 0 && j->beta_b > 0))
        return fs_error(FS_ERR_ARG, j->mixup_fixed ? "--mixup-weight must be in [0, 1]"
                                                   : "--mixup-beta needs two numbers > 0");
    /* dataset.json holds a soft label vector of every image */
    if (j->identities > FS_DS_MAX_SOFT_VALUES / p->total)
        return fs_error(FS_ERR_LIMIT, "--mixup-prob: %llu images with soft labels over %llu "
                        "identities are more than %llu numbers for dataset.json; use fewer "
                        "identities or images per job", (unsigned long long)p->total,
                        (unsigned long long)j->identities,
                        (unsigned long long)FS_DS_MAX_SOFT_VALUES);
    p->mixed = malloc(j->identities);
    p->pure = malloc(j->identities * sizeof *p->pure);
    if (!p->mixed || !p->pure) {
        fs_ds_plan_free(p);
        return fs_error(FS_ERR_NOMEM, "out of memory for %llu identities' mixup draws",
                        (unsigned long long)j->identities);
    }
    for (uint64_t i = 0; i < j->identities; i++) {
        fs_np_random r;
        fs_np_random_seed(&r, fs_ds_seed32(j->seed, FS_DS_TAG_MIXUP, i, 0));
        p->mixed[i] = fs_np_random_double(&r) < j->mixup_prob;
        if (!p->mixed[i])
            p->pure[p->n_pure++] = (uint32_t)i;
    }
    if (p->n_pure < 2 && p->n_pure < j->identities) {
        uint64_t np = p->n_pure;
        fs_ds_plan_free(p);
        return fs_error(FS_ERR_ARG, "--mixup-prob %g leaves %llu pure identit%s of %llu with "
                        "--seed %u: a mixed identity needs two (lower --mixup-prob or add "
                        "identities)", j->mixup_prob, (unsigned long long)np,
                        np == 1 ? "y" : "ies", (unsigned long long)j->identities, j->seed);
    }
    return FS_OK;
}

void fs_ds_plan_free(fs_ds_plan *p)
{
    free(p->mixed);
    free(p->pure);
    p->mixed = NULL;
    p->pure = NULL;
}

void fs_ds_identity_mixup(const fs_ds_plan *p, uint64_t i, int *mixed, uint64_t src[2],
                          double *phi)
{
    const fs_ds_job *j = p->job;
    *mixed = p->mixed ? p->mixed[i] : 0;
    src[0] = src[1] = i;
    *phi = 1.0;
    if (!*mixed)
        return;
    /* the same stream as the decision, after its first draw */
    fs_np_random r;
    fs_np_random_seed(&r, fs_ds_seed32(j->seed, FS_DS_TAG_MIXUP, i, 0));
    (void)fs_np_random_double(&r);
    uint64_t ka = draw_index(&r, p->n_pure), kb = draw_index(&r, p->n_pure - 1);
    kb += kb >= ka;
    src[0] = p->pure[ka];
    src[1] = p->pure[kb];
    *phi = j->mixup_fixed ? j->mixup_weight : fs_ds_np_beta(&r, j->beta_a, j->beta_b);
}

void fs_ds_identity_z(const fs_ds_plan *p, uint64_t i, float *z)
{
    fs_np_random r;
    fs_np_random_seed(&r, (uint32_t)(p->job->seed + i));
    for (int k = 0; k < p->job->z_dim; k++)
        z[k] = (float)fs_np_random_gauss(&r); /* randn in float64, cast as the mapping does */
}

void fs_ds_describe(const fs_ds_plan *p, uint64_t g, fs_ds_image_info *info, float *z_var)
{
    const fs_ds_job *j = p->job;
    memset(info, 0, sizeof *info);
    info->index = g;
    info->identity = g / j->per_identity;
    info->variation = g % j->per_identity;
    info->chunk = g / j->chunk;
    info->identity_seed = (uint32_t)(j->seed + info->identity);
    info->variation_seed = fs_ds_seed32(j->seed, FS_DS_TAG_VARIATION, info->identity,
                                        (uint32_t)info->variation);
    fs_np_random r;
    fs_np_random_seed(&r, info->variation_seed);
    for (int k = 0; k < j->z_dim; k++) {
        double v = fs_np_random_gauss(&r);
        if (z_var)
            z_var[k] = (float)v;
    }
    for (int e = 0; e < j->n_edits; e++)
        fs_edit_draw_alphas(&r, j->edits[e].lo, j->edits[e].hi, 1, &info->alpha[e]);
    fs_ds_identity_mixup(p, info->identity, &info->mixed, info->src, &info->phi);
    info->weight[0] = (float)info->phi;
    info->weight[1] = (float)(1.0 - info->phi);
}

/* ---- names ------------------------------------------------------------------------ */

void fs_ds_image_name(const fs_ds_plan *p, uint64_t g, char *buf, size_t cap)
{
    const char *ext = p->job->image == FS_DS_JPEG ? "jpg" : "png";
    if (p->job->format == FS_DS_TAR)
        snprintf(buf, cap, "%0*" PRIu64 ".%s", p->index_digits, g, ext);
    else
        snprintf(buf, cap, "%0*" PRIu64 "/%0*" PRIu64 ".%s", p->id_digits,
                 g / p->job->per_identity, p->var_digits, g % p->job->per_identity, ext);
}

void fs_ds_tar_name(const fs_ds_plan *p, uint64_t chunk, char *buf, size_t cap)
{
    snprintf(buf, cap, "%0*" PRIu64 ".tar", p->chunk_digits, chunk);
}

void fs_ds_part_name(const fs_ds_plan *p, uint64_t chunk, char *buf, size_t cap)
{
    snprintf(buf, cap, "manifest.part-%0*" PRIu64 ".jsonl", p->chunk_digits, chunk);
}

void fs_ds_chunk_images(const fs_ds_plan *p, uint64_t c, uint64_t *g0, uint64_t *g1)
{
    *g0 = c * p->job->chunk;
    *g1 = *g0 + p->job->chunk < p->total ? *g0 + p->job->chunk : p->total;
}

/* ---- manifest lines ----------------------------------------------------------------- */

fs_status fs_ds_manifest_line(const fs_ds_plan *p, const fs_ds_image_info *in,
                              const double *score, char **out, size_t *len)
{
    const fs_ds_job *j = p->job;
    int sg2 = j->family == FS_DS_SG2;
    char name[96], layers[256];
    fs_ds_sb b = {0};
    fs_ds_image_name(p, in->index, name, sizeof name);
    fs_ds_sb_printf(&b, "{\"index\":%" PRIu64 ",\"file\":\"%s\"", in->index, name);
    if (j->format == FS_DS_TAR) {
        fs_ds_tar_name(p, in->chunk, name, sizeof name);
        fs_ds_sb_printf(&b, ",\"tar\":\"%s\"", name);
    }
    fs_ds_sb_printf(&b, ",\"identity\":%" PRIu64 ",\"variation\":%" PRIu64 ",\"label\":[",
                    in->identity, in->variation);
    if (in->mixed) {
        fs_ds_sb_printf(&b, "[%" PRIu64 ",", in->src[0]);
        fs_ds_sb_float(&b, in->weight[0]);
        fs_ds_sb_printf(&b, "],[%" PRIu64 ",", in->src[1]);
        fs_ds_sb_float(&b, in->weight[1]);
        fs_ds_sb_printf(&b, "]]");
    } else {
        fs_ds_sb_printf(&b, "[%" PRIu64 ",1]]", in->identity);
    }
    fs_ds_sb_printf(&b, ",\"family\":\"%s\",\"network_sha256\":\"%s\",\"seed\":%" PRIu32,
                    sg2 ? "stylegan2" : "cvaegan", j->network_sha256, j->seed);
    if (sg2)
        fs_ds_sb_printf(&b, ",\"identity_seed\":%" PRIu32, in->identity_seed);
    else
        fs_ds_sb_printf(&b, ",\"identity_seed\":null");
    fs_ds_sb_printf(&b, ",\"variation_seed\":%" PRIu32, in->variation_seed);
    if (sg2) {
        fs_ds_sb_printf(&b, ",\"psi\":");
        fs_ds_sb_double(&b, j->psi);
        fs_ds_layers_string(j->mix_mask, j->num_ws, layers, sizeof layers);
        fs_ds_sb_printf(&b, ",\"noise\":\"%s\",\"noise_seed\":", noise_name(j->noise));
        if (j->noise == FS_NOISE_RANDOM)
            fs_ds_sb_printf(&b, "%" PRIu32, in->variation_seed);
        else
            fs_ds_sb_printf(&b, "null");
        fs_ds_sb_printf(&b, ",\"mix_layers\":\"%s\"", layers);
    } else {
        fs_ds_sb_printf(&b, ",\"psi\":null,\"noise\":null,\"noise_seed\":null,"
                            "\"mix_layers\":null");
    }
    if (in->mixed) {
        fs_ds_sb_printf(&b, ",\"mixup\":{\"sources\":[%" PRIu64 ",%" PRIu64 "],\"phi\":",
                        in->src[0], in->src[1]);
        fs_ds_sb_double(&b, in->phi);
        fs_ds_sb_printf(&b, "}");
    } else {
        fs_ds_sb_printf(&b, ",\"mixup\":null");
    }
    fs_ds_sb_printf(&b, ",\"edits\":[");
    fs_ds_layers_string(j->edit_mask, j->num_ws, layers, sizeof layers);
    for (int e = 0; e < j->n_edits; e++) {
        fs_ds_sb_printf(&b, "%s{\"boundary\":", e ? "," : "");
        fs_ds_sb_json_string(&b, j->edits[e].path);
        fs_ds_sb_printf(&b, ",\"sha256\":\"%s\",\"alpha\":", j->edits[e].b.sha256);
        fs_ds_sb_double(&b, in->alpha[e]);
        fs_ds_sb_printf(&b, ",\"layers\":\"%s\"}", layers);
    }
    fs_ds_sb_printf(&b, "],\"filter\":");
    if (score) {
        fs_ds_sb_printf(&b, "{\"realism\":");
        fs_ds_sb_double(&b, *score);
        fs_ds_sb_printf(&b, "}}");
    } else {
        fs_ds_sb_printf(&b, "null}");
    }
    if (b.oom) {
        fs_ds_sb_free(&b);
        return fs_error(FS_ERR_NOMEM, "out of memory for a manifest line");
    }
    *out = b.p;
    *len = b.len;
    return FS_OK;
}

/* ---- shards --------------------------------------------------------------------------- */

static int parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 20)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return 0;
        if (v > (max - (uint64_t)(s[i] - '0')) / 10)
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 1;
}

fs_status fs_ds_shard_parse(const char *spec, fs_ds_shard *out)
{
    const char *slash = strchr(spec, '/');
    uint64_t k, n;
    if (!slash || !parse_u64(spec, (size_t)(slash - spec), UINT64_MAX, &k) ||
        !parse_u64(slash + 1, strlen(slash + 1), UINT64_MAX, &n))
        return fs_error(FS_ERR_ARG, "--shard '%s': expected K/N (shard K of N, 0 <= K < N) or "
                        "auto", spec);
    if (n == 0 || n > (1ull << 32))
        return fs_error(FS_ERR_ARG, "--shard '%s': N must be from 1 to 4294967296", spec);
    if (k >= n)
        return fs_error(FS_ERR_ARG, "--shard '%s': K is %llu, but shards are numbered 0 to %llu",
                        spec, (unsigned long long)k, (unsigned long long)(n - 1));
    out->k = k;
    out->n = n;
    return FS_OK;
}

/* A non-negative integer environment variable: 1 and the value, 0 when
 * unset, -1 (and an error) when set to something else. */
static int env_u64(fs_ds_getenv_fn get, void *ctx, const char *name, uint64_t *out)
{
    const char *v = get(name, ctx);
    if (!v || !*v)
        return 0;
    if (!parse_u64(v, strlen(v), UINT32_MAX, out)) {
        fs_error(FS_ERR_ARG, "--shard auto: %s is '%s', not a number", name, v);
        return -1;
    }
    return 1;
}

fs_status fs_ds_shard_auto(fs_ds_getenv_fn get, void *ctx, fs_ds_shard *out, char *source,
                           size_t cap)
{
    uint64_t id, cnt, lo, hi, step = 1, rank, size, step_id;
    int r;
    if ((r = env_u64(get, ctx, "SLURM_ARRAY_TASK_ID", &id)) != 0) {
        if (r < 0)
            return FS_ERR_ARG;
        int rl = env_u64(get, ctx, "SLURM_ARRAY_TASK_MIN", &lo);
        int rh = env_u64(get, ctx, "SLURM_ARRAY_TASK_MAX", &hi);
        int rs = env_u64(get, ctx, "SLURM_ARRAY_TASK_STEP", &step);
        int rc = env_u64(get, ctx, "SLURM_ARRAY_TASK_COUNT", &cnt);
        if (rl < 0 || rh < 0 || rs < 0 || rc < 0)
            return FS_ERR_ARG;
        if (rs == 0 || step == 0)
            step = 1;
        if (rl == 0)
            return fs_error(FS_ERR_ARG, "--shard auto: SLURM_ARRAY_TASK_ID is set but "
                            "SLURM_ARRAY_TASK_MIN is not");
        if (id < lo || (id - lo) % step)
            return fs_error(FS_ERR_ARG, "--shard auto: array task %llu is not min %llu plus a "
                            "multiple of step %llu", (unsigned long long)id,
                            (unsigned long long)lo, (unsigned long long)step);
        if (rh > 0 && hi >= lo && rc > 0 && (hi - lo) / step + 1 != cnt)
            return fs_error(FS_ERR_ARG, "--shard auto: the array %llu-%llu:%llu has %llu tasks "
                            "but SLURM_ARRAY_TASK_COUNT is %llu (a list like --array=1,5,9 "
                            "cannot be numbered: use --array=A-B or --shard K/N)",
                            (unsigned long long)lo, (unsigned long long)hi,
                            (unsigned long long)step, (unsigned long long)((hi - lo) / step + 1),
                            (unsigned long long)cnt);
        if (rc == 0) {
            if (rh == 0 || hi < lo)
                return fs_error(FS_ERR_ARG, "--shard auto: neither SLURM_ARRAY_TASK_COUNT nor "
                                "SLURM_ARRAY_TASK_MAX is set");
            cnt = (hi - lo) / step + 1;
        }
        out->k = (id - lo) / step;
        out->n = cnt;
        if (out->k >= out->n)
            return fs_error(FS_ERR_ARG, "--shard auto: array task %llu is past the %llu tasks",
                            (unsigned long long)id, (unsigned long long)cnt);
        snprintf(source, cap, "slurm array task %llu of %llu-%llu", (unsigned long long)id,
                 (unsigned long long)lo, (unsigned long long)(lo + (cnt - 1) * step));
        /* several tasks in a job step of each array task: split further */
        if (env_u64(get, ctx, "SLURM_STEP_ID", &step_id) > 0 &&
            env_u64(get, ctx, "SLURM_NTASKS", &size) > 0 && size > 1 &&
            env_u64(get, ctx, "SLURM_PROCID", &rank) > 0 && rank < size) {
            out->k = out->k * size + rank;
            out->n *= size;
            size_t l = strlen(source);
            snprintf(source + l, cap - l, ", task %llu of %llu", (unsigned long long)rank,
                     (unsigned long long)size);
        }
        return FS_OK;
    }
    static const struct {
        const char *rank, *size, *what, *needs;
    } kinds[] = {
        {"SLURM_PROCID", "SLURM_NTASKS", "slurm job step", "SLURM_STEP_ID"},
        {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "open mpi", NULL},
        {"PMI_RANK", "PMI_SIZE", "pmi", NULL},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        if (kinds[i].needs && env_u64(get, ctx, kinds[i].needs, &step_id) <= 0)
            continue;
        int rr = env_u64(get, ctx, kinds[i].rank, &rank);
        int rz = env_u64(get, ctx, kinds[i].size, &size);
        if (rr < 0 || rz < 0)
            return FS_ERR_ARG;
        if (rr == 0 && rz == 0)
            continue;
        if (rr == 0 || rz == 0)
            return fs_error(FS_ERR_ARG, "--shard auto: %s is set but %s is not",
                            rr ? kinds[i].rank : kinds[i].size, rr ? kinds[i].size : kinds[i].rank);
        if (size == 0 || rank >= size)
            return fs_error(FS_ERR_ARG, "--shard auto: %s %llu is not below %s %llu",
                            kinds[i].rank, (unsigned long long)rank, kinds[i].size,
                            (unsigned long long)size);
        out->k = rank;
        out->n = size;
        snprintf(source, cap, "%s rank %llu of %llu", kinds[i].what, (unsigned long long)rank,
                 (unsigned long long)size);
        return FS_OK;
    }
    return fs_error(FS_ERR_ARG, "--shard auto: no Slurm array task (SLURM_ARRAY_TASK_ID), Slurm "
                    "job step (SLURM_PROCID with SLURM_STEP_ID), Open MPI or PMI rank in the "
                    "environment; give --shard K/N");
}

void fs_ds_shard_chunks(const fs_ds_shard *s, uint64_t n_chunks, uint64_t *c0, uint64_t *c1)
{
    /* floor(k C / n) without overflow (k C may pass 2^64): with C = q n + r,
     * it is k q + floor(k r / n), and k r < n^2 <= 2^64 */
    uint64_t q = n_chunks / s->n, r = n_chunks % s->n;
    *c0 = s->k * q + s->k * r / s->n;
    *c1 = (s->k + 1) * q + (s->k + 1) * r / s->n;
}
