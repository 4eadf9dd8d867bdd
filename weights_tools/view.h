/* A strided, typed view of tensor data inside a source checkpoint.
 *
 * Converters describe each canonical tensor as a view of source bytes, so the
 * layout changes between checkpoint conventions (TensorFlow's [kh,kw,in,out]
 * kernels, flipped up-sampling kernels, dense weights stored transposed,
 * squeezed leading dimensions) cost no copies until the one pass that writes
 * the output file. `add` covers TF's mod_bias, stored without its +1. */
#ifndef FS_VIEW_H
#define FS_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/dtype.h"
#include "../engine/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FS_VIEW_MAX_DIMS 8

typedef struct {
    fs_dtype dtype;
    int ndim;
    int64_t shape[FS_VIEW_MAX_DIMS];
    int64_t stride[FS_VIEW_MAX_DIMS]; /* elements; negative after a flip */
    const uint8_t *base;              /* element (0, ..., 0) */
    double add;
} fs_view;

/* A C-contiguous view of n-dimensional data starting at base. */
fs_view fs_view_contiguous(fs_dtype dtype, int ndim, const int64_t *shape, const void *base);
int64_t fs_view_numel(const fs_view *v);
int fs_view_is_contiguous(const fs_view *v);

/* perm[i] names the source dimension that becomes dimension i. */
fs_status fs_view_permute(fs_view *v, const int *perm);
/* Reverses dimension d. */
fs_status fs_view_flip(fs_view *v, int d);
/* New shape with the same element count; allowed when the view is contiguous
 * or the change only inserts or removes dimensions of size 1. */
fs_status fs_view_reshape(fs_view *v, int ndim, const int64_t *shape);

/* Copies elements [first, first + n) in row-major order of the view into out,
 * converted to out_dtype (f32, f16 or bf16) with `add` applied. */
void fs_view_gather(const fs_view *v, int64_t first, int64_t n, fs_dtype out_dtype, void *out);

#ifdef __cplusplus
}
#endif
#endif
