/* JPEG encoding into memory with libjpeg (image_jpeg_write.h). libjpeg
 * reports errors through error_exit, which must not return: it longjmps back
 * to the one setjmp in encode(), which frees what the encoder holds. The
 * output buffer is libjpeg-turbo's jpeg_mem_dest (malloc'd by the library,
 * grown as needed), handed to the caller as is. */
#include "image_jpeg_write.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_werr;

static void on_error(j_common_ptr c)
{
    jpeg_werr *e = (jpeg_werr *)c->err;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jump, 1);
}

static void on_message(j_common_ptr c, int level)
{
    (void)c; /* an encoder's warnings say nothing about our output */
    (void)level;
}

/* The variables setjmp must keep live across the longjmp are in *buf and
 * *size (memory the compiler cannot cache in registers). */
static int encode(struct jpeg_compress_struct *c, jpeg_werr *e, const uint8_t *pix, int w, int h,
                  int channels, int quality, unsigned char **buf, unsigned long *size)
{
    if (setjmp(e->jump))
        return 0;
    jpeg_create_compress(c);
    jpeg_mem_dest(c, buf, size);
    c->image_width = (JDIMENSION)w;
    c->image_height = (JDIMENSION)h;
    c->input_components = channels;
    c->in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(c);
    jpeg_set_quality(c, quality, TRUE);
    jpeg_start_compress(c, TRUE);
    size_t stride = (size_t)w * channels;
    while (c->next_scanline < c->image_height) {
        JSAMPROW row = (JSAMPROW)(pix + (size_t)c->next_scanline * stride);
        jpeg_write_scanlines(c, &row, 1);
    }
    jpeg_finish_compress(c);
    return 1;
}

fs_status fs_jpeg_encode(const uint8_t *pixels, int w, int h, int channels, int quality,
                         uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (!pixels || w < 1 || h < 1 || w > 65500 || h > 65500 || (channels != 1 && channels != 3))
        return fs_error(FS_ERR_ARG, "JPEG: cannot encode a %dx%d image with %d channels (1 or 3, "
                        "at most 65500 pixels a side)", w, h, channels);
    if (quality < 1 || quality > 100)
        return fs_error(FS_ERR_ARG, "JPEG: quality %d is not from 1 to 100", quality);
    struct jpeg_compress_struct c;
    jpeg_werr e;
    memset(&c, 0, sizeof c);
    memset(&e, 0, sizeof e);
    c.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = on_error;
    e.mgr.emit_message = on_message;
    unsigned char *buf = NULL;
    unsigned long size = 0;
    int ok = encode(&c, &e, pixels, w, h, channels, quality, &buf, &size);
    jpeg_destroy_compress(&c);
    if (!ok) {
        free(buf);
        return fs_error(FS_ERR_IO, "JPEG: cannot encode: %s", e.msg);
    }
    *out = buf;
    *len = (size_t)size;
    return FS_OK;
}
