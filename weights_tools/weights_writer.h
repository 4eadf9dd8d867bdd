/* Building a flat weight file: metadata records and tensors (as views of
 * source data) go in, one validated-by-construction file comes out, written
 * under a temporary name and renamed into place, or into memory. */
#ifndef FS_WEIGHTS_WRITER_H
#define FS_WEIGHTS_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/weights.h"
#include "view.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fs_weights_writer fs_weights_writer;

fs_status fs_weights_writer_init(fs_weights_writer **out, fs_family family);
void fs_weights_writer_free(fs_weights_writer *w);

/* Signature matches fs_meta_put_fn, with the writer as user pointer. */
fs_status fs_weights_writer_put_meta(void *writer, const char *key, fs_meta_type type, int64_t i,
                                     double f, const char *str, const double *arr, size_t n);

/* The view must stay valid until the file is written. dtype: f32, f16 or bf16. */
fs_status fs_weights_writer_add(fs_weights_writer *w, const char *name, fs_dtype dtype,
                                const fs_view *src);

size_t fs_weights_writer_count(const fs_weights_writer *w);

/* Importing a state dict against a family's tensor list: pass
 * fs_weights_import_visit to the family's for_each. Each listed tensor must be
 * in the state dict with exactly that shape; it is marked used and added. */
typedef struct {
    fs_weights_writer *w;
    void *sd; /* fs_state_dict * */
    fs_dtype dtype;
} fs_weights_importer;
fs_status fs_weights_import_visit(void *importer, const char *name, int ndim,
                                  const int64_t *shape);

fs_status fs_weights_writer_write_file(fs_weights_writer *w, const char *path);
/* The file image in a malloc'd buffer (for checkpoints converted in memory). */
fs_status fs_weights_writer_write_memory(fs_weights_writer *w, uint8_t **buf, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
