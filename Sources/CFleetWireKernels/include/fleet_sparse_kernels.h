#ifndef FLEET_SPARSE_KERNELS_H
#define FLEET_SPARSE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU runs the AVX-512 kernels below (AVX-512 F, BW, VL, DQ), else 0.
int fleet_avx512_available(void);

/// 1 when all `rows` float32 scales (any alignment) are finite and none is
/// negative (−0 is allowed), else 0. Runs on any x86-64 CPU.
int fleet_scales_clean(const void *scales, size_t rows);

/// Decodes index gaps that are one byte each and nonzero, sixteen at a time,
/// from `bytes` (`available` of them readable) into `out`, continuing from the
/// index `*current` (`*current` is the last index decoded; pass it as is).
///
/// Stops before the first block of sixteen that is not all one-byte nonzero
/// gaps, that would reach `limit` (the tensor's element count, capped at
/// 2³² − 1), or that would pass `count` indices. Returns how many indices it
/// decoded (a multiple of 16) and updates `*current`; the caller decodes the
/// rest (and names any error) itself. AVX-512 only.
size_t fleet_decode_gaps_avx512(const uint8_t *bytes, size_t available, uint32_t *out, size_t count,
                                uint64_t *current, uint64_t limit);

/// Sparse int8 values, decoded once: out[k] = (float)q[k] × scale[indices[k] / columns]
/// (the float32 product, bit for bit what a scalar loop gives), and returns
/// Σ ((double)q[k] × (double)scale)². `scales` holds `rows` float32 values at
/// any alignment; every index is below rows × columns. AVX-512 only.
double fleet_decode_sparse_int8_avx512(const int8_t *q, const void *scales, size_t rows,
                                       const uint32_t *indices, size_t count, uint64_t columns, float *out);

/// sum[indices[k]] += weight × values[k] for k < count (multiply, then add;
/// float32 values at any alignment). Runs on any CPU.
void fleet_scatter_floats(float *sum, const void *values, const uint32_t *indices, size_t count, float weight);

/// Asks for the cache lines of `length` bytes ahead of use (a hint; never faults).
void fleet_prefetch(const void *bytes, size_t length);

#endif
