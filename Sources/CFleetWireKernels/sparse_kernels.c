// Sparse payload kernels of the scan, with AVX-512 where the CPU has it.
//
// A sparse int8 tensor needs, per value, the row of its index (to find its
// scale). With sixteen indices in a register the rows come from one double
// multiply by 1/columns, truncated and corrected by one (exact below 2³²:
// see fleet_decode_sparse_int8_avx512); top-k indices are dense enough that
// sixteen of them nearly always fall within sixteen rows, so their scales are
// one load and one permute instead of a gather (gathers are slow on AMD
// cores). The package builds for baseline x86-64; these functions carry
// their own target attribute and callers check fleet_avx512_available().

#include "fleet_sparse_kernels.h"

#include <string.h>

int fleet_scales_clean(const void *scales, size_t rows) {
    const unsigned char *p = (const unsigned char *)scales;
    uint32_t bad = 0;
    for (size_t row = 0; row < rows; row++) {
        uint32_t bits;
        memcpy(&bits, p + 4 * row, 4);
        // Exponent all ones (not finite) carries into bit 31; so does a set sign on a nonzero.
        bad |= ((bits & 0x7F800000u) + 0x00800000u) | (bits > 0x80000000u ? 0x80000000u : 0u);
    }
    return (bad & 0x80000000u) == 0 ? 1 : 0;
}

#if defined(__x86_64__)
#include <immintrin.h>

#define FLEET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

int fleet_avx512_available(void) {
    __builtin_cpu_init();
    return (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) ? 1 : 0;
}

/// Inclusive prefix sums of sixteen 32-bit lanes.
FLEET_AVX512 static inline __m512i prefix_sums(__m512i x) {
    const __m512i zero = _mm512_setzero_si512();
    x = _mm512_add_epi32(x, _mm512_alignr_epi32(x, zero, 15));
    x = _mm512_add_epi32(x, _mm512_alignr_epi32(x, zero, 14));
    x = _mm512_add_epi32(x, _mm512_alignr_epi32(x, zero, 12));
    x = _mm512_add_epi32(x, _mm512_alignr_epi32(x, zero, 8));
    return x;
}

FLEET_AVX512 static inline uint32_t last_lane(__m512i x) {
    return (uint32_t)_mm_extract_epi32(_mm512_extracti32x4_epi32(x, 3), 3);
}

FLEET_AVX512 size_t fleet_decode_gaps_avx512(const uint8_t *bytes, size_t available, uint32_t *out, size_t count,
                                             uint64_t *current, uint64_t limit) {
    uint64_t index = *current;
    if (limit > 0xFFFFFFFFull) limit = 0xFFFFFFFFull;
    size_t done = 0;
    while (done + 16 <= count && done + 16 <= available) {
        __m128i chunk = _mm_loadu_si128((const __m128i *)(bytes + done));
        // A high bit (a longer varint) or a zero gap (a repeated index): the caller's loop.
        __mmask16 odd = _mm_movepi8_mask(chunk) | _mm_cmpeq_epi8_mask(chunk, _mm_setzero_si128());
        if (odd) break;
        __m512i sums = prefix_sums(_mm512_cvtepu8_epi32(chunk));
        uint64_t last = index + last_lane(sums);
        if (last >= limit) break;
        _mm512_storeu_si512(out + done, _mm512_add_epi32(sums, _mm512_set1_epi32((int)(uint32_t)index)));
        index = last;
        done += 16;
    }
    *current = index;
    return done;
}

// Rows: r = trunc(n × (1/d)) in double. For n < 2³² and k = ⌊n/d⌋, the
// product's error is below k·d·2⁻⁵¹ < 1/d, the distance from n/d to k + 1
// unless n/d is k exactly — so r is k, or k − 1 when n/d is an integer the
// product fell just short of; one compare of n − r·d with d fixes that.
FLEET_AVX512 double fleet_decode_sparse_int8_avx512(const int8_t *q, const void *scales, size_t rows,
                                                    const uint32_t *indices, size_t count, uint64_t columns, float *out) {
    const unsigned char *s = (const unsigned char *)scales;
    __m512d total0 = _mm512_setzero_pd(), total1 = _mm512_setzero_pd();
    size_t k = 0;
    const int one_row = rows <= 1 || columns > 0xFFFFFFFFull;
    const __m512d reciprocal = _mm512_set1_pd(1.0 / (double)columns);
    const __m512i width = _mm512_set1_epi32((int)(uint32_t)(one_row ? 1 : columns));
    float first_scale;
    memcpy(&first_scale, s, 4);
    for (; k + 16 <= count; k += 16) {
        __m512 scale;
        if (one_row) {
            scale = _mm512_set1_ps(first_scale);
        } else {
            __m512i n = _mm512_loadu_si512(indices + k);
            __m256i low = _mm512_cvttpd_epu32(_mm512_mul_pd(_mm512_cvtepu32_pd(_mm512_castsi512_si256(n)), reciprocal));
            __m256i high = _mm512_cvttpd_epu32(_mm512_mul_pd(_mm512_cvtepu32_pd(_mm512_extracti64x4_epi64(n, 1)), reciprocal));
            __m512i row = _mm512_inserti64x4(_mm512_castsi256_si512(low), high, 1);
            __m512i rest = _mm512_sub_epi32(n, _mm512_mullo_epi32(row, width));
            row = _mm512_mask_add_epi32(row, _mm512_cmpge_epu32_mask(rest, width), row, _mm512_set1_epi32(1));
            uint32_t first = (uint32_t)_mm_cvtsi128_si32(_mm512_castsi512_si128(row));
            uint32_t last = last_lane(row);
            if (last - first < 16) {
                size_t available = rows - first;
                __mmask16 mask = available >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << available) - 1);
                __m512 window = _mm512_maskz_loadu_ps(mask, s + 4 * (size_t)first);
                scale = _mm512_permutexvar_ps(_mm512_sub_epi32(row, _mm512_set1_epi32((int)first)), window);
            } else {
                scale = _mm512_i32gather_ps(row, s, 4);
            }
        }
        __m512 values = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(q + k))));
        _mm512_storeu_ps(out + k, _mm512_mul_ps(values, scale));
        __m512d low = _mm512_mul_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(values)), _mm512_cvtps_pd(_mm512_castps512_ps256(scale)));
        __m512d high = _mm512_mul_pd(
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(values), 1))),
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(scale), 1))));
        total0 = _mm512_fmadd_pd(low, low, total0);
        total1 = _mm512_fmadd_pd(high, high, total1);
    }
    double total = _mm512_reduce_add_pd(_mm512_add_pd(total0, total1));
    for (; k < count; k++) {
        uint64_t row = one_row ? 0 : (uint64_t)indices[k] / columns;
        float scale;
        memcpy(&scale, s + 4 * row, 4);
        out[k] = (float)q[k] * scale;
        double value = (double)q[k] * (double)scale;
        total += value * value;
    }
    return total;
}

#else

int fleet_avx512_available(void) { return 0; }
size_t fleet_decode_gaps_avx512(const uint8_t *bytes, size_t available, uint32_t *out, size_t count,
                                uint64_t *current, uint64_t limit) {
    (void)bytes; (void)available; (void)out; (void)count; (void)current; (void)limit;
    return 0;
}
double fleet_decode_sparse_int8_avx512(const int8_t *q, const void *scales, size_t rows,
                                       const uint32_t *indices, size_t count, uint64_t columns, float *out) {
    (void)q; (void)scales; (void)rows; (void)indices; (void)count; (void)columns; (void)out;
    return 0;
}

#endif

void fleet_prefetch(const void *bytes, size_t length) {
    const char *p = (const char *)bytes;
    for (size_t offset = 0; offset < length; offset += 64) __builtin_prefetch(p + offset, 0, 3);
}

// The scatter of the fold, in C: the same loop in Swift kept an extra
// compare and branch per value (its range iterator) and measured slower.
void fleet_scatter_floats(float *sum, const void *values, const uint32_t *indices, size_t count, float weight) {
    const unsigned char *v = (const unsigned char *)values;
    for (size_t k = 0; k < count; k++) {
        float value;
        memcpy(&value, v + 4 * k, 4);
        sum[indices[k]] += weight * value;
    }
}
