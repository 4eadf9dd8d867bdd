/* Tensor upload (each flat-file tensor converted to float32 once, at init),
 * the FIR upload and the named layer plans. */
#include "dev_weights.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

fs_status fs_dev_weights_upload(fs_dev_weights *dw, const fs_weights *w, fs_backend *b)
{
    dw->b = b;
    dw->w = w;
    dw->n = fs_weights_tensor_count(w);
    dw->ptrs = calloc(dw->n ? dw->n : 1, sizeof *dw->ptrs);
    if (!dw->ptrs)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", fs_weights_label(w));
    float *tmp = NULL;
    size_t tmp_cap = 0;
    for (size_t i = 0; i < dw->n; i++) {
        const fs_tensor *t = fs_weights_tensor_at(w, i);
        size_t numel = t->nbytes / fs_dtype_size(t->dtype);
        size_t bytes = (numel ? numel : 1) * sizeof(float);
        dw->ptrs[i] = b->ops->alloc(b, bytes);
        if (!dw->ptrs[i]) {
            free(tmp);
            return FS_ERR_NOMEM; /* the backend's alloc recorded the message */
        }
        const void *src = t->data;
        if (t->dtype != FS_DTYPE_F32) {
            if (numel > tmp_cap) {
                free(tmp);
                tmp = malloc(numel * sizeof *tmp);
                tmp_cap = tmp ? numel : 0;
                if (!tmp)
                    return fs_error(FS_ERR_NOMEM, "%s: out of memory", fs_weights_label(w));
            }
            for (size_t k = 0; k < numel; k++)
                tmp[k] = (float)fs_dtype_load(t->dtype, t->data, (int64_t)k);
            src = tmp;
        }
        fs_status s = b->ops->upload(b, dw->ptrs[i], src, numel * sizeof(float));
        if (s != FS_OK) {
            free(tmp);
            return s;
        }
    }
    free(tmp);
    return FS_OK;
}

void fs_dev_weights_free(fs_dev_weights *dw)
{
    if (dw->ptrs)
        for (size_t i = 0; i < dw->n; i++)
            if (dw->ptrs[i])
                dw->b->ops->release(dw->b, dw->ptrs[i]);
    free(dw->ptrs);
    dw->ptrs = NULL;
}

const float *fs_dev_weight(const fs_dev_weights *dw, const char *fmt, ...)
{
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const fs_tensor *t = fs_weights_find(dw->w, name);
    if (!t)
        return NULL;
    return dw->ptrs[(size_t)(t - fs_weights_tensor_at(dw->w, 0))];
}

float fs_host_scalar(const fs_weights *w, const char *fmt, ...)
{
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const fs_tensor *t = fs_weights_find(w, name);
    return t ? (float)fs_dtype_load(t->dtype, t->data, 0) : 0.0f;
}

fs_status fs_dev_fir(fs_backend *b, const double *taps, int n, float **out)
{
    float f2[64];
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += taps[i];
    /* outer product, normalised to sum 1, rounded once to float like the
     * official setup_filter (which normalises the float32 outer product) */
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++)
            f2[y * n + x] = (float)(taps[y] * taps[x] / (sum * sum));
    *out = b->ops->alloc(b, (size_t)n * n * sizeof(float));
    if (!*out)
        return FS_ERR_NOMEM; /* the backend's alloc recorded the message */
    return b->ops->upload(b, *out, f2, (size_t)n * n * sizeof(float));
}

/* a few dozen layers: a scan costs nothing next to any op */
static const fs_named_plan *find(const fs_plan_table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->items[i].name, name))
            return &t->items[i];
    return NULL;
}

fs_status fs_plan_table_add(fs_plan_table *t, const char *name, fs_op_kind kind,
                            const void *args)
{
    if (find(t, name))
        return FS_OK;
    if (strlen(name) >= sizeof t->items[0].name)
        return fs_error(FS_ERR_ARG, "layer name '%s' too long for a plan", name);
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 32;
        fs_named_plan *p = realloc(t->items, cap * sizeof *p);
        if (!p)
            return fs_error(FS_ERR_NOMEM, "out of memory for %zu layer plans", cap);
        t->items = p;
        t->cap = cap;
    }
    fs_named_plan *e = &t->items[t->n];
    memset(e, 0, sizeof *e);
    strcpy(e->name, name);
    FS_TRY(t->b->ops->plan(t->b, kind, args, &e->plan));
    t->n++;
    return FS_OK;
}

const fs_plan *fs_plan_table_get(const fs_plan_table *t, const char *name)
{
    const fs_named_plan *e = find(t, name);
    return e ? e->plan : NULL;
}

void fs_plan_table_free(fs_plan_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        t->b->ops->plan_free(t->b, t->items[i].plan);
    free(t->items);
    t->items = NULL;
    t->n = t->cap = 0;
}

void fs_dev_buffers_release(fs_backend *b, float **const *bufs, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        if (*bufs[i])
            b->ops->release(b, *bufs[i]);
        *bufs[i] = NULL;
    }
}

fs_status fs_dev_buffers_alloc(fs_backend *b, const fs_dev_buffer *want, size_t k, size_t n)
{
    for (size_t i = 0; i < k; i++) {
        if (!want[i].floats)
            continue;
        *want[i].p = b->ops->alloc(b, want[i].floats * n * sizeof(float));
        if (!*want[i].p)
            return FS_ERR_NOMEM;
    }
    return FS_OK;
}
