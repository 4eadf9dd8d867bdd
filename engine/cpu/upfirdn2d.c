/* upfirdn2d on the CPU: a FIR plan (index tables, engine/cpu/fir_plan.h),
 * made once per layer by the plan step or per call without one, and the
 * planes spread over the workers. */
#include <stdlib.h>

#include "cpu_internal.h"
#include "fir_plan.h"

typedef struct {
    const fs_cpu_fir *fir;
    const float *x;
    float *y;
    int h, w;
    fs_cpu *m;
} ufd_ctx;

static void ufd_task(void *ctx, int t, int worker)
{
    ufd_ctx *c = ctx;
    size_t out = (size_t)fs_cpu_fir_out_h(c->fir) * fs_cpu_fir_out_w(c->fir);
    fs_cpu_fir_run(c->fir, c->x + (size_t)t * c->h * c->w, c->y + (size_t)t * out,
                   c->m->col[worker]);
}

fs_status fs_cpu_upfirdn2d_run(fs_cpu *m, const fs_cpu_fir *fir, const float *x, float *y, int nc,
                               int h, int w)
{
    FS_TRY(fs_cpu_ensure_col(m, fs_cpu_fir_tmp_floats(fir)));
    ufd_ctx c = {.fir = fir, .x = x, .y = y, .h = h, .w = w, .m = m};
    fs_pool_run(m->pool, nc, ufd_task, &c);
    return FS_OK;
}

fs_status fs_cpu_upfirdn2d_plan(const fs_upfirdn2d_args *a, fs_plan *p)
{
    p->h = a->h;
    p->w = a->w;
    p->up = a->up;
    p->k = a->down;
    return fs_cpu_fir_plan(&p->fir, a->h, a->w, a->up, a->down, a->pad0, a->pad1, a->fir,
                           a->fir_len, a->gain);
}

fs_status fs_cpu_upfirdn2d(fs_backend *b, const fs_upfirdn2d_args *a)
{
    fs_cpu *m = fs_cpu_of(b);
    if (a->plan) {
        FS_TRY(fs_cpu_plan_check(a->plan, FS_OP_UPFIRDN2D, 0, 0, a->down, a->h, a->w, a->up));
        return fs_cpu_upfirdn2d_run(m, a->plan->fir, a->x, a->y, a->nc, a->h, a->w);
    }
    fs_cpu_fir *fir;
    FS_TRY(fs_cpu_fir_plan(&fir, a->h, a->w, a->up, a->down, a->pad0, a->pad1, a->fir,
                           a->fir_len, a->gain));
    fs_status s = fs_cpu_upfirdn2d_run(m, fir, a->x, a->y, a->nc, a->h, a->w);
    fs_cpu_fir_free(fir);
    return s;
}
