/* The identity networks on the command line (docs/identity.md), shared by
 * `facesynth embed` (cmd_embed.c) and the identity filter of `facesynth
 * filter`: opening a Light CNN or ArcFace IR-SE file, preparing image files
 * as each network's official pipeline does, embedding batches, and the
 * cosine of two embeddings. Also the image-folder listing `embed`, `refine`
 * and the SimGAN `score` share. */
#ifndef FS_IDENTITY_CLI_H
#define FS_IDENTITY_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/arcface.h"
#include "../engine/backend.h"
#include "../engine/lightcnn.h"
#include "../engine/progress.h"
#include "../engine/status.h"
#include "../engine/weights.h"

typedef struct {
    const char *path;
    fs_weights *w;
    fs_backend *b;
    fs_lightcnn *lc; /* one of the two */
    fs_arcface *af;
    int dim;         /* feature length */
    int channels;    /* of the network's input: 1 (Light CNN) or 3 */
    int res;         /* the network's input side */
    const char *what; /* "Light CNN-9 feature" or "ArcFace embedding" */
} cli_identity;

/* A Light CNN or ArcFace file (.fsw or checkpoint, converted in memory with
 * rename_path's rules when given) on the --device backend. */
fs_status cli_identity_open(const char *path, const char *rename_path, long threads,
                            cli_identity *id);
void cli_identity_close(cli_identity *id);

/* One image file prepared as the network's official pipeline does:
 *   Light CNN: convert('L'), CenterCrop(res) (zero padding), / 255 -> [1, res, res]
 *   ArcFace:   convert('RGB'), (u / 255 - 0.5) / 0.5 -> [3, s, s], s its side
 * *x malloc'd; *side the side fs of what it holds. ArcFace refuses sides it
 * cannot take (112; 256 and up, square). */
fs_status cli_identity_load(const cli_identity *id, const char *file, float **x, int *side);
/* The same for an image already decoded to 8-bit RGB [h, w, 3] (Light CNN
 * converts it to gray in place); label names it in messages. */
fs_status cli_identity_prepare_rgb(const cli_identity *id, uint8_t *rgb, int w, int h,
                                   const char *label, float **x, int *side);
/* The side a decoded w x h image will have (0 and an error when refused),
 * for checks before any work. */
fs_status cli_identity_check_size(const cli_identity *id, const char *file, int w, int h,
                                  int *side);

/* n inputs of side `side` -> out [n, dim]. */
fs_status cli_identity_embed(cli_identity *id, const float *x, int n, int side, float *out);

/* The embeddings of files dir/names[idx[k]] for k < count into out
 * [count, dim], in batches of up to `batch` consecutive images of one side;
 * progress (when prog is not NULL) counts one per image from `done`. */
fs_status cli_identity_embed_files(cli_identity *id, const char *dir, char *const *names,
                                   const size_t *idx, size_t count, int batch, float *out,
                                   fs_progress *prog, uint64_t done);

/* The identity filter's score (facesynth filter --identity-network): the
 * cosine of each candidate cand_dir/cands[i] with its reference
 * ref_dir/refs[ref_of[i]], each reference embedded once. cos [n_cands]. */
fs_status cli_identity_pair_cosines(cli_identity *id, const char *ref_dir, char *const *refs,
                                    size_t n_refs, const char *cand_dir, char *const *cands,
                                    const size_t *ref_of, size_t n_cands, int quiet,
                                    double *cos);

/* <a, b> / (|a| |b|) in double; NaN when either is zero. */
double cli_cosine(const float *a, const float *b, int n);

/* The image files of a directory (*.png, *.jpg, *.jpeg in any case, not
 * hidden), sorted with strcmp; an empty directory is an error naming flag.
 * Free with cli_names_free. */
fs_status cli_list_images(const char *dir, const char *flag, char ***names, size_t *n);
void cli_names_free(char **names, size_t n);
/* dir/name, malloc'd (NULL when out of memory). */
char *cli_join(const char *dir, const char *name);

#endif
