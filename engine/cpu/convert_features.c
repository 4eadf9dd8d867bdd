/* Feature maps between the storage formats of backend.h fs_feat_format on the
 * CPU: float32 NCHW and the 16-bit NHWC formats a CUDA v2 backend keeps its
 * fp16/bf16 layers in (docs/precision.md §1). All nine pairs: the same format
 * is a copy, a change of layout transposes, and a change to a 16-bit format
 * rounds once to nearest even (from a 16-bit source the value is exact in
 * float32 first, so fp16 -> bf16 is one rounding too). Also the scalar
 * conversions the other emulated ops share. */
#include <string.h>

#include "cpu_internal.h"
#include "../dtype.h"

uint16_t fs_cpu_feat_round(fs_feat_format f, float v)
{
    return f == FS_FEAT_BF16_NHWC ? fs_f32_to_bf16(v) : fs_f32_to_f16(v);
}

float fs_cpu_feat_value(fs_feat_format f, uint16_t h)
{
    return f == FS_FEAT_BF16_NHWC ? fs_bf16_to_f32(h) : fs_f16_to_f32(h);
}

static int valid_format(fs_feat_format f)
{
    return f == FS_FEAT_F32_NCHW || f == FS_FEAT_F16_NHWC || f == FS_FEAT_BF16_NHWC;
}

/* Pixels per block of a layout change. */
#define PIX 32

typedef struct {
    const fs_convert_features_args *a;
} cf_ctx;

/* Element (c, p) of sample s of x as float32. */
static float load(const fs_convert_features_args *a, size_t s, size_t c, size_t p)
{
    size_t nc = (size_t)a->c, hw = a->hw;
    if (a->xfmt == FS_FEAT_F32_NCHW)
        return ((const float *)a->x)[(s * nc + c) * hw + p];
    return fs_cpu_feat_value(a->xfmt, ((const uint16_t *)a->x)[(s * hw + p) * nc + c]);
}

/* One sample per task: the planes are independent and a sample is large
 * enough (c x hw) to keep the pool's overhead small. */
static void cf_task(void *ctx, int s, int worker)
{
    const fs_convert_features_args *a = ((cf_ctx *)ctx)->a;
    size_t nc = (size_t)a->c, hw = a->hw, len = nc * hw;
    if (a->xfmt == a->yfmt) {
        size_t es = a->xfmt == FS_FEAT_F32_NCHW ? sizeof(float) : sizeof(uint16_t);
        memcpy((char *)a->y + (size_t)s * len * es, (const char *)a->x + (size_t)s * len * es,
               len * es);
        return;
    }
    /* blocks of PIX pixels, channels outer within a block: NCHW runs and
     * NHWC rows both stay in cache whichever side is which */
    for (size_t pb = 0; pb < hw; pb += PIX) {
        size_t pe = pb + PIX < hw ? pb + PIX : hw;
        if (a->yfmt == FS_FEAT_F32_NCHW) {
            float *y = (float *)a->y + (size_t)s * len;
            for (size_t c = 0; c < nc; c++)
                for (size_t p = pb; p < pe; p++)
                    y[c * hw + p] = load(a, (size_t)s, c, p);
        } else {
            uint16_t *y = (uint16_t *)a->y + (size_t)s * len;
            for (size_t c = 0; c < nc; c++)
                for (size_t p = pb; p < pe; p++)
                    y[p * nc + c] = fs_cpu_feat_round(a->yfmt, load(a, (size_t)s, c, p));
        }
    }
}

fs_status fs_cpu_convert_features(fs_backend *b, const fs_convert_features_args *a)
{
    if (!valid_format(a->xfmt) || !valid_format(a->yfmt))
        return fs_error(FS_ERR_ARG, "cpu convert_features: unknown format (%d -> %d)",
                        (int)a->xfmt, (int)a->yfmt);
    if (a->n < 0 || a->c < 0)
        return fs_error(FS_ERR_ARG, "cpu convert_features: %d samples of %d channels", a->n,
                        a->c);
    if (a->x == a->y && a->n > 0 && a->c > 0 && a->hw > 0)
        return fs_error(FS_ERR_ARG, "cpu convert_features: y may not be x");
    cf_ctx c = {a};
    fs_pool_run(fs_cpu_of(b)->pool, a->n, cf_task, &c);
    return FS_OK;
}
