#include "gemm.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

enum { MR = 6, NR = 16, KC = 256 };

/// Each thread's packing buffer, grown to the largest `op(B)` it has packed and then reused (a training
/// step allocates nothing once the first step has run), freed when the thread exits.
static pthread_key_t panel_key;
static pthread_once_t panel_once = PTHREAD_ONCE_INIT;
typedef struct { float *data; size_t capacity; } Panel;
static void panel_free(void *p) { Panel *b = p; free(b->data); free(b); }
static void panel_key_make(void) { pthread_key_create(&panel_key, panel_free); }
static float *panel_buffer(size_t count) {
    pthread_once(&panel_once, panel_key_make);
    Panel *b = pthread_getspecific(panel_key);
    if (!b) {
        b = calloc(1, sizeof(Panel));
        if (!b) return NULL;
        pthread_setspecific(panel_key, b);
    }
    if (b->capacity < count) {
        float *grown = NULL;
        if (posix_memalign((void **)&grown, 64, count * sizeof(float)) != 0) return NULL;
        free(b->data);
        b->data = grown;
        b->capacity = count;
    }
    return b->data;
}

/// One 6 x 16 tile over `kc` inner terms: `acc = Σ_k A[r, k] · b[k, 0..<16]` for the rows r at `a0 + r
/// * lda` (`rows` < 6: the missing rows repeat row 0, their results dropped), `b[k, j]` at
/// `b + k * bs + j`; then the tile is written to the `rows` x `cols` corner of `c` (row stride ldc) as
/// `acc + first`, where `first` is `beta · c (+ bias)` for the first block of the inner dimension and
/// `c` (the sum so far) for the others. On the last block, `scale` (the same corner of a matrix with
/// row stride ldc, or NULL) multiplies the values before they are stored.
__attribute__((target("avx2,fma")))
static void tile(const float *a0, long lda, const float *b, long bs, int kc, float *c, int ldc, int rows, int cols,
                 int firstBlock, float beta, const float *bias, const float *scale) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    const float *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda, *a4 = a3 + lda, *a5 = a4 + lda;
    if (rows < 6) { if (rows < 2) a1 = a0; if (rows < 3) a2 = a0; if (rows < 4) a3 = a0; if (rows < 5) a4 = a0; a5 = a0; }
    for (int k = 0; k < kc; k++) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        b += bs;
        __m256 x;
        x = _mm256_broadcast_ss(a0 + k); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a1 + k); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a2 + k); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a3 + k); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a4 + k); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a5 + k); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
    }
    __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    if (cols == NR) {
        const __m256 vb = _mm256_set1_ps(beta);
        const __m256 bias0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
        const __m256 bias1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
        for (int r = 0; r < rows; r++) {
            float *cr = c + (long)r * ldc;
            __m256 v0 = acc[r][0], v1 = acc[r][1];
            if (!firstBlock) { v0 = _mm256_add_ps(_mm256_loadu_ps(cr), v0); v1 = _mm256_add_ps(_mm256_loadu_ps(cr + 8), v1); }
            else { __m256 f0 = bias0, f1 = bias1;
                if (beta != 0) { f0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr), f0); f1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + 8), f1); }
                v0 = _mm256_add_ps(f0, v0); v1 = _mm256_add_ps(f1, v1); }
            if (scale) {
                const float *sr = scale + (long)r * ldc;
                v0 = _mm256_mul_ps(v0, _mm256_loadu_ps(sr)); v1 = _mm256_mul_ps(v1, _mm256_loadu_ps(sr + 8));
            }
            _mm256_storeu_ps(cr, v0); _mm256_storeu_ps(cr + 8, v1);
        }
        return;
    }
    // The last panel of an N that is not a multiple of 16: the same sums, stored column by column.
    float t[MR * NR] __attribute__((aligned(32)));
    for (int r = 0; r < MR; r++) { _mm256_store_ps(t + r * NR, acc[r][0]); _mm256_store_ps(t + r * NR + 8, acc[r][1]); }
    for (int r = 0; r < rows; r++) {
        float *cr = c + (long)r * ldc;
        for (int j = 0; j < cols; j++) {
            const float first = firstBlock ? (bias ? bias[j] : 0) + (beta != 0 ? beta * cr[j] : 0) : cr[j];
            const float v = first + t[r * NR + j];
            cr[j] = scale ? v * scale[(long)r * ldc + j] : v;
        }
    }
}

__attribute__((target("avx2,fma")))
static int sgemm_avx2(int transB, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float beta, float *C, int ldc, const float *bias, const float *scale) {
    if (M <= 0 || N <= 0) return 1;
    if (K <= 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                const float v = (bias ? bias[j] : 0) + (beta != 0 ? beta * C[(long)i * ldc + j] : 0);
                C[(long)i * ldc + j] = scale ? v * scale[(long)i * ldc + j] : v;
            }
        return 1;
    }
    const int panels = (N + NR - 1) / NR;
    // op(B) in place when it is row-major with whole panels; otherwise packed, panel p at
    // packed + p * K * NR, row k of it at + k * NR (zero columns past N).
    const int inPlace = !transB && N % NR == 0;
    float *packed = NULL;
    if (!inPlace) {
        packed = panel_buffer((size_t)panels * K * NR);
        if (!packed) return 0;
        for (int p = 0; p < panels; p++) {
            float *dst = packed + (long)p * K * NR;
            const int j0 = p * NR, cols = N - j0 < NR ? N - j0 : NR;
            for (int k = 0; k < K; k++) {
                float *d = dst + (long)k * NR;
                for (int j = 0; j < cols; j++) d[j] = transB ? B[(long)(j0 + j) * ldb + k] : B[(long)k * ldb + j0 + j];
                for (int j = cols; j < NR; j++) d[j] = 0;
            }
        }
    }
    // Row tiles outermost: a tile's rows of A stay in the L1 cache across the panels of B (a block of
    // the inner dimension: at most KC x N values, kept in the L2 cache), and C and `scale` are written and
    // read row after row, in the order the hardware prefetches.
    for (int k0 = 0; k0 < K; k0 += KC) {
        const int kc = K - k0 < KC ? K - k0 : KC;
        const int firstBlock = k0 == 0, lastBlock = k0 + kc == K;
        for (int i = 0; i < M; i += MR) {
            const int rows = M - i < MR ? M - i : MR;
            for (int p = 0; p < panels; p++) {
                const int j0 = p * NR, cols = N - j0 < NR ? N - j0 : NR;
                const float *b = inPlace ? B + (long)k0 * ldb + j0 : packed + (long)p * K * NR + (long)k0 * NR;
                const long bs = inPlace ? ldb : NR;
                if (i + 2 * MR <= M) {
                    // The next row tile's lines of C (and of the scale) that this panel will write (read),
                    // fetched a row tile ahead: they come from memory, where they wait behind the tile's sums.
                    for (int r = MR; r < 2 * MR; r++) {
                        _mm_prefetch((const char *)(C + (long)(i + r) * ldc + j0), _MM_HINT_T0);
                        if (lastBlock && scale) _mm_prefetch((const char *)(scale + (long)(i + r) * ldc + j0), _MM_HINT_T0);
                    }
                    // And, spread over the panels, the next row tile's rows of A.
                    if (kc == lda) {  // the rows are whole blocks: one run of MR * lda floats, no division
                        const float *next = A + (long)(i + MR) * lda;
                        for (long off = (long)p * 16; off < (long)MR * lda; off += (long)panels * 16)
                            _mm_prefetch((const char *)(next + off), _MM_HINT_T0);
                    } else {  // each row's kc floats from k0: its lines dealt to the panels in turn
                        const int lines = (kc + 15) / 16;
                        int r = 0, l = p;
                        while (l >= lines && r < MR) { l -= lines; r++; }
                        for (; r < MR; ) {
                            _mm_prefetch((const char *)(A + (long)(i + MR + r) * lda + k0 + 16 * l), _MM_HINT_T0);
                            l += panels;
                            while (l >= lines && r < MR) { l -= lines; r++; }
                        }
                    }
                }
                tile(A + (long)i * lda + k0, lda, b, bs, kc, C + (long)i * ldc + j0, ldc, rows, cols, firstBlock, beta, bias ? bias + j0 : NULL,
                     lastBlock && scale ? scale + (long)i * ldc + j0 : NULL);
            }
        }
    }
    return 1;
}

/// One 6 x 16 tile of a weight gradient over `kc` inner terms: `acc[r][j] = Σ_k a[k · lda + r] · b[k · ldb +
/// j]` (A read transposed, in place: row k of the stored A holds the tile's 6 rows side by side; missing
/// rows repeat row 0, their results dropped). Added into the `rows` x `cols` corner of `c` (row stride
/// ldc) as `acc + first`, `first` = `beta · c` for the first block of the inner dimension and `c` after;
/// `swapped`: the tile is of Cᵀ (its rows are C's columns), stored transposed.
__attribute__((target("avx2,fma")))
static void tile_at(const float *a, long lda, const float *b, long ldb, int kc, float *c, int ldc, int rows, int cols,
                    int firstBlock, float beta, int swapped) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    const int o1 = rows > 1, o2 = rows > 2 ? 2 : 0, o3 = rows > 3 ? 3 : 0, o4 = rows > 4 ? 4 : 0, o5 = rows > 5 ? 5 : 0;
    for (int k = 0; k < kc; k++) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        b += ldb;
        __m256 x;
        x = _mm256_broadcast_ss(a); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a + o1); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a + o2); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a + o3); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a + o4); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a + o5); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
        a += lda;
    }
    if (!swapped && cols == NR) {
        // C's rows are the tile's: each row's 16 sums added to it in two vectors (the same additions as
        // the scalar loop below, lane by lane).
        const __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
        const __m256 vb = _mm256_set1_ps(beta), zero = _mm256_setzero_ps();
        for (int r = 0; r < rows; r++) {
            float *cr = c + (long)r * ldc;
            __m256 f0 = _mm256_loadu_ps(cr), f1 = _mm256_loadu_ps(cr + 8);
            if (firstBlock) {
                f0 = beta != 0 ? _mm256_mul_ps(vb, f0) : zero;
                f1 = beta != 0 ? _mm256_mul_ps(vb, f1) : zero;
            }
            _mm256_storeu_ps(cr, _mm256_add_ps(f0, acc[r][0]));
            _mm256_storeu_ps(cr + 8, _mm256_add_ps(f1, acc[r][1]));
        }
        return;
    }
    if (swapped && cols == NR && rows == MR) {
        // The tile is of Cᵀ: C's row q0 + j takes lane j of the six rows. Two 8 x 8 transposes (rows 6 and
        // 7 zero) give, for each j, its six sums side by side, added to C's row as four and two floats.
        const __m128 vb = _mm_set1_ps(beta), zero4 = _mm_setzero_ps();
        const __m256 zero = _mm256_setzero_ps();
        const __m256 half[2][8] = {{c00, c10, c20, c30, c40, c50, zero, zero}, {c01, c11, c21, c31, c41, c51, zero, zero}};
        for (int h = 0; h < 2; h++) {
            const __m256 *r = half[h];
            const __m256 u0 = _mm256_unpacklo_ps(r[0], r[1]), u1 = _mm256_unpackhi_ps(r[0], r[1]);
            const __m256 u2 = _mm256_unpacklo_ps(r[2], r[3]), u3 = _mm256_unpackhi_ps(r[2], r[3]);
            const __m256 u4 = _mm256_unpacklo_ps(r[4], r[5]), u5 = _mm256_unpackhi_ps(r[4], r[5]);
            const __m256 u6 = _mm256_unpacklo_ps(r[6], r[7]), u7 = _mm256_unpackhi_ps(r[6], r[7]);
            const __m256 s0 = _mm256_shuffle_ps(u0, u2, 0x44), s1 = _mm256_shuffle_ps(u0, u2, 0xEE);
            const __m256 s2 = _mm256_shuffle_ps(u1, u3, 0x44), s3 = _mm256_shuffle_ps(u1, u3, 0xEE);
            const __m256 s4 = _mm256_shuffle_ps(u4, u6, 0x44), s5 = _mm256_shuffle_ps(u4, u6, 0xEE);
            const __m256 s6 = _mm256_shuffle_ps(u5, u7, 0x44), s7 = _mm256_shuffle_ps(u5, u7, 0xEE);
            const __m256 col[8] = {
                _mm256_permute2f128_ps(s0, s4, 0x20), _mm256_permute2f128_ps(s1, s5, 0x20),
                _mm256_permute2f128_ps(s2, s6, 0x20), _mm256_permute2f128_ps(s3, s7, 0x20),
                _mm256_permute2f128_ps(s0, s4, 0x31), _mm256_permute2f128_ps(s1, s5, 0x31),
                _mm256_permute2f128_ps(s2, s6, 0x31), _mm256_permute2f128_ps(s3, s7, 0x31)};
            for (int j = 0; j < 8; j++) {
                float *cv = c + (long)(8 * h + j) * ldc;
                __m128 lo = _mm_loadu_ps(cv), hi = _mm_castpd_ps(_mm_load_sd((const double *)(cv + 4)));
                if (firstBlock) {
                    lo = beta != 0 ? _mm_mul_ps(vb, lo) : zero4;
                    hi = beta != 0 ? _mm_mul_ps(vb, hi) : zero4;
                }
                _mm_storeu_ps(cv, _mm_add_ps(lo, _mm256_castps256_ps128(col[j])));
                _mm_store_sd((double *)(cv + 4), _mm_castps_pd(_mm_add_ps(hi, _mm256_extractf128_ps(col[j], 1))));
            }
        }
        return;
    }
    float t[MR * NR] __attribute__((aligned(32)));
    _mm256_store_ps(t, c00); _mm256_store_ps(t + 8, c01); _mm256_store_ps(t + 16, c10); _mm256_store_ps(t + 24, c11);
    _mm256_store_ps(t + 32, c20); _mm256_store_ps(t + 40, c21); _mm256_store_ps(t + 48, c30); _mm256_store_ps(t + 56, c31);
    _mm256_store_ps(t + 64, c40); _mm256_store_ps(t + 72, c41); _mm256_store_ps(t + 80, c50); _mm256_store_ps(t + 88, c51);
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) {
            float *cv = swapped ? c + (long)j * ldc + r : c + (long)r * ldc + j;
            *cv = (firstBlock ? (beta != 0 ? beta * *cv : 0) : *cv) + t[r * NR + j];
        }
}

/// Inner terms per block of a weight gradient: a tile's 128 rows of both operands stay in L1 whatever
/// their strides (at powers of two, 256 rows overflowed L1's sets: 0.6x).
enum { KC_AT = 128 };

__attribute__((target("avx2,fma")))
static void sgemm_at_avx2(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    // Tiles of 6 x 16 whose 16 columns run along C's narrower side: C's own (6 of A's columns broadcast,
    // 16 of B's loaded), or, when C is wider than tall, Cᵀ's (the operands' roles swapped, the tile stored
    // transposed). A fused multiply-add is the same in either order of its factors, so both give the same bits.
    const int swapped = N > M;
    const int R = swapped ? N : M, Q = swapped ? M : N;
    const float *P = swapped ? B : A, *S = swapped ? A : B;
    const long ldp = swapped ? ldb : lda, lds = swapped ? lda : ldb;
    if (K <= 0) {
        for (int i = 0; i < M; i++) for (int j = 0; j < N; j++) C[(long)i * ldc + j] = beta != 0 ? beta * C[(long)i * ldc + j] : 0;
        return;
    }
    const int tiles = ((R + MR - 1) / MR) * ((Q + NR - 1) / NR);
    for (int k0 = 0; k0 < K; k0 += KC_AT) {
        const int kc = K - k0 < KC_AT ? K - k0 : KC_AT;
        // The next block's rows of both operands, fetched while this block's tiles run (a share per tile).
        const int next = K - k0 - kc < KC_AT ? K - k0 - kc : KC_AT, share = (next + tiles - 1) / tiles;
        int t = 0;
        for (int r0 = 0; r0 < R; r0 += MR) {
            const int rows = R - r0 < MR ? R - r0 : MR;
            for (int q0 = 0; q0 < Q; q0 += NR, t++) {
                const int cols = Q - q0 < NR ? Q - q0 : NR;
                for (int k = k0 + kc + t * share; k < k0 + kc + (t + 1) * share && k < k0 + kc + next; k++) {
                    for (int j = 0; j < R; j += 16) _mm_prefetch((const char *)(P + (long)k * ldp + j), _MM_HINT_T0);
                    for (int j = 0; j < Q; j += 16) _mm_prefetch((const char *)(S + (long)k * lds + j), _MM_HINT_T0);
                }
                float *c = swapped ? C + (long)q0 * ldc + r0 : C + (long)r0 * ldc + q0;
                if (cols == NR)
                    tile_at(P + (long)k0 * ldp + r0, ldp, S + (long)k0 * lds + q0, lds, kc, c, ldc, rows, cols, k0 == 0, beta, swapped);
                else {
                    // The last panel: its columns copied into a zero-padded 16-wide strip first (no read past the row).
                    float strip[KC_AT * NR] __attribute__((aligned(32)));
                    for (int k = 0; k < kc; k++)
                        for (int j = 0; j < NR; j++) strip[k * NR + j] = j < cols ? S[(long)(k0 + k) * lds + q0 + j] : 0;
                    tile_at(P + (long)k0 * ldp + r0, ldp, strip, NR, kc, c, ldc, rows, cols, k0 == 0, beta, swapped);
                }
            }
        }
    }
}

static int has_avx2_fma(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
}

int lenspipe_sgemm(int transB, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                   float beta, float *C, int ldc, const float *bias, const float *scale) {
    if (!has_avx2_fma()) return 0;
    return sgemm_avx2(transB, M, N, K, A, lda, B, ldb, beta, C, ldc, bias, scale);
}

int lenspipe_sgemm_at_block(void) { return has_avx2_fma() ? KC_AT : 0; }

int lenspipe_sgemm_at(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (!has_avx2_fma()) return 0;
    if (M > 0 && N > 0) sgemm_at_avx2(M, N, K, A, lda, B, ldb, beta, C, ldc);
    return 1;
}
#else
int lenspipe_sgemm_at_block(void) { return 0; }
int lenspipe_sgemm_at(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    (void)M; (void)N; (void)K; (void)A; (void)lda; (void)B; (void)ldb; (void)beta; (void)C; (void)ldc;
    return 0;
}
int lenspipe_sgemm(int transB, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                   float beta, float *C, int ldc, const float *bias, const float *scale) {
    (void)transB; (void)M; (void)N; (void)K; (void)A; (void)lda; (void)B; (void)ldb;
    (void)beta; (void)C; (void)ldc; (void)bias; (void)scale;
    return 0;
}
#endif
