/* What every model keeps on its backend: the flat file's tensors uploaded as
 * float32 once at init (fs_dev_weights), the normalised 2-D FIR, and the
 * layer plans of models that address their layers by weight name
 * (fs_plan_table), and the allocation and release of a model's activation
 * buffers (fs_dev_buffer). Shared by the StyleGAN2 generator and discriminator and
 * the CVAE-GAN. */
#ifndef FS_DEV_WEIGHTS_H
#define FS_DEV_WEIGHTS_H

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

/* A model's activation buffers on its backend, sized for a batch. */
typedef struct {
    float **p;
    size_t floats; /* per image; 0: none (*p stays NULL) */
} fs_dev_buffer;

/* Releases each non-NULL *bufs[i] and sets it to NULL. */
void fs_dev_buffers_release(fs_backend *b, float **const *bufs, size_t k);
/* Allocates want[i].floats * n floats into each *want[i].p (those of 0
 * floats are skipped); FS_ERR_NOMEM at the first that fails (the backend's
 * alloc recorded the message), the earlier ones left for the caller to
 * release. */
fs_status fs_dev_buffers_alloc(fs_backend *b, const fs_dev_buffer *want, size_t k, size_t n);

/* Layer plans (backend.h ops->plan) by layer name. A model walks its
 * layers once at init with planning set: each layer helper then adds its
 * plan instead of running, and every later forward looks it up. */
typedef struct {
    char name[48];
    fs_plan *plan;
} fs_named_plan;

typedef struct {
    fs_backend *b;
    fs_named_plan *items;
    size_t n, cap;
    int planning; /* 1 during the plan walk */
} fs_plan_table;

/* Runs `call` (FS_TRY) unless table t is planning: a layer helper's step
 * that the plan walk skips. */
#define FS_PLAN_RUN(t, call)                                                               \
    do {                                                                                   \
        if (!(t)->planning)                                                                \
            FS_TRY(call);                                                                  \
    } while (0)

/* Plans the layer `name` (once: a second add of the same name is a no-op). */
fs_status fs_plan_table_add(fs_plan_table *t, const char *name, fs_op_kind kind,
                            const void *args);
/* The plan of `name`, or NULL (then the op prepares per call). */
const fs_plan *fs_plan_table_get(const fs_plan_table *t, const char *name);
void fs_plan_table_free(fs_plan_table *t);

#endif
