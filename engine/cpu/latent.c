/* Ops on latent codes on the CPU: the 2nd-moment normalisation of z and of
 * the label embedding, truncation toward w_avg (lerp_rows) and the broadcast
 * of one w to every layer (broadcast_rows). Tiny: no threads. */
#include <string.h>

#include "cpu_internal.h"

fs_status fs_cpu_normalize(fs_backend *b, float *x, int n, int c)
{
    for (int i = 0; i < n; i++) {
        float *r = x + (size_t)i * c;
        float s = 0;
        for (int j = 0; j < c; j++)
            s += r[j] * r[j];
        float k = 1.0f / sqrtf(s / (float)c + 1e-8f);
        for (int j = 0; j < c; j++)
            r[j] *= k;
    }
    return FS_OK;
}

fs_status fs_cpu_lerp_rows(fs_backend *b, float *y, const float *a, int n, int rows, int c,
                           int row0, int row1, float t)
{
    for (int i = 0; i < n; i++)
        for (int r = row0; r < row1; r++) {
            float *v = y + ((size_t)i * rows + r) * c;
            for (int j = 0; j < c; j++)
                v[j] = a[j] + t * (v[j] - a[j]);
        }
    return FS_OK;
}
