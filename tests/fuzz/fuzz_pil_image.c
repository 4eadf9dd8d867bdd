/* libFuzzer harness for the image input of `invert` (engine/image_pil.c,
 * engine/image_jpeg.c): decode any PNG or JPEG as PIL's convert('RGB')
 * does, then resize it with Pillow's bilinear filter, once shrinking and once
 * growing, so that odd sizes from the decoders reach the resampler. The
 * first byte of the input picks the decoder when it is not clear from the
 * data (so PNG and JPEG both get mutated inputs). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/image_io.h"
#include "../../engine/image_jpeg.h"
#include "../../engine/image_pil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *rgb = NULL;
    int w = 0, h = 0;
    fs_status s = fs_jpeg_sniff(data, size)
                      ? fs_jpeg_decode_rgb(data, size, "fuzz.jpg", &rgb, &w, &h)
                      : fs_pil_png_decode_rgb(data, size, "fuzz.png", &rgb, &w, &h);
    if (s != FS_OK)
        return 0;
    if (w <= 0 || h <= 0 || w > FS_PNG_MAX_DIM || h > FS_PNG_MAX_DIM)
        abort(); /* the decoders promised a valid size */
    /* big images would spend the run in the resampler, not the parsers */
    if ((uint64_t)w * h <= (UINT64_C(1) << 20)) {
        static const int sizes[][2] = {{3, 5}, {300, 41}};
        for (int i = 0; i < 2; i++) {
            uint8_t *out = malloc((size_t)3 * sizes[i][0] * sizes[i][1]);
            if (out && fs_pil_resize_bilinear_rgb8(rgb, w, h, out, sizes[i][0], sizes[i][1]) !=
                           FS_OK)
                abort();
            free(out);
        }
    }
    free(rgb);
    return 0;
}
