/* Converter driver: sniff the format, reduce the checkpoint to a canonical
 * state dict plus hyper-parameters, and write the flat file.
 *
 *   bytes --(format reader)--> value graph / tensor list
 *         --(convention mapper: ADA, TF, rosinality, official)--> canonical state dict
 *         --(sg2_import: config, shapes, leftovers)--> weights writer --> .fsw */
#include "convert.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../engine/file.h"
#include "../engine/weights_format.h"
#include "arcface_import.h"
#include "cvaegan_import.h"
#include "e4e_import.h"
#include "lightcnn_import.h"
#include "simgan_import.h"
#include "safetensors.h"
#include "sg2_sources.h"
#include "torch_load.h"

void fs_convert_options_default(fs_convert_options *o)
{
    memset(o, 0, sizeof *o);
    o->dtype = FS_DTYPE_F32;
}

int fs_net_parse(const char *s, fs_net_select *out)
{
    if (!strcmp(s, "G_ema")) *out = FS_NET_G_EMA;
    else if (!strcmp(s, "G")) *out = FS_NET_G;
    else if (!strcmp(s, "D")) *out = FS_NET_D;
    else if (!strcmp(s, "encoder")) *out = FS_NET_ENCODER;
    else if (!strcmp(s, "decoder")) *out = FS_NET_DECODER;
    else return 0;
    return 1;
}

/* Everything a conversion holds until the file is written: views point into
 * the mapped input and the pickle arena. */
typedef struct {
    const char *label;
    fs_file_map map;
    fs_pickle *pickle;
    fs_safetensors *st;
    fs_state_dict raw;   /* as found in the file */
    fs_state_dict canon; /* canonical names */
    fs_sg2_config cfg;
    int have_cfg;        /* hyper-parameters came from the file */
    int is_cvaegan;
    fs_cvaegan_config cvae;
    int from_e4e;        /* an e4e checkpoint (encoder or decoder) */
    int is_e4e;          /* an e4e checkpoint's encoder */
    int e4e_add_avg;
    fs_view e4e_avg;
    fs_e4e_config e4e;
    /* the state-dict families of issue 16 (identity networks, SimGAN): the
     * family found, 0 for none */
    fs_family other;
    fs_lightcnn_config lcnn;
    fs_arcface_config arc;
    fs_simgan_config sim;
    fs_convert_report *rep;
} job;

static void job_free(job *j)
{
    fs_sd_free(&j->canon);
    fs_sd_free(&j->raw);
    fs_safetensors_free(j->st);
    fs_pickle_free(j->pickle);
    fs_file_map_close(&j->map);
}

static void report(job *j, const char *format, const char *net)
{
    snprintf(j->rep->format, sizeof j->rep->format, "%s", format);
    snprintf(j->rep->net, sizeof j->rep->net, "%s", net);
}

static int want_d(const fs_convert_options *o) { return o->net == FS_NET_D; }

/* A network pickle: stylegan2-ada/stylegan3 snapshot dict, or TF (G, D, Gs). */
static fs_status from_network_pickle(job *j, const fs_pv *top, const fs_convert_options *o)
{
    if (top->kind == FS_PV_DICT) {
        const char *key = o->net == FS_NET_G ? "G" : o->net == FS_NET_D ? "D" : "G_ema";
        const fs_pv *net = fs_pv_dict_get(top, key);
        if (!net)
            return fs_error(FS_ERR_MISSING, "%s: the network pickle has no '%s'", j->label, key);
        report(j, "stylegan2-ada network pickle", key);
        FS_TRY(fs_sg2_from_ada_module(net, j->label, &j->canon, &j->cfg));
        j->have_cfg = 1;
        if (j->cfg.is_discriminator != want_d(o))
            return fs_error(FS_ERR_FORMAT, "%s: '%s' is not a %s", j->label, key,
                            want_d(o) ? "Discriminator" : "Generator");
        return FS_OK;
    }
    const fs_pv *net = NULL;
    const char *name = "Gs";
    if (top->kind == FS_PV_TUPLE && top->u.seq.n == 3) {
        int idx = o->net == FS_NET_G ? 0 : o->net == FS_NET_D ? 1 : 2;
        name = idx == 0 ? "G" : idx == 1 ? "D" : "Gs";
        net = top->u.seq.items[idx];
    } else if (top->kind == FS_PV_OBJECT && o->net != FS_NET_D) {
        net = top;
    }
    if (!net || net->kind != FS_PV_OBJECT || strcmp(net->u.object.class_name, "Network") != 0)
        return fs_error(FS_ERR_UNSUPPORTED,
                        "%s: not a StyleGAN2 network pickle (the top-level object is a %s)",
                        j->label, fs_pv_kind_name(top->kind));
    report(j, "tensorflow stylegan2 pickle", name);
    FS_TRY(fs_sg2_from_tf_network(net, want_d(o), j->label, &j->canon, &j->cfg));
    j->have_cfg = 1;
    return FS_OK;
}

/* An e4e checkpoint: the encoder (an e4e-encoder file) or the decoder (a
 * StyleGAN2 generator through the rosinality mapping, w_avg from row 0 of
 * latent_avg: the official training repeats one vector on every row). */
static fs_status from_e4e(job *j, const fs_pv *top, const fs_convert_options *o)
{
    if (o->net == FS_NET_D || o->net == FS_NET_G || o->net == FS_NET_G_EMA)
        return fs_error(FS_ERR_ARG, "%s: an e4e checkpoint holds an encoder and a StyleGAN2 "
                        "generator (its decoder): use --net encoder or --net decoder", j->label);
    fs_view avg;
    FS_TRY(fs_e4e_latent_avg(top, j->label, &avg));
    if (o->net == FS_NET_DECODER || (o->net == FS_NET_DEFAULT && o->net_from_role)) {
        j->from_e4e = 1;
        report(j, "e4e checkpoint", "decoder");
        FS_TRY(fs_e4e_state_dict(top, j->label, "decoder.", &j->raw));
        if (j->raw.n == 0)
            return fs_error(FS_ERR_MISSING, "%s: the e4e checkpoint has no 'decoder.' tensors "
                            "(convert its encoder with --net encoder, and take the generator "
                            "from the StyleGAN2 checkpoint it was trained with)", j->label);
        if (avg.ndim == 2) {
            avg.ndim = 1;
            avg.shape[0] = avg.shape[1];
            avg.stride[0] = avg.stride[1];
        }
        return fs_sg2_from_rosinality(&j->raw, &avg, &j->canon);
    }
    j->from_e4e = 1;
    report(j, "e4e checkpoint", "encoder");
    FS_TRY(fs_e4e_read_opts(top, j->label, &j->e4e_add_avg));
    FS_TRY(fs_e4e_state_dict(top, j->label, "encoder.", &j->canon));
    j->e4e_avg = avg;
    j->is_e4e = 1;
    return FS_OK;
}

static int dict_of_tensors(const fs_pv *d)
{
    if (d->kind != FS_PV_DICT || d->u.dict.n == 0)
        return 0;
    for (size_t i = 0; i < d->u.dict.n; i++)
        if (d->u.dict.vals[i]->kind != FS_PV_TENSOR)
            return 0;
    return 1;
}

/* A torch.save file: a bare state dict, a dict holding one under the net's
 * name, or rosinality's {'g_ema', 'g', 'd', 'latent_avg', ...}. */
static fs_status from_torch(job *j, const fs_pv *top, const fs_convert_options *o,
                            const char *format)
{
    if (top->kind != FS_PV_DICT)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: torch file holds a %s, not a state dict", j->label,
                        fs_pv_kind_name(top->kind));
    if (fs_e4e_is_checkpoint(top))
        return from_e4e(j, top, o);
    if (fs_lightcnn_is_checkpoint(top)) {
        /* {'epoch', 'arch', 'state_dict', 'prec1'} or its state dict, 'module.' dropped */
        const char *fmt;
        FS_TRY(fs_lightcnn_state_dict(top, j->label, &j->canon, &fmt));
        report(j, fmt, "state_dict");
        return FS_OK;
    }
    const fs_pv *g_ema = fs_pv_dict_get(top, "g_ema");
    if (g_ema) {
        if (o->net == FS_NET_D)
            return fs_error(FS_ERR_UNSUPPORTED,
                            "%s: rosinality discriminators are not supported; convert the "
                            "generator (g_ema or g)",
                            j->label);
        const char *key = o->net == FS_NET_G ? "g" : "g_ema";
        const fs_pv *sd = fs_pv_dict_get(top, key);
        if (!sd)
            return fs_error(FS_ERR_MISSING, "%s: the rosinality checkpoint has no '%s'", j->label,
                            key);
        report(j, "rosinality torch checkpoint", key);
        FS_TRY(fs_sd_from_pv_dict(&j->raw, sd, ""));
        const fs_pv *avg = fs_pv_dict_get(top, "latent_avg");
        fs_view avg_view;
        if (avg)
            FS_TRY(fs_view_from_pv(avg, j->label, "latent_avg", &avg_view));
        return fs_sg2_from_rosinality(&j->raw, avg ? &avg_view : NULL, &j->canon);
    }
    const char *key = o->net == FS_NET_G ? "G" : o->net == FS_NET_D ? "D" : "G_ema";
    const fs_pv *nested = fs_pv_dict_get(top, key);
    if (nested && dict_of_tensors(nested)) {
        report(j, format, key);
        return fs_sd_from_pv_dict(&j->canon, nested, "");
    }
    if (!dict_of_tensors(top))
        return fs_error(FS_ERR_UNSUPPORTED,
                        "%s: torch file is neither a state dict of tensors nor a rosinality "
                        "checkpoint",
                        j->label);
    report(j, format, "state_dict");
    FS_TRY(fs_sd_from_pv_dict(&j->raw, top, ""));
    if (fs_sg2_is_rosinality(&j->raw)) {
        const fs_sd_entry *avg = fs_sd_find(&j->raw, "latent_avg");
        return fs_sg2_from_rosinality(&j->raw, avg ? &avg->view : NULL, &j->canon);
    }
    /* Official names already: adopt the entries as they are. */
    j->canon = j->raw;
    fs_sd_init(&j->raw, j->label);
    return FS_OK;
}

static fs_status from_safetensors(job *j, const fs_convert_options *o)
{
    FS_TRY(fs_safetensors_open(j->map.data, j->map.size, j->label, &j->st));
    report(j, "safetensors", "state_dict");
    for (size_t i = 0; i < fs_safetensors_count(j->st); i++) {
        const fs_st_tensor *t = fs_safetensors_tensor_at(j->st, i);
        if (t->dtype == FS_DTYPE_INVALID)
            return fs_error(FS_ERR_UNSUPPORTED, "%s: tensor '%s' has unsupported dtype %s",
                            j->label, t->name, t->dtype_name);
        fs_view v = fs_view_contiguous(t->dtype, t->ndim, t->shape, t->data);
        FS_TRY(fs_sd_add(&j->raw, t->name, &v));
    }
    if (fs_sg2_is_rosinality(&j->raw)) {
        const fs_sd_entry *avg = fs_sd_find(&j->raw, "latent_avg");
        return fs_sg2_from_rosinality(&j->raw, avg ? &avg->view : NULL, &j->canon);
    }
    j->canon = j->raw;
    fs_sd_init(&j->raw, j->label);
    return FS_OK;
}

/* A u64 header length, then the JSON header's '{'. The length is not
 * required to fit the file here: a file shaped like safetensors whose length
 * is absurd goes to the safetensors reader, which names the impossible value,
 * instead of being called an unrecognised format. No other format we read
 * has '{' at offset 8 (zip: the method field; torch legacy: its magic number;
 * pickles: a frame length or the top-level opcodes). */
static int looks_like_safetensors(const uint8_t *b, size_t n)
{
    if (n < 10 || memcmp(b, "PK\x03\x04", 4) == 0)
        return 0;
    uint64_t hl;
    memcpy(&hl, b, 8);
    return hl >= 2 && b[8] == '{';
}

static fs_status load_source(job *j, const fs_convert_options *o)
{
    const uint8_t *b = j->map.data;
    size_t n = j->map.size;
    if (n == 0)
        return fs_error(FS_ERR_FORMAT, "%s: empty file", j->label);
    if (n >= 8 && memcmp(b, FS_FSW_MAGIC, 8) == 0)
        return fs_error(FS_ERR_UNSUPPORTED,
                        "%s: already converted: a facesynth weight file (.fsw) is used as it "
                        "is (--network, info); there is nothing to convert",
                        j->label);
    if (n >= 6 && memcmp(b, "\x93NUMPY", 6) == 0)
        return fs_error(FS_ERR_UNSUPPORTED,
                        "%s: a .npy file holds one array, not a network (use it for --z, --ws, "
                        "--c)",
                        j->label);
    if (looks_like_safetensors(b, n))
        return from_safetensors(j, o);
    FS_TRY(fs_pickle_init(&j->pickle, j->label, n));
    fs_pv *top = NULL;
    int is_zip = n >= 4 && memcmp(b, "PK\x03\x04", 4) == 0;
    int is_legacy_torch = n >= 4 && b[0] == 0x80 && b[1] == 0x02 && b[2] == 0x8a && b[3] == 0x0a;
    int is_tar = n >= 263 && memcmp(b + 257, "ustar", 5) == 0;
    if (is_zip || is_legacy_torch || is_tar) {
        FS_TRY(fs_torch_load(j->pickle, b, n, &top));
        return from_torch(j, top, o, is_zip ? "torch zip state dict" : "legacy torch state dict");
    }
    if (b[0] == 0x80) {
        size_t used = 0;
        FS_TRY(fs_pickle_load(j->pickle, b, n, &used, &top));
        if (used != n)
            return fs_error(FS_ERR_FORMAT, "%s: %zu trailing bytes after the pickle", j->label,
                            n - used);
        return from_network_pickle(j, top, o);
    }
    return fs_error(FS_ERR_UNSUPPORTED,
                    "%s: unrecognised checkpoint format (expected a network pickle, torch.save "
                    "file or safetensors)",
                    j->label);
}

/* The family of a bare state dict is whatever its names say; --net must agree. */
static fs_status decide_family(job *j, const fs_convert_options *o)
{
    if (j->have_cfg)
        return FS_OK;
    if (j->is_e4e)
        return fs_e4e_infer_config(&j->canon, &j->e4e_avg, j->e4e_add_avg, &j->e4e);
    if (fs_cvaegan_is_state_dict(&j->canon)) {
        j->is_cvaegan = 1;
        snprintf(j->rep->net, sizeof j->rep->net, "cvaegan");
        return fs_cvaegan_infer_config(&j->canon, &j->cvae);
    }
    if (fs_lightcnn_is_state_dict(&j->canon)) {
        j->other = FS_FAMILY_LIGHTCNN;
        snprintf(j->rep->net, sizeof j->rep->net, "lightcnn");
        return fs_lightcnn_infer_config(&j->canon, &j->lcnn);
    }
    if (fs_arcface_is_state_dict(&j->canon)) {
        j->other = FS_FAMILY_ARCFACE;
        snprintf(j->rep->net, sizeof j->rep->net, "arcface");
        return fs_arcface_infer_config(&j->canon, &j->arc);
    }
    if (fs_simgan_is_state_dict(&j->canon)) {
        j->other = FS_FAMILY_SIMGAN;
        snprintf(j->rep->net, sizeof j->rep->net, "simgan");
        return fs_simgan_infer_config(&j->canon, &j->sim);
    }
    int has_g = fs_sd_find(&j->canon, "mapping.w_avg") || fs_sd_find(&j->canon, "synthesis.b4.const");
    int has_d = fs_sd_find(&j->canon, "b4.out.weight") != NULL;
    if (has_g == has_d)
        return fs_error(FS_ERR_UNSUPPORTED,
                        "%s: the tensors are neither a StyleGAN2 generator nor a discriminator "
                        "state dict (nor a CVAE-GAN, Light CNN, ArcFace IR-SE or SimGAN one: a "
                        "checkpoint trained under other module names needs --rename rules)",
                        j->label);
    if (o->net == FS_NET_D && has_g)
        return fs_error(FS_ERR_ARG, "%s: holds a generator, but --net D asks for a discriminator",
                        j->label);
    if ((o->net == FS_NET_G || o->net == FS_NET_G_EMA) && has_d)
        return fs_error(FS_ERR_ARG, "%s: holds a discriminator, but --net asks for a generator",
                        j->label);
    if (has_d)
        fs_sg2_config_default_d(&j->cfg);
    else
        fs_sg2_config_default_g(&j->cfg);
    FS_TRY(fs_sg2_infer_config(&j->canon, &j->cfg));
    return FS_OK;
}

/* Flags that mean nothing to the family found are refused, never ignored: a
 * CVAE-GAN state dict holds every network and none of the StyleGAN2
 * hyper-parameters, and a generator has no minibatch-std layer. */
static fs_status check_flags_apply(const job *j, const fs_convert_options *o)
{
    const fs_sg2_overrides *ov = &o->overrides;
    const char *sg2_flag = ov->has_conv_clamp     ? "--conv-clamp"
                           : ov->has_architecture ? "--architecture"
                           : ov->has_mapping_lr   ? "--mapping-lr"
                           : ov->has_num_fp16_res ? "--num-fp16-res"
                           : ov->has_mbstd_group  ? "--mbstd-group"
                                                  : NULL;
    if (j->is_e4e) {
        if (sg2_flag)
            return fs_error(FS_ERR_ARG, "%s: holds an e4e encoder: %s applies only to StyleGAN2 "
                            "networks (its decoder: --net decoder)", j->label, sg2_flag);
        return FS_OK;
    }
    if (j->other) {
        const char *name = fs_family_name(j->other);
        if (o->net != FS_NET_DEFAULT && !o->net_from_role)
            return fs_error(FS_ERR_ARG, "%s: holds a %s: --net applies only to StyleGAN2 and e4e "
                            "checkpoints", j->label, name);
        if (sg2_flag)
            return fs_error(FS_ERR_ARG, "%s: holds a %s: %s applies only to StyleGAN2 "
                            "checkpoints", j->label, name, sg2_flag);
        return FS_OK;
    }
    if (j->is_cvaegan) {
        if (o->net != FS_NET_DEFAULT && !o->net_from_role)
            return fs_error(FS_ERR_ARG,
                            "%s: holds a CVAE-GAN, whose state dict has every network in one "
                            "file: --net applies only to StyleGAN2 checkpoints",
                            j->label);
        if (sg2_flag)
            return fs_error(FS_ERR_ARG,
                            "%s: holds a CVAE-GAN: %s applies only to StyleGAN2 checkpoints",
                            j->label, sg2_flag);
        return FS_OK;
    }
    if (!j->cfg.is_discriminator && ov->has_mbstd_group)
        return fs_error(FS_ERR_ARG,
                        "%s: holds a StyleGAN2 generator: --mbstd-group applies only to a "
                        "discriminator",
                        j->label);
    return FS_OK;
}

typedef enum { OUT_FILE, OUT_MEMORY } out_kind;

/* `convert x.pkl -o x.pkl` would rename the new file over the checkpoint it
 * came from. Path strings cannot tell (./x.pkl, a/../x.pkl, a symlink, a
 * hard link), so the existing output is compared with the input by device
 * and inode. An output that does not exist yet cannot be the input; an input
 * that cannot be stat'ed is left for the open to report. */
static fs_status check_output_is_not_input(const char *in_path, const char *out_path)
{
    struct stat si, so;
    if (stat(in_path, &si) != 0 || stat(out_path, &so) != 0)
        return FS_OK;
    if (si.st_dev == so.st_dev && si.st_ino == so.st_ino)
        return fs_error(FS_ERR_ARG,
                        "%s: the output is the input checkpoint %s itself (same device and "
                        "inode); refusing to overwrite it",
                        out_path, in_path);
    return FS_OK;
}

static fs_status run(const char *in_path, const fs_convert_options *o, out_kind kind,
                     const char *out_path, uint8_t **buf, size_t *len, fs_convert_report *rep)
{
    fs_convert_report local;
    job j;
    memset(&j, 0, sizeof j);
    j.label = in_path;
    j.rep = rep ? rep : &local;
    memset(j.rep, 0, sizeof *j.rep);
    fs_sd_init(&j.raw, in_path);
    fs_sd_init(&j.canon, in_path);
    if (!fs_dtype_is_storable(o->dtype))
        return fs_error(FS_ERR_ARG, "output dtype must be f32, f16 or bf16");
    if (kind == OUT_FILE)
        FS_TRY(check_output_is_not_input(in_path, out_path));
    fs_weights_writer *w = NULL;
    fs_status s = fs_file_map_open(in_path, &j.map);
    if (s == FS_OK)
        s = load_source(&j, o);
    if (s == FS_OK && !j.from_e4e && (o->net == FS_NET_ENCODER || o->net == FS_NET_DECODER))
        s = fs_error(FS_ERR_ARG, "%s: --net encoder and --net decoder apply only to e4e "
                     "checkpoints (this is a %s)", in_path, j.rep->format);
    if (s == FS_OK && o->rename_path) {
        fs_rename_rules *rules = NULL;
        s = fs_rename_rules_load(o->rename_path, &rules);
        if (s == FS_OK)
            s = fs_rename_apply(rules, &j.canon);
        fs_rename_rules_free(rules);
    }
    if (s == FS_OK)
        s = decide_family(&j, o);
    if (s == FS_OK)
        s = check_flags_apply(&j, o);
    if (s == FS_OK && !j.is_cvaegan && !j.is_e4e && !j.other) {
        fs_sg2_apply_overrides(&j.cfg, &o->overrides);
        s = fs_sg2_config_finalize(&j.cfg, in_path);
    }
    if (s == FS_OK) {
        j.rep->family = j.is_e4e ? FS_FAMILY_E4E_ENCODER
                        : j.other ? j.other
                        : j.is_cvaegan ? FS_FAMILY_CVAEGAN
                        : j.cfg.is_discriminator ? FS_FAMILY_STYLEGAN2_D : FS_FAMILY_STYLEGAN2_G;
        s = fs_weights_writer_init(&w, j.rep->family);
    }
    if (s == FS_OK)
        s = fs_weights_writer_put_meta(w, "source_format", FS_META_STR, 0, 0, j.rep->format, NULL, 0);
    if (s == FS_OK)
        s = fs_weights_writer_put_meta(w, "source_net", FS_META_STR, 0, 0, j.rep->net, NULL, 0);
    if (s == FS_OK)
        s = j.is_e4e       ? fs_e4e_import(w, &j.canon, &j.e4e, &j.e4e_avg, o->dtype)
            : j.other == FS_FAMILY_LIGHTCNN ? fs_lightcnn_import(w, &j.canon, &j.lcnn, o->dtype)
            : j.other == FS_FAMILY_ARCFACE  ? fs_arcface_import(w, &j.canon, &j.arc, o->dtype)
            : j.other == FS_FAMILY_SIMGAN   ? fs_simgan_import(w, &j.canon, &j.sim, o->dtype)
            : j.is_cvaegan ? fs_cvaegan_import(w, &j.canon, &j.cvae, o->dtype)
                           : fs_sg2_import(w, &j.canon, &j.cfg, o->dtype);
    if (s == FS_OK) {
        j.rep->tensors = fs_weights_writer_count(w);
        s = kind == OUT_FILE ? fs_weights_writer_write_file(w, out_path)
                             : fs_weights_writer_write_memory(w, buf, len);
    }
    fs_weights_writer_free(w);
    job_free(&j);
    return s;
}

fs_status fs_convert_file(const char *in_path, const char *out_path, const fs_convert_options *o,
                          fs_convert_report *report)
{
    return run(in_path, o, OUT_FILE, out_path, NULL, NULL, report);
}

fs_status fs_convert_to_memory(const char *in_path, const fs_convert_options *o, uint8_t **buf,
                               size_t *len, fs_convert_report *report)
{
    return run(in_path, o, OUT_MEMORY, NULL, buf, len, report);
}
