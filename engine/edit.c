/* The arithmetic of latent editing (edit.h, docs/editing.md): boundary
 * checks and normalisation, the conditional projection, numpy's linspace,
 * the two branches of InterFaceGAN's linear_interpolate, random strengths
 * and layer lists.
 *
 * Each operation reproduces the element type numpy computes in: a float32
 * boundary keeps a float32 code in float32 (one rounding per operation), a
 * float64 boundary promotes it to float64 and the result is rounded to
 * float32 once. This file is compiled with -std=c11, in which GCC does not
 * contract a * b + c into an FMA (-ffp-contract=off), so each product and
 * sum below is rounded as numpy rounds it. */
#include "edit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- boundaries ------------------------------------------------------------ */

fs_status fs_boundary_check_dim(const fs_boundary *b, const char *path, int dim,
                                const char *space, const char *what)
{
    if (b->dim == dim)
        return FS_OK;
    return fs_error(FS_ERR_SHAPE, "%s: boundary has D = %d, but %s edits vectors of %s = %d",
                    path, b->dim, space, what, dim);
}

int fs_boundary_is_unit(const fs_boundary *b)
{
    return fabs(b->norm - 1.0) <= FS_BOUNDARY_UNIT_TOL;
}

static double dot_d(const double *a, const double *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void set_norm(fs_boundary *b)
{
    b->norm = sqrt(dot_d(b->v, b->v, b->dim));
}

void fs_boundary_normalize(fs_boundary *b)
{
    double n = b->norm;
    if (!(n > 0))
        return;
    for (int i = 0; i < b->dim; i++)
        b->v[i] = b->dtype == FS_DTYPE_F32 ? (double)(float)(b->v[i] / n) : b->v[i] / n;
    set_norm(b);
}

static fs_status boundary_alloc(fs_boundary *out, int dim, fs_dtype dtype)
{
    memset(out, 0, sizeof *out);
    if (!(out->v = malloc((size_t)dim * sizeof *out->v)))
        return fs_error(FS_ERR_NOMEM, "out of memory for a boundary of %d values", dim);
    out->dim = dim;
    out->dtype = dtype;
    return FS_OK;
}

fs_status fs_boundary_copy(const fs_boundary *b, fs_boundary *out)
{
    FS_TRY(boundary_alloc(out, b->dim, b->dtype));
    memcpy(out->v, b->v, (size_t)b->dim * sizeof *b->v);
    out->norm = b->norm;
    memcpy(out->sha256, b->sha256, sizeof out->sha256);
    return FS_OK;
}

void fs_boundary_free(fs_boundary *b)
{
    if (!b)
        return;
    free(b->v);
    memset(b, 0, sizeof *b);
}

/* ---- project_boundary --------------------------------------------------------- */

static const char *name_of(const char *const *names, int i, char *buf, size_t cap)
{
    if (names && names[i])
        return names[i];
    if (i == 0)
        snprintf(buf, cap, "the primal boundary");
    else
        snprintf(buf, cap, "condition %d", i);
    return buf;
}

/* Solves A x = b (A k x k, row-major, overwritten; b overwritten by x) by
 * Gaussian elimination with partial pivoting, the method of LAPACK's dgesv
 * that numpy.linalg.solve calls. Returns 0 when a pivot is negligible: the
 * conditions are linearly dependent. */
static int solve_in_place(double *A, double *b, int k)
{
    double scale = 0;
    for (int i = 0; i < k * k; i++)
        scale = fmax(scale, fabs(A[i]));
    for (int c = 0; c < k; c++) {
        int p = c;
        for (int r = c + 1; r < k; r++)
            if (fabs(A[r * k + c]) > fabs(A[p * k + c]))
                p = r;
        if (!(fabs(A[p * k + c]) > 1e-12 * scale))
            return 0;
        if (p != c) {
            for (int j = 0; j < k; j++) {
                double t = A[c * k + j];
                A[c * k + j] = A[p * k + j];
                A[p * k + j] = t;
            }
            double t = b[c];
            b[c] = b[p];
            b[p] = t;
        }
        for (int r = c + 1; r < k; r++) {
            double f = A[r * k + c] / A[c * k + c];
            for (int j = c; j < k; j++)
                A[r * k + j] -= f * A[c * k + j];
            b[r] -= f * b[c];
        }
    }
    for (int c = k - 1; c >= 0; c--) {
        double s = b[c];
        for (int j = c + 1; j < k; j++)
            s -= A[c * k + j] * b[j];
        b[c] = s / A[c * k + c];
    }
    return 1;
}

fs_status fs_boundary_project(const fs_boundary *primal, const fs_boundary *conds, int n_conds,
                              const char *const *names, fs_boundary *out)
{
    char nb[2][48];
    int D = primal->dim;
    fs_dtype dt = primal->dtype;
    for (int i = 0; i < n_conds; i++) {
        if (conds[i].dim != D)
            return fs_error(FS_ERR_SHAPE, "%s: condition has D = %d, but %s has D = %d",
                            name_of(names, i + 1, nb[0], sizeof nb[0]), conds[i].dim,
                            name_of(names, 0, nb[1], sizeof nb[1]), D);
        if (conds[i].dtype == FS_DTYPE_F64)
            dt = FS_DTYPE_F64;
    }
    if (n_conds == 0) {
        FS_TRY(fs_boundary_copy(primal, out));
        return FS_OK; /* the official function returns primal untouched */
    }
    FS_TRY(boundary_alloc(out, D, dt));
    const double *p = primal->v;
    double *nv = out->v;
    if (n_conds == 1) {
        const double *c = conds[0].v;
        double pc = dot_d(p, c, D);
        for (int i = 0; i < D; i++)
            nv[i] = p[i] - pc * c[i];
    } else if (n_conds == 2) {
        const double *c1 = conds[0].v, *c2 = conds[1].v;
        double p1 = dot_d(p, c1, D), p2 = dot_d(p, c2, D), r = dot_d(c1, c2, D);
        if (fabs(r) >= (1.0 - 1e-9) * conds[0].norm * conds[1].norm) {
            fs_boundary_free(out);
            return fs_error(FS_ERR_ARG, "%s and %s are parallel: projecting out one of them is "
                            "projecting out both", name_of(names, 1, nb[0], sizeof nb[0]),
                            name_of(names, 2, nb[1], sizeof nb[1]));
        }
        /* The official closed form, 1e-8 included: it is what makes the
         * result match the released conditional boundaries to 1e-12. */
        double den = 1.0 - r * r + 1e-8;
        double alpha = (p1 - p2 * r) / den;
        double beta = (p2 - p1 * r) / den;
        for (int i = 0; i < D; i++)
            nv[i] = p[i] - alpha * c1[i] - beta * c2[i];
    } else {
        int k = n_conds;
        double *A = malloc((size_t)k * k * sizeof *A), *x = malloc((size_t)k * sizeof *x);
        if (!A || !x) {
            free(A);
            free(x);
            fs_boundary_free(out);
            return fs_error(FS_ERR_NOMEM, "out of memory for %d conditions", k);
        }
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++)
                A[i * k + j] = dot_d(conds[i].v, conds[j].v, D);
            x[i] = dot_d(conds[i].v, p, D);
        }
        int ok = solve_in_place(A, x, k);
        if (ok) {
            for (int d = 0; d < D; d++) {
                double s = 0; /* (x^T C)[d], summed over the conditions in order */
                for (int i = 0; i < k; i++)
                    s += x[i] * conds[i].v[d];
                nv[d] = p[d] - s;
            }
        }
        free(A);
        free(x);
        if (!ok) {
            fs_boundary_free(out);
            return fs_error(FS_ERR_ARG, "the %d conditions are linearly dependent: one of them "
                            "adds no direction to the others", k);
        }
    }
    double n = sqrt(dot_d(nv, nv, D));
    if (!(n > 1e-8 * primal->norm)) {
        fs_boundary_free(out);
        return fs_error(FS_ERR_ARG, "%s lies in the span of the conditions: nothing is left "
                        "after projecting them out", name_of(names, 0, nb[0], sizeof nb[0]));
    }
    for (int i = 0; i < D; i++)
        nv[i] = dt == FS_DTYPE_F32 ? (double)(float)(nv[i] / n) : nv[i] / n;
    set_norm(out);
    return FS_OK;
}

/* ---- linear_interpolate ---------------------------------------------------------- */

fs_status fs_edit_linspace(double start, double end, int steps, double *out)
{
    if (steps < 1)
        return fs_error(FS_ERR_ARG, "STEPS is %d: a sweep needs at least 1 step", steps);
    if (steps == 1) {
        out[0] = start; /* numpy: 0 * delta + start */
        return FS_OK;
    }
    double div = steps - 1, delta = end - start, step = delta / div;
    for (int k = 0; k < steps; k++) {
        double y;
        if (step == 0) /* numpy's path for a zero (or underflowing) step */
            y = ((double)k / div) * delta;
        else
            y = (double)k * step;
        out[k] = y + start;
    }
    out[steps - 1] = end;
    return FS_OK;
}

double fs_edit_projection(const float *code, const fs_boundary *b)
{
    double s = 0;
    for (int i = 0; i < b->dim; i++)
        s += (double)code[i] * b->v[i];
    return b->dtype == FS_DTYPE_F32 ? (double)(float)s : s;
}

/* code + s * n[i] in the boundary's arithmetic (s already a float32). */
static inline float axpy_one(float code, float s, const fs_boundary *b, int i)
{
    if (b->dtype == FS_DTYPE_F32) {
        float prod = s * (float)b->v[i];
        return code + prod;
    }
    double prod = (double)s * b->v[i];
    return (float)((double)code + prod);
}

void fs_edit_to_distances(const float *code, const fs_boundary *b, const double *d, int steps,
                          float *out)
{
    double proj = fs_edit_projection(code, b);
    for (int k = 0; k < steps; k++) {
        float s = (float)(d[k] - proj);
        float *o = out + (size_t)k * b->dim;
        for (int i = 0; i < b->dim; i++)
            o[i] = axpy_one(code[i], s, b, i);
    }
}

void fs_edit_offset(const float *code, int num_layers, const fs_boundary *b,
                    const unsigned char *layers, double alpha, float *out)
{
    float s = (float)alpha;
    for (int l = 0; l < num_layers; l++) {
        const float *c = code + (size_t)l * b->dim;
        float *o = out + (size_t)l * b->dim;
        if (layers && !layers[l]) {
            if (o != c)
                memcpy(o, c, (size_t)b->dim * sizeof *o);
            continue;
        }
        for (int i = 0; i < b->dim; i++)
            o[i] = axpy_one(c[i], s, b, i);
    }
}

void fs_edit_draw_alphas(fs_np_random *r, double lo, double hi, int n, double *out)
{
    double range = hi - lo; /* numpy computes the width first */
    for (int i = 0; i < n; i++) {
        double u = fs_np_random_double(r);
        out[i] = lo + range * u;
    }
}

/* ---- layer lists ------------------------------------------------------------------- */

static int parse_index(const char **p, long *out)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return 0;
    long v = 0;
    while (*s >= '0' && *s <= '9') {
        if (v > 100000000)
            return 0;
        v = v * 10 + (*s++ - '0');
    }
    *out = v;
    *p = s;
    return 1;
}

fs_status fs_edit_parse_layers(const char *s, int num_layers, unsigned char *mask)
{
    memset(mask, 0, (size_t)num_layers);
    if (!*s)
        return fs_error(FS_ERR_ARG, "--layers is empty: give e.g. 0-3,8");
    const char *p = s;
    for (;;) {
        const char *item = p;
        size_t ilen = strcspn(item, ",");
        long a, b;
        if (!parse_index(&p, &a))
            return fs_error(FS_ERR_ARG, "--layers: '%.*s' is not a layer index or a range a-b",
                            (int)ilen, item);
        b = a;
        if (*p == '-') {
            p++;
            if (!parse_index(&p, &b))
                return fs_error(FS_ERR_ARG, "--layers: '%.*s' is not a layer index or a range "
                                "a-b", (int)ilen, item);
        }
        if (*p != ',' && *p != '\0')
            return fs_error(FS_ERR_ARG, "--layers: '%.*s' is not a layer index or a range a-b",
                            (int)ilen, item);
        if (a > b)
            return fs_error(FS_ERR_ARG, "--layers: '%.*s' is an empty range (%ld > %ld)",
                            (int)ilen, item, a, b);
        if (b >= num_layers)
            return fs_error(FS_ERR_ARG, "--layers: layer %ld is out of range: the network has "
                            "%d ws (layers 0 to %d)", b, num_layers, num_layers - 1);
        for (long l = a; l <= b; l++)
            mask[l] = 1;
        if (*p == '\0')
            return FS_OK;
        p++; /* the comma */
        if (*p == '\0')
            return fs_error(FS_ERR_ARG, "--layers: '%s' ends with a comma", s);
    }
}
