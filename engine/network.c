/* fs_network_open: magic sniffing, in-memory conversion, the per-family
 * check and the caller's family requirement, in that order. */
#include "network.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arcface_config.h"
#include "cvaegan_config.h"
#include "e4e_config.h"
#include "lightcnn_config.h"
#include "simgan_config.h"
#include "stylegan2_config.h"

void fs_network_opts_default(fs_network_opts *o)
{
    memset(o, 0, sizeof *o);
    o->want = FS_WANT_ANY;
    fs_convert_options_default(&o->convert);
}

int fs_network_is_flat(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fs_error(FS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char magic[8];
    size_t k = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return k == sizeof magic && memcmp(magic, FS_FSW_MAGIC, sizeof magic) == 0;
}

fs_status fs_network_check(const fs_weights *w)
{
    switch (fs_weights_family(w)) {
    case FS_FAMILY_STYLEGAN2_G:
    case FS_FAMILY_STYLEGAN2_D:
        return fs_sg2_check_weights(w);
    case FS_FAMILY_CVAEGAN:
        return fs_cvaegan_check_weights(w);
    case FS_FAMILY_E4E_ENCODER:
        return fs_e4e_check_weights(w);
    case FS_FAMILY_LIGHTCNN:
        return fs_lightcnn_check_weights(w);
    case FS_FAMILY_ARCFACE:
        return fs_arcface_check_weights(w);
    case FS_FAMILY_SIMGAN:
        return fs_simgan_check_weights(w);
    default:
        return fs_error(FS_ERR_UNSUPPORTED, "%s: unknown model family", fs_weights_label(w));
    }
}

static const char *want_text(fs_network_want want)
{
    switch (want) {
    case FS_WANT_GENERATOR: return "a StyleGAN2 generator or a CVAE-GAN";
    case FS_WANT_DISCRIMINATOR: return "a StyleGAN2 discriminator, a CVAE-GAN or a SimGAN";
    case FS_WANT_CVAEGAN: return "a CVAE-GAN";
    case FS_WANT_E4E_ENCODER: return "an e4e encoder";
    case FS_WANT_IDENTITY: return "an identity network (Light CNN or ArcFace IR-SE)";
    case FS_WANT_SIMGAN: return "a SimGAN";
    default: return "a network";
    }
}

static int family_fits(fs_family fam, fs_network_want want)
{
    switch (want) {
    case FS_WANT_GENERATOR: return fam == FS_FAMILY_STYLEGAN2_G || fam == FS_FAMILY_CVAEGAN;
    case FS_WANT_DISCRIMINATOR:
        return fam == FS_FAMILY_STYLEGAN2_D || fam == FS_FAMILY_CVAEGAN || fam == FS_FAMILY_SIMGAN;
    case FS_WANT_CVAEGAN: return fam == FS_FAMILY_CVAEGAN;
    case FS_WANT_E4E_ENCODER: return fam == FS_FAMILY_E4E_ENCODER;
    case FS_WANT_IDENTITY: return fam == FS_FAMILY_LIGHTCNN || fam == FS_FAMILY_ARCFACE;
    case FS_WANT_SIMGAN: return fam == FS_FAMILY_SIMGAN;
    default: return 1;
    }
}

fs_status fs_network_open(const char *path, const fs_network_opts *o, fs_weights **out,
                          fs_network_source *src)
{
    *out = NULL;
    fs_network_opts defaults;
    if (!o) {
        fs_network_opts_default(&defaults);
        o = &defaults;
    }
    if (src)
        memset(src, 0, sizeof *src);
    int flat = fs_network_is_flat(path);
    if (flat < 0)
        return FS_ERR_IO;
    fs_weights *w = NULL;
    fs_status s;
    if (flat) {
        s = fs_weights_open(path, FS_WEIGHTS_VERIFY_ALL, &w);
    } else {
        /* The data checksums of a file converted a moment ago would only
         * re-prove the copy just made: skip them. */
        fs_convert_options co = o->convert;
        if (o->want == FS_WANT_DISCRIMINATOR) {
            co.net = FS_NET_D;
            co.net_from_role = 1;
        } else if (o->want == FS_WANT_GENERATOR && co.net == FS_NET_DEFAULT) {
            /* an e4e checkpoint's generator is its decoder */
            co.net_from_role = 1;
        }
        uint8_t *buf;
        size_t len;
        fs_convert_report rep;
        s = fs_convert_to_memory(path, &co, &buf, &len, &rep);
        if (s == FS_OK)
            s = fs_weights_open_owned(buf, len, path, FS_WEIGHTS_SKIP_DATA_CRC, &w);
        if (s == FS_OK && src) {
            src->converted = 1;
            src->report = rep;
        }
    }
    if (s == FS_OK)
        s = fs_network_check(w);
    if (s == FS_OK && !family_fits(fs_weights_family(w), o->want))
        s = fs_error(FS_ERR_ARG, "%s: holds a %s, not %s", path,
                     fs_family_name(fs_weights_family(w)), want_text(o->want));
    if (s != FS_OK) {
        fs_weights_free(w);
        return s;
    }
    *out = w;
    return FS_OK;
}
