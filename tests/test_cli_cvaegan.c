/* The CVAE-GAN end to end on the command line: `generate` (--z/--c, seeds
 * with --identity, --mix with given or seeded weights), `encode` and `score`
 * against the PyTorch reference outputs of tests/fixtures/cvaegan/tiny (each
 * to a relative L2 error <= 1e-5), results independent of --batch, the labels
 * files, PNG directories (resized), the resize rules themselves, and one-line
 * errors with exit status 2 that leave no files behind. */
#define CLI_TMP_PREFIX "/tmp/fs_cvae"
#include "cli_util.h"

#include <stdarg.h>
#include <sys/stat.h>

#include "../engine/image_io.h"
#include "../engine/image_resize.h"
#include "../engine/rng.h"

#define CV FS_FIXTURES "/cvaegan/tiny"
#define NET "--network " CV "/cvaegan.pt "
#define SG2NET "--network " FS_FIXTURES "/stylegan2/tiny/network-snapshot.pkl "
#define TOL 1e-5
#define ZD 32
#define NID 5
#define RES 128
#define IMG_LEN (3 * RES * RES)

/* ---- helpers ---------------------------------------------------------------- */

static arr load(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static arr load(const char *fmt, ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    return load_f32(path);
}

static void expect_close(const arr *got, const char *golden)
{
    arr want = load(CV "/%s", golden);
    ck_assert_int_eq(got->ndim, want.ndim);
    for (int d = 0; d < want.ndim; d++)
        ck_assert_int_eq(got->shape[d], want.shape[d]);
    double e = fs_check_rel_l2(got->data, want.data, want.numel);
    ck_assert_msg(e <= TOL, "%s: relative L2 error %.3g > %.0e", golden, e, TOL);
    free(want.data);
}

static void assert_same(const arr *a, const arr *b, const char *what)
{
    ck_assert_uint_eq(a->numel, b->numel);
    ck_assert_msg(memcmp(a->data, b->data, a->numel * sizeof(float)) == 0, "%s differ", what);
}

/* float [n, 3, R, R] in [-1, 1] -> PNGs dir/NAME%02d.png, each pixel repeated
 * rep x rep times (so an area downscale by rep gives the pixels back). */
static void write_pngs(const char *dir, const float *img, int n, int rep, uint8_t *u8_out)
{
    uint8_t *u8 = malloc((size_t)IMG_LEN);
    int S = RES * rep;
    uint8_t *big = malloc((size_t)S * S * 3);
    mkdir(dir, 0755);
    for (int i = 0; i < n; i++) {
        fs_image_nchw_f32_to_nhwc_u8(img + (size_t)i * IMG_LEN, 1, 3, RES, RES, u8);
        if (u8_out)
            memcpy(u8_out + (size_t)i * IMG_LEN, u8, IMG_LEN);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                memcpy(big + ((size_t)y * S + x) * 3, u8 + ((size_t)(y / rep) * RES + x / rep) * 3,
                       3);
        char p[600];
        snprintf(p, sizeof p, "%s/face%02d.png", dir, i);
        ck_assert_int_eq(fs_png_write_rgb8(p, big, S, S, 3), FS_OK);
    }
    free(u8);
    free(big);
}

/* ---- resize --------------------------------------------------------------------- */

START_TEST(test_resize_rules)
{
    float out[16];
    /* equal size: a copy */
    const float a3[3] = {1, 2, 4};
    ck_assert_int_eq(fs_image_resize_plane(a3, 3, 1, out, 3, 1), FS_OK);
    ck_assert_mem_eq(out, a3, sizeof a3);
    /* integer shrink: block means */
    const float a4[4] = {1, 3, 10, 20};
    ck_assert_int_eq(fs_image_resize_plane(a4, 4, 1, out, 2, 1), FS_OK);
    ck_assert_float_eq(out[0], 2.0f);
    ck_assert_float_eq(out[1], 15.0f);
    /* 3 -> 2: overlap weights (1, 1/2) / 1.5 and (1/2, 1) / 1.5 */
    ck_assert_int_eq(fs_image_resize_plane(a3, 3, 1, out, 2, 1), FS_OK);
    ck_assert_float_eq_tol(out[0], (1.0f + 0.5f * 2.0f) / 1.5f, 1e-6f);
    ck_assert_float_eq_tol(out[1], (0.5f * 2.0f + 4.0f) / 1.5f, 1e-6f);
    /* 2 -> 4: bilinear, half-pixel centres, edges clamped (torch's values) */
    const float a2[2] = {0, 8};
    ck_assert_int_eq(fs_image_resize_plane(a2, 2, 1, out, 4, 1), FS_OK);
    ck_assert_float_eq(out[0], 0.0f);
    ck_assert_float_eq(out[1], 2.0f);
    ck_assert_float_eq(out[2], 6.0f);
    ck_assert_float_eq(out[3], 8.0f);
    /* columns the same way: [4, 1] -> [2, 1] */
    ck_assert_int_eq(fs_image_resize_plane(a4, 1, 4, out, 1, 2), FS_OK);
    ck_assert_float_eq(out[0], 2.0f);
    ck_assert_float_eq(out[1], 15.0f);
    /* 2-D 4x4 -> 2x2: means of the 2x2 blocks */
    float g[16];
    for (int i = 0; i < 16; i++)
        g[i] = (float)i;
    ck_assert_int_eq(fs_image_resize_plane(g, 4, 4, out, 2, 2), FS_OK);
    ck_assert_float_eq(out[0], 2.5f);  /* 0 1 4 5 */
    ck_assert_float_eq(out[1], 4.5f);  /* 2 3 6 7 */
    ck_assert_float_eq(out[2], 10.5f);
    ck_assert_float_eq(out[3], 12.5f);
    /* one axis shrinks while the other grows */
    ck_assert_int_eq(fs_image_resize_plane(a4, 4, 1, out, 2, 3), FS_OK);
    for (int y = 0; y < 3; y++) {
        ck_assert_float_eq(out[y * 2], 2.0f);
        ck_assert_float_eq(out[y * 2 + 1], 15.0f);
    }
    /* constant images stay constant */
    float c9[81], c4[16];
    for (int i = 0; i < 81; i++)
        c9[i] = 7.0f;
    ck_assert_int_eq(fs_image_resize_plane(c9, 9, 9, c4, 4, 4), FS_OK);
    for (int i = 0; i < 16; i++)
        ck_assert_float_eq_tol(c4[i], 7.0f, 1e-5f);
    /* bad sizes */
    ck_assert_int_eq(fs_image_resize_plane(a4, 0, 1, out, 2, 1), FS_ERR_ARG);
    ck_assert_int_eq(fs_image_resize_plane(a4, 4, 1, out, 2, 0), FS_ERR_ARG);
    ck_assert_int_eq(fs_image_resize_plane(a4, FS_RESIZE_MAX_DIM + 1, 1, out, 2, 1), FS_ERR_ARG);
}
END_TEST

START_TEST(test_resize_u8)
{
    /* at the same size: exactly fs_image_hwc_u8_to_chw_f32 */
    uint8_t px[5 * 4 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 41 + 7);
    float a[60], b[60];
    fs_image_hwc_u8_to_chw_f32(px, 4, 5, 3, a);
    ck_assert_int_eq(fs_image_u8_to_chw_f32_resized(px, 5, 4, 3, b, 5, 4), FS_OK);
    ck_assert_mem_eq(a, b, sizeof a);
    /* 2x2 -> 1x1: the mean, then / 127.5 - 1 */
    const uint8_t q[12] = {0, 10, 255, 100, 20, 255, 50, 30, 255, 250, 40, 255};
    float o[3];
    ck_assert_int_eq(fs_image_u8_to_chw_f32_resized(q, 2, 2, 3, o, 1, 1), FS_OK);
    ck_assert_float_eq_tol(o[0], 100.0f / 127.5f - 1.0f, 1e-6f);
    ck_assert_float_eq_tol(o[1], 25.0f / 127.5f - 1.0f, 1e-6f);
    ck_assert_float_eq(o[2], 1.0f);
}
END_TEST

/* ---- generate ------------------------------------------------------------------ */

/* The reference: G(z, c) for the fixture's z and c (one-hot and mixed rows). */
START_TEST(test_generate_z_c)
{
    char *d = make_tmpdir();
    run_ok("generate " NET "--z " CV "/z.npy --c " CV "/c.npy --outdir %s/out "
           "--save-raw %s/raw.npy --batch 3 -q", d, d);
    arr raw = load("%s/raw.npy", d);
    expect_close(&raw, "gen.npy");
    /* the labels next to the raw images: the --c rows */
    arr lab = load("%s/raw.labels.npy", d), c = load(CV "/c.npy");
    ck_assert_int_eq(lab.ndim, 2);
    ck_assert_int_eq(lab.shape[0], 4);
    ck_assert_int_eq(lab.shape[1], NID);
    assert_same(&lab, &c, "labels and --c");
    /* the PNGs are the raw floats through the uint8 rule */
    char p[512], dir[512];
    snprintf(dir, sizeof dir, "%s/out", d);
    ck_assert_int_eq(count_entries(dir), 4);
    uint8_t *want = malloc(IMG_LEN);
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/out/img%04d.png", d, i);
        uint8_t *rgb;
        int w, h;
        ck_assert_int_eq(fs_png_read_rgb(p, &rgb, &w, &h), FS_OK);
        ck_assert_int_eq(w, RES);
        ck_assert_int_eq(h, RES);
        fs_image_nchw_f32_to_nhwc_u8(raw.data + (size_t)i * IMG_LEN, 1, 3, RES, RES, want);
        ck_assert_mem_eq(rgb, want, IMG_LEN);
        free(rgb);
    }
    free(want);
    /* a converted .fsw gives the same floats */
    run_ok("convert " CV "/cvaegan.pt -o %s/m.fsw", d);
    run_ok("generate --network %s/m.fsw --z " CV "/z.npy --c " CV "/c.npy --outdir %s/out2 "
           "--save-raw %s/raw2.npy -q", d, d, d);
    arr raw2 = load("%s/raw2.npy", d);
    assert_same(&raw, &raw2, ".pt and .fsw outputs");
    free(raw.data);
    free(raw2.data);
    free(lab.data);
    free(c.data);
    remove_tree(d);
    free(d);
}
END_TEST

/* Seeds: z = RandomState(seed).randn(1, z_dim) and a one-hot label; the same
 * floats and PNG bytes for every --batch; equal to --z of those latents. */
START_TEST(test_generate_seeds_identity)
{
    char *d = make_tmpdir();
    static const int batches[3] = {1, 3, 7};
    for (int b = 0; b < 3; b++)
        run_ok("generate " NET "--seeds 0-4,42 --identity 2 --batch %d --outdir %s/b%d "
               "--save-raw %s/raw%d.npy --save-labels %s/lab%d.npy -q", batches[b], d, b, d, b,
               d, b);
    static const int seeds[6] = {0, 1, 2, 3, 4, 42};
    arr ref = load("%s/raw0.npy", d);
    ck_assert_int_eq(ref.shape[0], 6);
    for (int b = 1; b < 3; b++) {
        arr x = load("%s/raw%d.npy", d, b);
        assert_same(&ref, &x, "--batch outputs");
        free(x.data);
        for (int i = 0; i < 6; i++) {
            char p[512], q[512];
            snprintf(p, sizeof p, "%s/b0/seed%04d.png", d, seeds[i]);
            snprintf(q, sizeof q, "%s/b%d/seed%04d.png", d, b, seeds[i]);
            ck_assert_msg(files_equal(p, q), "%s != %s", p, q);
        }
    }
    /* the labels: one-hot 2, in both files */
    arr lab = load("%s/lab0.npy", d), lab2 = load("%s/raw0.labels.npy", d);
    assert_same(&lab, &lab2, "--save-labels and X.labels.npy");
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < NID; k++)
            ck_assert_float_eq(lab.data[i * NID + k], k == 2 ? 1.0f : 0.0f);
    /* numpy's z for the same seeds, through --z */
    float z[6 * ZD];
    for (int i = 0; i < 6; i++) {
        fs_np_random r;
        fs_np_random_seed(&r, (uint32_t)seeds[i]);
        for (int j = 0; j < ZD; j++)
            z[i * ZD + j] = (float)fs_np_random_gauss(&r);
    }
    ck_assert_float_eq_tol(z[0], 1.76405235f, 1e-7f); /* RandomState(0).randn() */
    ck_assert_float_eq_tol(z[1], 0.40015721f, 1e-7f);
    char p[512];
    snprintf(p, sizeof p, "%s/z.npy", d);
    save_f32(p, 2, (const int64_t[]){6, ZD}, z);
    run_ok("generate " NET "--z %s --identity 2 --outdir %s/zz --save-raw %s/rawz.npy -q", p, d,
           d);
    arr rz = load("%s/rawz.npy", d);
    assert_same(&ref, &rz, "--seeds and --z of the seeds' z");
    /* another identity is another image */
    run_ok("generate " NET "--seeds 0 --identity 3 --outdir %s/id3 --save-raw %s/raw3.npy -q", d,
           d);
    arr r3 = load("%s/raw3.npy", d);
    ck_assert(fs_check_rel_l2(r3.data, ref.data, IMG_LEN) > 1e-4);
    free(r3.data);
    free(rz.data);
    free(lab.data);
    free(lab2.data);
    free(ref.data);
    remove_tree(d);
    free(d);
}
END_TEST

/* --mix with weights: the normalised convex combination, equal to the same
 * row given with --c. */
START_TEST(test_generate_mix_weights)
{
    char *d = make_tmpdir();
    run_ok("generate " NET "--z " CV "/z.npy --mix 3,1 --mix-weights 3,1 --outdir %s/a "
           "--save-labels %s/la.npy --save-raw %s/ra.npy -q", d, d, d);
    arr la = load("%s/la.npy", d);
    ck_assert_int_eq(la.shape[0], 4);
    for (int i = 0; i < 4; i++) {
        static const float want[NID] = {0, 0.25f, 0, 0.75f, 0};
        ck_assert_mem_eq(la.data + i * NID, want, sizeof want);
    }
    run_ok("generate " NET "--z " CV "/z.npy --mix 0,1,2 --mix-weights 0.5,0.3,0.2 "
           "--outdir %s/b --save-labels %s/lb.npy --save-raw %s/rb.npy -q", d, d, d);
    arr lb = load("%s/lb.npy", d);
    static const float wb[NID] = {0.5f, 0.3f, 0.2f, 0, 0};
    ck_assert_mem_eq(lb.data, wb, sizeof wb);
    /* row 3 of c.npy is that mix: the same image as the reference's */
    arr rb = load("%s/rb.npy", d), gen = load(CV "/gen.npy");
    double e = fs_check_rel_l2(rb.data + 3 * IMG_LEN, gen.data + 3 * IMG_LEN, IMG_LEN);
    ck_assert_msg(e <= TOL, "mixed row: relative L2 %.3g", e);
    /* and --c with the label row gives the same floats */
    char p[512];
    snprintf(p, sizeof p, "%s/c1.npy", d);
    save_f32(p, 2, (const int64_t[]){1, NID}, wb);
    run_ok("generate " NET "--z " CV "/z.npy --c %s --outdir %s/c --save-raw %s/rc.npy -q", p, d,
           d);
    arr rc = load("%s/rc.npy", d);
    assert_same(&rb, &rc, "--mix and --c of its label");
    free(la.data);
    free(lb.data);
    free(rb.data);
    free(rc.data);
    free(gen.data);
    remove_tree(d);
    free(d);
}
END_TEST

/* --mix without weights: per image, after its z, numpy's
 * e = RandomState(seed).standard_exponential(k), weights = e / e.sum();
 * values from numpy 2.4. */
START_TEST(test_generate_mix_seeded)
{
    char *d = make_tmpdir();
    run_ok("generate " NET "--seeds 0,1,42 --mix 1,3,4 --outdir %s/a --save-labels %s/la.npy "
           "--save-raw %s/ra.npy -q", d, d, d);
    run_ok("generate " NET "--seeds 42,1 --mix 1,3,4 --batch 1 --outdir %s/b "
           "--save-labels %s/lb.npy --save-raw %s/rb.npy -q", d, d, d);
    static const float want[3][3] = {
        {0x1.9bb696p-3f, 0x1.09780ap-2f, 0x1.145656p-1f},  /* seed 0 */
        {0x1.cbff40p-7f, 0x1.a16c50p-1f, 0x1.5d8eccp-3f},  /* seed 1 */
        {0x1.3a12bcp-3f, 0x1.9c5ee4p-1f, 0x1.51c6c6p-5f},  /* seed 42 */
    };
    arr la = load("%s/la.npy", d), lb = load("%s/lb.npy", d);
    for (int i = 0; i < 3; i++) {
        const float *row = la.data + i * NID;
        ck_assert_float_eq(row[0], 0.0f);
        ck_assert_float_eq(row[2], 0.0f);
        ck_assert_float_eq(row[1], want[i][0]);
        ck_assert_float_eq(row[3], want[i][1]);
        ck_assert_float_eq(row[4], want[i][2]);
        ck_assert_float_eq_tol(row[1] + row[3] + row[4], 1.0f, 1e-6f);
    }
    /* reproducible per seed, whatever the list and the batching */
    ck_assert_mem_eq(lb.data, la.data + 2 * NID, NID * sizeof(float));
    ck_assert_mem_eq(lb.data + NID, la.data + NID, NID * sizeof(float));
    arr ra = load("%s/ra.npy", d), rb = load("%s/rb.npy", d);
    ck_assert(memcmp(rb.data, ra.data + 2 * IMG_LEN, IMG_LEN * sizeof(float)) == 0);
    ck_assert(memcmp(rb.data + IMG_LEN, ra.data + IMG_LEN, IMG_LEN * sizeof(float)) == 0);
    free(la.data);
    free(lb.data);
    free(ra.data);
    free(rb.data);
    remove_tree(d);
    free(d);
}
END_TEST

/* ---- encode ---------------------------------------------------------------------- */

START_TEST(test_encode_eps)
{
    char *d = make_tmpdir();
    run_ok("encode " NET "--images " CV "/x.npy --eps " CV "/eps.npy --save-raw %s/z.npy "
           "--save-mu %s/mu.npy --save-logvar %s/lv.npy --batch 3 -q", d, d, d);
    arr z = load("%s/z.npy", d), mu = load("%s/mu.npy", d), lv = load("%s/lv.npy", d);
    arr eps = load(CV "/eps.npy");
    expect_close(&mu, "mu.npy");
    expect_close(&lv, "logvar.npy");
    ck_assert_int_eq(z.ndim, 2);
    ck_assert_int_eq(z.shape[0], 4);
    ck_assert_int_eq(z.shape[1], ZD);
    float *want = malloc(z.numel * sizeof *want);
    for (size_t i = 0; i < z.numel; i++)
        want[i] = mu.data[i] + expf(0.5f * lv.data[i]) * eps.data[i];
    ck_assert_rel_l2_le(z.data, want, z.numel, 1e-6);
    /* the reconstruction: generate from that z with the fixture's labels */
    run_ok("generate " NET "--z %s/z.npy --c " CV "/c.npy --outdir %s/rec --save-raw %s/rec.npy "
           "-q", d, d, d);
    arr rec = load("%s/rec.npy", d);
    expect_close(&rec, "recon.npy");
    free(rec.data);
    free(want);
    free(z.data);
    free(mu.data);
    free(lv.data);
    free(eps.data);
    remove_tree(d);
    free(d);
}
END_TEST

/* --mean is mu; the default eps is fs_philox_normal(seed, image, component),
 * independent of the batching; another --seed gives another z. */
START_TEST(test_encode_mean_and_seeded)
{
    char *d = make_tmpdir();
    run_ok("encode " NET "--images " CV "/x.npy --mean --save-raw %s/zm.npy --save-mu %s/mu.npy "
           "--save-logvar %s/lv.npy -q", d, d, d);
    run_ok("encode " NET "--images " CV "/x.npy --save-raw %s/z1.npy --batch 1 -q", d);
    run_ok("encode " NET "--images " CV "/x.npy --save-raw %s/z3.npy --seed 0 --batch 3 -q", d);
    run_ok("encode " NET "--images " CV "/x.npy --save-raw %s/z7.npy --seed 7 -q", d);
    arr zm = load("%s/zm.npy", d), mu = load("%s/mu.npy", d), lv = load("%s/lv.npy", d);
    arr z1 = load("%s/z1.npy", d), z3 = load("%s/z3.npy", d), z7 = load("%s/z7.npy", d);
    assert_same(&zm, &mu, "--mean z and mu");
    assert_same(&z1, &z3, "--batch 1 and --batch 3 z");
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < ZD; j++) {
            size_t k = (size_t)i * ZD + (size_t)j;
            float e = fs_philox_normal(0, (uint32_t)i, (uint64_t)j);
            float want = mu.data[k] + expf(0.5f * lv.data[k]) * e;
            ck_assert_float_eq_tol(z1.data[k], want, 1e-6f * (1.0f + fabsf(want)));
        }
    ck_assert(fs_check_rel_l2(z7.data, z1.data, z1.numel) > 1e-3);
    free(zm.data);
    free(mu.data);
    free(lv.data);
    free(z1.data);
    free(z3.data);
    free(z7.data);
    remove_tree(d);
    free(d);
}
END_TEST

/* A PNG directory: name order, x / 127.5 - 1, resized to R x R. 256 x 256
 * PNGs of 2 x 2 blocks encode exactly as their 128 x 128 pixels. */
START_TEST(test_encode_png_dir)
{
    char *d = make_tmpdir();
    arr x = load(CV "/x.npy");
    uint8_t *u8 = malloc(4 * IMG_LEN);
    char p128[512], p256[512], npy[512];
    snprintf(p128, sizeof p128, "%s/png128", d);
    snprintf(p256, sizeof p256, "%s/png256", d);
    write_pngs(p128, x.data, 4, 1, u8);
    write_pngs(p256, x.data, 4, 2, NULL);
    /* the pixels as the .npy a user would make: CHW, v / 127.5 - 1 */
    float *img = malloc(4 * IMG_LEN * sizeof *img);
    for (int i = 0; i < 4; i++)
        fs_image_hwc_u8_to_chw_f32(u8 + (size_t)i * IMG_LEN, RES, RES, 3,
                                   img + (size_t)i * IMG_LEN);
    snprintf(npy, sizeof npy, "%s/px.npy", d);
    save_f32(npy, 4, (const int64_t[]){4, 3, RES, RES}, img);
    run_ok("encode " NET "--images %s --mean --save-raw %s/a.npy -q", p128, d);
    run_ok("encode " NET "--images %s --mean --save-raw %s/b.npy -q", p256, d);
    run_ok("encode " NET "--images %s --mean --save-raw %s/c.npy -q", npy, d);
    arr a = load("%s/a.npy", d), b = load("%s/b.npy", d), c = load("%s/c.npy", d);
    assert_same(&a, &c, "PNG directory and .npy of its pixels");
    assert_same(&a, &b, "256 px PNGs (area 2x) and 128 px PNGs");
    /* the 8-bit pixels are close to the float images: mu close to the golden */
    arr mu = load(CV "/mu.npy");
    double e = fs_check_rel_l2(a.data, mu.data, a.numel);
    ck_assert_msg(e < 0.05, "mu from 8-bit pixels: relative L2 %.3g", e);
    free(mu.data);
    /* upscaled input (64 px -> 128 bilinear) runs too */
    char p64[512];
    snprintf(p64, sizeof p64, "%s/png64", d);
    mkdir(p64, 0755);
    uint8_t small[64 * 64 * 3];
    for (size_t i = 0; i < sizeof small; i++)
        small[i] = (uint8_t)(i * 13);
    char f[600];
    snprintf(f, sizeof f, "%s/a.png", p64);
    ck_assert_int_eq(fs_png_write_rgb8(f, small, 64, 64, 3), FS_OK);
    run_ok("encode " NET "--images %s --save-raw %s/s.npy -q", p64, d);
    arr s = load("%s/s.npy", d);
    ck_assert_int_eq(s.shape[0], 1);
    ck_assert_int_eq(s.shape[1], ZD);
    free(s.data);
    free(a.data);
    free(b.data);
    free(c.data);
    free(img);
    free(u8);
    free(x.data);
    remove_tree(d);
    free(d);
}
END_TEST

/* ---- score ------------------------------------------------------------------------- */

static double mean_of(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s / (double)n;
}

START_TEST(test_score_heads)
{
    char *d = make_tmpdir();
    char args[1024], err[4096], out[64];
    snprintf(args, sizeof args, "score " NET "--images " CV "/gen.npy --save-raw-dir %s/heads -q",
             d);
    ck_assert_msg(run_cli(args, err, sizeof err, out, sizeof out) == 0, "%s", err);
    char *t = slurp(out);
    unlink(out);
    static const char *const heads[4] = {"d1_src", "d1_cls", "d2_src", "d2_cls"};
    arr h[4];
    for (int k = 0; k < 4; k++) {
        h[k] = load("%s/heads/%s.npy", d, heads[k]);
        char g[64];
        snprintf(g, sizeof g, "%s.npy", heads[k]);
        expect_close(&h[k], g);
    }
    /* shapes: [N, 1, R/64, R/64], [N, n_id], [N, 1, R/128, R/128], [N, n_id] */
    ck_assert_int_eq(h[0].ndim, 4);
    ck_assert_int_eq(h[0].shape[2], 2);
    ck_assert_int_eq(h[2].shape[3], 1);
    ck_assert_int_eq(h[1].shape[1], NID);
    /* the table */
    ck_assert_msg(!strncmp(t, "index\tname\trealism\tidentity\tprob\n0\tgen.npy[0]\t", 45), "%s",
                  t);
    char *line = t;
    for (int i = 0; i < 4; i++) {
        line = strchr(line, '\n') + 1;
        char name[64];
        int idx, ident;
        double realism, prob;
        ck_assert_int_eq(sscanf(line, "%d\t%63s\t%lf\t%d\t%lf", &idx, name, &realism, &ident,
                                &prob), 5);
        ck_assert_int_eq(idx, i);
        double want = 0.5 * (mean_of(h[0].data + i * 4, 4) + mean_of(h[2].data + i, 1));
        ck_assert_msg(fabs(realism - want) <= 1e-6 * fabs(want) + 1e-9, "%g vs %g", realism,
                      want);
        double p[NID] = {0};
        for (int s = 1; s < 4; s += 2) {
            const float *x = h[s].data + i * NID;
            double mx = x[0], sum = 0;
            for (int k = 1; k < NID; k++)
                mx = x[k] > mx ? x[k] : mx;
            for (int k = 0; k < NID; k++)
                sum += exp(x[k] - mx);
            for (int k = 0; k < NID; k++)
                p[k] += 0.5 * exp(x[k] - mx) / sum;
        }
        int best = 0;
        for (int k = 1; k < NID; k++)
            best = p[k] > p[best] ? k : best;
        ck_assert_int_eq(ident, best);
        ck_assert_msg(fabs(prob - p[best]) <= 1e-7, "%g vs %g", prob, p[best]);
    }
    free(t);
    /* batch independence */
    run_ok("score " NET "--images " CV "/gen.npy --save-raw-dir %s/b1 --batch 1 -q", d);
    for (int k = 0; k < 4; k++) {
        arr b = load("%s/b1/%s.npy", d, heads[k]);
        assert_same(&b, &h[k], heads[k]);
        free(b.data);
        free(h[k].data);
    }
    remove_tree(d);
    free(d);
}
END_TEST

/* A PNG directory scores as the .npy of its pixels, names in the table. */
START_TEST(test_score_png_dir)
{
    char *d = make_tmpdir();
    run_ok("generate " NET "--seeds 3,1,2 --identity 1 --outdir %s/png -q", d);
    char args[1024], err[4096], out[64];
    snprintf(args, sizeof args, "score " NET "--images %s/png --save-raw-dir %s/a -q", d, d);
    ck_assert_msg(run_cli(args, err, sizeof err, out, sizeof out) == 0, "%s", err);
    char *t = slurp(out);
    unlink(out);
    ck_assert_ptr_nonnull(strstr(t, "\n0\tseed0001.png\t"));
    ck_assert_ptr_nonnull(strstr(t, "\n2\tseed0003.png\t"));
    free(t);
    float *img = malloc(3 * IMG_LEN * sizeof *img);
    for (int i = 0; i < 3; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/png/seed%04d.png", d, i + 1);
        uint8_t *rgb;
        int w, h;
        ck_assert_int_eq(fs_png_read_rgb(p, &rgb, &w, &h), FS_OK);
        fs_image_hwc_u8_to_chw_f32(rgb, RES, RES, 3, img + (size_t)i * IMG_LEN);
        free(rgb);
    }
    char p[512];
    snprintf(p, sizeof p, "%s/img.npy", d);
    save_f32(p, 4, (const int64_t[]){3, 3, RES, RES}, img);
    free(img);
    run_ok("score " NET "--images %s --save-raw-dir %s/b -q", p, d);
    for (int k = 0; k < 4; k++) {
        static const char *const heads[4] = {"d1_src", "d1_cls", "d2_src", "d2_cls"};
        arr a = load("%s/a/%s.npy", d, heads[k]), b = load("%s/b/%s.npy", d, heads[k]);
        assert_same(&a, &b, heads[k]);
        free(a.data);
        free(b.data);
    }
    remove_tree(d);
    free(d);
}
END_TEST

START_TEST(test_help)
{
    char err[4096], out[64];
    ck_assert_int_eq(run_cli("generate --help", err, sizeof err, out, sizeof out), 0);
    char *t = slurp(out);
    unlink(out);
    ck_assert_ptr_nonnull(strstr(t, "--identity K"));
    ck_assert_ptr_nonnull(strstr(t, "--mix-weights"));
    ck_assert_ptr_nonnull(strstr(t, "standard_exponential"));
    ck_assert_ptr_nonnull(strstr(t, ".labels.npy"));
    ck_assert_ptr_nonnull(strstr(t, "--rename"));
    free(t);
    ck_assert_int_eq(run_cli("encode --help", err, sizeof err, out, sizeof out), 0);
    t = slurp(out);
    unlink(out);
    ck_assert_ptr_nonnull(strstr(t, "usage: facesynth encode"));
    ck_assert_ptr_nonnull(strstr(t, "fs_philox_normal"));
    free(t);
    ck_assert_int_eq(run_cli("score --help", err, sizeof err, out, sizeof out), 0);
    t = slurp(out);
    unlink(out);
    ck_assert_ptr_nonnull(strstr(t, "realism"));
    ck_assert_ptr_nonnull(strstr(t, "--save-raw-dir"));
    free(t);
    ck_assert_int_eq(run_cli("--help", err, sizeof err, out, sizeof out), 0);
    t = slurp(out);
    unlink(out);
    ck_assert_ptr_nonnull(strstr(t, "encode"));
    free(t);
    ck_assert_str_eq(err, "");
}
END_TEST

/* convert --rename: rules that change nothing convert; rules that rename a
 * required tensor away fail naming it, leaving no output. */
START_TEST(test_convert_rename)
{
    char *d = make_tmpdir();
    char p[512];
    snprintf(p, sizeof p, "%s/noop.txt", d);
    FILE *f = fopen(p, "w");
    fprintf(f, "# nothing matches\n^nothing\\.here$ still.nothing\n");
    fclose(f);
    run_ok("convert " CV "/cvaegan.pt --rename %s -o %s/a.fsw", p, d);
    run_ok("convert " CV "/cvaegan.pt -o %s/b.fsw", d);
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/a.fsw", d);
    snprintf(b, sizeof b, "%s/b.fsw", d);
    ck_assert(files_equal(a, b));
    remove_tree(d);
    free(d);
}
END_TEST

/* ---- bad invocations ------------------------------------------------------------- */

/* @ is the test's temporary directory, which holds: z64.npy [2, 64] (z_dim is
 * 32), c3.npy [1, 3] (n_id is 5), img64.npy [1, 3, 64, 64], eps31.npy [4, 31],
 * drop.txt (renames generator.fc away), m.fsw (the converted model), sq/ (a
 * 100 x 80 PNG), bad/ (a good PNG and a corrupt one). */
#define OUT " --outdir @/out --save-raw @/raw.npy"

static const cli_bad bad_cases[] = {
    /* generate */
    {"generate " NET "--z @/z64.npy --identity 0" OUT, "@/z64.npy: --z has shape [2, 64], expected [N, 32]"},
    {"generate " NET "--z " CV "/z.npy --c @/c3.npy" OUT, "@/c3.npy: labels of shape [1, 3], expected [4, 5]"},
    {"generate " NET "--seeds 0 --identity 5" OUT, "--identity 5 is out of range: the network has 5 identities (0 to 4)"},
    {"generate " NET "--seeds 0 --identity -1" OUT, "--identity needs an integer"},
    {"generate " NET "--seeds 0" OUT, "needs a label: --identity K (0 to 4)"},
    {"generate " NET "--seeds 0 --identity 1 --mix 1,2" OUT, "mutually exclusive"},
    {"generate " NET "--seeds 0 --identity 1 --c " CV "/c.npy" OUT, "mutually exclusive"},
    {"generate " NET "--seeds 0 --mix 1,x" OUT, "--mix item 'x'"},
    {"generate " NET "--seeds 0 --mix 1,,2" OUT, "empty item"},
    {"generate " NET "--seeds 0 --mix 1," OUT, "empty item"},
    {"generate " NET "--seeds 0 --mix 2,2" OUT, "--mix lists identity 2 twice"},
    {"generate " NET "--seeds 0 --mix 2" OUT, "two or more identities"},
    {"generate " NET "--seeds 0 --mix 1,9" OUT, "--mix identity 9 is out of range"},
    {"generate " NET "--seeds 0 --mix 1,2 --mix-weights 0.5" OUT, "has 1 weights for 2 identities"},
    {"generate " NET "--seeds 0 --mix 1,2 --mix-weights -1,2" OUT, "item '-1' is not a number >= 0"},
    {"generate " NET "--seeds 0 --mix 1,2 --mix-weights 0,0" OUT, "sum to 0"},
    {"generate " NET "--seeds 0 --mix 1,2 --mix-weights nan,1" OUT, "'nan' is not a number"},
    {"generate " NET "--seeds 0 --identity 1 --mix-weights 1,2" OUT, "--mix-weights needs --mix"},
    {"generate " NET "--z " CV "/z.npy --mix 1,2" OUT, "give --seeds"},
    {"generate " NET "--seeds 0 --identity 1 --trunc 0.7" OUT, "--trunc is a StyleGAN2 option"},
    {"generate " NET "--seeds 0 --class 1" OUT, "--class is a StyleGAN2 option"},
    {"generate " NET "--z " CV "/z.npy --ws " CV "/z.npy --identity 1" OUT, "mutually exclusive"},
    {"generate " NET "--seeds 0 --identity 1 --bogus" OUT, "unknown option '--bogus'"},
    {"generate " NET "--seeds 0 --identity 1 --save-labels @/raw.npy" OUT, "name the same file"},
    {"generate " NET "--seeds 0 --identity 1 --save-labels @/no/l.npy" OUT, "@/no/l.npy"},
    {"generate " NET "--seeds 0 --identity 1 --outdir @/out --save-raw @/no/raw.npy", "@/no/raw.npy"},
    {"generate " NET "--seeds 0 --identity 1 --rename @/drop.txt" OUT, "'generator.fc.weight' is missing"},
    {"generate " NET "--seeds 0 --identity 1 --conv-clamp 256" OUT, "--conv-clamp applies only to StyleGAN2"},
    {"generate --network @/m.fsw --seeds 0 --identity 1 --rename @/drop.txt" OUT, "--rename applies only to a checkpoint"},
    {"generate " SG2NET "--seeds 0 --identity 1" OUT, "--identity is a CVAE-GAN option"},
    {"generate " SG2NET "--seeds 0 --mix 1,2" OUT, "--mix is a CVAE-GAN option"},
    /* encode */
    {"encode " NET "--images @/img64.npy --save-raw @/z.npy", "@/img64.npy: images of shape [1, 3, 64, 64], expected [N, 3, 128, 128]"},
    {"encode " NET "--images " CV "/x.npy --eps @/eps31.npy --save-raw @/z.npy", "@/eps31.npy: --eps has shape [4, 31], expected [4, 32]"},
    {"encode " NET "--images " CV "/x.npy --eps " CV "/eps.npy --mean --save-raw @/z.npy", "mutually exclusive"},
    {"encode " NET "--images " CV "/x.npy --seed 1 --mean --save-raw @/z.npy", "mutually exclusive"},
    {"encode " NET "--images " CV "/x.npy --seed x --save-raw @/z.npy", "--seed needs an integer"},
    {"encode " NET "--images " CV "/x.npy", "missing --save-raw"},
    {"encode " NET "--save-raw @/z.npy", "missing --images"},
    {"encode --images " CV "/x.npy --save-raw @/z.npy", "missing --network"},
    {"encode " NET "--images " CV "/x.npy --save-raw @/z.npy --save-mu @/z.npy", "same file"},
    {"encode " NET "--images " CV "/x.npy --save-raw @/z.npy --save-mu @/no/mu.npy", "@/no/mu.npy"},
    {"encode " NET "--images " CV "/x.npy --save-raw @/z.npy --bogus", "unknown option '--bogus'"},
    {"encode " NET "--images " CV "/x.npy --save-raw @/z.npy --trunc 1", "unknown option '--trunc'"},
    {"encode " SG2NET "--images " CV "/x.npy --save-raw @/z.npy", "holds a stylegan2-generator, not a CVAE-GAN"},
    {"encode " NET "--images @/sq --save-raw @/z.npy", "@/sq/a.png: image is 100x80, not square"},
    {"encode " NET "--images @/bad --save-raw @/z.npy", "@/bad/b.png"},
    {"encode " NET "--images @/nothing --save-raw @/z.npy", "@/nothing"},
    {"encode " NET "--images " CV "/x.npy --save-raw @/z.npy --rename @/drop.txt", "'generator.fc.weight' is missing"},
    /* score */
    {"score " NET "--images @/img64.npy --save-raw-dir @/out", "expected [N, 3, 128, 128]"},
    {"score " NET "--images " CV "/gen.npy --save-raw @/raw.npy", "use --save-raw-dir DIR"},
    {"score " NET "--images " CV "/gen.npy --class 1 --save-raw-dir @/out", "--class is a StyleGAN2 option"},
    {"score " NET "--images " CV "/gen.npy --c " CV "/c.npy --save-raw-dir @/out", "--c is a StyleGAN2 option"},
    {"score " NET "--images @/sq --save-raw-dir @/out", "not square"},
    {"score " NET "--images @/bad --save-raw-dir @/out", "@/bad/b.png"},
    {"score " NET "--images " CV "/gen.npy --save-raw-dir @/out --bogus", "unknown option '--bogus'"},
    {"score " NET "--images " CV "/gen.npy --save-raw-dir @/out --batch 0", "--batch"},
    {"score " SG2NET "--images " CV "/gen.npy --save-raw-dir @/out", "--save-raw-dir is a CVAE-GAN option"},
    /* convert */
    {"convert " CV "/cvaegan.pt --rename @/drop.txt -o @/out", "'generator.fc.weight' is missing"},
    {"convert " CV "/cvaegan.pt --rename @/nothing -o @/out", "@/nothing"},
};

static void make_bad_inputs(const char *dir)
{
    char p[512];
    float z[2 * 64] = {0};
    snprintf(p, sizeof p, "%s/z64.npy", dir);
    save_f32(p, 2, (const int64_t[]){2, 64}, z);
    float c[3] = {1, 0, 0};
    snprintf(p, sizeof p, "%s/c3.npy", dir);
    save_f32(p, 2, (const int64_t[]){1, 3}, c);
    float *img = calloc(3 * 64 * 64, sizeof *img);
    snprintf(p, sizeof p, "%s/img64.npy", dir);
    save_f32(p, 4, (const int64_t[]){1, 3, 64, 64}, img);
    free(img);
    float eps[4 * 31] = {0};
    snprintf(p, sizeof p, "%s/eps31.npy", dir);
    save_f32(p, 2, (const int64_t[]){4, 31}, eps);
    snprintf(p, sizeof p, "%s/drop.txt", dir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "^generator\\.fc\\. generator.dense.\n");
    fclose(f);
    char args[1024], err[4096];
    snprintf(args, sizeof args, "convert " CV "/cvaegan.pt -o %s/m.fsw", dir);
    ck_assert_msg(run_cli(args, err, sizeof err, NULL, 0) == 0, "%s", err);
    static uint8_t px[100 * 80 * 3];
    snprintf(p, sizeof p, "%s/sq", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/sq/a.png", dir);
    ck_assert_int_eq(fs_png_write_rgb8(p, px, 100, 80, 3), FS_OK);
    snprintf(p, sizeof p, "%s/bad", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/bad/a.png", dir);
    ck_assert_int_eq(fs_png_write_rgb8(p, px, 64, 64, 3), FS_OK);
    snprintf(p, sizeof p, "%s/bad/b.png", dir);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "\x89PNG\r\n\x1a\n not really");
    fclose(f);
}

START_TEST(test_cli_errors)
{
    const cli_bad *c = &bad_cases[_i];
    char *dir = make_tmpdir();
    make_bad_inputs(dir);
    int before = count_entries(dir);
    char args[2048], needle[512], err[4096], p[512];
    expand(args, sizeof args, c->args, dir);
    expand(needle, sizeof needle, c->needle, dir);
    ck_assert_int_eq(run_cli(args, err, sizeof err, NULL, 0), 2);
    ck_assert_msg(strstr(err, needle) != NULL, "'%s': stderr '%s' lacks '%s'", args, err, needle);
    ck_assert_msg(cli_error_prefix_ok(args, err), "'%s': '%s' lacks the command's prefix", args,
                  err);
    char *nl = strchr(err, '\n');
    ck_assert_msg(nl && nl[1] == '\0', "'%s': not exactly one line: '%s'", args, err);
    /* nothing written: no output directory, no raw files, no temporaries */
    snprintf(p, sizeof p, "%s/out", dir);
    ck_assert_msg(!exists(p), "'%s' created %s", args, p);
    ck_assert_msg(count_entries(dir) == before, "'%s' left files in %s", args, dir);
    snprintf(p, sizeof p, "%s/bad", dir);
    ck_assert_int_eq(count_entries(p), 2);
    remove_tree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_cvaegan");
    TCase *rs = tcase_create("resize");
    tcase_add_test(rs, test_resize_rules);
    tcase_add_test(rs, test_resize_u8);
    suite_add_tcase(s, rs);
    TCase *gen = tcase_create("generate");
    tcase_add_test(gen, test_generate_z_c);
    tcase_add_test(gen, test_generate_seeds_identity);
    tcase_add_test(gen, test_generate_mix_weights);
    tcase_add_test(gen, test_generate_mix_seeded);
    tcase_set_timeout(gen, 300);
    suite_add_tcase(s, gen);
    TCase *enc = tcase_create("encode");
    tcase_add_test(enc, test_encode_eps);
    tcase_add_test(enc, test_encode_mean_and_seeded);
    tcase_add_test(enc, test_encode_png_dir);
    tcase_set_timeout(enc, 300);
    suite_add_tcase(s, enc);
    TCase *sc = tcase_create("score");
    tcase_add_test(sc, test_score_heads);
    tcase_add_test(sc, test_score_png_dir);
    tcase_add_test(sc, test_help);
    tcase_add_test(sc, test_convert_rename);
    tcase_set_timeout(sc, 300);
    suite_add_tcase(s, sc);
    TCase *bad = tcase_create("errors");
    tcase_add_loop_test(bad, test_cli_errors, 0, (int)(sizeof bad_cases / sizeof *bad_cases));
    tcase_set_timeout(bad, 300);
    suite_add_tcase(s, bad);
    return fs_check_run(s, "cli_cvaegan");
}
