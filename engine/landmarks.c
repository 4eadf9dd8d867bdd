/* dlib's shape predictor, operation for operation (see landmarks.h and
 * docs/landmarks.md), plus a threaded loop over PNG files.
 *
 * Exactness needs the same roundings as dlib: feature positions in float32
 * from a float32 2x2 matrix, each product rounded before the sum (no fused
 * multiply-add: the pragmas below, and -std=c11, which makes gcc's default
 * -ffp-contract=off), the box mapping in double, floor(v + 0.5), and the leaf
 * values added to the float32 shape one tree at a time in file order. The
 * leaf sum is vectorised across the 2P coordinates only, which keeps each
 * coordinate's sequence of additions unchanged. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "landmarks.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image_io.h"

/* ---- small pieces ---------------------------------------------------------------- */

fs_status fs_lm_box_check(const fs_lm_box *b)
{
    const int64_t lim = FS_LM_MAX_COORD;
    if (b->left < -lim || b->left > lim || b->top < -lim || b->top > lim || b->right < -lim ||
        b->right > lim || b->bottom < -lim || b->bottom > lim)
        return fs_error(FS_ERR_ARG, "box [%lld, %lld, %lld, %lld]: coordinates must lie within "
                        "+-%lld", (long long)b->left, (long long)b->top, (long long)b->right,
                        (long long)b->bottom, (long long)lim);
    if (b->right < b->left || b->bottom < b->top)
        return fs_error(FS_ERR_ARG, "box [%lld, %lld, %lld, %lld] is empty: right must be >= left "
                        "and bottom >= top (both inclusive)", (long long)b->left,
                        (long long)b->top, (long long)b->right, (long long)b->bottom);
    return FS_OK;
}

/* Fractions of the crop size: the unit box of dlib's 68-point mean shape
 * placed the way the FFHQ alignment places a face (docs/landmarks.md). */
#define FFHQ_LEFT 0.19584
#define FFHQ_TOP 0.28173
#define FFHQ_RIGHT 0.80414
#define FFHQ_BOTTOM 0.89003

fs_lm_box fs_lm_ffhq_box(int width, int height)
{
    return (fs_lm_box){.left = fs_lm_round(FFHQ_LEFT * width),
                       .top = fs_lm_round(FFHQ_TOP * height),
                       .right = fs_lm_round(FFHQ_RIGHT * width),
                       .bottom = fs_lm_round(FFHQ_BOTTOM * height)};
}

int64_t fs_lm_round(double v)
{
    double r = floor(v + 0.5);
    if (r != r)
        return 0;
    if (r >= 0x1p62)
        return INT64_C(1) << 62;
    if (r <= -0x1p62)
        return -(INT64_C(1) << 62);
    return (int64_t)r;
}

void fs_lm_intensity_rgb(const uint8_t *rgb, size_t n_pixels, uint8_t *gray)
{
    /* dlib's get_pixel_intensity of an rgb_pixel: unsigned integer mean */
    for (size_t i = 0; i < n_pixels; i++)
        gray[i] = (uint8_t)(((unsigned)rgb[3 * i] + rgb[3 * i + 1] + rgb[3 * i + 2]) / 3u);
}

double fs_lm_nme(const double *a, const double *b, int n_points)
{
    double sum = 0;
    for (int i = 0; i < n_points; i++) {
        double dx = a[2 * i] - b[2 * i], dy = a[2 * i + 1] - b[2 * i + 1];
        sum += dx * dx + dy * dy;
    }
    double ex = a[2 * FS_LM_EYE_RIGHT] - a[2 * FS_LM_EYE_LEFT];
    double ey = a[2 * FS_LM_EYE_RIGHT + 1] - a[2 * FS_LM_EYE_LEFT + 1];
    double io = sqrt(ex * ex + ey * ey);
    if (!(io > 0))
        return NAN;
    return sqrt(sum / n_points) / io;
}

/* ---- the predictor --------------------------------------------------------------- */

struct fs_lm_workspace {
    float *features;      /* [max level features] */
    uint32_t *leaf;       /* [max level trees] */
    const float **leaf_p; /* [max level trees] */
};

fs_status fs_lm_workspace_new(const fs_dlib_model *m, fs_lm_workspace **out)
{
    *out = NULL;
    fs_lm_workspace *ws = calloc(1, sizeof *ws);
    size_t nf = m->max_level_features ? m->max_level_features : 1;
    size_t nt = m->max_level_trees ? m->max_level_trees : 1;
    if (ws) {
        ws->features = malloc(nf * sizeof *ws->features);
        ws->leaf = malloc(nt * sizeof *ws->leaf);
        ws->leaf_p = malloc(nt * sizeof *ws->leaf_p);
    }
    if (!ws || !ws->features || !ws->leaf || !ws->leaf_p) {
        fs_lm_workspace_free(ws);
        return fs_error(FS_ERR_NOMEM, "landmarks: out of memory");
    }
    *out = ws;
    return FS_OK;
}

void fs_lm_workspace_free(fs_lm_workspace *ws)
{
    if (!ws)
        return;
    free(ws->features);
    free(ws->leaf);
    free(ws->leaf_p);
    free(ws);
}

/* The linear part of the least-squares similarity transform taking the
 * initial shape onto the current one, [[a, -b], [b, a]], as float32. dlib
 * gets it from Umeyama's SVD solution in double; the closed form below is
 * the same minimiser, also in double, and both round to the same float32
 * (docs/landmarks.md: agreement checked on every fixture and, by the
 * benchmark, on random boxes against dlib itself). */
static void similarity(const float *from, const float *to, int n, float T[4])
{
    if (n == 1) { /* dlib: identity for a single landmark */
        T[0] = 1, T[1] = 0, T[2] = 0, T[3] = 1;
        return;
    }
    double mfx = 0, mfy = 0, mtx = 0, mty = 0;
    for (int i = 0; i < n; i++) {
        mfx += from[2 * i], mfy += from[2 * i + 1];
        mtx += to[2 * i], mty += to[2 * i + 1];
    }
    mfx /= n, mfy /= n, mtx /= n, mty /= n;
    double sff = 0, sa = 0, sb = 0;
    for (int i = 0; i < n; i++) {
        double fx = from[2 * i] - mfx, fy = from[2 * i + 1] - mfy;
        double tx = to[2 * i] - mtx, ty = to[2 * i + 1] - mty;
        sff += fx * fx + fy * fy;
        sa += fx * tx + fy * ty;
        sb += fx * ty - fy * tx;
    }
    /* dlib keeps scale 1 for a degenerate initial shape; the rotation of a
     * zero covariance is the identity */
    double a = sff != 0 ? sa / sff : 1, b = sff != 0 ? sb / sff : 0;
    T[0] = (float)a, T[1] = (float)-b, T[2] = (float)b, T[3] = (float)a;
}

/* dlib's unnormalizing_tform: (0, 0) -> (left, top), (1, 1) -> (right,
 * bottom), with the corners first made float32 as dlib's point lists are. */
typedef struct {
    double left, top, w, h;
} box_map;

static box_map box_map_of(const fs_lm_box *b)
{
    double l = (float)b->left, t = (float)b->top, r = (float)b->right, bt = (float)b->bottom;
    return (box_map){.left = l, .top = t, .w = r - l, .h = bt - t};
}

static void level_features(const fs_dlib_model *m, int level, const fs_lm_image *img,
                           const box_map *bm, const float *shape, float *f)
{
    float T[4];
    similarity(m->initial_shape, shape, m->num_parts, T);
    uint64_t f0 = m->level_feature[level], nf = m->level_feature[level + 1] - f0;
    const uint32_t *anchor = m->anchor + f0;
    const float *delta = m->deltas + 2 * f0;
    const double wmax = img->width - 1, hmax = img->height - 1;
    for (uint64_t i = 0; i < nf; i++) {
        float dx = delta[2 * i], dy = delta[2 * i + 1];
        const float *p = shape + 2 * anchor[i];
        /* float32, each product rounded: (T00 dx + T01 dy) + px */
        float t0 = T[0] * dx, t1 = T[1] * dy, t2 = T[2] * dx, t3 = T[3] * dy;
        float u = (t0 + t1) + p[0];
        float v = (t2 + t3) + p[1];
        double x = floor((double)u * bm->w + bm->left + 0.5);
        double y = floor((double)v * bm->h + bm->top + 0.5);
        /* outside the image (NaN included) reads 0 */
        f[i] = x >= 0 && x <= wmax && y >= 0 && y <= hmax
                   ? (float)img->pixels[(size_t)y * img->stride + (size_t)x]
                   : 0.0f;
    }
}

/* Adds n floats of leaf into shape: one rounding per coordinate, as dlib's
 * `current_shape += leaf`. */
static inline void add_leaf(float *restrict shape, const float *restrict leaf, int n)
{
    for (int j = 0; j < n; j++)
        shape[j] += leaf[j];
}

/* Leaves are prefetched this many trees ahead: each face reads one of 16
 * leaves of each of 7,500 trees scattered over 65 MB, so the loads miss
 * every cache and the hardware prefetcher cannot guess the next leaf; all
 * the leaf choices of a level are known before its sums (the trees read the
 * features fixed at the start of the level), so they can be fetched early. */
#define PREFETCH_TREES 6

fs_status fs_lm_predict(const fs_dlib_model *m, const fs_lm_image *img, const fs_lm_box *box,
                        fs_lm_workspace *ws, const fs_lm_trace *trace, float *shape, double *xy,
                        int64_t *ixy)
{
    FS_TRY(fs_lm_box_check(box));
    if (img->width < 1 || img->height < 1 || img->stride < (size_t)img->width)
        return fs_error(FS_ERR_ARG, "landmarks: image of %d x %d (stride %zu)", img->width,
                        img->height, img->stride);
    fs_lm_workspace *own = NULL;
    if (!ws) {
        FS_TRY(fs_lm_workspace_new(m, &own));
        ws = own;
    }
    const int D = 2 * m->num_parts;
    const box_map bm = box_map_of(box);
    memcpy(shape, m->initial_shape, (size_t)D * sizeof *shape);
    for (int l = 0; l < m->num_levels; l++) {
        level_features(m, l, img, &bm, shape, ws->features);
        const float *f = ws->features;
        uint64_t t0 = m->level_tree[l];
        uint32_t nt = (uint32_t)(m->level_tree[l + 1] - t0);
        for (uint32_t k = 0; k < nt; k++) {
            uint64_t t = t0 + k;
            const fs_dlib_split *sp = m->splits + m->tree_split[t];
            uint64_t ns = m->tree_split[t + 1] - m->tree_split[t], i = 0;
            while (i < ns)
                i = f[sp[i].idx1] - f[sp[i].idx2] > sp[i].thresh ? 2 * i + 1 : 2 * i + 2;
            ws->leaf[k] = (uint32_t)(i - ns);
            ws->leaf_p[k] = fs_dlib_tree_leaves(m, t) + (i - ns) * (uint64_t)D;
        }
        for (uint32_t k = 0; k < nt; k++) {
            if (k + PREFETCH_TREES < nt) {
                const char *p = (const char *)ws->leaf_p[k + PREFETCH_TREES];
                for (size_t o = 0; o < (size_t)D * sizeof(float); o += 64)
                    __builtin_prefetch(p + o);
            }
            add_leaf(shape, ws->leaf_p[k], D);
        }
        if (trace && trace->level)
            trace->level(trace->ctx, l, f, (uint32_t)(m->level_feature[l + 1] - m->level_feature[l]),
                         ws->leaf, nt, shape, D);
    }
    fs_lm_workspace_free(own);
    for (int j = 0; j < D; j++)
        if (!isfinite(shape[j]))
            return fs_error(FS_ERR_FORMAT, "landmarks: the model drove coordinate %d of the shape "
                            "to %g: a broken model", j, (double)shape[j]);
    for (int i = 0; i < m->num_parts; i++) {
        double x = (double)shape[2 * i] * bm.w + bm.left;
        double y = (double)shape[2 * i + 1] * bm.h + bm.top;
        if (xy)
            xy[2 * i] = x, xy[2 * i + 1] = y;
        if (ixy)
            ixy[2 * i] = fs_lm_round(x), ixy[2 * i + 1] = fs_lm_round(y);
    }
    return FS_OK;
}

/* ---- many images ----------------------------------------------------------------- */

typedef struct {
    const fs_lm_run_args *a;
    atomic_size_t next;
    atomic_int stop;
    pthread_mutex_t mu;
    uint64_t faces_done;
    size_t fail_job;  /* the first failing job, SIZE_MAX: none */
    fs_status fail;
    char fail_msg[512];
} run_state;

static fs_status run_job(const fs_lm_run_args *a, const fs_lm_job *j, fs_lm_workspace *ws,
                         float *shape)
{
    uint8_t *rgb;
    int w, h;
    FS_TRY(fs_png_read_rgb(j->path, &rgb, &w, &h));
    size_t n = (size_t)w * (size_t)h;
    uint8_t *gray = malloc(n ? n : 1);
    if (!gray) {
        free(rgb);
        return fs_error(FS_ERR_NOMEM, "%s: out of memory for a %d x %d image", j->path, w, h);
    }
    fs_lm_intensity_rgb(rgb, n, gray);
    free(rgb);
    fs_lm_image img = {.pixels = gray, .width = w, .height = h, .stride = (size_t)w};
    const size_t D = 2 * (size_t)a->model->num_parts;
    fs_status s = FS_OK;
    for (size_t k = 0; k < j->n_boxes && s == FS_OK; k++) {
        fs_lm_box b = j->ffhq_box ? fs_lm_ffhq_box(w, h) : j->boxes[k];
        s = fs_lm_predict(a->model, &img, &b, ws, NULL, shape, a->xy + j->rows[k] * D, NULL);
        if (s != FS_OK)
            fs_error_prefix(j->path);
    }
    free(gray);
    return s;
}

static void *run_worker(void *arg)
{
    run_state *st = arg;
    const fs_lm_run_args *a = st->a;
    fs_lm_workspace *ws = NULL;
    float *shape = malloc(2 * (size_t)a->model->num_parts * sizeof *shape);
    fs_status s = shape ? fs_lm_workspace_new(a->model, &ws)
                        : fs_error(FS_ERR_NOMEM, "landmarks: out of memory");
    size_t i = 0;
    if (s != FS_OK)
        i = atomic_fetch_add(&st->next, 1); /* report it against a job */
    while (s == FS_OK && !atomic_load(&st->stop)) {
        i = atomic_fetch_add(&st->next, 1);
        if (i >= a->n_jobs)
            break;
        s = run_job(a, &a->jobs[i], ws, shape);
        if (s == FS_OK) {
            pthread_mutex_lock(&st->mu);
            st->faces_done += a->jobs[i].n_boxes;
            if (a->progress)
                a->progress(a->progress_ctx, st->faces_done);
            pthread_mutex_unlock(&st->mu);
        }
    }
    if (s != FS_OK) {
        /* Jobs are claimed in order, so every job before i is claimed and
         * will report its own failure: the smallest index wins. */
        pthread_mutex_lock(&st->mu);
        if (i < st->fail_job) {
            st->fail_job = i;
            st->fail = s;
            snprintf(st->fail_msg, sizeof st->fail_msg, "%s", fs_error_message());
        }
        pthread_mutex_unlock(&st->mu);
        atomic_store(&st->stop, 1);
    }
    fs_lm_workspace_free(ws);
    free(shape);
    return NULL;
}

fs_status fs_lm_run(const fs_lm_run_args *a)
{
    int threads = a->threads;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    if ((size_t)threads > a->n_jobs)
        threads = a->n_jobs ? (int)a->n_jobs : 1;
    run_state st = {.a = a, .fail_job = SIZE_MAX, .fail = FS_OK};
    atomic_init(&st.next, 0);
    atomic_init(&st.stop, 0);
    pthread_mutex_init(&st.mu, NULL);
    pthread_t *tid = threads > 1 ? calloc((size_t)threads - 1, sizeof *tid) : NULL;
    if (threads > 1 && !tid) {
        pthread_mutex_destroy(&st.mu);
        return fs_error(FS_ERR_NOMEM, "landmarks: out of memory");
    }
    int started = 0;
    for (int t = 0; t < threads - 1; t++, started++)
        if (pthread_create(&tid[t], NULL, run_worker, &st) != 0)
            break; /* fewer threads: the work still gets done */
    run_worker(&st);
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    free(tid);
    pthread_mutex_destroy(&st.mu);
    if (st.fail != FS_OK)
        return fs_error(st.fail, "%s", st.fail_msg);
    return FS_OK;
}
