/* Check suite for the dlib model reader (weights_tools/dlib_model.c) and the
 * landmark predictor (engine/landmarks.c).
 *
 * Against dlib itself: tests/fixtures/landmarks holds dlib 19.24's own
 * outputs with Debian's 68-point model (integer parts, un-rounded parts,
 * the final box-normalised shape, one case traced level by level, the
 * model's sizes and sample values, and disagreement scores for image
 * pairs). Those cases need the model file from Debian's libdlib-data; when
 * it is absent they print a SKIP line and do not run (never counted as
 * passed). FS_DLIB_MODEL names another copy.
 *
 * Without the model: small models serialised here in dlib's encoding, a
 * prediction worked out by hand, the rounding and intensity rules, and a
 * table of corrupt inputs (every truncation, bad counts, bad floats, bad
 * indices), each with the status and a piece of the one-line message. */
#include "check_util.h"

#include <float.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../engine/file.h"
#include "../engine/image_io.h"
#include "../engine/landmarks.h"
#include "../weights_tools/dlib_model.h"
#include "../weights_tools/json.h"

#define LM_DIR FS_FIXTURES "/landmarks"
#define LABEL "unit.dat"

static const char *model_path(void)
{
    const char *p = getenv("FS_DLIB_MODEL");
    return p && *p ? p : FS_DLIB_DEFAULT_MODEL;
}

/* ---- a serialiser in dlib's encoding ------------------------------------------ */

typedef struct {
    uint8_t *b;
    size_t n, cap;
} buf;

static void put_byte(buf *o, uint8_t v)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 256;
        o->b = realloc(o->b, o->cap);
        ck_assert_ptr_nonnull(o->b);
    }
    o->b[o->n++] = v;
}

/* sign bit, byte count, magnitude little-endian in the fewest bytes */
static void put_int(buf *o, int64_t v)
{
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint8_t tmp[8];
    unsigned n = 0;
    do {
        tmp[n++] = (uint8_t)mag;
        mag >>= 8;
    } while (mag);
    put_byte(o, (uint8_t)((v < 0 ? 0x80 : 0) | n));
    for (unsigned k = 0; k < n; k++)
        put_byte(o, tmp[k]);
}

/* dlib's float_details: 24-bit mantissa from frexp, low zero bytes shifted off */
static void put_float(buf *o, float v)
{
    int e;
    int64_t m = (int64_t)(frexpf(v, &e) * (float)(1 << 24));
    int64_t ex = e - 24;
    for (int i = 0; i < 8 && (m & 0xff) == 0; i++) {
        m >>= 8;
        ex += 8;
    }
    put_int(o, m);
    put_int(o, ex);
}

/* What a mutation changes in the tiny model (one at a time). */
typedef enum {
    MUT_NONE,
    MUT_VERSION2,
    MUT_VERSION_CTRL5,   /* version with a 5-byte count: too big for int */
    MUT_SHAPE_NC2,
    MUT_SHAPE_ODD,
    MUT_SHAPE_HUGE,
    MUT_SHAPE_MIXED_SIGN,
    MUT_SHAPE_ASCII,
    MUT_SHAPE_INF,
    MUT_SHAPE_NAN,
    MUT_SHAPE_OVERFLOW,
    MUT_SHAPE_EXP3,      /* exponent with a 3-byte count */
    MUT_SHAPE_EXP_BIG,   /* exponent magnitude 40000 (int16) */
    MUT_LEVELS_HUGE,
    MUT_TREES_HUGE,
    MUT_LEAVES_MISMATCH,
    MUT_LEAVES_NOT_POW2,
    MUT_LEAF_ROWS,
    MUT_ANCHOR_LEVELS,
    MUT_ANCHOR_RANGE,
    MUT_DELTA_COUNT,
    MUT_SPLIT_RANGE,
    MUT_SPLIT_HUGE,
    MUT_COUNT_SIGNED,    /* a vector count with the sign bit set */
    MUT_TRAILING,
    MUT_THRESH_NAN,
} mutation;

/* A tiny model: P = 2 parts at (0.25, 0.5) and (0.75, 0.5); `levels`
 * levels of `trees` trees of depth `depth`; 4 features per level; values
 * from a simple formula (they need only be distinct). */
typedef struct {
    int levels, trees, depth;
} tiny_spec;

static float leaf_value(int l, int t, int leaf, int j)
{
    return (float)((l + 1) * 0.001 + t * 0.0001 - leaf * 0.00003 + j * 0.01);
}

static buf tiny_model(tiny_spec sp, mutation mu)
{
    buf o = {0};
    if (mu == MUT_VERSION_CTRL5) {
        put_byte(&o, 0x05);
        for (int i = 0; i < 5; i++)
            put_byte(&o, i == 0);
    } else
        put_int(&o, mu == MUT_VERSION2 ? 2 : 1);
    /* initial shape */
    int64_t rows = mu == MUT_SHAPE_ODD ? 3 : mu == MUT_SHAPE_HUGE ? (INT64_C(1) << 40) : 4;
    if (mu == MUT_SHAPE_MIXED_SIGN) {
        put_int(&o, -4);
        put_int(&o, 1);
    } else {
        put_int(&o, -rows);
        put_int(&o, mu == MUT_SHAPE_NC2 ? -2 : -1);
    }
    const float init[4] = {0.25f, 0.5f, 0.75f, 0.5f};
    for (int i = 0; i < (rows == 3 ? 3 : 4); i++) {
        if (i == 1 && mu == MUT_SHAPE_ASCII) {
            const char *t = "0.5 ";
            for (; *t; t++)
                put_byte(&o, (uint8_t)*t);
        } else if (i == 1 && (mu == MUT_SHAPE_INF || mu == MUT_SHAPE_NAN)) {
            put_int(&o, 0);
            put_int(&o, mu == MUT_SHAPE_INF ? 32000 : 32002);
        } else if (i == 1 && mu == MUT_SHAPE_OVERFLOW) {
            put_int(&o, 1);
            put_int(&o, 200);
        } else if (i == 1 && mu == MUT_SHAPE_EXP3) {
            put_int(&o, 1);
            put_byte(&o, 0x03);
            put_byte(&o, 1), put_byte(&o, 0), put_byte(&o, 0);
        } else if (i == 1 && mu == MUT_SHAPE_EXP_BIG) {
            put_int(&o, 1);
            put_int(&o, -40000);
        } else
            put_float(&o, init[i]);
    }
    /* forests */
    put_int(&o, mu == MUT_LEVELS_HUGE ? 5000 : sp.levels);
    int ns = (1 << sp.depth) - 1;
    for (int l = 0; l < sp.levels; l++) {
        put_int(&o, mu == MUT_TREES_HUGE ? (INT64_C(1) << 20) : sp.trees);
        for (int t = 0; t < sp.trees; t++) {
            int nst = mu == MUT_LEAVES_NOT_POW2 && l == 0 && t == 0 ? 2 : ns;
            if (mu == MUT_COUNT_SIGNED && l == 0 && t == 0) {
                put_byte(&o, 0x81);
                put_byte(&o, (uint8_t)ns);
            } else
                put_int(&o, nst);
            for (int s = 0; s < nst; s++) {
                int bad_split = l == 0 && t == 0 && s == 0;
                if (mu == MUT_SPLIT_HUGE && bad_split)
                    put_int(&o, INT64_C(1) << 33);
                else
                    put_int(&o, mu == MUT_SPLIT_RANGE && bad_split ? 4 : (s + t) % 4);
                put_int(&o, (s + 2 * t + 1) % 4);
                if (mu == MUT_THRESH_NAN && bad_split) {
                    put_int(&o, 0);
                    put_int(&o, 32002);
                } else
                    put_float(&o, (float)(s * 7 % 5) - 2.0f);
            }
            int nl = ns + 1;
            if (l == 0 && t == 0 && mu == MUT_LEAVES_MISMATCH)
                nl = ns + 2;
            if (l == 0 && t == 0 && mu == MUT_LEAVES_NOT_POW2)
                nl = 3; /* for 2 splits */
            put_int(&o, nl);
            for (int k = 0; k < nl; k++) {
                int r = l == 0 && t == 0 && k == 0 && mu == MUT_LEAF_ROWS ? 6 : 4;
                put_int(&o, -r);
                put_int(&o, -1);
                for (int j = 0; j < r; j++)
                    put_float(&o, leaf_value(l, t, k, j));
            }
        }
    }
    /* anchor_idx */
    put_int(&o, mu == MUT_ANCHOR_LEVELS ? sp.levels + 1 : sp.levels);
    for (int l = 0; l < sp.levels; l++) {
        put_int(&o, 4);
        for (int i = 0; i < 4; i++)
            put_int(&o, mu == MUT_ANCHOR_RANGE && l == 0 && i == 3 ? 2 : i % 2);
    }
    /* deltas */
    put_int(&o, sp.levels);
    for (int l = 0; l < sp.levels; l++) {
        put_int(&o, mu == MUT_DELTA_COUNT && l == 0 ? 3 : 4);
        for (int i = 0; i < (mu == MUT_DELTA_COUNT && l == 0 ? 3 : 4); i++) {
            put_float(&o, i < 2 ? 0.0f : 0.1f * (float)(i - 1));
            put_float(&o, i < 2 ? 0.0f : -0.05f);
        }
    }
    if (mu == MUT_TRAILING)
        put_byte(&o, 0);
    return o;
}

static void expect_fail(fs_status got, fs_status want, const char *needle, const char *what)
{
    ck_assert_msg(got == want, "%s: got %s (%s), want %s", what, fs_status_string(got),
                  fs_error_message(), fs_status_string(want));
    ck_assert_msg(strstr(fs_error_message(), LABEL), "%s: message lacks the label: %s", what,
                  fs_error_message());
    ck_assert_msg(!needle || strstr(fs_error_message(), needle), "%s: message lacks '%s': %s",
                  what, needle, fs_error_message());
    ck_assert_msg(!strchr(fs_error_message(), '\n'), "%s: multi-line message", what);
}

/* ---- the tiny model ------------------------------------------------------------- */

START_TEST(test_tiny_parse)
{
    tiny_spec sp = {.levels = 2, .trees = 3, .depth = 2};
    buf o = tiny_model(sp, MUT_NONE);
    fs_dlib_model *m;
    ck_assert_msg(fs_dlib_model_parse(o.b, o.n, LABEL, &m) == FS_OK, "%s", fs_error_message());
    ck_assert_int_eq(m->num_parts, 2);
    ck_assert_int_eq(m->num_levels, 2);
    ck_assert_uint_eq(m->num_trees, 6);
    ck_assert_uint_eq(m->num_splits, 18);
    ck_assert_uint_eq(m->num_leaves, 24);
    ck_assert_uint_eq(m->num_features, 8);
    ck_assert_uint_eq(m->max_level_features, 4);
    ck_assert_uint_eq(m->max_level_trees, 3);
    ck_assert_float_eq(m->initial_shape[2], 0.75f);
    ck_assert_uint_eq(m->offsets[0], 2);
    ck_assert_uint_eq(m->offsets[4], o.n);
    /* every float read back bit for bit */
    for (int l = 0; l < 2; l++)
        for (int t = 0; t < 3; t++) {
            const float *lv = fs_dlib_tree_leaves(m, (uint64_t)(l * 3 + t));
            for (int k = 0; k < 4; k++)
                for (int j = 0; j < 4; j++)
                    ck_assert_float_eq(lv[k * 4 + j], leaf_value(l, t, k, j));
        }
    ck_assert_float_eq(m->splits[1].thresh, 0.0f);
    ck_assert_float_eq(m->splits[2].thresh, 2.0f);
    ck_assert_float_eq(m->deltas[2 * 3], 0.2f);
    ck_assert_float_eq(m->deltas[2 * 3 + 1], -0.05f);
    fs_dlib_model_free(m);
    free(o.b);
}
END_TEST

/* Records the leaf of the first tree of the level. */
static void on_level(void *ctx, int level, const float *f, uint32_t nf, const uint32_t *leaves,
              uint32_t nt, const float *s, int n)
{
    (void)level, (void)f, (void)nf, (void)nt, (void)s, (void)n;
    *(uint32_t *)ctx = leaves[0];
}

/* Worked by hand: one level, one depth-1 tree. On a 10 x 10 image whose
 * intensity is 20 x, box [0, 0, 9, 9]: part 0 (0.25, 0.5) -> pixel
 * floor(2.25 + .5) = 2, floor(4.5 + .5) = 5: 40; part 1 (0.75, 0.5) ->
 * (7, 5): 140. 40 - 140 > thresh -2 is false: the right leaf (1). */
START_TEST(test_tiny_predict_by_hand)
{
    tiny_spec sp = {.levels = 1, .trees = 1, .depth = 1};
    buf o = tiny_model(sp, MUT_NONE);
    fs_dlib_model *m;
    ck_assert_int_eq(fs_dlib_model_parse(o.b, o.n, LABEL, &m), FS_OK);
    ck_assert_uint_eq(m->splits[0].idx1, 0);
    ck_assert_uint_eq(m->splits[0].idx2, 1);
    ck_assert_float_eq(m->splits[0].thresh, -2.0f);
    uint8_t px[100];
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 10; x++)
            px[y * 10 + x] = (uint8_t)(20 * x);
    fs_lm_image img = {.pixels = px, .width = 10, .height = 10, .stride = 10};
    fs_lm_box box = {0, 0, 9, 9};
    float shape[4];
    double xy[4];
    int64_t ixy[4];
    uint32_t leaf_seen = 99;
    fs_lm_trace tr = {.level = on_level, .ctx = &leaf_seen};
    ck_assert_int_eq(fs_lm_predict(m, &img, &box, NULL, &tr, shape, xy, ixy), FS_OK);
    ck_assert_uint_eq(leaf_seen, 1);
    const float init[4] = {0.25f, 0.5f, 0.75f, 0.5f};
    for (int j = 0; j < 4; j++) {
        float want = init[j] + leaf_value(0, 0, 1, j);
        ck_assert_float_eq(shape[j], want);
        ck_assert_double_eq(xy[j], (double)want * 9.0);
        ck_assert_int_eq(ixy[j], (int64_t)floor((double)want * 9.0 + 0.5));
    }
    /* Shifted left by 5, part 0 lands at x = -3: outside, reads 0; part 1
     * at 2: 40. 0 - 40 > -2 is false: leaf 1 again. Shifted right by 5:
     * part 0 at 7 (140), part 1 at 12: outside (0); 140 > -2: leaf 0. */
    box = (fs_lm_box){-5, 0, 4, 9};
    ck_assert_int_eq(fs_lm_predict(m, &img, &box, NULL, &tr, shape, NULL, NULL), FS_OK);
    ck_assert_uint_eq(leaf_seen, 1);
    box = (fs_lm_box){5, 0, 14, 9};
    ck_assert_int_eq(fs_lm_predict(m, &img, &box, NULL, &tr, shape, NULL, NULL), FS_OK);
    ck_assert_uint_eq(leaf_seen, 0);
    fs_dlib_model_free(m);
    free(o.b);
}
END_TEST

static const struct {
    mutation mu;
    fs_status want;
    const char *needle;
} corrupt[] = {
    {MUT_VERSION2, FS_ERR_FORMAT, "version 2, expected 1"},
    {MUT_VERSION_CTRL5, FS_ERR_FORMAT, "not a dlib shape predictor"},
    {MUT_SHAPE_NC2, FS_ERR_FORMAT, "expected a column"},
    {MUT_SHAPE_ODD, FS_ERR_FORMAT, "even count"},
    {MUT_SHAPE_HUGE, FS_ERR_FORMAT, "cannot fit"},
    {MUT_SHAPE_MIXED_SIGN, FS_ERR_FORMAT, "mix the two encodings"},
    {MUT_SHAPE_ASCII, FS_ERR_UNSUPPORTED, "ASCII"},
    {MUT_SHAPE_INF, FS_ERR_FORMAT, "+inf"},
    {MUT_SHAPE_NAN, FS_ERR_FORMAT, "NaN"},
    {MUT_SHAPE_OVERFLOW, FS_ERR_FORMAT, "overflows float32"},
    {MUT_SHAPE_EXP3, FS_ERR_FORMAT, "takes 1 to 2"},
    {MUT_SHAPE_EXP_BIG, FS_ERR_FORMAT, "does not fit a 2-byte"},
    {MUT_LEVELS_HUGE, FS_ERR_LIMIT, "level count 5000 exceeds"},
    {MUT_TREES_HUGE, FS_ERR_FORMAT, "tree count 1048576 cannot fit"},
    {MUT_LEAVES_MISMATCH, FS_ERR_FORMAT, "must be complete"},
    {MUT_LEAVES_NOT_POW2, FS_ERR_FORMAT, "must be complete"},
    {MUT_LEAF_ROWS, FS_ERR_FORMAT, "6 values, expected 4"},
    {MUT_ANCHOR_LEVELS, FS_ERR_FORMAT, "3 levels, but the forests have 2"},
    {MUT_ANCHOR_RANGE, FS_ERR_FORMAT, "anchor part 2, but the model has 2 parts"},
    {MUT_DELTA_COUNT, FS_ERR_FORMAT, "3 deltas, but anchor_idx has 4"},
    {MUT_SPLIT_RANGE, FS_ERR_FORMAT, "feature index 4 out of range"},
    {MUT_SPLIT_HUGE, FS_ERR_FORMAT, "exceeds 2^32"},
    {MUT_COUNT_SIGNED, FS_ERR_FORMAT, "control byte 0x81"},
    {MUT_TRAILING, FS_ERR_FORMAT, "1 bytes after the end"},
    {MUT_THRESH_NAN, FS_ERR_FORMAT, "split threshold: NaN"},
};

START_TEST(test_corrupt_table)
{
    tiny_spec sp = {.levels = 2, .trees = 2, .depth = 1};
    for (size_t i = 0; i < sizeof corrupt / sizeof *corrupt; i++) {
        buf o = tiny_model(sp, corrupt[i].mu);
        fs_dlib_model *m = (fs_dlib_model *)1;
        char what[64];
        snprintf(what, sizeof what, "corrupt case %zu", i);
        fs_status s = fs_dlib_model_parse(o.b, o.n, LABEL, &m);
        expect_fail(s, corrupt[i].want, corrupt[i].needle, what);
        ck_assert_ptr_null(m);
        free(o.b);
    }
}
END_TEST

/* Every proper prefix of a valid model is refused with a truncation
 * message (never read past the end: the ASan and valgrind runs check). */
START_TEST(test_truncation_everywhere)
{
    tiny_spec sp = {.levels = 2, .trees = 2, .depth = 2};
    buf o = tiny_model(sp, MUT_NONE);
    for (size_t n = 0; n < o.n; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        ck_assert_ptr_nonnull(cut);
        memcpy(cut, o.b, n);
        fs_dlib_model *m;
        char what[64];
        snprintf(what, sizeof what, "prefix of %zu bytes", n);
        fs_status s = fs_dlib_model_parse(n ? cut : NULL, n, LABEL, &m);
        ck_assert_msg(s == FS_ERR_FORMAT, "%s: %s", what, fs_error_message());
        ck_assert_msg(strstr(fs_error_message(), "truncated") ||
                          strstr(fs_error_message(), "cannot fit"),
                      "%s: %s", what, fs_error_message());
        expect_fail(s, FS_ERR_FORMAT, NULL, what);
        free(cut);
    }
    free(o.b);
}
END_TEST

START_TEST(test_rules)
{
    /* dlib's rounding: floor(v + 0.5) in double, not lround or rint */
    ck_assert_int_eq(fs_lm_round(-2.5), -2);
    ck_assert_int_eq(fs_lm_round(2.5), 3);
    ck_assert_int_eq(fs_lm_round(-0.5), 0);
    ck_assert_int_eq(fs_lm_round(-0.5000001), -1);
    ck_assert_int_eq(fs_lm_round(0.49999999999999994), 1); /* v + 0.5 rounds up to 1.0 */
    ck_assert_int_eq(fs_lm_round(1e300), INT64_C(1) << 62);
    ck_assert_int_eq(fs_lm_round(NAN), 0);
    /* intensity: the truncated mean */
    const uint8_t rgb[] = {10, 10, 11, 255, 255, 255, 0, 0, 2, 1, 2, 3, 200, 100, 0};
    uint8_t g[5];
    fs_lm_intensity_rgb(rgb, 5, g);
    ck_assert_uint_eq(g[0], 10);
    ck_assert_uint_eq(g[1], 255);
    ck_assert_uint_eq(g[2], 0);
    ck_assert_uint_eq(g[3], 2);
    ck_assert_uint_eq(g[4], 100);
    /* boxes */
    fs_lm_box b = {10, 10, 9, 20};
    ck_assert_int_eq(fs_lm_box_check(&b), FS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "is empty"));
    b = (fs_lm_box){-(INT64_C(1) << 25), 0, 10, 10};
    ck_assert_int_eq(fs_lm_box_check(&b), FS_ERR_ARG);
    b = (fs_lm_box){-40, -40, -20, -20}; /* wholly outside an image is allowed */
    ck_assert_int_eq(fs_lm_box_check(&b), FS_OK);
    /* the FFHQ box (docs/landmarks.md) */
    fs_lm_box f = fs_lm_ffhq_box(1024, 1024);
    ck_assert_int_eq(f.left, 201);
    ck_assert_int_eq(f.top, 288);
    ck_assert_int_eq(f.right, 823);
    ck_assert_int_eq(f.bottom, 911);
    f = fs_lm_ffhq_box(256, 256);
    ck_assert_int_eq(f.left, 50);
    ck_assert_int_eq(f.right, 206);
    /* NME: a 3-4-5 offset of every point over an inter-ocular distance of
     * 10 is 0.5; a zero distance gives NaN */
    double a[136], c[136];
    for (int i = 0; i < 68; i++) {
        a[2 * i] = i, a[2 * i + 1] = 0;
        c[2 * i] = i + 3, c[2 * i + 1] = 4;
    }
    a[2 * 36] = 0, a[2 * 45] = 10;
    c[2 * 36] = 3, c[2 * 45] = 13;
    ck_assert_double_eq_tol(fs_lm_nme(a, c, 68), 0.5, 1e-15);
    a[2 * 45] = 0;
    ck_assert(isnan(fs_lm_nme(a, c, 68)));
}
END_TEST

/* ---- against dlib, with the real model ---------------------------------------- */

static fs_dlib_model *real; /* loaded once, before Check forks each test */

static void load_real(void)
{
    fs_status s = fs_dlib_model_load(model_path(), &real);
    if (s != FS_OK) {
        fprintf(stderr, "test_landmarks: %s\n", fs_error_message());
        real = NULL;
    }
}

static void free_real(void)
{
    fs_dlib_model_free(real);
    real = NULL;
}

static fs_json *load_json(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", LM_DIR, name);
    fs_file_map fm;
    ck_assert_msg(fs_file_map_open(path, &fm) == FS_OK, "%s", fs_error_message());
    fs_json *j;
    ck_assert_msg(fs_json_parse(fm.data, fm.size, path, 0, &j) == FS_OK, "%s",
                  fs_error_message());
    fs_file_map_close(&fm);
    return j;
}

static const fs_json *get(const fs_json *o, const char *key)
{
    const fs_json *v = fs_json_get(o, key);
    ck_assert_msg(v != NULL, "fixture lacks '%s'", key);
    return v;
}

static double num(const fs_json *v)
{
    ck_assert(v->type == FS_JSON_INT || v->type == FS_JSON_REAL);
    return v->type == FS_JSON_INT ? (double)v->u.integer : v->u.real;
}

/* A fixture float printed with %.9g, as float32 (the README's rule). */
static float f32(const fs_json *v)
{
    return (float)num(v);
}

static const fs_json *item(const fs_json *arr, size_t i)
{
    ck_assert(arr->type == FS_JSON_ARRAY && i < arr->u.array.count);
    return &arr->u.array.items[i];
}

static fs_lm_box json_box(const fs_json *b)
{
    return (fs_lm_box){.left = (int64_t)num(item(b, 0)), .top = (int64_t)num(item(b, 1)),
                       .right = (int64_t)num(item(b, 2)), .bottom = (int64_t)num(item(b, 3))};
}

typedef struct {
    uint8_t *gray;
    int w, h;
} gray_img;

static gray_img load_gray(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", LM_DIR, name);
    uint8_t *rgb;
    gray_img g;
    ck_assert_msg(fs_png_read_rgb(path, &rgb, &g.w, &g.h) == FS_OK, "%s", fs_error_message());
    g.gray = malloc((size_t)g.w * g.h);
    ck_assert_ptr_nonnull(g.gray);
    fs_lm_intensity_rgb(rgb, (size_t)g.w * g.h, g.gray);
    free(rgb);
    return g;
}

START_TEST(test_model_matches_dump)
{
    ck_assert_msg(real, "the model did not load");
    fs_json *j = load_json("model.json");
    ck_assert_int_eq(real->num_parts, (int)num(get(j, "num_parts")));
    ck_assert_int_eq(real->num_levels, (int)num(get(j, "cascade_depth")));
    int T = (int)num(get(j, "trees_per_cascade")), S = (int)num(get(j, "splits_per_tree"));
    int L = (int)num(get(j, "leaves_per_tree")), F = (int)num(get(j, "feature_pool_size"));
    ck_assert_uint_eq(real->num_trees, (uint64_t)T * real->num_levels);
    ck_assert_uint_eq(real->num_splits, real->num_trees * (uint64_t)S);
    ck_assert_uint_eq(real->num_leaves, real->num_trees * (uint64_t)L);
    ck_assert_uint_eq(real->num_features, (uint64_t)F * real->num_levels);
    const fs_json *off = get(j, "offsets");
    const char *sec[] = {"initial_shape", "forests", "anchor_idx", "deltas", "end"};
    for (int i = 0; i < 5; i++)
        ck_assert_uint_eq(real->offsets[i], (uint64_t)num(get(off, sec[i])));
    const fs_json *is = get(j, "initial_shape");
    for (int i = 0; i < 2 * real->num_parts; i++)
        ck_assert_float_eq(real->initial_shape[i], f32(item(is, i)));
    /* the first and the last tree in full */
    const char *trees[] = {"forest0_tree0", "last_tree"};
    uint64_t tix[] = {0, real->num_trees - 1};
    int D = 2 * real->num_parts;
    for (int k = 0; k < 2; k++) {
        const fs_json *t = get(j, trees[k]);
        const fs_json *sp = get(t, "splits"), *lv = get(t, "leaf_values");
        const fs_dlib_split *s = real->splits + real->tree_split[tix[k]];
        for (int i = 0; i < S; i++) {
            ck_assert_uint_eq(s[i].idx1, (uint32_t)num(item(item(sp, i), 0)));
            ck_assert_uint_eq(s[i].idx2, (uint32_t)num(item(item(sp, i), 1)));
            ck_assert_float_eq(s[i].thresh, f32(item(item(sp, i), 2)));
        }
        const float *leaves = fs_dlib_tree_leaves(real, tix[k]);
        for (int i = 0; i < L; i++)
            for (int c = 0; c < D; c++)
                ck_assert_float_eq(leaves[i * D + c], f32(item(item(lv, i), c)));
    }
    /* anchors and deltas of the first and the last level */
    const int lv_ix[] = {0, real->num_levels - 1};
    for (int k = 0; k < 2; k++) {
        char an[32], de[32];
        snprintf(an, sizeof an, "anchor_idx_%d", lv_ix[k]);
        snprintf(de, sizeof de, "deltas_%d", lv_ix[k]);
        const fs_json *a = get(j, an), *d = get(j, de);
        uint64_t f0 = real->level_feature[lv_ix[k]];
        for (int i = 0; i < F; i++) {
            ck_assert_uint_eq(real->anchor[f0 + i], (uint32_t)num(item(a, i)));
            ck_assert_float_eq(real->deltas[2 * (f0 + i)], f32(item(item(d, i), 0)));
            ck_assert_float_eq(real->deltas[2 * (f0 + i) + 1], f32(item(item(d, i), 1)));
        }
    }
    double sum = 0;
    for (uint64_t i = 0; i < real->num_leaves * (uint64_t)D; i++)
        sum += real->leaves[i];
    ck_assert_double_eq_tol(sum, num(get(j, "sum_of_all_leaf_values_f64")), 1e-9);
    fs_json_free(j);
}
END_TEST

/* Every fixture case: dlib's integer parts exactly, its final shape to the
 * last bit, its un-rounded parts to rounding error (dlib maps the box with
 * a pseudo-inverse; we use the formula it approximates). */
START_TEST(test_fixture_cases)
{
    ck_assert_msg(real, "the model did not load");
    fs_json *j = load_json("landmarks.json");
    const fs_json *cases = get(j, "cases");
    int D = 2 * real->num_parts;
    double max_xy = 0;
    int n_points = 0;
    for (size_t k = 0; k < cases->u.array.count; k++) {
        const fs_json *c = item(cases, k);
        const char *name = get(c, "image")->u.string.chars;
        gray_img g = load_gray(name);
        fs_lm_image img = {.pixels = g.gray, .width = g.w, .height = g.h, .stride = (size_t)g.w};
        fs_lm_box box = json_box(get(c, "box"));
        float shape[136];
        double xy[136];
        int64_t ixy[136];
        ck_assert_int_eq(D, 136);
        ck_assert_msg(fs_lm_predict(real, &img, &box, NULL, NULL, shape, xy, ixy) == FS_OK, "%s",
                      fs_error_message());
        const fs_json *pts = get(c, "points"), *pf = get(c, "points_float");
        const fs_json *sn = get(c, "shape_norm");
        for (int i = 0; i < real->num_parts; i++)
            for (int a = 0; a < 2; a++) {
                ck_assert_msg(ixy[2 * i + a] == (int64_t)num(item(item(pts, i), a)),
                              "case %zu (%s): part %d %c: %lld, dlib %lld", k, name, i, "xy"[a],
                              (long long)ixy[2 * i + a], (long long)num(item(item(pts, i), a)));
                double want = num(item(item(pf, i), a));
                double d = fabs(xy[2 * i + a] - want);
                max_xy = d > max_xy ? d : max_xy;
                ck_assert_msg(d <= 1e-9 * (1 + fabs(want)), "case %zu: part %d: %.17g vs %.17g",
                              k, i, xy[2 * i + a], want);
                float ws = f32(item(sn, 2 * i + a));
                ck_assert_msg(shape[2 * i + a] == ws, "case %zu: shape[%d] %.9g, dlib %.9g", k,
                              2 * i + a, shape[2 * i + a], ws);
            }
        n_points += real->num_parts;
        free(g.gray);
    }
    printf("test_landmarks: %zu cases, %d parts equal to dlib's; un-rounded parts within %.3g "
           "px\n", cases->u.array.count, n_points, max_xy);
    fs_json_free(j);
}
END_TEST

/* Inside the cascade, case 0: every level's 500 feature values, the leaf
 * reached in each tree and the shape after the level. */
typedef struct {
    const fs_json *levels;
    int checked;
} trace_ctx;

static void check_level(void *ctx, int level, const float *f, uint32_t nf,
                        const uint32_t *leaves, uint32_t nt, const float *s, int n)
{
    trace_ctx *t = ctx;
    const fs_json *lv = item(t->levels, (size_t)level);
    const fs_json *feat = get(lv, "features"), *lf = get(lv, "leaves"),
                  *sh = get(lv, "shape_after");
    ck_assert_uint_eq(feat->u.array.count, nf);
    ck_assert_uint_eq(lf->u.array.count, nt);
    for (uint32_t i = 0; i < nf; i++)
        ck_assert_msg(f[i] == f32(item(feat, i)), "level %d feature %u: %g vs dlib %g", level, i,
                      f[i], f32(item(feat, i)));
    for (uint32_t i = 0; i < nt; i++)
        ck_assert_msg(leaves[i] == (uint32_t)num(item(lf, i)), "level %d tree %u: leaf %u vs "
                      "dlib %u", level, i, leaves[i], (uint32_t)num(item(lf, i)));
    for (int i = 0; i < n; i++)
        ck_assert_msg(s[i] == f32(item(sh, i)), "level %d shape[%d]: %.9g vs dlib %.9g", level, i,
                      s[i], f32(item(sh, i)));
    t->checked++;
}

START_TEST(test_trace_case0)
{
    ck_assert_msg(real, "the model did not load");
    fs_json *j = load_json("trace.json");
    trace_ctx tc = {.levels = get(j, "levels")};
    gray_img g = load_gray(get(j, "image")->u.string.chars);
    fs_lm_image img = {.pixels = g.gray, .width = g.w, .height = g.h, .stride = (size_t)g.w};
    fs_lm_box box = json_box(get(j, "box"));
    fs_lm_trace tr = {.level = check_level, .ctx = &tc};
    float shape[136];
    ck_assert_int_eq(fs_lm_predict(real, &img, &box, NULL, &tr, shape, NULL, NULL), FS_OK);
    ck_assert_int_eq(tc.checked, real->num_levels);
    free(g.gray);
    fs_json_free(j);
}
END_TEST

START_TEST(test_pair_scores)
{
    ck_assert_msg(real, "the model did not load");
    fs_json *j = load_json("pairs.json");
    const fs_json *pairs = get(j, "pairs");
    double worst = 0;
    for (size_t k = 0; k < pairs->u.array.count; k++) {
        const fs_json *p = item(pairs, k);
        double xy[2][136];
        int64_t ixy[2][136];
        const char *side[] = {"a", "b"};
        for (int s = 0; s < 2; s++) {
            const fs_json *e = get(p, side[s]);
            gray_img g = load_gray(get(e, "image")->u.string.chars);
            fs_lm_image img = {.pixels = g.gray, .width = g.w, .height = g.h,
                               .stride = (size_t)g.w};
            fs_lm_box box = json_box(get(e, "box"));
            float shape[136];
            ck_assert_int_eq(fs_lm_predict(real, &img, &box, NULL, NULL, shape, xy[s], ixy[s]),
                             FS_OK);
            free(g.gray);
        }
        double ia[136], ib[136];
        for (int i = 0; i < 136; i++)
            ia[i] = (double)ixy[0][i], ib[i] = (double)ixy[1][i];
        double e1 = fabs(fs_lm_nme(ia, ib, 68) - num(get(p, "nrmse")));
        double e2 = fabs(fs_lm_nme(xy[0], xy[1], 68) - num(get(p, "nrmse_float")));
        ck_assert_msg(e1 <= 1e-6 && e2 <= 1e-6, "pair %zu: errors %.3g, %.3g", k, e1, e2);
        worst = fmax(worst, fmax(e1, e2));
    }
    printf("test_landmarks: %zu pair scores within %.3g of dlib's\n", pairs->u.array.count,
           worst);
    fs_json_free(j);
}
END_TEST

/* fs_lm_run: the same parts on 1 and 3 threads as one predict per box;
 * the error of the first failing image, whatever the thread count. */
START_TEST(test_run_threads)
{
    ck_assert_msg(real, "the model did not load");
    fs_json *j = load_json("boxes.json");
    size_t n = j->u.array.count;
    fs_lm_job *jobs = calloc(n + 2, sizeof *jobs);
    fs_lm_box *boxes = calloc(n, sizeof *boxes);
    uint64_t *rows = calloc(n, sizeof *rows);
    char (*paths)[256] = calloc(n + 2, sizeof *paths);
    ck_assert(jobs && boxes && rows && paths);
    for (size_t k = 0; k < n; k++) {
        const fs_json *e = item(j, k);
        snprintf(paths[k], sizeof paths[k], "%s/%s", LM_DIR, get(e, "image")->u.string.chars);
        boxes[k] = json_box(get(e, "box"));
        rows[k] = n - 1 - k; /* rows in any order */
        jobs[k] = (fs_lm_job){.path = paths[k], .n_boxes = 1, .boxes = &boxes[k], .rows = &rows[k]};
    }
    double *want = calloc(n * 136, sizeof *want), *got = calloc(n * 136, sizeof *got);
    ck_assert(want && got);
    for (size_t k = 0; k < n; k++) {
        gray_img g = load_gray(get(item(j, k), "image")->u.string.chars);
        fs_lm_image img = {.pixels = g.gray, .width = g.w, .height = g.h, .stride = (size_t)g.w};
        float shape[136];
        ck_assert_int_eq(fs_lm_predict(real, &img, &boxes[k], NULL, NULL, shape,
                                       want + rows[k] * 136, NULL), FS_OK);
        free(g.gray);
    }
    for (int threads = 1; threads <= 3; threads += 2) {
        memset(got, 0, n * 136 * sizeof *got);
        fs_lm_run_args a = {.model = real, .jobs = jobs, .n_jobs = n, .threads = threads,
                            .xy = got};
        ck_assert_msg(fs_lm_run(&a) == FS_OK, "%s", fs_error_message());
        ck_assert_int_eq(memcmp(got, want, n * 136 * sizeof *got), 0);
    }
    /* two bad images at the end: the first one is reported */
    snprintf(paths[n], sizeof paths[n], "%s/missing-1.png", LM_DIR);
    snprintf(paths[n + 1], sizeof paths[n + 1], "%s/missing-2.png", LM_DIR);
    jobs[n] = (fs_lm_job){.path = paths[n], .n_boxes = 1, .boxes = &boxes[0], .rows = &rows[0]};
    jobs[n + 1] = (fs_lm_job){.path = paths[n + 1], .n_boxes = 1, .boxes = &boxes[0],
                              .rows = &rows[0]};
    for (int threads = 1; threads <= 4; threads++) {
        fs_lm_run_args a = {.model = real, .jobs = jobs, .n_jobs = n + 2, .threads = threads,
                            .xy = got};
        ck_assert_int_eq(fs_lm_run(&a), FS_ERR_IO);
        ck_assert_msg(strstr(fs_error_message(), "missing-1.png"), "%d threads: %s", threads,
                      fs_error_message());
    }
    free(want), free(got), free(jobs), free(boxes), free(rows), free(paths);
    fs_json_free(j);
}
END_TEST

/* The real file cut short: refused with the offset of the cut. */
START_TEST(test_real_truncated)
{
    fs_file_map fm;
    ck_assert_int_eq(fs_file_map_open(model_path(), &fm), FS_OK);
    const size_t cuts[] = {1, 2, 821, 822, 5000, 99590943, 99693936};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        fs_dlib_model *m;
        fs_status s = fs_dlib_model_parse(fm.data, cuts[i], LABEL, &m);
        ck_assert_msg(s == FS_ERR_FORMAT, "cut at %zu: %s", cuts[i], fs_error_message());
        ck_assert_ptr_null(m);
    }
    fs_file_map_close(&fm);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("landmarks");
    TCase *tc = tcase_create("tiny");
    tcase_add_test(tc, test_tiny_parse);
    tcase_add_test(tc, test_tiny_predict_by_hand);
    tcase_add_test(tc, test_corrupt_table);
    tcase_add_test(tc, test_truncation_everywhere);
    tcase_add_test(tc, test_rules);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    /* The cases against dlib need Debian's model file. */
    static const char *const model_cases[] = {"test_model_matches_dump", "test_fixture_cases",
                                              "test_trace_case0", "test_pair_scores",
                                              "test_run_threads", "test_real_truncated"};
    int have_model = access(model_path(), R_OK) == 0;
    if (have_model) {
        TCase *tm = tcase_create("dlib");
        tcase_set_timeout(tm, 600);
        tcase_add_unchecked_fixture(tm, load_real, free_real);
        tcase_add_test(tm, test_model_matches_dump);
        tcase_add_test(tm, test_fixture_cases);
        tcase_add_test(tm, test_trace_case0);
        tcase_add_test(tm, test_pair_scores);
        tcase_add_test(tm, test_run_threads);
        tcase_add_test(tm, test_real_truncated);
        suite_add_tcase(s, tm);
    } else {
        for (size_t i = 0; i < sizeof model_cases / sizeof *model_cases; i++)
            printf("SKIP: landmarks: %s: no dlib model at %s (install the Debian package "
                   "libdlib-data, or set FS_DLIB_MODEL)\n", model_cases[i], model_path());
    }
    return fs_check_run(s, "landmarks");
}
