/* Image resizing for feeding arbitrary face crops to a network of a fixed
 * resolution (`facesynth encode` and the CVAE-GAN `score` read PNG
 * directories through it).
 *
 * Each axis is resampled on its own, in float, with one of two filters:
 *   - shrinking: area average. Output pixel i covers the source interval
 *     [i * s/d, (i + 1) * s/d); every source pixel is weighted by the length
 *     of its overlap with that interval, divided by s/d. For an integer factor
 *     k this is the plain mean of each k x k block (torch
 *     F.interpolate(mode='area'), cv2.INTER_AREA); for other ratios it is
 *     cv2.INTER_AREA's fractional weighting.
 *   - growing: bilinear with half-pixel centres: source coordinate
 *     x = (i + 0.5) * s/d - 0.5, clamped to [0, s - 1], mixing the two
 *     nearest source pixels (torch F.interpolate(mode='bilinear',
 *     align_corners=False), cv2.INTER_LINEAR).
 *   - equal size: a copy.
 * No gamma handling: values are resampled as stored. */
#ifndef FS_IMAGE_RESIZE_H
#define FS_IMAGE_RESIZE_H

#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest side accepted (either image): keeps the weight tables small. */
#define FS_RESIZE_MAX_DIM 65536

/* One plane src [sh, sw] -> dst [dh, dw]. src and dst must not overlap.
 * FS_ERR_ARG for a size < 1 or above FS_RESIZE_MAX_DIM, FS_ERR_NOMEM. */
fs_status fs_image_resize_plane(const float *src, int sw, int sh, float *dst, int dw, int dh);

/* 8-bit pixels hwc [h, w, c] -> float chw [c, dh, dw] in [-1, 1]: each
 * channel resized as above (in the 0..255 scale), then v / 127.5f - 1.0f.
 * With dw == w and dh == h the result equals fs_image_hwc_u8_to_chw_f32's. */
fs_status fs_image_u8_to_chw_f32_resized(const uint8_t *hwc, int w, int h, int c, float *chw,
                                         int dw, int dh);

#ifdef __cplusplus
}
#endif
#endif
