/* Pieces the dataset files share (dataset_plan.c, dataset_run.c,
 * dataset_render.c, dataset_mixup.c): a growing text buffer for the JSON
 * they write, the atomic file commit with its directory sync, the
 * temporaries sweep of a resume, and the renderer. Not public. */
#ifndef FS_DATASET_INTERNAL_H
#define FS_DATASET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"

/* ---- text ---- */

typedef struct {
    char *p;
    size_t len, cap;
    int oom; /* an allocation failed: the text is incomplete */
} fs_ds_sb;

void fs_ds_sb_printf(fs_ds_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fs_ds_sb_put(fs_ds_sb *b, const char *s, size_t n);
/* s as a JSON string, quotes included. */
void fs_ds_sb_json_string(fs_ds_sb *b, const char *s);
/* A double so that it reads back to the same value ("%.17g"); a float32
 * likewise ("%.9g"); integral values without a fraction. */
void fs_ds_sb_double(fs_ds_sb *b, double v);
void fs_ds_sb_float(fs_ds_sb *b, float v);
void fs_ds_sb_free(fs_ds_sb *b);

/* ---- files ---- */

/* Writes n bytes to path atomically: a temporary "<path>.tmp.<pid>"
 * registered for the signal handler, written, fsync'd, renamed (file.h). */
fs_status fs_ds_write_file(const char *path, const void *data, size_t n);
/* fsync of a directory, so that the renames in it are durable. */
fs_status fs_ds_sync_dir(const char *dir);
/* mkdir that tolerates an existing directory. */
fs_status fs_ds_mkdir(const char *dir);

/* Parses "%0*llu" digits of at least `width` at *p (no extra leading zero):
 * the value, or -1. */
int64_t fs_ds_read_number(const char **p, const char *end, int width);

/* ---- rendering (dataset_render.c) ---- */

typedef struct fs_ds_render fs_ds_render;

fs_status fs_ds_render_init(fs_ds_render **out, const fs_ds_plan *plan, fs_sg2_generator *g,
                            fs_cvaegan *cvae, fs_sg2_discriminator *d, int cvae_scores,
                            int max_batch);
void fs_ds_render_free(fs_ds_render *r);
/* Bytes per image ([R, R, C] uint8). */
size_t fs_ds_render_image_bytes(const fs_ds_render *r);
/* Images idx[0 .. n) (n <= max_batch) into pixels [n, R, R, C], their
 * descriptions into info, and, where the job scores, their realism into
 * scores (else untouched). */
fs_status fs_ds_render_batch(fs_ds_render *r, const uint64_t *idx, int n, uint8_t *pixels,
                             fs_ds_image_info *info, double *scores);

#endif
