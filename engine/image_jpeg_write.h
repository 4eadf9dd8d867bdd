/* JPEG output through libjpeg-turbo (Debian's libjpeg62-turbo), into
 * memory: baseline, libjpeg's defaults for everything but the quality
 * (jpeg_set_quality with forced baseline tables: YCbCr with 2x2 chroma
 * subsampling, the accurate integer DCT, the standard Huffman tables), so
 * the bytes are a function of the pixels and the quality alone. Used by
 * the dataset writers (dataset.h); decoding is image_jpeg.h's. */
#ifndef FS_IMAGE_JPEG_WRITE_H
#define FS_IMAGE_JPEG_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* pixels [h, w, channels], channels 1 (grayscale) or 3 (RGB), quality 1 to
 * 100; *out is malloc'd. */
fs_status fs_jpeg_encode(const uint8_t *pixels, int w, int h, int channels, int quality,
                         uint8_t **out, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
