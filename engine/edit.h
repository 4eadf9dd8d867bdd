/* Latent editing as InterFaceGAN does it (docs/editing.md): semantic
 * boundaries (unit normals of hyperplanes through the origin of a latent
 * space), their conditional projection, sweeps to signed distances, offsets
 * of random strength, and training a boundary from latent codes and
 * attribute scores with a linear SVM.
 *
 * A boundary keeps the element type it was stored in, because the official
 * functions compute in numpy's promoted type: a float32 boundary edits a
 * float32 code in float32 arithmetic, a float64 one in float64 (rounded to
 * float32 once, for the generator). All functions are host-side vector
 * operations; the generator runs the edited codes (stylegan2.h).
 *
 * Files: edit.c (the math), boundary_io.c (reading and writing boundary
 * files, their SHA-256), boundary_train.c (the SVM, through libsvm). */
#ifndef FS_EDIT_H
#define FS_EDIT_H

#include <stddef.h>
#include <stdint.h>

#include "../weights_tools/npy.h"
#include "dtype.h"
#include "rng.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest latent width a boundary may have (StyleGAN2 uses 512). */
#define FS_BOUNDARY_MAX_DIM 65536
/* |norm - 1| above this is reported as a boundary that is not unit. */
#define FS_BOUNDARY_UNIT_TOL 1e-5

typedef struct {
    int dim;
    fs_dtype dtype;     /* FS_DTYPE_F32 or FS_DTYPE_F64: the arithmetic of its edits */
    double *v;          /* [dim]; with F32 every value is exactly a float32 */
    double norm;        /* L2 norm, computed in double */
    char sha256[65];    /* hex SHA-256 of the file's bytes ("" when not from a file) */
} fs_boundary;

/* ---- reading and writing (boundary_io.c) ---- */

/* A boundary file: .npy (float32 or float64, shape (1, D) or (D,)) or a
 * torch.save .pt (zip or legacy) holding one such tensor, recognised by
 * content. Refused with a one-line message naming the file: another type or
 * shape, a NaN or an infinity, a zero vector, D > FS_BOUNDARY_MAX_DIM. */
fs_status fs_boundary_load(const char *path, fs_boundary *out);
/* The same from bytes in memory; label names them in messages. */
fs_status fs_boundary_parse(const uint8_t *buf, size_t len, const char *label, fs_boundary *out);
void fs_boundary_free(fs_boundary *b);
/* A copy (v duplicated). */
fs_status fs_boundary_copy(const fs_boundary *b, fs_boundary *out);
/* Writes b as .npy of shape (1, D) in its dtype, through a temporary file. */
fs_status fs_boundary_write(const char *path, const fs_boundary *b);
/* SHA-256 of n bytes, as 64 lowercase hex digits and a NUL. */
void fs_sha256_hex(const void *data, size_t n, char hex[65]);

/* ---- the math (edit.c) ---- */

/* FS_ERR_SHAPE unless b->dim == dim: "PATH: boundary has D = 128, but --space
 * w edits vectors of w_dim = 512". what names the space ("w_dim"). */
fs_status fs_boundary_check_dim(const fs_boundary *b, const char *path, int dim,
                                const char *space, const char *what);
/* 1 when |norm - 1| <= FS_BOUNDARY_UNIT_TOL. */
int fs_boundary_is_unit(const fs_boundary *b);
/* Divides by the norm, keeping the dtype (a float32 result is rounded). */
void fs_boundary_normalize(fs_boundary *b);

/* InterFaceGAN's project_boundary(primal, *conds): the primal made
 * orthogonal to every condition at once, then normalised. No condition:
 * a copy of primal, unchanged. One: p - <p,c>c. Two: the official closed
 * form, with its 1e-8 in the denominator (so the result is orthogonal only
 * to about 1e-8). Three or more: (C C^T) x = C p^T solved by Gaussian
 * elimination with partial pivoting, p - x^T C. Arithmetic in float64; the
 * result is F64 if any input is, else F32 (rounded), as numpy promotes.
 * Errors: a condition of another dimension, conditions that are linearly
 * dependent (3 or more), a primal inside their span (nothing left). names
 * (may be NULL) label the primal and the conditions in messages. */
fs_status fs_boundary_project(const fs_boundary *primal, const fs_boundary *conds, int n_conds,
                              const char *const *names, fs_boundary *out);

/* numpy.linspace(start, end, steps) in float64, element for element
 * (k * step + start, the last value exactly end; steps == 1 gives start).
 * FS_ERR_ARG for steps < 1. */
fs_status fs_edit_linspace(double start, double end, int steps, double *out);

/* <code, n> as numpy computes latent_code.dot(boundary.T): in float64 for an
 * F64 boundary; for F32 the float64 sum rounded to float32. */
double fs_edit_projection(const float *code, const fs_boundary *b);

/* InterFaceGAN's linear_interpolate on one code of b->dim values (the Z or W
 * branch): out_k = code + float32(d_k - <code, n>) * n, so that <out_k, n> =
 * d_k: the code is moved to signed distance d_k from the hyperplane, its own
 * component along n discarded. out is [steps, dim]. */
void fs_edit_to_distances(const float *code, const fs_boundary *b, const double *d, int steps,
                          float *out);

/* The W+ branch and every random-strength edit: a plain offset,
 * out = code + float32(alpha) * n, on each of the num_layers rows of dim
 * values whose layers[l] is non-zero (layers NULL: every row); other rows are
 * copied. code and out are [num_layers, dim] and may be the same array. */
void fs_edit_offset(const float *code, int num_layers, const fs_boundary *b,
                    const unsigned char *layers, double alpha, float *out);

/* Random strengths: n draws of numpy's RandomState.uniform(lo, hi), i.e.
 * lo + (hi - lo) * random_sample(), in order, from r. */
void fs_edit_draw_alphas(fs_np_random *r, double lo, double hi, int n, double *out);

/* A layer list "0-3,8" (inclusive ranges and single indices, any order,
 * repeats allowed) into mask[num_layers] (1: edited). FS_ERR_ARG naming the
 * item: syntax, an empty range (5-3), an index >= num_layers. */
fs_status fs_edit_parse_layers(const char *s, int num_layers, unsigned char *mask);

/* ---- training (boundary_train.c) ---- */

/* InterFaceGAN's train_boundary. codes [N, D] and scores [N, 1] or [N] as
 * parsed .npy arrays (float32 or float64, either order); every value must be
 * finite. */
typedef struct {
    const fs_npy *codes, *scores;
    const char *codes_label, *scores_label; /* file names for messages */
    double ratio;         /* chosen_num_or_ratio: (0, 1] a ratio, > 1 a count */
    double split;         /* split_ratio, in (0, 1] */
    int has_invalid;      /* drop rows whose score == invalid_value */
    double invalid_value;
    uint32_t seed;        /* np.random.seed(seed) just before the call */
} fs_boundary_train_args;

typedef struct {
    int64_t n_valid;          /* rows left after the invalid-value filter */
    int64_t chosen, train_num, val_num, remaining_num;
    int64_t remaining_pos, remaining_neg;
    int64_t *sorted_rows;     /* [n_valid]: rows of the input, by score descending */
    int64_t *positive_idx;    /* [chosen]: the first shuffle */
    int64_t *negative_idx;    /* [chosen]: the second shuffle */
    int64_t val_correct, remaining_correct;
    int n_support[2];         /* support vectors of the negatives, the positives */
    double intercept;         /* decision = <w, x> + intercept (w toward the positives) */
    float *boundary;          /* [dim]: the unit normal, float32 */
    int dim;
} fs_boundary_train_result;

/* Row k of the positives' training set, as an index into the input:
 * sorted_rows[positive_idx[k]] (negatives: sorted_rows[n_valid - chosen +
 * negative_idx[k]]). */
fs_status fs_boundary_train(const fs_boundary_train_args *a, fs_boundary_train_result *r);
void fs_boundary_train_result_free(fs_boundary_train_result *r);

/* The parts of the training, exposed for tests. */
/* numpy's argsort(kind='quicksort') of n doubles (introsort, unstable: ties
 * in its order); idx receives the permutation. */
fs_status fs_np_argsort(const double *v, int64_t n, int64_t *idx);
/* numpy's legacy RandomState.shuffle of a 1-D array x[n], from r. */
void fs_np_shuffle(fs_np_random *r, int64_t *x, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
