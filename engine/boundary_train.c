/* Training a boundary as InterFaceGAN's train_boundary does (edit.h,
 * docs/editing.md §5): drop invalid scores, sort by score (numpy's argsort,
 * reproduced so that even ties fall as numpy orders them), take the top and
 * bottom `chosen` rows, split each with numpy's legacy shuffle after
 * np.random.seed(S), fit a linear C-SVC (C = 1) with libsvm, the library
 * scikit-learn's SVC wraps, and return the unit normal as float32.
 *
 * The training rows are handed to libsvm negatives first: scikit-learn's
 * copy of libsvm sorts the class labels, so its solver sees the class 0
 * block first, while upstream libsvm keeps the order of first appearance.
 * Giving the rows in that order makes both solvers walk the same problem. */
#include <libsvm/svm.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edit.h"

/* ---- numpy's argsort (npysort/quicksort.cpp: introsort) ----------------------- */

#define NP_SMALL_QUICKSORT 15
#define NP_QS_STACK 128

static void swap_idx(int64_t *a, int64_t *b)
{
    int64_t t = *a;
    *a = *b;
    *b = t;
}

/* Heapsort of tosort[0, n) by v, numpy's fallback when the quicksort
 * recursion gets too deep; 1-based indexing as numpy writes it. */
static void np_aheapsort(const double *v, int64_t *tosort, int64_t n)
{
    int64_t *a = tosort - 1; /* a[1] .. a[n] */
    int64_t i, j, l, tmp;
    for (l = n >> 1; l > 0; --l) {
        tmp = a[l];
        for (i = l, j = l << 1; j <= n;) {
            if (j < n && v[a[j]] < v[a[j + 1]])
                j += 1;
            if (v[tmp] < v[a[j]]) {
                a[i] = a[j];
                i = j;
                j += j;
            } else {
                break;
            }
        }
        a[i] = tmp;
    }
    for (; n > 1;) {
        tmp = a[n];
        a[n] = a[1];
        n -= 1;
        for (i = 1, j = 2; j <= n;) {
            if (j < n && v[a[j]] < v[a[j + 1]])
                j++;
            if (v[tmp] < v[a[j]]) {
                a[i] = a[j];
                i = j;
                j += j;
            } else {
                break;
            }
        }
        a[i] = tmp;
    }
}

fs_status fs_np_argsort(const double *v, int64_t n, int64_t *idx)
{
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    if (n < 2)
        return FS_OK;
    int64_t *pl = idx, *pr = idx + n - 1;
    int64_t *stack[NP_QS_STACK], **sptr = stack;
    int depth[NP_QS_STACK], *psdepth = depth;
    int cdepth = 0; /* 2 * floor(log2(n)) partitions before the heapsort */
    for (uint64_t u = (uint64_t)n; u >>= 1;)
        cdepth++;
    cdepth *= 2;
    for (;;) {
        if (cdepth < 0) {
            np_aheapsort(v, pl, pr - pl + 1);
            goto pop;
        }
        while (pr - pl > NP_SMALL_QUICKSORT) {
            /* median of three, the pivot parked at pr - 1 */
            int64_t *pm = pl + ((pr - pl) >> 1);
            if (v[*pm] < v[*pl])
                swap_idx(pm, pl);
            if (v[*pr] < v[*pm])
                swap_idx(pr, pm);
            if (v[*pm] < v[*pl])
                swap_idx(pm, pl);
            double vp = v[*pm];
            int64_t *pi = pl, *pj = pr - 1;
            swap_idx(pm, pj);
            for (;;) {
                do
                    ++pi;
                while (v[*pi] < vp);
                do
                    --pj;
                while (vp < v[*pj]);
                if (pi >= pj)
                    break;
                swap_idx(pi, pj);
            }
            int64_t *pk = pr - 1;
            swap_idx(pi, pk);
            /* the larger part waits on the stack */
            if (pi - pl < pr - pi) {
                *sptr++ = pi + 1;
                *sptr++ = pr;
                pr = pi - 1;
            } else {
                *sptr++ = pl;
                *sptr++ = pi - 1;
                pl = pi + 1;
            }
            *psdepth++ = --cdepth;
        }
        /* insertion sort of the small part */
        for (int64_t *pi = pl + 1; pi <= pr; ++pi) {
            int64_t vi = *pi;
            double vv = v[vi];
            int64_t *pj = pi, *pk = pi - 1;
            while (pj > pl && vv < v[*pk])
                *pj-- = *pk--;
            *pj = vi;
        }
    pop:
        if (sptr == stack)
            break;
        pr = *(--sptr);
        pl = *(--sptr);
        cdepth = *(--psdepth);
    }
    return FS_OK;
}

/* ---- numpy's legacy shuffle -------------------------------------------------------- */

/* random_interval(max): a uniform integer in [0, max] by masking MT words
 * to the smallest all-ones mask >= max and rejecting values above max. */
static uint64_t np_interval(fs_np_random *r, uint64_t max)
{
    if (max == 0)
        return 0;
    uint64_t mask = max;
    for (int s = 1; s <= 32; s <<= 1)
        mask |= mask >> s;
    uint64_t value;
    if (max <= 0xffffffffu) {
        while ((value = (fs_np_random_u32(r) & mask)) > max)
            ;
    } else {
        for (;;) {
            uint64_t hi = fs_np_random_u32(r), lo = fs_np_random_u32(r);
            if ((value = ((hi << 32) | lo) & mask) <= max)
                break;
        }
    }
    return value;
}

void fs_np_shuffle(fs_np_random *r, int64_t *x, int64_t n)
{
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)np_interval(r, (uint64_t)i);
        swap_idx(&x[i], &x[j]);
    }
}

/* ---- the inputs ---------------------------------------------------------------------- */

typedef struct {
    const fs_npy *a;
    int64_t rows, cols;
} matrix;

static double mat_at(const matrix *m, int64_t r, int64_t c)
{
    int64_t i = m->a->fortran ? c * m->rows + r : r * m->cols + c;
    return fs_dtype_load(m->a->dtype, m->a->data, i);
}

static fs_status check_finite(const matrix *m, const char *label, const char *what)
{
    for (int64_t r = 0; r < m->rows; r++)
        for (int64_t c = 0; c < m->cols; c++) {
            double x = mat_at(m, r, c);
            if (!isfinite(x))
                return fs_error(FS_ERR_FORMAT, "%s: %s row %lld, column %lld is %s: every value "
                                "must be finite", label, what, (long long)r, (long long)c,
                                isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
        }
    return FS_OK;
}

static int is_float_type(fs_dtype t)
{
    return t == FS_DTYPE_F32 || t == FS_DTYPE_F64;
}

static fs_status check_inputs(const fs_boundary_train_args *a, matrix *codes, matrix *scores)
{
    const char *cl = a->codes_label ? a->codes_label : "codes";
    const char *sl = a->scores_label ? a->scores_label : "scores";
    const fs_npy *c = a->codes, *s = a->scores;
    if (!is_float_type(c->dtype))
        return fs_error(FS_ERR_UNSUPPORTED, "%s: latent codes of type %s: expected float32 or "
                        "float64", cl, fs_dtype_name(c->dtype));
    if (!is_float_type(s->dtype))
        return fs_error(FS_ERR_UNSUPPORTED, "%s: scores of type %s: expected float32 or "
                        "float64", sl, fs_dtype_name(s->dtype));
    if (c->ndim != 2 || c->shape[0] < 1 || c->shape[1] < 1 || c->shape[1] > FS_BOUNDARY_MAX_DIM)
        return fs_error(FS_ERR_SHAPE, "%s: latent codes must have shape [N, D] with N >= 1 and "
                        "1 <= D <= %d", cl, FS_BOUNDARY_MAX_DIM);
    int64_t n = c->shape[0];
    if (!((s->ndim == 2 && s->shape[0] == n && s->shape[1] == 1) ||
          (s->ndim == 1 && s->shape[0] == n)))
        return fs_error(FS_ERR_SHAPE, "%s: scores must have shape [%lld, 1] (or [%lld]), one per "
                        "latent code of %s", sl, (long long)n, (long long)n, cl);
    if (!(a->ratio > 0) || !isfinite(a->ratio))
        return fs_error(FS_ERR_ARG, "the ratio must be > 0 (a ratio up to 1, a count above), "
                        "not %g", a->ratio);
    if (!(a->split > 0 && a->split <= 1))
        return fs_error(FS_ERR_ARG, "the split ratio must be in (0, 1], not %g", a->split);
    *codes = (matrix){.a = c, .rows = n, .cols = c->shape[1]};
    *scores = (matrix){.a = s, .rows = n, .cols = 1};
    FS_TRY(check_finite(codes, cl, "latent codes"));
    return check_finite(scores, sl, "scores");
}

/* ---- training ---------------------------------------------------------------------------- */

static void svm_quiet(const char *s) { (void)s; }

/* One row of the codes as a libsvm sparse vector (every column, 1-based). */
static void row_nodes(const matrix *m, int64_t r, struct svm_node *x)
{
    for (int64_t c = 0; c < m->cols; c++)
        x[c] = (struct svm_node){.index = (int)c + 1, .value = mat_at(m, r, c)};
    x[m->cols] = (struct svm_node){.index = -1, .value = 0};
}

void fs_boundary_train_result_free(fs_boundary_train_result *r)
{
    if (!r)
        return;
    free(r->sorted_rows);
    free(r->positive_idx);
    free(r->negative_idx);
    free(r->boundary);
    memset(r, 0, sizeof *r);
}

/* libsvm's decision value for label[0], w . x - rho, through the primal w
 * (equal to the sum over support vectors up to rounding, and O(D) a row). */
static double decision(const double *w, double rho, const matrix *m, int64_t r)
{
    double s = 0;
    for (int64_t c = 0; c < m->cols; c++)
        s += w[c] * mat_at(m, r, c);
    return s - rho;
}

fs_status fs_boundary_train(const fs_boundary_train_args *a, fs_boundary_train_result *r)
{
    memset(r, 0, sizeof *r);
    matrix codes, scores;
    FS_TRY(check_inputs(a, &codes, &scores));
    int is_f32 = a->scores->dtype == FS_DTYPE_F32;
    int64_t N = codes.rows, D = codes.cols;
    fs_status st = FS_OK;
    int64_t *valid = malloc((size_t)N * sizeof *valid), *order = malloc((size_t)N * sizeof *order);
    double *sv = calloc((size_t)N, sizeof *sv);
    struct svm_node *nodes = NULL, **xs = NULL;
    double *ys = NULL, *w = NULL;
    struct svm_model *model = NULL;
    if (!valid || !order || !sv) {
        st = fs_error(FS_ERR_NOMEM, "out of memory for %lld scores", (long long)N);
        goto done;
    }

    /* 1. The invalid-value filter: numpy compares in the scores' type. */
    int64_t n = 0;
    for (int64_t i = 0; i < N; i++) {
        double x = mat_at(&scores, i, 0);
        int drop = a->has_invalid &&
                   (is_f32 ? (float)x == (float)a->invalid_value : x == a->invalid_value);
        if (!drop) {
            valid[n] = i;
            sv[n++] = x;
        }
    }
    r->n_valid = n;

    /* 2. Sort: argsort ascending, read backwards. */
    if ((st = fs_np_argsort(sv, n, order)) != FS_OK)
        goto done;
    if (!(r->sorted_rows = malloc((size_t)(n ? n : 1) * sizeof *r->sorted_rows))) {
        st = fs_error(FS_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int64_t k = 0; k < n; k++)
        r->sorted_rows[k] = valid[order[n - 1 - k]];

    /* 3. How many on each side; Python's int() truncates. */
    double chosen_f = a->ratio <= 1 ? (double)n * a->ratio : a->ratio;
    int64_t chosen = chosen_f >= 9.2e18 ? INT64_MAX : (int64_t)chosen_f;
    if (chosen > n / 2)
        chosen = n / 2;
    int64_t train_num = (int64_t)((double)chosen * a->split);
    r->chosen = chosen;
    r->train_num = train_num;
    r->val_num = chosen - train_num;
    r->remaining_num = n - 2 * chosen;
    if (train_num < 1) {
        st = fs_error(FS_ERR_ARG, "%lld valid samples, %lld chosen on each side and %lld of "
                      "them for training: the SVM needs at least one of each class (raise the "
                      "ratio or the split, or give more samples)", (long long)n,
                      (long long)chosen, (long long)train_num);
        goto done;
    }

    /* 4. The split: two shuffles from np.random.seed(seed), positives first. */
    r->positive_idx = malloc((size_t)chosen * sizeof *r->positive_idx);
    r->negative_idx = malloc((size_t)chosen * sizeof *r->negative_idx);
    if (!r->positive_idx || !r->negative_idx) {
        st = fs_error(FS_ERR_NOMEM, "out of memory");
        goto done;
    }
    fs_np_random rng;
    fs_np_random_seed(&rng, a->seed);
    for (int64_t k = 0; k < chosen; k++)
        r->positive_idx[k] = r->negative_idx[k] = k;
    fs_np_shuffle(&rng, r->positive_idx, chosen);
    fs_np_shuffle(&rng, r->negative_idx, chosen);
    const int64_t *pos_rows = r->sorted_rows, *neg_rows = r->sorted_rows + (n - chosen);

    /* The remaining rows' labels: 1 unless below the mid-range of scores,
     * computed in the scores' type. */
    double hi = sv[order[n - 1]], lo = sv[order[0]];
    double mid = is_f32 ? (double)(((float)hi + (float)lo) / 2.0f) : (hi + lo) / 2;
    for (int64_t k = chosen; k < n - chosen; k++) {
        double x = mat_at(&scores, r->sorted_rows[k], 0);
        if (x < mid)
            r->remaining_neg++;
        else
            r->remaining_pos++;
    }

    /* 5. The SVM. */
    int64_t l = 2 * train_num;
    if (l > (int64_t)1 << 30 || (uint64_t)l * (uint64_t)(D + 1) > ((uint64_t)1 << 40)) {
        st = fs_error(FS_ERR_LIMIT, "a training set of %lld codes of %lld values is too large",
                      (long long)l, (long long)D);
        goto done;
    }
    nodes = malloc((size_t)l * (size_t)(D + 1) * sizeof *nodes);
    xs = malloc((size_t)l * sizeof *xs);
    ys = malloc((size_t)l * sizeof *ys);
    w = calloc((size_t)D, sizeof *w);
    if (!nodes || !xs || !ys || !w) {
        st = fs_error(FS_ERR_NOMEM, "out of memory for a training set of %lld codes",
                      (long long)l);
        goto done;
    }
    for (int64_t k = 0; k < l; k++) {
        /* negatives first (see the top of this file) */
        int neg = k < train_num;
        int64_t row = neg ? neg_rows[r->negative_idx[k]]
                          : pos_rows[r->positive_idx[k - train_num]];
        xs[k] = nodes + (size_t)k * (size_t)(D + 1);
        row_nodes(&codes, row, xs[k]);
        ys[k] = neg ? 0 : 1;
    }
    struct svm_problem prob = {.l = (int)l, .y = ys, .x = xs};
    /* scikit-learn's SVC(kernel='linear') defaults */
    struct svm_parameter param = {
        .svm_type = C_SVC, .kernel_type = LINEAR, .degree = 3, .gamma = 1.0 / (double)D,
        .coef0 = 0, .cache_size = 200, .eps = 1e-3, .C = 1.0, .nr_weight = 0,
        .weight_label = NULL, .weight = NULL, .nu = 0.5, .p = 0.1, .shrinking = 1,
        .probability = 0,
    };
    const char *perr = svm_check_parameter(&prob, &param);
    if (perr) {
        st = fs_error(FS_ERR_ARG, "libsvm refuses the problem: %s", perr);
        goto done;
    }
    svm_set_print_string_function(svm_quiet);
    model = svm_train(&prob, &param);
    if (!model || model->nr_class != 2) {
        st = fs_error(FS_ERR_ARG, "libsvm did not return a two-class model");
        goto done;
    }
    for (int i = 0; i < model->l; i++)
        for (const struct svm_node *p = model->SV[i]; p->index != -1; p++)
            w[p->index - 1] += model->sv_coef[0][i] * p->value;
    double rho = model->rho[0];
    int first = model->label[0]; /* decision > 0 means this label */
    r->n_support[0] = model->nSV[first == 0 ? 0 : 1];
    r->n_support[1] = model->nSV[first == 0 ? 1 : 0];
    r->intercept = first == 1 ? -rho : rho;

    /* 6. Accuracies: libsvm predicts label[0] when the decision is > 0. */
#define PREDICT(row) (decision(w, rho, &codes, (row)) > 0 ? first : 1 - first)
    for (int64_t k = train_num; k < chosen; k++) {
        r->val_correct += PREDICT(pos_rows[r->positive_idx[k]]) == 1;
        r->val_correct += PREDICT(neg_rows[r->negative_idx[k]]) == 0;
    }
    for (int64_t k = chosen; k < n - chosen; k++) {
        int64_t row = r->sorted_rows[k];
        int label = mat_at(&scores, row, 0) < mid ? 0 : 1;
        r->remaining_correct += PREDICT(row) == label;
    }
#undef PREDICT

    /* 7. The unit normal toward the positives, in float32 as the official
     * function casts coef_ before dividing by its norm. */
    if (!(r->boundary = malloc((size_t)D * sizeof *r->boundary))) {
        st = fs_error(FS_ERR_NOMEM, "out of memory");
        goto done;
    }
    double ss = 0;
    for (int64_t c = 0; c < D; c++) {
        r->boundary[c] = (float)(first == 1 ? w[c] : -w[c]);
        ss += (double)r->boundary[c] * r->boundary[c];
    }
    float norm = sqrtf((float)ss);
    if (!(norm > 0)) {
        st = fs_error(FS_ERR_ARG, "the SVM found no separating direction (all weights zero)");
        goto done;
    }
    for (int64_t c = 0; c < D; c++)
        r->boundary[c] /= norm;
    r->dim = (int)D;

done:
    if (model)
        svm_free_and_destroy_model(&model);
    free(nodes);
    free(xs);
    free(ys);
    free(w);
    free(valid);
    free(order);
    free(sv);
    if (st != FS_OK) {
        /* keep the split for a caller that reports it, drop the rest */
        free(r->boundary);
        r->boundary = NULL;
    }
    return st;
}
