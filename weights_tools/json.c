/* Strict JSON parser (see json.h): recursive descent over a byte buffer.
 *
 * Each container owns one growable array of children, so memory grows with
 * the number of values, each of which takes at least one input byte. The
 * recursion depth is the nesting depth, capped at FS_JSON_MAX_DEPTH. Numbers
 * are converted without the C library's locale-dependent strtod. */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *s;
    size_t len;
    size_t pos;
    const char *label;
    uint64_t base;
    size_t values; /* parsed so far, against FS_JSON_MAX_VALUES */
} parser;

static fs_status parse_value(parser *p, fs_json *out, int depth);

/* Describes the byte at the current position for an error message. */
static const char *describe_byte(const parser *p, char tmp[16])
{
    if (p->pos >= p->len)
        return "end of input";
    uint8_t c = p->s[p->pos];
    if (c >= 0x21 && c < 0x7f)
        snprintf(tmp, 16, "'%c'", c);
    else
        snprintf(tmp, 16, "byte 0x%02x", c);
    return tmp;
}

static fs_status fail_at(const parser *p, fs_status s, size_t pos, const char *what)
{
    return fs_error(s, "%s: JSON: %s (offset %llu)", p->label, what,
                    (unsigned long long)(p->base + pos));
}

static fs_status unexpected(const parser *p, const char *expected)
{
    char tmp[16];
    return fs_error(FS_ERR_FORMAT, "%s: JSON: expected %s, found %s (offset %llu)", p->label,
                    expected, describe_byte(p, tmp), (unsigned long long)(p->base + p->pos));
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        uint8_t c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static int at(const parser *p, char c) { return p->pos < p->len && p->s[p->pos] == (uint8_t)c; }

/* ---- strings ---- */

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const uint8_t *s, size_t avail)
{
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else
        return 0;
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

static size_t utf8_put(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

static int hex4(const parser *p, size_t pos, uint32_t *v)
{
    if (p->len - pos < 4)
        return 0;
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p->s[pos + i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return 0;
        x = x << 4 | d;
    }
    *v = x;
    return 1;
}

/* Decodes the \u escape(s) at p->pos (just after the backslash-u) into o. */
static fs_status parse_unicode_escape(parser *p, uint8_t *o, size_t *n)
{
    size_t start = p->pos - 2;
    uint32_t cp;
    if (!hex4(p, p->pos, &cp))
        return fail_at(p, FS_ERR_FORMAT, start, "bad \\u escape");
    p->pos += 4;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return fail_at(p, FS_ERR_FORMAT, start, "unpaired low surrogate in \\u escape");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        uint32_t lo;
        if (p->len - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
            !hex4(p, p->pos + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
            return fail_at(p, FS_ERR_FORMAT, start, "unpaired high surrogate in \\u escape");
        p->pos += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    *n = utf8_put(o, cp);
    return FS_OK;
}

/* Parses the string at p->pos (on the opening quote) into a malloc'd,
 * NUL-terminated buffer. Unescaping never lengthens text, so the raw length
 * bounds the result. */
static fs_status parse_string(parser *p, char **chars, size_t *len)
{
    size_t start = p->pos++;
    size_t end = p->pos;
    while (end < p->len && p->s[end] != '"')
        end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->len)
        return fail_at(p, FS_ERR_FORMAT, start, "unterminated string");
    uint8_t *o = malloc(end - p->pos + 1);
    if (!o)
        return fail_at(p, FS_ERR_NOMEM, start, "out of memory for a string");
    size_t n = 0;
    fs_status s = FS_OK;
    while (s == FS_OK && p->pos < end) {
        uint8_t c = p->s[p->pos];
        if (c < 0x20) {
            s = fail_at(p, FS_ERR_FORMAT, p->pos, "control character in string");
        } else if (c == '\\') {
            uint8_t e = p->s[p->pos + 1];
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *hit = e ? strchr(from, e) : NULL;
            p->pos += 2;
            if (hit) {
                o[n++] = (uint8_t)to[hit - from];
            } else if (e == 'u') {
                size_t k = 0;
                s = parse_unicode_escape(p, o + n, &k);
                n += k;
            } else {
                s = fail_at(p, FS_ERR_FORMAT, p->pos - 2, "invalid escape in string");
            }
        } else {
            size_t k = utf8_len(p->s + p->pos, end - p->pos);
            if (k == 0) {
                s = fail_at(p, FS_ERR_FORMAT, p->pos, "invalid UTF-8 in string");
            } else {
                memcpy(o + n, p->s + p->pos, k);
                n += k;
                p->pos += k;
            }
        }
    }
    /* An escape or surrogate pair may have read past the quote we found if
     * that quote was itself escaped text; it cannot, by construction of end,
     * but the position must land exactly on it. */
    if (s == FS_OK && p->pos != end)
        s = fail_at(p, FS_ERR_FORMAT, start, "malformed string");
    if (s != FS_OK) {
        free(o);
        return s;
    }
    p->pos = end + 1;
    o[n] = '\0';
    *chars = (char *)o;
    *len = n;
    return FS_OK;
}

/* ---- numbers ---- */

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static fs_status parse_number(parser *p, fs_json *out)
{
    size_t start = p->pos;
    int neg = at(p, '-');
    if (neg)
        p->pos++;
    if (p->pos >= p->len || !is_digit(p->s[p->pos]))
        return unexpected(p, neg ? "a digit after '-'" : "a value");
    size_t int_start = p->pos;
    if (p->s[p->pos] == '0')
        p->pos++; /* no leading zeros: "01" stops here and fails in the caller */
    else
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    size_t int_end = p->pos, frac_start = 0, frac_end = 0;
    int integral = 1;
    long exp10 = 0;
    if (at(p, '.')) {
        integral = 0;
        frac_start = ++p->pos;
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
        frac_end = p->pos;
        if (frac_end == frac_start)
            return unexpected(p, "a digit after '.'");
    }
    if (at(p, 'e') || at(p, 'E')) {
        integral = 0;
        p->pos++;
        int eneg = 0;
        if (at(p, '+') || at(p, '-'))
            eneg = p->s[p->pos++] == '-';
        if (p->pos >= p->len || !is_digit(p->s[p->pos]))
            return unexpected(p, "a digit in the exponent");
        while (p->pos < p->len && is_digit(p->s[p->pos])) {
            if (exp10 < 100000) /* far beyond double range; saturating keeps it finite */
                exp10 = exp10 * 10 + (p->s[p->pos] - '0');
            p->pos++;
        }
        if (eneg)
            exp10 = -exp10;
    }

    out->offset = p->base + start;
    if (integral) {
        /* Accumulate the magnitude; INT64_MIN's magnitude is one more than INT64_MAX. */
        uint64_t mag = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        for (size_t i = int_start; i < int_end; i++) {
            uint64_t d = (uint64_t)(p->s[i] - '0');
            if (__builtin_mul_overflow(mag, 10, &mag) || __builtin_add_overflow(mag, d, &mag) ||
                mag > limit)
                return fail_at(p, FS_ERR_LIMIT, start, "integer out of the 64-bit range");
        }
        out->type = FS_JSON_INT;
        if (!neg)
            out->u.integer = (int64_t)mag;
        else
            out->u.integer = mag > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)mag;
        return FS_OK;
    }
    /* Keep the first 19 significant digits (they fit a uint64) and fold the
     * rest into the exponent: the result is within an ulp or two, which is all
     * a header's informational reals need. */
    uint64_t mant = 0;
    int kept = 0;
    for (size_t i = int_start; i < int_end; i++) {
        if (kept < 19) {
            mant = mant * 10 + (uint64_t)(p->s[i] - '0');
            kept += mant != 0;
        } else
            exp10++;
    }
    for (size_t i = frac_start; i < frac_end; i++) {
        if (kept < 19) {
            mant = mant * 10 + (uint64_t)(p->s[i] - '0');
            kept += mant != 0;
            exp10--;
        }
    }
    double v = mant == 0 ? 0.0 : (double)mant * pow(10.0, (double)exp10);
    if (!isfinite(v))
        return fail_at(p, FS_ERR_LIMIT, start, "number out of the double range");
    out->type = FS_JSON_REAL;
    out->u.real = neg ? -v : v;
    return FS_OK;
}

/* ---- containers ---- */

static void free_children(fs_json *v);

/* Appends one zeroed slot to a growable array of elem-sized records. */
static void *grow(void **items, size_t *count, size_t *cap, size_t elem)
{
    if (*count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        size_t bytes;
        if (__builtin_mul_overflow(ncap, elem, &bytes))
            return NULL;
        void *n = realloc(*items, bytes);
        if (!n)
            return NULL;
        *items = n;
        *cap = ncap;
    }
    void *slot = (char *)*items + *count * elem;
    memset(slot, 0, elem);
    (*count)++;
    return slot;
}

static fs_status parse_array(parser *p, fs_json *out, int depth)
{
    size_t start = p->pos++;
    out->type = FS_JSON_ARRAY;
    size_t cap = 0;
    skip_ws(p);
    if (at(p, ']')) {
        p->pos++;
        return FS_OK;
    }
    for (;;) {
        fs_json *item = grow((void **)&out->u.array.items, &out->u.array.count, &cap, sizeof *item);
        if (!item)
            return fail_at(p, FS_ERR_NOMEM, start, "out of memory for an array");
        skip_ws(p);
        FS_TRY(parse_value(p, item, depth + 1));
        skip_ws(p);
        if (at(p, ']')) {
            p->pos++;
            return FS_OK;
        }
        if (!at(p, ','))
            return unexpected(p, "',' or ']'");
        p->pos++;
    }
}

static int member_cmp(const void *a, const void *b)
{
    const fs_json_member *x = *(const fs_json_member *const *)a,
                         *y = *(const fs_json_member *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

/* Sorting pointers keeps the check O(n log n) on objects with many keys. */
static fs_status check_duplicates(const parser *p, const fs_json *obj)
{
    size_t n = obj->u.object.count;
    if (n < 2)
        return FS_OK;
    const fs_json_member **sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return fail_at(p, FS_ERR_NOMEM, obj->offset - p->base, "out of memory checking keys");
    for (size_t i = 0; i < n; i++)
        sorted[i] = &obj->u.object.members[i];
    qsort(sorted, n, sizeof *sorted, member_cmp);
    fs_status s = FS_OK;
    for (size_t i = 1; i < n && s == FS_OK; i++) {
        if (member_cmp(&sorted[i - 1], &sorted[i]) == 0) {
            const fs_json_member *later =
                sorted[i]->key_offset > sorted[i - 1]->key_offset ? sorted[i] : sorted[i - 1];
            int shown = later->key_len > 80 ? 80 : (int)later->key_len;
            s = fs_error(FS_ERR_FORMAT, "%s: JSON: duplicate key \"%.*s\" (offset %llu)", p->label,
                         shown, later->key, (unsigned long long)later->key_offset);
        }
    }
    free(sorted);
    return s;
}

static fs_status parse_object(parser *p, fs_json *out, int depth)
{
    size_t start = p->pos++;
    out->type = FS_JSON_OBJECT;
    size_t cap = 0;
    skip_ws(p);
    if (at(p, '}')) {
        p->pos++;
        return FS_OK;
    }
    for (;;) {
        skip_ws(p);
        if (!at(p, '"'))
            return unexpected(p, "a string key");
        fs_json_member *m =
            grow((void **)&out->u.object.members, &out->u.object.count, &cap, sizeof *m);
        if (!m)
            return fail_at(p, FS_ERR_NOMEM, start, "out of memory for an object");
        m->key_offset = p->base + p->pos;
        FS_TRY(parse_string(p, &m->key, &m->key_len));
        skip_ws(p);
        if (!at(p, ':'))
            return unexpected(p, "':'");
        p->pos++;
        skip_ws(p);
        FS_TRY(parse_value(p, &m->value, depth + 1));
        skip_ws(p);
        if (at(p, '}')) {
            p->pos++;
            return check_duplicates(p, out);
        }
        if (!at(p, ','))
            return unexpected(p, "',' or '}'");
        p->pos++;
    }
}

static fs_status parse_literal(parser *p, const char *word, fs_json_type type, int boolean,
                               fs_json *out)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return unexpected(p, "a value");
    out->type = type;
    out->u.boolean = boolean;
    p->pos += n;
    return FS_OK;
}

/* Parses the value at p->pos (whitespace already skipped). On failure the
 * partially built value is still well-formed, so the caller frees it. */
static fs_status parse_value(parser *p, fs_json *out, int depth)
{
    if (depth > FS_JSON_MAX_DEPTH)
        return fs_error(FS_ERR_LIMIT, "%s: JSON: nesting deeper than %d levels (offset %llu)",
                        p->label, FS_JSON_MAX_DEPTH, (unsigned long long)(p->base + p->pos));
    if (++p->values > FS_JSON_MAX_VALUES)
        return fs_error(FS_ERR_LIMIT, "%s: JSON: more than %u values (offset %llu)", p->label,
                        FS_JSON_MAX_VALUES, (unsigned long long)(p->base + p->pos));
    out->offset = p->base + p->pos;
    if (p->pos >= p->len)
        return unexpected(p, "a value");
    switch (p->s[p->pos]) {
    case '{': return parse_object(p, out, depth);
    case '[': return parse_array(p, out, depth);
    case '"':
        out->type = FS_JSON_STRING;
        return parse_string(p, &out->u.string.chars, &out->u.string.len);
    case 't': return parse_literal(p, "true", FS_JSON_BOOL, 1, out);
    case 'f': return parse_literal(p, "false", FS_JSON_BOOL, 0, out);
    case 'n': return parse_literal(p, "null", FS_JSON_NULL, 0, out);
    default: return parse_number(p, out);
    }
}

fs_status fs_json_parse(const uint8_t *text, size_t len, const char *label, uint64_t base_offset,
                        fs_json **out)
{
    if (!out)
        return fs_error(FS_ERR_ARG, "fs_json_parse: out is NULL");
    *out = NULL;
    if (!label)
        label = "json";
    if (!text && len > 0)
        return fs_error(FS_ERR_ARG, "%s: NULL JSON text", label);
    parser p = {.s = text, .len = len, .label = label, .base = base_offset};
    fs_json *root = calloc(1, sizeof *root);
    if (!root)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", label);
    skip_ws(&p);
    fs_status s = parse_value(&p, root, 1);
    if (s == FS_OK) {
        skip_ws(&p);
        if (p.pos != p.len)
            s = unexpected(&p, "end of input after the value");
    }
    if (s != FS_OK) {
        fs_json_free(root);
        return s;
    }
    *out = root;
    return FS_OK;
}

static void free_children(fs_json *v)
{
    switch (v->type) {
    case FS_JSON_STRING: free(v->u.string.chars); break;
    case FS_JSON_ARRAY:
        for (size_t i = 0; i < v->u.array.count; i++)
            free_children(&v->u.array.items[i]);
        free(v->u.array.items);
        break;
    case FS_JSON_OBJECT:
        for (size_t i = 0; i < v->u.object.count; i++) {
            free(v->u.object.members[i].key);
            free_children(&v->u.object.members[i].value);
        }
        free(v->u.object.members);
        break;
    default: break;
    }
}

void fs_json_free(fs_json *v)
{
    if (!v)
        return;
    free_children(v);
    free(v);
}

const fs_json *fs_json_get(const fs_json *object, const char *key)
{
    if (!object || object->type != FS_JSON_OBJECT || !key)
        return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < object->u.object.count; i++) {
        const fs_json_member *m = &object->u.object.members[i];
        if (m->key_len == n && memcmp(m->key, key, n) == 0)
            return &m->value;
    }
    return NULL;
}

const char *fs_json_type_name(fs_json_type t)
{
    switch (t) {
    case FS_JSON_NULL: return "null";
    case FS_JSON_BOOL: return "bool";
    case FS_JSON_INT: return "integer";
    case FS_JSON_REAL: return "number";
    case FS_JSON_STRING: return "string";
    case FS_JSON_ARRAY: return "array";
    case FS_JSON_OBJECT: return "object";
    }
    return "invalid";
}
