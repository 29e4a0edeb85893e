#ifndef FLEET_CZSTD_SHIM_H
#define FLEET_CZSTD_SHIM_H

#include <zstd.h>

/// ZSTD_CONTENTSIZE_UNKNOWN / ZSTD_CONTENTSIZE_ERROR are macros with a cast
/// Swift cannot import; these expose them as values.
static inline unsigned long long fleet_zstd_contentsize_unknown(void) { return ZSTD_CONTENTSIZE_UNKNOWN; }
static inline unsigned long long fleet_zstd_contentsize_error(void) { return ZSTD_CONTENTSIZE_ERROR; }

#endif
