#ifndef FLEET_WIRE_KERNELS_H
#define FLEET_WIRE_KERNELS_H

// The C kernels of FleetWire: what Swift cannot reach (the CRC-32C
// instruction, carry-less multiplication) or cannot compile for the CPU it
// runs on (AVX2 and AVX-512 loops in a package built for baseline x86-64).
// Each has a runtime check.

#include "fleet_crc32c.h"
#include "fleet_float_kernels.h"
#include "fleet_sparse_kernels.h"

#endif
