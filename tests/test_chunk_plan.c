/* Check suite for the CUDA backend's chunk arithmetic (engine/chunk_plan.c),
 * which runs on the host and so is tested on every machine: the kernels'
 * multi-chunk loops themselves run on a GPU only (tests/test_cuda_backend.c
 * "chunks", with a small fs_backend_cuda_set_chunk_bytes).
 *
 * "samples": fs_chunk_samples at the edges (nothing to chunk, a sample over
 * the limit, exact fits). "modconv": the scratch layout of the v1 modconv
 * against the formulas the op used before they moved here (real config-f
 * shapes at the default 512 MiB limit), and at small limits that force
 * several chunks: every piece aligned and disjoint, the chunks covering the
 * batch once, each chunk's temporaries inside the scratch, and the total
 * growing with n (the reserve op sizes the scratch at the largest batch and
 * relies on it). "conv2d": the down-sampling geometry against
 * engine/cpu/conv2d.c's formulas and its chunks. */
#include "check_util.h"

#include <stdint.h>

#include "../engine/chunk_plan.h"

#define MIB ((size_t)1 << 20)

START_TEST(test_samples_edges)
{
    ck_assert_int_eq(fs_chunk_samples(0, 5, 100), 5);        /* nothing per sample */
    ck_assert_int_eq(fs_chunk_samples(1000, 5, 100), 1);     /* one sample over the limit */
    ck_assert_int_eq(fs_chunk_samples(100, 5, 100), 1);
    ck_assert_int_eq(fs_chunk_samples(100, 5, 299), 2);
    ck_assert_int_eq(fs_chunk_samples(100, 5, 300), 3);
    ck_assert_int_eq(fs_chunk_samples(100, 5, 100000), 5);   /* capped at n */
    ck_assert_int_eq(fs_chunk_samples(100, 0, 1000), 0);
    ck_assert_int_eq(fs_chunk_samples(100, -3, 1000), 0);
    ck_assert_int_eq(fs_chunk_count(7, 3), 3);
    ck_assert_int_eq(fs_chunk_count(6, 3), 2);
    ck_assert_int_eq(fs_chunk_count(1, 3), 1);
    ck_assert_int_eq(fs_chunk_count(0, 3), 0);
    ck_assert_uint_eq(fs_chunk_align(0), 0);
    ck_assert_uint_eq(fs_chunk_align(1), 256);
    ck_assert_uint_eq(fs_chunk_align(256), 256);
    ck_assert_uint_eq(fs_chunk_align(257), 512);
}
END_TEST

/* The layout as kernels/modconv.cu computed it inline before chunk_plan.c
 * (FS_CUDA_CHUNK_BYTES fixed), written out again as the reference. */
static size_t old_align(size_t b) { return (b + 255) & ~(size_t)255; }

static void old_modconv_layout(const fs_modconv_chunk_in *a, size_t limit, int *chunk_out,
                               size_t off[5], size_t *total)
{
    int oh = a->h * a->up, ow = a->w * a->up, th = 2 * a->h + 1, tw = 2 * a->w + 1;
    size_t plane = (size_t)oh * ow;
    size_t per = (a->random ? plane * sizeof(float) : 0) +
                 (a->up == 2 ? (size_t)a->cout * th * tw * sizeof(float) : 0);
    int chunk = per ? (int)(limit / per) : a->n;
    chunk = chunk < 1 ? 1 : chunk > a->n ? a->n : chunk;
    size_t off_d = 0;
    size_t off_seeds = off_d + old_align(a->need_dcoef ? (size_t)a->n * a->cout * sizeof(float) : 0);
    size_t off_norm = off_seeds + old_align(a->random ? (size_t)a->n * sizeof(uint64_t) : 0);
    size_t norm_floats = a->prenorm ? 2 * (size_t)a->cout + (size_t)a->n * a->cin + a->n : 0;
    size_t off_noise = off_norm + old_align(norm_floats * sizeof(float));
    size_t off_t = off_noise + old_align(a->random ? (size_t)chunk * plane * sizeof(float) : 0);
    size_t t = off_t + (a->up == 2 ? (size_t)chunk * a->cout * th * tw * sizeof(float) : 0);
    *chunk_out = chunk;
    off[0] = off_d, off[1] = off_seeds, off[2] = off_norm, off[3] = off_noise, off[4] = off_t;
    *total = t ? t : 1;
}

static void expect_as_before(const fs_modconv_chunk_in *in, size_t limit)
{
    fs_modconv_chunk_plan p;
    fs_modconv_chunk_plan_make(in, limit, &p);
    int chunk;
    size_t off[5], total;
    old_modconv_layout(in, limit, &chunk, off, &total);
    ck_assert_int_eq(p.chunk, chunk);
    ck_assert_uint_eq(p.off_dcoef, off[0]);
    ck_assert_uint_eq(p.off_seeds, off[1]);
    ck_assert_uint_eq(p.off_norm, off[2]);
    ck_assert_uint_eq(p.off_noise, off[3]);
    ck_assert_uint_eq(p.off_t, off[4]);
    ck_assert_uint_eq(p.total, total);
}

/* config-f layers (channels 512 up to 64^2, then 256, 128, 64, 32) at batch 32 */
START_TEST(test_modconv_matches_before)
{
    static const int layers[][4] = {/* cin, cout, h (input side), up */
                                    {512, 512, 4, 1},   {512, 512, 4, 2},   {512, 512, 64, 1},
                                    {512, 256, 64, 2},  {256, 128, 128, 2}, {128, 64, 256, 2},
                                    {64, 32, 512, 2},   {32, 32, 1024, 1},  {32, 3, 1024, 1}};
    for (size_t i = 0; i < sizeof layers / sizeof *layers; i++)
        for (int flags = 0; flags < 8; flags++)
            for (int n = 1; n <= 32; n += 31) {
                fs_modconv_chunk_in in = {n, layers[i][0], layers[i][1], layers[i][2],
                                          layers[i][2], layers[i][3], flags & 1, (flags >> 1) & 1,
                                          (flags >> 2) & 1};
                expect_as_before(&in, (size_t)512 * MIB);
                expect_as_before(&in, 3 * MIB + 17);
            }
}
END_TEST

/* The invariants at limits that force several chunks, for many shapes. */
START_TEST(test_modconv_several_chunks)
{
    uint64_t r = 0x1234567;
    int multi = 0;
    for (int it = 0; it < 4000; it++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        fs_modconv_chunk_in in = {.n = 1 + (int)(r % 40), .cin = 1 + (int)((r >> 8) % 70),
                                  .cout = 1 + (int)((r >> 16) % 70), .h = 1 + (int)((r >> 24) % 20),
                                  .up = 1 + (int)((r >> 32) & 1), .need_dcoef = (int)((r >> 33) & 1),
                                  .random = (int)((r >> 34) & 1), .prenorm = (int)((r >> 35) & 1)};
        in.w = 1 + (int)((r >> 40) % 20);
        size_t limit = 1 + (size_t)((r >> 44) % (256 * 1024));
        fs_modconv_chunk_plan p;
        fs_modconv_chunk_plan_make(&in, limit, &p);
        expect_as_before(&in, limit);
        size_t plane = (size_t)in.h * in.up * in.w * in.up;
        size_t tplane = (size_t)(2 * in.h + 1) * (2 * in.w + 1);
        size_t noise_ps = in.random ? plane * 4 : 0, t_ps = in.up == 2 ? in.cout * tplane * 4 : 0;
        ck_assert_uint_eq(p.per_sample, noise_ps + t_ps);
        /* the chunk: within the limit unless one sample alone exceeds it, maximal, within n */
        ck_assert_int_ge(p.chunk, 1);
        ck_assert_int_le(p.chunk, in.n);
        if (p.per_sample) {
            ck_assert(p.chunk == 1 || (size_t)p.chunk * p.per_sample <= limit);
            ck_assert(p.chunk == in.n || (size_t)(p.chunk + 1) * p.per_sample > limit);
        } else {
            ck_assert_int_eq(p.chunk, in.n);
        }
        multi += p.n_chunks > 1;
        /* the chunks cover 0..n once, as the op's loop walks them */
        int covered = 0, chunks = 0;
        for (int s0 = 0; s0 < in.n; s0 += p.chunk, chunks++)
            covered += in.n - s0 < p.chunk ? in.n - s0 : p.chunk;
        ck_assert_int_eq(covered, in.n);
        ck_assert_int_eq(chunks, p.n_chunks);
        /* pieces: aligned, in order, each as large as it must be, inside total */
        size_t offs[] = {p.off_dcoef, p.off_seeds, p.off_norm, p.off_noise, p.off_t};
        for (int k = 0; k < 5; k++)
            ck_assert_uint_eq(offs[k] % FS_CHUNK_ALIGN, 0);
        ck_assert_uint_ge(p.off_seeds - p.off_dcoef, in.need_dcoef ? (size_t)in.n * in.cout * 4 : 0);
        ck_assert_uint_ge(p.off_norm - p.off_seeds, in.random ? (size_t)in.n * 8 : 0);
        ck_assert_uint_ge(p.off_noise - p.off_norm, p.norm_floats * 4);
        ck_assert_uint_eq(p.norm_floats,
                          in.prenorm ? 2 * (size_t)in.cout + (size_t)in.n * in.cin + in.n : 0);
        ck_assert_uint_ge(p.off_t - p.off_noise, (size_t)p.chunk * noise_ps);
        ck_assert_uint_ge(p.total, p.off_t + (size_t)p.chunk * t_ps);
        ck_assert_uint_ge(p.total, 1);
        /* monotone in n: a reservation at the largest batch covers the smaller ones */
        if (in.n > 1) {
            fs_modconv_chunk_in less = in;
            less.n = 1 + (int)((r >> 50) % (uint64_t)(in.n - 1));
            fs_modconv_chunk_plan q;
            fs_modconv_chunk_plan_make(&less, limit, &q);
            ck_assert_uint_le(q.total, p.total);
        }
    }
    ck_assert_int_gt(multi, 1000); /* the limits did force several chunks */
}
END_TEST

/* engine/cpu/conv2d.c down_geometry, and its output side */
START_TEST(test_conv2d_down)
{
    static const int cases[][5] = {/* cin, h, w, k, fir_len */
                                   {3, 256, 256, 1, 4}, {128, 256, 256, 3, 4}, {512, 8, 8, 3, 4},
                                   {7, 9, 5, 3, 4},     {7, 9, 5, 1, 4},       {4, 6, 6, 3, 2},
                                   {4, 1, 1, 3, 4},     {4, 2, 2, 5, 4}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int cin = cases[i][0], h = cases[i][1], w = cases[i][2], k = cases[i][3], fl = cases[i][4];
        int p0 = k / 2 + (fl - 2 + 1) / 2, p1 = k / 2 + (fl - 2) / 2, fdown = k == 1 ? 2 : 1;
        int fh = (h + p0 + p1 - fl) / fdown + 1, fw = (w + p0 + p1 - fl) / fdown + 1;
        int stride = k == 1 ? 1 : 2, oh = (fh - k) / stride + 1, ow = (fw - k) / stride + 1;
        for (int n = 1; n <= 9; n += 4) {
            size_t per = (size_t)cin * (fh > 0 ? fh : 0) * (fw > 0 ? fw : 0) * 4;
            size_t limits[] = {(size_t)512 * MIB, per ? 2 * per + 1 : 1, 1};
            for (int li = 0; li < 3; li++) {
                fs_conv2d_down_plan d;
                fs_conv2d_down_plan_make(n, cin, h, w, k, fl, limits[li], &d);
                ck_assert_int_eq(d.p0, p0);
                ck_assert_int_eq(d.p1, p1);
                ck_assert_int_eq(d.fdown, fdown);
                ck_assert_int_eq(d.fh, fh);
                ck_assert_int_eq(d.fw, fw);
                ck_assert_int_eq(d.stride, stride);
                ck_assert_int_eq(d.oh, oh);
                ck_assert_int_eq(d.ow, ow);
                ck_assert_int_eq(d.empty, fh <= 0 || fw <= 0 || oh <= 0 || ow <= 0);
                if (d.empty)
                    continue;
                ck_assert_uint_eq(d.per_sample, per);
                int want = li == 0 ? n : li == 1 ? (n < 2 ? n : 2) : 1;
                ck_assert_int_eq(d.chunk, want);
                ck_assert_int_eq(d.n_chunks, (n + want - 1) / want);
                ck_assert_uint_eq(d.total, per * (size_t)want);
            }
        }
    }
    /* the StyleGAN2 discriminator's 3x3 down conv: the filtered side h + 1, out h / 2 */
    fs_conv2d_down_plan d;
    fs_conv2d_down_plan_make(32, 64, 128, 128, 3, 4, 16 * MIB, &d);
    ck_assert_int_eq(d.fh, 129);
    ck_assert_int_eq(d.oh, 64);
    ck_assert_int_eq(d.chunk, 3); /* 16 MiB / (64 x 129^2 floats) */
    ck_assert_int_gt(d.n_chunks, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("chunk_plan");
    TCase *tc = tcase_create("samples");
    tcase_add_test(tc, test_samples_edges);
    suite_add_tcase(s, tc);
    TCase *mc = tcase_create("modconv");
    tcase_add_test(mc, test_modconv_matches_before);
    tcase_add_test(mc, test_modconv_several_chunks);
    suite_add_tcase(s, mc);
    TCase *cv = tcase_create("conv2d");
    tcase_add_test(cv, test_conv2d_down);
    suite_add_tcase(s, cv);
    return fs_check_run(s, "chunk_plan");
}
