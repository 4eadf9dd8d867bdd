/* Identity-structured face datasets (`facesynth dataset`, docs/datasets.md).
 *
 * A dataset is N identities times M variations. Image g (the global index,
 * 0 <= g < N M) is identity g / M, variation g % M, and is a pure function
 * of the job (the network's SHA-256 and every flag that changes a byte,
 * fs_ds_job) and g: batch size, threads, writer threads, shards and resumes
 * never change a byte. What decides it:
 *   - StyleGAN2: identity i's code is w_i = truncated mapping of
 *     z = RandomState(seed + i).randn(z_dim); variation j draws from
 *     RandomState(v) with v = fs_ds_seed32(seed, VARIATION, i, j): z_v
 *     (randn), then one strength per edit (uniform(lo, hi)). The ws rows of
 *     the mix layers take w(z_v), the others w_i; each edit adds alpha times
 *     its boundary on the edit layers; random noise is keyed by v.
 *   - CVAE-GAN: identity i is the one-hot label of class i; variation j is
 *     z = RandomState(v).randn(z_dim).
 *   - Identity mixup: identity i is mixed when u < p, u the first
 *     random_sample() of RandomState(fs_ds_seed32(seed, MIXUP, i, 0)); the
 *     same stream then picks two pure identities a != b uniformly and phi
 *     (a fixed weight or numpy's legacy beta(a, b)). A mixed identity's code
 *     is phi w_a + (1 - phi) w_b (a label mixture for the CVAE-GAN) and its
 *     soft label (phi, 1 - phi) over (a, b).
 *
 * Output (dataset_write.c): an ImageFolder tree OUT/<identity>/<n>.png|jpg
 * or WebDataset tar files of `chunk` samples each (.png|.jpg, .json, .cls),
 * plus job.json (the job), manifest.jsonl (one provenance line per image),
 * dataset.json (stylegan2-ada labels) and run.log (times and hosts: the one
 * file that is not deterministic). Work is done in chunks of `chunk`
 * consecutive images; a chunk is committed by its manifest part
 * (OUT/manifest.part-C.jsonl), written with write, fsync, rename after every
 * file of the chunk was so written: a part that exists means its images do.
 * Shards take disjoint, balanced ranges of chunks; merge concatenates the
 * parts. Every function returns fs_status with a one-line message. */
#ifndef FS_DATASET_H
#define FS_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "cvaegan.h"
#include "edit.h"
#include "rng.h"
#include "status.h"
#include "stylegan2.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FS_DS_MAX_EDITS 16
#define FS_DS_MAX_WS 64                   /* ws rows a layer mask can name */
#define FS_DS_MAX_IDENTITIES 2147483647ull /* identities fit an int32 label */
#define FS_DS_MAX_IMAGES 1000000000000ull /* 10^12 images in one job */
#define FS_DS_MAX_SOFT_VALUES (1ull << 28) /* dataset.json soft-label numbers */

/* Stream tags of fs_ds_seed32 (the Philox key's second word). */
#define FS_DS_TAG_VARIATION 1u
#define FS_DS_TAG_MIXUP 2u
#define FS_DS_TAG_DOMAIN 3u /* facesynth mixup's pairing and weights */

typedef enum { FS_DS_SG2 = 0, FS_DS_CVAE = 1 } fs_ds_family;
typedef enum { FS_DS_FOLDER = 0, FS_DS_TAR = 1 } fs_ds_format;
typedef enum { FS_DS_PNG = 0, FS_DS_JPEG = 1 } fs_ds_image;

typedef struct {
    char *path;   /* as given: the manifest records it */
    double lo, hi; /* the strength range */
    fs_boundary b; /* as read; b.sha256 is its provenance */
} fs_ds_edit;

/* Everything that decides the bytes of a dataset. */
typedef struct {
    fs_ds_family family;
    char network_sha256[65];
    uint64_t identities, per_identity;
    uint32_t seed;
    int z_dim, w_dim, num_ws; /* the network's (num_ws 0 for the CVAE-GAN) */
    int n_classes;            /* CVAE-GAN: n_id (labels have this length) */
    int img_res, img_channels;
    /* StyleGAN2 */
    double psi;
    fs_noise_mode noise;
    uint64_t mix_mask; /* bit l: ws row l comes from the variation's code */
    int n_edits;
    fs_ds_edit edits[FS_DS_MAX_EDITS];
    uint64_t edit_mask; /* ws rows the edits move */
    /* identity mixup */
    double mixup_prob;
    int mixup_fixed;    /* 1: phi = mixup_weight; 0: beta(beta_a, beta_b) */
    double mixup_weight, beta_a, beta_b;
    /* filter score: the realism of every image, by this discriminator */
    char disc_sha256[65]; /* "" for none */
    /* output */
    fs_ds_format format;
    fs_ds_image image;
    int quality;          /* JPEG quality, 1 .. 100 */
    uint64_t chunk;       /* images per chunk: per tar file, per manifest part */
    char precision[8];    /* the backend arithmetic ("fp32", ...) */
} fs_ds_job;

/* Frees the edits' paths and boundaries. */
void fs_ds_job_free(fs_ds_job *job);

/* job.json: the job as canonical JSON, one member per line, keys in a fixed
 * order (*out malloc'd, NUL-terminated). */
fs_status fs_ds_job_text(const fs_ds_job *job, char **out);
/* The fields of a job.json that merge needs (counts, seed, mixup, output
 * format); edits are not read. label names the file in messages. */
fs_status fs_ds_job_parse(const char *text, size_t len, const char *label, fs_ds_job *out);
/* "a" and "b" differ: a one-line description of the first member that
 * differs ("identities is 100 in job.json, 200 here"), or FS_OK if none. */
fs_status fs_ds_job_compare(const char *existing, const char *ours, const char *label);

/* A layer list of num_ws ws rows into a bit mask: "4-7", "0-3,8",
 * "8-" (8 to the last), "all" or "none". FS_ERR_ARG naming flag: syntax, an
 * empty range, an index >= num_ws (also the start of an open range). */
fs_status fs_ds_parse_layers(const char *s, int num_ws, const char *flag, uint64_t *mask);
/* The mask as ranges ("4-7", "0-3,8"), "none" when empty (cap >= 256). */
void fs_ds_layers_string(uint64_t mask, int num_ws, char *buf, size_t cap);

/* ---- the seeded draws (dataset_plan.c) ---- */

/* A 32-bit RandomState seed for stream (tag, i, j) of job seed s: word 0 of
 * Philox4x32-10 with key (s, tag) and counter (i mod 2^32, i >> 32, j, 0). */
uint32_t fs_ds_seed32(uint32_t s, uint32_t tag, uint64_t i, uint32_t j);
/* numpy's legacy RandomState.standard_gamma(shape) and beta(a, b), draw for
 * draw (Marsaglia-Tsang, and Johnk's algorithm when a, b <= 1). */
double fs_ds_np_standard_gamma(fs_np_random *r, double shape);
double fs_ds_np_beta(fs_np_random *r, double a, double b);

/* ---- the plan ---- */

typedef struct {
    const fs_ds_job *job;
    uint64_t total, n_chunks;
    uint8_t *mixed;  /* [identities], with mixup: 1 for a mixed identity */
    uint32_t *pure;  /* [n_pure]: the identities that are not mixed, ascending */
    uint64_t n_pure;
    int id_digits, var_digits, chunk_digits, index_digits; /* zero-padded names */
} fs_ds_plan;

/* Checks the job's numbers (FS_ERR_ARG, naming the flag) and draws every
 * identity's mixup decision. With mixup, fewer than two pure identities
 * is FS_ERR_ARG when any identity is mixed. */
fs_status fs_ds_plan_init(fs_ds_plan *p, const fs_ds_job *job);
void fs_ds_plan_free(fs_ds_plan *p);

/* Image g as the draws define it. */
typedef struct {
    uint64_t index, identity, variation, chunk;
    uint32_t identity_seed;  /* StyleGAN2: seed + identity (mod 2^32) */
    uint32_t variation_seed; /* fs_ds_seed32(seed, VARIATION, identity, variation) */
    int mixed;
    uint64_t src[2];  /* mixed: the two pure identities */
    double phi;       /* mixed: the weight of src[0] */
    float weight[2];  /* the soft label: float32(phi), float32(1 - phi) */
    double alpha[FS_DS_MAX_EDITS];
} fs_ds_image_info;

/* Describes image g; z_var (may be NULL) receives the variation's z
 * [z_dim] as float32. */
void fs_ds_describe(const fs_ds_plan *p, uint64_t g, fs_ds_image_info *info, float *z_var);
/* Whether identity i is mixed, its sources and phi (the mixup stream). */
void fs_ds_identity_mixup(const fs_ds_plan *p, uint64_t i, int *mixed, uint64_t src[2],
                          double *phi);
/* The identity's z [z_dim] (StyleGAN2): RandomState(seed + i).randn. */
void fs_ds_identity_z(const fs_ds_plan *p, uint64_t i, float *z);

/* Names, relative to OUT: "00012/0003.png" (folder) or "000000123.png" (the
 * member name in its tar); the tar file "000001.tar"; the chunk's manifest
 * part "manifest.part-000001.jsonl". cap >= 64 is always enough. */
void fs_ds_image_name(const fs_ds_plan *p, uint64_t g, char *buf, size_t cap);
void fs_ds_tar_name(const fs_ds_plan *p, uint64_t chunk, char *buf, size_t cap);
void fs_ds_part_name(const fs_ds_plan *p, uint64_t chunk, char *buf, size_t cap);
/* Images of chunk c: [*g0, *g1). */
void fs_ds_chunk_images(const fs_ds_plan *p, uint64_t c, uint64_t *g0, uint64_t *g1);

/* The manifest line of image g (JSON, no newline; *out malloc'd). score
 * NULL: no filter score. */
fs_status fs_ds_manifest_line(const fs_ds_plan *p, const fs_ds_image_info *info,
                              const double *score, char **out, size_t *len);

/* ---- shards ---- */

typedef struct {
    uint64_t k, n; /* shard k of n */
} fs_ds_shard;

/* "K/N", 0 <= K < N <= 2^32: FS_ERR_ARG naming the problem otherwise. */
fs_status fs_ds_shard_parse(const char *spec, fs_ds_shard *out);
/* The scheduler's environment through get (getenv-like; ctx is passed on):
 *   1. a Slurm array: K = (SLURM_ARRAY_TASK_ID - MIN) / STEP and N =
 *      SLURM_ARRAY_TASK_COUNT (or (MAX - MIN) / STEP + 1); inside a job step
 *      (SLURM_STEP_ID set) of SLURM_NTASKS > 1 tasks, each array task is
 *      split further by SLURM_PROCID;
 *   2. a Slurm job step: SLURM_PROCID of SLURM_NTASKS (only with
 *      SLURM_STEP_ID: a batch script alone is one process);
 *   3. Open MPI: OMPI_COMM_WORLD_RANK of OMPI_COMM_WORLD_SIZE;
 *   4. PMI (MPICH, Intel MPI): PMI_RANK of PMI_SIZE.
 * source (cap bytes) names what was read, for the run log. FS_ERR_ARG when
 * none is there or the values are inconsistent. */
typedef const char *(*fs_ds_getenv_fn)(const char *name, void *ctx);
fs_status fs_ds_shard_auto(fs_ds_getenv_fn get, void *ctx, fs_ds_shard *out, char *source,
                           size_t cap);
/* The chunks of shard s: [*c0, *c1), floor(k C / n) to floor((k + 1) C / n):
 * disjoint, covering, sizes differing by at most one. */
void fs_ds_shard_chunks(const fs_ds_shard *s, uint64_t n_chunks, uint64_t *c0, uint64_t *c1);

/* ---- image encoding (dataset_encode.c) ---- */

/* PNG (libpng's default compression, as fs_png_write_rgb8 writes) or JPEG
 * (image_jpeg_write.h) of pixels [h, w, channels], into *out (malloc'd). */
fs_status fs_ds_encode(fs_ds_image type, int quality, const uint8_t *pixels, int w, int h,
                       int channels, uint8_t **out, size_t *len);
/* PNG into memory. */
fs_status fs_png_encode(const uint8_t *hwc, int w, int h, int channels, uint8_t **out,
                        size_t *len);

/* ---- a run (dataset_run.c) ---- */

typedef struct fs_ds_run fs_ds_run;

typedef struct {
    const char *outdir;
    const fs_ds_job *job; /* outlives the run */
    fs_ds_shard shard;
    int resume;
    int batch;   /* images per forward pass */
    int writers; /* encoding and writing threads */
    /* the network: a StyleGAN2 generator (g) or a CVAE-GAN (cvae) */
    fs_sg2_generator *g;
    fs_cvaegan *cvae;
    /* filter scores (job->disc_sha256 set): a StyleGAN2 discriminator, or
     * with cvae_scores the CVAE-GAN's own discriminators */
    fs_sg2_discriminator *d;
    int cvae_scores;
    const char *run_note; /* for the run log: device, threads, shard source (copied) */
} fs_ds_run_args;

/* Every check that needs no write: the job against an existing OUT (its
 * job.json; a different job is refused; chunks of this shard already done
 * are refused without resume), the plan. Nothing is created. */
fs_status fs_ds_run_prepare(const fs_ds_run_args *a, fs_ds_run **out);
/* This shard's images, and those still to do. */
uint64_t fs_ds_run_shard_images(const fs_ds_run *r);
uint64_t fs_ds_run_todo(const fs_ds_run *r);
/* Writes job.json (or checks it again), removes the temporaries dead runs
 * left in this shard's chunks, generates and writes every chunk still to
 * do, and (an unsharded run) merges. progress(user, done) after each image
 * written. */
typedef void (*fs_ds_progress_fn)(void *user, uint64_t done);
fs_status fs_ds_run_execute(fs_ds_run *r, fs_ds_progress_fn progress, void *user);
void fs_ds_run_free(fs_ds_run *r);

/* Merges a dataset whose chunks are all done: manifest.jsonl (the parts in
 * order) and dataset.json, then removes the parts. *state: 0 merged now,
 * 1 it was merged before. FS_ERR_ARG naming the first missing chunk. */
fs_status fs_ds_merge(const char *outdir, int *state);

/* ---- domain mixup (dataset_mixup.c) ---- */

typedef struct fs_mixup fs_mixup;

typedef struct {
    const char *synthetic, *real, *outdir;
    int fixed;            /* 1: every pair has weight `weight`; 0: beta(a, b) */
    double weight, beta_a, beta_b;
    uint32_t seed;
    fs_ds_image image;
    int quality;
    int batch, writers;
} fs_mixup_args;

/* Lists both sets (ImageFolder class directories, or one flat directory;
 * labels from a dataset.json where there is one), reads every image's size
 * and checks them against each other (FS_ERR_SHAPE naming a mismatch), and
 * checks OUT (new or empty). Nothing is written. */
fs_status fs_mixup_prepare(const fs_mixup_args *a, fs_mixup **out);
uint64_t fs_mixup_count(const fs_mixup *m);
/* Blends with backend be (ops->blend) and writes OUT. */
fs_status fs_mixup_execute(fs_mixup *m, fs_backend *be, fs_ds_progress_fn progress, void *user);
void fs_mixup_free(fs_mixup *m);

#ifdef __cplusplus
}
#endif
#endif
