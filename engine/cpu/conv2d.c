/* Plain convolutions on the CPU: the StyleGAN2 discriminator's conv layers
 * (with the official FIR down-sampling), general stride/pad convolutions of
 * the CVAE-GAN, and ConvTranspose2d. All im2col + the blocked GEMM, split into
 * (sample, row tile, channel chunk) tasks. */
#include <stdlib.h>
#include <string.h>

#include "fir_plan.h"
#include "cpu_internal.h"

/* im2col: rows [r0, r1) of the output of a k x k correlation with stride and
 * zero padding. */
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
                    if (sy < 0 || sy >= h) {
                        memset(d, 0, (size_t)ow * sizeof *d);
                        continue;
                    }
                    const float *row = x + ((size_t)i * h + sy) * w;
                    for (int ox = 0; ox < ow; ox++) {
                        int sx = ox * stride + kx - pad;
                        d[ox] = (sx >= 0 && sx < w) ? row[sx] : 0.0f;
                    }
                }
            }
}

typedef struct {
    const fs_conv2d_args *a;
    fs_cpu *m;
    const float *x;    /* input after the optional FIR */
    fs_cpu_wop wop;    /* weight * weight_gain, [cout, cin k k] */
    int h, w, stride, pad, oh, ow, rows, tiles, chunks, chunk;
    int group;         /* samples per task on the small-output path */
} conv_ctx;

/* Small outputs (the last discriminator layers: 2x2 to 8x8 pixels) make a
 * per-sample GEMM all packing and no compute; there a task unrolls a group of
 * samples side by side, so the weight is packed once for the whole group. */
static void conv_group_task(void *ctx, int t, int worker)
{
    conv_ctx *c = ctx;
    const fs_conv2d_args *a = c->a;
    int n0 = (t / c->chunks) * c->group, chunk = t % c->chunks;
    int gn = a->n - n0 < c->group ? a->n - n0 : c->group;
    int o0 = chunk * c->chunk, o1 = o0 + c->chunk > a->cout ? a->cout : o0 + c->chunk;
    int ohw = c->oh * c->ow, np = gn * ohw, kdim = a->cin * a->k * a->k;
    float *col = c->m->col[worker];
    float *out = col + (size_t)kdim * np; /* [o1 - o0, np] */
    for (int s = 0; s < gn; s++) {
        /* im2col writes rows of length ohw; lay the samples side by side */
        float *tmpcol = out; /* reuse the output area as scratch for one sample */
        im2col(c->x + (size_t)(n0 + s) * a->cin * c->h * c->w, a->cin, c->h, c->w, a->k,
               c->stride, c->pad, c->ow, 0, c->oh, tmpcol);
        for (int r = 0; r < kdim; r++)
            memcpy(col + (size_t)r * np + (size_t)s * ohw, tmpcol + (size_t)r * ohw,
                   (size_t)ohw * sizeof *col);
    }
    fs_cpu_gemm_w(&c->wop, o0, o1 - o0, np, kdim, col, (size_t)np, out, (size_t)np,
                  c->m->scratch[worker]);
    for (int s = 0; s < gn; s++)
        for (int o = o0; o < o1; o++) {
            float bias = a->b ? a->b[o] : 0.0f;
            const float *src = out + (size_t)(o - o0) * np + (size_t)s * ohw;
            float *dst = a->y + ((size_t)(n0 + s) * a->cout + o) * ohw;
            for (int q = 0; q < ohw; q++)
                dst[q] = fs_act_apply(src[q] + bias, a->act, a->gain, a->clamp);
        }
}

static void conv_task(void *ctx, int t, int worker)
{
    conv_ctx *c = ctx;
    const fs_conv2d_args *a = c->a;
    int per = c->tiles * c->chunks;
    int n = t / per, tile = (t % per) / c->chunks, chunk = t % c->chunks;
    int r0 = tile * c->rows, r1 = r0 + c->rows > c->oh ? c->oh : r0 + c->rows;
    int o0 = chunk * c->chunk, o1 = o0 + c->chunk > a->cout ? a->cout : o0 + c->chunk;
    int np = (r1 - r0) * c->ow, kdim = a->cin * a->k * a->k;
    size_t ohw = (size_t)c->oh * c->ow;
    float *col = c->m->col[worker];
    im2col(c->x + (size_t)n * a->cin * c->h * c->w, a->cin, c->h, c->w, a->k, c->stride, c->pad,
           c->ow, r0, r1, col);
    float *y = a->y + (size_t)n * a->cout * ohw;
    fs_cpu_gemm_w(&c->wop, o0, o1 - o0, np, kdim, col, (size_t)np,
                  y + (size_t)o0 * ohw + (size_t)r0 * c->ow, ohw, c->m->scratch[worker]);
    for (int o = o0; o < o1; o++) {
        float bias = a->b ? a->b[o] : 0.0f;
        float *yo = y + (size_t)o * ohw + (size_t)r0 * c->ow;
        for (int q = 0; q < np; q++)
            yo[q] = fs_act_apply(yo[q] + bias, a->act, a->gain, a->clamp);
    }
}

/* The official down-sampling order: FIR with the conv's padding folded in,
 * then a 1x1 conv on the decimated image, or a stride-2 'valid' k x k conv.
 * The pre-filter's geometry: */
static void down_geometry(const fs_conv2d_args *a, int *p0, int *p1, int *fdown, int *fh, int *fw)
{
    *p0 = a->k / 2 + (a->fir_len - 2 + 1) / 2;
    *p1 = a->k / 2 + (a->fir_len - 2) / 2;
    *fdown = a->k == 1 ? 2 : 1;
    *fh = (a->h + *p0 + *p1 - a->fir_len) / *fdown + 1;
    *fw = (a->w + *p0 + *p1 - a->fir_len) / *fdown + 1;
}

static fs_status down_fir(const fs_conv2d_args *a, fs_cpu_fir **fir)
{
    int p0, p1, fdown, fh, fw;
    down_geometry(a, &p0, &p1, &fdown, &fh, &fw);
    return fs_cpu_fir_plan(fir, a->h, a->w, 1, fdown, p0, p1, a->fir, a->fir_len, 1.0f);
}

/* The gain folded into a copy of the weight, as the official layer does (none
 * at gain 1, the CVAE-GAN's), packed as the GEMM's A operand; the pre-filter
 * of a down-sampling layer. */
fs_status fs_cpu_conv2d_plan(const fs_conv2d_args *a, fs_plan *p)
{
    p->cin = a->cin;
    p->cout = a->cout;
    p->k = a->k;
    p->h = a->h;
    p->w = a->w;
    p->up = a->down;
    int kdim = a->cin * a->k * a->k;
    p->packed = malloc(fs_sgemm_packed_a_floats(a->cout, kdim) * sizeof *p->packed);
    float *scaled = a->weight_gain != 1.0f ? malloc((size_t)a->cout * kdim * sizeof *scaled) : NULL;
    if (!p->packed || (a->weight_gain != 1.0f && !scaled)) {
        free(scaled);
        return fs_error(FS_ERR_NOMEM, "cpu conv2d: out of memory for a plan");
    }
    for (size_t i = 0; scaled && i < (size_t)a->cout * kdim; i++)
        scaled[i] = a->weight[i] * a->weight_gain;
    fs_sgemm_pack_a(a->cout, kdim, scaled ? scaled : a->weight, (size_t)kdim, p->packed);
    p->packed_rows = a->cout;
    free(scaled);
    return a->down == 2 ? down_fir(a, &p->fir) : FS_OK;
}

fs_status fs_cpu_conv2d(fs_backend *b, const fs_conv2d_args *a)
{
    fs_cpu *m = fs_cpu_of(b);
    const fs_plan *plan = a->plan;
    if (plan)
        FS_TRY(fs_cpu_plan_check(plan, FS_OP_CONV2D, a->cin, a->cout, a->k, a->h, a->w, a->down));
    size_t wn = (size_t)a->cout * a->cin * a->k * a->k;
    float *wmat = NULL, *tmp = NULL;
    fs_cpu_fir *own_fir = NULL;
    if (!plan && a->weight_gain != 1.0f) {
        wmat = malloc(wn * sizeof *wmat);
        if (!wmat)
            return fs_error(FS_ERR_NOMEM, "cpu conv2d: out of memory for a %zu-float weight", wn);
        for (size_t i = 0; i < wn; i++)
            wmat[i] = a->weight[i] * a->weight_gain;
    }
    int stride = a->stride > 0 ? a->stride : 1;
    conv_ctx c = {.a = a, .m = m, .x = a->x, .h = a->h, .w = a->w, .stride = stride,
                  .pad = a->pad, .oh = (a->h + 2 * a->pad - a->k) / stride + 1,
                  .ow = (a->w + 2 * a->pad - a->k) / stride + 1, .chunks = 1, .chunk = a->cout,
                  .group = 1};
    int kdim = a->cin * a->k * a->k;
    if (plan)
        c.wop = (fs_cpu_wop){.packed = plan->packed, .rows = plan->packed_rows};
    else
        c.wop = (fs_cpu_wop){.raw = wmat ? wmat : a->weight, .ld = (size_t)kdim};
    fs_status st = FS_OK;
    if (a->down == 2) {
        int p0, p1, fdown, fh, fw;
        down_geometry(a, &p0, &p1, &fdown, &fh, &fw);
        tmp = malloc((size_t)a->n * a->cin * fh * fw * sizeof *tmp);
        if (!tmp) {
            free(wmat);
            return fs_error(FS_ERR_NOMEM, "cpu conv2d: out of memory for %d filtered planes",
                            a->n * a->cin);
        }
        if (!plan)
            st = down_fir(a, &own_fir);
        if (st == FS_OK)
            st = fs_cpu_upfirdn2d_run(m, plan ? plan->fir : own_fir, a->x, tmp, a->n * a->cin,
                                      a->h, a->w);
        c.x = tmp;
        c.h = fh;
        c.w = fw;
        c.pad = 0;
        c.stride = a->k == 1 ? 1 : 2;
        c.oh = (fh - a->k) / c.stride + 1;
        c.ow = (fw - a->k) / c.stride + 1;
    }
    int ohw = c.oh * c.ow;
    if (ohw < 256 && a->n > 1) {
        /* about 256 output columns per GEMM, within the 4 MB tile budget */
        long per_sample = (long)(kdim + a->cout) * ohw;
        c.group = 256 / ohw;
        if ((long)c.group * per_sample > (1L << 20))
            c.group = (int)((1L << 20) / per_sample);
        c.group = c.group < 1 ? 1 : c.group > a->n ? a->n : c.group;
        int groups = (a->n + c.group - 1) / c.group;
        c.chunks = fs_cpu_channel_chunks(m, groups, a->cout, 16);
        c.chunk = fs_cpu_chunk(a->cout, &c.chunks, 1);
        if (st == FS_OK)
            st = fs_cpu_ensure_col(m, (size_t)(kdim + c.chunk) * c.group * ohw + (size_t)kdim * ohw);
        if (st == FS_OK)
            fs_pool_run(m->pool, groups * c.chunks, conv_group_task, &c);
    } else {
        c.rows = fs_cpu_tile_rows((long)kdim * c.ow, c.oh);
        c.tiles = (c.oh + c.rows - 1) / c.rows;
        c.chunks = fs_cpu_channel_chunks(m, a->n * c.tiles, a->cout, 16);
        c.chunk = fs_cpu_chunk(a->cout, &c.chunks, 1);
        if (st == FS_OK)
            st = fs_cpu_ensure_col(m, (size_t)kdim * c.rows * c.ow);
        if (st == FS_OK)
            fs_pool_run(m->pool, a->n * c.tiles * c.chunks, conv_task, &c);
    }
    fs_cpu_fir_free(own_fir);
    free(wmat);
    free(tmp);
    return st;
}

typedef struct {
    const fs_conv_transpose2d_args *a;
    fs_cpu *m;
    const float *wmat; /* [cout * k * k, cin] */
    int oh, ow, chunks, chunk;
} convt_ctx;

/* y[o, y s - p + ky, x s - p + kx] += W[i, o, ky, kx] x[i, y, x]: one GEMM over
 * i for every (o, ky, kx) and input pixel, then a scatter. A task owns one
 * sample's output channels [o0, o1), so no two tasks write the same output. */
static void convt_task(void *ctx, int t, int worker)
{
    convt_ctx *c = ctx;
    const fs_conv_transpose2d_args *a = c->a;
    int n = t / c->chunks, o0 = (t % c->chunks) * c->chunk;
    int o1 = o0 + c->chunk > a->cout ? a->cout : o0 + c->chunk;
    size_t hw = (size_t)a->h * a->w, kk = (size_t)a->k * a->k;
    const float *p = c->m->col[worker]; /* [(o1 - o0) * kk, hw] */
    fs_sgemm_ws((o1 - o0) * (int)kk, (int)hw, a->cin, c->wmat + (size_t)o0 * kk * a->cin,
                (size_t)a->cin, a->x + (size_t)n * a->cin * hw, hw, c->m->col[worker], hw, 0,
                c->m->scratch[worker]);
    float *y = a->y + (size_t)n * a->cout * c->oh * c->ow;
    for (int o = o0; o < o1; o++) {
        float *yo = y + (size_t)o * c->oh * c->ow;
        for (size_t q = 0; q < (size_t)c->oh * c->ow; q++)
            yo[q] = a->b ? a->b[o] : 0.0f;
        for (int ky = 0; ky < a->k; ky++)
            for (int kx = 0; kx < a->k; kx++) {
                const float *src = p + ((size_t)(o - o0) * kk + (size_t)ky * a->k + kx) * hw;
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

/* W [cin, cout, k, k] as PyTorch stores it, as the GEMM's [cout k k, cin]. */
static float *convt_weight(const fs_conv_transpose2d_args *a)
{
    size_t kk = (size_t)a->k * a->k;
    float *wmat = malloc((size_t)a->cout * kk * a->cin * sizeof *wmat);
    if (wmat)
        for (int i = 0; i < a->cin; i++)
            for (int o = 0; o < a->cout; o++)
                for (size_t q = 0; q < kk; q++)
                    wmat[((size_t)o * kk + q) * a->cin + i] =
                        a->weight[((size_t)i * a->cout + o) * kk + q];
    return wmat;
}

fs_status fs_cpu_conv_transpose2d_plan(const fs_conv_transpose2d_args *a, fs_plan *p)
{
    p->cin = a->cin;
    p->cout = a->cout;
    p->k = a->k;
    p->h = a->h;
    p->w = a->w;
    p->up = a->stride;
    if (!(p->wmat = convt_weight(a)))
        return fs_error(FS_ERR_NOMEM, "cpu conv_transpose2d: out of memory for a plan");
    return FS_OK;
}

fs_status fs_cpu_conv_transpose2d(fs_backend *b, const fs_conv_transpose2d_args *a)
{
    fs_cpu *m = fs_cpu_of(b);
    size_t kk = (size_t)a->k * a->k;
    float *own = NULL;
    const float *wmat;
    if (a->plan) {
        FS_TRY(fs_cpu_plan_check(a->plan, FS_OP_CONV_TRANSPOSE2D, a->cin, a->cout, a->k, a->h,
                                 a->w, a->stride));
        wmat = a->plan->wmat;
    } else if (!(wmat = own = convt_weight(a))) {
        return fs_error(FS_ERR_NOMEM, "cpu conv_transpose2d: out of memory for the weight");
    }
    convt_ctx c = {.a = a, .m = m, .wmat = wmat, .oh = (a->h - 1) * a->stride - 2 * a->pad + a->k,
                   .ow = (a->w - 1) * a->stride - 2 * a->pad + a->k};
    c.chunks = fs_cpu_channel_chunks(m, a->n, a->cout, 2);
    c.chunk = (a->cout + c.chunks - 1) / c.chunks;
    fs_status st = fs_cpu_ensure_col(m, (size_t)c.chunk * kk * a->h * a->w);
    if (st == FS_OK)
        fs_pool_run(m->pool, a->n * c.chunks, convt_task, &c);
    free(own);
    return st;
}
