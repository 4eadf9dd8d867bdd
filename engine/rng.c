/* numpy-compatible MT19937 + legacy Gaussian, and Philox4x32-10 normals. */
#include "rng.h"

#include <math.h>

void fs_np_random_seed(fs_np_random *r, uint32_t seed)
{
    r->mt[0] = seed;
    for (int i = 1; i < 624; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->pos = 624;
    r->has_gauss = 0;
    r->gauss = 0;
}

static void mt_refill(fs_np_random *r)
{
    static const uint32_t mag01[2] = {0u, 0x9908b0dfu};
    int k;
    for (k = 0; k < 624 - 397; k++) {
        uint32_t y = (r->mt[k] & 0x80000000u) | (r->mt[k + 1] & 0x7fffffffu);
        r->mt[k] = r->mt[k + 397] ^ (y >> 1) ^ mag01[y & 1u];
    }
    for (; k < 623; k++) {
        uint32_t y = (r->mt[k] & 0x80000000u) | (r->mt[k + 1] & 0x7fffffffu);
        r->mt[k] = r->mt[k + (397 - 624)] ^ (y >> 1) ^ mag01[y & 1u];
    }
    uint32_t y = (r->mt[623] & 0x80000000u) | (r->mt[0] & 0x7fffffffu);
    r->mt[623] = r->mt[396] ^ (y >> 1) ^ mag01[y & 1u];
    r->pos = 0;
}

uint32_t fs_np_random_u32(fs_np_random *r)
{
    if (r->pos >= 624)
        mt_refill(r);
    uint32_t y = r->mt[r->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

double fs_np_random_double(fs_np_random *r)
{
    uint32_t a = fs_np_random_u32(r) >> 5, b = fs_np_random_u32(r) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

double fs_np_random_gauss(fs_np_random *r)
{
    if (r->has_gauss) {
        r->has_gauss = 0;
        return r->gauss;
    }
    double x1, x2, r2;
    do {
        x1 = 2.0 * fs_np_random_double(r) - 1.0;
        x2 = 2.0 * fs_np_random_double(r) - 1.0;
        r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    double f = sqrt(-2.0 * log(r2) / r2);
    /* numpy returns f * x2 first and keeps f * x1 for the next call. */
    r->gauss = f * x1;
    r->has_gauss = 1;
    return f * x2;
}

void fs_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

float fs_philox_normal(uint64_t seed, uint32_t stream, uint64_t index)
{
    uint32_t ctr[4] = {(uint32_t)index, (uint32_t)(index >> 32), stream, 0x5eed5eedu};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t o[4];
    fs_philox4x32(ctr, key, o);
    /* Box-Muller on two 53-bit uniforms; u1 in (0, 1] keeps log finite. */
    double u1 = ((double)(((uint64_t)o[0] << 21) ^ (o[1] >> 11)) + 1.0) / 9007199254740992.0;
    double u2 = (double)(((uint64_t)o[2] << 21) ^ (o[3] >> 11)) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
