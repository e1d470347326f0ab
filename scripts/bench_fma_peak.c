/* The CPU's ceiling for single-precision matrix products as MiniTrain's kernels issue them: 12 independent
 * chains of 8-wide AVX2 fused multiply-adds (the 6 x 16 tile's accumulators), on 1 thread and then on
 * THREADS threads at once. Prints one JSON line per thread count: GFLOP/s per thread and in all.
 * Built and run by scripts/bench-roofline.sh. */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

enum { ITERATIONS = 200000000 };

__attribute__((target("avx2,fma"))) static void *chains(void *out) {
    __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2), a3 = _mm256_set1_ps(3),
           a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5), a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7),
           a8 = _mm256_set1_ps(8), a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
    const __m256 b = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
    double t0 = now();
    for (long k = 0; k < ITERATIONS; k++) {
        a0 = _mm256_fmadd_ps(a0, b, c); a1 = _mm256_fmadd_ps(a1, b, c); a2 = _mm256_fmadd_ps(a2, b, c);
        a3 = _mm256_fmadd_ps(a3, b, c); a4 = _mm256_fmadd_ps(a4, b, c); a5 = _mm256_fmadd_ps(a5, b, c);
        a6 = _mm256_fmadd_ps(a6, b, c); a7 = _mm256_fmadd_ps(a7, b, c); a8 = _mm256_fmadd_ps(a8, b, c);
        a9 = _mm256_fmadd_ps(a9, b, c); a10 = _mm256_fmadd_ps(a10, b, c); a11 = _mm256_fmadd_ps(a11, b, c);
    }
    double t = now() - t0;
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)),
                                           _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11))));
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    ((double *)out)[0] = 2.0 * 12 * 8 * ITERATIONS / t / 1e9;
    ((double *)out)[1] = lanes[0];  /* keeps the chains live */
    return NULL;
}

int main(int argc, char **argv) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) { puts("{\"error\":\"no AVX2 + FMA\"}"); return 1; }
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (threads < 1 || threads > 256) { fprintf(stderr, "bench_fma_peak: THREADS must be 1-256\n"); return 2; }
    for (int n = 1; n <= threads; n += threads > 1 ? threads - 1 : 1) {
        pthread_t id[256];
        double out[256][2];
        for (int i = 0; i < n; i++) pthread_create(&id[i], NULL, chains, out[i]);
        double total = 0, least = 1e30;
        for (int i = 0; i < n; i++) {
            pthread_join(id[i], NULL);
            total += out[i][0];
            if (out[i][0] < least) least = out[i][0];
        }
        printf("{\"fma_peak_threads\":%d,\"gflops_per_thread_least\":%.1f,\"gflops_all\":%.1f}\n", n, least, total);
    }
    return 0;
}
