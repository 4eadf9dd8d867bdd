/* numpy-compatible MT19937 + legacy Gaussian, and the Philox4x32-10 normals
 * of op_math.h behind a linkable name. */
#include "rng.h"

#include <math.h>

#include "op_math.h"

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
    for (int i = 0; i < 4; i++)
        out[i] = ctr[i];
    fs_philox4x32_10(out, key[0], key[1]);
}

float fs_philox_normal(uint64_t seed, uint32_t stream, uint64_t index)
{
    return fs_philox_normal_at(seed, stream, index);
}
