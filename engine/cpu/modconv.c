/* The modulated convolution of StyleGAN2 on the CPU, in its non-fused form:
 * one GEMM with the shared weight (packed once by the plan) whose input panel
 * is packed straight from the activations, each channel scaled by its style
 * as it is loaded (an implicit GEMM: no im2col buffer), then demodulation,
 * noise, bias, activation, gain and clamp run on every output tile while it
 * is still in L1. The up-sampling layer is the official
 * stride-2 transposed conv (a GEMM giving the 9 taps of every output channel
 * per input pixel, gathered into T, 2h+1 square) followed by the 4x4 FIR with
 * pad 1 and gain 4. Work is split into (sample, row tile, channel chunk) tasks
 * so that small early layers keep both cores busy too. */
#include <stdlib.h>
#include <string.h>

#include "fir_plan.h"
#include "cpu_internal.h"
#include "../rng.h"

/* The packing and epilogue loops are built for AVX-512, AVX2 and the
 * baseline, picked at load time (ifunc): the portable build's SSE2 code
 * otherwise costs a good share of the layer. No FMA contraction in C11 mode,
 * so each clone computes the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FS_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FS_SIMD_CLONES
#endif

typedef struct {
    const fs_modconv_args *a;
    fs_cpu *m;
    fs_cpu_wop wop;     /* same: W [cout, cin k k]; up: [cout * 9, cin] */
    int nr;             /* the GEMM's packed B strip width */
    const int *boff;    /* B read in place: row offsets (same: [cin k k]; up: [cin]) */
    int sub;            /* up: channels per GEMM within a task */
    const float *dcoef; /* [n, cout] or NULL */
    int n0, rows, tiles, chunks, chunk;
    const fs_cpu_fir *fir;
} mc_ctx;

static void task_coords(const mc_ctx *c, int t, int *n, int *r0, int *r1, int *o0, int *o1)
{
    int per = c->tiles * c->chunks;
    *n = c->n0 + t / per;
    int tile = (t % per) / c->chunks, chunk = t % c->chunks;
    *r0 = tile * c->rows;
    *r1 = *r0 + c->rows > c->a->h ? c->a->h : *r0 + c->rows;
    *o0 = chunk * c->chunk;
    *o1 = *o0 + c->chunk > c->a->cout ? c->a->cout : *o0 + c->chunk;
}

/* The B panel of a stride-1 'same' k x k correlation over pixels
 * [q0, q0 + np) of one sample, channel i scaled by s[i], packed as the GEMM
 * wants it (gemm.h fs_sgemm_cb): row p = (i, ky, kx), column j = pixel
 * q0 + j. The values are those im2col would have written, x * s, zero
 * outside the image, so the GEMM's sums are unchanged. */
typedef struct {
    const float *x, *s; /* the sample's input [cin, h, w] and styles */
    int h, w, k, q0, np, nr;
} same_pack;

FS_SIMD_CLONES static void same_pack_b(void *ctx, int pc, int kc, int jc, int nc, float *bp)
{
    const same_pack *c = ctx;
    int h = c->h, w = c->w, k = c->k, kk = k * k, pad = k / 2, nr = c->nr;
    int i = pc / kk, ky = (pc % kk) / k, kx = pc % k; /* row pc; later rows step along */
    int q_first = c->q0 + jc;
    for (int p = 0; p < kc; p++) {
        float si = c->s[i];
        const float *xi = c->x + (size_t)i * h * w;
        int y = q_first / w, x = q_first % w; /* the pixel of column j0 + l */
        for (int j0 = 0; j0 < nc; j0 += nr) {
            float *d = bp + (size_t)(j0 / nr) * kc * nr + (size_t)p * nr;
            int width = nc - j0 < nr ? nc - j0 : nr, l = 0;
            while (l < width) { /* one image row's run of the strip at a time */
                int seg = width - l < w - x ? width - l : w - x, sy = y + ky - pad;
                float *dd = d + l;
                if (sy < 0 || sy >= h) {
                    memset(dd, 0, (size_t)seg * sizeof *dd);
                } else {
                    const float *src = xi + (size_t)sy * w;
                    int off = x + kx - pad; /* dd[t] = src[t + off] where 0 <= t + off < w */
                    int lo = -off > 0 ? -off : 0, hi = w - off < seg ? w - off : seg;
                    for (int t = 0; t < lo; t++)
                        dd[t] = 0;
                    for (int t = lo; t < hi; t++)
                        dd[t] = src[t + off] * si;
                    for (int t = hi > lo ? hi : lo; t < seg; t++)
                        dd[t] = 0;
                }
                l += seg;
                x += seg;
                if (x == w) {
                    x = 0;
                    y++;
                }
            }
            for (; l < nr; l++)
                d[l] = 0;
        }
        if (++kx == k) {
            kx = 0;
            if (++ky == k) {
                ky = 0;
                i++;
            }
        }
    }
}

/* The epilogue of rows (output channels) [o, o + mr) and pixels
 * [q, q + nr) of sample n: demodulation, noise, bias, activation, gain,
 * clamp, in the order the official code applies them (the same float
 * operations as the unfused formula, so the same bits). */
typedef struct {
    const fs_modconv_args *a;
    const float *dcoef;
    int n, o0, q0, ow;
} mc_epi;

FS_SIMD_CLONES static void epi_rows(const fs_modconv_args *a, int n, const float *dcoef, int o, int mr, int q,
                     int nr, int ow, float *c, size_t ldc)
{
    float strength = a->noise_strength, gain = a->gain, clamp = a->clamp;
    for (int r = 0; r < mr; r++) {
        float d = dcoef ? dcoef[(size_t)n * a->cout + o + r] : 1.0f, bias = a->b[o + r];
        float *row = c + (size_t)r * ldc;
        if (a->act == FS_ACT_LRELU && clamp > 0 && a->noise_mode != FS_NOISE_RANDOM) {
            /* the synthesis layers' case in one pass; the same operations */
            const float *nz = a->noise_mode == FS_NOISE_CONST ? a->noise_const + q : NULL;
            for (int j = 0; j < nr; j++) {
                float v = row[j] * d;
                if (nz)
                    v += nz[j] * strength;
                v = v + bias;
                v = (v < 0 ? v * 0.2f : v) * FS_SQRT2;
                v *= gain;
                v = v < -clamp ? -clamp : v;
                row[j] = v > clamp ? clamp : v;
            }
            continue;
        }
        if (a->noise_mode == FS_NOISE_CONST) {
            const float *nz = a->noise_const + q;
            for (int j = 0; j < nr; j++) {
                float v = row[j] * d;
                v += nz[j] * strength;
                row[j] = v;
            }
        } else if (a->noise_mode == FS_NOISE_RANDOM) {
            for (int j = 0; j < nr; j++) {
                float v = row[j] * d;
                v += fs_philox_normal(a->noise_seeds[n], a->noise_stream, (uint64_t)(q + j)) * strength;
                row[j] = v;
            }
        } else {
            for (int j = 0; j < nr; j++)
                row[j] = row[j] * d;
        }
        if (a->act == FS_ACT_LRELU && clamp > 0) { /* fs_act_apply, branch-free for the vectoriser */
            for (int j = 0; j < nr; j++) {
                float v = row[j] + bias;
                v = (v < 0 ? v * 0.2f : v) * FS_SQRT2;
                v *= gain;
                v = v < -clamp ? -clamp : v;
                row[j] = v > clamp ? clamp : v;
            }
        } else {
            for (int j = 0; j < nr; j++)
                row[j] = fs_act_apply(row[j] + bias, a->act, gain, clamp);
        }
    }
    (void)ow;
}

static void same_epi(void *ctx, int i0, int mr, int j0, int nr, float *c, size_t ldc)
{
    const mc_epi *e = ctx;
    epi_rows(e->a, e->n, e->dcoef, e->o0 + i0, mr, e->q0 + j0, nr, e->ow, c, ldc);
}

/* The padded, style-scaled input rows of one task, read in place by the
 * GEMM: xp[i][yy][xx] = x[i][r0 - pad + yy][xx - pad] * s[i], zero outside
 * the image, rows of w + 2 pad, c->rows + 2 pad rows a channel. Column j's
 * strip starts at its pixel's top-left neighbour. */
typedef struct {
    const float *xp;
    int w, pitch, q0;
} same_ind;

static const float *same_b_col(void *ctx, int j)
{
    const same_ind *c = ctx;
    int q = c->q0 + j;
    return c->xp + (size_t)(q / c->w - c->q0 / c->w) * c->pitch + q % c->w;
}

FS_SIMD_CLONES static void pad_scaled(const float *x, const float *s, int cin, int h, int w, int k,
                                      int r0, int rows, float *xp)
{
    int pad = k / 2, pitch = w + 2 * pad, prow = rows + 2 * pad;
    for (int i = 0; i < cin; i++) {
        float si = s[i];
        for (int yy = 0; yy < prow; yy++) {
            float *d = xp + ((size_t)i * prow + yy) * pitch;
            int sy = r0 - pad + yy;
            if (sy < 0 || sy >= h) {
                memset(d, 0, (size_t)pitch * sizeof *d);
                continue;
            }
            const float *src = x + ((size_t)i * h + sy) * w;
            for (int xx = 0; xx < pad; xx++)
                d[xx] = d[pitch - 1 - xx] = 0;
            for (int xx = 0; xx < w; xx++)
                d[pad + xx] = src[xx] * si;
        }
    }
}

static void same_task(void *ctx, int t, int worker)
{
    mc_ctx *c = ctx;
    const fs_modconv_args *a = c->a;
    int n, r0, r1, o0, o1;
    task_coords(c, t, &n, &r0, &r1, &o0, &o1);
    size_t hw = (size_t)a->h * a->w;
    int np = (r1 - r0) * a->w, kdim = a->cin * a->k * a->k;
    const float *xn = a->x + (size_t)n * a->cin * hw, *sn = a->styles + (size_t)n * a->cin;
    same_pack pk = {.x = xn, .s = sn, .h = a->h, .w = a->w, .k = a->k, .q0 = r0 * a->w, .np = np,
                    .nr = c->nr};
    same_ind ind = {.xp = c->m->col[worker], .w = a->w, .pitch = a->w + a->k - 1, .q0 = r0 * a->w};
    mc_epi e = {.a = a, .dcoef = c->dcoef, .n = n, .o0 = o0, .q0 = r0 * a->w, .ow = a->w};
    fs_sgemm_cb cb = {.pack_b = same_pack_b, .pack_ctx = &pk, .epi = {same_epi, &e}};
    if (c->boff) {
        pad_scaled(xn, sn, a->cin, a->h, a->w, a->k, r0, c->rows, c->m->col[worker]);
        cb = (fs_sgemm_cb){.pack_ctx = &ind, .epi = {same_epi, &e}, .b_col = same_b_col,
                           .b_off = c->boff};
    }
    float *y = a->y + (size_t)n * a->cout * hw;
    const fs_cpu_wop *w = &c->wop;
    fs_sgemm_cb_run(o1 - o0, np, kdim, w->packed ? NULL : w->raw + (size_t)o0 * w->ld, w->ld,
                    w->packed, o0, w->rows, &cb, y + (size_t)o0 * hw + (size_t)r0 * a->w, hw,
                    c->m->scratch[worker]);
}

/* The up-sampling conv's B panel: input rows [ya, yb) of one sample, each
 * channel scaled by its style as it is packed (row p = channel, column j =
 * pixel ya * w + j: the rows are contiguous in NCHW). */
typedef struct {
    const float *x, *s; /* x at row ya of channel 0; channels hw apart */
    size_t hw;
    int nr;
} up_pack;

FS_SIMD_CLONES static void up_pack_b(void *ctx, int pc, int kc, int jc, int nc, float *bp)
{
    const up_pack *c = ctx;
    int nr = c->nr;
    for (int p = 0; p < kc; p++) {
        const float *src = c->x + (size_t)(pc + p) * c->hw + jc;
        float si = c->s[pc + p];
        for (int j0 = 0; j0 < nc; j0 += nr) {
            float *d = bp + (size_t)(j0 / nr) * kc * nr + (size_t)p * nr;
            int width = nc - j0 < nr ? nc - j0 : nr, l = 0;
            for (; l < width; l++)
                d[l] = src[j0 + l] * si;
            for (; l < nr; l++)
                d[l] = 0;
        }
    }
}

/* T rows [t0, t1) of one channel (2w+1 wide) from its 9 tap planes
 * taps[ky * 3 + kx] over input rows [ya, yb): T[2y + ky][2x + kx] += tap.
 * Zeroed first, then the taps added in (ky, kx) order, as the whole-plane
 * form adds them. */
FS_SIMD_CLONES static void gather_taps(const float *taps, int np, int w, int ya, int yb, int t0,
                                       int t1, float *trows)
{
    int tw = 2 * w + 1;
    for (int pr = t0; pr < t1; pr++) {
        float *trow = trows + (size_t)(pr - t0) * tw;
        memset(trow, 0, (size_t)tw * sizeof *trow);
        for (int ky = 0; ky < 3; ky++) {
            int d = pr - ky, y = d / 2;
            if (d < 0 || d % 2 || y < ya || y >= yb)
                continue;
            for (int kx = 0; kx < 3; kx++) {
                const float *src = taps + (size_t)(ky * 3 + kx) * np + (size_t)(y - ya) * w;
                float *dst = trow + kx;
                for (int xx = 0; xx < w; xx++)
                    dst[2 * xx] += src[xx];
            }
        }
    }
}

/* Output rows [2 r0, 2 r1) of channels [o0, o1), all in one task: the GEMM
 * gives the 9 taps of every channel for input rows [r0 - 1, r1] (one halo
 * row each side, inside the image), each channel's taps are gathered into
 * the rows of the transposed conv's output T (2h+1 square) that the 4x4 FIR
 * reaches, then FIR and epilogue write y. T exists only a few rows at a time
 * in the worker's buffer; the sums are formed in the order of the whole-plane
 * form, so the values are the same. */
/* The task's B packed once over all of K: strip j / NR at xs + j / NR * k * NR,
 * row p of it NR floats further each (boff[p] = p * NR). */
typedef struct {
    const float *xs;
    int k, nr;
} up_ind;

static const float *up_b_col(void *ctx, int j)
{
    const up_ind *c = ctx;
    return c->xs + (size_t)(j / c->nr) * c->k * c->nr;
}

static void up_task(void *ctx, int t, int worker)
{
    mc_ctx *c = ctx;
    const fs_modconv_args *a = c->a;
    int n, r0, r1, g0, g1;
    task_coords(c, t, &n, &r0, &r1, &g0, &g1);
    int h = a->h, w = a->w, ya = r0 > 0 ? r0 - 1 : 0, yb = r1 < h ? r1 + 1 : h;
    int np = (yb - ya) * w, sub = c->sub;
    int th = 2 * h + 1, tw = 2 * w + 1, ow = 2 * w;
    int t0 = 2 * r0 - 1 > 0 ? 2 * r0 - 1 : 0, t1 = 2 * r1 + 2 < th ? 2 * r1 + 2 : th;
    size_t hw = (size_t)h * w;
    float *p = c->m->col[worker];            /* [sub * 9, np] */
    float *trows = p + (size_t)sub * 9 * np; /* T rows [t0, t1) of one channel */
    float *tmp = trows + (size_t)(t1 - t0) * tw;
    float *xs = tmp + (size_t)(t1 - t0) * ow + 16; /* the scaled input rows, [cin, np] */
    const float *xn = a->x + (size_t)n * a->cin * hw + (size_t)ya * w;
    const float *sn = a->styles + (size_t)n * a->cin;
    up_pack pk = {.x = xn, .s = sn, .hw = hw, .nr = c->nr};
    fs_sgemm_cb cb = {.pack_b = up_pack_b, .pack_ctx = &pk};
    up_ind ui = {.xs = xs, .k = a->cin, .nr = c->nr};
    if (c->boff) {
        /* packed once, every input channel (all of K), for all the task's
         * channels; each GEMM then reads its K blocks in place */
        up_pack_b(&pk, 0, a->cin, 0, np, xs);
        cb = (fs_sgemm_cb){.pack_ctx = &ui, .b_col = up_b_col, .b_off = c->boff};
    }
    const fs_cpu_wop *wo = &c->wop;
    for (int o0 = g0; o0 < g1; o0 += sub) {
        int oc = g1 - o0 < sub ? g1 - o0 : sub;
        fs_sgemm_cb_run(oc * 9, np, a->cin, wo->packed ? NULL : wo->raw + (size_t)o0 * 9 * wo->ld,
                        wo->ld, wo->packed, o0 * 9, wo->rows, &cb, p, (size_t)np,
                        c->m->scratch[worker]);
        for (int o = o0; o < o0 + oc; o++) {
            gather_taps(p + (size_t)(o - o0) * 9 * np, np, w, ya, yb, t0, t1, trows);
            float *y = a->y + ((size_t)n * a->cout + o) * (2 * hw * 2);
            fs_cpu_fir_run_rows(c->fir, trows, t0, t1 - t0, y + (size_t)2 * r0 * ow, 2 * r0,
                                2 * r1, tmp);
            epi_rows(a, n, c->dcoef, o, 1, 2 * r0 * ow, 2 * (r1 - r0) * ow, ow,
                     y + (size_t)2 * r0 * ow, 0);
        }
    }
}

/* wsq[o, i] = sum over the taps of W[o, i, :]^2: the static half of the
 * demodulation, made once by the plan (and by the styles op's plan). */
void fs_cpu_weight_sq(const float *w, int cout, int cin, int kk, float *wsq)
{
    for (size_t oi = 0; oi < (size_t)cout * cin; oi++) {
        const float *wk = w + oi * kk;
        float acc = 0;
        for (int q = 0; q < kk; q++)
            acc += wk[q] * wk[q];
        wsq[oi] = acc;
    }
}

static float *weight_sq(const fs_modconv_args *a)
{
    float *wsq = malloc((size_t)a->cout * a->cin * sizeof *wsq);
    if (wsq)
        fs_cpu_weight_sq(a->weight, a->cout, a->cin, a->k * a->k, wsq);
    return wsq;
}

/* d[n,o] = rsqrt(sum_i s[n,i]^2 wsq[o,i] + 1e-8): the official
 * rsqrt(sum_{i,k} (W[o,i,k] s[n,i])^2 + 1e-8) with s^2 taken out of the sum
 * over the taps (equal up to rounding, about 1e-7 relative), so a call costs
 * cout x cin instead of cout x cin x k x k. */
static void demod_coefs(const fs_modconv_args *a, const float *wsq, float *d)
{
    float *s2 = d + (size_t)a->n * a->cout; /* caller's room for cin more floats */
    for (int n = 0; n < a->n; n++)
        fs_cpu_demod_row(wsq, a->styles + (size_t)n * a->cin, a->cin, a->cout, s2,
                         d + (size_t)n * a->cout);
}

/* The up-sampling conv's GEMM operand: W [cout, cin, 3, 3] as [cout * 9, cin]. */
static float *up_weight(const fs_modconv_args *a)
{
    float *wmat = malloc((size_t)a->cout * 9 * a->cin * sizeof *wmat);
    if (wmat)
        for (int o = 0; o < a->cout; o++)
            for (int i = 0; i < a->cin; i++)
                for (int q = 0; q < 9; q++)
                    wmat[((size_t)o * 9 + q) * a->cin + i] = a->weight[((size_t)o * a->cin + i) * 9 + q];
    return wmat;
}

static fs_status up_fir(const fs_modconv_args *a, fs_cpu_fir **fir)
{
    return fs_cpu_fir_plan(fir, 2 * a->h + 1, 2 * a->w + 1, 1, 1, 1, 1, a->fir, a->fir_len, 4.0f);
}

/* The static half of the layer, once: the weight packed as the GEMM's A
 * operand (transposed first for up-sampling), and the blur's index tables. */
fs_status fs_cpu_modconv_plan(const fs_modconv_args *a, fs_plan *p)
{
    if (a->up != 1 && !(a->up == 2 && a->k == 3))
        return fs_error(FS_ERR_UNSUPPORTED, "cpu modconv: up=%d with k=%d", a->up, a->k);
    p->cin = a->cin;
    p->cout = a->cout;
    p->k = a->k;
    p->h = a->h;
    p->w = a->w;
    p->up = a->up;
    int rows = a->up == 2 ? a->cout * 9 : a->cout, kdim = a->up == 2 ? a->cin : a->cin * a->k * a->k;
    /* 16-bit formats: the GEMM's weight is r(W), rounded here once
     * (docs/precision.md §2); the demodulation below still reads W */
    float *rw = NULL, *up = NULL;
    fs_modconv_args ra = *a;
    if (a->fmt != FS_FEAT_F32_NCHW) {
        if (!(rw = fs_cpu_modconv_round_weight(a)))
            return fs_error(FS_ERR_NOMEM, "cpu modconv: out of memory for a plan");
        ra.weight = rw;
    }
    if (a->up == 2 && !(up = up_weight(&ra))) {
        free(rw);
        return fs_error(FS_ERR_NOMEM, "cpu modconv: out of memory for a plan");
    }
    p->packed = malloc(fs_sgemm_packed_a_floats(rows, kdim) * sizeof *p->packed);
    if (!p->packed) {
        free(up);
        free(rw);
        return fs_error(FS_ERR_NOMEM, "cpu modconv: out of memory for a plan");
    }
    fs_sgemm_pack_a(rows, kdim, up ? up : ra.weight, (size_t)kdim, p->packed);
    p->packed_rows = rows;
    free(up);
    free(rw);
    if (a->demodulate && !(p->wmat = weight_sq(a)))
        return fs_error(FS_ERR_NOMEM, "cpu modconv: out of memory for a plan");
    return a->up == 2 ? up_fir(a, &p->fir) : FS_OK;
}

fs_status fs_cpu_modconv(fs_backend *b, const fs_modconv_args *a)
{
    fs_cpu *m = fs_cpu_of(b);
    if (a->up != 1 && !(a->up == 2 && a->k == 3))
        return fs_error(FS_ERR_UNSUPPORTED, "cpu modconv: up=%d with k=%d", a->up, a->k);
    if (a->fmt != FS_FEAT_F32_NCHW)
        return fs_cpu_modconv_half(b, a);
    const fs_plan *plan = a->plan;
    if (plan)
        FS_TRY(fs_cpu_plan_check(plan, FS_OP_MODCONV, a->cin, a->cout, a->k, a->h, a->w, a->up));
    float *dcoef = NULL, *wmat = NULL;
    fs_cpu_fir *own_fir = NULL;
    fs_status st = FS_OK;
    mc_ctx c;
    memset(&c, 0, sizeof c);
    c.a = a;
    c.m = m;
    if (plan) {
        c.wop.packed = plan->packed;
        c.wop.rows = plan->packed_rows;
    }
    if (a->demodulate && a->dcoef) {
        c.dcoef = a->dcoef; /* the styles op's (backend.h) */
    } else if (a->demodulate) {
        float *own_wsq = plan ? NULL : weight_sq(a);
        dcoef = malloc(((size_t)a->n * a->cout + a->cin) * sizeof *dcoef);
        if (!dcoef || (!plan && !own_wsq)) {
            free(dcoef);
            free(own_wsq);
            return fs_error(FS_ERR_NOMEM, "cpu modconv: out of memory for %d x %d demodulation "
                            "coefficients", a->n, a->cout);
        }
        demod_coefs(a, plan ? plan->wmat : own_wsq, dcoef);
        free(own_wsq);
        c.dcoef = dcoef;
    }
    c.nr = fs_sgemm_nr();
    if (a->up == 1) {
        int kdim = a->cin * a->k * a->k;
        c.wop.raw = a->weight;
        c.wop.ld = (size_t)kdim;
        /* no im2col buffer any more: a task's pixel span only sets how much
         * B one GEMM call packs (about 1024 columns, the GEMM's NC) and how
         * the work spreads over the workers */
        c.rows = (1024 + a->w - 1) / a->w;
        c.rows = c.rows > a->h ? a->h : c.rows;
        c.tiles = (a->h + c.rows - 1) / c.rows;
        c.chunks = fs_cpu_channel_chunks(m, a->n * c.tiles, a->cout, 16);
        c.chunk = fs_cpu_chunk(a->cout, &c.chunks, 1);
        /* Rows a multiple of the strip width: the GEMM reads the padded,
         * scaled input in place (no B packing at all); else it packs. */
        int *boff = NULL;
        if (a->w % c.nr == 0) {
            int pitch = a->w + a->k - 1, prow = c.rows + a->k - 1;
            boff = malloc((size_t)kdim * sizeof *boff);
            st = boff ? fs_cpu_ensure_col(m, (size_t)a->cin * prow * pitch)
                      : fs_error(FS_ERR_NOMEM, "cpu modconv: out of memory");
            for (int p = 0; boff && p < kdim; p++) {
                int i = p / (a->k * a->k), ky = p / a->k % a->k, kx = p % a->k;
                boff[p] = (i * prow + ky) * pitch + kx;
            }
            c.boff = boff;
        }
        if (st == FS_OK)
            fs_pool_run(m->pool, a->n * c.tiles * c.chunks, same_task, &c);
        free(boff);
        free(dcoef);
        return st;
    }
    /* up == 2 */
    if (!plan) {
        if (!(wmat = up_weight(a))) {
            st = fs_error(FS_ERR_NOMEM, "cpu modconv: out of memory for the weight");
            goto done;
        }
        c.wop.raw = wmat;
        c.wop.ld = (size_t)a->cin;
        if ((st = up_fir(a, &own_fir)) != FS_OK)
            goto done;
    }
    c.fir = plan ? plan->fir : own_fir;
    /* Tasks of about 4096 input pixels (the halo rows then cost a few
     * percent) and a share of the channels; within a task, GEMMs of 16
     * channels (144 rows), so that the taps stay a few MB, all reading the
     * task's scaled input rows. */
    c.rows = 4096 / a->w < 1 ? 1 : 4096 / a->w;
    c.rows = c.rows > a->h ? a->h : c.rows;
    c.tiles = (a->h + c.rows - 1) / c.rows;
    c.chunks = fs_cpu_channel_chunks(m, a->n * c.tiles, a->cout, 16);
    c.chunk = fs_cpu_chunk(a->cout, &c.chunks, 9);
    c.sub = c.chunk < 16 ? c.chunk : 16;
    int *boff = NULL;
    {
        size_t np = (size_t)(c.rows + 2) * a->w, trow = 2 * (size_t)c.rows + 3;
        size_t need = (size_t)c.sub * 9 * np + trow * (2 * (size_t)a->w + 1) +
                      trow * 2 * (size_t)a->w + 16;
        if (a->w % c.nr == 0) {
            need += (size_t)a->cin * np;
            if (!(boff = malloc((size_t)a->cin * sizeof *boff))) {
                st = fs_error(FS_ERR_NOMEM, "cpu modconv: out of memory");
                goto done;
            }
            for (int i = 0; i < a->cin; i++)
                boff[i] = i * c.nr;
            c.boff = boff;
        }
        if ((st = fs_cpu_ensure_col(m, need)) != FS_OK) {
            free(boff);
            goto done;
        }
    }
    fs_pool_run(m->pool, a->n * c.tiles * c.chunks, up_task, &c);
    free(boff);
done:
    fs_cpu_fir_free(own_fir);
    free(dcoef);
    free(wmat);
    return st;
}
