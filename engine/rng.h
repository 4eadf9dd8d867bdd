/* The engine's two random number generators.
 *
 * 1. numpy's legacy RandomState (MT19937 seeded with init_genrand, polar
 *    Box-Muller with a cached second value), reproduced bit for bit, so that
 *    `--seeds 42` gives the z that gen_images.py gives, and so the same face.
 * 2. A counter-based Philox4x32-10 stream for per-pixel noise and sampling:
 *    value i of stream (seed, stream id) is a pure function of those three
 *    numbers, so every backend (CPU thread, CUDA thread) computes exactly the
 *    same value for the same pixel, whatever order it runs in. */
#ifndef FS_RNG_H
#define FS_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint32_t mt[624];
    int pos;
    int has_gauss;
    double gauss;
} fs_np_random;

/* numpy.random.RandomState(seed) for 0 <= seed < 2^32. */
void fs_np_random_seed(fs_np_random *r, uint32_t seed);
uint32_t fs_np_random_u32(fs_np_random *r);
/* random_sample(): 53-bit double in [0, 1). */
double fs_np_random_double(fs_np_random *r);
/* standard_normal() as RandomState.randn draws it. */
double fs_np_random_gauss(fs_np_random *r);

/* Philox4x32-10: four 32-bit outputs for a 128-bit counter and 64-bit key. */
void fs_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* A standard normal for element `index` of the stream (seed, stream). Computed
 * in double and rounded once to float, so backends agree to the bit. */
float fs_philox_normal(uint64_t seed, uint32_t stream, uint64_t index);

#ifdef __cplusplus
}
#endif
#endif
