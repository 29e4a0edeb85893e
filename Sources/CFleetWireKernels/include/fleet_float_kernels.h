#ifndef FLEET_FLOAT_KERNELS_H
#define FLEET_FLOAT_KERNELS_H

#include <stddef.h>

/// 1 when this CPU runs the AVX2 + FMA kernels below, else 0.
int fleet_float_kernels_available(void);

/// Σ x² over `count` float32 values at any alignment: float32 sums in
/// 32 independent lanes per block of 4,096 values, each block added in
/// double. Not finite when a value is not (or squares overflow float32).
double fleet_float_squares(const void *values, size_t count);

/// sum[i] += weight × values[i] for `count` float32 values (values at any alignment).
void fleet_float_accumulate(float *sum, const void *values, size_t count, float weight);

/// The same with AVX-512 F (a tail of fewer than sixteen values by masked
/// loads and stores). Call only when fleet_avx512_available() returned 1.
void fleet_float_accumulate_avx512(float *sum, const void *values, size_t count, float weight);

#endif
