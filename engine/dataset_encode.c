/* Image encoding for the dataset writers (dataset.h fs_ds_encode): PNG into
 * memory with libpng, with exactly the settings of image_io.c's file writer
 * (8-bit, no interlace, libpng's default filters and zlib level), so a
 * dataset's PNG of some pixels has the same bytes as `generate` writes for
 * them; JPEG through image_jpeg_write.c. Thread-safe: each call has its own
 * encoder, and libpng errors come back through the call's own jump buffer. */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "image_jpeg_write.h"

typedef struct {
    uint8_t *p;
    size_t len, cap;
    int oom;
    char msg[160];
} png_mem;

static void on_error(png_structp png, png_const_charp msg)
{
    png_mem *m = png_get_error_ptr(png);
    snprintf(m->msg, sizeof m->msg, "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void mem_write(png_structp png, png_bytep data, size_t n)
{
    png_mem *m = png_get_io_ptr(png);
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 65536;
        while (cap < m->len + n)
            cap *= 2;
        uint8_t *p = realloc(m->p, cap);
        if (!p) {
            m->oom = 1;
            png_error(png, "out of memory");
        }
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->len, data, n);
    m->len += n;
}

static void mem_flush(png_structp png) { (void)png; }

static int encode_png(png_structp png, png_infop info, const uint8_t *hwc, int w, int h,
                      int channels)
{
    static const int color_type[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                      PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    if (setjmp(png_jmpbuf(png)))
        return 0;
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, color_type[channels],
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = (size_t)w * channels;
    for (int y = 0; y < h; y++)
        png_write_row(png, hwc + (size_t)y * stride);
    png_write_end(png, NULL);
    return 1;
}

fs_status fs_png_encode(const uint8_t *hwc, int w, int h, int channels, uint8_t **out,
                        size_t *len)
{
    *out = NULL;
    *len = 0;
    if (!hwc || channels < 1 || channels > 4 || w < 1 || h < 1 || w > PNG_USER_WIDTH_MAX ||
        h > PNG_USER_HEIGHT_MAX)
        return fs_error(FS_ERR_ARG, "PNG: cannot encode a %dx%d image with %d channels", w, h,
                        channels);
    png_mem m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &m, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return fs_error(FS_ERR_NOMEM, "PNG: out of memory for the encoder");
    }
    png_set_write_fn(png, &m, mem_write, mem_flush);
    int ok = encode_png(png, info, hwc, w, h, channels);
    png_destroy_write_struct(&png, &info);
    if (!ok) {
        free(m.p);
        return m.oom ? fs_error(FS_ERR_NOMEM, "PNG: out of memory")
                     : fs_error(FS_ERR_IO, "PNG: cannot encode: %s", m.msg);
    }
    *out = m.p;
    *len = m.len;
    return FS_OK;
}

fs_status fs_ds_encode(fs_ds_image type, int quality, const uint8_t *pixels, int w, int h,
                       int channels, uint8_t **out, size_t *len)
{
    if (type == FS_DS_JPEG)
        return fs_jpeg_encode(pixels, w, h, channels, quality, out, len);
    return fs_png_encode(pixels, w, h, channels, out, len);
}
