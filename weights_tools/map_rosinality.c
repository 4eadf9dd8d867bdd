/* rosinality/stylegan2-pytorch generator names -> canonical names.
 *
 * The stored values are the same numbers as stylegan2-ada's (both keep raw
 * weights and apply equalised-lr scales at run time, docs/stylegan2.md
 * §3.2), so this is renaming plus dropping the size-1 leading dimensions that
 * rosinality's modules carry. Its blur kernels bake the up-sampling gain into
 * the buffer (FIR x 4); they are checked against [1,3,3,1] and dropped. */
#include <stdio.h>
#include <string.h>

#include "sg2_sources.h"

int fs_sg2_is_rosinality(const fs_state_dict *sd)
{
    return fs_sd_find(sd, "style.1.weight") != NULL || fs_sd_find(sd, "input.input") != NULL;
}

/* Removes `count` leading dimensions, each of which must have size 1. */
static fs_status drop_leading_ones(fs_view *v, int count, const char *label, const char *name)
{
    for (int i = 0; i < count; i++)
        if (v->ndim == 0 || v->shape[0] != 1)
            return fs_error(FS_ERR_SHAPE, "%s: '%s' does not have the expected leading size-1 dimension",
                            label, name);
        else {
            memmove(v->shape, v->shape + 1, (size_t)(v->ndim - 1) * sizeof v->shape[0]);
            memmove(v->stride, v->stride + 1, (size_t)(v->ndim - 1) * sizeof v->stride[0]);
            v->ndim--;
        }
    return FS_OK;
}

static fs_status squeeze_all(fs_view *v)
{
    int64_t shape[FS_VIEW_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < v->ndim; d++)
        if (v->shape[d] != 1)
            shape[n++] = v->shape[d];
    return fs_view_reshape(v, n, shape);
}

/* Kernel [4,4] = outer([1,3,3,1]) / 64 * 4. */
static fs_status check_blur(const fs_view *v, const char *label, const char *name)
{
    static const double taps[4] = {1, 3, 3, 1};
    if (v->ndim != 2 || v->shape[0] != 4 || v->shape[1] != 4)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: '%s' is not a 4x4 blur kernel", label, name);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) {
            float got;
            fs_view_gather(v, y * 4 + x, 1, FS_DTYPE_F32, &got);
            double want = taps[y] * taps[x] / 64.0 * 4.0;
            if (got < want - 1e-6 || got > want + 1e-6)
                return fs_error(FS_ERR_UNSUPPORTED,
                                "%s: '%s' is not the [1,3,3,1] up-sampling kernel", label, name);
        }
    return FS_OK;
}

/* Maps the tail of a modulated-conv name ("conv.weight", "noise.weight", ...)
 * onto the canonical layer's tensor and shape. */
static fs_status map_layer(fs_state_dict *sd, const char *layer, const char *tail, fs_view v,
                           const char *label, const char *src)
{
    char name[128];
    if (!strcmp(tail, "conv.weight")) {
        FS_TRY(drop_leading_ones(&v, 1, label, src));
        snprintf(name, sizeof name, "%s.weight", layer);
    } else if (!strcmp(tail, "conv.modulation.weight")) {
        snprintf(name, sizeof name, "%s.affine.weight", layer);
    } else if (!strcmp(tail, "conv.modulation.bias")) {
        snprintf(name, sizeof name, "%s.affine.bias", layer);
    } else if (!strcmp(tail, "noise.weight")) {
        FS_TRY(squeeze_all(&v));
        snprintf(name, sizeof name, "%s.noise_strength", layer);
    } else if (!strcmp(tail, "activate.bias")) {
        snprintf(name, sizeof name, "%s.bias", layer);
    } else if (!strcmp(tail, "bias")) { /* ToRGB bias [1, C, 1, 1] */
        if (v.ndim != 4)
            return fs_error(FS_ERR_SHAPE, "%s: '%s' is not [1, C, 1, 1]", label, src);
        int64_t c = v.shape[1];
        FS_TRY(fs_view_reshape(&v, 1, &c));
        snprintf(name, sizeof name, "%s.bias", layer);
    } else if (!strcmp(tail, "conv.blur.kernel") || !strcmp(tail, "upsample.kernel")) {
        return check_blur(&v, label, src);
    } else {
        return fs_error(FS_ERR_UNSUPPORTED, "%s: unknown rosinality tensor '%s'", label, src);
    }
    return fs_sd_add(sd, name, &v);
}

fs_status fs_sg2_from_rosinality(fs_state_dict *ros, const fs_view *latent_avg,
                                 fs_state_dict *sd)
{
    const char *L = ros->label;
    if (!latent_avg)
        return fs_error(FS_ERR_MISSING,
                        "%s: no 'latent_avg' beside the rosinality generator: w_avg (needed for "
                        "truncation) is unknown",
                        L);
    FS_TRY(fs_sd_add(sd, "mapping.w_avg", latent_avg));
    for (size_t i = 0; i < ros->n; i++) {
        const char *n = ros->e[i].name;
        fs_view v = ros->e[i].view;
        char layer[64], name[128];
        int a, consumed = 0;
        if (sscanf(n, "style.%d.%n", &a, &consumed) == 1 && consumed && a >= 1) {
            snprintf(name, sizeof name, "mapping.fc%d.%s", a - 1, n + consumed);
            FS_TRY(fs_sd_add(sd, name, &v));
        } else if (!strcmp(n, "input.input")) {
            FS_TRY(drop_leading_ones(&v, 1, L, n));
            FS_TRY(fs_sd_add(sd, "synthesis.b4.const", &v));
        } else if (!strncmp(n, "conv1.", 6)) {
            FS_TRY(map_layer(sd, "synthesis.b4.conv1", n + 6, v, L, n));
        } else if (!strncmp(n, "to_rgb1.", 8)) {
            FS_TRY(map_layer(sd, "synthesis.b4.torgb", n + 8, v, L, n));
        } else if (sscanf(n, "convs.%d.%n", &a, &consumed) == 1 && consumed && a >= 0 && a < 40) {
            snprintf(layer, sizeof layer, "synthesis.b%lld.conv%d", 1LL << (a / 2 + 3), a % 2);
            FS_TRY(map_layer(sd, layer, n + consumed, v, L, n));
        } else if (sscanf(n, "to_rgbs.%d.%n", &a, &consumed) == 1 && consumed && a >= 0 && a < 20) {
            snprintf(layer, sizeof layer, "synthesis.b%lld.torgb", 1LL << (a + 3));
            FS_TRY(map_layer(sd, layer, n + consumed, v, L, n));
        } else if (sscanf(n, "noises.noise_%d%n", &a, &consumed) == 1 && n[consumed] == 0 &&
                   a >= 0 && a < 40) {
            if (a == 0)
                snprintf(name, sizeof name, "synthesis.b4.conv1.noise_const");
            else
                snprintf(name, sizeof name, "synthesis.b%lld.conv%d.noise_const",
                         1LL << ((a - 1) / 2 + 3), (a - 1) % 2);
            FS_TRY(squeeze_all(&v));
            FS_TRY(fs_sd_add(sd, name, &v));
        } else {
            return fs_error(FS_ERR_UNSUPPORTED, "%s: unknown rosinality tensor '%s'", L, n);
        }
        ros->e[i].used = 1;
    }
    return FS_OK;
}
