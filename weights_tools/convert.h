/* The checkpoint converter: any supported StyleGAN2 checkpoint in, one flat
 * weight file (or its in-memory image) out.
 *
 * Recognised by content, not by extension: stylegan2-ada-pytorch / stylegan3
 * network pickles, original TensorFlow StyleGAN2 pickles, torch.save files
 * (zip and legacy) holding an official state dict or rosinality's
 * {'g_ema', 'latent_avg'} layout, and safetensors; CVAE-GAN state dicts in the
 * naming of docs/cvaegan.md (other namings through --rename rules); e4e
 * checkpoints (their encoder, or their decoder as a StyleGAN2 generator);
 * the identity networks (Light CNN-9 checkpoints, ArcFace IR-SE state dicts)
 * and SimGAN state dicts (docs/identity.md, docs/simgan.md). */
#ifndef FS_CONVERT_H
#define FS_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/weights.h"
#include "sg2_import.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FS_NET_DEFAULT = 0, /* G_ema (ADA), Gs (TF), g_ema (rosinality), the only net otherwise */
    FS_NET_G_EMA,
    FS_NET_G,
    FS_NET_D,
    FS_NET_ENCODER, /* e4e checkpoints: the Encoder4Editing */
    FS_NET_DECODER, /* e4e checkpoints: the StyleGAN2 generator */
} fs_net_select;

typedef struct {
    fs_net_select net;
    fs_dtype dtype;            /* of every stored tensor; default f32 */
    fs_sg2_overrides overrides;
    const char *rename_path;   /* --rename rules for state dicts, or NULL */
    /* 1: net was chosen by what the caller runs (network.h fs_network_open
     * asking for a discriminator), not by a user's --net; a file that holds
     * every network in one state dict (a CVAE-GAN) then satisfies it. With
     * net DEFAULT it means a caller that runs a generator: an e4e checkpoint
     * then gives its decoder (a user's plain `convert` gets the encoder). */
    int net_from_role;
} fs_convert_options;

typedef struct {
    char format[64];           /* e.g. "stylegan2-ada network pickle" */
    char net[16];              /* e.g. "G_ema" */
    fs_family family;
    size_t tensors;
} fs_convert_report;

void fs_convert_options_default(fs_convert_options *o);
int fs_net_parse(const char *s, fs_net_select *out); /* 1 on success */

fs_status fs_convert_file(const char *in_path, const char *out_path, const fs_convert_options *o,
                          fs_convert_report *report);
/* The flat file image in a malloc'd buffer, for commands that take any checkpoint. */
fs_status fs_convert_to_memory(const char *in_path, const fs_convert_options *o, uint8_t **buf,
                               size_t *len, fs_convert_report *report);

/* --rename rules parsed from bytes in memory (the contents of the file
 * fs_rename_rules_load in cvaegan_import.h reads; label names it in
 * messages): what the converter and the fuzz harness use. Refuses NUL bytes,
 * files over FS_RENAME_MAX_FILE bytes, and patterns the regex compiler could
 * blow up on (see pattern_problem in cvaegan_import.c). */
typedef struct fs_rename_rules fs_rename_rules;
#define FS_RENAME_MAX_FILE (1 << 20)
#define FS_RENAME_MAX_PATTERN 256 /* bytes of one REGEX */
#define FS_RENAME_STR_(x) #x
#define FS_RENAME_STR(x) FS_RENAME_STR_(x)
fs_status fs_rename_rules_parse(const char *buf, size_t len, const char *label,
                                fs_rename_rules **out);

#ifdef __cplusplus
}
#endif
#endif
