/* Seed lists as gen_images.py takes them: "0-35,40" is the seeds 0 to 35
 * inclusive followed by 40. Items are separated by commas; each is a decimal
 * number or an inclusive range a-b with a <= b; every value is a valid
 * numpy RandomState seed (0 .. 2^32-1). Order and duplicates are kept, as
 * gen_images.py keeps them.
 *
 * A list is held as its ranges, not expanded, so "0-999999999" costs a few
 * bytes; the total is capped at FS_SEEDS_MAX so that a typo (an extra digit)
 * is refused up front instead of starting a month-long run. */
#ifndef FS_SEEDS_H
#define FS_SEEDS_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/status.h"

#define FS_SEEDS_MAX 1000000000ull /* 10^9 seeds in one list */

typedef struct {
    uint32_t first, last; /* inclusive */
} fs_seed_range;

typedef struct {
    fs_seed_range *ranges;
    uint64_t *starts; /* starts[i]: index in the list of ranges[i].first */
    size_t n_ranges;
    uint64_t count;   /* number of seeds, 1 .. FS_SEEDS_MAX */
} fs_seed_list;

/* Parses s into *out (zeroed on failure). Errors are FS_ERR_ARG (syntax,
 * range) or FS_ERR_LIMIT (too many seeds), with a one-line message that
 * quotes the offending item. */
fs_status fs_seed_list_parse(const char *s, fs_seed_list *out);
/* Seed number i of the list, 0 <= i < count. */
uint32_t fs_seed_list_at(const fs_seed_list *l, uint64_t i);
void fs_seed_list_free(fs_seed_list *l);

/* The list expanded into a malloc'd array of *n seeds (for small lists). */
fs_status fs_seeds_parse(const char *s, uint32_t **out, size_t *n);

#endif
