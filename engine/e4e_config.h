/* e4e's Encoder4Editing hyper-parameters and the canonical tensor list they
 * imply (docs/e4e.md): the IR-SE-50 trunk (ir_se.h), the FPN laterals, one
 * GradualStyleBlock per style and latent_avg. Everything is recoverable from
 * tensor shapes; the converter (weights_tools/e4e_import.c) infers it and
 * writes exactly this list, and fs_e4e_check_weights proves a file holds it. */
#ifndef FS_E4E_CONFIG_H
#define FS_E4E_CONFIG_H

#include <stdint.h>

#include "ir_se.h"
#include "status.h"
#include "weights.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Constants of the official Encoder4Editing (psp_encoders.py): the styles
 * before coarse_ind read c3, those before middle_ind p2, the rest p1; the
 * trunk's taps are the outputs of body units 6, 20 and 23 (the ends of
 * stages 2, 3 and 4 of IR-SE-50, whose layout the code assumes). */
#define FS_E4E_COARSE_IND 3
#define FS_E4E_MIDDLE_IND 7
#define FS_E4E_TAP_C1 6
#define FS_E4E_TAP_C2 20
#define FS_E4E_TAP_C3 23
#define FS_E4E_MAX_STYLES 64

typedef struct {
    fs_ir_se_config body;
    int64_t n_styles;         /* 18 for a 1024^2 generator: 2 log2(size) - 2 */
    int64_t style_dim;        /* w_dim of the generator the codes are for */
    int64_t input_resolution; /* 256: the official transforms' size */
    int64_t add_latent_avg;   /* 1: codes = encoder output + latent_avg (opts.start_from_latent_avg) */
} fs_e4e_config;

/* The feature map style i reads (0: c3, 1: p2, 2: p1) and its side. */
int fs_e4e_style_level(int i);
int64_t fs_e4e_style_spatial(const fs_e4e_config *c, int i);
/* The number of stride-2 convs of style i's GradualStyleBlock: log2(spatial). */
int fs_e4e_style_convs(const fs_e4e_config *c, int i);

fs_status fs_e4e_config_check(const fs_e4e_config *c, const char *label);
fs_status fs_e4e_for_each_tensor(const fs_e4e_config *c, fs_tensor_spec_fn fn, void *user);
fs_status fs_e4e_config_to_meta(const fs_e4e_config *c, fs_ir_se_meta_put_fn put, void *user);
fs_status fs_e4e_config_from_weights(const fs_weights *w, fs_e4e_config *c);
/* The family check: config sound, every tensor present with its shape,
 * nothing else in the file. */
fs_status fs_e4e_check_weights(const fs_weights *w);

#ifdef __cplusplus
}
#endif
#endif
