/* Images as the official e4e inference prepares them (docs/e4e.md):
 * PIL.Image.open(path).convert('RGB'), torchvision Resize((R, R)) (Pillow's
 * Image.resize with its BILINEAR filter), ToTensor and Normalize(0.5, 0.5),
 * reproduced without Python, byte for byte.
 *
 * Decoding (PNG here, JPEG in image_jpeg.c), as Pillow's PNG plugin and its
 * convert('RGB') treat each PNG colour type:
 *   - gray of 1, 2, 4 bits: scaled to 8 bits (x255, x85, x17), copied to RGB;
 *   - gray of 8 bits: copied to RGB; gray of 16 bits: Pillow's mode "I",
 *     whose conversion to RGB clips the value to 0..255 (it does not scale);
 *   - 16-bit RGB, RGBA and gray+alpha: the high byte of each sample;
 *   - alpha dropped, not composited; palettes looked up; transparency
 *     entries (tRNS) and gamma/colour-profile chunks ignored.
 * Resizing: Pillow's separable BILINEAR resample (Resample.c): a triangle
 * filter whose support is widened by the scale factor when shrinking, taps
 * normalised per output pixel and stored as 22-bit fixed point, the
 * horizontal pass first into an 8-bit image, then the vertical pass, each
 * rounding half up and clipping to 0..255. A same-size resize is a copy.
 * Normalising: x = (u / 255 - 0.5) / 0.5 in float32, as ToTensor and
 * Normalize compute it. */
#ifndef FS_IMAGE_PIL_H
#define FS_IMAGE_PIL_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* PNG (any colour type and depth) -> 8-bit RGB [h, w, 3] as above; *rgb
 * malloc'd; sides capped at FS_PNG_MAX_DIM (image_io.h). */
fs_status fs_pil_png_decode_rgb(const uint8_t *buf, size_t len, const char *label, uint8_t **rgb,
                                int *w, int *h);
/* A PNG or JPEG file, recognised by its first bytes (not its name). */
fs_status fs_pil_read_rgb(const char *path, uint8_t **rgb, int *w, int *h);

/* Pillow's Image.resize((dw, dh), BILINEAR) of an 8-bit RGB image [sh, sw, 3]
 * into dst [dh, dw, 3]. FS_ERR_ARG for sides < 1, FS_ERR_NOMEM. */
fs_status fs_pil_resize_bilinear_rgb8(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw,
                                      int dh);

/* PIL's convert('L') of an image already converted to RGB as above (Pillow
 * 9.4's rgb2l: L = (19595 R + 38470 G + 7471 B + 32768) >> 16, the ITU-R 601
 * weights in 16-bit fixed point). Every mode Pillow converts to 'L' directly
 * (RGBA, palettes, LA, I, 1, CMYK through RGB) gives the same bytes as this
 * applied to its convert('RGB'): a gray value g becomes (g, g, g) and back g.
 * l may be rgb itself (l[i] is written after rgb[3i..3i+2] is read). */
void fs_pil_rgb_to_l(const uint8_t *rgb, size_t npix, uint8_t *l);

/* [h, w, 3] uint8 -> [3, h, w] float: (u / 255 - 0.5) / 0.5, in float32. */
void fs_pil_normalize_chw(const uint8_t *rgb, int w, int h, float *chw);

/* The whole official transform of one file: decode, convert to RGB, resize
 * to r x r, normalise into chw [3, r, r]. */
fs_status fs_pil_load_transformed(const char *path, int r, float *chw);

#ifdef __cplusplus
}
#endif
#endif
