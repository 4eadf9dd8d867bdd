/* The CPU backend's adaptive_avg_pool2d op (backend.h): AdaptiveAvgPool2d of
 * a window of each plane, with PyTorch's CPU arithmetic: the window of
 * output (i, j) starts at floor(i * in / out) and ends before
 * ceil((i + 1) * in / out); its values are summed in float, row by row, and
 * the sum is divided by the row count and then by the column count. Threaded
 * over planes. */
#include "cpu_internal.h"

typedef struct {
    const fs_adaptive_avg_pool2d_args *a;
} ap_ctx;

static void ap_task(void *vctx, int task, int worker)
{
    (void)worker;
    const fs_adaptive_avg_pool2d_args *a = ((const ap_ctx *)vctx)->a;
    const float *x = a->x + (size_t)task * a->h * a->w + (size_t)a->y0 * a->w + a->x0;
    float *y = a->y + (size_t)task * a->oh * a->ow;
    for (int i = 0; i < a->oh; i++) {
        int ys = (int)((long long)i * a->ih / a->oh);
        int ye = (int)(((long long)(i + 1) * a->ih + a->oh - 1) / a->oh);
        for (int j = 0; j < a->ow; j++) {
            int xs = (int)((long long)j * a->iw / a->ow);
            int xe = (int)(((long long)(j + 1) * a->iw + a->ow - 1) / a->ow);
            float sum = 0.0f;
            for (int yy = ys; yy < ye; yy++)
                for (int xx = xs; xx < xe; xx++)
                    sum += x[(size_t)yy * a->w + xx];
            y[(size_t)i * a->ow + j] = sum / (float)(ye - ys) / (float)(xe - xs);
        }
    }
}

fs_status fs_cpu_adaptive_avg_pool2d(fs_backend *b, const fs_adaptive_avg_pool2d_args *a)
{
    if (a->nc < 0 || a->h < 1 || a->w < 1 || a->ih < 1 || a->iw < 1 || a->y0 < 0 || a->x0 < 0 ||
        a->y0 > a->h - a->ih || a->x0 > a->w - a->iw || a->oh < 1 || a->ow < 1)
        return fs_error(FS_ERR_ARG, "cpu adaptive_avg_pool2d: bad window (%dx%d at %d,%d of "
                        "%dx%d planes, output %dx%d)", a->ih, a->iw, a->y0, a->x0, a->h, a->w,
                        a->oh, a->ow);
    if (a->nc == 0)
        return FS_OK;
    ap_ctx t = {.a = a};
    fs_pool_run(fs_cpu_of(b)->pool, a->nc, ap_task, &t);
    return FS_OK;
}
