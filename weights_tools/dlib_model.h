/* dlib shape predictor models (`shape_predictor_68_face_landmarks.dat` and
 * any other file dlib's `serialize(shape_predictor)` writes): the reader.
 *
 * The file is dlib's own serialization (docs/landmarks.md has the layout):
 * compact sign-magnitude integers, floats as a mantissa and an exponent in
 * that integer encoding, matrices with negated dimensions, vectors with a
 * count. It has no magic, no checksum and no length fields other than those
 * counts, so it is parsed as untrusted input: every count is checked against
 * the bytes left before anything is allocated (memory stays proportional to
 * the file size), every index is range-checked, every float must be finite,
 * every tree complete, and the file must end exactly after the last delta.
 * dlib's older ASCII float encoding is refused (FS_ERR_UNSUPPORTED).
 *
 * The parsed model is flattened into a few arrays so that prediction
 * (engine/landmarks.h) walks memory in file order. */
#ifndef FS_DLIB_MODEL_H
#define FS_DLIB_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where Debian's libdlib-data installs the 68-point model. */
#define FS_DLIB_DEFAULT_MODEL "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"

/* Caps on what a model may declare (FS_ERR_LIMIT beyond them). The real
 * 68-point model has 68 parts, 15 levels, depth-4 trees and 500 features
 * per level; dlib's trainer defaults stay far below these. */
#define FS_DLIB_MAX_PARTS 4096
#define FS_DLIB_MAX_LEVELS 1024
#define FS_DLIB_MAX_TREE_DEPTH 20          /* 2^20 leaves per tree */
#define FS_DLIB_MAX_FEATURES (1u << 20)    /* feature pixels per level */
#define FS_DLIB_MAX_TREES (1u << 24)       /* trees per level */

/* One split node: go left when f[idx1] - f[idx2] > thresh. */
typedef struct {
    uint32_t idx1, idx2;
    float thresh;
} fs_dlib_split;

typedef struct {
    int num_parts;  /* P: landmarks */
    int num_levels; /* cascade depth */
    uint64_t num_trees, num_splits, num_leaves, num_features; /* totals */
    float *initial_shape;    /* [2P]: x0 y0 x1 y1 ... in the unit box */
    uint64_t *level_tree;    /* [levels + 1]: level l has trees level_tree[l] .. [l + 1] - 1 */
    uint64_t *level_feature; /* [levels + 1]: its features, likewise */
    uint64_t *tree_split;    /* [trees + 1]: tree t has splits tree_split[t] .. [t + 1] - 1;
                              * its leaves start at leaf tree_split[t] + t */
    fs_dlib_split *splits;   /* breadth first: node i has children 2i + 1 and 2i + 2 */
    float *leaves;           /* [num_leaves][2P] */
    uint32_t *anchor;        /* [num_features]: the part each feature pixel follows */
    float *deltas;           /* [num_features][2]: its offset (x, y) in unit-box units */
    uint32_t max_level_features, max_level_trees; /* for scratch buffers */
    /* Byte offsets of the sections (initial_shape, forests, anchor_idx,
     * deltas) and of the end: for messages and tests. */
    uint64_t offsets[5];
} fs_dlib_model;

/* Parses a whole model file held in memory. label names the source in
 * messages ("LABEL: offset N: ..."). *out is freed with fs_dlib_model_free. */
fs_status fs_dlib_model_parse(const uint8_t *buf, size_t len, const char *label,
                              fs_dlib_model **out);
/* The same from a file. */
fs_status fs_dlib_model_load(const char *path, fs_dlib_model **out);
void fs_dlib_model_free(fs_dlib_model *m);

/* Leaves of tree t: (tree_split[t + 1] - tree_split[t]) + 1 rows of 2P. */
static inline const float *fs_dlib_tree_leaves(const fs_dlib_model *m, uint64_t t)
{
    return m->leaves + (m->tree_split[t] + t) * (uint64_t)(2 * m->num_parts);
}

#ifdef __cplusplus
}
#endif
#endif
