/* The CPU backend: every operation of backend.h in float32, threaded over
 * independent output tiles, convolutions as im2col + the blocked SGEMM. This
 * is the oracle the CUDA kernels are tested against, so each op follows the
 * official formulas literally (research/stylegan2.md §1.4-1.7, §2); speed
 * comes from tiling and the GEMM, never from reordering the math. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cpu_gemm.h"
#include "cpu_threads.h"
#include "rng.h"

#define SQRT2 1.41421356237309504880f

typedef struct {
    fs_pool *pool;
    int threads;
    float **scratch;   /* per worker: GEMM packing buffers */
    float **col;       /* per worker: im2col tiles */
    size_t col_cap;    /* floats per worker */
} cpu_impl;

static cpu_impl *impl_of(fs_backend *b) { return b->impl; }

/* ---- memory ---------------------------------------------------------------- */

static void *cpu_alloc(fs_backend *b, size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p)
        fs_error(FS_ERR_NOMEM, "cpu backend: cannot allocate %zu bytes", bytes);
    return p;
}

static void cpu_release(fs_backend *b, void *p) { free(p); }

static fs_status cpu_copy(fs_backend *b, void *dst, const void *src, size_t bytes)
{
    memcpy(dst, src, bytes);
    return FS_OK;
}

static fs_status cpu_sync(fs_backend *b) { return FS_OK; }

/* ---- activation ------------------------------------------------------------- */

static inline float act_apply(float x, fs_act act, float gain, float clamp)
{
    switch (act) {
    case FS_ACT_LRELU: x = (x < 0 ? x * 0.2f : x) * SQRT2; break;
    case FS_ACT_RELU: x = x < 0 ? 0.0f : x; break;
    case FS_ACT_LEAKY001: x = x < 0 ? x * 0.01f : x; break;
    case FS_ACT_TANH: x = tanhf(x); break;
    default: break;
    }
    x *= gain;
    if (clamp > 0)
        x = x < -clamp ? -clamp : x > clamp ? clamp : x;
    return x;
}

/* ---- fully connected -------------------------------------------------------- */

static fs_status cpu_fc(fs_backend *b, const fs_fc_args *a)
{
    /* Like the official layer: the gain is folded into the weight first, then
     * x @ W^T, then bias * bias_gain, activation, gain, clamp. */
    float *wt = malloc((size_t)a->in * a->out * sizeof *wt);
    if (!wt)
        return fs_error(FS_ERR_NOMEM, "cpu fc: out of memory");
    for (int i = 0; i < a->in; i++)
        for (int o = 0; o < a->out; o++)
            wt[(size_t)i * a->out + o] = a->w[(size_t)o * a->in + i] * a->weight_gain;
    fs_sgemm(a->n, a->out, a->in, a->x, (size_t)(a->ldx ? a->ldx : a->in), wt, (size_t)a->out, a->y, (size_t)a->out, 0);
    free(wt);
    for (int n = 0; n < a->n; n++)
        for (int o = 0; o < a->out; o++) {
            float *y = &a->y[(size_t)n * a->out + o];
            float v = *y + (a->b ? a->b[o] * a->bias_gain : 0.0f);
            *y = act_apply(v, a->act, a->gain, a->clamp);
        }
    return FS_OK;
}

static fs_status cpu_normalize(fs_backend *b, float *x, int n, int c)
{
    for (int i = 0; i < n; i++) {
        float *r = x + (size_t)i * c;
        float s = 0;
        for (int j = 0; j < c; j++)
            s += r[j] * r[j];
        float k = 1.0f / sqrtf(s / (float)c + 1e-8f);
        for (int j = 0; j < c; j++)
            r[j] *= k;
    }
    return FS_OK;
}

static fs_status cpu_lerp_rows(fs_backend *b, float *y, const float *a, int n, int rows, int c,
                               int row0, int row1, float t)
{
    for (int i = 0; i < n; i++)
        for (int r = row0; r < row1; r++) {
            float *v = y + ((size_t)i * rows + r) * c;
            for (int j = 0; j < c; j++)
                v[j] = a[j] + t * (v[j] - a[j]);
        }
    return FS_OK;
}

static fs_status cpu_bias_act(fs_backend *b, float *x, const float *bias, int n, int c,
                              size_t hw, fs_act act, float gain, float clamp)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c; j++) {
            float *p = x + ((size_t)i * c + j) * hw;
            float bj = bias ? bias[j] : 0.0f;
            for (size_t q = 0; q < hw; q++)
                p[q] = act_apply(p[q] + bj, act, gain, clamp);
        }
    return FS_OK;
}

static fs_status cpu_axpby(fs_backend *b, float *y, const float *x, size_t n, float ys, float xs)
{
    for (size_t i = 0; i < n; i++)
        y[i] = y[i] * ys + x[i] * xs;
    return FS_OK;
}

/* ---- upfirdn2d ---------------------------------------------------------------- */

/* Reference semantics (stylegan2-ada upfirdn2d): upsample by zero insertion,
 * pad (negative pads crop), convolve with the flipped-for-correlation filter
 * times gain, then keep every down-th sample. The filter is applied in 2-D. */
static void upfirdn2d_plane(const float *x, float *y, int h, int w, int up, int down, int pad0,
                            int pad1, const float *f, int fl, float gain)
{
    int uh = h * up, uw = w * up;
    int oh = (uh + pad0 + pad1 - fl) / down + 1, ow = (uw + pad0 + pad1 - fl) / down + 1;
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
            float acc = 0;
            for (int ky = 0; ky < fl; ky++) {
                int uy = oy * down + ky - pad0; /* position in the upsampled grid */
                if (uy < 0 || uy >= uh || uy % up)
                    continue;
                for (int kx = 0; kx < fl; kx++) {
                    int ux = ox * down + kx - pad0;
                    if (ux < 0 || ux >= uw || ux % up)
                        continue;
                    /* true convolution: the filter is flipped */
                    acc += x[(size_t)(uy / up) * w + ux / up] *
                           f[(size_t)(fl - 1 - ky) * fl + (fl - 1 - kx)];
                }
            }
            y[(size_t)oy * ow + ox] = acc * gain;
        }
}

typedef struct {
    const fs_upfirdn2d_args *a;
    int oh, ow;
} ufd_ctx;

static void ufd_task(void *ctx, int t, int worker)
{
    ufd_ctx *c = ctx;
    const fs_upfirdn2d_args *a = c->a;
    upfirdn2d_plane(a->x + (size_t)t * a->h * a->w, a->y + (size_t)t * c->oh * c->ow, a->h, a->w,
                    a->up, a->down, a->pad0, a->pad1, a->fir, a->fir_len, a->gain);
}

static fs_status cpu_upfirdn2d(fs_backend *b, const fs_upfirdn2d_args *a)
{
    ufd_ctx c = {a, (a->h * a->up + a->pad0 + a->pad1 - a->fir_len) / a->down + 1,
                 (a->w * a->up + a->pad0 + a->pad1 - a->fir_len) / a->down + 1};
    fs_pool_run(impl_of(b)->pool, a->nc, ufd_task, &c);
    return FS_OK;
}

/* ---- convolution tiles ------------------------------------------------------------ */

/* im2col for rows [r0, r1) of a stride-1 'same' k x k correlation (pad k/2),
 * each input channel scaled by scale[i] (the styles) when given. */
static void im2col_same(const float *x, const float *scale, int cin, int h, int w, int k, int r0,
                        int r1, float *col)
{
    int pad = k / 2, np = (r1 - r0) * w;
    for (int i = 0; i < cin; i++) {
        const float *xi = x + (size_t)i * h * w;
        float s = scale ? scale[i] : 1.0f;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *dst = col + ((size_t)(i * k + ky) * k + kx) * np;
                for (int y = r0; y < r1; y++) {
                    int sy = y + ky - pad;
                    float *d = dst + (size_t)(y - r0) * w;
                    if (sy < 0 || sy >= h) {
                        memset(d, 0, (size_t)w * sizeof *d);
                        continue;
                    }
                    const float *row = xi + (size_t)sy * w;
                    for (int xx = 0; xx < w; xx++) {
                        int sx = xx + kx - pad;
                        d[xx] = (sx >= 0 && sx < w) ? row[sx] * s : 0.0f;
                    }
                }
            }
    }
}

/* Rows of output per tile so a worker's im2col buffer stays near 4 MB. */
static int tile_rows(int kdim, int w, int h)
{
    long per_row = (long)kdim * w;
    long rows = (1L << 20) / (per_row > 0 ? per_row : 1);
    if (rows < 1)
        rows = 1;
    return rows > h ? h : (int)rows;
}

static fs_status ensure_col(cpu_impl *m, size_t floats)
{
    if (floats <= m->col_cap)
        return FS_OK;
    for (int t = 0; t < m->threads; t++) {
        free(m->col[t]);
        m->col[t] = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
        if (!m->col[t]) {
            m->col_cap = 0;
            return fs_error(FS_ERR_NOMEM, "cpu backend: cannot allocate conv tiles");
        }
    }
    m->col_cap = floats;
    return FS_OK;
}

/* ---- modulated convolution -------------------------------------------------------- */

typedef struct {
    const fs_modconv_args *a;
    cpu_impl *m;
    int n;               /* current sample */
    const float *wmat;   /* GEMM left operand */
    float *t;            /* up == 2: transposed-conv output [cout, 2h+1, 2w+1] */
    const float *dcoef;  /* [cout] demodulation, NULL for none */
    int rows;            /* tile rows */
} mc_ctx;

/* Epilogue on one output row range of channel o: demod, noise, bias, act, clamp. */
static void mc_epilogue(const fs_modconv_args *a, int n, const float *dcoef, float *y, int o,
                        int oh, int ow, int r0, int r1)
{
    float d = dcoef ? dcoef[o] : 1.0f;
    float bias = a->b[o];
    for (int yy = r0; yy < r1; yy++) {
        float *row = y + (size_t)yy * ow;
        for (int xx = 0; xx < ow; xx++) {
            float v = row[xx] * d;
            if (a->noise_mode == FS_NOISE_CONST)
                v += a->noise_const[(size_t)yy * ow + xx] * a->noise_strength;
            else if (a->noise_mode == FS_NOISE_RANDOM)
                v += fs_philox_normal(a->noise_seeds[n], a->noise_stream,
                                      (uint64_t)yy * ow + xx) * a->noise_strength;
            row[xx] = act_apply(v + bias, a->act, a->gain, a->clamp);
        }
    }
}

/* up == 1: output rows [r0, r1) of sample n = W [cout, cin k k] x col. */
static void mc_same_task(void *ctx, int t, int worker)
{
    mc_ctx *c = ctx;
    const fs_modconv_args *a = c->a;
    int r0 = t * c->rows, r1 = r0 + c->rows > a->h ? a->h : r0 + c->rows;
    const float *x = a->x + (size_t)c->n * a->cin * a->h * a->w;
    float *y = a->y + (size_t)c->n * a->cout * a->h * a->w;
    float *col = c->m->col[worker];
    im2col_same(x, a->styles + (size_t)c->n * a->cin, a->cin, a->h, a->w, a->k, r0, r1, col);
    int np = (r1 - r0) * a->w, kdim = a->cin * a->k * a->k;
    fs_sgemm_ws(a->cout, np, kdim, c->wmat, (size_t)kdim, col, (size_t)np,
                y + (size_t)r0 * a->w, (size_t)a->h * a->w, 0, c->m->scratch[worker]);
    for (int o = 0; o < a->cout; o++)
        mc_epilogue(a, c->n, c->dcoef, y + (size_t)o * a->h * a->w, o, a->h, a->w, r0, r1);
}

/* up == 2, phase 1: the stride-2 transposed conv into T (2h+1 x 2w+1),
 * T[2y+ky, 2x+kx] = sum W[o,i,ky,kx] x[i,y,x] s[i]. A GEMM over i gives the 9
 * taps of every output channel for each input pixel. A tile owns the T rows
 * [2 r0, 2 r1) (plus the last row for the last tile); row 2 r0 also takes the
 * ky = 2 taps of input row r0 - 1, so each tile recomputes that one halo row
 * instead of sharing writes with its neighbour. */
static void mc_up_task(void *ctx, int t, int worker)
{
    mc_ctx *c = ctx;
    const fs_modconv_args *a = c->a;
    int r0 = t * c->rows, r1 = r0 + c->rows > a->h ? a->h : r0 + c->rows;
    int y0 = r0 > 0 ? r0 - 1 : 0, np = (r1 - y0) * a->w;
    const float *x = a->x + (size_t)c->n * a->cin * a->h * a->w;
    const float *s = a->styles + (size_t)c->n * a->cin;
    float *col = c->m->col[worker];
    for (int i = 0; i < a->cin; i++) {
        const float *src = x + ((size_t)i * a->h + y0) * a->w;
        float *dst = col + (size_t)i * np;
        for (int q = 0; q < np; q++)
            dst[q] = src[q] * s[i];
    }
    float *p = col + (size_t)a->cin * np; /* [cout * 9, np] */
    fs_sgemm_ws(a->cout * 9, np, a->cin, c->wmat, (size_t)a->cin, col, (size_t)np, p, (size_t)np,
                0, c->m->scratch[worker]);
    int th = 2 * a->h + 1, tw = 2 * a->w + 1;
    int p_end = r1 == a->h ? th : 2 * r1;
    for (int o = 0; o < a->cout; o++)
        for (int pr = 2 * r0; pr < p_end; pr++) {
            float *trow = c->t + ((size_t)o * th + pr) * tw;
            memset(trow, 0, (size_t)tw * sizeof *trow);
            for (int ky = 0; ky < 3; ky++) {
                int y = (pr - ky) / 2;
                if ((pr - ky) < 0 || (pr - ky) % 2 || y < y0 || y >= r1)
                    continue;
                for (int kx = 0; kx < 3; kx++) {
                    const float *src = p + ((size_t)(o * 3 + ky) * 3 + kx) * np + (size_t)(y - y0) * a->w;
                    for (int xx = 0; xx < a->w; xx++)
                        trow[2 * xx + kx] += src[xx];
                }
            }
        }
}

typedef struct {
    mc_ctx *c;
    float *out; /* y for this sample */
    int th, tw;
} fir_ctx;

/* Phase 2: the 4x4 FIR (pad 1, gain 4) from T to the output, per channel. */
static void mc_up_fir_task(void *ctx, int o, int worker)
{
    fir_ctx *f = ctx;
    const fs_modconv_args *a = f->c->a;
    int oh = 2 * a->h, ow = 2 * a->w;
    upfirdn2d_plane(f->c->t + (size_t)o * f->th * f->tw, f->out + (size_t)o * oh * ow, f->th, f->tw,
                    1, 1, 1, 1, a->fir, a->fir_len, 4.0f);
    mc_epilogue(a, f->c->n, f->c->dcoef, f->out + (size_t)o * oh * ow, o, oh, ow, 0, oh);
}

static fs_status cpu_modconv(fs_backend *b, const fs_modconv_args *a)
{
    cpu_impl *m = impl_of(b);
    int kk = a->k * a->k;
    if (a->up != 1 && !(a->up == 2 && a->k == 3 && a->fir_len == 4))
        return fs_error(FS_ERR_UNSUPPORTED, "cpu modconv: up=%d with k=%d", a->up, a->k);
    /* Demodulation: d[n,o] = rsqrt(sum_i s[n,i]^2 sum_k W[o,i,k]^2 + 1e-8), the
     * official fp32 formula computed on the modulated weight. */
    float *dcoef = NULL, *wmat = NULL, *t = NULL;
    fs_status st = FS_OK;
    if (a->demodulate) {
        dcoef = malloc((size_t)a->n * a->cout * sizeof *dcoef);
        if (!dcoef)
            return fs_error(FS_ERR_NOMEM, "cpu modconv: out of memory");
        for (int n = 0; n < a->n; n++)
            for (int o = 0; o < a->cout; o++) {
                const float *s = a->styles + (size_t)n * a->cin;
                float acc = 0;
                for (int i = 0; i < a->cin; i++) {
                    const float *wk = a->weight + ((size_t)o * a->cin + i) * kk;
                    for (int q = 0; q < kk; q++) {
                        float v = wk[q] * s[i];
                        acc += v * v;
                    }
                }
                dcoef[(size_t)n * a->cout + o] = 1.0f / sqrtf(acc + 1e-8f);
            }
    }
    if (a->up == 2) {
        /* GEMM operand [cout * 9, cin]: row (o, ky, kx) holds W[o, :, ky, kx]. */
        wmat = malloc((size_t)a->cout * 9 * a->cin * sizeof *wmat);
        t = malloc((size_t)a->cout * (2 * a->h + 1) * (2 * a->w + 1) * sizeof *t);
        if (!wmat || !t) {
            st = fs_error(FS_ERR_NOMEM, "cpu modconv: out of memory");
            goto done;
        }
        for (int o = 0; o < a->cout; o++)
            for (int i = 0; i < a->cin; i++)
                for (int q = 0; q < 9; q++)
                    wmat[((size_t)o * 9 + q) * a->cin + i] = a->weight[((size_t)o * a->cin + i) * 9 + q];
    }
    mc_ctx c = {a, m, 0, a->up == 2 ? wmat : a->weight, t, NULL, 0};
    if (a->up == 1) {
        int kdim = a->cin * kk;
        c.rows = tile_rows(kdim, a->w, a->h);
        if ((st = ensure_col(m, (size_t)kdim * c.rows * a->w)) != FS_OK)
            goto done;
    } else {
        c.rows = tile_rows(a->cin + a->cout * 9, a->w, a->h);
        /* + 1 halo row per tile */
        if ((st = ensure_col(m, (size_t)(a->cin + a->cout * 9) * (c.rows + 1) * a->w)) != FS_OK)
            goto done;
    }
    int tiles = (a->h + c.rows - 1) / c.rows;
    for (int n = 0; n < a->n; n++) {
        c.n = n;
        c.dcoef = dcoef ? dcoef + (size_t)n * a->cout : NULL;
        if (a->up == 1) {
            fs_pool_run(m->pool, tiles, mc_same_task, &c);
            continue;
        }
        int th = 2 * a->h + 1, tw = 2 * a->w + 1;
        fs_pool_run(m->pool, tiles, mc_up_task, &c);
        fir_ctx f = {&c, a->y + (size_t)n * a->cout * 4 * a->h * a->w, th, tw};
        fs_pool_run(m->pool, a->cout, mc_up_fir_task, &f);
    }
done:
    free(dcoef);
    free(wmat);
    free(t);
    return st;
}

/* ---- plain convolution (discriminator) ---------------------------------------- */

/* General im2col: rows [r0, r1) of the output of a k x k correlation with
 * stride and zero padding pad. */
static void im2col(const float *x, int cin, int h, int w, int k, int stride, int pad, int ow,
                   int r0, int r1, float *col)
{
    int np = (r1 - r0) * ow;
    for (int i = 0; i < cin; i++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *dst = col + ((size_t)(i * k + ky) * k + kx) * np;
                for (int oy = r0; oy < r1; oy++) {
                    int sy = oy * stride + ky - pad;
                    float *d = dst + (size_t)(oy - r0) * ow;
                    for (int ox = 0; ox < ow; ox++) {
                        int sx = ox * stride + kx - pad;
                        d[ox] = (sy >= 0 && sy < h && sx >= 0 && sx < w)
                                    ? x[((size_t)i * h + sy) * w + sx] : 0.0f;
                    }
                }
            }
}

typedef struct {
    const fs_conv2d_args *a;
    cpu_impl *m;
    const float *x;    /* input after the optional FIR */
    const float *wmat; /* weight * weight_gain */
    int h, w, stride, pad, oh, ow, rows, tiles;
} conv_ctx;

static void conv_task(void *ctx, int t, int worker)
{
    conv_ctx *c = ctx;
    const fs_conv2d_args *a = c->a;
    int n = t / c->tiles, tile = t % c->tiles;
    int r0 = tile * c->rows, r1 = r0 + c->rows > c->oh ? c->oh : r0 + c->rows;
    int np = (r1 - r0) * c->ow, kdim = a->cin * a->k * a->k;
    float *col = c->m->col[worker];
    im2col(c->x + (size_t)n * a->cin * c->h * c->w, a->cin, c->h, c->w, a->k, c->stride, c->pad,
           c->ow, r0, r1, col);
    float *y = a->y + (size_t)n * a->cout * c->oh * c->ow;
    fs_sgemm_ws(a->cout, np, kdim, c->wmat, (size_t)kdim, col, (size_t)np,
                y + (size_t)r0 * c->ow, (size_t)c->oh * c->ow, 0, c->m->scratch[worker]);
    for (int o = 0; o < a->cout; o++) {
        float bias = a->b ? a->b[o] : 0.0f;
        float *yo = y + (size_t)o * c->oh * c->ow + (size_t)r0 * c->ow;
        for (int q = 0; q < np; q++)
            yo[q] = act_apply(yo[q] + bias, a->act, a->gain, a->clamp);
    }
}

static fs_status cpu_conv2d(fs_backend *b, const fs_conv2d_args *a)
{
    cpu_impl *m = impl_of(b);
    size_t wn = (size_t)a->cout * a->cin * a->k * a->k;
    float *wmat = malloc(wn * sizeof *wmat);
    float *tmp = NULL;
    if (!wmat)
        return fs_error(FS_ERR_NOMEM, "cpu conv2d: out of memory");
    for (size_t i = 0; i < wn; i++)
        wmat[i] = a->weight[i] * a->weight_gain;
    int stride = a->stride > 0 ? a->stride : 1;
    conv_ctx c = {a, m, a->x, wmat, a->h, a->w, stride, a->pad,
                  (a->h + 2 * a->pad - a->k) / stride + 1, (a->w + 2 * a->pad - a->k) / stride + 1,
                  0, 0};
    fs_status st = FS_OK;
    if (a->down == 2) {
        /* Official order: FIR-filter with the padding of the conv folded in,
         * then a 1x1 conv on the decimated image, or a stride-2 'valid' k x k. */
        int p0 = a->k / 2 + (a->fir_len - 2 + 1) / 2, p1 = a->k / 2 + (a->fir_len - 2) / 2;
        int fdown = a->k == 1 ? 2 : 1;
        int fh = (a->h + p0 + p1 - a->fir_len) / fdown + 1, fw = (a->w + p0 + p1 - a->fir_len) / fdown + 1;
        tmp = malloc((size_t)a->n * a->cin * fh * fw * sizeof *tmp);
        if (!tmp) {
            free(wmat);
            return fs_error(FS_ERR_NOMEM, "cpu conv2d: out of memory");
        }
        fs_upfirdn2d_args u = {a->x, tmp, a->n * a->cin, a->h, a->w, 1, fdown, p0, p1,
                               a->fir, a->fir_len, 1.0f};
        cpu_upfirdn2d(b, &u);
        c.x = tmp;
        c.h = fh;
        c.w = fw;
        c.pad = 0;
        c.stride = a->k == 1 ? 1 : 2;
        c.oh = (fh - a->k) / c.stride + 1;
        c.ow = (fw - a->k) / c.stride + 1;
    }
    int kdim = a->cin * a->k * a->k;
    c.rows = tile_rows(kdim, c.ow, c.oh);
    c.tiles = (c.oh + c.rows - 1) / c.rows;
    st = ensure_col(m, (size_t)kdim * c.rows * c.ow);
    if (st == FS_OK)
        fs_pool_run(m->pool, a->n * c.tiles, conv_task, &c);
    free(wmat);
    free(tmp);
    return st;
}

/* ---- minibatch standard deviation -------------------------------------------------- */

/* Samples n = g * M + m (M = N / G) form group m; each feature group's std over
 * the group, averaged over its channels and pixels, becomes an extra channel. */
static fs_status cpu_mbstd(fs_backend *b, const float *x, float *y, int n, int c, int h, int w,
                           int group, int f)
{
    int g = group > 0 && group < n ? group : n;
    if (n % g != 0)
        return fs_error(FS_ERR_ARG, "minibatch-std: batch %d is not a multiple of the group %d", n, g);
    if (f <= 0 || c % f != 0)
        return fs_error(FS_ERR_ARG, "minibatch-std: %d channels, %d features", c, f);
    int mm = n / g, cf = c / f;
    size_t hw = (size_t)h * w;
    for (int s = 0; s < n; s++)
        memcpy(y + (size_t)s * (c + f) * hw, x + (size_t)s * c * hw, (size_t)c * hw * sizeof *y);
    for (int m = 0; m < mm; m++)
        for (int ff = 0; ff < f; ff++) {
            double total = 0;
            for (int cc = ff * cf; cc < (ff + 1) * cf; cc++)
                for (size_t p = 0; p < hw; p++) {
                    float mean = 0;
                    for (int gg = 0; gg < g; gg++)
                        mean += x[((size_t)(gg * mm + m) * c + cc) * hw + p];
                    mean /= (float)g;
                    float var = 0;
                    for (int gg = 0; gg < g; gg++) {
                        float d = x[((size_t)(gg * mm + m) * c + cc) * hw + p] - mean;
                        var += d * d;
                    }
                    var /= (float)g;
                    total += sqrtf(var + 1e-8f);
                }
            float v = (float)(total / ((double)cf * hw));
            for (int gg = 0; gg < g; gg++) {
                float *dst = y + ((size_t)(gg * mm + m) * (c + f) + c + ff) * hw;
                for (size_t p = 0; p < hw; p++)
                    dst[p] = v;
            }
        }
    return FS_OK;
}

static fs_status cpu_project(fs_backend *b, const float *x, const float *cmap, float *out, int n,
                             int c, float scale)
{
    for (int i = 0; i < n; i++) {
        float s = 0;
        for (int j = 0; j < c; j++)
            s += x[(size_t)i * c + j] * cmap[(size_t)i * c + j];
        out[i] = s * scale;
    }
    return FS_OK;
}

/* ---- CVAE-GAN operations -------------------------------------------------------- */

typedef struct {
    const fs_conv_transpose2d_args *a;
    cpu_impl *m;
    const float *wmat; /* [cout * k * k, cin] */
    int oh, ow;
} convt_ctx;

/* y[o, y*s - p + ky, x*s - p + kx] += W[i, o, ky, kx] x[i, y, x]: one GEMM over
 * i for every (o, ky, kx) and input pixel, then a scatter; per sample, so
 * samples run in parallel without sharing output. */
static void convt_task(void *ctx, int n, int worker)
{
    convt_ctx *c = ctx;
    const fs_conv_transpose2d_args *a = c->a;
    size_t hw = (size_t)a->h * a->w, kk = (size_t)a->k * a->k;
    float *p = c->m->col[worker]; /* [cout * kk, hw] */
    fs_sgemm_ws(a->cout * (int)kk, (int)hw, a->cin, c->wmat, (size_t)a->cin,
                a->x + (size_t)n * a->cin * hw, hw, p, hw, 0, c->m->scratch[worker]);
    float *y = a->y + (size_t)n * a->cout * c->oh * c->ow;
    for (int o = 0; o < a->cout; o++) {
        float *yo = y + (size_t)o * c->oh * c->ow;
        for (size_t q = 0; q < (size_t)c->oh * c->ow; q++)
            yo[q] = a->b ? a->b[o] : 0.0f;
        for (int ky = 0; ky < a->k; ky++)
            for (int kx = 0; kx < a->k; kx++) {
                const float *src = p + ((size_t)o * kk + (size_t)ky * a->k + kx) * hw;
                for (int iy = 0; iy < a->h; iy++) {
                    int oy = iy * a->stride - a->pad + ky;
                    if (oy < 0 || oy >= c->oh)
                        continue;
                    for (int ix = 0; ix < a->w; ix++) {
                        int ox = ix * a->stride - a->pad + kx;
                        if (ox >= 0 && ox < c->ow)
                            yo[(size_t)oy * c->ow + ox] += src[(size_t)iy * a->w + ix];
                    }
                }
            }
    }
}

static fs_status cpu_conv_transpose2d(fs_backend *b, const fs_conv_transpose2d_args *a)
{
    cpu_impl *m = impl_of(b);
    size_t kk = (size_t)a->k * a->k;
    float *wmat = malloc((size_t)a->cout * kk * a->cin * sizeof *wmat);
    if (!wmat)
        return fs_error(FS_ERR_NOMEM, "cpu conv_transpose2d: out of memory");
    for (int i = 0; i < a->cin; i++)
        for (int o = 0; o < a->cout; o++)
            for (size_t q = 0; q < kk; q++)
                wmat[((size_t)o * kk + q) * a->cin + i] = a->weight[((size_t)i * a->cout + o) * kk + q];
    convt_ctx c = {a, m, wmat, (a->h - 1) * a->stride - 2 * a->pad + a->k,
                   (a->w - 1) * a->stride - 2 * a->pad + a->k};
    fs_status st = ensure_col(m, (size_t)a->cout * kk * a->h * a->w);
    if (st == FS_OK)
        fs_pool_run(m->pool, a->n, convt_task, &c);
    free(wmat);
    return st;
}

static fs_status cpu_instance_norm(fs_backend *b, float *x, const float *weight,
                                   const float *bias, int n, int c, size_t hw, float eps, fs_act act)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c; j++) {
            float *p = x + ((size_t)i * c + j) * hw;
            double mean = 0, var = 0;
            for (size_t q = 0; q < hw; q++)
                mean += p[q];
            mean /= (double)hw;
            for (size_t q = 0; q < hw; q++)
                var += (p[q] - mean) * (p[q] - mean);
            var /= (double)hw; /* biased, as InstanceNorm2d */
            float inv = (float)(1.0 / sqrt(var + eps)), mu = (float)mean;
            float wj = weight ? weight[j] : 1.0f, bj = bias ? bias[j] : 0.0f;
            for (size_t q = 0; q < hw; q++)
                p[q] = act_apply((p[q] - mu) * inv * wj + bj, act, 1.0f, 0.0f);
        }
    return FS_OK;
}

static fs_status cpu_avg_pool2d(fs_backend *b, const float *x, float *y, int nc, int h, int w,
                                int k, int stride, int pad)
{
    int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
    for (int i = 0; i < nc; i++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float s = 0;
                int cnt = 0; /* count_include_pad=False: only real pixels */
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        int sy = oy * stride - pad + ky, sx = ox * stride - pad + kx;
                        if (sy >= 0 && sy < h && sx >= 0 && sx < w) {
                            s += x[((size_t)i * h + sy) * w + sx];
                            cnt++;
                        }
                    }
                y[((size_t)i * oh + oy) * ow + ox] = cnt ? s / (float)cnt : 0.0f;
            }
    return FS_OK;
}

/* ---- the table ----------------------------------------------------------------- */

static void cpu_destroy(fs_backend *b)
{
    cpu_impl *m = impl_of(b);
    if (m) {
        for (int t = 0; t < m->threads; t++) {
            if (m->scratch)
                free(m->scratch[t]);
            if (m->col)
                free(m->col[t]);
        }
        free(m->scratch);
        free(m->col);
        fs_pool_free(m->pool);
        free(m);
    }
    free(b);
}

static const fs_backend_ops cpu_ops = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .release = cpu_release,
    .upload = cpu_copy,
    .download = cpu_copy,
    .fc = cpu_fc,
    .normalize_2nd_moment = cpu_normalize,
    .lerp_rows = cpu_lerp_rows,
    .modconv = cpu_modconv,
    .conv2d = cpu_conv2d,
    .upfirdn2d = cpu_upfirdn2d,
    .bias_act = cpu_bias_act,
    .axpby = cpu_axpby,
    .mbstd = cpu_mbstd,
    .project = cpu_project,
    .conv_transpose2d = cpu_conv_transpose2d,
    .instance_norm = cpu_instance_norm,
    .avg_pool2d = cpu_avg_pool2d,
    .synchronize = cpu_sync,
};

fs_status fs_backend_cpu_init(fs_backend **out, int threads)
{
    *out = NULL;
    fs_backend *b = calloc(1, sizeof *b);
    cpu_impl *m = calloc(1, sizeof *m);
    if (!b || !m) {
        free(b);
        free(m);
        return fs_error(FS_ERR_NOMEM, "cpu backend: out of memory");
    }
    b->ops = &cpu_ops;
    b->impl = m;
    fs_status s = fs_pool_init(&m->pool, threads);
    if (s != FS_OK) {
        free(m);
        free(b);
        return s;
    }
    m->threads = fs_pool_size(m->pool);
    m->scratch = calloc((size_t)m->threads, sizeof *m->scratch);
    m->col = calloc((size_t)m->threads, sizeof *m->col);
    if (!m->scratch || !m->col) {
        cpu_destroy(b);
        return fs_error(FS_ERR_NOMEM, "cpu backend: out of memory");
    }
    for (int t = 0; t < m->threads; t++) {
        m->scratch[t] = aligned_alloc(64, (fs_sgemm_scratch_floats() * sizeof(float) + 63) / 64 * 64);
        if (!m->scratch[t]) {
            cpu_destroy(b);
            return fs_error(FS_ERR_NOMEM, "cpu backend: out of memory");
        }
    }
    *out = b;
    return FS_OK;
}

void fs_backend_free(fs_backend *b)
{
    if (b)
        b->ops->destroy(b);
}
