/* The CPU backend's blend op: domain mixup's pixel blend of image pairs
 * (backend.h fs_blend_args), y = u8(w a + (1 - w) b) with the float32
 * roundings the CUDA kernel (kernels/blend.cu) makes too, so both backends
 * write the same bytes. Threaded over spans of each pair. */
#include "cpu_internal.h"

/* Each product and the sum must be rounded on their own, as the kernel's
 * __fmul_rn / __fadd_rn are: no contraction into an FMA. */
#pragma GCC optimize("fp-contract=off")

/* Bytes per task: large enough that the pool's hand-out is noise. */
#define BLEND_SPAN 65536

static uint8_t blend_one(uint8_t a, uint8_t b, float wa, float wb)
{
    float p = (float)a * wa;
    float q = (float)b * wb;
    float v = p + q;
    v = v + 0.5f;
    if (!(v > 0.0f)) /* also NaN, from a NaN weight */
        return 0;
    if (v >= 255.0f)
        return 255;
    return (uint8_t)v;
}

typedef struct {
    const fs_blend_args *a;
    size_t spans; /* per pair */
} blend_ctx;

static void blend_task(void *vctx, int task, int worker)
{
    (void)worker;
    const blend_ctx *t = vctx;
    const fs_blend_args *a = t->a;
    size_t s = (size_t)task / t->spans, j0 = (size_t)task % t->spans * BLEND_SPAN;
    size_t j1 = j0 + BLEND_SPAN < a->len ? j0 + BLEND_SPAN : a->len;
    float wa = a->w[s], wb = 1.0f - wa;
    const uint8_t *pa = a->a + s * a->len, *pb = a->b + s * a->len;
    uint8_t *py = a->y + s * a->len;
    for (size_t j = j0; j < j1; j++)
        py[j] = blend_one(pa[j], pb[j], wa, wb);
}

fs_status fs_cpu_blend(fs_backend *b, const fs_blend_args *a)
{
    if (a->n < 0)
        return fs_error(FS_ERR_ARG, "cpu blend: %d pairs", a->n);
    if (a->n == 0 || a->len == 0)
        return FS_OK;
    size_t spans = (a->len + BLEND_SPAN - 1) / BLEND_SPAN;
    if (spans > 0x7fffffff / (size_t)a->n)
        return fs_error(FS_ERR_LIMIT, "cpu blend: %d pairs of %zu bytes", a->n, a->len);
    blend_ctx t = {.a = a, .spans = spans};
    fs_pool_run(fs_cpu_of(b)->pool, (int)(spans * (size_t)a->n), blend_task, &t);
    return FS_OK;
}
