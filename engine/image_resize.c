/* Separable area / bilinear resizing (see image_resize.h). */
#include "image_resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The resampling of one axis as a sparse matrix: output i is
 * sum over t in [first[i], first[i + 1]) of w[t] * src[idx[t]]. */
typedef struct {
    int *first, *idx;
    double *w;
} axis_map;

static void axis_free(axis_map *m)
{
    free(m->first);
    free(m->idx);
    free(m->w);
}

static fs_status axis_build(int s, int d, axis_map *m)
{
    memset(m, 0, sizeof *m);
    /* shrinking: at most floor(s/d) + 2 taps per output; growing: 2 */
    size_t per = s > d ? (size_t)(s / d) + 2 : 2;
    size_t cap = per * (size_t)d;
    m->first = malloc(((size_t)d + 1) * sizeof *m->first);
    m->idx = malloc(cap * sizeof *m->idx);
    m->w = malloc(cap * sizeof *m->w);
    if (!m->first || !m->idx || !m->w) {
        axis_free(m);
        return fs_error(FS_ERR_NOMEM, "resize: out of memory");
    }
    double scale = (double)s / (double)d;
    size_t t = 0;
    for (int i = 0; i < d; i++) {
        m->first[i] = (int)t;
        if (s == d) {
            m->idx[t] = i;
            m->w[t++] = 1.0;
        } else if (s > d) {
            double lo = i * scale, hi = (i + 1) * scale;
            int j0 = (int)floor(lo), j1 = (int)ceil(hi);
            if (j1 > s)
                j1 = s;
            for (int j = j0; j < j1; j++) {
                double a = j > lo ? j : lo, b = j + 1 < hi ? j + 1 : hi;
                if (b > a) {
                    m->idx[t] = j;
                    m->w[t++] = (b - a) / scale;
                }
            }
        } else {
            double x = (i + 0.5) * scale - 0.5;
            if (x < 0)
                x = 0;
            int j0 = (int)floor(x);
            if (j0 > s - 1)
                j0 = s - 1;
            int j1 = j0 + 1 < s ? j0 + 1 : s - 1;
            double f = x - j0;
            m->idx[t] = j0;
            m->w[t++] = 1.0 - f;
            m->idx[t] = j1;
            m->w[t++] = f;
        }
    }
    m->first[d] = (int)t;
    return FS_OK;
}

fs_status fs_image_resize_plane(const float *src, int sw, int sh, float *dst, int dw, int dh)
{
    if (sw < 1 || sh < 1 || dw < 1 || dh < 1 || sw > FS_RESIZE_MAX_DIM ||
        sh > FS_RESIZE_MAX_DIM || dw > FS_RESIZE_MAX_DIM || dh > FS_RESIZE_MAX_DIM)
        return fs_error(FS_ERR_ARG, "resize: sizes %dx%d -> %dx%d out of range 1..%d", sw, sh,
                        dw, dh, FS_RESIZE_MAX_DIM);
    if (sw == dw && sh == dh) {
        memcpy(dst, src, (size_t)sw * sh * sizeof *dst);
        return FS_OK;
    }
    axis_map mx, my;
    FS_TRY(axis_build(sw, dw, &mx));
    fs_status s = axis_build(sh, dh, &my);
    float *tmp = s == FS_OK ? malloc((size_t)sh * dw * sizeof *tmp) : NULL;
    if (s == FS_OK && !tmp)
        s = fs_error(FS_ERR_NOMEM, "resize: out of memory");
    if (s == FS_OK) {
        /* rows first: [sh, sw] -> [sh, dw] */
        for (int y = 0; y < sh; y++) {
            const float *row = src + (size_t)y * sw;
            for (int i = 0; i < dw; i++) {
                double acc = 0;
                for (int t = mx.first[i]; t < mx.first[i + 1]; t++)
                    acc += mx.w[t] * row[mx.idx[t]];
                tmp[(size_t)y * dw + i] = (float)acc;
            }
        }
        /* then columns: [sh, dw] -> [dh, dw] */
        for (int i = 0; i < dh; i++) {
            float *out = dst + (size_t)i * dw;
            for (int x = 0; x < dw; x++) {
                double acc = 0;
                for (int t = my.first[i]; t < my.first[i + 1]; t++)
                    acc += my.w[t] * tmp[(size_t)my.idx[t] * dw + x];
                out[x] = (float)acc;
            }
        }
    }
    free(tmp);
    axis_free(&mx);
    axis_free(&my);
    return s;
}

fs_status fs_image_u8_to_chw_f32_resized(const uint8_t *hwc, int w, int h, int c, float *chw,
                                         int dw, int dh)
{
    if (c < 1 || w < 1 || h < 1 || w > FS_RESIZE_MAX_DIM || h > FS_RESIZE_MAX_DIM)
        return fs_error(FS_ERR_ARG, "resize: bad image %dx%dx%d", w, h, c);
    size_t plane = (size_t)w * h, out_plane = (size_t)dw * dh;
    float *p = malloc(plane * sizeof *p);
    if (!p)
        return fs_error(FS_ERR_NOMEM, "resize: out of memory");
    fs_status s = FS_OK;
    for (int ch = 0; ch < c && s == FS_OK; ch++) {
        for (size_t i = 0; i < plane; i++)
            p[i] = (float)hwc[i * (size_t)c + (size_t)ch];
        float *out = chw + (size_t)ch * out_plane;
        s = fs_image_resize_plane(p, w, h, out, dw, dh);
        for (size_t i = 0; s == FS_OK && i < out_plane; i++) {
            float t = out[i] / 127.5f;
            out[i] = t - 1.0f;
        }
    }
    free(p);
    return s;
}
