/* CPU simulation of the v2 modulated-convolution kernels
 * (kernels/modconv_v2.cu), so that every index map they run is checked on a
 * machine without a GPU. The kernels' maps live in
 * kernels/modconv_v2_tiling.h; this test includes it and replays, thread by
 * thread and lane by lane, what a CTA does:
 *   - each thread's cp.async copies of a stage (tile row, granule, source
 *     offset, zero-fill predicate; the element-wise path when cin % 8 != 0)
 *     into a byte-addressed model of the swizzled shared-memory ring, in the
 *     kernel's slot order (STAGES - 1 ahead, counters for (tap, channel));
 *   - ldmatrix.x4 as the PTX ISA defines it (lane l gives the address of
 *     row l % 8 of matrix l / 8; thread t receives row t / 4, columns
 *     2 (t % 4) and 2 (t % 4) + 1 of each matrix);
 *   - the style multiply on the A registers at the kernel's channel;
 *   - mma.m16n8k16 through the fragment tables of the PTX ISA, transcribed
 *     here independently of the header (which the test also checks against
 *     them);
 *   - the epilogue's pixel / channel map, and for the fused up-sampling
 *     kernel the four phase GEMMs, the scatter into the T tile (which starts
 *     as NaN, so a position no phase writes shows) and the FIR over the halo.
 * Inputs are small integers and the FIR dyadic, so the simulated result must
 * equal a naive convolution (and, for up == 2, a transposed conv + FIR from
 * the definitions of docs/stylegan2.md §1.6) exactly, on odd shapes: odd
 * h / w, cin not a multiple of the K block (and not of 8), cout not a
 * multiple of the tile, several samples, k 3 and 1, up 1 and 2, each tile
 * shape (64 x 64, 128 x 128, 128 x 32 for cout <= 32, the up tile) and the
 * warp-uniform skip of n8 mma tiles wholly past cout.
 * The channels past cin get style 1 here (the kernel's are 0), so the copy
 * predicates alone must keep them out.
 *
 * The test proves it can fail: each of a list of single perturbations of a
 * map (an ldmatrix lane, the swizzle on read, the zero-fill bound, the ring
 * slot, the K counter, the phase-to-T-tile map, ...) must make some shape
 * mismatch.
 *
 * Also torgb.cu's polyphase skip up-sampling map (mc2_up2_k / mc2_up2_src)
 * against upfirdn2d's definition, and its 16-bit feature loads (the form
 * mc2_torgb_vec picks, alignment, the channel order mc2_gran_elem decodes). */
#include <stdint.h>

#include "../kernels/modconv_v2_tiling.h"
#include "check_util.h"

/* ---- perturbations ------------------------------------------------------------ */

enum {
    PT_NONE = 0,
    PT_LDSM_A,    /* A ldmatrix: matrices 0/1 swapped */
    PT_LDSM_B,    /* B ldmatrix: k halves swapped */
    PT_SWZ_READ,  /* fragments read without the swizzle */
    PT_ZFILL_X,   /* padding: the column bound ignored (neighbour pixel read) */
    PT_ZFILL_C,   /* channel bound ignored: reads past cin */
    PT_SLOT,      /* computes the slot after the right one */
    PT_KPOS,      /* the compute side's channel counter steps half a block */
    PT_STYLE,     /* style of registers 2/3 taken from 0/1's channel */
    PT_CROW,      /* epilogue: rows 8-15 written as rows 0-7 */
    PT_UP_TIDX,   /* phase position -> T tile index of the other parity */
    PT_UP_TAP,    /* even phase: x[a + 1] instead of x[a - 1] */
    PT_NSKIP,     /* n8 tiles only partly inside cout skipped as well */
    PT_COUNT
};
static int perturb;

/* ---- the PTX ISA's fragment tables (mma.m16n8k16, .f16/.bf16, f32 C) ------------- */

/* A element i (0..7; register i / 2, half i % 2) of lane */
static int ptx_a_row(int lane, int i)
{
    int g = lane >> 2;
    return (i < 2 || (i >= 4 && i < 6)) ? g : g + 8;
}
static int ptx_a_col(int lane, int i) { return (lane % 4) * 2 + (i & 1) + (i >= 4 ? 8 : 0); }
/* B element i (0..3) */
static int ptx_b_row(int lane, int i) { return (lane % 4) * 2 + (i & 1) + (i >= 2 ? 8 : 0); }
static int ptx_b_col(int lane) { return lane >> 2; }
/* C element i (0..3) */
static int ptx_c_row(int lane, int i) { return (lane >> 2) + (i >= 2 ? 8 : 0); }
static int ptx_c_col(int lane, int i) { return (lane % 4) * 2 + (i & 1); }

/* ---- the CTA configurations of modconv_v2.cu -------------------------------------- */

typedef struct {
    int bm, bn, warps_m, warps_n, stages;
    /* derived */
    int threads, wm, wn, mi, ni, a_ld, b_ld, a_bytes, stage_bytes;
} sim_cfg;

static sim_cfg cfg_make(int bm, int bn, int wmn, int wnn, int stages)
{
    sim_cfg c = {bm, bn, wmn, wnn, stages, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    c.threads = wmn * wnn * 32;
    c.wm = bm / wmn;
    c.wn = bn / wnn;
    c.mi = c.wm / 16;
    c.ni = c.wn / 8;
    c.a_ld = bm * 4 / c.threads;
    c.b_ld = bn * 4 / c.threads;
    c.a_bytes = bm * MC2_ROW_BYTES;
    c.stage_bytes = (bm + bn) * MC2_ROW_BYTES;
    return c;
}
#define CFG_LARGE cfg_make(128, 128, 2, 4, 4) /* mc2_large */
#define CFG_SMALL cfg_make(64, 64, 2, 2, 4)   /* mc2_small */
#define CFG_UP cfg_make(128, 64, 4, 2, 3)     /* mc2_up */
#define CFG_N32 cfg_make(128, 32, 4, 1, 4)    /* mc2_n32 (cout <= 32) */
#define UP_TS 72                               /* MC2_UP_TS */

/* ---- a problem --------------------------------------------------------------------- */

typedef struct {
    int n, h, w, cin, cout, k, up;
    int oh, ow, cpad, kk;
    float *x;   /* [n][h][w][cin] */
    float *wt;  /* [cout][cin][k][k], as stored */
    float *wp;  /* packed [cout][kk][cin] (the plan's layout) */
    float *sq;  /* [n][cpad]; 1 past cin (see the file comment) */
    float *bias;
    float fir[16];
    double *ref; /* [n][oh][ow][cout] */
} prob;

static uint64_t rng_state;
static int rnd(int lo, int hi)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (int)((rng_state >> 33) % (uint64_t)(hi - lo + 1));
}

static double noise_of(long long q) { return 0.25 * (double)q; }

static void prob_make(prob *p, int n, int h, int w, int cin, int cout, int k, int up)
{
    memset(p, 0, sizeof *p);
    p->n = n, p->h = h, p->w = w, p->cin = cin, p->cout = cout, p->k = k, p->up = up;
    p->oh = h * up, p->ow = w * up, p->kk = k * k;
    p->cpad = (cin + MC2_BK - 1) / MC2_BK * MC2_BK;
    size_t xs = (size_t)n * h * w * cin, ws = (size_t)cout * cin * p->kk;
    p->x = malloc(xs * sizeof *p->x);
    p->wt = malloc(ws * sizeof *p->wt);
    p->wp = malloc(ws * sizeof *p->wp);
    p->sq = malloc((size_t)n * p->cpad * sizeof *p->sq);
    p->bias = malloc((size_t)cout * sizeof *p->bias);
    p->ref = calloc((size_t)n * p->oh * p->ow * cout, sizeof *p->ref);
    ck_assert(p->x && p->wt && p->wp && p->sq && p->bias && p->ref);
    for (size_t i = 0; i < xs; i++)
        p->x[i] = (float)rnd(-3, 3);
    for (size_t i = 0; i < ws; i++)
        p->wt[i] = (float)rnd(-3, 3);
    for (int o = 0; o < cout; o++)
        for (int t = 0; t < p->kk; t++)
            for (int i = 0; i < cin; i++)
                p->wp[((size_t)o * p->kk + t) * cin + i] = p->wt[((size_t)o * cin + i) * p->kk + t];
    for (int s = 0; s < n; s++)
        for (int i = 0; i < p->cpad; i++)
            p->sq[(size_t)s * p->cpad + i] = i < cin ? (float)rnd(-2, 2) : 1.0f;
    for (int o = 0; o < cout; o++)
        p->bias[o] = (float)rnd(-8, 8) * 0.5f;
    for (int i = 0; i < 16; i++)
        p->fir[i] = (float)rnd(1, 9) / 64.0f;

    /* the reference, from the definitions */
    if (up == 1) {
        for (int s = 0; s < n; s++)
            for (int oy = 0; oy < h; oy++)
                for (int ox = 0; ox < w; ox++)
                    for (int o = 0; o < cout; o++) {
                        double acc = 0;
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy + ky - k / 2, ix = ox + kx - k / 2;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                    continue;
                                for (int i = 0; i < cin; i++)
                                    acc += (double)p->x[(((size_t)s * h + iy) * w + ix) * cin + i] *
                                           p->sq[(size_t)s * p->cpad + i] *
                                           p->wt[((size_t)o * cin + i) * p->kk + ky * k + kx];
                            }
                        long long q = (long long)oy * w + ox;
                        p->ref[(((size_t)s * h + oy) * w + ox) * cout + o] =
                            acc + noise_of(q) + p->bias[o];
                    }
        return;
    }
    /* T[2y + u][2x + v] += W[o, i, u, v] x[y, x, i] s[i], (2h+1) x (2w+1), then
     * out[p] = 4 sum_{fy, fx} T[p - 1 + fy] f[3 - fy][3 - fx] (zero outside) */
    int th = 2 * h + 1, tw = 2 * w + 1;
    double *t = malloc((size_t)th * tw * sizeof *t);
    ck_assert(t != NULL);
    for (int s = 0; s < n; s++)
        for (int o = 0; o < cout; o++) {
            for (int e = 0; e < th * tw; e++)
                t[e] = 0;
            for (int y = 0; y < h; y++)
                for (int xx = 0; xx < w; xx++)
                    for (int u = 0; u < 3; u++)
                        for (int v = 0; v < 3; v++)
                            for (int i = 0; i < cin; i++)
                                t[(2 * y + u) * tw + 2 * xx + v] +=
                                    (double)p->x[(((size_t)s * h + y) * w + xx) * cin + i] *
                                    p->sq[(size_t)s * p->cpad + i] *
                                    p->wt[((size_t)o * cin + i) * 9 + u * 3 + v];
            for (int oy = 0; oy < p->oh; oy++)
                for (int ox = 0; ox < p->ow; ox++) {
                    double acc = 0;
                    for (int fy = 0; fy < 4; fy++)
                        for (int fx = 0; fx < 4; fx++) {
                            int ty = oy - 1 + fy, tx = ox - 1 + fx;
                            if (ty < 0 || ty >= th || tx < 0 || tx >= tw)
                                continue;
                            acc += t[ty * tw + tx] * p->fir[(3 - fy) * 4 + (3 - fx)];
                        }
                    long long q = (long long)oy * p->ow + ox;
                    p->ref[(((size_t)s * p->oh + oy) * p->ow + ox) * cout + o] =
                        acc * 4.0 + noise_of(q) + p->bias[o];
                }
        }
    free(t);
}

static void prob_free(prob *p)
{
    free(p->x);
    free(p->wt);
    free(p->wp);
    free(p->sq);
    free(p->bias);
    free(p->ref);
}

/* ---- the simulated CTA ------------------------------------------------------------- */

typedef struct {
    const sim_cfg *c;
    const prob *p;
    int s, n0;
    int vec;
    float *ring;   /* [stages * stage_bytes / 2], one float per 16-bit element */
    double *acc;   /* [warps][mi][ni][32][4] */
    int *py, *px, *rok; /* [threads][a_ld] */
    int bad;       /* an out-of-bounds read, a misaligned address */
} cta;

static double *acc_at(cta *t, int warp, int mi, int ni, int lane)
{
    const sim_cfg *c = t->c;
    return t->acc + ((((size_t)warp * c->mi + mi) * c->ni + ni) * 32 + lane) * 4;
}

/* mc2_load_stage for every thread of the CTA. */
static void sim_load_stage(cta *t, int slot, int dy, int dx, int wtap, int c0)
{
    const sim_cfg *c = t->c;
    const prob *p = t->p;
    int cin_bound = perturb == PT_ZFILL_C ? p->cpad : p->cin;
    size_t xlen = (size_t)p->h * p->w * p->cin, wlen = (size_t)p->cout * p->kk * p->cin;
    const float *xs = p->x + (size_t)t->s * xlen;
    for (int tid = 0; tid < c->threads; tid++) {
        for (int i = 0; i < c->a_ld; i++) {
            int id = tid + i * c->threads, row = mc2_ld_row(id), g = mc2_ld_gran(id);
            int cc = c0 + g * MC2_GRAN;
            long long off;
            int ok;
            if (perturb == PT_ZFILL_X)
                ok = mc2_a_src(t->rok[tid * c->a_ld + i], t->py[tid * c->a_ld + i],
                               t->px[tid * c->a_ld + i], dy, dx, cc, p->h, 1 << 20, cin_bound, &off);
            else
                ok = mc2_a_src(t->rok[tid * c->a_ld + i], t->py[tid * c->a_ld + i],
                               t->px[tid * c->a_ld + i], dy, dx, cc, p->h, p->w, cin_bound, &off);
            if (perturb == PT_ZFILL_X && ok) {
                /* the offset as the unbounded width would make it: the pixel's neighbour row */
                int iy = t->py[tid * c->a_ld + i] + dy, ix = t->px[tid * c->a_ld + i] + dx;
                off = ((long long)iy * p->w + ix) * p->cin + cc;
            }
            float *dst = t->ring + ((size_t)slot * c->stage_bytes + mc2_swz(row, g)) / 2;
            for (int e = 0; e < MC2_GRAN; e++) {
                int eok = ok && (t->vec || cc + e < cin_bound);
                if (eok && (off < 0 || (size_t)off + e >= xlen)) {
                    t->bad = 1;
                    eok = 0;
                }
                if (t->vec && ok && off % MC2_GRAN)
                    t->bad = 1; /* a 16-byte cp.async source must be aligned */
                dst[e] = eok ? xs[off + e] : 0.0f;
            }
        }
        for (int i = 0; i < c->b_ld; i++) {
            int id = tid + i * c->threads, row = mc2_ld_row(id), g = mc2_ld_gran(id);
            int cc = c0 + g * MC2_GRAN;
            long long off;
            int ok = mc2_b_src(t->n0 + row, p->cout, wtap, p->kk, cc, cin_bound, &off);
            float *dst = t->ring + ((size_t)slot * c->stage_bytes + c->a_bytes + mc2_swz(row, g)) / 2;
            for (int e = 0; e < MC2_GRAN; e++) {
                int eok = ok && (t->vec || cc + e < cin_bound);
                if (eok && (off < 0 || (size_t)off + e >= wlen)) {
                    t->bad = 1;
                    eok = 0;
                }
                dst[e] = eok ? p->wp[off + e] : 0.0f;
            }
        }
    }
}

/* ldmatrix.x4 (no .trans) for one warp: addr[l] is lane l's byte address in
 * the ring; r[t][j][e] receives element (t / 4, 2 (t % 4) + e) of matrix j. */
static void sim_ldsm_x4(cta *t, const int addr[32], float r[32][4][2])
{
    for (int l = 0; l < 32; l++)
        if (addr[l] % 16 || addr[l] < 0 || addr[l] + 16 > t->c->stages * t->c->stage_bytes)
            t->bad = 1;
    for (int th = 0; th < 32; th++)
        for (int j = 0; j < 4; j++) {
            int src = 8 * j + th / 4, base = addr[src] / 2 + 2 * (th % 4);
            if (addr[src] < 0 || addr[src] + 16 > t->c->stages * t->c->stage_bytes) {
                r[th][j][0] = r[th][j][1] = NAN;
                continue;
            }
            r[th][j][0] = t->ring[base];
            r[th][j][1] = t->ring[base + 1];
        }
}

/* mma.m16n8k16 of one warp: acc[lane][i] += (A B)[c_row][c_col]. */
static void sim_mma(float a[32][4][2], float b[32][2][2], double *acc_lane0, size_t lane_stride)
{
    double A[16][16], B[16][8];
    for (int l = 0; l < 32; l++) {
        for (int i = 0; i < 8; i++)
            A[ptx_a_row(l, i)][ptx_a_col(l, i)] = a[l][i / 2][i % 2];
        for (int i = 0; i < 4; i++)
            B[ptx_b_row(l, i)][ptx_b_col(l)] = b[l][i / 2][i % 2];
    }
    for (int l = 0; l < 32; l++)
        for (int i = 0; i < 4; i++) {
            int r = ptx_c_row(l, i), cc = ptx_c_col(l, i);
            double v = 0;
            for (int k = 0; k < 16; k++)
                v += A[r][k] * B[k][cc];
            acc_lane0[l * lane_stride + i] += v;
        }
}

static int swz_read(int row, int g)
{
    return perturb == PT_SWZ_READ ? row * MC2_ROW_BYTES + g * 16 : mc2_swz(row, g);
}

/* mc2_mainloop: the ring, the K counters, fragments, styles, mma. */
static void sim_mainloop(cta *t, mc2_axis ay, mc2_axis ax, int mvalid)
{
    const sim_cfg *c = t->c;
    const prob *p = t->p;
    int warps = c->warps_m * c->warps_n;
    memset(t->acc, 0, (size_t)warps * c->mi * c->ni * 32 * 4 * sizeof *t->acc);
    for (size_t e = 0; e < (size_t)c->stages * c->stage_bytes / 2; e++)
        t->ring[e] = NAN; /* never-written smem shows */
    int iters = mc2_k_iters(&ay, &ax, p->cin);
    mc2_kpos ld = {0, 0, 0};
    int ld_slot = 0;
    const float *sty = p->sq + (size_t)t->s * p->cpad;
    for (int st = 0; st < c->stages - 1; st++) {
        if (st < iters) {
            sim_load_stage(t, ld_slot, ay.d0 + ay.ds * ld.ty, ax.d0 + ax.ds * ld.tx,
                           (ay.u0 + ay.us * ld.ty) * p->k + ax.u0 + ax.us * ld.tx, ld.c0);
            mc2_kpos_next(&ld, p->cin, ax.nt);
        }
        ld_slot = ld_slot + 1 == c->stages ? 0 : ld_slot + 1;
    }
    int slot = 0, c0 = 0;
    for (int it = 0; it < iters; it++) {
        if (it + c->stages - 1 < iters) {
            sim_load_stage(t, ld_slot, ay.d0 + ay.ds * ld.ty, ax.d0 + ax.ds * ld.tx,
                           (ay.u0 + ay.us * ld.ty) * p->k + ax.u0 + ax.us * ld.tx, ld.c0);
            mc2_kpos_next(&ld, p->cin, ax.nt);
        }
        ld_slot = ld_slot + 1 == c->stages ? 0 : ld_slot + 1;
        int cslot = perturb == PT_SLOT ? (slot + 1) % c->stages : slot;
        int sa = cslot * c->stage_bytes, sb = sa + c->a_bytes;
        for (int warp = 0; warp < warps; warp++) {
            int wm0 = (warp % c->warps_m) * c->wm, wn0 = (warp / c->warps_m) * c->wn;
            for (int kk = 0; kk < MC2_BK; kk += 16) {
                static float a[8][32][4][2], bq[8][32][4][2];
                int addr[32];
                for (int mi = 0; mi < c->mi; mi++) {
                    for (int l = 0; l < 32; l++) {
                        int ll = perturb == PT_LDSM_A ? l ^ 8 : l;
                        addr[l] = sa + swz_read(wm0 + mi * 16 + mc2_ldsm_a_row(ll),
                                                mc2_ldsm_a_gran(l, kk));
                    }
                    sim_ldsm_x4(t, addr, a[mi]);
                }
                for (int nj = 0; nj < c->ni / 2; nj++) {
                    for (int l = 0; l < 32; l++) {
                        int ll = perturb == PT_LDSM_B ? l ^ 8 : l;
                        addr[l] = sb + swz_read(wn0 + nj * 16 + mc2_ldsm_b_row(l),
                                                mc2_ldsm_b_gran(ll, kk));
                    }
                    sim_ldsm_x4(t, addr, bq[nj]);
                }
                /* styles on A: registers 0/1 at mc2_a_col(lane, 0), 2/3 at (lane, 2) */
                for (int mi = 0; mi < c->mi; mi++)
                    for (int l = 0; l < 32; l++)
                        for (int r = 0; r < 4; r++) {
                            int col = mc2_a_col(l, r < 2 || perturb == PT_STYLE ? 0 : 2);
                            for (int e = 0; e < 2; e++)
                                a[mi][l][r][e] *= sty[c0 + kk + col + e];
                        }
                int nvalid = p->cout - t->n0 - wn0; /* the kernel's n8 skip */
                if (perturb == PT_NSKIP)
                    nvalid -= 7;
                for (int mi = 0; mi < c->mi; mi++) {
                    if (wm0 + mi * 16 >= mvalid)
                        continue; /* the kernel's warp-uniform skip */
                    for (int ni = 0; ni < c->ni; ni++) {
                        if (!(nvalid > ni * 8))
                            continue; /* n8 tile wholly past cout (warp-uniform) */
                        float b[32][2][2];
                        for (int l = 0; l < 32; l++)
                            for (int r = 0; r < 2; r++)
                                for (int e = 0; e < 2; e++)
                                    b[l][r][e] = bq[ni / 2][l][(ni & 1) * 2 + r][e];
                        sim_mma(a[mi], b, acc_at(t, warp, mi, ni, 0), 4);
                    }
                }
            }
        }
        slot = slot + 1 == c->stages ? 0 : slot + 1;
        c0 += perturb == PT_KPOS ? MC2_BK / 2 : MC2_BK;
        if (c0 >= p->cin)
            c0 = 0;
    }
}

static int crow(int lane, int i) { return perturb == PT_CROW ? mc2_c_row(lane, 0) : mc2_c_row(lane, i); }

/* One output value into out (and its write count). */
static void sim_put(const prob *p, double *out, int *cnt, int s, long long q, int o, double v)
{
    size_t e = ((size_t)s * p->oh * p->ow + (size_t)q) * p->cout + o;
    out[e] = v;
    cnt[e]++;
}

/* modconv_v2_kernel1: every CTA of the grid. */
static void sim_gemm(const sim_cfg *c, const prob *p, double *out, int *cnt, int *bad)
{
    int P = p->oh * p->ow, warps = c->warps_m * c->warps_n;
    cta t = {.c = c, .p = p, .vec = p->cin % 8 == 0};
    t.ring = malloc((size_t)c->stages * c->stage_bytes / 2 * sizeof *t.ring);
    t.acc = malloc((size_t)warps * c->mi * c->ni * 32 * 4 * sizeof *t.acc);
    t.py = malloc((size_t)c->threads * c->a_ld * sizeof(int));
    t.px = malloc((size_t)c->threads * c->a_ld * sizeof(int));
    t.rok = malloc((size_t)c->threads * c->a_ld * sizeof(int));
    ck_assert(t.ring && t.acc && t.py && t.px && t.rok);
    for (int s = 0; s < p->n; s++)
        for (int by = 0; by < (p->cout + c->bn - 1) / c->bn; by++)
            for (int bx = 0; bx < (P + c->bm - 1) / c->bm; bx++) {
                int m0 = bx * c->bm;
                t.s = s;
                t.n0 = by * c->bn;
                for (int tid = 0; tid < c->threads; tid++)
                    for (int i = 0; i < c->a_ld; i++) {
                        int m = m0 + mc2_ld_row(tid + i * c->threads), j = tid * c->a_ld + i;
                        t.rok[j] = m < P;
                        t.py[j] = t.rok[j] ? m / p->ow : 0;
                        t.px[j] = m - t.py[j] * p->ow;
                    }
                sim_mainloop(&t, mc2_axis_conv(p->k), mc2_axis_conv(p->k), P - m0);
                for (int warp = 0; warp < warps; warp++) {
                    int wm0 = (warp % c->warps_m) * c->wm, wn0 = (warp / c->warps_m) * c->wn;
                    for (int mi = 0; mi < c->mi; mi++)
                        for (int ni = 0; ni < c->ni; ni++)
                            for (int l = 0; l < 32; l++)
                                for (int h2 = 0; h2 < 4; h2 += 2) {
                                    int row = wm0 + mi * 16 + crow(l, h2);
                                    int col = wn0 + ni * 8 + mc2_c_col(l, h2);
                                    int m = m0 + row, o = t.n0 + col;
                                    if (m >= P || o >= p->cout)
                                        continue;
                                    long long q = mc2_tile_pixel(0, row, m0, 0, 0, p->oh, p->ow);
                                    const double *a = acc_at(&t, warp, mi, ni, l);
                                    for (int e = 0; e < 2 && o + e < p->cout; e++)
                                        sim_put(p, out, cnt, s, m, o + e,
                                                a[h2 + e] + (q >= 0 ? noise_of(q) : NAN) +
                                                    p->bias[o + e]);
                                }
                }
            }
    *bad |= t.bad;
    free(t.ring);
    free(t.acc);
    free(t.py);
    free(t.px);
    free(t.rok);
}

/* modconv_v2_up_kernel1: every CTA of the grid. */
static void sim_up(const prob *p, double *out, int *cnt, int *bad)
{
    sim_cfg cfg = CFG_UP;
    const sim_cfg *c = &cfg;
    int warps = c->warps_m * c->warps_n;
    int tiles_x = (p->ow + MC2_UP_OT - 1) / MC2_UP_OT, tiles_y = (p->oh + MC2_UP_OT - 1) / MC2_UP_OT;
    cta t = {.c = c, .p = p, .vec = p->cin % 8 == 0};
    t.ring = malloc((size_t)c->stages * c->stage_bytes / 2 * sizeof *t.ring);
    t.acc = malloc((size_t)warps * c->mi * c->ni * 32 * 4 * sizeof *t.acc);
    t.py = malloc((size_t)c->threads * c->a_ld * sizeof(int));
    t.px = malloc((size_t)c->threads * c->a_ld * sizeof(int));
    t.rok = malloc((size_t)c->threads * c->a_ld * sizeof(int));
    double *tt = malloc((size_t)MC2_UP_TT * MC2_UP_TT * UP_TS * sizeof *tt);
    ck_assert(t.ring && t.acc && t.py && t.px && t.rok && tt);
    for (int s = 0; s < p->n; s++)
        for (int by = 0; by < (p->cout + c->bn - 1) / c->bn; by++)
            for (int bx = 0; bx < tiles_x * tiles_y; bx++) {
                int tyi = bx / tiles_x, txi = bx - tyi * tiles_x;
                int oy0 = tyi * MC2_UP_OT, ox0 = txi * MC2_UP_OT;
                t.s = s;
                t.n0 = by * c->bn;
                for (int e = 0; e < MC2_UP_TT * MC2_UP_TT * UP_TS; e++)
                    tt[e] = NAN;
                for (int ph = 0; ph < 4; ph++) {
                    int pr = ph >> 1, pc = ph & 1;
                    int cnt_c = mc2_up_cnt(pc), count = mc2_up_cnt(pr) * cnt_c;
                    int a0r = mc2_up_a0(oy0, pr), a0c = mc2_up_a0(ox0, pc);
                    for (int tid = 0; tid < c->threads; tid++)
                        for (int i = 0; i < c->a_ld; i++) {
                            int m = mc2_ld_row(tid + i * c->threads), ar = m / cnt_c;
                            int j = tid * c->a_ld + i;
                            t.rok[j] = m < count;
                            t.py[j] = a0r + ar;
                            t.px[j] = a0c + (m - ar * cnt_c);
                        }
                    mc2_axis ay = mc2_axis_up(pr), ax = mc2_axis_up(pc);
                    if (perturb == PT_UP_TAP && pr == 0)
                        ay.ds = 1;
                    sim_mainloop(&t, ay, ax, count);
                    for (int warp = 0; warp < warps; warp++) {
                        int wm0 = (warp % c->warps_m) * c->wm, wn0 = (warp / c->warps_m) * c->wn;
                        for (int mi = 0; mi < c->mi; mi++)
                            for (int l = 0; l < 32; l++)
                                for (int h2 = 0; h2 < 4; h2 += 2) {
                                    int m = wm0 + mi * 16 + crow(l, h2);
                                    if (m >= count)
                                        continue;
                                    int ar = m / cnt_c, ac = m - ar * cnt_c;
                                    int ti = perturb == PT_UP_TIDX
                                                 ? (2 * ar + pr) * MC2_UP_TT + 2 * ac + pc
                                                 : mc2_up_tidx(ar, pr) * MC2_UP_TT + mc2_up_tidx(ac, pc);
                                    if (ti < 0 || ti >= MC2_UP_TT * MC2_UP_TT) {
                                        t.bad = 1;
                                        continue;
                                    }
                                    for (int ni = 0; ni < c->ni; ni++) {
                                        int col = wn0 + ni * 8 + mc2_c_col(l, h2);
                                        const double *a = acc_at(&t, warp, mi, ni, l);
                                        tt[(size_t)ti * UP_TS + col] = a[h2];
                                        tt[(size_t)ti * UP_TS + col + 1] = a[h2 + 1];
                                    }
                                }
                    }
                }
                /* FIR + epilogue: a warp per pixel, a lane per channel pair */
                for (int it = 0; it < MC2_UP_OT * MC2_UP_OT * (c->bn / 2); it++) {
                    int pix = it / (c->bn / 2), col = (it % (c->bn / 2)) * 2;
                    int ly = pix / MC2_UP_OT, lx = pix % MC2_UP_OT;
                    int oy = oy0 + ly, ox = ox0 + lx, o = t.n0 + col;
                    if (oy >= p->oh || ox >= p->ow || o >= p->cout)
                        continue;
                    double v[2] = {0, 0};
                    for (int fy = 0; fy < 4; fy++)
                        for (int fx = 0; fx < 4; fx++)
                            for (int e = 0; e < 2; e++)
                                v[e] += tt[(size_t)mc2_up_tpos(ly, lx, fy, fx) * UP_TS + col + e] *
                                        p->fir[mc2_up_fidx(fy, fx)];
                    long long q = mc2_tile_pixel(1, pix, 0, oy0, ox0, p->oh, p->ow);
                    for (int e = 0; e < 2 && o + e < p->cout; e++)
                        sim_put(p, out, cnt, s, q, o + e, v[e] * 4.0 + noise_of(q) + p->bias[o + e]);
                }
            }
    *bad |= t.bad;
    free(t.ring);
    free(t.acc);
    free(t.py);
    free(t.px);
    free(t.rok);
    free(tt);
}

/* ---- the shapes ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    int n, h, w, cin, cout, k, up;
    int tile; /* up 1: TILE_SMALL (64 x 64), TILE_LARGE (128 x 128), TILE_N32 (128 x 32) */
} shape;
enum { TILE_SMALL, TILE_LARGE, TILE_N32 };

static const shape shapes[] = {
    {"k3.small.cin40.cout24.odd", 2, 7, 5, 40, 24, 3, 1, 0},
    {"k3.large.cin72.cout136", 3, 5, 9, 72, 136, 3, 1, 1},
    {"k1.small.cin16.cout10.3tiles", 2, 11, 13, 16, 10, 1, 1, 0},
    {"k3.large.cin24.cout70.2tiles", 2, 13, 12, 24, 70, 3, 1, 1},
    {"k3.small.cin12.cout9.scalar", 2, 6, 7, 12, 9, 3, 1, 0},
    {"k3.small.cin5.cout3.scalar", 3, 3, 4, 5, 3, 3, 1, 0},
    {"up.cin40.cout70.2x1tiles", 2, 5, 9, 40, 70, 3, 2, 0},
    {"up.cin12.cout6.scalar.1x2tiles", 1, 9, 8, 12, 6, 3, 2, 0},
    {"up.cin64.cout64.exact", 1, 8, 8, 64, 64, 3, 2, 0},
    {"up.cin8.cout5.odd", 2, 3, 5, 8, 5, 3, 2, 0},
    /* 128 x 32 (cout <= 32): odd planes over 2-3 M tiles, a partial last n8 */
    {"k3.n32.cin40.cout29.odd", 2, 11, 13, 40, 29, 3, 1, TILE_N32},
    {"k3.n32.cin32.cout32.exact", 1, 16, 8, 32, 32, 3, 1, TILE_N32},
    {"k1.n32.cin24.cout17", 2, 9, 15, 24, 17, 1, 1, TILE_N32},
    {"k3.n32.cin12.cout7.scalar", 2, 7, 9, 12, 7, 3, 1, TILE_N32},
    /* the n8 skip in the 64-wide up tile: cout 12 leaves warps of N and n8 tiles empty */
    {"up.cin16.cout12.nskip", 1, 5, 7, 16, 12, 3, 2, 0},
};
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* 1 when the simulated kernel equals the reference exactly, every output written once. */
static int run_shape(const shape *sh, char *why, size_t why_len)
{
    prob p;
    rng_state = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(sh - shapes);
    prob_make(&p, sh->n, sh->h, sh->w, sh->cin, sh->cout, sh->k, sh->up);
    size_t len = (size_t)p.n * p.oh * p.ow * p.cout;
    double *out = malloc(len * sizeof *out);
    int *cnt = calloc(len, sizeof *cnt);
    ck_assert(out && cnt);
    int bad = 0;
    if (sh->up == 2) {
        sim_up(&p, out, cnt, &bad);
    } else {
        sim_cfg c = sh->tile == TILE_LARGE ? CFG_LARGE : sh->tile == TILE_N32 ? CFG_N32 : CFG_SMALL;
        sim_gemm(&c, &p, out, cnt, &bad);
    }
    int ok = 1;
    for (size_t e = 0; ok && e < len; e++) {
        if (cnt[e] != 1 || !(out[e] == p.ref[e])) {
            snprintf(why, why_len, "%s: element %zu written %d times, %.17g vs reference %.17g",
                     sh->name, e, cnt[e], out[e], p.ref[e]);
            ok = 0;
        }
    }
    if (ok && bad) {
        snprintf(why, why_len, "%s: an out-of-bounds or misaligned access", sh->name);
        ok = 0;
    }
    free(out);
    free(cnt);
    prob_free(&p);
    return ok;
}

/* ---- tests ---------------------------------------------------------------------- */

/* The header's fragment maps are the PTX ISA's, and ldmatrix.x4 hands each
 * lane exactly the A / B registers mma expects. */
START_TEST(test_fragment_maps)
{
    for (int l = 0; l < 32; l++) {
        for (int i = 0; i < 8; i++) {
            ck_assert_int_eq(mc2_a_row(l, i / 2), ptx_a_row(l, i));
            ck_assert_int_eq(mc2_a_col(l, i / 2) + (i & 1), ptx_a_col(l, i));
        }
        for (int i = 0; i < 4; i++) {
            ck_assert_int_eq(mc2_b_k(l, i / 2) + (i & 1), ptx_b_row(l, i));
            ck_assert_int_eq(mc2_b_n(l), ptx_b_col(l));
            ck_assert_int_eq(mc2_c_row(l, i), ptx_c_row(l, i));
            ck_assert_int_eq(mc2_c_col(l, i), ptx_c_col(l, i));
        }
    }
    /* ldmatrix of a tile whose element (r, k) = 100 r + k: each register
     * equals the A element the mma table assigns it */
    static float ring[64 * MC2_BK];
    cta t = {0};
    sim_cfg c = CFG_SMALL;
    t.c = &c;
    t.ring = ring;
    for (int r = 0; r < 16; r++)
        for (int g = 0; g < 4; g++)
            for (int e = 0; e < 8; e++)
                ring[mc2_swz(r, g) / 2 + e] = (float)(100 * r + g * 8 + e);
    for (int kk = 0; kk < MC2_BK; kk += 16) {
        int addr[32];
        float a[32][4][2], b[32][4][2];
        for (int l = 0; l < 32; l++)
            addr[l] = mc2_swz(mc2_ldsm_a_row(l), mc2_ldsm_a_gran(l, kk));
        sim_ldsm_x4(&t, addr, a);
        for (int l = 0; l < 32; l++)
            addr[l] = mc2_swz(mc2_ldsm_b_row(l), mc2_ldsm_b_gran(l, kk));
        sim_ldsm_x4(&t, addr, b);
        ck_assert(!t.bad);
        for (int l = 0; l < 32; l++) {
            for (int i = 0; i < 8; i++)
                ck_assert_float_eq(a[l][i / 2][i % 2],
                                   (float)(100 * ptx_a_row(l, i) + kk + ptx_a_col(l, i)));
            /* B tile rows are n: two n8 tiles, registers (0, 1) and (2, 3) */
            for (int nt = 0; nt < 2; nt++)
                for (int i = 0; i < 4; i++)
                    ck_assert_float_eq(b[l][nt * 2 + i / 2][i % 2],
                                       (float)(100 * (nt * 8 + ptx_b_col(l)) + kk + ptx_b_row(l, i)));
        }
    }
}
END_TEST

/* The swizzle: a bijection on each row's granules, and the 8 rows an
 * ldmatrix phase reads hit 8 distinct 16-byte bank groups. */
START_TEST(test_swizzle)
{
    for (int r = 0; r < 128; r++) {
        int seen = 0;
        for (int g = 0; g < 4; g++) {
            int off = mc2_swz(r, g);
            ck_assert_int_eq(off / MC2_ROW_BYTES, r);
            seen |= 1 << ((off % MC2_ROW_BYTES) / 16);
        }
        ck_assert_int_eq(seen, 15);
    }
    for (int r0 = 0; r0 < 128; r0 += 8)
        for (int g = 0; g < 4; g++) {
            int groups = 0;
            for (int r = r0; r < r0 + 8; r++)
                groups |= 1 << ((mc2_swz(r, g) % 128) / 16);
            ck_assert_int_eq(groups, 255);
        }
}
END_TEST

/* The phases of the fused up-sampling cover the 19 x 19 T tile exactly once,
 * each position at the T coordinate the FIR expects. */
START_TEST(test_up_phase_cover)
{
    for (int o0 = 0; o0 < 64; o0 += MC2_UP_OT) {
        int hits[MC2_UP_TT] = {0};
        for (int pp = 0; pp < 2; pp++)
            for (int i = 0; i < mc2_up_cnt(pp); i++) {
                int ti = mc2_up_tidx(i, pp);
                ck_assert(ti >= 0 && ti < MC2_UP_TT);
                hits[ti]++;
                int tpos = 2 * (mc2_up_a0(o0, pp) + i) + pp; /* T position of the phase element */
                ck_assert_int_eq(tpos, o0 - 1 + ti);
            }
        for (int e = 0; e < MC2_UP_TT; e++)
            ck_assert_int_eq(hits[e], 1);
    }
}
END_TEST

/* torgb's polyphase skip up-sampling equals upfirdn2d(up 2, pad (2, 1),
 * gain 4) from its definition (zero insertion, padding, true convolution)
 * with an asymmetric filter, on odd and even sizes. */
START_TEST(test_up2_polyphase)
{
    rng_state = 12345;
    for (int h2 = 1; h2 <= 5; h2++)
        for (int w2 = 1; w2 <= 4; w2++) {
            double img[5 * 4], f[16];
            for (int e = 0; e < h2 * w2; e++)
                img[e] = rnd(-9, 9);
            for (int e = 0; e < 16; e++)
                f[e] = rnd(1, 9) / 64.0;
            int oh = 2 * h2, ow = 2 * w2;
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double def = 0, poly = 0;
                    /* definition: u[i] = img[i / 2] at even i, 0 at odd; out[o] = sum_k u[o + k - 2] f[3 - k] */
                    for (int ky = 0; ky < 4; ky++)
                        for (int kx = 0; kx < 4; kx++) {
                            int uy = oy + ky - 2, ux = ox + kx - 2;
                            if (uy < 0 || ux < 0 || uy >= 2 * h2 || ux >= 2 * w2 || uy % 2 || ux % 2)
                                continue;
                            def += img[(uy / 2) * w2 + ux / 2] * f[(3 - ky) * 4 + (3 - kx)];
                        }
                    for (int a = 0; a < 2; a++)
                        for (int c = 0; c < 2; c++) {
                            int sy = mc2_up2_src(oy, a), sx = mc2_up2_src(ox, c);
                            if (sy < 0 || sy >= h2 || sx < 0 || sx >= w2)
                                continue;
                            poly += img[sy * w2 + sx] *
                                    f[(3 - mc2_up2_k(oy, a)) * 4 + (3 - mc2_up2_k(ox, c))];
                        }
                    ck_assert_msg(def * 4 == poly * 4, "%dx%d at (%d, %d): %g vs %g", h2, w2, oy,
                                  ox, poly, def);
                }
        }
}
END_TEST

/* torgb's 16-bit feature loads (torgb.cu, kernel version 2): for each
 * sample and pixel, the thread form reads the pixel's run as 16-byte
 * granules, 32-bit pairs or single channels as mc2_torgb_vec picks from cin
 * and the base address, the warp form as 32-bit pairs at channels 2l, 2l + 1
 * of every 64 (lane l) where mc2_torgb_vec > 0; modelled on a
 * little-endian byte image of the features at several base offsets. Every
 * load must be aligned to its size and stay inside the tensor, and the
 * channels decoded (mc2_gran_elem, the low / high halves) must be the
 * pixel's channels 0..cin-1, each once, in increasing order per thread (the
 * float32 sum's order). With the halves of each word swapped, some granule
 * or pair decodes wrong. */
static int torgb_loads_ok(int n, int hw, int cin, int base, int swap)
{
    size_t len = (size_t)n * hw * cin;
    unsigned char *mem = calloc(base + 2 * len + 16, 1);
    ck_assert(mem != NULL);
    for (size_t e = 0; e < len; e++) { /* element e: value e * 7 + 3 (mod 2^15) */
        unsigned v = (unsigned)((e * 7 + 3) & 0x7fff);
        mem[base + 2 * e] = (unsigned char)(v & 0xff);
        mem[base + 2 * e + 1] = (unsigned char)(v >> 8);
    }
    int vec = mc2_torgb_vec(cin, (unsigned long long)base), ok = 1;
    for (int s = 0; s < n && ok; s++)
        for (int q = 0; q < hw && ok; q++) {
            size_t xoff = ((size_t)s * hw + q) * cin;
            /* the thread form: one thread, the channels in order */
            int next = 0;
            for (int i = 0; i < cin && ok; i += vec == 2 ? 8 : vec == 1 ? 2 : 1) {
                int cnt = vec == 2 ? 8 : vec == 1 ? 2 : 1, bytes = 2 * cnt;
                size_t addr = base + 2 * (xoff + i);
                uint32_t u[4] = {0, 0, 0, 0};
                if (addr % bytes || addr + bytes > base + 2 * len) {
                    ok = 0;
                    break;
                }
                memcpy(u, mem + addr, bytes > 2 ? bytes : 2);
                for (int e = 0; e < cnt; e++) {
                    unsigned v = cnt == 1 ? (u[0] & 0xffffu) : mc2_gran_elem(u, swap ? e ^ 1 : e);
                    if (i + e != next++ || v != (unsigned)(((xoff + i + e) * 7 + 3) & 0x7fff))
                        ok = 0;
                }
            }
            if (ok && next != cin)
                ok = 0;
            /* the warp form: lane l, channels 2l + 64j and the next */
            int pair = vec > 0, *seen = calloc(cin, sizeof *seen);
            ck_assert(seen != NULL);
            for (int l = 0; l < 32 && ok; l++)
                for (int i = 2 * l; i < cin && ok; i += 64) {
                    size_t addr = base + 2 * (xoff + i);
                    uint32_t u = 0;
                    if (pair) {
                        if (addr % 4 || addr + 4 > base + 2 * len) {
                            ok = 0;
                            break;
                        }
                        memcpy(&u, mem + addr, 4);
                        if (swap)
                            u = u >> 16 | u << 16;
                    } else {
                        memcpy(&u, mem + addr, 2);
                        if (i + 1 < cin)
                            memcpy((unsigned char *)&u + 2, mem + addr + 2, 2);
                    }
                    for (int e = 0; e < 2 && i + e < cin; e++) {
                        seen[i + e]++;
                        if (((u >> (16 * e)) & 0xffffu) != (unsigned)(((xoff + i + e) * 7 + 3) & 0x7fff))
                            ok = 0;
                    }
                }
            for (int c = 0; c < cin && ok; c++)
                ok = seen[c] == 1;
            free(seen);
        }
    free(mem);
    return ok;
}

START_TEST(test_torgb_loads)
{
    /* config-f's thread-form layers take 16-byte granules on cudaMalloc'd
     * (256-byte aligned) features, the warp-form ones 32-bit pairs */
    ck_assert_int_eq(mc2_torgb_vec(32, 256), 2);
    ck_assert_int_eq(mc2_torgb_vec(64, 0), 2);
    ck_assert_int_eq(mc2_torgb_vec(128, 512), 2);
    ck_assert_int_eq(mc2_torgb_vec(512, 0), 2);
    static const int cins[] = {8, 24, 32, 30, 13, 1, 136, 200};
    static const int bases[] = {0, 2, 4, 8, 16, 6};
    int swaps_caught = 0, swaps_tried = 0;
    for (size_t a = 0; a < sizeof cins / sizeof cins[0]; a++)
        for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
            int cin = cins[a], base = bases[b];
            ck_assert_msg(torgb_loads_ok(2, 7, cin, base, 0), "torgb loads, cin %d, base +%d", cin,
                          base);
            if (mc2_torgb_vec(cin, (unsigned long long)base) > 0) {
                swaps_tried++;
                swaps_caught += !torgb_loads_ok(2, 7, cin, base, 1);
            }
        }
    ck_assert(swaps_tried > 0);
    ck_assert_int_eq(swaps_caught, swaps_tried);
    /* each form is reached */
    ck_assert_int_eq(mc2_torgb_vec(24, 16), 2);
    ck_assert_int_eq(mc2_torgb_vec(24, 4), 1);
    ck_assert_int_eq(mc2_torgb_vec(30, 0), 1);
    ck_assert_int_eq(mc2_torgb_vec(13, 0), 0);
    ck_assert_int_eq(mc2_torgb_vec(24, 2), 0);
}
END_TEST

/* The kernels' shared memory against the devices' limits: the fused
 * up-sampling CTA (ring, constants, T tile) plus its static FIR (16 floats,
 * modconv_v2_up_kernel1) within the per-block opt-in maximum of sm_80
 * (163 KB) for every cin up to 1024, the large tile twice per SM with the
 * 1 KB a block the driver reserves (sm_80: 164 KB an SM; the
 * __launch_bounds__ minimum of 2), and every region 16-byte aligned (uint4
 * styles copies, float2 T-tile stores). The launcher raises the dynamic
 * limit to the opt-in maximum less the static bytes (more is refused by
 * cudaFuncSetAttribute). */
START_TEST(test_smem_limits)
{
    const int sm80_optin = 163 * 1024, sm80_sm = 164 * 1024, reserved = 1024, up_static = 64;
    for (int cin = 8; cin <= 1024; cin += 8) {
        mc2_smem u = mc2_smem_layout(128, 64, 3, cin, MC2_UP_OT * MC2_UP_OT, UP_TS);
        ck_assert_msg(u.total + up_static <= sm80_optin, "up, cin %d: %d bytes", cin,
                      u.total + up_static);
        mc2_smem g = mc2_smem_layout(128, 128, 4, cin, 128, 0);
        if (cin <= 512)
            ck_assert_msg(2 * (g.total + reserved) <= sm80_sm, "large, cin %d: %d bytes", cin,
                          g.total);
        mc2_smem q = mc2_smem_layout(128, 32, 4, cin, 128, 0); /* mc2_n32 */
        if (cin <= 512)
            ck_assert_msg(2 * (q.total + reserved) <= sm80_sm, "n32, cin %d: %d bytes", cin,
                          q.total);
        const mc2_smem *ls[3] = {&u, &g, &q};
        for (int j = 0; j < 3; j++) {
            const mc2_smem *l = ls[j];
            ck_assert(l->styles % 16 == 0 && l->coef % 16 == 0 && l->bias % 16 == 0 &&
                      l->noise % 16 == 0 && l->ttile % 16 == 0);
            ck_assert(l->styles >= 3 * l->stage && l->coef - l->styles >= 2 * cin &&
                      l->ttile >= l->noise && l->total >= l->ttile);
        }
    }
}
END_TEST

START_TEST(test_sim_shapes)
{
    char why[256];
    perturb = PT_NONE;
    int s = _i;
    ck_assert_msg(run_shape(&shapes[s], why, sizeof why), "%s", why);
}
END_TEST

/* Each perturbation breaks at least one shape: the simulation can fail. */
START_TEST(test_sim_detects)
{
    static const char *names[PT_COUNT] = {"none", "ldsm_a", "ldsm_b", "swz_read", "zfill_x",
                                          "zfill_c", "slot", "kpos", "style", "crow",
                                          "up_tidx", "up_tap", "nskip"};
    char why[256];
    perturb = _i;
    int broke = 0;
    for (int s = 0; s < N_SHAPES && !broke; s++)
        broke = !run_shape(&shapes[s], why, sizeof why);
    perturb = PT_NONE;
    if (broke && getenv("FS_SIM_VERBOSE"))
        fprintf(stderr, "perturbation %s caught: %s\n", names[_i], why);
    ck_assert_msg(broke, "perturbation %s went unnoticed", names[_i]);
}
END_TEST

/* The 128 x 32 tile on its own: each perturbation of a map it runs (all but
 * the up-sampling ones) breaks one of its shapes. */
START_TEST(test_sim_detects_n32)
{
    char why[256];
    if (_i == PT_UP_TIDX || _i == PT_UP_TAP)
        return;
    perturb = _i;
    int broke = 0;
    for (int s = 0; s < N_SHAPES && !broke; s++)
        if (shapes[s].up == 1 && shapes[s].tile == TILE_N32)
            broke = !run_shape(&shapes[s], why, sizeof why);
    perturb = PT_NONE;
    ck_assert_msg(broke, "perturbation %d went unnoticed by the 128 x 32 shapes", _i);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("modconv_v2_sim");
    TCase *tc = tcase_create("maps");
    tcase_add_test(tc, test_fragment_maps);
    tcase_add_test(tc, test_swizzle);
    tcase_add_test(tc, test_up_phase_cover);
    tcase_add_test(tc, test_up2_polyphase);
    tcase_add_test(tc, test_smem_limits);
    tcase_add_test(tc, test_torgb_loads);
    suite_add_tcase(s, tc);
    tc = tcase_create("cta");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_sim_shapes, 0, N_SHAPES);
    tcase_add_loop_test(tc, test_sim_detects, 1, PT_COUNT);
    tcase_add_loop_test(tc, test_sim_detects_n32, 1, PT_COUNT);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return fs_check_run(suite(), "modconv_v2_sim"); }
