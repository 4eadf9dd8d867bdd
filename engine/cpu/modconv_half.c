/* The modulated convolution in a 16-bit feature format (F16_NHWC or
 * BF16_NHWC) on the CPU: the oracle of the CUDA v2 kernels, rounding exactly
 * where docs/precision.md §2 says the GPU rounds.
 *
 *   smax[n]      = max_i |s[n, i]|           (float32; 1 when that is 0)
 *   operand      = r(x * r(s[n, i] / smax[n]))   x: the 16-bit input, exact
 *   weight       = r(W)                      (the plan rounds it once)
 *   acc          = the float32 conv of operand and weight (up 2: the
 *                  transposed conv and the 4x4 FIR in float32)
 *   y            = r(clamp(act(acc * (d[n, o] * smax[n]) + noise + b) * gain))
 *
 * r rounds to nearest even in the format. The conv itself is the float32
 * machinery of modconv.c run on the rounded operand with unit styles and no
 * epilogue, so the accumulation is the fp32 path's; the epilogue here then
 * applies the coefficient, noise (the same Philox index, oy * ow + ox, and
 * the same const map as the fp32 path), bias, activation, gain and clamp in
 * float32 and rounds once. smax keeps the operand inside the fp16 range:
 * |s| reaches the hundreds while features reach the clamp (256), and the
 * product would pass 65504; divided by smax it stays below |x|. */
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

float *fs_cpu_modconv_round_weight(const fs_modconv_args *a)
{
    size_t len = (size_t)a->cout * a->cin * a->k * a->k;
    float *rw = malloc((len ? len : 1) * sizeof *rw);
    if (rw)
        for (size_t i = 0; i < len; i++)
            rw[i] = fs_cpu_feat_r(a->fmt, a->weight[i]);
    return rw;
}

/* Pixels per block of the layout changes (NHWC <-> NCHW). */
#define PIX 32

/* malloc sizes of at least one element (an empty layer still allocates). */
static size_t nz1(size_t v) { return v ? v : 1; }

typedef struct {
    const fs_modconv_args *a;
    const float *sr;   /* [n, cin]: r(s / smax) */
    float *xs;         /* [n, cin, h, w]: the operand, NCHW for the fp32 machinery */
    const float *acc;  /* [n, cout, oh, ow] */
    const float *coef; /* [n, cout]: d * smax */
    int chunks;        /* pixel chunks per sample */
} half_ctx;

static void chunk_range(size_t len, int chunks, int k, size_t *p0, size_t *p1)
{
    *p0 = len * (size_t)k / (size_t)chunks;
    *p1 = len * (size_t)(k + 1) / (size_t)chunks;
}

/* The operand of sample t / chunks, pixels of chunk t % chunks. */
static void operand_task(void *ctx, int t, int worker)
{
    const half_ctx *c = ctx;
    const fs_modconv_args *a = c->a;
    int s = t / c->chunks, cin = a->cin;
    size_t hw = (size_t)a->h * a->w, p0, p1;
    chunk_range(hw, c->chunks, t % c->chunks, &p0, &p1);
    const uint16_t *x = a->x16 + (size_t)s * hw * cin;
    const float *sr = c->sr + (size_t)s * cin;
    float *xs = c->xs + (size_t)s * cin * hw;
    /* blocks of PIX pixels: NHWC rows in, NCHW runs out, both in cache */
    for (size_t pb = p0; pb < p1; pb += PIX) {
        size_t pe = pb + PIX < p1 ? pb + PIX : p1;
        for (int i = 0; i < cin; i++)
            for (size_t p = pb; p < pe; p++)
                xs[(size_t)i * hw + p] =
                    fs_cpu_feat_r(a->fmt, fs_cpu_feat_value(a->fmt, x[p * cin + i]) * sr[i]);
    }
}

/* The epilogue of sample t / chunks over its chunk of output pixels, written
 * NHWC. The noise of a pixel is one value for every channel, drawn once. */
static void epilogue_task(void *ctx, int t, int worker)
{
    const half_ctx *c = ctx;
    const fs_modconv_args *a = c->a;
    int s = t / c->chunks, cout = a->cout;
    size_t ohw = (size_t)a->h * a->up * a->w * a->up, p0, p1;
    chunk_range(ohw, c->chunks, t % c->chunks, &p0, &p1);
    const float *acc = c->acc + (size_t)s * cout * ohw, *coef = c->coef + (size_t)s * cout;
    uint16_t *y = a->y16 + (size_t)s * ohw * cout;
    int noisy = a->noise_mode == FS_NOISE_CONST || a->noise_mode == FS_NOISE_RANDOM;
    float nz[PIX];
    for (size_t pb = p0; pb < p1; pb += PIX) { /* NCHW runs in, NHWC rows out */
        size_t pe = pb + PIX < p1 ? pb + PIX : p1;
        for (size_t p = pb; p < pe; p++)
            nz[p - pb] = a->noise_mode == FS_NOISE_CONST ? a->noise_const[p] * a->noise_strength
                         : a->noise_mode == FS_NOISE_RANDOM
                             ? fs_philox_normal_at(a->noise_seeds[s], a->noise_stream,
                                                   (uint64_t)p) * a->noise_strength
                             : 0.0f;
        for (int o = 0; o < cout; o++)
            for (size_t p = pb; p < pe; p++) {
                float v = acc[(size_t)o * ohw + p] * coef[o];
                if (noisy)
                    v += nz[p - pb];
                v = v + a->b[o];
                v = fs_act_apply(v, a->act, a->gain, a->clamp);
                y[p * cout + o] = fs_cpu_feat_round(a->fmt, v);
            }
    }
}

fs_status fs_cpu_modconv_half(fs_backend *b, const fs_modconv_args *a)
{
    fs_cpu *m = fs_cpu_of(b);
    if (a->fmt != FS_FEAT_F16_NHWC && a->fmt != FS_FEAT_BF16_NHWC)
        return fs_error(FS_ERR_ARG, "cpu modconv: unknown feature format %d", (int)a->fmt);
    if (!a->x16 || !a->y16)
        return fs_error(FS_ERR_ARG, "cpu modconv: a 16-bit format without x16 and y16");
    if (a->noise_mode == FS_NOISE_RANDOM && !a->noise_seeds)
        return fs_error(FS_ERR_ARG, "cpu modconv: random noise without seeds");
    if (a->plan)
        FS_TRY(fs_cpu_plan_check(a->plan, FS_OP_MODCONV, a->cin, a->cout, a->k, a->h, a->w,
                                 a->up));
    int n = a->n, cin = a->cin, cout = a->cout;
    size_t hw = (size_t)a->h * a->w, ohw = hw * a->up * a->up;
    size_t nci = (size_t)n * cin, nco = (size_t)n * cout;
    float *sr = malloc(nz1(nci) * sizeof *sr);
    float *ones = malloc(nz1(nci) * sizeof *ones);
    float *zeros = calloc(nz1((size_t)cout), sizeof *zeros);
    float *xs = malloc(nz1(nci * hw) * sizeof *xs);
    float *acc = malloc(nz1(nco * ohw) * sizeof *acc);
    float *coef = malloc(nz1(nco + (size_t)cin) * sizeof *coef);
    float *smax = malloc(nz1((size_t)(n > 0 ? n : 0)) * sizeof *smax);
    float *rw = a->plan ? NULL : fs_cpu_modconv_round_weight(a);
    float *wsq = NULL;
    fs_status st = FS_OK;
    if (!sr || !ones || !zeros || !xs || !acc || !coef || !smax || (!a->plan && !rw)) {
        st = fs_error(FS_ERR_NOMEM, "cpu modconv: out of memory for a %d x %d x %zu 16-bit "
                      "layer", n, cout, ohw);
        goto done;
    }
    for (int s = 0; s < n; s++) {
        const float *sn = a->styles + (size_t)s * cin;
        float mx = 0;
        for (int i = 0; i < cin; i++)
            mx = fabsf(sn[i]) > mx ? fabsf(sn[i]) : mx;
        smax[s] = mx > 0 ? mx : 1.0f; /* all styles 0: the operand is 0 either way */
        for (int i = 0; i < cin; i++)
            sr[(size_t)s * cin + i] = fs_cpu_feat_r(a->fmt, sn[i] / smax[s]);
    }
    for (size_t i = 0; i < nci; i++)
        ones[i] = 1.0f;
    int chunks = 4 * m->threads;
    chunks = (size_t)chunks > hw ? (int)hw : chunks;
    chunks = chunks < 1 ? 1 : chunks;
    half_ctx c = {.a = a, .sr = sr, .xs = xs, .acc = acc, .coef = coef, .chunks = chunks};
    fs_pool_run(m->pool, n * chunks, operand_task, &c);
    /* the float32 conv of the operand: unit styles, no demodulation, no
     * noise, zero bias, linear, gain 1: acc is the bare sum */
    fs_modconv_args in = {
        .x = xs, .weight = a->plan ? a->weight : rw, .styles = ones, .b = zeros, .y = acc,
        .n = n, .cin = cin, .cout = cout, .h = a->h, .w = a->w, .k = a->k, .up = a->up,
        .demodulate = 0, .fir = a->fir, .fir_len = a->fir_len, .noise_mode = FS_NOISE_NONE,
        .act = FS_ACT_LINEAR, .gain = 1.0f, .clamp = 0.0f, .fmt = FS_FEAT_F32_NCHW,
        .plan = a->plan};
    if ((st = fs_cpu_modconv(b, &in)) != FS_OK)
        goto done;
    /* d from the styles op, or from the unrounded W and styles as the fp32
     * path computes it; then the coefficient d * smax */
    if (a->demodulate && a->dcoef) {
        memcpy(coef, a->dcoef, nco * sizeof *coef);
    } else if (a->demodulate) {
        const float *sq = a->plan ? a->plan->wmat : NULL;
        if (!sq) {
            if (!(wsq = malloc(nz1((size_t)cout * cin) * sizeof *wsq))) {
                st = fs_error(FS_ERR_NOMEM, "cpu modconv: out of memory");
                goto done;
            }
            fs_cpu_weight_sq(a->weight, cout, cin, a->k * a->k, wsq);
            sq = wsq;
        }
        for (int s = 0; s < n; s++)
            fs_cpu_demod_row(sq, a->styles + (size_t)s * cin, cin, cout, coef + nco,
                             coef + (size_t)s * cout);
    } else {
        for (size_t i = 0; i < nco; i++)
            coef[i] = 1.0f;
    }
    for (int s = 0; s < n; s++)
        for (int o = 0; o < cout; o++)
            coef[(size_t)s * cout + o] *= smax[s];
    chunks = 4 * m->threads;
    chunks = (size_t)chunks > ohw ? (int)ohw : chunks;
    c.chunks = chunks < 1 ? 1 : chunks;
    fs_pool_run(m->pool, n * c.chunks, epilogue_task, &c);
done:
    free(sr);
    free(ones);
    free(zeros);
    free(xs);
    free(acc);
    free(coef);
    free(smax);
    free(rw);
    free(wsq);
    return st;
}
