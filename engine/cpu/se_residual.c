/* The CPU backend's se_residual op: the tail of an IR-SE unit (backend.h).
 * Three passes: the channel means of the residual branch (one task per
 * plane, summed in double), the gates of each sample (two tiny matrix-vector
 * products in double, ReLU between, sigmoid after, rounded once to float),
 * then y = r * g + shortcut, with the product rounded before the sum as the
 * official `module_input * x` followed by `res + shortcut` rounds it. */
#include <stdlib.h>

#include "cpu_internal.h"

#define SE_SLICE 16384 /* elements per task of the last pass */

typedef struct {
    const fs_se_residual_args *a;
    float *mean; /* [n, c] */
    float *gate; /* [n, c] */
    double *hidden; /* [n, cr] */
    size_t parts;
} se_ctx;

static void mean_task(void *vctx, int task, int worker)
{
    (void)worker;
    const se_ctx *t = vctx;
    size_t hw = (size_t)t->a->h * t->a->w;
    const float *p = t->a->r + (size_t)task * hw;
    double s = 0;
    for (size_t q = 0; q < hw; q++)
        s += p[q];
    t->mean[task] = (float)(s / (double)hw);
}

static void gate_task(void *vctx, int task, int worker)
{
    (void)worker;
    const se_ctx *t = vctx;
    const fs_se_residual_args *a = t->a;
    const float *m = t->mean + (size_t)task * a->c;
    double *hid = t->hidden + (size_t)task * a->cr;
    for (int j = 0; j < a->cr; j++) {
        const float *w1 = a->fc1 + (size_t)j * a->c;
        double z = 0;
        for (int k = 0; k < a->c; k++)
            z += (double)w1[k] * m[k];
        hid[j] = z > 0 ? (double)(float)z : 0.0; /* the fc1 output is a float tensor */
    }
    for (int ch = 0; ch < a->c; ch++) {
        const float *w2 = a->fc2 + (size_t)ch * a->cr;
        double z = 0;
        for (int j = 0; j < a->cr; j++)
            z += (double)w2[j] * hid[j];
        z = (double)(float)z;
        t->gate[(size_t)task * a->c + ch] = (float)(1.0 / (1.0 + exp(-z)));
    }
}

static void add_task(void *vctx, int task, int worker)
{
    (void)worker;
    const se_ctx *t = vctx;
    const fs_se_residual_args *a = t->a;
    size_t plane = (size_t)task / t->parts, part = (size_t)task % t->parts;
    size_t hw = (size_t)a->h * a->w, s = (size_t)(a->sc_stride > 0 ? a->sc_stride : 1);
    size_t q0 = part * SE_SLICE, q1 = q0 + SE_SLICE < hw ? q0 + SE_SLICE : hw;
    float g = t->gate[plane];
    const float *r = a->r + plane * hw;
    const float *sc = a->sc + plane * (size_t)a->sc_h * a->sc_w;
    float *y = a->y + plane * hw;
    size_t i = q0 / (size_t)a->w, j = q0 % (size_t)a->w;
    for (size_t q = q0; q < q1; q++) {
        float v = r[q] * g;
        y[q] = v + sc[i * s * (size_t)a->sc_w + j * s];
        if (++j == (size_t)a->w) {
            j = 0;
            i++;
        }
    }
}

fs_status fs_cpu_se_residual(fs_backend *b, const fs_se_residual_args *a)
{
    int st = a->sc_stride > 0 ? a->sc_stride : 1;
    if (a->n < 0 || a->c < 1 || a->cr < 1 || a->h < 1 || a->w < 1 ||
        (long)(a->h - 1) * st >= a->sc_h || (long)(a->w - 1) * st >= a->sc_w)
        return fs_error(FS_ERR_ARG, "cpu se_residual: shapes n %d c %d cr %d %dx%d, shortcut "
                        "%dx%d stride %d", a->n, a->c, a->cr, a->h, a->w, a->sc_h, a->sc_w, st);
    if (a->n == 0)
        return FS_OK;
    size_t planes = (size_t)a->n * a->c, hw = (size_t)a->h * a->w;
    size_t parts = (hw + SE_SLICE - 1) / SE_SLICE;
    if (planes * parts > 0x7fffffff)
        return fs_error(FS_ERR_LIMIT, "cpu se_residual: %zu planes", planes);
    se_ctx t = {.a = a, .parts = parts};
    t.mean = malloc(2 * planes * sizeof *t.mean);
    t.hidden = malloc((size_t)a->n * a->cr * sizeof *t.hidden);
    if (!t.mean || !t.hidden) {
        free(t.mean);
        free(t.hidden);
        return fs_error(FS_ERR_NOMEM, "cpu se_residual: out of memory for %zu gates", planes);
    }
    t.gate = t.mean + planes;
    fs_pool *pool = fs_cpu_of(b)->pool;
    fs_pool_run(pool, (int)planes, mean_task, &t);
    fs_pool_run(pool, a->n, gate_task, &t);
    fs_pool_run(pool, (int)(planes * parts), add_task, &t);
    free(t.mean);
    free(t.hidden);
    return FS_OK;
}
