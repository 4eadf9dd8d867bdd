/* The CPU backend's channel_affine op: eval-mode BatchNorm2d as a per-channel
 * affine map, and/or PReLU with one slope per channel (backend.h), in the
 * order the official modules compute them: x * scale, + shift, then the
 * PReLU's `v > 0 ? v : slope * v`. Threaded over slices of the planes; each
 * element is computed alone, so the split never changes a value. */
#include "cpu_internal.h"

#define CA_SLICE 16384 /* elements per task: a few microseconds of work */

typedef struct {
    const fs_channel_affine_args *a;
    size_t parts; /* tasks per plane */
} ca_ctx;

static void ca_task(void *vctx, int task, int worker)
{
    (void)worker;
    const ca_ctx *t = vctx;
    const fs_channel_affine_args *a = t->a;
    size_t plane = (size_t)task / t->parts, part = (size_t)task % t->parts;
    size_t q0 = part * CA_SLICE, q1 = q0 + CA_SLICE < a->hw ? q0 + CA_SLICE : a->hw;
    int ch = (int)(plane % (size_t)a->c);
    const float *x = a->x + plane * a->hw;
    float *y = a->y + plane * a->hw;
    float sc = a->scale ? a->scale[ch] : 1.0f, sh = a->shift ? a->shift[ch] : 0.0f;
    if (a->slope) {
        float sl = a->slope[ch];
        if (a->scale || a->shift)
            for (size_t q = q0; q < q1; q++) {
                float v = x[q] * sc;
                v = v + sh;
                y[q] = v > 0.0f ? v : sl * v;
            }
        else
            for (size_t q = q0; q < q1; q++)
                y[q] = x[q] > 0.0f ? x[q] : sl * x[q];
    } else {
        for (size_t q = q0; q < q1; q++) {
            float v = x[q] * sc;
            y[q] = v + sh;
        }
    }
}

fs_status fs_cpu_channel_affine(fs_backend *b, const fs_channel_affine_args *a)
{
    if (a->n < 0 || a->c < 0)
        return fs_error(FS_ERR_ARG, "cpu channel_affine: negative shape [%d, %d]", a->n, a->c);
    if (a->n == 0 || a->c == 0 || a->hw == 0)
        return FS_OK;
    size_t parts = (a->hw + CA_SLICE - 1) / CA_SLICE, tasks = (size_t)a->n * a->c * parts;
    if (tasks > 0x7fffffff)
        return fs_error(FS_ERR_LIMIT, "cpu channel_affine: %zu tasks", tasks);
    ca_ctx t = {.a = a, .parts = parts};
    fs_pool_run(fs_cpu_of(b)->pool, (int)tasks, ca_task, &t);
    return FS_OK;
}
