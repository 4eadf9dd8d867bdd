/* Pillow-exact image input for e4e (image_pil.h): PNG decoding with Pillow's
 * colour conversions, the BILINEAR resample, the tensor transform. libpng
 * reports errors by longjmp; the one setjmp lives in decode(). */
#include "image_pil.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "image_io.h"
#include "image_jpeg.h"

/* ---- PNG ---------------------------------------------------------------------------- */

typedef struct {
    char msg[160];
    int nomem;
} png_err;

static void on_error(png_structp png, png_const_charp msg)
{
    png_err *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}

/* Warnings (unknown chunks, odd gamma values) do not change the pixels. */
static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

typedef struct {
    const uint8_t *data;
    size_t len, pos;
} mem_src;

static void mem_read(png_structp png, png_bytep out, size_t n)
{
    mem_src *m = png_get_io_ptr(png);
    if (n > m->len - m->pos)
        png_error(png, "file is truncated");
    memcpy(out, m->data + m->pos, n);
    m->pos += n;
}

typedef struct {
    uint8_t *pix, *raw;
    png_bytep *rows;
    int w, h;
} png_out;

static int decode(png_structp png, png_infop info, png_err *err, png_out *o)
{
    if (setjmp(png_jmpbuf(png)))
        return 0;
    png_set_user_limits(png, FS_PNG_MAX_DIM, FS_PNG_MAX_DIM);
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, type, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &type, &interlace, NULL, NULL);
    /* Pillow opens 16-bit gray as 32-bit integers ("I") and clips them to
     * 0..255 in convert('RGB'): read the samples whole */
    int gray16 = type == PNG_COLOR_TYPE_GRAY && depth == 16;
    if (type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16 && !gray16)
        png_set_strip_16(png); /* the high byte, as Pillow's ";16B" unpackers */
    png_set_strip_alpha(png);
    if (!gray16 && (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA))
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int want_ch = gray16 ? 1 : 3, want_depth = gray16 ? 16 : 8;
    size_t row = (size_t)w * want_ch * (want_depth / 8);
    if (png_get_channels(png, info) != want_ch || png_get_bit_depth(png, info) != want_depth ||
        png_get_rowbytes(png, info) != row)
        png_error(png, "unexpected layout after the conversion to RGB");
    /* w, h <= FS_PNG_MAX_DIM: the products cannot overflow */
    o->pix = malloc((size_t)w * h * 3);
    o->raw = gray16 ? malloc(row * h) : NULL;
    o->rows = malloc((size_t)h * sizeof *o->rows);
    if (!o->pix || !o->rows || (gray16 && !o->raw)) {
        err->nomem = 1;
        png_error(png, "out of memory");
    }
    uint8_t *base = gray16 ? o->raw : o->pix;
    for (png_uint_32 y = 0; y < h; y++)
        o->rows[y] = base + (size_t)y * row;
    png_read_image(png, o->rows);
    png_read_end(png, NULL);
    if (gray16)
        for (size_t p = 0; p < (size_t)w * h; p++) {
            unsigned v = (unsigned)o->raw[2 * p] << 8 | o->raw[2 * p + 1]; /* big-endian */
            uint8_t c = (uint8_t)(v > 255 ? 255 : v);
            o->pix[3 * p] = o->pix[3 * p + 1] = o->pix[3 * p + 2] = c;
        }
    o->w = (int)w;
    o->h = (int)h;
    return 1;
}

fs_status fs_pil_png_decode_rgb(const uint8_t *buf, size_t len, const char *label, uint8_t **rgb,
                                int *w, int *h)
{
    *rgb = NULL;
    *w = *h = 0;
    if (!buf || len < 8 || png_sig_cmp(buf, 0, 8) != 0)
        return fs_error(FS_ERR_FORMAT, "%s: not a PNG file", label);
    /* our limit named before libpng sees the header (past its user limits it
     * says only "Invalid IHDR data"): IHDR comes first, width and height
     * big-endian at offsets 16 and 20 */
    if (len >= 24 && !memcmp(buf + 12, "IHDR", 4)) {
        uint32_t iw = (uint32_t)buf[16] << 24 | (uint32_t)buf[17] << 16 |
                      (uint32_t)buf[18] << 8 | buf[19];
        uint32_t ih = (uint32_t)buf[20] << 24 | (uint32_t)buf[21] << 16 |
                      (uint32_t)buf[22] << 8 | buf[23];
        if (iw > FS_PNG_MAX_DIM || ih > FS_PNG_MAX_DIM)
            return fs_error(FS_ERR_LIMIT, "%s: PNG of %lux%lu pixels: larger than the limit of "
                            "%dx%d", label, (unsigned long)iw, (unsigned long)ih,
                            FS_PNG_MAX_DIM, FS_PNG_MAX_DIM);
    }
    png_err err = {"", 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return fs_error(FS_ERR_NOMEM, "%s: out of memory for the PNG decoder", label);
    }
    mem_src src = {buf, len, 0};
    png_set_read_fn(png, &src, mem_read);
    png_out o = {NULL, NULL, NULL, 0, 0};
    int ok = decode(png, info, &err, &o);
    png_destroy_read_struct(&png, &info, NULL);
    free(o.rows);
    free(o.raw);
    if (!ok) {
        free(o.pix);
        if (err.nomem)
            return fs_error(FS_ERR_NOMEM, "%s: out of memory decoding the PNG", label);
        return fs_error(FS_ERR_FORMAT, "%s: bad PNG: %s", label, err.msg);
    }
    *rgb = o.pix;
    *w = o.w;
    *h = o.h;
    return FS_OK;
}

fs_status fs_pil_read_rgb(const char *path, uint8_t **rgb, int *w, int *h)
{
    *rgb = NULL;
    fs_file_map m;
    FS_TRY(fs_file_map_open(path, &m));
    fs_status s;
    if (m.size >= 8 && png_sig_cmp(m.data, 0, 8) == 0)
        s = fs_pil_png_decode_rgb(m.data, m.size, path, rgb, w, h);
    else if (fs_jpeg_sniff(m.data, m.size))
        s = fs_jpeg_decode_rgb(m.data, m.size, path, rgb, w, h);
    else
        s = fs_error(FS_ERR_FORMAT, "%s: %s", path,
                     m.size ? "neither a PNG nor a JPEG file" : "empty file");
    fs_file_map_close(&m);
    return s;
}

/* ---- Pillow's BILINEAR resample ---------------------------------------------------------- */

#define PIL_PRECISION_BITS (32 - 8 - 2)

/* The taps of one axis, in = source size, out = destination size (Pillow's
 * precompute_coeffs with the box (0, in), then normalize_coeffs_8bpc):
 * output i covers bounds[2i] .. bounds[2i] + bounds[2i + 1] - 1 with the
 * fixed-point weights k[i * ksize ...]. */
typedef struct {
    int ksize;
    int *bounds;
    int32_t *k;
} pil_axis;

static void axis_free(pil_axis *a)
{
    free(a->bounds);
    free(a->k);
}

static fs_status axis_init(pil_axis *a, int in, int out)
{
    memset(a, 0, sizeof *a);
    double scale = (double)in / out, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale; /* the triangle's support is 1 */
    a->ksize = (int)ceil(support) * 2 + 1;
    a->bounds = malloc((size_t)out * 2 * sizeof *a->bounds);
    a->k = malloc((size_t)out * a->ksize * sizeof *a->k);
    double *kk = malloc((size_t)a->ksize * sizeof *kk);
    if (!a->bounds || !a->k || !kk) {
        free(kk);
        axis_free(a);
        return fs_error(FS_ERR_NOMEM, "resize: out of memory for the filter taps");
    }
    for (int xx = 0; xx < out; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        xmin = xmin < 0 ? 0 : xmin;
        xmax = (xmax > in ? in : xmax) - xmin;
        for (int x = 0; x < xmax; x++) {
            double t = (x + xmin - center + 0.5) * ss;
            double w = fabs(t) < 1.0 ? 1.0 - fabs(t) : 0.0;
            kk[x] = w;
            ww += w;
        }
        for (int x = 0; x < a->ksize; x++) {
            double v = x < xmax ? (ww != 0.0 ? kk[x] / ww : kk[x]) : 0.0;
            a->k[(size_t)xx * a->ksize + x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PIL_PRECISION_BITS))
                                                    : (int32_t)(0.5 + v * (1 << PIL_PRECISION_BITS));
        }
        a->bounds[2 * xx] = xmin;
        a->bounds[2 * xx + 1] = xmax;
    }
    free(kk);
    return FS_OK;
}

static uint8_t clip8(int32_t v)
{
    if (v >= (1 << PIL_PRECISION_BITS << 8))
        return 255;
    if (v <= 0)
        return 0;
    return (uint8_t)(v >> PIL_PRECISION_BITS);
}

fs_status fs_pil_resize_bilinear_rgb8(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw,
                                      int dh)
{
    if (sw < 1 || sh < 1 || dw < 1 || dh < 1 || sw > 65536 || sh > 65536 || dw > 65536 ||
        dh > 65536)
        return fs_error(FS_ERR_ARG, "resize: %dx%d -> %dx%d", sw, sh, dw, dh);
    if (sw == dw && sh == dh) {
        memcpy(dst, src, (size_t)sw * sh * 3);
        return FS_OK;
    }
    pil_axis ax = {0}, ay = {0};
    fs_status s = axis_init(&ax, sw, dw);
    if (s == FS_OK)
        s = axis_init(&ay, sh, dh);
    /* Pillow runs the horizontal pass only over the source rows the
     * vertical pass reads (and skips a pass whose size does not change) */
    int y_first = ay.bounds ? ay.bounds[0] : 0;
    int y_last = ay.bounds ? ay.bounds[2 * (dh - 1)] + ay.bounds[2 * (dh - 1) + 1] : 0;
    int need_h = sw != dw, need_v = sh != dh;
    uint8_t *tmp = NULL;
    if (s == FS_OK && need_h && need_v &&
        !(tmp = malloc((size_t)dw * (y_last - y_first) * 3)))
        s = fs_error(FS_ERR_NOMEM, "resize: out of memory");
    if (s != FS_OK) {
        axis_free(&ax);
        axis_free(&ay);
        return s;
    }
    const uint8_t *vin = src;
    int vin_w = sw, y_off = 0;
    if (need_h) {
        uint8_t *hout = need_v ? tmp : dst;
        int r0 = need_v ? y_first : 0, r1 = need_v ? y_last : sh;
        for (int y = r0; y < r1; y++) {
            const uint8_t *row = src + (size_t)y * sw * 3;
            uint8_t *o = hout + (size_t)(y - r0) * dw * 3;
            for (int xx = 0; xx < dw; xx++) {
                int xmin = ax.bounds[2 * xx], xmax = ax.bounds[2 * xx + 1];
                const int32_t *k = ax.k + (size_t)xx * ax.ksize;
                int32_t s0 = 1 << (PIL_PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int x = 0; x < xmax; x++) {
                    const uint8_t *p = row + (size_t)(x + xmin) * 3;
                    s0 += p[0] * k[x];
                    s1 += p[1] * k[x];
                    s2 += p[2] * k[x];
                }
                o[xx * 3] = clip8(s0);
                o[xx * 3 + 1] = clip8(s1);
                o[xx * 3 + 2] = clip8(s2);
            }
        }
        vin = hout;
        vin_w = dw;
        y_off = r0;
    }
    if (need_v) {
        for (int yy = 0; yy < dh; yy++) {
            int ymin = ay.bounds[2 * yy] - y_off, ymax = ay.bounds[2 * yy + 1];
            const int32_t *k = ay.k + (size_t)yy * ay.ksize;
            uint8_t *o = dst + (size_t)yy * vin_w * 3;
            for (int xx = 0; xx < vin_w; xx++) {
                int32_t s0 = 1 << (PIL_PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int y = 0; y < ymax; y++) {
                    const uint8_t *p = vin + ((size_t)(y + ymin) * vin_w + xx) * 3;
                    s0 += p[0] * k[y];
                    s1 += p[1] * k[y];
                    s2 += p[2] * k[y];
                }
                o[xx * 3] = clip8(s0);
                o[xx * 3 + 1] = clip8(s1);
                o[xx * 3 + 2] = clip8(s2);
            }
        }
    }
    free(tmp);
    axis_free(&ax);
    axis_free(&ay);
    return FS_OK;
}

/* ---- the tensor transform ------------------------------------------------------------- */

void fs_pil_rgb_to_l(const uint8_t *rgb, size_t npix, uint8_t *l)
{
    for (size_t i = 0; i < npix; i++) {
        const uint8_t *p = rgb + 3 * i;
        l[i] = (uint8_t)(((uint32_t)p[0] * 19595u + (uint32_t)p[1] * 38470u +
                          (uint32_t)p[2] * 7471u + 0x8000u) >> 16);
    }
}

void fs_pil_normalize_chw(const uint8_t *rgb, int w, int h, float *chw)
{
    size_t plane = (size_t)w * h;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < 3; c++) {
            float t = (float)rgb[p * 3 + c] / 255.0f; /* ToTensor */
            t = t - 0.5f;                              /* Normalize: (t - mean) / std */
            chw[c * plane + p] = t / 0.5f;
        }
}

fs_status fs_pil_load_transformed(const char *path, int r, float *chw)
{
    uint8_t *rgb = NULL, *sized = NULL;
    int w, h;
    FS_TRY(fs_pil_read_rgb(path, &rgb, &w, &h));
    fs_status s = FS_OK;
    if (!(sized = malloc((size_t)r * r * 3)))
        s = fs_error(FS_ERR_NOMEM, "%s: out of memory", path);
    if (s == FS_OK)
        s = fs_pil_resize_bilinear_rgb8(rgb, w, h, sized, r, r);
    if (s == FS_OK)
        fs_pil_normalize_chw(sized, r, r, chw);
    free(rgb);
    free(sized);
    return s;
}
