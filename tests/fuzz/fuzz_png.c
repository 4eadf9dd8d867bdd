/* libFuzzer harness for the PNG input path of `encode` and `score`: decode
 * any PNG to 8-bit RGB (engine/image_io.c), then resize it to a model input
 * as those commands do, once shrinking (area average) and once growing
 * (bilinear), so that odd sizes from the decoder reach the resampler. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/image_io.h"
#include "../../engine/image_resize.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Images up to FS_PNG_MAX_DIM a side are legal, but a 16384 x 16384 one
     * is 805 MB of pixels: headers above 4 Mpixel are skipped so that the
     * runs exercise parsing rather than the allocator. IHDR is always the
     * first chunk (offset 8). */
    if (size >= 24 && memcmp(data + 12, "IHDR", 4) == 0 &&
        (uint64_t)be32(data + 16) * be32(data + 20) > (UINT64_C(1) << 22))
        return 0;
    uint8_t *rgb = NULL;
    int w = 0, h = 0;
    if (fs_png_decode_rgb(data, size, "fuzz.png", &rgb, &w, &h) != FS_OK)
        return 0;
    if (w <= 0 || h <= 0 || w > FS_PNG_MAX_DIM || h > FS_PNG_MAX_DIM)
        abort(); /* the decoder promised a valid size */
    volatile uint8_t sink = rgb[0];
    sink = rgb[(size_t)w * h * 3 - 1];
    (void)sink;
    static const int sizes[][2] = {{4, 4}, {37, 19}};
    for (int i = 0; i < 2; i++) {
        float *chw = malloc(sizeof(float) * 3 * sizes[i][0] * sizes[i][1]);
        if (chw && fs_image_u8_to_chw_f32_resized(rgb, w, h, 3, chw, sizes[i][0], sizes[i][1]) ==
                       FS_OK) {
            for (int k = 0; k < 3 * sizes[i][0] * sizes[i][1]; k++)
                if (!(chw[k] >= -1.0f && chw[k] <= 1.0f))
                    abort(); /* 8-bit input must map into [-1, 1] */
        }
        free(chw);
    }
    free(rgb);
    return 0;
}
