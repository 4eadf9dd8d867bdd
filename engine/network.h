/* Opening a network: the library's one entry from a path to validated
 * weights, used by the command line, the tests and the benchmarks alike.
 *
 * The path is a converted flat file (recognised by its magic) or any
 * checkpoint the converter reads, converted in memory. Either way the result
 * has passed the flat-file checks (weights.h) and the family check of its
 * model (every canonical tensor present with its shape, hyper-parameters
 * sound), and is of a family the caller asked for. Data path:
 * convert -> load (this file) -> plan (model _init) -> run -> write. */
#ifndef FS_NETWORK_H
#define FS_NETWORK_H

#include "../weights_tools/convert.h"
#include "status.h"
#include "weights.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a caller can run. A CVAE-GAN file holds all of its networks, so it
 * satisfies every role; a SimGAN file satisfies the discriminator role (the
 * model refuses one without its discriminator's tensors). */
typedef enum {
    FS_WANT_ANY = 0,
    FS_WANT_GENERATOR,     /* a StyleGAN2 generator or a CVAE-GAN */
    FS_WANT_DISCRIMINATOR, /* a StyleGAN2 discriminator or a CVAE-GAN */
    FS_WANT_CVAEGAN,       /* a CVAE-GAN */
    FS_WANT_E4E_ENCODER,   /* an e4e encoder (from an e4e checkpoint: its encoder) */
    FS_WANT_IDENTITY,      /* an identity network: Light CNN or ArcFace IR-SE */
    FS_WANT_SIMGAN,        /* a SimGAN (its refiner; a discriminator role needs disc.*) */
} fs_network_want;

typedef struct {
    fs_network_want want;
    /* Used only when the path is a checkpoint. With FS_WANT_DISCRIMINATOR,
     * convert.net is forced to D. An e4e checkpoint gives its encoder by
     * default and its decoder with FS_WANT_GENERATOR. */
    fs_convert_options convert;
} fs_network_opts;

void fs_network_opts_default(fs_network_opts *o);

/* Where the weights came from. */
typedef struct {
    int converted;             /* 1: a checkpoint converted in memory; 0: a .fsw */
    fs_convert_report report;  /* when converted */
} fs_network_source;

/* 1 if the file at path starts with the flat format's magic, 0 if not,
 * -1 (with the error recorded) if it cannot be read. */
int fs_network_is_flat(const char *path);

/* o may be NULL (any family, default conversion); src may be NULL. */
fs_status fs_network_open(const char *path, const fs_network_opts *o, fs_weights **out,
                          fs_network_source *src);

/* The family check alone, for weights opened with fs_weights_open*: the
 * tensors and hyper-parameters the declared family needs. */
fs_status fs_network_check(const fs_weights *w);

#ifdef __cplusplus
}
#endif
#endif
