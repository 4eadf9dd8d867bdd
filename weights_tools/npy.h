/* NumPy .npy arrays (format versions 1.0, 2.0 and 3.0): the converter's input
 * for single arrays and the CLI's format for latents, labels, edit directions
 * and raw outputs.
 *
 * The header (a Python dict literal) is parsed strictly: descr, fortran_order
 * and shape keys, nothing else, and the data size must match the file exactly. */
#ifndef FS_NPY_H
#define FS_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/dtype.h"
#include "../engine/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FS_NPY_MAX_DIMS 8

typedef struct {
    fs_dtype dtype; /* little-endian (or byte-order-free) types only */
    int ndim;
    int64_t shape[FS_NPY_MAX_DIMS];
    int fortran;    /* column-major data */
    const uint8_t *data;
    uint64_t nbytes;
} fs_npy;

/* Parses an in-memory .npy; out->data points into buf. */
fs_status fs_npy_parse(const uint8_t *buf, size_t len, const char *label, fs_npy *out);

/* Converts a parsed array of a float type (f16/f32/f64) into a freshly
 * malloc'd C-ordered float32 array (Fortran order is transposed); other types
 * are FS_ERR_UNSUPPORTED. label names the source in error messages. */
fs_status fs_npy_to_f32(const fs_npy *a, const char *label, float **data);

/* Reads an .npy file of a float type (f16/f32/f64) into a freshly malloc'd
 * C-ordered float32 array. Fortran order is transposed on the fly. */
fs_status fs_npy_read_f32(const char *path, int *ndim, int64_t shape[FS_NPY_MAX_DIMS],
                          float **data);

/* Writes a C-ordered array as .npy version 1.0 (2.0 if the header needs it),
 * through a temporary file renamed into place. */
fs_status fs_npy_write(const char *path, fs_dtype dtype, int ndim, const int64_t *shape,
                       const void *data);

#ifdef __cplusplus
}
#endif
#endif
