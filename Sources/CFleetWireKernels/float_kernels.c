// Float32 kernels of the aggregation path, with AVX2 where the CPU has it.
//
// The package builds for baseline x86-64 (SSE2), so Swift's vector types
// compile to four-lane operations there; these functions are compiled for
// AVX2 + FMA only, and callers use them after fleet_float_kernels_available().

#include "fleet_float_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define FLEET_AVX2 __attribute__((target("avx2,fma")))

int fleet_float_kernels_available(void) {
    __builtin_cpu_init();
    return (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1 : 0;
}

FLEET_AVX2 double fleet_float_squares(const void *values, size_t count) {
    const unsigned char *p = (const unsigned char *)values;
    double total = 0;
    size_t index = 0;
    const size_t block = 4096;
    while (index < count) {
        size_t end = index + block < count ? index + block : count;
        __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps(), c = _mm256_setzero_ps(), d = _mm256_setzero_ps();
        for (; index + 32 <= end; index += 32) {
            __m256 x0 = _mm256_loadu_ps((const float *)(p + 4 * index));
            __m256 x1 = _mm256_loadu_ps((const float *)(p + 4 * index + 32));
            __m256 x2 = _mm256_loadu_ps((const float *)(p + 4 * index + 64));
            __m256 x3 = _mm256_loadu_ps((const float *)(p + 4 * index + 96));
            a = _mm256_fmadd_ps(x0, x0, a);
            b = _mm256_fmadd_ps(x1, x1, b);
            c = _mm256_fmadd_ps(x2, x2, c);
            d = _mm256_fmadd_ps(x3, x3, d);
        }
        __m256 sum = _mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d));
        float lanes[8];
        _mm256_storeu_ps(lanes, sum);
        double partial = 0;
        for (int lane = 0; lane < 8; lane++) partial += (double)lanes[lane];
        for (; index < end; index++) {
            float x;
            memcpy(&x, p + 4 * index, 4);
            partial += (double)x * (double)x;
        }
        total += partial;
    }
    return total;
}

FLEET_AVX2 void fleet_float_accumulate(float *sum, const void *values, size_t count, float weight) {
    const unsigned char *p = (const unsigned char *)values;
    __m256 w = _mm256_set1_ps(weight);
    size_t index = 0;
    for (; index + 32 <= count; index += 32) {
        for (int part = 0; part < 4; part++) {
            size_t at = index + 8 * (size_t)part;
            __m256 x = _mm256_loadu_ps((const float *)(p + 4 * at));
            __m256 s = _mm256_loadu_ps(sum + at);
            _mm256_storeu_ps(sum + at, _mm256_add_ps(s, _mm256_mul_ps(w, x)));
        }
    }
    for (; index < count; index++) {
        float x;
        memcpy(&x, p + 4 * index, 4);
        sum[index] += weight * x;
    }
}

/// Four 512-bit blocks a step, from the end of the values to their start:
/// the scan has just read the container front to back, so its last bytes
/// are the ones still in L1, and a fold walking back meets them first.
/// Multiply, then add (no fusing), so every sum is bit for bit what the
/// scalar `sum += weight × x` gives, in whatever order.
__attribute__((target("avx512f"))) void fleet_float_accumulate_avx512(float *sum, const void *values, size_t count, float weight) {
    const unsigned char *p = (const unsigned char *)values;
    __m512 w = _mm512_set1_ps(weight);
    size_t blocks = count / 64 * 64;
    size_t index = blocks;
    for (; index + 16 <= count; index += 16) {
        __m512 x = _mm512_loadu_ps((const float *)(p + 4 * index));
        _mm512_storeu_ps(sum + index, _mm512_add_ps(_mm512_loadu_ps(sum + index), _mm512_mul_ps(w, x)));
    }
    if (index < count) {
        __mmask16 rest = (__mmask16)((1u << (count - index)) - 1);
        __m512 x = _mm512_maskz_loadu_ps(rest, (const float *)(p + 4 * index));
        __m512 s = _mm512_maskz_loadu_ps(rest, sum + index);
        _mm512_mask_storeu_ps(sum + index, rest, _mm512_add_ps(s, _mm512_mul_ps(w, x)));
    }
    for (index = blocks; index > 0; index -= 64) {
        for (int part = 3; part >= 0; part--) {
            size_t at = index - 64 + 16 * (size_t)part;
            __m512 x = _mm512_loadu_ps((const float *)(p + 4 * at));
            __m512 s = _mm512_loadu_ps(sum + at);
            _mm512_storeu_ps(sum + at, _mm512_add_ps(s, _mm512_mul_ps(w, x)));
        }
    }
}

#else

void fleet_float_accumulate_avx512(float *sum, const void *values, size_t count, float weight) {
    (void)sum; (void)values; (void)count; (void)weight;
}

int fleet_float_kernels_available(void) { return 0; }
double fleet_float_squares(const void *values, size_t count) { (void)values; (void)count; return 0; }
void fleet_float_accumulate(float *sum, const void *values, size_t count, float weight) {
    (void)sum; (void)values; (void)count; (void)weight;
}

#endif
