/* CGemm's kernel beside OpenBLAS's cblas_sgemm on the matrix products of the default model's training
 * step (64 px crops, 16 images x 2 crops per lane: 8192 / 2048 / 512 token rows per stage), as the step
 * calls them: forwards with the bias (OpenBLAS: rows set to the bias, then beta 1, as BLAS.swift does),
 * input gradients written (beta 0). One thread, the two
 * alternating 5 times per shape (best of each). One JSON line per shape; built and run by
 * scripts/bench-gemm.sh. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "gemm.h"

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

int main(void) {
    openblas_set_num_threads(1);
    /* name, M, N, K, transB, kind: 0 a forward (A · Wᵀ + bias), 1 an input gradient (dY · W, beta 0), 2 an input
       gradient scaled as it is stored (fc2's, by the GELU slope; OpenBLAS then multiplies in a second pass), 3 a weight
       gradient (dW[M, N] += dYᵀ X over K rows: A stored [K, M], beta 1; lenspipe_sgemm_at). */
    struct { const char *name; int M, N, K, tb, kind; } shapes[] = {
        {"stage0 qkv forward", 8192, 96, 32, 1, 0}, {"stage0 fc1 forward", 8192, 128, 32, 1, 0},
        {"stage0 fc2 forward", 8192, 32, 128, 1, 0}, {"stage0 proj forward", 8192, 32, 32, 1, 0},
        {"stage0 qkv input gradient", 8192, 32, 96, 0, 1}, {"stage0 fc1 input gradient", 8192, 32, 128, 0, 1},
        {"stage0 fc2 input gradient", 8192, 128, 32, 0, 1},
        {"stage0 fc2 input gradient x GELU slope", 8192, 128, 32, 0, 2}, {"stage1 fc2 input gradient x GELU slope", 2048, 256, 64, 0, 2}, {"stage1 fc1 forward", 2048, 256, 64, 1, 0},
        {"stage1 fc2 forward", 2048, 64, 256, 1, 0}, {"stage2 fc1 forward (OpenBLAS in the step)", 512, 512, 128, 1, 0},
        {"stage2 fc2 forward", 512, 128, 512, 1, 0},
        {"stage0 qkv weight gradient", 96, 32, 8192, 0, 3}, {"stage0 fc1 weight gradient", 128, 32, 8192, 0, 3},
        {"stage0 fc2 weight gradient", 32, 128, 8192, 0, 3}, {"stage0 proj weight gradient", 32, 32, 8192, 0, 3},
        {"stage1 fc1 weight gradient", 256, 64, 2048, 0, 3}, {"stage1 fc2 weight gradient", 64, 256, 2048, 0, 3},
        {"stage2 fc1 weight gradient (OpenBLAS in the step)", 512, 128, 512, 0, 3},
    };
    srand(1);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s].M, N = shapes[s].N, K = shapes[s].K, tb = shapes[s].tb, kind = shapes[s].kind;
        float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N), *c = calloc((size_t)M * N, sizeof(float));
        float *bias = malloc(sizeof(float) * N), *scale = malloc(sizeof(float) * M * N);
        for (int j = 0; j < N; j++) bias[j] = 0.01f * j;
        for (long i = 0; i < (long)M * K; i++) a[i] = (float)rand() / RAND_MAX - 0.5f;
        for (long i = 0; i < (long)K * N; i++) b[i] = (float)rand() / RAND_MAX - 0.5f;
        for (long i = 0; i < (long)M * N; i++) scale[i] = (float)rand() / RAND_MAX;
        double best[2] = {0, 0};
        for (int round = 0; round < 5; round++) {
            for (int impl = 0; impl < 2; impl++) {
                int reps = 0; double t0 = now(), t;
                do {
                    if (impl == 0) {
                        if (kind == 0) for (int r = 0; r < M; r++) for (int j = 0; j < N; j++) c[(long)r * N + j] = bias[j];
                        if (kind == 3) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, K, 1, a, M, b, N, 1, c, N);
                        else cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1,
                                         a, K, b, tb ? K : N, kind == 0 ? 1 : 0, c, N);
                        if (kind == 2) for (long i = 0; i < (long)M * N; i++) c[i] *= scale[i];
                    } else if (kind == 3 ? !lenspipe_sgemm_at(M, N, K, a, M, b, N, 1, c, N) : !lenspipe_sgemm(tb, M, N, K, a, K, b, tb ? K : N, 0, c, N, kind == 0 ? bias : NULL, kind == 2 ? scale : NULL)) {
                        puts("{\"error\":\"no AVX2 + FMA\"}");
                        return 1;
                    }
                    reps++; t = now() - t0;
                } while (t < 0.1);
                double g = 2.0 * M * N * K * reps / t / 1e9;
                if (g > best[impl]) best[impl] = g;
            }
        }
        printf("{\"product\":\"%s\",\"m\":%d,\"n\":%d,\"k\":%d,\"openblas_gflops\":%.1f,\"cgemm_gflops\":%.1f,\"ratio\":%.2f}\n",
               shapes[s].name, M, N, K, best[0], best[1], best[1] / best[0]);
        free(a); free(b); free(c); free(bias); free(scale);
    }
    return 0;
}
