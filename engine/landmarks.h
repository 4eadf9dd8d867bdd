/* Face landmarks with a dlib shape predictor (Kazemi & Sullivan's ensemble
 * of regression trees), computed exactly as dlib 19.24's
 * shape_predictor::operator() computes them: the same float32 and double
 * operations in the same order, so the integer points are dlib's and the
 * box-normalised shape is dlib's to the last bit (docs/landmarks.md states
 * each rule and where it comes from).
 *
 * The model comes from weights_tools/dlib_model.h. Images are intensity
 * planes as dlib reads them: one uint8 per pixel, the truncated mean
 * (r + g + b) / 3 of an RGB image. Boxes are dlib rectangles: integer
 * corners, right and bottom inclusive; a box may reach past the image or
 * lie outside it (feature pixels outside the image read 0). */
#ifndef FS_LANDMARKS_H
#define FS_LANDMARKS_H

#include <stddef.h>
#include <stdint.h>

#include "../weights_tools/dlib_model.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Box coordinates must lie within +-FS_LM_MAX_COORD: dlib turns corners
 * into float32, exact up to 2^24. */
#define FS_LM_MAX_COORD (1L << 24)

typedef struct {
    int64_t left, top, right, bottom; /* inclusive */
} fs_lm_box;

/* A box is usable when its corners are within the limit and it is not
 * empty (right >= left, bottom >= top). FS_ERR_ARG naming what otherwise. */
fs_status fs_lm_box_check(const fs_lm_box *b);

/* The box for FFHQ-style aligned crops of width x height pixels (the crop
 * of NVlabs' ffhq-dataset alignment, as StyleGAN2 generates and e4e
 * inverts): the box in which dlib's mean shape, aligned by that rule, fills
 * the crop as the rule does. For 1024 x 1024 it is [201, 288, 823, 911];
 * other sizes scale it (docs/landmarks.md derives it). */
fs_lm_box fs_lm_ffhq_box(int width, int height);

/* dlib's float -> integer point conversion: floor(v + 0.5) in double
 * (-2.5 -> -2). Values beyond +-2^62 saturate; NaN gives 0. */
int64_t fs_lm_round(double v);

/* Intensity plane of an RGB image [h, w, 3]: (r + g + b) / 3 truncated. */
void fs_lm_intensity_rgb(const uint8_t *rgb, size_t n_pixels, uint8_t *gray);

typedef struct {
    const uint8_t *pixels; /* row-major intensity */
    int width, height;
    size_t stride;         /* bytes between rows (>= width) */
} fs_lm_image;

/* Called after each cascade level with that level's feature pixel values,
 * the leaf reached in each of its trees, and the shape after its leaf sums
 * (2P floats, box-normalised). For tests and debugging. */
typedef struct {
    void (*level)(void *ctx, int level, const float *features, uint32_t n_features,
                  const uint32_t *leaves, uint32_t n_trees, const float *shape, int n);
    void *ctx;
} fs_lm_trace;

/* Scratch of one predicting thread (feature values, leaf choices). */
typedef struct fs_lm_workspace fs_lm_workspace;
fs_status fs_lm_workspace_new(const fs_dlib_model *m, fs_lm_workspace **out);
void fs_lm_workspace_free(fs_lm_workspace *ws);

/* Predicts the P parts of the face in box. Outputs (any may be NULL but
 * shape):
 *   shape [2P]  the final shape in box-normalised coordinates (float32,
 *               dlib's current_shape);
 *   xy    [2P]  the parts in image coordinates, un-rounded (double);
 *   ixy   [2P]  dlib's integer parts: fs_lm_round of xy.
 * ws may be NULL (one is made for the call). FS_ERR_FORMAT when the model
 * drives the shape to a non-finite value (a broken model). */
fs_status fs_lm_predict(const fs_dlib_model *m, const fs_lm_image *img, const fs_lm_box *box,
                        fs_lm_workspace *ws, const fs_lm_trace *trace, float *shape, double *xy,
                        int64_t *ixy);

/* Landmark disagreement of b against a (P points as x, y pairs):
 * sqrt(mean_i |a_i - b_i|^2) / |a[right] - a[left]|, where left and right
 * are the outer eye corners of the iBUG 68-point layout (36 and 45).
 * Returns NaN when a's inter-ocular distance is 0. */
#define FS_LM_EYE_LEFT 36
#define FS_LM_EYE_RIGHT 45
double fs_lm_nme(const double *a, const double *b, int n_points);

/* ---- many images on many threads ---- */

/* One PNG and the boxes to predict in it. */
typedef struct {
    const char *path;
    size_t n_boxes;
    const fs_lm_box *boxes; /* NULL with ffhq_box */
    const uint64_t *rows;   /* [n_boxes]: the output row of each box */
    int ffhq_box;           /* one box, fs_lm_ffhq_box of the image's size */
} fs_lm_job;

typedef struct {
    const fs_dlib_model *model;
    const fs_lm_job *jobs;
    size_t n_jobs;
    int threads;            /* 0: one per online CPU */
    double *xy;             /* [rows][2P] out: un-rounded image coordinates */
    /* Called (serialised) after each image with the number of faces done. */
    void (*progress)(void *ctx, uint64_t faces_done);
    void *progress_ctx;
} fs_lm_run_args;

/* Decodes each job's PNG (fs_png_read_rgb), makes its intensity plane and
 * predicts its boxes; images are handed to the threads one at a time. On a
 * failure the error returned is that of the first failing job in job order
 * (the same whatever the thread count). */
fs_status fs_lm_run(const fs_lm_run_args *a);

#ifdef __cplusplus
}
#endif
#endif
