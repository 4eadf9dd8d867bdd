/* The index maps of the v2 modulated convolution (kernels/modconv_v2.cu), in
 * one C-compatible header so that a plain C test on the host
 * (tests/test_modconv_v2_sim.c) runs the very functions the kernels run:
 * which 16-byte granule of which tile row a thread copies (and from where,
 * or zero-filled), the XOR swizzle of the shared-memory tiles, the row
 * address each lane hands to ldmatrix, the fragment ownership of
 * mma.m16n8k16 (PTX ISA, "Matrix Fragments for mma.m16n8k16"), the K
 * iteration over (tap, channel block) by counters, and the phase / halo maps
 * of the fused up-sampling conv. Nothing here touches memory.
 *
 * The GEMM: M = output pixels of one sample (tiles never cross samples),
 * N = cout, K = taps x cin with K index tap * cin + c, so that one K block
 * of MC2_BK channels of one tap is a contiguous 64-byte run of an NHWC pixel
 * (activations) and of a packed weight row [cout][tap][cin].
 *
 * Shared-memory tiles hold [rows][MC2_BK] 16-bit values, 64 bytes a row =
 * four 16-byte granules; granule g of row r sits at granule g ^ ((r >> 1) & 3),
 * so the eight rows one 8x8 ldmatrix reads (same logical granule) fall in
 * eight different 4-bank groups (rows 2j and 2j + 1 differ by 64 bytes = half
 * the banks; the XOR separates the pairs), and a warp's cp.async writes stay
 * conflict-free. */
#ifndef FS_KERNELS_MODCONV_V2_TILING_H
#define FS_KERNELS_MODCONV_V2_TILING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define MC2_FN __host__ __device__ __forceinline__ static
#else
#define MC2_FN static inline
#endif

#define MC2_BK 32        /* K block: channels of one tap per pipeline stage */
#define MC2_ROW_BYTES 64 /* one tile row: MC2_BK 16-bit values */
#define MC2_GRAN 8       /* 16-bit values per 16-byte granule (one cp.async) */

/* The fused up-sampling tile: 2 MC2_UP_R x 2 MC2_UP_R outputs, from a
 * T tile (the stride-2 transposed conv's output) of MC2_UP_TT^2 pixels. */
#define MC2_UP_R 8
#define MC2_UP_OT (2 * MC2_UP_R)     /* output tile side: 16 */
#define MC2_UP_TT (2 * MC2_UP_R + 3) /* T tile side with the 4-tap FIR's halo: 19 */

/* ---- shared-memory addressing ---------------------------------------------- */

/* Byte offset of granule g (0..3) of row `row` in a [rows][MC2_BK] tile. */
MC2_FN int mc2_swz(int row, int g)
{
    return row * MC2_ROW_BYTES + ((g ^ ((row >> 1) & 3)) << 4);
}

/* Granule `id` of a stage's copy work (id = thread + i * threads): the tile
 * row and the granule in it; four consecutive ids fill one row. */
MC2_FN int mc2_ld_row(int id) { return id >> 2; }
MC2_FN int mc2_ld_gran(int id) { return id & 3; }

/* ---- ldmatrix.x4 row addresses --------------------------------------------- */

/* A (m16 x k16 of a row-major [M][K] tile, K contiguous): lane l supplies
 * row l & 7 of matrix j = l >> 3; matrices 0..3 are (rows 0-7, k 0-7),
 * (rows 8-15, k 0-7), (rows 0-7, k 8-15), (rows 8-15, k 8-15), which makes
 * destination register j the mma A register a_j. kk: 0 or 16 in the K block. */
MC2_FN int mc2_ldsm_a_row(int lane) { return (lane & 7) + (lane & 8); }
MC2_FN int mc2_ldsm_a_gran(int lane, int kk) { return (kk >> 3) + (lane >> 4); }

/* B from an [N][K] tile (K contiguous: the "col" operand of mma without
 * .trans): matrices (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7),
 * (n 8-15, k 8-15): registers 0, 1 are b0, b1 of the first n8 tile, 2, 3 of
 * the second. */
MC2_FN int mc2_ldsm_b_row(int lane) { return (lane & 7) + ((lane >> 4) << 3); }
MC2_FN int mc2_ldsm_b_gran(int lane, int kk) { return (kk >> 3) + ((lane >> 3) & 1); }

/* ---- mma.m16n8k16 fragment ownership (PTX ISA) ----------------------------- */

/* A register r (0..3) of lane holds A[row][col], A[row][col + 1]. */
MC2_FN int mc2_a_row(int lane, int r) { return (lane >> 2) + ((r & 1) << 3); }
MC2_FN int mc2_a_col(int lane, int r) { return ((lane & 3) << 1) + ((r >> 1) << 3); }
/* B register r (0..1) holds B[k][n], B[k + 1][n]. */
MC2_FN int mc2_b_k(int lane, int r) { return ((lane & 3) << 1) + (r << 3); }
MC2_FN int mc2_b_n(int lane) { return lane >> 2; }
/* Accumulator i (0..3) is C[row][col]. */
MC2_FN int mc2_c_row(int lane, int i) { return (lane >> 2) + ((i >> 1) << 3); }
MC2_FN int mc2_c_col(int lane, int i) { return ((lane & 3) << 1) + (i & 1); }

/* ---- taps and the K iteration ----------------------------------------------- */

/* The taps of one axis as a launch (or a phase) iterates them: tap t < nt
 * reads input offset d0 + ds * t and weight index u0 + us * t. */
typedef struct {
    int nt, u0, us, d0, ds;
} mc2_axis;

/* A plain k x k correlation with pad k / 2. */
MC2_FN mc2_axis mc2_axis_conv(int k)
{
    mc2_axis a = {k, 0, 1, -(k / 2), 1};
    return a;
}

/* Phase p of the stride-2 transposed 3x3 conv (T[2a + u] += W[u] x[a']):
 * even T positions 2a (p = 0) take u = 0 from x[a] and u = 2 from x[a - 1];
 * odd ones 2a + 1 (p = 1) take u = 1 from x[a]. */
MC2_FN mc2_axis mc2_axis_up(int p)
{
    mc2_axis a0 = {2, 0, 2, 0, -1}, a1 = {1, 1, 0, 0, 0};
    return p ? a1 : a0;
}

/* The K loop's position: channel block c0 of tap (ty, tx), advanced by
 * counters (no division in the loop). */
typedef struct {
    int c0, ty, tx;
} mc2_kpos;

MC2_FN void mc2_kpos_next(mc2_kpos *p, int cin, int ntx)
{
    p->c0 += MC2_BK;
    if (p->c0 >= cin) {
        p->c0 = 0;
        if (++p->tx == ntx) {
            p->tx = 0;
            p->ty++;
        }
    }
}

/* Number of K iterations: every tap times the channel blocks. */
MC2_FN int mc2_k_iters(const mc2_axis *ay, const mc2_axis *ax, int cin)
{
    return ay->nt * ax->nt * ((cin + MC2_BK - 1) / MC2_BK);
}

/* ---- copy sources (cp.async src pointer and zero-fill predicate) ------------- */

/* Whether the granule at channel c of input pixel (py + dy, px + dx) exists,
 * and its element offset within one sample's NHWC activations. It does not
 * when the pixel is outside the image, c is past cin or the tile row is no
 * real pixel (rowok 0): the copy then reads nothing and writes zeros
 * (cp.async src-size 0), which is also the conv's zero padding. The vector
 * path needs cin % 8 == 0; the scalar path checks each element against cin. */
MC2_FN int mc2_a_src(int rowok, int py, int px, int dy, int dx, int c, int h, int w, int cin,
                     long long *off)
{
    int iy = py + dy, ix = px + dx;
    int ok = rowok && (unsigned)iy < (unsigned)h && (unsigned)ix < (unsigned)w && c < cin;
    *off = ok ? ((long long)iy * w + ix) * cin + c : 0;
    return ok;
}

/* The packed weight [cout][kk][cin]: row o, weight tap wtap, channel c. */
MC2_FN int mc2_b_src(int o, int cout, int wtap, int kk, int c, int cin, long long *off)
{
    int ok = o < cout && c < cin;
    *off = ok ? ((long long)o * kk + wtap) * cin + c : 0;
    return ok;
}

/* ---- the fused up-sampling tile -------------------------------------------- */

/* For an output tile starting at o0 (a multiple of MC2_UP_OT) on one axis,
 * the T tile covers T positions o0 - 1 .. o0 + 2R + 1 (the FIR with pad 1
 * reads T[o - 1 .. o + 2]). Phase p (parity of the T position) holds
 * positions 2a + p for a = mc2_up_a0 + i, i < mc2_up_cnt, and position i of
 * the phase is T-tile index mc2_up_tidx: the two phases interleave and cover
 * the 2R + 3 indices exactly once. */
MC2_FN int mc2_up_a0(int o0, int p) { return (o0 >> 1) - p; }
MC2_FN int mc2_up_cnt(int p) { return MC2_UP_R + 1 + p; }
MC2_FN int mc2_up_tidx(int i, int p) { return 2 * i + 1 - p; }

/* The output-plane index (oy * ow + ox: the noise map's and Philox's index)
 * of tile pixel i: up 1, pixel m0 + i of the oh x ow plane; up 2, pixel
 * (oy0 + i / 16, ox0 + i % 16) of the tile. -1: past the plane. */
MC2_FN long long mc2_tile_pixel(int up2, int i, int m0, int oy0, int ox0, int oh, int ow)
{
    if (!up2)
        return m0 + i < oh * ow ? (long long)(m0 + i) : -1;
    int oy = oy0 + i / MC2_UP_OT, ox = ox0 + i % MC2_UP_OT;
    return oy < oh && ox < ow ? (long long)oy * ow + ox : -1;
}

/* The FIR (upfirdn2d, pad 1, true convolution) of tile output (ly, lx): tap
 * (fy, fx) reads T-tile position mc2_up_tpos with filter element
 * f[mc2_up_fidx] of the row-major 4 x 4 filter. */
MC2_FN int mc2_up_tpos(int ly, int lx, int fy, int fx)
{
    return (ly + fy) * MC2_UP_TT + lx + fx;
}
MC2_FN int mc2_up_fidx(int fy, int fx) { return (3 - fy) * 4 + (3 - fx); }

/* The official 2x FIR up-sampling of the skip image (upfirdn2d up 2, pad
 * (2, 1), a 4-tap filter per axis, true convolution; torgb.cu) in polyphase
 * form, per axis: output o takes only the filter taps k of its parity,
 * k = mc2_up2_k(o, a) for a < 2, from source sample mc2_up2_src(o, a) (zero
 * outside the image); the 2-D weight is f[3 - ky][3 - kx]. The zero-inserted
 * plane's other taps all land on inserted zeros. */
MC2_FN int mc2_up2_k(int o, int a) { return (o & 1) + 2 * a; }
MC2_FN int mc2_up2_src(int o, int a) { return (o >> 1) - 1 + (((o & 1) + mc2_up2_k(o, a)) >> 1); }

/* ---- torgb's feature loads (torgb.cu) ------------------------------------------------ */

/* How the torgb kernels read a pixel's cin 16-bit channels from the NHWC
 * features at byte address base: 2, 16-byte granules of 8 channels (cin % 8
 * == 0 and base 16-byte aligned, so every pixel's run is); 1, 32-bit pairs
 * (cin even, base 4-byte aligned); 0, one channel at a time. */
MC2_FN int mc2_torgb_vec(int cin, unsigned long long base)
{
    if (cin % 8 == 0 && base % 16 == 0)
        return 2;
    return cin % 2 == 0 && base % 4 == 0 ? 1 : 0;
}

/* Channel e (0..7) of a granule loaded as four 32-bit words (little-endian:
 * the lower address is the low half of its word). */
MC2_FN unsigned mc2_gran_elem(const uint32_t *u, int e)
{
    return (u[e >> 1] >> ((e & 1) << 4)) & 0xffffu;
}

/* ---- dynamic shared memory of the kernels --------------------------------------- */

/* Pipeline stages, then the styles (cin rounded up to MC2_BK, 16-bit), the
 * per-channel output coefficient and bias (BN floats each), the noise of
 * the tile's output pixels (npix floats), and (fused up-sampling) the fp32
 * T tile [MC2_UP_TT^2][tstride]. Offsets in bytes, 16-byte aligned. */
typedef struct {
    int stage, a_bytes, styles, coef, bias, noise, ttile, total;
} mc2_smem;

MC2_FN mc2_smem mc2_smem_layout(int bm, int bn, int stages, int cin, int npix, int tstride)
{
    mc2_smem s;
    s.a_bytes = bm * MC2_ROW_BYTES;
    s.stage = (bm + bn) * MC2_ROW_BYTES;
    s.styles = stages * s.stage;
    int cpad = (cin + MC2_BK - 1) / MC2_BK * MC2_BK;
    s.coef = s.styles + ((cpad * 2 + 15) & ~15);
    s.bias = s.coef + bn * 4;
    s.noise = s.bias + bn * 4;
    s.ttile = s.noise + ((npix * 4 + 15) & ~15);
    s.total = s.ttile + (tstride ? MC2_UP_TT * MC2_UP_TT * tstride * 4 : 0);
    return s;
}

#endif
