/* The CPU backend's max_feature_map op (backend.h): Light CNN's MFM layer,
 * the element-wise maximum of a conv's (or linear layer's) two output-channel
 * halves. torch.max of two tensors returns NaN where either is NaN; so does
 * this. Threaded over slices of the output planes; each element is computed
 * alone, so the split never changes a value. */
#include "cpu_internal.h"

#define MFM_SLICE 16384 /* elements per task */

typedef struct {
    const fs_max_feature_map_args *a;
    size_t parts; /* tasks per output plane */
} mfm_ctx;

static void mfm_task(void *vctx, int task, int worker)
{
    (void)worker;
    const mfm_ctx *t = vctx;
    const fs_max_feature_map_args *a = t->a;
    size_t plane = (size_t)task / t->parts, part = (size_t)task % t->parts;
    size_t q0 = part * MFM_SLICE, q1 = q0 + MFM_SLICE < a->hw ? q0 + MFM_SLICE : a->hw;
    size_t s = plane / (size_t)a->c, j = plane % (size_t)a->c;
    const float *lo = a->x + (s * 2 * (size_t)a->c + j) * a->hw;
    const float *hi = lo + (size_t)a->c * a->hw;
    float *y = a->y + plane * a->hw;
    for (size_t q = q0; q < q1; q++)
        y[q] = fs_max_nan(lo[q], hi[q]);
}

fs_status fs_cpu_max_feature_map(fs_backend *b, const fs_max_feature_map_args *a)
{
    if (a->n < 0 || a->c < 0)
        return fs_error(FS_ERR_ARG, "cpu max_feature_map: negative shape [%d, %d]", a->n, a->c);
    if (a->n == 0 || a->c == 0 || a->hw == 0)
        return FS_OK;
    size_t parts = (a->hw + MFM_SLICE - 1) / MFM_SLICE, tasks = (size_t)a->n * a->c * parts;
    if (tasks > 0x7fffffff)
        return fs_error(FS_ERR_LIMIT, "cpu max_feature_map: %zu tasks", tasks);
    mfm_ctx t = {.a = a, .parts = parts};
    fs_pool_run(fs_cpu_of(b)->pool, (int)tasks, mfm_task, &t);
    return FS_OK;
}
