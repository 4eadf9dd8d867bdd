/* Strict safetensors reader (see safetensors.h).
 *
 * The rules are those of the format's reference implementation
 * (huggingface/safetensors, docs/stylegan2.md §4.5): the header must be a JSON
 * object of tensor entries with exactly the keys dtype, shape and data_offsets
 * plus an optional "__metadata__" string map; and once sorted by offset the
 * tensors must tile the byte buffer exactly, from 0 to its last byte, so that
 * no byte of the file is unaccounted for (a hole could carry a second,
 * hidden payload). Every check happens before any tensor is exposed. */
#include "safetensors.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"

#define ST_MAX_HEADER 100000000u /* the reference reader's MAX_HEADER_SIZE */
#define ST_MAX_NAME 4096         /* bytes; real names are < 200 */
#define ST_METADATA_KEY "__metadata__"

typedef struct {
    const char *key;
    const char *value;
} st_meta;

struct fs_safetensors {
    fs_json *header;       /* owns every name, dtype name and metadata string */
    fs_st_tensor *tensors; /* header order */
    size_t count;
    const fs_st_tensor **by_name;
    st_meta *meta;
    size_t meta_count;
};

typedef struct {
    const char *name;
    fs_dtype dtype;
    unsigned size; /* bytes per element */
} st_dtype;

/* The dtypes of the specification this reader was written against. Types the
 * engine has no enum for are still validated with their sizes. */
static const st_dtype st_dtypes[] = {
    {"BOOL", FS_DTYPE_BOOL, 1},       {"U8", FS_DTYPE_U8, 1},
    {"I8", FS_DTYPE_I8, 1},           {"F8_E4M3", FS_DTYPE_INVALID, 1},
    {"F8_E5M2", FS_DTYPE_INVALID, 1}, {"I16", FS_DTYPE_I16, 2},
    {"U16", FS_DTYPE_INVALID, 2},     {"F16", FS_DTYPE_F16, 2},
    {"BF16", FS_DTYPE_BF16, 2},       {"I32", FS_DTYPE_I32, 4},
    {"U32", FS_DTYPE_INVALID, 4},     {"F32", FS_DTYPE_F32, 4},
    {"F64", FS_DTYPE_F64, 8},         {"I64", FS_DTYPE_I64, 8},
    {"U64", FS_DTYPE_INVALID, 8},
};

/* Later additions to the format (sub-byte, exotic float and complex types):
 * named so that a file using them gets "unsupported", not "corrupt". */
static const char *const st_newer_dtypes[] = {
    "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F4", "F6_E2M3", "F6_E3M2", "C64",
};

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Tensor names and metadata strings are handed out as C strings. */
static int has_nul(const char *s, size_t len) { return strlen(s) != len; }

static fs_status parse_dtype(const char *label, const char *name, const fs_json *v,
                             const st_dtype **out)
{
    if (!v || v->type != FS_JSON_STRING)
        return fs_error(FS_ERR_FORMAT, "%s: tensor %.200s: dtype must be a string (offset %llu)",
                        label, name, (unsigned long long)(v ? v->offset : 0));
    if (has_nul(v->u.string.chars, v->u.string.len))
        return fs_error(FS_ERR_FORMAT,
                        "%s: tensor %.200s: dtype contains a NUL character (offset %llu)", label,
                        name, (unsigned long long)v->offset);
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(v->u.string.chars, st_dtypes[i].name) == 0) {
            *out = &st_dtypes[i];
            return FS_OK;
        }
    for (size_t i = 0; i < sizeof st_newer_dtypes / sizeof st_newer_dtypes[0]; i++)
        if (strcmp(v->u.string.chars, st_newer_dtypes[i]) == 0)
            return fs_error(FS_ERR_UNSUPPORTED,
                            "%s: tensor %.200s: dtype %s is not supported (offset %llu)", label,
                            name, st_newer_dtypes[i], (unsigned long long)v->offset);
    return fs_error(FS_ERR_FORMAT, "%s: tensor %.200s: unknown dtype \"%.40s\" (offset %llu)",
                    label, name, v->u.string.chars, (unsigned long long)v->offset);
}

/* A JSON array of non-negative integers, at most max_len of them. */
static fs_status parse_uints(const char *label, const char *name, const char *key, const fs_json *v,
                             size_t max_len, fs_status too_long, uint64_t *vals, size_t *n)
{
    if (!v || v->type != FS_JSON_ARRAY)
        return fs_error(FS_ERR_FORMAT, "%s: tensor %.200s: %s must be an array (offset %llu)",
                        label, name, key, (unsigned long long)(v ? v->offset : 0));
    if (v->u.array.count > max_len)
        return fs_error(too_long,
                        "%s: tensor %.200s: %s has %zu entries, at most %zu allowed (offset %llu)",
                        label, name, key, v->u.array.count, max_len, (unsigned long long)v->offset);
    for (size_t i = 0; i < v->u.array.count; i++) {
        const fs_json *x = &v->u.array.items[i];
        if (x->type != FS_JSON_INT || x->u.integer < 0)
            return fs_error(
                FS_ERR_FORMAT,
                "%s: tensor %.200s: %s entries must be non-negative integers (offset %llu)", label,
                name, key, (unsigned long long)x->offset);
        vals[i] = (uint64_t)x->u.integer;
    }
    *n = v->u.array.count;
    return FS_OK;
}

static fs_status parse_tensor(const char *label, const fs_json_member *m, uint64_t buffer_len,
                              const uint8_t *buffer, fs_st_tensor *t)
{
    const char *name = m->key;
    if (m->key_len > ST_MAX_NAME)
        return fs_error(FS_ERR_LIMIT, "%s: tensor name of %zu bytes exceeds %d (offset %llu)",
                        label, m->key_len, ST_MAX_NAME, (unsigned long long)m->key_offset);
    if (has_nul(name, m->key_len))
        return fs_error(FS_ERR_FORMAT, "%s: tensor name contains a NUL character (offset %llu)",
                        label, (unsigned long long)m->key_offset);
    const fs_json *e = &m->value;
    const fs_json *dtype = fs_json_get(e, "dtype"), *shape = fs_json_get(e, "shape"),
                  *offsets = fs_json_get(e, "data_offsets");
    /* Keys are unique (the JSON parser rejects repeats), so three known keys
     * present and three members in all means nothing else is there. */
    if (e->type != FS_JSON_OBJECT || !dtype || !shape || !offsets || e->u.object.count != 3)
        return fs_error(FS_ERR_FORMAT,
                        "%s: tensor %.200s: entry must be an object with exactly dtype, shape and "
                        "data_offsets (offset %llu)",
                        label, name, (unsigned long long)e->offset);

    const st_dtype *dt = NULL;
    FS_TRY(parse_dtype(label, name, dtype, &dt));
    uint64_t dims[FS_ST_MAX_DIMS], ofs[2];
    size_t ndim, nofs;
    FS_TRY(parse_uints(label, name, "shape", shape, FS_ST_MAX_DIMS, FS_ERR_LIMIT, dims, &ndim));
    FS_TRY(parse_uints(label, name, "data_offsets", offsets, 2, FS_ERR_FORMAT, ofs, &nofs));
    if (nofs != 2)
        return fs_error(FS_ERR_FORMAT,
                        "%s: tensor %.200s: data_offsets must be [begin, end] (offset %llu)", label,
                        name, (unsigned long long)offsets->offset);
    if (ofs[0] > ofs[1])
        return fs_error(
            FS_ERR_FORMAT,
            "%s: tensor %.200s: data_offsets begin %llu is after end %llu (offset %llu)", label,
            name, (unsigned long long)ofs[0], (unsigned long long)ofs[1],
            (unsigned long long)offsets->offset);

    /* Elements first, then bytes, in the reference reader's order: it decides
     * which absurd shapes (say [2^63-1, 0]) are still valid empty tensors. */
    uint64_t nelem = 1, nbytes;
    for (size_t i = 0; i < ndim; i++)
        if (__builtin_mul_overflow(nelem, dims[i], &nelem))
            return fs_error(FS_ERR_FORMAT,
                            "%s: tensor %.200s: element count overflows 64 bits (offset %llu)",
                            label, name, (unsigned long long)shape->offset);
    if (__builtin_mul_overflow(nelem, (uint64_t)dt->size, &nbytes))
        return fs_error(FS_ERR_FORMAT,
                        "%s: tensor %.200s: byte size overflows 64 bits (offset %llu)", label, name,
                        (unsigned long long)shape->offset);
    if (nbytes != ofs[1] - ofs[0])
        return fs_error(FS_ERR_FORMAT,
                        "%s: tensor %.200s: shape and dtype %s need %llu bytes but data_offsets "
                        "span %llu (offset %llu)",
                        label, name, dt->name, (unsigned long long)nbytes,
                        (unsigned long long)(ofs[1] - ofs[0]), (unsigned long long)offsets->offset);
    if (ofs[1] > buffer_len)
        return fs_error(
            FS_ERR_FORMAT,
            "%s: tensor %.200s: data_offsets end %llu beyond the %llu-byte buffer (offset %llu)",
            label, name, (unsigned long long)ofs[1], (unsigned long long)buffer_len,
            (unsigned long long)offsets->offset);

    t->name = name;
    t->dtype = dt->dtype;
    t->dtype_name = dt->name;
    t->ndim = (int)ndim;
    for (size_t i = 0; i < ndim; i++)
        t->shape[i] = (int64_t)dims[i]; /* each dim <= INT64_MAX: JSON integers are int64 */
    t->data = buffer + ofs[0];
    t->nbytes = nbytes;
    return FS_OK;
}

static fs_status parse_metadata(const char *label, const fs_json *v, fs_safetensors *st)
{
    if (v->type != FS_JSON_OBJECT)
        return fs_error(FS_ERR_FORMAT,
                        "%s: __metadata__ must be an object of strings, not %s (offset %llu)",
                        label, fs_json_type_name(v->type), (unsigned long long)v->offset);
    st->meta = calloc(v->u.object.count ? v->u.object.count : 1, sizeof *st->meta);
    if (!st->meta)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", label);
    for (size_t i = 0; i < v->u.object.count; i++) {
        const fs_json_member *m = &v->u.object.members[i];
        if (m->value.type != FS_JSON_STRING)
            return fs_error(
                FS_ERR_FORMAT,
                "%s: __metadata__ value of \"%.80s\" must be a string, not %s (offset %llu)", label,
                m->key, fs_json_type_name(m->value.type), (unsigned long long)m->value.offset);
        if (has_nul(m->key, m->key_len) || has_nul(m->value.u.string.chars, m->value.u.string.len))
            return fs_error(FS_ERR_FORMAT,
                            "%s: __metadata__ string contains a NUL character (offset %llu)", label,
                            (unsigned long long)m->key_offset);
        st->meta[i].key = m->key;
        st->meta[i].value = m->value.u.string.chars;
    }
    st->meta_count = v->u.object.count;
    return FS_OK;
}

static int by_offset_cmp(const void *a, const void *b)
{
    const fs_st_tensor *x = *(const fs_st_tensor *const *)a, *y = *(const fs_st_tensor *const *)b;
    if (x->data != y->data)
        return x->data < y->data ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static int by_name_cmp(const void *a, const void *b)
{
    const fs_st_tensor *x = *(const fs_st_tensor *const *)a, *y = *(const fs_st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

/* Sorted by begin (then end, so empty tensors come first at a shared offset),
 * each tensor must start where the previous one ended. by_name is used as
 * scratch space for the sort. */
static fs_status check_tiling(const char *label, fs_safetensors *st, const uint8_t *buffer,
                              uint64_t buffer_len)
{
    const fs_st_tensor **order = st->by_name;
    for (size_t i = 0; i < st->count; i++)
        order[i] = &st->tensors[i];
    qsort(order, st->count, sizeof *order, by_offset_cmp);
    uint64_t expected = 0;
    for (size_t i = 0; i < st->count; i++) {
        uint64_t begin = (uint64_t)(order[i]->data - buffer);
        if (begin != expected)
            return fs_error(
                FS_ERR_FORMAT,
                "%s: tensor %.200s: data starts at %llu but the previous tensor ends at %llu (%s)",
                label, order[i]->name, (unsigned long long)begin, (unsigned long long)expected,
                begin > expected ? "a hole in the buffer" : "overlapping tensors");
        expected = begin + order[i]->nbytes;
    }
    if (expected != buffer_len)
        return fs_error(FS_ERR_FORMAT,
                        "%s: %llu bytes after the last tensor are not described by the header",
                        label, (unsigned long long)(buffer_len - expected));
    return FS_OK;
}

static fs_status parse_header(const char *label, const fs_json *root, const uint8_t *buffer,
                              uint64_t buffer_len, fs_safetensors *st)
{
    if (root->type != FS_JSON_OBJECT)
        return fs_error(FS_ERR_FORMAT, "%s: header is not a JSON object (offset 8)", label);
    size_t n = root->u.object.count;
    st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
    st->by_name = calloc(n ? n : 1, sizeof *st->by_name);
    if (!st->tensors || !st->by_name)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory for %zu tensors", label, n);
    for (size_t i = 0; i < n; i++) {
        const fs_json_member *m = &root->u.object.members[i];
        if (strcmp(m->key, ST_METADATA_KEY) == 0 && m->key_len == strlen(ST_METADATA_KEY))
            FS_TRY(parse_metadata(label, &m->value, st));
        else
            FS_TRY(parse_tensor(label, m, buffer_len, buffer, &st->tensors[st->count++]));
    }
    FS_TRY(check_tiling(label, st, buffer, buffer_len));
    for (size_t i = 0; i < st->count; i++)
        st->by_name[i] = &st->tensors[i];
    qsort(st->by_name, st->count, sizeof *st->by_name, by_name_cmp);
    return FS_OK;
}

fs_status fs_safetensors_open(const uint8_t *buf, size_t len, const char *label,
                              fs_safetensors **out)
{
    if (!out)
        return fs_error(FS_ERR_ARG, "fs_safetensors_open: out is NULL");
    *out = NULL;
    if (!label)
        label = "safetensors";
    if (!buf && len > 0)
        return fs_error(FS_ERR_ARG, "%s: NULL buffer", label);
    if (len < 8)
        return fs_error(FS_ERR_FORMAT, "%s: %zu bytes is too short for the 8-byte header length",
                        label, len);
    uint64_t n = rd64(buf);
    if (n > ST_MAX_HEADER)
        return fs_error(FS_ERR_LIMIT,
                        "%s: impossible safetensors header length %llu: more than the %u-byte "
                        "limit (offset 0)",
                        label, (unsigned long long)n, ST_MAX_HEADER);
    if (n > len - 8)
        return fs_error(FS_ERR_FORMAT,
                        "%s: impossible safetensors header length %llu: runs past the end of the "
                        "%zu-byte file (offset 0)",
                        label, (unsigned long long)n, len);
    if (n == 0 || buf[8] != '{')
        return fs_error(FS_ERR_FORMAT, "%s: header does not start with '{' (offset 8)", label);

    fs_safetensors *st = calloc(1, sizeof *st);
    if (!st)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", label);
    /* The reference writer pads the header with spaces; JSON allows trailing
     * whitespace, so the parser accepts the padding as it is. */
    fs_status s = fs_json_parse(buf + 8, (size_t)n, label, 8, &st->header);
    if (s == FS_OK)
        s = parse_header(label, st->header, buf + 8 + n, len - 8 - n, st);
    if (s != FS_OK) {
        fs_safetensors_free(st);
        return s;
    }
    *out = st;
    return FS_OK;
}

void fs_safetensors_free(fs_safetensors *st)
{
    if (!st)
        return;
    fs_json_free(st->header);
    free(st->tensors);
    free(st->by_name);
    free(st->meta);
    free(st);
}

size_t fs_safetensors_count(const fs_safetensors *st) { return st ? st->count : 0; }

const fs_st_tensor *fs_safetensors_tensor_at(const fs_safetensors *st, size_t i)
{
    return st && i < st->count ? &st->tensors[i] : NULL;
}

const fs_st_tensor *fs_safetensors_find(const fs_safetensors *st, const char *name)
{
    if (!st || !name || st->count == 0)
        return NULL;
    fs_st_tensor key = {.name = name};
    const fs_st_tensor *pkey = &key;
    const fs_st_tensor **hit =
        bsearch(&pkey, st->by_name, st->count, sizeof *st->by_name, by_name_cmp);
    return hit ? *hit : NULL;
}

size_t fs_safetensors_meta_count(const fs_safetensors *st) { return st ? st->meta_count : 0; }

void fs_safetensors_meta_at(const fs_safetensors *st, size_t i, const char **key,
                            const char **value)
{
    int ok = st && i < st->meta_count;
    if (key)
        *key = ok ? st->meta[i].key : NULL;
    if (value)
        *value = ok ? st->meta[i].value : NULL;
}
