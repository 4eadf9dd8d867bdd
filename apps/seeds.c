/* The seed-list parser (see seeds.h). Strict on purpose: the list decides
 * which images a long run produces, so anything that is not plainly digits,
 * commas and dashes is refused rather than guessed at. */
#include "seeds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEED_MAX 4294967295ull
#define QUOTE_MAX 40

/* A printable, bounded copy of an item for the message: the input may be
 * megabytes of anything. */
static const char *quote(const char *p, size_t n, char buf[QUOTE_MAX + 4])
{
    size_t k = n < QUOTE_MAX ? n : QUOTE_MAX;
    for (size_t i = 0; i < k; i++)
        buf[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
    if (n > k)
        memcpy(buf + k, "...", 4);
    else
        buf[k] = '\0';
    return buf;
}

/* Reads decimal digits at *p (up to end). 0 if there are none; -1 if the
 * value is above SEED_MAX (the digits are still consumed); 1 on success. */
static int read_number(const char **p, const char *end, uint32_t *v)
{
    const char *q = *p;
    uint64_t x = 0;
    int over = 0;
    while (q < end && *q >= '0' && *q <= '9') {
        if (!over) {
            x = x * 10 + (uint64_t)(*q - '0');
            over = x > SEED_MAX;
        }
        q++;
    }
    if (q == *p)
        return 0;
    *p = q;
    *v = (uint32_t)x;
    return over ? -1 : 1;
}

static fs_status parse_item(const char *item, size_t len, fs_seed_range *r)
{
    char qb[QUOTE_MAX + 4];
    const char *p = item, *end = item + len;
    uint32_t a, b;
    int ra = read_number(&p, end, &a);
    if (ra == 0)
        goto syntax;
    if (p == end) {
        if (ra < 0)
            goto too_big;
        r->first = r->last = a;
        return FS_OK;
    }
    if (*p != '-')
        goto syntax;
    p++;
    int rb = read_number(&p, end, &b);
    if (rb == 0 || p != end)
        goto syntax;
    if (ra < 0 || rb < 0)
        goto too_big;
    if (a > b)
        return fs_error(FS_ERR_ARG, "seed list item '%s' is a reversed range (%u > %u)",
                        quote(item, len, qb), a, b);
    r->first = a;
    r->last = b;
    return FS_OK;
syntax:
    return fs_error(FS_ERR_ARG,
                    "seed list item '%s' is not a number or an inclusive range a-b",
                    quote(item, len, qb));
too_big:
    return fs_error(FS_ERR_ARG, "seed list item '%s' is out of range: seeds are 0 to %llu",
                    quote(item, len, qb), SEED_MAX);
}

fs_status fs_seed_list_parse(const char *s, fs_seed_list *out)
{
    memset(out, 0, sizeof *out);
    if (!s || !*s)
        return fs_error(FS_ERR_ARG, "empty seed list");
    size_t items = 1;
    for (const char *p = s; *p; p++)
        items += *p == ',';
    fs_seed_list l = {0};
    l.ranges = malloc(items * sizeof *l.ranges);
    l.starts = malloc(items * sizeof *l.starts);
    if (!l.ranges || !l.starts) {
        fs_seed_list_free(&l);
        return fs_error(FS_ERR_NOMEM, "seed list: out of memory for %zu items", items);
    }
    const char *p = s;
    for (size_t i = 0; i < items; i++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        fs_status st;
        if (len == 0)
            st = fs_error(FS_ERR_ARG, "seed list item %zu is empty (a doubled comma, or a comma "
                          "at an end)", i + 1);
        else
            st = parse_item(p, len, &l.ranges[i]);
        if (st == FS_OK) {
            uint64_t k = (uint64_t)l.ranges[i].last - l.ranges[i].first + 1;
            l.starts[i] = l.count;
            l.count += k; /* both terms <= 2^32: no overflow */
            if (l.count > FS_SEEDS_MAX) {
                char qb[QUOTE_MAX + 4];
                st = fs_error(FS_ERR_LIMIT,
                              "seed list reaches %llu seeds at item '%s', more than the limit "
                              "of %llu",
                              (unsigned long long)l.count, quote(p, len, qb), FS_SEEDS_MAX);
            }
        }
        if (st != FS_OK) {
            fs_seed_list_free(&l);
            return st;
        }
        l.n_ranges++;
        p += len + 1;
    }
    *out = l;
    return FS_OK;
}

uint32_t fs_seed_list_at(const fs_seed_list *l, uint64_t i)
{
    /* The last range starting at or before i. */
    size_t lo = 0, hi = l->n_ranges;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->starts[mid] <= i)
            lo = mid;
        else
            hi = mid;
    }
    return l->ranges[lo].first + (uint32_t)(i - l->starts[lo]);
}

void fs_seed_list_free(fs_seed_list *l)
{
    free(l->ranges);
    free(l->starts);
    memset(l, 0, sizeof *l);
}

fs_status fs_seeds_parse(const char *s, uint32_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    fs_seed_list l;
    FS_TRY(fs_seed_list_parse(s, &l));
    uint32_t *v = l.count <= SIZE_MAX / sizeof *v ? malloc((size_t)l.count * sizeof *v) : NULL;
    if (!v) {
        fs_seed_list_free(&l);
        return fs_error(FS_ERR_NOMEM, "seed list: out of memory for %llu seeds",
                        (unsigned long long)l.count);
    }
    size_t k = 0;
    for (size_t i = 0; i < l.n_ranges; i++)
        for (uint64_t x = l.ranges[i].first; x <= l.ranges[i].last; x++)
            v[k++] = (uint32_t)x;
    *out = v;
    *n = k;
    fs_seed_list_free(&l);
    return FS_OK;
}
