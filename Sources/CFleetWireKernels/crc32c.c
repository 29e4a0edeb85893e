// CRC-32C with the x86-64 SSE 4.2 `crc32` instruction.
//
// One `crc32` has a latency of three cycles but the CPU can start one every
// cycle, so a single chain of them runs at a third of the possible speed.
// The input is therefore cut into three equal blocks whose CRCs run as three
// independent chains, then joined: the CRC register is linear over GF(2), so
//
//     reg(x, A‖B‖C) = shift(reg(x, A), |B| + |C|) ⊕ shift(reg(0, B), |C|) ⊕ reg(0, C)
//
// where shift(r, n) is the register after n zero bytes starting from r. For
// the fixed block sizes used, shift is a 32×32 bit matrix applied through four
// 256-entry tables (one per byte of r), built once from the 32 unit vectors.

#include "fleet_crc32c.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <pthread.h>
#include <string.h>

#define FLEET_HW __attribute__((target("sse4.2")))

enum { LARGE_BLOCK = 4096, SMALL_BLOCK = 256 };

/// shift tables: [operator][byte position][byte value]
/// operators: 0 = LARGE_BLOCK, 1 = 2·LARGE_BLOCK, 2 = SMALL_BLOCK, 3 = 2·SMALL_BLOCK bytes.
static uint32_t shift_tables[4][4][256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

FLEET_HW static uint32_t zeros(uint32_t crc, size_t length) {
    uint64_t value = crc;
    for (size_t index = 0; index < length / 8; index++) value = __builtin_ia32_crc32di(value, 0);
    return (uint32_t)value;
}

FLEET_HW static void build_tables(void) {
    const size_t lengths[4] = {LARGE_BLOCK, 2 * LARGE_BLOCK, SMALL_BLOCK, 2 * SMALL_BLOCK};
    for (int op = 0; op < 4; op++) {
        uint32_t basis[32];
        for (int bit = 0; bit < 32; bit++) basis[bit] = zeros((uint32_t)1 << bit, lengths[op]);
        for (int position = 0; position < 4; position++) {
            for (int value = 0; value < 256; value++) {
                uint32_t result = 0;
                for (int bit = 0; bit < 8; bit++) {
                    if (value & (1 << bit)) result ^= basis[8 * position + bit];
                }
                shift_tables[op][position][value] = result;
            }
        }
    }
}

static inline uint32_t shift(int op, uint32_t crc) {
    return shift_tables[op][0][crc & 0xFF] ^ shift_tables[op][1][(crc >> 8) & 0xFF]
         ^ shift_tables[op][2][(crc >> 16) & 0xFF] ^ shift_tables[op][3][crc >> 24];
}

static inline uint64_t load64(const unsigned char *p) {
    uint64_t value;
    memcpy(&value, p, 8);
    return value;
}

/// Three interleaved chains over 3·block bytes starting at p; returns the joined register.
FLEET_HW static inline uint32_t three_blocks(uint32_t crc, const unsigned char *p, size_t block, int op_one, int op_two) {
    uint64_t a = crc, b = 0, c = 0;
    const unsigned char *pb = p + block, *pc = p + 2 * block;
    for (size_t offset = 0; offset < block; offset += 8) {
        a = __builtin_ia32_crc32di(a, load64(p + offset));
        b = __builtin_ia32_crc32di(b, load64(pb + offset));
        c = __builtin_ia32_crc32di(c, load64(pc + offset));
    }
    return shift(op_two, (uint32_t)a) ^ shift(op_one, (uint32_t)b) ^ (uint32_t)c;
}

int fleet_crc32c_hardware_available(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    return (ecx & bit_SSE4_2) ? 1 : 0;
}

FLEET_HW uint32_t fleet_crc32c_hardware_update(uint32_t crc, const void *bytes, size_t length) {
    pthread_once(&tables_once, build_tables);
    const unsigned char *p = (const unsigned char *)bytes;
    while (length >= 3 * LARGE_BLOCK) {
        crc = three_blocks(crc, p, LARGE_BLOCK, 0, 1);
        p += 3 * LARGE_BLOCK;
        length -= 3 * LARGE_BLOCK;
    }
    while (length >= 3 * SMALL_BLOCK) {
        crc = three_blocks(crc, p, SMALL_BLOCK, 2, 3);
        p += 3 * SMALL_BLOCK;
        length -= 3 * SMALL_BLOCK;
    }
    uint64_t value = crc;
    while (length >= 8) {
        value = __builtin_ia32_crc32di(value, load64(p));
        p += 8;
        length -= 8;
    }
    uint32_t tail = (uint32_t)value;
    while (length > 0) {
        tail = __builtin_ia32_crc32qi(tail, *p);
        p++;
        length--;
    }
    return tail;
}

#else

int fleet_crc32c_hardware_available(void) { return 0; }

uint32_t fleet_crc32c_hardware_update(uint32_t crc, const void *bytes, size_t length) {
    (void)bytes;
    (void)length;
    return crc;
}

#endif
