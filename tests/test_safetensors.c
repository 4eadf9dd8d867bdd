/* Check suite for the safetensors reader and the JSON parser beneath it
 * (weights_tools/safetensors.c, weights_tools/json.c).
 *
 * The fixtures must open and agree with the same weights read from the
 * torch.save archive. Small files are assembled here from a header string and
 * a buffer length, so that each table row states one rule of the format and
 * the status its violation must produce; every prefix of a valid file must be
 * rejected, and the JSON parser has its own table of valid and invalid texts. */
#include "check_util.h"

#include <stdint.h>

#include "../engine/file.h"
#include "../weights_tools/json.h"
#include "../weights_tools/safetensors.h"
#include "../weights_tools/zip.h"

#define LABEL "unit.safetensors"

static void expect_fail(fs_status got, fs_status want, const char *what)
{
    ck_assert_msg(got == want, "%s: got %s (%s), want %s", what, fs_status_string(got),
                  fs_error_message(), fs_status_string(want));
    ck_assert_msg(strstr(fs_error_message(), LABEL), "%s: message lacks the label: %s", what,
                  fs_error_message());
    ck_assert_msg(!strchr(fs_error_message(), '\n'), "%s: multi-line message", what);
}

/* u64 header length, the header, then buffer_len bytes numbered 0, 1, 2... */
static uint8_t *st_file(const char *header, size_t header_len, size_t buffer_len, size_t *len)
{
    *len = 8 + header_len + buffer_len;
    uint8_t *f = malloc(*len);
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 8; i++)
        f[i] = (uint8_t)((uint64_t)header_len >> (8 * i));
    memcpy(f + 8, header, header_len);
    for (size_t i = 0; i < buffer_len; i++)
        f[8 + header_len + i] = (uint8_t)i;
    return f;
}

/* ---- fixtures ---- */

START_TEST(test_fixtures)
{
    static const struct {
        const char *st, *pt;
        size_t count;
    } files[] = {
        {FS_FIXTURES "/stylegan2/tiny/G_ema.safetensors", FS_FIXTURES "/stylegan2/tiny/G_ema.pt",
         87},
        {FS_FIXTURES "/stylegan2/tiny-cond/G_ema.safetensors",
         FS_FIXTURES "/stylegan2/tiny-cond/G_ema.pt", 62},
    };
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        fs_file_map m, mz;
        ck_assert_int_eq(fs_file_map_open(files[f].st, &m), FS_OK);
        fs_safetensors *st;
        ck_assert_msg(fs_safetensors_open(m.data, m.size, files[f].st, &st) == FS_OK, "%s",
                      fs_error_message());
        ck_assert_uint_eq(fs_safetensors_count(st), files[f].count);
        ck_assert_uint_eq(fs_safetensors_meta_count(st), 1);
        const char *k, *v;
        fs_safetensors_meta_at(st, 0, &k, &v);
        ck_assert_str_eq(k, "format");
        ck_assert_str_eq(v, "pt");
        fs_safetensors_meta_at(st, 1, &k, &v);
        ck_assert_ptr_null(k);

        uint64_t total = 0;
        for (size_t i = 0; i < fs_safetensors_count(st); i++) {
            const fs_st_tensor *t = fs_safetensors_tensor_at(st, i);
            ck_assert_int_eq(t->dtype, FS_DTYPE_F32);
            ck_assert_str_eq(t->dtype_name, "F32");
            ck_assert_ptr_eq(fs_safetensors_find(st, t->name), t);
            total += t->nbytes;
        }
        ck_assert_ptr_null(fs_safetensors_tensor_at(st, files[f].count));
        ck_assert_ptr_null(fs_safetensors_find(st, "synthesis.b4.missing"));

        const fs_st_tensor *c = fs_safetensors_find(st, "synthesis.b4.const");
        ck_assert_ptr_nonnull(c);
        ck_assert_int_eq(c->ndim, 3);
        ck_assert_int_eq(c->shape[0], 64);
        ck_assert_int_eq(c->shape[1], 4);
        ck_assert_int_eq(c->shape[2], 4);
        ck_assert_uint_eq(c->nbytes, 4096);
        const fs_st_tensor *ns = fs_safetensors_find(st, "synthesis.b4.conv1.noise_strength");
        ck_assert_ptr_nonnull(ns);
        ck_assert_int_eq(ns->ndim, 0); /* torch.zeros([]) */
        ck_assert_uint_eq(ns->nbytes, 4);
        /* The tensors tile the rest of the file exactly. */
        ck_assert_uint_eq(total, (uint64_t)(m.data + m.size - c->data));

        /* Same bytes as the first storage of the torch.save archive. */
        ck_assert_int_eq(fs_file_map_open(files[f].pt, &mz), FS_OK);
        fs_zip *z;
        const uint8_t *d;
        ck_assert_int_eq(fs_zip_open(mz.data, mz.size, files[f].pt, &z), FS_OK);
        const fs_zip_entry *e = fs_zip_find(z, "G_ema/data/0");
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(fs_zip_entry_data(z, e, 1, &d), FS_OK);
        ck_assert_uint_eq(e->size, c->nbytes);
        ck_assert_int_eq(memcmp(d, c->data, c->nbytes), 0);
        fs_zip_free(z);
        fs_file_map_close(&mz);
        fs_safetensors_free(st);
        fs_file_map_close(&m);
    }
}
END_TEST

/* ---- valid edge cases ---- */

START_TEST(test_valid_edge_cases)
{
    static const char hdr[] =
        "{\"b\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[4,20]},"
        "\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
        "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
        "\"empty2\":{\"dtype\":\"BF16\",\"shape\":[3,0],\"data_offsets\":[4,4]},"
        "\"scalar\":{\"dtype\":\"F8_E4M3\",\"shape\":[],\"data_offsets\":[20,21]},"
        "\"u\\u00e9\\ud83d\\ude00\":{\"dtype\":\"U64\",\"shape\":[1,1,1,1,1,1,1,1],\"data_"
        "offsets\":[21,29]},"
        "\"__metadata__\":{\"k\":\"v\",\"tab\":\"a\\tb\"}}        ";
    size_t len;
    uint8_t *f = st_file(hdr, sizeof hdr - 1, 29, &len);
    fs_safetensors *st;
    ck_assert_msg(fs_safetensors_open(f, len, LABEL, &st) == FS_OK, "%s", fs_error_message());
    ck_assert_uint_eq(fs_safetensors_count(st), 6);
    /* Header order is kept. */
    ck_assert_str_eq(fs_safetensors_tensor_at(st, 0)->name, "b");
    ck_assert_str_eq(fs_safetensors_tensor_at(st, 1)->name, "a");
    const fs_st_tensor *b = fs_safetensors_find(st, "b");
    ck_assert_int_eq(b->dtype, FS_DTYPE_I64);
    ck_assert_ptr_eq(b->data, f + 8 + sizeof hdr - 1 + 4);
    ck_assert_uint_eq(b->nbytes, 16);
    const fs_st_tensor *s = fs_safetensors_find(st, "scalar");
    ck_assert_int_eq(s->dtype, FS_DTYPE_INVALID);
    ck_assert_str_eq(s->dtype_name, "F8_E4M3");
    ck_assert_int_eq(s->ndim, 0);
    const fs_st_tensor *u = fs_safetensors_find(st, "u\xc3\xa9\xf0\x9f\x98\x80");
    ck_assert_ptr_nonnull(u);
    ck_assert_int_eq(u->ndim, 8);
    ck_assert_int_eq(u->dtype, FS_DTYPE_INVALID);
    ck_assert_uint_eq(fs_safetensors_find(st, "empty")->nbytes, 0);
    ck_assert_uint_eq(fs_safetensors_meta_count(st), 2);
    const char *k, *v;
    fs_safetensors_meta_at(st, 1, &k, &v);
    ck_assert_str_eq(k, "tab");
    ck_assert_str_eq(v, "a\tb");
    fs_safetensors_free(st);
    free(f);

    /* No tensors at all. */
    f = st_file("{}", 2, 0, &len);
    ck_assert_int_eq(fs_safetensors_open(f, len, LABEL, &st), FS_OK);
    ck_assert_uint_eq(fs_safetensors_count(st), 0);
    ck_assert_ptr_null(fs_safetensors_find(st, "x"));
    fs_safetensors_free(st);
    free(f);
}
END_TEST

/* ---- corruption table ---- */

typedef struct {
    const char *what;
    const char *header;
    size_t buffer_len;
    fs_status expect;
} st_row;

#define T(name, dtype, shape, b, e)                                                                \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

/* clang-format off */
static const st_row st_rows[] = {
    {"valid single tensor", "{" T("a", "F32", "[2]", 0, 8) "}", 8, FS_OK},
    {"valid with padding", "{" T("a", "F32", "[2]", 0, 8) "}   \t\n", 8, FS_OK},
    /* framing */
    {"header is not an object", "[]", 0, FS_ERR_FORMAT},
    {"header starts with a space", " {}", 0, FS_ERR_FORMAT},
    {"header padded with NUL", "{}\0", 0, FS_ERR_FORMAT},
    {"text after the object", "{}x", 0, FS_ERR_FORMAT},
    {"two objects", "{}{}", 0, FS_ERR_FORMAT},
    {"unterminated object", "{" T("a", "F32", "[2]", 0, 8), 8, FS_ERR_FORMAT},
    {"invalid UTF-8 in a name", "{\"\xff\":{}}", 0, FS_ERR_FORMAT},
    {"deep nesting in metadata", "{\"__metadata__\":"
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 0, FS_ERR_LIMIT},
    /* entries */
    {"duplicate tensor name", "{" T("a", "F32", "[1]", 0, 4) "," T("a", "F32", "[1]", 4, 8) "}", 8, FS_ERR_FORMAT},
    {"duplicate key in an entry",
     "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, FS_ERR_FORMAT},
    {"entry is not an object", "{\"a\":[1,2]}", 0, FS_ERR_FORMAT},
    {"entry lacks dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, FS_ERR_FORMAT},
    {"entry lacks shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, FS_ERR_FORMAT},
    {"entry lacks data_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, FS_ERR_FORMAT},
    {"entry has an extra key",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, FS_ERR_FORMAT},
    {"entry key misspelt", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offset\":[0,4]}}", 4, FS_ERR_FORMAT},
    {"name with NUL", "{" T("a\\u0000b", "F32", "[1]", 0, 4) "}", 4, FS_ERR_FORMAT},
    /* dtypes */
    {"unknown dtype", "{" T("a", "F33", "[1]", 0, 4) "}", 4, FS_ERR_FORMAT},
    {"lower-case dtype", "{" T("a", "f32", "[1]", 0, 4) "}", 4, FS_ERR_FORMAT},
    {"dtype with NUL", "{" T("a", "F32\\u0000", "[1]", 0, 4) "}", 4, FS_ERR_FORMAT},
    {"newer dtype C64", "{" T("a", "C64", "[1]", 0, 8) "}", 8, FS_ERR_UNSUPPORTED},
    {"newer dtype F4", "{" T("a", "F4", "[2]", 0, 1) "}", 1, FS_ERR_UNSUPPORTED},
    {"dtype is a number", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, FS_ERR_FORMAT},
    /* shapes */
    {"shape is not an array", "{" T("a", "F32", "4", 0, 4) "}", 4, FS_ERR_FORMAT},
    {"negative dimension", "{" T("a", "F32", "[-1]", 0, 4) "}", 4, FS_ERR_FORMAT},
    {"real dimension", "{" T("a", "F32", "[1.0]", 0, 4) "}", 4, FS_ERR_FORMAT},
    {"string dimension", "{" T("a", "F32", "[\"1\"]", 0, 4) "}", 4, FS_ERR_FORMAT},
    {"rank 9", "{" T("a", "U8", "[1,1,1,1,1,1,1,1,1]", 0, 1) "}", 1, FS_ERR_LIMIT},
    {"shape product overflows", "{" T("a", "U8", "[4294967296,4294967296]", 0, 0) "}", 0, FS_ERR_FORMAT},
    {"byte size overflows", "{" T("a", "F64", "[2305843009213693952]", 0, 0) "}", 0, FS_ERR_FORMAT},
    {"max dimension times zero", "{" T("a", "F32", "[9223372036854775807,0]", 0, 0) "}", 0, FS_OK},
    {"dimension beyond int64", "{" T("a", "F32", "[9223372036854775808]", 0, 4) "}", 4, FS_ERR_LIMIT},
    {"shape and offsets disagree", "{" T("a", "F32", "[3]", 0, 8) "}", 8, FS_ERR_FORMAT},
    /* offsets */
    {"one offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, FS_ERR_FORMAT},
    {"three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, FS_ERR_FORMAT},
    {"negative offset", "{" T("a", "F32", "[1]", -4, 0) "}", 4, FS_ERR_FORMAT},
    {"begin after end", "{" T("a", "F32", "[1]", 8, 4) "}", 8, FS_ERR_FORMAT},
    {"end beyond the buffer", "{" T("a", "F32", "[2]", 0, 8) "}", 4, FS_ERR_FORMAT},
    {"huge offsets", "{" T("a", "U8", "[1]", 9223372036854775806, 9223372036854775807) "}", 4, FS_ERR_FORMAT},
    {"hole at the start", "{" T("a", "F32", "[1]", 4, 8) "}", 8, FS_ERR_FORMAT},
    {"hole in the middle", "{" T("a", "F32", "[1]", 0, 4) "," T("b", "F32", "[1]", 8, 12) "}", 12, FS_ERR_FORMAT},
    {"overlap", "{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[1]", 4, 8) "}", 8, FS_ERR_FORMAT},
    {"identical ranges", "{" T("a", "F32", "[1]", 0, 4) "," T("b", "F32", "[1]", 0, 4) "}", 4, FS_ERR_FORMAT},
    {"trailing bytes", "{" T("a", "F32", "[1]", 0, 4) "}", 5, FS_ERR_FORMAT},
    {"bytes but no tensors", "{}", 1, FS_ERR_FORMAT},
    {"zero-size tensors share an offset", "{" T("a", "F32", "[0]", 0, 0) "," T("b", "F32", "[0]", 0, 0) "," T(
         "c", "U8", "[1]", 0, 1) "}", 1, FS_OK},
    /* metadata */
    {"metadata is an array", "{\"__metadata__\":[]}", 0, FS_ERR_FORMAT},
    {"metadata is null", "{\"__metadata__\":null}", 0, FS_ERR_FORMAT},
    {"metadata value is a number", "{\"__metadata__\":{\"a\":1}}", 0, FS_ERR_FORMAT},
    {"metadata value is an object", "{\"__metadata__\":{\"a\":{}}}", 0, FS_ERR_FORMAT},
    {"metadata string with NUL", "{\"__metadata__\":{\"a\":\"x\\u0000\"}}", 0, FS_ERR_FORMAT},
    {"metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, FS_ERR_FORMAT},
    {"metadata empty", "{\"__metadata__\":{}}", 0, FS_OK},
};
/* clang-format on */

START_TEST(test_corruption_table)
{
    for (size_t r = 0; r < sizeof st_rows / sizeof st_rows[0]; r++) {
        const st_row *row = &st_rows[r];
        /* "{}\0" needs its NUL: the table strings are short, find the real end. */
        size_t hlen = strlen(row->header);
        if (strcmp(row->what, "header padded with NUL") == 0)
            hlen++;
        size_t len;
        uint8_t *f = st_file(row->header, hlen, row->buffer_len, &len);
        fs_safetensors *st = (fs_safetensors *)1;
        fs_error_clear();
        fs_status s = fs_safetensors_open(f, len, LABEL, &st);
        if (row->expect == FS_OK) {
            ck_assert_msg(s == FS_OK, "%s: %s", row->what, fs_error_message());
            fs_safetensors_free(st);
        } else {
            expect_fail(s, row->expect, row->what);
            ck_assert_ptr_null(st);
        }
        free(f);
    }
}
END_TEST

START_TEST(test_header_length_and_truncation)
{
    fs_safetensors *st;
    static const char hdr[] = "{" T("a", "F32", "[2]", 0, 8) "," T("b", "U8", "[3]", 8, 11) "}  ";
    size_t len;
    uint8_t *f = st_file(hdr, sizeof hdr - 1, 11, &len);
    ck_assert_int_eq(fs_safetensors_open(f, len, LABEL, &st), FS_OK);
    fs_safetensors_free(st);
    for (size_t n = 0; n < len; n++)
        expect_fail(fs_safetensors_open(f, n, LABEL, &st), FS_ERR_FORMAT, "truncated file");

    /* The header length field itself. */
    static const struct {
        uint64_t n;
        fs_status expect;
    } lens[] = {
        {0, FS_ERR_FORMAT},
        {100000001, FS_ERR_LIMIT},
        {UINT64_MAX, FS_ERR_LIMIT},
        {UINT64_MAX - 7, FS_ERR_LIMIT},
        {sizeof hdr - 1 + 12, FS_ERR_FORMAT}, /* past the end */
        {sizeof hdr - 1 - 1, FS_ERR_FORMAT},  /* cuts the padding short: one space becomes data */
        {sizeof hdr - 1 - 3, FS_ERR_FORMAT},  /* cuts the JSON */
    };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (int k = 0; k < 8; k++)
            f[k] = (uint8_t)(lens[i].n >> (8 * k));
        expect_fail(fs_safetensors_open(f, len, LABEL, &st), lens[i].expect, "header length");
    }
    free(f);

    /* A header of exactly the cap is measured against the file, not refused. */
    uint8_t small[16] = {0x00, 0xe1, 0xf5, 0x05, 0, 0, 0, 0, '{', '}'}; /* 100,000,000 */
    expect_fail(fs_safetensors_open(small, sizeof small, LABEL, &st), FS_ERR_FORMAT,
                "header at the cap");
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "runs past"));
}
END_TEST

START_TEST(test_long_names)
{
    /* 4096 bytes of name are fine, 4097 a limit error. */
    for (int extra = 0; extra < 2; extra++) {
        size_t n = 4096 + (size_t)extra;
        char *h = malloc(n + 128);
        ck_assert_ptr_nonnull(h);
        strcpy(h, "{\"");
        memset(h + 2, 'x', n);
        strcpy(h + 2 + n, "\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}");
        size_t len;
        uint8_t *f = st_file(h, strlen(h), 1, &len);
        fs_safetensors *st;
        fs_status s = fs_safetensors_open(f, len, LABEL, &st);
        if (extra) {
            expect_fail(s, FS_ERR_LIMIT, "long name");
        } else {
            ck_assert_msg(s == FS_OK, "%s", fs_error_message());
            fs_safetensors_free(st);
        }
        free(f);
        free(h);
    }
}
END_TEST

/* ---- JSON ---- */

static fs_json *json_ok(const char *text)
{
    fs_json *v = NULL;
    fs_status s = fs_json_parse((const uint8_t *)text, strlen(text), LABEL, 100, &v);
    ck_assert_msg(s == FS_OK, "%s: %s", text, fs_error_message());
    return v;
}

START_TEST(test_json_values)
{
    fs_json *v =
        json_ok(" {\"a\" : [1, -0, -9223372036854775808, 9223372036854775807, 2.5e3, -1E-2, 0.1],"
                " \"s\": \"q\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac\\ud834\\udd1e\","
                " \"t\": true, \"f\": false, \"n\": null, \"o\": {}} ");
    ck_assert_int_eq(v->type, FS_JSON_OBJECT);
    ck_assert_uint_eq(v->offset, 101);
    ck_assert_uint_eq(v->u.object.count, 6);
    const fs_json *a = fs_json_get(v, "a");
    ck_assert_int_eq(a->type, FS_JSON_ARRAY);
    ck_assert_uint_eq(a->u.array.count, 7);
    ck_assert_int_eq(a->u.array.items[0].u.integer, 1);
    ck_assert_uint_eq(a->u.array.items[0].offset, 100 + 9);
    ck_assert_int_eq(a->u.array.items[1].type, FS_JSON_INT);
    ck_assert_int_eq(a->u.array.items[1].u.integer, 0);
    ck_assert_int_eq(a->u.array.items[2].u.integer, INT64_MIN);
    ck_assert_int_eq(a->u.array.items[3].u.integer, INT64_MAX);
    ck_assert_int_eq(a->u.array.items[4].type, FS_JSON_REAL);
    ck_assert_double_eq_tol(a->u.array.items[4].u.real, 2500.0, 1e-9);
    ck_assert_double_eq_tol(a->u.array.items[5].u.real, -0.01, 1e-15);
    ck_assert_double_eq_tol(a->u.array.items[6].u.real, 0.1, 1e-15);
    const fs_json *s = fs_json_get(v, "s");
    static const char want[] = "q\"\\/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e";
    ck_assert_uint_eq(s->u.string.len, sizeof want - 1);
    ck_assert_int_eq(memcmp(s->u.string.chars, want, sizeof want), 0);
    ck_assert_int_eq(fs_json_get(v, "t")->u.boolean, 1);
    ck_assert_int_eq(fs_json_get(v, "f")->type, FS_JSON_BOOL);
    ck_assert_int_eq(fs_json_get(v, "f")->u.boolean, 0);
    ck_assert_int_eq(fs_json_get(v, "n")->type, FS_JSON_NULL);
    ck_assert_int_eq(fs_json_get(v, "o")->type, FS_JSON_OBJECT);
    ck_assert_ptr_null(fs_json_get(v, "missing"));
    ck_assert_ptr_null(fs_json_get(a, "a"));
    fs_json_free(v);

    /* Raw UTF-8 passes through; \u0000 is kept and counted. */
    v = json_ok("\"\xe2\x82\xac\\u0000x\"");
    ck_assert_uint_eq(v->u.string.len, 5);
    ck_assert_int_eq(memcmp(v->u.string.chars, "\xe2\x82\xac\0x", 6), 0);
    fs_json_free(v);

    /* Exactly the depth cap is fine. */
    char deep[2 * FS_JSON_MAX_DEPTH + 1];
    memset(deep, '[', FS_JSON_MAX_DEPTH);
    memset(deep + FS_JSON_MAX_DEPTH, ']', FS_JSON_MAX_DEPTH);
    deep[2 * FS_JSON_MAX_DEPTH] = '\0';
    fs_json_free(json_ok(deep));
    /* One more level, of arrays or of objects, is a limit error. */
    char deeper[6 * (FS_JSON_MAX_DEPTH + 1) + 2 * FS_JSON_MAX_DEPTH + 8];
    for (int kind = 0; kind < 2; kind++) {
        size_t n = 0;
        for (int i = 0; i <= FS_JSON_MAX_DEPTH; i++)
            n += (size_t)sprintf(deeper + n, "%s", kind ? "{\"a\":" : "[");
        n += (size_t)sprintf(deeper + n, "1");
        for (int i = 0; i <= FS_JSON_MAX_DEPTH; i++)
            deeper[n++] = kind ? '}' : ']';
        deeper[n] = '\0';
        fs_json *v2 = (fs_json *)1;
        expect_fail(fs_json_parse((const uint8_t *)deeper, n, LABEL, 0, &v2), FS_ERR_LIMIT,
                    "too deep");
        ck_assert_ptr_null(v2);
    }
    fs_json_free(json_ok("0"));
    fs_json_free(json_ok("\"\""));

    /* Many keys: duplicate detection sorts rather than compares all pairs. */
    size_t nkeys = 20000;
    char *big = malloc(nkeys * 16 + 16);
    ck_assert_ptr_nonnull(big);
    size_t n = 0;
    big[n++] = '{';
    for (size_t i = 0; i < nkeys; i++)
        n += (size_t)sprintf(big + n, "%s\"k%zu\":%zu", i ? "," : "", i, i);
    big[n++] = '}';
    big[n] = '\0';
    v = json_ok(big);
    ck_assert_uint_eq(v->u.object.count, nkeys);
    fs_json_free(v);
    strcpy(big + n - 1, ",\"k7\":0}");
    fs_json *dup = NULL;
    expect_fail(fs_json_parse((const uint8_t *)big, strlen(big), LABEL, 0, &dup), FS_ERR_FORMAT,
                "many keys");
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "\"k7\""));
    free(big);
}
END_TEST

typedef struct {
    const char *text;
    fs_status expect;
} json_row;

/* clang-format off */
static const json_row json_rows[] = {
    {"", FS_ERR_FORMAT},
    {"   ", FS_ERR_FORMAT},
    {"01", FS_ERR_FORMAT},
    {"-01", FS_ERR_FORMAT},
    {"1.", FS_ERR_FORMAT},
    {".5", FS_ERR_FORMAT},
    {"-", FS_ERR_FORMAT},
    {"+1", FS_ERR_FORMAT},
    {"1e", FS_ERR_FORMAT},
    {"1e+", FS_ERR_FORMAT},
    {"0x10", FS_ERR_FORMAT},
    {"NaN", FS_ERR_FORMAT},
    {"Infinity", FS_ERR_FORMAT},
    {"-Infinity", FS_ERR_FORMAT},
    {"tru", FS_ERR_FORMAT},
    {"nul", FS_ERR_FORMAT},
    {"True", FS_ERR_FORMAT},
    {"[1,]", FS_ERR_FORMAT},
    {"[,1]", FS_ERR_FORMAT},
    {"[1 2]", FS_ERR_FORMAT},
    {"[", FS_ERR_FORMAT},
    {"]", FS_ERR_FORMAT},
    {"{,}", FS_ERR_FORMAT},
    {"{\"a\" 1}", FS_ERR_FORMAT},
    {"{\"a\":1,}", FS_ERR_FORMAT},
    {"{\"a\":}", FS_ERR_FORMAT},
    {"{a:1}", FS_ERR_FORMAT},
    {"{'a':1}", FS_ERR_FORMAT},
    {"{1:1}", FS_ERR_FORMAT},
    {"{\"a\":1", FS_ERR_FORMAT},
    {"{\"a\":1,\"a\":2}", FS_ERR_FORMAT},
    {"{\"a\":{\"b\":1,\"b\":1}}", FS_ERR_FORMAT},
    {"[1] 2", FS_ERR_FORMAT},
    {"\"abc", FS_ERR_FORMAT},
    {"\"abc\\", FS_ERR_FORMAT},
    {"\"abc\\\"", FS_ERR_FORMAT},
    {"\"\\x41\"", FS_ERR_FORMAT},
    {"\"\\u12\"", FS_ERR_FORMAT},
    {"\"\\u12g4\"", FS_ERR_FORMAT},
    {"\"\\ud800\"", FS_ERR_FORMAT},
    {"\"\\udc00\"", FS_ERR_FORMAT},
    {"\"\\ud800\\u0041\"", FS_ERR_FORMAT},
    {"\"\\ud800\\ud800\"", FS_ERR_FORMAT},
    {"\"\\ud800\\\"", FS_ERR_FORMAT},
    {"\"tab\there\"", FS_ERR_FORMAT},
    {"\"nl\nhere\"", FS_ERR_FORMAT},
    {"\"\xc0\x80\"", FS_ERR_FORMAT},         /* overlong NUL */
    {"\"\xe0\x80\xaf\"", FS_ERR_FORMAT},     /* overlong '/' */
    {"\"\xed\xa0\x80\"", FS_ERR_FORMAT},     /* UTF-16 surrogate */
    {"\"\xf4\x90\x80\x80\"", FS_ERR_FORMAT}, /* above U+10FFFF */
    {"\"\xf8\x88\x80\x80\x80\"", FS_ERR_FORMAT},
    {"\"\xff\"", FS_ERR_FORMAT},
    {"\"\xc3\"", FS_ERR_FORMAT},             /* truncated sequence */
    {"\"\xe2\x82\"", FS_ERR_FORMAT},
    {"\x80", FS_ERR_FORMAT},
    {"\xef\xbb\xbf{}", FS_ERR_FORMAT},       /* byte order mark */
    {"9223372036854775808", FS_ERR_LIMIT},
    {"-9223372036854775809", FS_ERR_LIMIT},
    {"99999999999999999999999", FS_ERR_LIMIT},
    {"1e999", FS_ERR_LIMIT},
    {"-1e400", FS_ERR_LIMIT},
    {"1e-999", FS_OK},
    {"123456789012345678901234567890.5", FS_OK},
};
/* clang-format on */

START_TEST(test_json_table)
{
    for (size_t r = 0; r < sizeof json_rows / sizeof json_rows[0]; r++) {
        const json_row *row = &json_rows[r];
        fs_json *v = (fs_json *)1;
        fs_error_clear();
        fs_status s = fs_json_parse((const uint8_t *)row->text, strlen(row->text), LABEL, 8, &v);
        if (row->expect == FS_OK) {
            ck_assert_msg(s == FS_OK, "%s: %s", row->text, fs_error_message());
            fs_json_free(v);
            continue;
        }
        ck_assert_msg(s == row->expect, "row %zu (%s): got %s (%s)", r, row->text,
                      fs_status_string(s), fs_error_message());
        ck_assert_ptr_null(v);
        ck_assert_msg(strstr(fs_error_message(), LABEL) && strstr(fs_error_message(), "(offset "),
                      "row %zu: message lacks label or offset: %s", r, fs_error_message());
        ck_assert_ptr_null(strchr(fs_error_message(), '\n'));
    }
    /* Every proper prefix of a valid document is invalid. */
    static const char doc[] =
        "{\"k\":[1,2.5e-3,\"\\ud83d\\ude00\xc3\xa9\",true,false,null,{}],\"m\":-7}";
    for (size_t n = 0; n + 1 < sizeof doc; n++) {
        fs_json *v = NULL;
        fs_status s = fs_json_parse((const uint8_t *)doc, n, LABEL, 0, &v);
        ck_assert_msg(s == FS_ERR_FORMAT, "prefix %zu: %s", n, fs_status_string(s));
    }
}
END_TEST

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("safetensors");
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_valid_edge_cases);
    tcase_add_test(tc, test_corruption_table);
    tcase_add_test(tc, test_header_length_and_truncation);
    tcase_add_test(tc, test_long_names);
    suite_add_tcase(s, tc);
    TCase *tj = tcase_create("json");
    tcase_add_test(tj, test_json_values);
    tcase_add_test(tj, test_json_table);
    suite_add_tcase(s, tj);
    return s;
}

int main(void) { return fs_check_run(safetensors_suite(), "safetensors"); }
