/* The CPU backend's to_uint8 op: the image conversion of image_io.c
 * (fs_image_f32_to_u8, the one shared formula), NCHW float -> NHWC uint8. */
#include "cpu_internal.h"
#include "../image_io.h"

fs_status fs_cpu_to_uint8(fs_backend *b, const float *x, uint8_t *y, int n, int c, int h, int w)
{
    (void)b;
    if (n < 0 || c < 0 || h < 0 || w < 0)
        return fs_error(FS_ERR_ARG, "cpu to_uint8: negative shape [%d, %d, %d, %d]", n, c, h, w);
    fs_image_nchw_f32_to_nhwc_u8(x, n, c, h, w, y);
    return FS_OK;
}
