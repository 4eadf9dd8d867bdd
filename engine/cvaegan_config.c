/* CVAE-GAN hyper-parameters, metadata and the canonical tensor list, which is
 * exactly the naming of docs/cvaegan.md. */
#include <stdio.h>

#include "cvaegan_config.h"

int fs_cvaegan_num_deconvs(const fs_cvaegan_config *c)
{
    int l = 0;
    while ((1LL << l) < c->img_resolution)
        l++;
    return l - 1;
}

int64_t fs_cvaegan_deconv_out(const fs_cvaegan_config *c, int i)
{
    return i == fs_cvaegan_num_deconvs(c) - 1 ? 3 : (8 * c->width) >> i;
}

fs_status fs_cvaegan_config_finalize(const fs_cvaegan_config *c, const char *label)
{
    int64_t r = c->img_resolution;
    if (r < 128 || r > 4096 || (r & (r - 1)))
        return fs_error(FS_ERR_UNSUPPORTED,
                        "%s: CVAE-GAN resolution %lld is not a power of two in [128, 4096]", label,
                        (long long)r);
    if (c->width < 1 || c->width > 4096 || c->z_dim < 1 || c->z_dim > 65536 || c->n_id < 1 ||
        c->n_id > 1000000)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: CVAE-GAN width/z_dim/n_id out of range", label);
    if (((8 * c->width) >> (fs_cvaegan_num_deconvs(c) - 2)) < 1)
        return fs_error(FS_ERR_UNSUPPORTED,
                        "%s: width %lld leaves no channels in the last generator layers", label,
                        (long long)c->width);
    return FS_OK;
}

static fs_status emit(fs_tensor_spec_fn fn, void *u, const char *name, int ndim, int64_t a,
                      int64_t b, int64_t c, int64_t d)
{
    int64_t shape[4] = {a, b, c, d};
    return fn(u, name, ndim, shape);
}

fs_status fs_cvaegan_for_each_tensor(const fs_cvaegan_config *c, fs_tensor_spec_fn fn, void *u)
{
    char name[96];
    int64_t w = c->width, r = c->img_resolution;
    FS_TRY(emit(fn, u, "encoder.stem_conv.weight", 4, w, 3, 3, 3));
    FS_TRY(emit(fn, u, "encoder.stem_norm.weight", 1, w, 0, 0, 0));
    FS_TRY(emit(fn, u, "encoder.stem_norm.bias", 1, w, 0, 0, 0));
    static const int mult[5] = {1, 2, 4, 8, 8};
    for (int i = 0; i < 4; i++) {
        int64_t cin = w * mult[i], cout = w * mult[i + 1];
#define E(field, nd, a, b, cc, d)                                                 \
    do {                                                                          \
        snprintf(name, sizeof name, "encoder.blocks.%d.%s", i, field);            \
        FS_TRY(emit(fn, u, name, nd, a, b, cc, d));                               \
    } while (0)
        E("conv1.weight", 4, cout, cin, 3, 3);
        E("norm1.weight", 1, cout, 0, 0, 0);
        E("norm1.bias", 1, cout, 0, 0, 0);
        E("conv2.weight", 4, cout, cout, 3, 3);
        E("norm2.weight", 1, cout, 0, 0, 0);
        E("norm2.bias", 1, cout, 0, 0, 0);
        E("skip.weight", 4, cout, cin, 1, 1);
#undef E
    }
    int64_t flat = 8 * w * (r / 16) * (r / 16);
    FS_TRY(emit(fn, u, "encoder.fc_mu.weight", 2, c->z_dim, flat, 0, 0));
    FS_TRY(emit(fn, u, "encoder.fc_mu.bias", 1, c->z_dim, 0, 0, 0));
    FS_TRY(emit(fn, u, "encoder.fc_logvar.weight", 2, c->z_dim, flat, 0, 0));
    FS_TRY(emit(fn, u, "encoder.fc_logvar.bias", 1, c->z_dim, 0, 0, 0));
    FS_TRY(emit(fn, u, "generator.fc.weight", 2, 4 * 8 * w, c->z_dim + c->n_id, 0, 0));
    FS_TRY(emit(fn, u, "generator.fc.bias", 1, 4 * 8 * w, 0, 0, 0));
    int nd = fs_cvaegan_num_deconvs(c);
    int64_t cin = 8 * w;
    for (int i = 0; i < nd; i++) {
        int64_t cout = fs_cvaegan_deconv_out(c, i);
        snprintf(name, sizeof name, "generator.deconvs.%d.weight", i);
        FS_TRY(emit(fn, u, name, 4, cin, cout, 4, 4));
        snprintf(name, sizeof name, "generator.deconvs.%d.bias", i);
        FS_TRY(emit(fn, u, name, 1, cout, 0, 0, 0));
        cin = cout;
    }
    for (int i = 0; i < nd - 1; i++) {
        snprintf(name, sizeof name, "generator.norms.%d.weight", i);
        FS_TRY(emit(fn, u, name, 1, fs_cvaegan_deconv_out(c, i), 0, 0, 0));
        snprintf(name, sizeof name, "generator.norms.%d.bias", i);
        FS_TRY(emit(fn, u, name, 1, fs_cvaegan_deconv_out(c, i), 0, 0, 0));
    }
    for (int k = 0; k < 2; k++) {
        int64_t ch = 3;
        for (int i = 0; i < 6; i++) {
            int64_t co = w << i;
            snprintf(name, sizeof name, "discriminators.%d.convs.%d.weight", k, i);
            FS_TRY(emit(fn, u, name, 4, co, ch, 4, 4));
            snprintf(name, sizeof name, "discriminators.%d.convs.%d.bias", k, i);
            FS_TRY(emit(fn, u, name, 1, co, 0, 0, 0));
            ch = co;
        }
        int64_t fm = r / (64 << k);
        snprintf(name, sizeof name, "discriminators.%d.src.weight", k);
        FS_TRY(emit(fn, u, name, 4, 1, ch, 3, 3));
        snprintf(name, sizeof name, "discriminators.%d.cls.weight", k);
        FS_TRY(emit(fn, u, name, 4, c->n_id, ch, fm, fm));
    }
    return FS_OK;
}

fs_status fs_cvaegan_config_to_meta(const fs_cvaegan_config *c, fs_cvaegan_meta_fn put, void *u)
{
    FS_TRY(put(u, "width", c->width));
    FS_TRY(put(u, "z_dim", c->z_dim));
    FS_TRY(put(u, "n_id", c->n_id));
    FS_TRY(put(u, "img_resolution", c->img_resolution));
    return FS_OK;
}

fs_status fs_cvaegan_config_from_weights(const fs_weights *w, fs_cvaegan_config *c)
{
    FS_TRY(fs_weights_meta_i64(w, "width", &c->width));
    FS_TRY(fs_weights_meta_i64(w, "z_dim", &c->z_dim));
    FS_TRY(fs_weights_meta_i64(w, "n_id", &c->n_id));
    FS_TRY(fs_weights_meta_i64(w, "img_resolution", &c->img_resolution));
    return fs_cvaegan_config_finalize(c, fs_weights_label(w));
}

fs_status fs_cvaegan_check_weights(const fs_weights *w)
{
    fs_cvaegan_config c;
    FS_TRY(fs_cvaegan_config_from_weights(w, &c));
    fs_weights_checker k = {w, 0};
    FS_TRY(fs_cvaegan_for_each_tensor(&c, fs_weights_checker_visit, &k));
    return fs_weights_checker_finish(&k);
}
