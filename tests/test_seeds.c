/* Seed lists and the latents they give: the "0-35,40" parser on valid and
 * invalid input (each refusal a one-line message quoting the bad item), the
 * lazy range lookup, and z = RandomState(seed).randn(z_dim) against numpy's
 * own values (seeds_z512.npy), exactly after the float32 cast. */
#include "check_util.h"

#include "../apps/seeds.c"
#include "../engine/rng.h"
#include "../weights_tools/npy.h"

typedef struct {
    const char *in;
    size_t n;
    uint32_t first, last; /* of the expanded list */
    uint32_t probe_i, probe_v;
} good_case;

static const good_case good[] = {
    {"0", 1, 0, 0, 0, 0},
    {"42", 1, 42, 42, 0, 42},
    {"0-35,40", 37, 0, 40, 36, 40},
    {"5-5", 1, 5, 5, 0, 5},
    {"0,1,4-6", 5, 0, 6, 3, 5},
    {"10-12,3,7-8", 6, 10, 8, 3, 3},
    {"007", 1, 7, 7, 0, 7},
    {"4294967295", 1, 4294967295u, 4294967295u, 0, 4294967295u},
    {"4294967290-4294967295", 6, 4294967290u, 4294967295u, 5, 4294967295u},
    {"1,1,1", 3, 1, 1, 2, 1}, /* duplicates kept, as gen_images.py keeps them */
    {"0-999", 1000, 0, 999, 500, 500},
};

START_TEST(test_parse_valid)
{
    const good_case *c = &good[_i];
    uint32_t *v;
    size_t n;
    fs_status s = fs_seeds_parse(c->in, &v, &n);
    ck_assert_msg(s == FS_OK, "'%s': %s", c->in, fs_error_message());
    ck_assert_uint_eq(n, c->n);
    ck_assert_uint_eq(v[0], c->first);
    ck_assert_uint_eq(v[n - 1], c->last);
    ck_assert_uint_eq(v[c->probe_i], c->probe_v);
    /* the lazy list agrees with the expansion everywhere */
    fs_seed_list l;
    ck_assert_int_eq(fs_seed_list_parse(c->in, &l), FS_OK);
    ck_assert_uint_eq(l.count, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(fs_seed_list_at(&l, i), v[i]);
    fs_seed_list_free(&l);
    free(v);
}
END_TEST

START_TEST(test_large_range_is_lazy)
{
    fs_seed_list l;
    ck_assert_int_eq(fs_seed_list_parse("0-999999998,7", &l), FS_OK);
    ck_assert_uint_eq(l.count, 1000000000ull);
    ck_assert_uint_eq(l.n_ranges, 2);
    ck_assert_uint_eq(fs_seed_list_at(&l, 123456789), 123456789);
    ck_assert_uint_eq(fs_seed_list_at(&l, 999999999), 7);
    fs_seed_list_free(&l);
}
END_TEST

typedef struct {
    const char *in;
    fs_status want;
    const char *needle;
} bad_case;

static const bad_case bad[] = {
    {"", FS_ERR_ARG, "empty seed list"},
    {",", FS_ERR_ARG, "item 1 is empty"},
    {"1,,2", FS_ERR_ARG, "item 2 is empty"},
    {"1,2,", FS_ERR_ARG, "item 3 is empty"},
    {"x", FS_ERR_ARG, "'x'"},
    {"0-3,abc", FS_ERR_ARG, "'abc'"},
    {"-5", FS_ERR_ARG, "'-5'"},
    {"5-", FS_ERR_ARG, "'5-'"},
    {"1-2-3", FS_ERR_ARG, "'1-2-3'"},
    {" 1", FS_ERR_ARG, "' 1'"},
    {"1 ", FS_ERR_ARG, "'1 '"},
    {"+1", FS_ERR_ARG, "'+1'"},
    {"0x10", FS_ERR_ARG, "'0x10'"},
    {"1.5", FS_ERR_ARG, "'1.5'"},
    {"9-3", FS_ERR_ARG, "reversed range (9 > 3)"},
    {"4294967296", FS_ERR_ARG, "'4294967296' is out of range"},
    {"1-99999999999999999999999", FS_ERR_ARG, "out of range"},
    {"0-4294967295", FS_ERR_LIMIT, "limit of 1000000000"},
    {"0-999999999,1", FS_ERR_LIMIT, "at item '1'"},
    {"1,\x01\x7f", FS_ERR_ARG, "'?\?'"},
};

START_TEST(test_parse_invalid)
{
    const bad_case *c = &bad[_i];
    uint32_t *v = (uint32_t *)1;
    size_t n = 99;
    fs_error_clear();
    fs_status s = fs_seeds_parse(c->in, &v, &n);
    ck_assert_msg(s == c->want, "'%s': got %s (%s)", c->in, fs_status_string(s),
                  fs_error_message());
    ck_assert_ptr_null(v);
    ck_assert_uint_eq(n, 0);
    const char *m = fs_error_message();
    ck_assert_msg(strstr(m, c->needle) != NULL, "'%s': message '%s' lacks '%s'", c->in, m,
                  c->needle);
    ck_assert(strchr(m, '\n') == NULL);
}
END_TEST

/* A megabyte-long junk item is quoted in bounded form. */
START_TEST(test_long_item_quoted_briefly)
{
    size_t len = 1 << 20;
    char *s = malloc(len + 1);
    memset(s, '7', len);
    s[len - 1] = 'x';
    s[len] = '\0';
    fs_seed_list l;
    ck_assert_int_eq(fs_seed_list_parse(s, &l), FS_ERR_ARG);
    ck_assert_uint_lt(strlen(fs_error_message()), 200);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "..."));
    free(s);
}
END_TEST

/* z for seed s is RandomState(s).randn(z_dim) in float64; the engine casts
 * to float32 as the mapping network does. The fixture holds numpy's values
 * cast to float32: equal bit for bit. */
START_TEST(test_z_from_seeds_matches_numpy)
{
    static const uint32_t seeds[5] = {0, 1, 2, 42, 1000};
    int ndim;
    int64_t shape[FS_NPY_MAX_DIMS];
    float *want;
    ck_assert_int_eq(fs_npy_read_f32(FS_FIXTURES "/stylegan2/seeds_z512.npy", &ndim, shape, &want),
                     FS_OK);
    ck_assert_int_eq(ndim, 2);
    ck_assert_int_eq(shape[0], 5);
    ck_assert_int_eq(shape[1], 512);
    for (int i = 0; i < 5; i++) {
        fs_np_random r;
        fs_np_random_seed(&r, seeds[i]);
        for (int j = 0; j < 512; j++) {
            float z = (float)fs_np_random_gauss(&r);
            float w = want[i * 512 + j];
            ck_assert_msg(memcmp(&z, &w, sizeof z) == 0, "seed %u, element %d: %.9g != %.9g",
                          seeds[i], j, z, w);
        }
    }
    free(want);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("seeds");
    TCase *tc = tcase_create("parse");
    tcase_add_loop_test(tc, test_parse_valid, 0, (int)(sizeof good / sizeof *good));
    tcase_add_test(tc, test_large_range_is_lazy);
    tcase_add_loop_test(tc, test_parse_invalid, 0, (int)(sizeof bad / sizeof *bad));
    tcase_add_test(tc, test_long_item_quoted_briefly);
    suite_add_tcase(s, tc);
    TCase *z = tcase_create("z");
    tcase_add_test(z, test_z_from_seeds_matches_numpy);
    suite_add_tcase(s, z);
    return fs_check_run(s, "seeds");
}
