/* Check suite for the CRC-32 of zip members (weights_tools/crc32.c).
 *
 * The folding (PCLMULQDQ) path and the table path must agree with each other
 * and with a bit-at-a-time reference on every length 0..4096 at every start
 * alignment 0..15 (which crosses every boundary of the folding path: the
 * 64-byte start, the 16-byte tail loop and the table tail), on large
 * buffers, and however the input is split into calls. A small generator
 * derives every folding constant from the polynomial, so a wrong constant is
 * named here rather than found as a mismatch. On an x86-64 CPU with PCLMULQDQ
 * and SSE4.1 the suite insists that the folding path is the one selected;
 * elsewhere it says so and tests the table path alone. */
#include "check_util.h"

#include <stdint.h>

#include "../weights_tools/crc32.h"

#define POLY 0xedb88320u

/* Bitwise reference, independent of both paths' tables and constants. */
static uint32_t crc_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (POLY & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* xorshift64: reproducible pseudo-random bytes. */
static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        p[i] = (uint8_t)(s >> 32);
    }
}

static int cpu_has_pclmul(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#else
    return 0;
#endif
}

/* ---- the constants, from the polynomial ---- */

/* K(e): x^e mod P bit-reflected in 32 bits (x^0 is 0x80000000; multiplying
 * by x is a right shift, and x^32 wraps to P's low terms), shifted left by 1. */
static uint64_t gen_k(unsigned e)
{
    uint32_t v = 0x80000000u;
    while (e--)
        v = (v >> 1) ^ (POLY & (0u - (v & 1u)));
    return (uint64_t)v << 1;
}

/* The 33-bit value v bit-reflected (bit k to bit 32 - k). */
static uint64_t reflect33(uint64_t v)
{
    uint64_t r = 0;
    for (int k = 0; k <= 32; k++)
        if (v >> k & 1)
            r |= 1ull << (32 - k);
    return r;
}

START_TEST(test_constants)
{
    ck_assert_uint_eq(gen_k(4 * 128 + 32), FS_CRC32_K_544);
    ck_assert_uint_eq(gen_k(4 * 128 - 32), FS_CRC32_K_480);
    ck_assert_uint_eq(gen_k(128 + 32), FS_CRC32_K_160);
    ck_assert_uint_eq(gen_k(128 - 32), FS_CRC32_K_96);
    ck_assert_uint_eq(gen_k(64), FS_CRC32_K_64);
    /* mu = floor(x^64 / P) by long division, in normal (unreflected) order:
     * P = 0x104C11DB7. The first step (x^64) is taken by hand so that the
     * remainder fits 64 bits. */
    const uint64_t p = 0x104c11db7ull;
    uint64_t q = 1ull << 32, rem = (p ^ 1ull << 32) << 32;
    for (int d = 63; d >= 32; d--)
        if (rem >> d & 1) {
            q |= 1ull << (d - 32);
            rem ^= p << (d - 32);
        }
    ck_assert_uint_eq(reflect33(q), FS_CRC32_MU);
    ck_assert_uint_eq(reflect33(p), FS_CRC32_P);
    ck_assert_uint_eq(FS_CRC32_P, (uint64_t)POLY << 1 | 1);
}
END_TEST

START_TEST(test_path_selected)
{
    const char *impl = fs_crc32_impl();
#ifdef FS_CRC32_PORTABLE_ONLY
    /* A build that leaves the folding path out on purpose (the benchmark's
     * "before" variant); say so rather than fail. */
    printf("NOTE: crc32: built with FS_CRC32_PORTABLE_ONLY: only the table path is tested\n");
    ck_assert_str_eq(impl, "portable");
    return;
#endif
    if (cpu_has_pclmul()) {
        ck_assert_str_eq(impl, "pclmul");
    } else {
        printf("NOTE: crc32: this CPU has no PCLMULQDQ + SSE4.1 (or is not x86-64): only the "
               "table path is tested\n");
        ck_assert_str_eq(impl, "portable");
    }
}
END_TEST

START_TEST(test_known_vectors)
{
    static const struct {
        const char *s;
        uint32_t crc;
    } v[] = {
        {"", 0x00000000u},
        {"a", 0xe8b7be43u},
        {"123456789", 0xcbf43926u},
        {"The quick brown fox jumps over the lazy dog", 0x414fa339u},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i].s);
        ck_assert_uint_eq(fs_crc32(0, v[i].s, n), v[i].crc);
        ck_assert_uint_eq(fs_crc32_portable(0, v[i].s, n), v[i].crc);
        ck_assert_uint_eq(crc_bitwise(0, (const uint8_t *)v[i].s, n), v[i].crc);
    }
    /* Long enough for the folding path: 4096 zero bytes, 4096 0xff bytes,
     * and "123456789" repeated, against the bitwise reference. */
    uint8_t b[4096 + 9];
    memset(b, 0, sizeof b);
    ck_assert_uint_eq(fs_crc32(0, b, 4096), crc_bitwise(0, b, 4096));
    memset(b, 0xff, sizeof b);
    ck_assert_uint_eq(fs_crc32(0, b, 4096), crc_bitwise(0, b, 4096));
    for (size_t i = 0; i < sizeof b; i++)
        b[i] = (uint8_t)"123456789"[i % 9];
    ck_assert_uint_eq(fs_crc32(0, b, sizeof b), crc_bitwise(0, b, sizeof b));
    ck_assert_uint_eq(fs_crc32_portable(0, b, sizeof b), crc_bitwise(0, b, sizeof b));
}
END_TEST

/* Every length 0..4096 at every alignment 0..15, random bytes and a random
 * starting crc for half of them: both paths, and the bitwise reference on
 * the lengths where a boundary lies (all up to 300, then every 61st). */
START_TEST(test_lengths_and_alignments)
{
    enum { MAX_LEN = 4096, ALIGNS = 16 };
    /* 64-byte aligned base, so that "alignment a" means p % 64 == a. */
    uint8_t *base = aligned_alloc(64, MAX_LEN + 64 + 64);
    ck_assert_ptr_nonnull(base);
    fill_random(base, MAX_LEN + 128, 1);
    for (size_t a = 0; a < ALIGNS; a++)
        for (size_t n = 0; n <= MAX_LEN; n++) {
            const uint8_t *p = base + a;
            uint32_t init = (n & 1) ? (uint32_t)(n * 2654435761u) : 0;
            uint32_t hw = fs_crc32(init, p, n), sw = fs_crc32_portable(init, p, n);
            ck_assert_msg(hw == sw, "length %zu align %zu init 0x%08x: fs_crc32 0x%08x, table 0x%08x",
                          n, a, init, hw, sw);
            if (n <= 300 || n % 61 == 0 || n == MAX_LEN) {
                uint32_t ref = crc_bitwise(init, p, n);
                ck_assert_msg(sw == ref, "length %zu align %zu: table 0x%08x, bitwise 0x%08x", n, a,
                              sw, ref);
            }
        }
    free(base);
}
END_TEST

/* Special bit patterns: a single set bit at every position of a 256-byte
 * buffer, which reaches every lane and half of the folding path on its own. */
START_TEST(test_single_bits)
{
    uint8_t b[256 + 7];
    for (size_t bit = 0; bit < 256 * 8; bit++) {
        memset(b, 0, sizeof b);
        b[bit / 8] = (uint8_t)(1u << (bit % 8));
        ck_assert_msg(fs_crc32(0, b, sizeof b) == crc_bitwise(0, b, sizeof b), "bit %zu", bit);
    }
}
END_TEST

/* Large buffers (not a multiple of anything) one-shot, against the table
 * path; and the same bytes fed in chunks of awkward sizes give the same. */
START_TEST(test_large_and_incremental)
{
    const size_t n = ((size_t)16 << 20) + 12345;
    uint8_t *b = malloc(n + 16);
    ck_assert_ptr_nonnull(b);
    fill_random(b, n + 16, 7);
    for (size_t a = 0; a < 16; a += 5) {
        uint32_t one = fs_crc32(0, b + a, n);
        ck_assert_uint_eq(one, fs_crc32_portable(0, b + a, n));
        static const size_t chunks[] = {1, 3, 15, 16, 17, 63, 64, 65, 100, 4095, 65536, 1000003};
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            uint32_t crc = 0;
            /* Chunk sizes vary (chunk, then 2*chunk+1, ...) so that the
             * split points fall everywhere relative to 16 and 64. */
            size_t step = chunks[c], off = 0;
            while (off < n) {
                size_t len = step < n - off ? step : n - off;
                crc = fs_crc32(crc, b + a + off, len);
                off += len;
                step = step * 2 + 1 > 3000000 ? chunks[c] : step * 2 + 1;
            }
            ck_assert_msg(crc == one, "align %zu chunks from %zu: 0x%08x vs one-shot 0x%08x", a,
                          chunks[c], crc, one);
        }
    }
    /* Mixing the two paths mid-stream is also one CRC. */
    uint32_t mixed = fs_crc32_portable(0, b, 1000);
    mixed = fs_crc32(mixed, b + 1000, n - 1000);
    ck_assert_uint_eq(mixed, fs_crc32(0, b, n));
    free(b);
}
END_TEST

static Suite *crc32_suite(void)
{
    Suite *s = suite_create("crc32");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_constants);
    tcase_add_test(tc, test_path_selected);
    tcase_add_test(tc, test_known_vectors);
    tcase_add_test(tc, test_lengths_and_alignments);
    tcase_add_test(tc, test_single_bits);
    tcase_add_test(tc, test_large_and_incremental);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return fs_check_run(crc32_suite(), "crc32"); }
