/* Images in and out of the engine: the float <-> uint8 conversions the
 * official tools use, and PNG files through libpng.
 *
 * Generator output is float NCHW with a nominal range of [-1, 1]. gen_images.py
 * saves it as (img * 127.5 + 128).clamp(0, 255).to(uint8), NHWC; the
 * conversion here performs the same float32 operations in the same order, so
 * its bytes equal the official PNGs'. The inverse used to feed images to a
 * discriminator is x / 127.5 - 1, as the official metrics code does.
 *
 * PNGs are written atomically (temporary name, fsync, rename; see file.h):
 * a failed or interrupted write never leaves a partial file under the final
 * name. PNGs read back are untrusted input: dimensions are capped and every
 * libpng error becomes a status naming the file. */
#ifndef FS_IMAGE_IO_H
#define FS_IMAGE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest width or height fs_png_decode_rgb accepts (an RGB image of
 * 16384 x 16384 decodes into 768 MiB). A larger PNG is refused from its
 * header, before any decoding, with FS_ERR_LIMIT naming this limit. */
#define FS_PNG_MAX_DIM 16384

/* One value: t = x * 127.5f, then t + 128.0f, clamped to [0, 255] in float,
 * then truncated toward zero. NaN gives 0: torch's clamp passes NaN through
 * and its float -> uint8 cast (x86 CPU and CUDA alike) yields 0. */
uint8_t fs_image_f32_to_u8(float x);

/* img [n, c, h, w] float -> out [n, h, w, c] uint8, value by value as above. */
void fs_image_nchw_f32_to_nhwc_u8(const float *img, int n, int c, int h, int w, uint8_t *out);

/* hwc [h, w, c] uint8 -> chw [c, h, w] float as v / 127.5f - 1.0f. */
void fs_image_hwc_u8_to_chw_f32(const uint8_t *hwc, int h, int w, int c, float *chw);

/* Writes an 8-bit PNG of `channels` 1 (gray), 2 (gray + alpha), 3 (RGB) or
 * 4 (RGBA) from pixels [h, w, channels]. FS_ERR_IO naming the path on any
 * failure; nothing is left under `path` or the temporary name then. */
fs_status fs_png_write_rgb8(const char *path, const uint8_t *hwc, int w, int h, int channels);

/* Decodes a PNG of any colour type and depth into 8-bit RGB [h, w, 3]:
 * palette and gray are expanded, alpha is dropped (not composited), 16-bit
 * samples are scaled to 8 bits with rounding; no gamma correction. *rgb is
 * malloc'd. label names the source in messages. */
fs_status fs_png_decode_rgb(const uint8_t *buf, size_t len, const char *label, uint8_t **rgb,
                            int *w, int *h);
/* The same from a file. */
fs_status fs_png_read_rgb(const char *path, uint8_t **rgb, int *w, int *h);

#ifdef __cplusplus
}
#endif
#endif
