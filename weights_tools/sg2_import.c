/* Canonical StyleGAN2 state dict -> flat weight file (see sg2_import.h). */
#include "sg2_import.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const fs_view *find(const fs_state_dict *sd, const char *fmt, long long a)
{
    char name[128];
    snprintf(name, sizeof name, fmt, a);
    fs_sd_entry *e = fs_sd_find(sd, name);
    return e ? &e->view : NULL;
}

/* Finds channel_base and channel_max reproducing C(res) = min(base / res, max)
 * for the channel counts seen; the expected-tensor check later proves them. */
static fs_status infer_channels(const fs_state_dict *sd, fs_sg2_config *c, const int64_t *ch,
                                int top)
{
    int64_t cmax = 0;
    for (int l = 2; l <= top; l++)
        cmax = ch[l] > cmax ? ch[l] : cmax;
    int l_below = -1; /* highest resolution whose channels are below the cap */
    for (int l = top; l >= 2 && l_below < 0; l--)
        if (ch[l] < cmax)
            l_below = l;
    c->channel_max = cmax;
    if (l_below < 0) {
        c->channel_base = cmax << top;
        return FS_OK;
    }
    int64_t r = 1LL << l_below;
    for (int64_t base = ch[l_below] * r; base < (ch[l_below] + 1) * r; base++) {
        int ok = 1;
        c->channel_base = base;
        for (int l = 2; l <= top && ok; l++)
            ok = fs_sg2_channels(c, 1LL << l) == ch[l];
        if (ok)
            return FS_OK;
    }
    return fs_error(FS_ERR_SHAPE, "%s: the channel counts per resolution fit no channel_base",
                    sd->label);
}

static fs_status infer_mapping(const fs_state_dict *sd, fs_sg2_config *c, int64_t *out_w)
{
    const fs_view *v;
    c->mapping_layers = 0;
    while (find(sd, "mapping.fc%lld.weight", (long long)c->mapping_layers))
        c->mapping_layers++;
    c->c_dim = 0;
    c->embed_features = 0;
    if ((v = find(sd, "mapping.embed.weight", 0))) {
        if (v->ndim != 2)
            return fs_error(FS_ERR_SHAPE, "%s: mapping.embed.weight must be 2-D", sd->label);
        c->embed_features = v->shape[0];
        c->c_dim = v->shape[1];
    }
    if (c->mapping_layers == 0)
        return FS_OK;
    FS_TRY(fs_sd_need(sd, "mapping.fc0.weight", 2, &v));
    int64_t in0 = v->shape[1];
    c->layer_features = v->shape[0];
    const fs_view *last = find(sd, "mapping.fc%lld.weight", (long long)c->mapping_layers - 1);
    if (last->ndim != 2)
        return fs_error(FS_ERR_SHAPE, "%s: mapping weights must be 2-D", sd->label);
    *out_w = last->shape[0];
    if (c->mapping_layers == 1)
        c->layer_features = *out_w;
    c->z_dim = in0 - c->embed_features;
    return FS_OK;
}

static fs_status infer_generator(const fs_state_dict *sd, fs_sg2_config *c)
{
    const fs_view *v;
    int64_t w_out = 0;
    FS_TRY(infer_mapping(sd, c, &w_out));
    if (c->mapping_layers == 0)
        return fs_error(FS_ERR_MISSING, "%s: tensor 'mapping.fc0.weight' is missing", sd->label);
    FS_TRY(fs_sd_need(sd, "mapping.w_avg", 1, &v));
    c->w_dim = v->shape[0];
    int top = 2;
    while (top < FS_SG2_MAX_RES_LOG2 && find(sd, "synthesis.b%lld.conv1.weight", 1LL << (top + 1)))
        top++;
    int64_t ch[FS_SG2_MAX_RES_LOG2 + 1] = {0};
    for (int l = 2; l <= top; l++) {
        char name[64];
        snprintf(name, sizeof name, "synthesis.b%lld.conv1.weight", 1LL << l);
        FS_TRY(fs_sd_need(sd, name, 4, &v));
        ch[l] = v->shape[0];
    }
    c->img_resolution = 1LL << top;
    char name[64];
    snprintf(name, sizeof name, "synthesis.b%lld.torgb.weight", 1LL << top);
    FS_TRY(fs_sd_need(sd, name, 4, &v));
    c->img_channels = v->shape[0];
    if (top > 2 && find(sd, "synthesis.b%lld.skip.weight", 1LL << top))
        c->architecture = FS_SG2_ARCH_RESNET;
    else if (top > 2 && !find(sd, "synthesis.b%lld.torgb.weight", 1LL << (top - 1)))
        c->architecture = FS_SG2_ARCH_ORIG;
    else
        c->architecture = FS_SG2_ARCH_SKIP;
    return infer_channels(sd, c, ch, top);
}

static fs_status infer_discriminator(const fs_state_dict *sd, fs_sg2_config *c)
{
    const fs_view *v;
    int64_t cmap = 0;
    FS_TRY(infer_mapping(sd, c, &cmap));
    int top = 2;
    while (top < FS_SG2_MAX_RES_LOG2 && find(sd, "b%lld.conv0.weight", 1LL << (top + 1)))
        top++;
    int64_t ch[FS_SG2_MAX_RES_LOG2 + 1] = {0};
    char name[64];
    for (int l = 3; l <= top; l++) {
        snprintf(name, sizeof name, "b%lld.conv0.weight", 1LL << l);
        FS_TRY(fs_sd_need(sd, name, 4, &v));
        ch[l] = v->shape[0];
    }
    FS_TRY(fs_sd_need(sd, "b4.conv.weight", 4, &v));
    ch[2] = v->shape[0];
    c->mbstd_num_channels = v->shape[1] - ch[2];
    c->img_resolution = 1LL << top;
    snprintf(name, sizeof name, "b%lld.fromrgb.weight", 1LL << top);
    FS_TRY(fs_sd_need(sd, name, 4, &v));
    c->img_channels = v->shape[1];
    if (top > 2 && find(sd, "b%lld.skip.weight", 1LL << top))
        c->architecture = FS_SG2_ARCH_RESNET;
    else if (top > 2 && find(sd, "b%lld.fromrgb.weight", 1LL << (top - 1)))
        c->architecture = FS_SG2_ARCH_SKIP;
    else
        c->architecture = FS_SG2_ARCH_ORIG;
    if (c->c_dim > 0) {
        FS_TRY(fs_sd_need(sd, "b4.out.weight", 2, &v));
        c->cmap_dim = v->shape[0];
    } else {
        c->cmap_dim = 0;
    }
    return infer_channels(sd, c, ch, top);
}

fs_status fs_sg2_infer_config(const fs_state_dict *sd, fs_sg2_config *c)
{
    FS_TRY(c->is_discriminator ? infer_discriminator(sd, c) : infer_generator(sd, c));
    return fs_sg2_config_finalize(c, sd->label);
}

void fs_sg2_apply_overrides(fs_sg2_config *c, const fs_sg2_overrides *o)
{
    if (o->has_conv_clamp)
        c->conv_clamp = o->conv_clamp;
    if (o->has_architecture)
        c->architecture = o->architecture;
    if (o->has_mapping_lr)
        c->mapping_lr_multiplier = o->mapping_lr;
    if (o->has_num_fp16_res)
        c->num_fp16_res = o->num_fp16_res;
    if (o->has_mbstd_group)
        c->mbstd_group_size = o->mbstd_group_size;
}

/* ---- import ---------------------------------------------------------------- */

/* stylegan2-ada keeps the normalised 2-D FIR as a buffer in every layer; we
 * keep the 1-D taps as a hyper-parameter, so each buffer must match them. */
static fs_status check_resample_filters(fs_state_dict *sd, const fs_sg2_config *c)
{
    double taps_sum = 0;
    for (int i = 0; i < c->resample_filter_len; i++)
        taps_sum += c->resample_filter[i];
    int64_t n = c->resample_filter_len;
    for (size_t i = 0; i < sd->n; i++) {
        fs_sd_entry *e = &sd->e[i];
        size_t ln = strlen(e->name);
        if (ln < 15 || strcmp(e->name + ln - 15, "resample_filter") != 0)
            continue;
        if (e->view.ndim != 2 || e->view.shape[0] != n || e->view.shape[1] != n)
            return fs_error(FS_ERR_UNSUPPORTED, "%s: '%s' is not a %lldx%lld filter", sd->label,
                            e->name, (long long)n, (long long)n);
        for (int64_t y = 0; y < n; y++)
            for (int64_t x = 0; x < n; x++) {
                float got;
                fs_view_gather(&e->view, y * n + x, 1, FS_DTYPE_F32, &got);
                double want = c->resample_filter[y] * c->resample_filter[x] / (taps_sum * taps_sum);
                if (fabs(got - want) > 1e-6 * fabs(want) + 1e-9)
                    return fs_error(FS_ERR_UNSUPPORTED,
                                    "%s: '%s' differs from the declared resample filter",
                                    sd->label, e->name);
            }
        e->used = 1;
    }
    return FS_OK;
}

fs_status fs_sg2_import(fs_weights_writer *w, fs_state_dict *sd, const fs_sg2_config *c,
                        fs_dtype dtype)
{
    FS_TRY(fs_sg2_config_to_meta(c, fs_weights_writer_put_meta, w));
    FS_TRY(check_resample_filters(sd, c));
    fs_weights_importer k = {w, sd, dtype};
    FS_TRY(fs_sg2_for_each_tensor(c, fs_weights_import_visit, &k));
    for (size_t i = 0; i < sd->n; i++)
        if (!sd->e[i].used)
            return fs_error(FS_ERR_UNSUPPORTED,
                            "%s: tensor '%s' has no place in a %s %s (wrong --net or architecture?)",
                            sd->label, sd->e[i].name, fs_sg2_arch_name(c->architecture),
                            c->is_discriminator ? "discriminator" : "generator");
    return FS_OK;
}
