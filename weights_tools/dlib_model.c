/* Reader of dlib shape predictor files (see dlib_model.h; the format is in
 * docs/landmarks.md).
 *
 * One pass over the bytes with a cursor. Before any allocation for a count,
 * the count is checked against the bytes left divided by the smallest
 * encoding of one element, so a hostile count can neither overflow nor make
 * us reserve more than a small multiple of the file size. Arrays grow by
 * doubling within that bound. Split indices can only be checked after the
 * feature pools (they come after the forests in the file), so that check
 * is a second, cheap walk over the splits. */
#include "dlib_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/file.h"

/* Smallest encodings: an integer is a control byte plus at least one
 * magnitude byte; a float is two integers. */
#define MIN_INT 2u
#define MIN_FLOAT 4u
#define MIN_SPLIT (2 * MIN_INT + MIN_FLOAT)

/* dlib's special float exponents (inf, -inf, NaN) start here. */
#define DLIB_EXP_SPECIAL 32000

typedef struct {
    const uint8_t *base, *p, *end;
    const char *label;
    char where[96]; /* what is being read, for messages: "level 3, tree 17" */
} cursor;

static uint64_t cur_off(const cursor *c)
{
    return (uint64_t)(c->p - c->base);
}

static size_t cur_left(const cursor *c)
{
    return (size_t)(c->end - c->p);
}

static fs_status bad(const cursor *c, fs_status s, const char *what)
{
    return fs_error(s, "%s: offset %llu: %s%s%s", c->label, (unsigned long long)cur_off(c),
                    c->where, c->where[0] ? ": " : "", what);
}

static fs_status truncated(const cursor *c, const char *what)
{
    return fs_error(FS_ERR_FORMAT, "%s: offset %llu: %s%struncated: the file ends inside %s",
                    c->label, (unsigned long long)cur_off(c), c->where, c->where[0] ? ": " : "",
                    what);
}

/* The magnitude bytes of an integer whose control byte says n (1..8). */
static inline uint64_t magnitude(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = n; k-- > 0;)
        v = v << 8 | p[k];
    return v;
}

/* An unsigned integer (dlib's `unsigned long`, 8 bytes). dlib masks the
 * control byte with 0x8f: the three reserved bits are ignored and a sign
 * bit makes the byte count invalid. */
static inline fs_status read_u64(cursor *c, const char *what, uint64_t *out)
{
    if (c->p >= c->end)
        return truncated(c, what);
    unsigned n = c->p[0] & 0x8fu;
    if (n == 0 || n > 8) {
        char m[160];
        snprintf(m, sizeof m, "%s: invalid integer control byte 0x%02x (byte count %u; an "
                 "unsigned integer takes 1 to 8)", what, c->p[0], n);
        return bad(c, FS_ERR_FORMAT, m);
    }
    if (cur_left(c) < 1 + (size_t)n)
        return truncated(c, what);
    *out = magnitude(c->p + 1, n);
    c->p += 1 + n;
    return FS_OK;
}

/* A signed integer of `size` bytes (int 4, long 8, int16 2): bit 7 of the
 * control byte is the sign, the low four bits the byte count; the value is
 * sign and magnitude. A magnitude the type cannot hold is refused (dlib
 * would wrap it). */
static inline fs_status read_signed(cursor *c, unsigned size, const char *what, int64_t *out)
{
    if (c->p >= c->end)
        return truncated(c, what);
    unsigned ctrl = c->p[0], n = ctrl & 0x0fu;
    if (n == 0 || n > size) {
        char m[160];
        snprintf(m, sizeof m, "%s: invalid integer control byte 0x%02x (byte count %u; this "
                 "integer takes 1 to %u)", what, ctrl, n, size);
        return bad(c, FS_ERR_FORMAT, m);
    }
    if (cur_left(c) < 1 + (size_t)n)
        return truncated(c, what);
    uint64_t v = magnitude(c->p + 1, n);
    uint64_t max = size >= 8 ? (uint64_t)INT64_MAX : (UINT64_C(1) << (8 * size - 1)) - 1;
    if (v > max) {
        char m[160];
        snprintf(m, sizeof m, "%s: magnitude %llu does not fit a %u-byte signed integer", what,
                 (unsigned long long)v, size);
        return bad(c, FS_ERR_FORMAT, m);
    }
    c->p += 1 + n;
    *out = (ctrl & 0x80u) ? -(int64_t)v : (int64_t)v;
    return FS_OK;
}

/* A float: int64 mantissa then int16 exponent, value mantissa * 2^exponent
 * computed as dlib does, (float)mantissa then ldexpf. Non-finite values
 * (dlib's exponents 32000..32002, or an overflowing product) are refused:
 * no model needs them, and a NaN threshold or leaf would silently poison
 * every prediction. */
static inline fs_status read_f32(cursor *c, const char *what, float *out)
{
    if (c->p < c->end && (c->p[0] & 0x70u)) {
        /* dlib writes ASCII text there in its pre-2013 format */
        char m[160];
        snprintf(m, sizeof m, "%s: float in dlib's old ASCII encoding (first byte 0x%02x): not "
                 "supported (re-save the model with a current dlib)", what, c->p[0]);
        return bad(c, FS_ERR_UNSUPPORTED, m);
    }
    const uint8_t *at = c->p;
    int64_t mant = 0, ex = 0;
    FS_TRY(read_signed(c, 8, what, &mant));
    FS_TRY(read_signed(c, 2, what, &ex));
    if (ex >= DLIB_EXP_SPECIAL) {
        char m[160];
        snprintf(m, sizeof m, "%s: %s", what, ex == DLIB_EXP_SPECIAL ? "+inf" :
                 ex == DLIB_EXP_SPECIAL + 1 ? "-inf" : "NaN");
        c->p = at;
        return bad(c, FS_ERR_FORMAT, m);
    }
    float v = ldexpf((float)mant, (int)ex);
    if (!isfinite(v)) {
        char m[200];
        snprintf(m, sizeof m, "%s: %lld * 2^%lld overflows float32", what, (long long)mant,
                 (long long)ex);
        c->p = at;
        return bad(c, FS_ERR_FORMAT, m);
    }
    *out = v;
    return FS_OK;
}

/* A count of elements each encoded in at least min_bytes: no larger than
 * the bytes left allow, and no larger than cap. */
static fs_status read_count(cursor *c, const char *what, size_t min_bytes, uint64_t cap,
                            uint64_t *out)
{
    const uint8_t *at = c->p;
    FS_TRY(read_u64(c, what, out));
    uint64_t fits = cur_left(c) / min_bytes;
    if (*out > fits || *out > cap) {
        c->p = at;
        char m[200];
        if (*out > cap)
            snprintf(m, sizeof m, "%s %llu exceeds the limit of %llu", what,
                     (unsigned long long)*out, (unsigned long long)cap);
        else
            snprintf(m, sizeof m, "%s %llu cannot fit in the %zu bytes left", what,
                     (unsigned long long)*out, cur_left(c));
        return bad(c, *out > cap ? FS_ERR_LIMIT : FS_ERR_FORMAT, m);
    }
    return FS_OK;
}

/* A matrix<float,0,1> header: `long` rows and columns, negated in the
 * current format (dlib also reads the older non-negated one). It must be a
 * column of `want` rows (want 0: any even count of at least 2). */
static fs_status read_column_header(cursor *c, const char *what, uint64_t want, uint64_t *rows)
{
    const uint8_t *at = c->p;
    int64_t nr = 0, nc = 0;
    FS_TRY(read_signed(c, 8, what, &nr));
    FS_TRY(read_signed(c, 8, what, &nc));
    if (nr < 0 || nc < 0) {
        if (nr > 0 || nc > 0) {
            c->p = at;
            char m[160];
            snprintf(m, sizeof m, "%s: matrix dimensions %lld x %lld mix the two encodings", what,
                     (long long)nr, (long long)nc);
            return bad(c, FS_ERR_FORMAT, m);
        }
        nr = -nr;
        nc = -nc;
    }
    char m[200];
    if (nc != 1)
        snprintf(m, sizeof m, "%s: matrix of %lld x %lld, expected a column (%lld x 1)", what,
                 (long long)nr, (long long)nc, (long long)(want ? want : (uint64_t)nr));
    else if (want && (uint64_t)nr != want)
        snprintf(m, sizeof m, "%s: %lld values, expected %llu (two per part)", what,
                 (long long)nr, (unsigned long long)want);
    else if (!want && (nr < 2 || nr % 2))
        snprintf(m, sizeof m, "%s: %lld values: needs an even count of at least 2 (x, y per "
                 "part)", what, (long long)nr);
    else if ((uint64_t)nr > cur_left(c) / MIN_FLOAT)
        snprintf(m, sizeof m, "%s: %lld floats cannot fit in the %zu bytes left", what,
                 (long long)nr, cur_left(c));
    else {
        *rows = (uint64_t)nr;
        return FS_OK;
    }
    c->p = at;
    return bad(c, FS_ERR_FORMAT, m);
}

/* ---- growing arrays, bounded by what the input can hold ---- */

static fs_status reserve(void **p, uint64_t *cap, uint64_t need, size_t elem)
{
    if (need == 0)
        need = 1; /* never NULL once reserved: pointer arithmetic on it stays defined */
    if (need <= *cap)
        return FS_OK;
    uint64_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    if (nc > SIZE_MAX / elem)
        return fs_error(FS_ERR_NOMEM, "dlib model: out of memory");
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q)
        return fs_error(FS_ERR_NOMEM, "dlib model: out of memory (%llu MiB)",
                        (unsigned long long)(nc * elem >> 20));
    *p = q;
    *cap = nc;
    return FS_OK;
}

typedef struct {
    fs_dlib_model *m;
    uint64_t cap_trees, cap_splits, cap_leaf_floats, cap_features;
} builder;

void fs_dlib_model_free(fs_dlib_model *m)
{
    if (!m)
        return;
    free(m->initial_shape);
    free(m->level_tree);
    free(m->level_feature);
    free(m->tree_split);
    free(m->splits);
    free(m->leaves);
    free(m->anchor);
    free(m->deltas);
    free(m);
}

static fs_status read_floats(cursor *c, const char *what, float *dst, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        FS_TRY(read_f32(c, what, &dst[i]));
    return FS_OK;
}

static fs_status read_tree(cursor *c, builder *b, int level, uint64_t t_in_level)
{
    fs_dlib_model *m = b->m;
    uint64_t D = 2 * (uint64_t)m->num_parts;
    snprintf(c->where, sizeof c->where, "level %d, tree %llu", level,
             (unsigned long long)t_in_level);
    uint64_t ns;
    FS_TRY(read_count(c, "split count", MIN_SPLIT, (UINT64_C(1) << FS_DLIB_MAX_TREE_DEPTH) - 1,
                      &ns));
    uint64_t t = m->num_trees;
    FS_TRY(reserve((void **)&m->tree_split, &b->cap_trees, t + 2, sizeof *m->tree_split));
    FS_TRY(reserve((void **)&m->splits, &b->cap_splits, m->num_splits + ns, sizeof *m->splits));
    fs_dlib_split *sp = m->splits + m->num_splits;
    for (uint64_t i = 0; i < ns; i++) {
        uint64_t a = 0, bb = 0;
        FS_TRY(read_u64(c, "split idx1", &a));
        FS_TRY(read_u64(c, "split idx2", &bb));
        if (a > UINT32_MAX || bb > UINT32_MAX)
            return bad(c, FS_ERR_FORMAT, "split feature index exceeds 2^32 - 1");
        sp[i].idx1 = (uint32_t)a;
        sp[i].idx2 = (uint32_t)bb;
        FS_TRY(read_f32(c, "split threshold", &sp[i].thresh));
    }
    const uint8_t *at = c->p;
    uint64_t nl;
    FS_TRY(read_count(c, "leaf count", 2 * MIN_INT + D * MIN_FLOAT, UINT64_MAX, &nl));
    if (nl != ns + 1 || (nl & (nl - 1)) != 0) {
        c->p = at;
        char msg[160];
        snprintf(msg, sizeof msg, "%llu leaves for %llu splits: a tree must be complete (leaves = "
                 "splits + 1, a power of two)", (unsigned long long)nl, (unsigned long long)ns);
        return bad(c, FS_ERR_FORMAT, msg);
    }
    uint64_t floats = (m->num_leaves + nl) * D;
    FS_TRY(reserve((void **)&m->leaves, &b->cap_leaf_floats, floats, sizeof *m->leaves));
    float *lv = m->leaves + m->num_leaves * D;
    for (uint64_t i = 0; i < nl; i++) {
        uint64_t rows;
        FS_TRY(read_column_header(c, "leaf value", D, &rows));
        FS_TRY(read_floats(c, "leaf value", lv + i * D, D));
    }
    m->tree_split[t] = m->num_splits;
    m->num_splits += ns;
    m->num_leaves += nl;
    m->num_trees = t + 1;
    m->tree_split[t + 1] = m->num_splits;
    return FS_OK;
}

static fs_status parse(cursor *c, builder *b)
{
    fs_dlib_model *m = b->m;
    int64_t version = 0;
    if (cur_left(c) < 2)
        return truncated(c, "the version");
    if (read_signed(c, 4, "version", &version) != FS_OK) {
        /* no magic in this format: the version integer is all there is */
        c->p = c->base;
        return bad(c, FS_ERR_FORMAT, "not a dlib shape predictor: the file does not start with "
                   "dlib's version integer");
    }
    if (version != 1) {
        c->p = c->base;
        char msg[160];
        snprintf(msg, sizeof msg, "version %lld, expected 1: not a dlib shape predictor (or one "
                 "from a future dlib)", (long long)version);
        return bad(c, FS_ERR_FORMAT, msg);
    }

    m->offsets[0] = cur_off(c);
    snprintf(c->where, sizeof c->where, "initial shape");
    uint64_t rows;
    FS_TRY(read_column_header(c, "initial shape", 0, &rows));
    if (rows / 2 > FS_DLIB_MAX_PARTS) {
        char msg[96];
        snprintf(msg, sizeof msg, "%llu parts exceed the limit of %d", (unsigned long long)rows / 2,
                 FS_DLIB_MAX_PARTS);
        return bad(c, FS_ERR_LIMIT, msg);
    }
    m->num_parts = (int)(rows / 2);
    if (!(m->initial_shape = malloc(rows * sizeof *m->initial_shape)))
        return fs_error(FS_ERR_NOMEM, "dlib model: out of memory");
    FS_TRY(read_floats(c, "initial shape", m->initial_shape, rows));
    uint64_t D = rows;

    m->offsets[1] = cur_off(c);
    snprintf(c->where, sizeof c->where, "forests");
    uint64_t levels;
    FS_TRY(read_count(c, "level count", MIN_INT, FS_DLIB_MAX_LEVELS, &levels));
    m->num_levels = (int)levels;
    m->level_tree = calloc(levels + 1, sizeof *m->level_tree);
    m->level_feature = calloc(levels + 1, sizeof *m->level_feature);
    if (!m->level_tree || !m->level_feature)
        return fs_error(FS_ERR_NOMEM, "dlib model: out of memory");
    /* smallest tree: two counts, one leaf of D floats with its header */
    size_t min_tree = 2 * MIN_INT + 2 * MIN_INT + D * MIN_FLOAT;
    for (int l = 0; l < m->num_levels; l++) {
        snprintf(c->where, sizeof c->where, "level %d", l);
        uint64_t nt;
        FS_TRY(read_count(c, "tree count", min_tree, FS_DLIB_MAX_TREES, &nt));
        m->level_tree[l] = m->num_trees;
        for (uint64_t t = 0; t < nt; t++)
            FS_TRY(read_tree(c, b, l, t));
        m->level_tree[l + 1] = m->num_trees;
        if (nt > m->max_level_trees)
            m->max_level_trees = (uint32_t)nt;
    }
    if (!m->tree_split && !(m->tree_split = calloc(1, sizeof *m->tree_split)))
        return fs_error(FS_ERR_NOMEM, "dlib model: out of memory");

    m->offsets[2] = cur_off(c);
    snprintf(c->where, sizeof c->where, "anchor_idx");
    uint64_t n;
    const uint8_t *at = c->p;
    FS_TRY(read_count(c, "level count", MIN_INT, FS_DLIB_MAX_LEVELS, &n));
    if (n != levels) {
        c->p = at;
        char msg[160];
        snprintf(msg, sizeof msg, "%llu levels, but the forests have %llu",
                 (unsigned long long)n, (unsigned long long)levels);
        return bad(c, FS_ERR_FORMAT, msg);
    }
    for (int l = 0; l < m->num_levels; l++) {
        snprintf(c->where, sizeof c->where, "anchor_idx level %d", l);
        uint64_t nf;
        FS_TRY(read_count(c, "feature count", MIN_INT, FS_DLIB_MAX_FEATURES, &nf));
        m->level_feature[l] = m->num_features;
        FS_TRY(reserve((void **)&m->anchor, &b->cap_features, m->num_features + nf,
                       sizeof *m->anchor));
        for (uint64_t i = 0; i < nf; i++) {
            uint64_t a = 0;
            at = c->p;
            FS_TRY(read_u64(c, "anchor", &a));
            if (a >= (uint64_t)m->num_parts) {
                c->p = at;
                char msg[160];
                snprintf(msg, sizeof msg, "feature %llu: anchor part %llu, but the model has %d "
                         "parts", (unsigned long long)i, (unsigned long long)a, m->num_parts);
                return bad(c, FS_ERR_FORMAT, msg);
            }
            m->anchor[m->num_features + i] = (uint32_t)a;
        }
        m->num_features += nf;
        m->level_feature[l + 1] = m->num_features;
        if (nf > m->max_level_features)
            m->max_level_features = (uint32_t)nf;
    }

    m->offsets[3] = cur_off(c);
    snprintf(c->where, sizeof c->where, "deltas");
    at = c->p;
    FS_TRY(read_count(c, "level count", MIN_INT, FS_DLIB_MAX_LEVELS, &n));
    if (n != levels) {
        c->p = at;
        char msg[160];
        snprintf(msg, sizeof msg, "%llu levels, but the forests have %llu",
                 (unsigned long long)n, (unsigned long long)levels);
        return bad(c, FS_ERR_FORMAT, msg);
    }
    if (m->num_features > cur_left(c) / (2 * MIN_FLOAT))
        return bad(c, FS_ERR_FORMAT, "the deltas of every feature cannot fit in the bytes left");
    if (!(m->deltas = malloc((m->num_features ? m->num_features : 1) * 2 * sizeof *m->deltas)))
        return fs_error(FS_ERR_NOMEM, "dlib model: out of memory");
    for (int l = 0; l < m->num_levels; l++) {
        snprintf(c->where, sizeof c->where, "deltas level %d", l);
        uint64_t nf, want = m->level_feature[l + 1] - m->level_feature[l];
        at = c->p;
        FS_TRY(read_count(c, "feature count", 2 * MIN_FLOAT, FS_DLIB_MAX_FEATURES, &nf));
        if (nf != want) {
            c->p = at;
            char msg[160];
            snprintf(msg, sizeof msg, "%llu deltas, but anchor_idx has %llu features",
                     (unsigned long long)nf, (unsigned long long)want);
            return bad(c, FS_ERR_FORMAT, msg);
        }
        FS_TRY(read_floats(c, "delta", m->deltas + 2 * m->level_feature[l], 2 * nf));
    }
    m->offsets[4] = cur_off(c);
    c->where[0] = '\0';
    if (c->p != c->end) {
        char msg[160];
        snprintf(msg, sizeof msg, "%zu bytes after the end of the model", cur_left(c));
        return bad(c, FS_ERR_FORMAT, msg);
    }

    /* Split indices against their level's feature pool. */
    for (int l = 0; l < m->num_levels; l++) {
        uint64_t nf = m->level_feature[l + 1] - m->level_feature[l];
        for (uint64_t t = m->level_tree[l]; t < m->level_tree[l + 1]; t++)
            for (uint64_t s = m->tree_split[t]; s < m->tree_split[t + 1]; s++)
                if (m->splits[s].idx1 >= nf || m->splits[s].idx2 >= nf)
                    return fs_error(FS_ERR_FORMAT, "%s: level %d, tree %llu, split %llu: feature "
                                    "index %u out of range (the level has %llu features)",
                                    c->label, l, (unsigned long long)(t - m->level_tree[l]),
                                    (unsigned long long)(s - m->tree_split[t]),
                                    m->splits[s].idx1 >= nf ? m->splits[s].idx1
                                                            : m->splits[s].idx2,
                                    (unsigned long long)nf);
    }
    return FS_OK;
}

fs_status fs_dlib_model_parse(const uint8_t *buf, size_t len, const char *label,
                              fs_dlib_model **out)
{
    *out = NULL;
    fs_dlib_model *m = calloc(1, sizeof *m);
    if (!m)
        return fs_error(FS_ERR_NOMEM, "dlib model: out of memory");
    static const uint8_t empty[1];
    cursor c = {.base = buf ? buf : empty, .p = buf ? buf : empty,
                .end = (buf ? buf : empty) + (buf ? len : 0), .label = label};
    builder b = {.m = m};
    fs_status s = parse(&c, &b);
    if (s != FS_OK) {
        fs_dlib_model_free(m);
        return s;
    }
    *out = m;
    return FS_OK;
}

fs_status fs_dlib_model_load(const char *path, fs_dlib_model **out)
{
    *out = NULL;
    fs_file_map fm;
    FS_TRY(fs_file_map_open(path, &fm));
    fs_status s = fs_dlib_model_parse(fm.data, fm.size, path, out);
    fs_file_map_close(&fm);
    return s;
}
