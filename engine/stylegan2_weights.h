/* Uploading a flat file's tensors to a backend as float32 (shared by the
 * generator and the discriminator). */
#ifndef FS_STYLEGAN2_WEIGHTS_H
#define FS_STYLEGAN2_WEIGHTS_H

#include "backend.h"
#include "weights.h"

typedef struct {
    fs_backend *b;
    const fs_weights *w;
    float **ptrs; /* per tensor, backend memory */
    size_t n;
} fs_dev_weights;

fs_status fs_dev_weights_upload(fs_dev_weights *dw, const fs_weights *w, fs_backend *b);
void fs_dev_weights_free(fs_dev_weights *dw);
/* Backend pointer of tensor `name` (NULL if absent: the loader guarantees presence). */
const float *fs_dev_weight(const fs_dev_weights *dw, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A scalar tensor's value, read on the host. */
float fs_host_scalar(const fs_weights *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The normalised 2-D FIR from the config's 1-D taps, uploaded. */
fs_status fs_dev_fir(fs_backend *b, const double *taps, int n, float **out);

#endif
