#ifndef FLEET_CBLAS_SHIM_H
#define FLEET_CBLAS_SHIM_H

// OpenBLAS's CBLAS interface (cblas_sgemm and friends) and its thread control
// (openblas_set_num_threads / openblas_get_num_threads).
#include <cblas.h>

#endif
