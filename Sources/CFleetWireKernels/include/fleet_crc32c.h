#ifndef FLEET_CRC32C_H
#define FLEET_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU has the CRC-32C instruction (x86-64 SSE 4.2), else 0.
int fleet_crc32c_hardware_available(void);

/// Continues a CRC-32C over `length` bytes with the CPU's CRC instruction.
/// `crc` is the running register (already inverted by the caller, i.e. the
/// raw shift register, not the final checksum). Call only when
/// fleet_crc32c_hardware_available() returned 1.
uint32_t fleet_crc32c_hardware_update(uint32_t crc, const void *bytes, size_t length);

/// 1 when fleet_crc32c_fold_squares can run (SSE 4.2, VPCLMULQDQ, AVX-512 F and DQ,
/// 512-bit state saved by the OS), else 0.
int fleet_crc32c_folding_available(void);

/// Continues the CRC register `crc` (as fleet_crc32c_hardware_update) over
/// `length` ≥ 256 bytes that are float32 values, and stores their Σ x² in
/// `*squares` (float32 sums over at most 4,096 values, each added in double;
/// not finite when a value is not, or when squares overflow float32).
/// Call only when fleet_crc32c_folding_available() returned 1.
uint32_t fleet_crc32c_fold_squares(uint32_t crc, const void *bytes, size_t length, double *squares);

#endif
