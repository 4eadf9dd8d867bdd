/* libFuzzer harness for the --seeds parser (apps/seeds.c, compiled in here
 * because the fuzz build links only the library). Beyond "no crash", it
 * checks what the generator relies on: a parsed list is within the limit,
 * the lazy lookup agrees with the ranges at every range boundary, printing
 * the ranges back and parsing again gives the same list, and a refusal
 * leaves a one-line message and an empty list. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../apps/seeds.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0'; /* an embedded NUL just ends the list early */
    fs_seed_list l;
    fs_status st = fs_seed_list_parse(s, &l);
    if (st != FS_OK) {
        if (l.ranges || l.count || strchr(fs_error_message(), '\n') || !fs_error_message()[0])
            abort();
        free(s);
        return 0;
    }
    if (l.count == 0 || l.count > FS_SEEDS_MAX || l.n_ranges == 0)
        abort();
    /* The same list printed back canonically: a string at most ~22 bytes per range. */
    char *back = malloc(l.n_ranges * 24 + 1);
    if (!back)
        abort();
    size_t n = 0;
    for (size_t i = 0; i < l.n_ranges; i++) {
        const fs_seed_range *r = &l.ranges[i];
        if (r->first > r->last)
            abort();
        if (fs_seed_list_at(&l, l.starts[i]) != r->first)
            abort();
        uint64_t end = i + 1 < l.n_ranges ? l.starts[i + 1] : l.count;
        if (end - l.starts[i] != (uint64_t)r->last - r->first + 1 ||
            fs_seed_list_at(&l, end - 1) != r->last)
            abort();
        n += (size_t)sprintf(back + n, i ? ",%u-%u" : "%u-%u", r->first, r->last);
    }
    fs_seed_list l2;
    if (fs_seed_list_parse(back, &l2) != FS_OK || l2.count != l.count ||
        l2.n_ranges != l.n_ranges ||
        memcmp(l2.ranges, l.ranges, l.n_ranges * sizeof *l.ranges) != 0)
        abort();
    fs_seed_list_free(&l2);
    /* The expanded form, when small enough to be cheap. */
    if (l.count <= 4096) {
        uint32_t *v;
        size_t k;
        if (fs_seeds_parse(s, &v, &k) != FS_OK || k != l.count)
            abort();
        for (size_t i = 0; i < k; i++)
            if (v[i] != fs_seed_list_at(&l, i))
                abort();
        free(v);
    }
    free(back);
    fs_seed_list_free(&l);
    free(s);
    return 0;
}
