/* CRC-32 (reflected polynomial 0xEDB88320, as ZIP uses): a carry-less
 * multiply (PCLMULQDQ) folding path on x86-64 CPUs that have it, picked at
 * run time, and a portable slicing-by-8 path for other CPUs and for the last
 * 0..15 bytes. See crc32.h; engine/crc32c.c is the same arrangement for
 * CRC-32C with the SSE4.2 crc32 instruction.
 *
 * Why: every member of a torch.save zip is checked as it is read, so this
 * runs over the whole checkpoint. Slicing-by-8 manages about 2 GB/s, which
 * was 20-40 % of a conversion; folding runs at about 14 GB/s on a Zen 4 core,
 * where it is bound by the PCLMULQDQ issue rate (one every two cycles, eight
 * per 64 bytes), within a factor two of a plain read of the same bytes
 * (bench/results/zip_crc.md).
 *
 * ---- The math of the folding path ----
 *
 * Polynomials are over GF(2); P = x^32 + x^26 + x^23 + ... + 1 (0x104C11DB7,
 * 0xEDB88320 reflected without the x^32 term). A message M of m bits, first
 * bit the highest power, has CRC state (M * x^32) mod P; the running state
 * crc (already inverted by the caller's convention) is folded in by XORing
 * it into the first 32 bits of what follows.
 *
 * Reflected layout: the data are loaded little-endian, so in a 128-bit
 * register bit i (bit 0 = the lowest bit of the first byte) is the
 * coefficient of x^(127-i) of that 16-byte block. Its low 64-bit half holds
 * the block's high-order part H, its high half the low-order part L:
 * block = H x^64 + L. For PCLMULQDQ an operand qword's bit k is the
 * coefficient of x^(63-k); the 128-bit product's bit i is then the
 * coefficient of x^(126-i), so read back as a block it is x * a * b: one
 * extra factor of x, which the constants below absorb.
 *
 * Constants. K(e) = (x^e mod P), bit-reflected in 32 bits and shifted left
 * by one; as an operand qword that is (x^e mod P) * x^31. So
 *     clmul(H, K(e)) read as a block = x * H * (x^e mod P) * x^31
 *                                    = H * (x^e mod P) * x^32,
 * which is below x^127 (deg H <= 63, deg(x^e mod P) <= 31) and fits.
 * Computed by starting from x^0 (0x80000000 reflected) and multiplying by x
 * e times: v = (v >> 1) ^ (v & 1 ? 0xEDB88320 : 0), the same step as the
 * table generator below; then K = (uint64_t)v << 1. tests/test_crc32.c
 * recomputes every constant this way and compares.
 *
 * 1. Fold forward by D bits. A block X = H x^64 + L that lies D bits before
 *    another contributes X x^D to it; X x^D = H x^(64+D) + L x^D. With the
 *    rule above clmul(H, K(D+32)) ^ clmul(L, K(D-32)) is congruent to that
 *    mod P and is a 128-bit block, so it is XORed into the block D bits on:
 *      D = 512 (four lanes of 128 bits): K(4*128+32) = K(544), K(4*128-32) = K(480)
 *      D = 128 (one lane to the next):   K(128+32)   = K(160), K(128-32)   = K(96)
 * 2. 128 -> 96 bits. For the last block R = H x^64 + L we need R x^32 mod P.
 *    T1 = clmul(H, K(96)) ^ (R >> 64 bits): as a block that is
 *    H (x^96 mod P) x^32 + L x^64, which is congruent to R x^64 and has no
 *    term below x^32; so T1 = U x^32 with U = R x^32 mod P, deg U <= 95,
 *    held in T1's bits 0..95.
 * 3. 96 -> 64 bits. U = U1 x^64 + U0 with U1 = T1's bits 0..31 (32 bits) and
 *    U0 = bits 32..95. T2 = clmul(U1, K(64)) ^ (T1 >> 32 bits) is, as a
 *    block, (U1 (x^64 mod P) + U0) x^64 = W x^64 with W congruent to U and
 *    deg W <= 63; W is T2's low qword.
 * 4. Barrett reduction, 64 -> 32 bits. W = W1 x^32 + W0. The quotient
 *    q = floor(W / P) = floor(W1 * mu / x^32) with mu = floor(x^64 / P)
 *    (33 bits), and W mod P = W0 ^ ((q * P) mod x^32). Both mu and P are
 *    stored 33-bit reflected (bit k = coefficient of x^(32-k)), so as
 *    operands they are mu x^31 and P x^31:
 *      T3 = clmul(W1, mu') = W1 mu x^63 (raw):  q lands in bits 0..31;
 *      T4 = clmul(q, P')   = q P x^63 (raw):    (q P) mod x^32 lands in bits 32..63,
 *    where W0 already is in T2; the CRC is bits 32..63 of T2 ^ T4.
 *    mu comes from long division of x^64 by P (see the test's generator). */
#include "crc32.h"

#include <pthread.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(FS_CRC32_PORTABLE_ONLY)
/* FS_CRC32_PORTABLE_ONLY builds the table path alone; bench/bench_zip_crc.sh
 * uses it to measure a conversion with the old CRC for comparison. */
#define HAVE_PCLMUL_PATH 1
#include <immintrin.h>
#endif

#define POLY 0xedb88320u

/* ---- portable: slicing-by-8 ---- */

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (POLY & (0u - (c & 1u)));
        table[0][i] = c;
    }
    /* table[t][b]: byte b followed by t zero bytes, so eight lookups advance
     * the state by a whole 8-byte word. */
    for (int t = 1; t < 8; t++)
        for (uint32_t i = 0; i < 256; i++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* crc: the running state, already inverted. */
static uint32_t crc_soft(uint32_t crc, const uint8_t *p, size_t n)
{
    pthread_once(&table_once, table_init);
    const uint32_t(*T)[256] = (const uint32_t(*)[256])table;
    for (; n && ((uintptr_t)p & 7); n--)
        crc = T[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    for (; n >= 8; n -= 8, p += 8) {
        /* Bytes in file order whatever the host's byte order. */
        uint32_t lo = crc ^ rd32(p), hi = rd32(p + 4);
        crc = T[7][lo & 0xff] ^ T[6][(lo >> 8) & 0xff] ^ T[5][(lo >> 16) & 0xff] ^ T[4][lo >> 24] ^
              T[3][hi & 0xff] ^ T[2][(hi >> 8) & 0xff] ^ T[1][(hi >> 16) & 0xff] ^ T[0][hi >> 24];
    }
    for (; n; n--)
        crc = T[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

/* ---- x86-64: PCLMULQDQ folding ---- */

#ifdef HAVE_PCLMUL_PATH
/* Short names for the constants in crc32.h (K(e) as described at the top). */
#define K_544 FS_CRC32_K_544
#define K_480 FS_CRC32_K_480
#define K_160 FS_CRC32_K_160
#define K_96 FS_CRC32_K_96
#define K_64 FS_CRC32_K_64
#define MU FS_CRC32_MU
#define P_33 FS_CRC32_P

/* Fewer bytes than this go to the table path: the four lanes need 64 bytes to
 * start, and below that the reduction's fixed cost is not worth it. */
#define PCLMUL_MIN 64

/* x folded forward onto the block k's distance ahead: k holds
 * K(D+32) in its low qword (for x's high-order, low-address half) and
 * K(D-32) in its high qword. */
__attribute__((target("pclmul,sse4.1"))) static inline __m128i fold(__m128i x, __m128i k)
{
    return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

/* n >= PCLMUL_MIN. Returns the state after all n bytes (not inverted). */
__attribute__((target("pclmul,sse4.1"))) static uint32_t crc_pclmul(uint32_t crc, const uint8_t *p,
                                                                      size_t n)
{
    const __m128i k512 = _mm_set_epi64x((long long)K_480, (long long)K_544);
    const __m128i k128 = _mm_set_epi64x((long long)K_96, (long long)K_160);
    /* Four independent lanes, so the multiplies of one 64-byte step overlap
     * instead of waiting on each other's latency. */
    __m128i a0 = _mm_loadu_si128((const __m128i *)p);
    __m128i a1 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i a2 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i a3 = _mm_loadu_si128((const __m128i *)(p + 48));
    a0 = _mm_xor_si128(a0, _mm_cvtsi32_si128((int)crc));
    p += 64;
    n -= 64;
    for (; n >= 64; n -= 64, p += 64) {
        a0 = _mm_xor_si128(fold(a0, k512), _mm_loadu_si128((const __m128i *)p));
        a1 = _mm_xor_si128(fold(a1, k512), _mm_loadu_si128((const __m128i *)(p + 16)));
        a2 = _mm_xor_si128(fold(a2, k512), _mm_loadu_si128((const __m128i *)(p + 32)));
        a3 = _mm_xor_si128(fold(a3, k512), _mm_loadu_si128((const __m128i *)(p + 48)));
    }
    /* Four lanes to one: each folds 128 bits onto the next. */
    __m128i r = _mm_xor_si128(fold(a0, k128), a1);
    r = _mm_xor_si128(fold(r, k128), a2);
    r = _mm_xor_si128(fold(r, k128), a3);
    for (; n >= 16; n -= 16, p += 16)
        r = _mm_xor_si128(fold(r, k128), _mm_loadu_si128((const __m128i *)p));
    /* Step 2, 128 -> 96 bits: T1 = clmul(H, K(96)) ^ (R >> 64). */
    const __m128i k_96 = _mm_cvtsi64_si128((long long)K_96);
    __m128i t = _mm_xor_si128(_mm_clmulepi64_si128(r, k_96, 0x00), _mm_srli_si128(r, 8));
    /* Step 3, 96 -> 64 bits: T2 = clmul(T1 bits 0..31, K(64)) ^ (T1 >> 32). */
    const __m128i low32 = _mm_cvtsi64_si128(0xffffffffll);
    const __m128i k_64 = _mm_cvtsi64_si128((long long)K_64);
    t = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(t, low32), k_64, 0x00),
                      _mm_srli_si128(t, 4));
    /* Step 4, Barrett: q from W1 and mu, then W0 ^ (q P mod x^32). */
    const __m128i mu_p = _mm_set_epi64x((long long)P_33, (long long)MU);
    __m128i q = _mm_clmulepi64_si128(_mm_and_si128(t, low32), mu_p, 0x00);
    __m128i qp = _mm_clmulepi64_si128(_mm_and_si128(q, low32), mu_p, 0x10);
    crc = (uint32_t)_mm_extract_epi32(_mm_xor_si128(t, qp), 1);
    /* The last 0..15 bytes: a table step per byte is cheaper than aligning
     * them into one more block. */
    return n ? crc_soft(crc, p, n) : crc;
}

static int hw_available;
static pthread_once_t hw_once = PTHREAD_ONCE_INIT;

static void hw_probe(void)
{
    __builtin_cpu_init();
    hw_available = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}

static int have_hw(void)
{
    pthread_once(&hw_once, hw_probe);
    return hw_available;
}
#endif

uint32_t fs_crc32_portable(uint32_t crc, const void *data, size_t n)
{
    return ~crc_soft(~crc, data, n);
}

uint32_t fs_crc32(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
    crc = ~crc;
#ifdef HAVE_PCLMUL_PATH
    if (n >= PCLMUL_MIN && have_hw())
        return ~crc_pclmul(crc, p, n);
#endif
    return ~crc_soft(crc, p, n);
}

const char *fs_crc32_impl(void)
{
#ifdef HAVE_PCLMUL_PATH
    if (have_hw())
        return "pclmul";
#endif
    return "portable";
}
