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

#endif
