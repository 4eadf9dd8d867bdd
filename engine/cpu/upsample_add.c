/* The CPU backend's upsample_add op: the FPN's `F.interpolate(x, size,
 * mode='bilinear', align_corners=True) + y` (backend.h), with PyTorch's CPU
 * arithmetic in float: the step (in - 1) / (out - 1), the source position
 * i * step, its floor as the first index, the fraction as the second weight
 * and 1 - fraction as the first; per output pixel the two columns of each
 * row are mixed first, then the two rows. Threaded over output rows. */
#include <math.h>
#include <stdlib.h>

#include "cpu_internal.h"

/* Index and weights of output position i along an axis of in -> out. */
static void axis_taps(int in, int out, int i, int *i0, int *i1, float *l0, float *l1)
{
    float step = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    float src = step * (float)i;
    int k = (int)floorf(src);
    k = k < in - 1 ? k : in - 1;
    float f = src - (float)k;
    f = f < 0.0f ? 0.0f : f > 1.0f ? 1.0f : f;
    *i0 = k;
    *i1 = k + (k < in - 1 ? 1 : 0);
    *l1 = f;
    *l0 = 1.0f - f;
}

typedef struct {
    const fs_upsample_add_args *a;
    const int *cx0, *cx1;
    const float *cl0, *cl1;
} ua_ctx;

static void row_task(void *vctx, int task, int worker)
{
    (void)worker;
    const ua_ctx *t = vctx;
    const fs_upsample_add_args *a = t->a;
    size_t plane = (size_t)task / (size_t)a->oh;
    int i = (int)((size_t)task % (size_t)a->oh), y0, y1;
    float h0, h1;
    axis_taps(a->h, a->oh, i, &y0, &y1, &h0, &h1);
    const float *r0 = a->x + (plane * a->h + y0) * (size_t)a->w;
    const float *r1 = a->x + (plane * a->h + y1) * (size_t)a->w;
    float *y = a->y + (plane * a->oh + i) * (size_t)a->ow;
    for (int j = 0; j < a->ow; j++) {
        float t0 = r0[t->cx0[j]] * t->cl0[j];
        t0 = t0 + r0[t->cx1[j]] * t->cl1[j];
        float t1 = r1[t->cx0[j]] * t->cl0[j];
        t1 = t1 + r1[t->cx1[j]] * t->cl1[j];
        float v = t0 * h0;
        v = v + t1 * h1;
        y[j] = v + y[j];
    }
}

fs_status fs_cpu_upsample_add(fs_backend *b, const fs_upsample_add_args *a)
{
    if (a->nc < 0 || a->h < 1 || a->w < 1 || a->oh < 1 || a->ow < 1)
        return fs_error(FS_ERR_ARG, "cpu upsample_add: %d planes %dx%d -> %dx%d", a->nc, a->h,
                        a->w, a->oh, a->ow);
    if (a->nc == 0)
        return FS_OK;
    if ((size_t)a->nc * a->oh > 0x7fffffff)
        return fs_error(FS_ERR_LIMIT, "cpu upsample_add: %d planes of %d rows", a->nc, a->oh);
    int *cx = malloc(2 * (size_t)a->ow * sizeof *cx);
    float *cl = malloc(2 * (size_t)a->ow * sizeof *cl);
    if (!cx || !cl) {
        free(cx);
        free(cl);
        return fs_error(FS_ERR_NOMEM, "cpu upsample_add: out of memory");
    }
    for (int j = 0; j < a->ow; j++)
        axis_taps(a->w, a->ow, j, &cx[j], &cx[a->ow + j], &cl[j], &cl[a->ow + j]);
    ua_ctx t = {.a = a, .cx0 = cx, .cx1 = cx + a->ow, .cl0 = cl, .cl1 = cl + a->ow};
    fs_pool_run(fs_cpu_of(b)->pool, a->nc * a->oh, row_task, &t);
    free(cx);
    free(cl);
    return FS_OK;
}
