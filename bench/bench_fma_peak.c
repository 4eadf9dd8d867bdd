/* The measured float32 FMA peak of this machine, the yardstick for the
 * "% of peak" of the benchmarks: T threads (default: one per core), each
 * running independent multiply-add chains on vector registers (12 chains, so
 * the FMA latency is covered on any current x86 core), for AVX2 (8 floats)
 * and, where the CPU has it, AVX-512 (16 floats). Nothing but FMAs in the
 * loop; 2 FLOP per lane per FMA. Best of 5 runs of about 0.3 s each.
 *
 *   build/bench/bench_fma_peak [--threads T]
 *
 * Prints one line per ISA and, last, one JSON object. */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"

#define CHAINS 12
#define ITERS 20000000L

static volatile float sink;

__attribute__((target("avx2,fma"))) static void *run_avx2(void *arg)
{
    (void)arg;
    __m256 a[CHAINS], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int k = 0; k < CHAINS; k++)
        a[k] = _mm256_set1_ps((float)k);
    for (long i = 0; i < ITERS; i++)
        for (int k = 0; k < CHAINS; k++)
            a[k] = _mm256_fmadd_ps(a[k], m, c);
    float s = 0, t[8];
    for (int k = 0; k < CHAINS; k++) {
        _mm256_storeu_ps(t, a[k]);
        s += t[0];
    }
    sink = s;
    return NULL;
}

__attribute__((target("avx512f"))) static void *run_avx512(void *arg)
{
    (void)arg;
    __m512 a[CHAINS], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int k = 0; k < CHAINS; k++)
        a[k] = _mm512_set1_ps((float)k);
    for (long i = 0; i < ITERS; i++)
        for (int k = 0; k < CHAINS; k++)
            a[k] = _mm512_fmadd_ps(a[k], m, c);
    float s = 0, t[16];
    for (int k = 0; k < CHAINS; k++) {
        _mm512_storeu_ps(t, a[k]);
        s += t[0];
    }
    sink = s;
    return NULL;
}

static double measure(void *(*fn)(void *), int threads, int lanes)
{
    double best = 0;
    for (int r = 0; r < 5; r++) {
        pthread_t th[256];
        double t0 = now_s();
        for (int i = 0; i < threads; i++)
            if (pthread_create(&th[i], NULL, fn, NULL) != 0) {
                fprintf(stderr, "bench_fma_peak: pthread_create failed\n");
                exit(1);
            }
        for (int i = 0; i < threads; i++)
            pthread_join(th[i], NULL);
        double g = 2.0 * lanes * CHAINS * (double)ITERS * threads / (now_s() - t0) / 1e9;
        best = g > best ? g : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (argc == 3 && !strcmp(argv[1], "--threads"))
        threads = atoi(argv[2]);
    if (threads < 1 || threads > 256) {
        fprintf(stderr, "usage: bench_fma_peak [--threads T]\n");
        return 2;
    }
    __builtin_cpu_init();
    double avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
                      ? measure(run_avx2, threads, 8) : 0;
    double avx512 = __builtin_cpu_supports("avx512f") ? measure(run_avx512, threads, 16) : 0;
    printf("fma peak, %d threads: AVX2 %.1f GFLOP/s, AVX-512 %.1f GFLOP/s\n", threads, avx2,
           avx512);
    printf("{\"threads\": %d, \"avx2_gflops\": %.2f, \"avx512_gflops\": %.2f}\n", threads, avx2,
           avx512);
    return 0;
}
