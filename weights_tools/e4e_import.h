/* e4e checkpoints (omertov/encoder4editing) -> flat weight files, without
 * Python (docs/e4e.md).
 *
 * A released e4e file is torch.save({'state_dict': pSp's state dict,
 * 'opts': a plain dict, 'latent_avg': [n_styles, 512]}), zip or legacy; its
 * storages are tagged 'cuda:0', a location the reader ignores. The state dict
 * holds the Encoder4Editing under 'encoder.' and rosinality's StyleGAN2
 * generator under 'decoder.'. The converter writes either:
 *   - the encoder: an e4e-encoder file (engine/e4e_config.h), every
 *     hyper-parameter read from tensor shapes, latent_avg with it;
 *   - the decoder: a StyleGAN2 generator through the rosinality mapping,
 *     with w_avg from latent_avg.
 * The IR-SE trunk's shapes are read by fs_ir_se_infer_config, which any
 * other IR-SE network's importer can call. */
#ifndef FS_E4E_IMPORT_H
#define FS_E4E_IMPORT_H

#include "../engine/e4e_config.h"
#include "pickle.h"
#include "state_dict.h"
#include "weights_writer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A dict with a 'state_dict' dict that has an 'encoder.' key. */
int fs_e4e_is_checkpoint(const fs_pv *top);

/* The entries of top['state_dict'] whose names start with prefix
 * ('encoder.' or 'decoder.'), the prefix dropped, into sd. */
fs_status fs_e4e_state_dict(const fs_pv *top, const char *label, const char *prefix,
                            fs_state_dict *sd);

/* top['latent_avg'] ([n_styles, D] or [D]). */
fs_status fs_e4e_latent_avg(const fs_pv *top, const char *label, fs_view *out);

/* What opts says: refuses an encoder_type other than Encoder4Editing (pSp's
 * encoders have the same tensors but another forward); *add_latent_avg =
 * opts.start_from_latent_avg (1 when opts or the key is absent). */
fs_status fs_e4e_read_opts(const fs_pv *top, const char *label, int *add_latent_avg);

/* The IR-SE trunk's config from the shapes under prefix: input width, and
 * stages split where a unit's width changes (unit 0 starts stage 0). */
fs_status fs_ir_se_infer_config(const fs_state_dict *sd, const char *prefix, fs_ir_se_config *c);

/* The whole encoder's config from the shapes (styles, their convs, the
 * input side they imply, latent_avg). */
fs_status fs_e4e_infer_config(const fs_state_dict *sd, const fs_view *latent_avg,
                              int add_latent_avg, fs_e4e_config *c);

/* Adds every canonical tensor (canonical order, converted to dtype) and the
 * config's metadata; latent_avg [D] is written broadcast to [n_styles, D].
 * BatchNorm's num_batches_tracked is dropped; any other leftover is an error. */
fs_status fs_e4e_import(fs_weights_writer *w, fs_state_dict *sd, const fs_e4e_config *c,
                        const fs_view *latent_avg, fs_dtype dtype);

#ifdef __cplusplus
}
#endif
#endif
