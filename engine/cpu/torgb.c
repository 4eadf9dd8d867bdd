/* The fused ToRGB + skip op (backend.h fs_torgb_args) on the CPU
 * (docs/precision.md §4): the 1x1 modulated conv without demodulation, bias
 * and clamp, plus the official 2x FIR up-sampling of the previous image, all
 * in float32 whatever the features' format. 16-bit features are widened to
 * float32 NCHW first (exact), then the op runs the same modconv and
 * upfirdn2d code as the float32 generator's ToRGB, skip up-sampling and sum,
 * so on F32_NCHW features its image is that path's, bit for bit. */
#include <stdlib.h>

#include "cpu_internal.h"

fs_status fs_cpu_torgb(fs_backend *b, const fs_torgb_args *a)
{
    if (a->fmt != FS_FEAT_F32_NCHW && a->fmt != FS_FEAT_F16_NHWC && a->fmt != FS_FEAT_BF16_NHWC)
        return fs_error(FS_ERR_ARG, "cpu torgb: unknown feature format %d", (int)a->fmt);
    if (a->n <= 0 || a->cin <= 0 || a->cout <= 0 || a->h <= 0 || a->w <= 0)
        return fs_error(FS_ERR_ARG, "cpu torgb: shape n%d %d->%d %dx%d", a->n, a->cin, a->cout,
                        a->h, a->w);
    if ((a->fmt == FS_FEAT_F32_NCHW ? !a->x : !a->x16) || !a->img)
        return fs_error(FS_ERR_ARG, "cpu torgb: no features or no image");
    if (a->img_prev && (a->img_prev == a->img || a->h % 2 || a->w % 2))
        return fs_error(FS_ERR_ARG, "cpu torgb: img_prev is img, or an odd %dx%d image", a->h,
                        a->w);
    size_t hw = (size_t)a->h * a->w, feats = (size_t)a->n * a->cin * hw;
    float *own_x = NULL, *up = NULL;
    const float *x = a->x;
    fs_status st = FS_OK;
    if (a->fmt != FS_FEAT_F32_NCHW) {
        if (!(own_x = malloc(feats * sizeof *own_x)))
            return fs_error(FS_ERR_NOMEM, "cpu torgb: out of memory for %zu features", feats);
        fs_convert_features_args cv = {.xfmt = a->fmt, .yfmt = FS_FEAT_F32_NCHW, .x = a->x16,
                                       .y = own_x, .n = a->n, .c = a->cin, .hw = hw};
        if ((st = fs_cpu_convert_features(b, &cv)) != FS_OK)
            goto done;
        x = own_x;
    }
    fs_modconv_args mc = {
        .x = x, .weight = a->weight, .styles = a->styles, .b = a->b, .y = a->img, .n = a->n,
        .cin = a->cin, .cout = a->cout, .h = a->h, .w = a->w, .k = 1, .up = 1, .demodulate = 0,
        .noise_mode = FS_NOISE_NONE, .act = FS_ACT_LINEAR, .gain = 1.0f, .clamp = a->clamp};
    if ((st = fs_cpu_modconv(b, &mc)) != FS_OK || !a->img_prev)
        goto done;
    size_t len = (size_t)a->n * a->cout * hw;
    if (!(up = malloc(len * sizeof *up))) {
        st = fs_error(FS_ERR_NOMEM, "cpu torgb: out of memory for the skip image");
        goto done;
    }
    fs_upfirdn2d_args ua = {.x = a->img_prev, .y = up, .nc = a->n * a->cout, .h = a->h / 2,
                            .w = a->w / 2, .up = 2, .down = 1, .pad0 = 2, .pad1 = 1,
                            .fir = a->fir, .fir_len = a->fir_len, .gain = 4.0f};
    if ((st = fs_cpu_upfirdn2d(b, &ua)) != FS_OK)
        goto done;
    /* the generator's axpby(img, torgb, 1, 1): up * 1 + t * 1, one rounding */
    st = fs_cpu_axpby(b, up, a->img, len, 1.0f, 1.0f);
    for (size_t i = 0; st == FS_OK && i < len; i++)
        a->img[i] = up[i];
done:
    free(own_x);
    free(up);
    return st;
}
