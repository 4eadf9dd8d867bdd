/* upfirdn2d on the CPU: one FIR plan per call, planes spread over the workers. */
#include "fir_plan.h"
#include "cpu_internal.h"

typedef struct {
    const fs_upfirdn2d_args *a;
    const fs_cpu_fir *plan;
    fs_cpu *m;
} ufd_ctx;

static void ufd_task(void *ctx, int t, int worker)
{
    ufd_ctx *c = ctx;
    const fs_upfirdn2d_args *a = c->a;
    size_t out = (size_t)fs_cpu_fir_out_h(c->plan) * fs_cpu_fir_out_w(c->plan);
    fs_cpu_fir_run(c->plan, a->x + (size_t)t * a->h * a->w, a->y + (size_t)t * out,
                   c->m->col[worker]);
}

fs_status fs_cpu_upfirdn2d(fs_backend *b, const fs_upfirdn2d_args *a)
{
    fs_cpu *m = fs_cpu_of(b);
    fs_cpu_fir *plan;
    FS_TRY(fs_cpu_fir_plan(&plan, a->h, a->w, a->up, a->down, a->pad0, a->pad1, a->fir,
                           a->fir_len, a->gain));
    fs_status s = fs_cpu_ensure_col(m, fs_cpu_fir_tmp_floats(plan));
    if (s == FS_OK) {
        ufd_ctx c = {a, plan, m};
        fs_pool_run(m->pool, a->nc, ufd_task, &c);
    }
    fs_cpu_fir_free(plan);
    return s;
}
