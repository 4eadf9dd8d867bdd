/* JPEG input through libjpeg-turbo (Debian's libjpeg62-turbo), decoded to
 * 8-bit RGB as PIL's Image.open(path).convert('RGB') gives it, the way the
 * official e4e inference reads images (docs/e4e.md):
 *   - YCbCr and RGB files: libjpeg's own conversion to RGB with its defaults
 *     (accurate integer IDCT, fancy upsampling), which Pillow also keeps;
 *   - grayscale: the one channel copied to R, G and B;
 *   - CMYK and YCCK: read as Adobe-inverted CMYK (Pillow's assumption for
 *     every 4-channel JPEG), then Pillow's CMYK -> RGB conversion:
 *     R = clip(255 - K' - C' (255 - K') / 255) with the integer rounding of
 *     its MULDIV255 (C', K' the un-inverted values).
 * No EXIF orientation is applied (Image.open does not). JPEG files are
 * untrusted input: the size is capped (FS_PNG_MAX_DIM per side, checked from
 * the header before decoding) and every libjpeg error becomes a status
 * naming the file. */
#ifndef FS_IMAGE_JPEG_H
#define FS_IMAGE_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if buf starts like a JPEG file (SOI marker FF D8 FF). */
int fs_jpeg_sniff(const uint8_t *buf, size_t len);

/* Decodes a JPEG into 8-bit RGB [h, w, 3] (*rgb malloc'd). label names the
 * source in messages. A truncated file is an error, not a grey-padded
 * image. */
fs_status fs_jpeg_decode_rgb(const uint8_t *buf, size_t len, const char *label, uint8_t **rgb,
                             int *w, int *h);

#ifdef __cplusplus
}
#endif
#endif
