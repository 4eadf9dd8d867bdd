/* FIR plans (see fir_plan.h). Semantics are those of stylegan2-ada's
 * upfirdn2d: zero-insert by `up`, pad (pad0 before, pad1 after), convolve with
 * the flipped filter times gain, keep every `down`-th sample. */
#include "fir_plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int n_out, fl;
    int lo, hi; /* outputs [lo, hi) read inputs o * down + k - pad0 for every k (up 1), the
                 * same taps each: the plain-correlation run; lo == hi when none */
    int *cnt;   /* [n_out] contributions */
    int *idx;   /* [n_out][fl] input index */
    float *wt;  /* [n_out][fl] tap */
} axis;

struct fs_cpu_fir {
    int h, w, oh, ow, fl, separable;
    float gain;
    axis ax_h, ax_v;   /* separable path */
    float *f2;         /* 2-D filter, general path */
    int up, down, pad0;
};

static void axis_free(axis *a)
{
    free(a->cnt);
    free(a->idx);
    free(a->wt);
}

/* Output o reads upsampled position u = o*down + k - pad0 for tap k; only
 * positions that are multiples of up hold input samples (u / up). */
static fs_status axis_init(axis *a, int n_in, int up, int down, int pad0, int n_out,
                           const float *taps, int fl)
{
    a->n_out = n_out;
    a->fl = fl;
    a->cnt = calloc((size_t)n_out, sizeof *a->cnt);
    a->idx = malloc((size_t)n_out * fl * sizeof *a->idx);
    a->wt = malloc((size_t)n_out * fl * sizeof *a->wt);
    if (!a->cnt || !a->idx || !a->wt)
        return fs_error(FS_ERR_NOMEM, "fir plan: out of memory");
    for (int o = 0; o < n_out; o++)
        for (int k = 0; k < fl; k++) {
            int u = o * down + k - pad0;
            if (u < 0 || u >= n_in * up || u % up)
                continue;
            int c = a->cnt[o]++;
            a->idx[(size_t)o * fl + c] = u / up;
            a->wt[(size_t)o * fl + c] = taps[fl - 1 - k]; /* convolution: flipped */
        }
    /* the longest run of outputs whose taps are all in, in order, at unit
     * stride (only for up == down == 1, where every output has them all) */
    a->lo = a->hi = 0;
    if (up == 1 && down == 1) {
        int o = 0;
        while (o < n_out && a->cnt[o] != fl)
            o++;
        int e = o;
        while (e < n_out && a->cnt[e] == fl && a->idx[(size_t)e * fl] == e - pad0)
            e++;
        a->lo = o;
        a->hi = e;
    }
    return FS_OK;
}

fs_status fs_cpu_fir_plan(fs_cpu_fir **out, int h, int w, int up, int down, int pad0, int pad1,
                          const float *fir2d, int fl, float gain)
{
    *out = NULL;
    fs_cpu_fir *p = calloc(1, sizeof *p);
    if (!p)
        return fs_error(FS_ERR_NOMEM, "fir plan: out of memory");
    p->h = h;
    p->w = w;
    p->fl = fl;
    p->gain = gain;
    p->up = up;
    p->down = down;
    p->pad0 = pad0;
    p->oh = (h * up + pad0 + pad1 - fl) / down + 1;
    p->ow = (w * up + pad0 + pad1 - fl) / down + 1;
    /* Separable when f2[y][x] = v[y] * c[x] with v the row sums over the total
     * and c the column sums: true for every outer-product filter. */
    float v[32], c[32];
    double total = 0;
    p->separable = fl <= 32;
    for (int y = 0; y < fl && p->separable; y++)
        for (int x = 0; x < fl; x++)
            total += fir2d[y * fl + x];
    if (total == 0)
        p->separable = 0;
    for (int i = 0; i < fl && p->separable; i++) {
        double r = 0, s = 0;
        for (int j = 0; j < fl; j++) {
            r += fir2d[i * fl + j];
            s += fir2d[j * fl + i];
        }
        v[i] = (float)(r / total);
        c[i] = (float)s;
    }
    for (int y = 0; y < fl && p->separable; y++)
        for (int x = 0; x < fl; x++) {
            float f = fir2d[y * fl + x];
            if (fabsf(v[y] * c[x] - f) > 1e-6f * fabsf(f) + 1e-9f)
                p->separable = 0;
        }
    fs_status s = FS_OK;
    if (p->separable) {
        s = axis_init(&p->ax_h, w, up, down, pad0, p->ow, c, fl);
        if (s == FS_OK)
            s = axis_init(&p->ax_v, h, up, down, pad0, p->oh, v, fl);
    } else {
        p->f2 = malloc((size_t)fl * fl * sizeof *p->f2);
        if (!p->f2)
            s = fs_error(FS_ERR_NOMEM, "fir plan: out of memory");
        else
            memcpy(p->f2, fir2d, (size_t)fl * fl * sizeof *p->f2);
    }
    if (s != FS_OK) {
        fs_cpu_fir_free(p);
        return s;
    }
    *out = p;
    return FS_OK;
}

void fs_cpu_fir_free(fs_cpu_fir *p)
{
    if (!p)
        return;
    axis_free(&p->ax_h);
    axis_free(&p->ax_v);
    free(p->f2);
    free(p);
}

int fs_cpu_fir_out_h(const fs_cpu_fir *p) { return p->oh; }
int fs_cpu_fir_out_w(const fs_cpu_fir *p) { return p->ow; }
size_t fs_cpu_fir_tmp_floats(const fs_cpu_fir *p) { return (size_t)p->h * p->ow + 16; }

void fs_cpu_fir_run(const fs_cpu_fir *p, const float *x, float *y, float *tmp)
{
    fs_cpu_fir_run_rows(p, x, 0, p->h, y, 0, p->oh, tmp);
}

/* Output rows [oy0, oy1) from the input rows [iy0, iy0 + nrows) at x; the
 * same operations in the same order as the whole plane, row by row. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* built for AVX-512, AVX2 and the baseline, picked at load time; no FMA
 * contraction in C11 mode, so every clone gives the same bits */
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void fs_cpu_fir_run_rows(const fs_cpu_fir *p, const float *x, int iy0, int nrows, float *y,
                         int oy0, int oy1, float *tmp)
{
    int fl = p->fl;
    if (!p->separable) {
        int uh = p->h * p->up, uw = p->w * p->up;
        for (int oy = oy0; oy < oy1; oy++)
            for (int ox = 0; ox < p->ow; ox++) {
                float acc = 0;
                for (int ky = 0; ky < fl; ky++) {
                    int uy = oy * p->down + ky - p->pad0;
                    if (uy < 0 || uy >= uh || uy % p->up)
                        continue;
                    for (int kx = 0; kx < fl; kx++) {
                        int ux = ox * p->down + kx - p->pad0;
                        if (ux < 0 || ux >= uw || ux % p->up)
                            continue;
                        acc += x[(size_t)(uy / p->up - iy0) * p->w + ux / p->up] *
                               p->f2[(size_t)(fl - 1 - ky) * fl + (fl - 1 - kx)];
                    }
                }
                y[(size_t)(oy - oy0) * p->ow + ox] = acc * p->gain;
            }
        return;
    }
    /* horizontal pass: tmp [nrows, ow]. Where every tap of output o reads
     * input o - pad0 + k in order (no zero insertion or decimation, away from
     * the edges: [ah->lo, ah->hi)), the taps run as a plain correlation the
     * compiler vectorises across o; same products, same order. */
    const axis *ah = &p->ax_h, *av = &p->ax_v;
    for (int r = 0; r < nrows; r++) {
        const float *xr = x + (size_t)r * p->w;
        float *tr = tmp + (size_t)r * p->ow;
        int lo = ah->lo, hi = ah->hi;
        for (int o = 0; o < p->ow; o++) {
            if (o == lo && hi > lo && fl == 4) {
                const float *w4 = ah->wt + (size_t)lo * fl, *xs = xr + lo - p->pad0;
                float w0 = w4[0], w1 = w4[1], w2 = w4[2], w3 = w4[3];
                for (int q = 0; q < hi - lo; q++) {
                    float acc = 0;
                    acc += xs[q] * w0;
                    acc += xs[q + 1] * w1;
                    acc += xs[q + 2] * w2;
                    acc += xs[q + 3] * w3;
                    tr[lo + q] = acc;
                }
                o = hi - 1;
                continue;
            }
            const int *ix = ah->idx + (size_t)o * fl;
            const float *wt = ah->wt + (size_t)o * fl;
            float acc = 0;
            for (int k = 0; k < ah->cnt[o]; k++)
                acc += xr[ix[k]] * wt[k];
            tr[o] = acc;
        }
    }
    /* vertical pass, vectorised along the row */
    for (int o = oy0; o < oy1; o++) {
        float *yr = y + (size_t)(o - oy0) * p->ow;
        const int *iy = av->idx + (size_t)o * fl;
        const float *wt = av->wt + (size_t)o * fl;
        int n = av->cnt[o];
        if (n == 0) {
            memset(yr, 0, (size_t)p->ow * sizeof *yr);
            continue;
        }
        const float *t0 = tmp + (size_t)(iy[0] - iy0) * p->ow;
        for (int xx = 0; xx < p->ow; xx++)
            yr[xx] = t0[xx] * wt[0];
        for (int k = 1; k < n; k++) {
            const float *tk = tmp + (size_t)(iy[k] - iy0) * p->ow;
            float wk = wt[k];
            for (int xx = 0; xx < p->ow; xx++)
                yr[xx] += tk[xx] * wk;
        }
        for (int xx = 0; xx < p->ow; xx++)
            yr[xx] *= p->gain;
    }
}
