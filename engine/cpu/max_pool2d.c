/* The CPU backend's max_pool2d op (backend.h): torch.nn.MaxPool2d with
 * stride, symmetric padding and ceil_mode. Each output scans its window
 * clipped to the plane (padding never wins: PyTorch starts from -inf and
 * skips it), keeping the first maximum and letting a NaN win, as PyTorch's
 * CPU kernel does. Threaded over blocks of output rows. */
#include "cpu_internal.h"

#define MP_ROWS_PER_TASK 8

typedef struct {
    const fs_max_pool2d_args *a;
    int oh, ow, row_tasks; /* tasks per plane */
} mp_ctx;

static void mp_task(void *vctx, int task, int worker)
{
    (void)worker;
    const mp_ctx *t = vctx;
    const fs_max_pool2d_args *a = t->a;
    size_t plane = (size_t)task / (size_t)t->row_tasks;
    int r0 = task % t->row_tasks * MP_ROWS_PER_TASK;
    int r1 = r0 + MP_ROWS_PER_TASK < t->oh ? r0 + MP_ROWS_PER_TASK : t->oh;
    const float *x = a->x + plane * (size_t)a->h * a->w;
    float *y = a->y + plane * (size_t)t->oh * t->ow;
    for (int oy = r0; oy < r1; oy++) {
        int ys = oy * a->stride - a->pad, ye = ys + a->k < a->h ? ys + a->k : a->h;
        ys = ys > 0 ? ys : 0;
        for (int ox = 0; ox < t->ow; ox++) {
            int xs = ox * a->stride - a->pad, xe = xs + a->k < a->w ? xs + a->k : a->w;
            xs = xs > 0 ? xs : 0;
            float m = -INFINITY;
            for (int yy = ys; yy < ye; yy++)
                for (int xx = xs; xx < xe; xx++)
                    m = fs_max_nan(x[(size_t)yy * a->w + xx], m);
            y[(size_t)oy * t->ow + ox] = m;
        }
    }
}

fs_status fs_cpu_max_pool2d(fs_backend *b, const fs_max_pool2d_args *a)
{
    if (a->nc < 0 || a->h < 1 || a->w < 1 || a->k < 1 || a->stride < 1 || a->pad < 0 ||
        2 * a->pad > a->k)
        return fs_error(FS_ERR_ARG, "cpu max_pool2d: bad shape (%d planes %dx%d, k %d, stride "
                        "%d, pad %d: pad at most k / 2)", a->nc, a->h, a->w, a->k, a->stride,
                        a->pad);
    int oh = fs_max_pool2d_out_size(a->h, a->k, a->stride, a->pad, a->ceil_mode);
    int ow = fs_max_pool2d_out_size(a->w, a->k, a->stride, a->pad, a->ceil_mode);
    if (oh < 1 || ow < 1)
        return fs_error(FS_ERR_ARG, "cpu max_pool2d: a %dx%d plane is smaller than the %dx%d "
                        "window", a->h, a->w, a->k, a->k);
    if (a->nc == 0)
        return FS_OK;
    int row_tasks = (oh + MP_ROWS_PER_TASK - 1) / MP_ROWS_PER_TASK;
    size_t tasks = (size_t)a->nc * row_tasks;
    if (tasks > 0x7fffffff)
        return fs_error(FS_ERR_LIMIT, "cpu max_pool2d: %zu tasks", tasks);
    mp_ctx t = {.a = a, .oh = oh, .ow = ow, .row_tasks = row_tasks};
    fs_pool_run(fs_cpu_of(b)->pool, (int)tasks, mp_task, &t);
    return FS_OK;
}
