/* SimGAN hyper-parameters, metadata and canonical tensor list
 * (simgan_config.h). */
#include <stdio.h>

#include "simgan_config.h"

fs_status fs_simgan_config_check(const fs_simgan_config *c, const char *label)
{
    if (c->channels != 1 && c->channels != 3)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: a SimGAN refiner of %lld channels (1 gray or 3 "
                        "RGB)", label, (long long)c->channels);
    if (c->width < 1 || c->width > 4096)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: SimGAN width %lld out of range", label,
                        (long long)c->width);
    if (c->blocks < 0 || c->blocks > FS_SIMGAN_MAX_BLOCKS)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: %lld SimGAN residual blocks (at most %d)", label,
                        (long long)c->blocks, FS_SIMGAN_MAX_BLOCKS);
    if (c->has_discriminator != 0 && c->has_discriminator != 1)
        return fs_error(FS_ERR_FORMAT, "%s: has_discriminator is %lld, not 0 or 1", label,
                        (long long)c->has_discriminator);
    return FS_OK;
}

static fs_status emit_conv(fs_tensor_spec_fn fn, void *u, const char *module, int64_t out,
                           int64_t in, int64_t k)
{
    char name[96];
    int64_t w[4] = {out, in, k, k}, b[1] = {out};
    snprintf(name, sizeof name, "%s.weight", module);
    FS_TRY(fn(u, name, 4, w));
    snprintf(name, sizeof name, "%s.bias", module);
    return fn(u, name, 1, b);
}

fs_status fs_simgan_for_each_tensor(const fs_simgan_config *c, fs_tensor_spec_fn fn, void *u)
{
    int64_t C = c->channels, F = c->width;
    FS_TRY(emit_conv(fn, u, "refiner.conv_in", F, C, 3));
    char module[64];
    for (int i = 0; i < c->blocks; i++) {
        snprintf(module, sizeof module, "refiner.blocks.%d.conv1", i);
        FS_TRY(emit_conv(fn, u, module, F, F, 3));
        snprintf(module, sizeof module, "refiner.blocks.%d.conv2", i);
        FS_TRY(emit_conv(fn, u, module, F, F, 3));
    }
    FS_TRY(emit_conv(fn, u, "refiner.conv_out", C, F, 1));
    if (!c->has_discriminator)
        return FS_OK;
    int64_t in = C;
    for (int l = 0; l < FS_SIMGAN_DISC_LAYERS; l++) {
        snprintf(module, sizeof module, "disc.conv%d", l + 1);
        FS_TRY(emit_conv(fn, u, module, fs_simgan_disc_out[l], in, fs_simgan_disc_k[l]));
        in = fs_simgan_disc_out[l];
    }
    return FS_OK;
}

fs_status fs_simgan_config_to_meta(const fs_simgan_config *c, fs_ir_se_meta_put_fn put, void *u)
{
    FS_TRY(put(u, "channels", FS_META_I64, c->channels, 0, NULL, NULL, 0));
    FS_TRY(put(u, "width", FS_META_I64, c->width, 0, NULL, NULL, 0));
    FS_TRY(put(u, "blocks", FS_META_I64, c->blocks, 0, NULL, NULL, 0));
    return put(u, "has_discriminator", FS_META_I64, c->has_discriminator, 0, NULL, NULL, 0);
}

fs_status fs_simgan_config_from_weights(const fs_weights *w, fs_simgan_config *c)
{
    FS_TRY(fs_weights_meta_i64(w, "channels", &c->channels));
    FS_TRY(fs_weights_meta_i64(w, "width", &c->width));
    FS_TRY(fs_weights_meta_i64(w, "blocks", &c->blocks));
    FS_TRY(fs_weights_meta_i64(w, "has_discriminator", &c->has_discriminator));
    return fs_simgan_config_check(c, fs_weights_label(w));
}

fs_status fs_simgan_check_weights(const fs_weights *w)
{
    fs_simgan_config c;
    FS_TRY(fs_simgan_config_from_weights(w, &c));
    fs_weights_checker k = {w, 0};
    FS_TRY(fs_simgan_for_each_tensor(&c, fs_weights_checker_visit, &k));
    return fs_weights_checker_finish(&k);
}
