/* Float <-> uint8 image conversion and PNG files through libpng (see
 * image_io.h). libpng reports errors by longjmp; each setjmp lives in a small
 * function whose locals are never modified after it, and everything that
 * needs cleaning up is reached through a state struct owned by the caller,
 * so no variable can be clobbered by the jump. */
#include "image_io.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

uint8_t fs_image_f32_to_u8(float x)
{
    /* Two separate float32 roundings, as torch does them in two kernels:
     * the statements keep the compiler from fusing them into one FMA (ISO C
     * mode, -ffp-contract=off under gcc; clang contracts only within one
     * expression). */
    float t = x * 127.5f;
    t = t + 128.0f;
    if (!(t > 0.0f)) /* also NaN */
        return 0;
    if (t >= 255.0f)
        return 255;
    return (uint8_t)t; /* truncation toward zero */
}

void fs_image_nchw_f32_to_nhwc_u8(const float *img, int n, int c, int h, int w, uint8_t *out)
{
    size_t plane = (size_t)h * w;
    for (int i = 0; i < n; i++) {
        const float *src = img + (size_t)i * c * plane;
        uint8_t *dst = out + (size_t)i * c * plane;
        for (size_t p = 0; p < plane; p++)
            for (int ch = 0; ch < c; ch++)
                dst[p * c + ch] = fs_image_f32_to_u8(src[ch * plane + p]);
    }
}

void fs_image_hwc_u8_to_chw_f32(const uint8_t *hwc, int h, int w, int c, float *chw)
{
    size_t plane = (size_t)h * w;
    for (size_t p = 0; p < plane; p++)
        for (int ch = 0; ch < c; ch++) {
            float t = (float)hwc[p * c + ch] / 127.5f;
            chw[ch * plane + p] = t - 1.0f;
        }
}

/* ---- libpng plumbing ---- */

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

static void on_warning(png_structp png, png_const_charp msg)
{
    /* Warnings (unknown ancillary chunks, bad gamma values) do not affect
     * the pixels we produce or read. */
    (void)png;
    (void)msg;
}

/* ---- writing ---- */

static int write_png(png_structp png, png_infop info, FILE *fp, const uint8_t *hwc, int w, int h,
                     int channels)
{
    static const int color_type[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                      PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    if (setjmp(png_jmpbuf(png)))
        return 0;
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, color_type[channels],
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = (size_t)w * channels;
    for (int y = 0; y < h; y++)
        png_write_row(png, hwc + (size_t)y * stride);
    png_write_end(png, NULL);
    return 1;
}

fs_status fs_png_write_rgb8(const char *path, const uint8_t *hwc, int w, int h, int channels)
{
    if (!path || !hwc)
        return fs_error(FS_ERR_ARG, "fs_png_write_rgb8: NULL argument");
    if (channels < 1 || channels > 4 || w <= 0 || h <= 0 || w > PNG_USER_WIDTH_MAX ||
        h > PNG_USER_HEIGHT_MAX)
        return fs_error(FS_ERR_ARG, "%s: cannot write a %dx%d PNG with %d channels", path, w, h,
                        channels);
    fs_out_file f;
    FS_TRY(fs_out_file_open(path, &f));
    png_err err = {"", 0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        fs_out_file_abort(&f);
        return fs_error(FS_ERR_NOMEM, "%s: out of memory for the PNG encoder", path);
    }
    int ok = write_png(png, info, f.fp, hwc, w, h, channels);
    png_destroy_write_struct(&png, &info);
    if (!ok) {
        fs_out_file_abort(&f);
        return fs_error(FS_ERR_IO, "%s: cannot write PNG: %s", path, err.msg);
    }
    /* Flush, fsync, close and rename, each checked; removes the temporary
     * file on failure. */
    return fs_out_file_commit(&f);
}

/* ---- reading ---- */

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
    uint8_t *pix;
    png_bytep *rows;
    int w, h;
} decode_state;

static int decode_png(png_structp png, png_infop info, png_err *err, decode_state *st)
{
    if (setjmp(png_jmpbuf(png)))
        return 0;
    png_set_user_limits(png, FS_PNG_MAX_DIM, FS_PNG_MAX_DIM);
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, type, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &type, &interlace, NULL, NULL);
    png_set_expand(png); /* palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha */
    png_set_scale_16(png);
    png_set_strip_alpha(png);
    png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8 ||
        png_get_rowbytes(png, info) != (size_t)w * 3)
        png_error(png, "unexpected layout after conversion to 8-bit RGB");
    /* w, h <= FS_PNG_MAX_DIM: the products below cannot overflow */
    st->pix = malloc((size_t)w * h * 3);
    st->rows = malloc((size_t)h * sizeof *st->rows);
    if (!st->pix || !st->rows) {
        err->nomem = 1;
        png_error(png, "out of memory");
    }
    for (png_uint_32 y = 0; y < h; y++)
        st->rows[y] = st->pix + (size_t)y * w * 3;
    png_read_image(png, st->rows);
    png_read_end(png, NULL);
    st->w = (int)w;
    st->h = (int)h;
    return 1;
}

fs_status fs_png_decode_rgb(const uint8_t *buf, size_t len, const char *label, uint8_t **rgb,
                            int *w, int *h)
{
    *rgb = NULL;
    *w = *h = 0;
    if (!buf || len < 8 || png_sig_cmp(buf, 0, 8) != 0)
        return fs_error(FS_ERR_FORMAT, "%s: not a PNG file", label);
    /* Our size limit, named before libpng sees the header: past its user
     * limits libpng says only "Invalid IHDR data". The IHDR chunk comes
     * first: length 13, "IHDR", then width and height, big-endian. */
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
    decode_state st = {NULL, NULL, 0, 0};
    int ok = decode_png(png, info, &err, &st);
    png_destroy_read_struct(&png, &info, NULL);
    free(st.rows);
    if (!ok) {
        free(st.pix);
        if (err.nomem)
            return fs_error(FS_ERR_NOMEM, "%s: out of memory decoding the PNG", label);
        return fs_error(FS_ERR_FORMAT, "%s: bad PNG: %s", label, err.msg);
    }
    *rgb = st.pix;
    *w = st.w;
    *h = st.h;
    return FS_OK;
}

fs_status fs_png_read_rgb(const char *path, uint8_t **rgb, int *w, int *h)
{
    *rgb = NULL;
    fs_file_map m;
    FS_TRY(fs_file_map_open(path, &m));
    fs_status s = fs_png_decode_rgb(m.data, m.size, path, rgb, w, h);
    fs_file_map_close(&m);
    return s;
}
