/* Loading a flat weight file: the engine's only model input.
 *
 * fs_weights_open maps the file and validates everything before the engine
 * may touch it: header, bounds and overflow of every region, alignment,
 * checksums of header, metadata, directory and each tensor, known dtypes,
 * unique well-formed names. It knows nothing of models: whether the tensors
 * are the ones a family needs is the family check, which network.h
 * fs_network_open and every model _init run. */
#ifndef FS_WEIGHTS_H
#define FS_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "status.h"
#include "weights_format.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FS_FAMILY_INVALID = 0,
    FS_FAMILY_STYLEGAN2_G = 1, /* StyleGAN2 generator */
    FS_FAMILY_STYLEGAN2_D = 2, /* StyleGAN2 discriminator */
    FS_FAMILY_CVAEGAN = 3,     /* CVAE-GAN: encoder, generator, both discriminators */
    FS_FAMILY_E4E_ENCODER = 4, /* e4e's Encoder4Editing: images -> StyleGAN2 W+ codes */
    FS_FAMILY_LIGHTCNN = 5,    /* Light CNN-9: gray faces -> 256-d identity features */
    FS_FAMILY_ARCFACE = 6,     /* ArcFace IR-SE-50: RGB faces -> l2-normalised embeddings */
    FS_FAMILY_SIMGAN = 7,      /* SimGAN: refiner and (optional) local discriminator */
} fs_family;

const char *fs_family_name(fs_family f); /* "stylegan2-generator", ... */

typedef struct {
    const char *name;
    fs_dtype dtype;
    int ndim;
    int64_t shape[FS_FSW_MAX_DIMS];
    const void *data; /* 256-byte aligned within the mapping */
    uint64_t nbytes;
    uint64_t offset;  /* from the start of the data region */
} fs_tensor;

typedef struct {
    const char *key;
    fs_meta_type type;
    int64_t i;          /* FS_META_I64 */
    double f;           /* FS_META_F64 */
    const char *str;    /* FS_META_STR, NUL-terminated copy */
    const double *arr;  /* FS_META_F64_ARRAY */
    size_t len;         /* string bytes or array elements */
} fs_meta;

typedef struct fs_weights fs_weights;

typedef enum {
    FS_WEIGHTS_VERIFY_ALL = 0,
    /* Skip the per-tensor data checksums (structure is still checked). */
    FS_WEIGHTS_SKIP_DATA_CRC = 1,
} fs_weights_flags;

fs_status fs_weights_open(const char *path, unsigned flags, fs_weights **out);
/* Validates an in-memory file; buf must outlive the handle. label names it in errors. */
fs_status fs_weights_open_buffer(const uint8_t *buf, size_t len, const char *label,
                                 unsigned flags, fs_weights **out);
/* As above, but the handle takes ownership of a malloc'd buffer. */
fs_status fs_weights_open_owned(uint8_t *buf, size_t len, const char *label, unsigned flags,
                                fs_weights **out);
void fs_weights_free(fs_weights *w);

fs_family fs_weights_family(const fs_weights *w);
const char *fs_weights_label(const fs_weights *w);
uint64_t fs_weights_file_size(const fs_weights *w);
/* The whole data region (for one-copy upload) and its size. */
const void *fs_weights_data(const fs_weights *w, uint64_t *size);

size_t fs_weights_tensor_count(const fs_weights *w);
const fs_tensor *fs_weights_tensor_at(const fs_weights *w, size_t i);
const fs_tensor *fs_weights_find(const fs_weights *w, const char *name);

size_t fs_weights_meta_count(const fs_weights *w);
const fs_meta *fs_weights_meta_at(const fs_weights *w, size_t i);
const fs_meta *fs_weights_meta_find(const fs_weights *w, const char *key);
/* Typed getters: FS_ERR_MISSING if absent, FS_ERR_FORMAT if of another type. */
fs_status fs_weights_meta_i64(const fs_weights *w, const char *key, int64_t *v);
fs_status fs_weights_meta_f64(const fs_weights *w, const char *key, double *v);
fs_status fs_weights_meta_str(const fs_weights *w, const char *key, const char **v);
fs_status fs_weights_meta_f64_array(const fs_weights *w, const char *key, const double **v,
                                    size_t *n);

/* Checks that tensor `name` exists with dtype storable and the given shape;
 * the message names the file, the tensor and both shapes. */
fs_status fs_weights_expect(const fs_weights *w, const char *name, int ndim,
                            const int64_t *shape);

/* How model families describe their canonical tensors: one call per tensor. */
typedef fs_status (*fs_tensor_spec_fn)(void *user, const char *name, int ndim,
                                       const int64_t *shape);

/* Checks a file against a family's tensor list: feed fs_weights_checker_visit
 * to the family's for_each, then _finish proves nothing else is in the file. */
typedef struct {
    const fs_weights *w;
    size_t seen;
} fs_weights_checker;
fs_status fs_weights_checker_visit(void *checker, const char *name, int ndim,
                                   const int64_t *shape);
fs_status fs_weights_checker_finish(const fs_weights_checker *k);

/* "[512, 3, 3]" */
void fs_shape_format(char *buf, size_t cap, int ndim, const int64_t *shape);

#ifdef __cplusplus
}
#endif
#endif
