/* JPEG decoding with libjpeg (image_jpeg.h). libjpeg reports errors through
 * error_exit, which must not return: it longjmps back to the one setjmp in
 * decode(), and the caller frees what was allocated. Of its warnings, a
 * premature end of the data is an error here (libjpeg would pad the image
 * with grey; Pillow refuses a truncated file); other warnings, such as
 * extraneous bytes between markers, are ignored as Pillow ignores them. */
#include "image_jpeg.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "image_io.h"

int fs_jpeg_sniff(const uint8_t *buf, size_t len)
{
    return len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF;
}

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
    int limit; /* the size cap, not a libjpeg error */
    int nomem;
} jpeg_err;

static void on_error(j_common_ptr c)
{
    jpeg_err *e = (jpeg_err *)c->err;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jump, 1);
}

static void on_message(j_common_ptr c, int level)
{
    /* level -1: a warning about corrupt data */
    if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF)
        on_error(c);
}

typedef struct {
    uint8_t *pix;
    uint8_t *row; /* one scanline of the decoder's output */
    int w, h;
} jpeg_out;

/* CMYK as Pillow converts it (cmyk2rgb, with MULDIV255(a, b) =
 * ((a b + 128) >> 8 + a b + 128) >> 8), from un-inverted values. */
static uint8_t cmyk_channel(int c, int k)
{
    int nk = 255 - k, t = c * nk + 128;
    int v = nk - (((t >> 8) + t) >> 8);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static int decode(struct jpeg_decompress_struct *d, jpeg_err *e, const uint8_t *buf, size_t len,
                  jpeg_out *o)
{
    if (setjmp(e->jump))
        return 0;
    jpeg_create_decompress(d);
    jpeg_mem_src(d, buf, (unsigned long)len);
    jpeg_read_header(d, TRUE);
    if (d->image_width > FS_PNG_MAX_DIM || d->image_height > FS_PNG_MAX_DIM) {
        e->limit = 1;
        snprintf(e->msg, sizeof e->msg, "JPEG of %ux%u pixels: larger than the limit of %dx%d",
                 (unsigned)d->image_width, (unsigned)d->image_height, FS_PNG_MAX_DIM,
                 FS_PNG_MAX_DIM);
        return 0;
    }
    int cmyk = d->jpeg_color_space == JCS_CMYK || d->jpeg_color_space == JCS_YCCK;
    d->out_color_space = cmyk ? JCS_CMYK : JCS_RGB; /* gray -> RGB copies the channel */
    jpeg_start_decompress(d);
    int comps = d->output_components;
    if ((cmyk && comps != 4) || (!cmyk && comps != 3)) {
        snprintf(e->msg, sizeof e->msg, "unexpected %d output components", comps);
        return 0;
    }
    o->w = (int)d->output_width;
    o->h = (int)d->output_height;
    /* sides <= FS_PNG_MAX_DIM: no overflow */
    o->pix = malloc((size_t)o->w * o->h * 3);
    o->row = malloc((size_t)o->w * comps);
    if (!o->pix || !o->row) {
        e->nomem = 1;
        return 0;
    }
    while (d->output_scanline < d->output_height) {
        size_t y = d->output_scanline;
        JSAMPROW rows[1] = {o->row};
        if (jpeg_read_scanlines(d, rows, 1) != 1) {
            snprintf(e->msg, sizeof e->msg, "cannot read scanline %zu", y);
            return 0;
        }
        uint8_t *out = o->pix + y * (size_t)o->w * 3;
        if (!cmyk) {
            memcpy(out, o->row, (size_t)o->w * 3);
            continue;
        }
        for (int x = 0; x < o->w; x++) {
            const uint8_t *p = o->row + (size_t)x * 4;
            /* Pillow reads 4-channel JPEGs as Adobe-inverted ("CMYK;I") */
            int k = 255 - p[3];
            for (int ch = 0; ch < 3; ch++)
                out[x * 3 + ch] = cmyk_channel(255 - p[ch], k);
        }
    }
    jpeg_finish_decompress(d);
    return 1;
}

fs_status fs_jpeg_decode_rgb(const uint8_t *buf, size_t len, const char *label, uint8_t **rgb,
                             int *w, int *h)
{
    *rgb = NULL;
    *w = *h = 0;
    if (!buf || !fs_jpeg_sniff(buf, len))
        return fs_error(FS_ERR_FORMAT, "%s: not a JPEG file", label);
    struct jpeg_decompress_struct d;
    memset(&d, 0, sizeof d);
    jpeg_err e;
    memset(&e, 0, sizeof e);
    d.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = on_error;
    e.mgr.emit_message = on_message;
    jpeg_out o = {NULL, NULL, 0, 0};
    int ok = decode(&d, &e, buf, len, &o);
    jpeg_destroy_decompress(&d);
    free(o.row);
    if (!ok) {
        free(o.pix);
        if (e.nomem)
            return fs_error(FS_ERR_NOMEM, "%s: out of memory decoding the JPEG", label);
        if (e.limit)
            return fs_error(FS_ERR_LIMIT, "%s: %s", label, e.msg);
        return fs_error(FS_ERR_FORMAT, "%s: bad JPEG: %s", label, e.msg);
    }
    *rgb = o.pix;
    *w = o.w;
    *h = o.h;
    return FS_OK;
}
