/* NumPy .npy reader and writer (see npy.h).
 *
 * A .npy file is a magic string, a version, a little-endian header length,
 * a header that is a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (4, 128), }
 * padded with spaces and ended by '\n', then the raw array bytes. numpy reads
 * the header with ast.literal_eval; we accept the subset of Python literal
 * syntax a header needs (quoted strings without escapes, True/False, tuples
 * of non-negative integers) and nothing else, so no header means one thing to
 * us and another to numpy. */
#include "npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/file.h"

/* '=' (native order) in a header means little-endian only on a little-endian
 * host, and the writer stores host-order data under '<'. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy.c assumes a little-endian host");

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_HEADER (1u << 20) /* numpy itself refuses more than 10,000 by default */
#define NPY_ALIGN 64              /* numpy aligns array data to 64 bytes since 1.22 */

typedef struct {
    const char *descr; /* without the byte-order character */
    fs_dtype dtype;
} npy_type;

static const npy_type npy_types[] = {
    {"f2", FS_DTYPE_F16}, {"f4", FS_DTYPE_F32}, {"f8", FS_DTYPE_F64},
    {"i1", FS_DTYPE_I8},  {"i2", FS_DTYPE_I16}, {"i4", FS_DTYPE_I32},
    {"i8", FS_DTYPE_I64}, {"u1", FS_DTYPE_U8},  {"b1", FS_DTYPE_BOOL},
};

/* ---- header parsing ---- */

typedef struct {
    const uint8_t *s;
    size_t pos, end; /* file offsets; end is the final '\n' */
    const char *label;
} header;

static fs_status header_error(const header *h, const char *what)
{
    return fs_error(FS_ERR_FORMAT, "%s: .npy header: %s (offset %zu)", h->label, what, h->pos);
}

static void skip_spaces(header *h)
{
    while (h->pos < h->end && h->s[h->pos] == ' ')
        h->pos++;
}

static int accept(header *h, char c)
{
    skip_spaces(h);
    if (h->pos < h->end && h->s[h->pos] == (uint8_t)c) {
        h->pos++;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes: all a key or a simple descr needs. */
static fs_status parse_pystr(header *h, const char **str, size_t *len)
{
    skip_spaces(h);
    if (h->pos >= h->end || (h->s[h->pos] != '\'' && h->s[h->pos] != '"'))
        return header_error(h, "expected a quoted string");
    uint8_t quote = h->s[h->pos];
    size_t start = ++h->pos;
    while (h->pos < h->end && h->s[h->pos] != quote) {
        uint8_t c = h->s[h->pos];
        if (c == '\\' || c < 0x20 || c >= 0x7f)
            return header_error(h, "unexpected character in a string");
        h->pos++;
    }
    if (h->pos >= h->end)
        return header_error(h, "unterminated string");
    *str = (const char *)h->s + start;
    *len = h->pos - start;
    h->pos++;
    return FS_OK;
}

static int word_is(const char *s, size_t n, const char *word)
{
    return n == strlen(word) && memcmp(s, word, n) == 0;
}

static fs_status parse_descr(header *h, fs_npy *out)
{
    skip_spaces(h);
    if (h->pos < h->end && h->s[h->pos] == '[')
        return fs_error(FS_ERR_UNSUPPORTED,
                        "%s: structured (record) dtypes are not supported (offset %zu)", h->label,
                        h->pos);
    size_t at = h->pos;
    const char *d;
    size_t n;
    FS_TRY(parse_pystr(h, &d, &n));
    char order = n > 0 ? d[0] : 0;
    if (n >= 2 && d[1] == 'O')
        return fs_error(FS_ERR_FORBIDDEN,
                        "%s: object arrays are pickles and are refused (descr '%.*s', offset %zu)",
                        h->label, (int)n, d, at);
    if (n < 2 || order == 0 || !strchr("<>=|", order))
        return fs_error(FS_ERR_FORMAT, "%s: descr '%.*s' lacks a byte-order character (offset %zu)",
                        h->label, (int)(n > 32 ? 32 : n), d, at);
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++) {
        if (!word_is(d + 1, n - 1, npy_types[i].descr))
            continue;
        size_t size = fs_dtype_size(npy_types[i].dtype);
        if (size > 1 && order == '>')
            return fs_error(FS_ERR_UNSUPPORTED,
                            "%s: big-endian array ('%.*s') is not supported; save it little-endian "
                            "(offset %zu)",
                            h->label, (int)n, d, at);
        if (size > 1 && order == '|')
            return fs_error(FS_ERR_FORMAT,
                            "%s: descr '%.*s': '|' is only for one-byte types (offset %zu)",
                            h->label, (int)n, d, at);
        out->dtype = npy_types[i].dtype;
        return FS_OK;
    }
    return fs_error(FS_ERR_UNSUPPORTED, "%s: dtype '%.*s' is not supported (offset %zu)", h->label,
                    (int)(n > 32 ? 32 : n), d, at);
}

static fs_status parse_bool(header *h, int *v)
{
    skip_spaces(h);
    size_t start = h->pos;
    while (h->pos < h->end && ((h->s[h->pos] | 0x20) >= 'a' && (h->s[h->pos] | 0x20) <= 'z'))
        h->pos++;
    const char *w = (const char *)h->s + start;
    size_t n = h->pos - start;
    if (word_is(w, n, "True"))
        *v = 1;
    else if (word_is(w, n, "False"))
        *v = 0;
    else {
        h->pos = start;
        return header_error(h, "fortran_order must be True or False");
    }
    return FS_OK;
}

/* A Python int literal as repr() writes a dimension: no sign, no leading
 * zeros; Python 2 files may carry a long suffix 'L'. */
static fs_status parse_dim(header *h, int64_t *v)
{
    skip_spaces(h);
    size_t start = h->pos;
    uint64_t x = 0;
    while (h->pos < h->end && h->s[h->pos] >= '0' && h->s[h->pos] <= '9') {
        if (__builtin_mul_overflow(x, 10, &x) ||
            __builtin_add_overflow(x, (uint64_t)(h->s[h->pos] - '0'), &x) ||
            x > (uint64_t)INT64_MAX) {
            h->pos = start;
            return fs_error(FS_ERR_FORMAT, "%s: .npy header: dimension out of range (offset %zu)",
                            h->label, start);
        }
        h->pos++;
    }
    size_t digits = h->pos - start;
    if (digits == 0 || (digits > 1 && h->s[start] == '0')) {
        h->pos = start;
        return header_error(h, "expected a non-negative integer dimension");
    }
    if (h->pos < h->end && (h->s[h->pos] == 'L' || h->s[h->pos] == 'l'))
        h->pos++;
    *v = (int64_t)x;
    return FS_OK;
}

/* "()", "(5,)", "(4, 128)" or "(4, 128,)"; "(5)" is an int, not a tuple. */
static fs_status parse_shape(header *h, fs_npy *out)
{
    if (!accept(h, '('))
        return header_error(h, "shape must be a tuple");
    out->ndim = 0;
    if (accept(h, ')'))
        return FS_OK;
    for (;;) {
        if (out->ndim == FS_NPY_MAX_DIMS)
            return fs_error(FS_ERR_LIMIT, "%s: .npy shape has more than %d dimensions (offset %zu)",
                            h->label, FS_NPY_MAX_DIMS, h->pos);
        FS_TRY(parse_dim(h, &out->shape[out->ndim++]));
        int comma = accept(h, ',');
        if (accept(h, ')')) {
            if (out->ndim == 1 && !comma)
                return header_error(h, "shape (n) is an int, not a tuple: expected (n,)");
            return FS_OK;
        }
        if (!comma)
            return header_error(h, "expected ',' or ')' in shape");
    }
}

static fs_status parse_dict(header *h, fs_npy *out)
{
    enum { DESCR = 1, FORTRAN = 2, SHAPE = 4 };
    int seen = 0;
    if (!accept(h, '{'))
        return header_error(h, "expected '{'");
    while (!accept(h, '}')) {
        size_t key_at = h->pos;
        const char *key;
        size_t n;
        FS_TRY(parse_pystr(h, &key, &n));
        int which = word_is(key, n, "descr")           ? DESCR
                    : word_is(key, n, "fortran_order") ? FORTRAN
                    : word_is(key, n, "shape")         ? SHAPE
                                                       : 0;
        if (!which)
            return fs_error(FS_ERR_FORMAT, "%s: .npy header: unexpected key '%.*s' (offset %zu)",
                            h->label, (int)(n > 32 ? 32 : n), key, key_at);
        if (seen & which)
            return fs_error(FS_ERR_FORMAT, "%s: .npy header: duplicate key '%.*s' (offset %zu)",
                            h->label, (int)n, key, key_at);
        seen |= which;
        if (!accept(h, ':'))
            return header_error(h, "expected ':'");
        if (which == DESCR)
            FS_TRY(parse_descr(h, out));
        else if (which == FORTRAN)
            FS_TRY(parse_bool(h, &out->fortran));
        else
            FS_TRY(parse_shape(h, out));
        if (!accept(h, ',')) {
            if (accept(h, '}'))
                break;
            return header_error(h, "expected ',' or '}'");
        }
    }
    skip_spaces(h);
    if (h->pos != h->end)
        return header_error(h, "unexpected text after the dict");
    if (seen != (DESCR | FORTRAN | SHAPE))
        return fs_error(FS_ERR_FORMAT, "%s: .npy header lacks %s (offset %zu)", h->label,
                        !(seen & DESCR)     ? "'descr'"
                        : !(seen & FORTRAN) ? "'fortran_order'"
                                            : "'shape'",
                        h->pos);
    return FS_OK;
}

static uint32_t rd_le(const uint8_t *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

fs_status fs_npy_parse(const uint8_t *buf, size_t len, const char *label, fs_npy *out)
{
    if (!out)
        return fs_error(FS_ERR_ARG, "fs_npy_parse: out is NULL");
    memset(out, 0, sizeof *out);
    if (!label)
        label = "npy";
    if (!buf && len > 0)
        return fs_error(FS_ERR_ARG, "%s: NULL buffer", label);
    if (len < 10 || memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return fs_error(FS_ERR_FORMAT, "%s: not a .npy file (bad magic) (offset 0)", label);
    uint8_t major = buf[6], minor = buf[7];
    if (major < 1 || major > 3 || minor != 0)
        return fs_error(FS_ERR_UNSUPPORTED,
                        "%s: .npy format version %u.%u is not supported (offset 6)", label, major,
                        minor);
    /* Version 1 has a 16-bit header length, later versions a 32-bit one. */
    size_t len_bytes = major == 1 ? 2 : 4, pre = 8 + len_bytes;
    if (len < pre)
        return fs_error(FS_ERR_FORMAT, "%s: truncated .npy preamble (offset 8)", label);
    size_t hlen = rd_le(buf + 8, (int)len_bytes);
    if (hlen > NPY_MAX_HEADER)
        return fs_error(FS_ERR_LIMIT, "%s: .npy header length %zu exceeds %u (offset 8)", label,
                        hlen, NPY_MAX_HEADER);
    if (hlen > len - pre)
        return fs_error(
            FS_ERR_FORMAT,
            "%s: .npy header length %zu runs past the end of the %zu-byte file (offset 8)", label,
            hlen, len);
    if (hlen == 0 || buf[pre + hlen - 1] != '\n')
        return fs_error(FS_ERR_FORMAT, "%s: .npy header does not end with a newline (offset %zu)",
                        label, pre + hlen - (hlen > 0));
    header h = {.s = buf, .pos = pre, .end = pre + hlen - 1, .label = label};
    FS_TRY(parse_dict(&h, out));

    size_t data_start = pre + hlen;
    /* numpy multiplies with unbounded integers, so any zero dimension makes
     * an empty array however large the others are. */
    uint64_t nbytes = fs_dtype_size(out->dtype);
    int empty = 0;
    for (int i = 0; i < out->ndim; i++)
        empty |= out->shape[i] == 0;
    for (int i = 0; i < out->ndim && !empty; i++)
        if (__builtin_mul_overflow(nbytes, (uint64_t)out->shape[i], &nbytes))
            return fs_error(FS_ERR_FORMAT, "%s: .npy shape overflows 64 bits (offset %zu)", label,
                            pre);
    if (empty)
        nbytes = 0;
    if (nbytes != len - data_start)
        return fs_error(
            FS_ERR_FORMAT,
            "%s: .npy shape and dtype %s need %llu data bytes but the file has %zu (offset %zu)",
            label, fs_dtype_name(out->dtype), (unsigned long long)nbytes, len - data_start,
            data_start);
    out->data = buf + data_start;
    out->nbytes = nbytes;
    return FS_OK;
}

/* ---- conversion to float32 ---- */

fs_status fs_npy_to_f32(const fs_npy *a, const char *label, float **data)
{
    if (!a || !data)
        return fs_error(FS_ERR_ARG, "fs_npy_to_f32: NULL argument");
    *data = NULL;
    if (!label)
        label = "npy";
    if (a->dtype != FS_DTYPE_F32 && a->dtype != FS_DTYPE_F16 && a->dtype != FS_DTYPE_F64)
        return fs_error(FS_ERR_UNSUPPORTED,
                        "%s: array of %s, expected a float type (f16, f32 or f64)", label,
                        fs_dtype_name(a->dtype));
    size_t esize = fs_dtype_size(a->dtype);
    /* The data is in memory, so the element count and 4 bytes per element fit. */
    size_t n = (size_t)(a->nbytes / esize);
    float *o = malloc(n ? n * sizeof *o : 1);
    if (!o)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory for %zu floats", label, n);
    if (!a->fortran || a->ndim < 2) {
        for (size_t i = 0; i < n; i++)
            o[i] = (float)fs_dtype_load(a->dtype, a->data, (int64_t)i);
    } else {
        /* Walk the source in storage (column-major) order and keep the
         * multi-index and the matching row-major destination in step. */
        size_t cstride[FS_NPY_MAX_DIMS], idx[FS_NPY_MAX_DIMS] = {0}, dst = 0;
        cstride[a->ndim - 1] = 1;
        for (int k = a->ndim - 2; k >= 0; k--)
            cstride[k] = cstride[k + 1] * (size_t)a->shape[k + 1];
        for (size_t s = 0; s < n; s++) {
            o[dst] = (float)fs_dtype_load(a->dtype, a->data, (int64_t)s);
            for (int k = 0; k < a->ndim; k++) {
                if (++idx[k] < (size_t)a->shape[k]) {
                    dst += cstride[k];
                    break;
                }
                idx[k] = 0;
                dst -= ((size_t)a->shape[k] - 1) * cstride[k];
            }
        }
    }
    *data = o;
    return FS_OK;
}

fs_status fs_npy_read_f32(const char *path, int *ndim, int64_t shape[FS_NPY_MAX_DIMS], float **data)
{
    if (!path || !ndim || !shape || !data)
        return fs_error(FS_ERR_ARG, "fs_npy_read_f32: NULL argument");
    *data = NULL;
    fs_file_map m;
    FS_TRY(fs_file_map_open(path, &m));
    fs_npy a;
    fs_status s = fs_npy_parse(m.data, m.size, path, &a);
    if (s == FS_OK)
        s = fs_npy_to_f32(&a, path, data);
    if (s == FS_OK) {
        *ndim = a.ndim;
        memcpy(shape, a.shape, sizeof a.shape);
    }
    fs_file_map_close(&m);
    return s;
}

/* ---- writing ---- */

static const char *descr_of(fs_dtype t)
{
    switch (t) {
    case FS_DTYPE_F16: return "<f2";
    case FS_DTYPE_F32: return "<f4";
    case FS_DTYPE_F64: return "<f8";
    case FS_DTYPE_I8: return "|i1";
    case FS_DTYPE_I16: return "<i2";
    case FS_DTYPE_I32: return "<i4";
    case FS_DTYPE_I64: return "<i8";
    case FS_DTYPE_U8: return "|u1";
    case FS_DTYPE_BOOL: return "|b1";
    default: return NULL; /* bf16 has no numpy type */
    }
}

fs_status fs_npy_write(const char *path, fs_dtype dtype, int ndim, const int64_t *shape,
                       const void *data)
{
    if (!path)
        return fs_error(FS_ERR_ARG, "fs_npy_write: NULL path");
    const char *descr = descr_of(dtype);
    if (!descr)
        return fs_error(FS_ERR_ARG, "%s: numpy has no %s type", path, fs_dtype_name(dtype));
    if (ndim < 0 || ndim > FS_NPY_MAX_DIMS || (ndim > 0 && !shape))
        return fs_error(FS_ERR_ARG, "%s: bad rank %d for .npy", path, ndim);
    uint64_t nbytes = fs_dtype_size(dtype);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0 || __builtin_mul_overflow(nbytes, (uint64_t)shape[i], &nbytes))
            return fs_error(FS_ERR_ARG, "%s: bad .npy shape (dimension %d is %lld)", path, i,
                            (long long)shape[i]);
    if (nbytes > SIZE_MAX || (nbytes > 0 && !data))
        return fs_error(FS_ERR_ARG, "%s: no data for a %llu-byte array", path,
                        (unsigned long long)nbytes);

    /* The dict exactly as numpy writes it, e.g. "(5,)" for one dimension. */
    char dict[512];
    int n =
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%lld", i ? ", " : "",
                      (long long)shape[i]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", ndim == 1 ? "," : "");

    /* Pad with spaces so that magic + length + header + '\n' is a multiple of
     * NPY_ALIGN; version 2.0 only when the 16-bit length cannot hold it. */
    uint8_t pre[12];
    size_t pre_len = 10;
    size_t total = (10 + (size_t)n + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    if (total - 10 > 0xffff) {
        pre_len = 12;
        total = (12 + (size_t)n + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    }
    size_t hlen = total - pre_len;
    memcpy(pre, NPY_MAGIC, NPY_MAGIC_LEN);
    pre[6] = pre_len == 10 ? 1 : 2;
    pre[7] = 0;
    for (size_t i = 0; i < pre_len - 8; i++)
        pre[8 + i] = (uint8_t)(hlen >> (8 * i));
    char hdr[NPY_ALIGN * 8 + 512];
    memcpy(hdr, dict, (size_t)n);
    memset(hdr + n, ' ', hlen - (size_t)n - 1);
    hdr[hlen - 1] = '\n';

    fs_out_file f;
    FS_TRY(fs_out_file_open(path, &f));
    fs_status s = fs_out_file_write(&f, pre, pre_len);
    if (s == FS_OK)
        s = fs_out_file_write(&f, hdr, hlen);
    if (s == FS_OK)
        s = fs_out_file_write(&f, data, (size_t)nbytes);
    if (s != FS_OK) {
        fs_out_file_abort(&f);
        return s;
    }
    return fs_out_file_commit(&f);
}
