/* Flat weight file reader: every check the format promises, in an order that
 * never reads a byte before proving it lies inside the file. Header first,
 * then the region bounds, then the checksummed metadata and directory, then
 * each tensor, and last the family's own list of required tensors. */
#include "weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "file.h"

struct fs_weights {
    char *label;
    fs_file_map map;        /* when opened from a path */
    uint8_t *owned;         /* when given a malloc'd buffer */
    const uint8_t *buf;
    size_t len;
    fs_family family;
    uint64_t data_offset, data_size;
    fs_tensor *tensors;
    size_t n_tensors;
    size_t *by_name;        /* tensor indices sorted by name, for bsearch */
    fs_meta *meta;
    size_t n_meta;
    char *strings;          /* names, keys and string values, NUL-separated */
    double *arrays;         /* metadata arrays, 8-byte aligned copies */
};

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

const char *fs_family_name(fs_family f)
{
    switch (f) {
    case FS_FAMILY_STYLEGAN2_G: return "stylegan2-generator";
    case FS_FAMILY_STYLEGAN2_D: return "stylegan2-discriminator";
    case FS_FAMILY_CVAEGAN: return "cvaegan";
    case FS_FAMILY_E4E_ENCODER: return "e4e-encoder";
    case FS_FAMILY_LIGHTCNN: return "lightcnn";
    case FS_FAMILY_ARCFACE: return "arcface-ir-se";
    case FS_FAMILY_SIMGAN: return "simgan";
    default: return "invalid";
    }
}

static int name_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.';
}

/* Names and keys are ASCII identifiers with dots: they end up in messages and
 * in `info` output, so nothing else is allowed in. */
static int ident_ok(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char_ok(s[i]))
            return 0;
    return 1;
}

/* qsort has no context argument in C11, so sort keys carry their index. */
typedef struct { const char *name; uint64_t offset; size_t index; } sort_key;

static int cmp_by_name(const void *a, const void *b)
{
    return strcmp(((const sort_key *)a)->name, ((const sort_key *)b)->name);
}

static int cmp_by_offset(const void *a, const void *b)
{
    uint64_t x = ((const sort_key *)a)->offset, y = ((const sort_key *)b)->offset;
    return x < y ? -1 : x > y;
}

static fs_status check_header(fs_weights *w, uint64_t *meta_off, uint64_t *meta_size,
                              uint32_t *meta_count, uint32_t *tensor_count, uint64_t *dir_off)
{
    const char *L = w->label;
    const uint8_t *h = w->buf;
    if (w->len < FS_FSW_HEADER_SIZE)
        return fs_error(FS_ERR_FORMAT, "%s: truncated: %zu bytes, a weight file header needs %u",
                        L, w->len, FS_FSW_HEADER_SIZE);
    if (memcmp(h, FS_FSW_MAGIC, 8) != 0)
        return fs_error(FS_ERR_FORMAT, "%s: not a facesynth weight file (bad magic)", L);
    uint32_t version = rd32(h + FS_FSW_OFF_VERSION);
    if (version != FS_FSW_VERSION)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: weight file version %u, this build reads %u", L,
                        version, FS_FSW_VERSION);
    if (fs_crc32c(0, h, FS_FSW_OFF_HEADER_CRC) != rd32(h + FS_FSW_OFF_HEADER_CRC))
        return fs_error(FS_ERR_CHECKSUM, "%s: header checksum mismatch", L);
    if (rd32(h + FS_FSW_OFF_HEADER_SIZE) != FS_FSW_HEADER_SIZE)
        return fs_error(FS_ERR_FORMAT, "%s: bad header size %u", L,
                        rd32(h + FS_FSW_OFF_HEADER_SIZE));
    int reserved_set = rd32(h + FS_FSW_OFF_FLAGS) != 0;
    for (int i = FS_FSW_OFF_RESERVED; i < FS_FSW_OFF_HEADER_CRC; i++)
        reserved_set |= h[i] != 0;
    if (reserved_set)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: reserved header fields are set", L);
    uint32_t fam = rd32(h + FS_FSW_OFF_FAMILY);
    if (fam < FS_FAMILY_STYLEGAN2_G || fam > FS_FAMILY_SIMGAN)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: unknown model family %u", L, fam);
    w->family = (fs_family)fam;

    uint64_t file_size = rd64(h + FS_FSW_OFF_FILE_SIZE);
    if (file_size != w->len)
        return fs_error(FS_ERR_FORMAT, "%s: %s: header says %llu bytes, file has %zu", L,
                        file_size > w->len ? "truncated" : "trailing bytes",
                        (unsigned long long)file_size, w->len);
    *meta_off = rd64(h + FS_FSW_OFF_META_OFFSET);
    *meta_size = rd64(h + FS_FSW_OFF_META_SIZE);
    *meta_count = rd32(h + FS_FSW_OFF_META_COUNT);
    *tensor_count = rd32(h + FS_FSW_OFF_TENSOR_COUNT);
    *dir_off = rd64(h + FS_FSW_OFF_DIR_OFFSET);
    uint64_t dir_size = rd64(h + FS_FSW_OFF_DIR_SIZE);
    w->data_offset = rd64(h + FS_FSW_OFF_DATA_OFFSET);
    w->data_size = rd64(h + FS_FSW_OFF_DATA_SIZE);
    if (rd32(h + FS_FSW_OFF_TENSOR_ALIGN) != FS_FSW_TENSOR_ALIGN)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: tensor alignment %u, expected %u", L,
                        rd32(h + FS_FSW_OFF_TENSOR_ALIGN), FS_FSW_TENSOR_ALIGN);
    if (*meta_count > FS_FSW_MAX_META || *tensor_count > FS_FSW_MAX_TENSORS)
        return fs_error(FS_ERR_LIMIT, "%s: %u metadata records / %u tensors exceed the limits", L,
                        *meta_count, *tensor_count);
    /* The regions follow each other in a fixed order; each is checked by
     * subtraction against what remains, so no sum can wrap. */
    if (*meta_off != FS_FSW_HEADER_SIZE || *meta_size > w->len - *meta_off ||
        *meta_size % 8 != 0)
        return fs_error(FS_ERR_FORMAT, "%s: metadata region out of bounds", L);
    if (*dir_off != *meta_off + *meta_size ||
        dir_size != (uint64_t)*tensor_count * FS_FSW_DIR_ENTRY_SIZE || dir_size > w->len - *dir_off)
        return fs_error(FS_ERR_FORMAT, "%s: tensor directory out of bounds", L);
    if (w->data_offset % FS_FSW_DATA_ALIGN != 0 || w->data_offset < *dir_off + dir_size ||
        w->data_offset > w->len || w->data_size != w->len - w->data_offset)
        return fs_error(FS_ERR_FORMAT, "%s: data region out of bounds or misaligned", L);
    for (uint64_t i = *dir_off + dir_size; i < w->data_offset; i++)
        if (w->buf[i] != 0)
            return fs_error(FS_ERR_FORMAT, "%s: non-zero padding before the data region", L);
    if (fs_crc32c(0, w->buf + *meta_off, *meta_size) != rd32(h + FS_FSW_OFF_META_CRC))
        return fs_error(FS_ERR_CHECKSUM, "%s: metadata checksum mismatch", L);
    if (fs_crc32c(0, w->buf + *dir_off, dir_size) != rd32(h + FS_FSW_OFF_DIR_CRC))
        return fs_error(FS_ERR_CHECKSUM, "%s: tensor directory checksum mismatch", L);
    return FS_OK;
}

static fs_status parse_meta(fs_weights *w, uint64_t off, uint64_t size, uint32_t count,
                            char **strp, double **arrp)
{
    const char *L = w->label;
    const uint8_t *p = w->buf + off;
    uint64_t pos = 0;
    w->meta = calloc(count ? count : 1, sizeof *w->meta);
    if (!w->meta)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", L);
    for (uint32_t i = 0; i < count; i++) {
        if (size - pos < 8)
            return fs_error(FS_ERR_FORMAT, "%s: metadata record %u truncated", L, i);
        uint16_t klen = rd16(p + pos);
        uint8_t type = p[pos + 2];
        uint32_t vlen = rd32(p + pos + 4);
        uint64_t body = (uint64_t)klen + vlen;
        uint64_t padded = (body + 7) & ~(uint64_t)7;
        if (p[pos + 3] != 0 || padded > size - pos - 8)
            return fs_error(FS_ERR_FORMAT, "%s: metadata record %u out of bounds", L, i);
        const char *key = (const char *)p + pos + 8;
        const uint8_t *val = p + pos + 8 + klen;
        if (klen >= FS_FSW_META_KEY_MAX || !ident_ok(key, klen))
            return fs_error(FS_ERR_FORMAT, "%s: metadata record %u has a malformed key", L, i);
        for (uint64_t k = body; k < padded; k++)
            if (p[pos + 8 + k] != 0)
                return fs_error(FS_ERR_FORMAT, "%s: metadata record %u has non-zero padding", L, i);
        fs_meta *m = &w->meta[i];
        memcpy(*strp, key, klen);
        (*strp)[klen] = '\0';
        m->key = *strp;
        *strp += klen + 1;
        m->type = (fs_meta_type)type;
        switch (type) {
        case FS_META_I64:
            if (vlen != 8)
                return fs_error(FS_ERR_FORMAT, "%s: metadata '%s': bad integer size", L, m->key);
            memcpy(&m->i, val, 8);
            break;
        case FS_META_F64:
            if (vlen != 8)
                return fs_error(FS_ERR_FORMAT, "%s: metadata '%s': bad float size", L, m->key);
            memcpy(&m->f, val, 8);
            break;
        case FS_META_STR:
            if (memchr(val, 0, vlen))
                return fs_error(FS_ERR_FORMAT, "%s: metadata '%s': NUL inside a string", L, m->key);
            memcpy(*strp, val, vlen);
            (*strp)[vlen] = '\0';
            m->str = *strp;
            m->len = vlen;
            *strp += vlen + 1;
            break;
        case FS_META_F64_ARRAY:
            if (vlen % 8 != 0)
                return fs_error(FS_ERR_FORMAT, "%s: metadata '%s': bad array size", L, m->key);
            memcpy(*arrp, val, vlen);
            m->arr = *arrp;
            m->len = vlen / 8;
            *arrp += vlen / 8;
            break;
        default:
            return fs_error(FS_ERR_UNSUPPORTED, "%s: metadata '%s': unknown type %u", L, m->key,
                            type);
        }
        for (uint32_t j = 0; j < i; j++)
            if (!strcmp(w->meta[j].key, m->key))
                return fs_error(FS_ERR_FORMAT, "%s: metadata key '%s' appears twice", L, m->key);
        pos += 8 + padded;
    }
    if (pos != size)
        return fs_error(FS_ERR_FORMAT, "%s: %llu stray bytes after the metadata records", L,
                        (unsigned long long)(size - pos));
    w->n_meta = count;
    return FS_OK;
}

/* The format says every data byte outside a tensor is zero: before the first
 * tensor, between tensors and after the last one. No checksum covers those
 * bytes, so they are compared with zero here, whatever the flags: a writer
 * leaves at most 255 of them per tensor, so even with FS_WEIGHTS_SKIP_DATA_CRC
 * this reads a few hundred bytes per tensor, on pages the tensors share.
 * keys are sorted by offset and the tensors are known not to overlap. */
static fs_status check_data_padding(const fs_weights *w, const sort_key *keys, size_t count)
{
    const uint8_t *data = w->buf + w->data_offset;
    uint64_t at = 0; /* end of the last non-empty tensor so far */
    const char *after = NULL;
    for (size_t i = 0; i <= count; i++) {
        const fs_tensor *t = i < count ? &w->tensors[keys[i].index] : NULL;
        if (t && t->nbytes == 0)
            continue; /* an empty tensor owns no bytes */
        uint64_t end = t ? t->offset : w->data_size;
        for (uint64_t k = at; k < end; k++)
            if (data[k] != 0) {
                char where[160];
                if (!t && after)
                    snprintf(where, sizeof where, "after the last tensor '%s'", after);
                else if (!t)
                    snprintf(where, sizeof where, "a data region without tensors");
                else if (after)
                    snprintf(where, sizeof where, "between tensors '%s' and '%s'", after, t->name);
                else
                    snprintf(where, sizeof where, "before the first tensor '%s'", t->name);
                return fs_error(FS_ERR_FORMAT,
                                "%s: non-zero padding byte at data offset %llu (%s)", w->label,
                                (unsigned long long)k, where);
            }
        if (t) {
            at = t->offset + t->nbytes;
            after = t->name;
        }
    }
    return FS_OK;
}

static fs_status parse_dir(fs_weights *w, uint64_t dir_off, uint32_t count, char **strp,
                           unsigned flags)
{
    const char *L = w->label;
    w->tensors = calloc(count ? count : 1, sizeof *w->tensors);
    w->by_name = calloc(count ? count : 1, sizeof *w->by_name);
    if (!w->tensors || !w->by_name)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", L);
    const uint8_t *data = w->buf + w->data_offset;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = w->buf + dir_off + (uint64_t)i * FS_FSW_DIR_ENTRY_SIZE;
        const char *name = (const char *)e + FS_FSW_DIR_NAME;
        size_t nlen = strnlen(name, FS_FSW_NAME_MAX);
        if (nlen == FS_FSW_NAME_MAX || !ident_ok(name, nlen))
            return fs_error(FS_ERR_FORMAT, "%s: tensor %u has a malformed name", L, i);
        for (size_t k = nlen; k < FS_FSW_NAME_MAX; k++)
            if (name[k] != 0)
                return fs_error(FS_ERR_FORMAT, "%s: tensor %u name padding is not zero", L, i);
        fs_tensor *t = &w->tensors[i];
        memcpy(*strp, name, nlen + 1);
        t->name = *strp;
        *strp += nlen + 1;
        t->dtype = (fs_dtype)rd32(e + FS_FSW_DIR_DTYPE);
        if (!fs_dtype_is_storable(t->dtype))
            return fs_error(FS_ERR_UNSUPPORTED, "%s: tensor '%s': unknown dtype %u", L, t->name,
                            (unsigned)t->dtype);
        uint32_t ndim = rd32(e + FS_FSW_DIR_NDIM);
        if (ndim > FS_FSW_MAX_DIMS)
            return fs_error(FS_ERR_FORMAT, "%s: tensor '%s': rank %u > %u", L, t->name, ndim,
                            FS_FSW_MAX_DIMS);
        t->ndim = (int)ndim;
        uint64_t numel = 1;
        for (uint32_t d = 0; d < FS_FSW_MAX_DIMS; d++) {
            uint64_t s = rd64(e + FS_FSW_DIR_SHAPE + 8 * d);
            if (d >= ndim) {
                if (s != 0)
                    return fs_error(FS_ERR_FORMAT, "%s: tensor '%s': unused dimension set", L,
                                    t->name);
                continue;
            }
            if (s > INT64_MAX || __builtin_mul_overflow(numel, s, &numel))
                return fs_error(FS_ERR_FORMAT, "%s: tensor '%s': absurd shape", L, t->name);
            t->shape[d] = (int64_t)s;
        }
        uint64_t nbytes;
        if (__builtin_mul_overflow(numel, (uint64_t)fs_dtype_size(t->dtype), &nbytes) ||
            nbytes != rd64(e + FS_FSW_DIR_NBYTES))
            return fs_error(FS_ERR_FORMAT, "%s: tensor '%s': byte size does not match its shape",
                            L, t->name);
        t->nbytes = nbytes;
        t->offset = rd64(e + FS_FSW_DIR_OFFSET);
        if (t->offset % FS_FSW_TENSOR_ALIGN != 0)
            return fs_error(FS_ERR_FORMAT, "%s: tensor '%s': offset not %u-byte aligned", L,
                            t->name, FS_FSW_TENSOR_ALIGN);
        if (t->offset > w->data_size || nbytes > w->data_size - t->offset)
            return fs_error(FS_ERR_FORMAT, "%s: tensor '%s': data out of bounds", L, t->name);
        if (rd32(e + FS_FSW_DIR_RESERVED) != 0)
            return fs_error(FS_ERR_FORMAT, "%s: tensor '%s': reserved field set", L, t->name);
        t->data = data + t->offset;
        if (!(flags & FS_WEIGHTS_SKIP_DATA_CRC) &&
            fs_crc32c(0, t->data, nbytes) != rd32(e + FS_FSW_DIR_CRC))
            return fs_error(FS_ERR_CHECKSUM, "%s: tensor '%s': data checksum mismatch", L,
                            t->name);
    }
    w->n_tensors = count;

    /* Duplicate names and overlapping data are found on sorted copies. */
    sort_key *keys = malloc((count ? count : 1) * sizeof *keys);
    if (!keys)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", L);
    for (size_t i = 0; i < count; i++)
        keys[i] = (sort_key){w->tensors[i].name, w->tensors[i].offset, i};
    fs_status s = FS_OK;
    qsort(keys, count, sizeof *keys, cmp_by_offset);
    for (size_t i = 1; i < count && s == FS_OK; i++) {
        const fs_tensor *x = &w->tensors[keys[i - 1].index], *y = &w->tensors[keys[i].index];
        if (x->nbytes && y->nbytes && x->offset + x->nbytes > y->offset)
            s = fs_error(FS_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", L, x->name, y->name);
    }
    if (s == FS_OK)
        s = check_data_padding(w, keys, count);
    qsort(keys, count, sizeof *keys, cmp_by_name);
    for (size_t i = 0; i < count; i++)
        w->by_name[i] = keys[i].index;
    for (size_t i = 1; i < count && s == FS_OK; i++)
        if (!strcmp(keys[i - 1].name, keys[i].name))
            s = fs_error(FS_ERR_FORMAT, "%s: tensor '%s' appears twice", L, keys[i].name);
    free(keys);
    return s;
}

static fs_status open_common(fs_weights *w, unsigned flags)
{
    uint64_t meta_off = 0, meta_size = 0, dir_off = 0;
    uint32_t meta_count = 0, tensor_count = 0;
    FS_TRY(check_header(w, &meta_off, &meta_size, &meta_count, &tensor_count, &dir_off));
    /* Every name, key and string fits in the metadata block plus the
     * directory, with one NUL each. */
    size_t str_cap = (size_t)meta_size + (size_t)meta_count + (size_t)tensor_count * (FS_FSW_NAME_MAX + 1) + 1;
    w->strings = malloc(str_cap);
    w->arrays = malloc((size_t)meta_size + 8);
    if (!w->strings || !w->arrays)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", w->label);
    char *sp = w->strings;
    double *ap = w->arrays;
    FS_TRY(parse_meta(w, meta_off, meta_size, meta_count, &sp, &ap));
    return parse_dir(w, dir_off, tensor_count, &sp, flags);
}

static fs_status alloc_handle(const char *label, fs_weights **out)
{
    *out = NULL;
    fs_weights *w = calloc(1, sizeof *w);
    if (!w || !(w->label = strdup(label ? label : "<memory>"))) {
        free(w);
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", label ? label : "<memory>");
    }
    *out = w;
    return FS_OK;
}

fs_status fs_weights_open_buffer(const uint8_t *buf, size_t len, const char *label,
                                 unsigned flags, fs_weights **out)
{
    FS_TRY(alloc_handle(label, out));
    (*out)->buf = buf;
    (*out)->len = len;
    fs_status s = open_common(*out, flags);
    if (s != FS_OK) {
        fs_weights_free(*out);
        *out = NULL;
    }
    return s;
}

fs_status fs_weights_open_owned(uint8_t *buf, size_t len, const char *label, unsigned flags,
                                fs_weights **out)
{
    fs_status s = alloc_handle(label, out);
    if (s != FS_OK) {
        free(buf);
        return s;
    }
    (*out)->owned = buf;
    (*out)->buf = buf;
    (*out)->len = len;
    s = open_common(*out, flags);
    if (s != FS_OK) {
        fs_weights_free(*out);
        *out = NULL;
    }
    return s;
}

fs_status fs_weights_open(const char *path, unsigned flags, fs_weights **out)
{
    FS_TRY(alloc_handle(path, out));
    fs_weights *w = *out;
    fs_status s = fs_file_map_open(path, &w->map);
    if (s == FS_OK) {
        w->buf = w->map.data;
        w->len = w->map.size;
        s = open_common(w, flags);
    }
    if (s != FS_OK) {
        fs_weights_free(w);
        *out = NULL;
    }
    return s;
}

void fs_weights_free(fs_weights *w)
{
    if (!w)
        return;
    fs_file_map_close(&w->map);
    free(w->owned);
    free(w->tensors);
    free(w->by_name);
    free(w->meta);
    free(w->strings);
    free(w->arrays);
    free(w->label);
    free(w);
}

fs_family fs_weights_family(const fs_weights *w) { return w->family; }
const char *fs_weights_label(const fs_weights *w) { return w->label; }
uint64_t fs_weights_file_size(const fs_weights *w) { return w->len; }

const void *fs_weights_data(const fs_weights *w, uint64_t *size)
{
    *size = w->data_size;
    return w->buf + w->data_offset;
}

size_t fs_weights_tensor_count(const fs_weights *w) { return w->n_tensors; }

const fs_tensor *fs_weights_tensor_at(const fs_weights *w, size_t i)
{
    return i < w->n_tensors ? &w->tensors[i] : NULL;
}

const fs_tensor *fs_weights_find(const fs_weights *w, const char *name)
{
    size_t lo = 0, hi = w->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const fs_tensor *t = &w->tensors[w->by_name[mid]];
        int c = strcmp(t->name, name);
        if (c == 0)
            return t;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t fs_weights_meta_count(const fs_weights *w) { return w->n_meta; }

const fs_meta *fs_weights_meta_at(const fs_weights *w, size_t i)
{
    return i < w->n_meta ? &w->meta[i] : NULL;
}

const fs_meta *fs_weights_meta_find(const fs_weights *w, const char *key)
{
    for (size_t i = 0; i < w->n_meta; i++)
        if (!strcmp(w->meta[i].key, key))
            return &w->meta[i];
    return NULL;
}

static fs_status meta_typed(const fs_weights *w, const char *key, fs_meta_type type,
                            const fs_meta **m)
{
    *m = fs_weights_meta_find(w, key);
    if (!*m)
        return fs_error(FS_ERR_MISSING, "%s: metadata '%s' is missing", w->label, key);
    if ((*m)->type != type)
        return fs_error(FS_ERR_FORMAT, "%s: metadata '%s' has the wrong type", w->label, key);
    return FS_OK;
}

fs_status fs_weights_meta_i64(const fs_weights *w, const char *key, int64_t *v)
{
    const fs_meta *m;
    FS_TRY(meta_typed(w, key, FS_META_I64, &m));
    *v = m->i;
    return FS_OK;
}

fs_status fs_weights_meta_f64(const fs_weights *w, const char *key, double *v)
{
    const fs_meta *m;
    FS_TRY(meta_typed(w, key, FS_META_F64, &m));
    *v = m->f;
    return FS_OK;
}

fs_status fs_weights_meta_str(const fs_weights *w, const char *key, const char **v)
{
    const fs_meta *m;
    FS_TRY(meta_typed(w, key, FS_META_STR, &m));
    *v = m->str;
    return FS_OK;
}

fs_status fs_weights_meta_f64_array(const fs_weights *w, const char *key, const double **v,
                                    size_t *n)
{
    const fs_meta *m;
    FS_TRY(meta_typed(w, key, FS_META_F64_ARRAY, &m));
    *v = m->arr;
    *n = m->len;
    return FS_OK;
}

void fs_shape_format(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
}

fs_status fs_weights_expect(const fs_weights *w, const char *name, int ndim,
                            const int64_t *shape)
{
    const fs_tensor *t = fs_weights_find(w, name);
    if (!t)
        return fs_error(FS_ERR_MISSING, "%s: tensor '%s' is missing", w->label, name);
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = t->shape[d] == shape[d];
    if (!same) {
        char want[96], got[96];
        fs_shape_format(want, sizeof want, ndim, shape);
        fs_shape_format(got, sizeof got, t->ndim, t->shape);
        return fs_error(FS_ERR_SHAPE, "%s: tensor '%s' has shape %s, the architecture needs %s",
                        w->label, name, got, want);
    }
    return FS_OK;
}

fs_status fs_weights_checker_visit(void *checker, const char *name, int ndim,
                                   const int64_t *shape)
{
    fs_weights_checker *k = checker;
    k->seen++;
    return fs_weights_expect(k->w, name, ndim, shape);
}

fs_status fs_weights_checker_finish(const fs_weights_checker *k)
{
    /* Every listed tensor was found and names are unique, so equal counts
     * mean nothing unexpected is in the file either. */
    if (k->seen != fs_weights_tensor_count(k->w))
        return fs_error(FS_ERR_FORMAT, "%s: %zu tensors beyond what the architecture uses",
                        fs_weights_label(k->w), fs_weights_tensor_count(k->w) - k->seen);
    return FS_OK;
}
