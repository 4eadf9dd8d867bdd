/* The scalar formulas both backends must compute identically, written once:
 * the activation epilogue and the Philox4x32-10 normal of the random noise.
 * Included by the CPU backend (engine/cpu/) and, compiled as device code, by
 * the CUDA kernels (kernels/cuda_common.cuh), so the oracle and the kernels
 * cannot drift apart.
 *
 * Activations: docs/stylegan2.md §1.4 (step 6) and §2, docs/cvaegan.md §2.
 * Philox and its Box-Muller rounding: docs/stylegan2.md §1.9. */
#ifndef FS_OP_MATH_H
#define FS_OP_MATH_H

#include <math.h>
#include <stdint.h>

#include "backend.h"

#ifdef __CUDACC__
#define FS_OP_FN __host__ __device__ __forceinline__ static
#else
#define FS_OP_FN static inline
#endif

#define FS_SQRT2 1.41421356237309504880f

/* clamp(act(x) * gain) with clamp <= 0 meaning none: every epilogue ends so. */
FS_OP_FN float fs_act_apply(float x, fs_act act, float gain, float clamp)
{
    switch (act) {
    case FS_ACT_LRELU: x = (x < 0 ? x * 0.2f : x) * FS_SQRT2; break;
    case FS_ACT_RELU: x = x < 0 ? 0.0f : x; break;
    case FS_ACT_LEAKY001: x = x < 0 ? x * 0.01f : x; break;
    case FS_ACT_TANH: x = tanhf(x); break;
    default: break;
    }
    x *= gain;
    if (clamp > 0)
        x = x < -clamp ? -clamp : x > clamp ? clamp : x;
    return x;
}

/* Philox4x32-10 on counter c and key k, in place (Salmon et al. 2011). The
 * high word of each 32x32 product comes from a 64-bit multiply, which nvcc
 * turns into mul.hi: the same integers on either side. */
FS_OP_FN void fs_philox4x32_10(uint32_t c[4], uint32_t k0, uint32_t k1)
{
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c[0], p1 = (uint64_t)0xCD9E8D57u * c[2];
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
        c[1] = (uint32_t)p1;
        c[3] = (uint32_t)p0;
        c[0] = n0;
        c[2] = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
}

/* Normal number `index` of the stream (seed, stream): counter {index lo,
 * index hi, stream, 0x5eed5eed}, key {seed lo, seed hi}, Box-Muller on two
 * 53-bit uniforms in double (u1 in (0, 1] keeps the log finite), rounded once
 * to float. Double sqrt and division are exact on both sides; log and cos
 * differ by at most an ulp or two of double, which changes the float only
 * within ~2^-29 of a rounding boundary. */
FS_OP_FN float fs_philox_normal_at(uint64_t seed, uint32_t stream, uint64_t index)
{
    uint32_t c[4] = {(uint32_t)index, (uint32_t)(index >> 32), stream, 0x5eed5eedu};
    fs_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
    double u1 = ((double)(((uint64_t)c[0] << 21) ^ (c[1] >> 11)) + 1.0) / 9007199254740992.0;
    double u2 = (double)(((uint64_t)c[2] << 21) ^ (c[3] >> 11)) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* max(a, b) as torch.max and max pooling compute it: NaN when either is NaN
 * (a NaN never loses a comparison). */
FS_OP_FN float fs_max_nan(float a, float b)
{
    return (a > b || a != a) ? a : b;
}

#endif
