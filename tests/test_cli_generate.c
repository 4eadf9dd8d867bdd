/* `facesynth generate` and `facesynth score`, and the modules under them.
 *
 * The key acceptance test: generate on the tiny network pickle with seeds
 * 0, 1, 42, --trunc 0.7 and const noise writes PNGs whose pixels equal, byte
 * for byte, what NVlabs gen_images.py wrote for the same seeds
 * (tests/fixtures/stylegan2/tiny/gen_psi0.7). Also: --save-raw against the
 * official float outputs, results independent of --batch, one-line errors
 * with exit status 2 and no files left behind, score against the official
 * discriminator logits; the float -> uint8 rule (incl. the cases an FMA would
 * get wrong), PNG round trips in every colour type, and the progress lines. */
#define CLI_TMP_PREFIX "/tmp/fs_gen"
#include "cli_util.h"

#include <png.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "../engine/file.h"
#include "../engine/image_io.h"
#include "../engine/progress.h"
#include "../weights_tools/npy.h"

#define SG2 FS_FIXTURES "/stylegan2"
#define TINY SG2 "/tiny"
#define COND SG2 "/tiny-cond"

/* ---- helpers ---------------------------------------------------------------- */

/* A uint8 [h, w, 3] fixture (the official PNG pixels). */
static uint8_t *load_u8_hwc(const char *path, int *h, int *w)
{
    fs_file_map m;
    ck_assert_int_eq(fs_file_map_open(path, &m), FS_OK);
    fs_npy a;
    ck_assert_msg(fs_npy_parse(m.data, m.size, path, &a) == FS_OK, "%s", fs_error_message());
    ck_assert_int_eq(a.dtype, FS_DTYPE_U8);
    ck_assert_int_eq(a.ndim, 3);
    ck_assert_int_eq(a.shape[2], 3);
    ck_assert(!a.fortran);
    uint8_t *p = malloc(a.nbytes);
    memcpy(p, a.data, a.nbytes);
    *h = (int)a.shape[0];
    *w = (int)a.shape[1];
    fs_file_map_close(&m);
    return p;
}

static uint8_t *read_png(const char *path, int *w, int *h)
{
    uint8_t *rgb;
    fs_status s = fs_png_read_rgb(path, &rgb, w, h);
    ck_assert_msg(s == FS_OK, "%s: %s", path, fs_error_message());
    return rgb;
}

static void assert_png_equals_u8(const char *png, const uint8_t *want, int h, int w)
{
    int pw, ph;
    uint8_t *got = read_png(png, &pw, &ph);
    ck_assert_int_eq(pw, w);
    ck_assert_int_eq(ph, h);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        if (got[i] != want[i] && !bad++)
            first = i;
    ck_assert_msg(bad == 0, "%s: %zu of %d bytes differ (first at %zu: %u vs %u)", png, bad,
                  w * h * 3, first, got[first], want[first]);
    free(got);
}

/* ---- float -> uint8 ------------------------------------------------------------ */

static float from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

START_TEST(test_f32_to_u8_rule)
{
    ck_assert_uint_eq(fs_image_f32_to_u8(0.0f), 128);
    ck_assert_uint_eq(fs_image_f32_to_u8(-1.0f), 0);   /* 0.5 truncates to 0 */
    ck_assert_uint_eq(fs_image_f32_to_u8(1.0f), 255);  /* 255.5 clamps to 255 */
    ck_assert_uint_eq(fs_image_f32_to_u8(0.99f), 254); /* 254.2225 */
    ck_assert_uint_eq(fs_image_f32_to_u8(-1.5f), 0);
    ck_assert_uint_eq(fs_image_f32_to_u8(7.0f), 255);
    ck_assert_uint_eq(fs_image_f32_to_u8(INFINITY), 255);
    ck_assert_uint_eq(fs_image_f32_to_u8(-INFINITY), 0);
    ck_assert_uint_eq(fs_image_f32_to_u8(NAN), 0);
    ck_assert_uint_eq(fs_image_f32_to_u8(-0.0039215f), 127); /* 127.5000... truncates */
    /* Values where x * 127.5 + 128 rounded once (an FMA) lands just below an
     * integer but two float32 roundings (torch) land on it; found with numpy:
     * (x * float32(127.5) + float32(128)).astype(uint8). */
    static const struct { uint32_t bits; uint8_t want; } fma_cases[] = {
        {3206191771u, 51}, {3210270937u, 20}, {3204875911u, 61}, {3211323625u, 12},
    };
    for (size_t i = 0; i < sizeof fma_cases / sizeof *fma_cases; i++)
        ck_assert_msg(fs_image_f32_to_u8(from_bits(fma_cases[i].bits)) == fma_cases[i].want,
                      "x = %.9g: got %u, want %u", from_bits(fma_cases[i].bits),
                      fs_image_f32_to_u8(from_bits(fma_cases[i].bits)), fma_cases[i].want);
}
END_TEST

START_TEST(test_layouts)
{
    /* n 2, c 3, h 1, w 2: value encodes (n, c, x) */
    float img[12];
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 3; c++)
            for (int x = 0; x < 2; x++)
                img[(n * 3 + c) * 2 + x] = ((float)(n * 100 + c * 10 + x) - 128.0f) / 127.5f;
    uint8_t out[12];
    fs_image_nchw_f32_to_nhwc_u8(img, 2, 3, 1, 2, out);
    for (int n = 0; n < 2; n++)
        for (int x = 0; x < 2; x++)
            for (int c = 0; c < 3; c++)
                ck_assert_uint_eq(out[(n * 2 + x) * 3 + c], n * 100 + c * 10 + x);
    /* and back: v / 127.5 - 1 into CHW */
    float chw[6];
    fs_image_hwc_u8_to_chw_f32(out, 1, 2, 3, chw);
    for (int c = 0; c < 3; c++)
        for (int x = 0; x < 2; x++)
            ck_assert_float_eq(chw[c * 2 + x], (float)(c * 10 + x) / 127.5f - 1.0f);
}
END_TEST

/* ---- PNG ---------------------------------------------------------------------- */

START_TEST(test_png_roundtrip_all_channels)
{
    char *dir = make_tmpdir();
    int w = 7, h = 5, ch = _i + 1;
    uint8_t *px = malloc((size_t)w * h * ch);
    for (int i = 0; i < w * h * ch; i++)
        px[i] = (uint8_t)(i * 37 + 11);
    char path[256];
    snprintf(path, sizeof path, "%s/x.png", dir);
    ck_assert_msg(fs_png_write_rgb8(path, px, w, h, ch) == FS_OK, "%s", fs_error_message());
    ck_assert_int_eq(count_entries(dir), 1); /* no temporary left */
    int rw, rh;
    uint8_t *rgb = read_png(path, &rw, &rh);
    ck_assert_int_eq(rw, w);
    ck_assert_int_eq(rh, h);
    for (int p = 0; p < w * h; p++)
        for (int c = 0; c < 3; c++) {
            /* gray is replicated, alpha dropped */
            uint8_t want = ch <= 2 ? px[p * ch] : px[p * ch + c];
            ck_assert_uint_eq(rgb[p * 3 + c], want);
        }
    free(rgb);
    free(px);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* PNGs of the kinds other tools write: 16-bit RGB, palette with
 * transparency, 1-bit gray, interlaced. Written with libpng directly. */
static void write_png_raw(const char *path, int w, int h, int depth, int type, int interlace,
                          png_bytep *rows, png_colorp pal, int npal, png_bytep trns, int ntrns)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    ck_assert(!setjmp(png_jmpbuf(png)));
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, type, interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pal)
        png_set_PLTE(png, info, pal, npal);
    if (trns)
        png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

START_TEST(test_png_read_other_kinds)
{
    char *dir = make_tmpdir();
    char path[256];
    int w, h;
    uint8_t *rgb;

    /* 16-bit RGB, interlaced: v * 257 scales back to v exactly */
    static uint8_t r16[2][4 * 3 * 2];
    png_bytep rows16[2] = {r16[0], r16[1]};
    for (int y = 0; y < 2; y++)
        for (int i = 0; i < 12; i++) {
            unsigned v = (unsigned)(y * 12 + i) * 10 + 3;
            r16[y][2 * i] = (uint8_t)v; /* big-endian v * 257: both bytes v */
            r16[y][2 * i + 1] = (uint8_t)v;
        }
    snprintf(path, sizeof path, "%s/rgb16.png", dir);
    write_png_raw(path, 4, 2, 16, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, rows16, NULL, 0,
                  NULL, 0);
    rgb = read_png(path, &w, &h);
    ck_assert_int_eq(w, 4);
    ck_assert_int_eq(h, 2);
    for (int i = 0; i < 24; i++)
        ck_assert_uint_eq(rgb[i], (unsigned)i * 10 + 3);
    free(rgb);

    /* palette with a transparent entry: colours kept, alpha dropped */
    png_color pal[2] = {{10, 20, 30}, {200, 100, 50}};
    png_byte trns[1] = {0};
    static uint8_t p8[1][3] = {{0, 1, 1}};
    png_bytep rowsp[1] = {p8[0]};
    snprintf(path, sizeof path, "%s/pal.png", dir);
    write_png_raw(path, 3, 1, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, rowsp, pal, 2, trns,
                  1);
    rgb = read_png(path, &w, &h);
    static const uint8_t want_pal[9] = {10, 20, 30, 200, 100, 50, 200, 100, 50};
    ck_assert_mem_eq(rgb, want_pal, 9);
    free(rgb);

    /* 1-bit gray: 0 -> 0, 1 -> 255 */
    static uint8_t g1[1][1] = {{0xA0}}; /* 1 0 1 0 */
    png_bytep rowsg[1] = {g1[0]};
    snprintf(path, sizeof path, "%s/g1.png", dir);
    write_png_raw(path, 4, 1, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, rowsg, NULL, 0, NULL, 0);
    rgb = read_png(path, &w, &h);
    static const uint8_t want_g1[12] = {255, 255, 255, 0, 0, 0, 255, 255, 255, 0, 0, 0};
    ck_assert_mem_eq(rgb, want_g1, 12);
    free(rgb);
    remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_png_bad_input)
{
    char *dir = make_tmpdir();
    char path[256], cut[256];
    uint8_t px[16 * 16 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 7);
    snprintf(path, sizeof path, "%s/ok.png", dir);
    ck_assert_int_eq(fs_png_write_rgb8(path, px, 16, 16, 3), FS_OK);
    fs_file_map m;
    ck_assert_int_eq(fs_file_map_open(path, &m), FS_OK);
    /* every truncation is refused with the label in the message */
    for (size_t n = 0; n < m.size; n++) {
        uint8_t *rgb = (uint8_t *)1;
        int w, h;
        fs_status s = fs_png_decode_rgb(m.data, n, "cut.png", &rgb, &w, &h);
        ck_assert_msg(s == FS_ERR_FORMAT, "cut to %zu bytes: %s", n, fs_status_string(s));
        ck_assert_ptr_null(rgb);
        ck_assert_ptr_nonnull(strstr(fs_error_message(), "cut.png"));
    }
    /* a flipped byte in the image data fails its CRC */
    uint8_t *bad = malloc(m.size);
    memcpy(bad, m.data, m.size);
    bad[m.size - 20] ^= 0x55;
    uint8_t *rgb;
    int w, h;
    ck_assert_int_eq(fs_png_decode_rgb(bad, m.size, "flip.png", &rgb, &w, &h), FS_ERR_FORMAT);
    free(bad);
    fs_file_map_close(&m);
    snprintf(cut, sizeof cut, "%s/missing.png", dir);
    ck_assert_int_eq(fs_png_read_rgb(cut, &rgb, &w, &h), FS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), cut));
    ck_assert_int_eq(fs_png_read_rgb(TINY "/z.npy", &rgb, &w, &h), FS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "not a PNG"));
    remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_png_write_failures_leave_nothing)
{
    char *dir = make_tmpdir();
    uint8_t px[4 * 4 * 3] = {0};
    char path[256];
    /* missing directory: cannot even create the temporary */
    snprintf(path, sizeof path, "%s/no/such/dir/x.png", dir);
    ck_assert_int_eq(fs_png_write_rgb8(path, px, 4, 4, 3), FS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), path));
    /* the final name is a directory: the rename fails, the temporary goes */
    snprintf(path, sizeof path, "%s/sub", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/sub/inner", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/sub", dir);
    ck_assert_int_eq(fs_png_write_rgb8(path, px, 4, 4, 3), FS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), path));
    ck_assert_int_eq(count_entries(dir), 1); /* only sub/ */
    /* bad arguments */
    snprintf(path, sizeof path, "%s/x.png", dir);
    ck_assert_int_eq(fs_png_write_rgb8(path, px, 0, 4, 3), FS_ERR_ARG);
    ck_assert_int_eq(fs_png_write_rgb8(path, px, 4, 4, 5), FS_ERR_ARG);
    ck_assert(!exists(path));
    remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- progress --------------------------------------------------------------------- */

static double fake_now;
static double fake_clock(void) { return fake_now; }

static char *progress_text(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    return b;
}

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

START_TEST(test_progress_lines)
{
    FILE *f = tmpfile();
    fs_progress p = {0};
    p.clock = fake_clock;
    fake_now = 100;
    fs_progress_start(&p, f, FS_PROGRESS_LINES, "images", "img/s", 100);
    fake_now = 101;
    fs_progress_update(&p, 10); /* too soon for a line */
    fake_now = 105;
    fs_progress_update(&p, 50); /* 5 s: a line */
    fake_now = 106;
    fs_progress_update(&p, 55);
    fake_now = 111;
    fs_progress_update(&p, 100); /* 6 s later: a line */
    fake_now = 112;
    fs_progress_finish(&p);
    char *t = progress_text(f);
    ck_assert_int_eq(count_char(t, '\n'), 3);
    ck_assert_ptr_null(strchr(t, '\r'));
    ck_assert_msg(strstr(t, "facesynth: 50/100 images (50.0%), 10.0 img/s, ETA 00:00:05\n"), "%s", t);
    ck_assert_msg(strstr(t, "facesynth: 100/100 images (100.0%), 9.09 img/s, ETA 00:00:00\n"),
                  "%s", t);
    ck_assert_msg(strstr(t, "facesynth: 100 images in 12.00 s (8.33 img/s)\n"), "%s", t);
    free(t);
    fclose(f);
}
END_TEST

START_TEST(test_progress_tty)
{
    FILE *f = tmpfile();
    fs_progress p = {0};
    p.clock = fake_clock;
    fake_now = 0;
    fs_progress_start(&p, f, FS_PROGRESS_TTY, "images", "img/s", 40);
    fake_now = 0.1;
    fs_progress_update(&p, 1); /* under 1/6 s: not drawn */
    fake_now = 0.2;
    fs_progress_update(&p, 2); /* drawn */
    fake_now = 0.25;
    fs_progress_update(&p, 3); /* not drawn */
    fake_now = 4.0;
    fs_progress_update(&p, 40); /* the last one is always drawn */
    fs_progress_finish(&p);
    char *t = progress_text(f);
    ck_assert_int_eq(count_char(t, '\n'), 1); /* only the summary ends a line */
    ck_assert_msg(strstr(t, "\r[#...................] 2/40   5.0% | 10.0 img/s | ETA 00:00:04\033[K"),
                  "%s", t);
    ck_assert_msg(strstr(t, "\r[####################] 40/40 100.0% | 10.0 img/s | ETA 00:00:00\033[K"),
                  "%s", t);
    ck_assert_ptr_null(strstr(t, " 3/40"));
    ck_assert_msg(strstr(t, "\r\033[Kfacesynth: 40 images in 4.00 s (10.0 img/s)\n"), "%s", t);
    free(t);
    fclose(f);
}
END_TEST

START_TEST(test_progress_quiet)
{
    FILE *f = tmpfile();
    fs_progress p = {0};
    p.clock = fake_clock;
    fake_now = 0;
    fs_progress_start(&p, f, FS_PROGRESS_QUIET, "images", "img/s", 3);
    fake_now = 100;
    fs_progress_update(&p, 3);
    fs_progress_finish(&p);
    ck_assert_int_eq(ftell(f), 0);
    fclose(f);
}
END_TEST

/* ---- generate ------------------------------------------------------------------ */

/* The acceptance test: gen_images.py's pixels, exactly. */
START_TEST(test_generate_matches_gen_images)
{
    char *dir = make_tmpdir();
    run_ok("generate --network " TINY "/network-snapshot.pkl --seeds 0,1,42 --trunc 0.7 "
           "--noise-mode const --outdir %s/out --save-raw %s/raw.npy --quiet", dir, dir);
    static const int seeds[3] = {0, 1, 42};
    char p[300];
    snprintf(p, sizeof p, "%s/raw.npy", dir);
    arr raw = load_f32(p);
    ck_assert_int_eq(raw.ndim, 4);
    ck_assert_int_eq(raw.shape[0], 3);
    ck_assert_int_eq(raw.shape[1], 3);
    ck_assert_int_eq(raw.shape[2], 32);
    ck_assert_int_eq(raw.shape[3], 32);
    uint8_t conv[32 * 32 * 3];
    for (int i = 0; i < 3; i++) {
        char want_path[256], png[256];
        snprintf(want_path, sizeof want_path, TINY "/gen_psi0.7/seed%04d.npy", seeds[i]);
        snprintf(png, sizeof png, "%s/out/seed%04d.png", dir, seeds[i]);
        int h, w;
        uint8_t *want = load_u8_hwc(want_path, &h, &w);
        assert_png_equals_u8(png, want, h, w);
        /* --save-raw holds the floats those pixels came from */
        fs_image_nchw_f32_to_nhwc_u8(raw.data + (size_t)i * 3 * 32 * 32, 1, 3, 32, 32, conv);
        ck_assert_mem_eq(conv, want, sizeof conv);
        free(want);
    }
    snprintf(p, sizeof p, "%s/out", dir);
    ck_assert_int_eq(count_entries(p), 3); /* the three PNGs, no temporaries */
    free(raw.data);
    remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_generate_from_fsw)
{
    char *dir = make_tmpdir();
    run_ok("convert " TINY "/network-snapshot.pkl -o %s/tiny.fsw", dir);
    run_ok("generate --network %s/tiny.fsw --seeds 42 --trunc 0.7 --outdir %s -q", dir, dir);
    char png[256];
    snprintf(png, sizeof png, "%s/seed0042.png", dir);
    int h, w;
    uint8_t *want = load_u8_hwc(TINY "/gen_psi0.7/seed0042.npy", &h, &w);
    assert_png_equals_u8(png, want, h, w);
    free(want);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* --z / --ws / --c inputs against the official float outputs. */
typedef struct {
    const char *args;   /* after --network ... ; @ is the output directory */
    const char *golden;
    const char *first_png;
} raw_case;

static const raw_case raw_cases[] = {
    {"--network " TINY "/network-snapshot.pkl --z " TINY "/z.npy --trunc 0.7",
     TINY "/img_psi0.7_const.npy", "img0000.png"},
    {"--network " TINY "/network-snapshot.pkl --z " TINY "/z.npy --trunc 0.5 --trunc-cutoff 4",
     TINY "/img_psi0.5_cutoff4_const.npy", "img0003.png"},
    {"--network " TINY "/network-snapshot.pkl --ws " TINY "/ws_psi1.npy --noise-mode none",
     TINY "/img_psi1_none.npy", "img0002.png"},
    {"--network " TINY "/network-snapshot.pkl --ws " TINY "/ws_mixed.npy --batch 3",
     TINY "/img_ws_mixed_const.npy", "img0001.png"},
    {"--network " COND "/network-snapshot.pkl --z " COND "/z.npy --c " COND "/c.npy --batch 1",
     COND "/img_psi1_const.npy", "img0003.png"},
    {"--network " COND "/network-snapshot.pkl --z " COND "/z.npy --c " COND "/c.npy --trunc 0.7",
     COND "/img_psi0.7_const.npy", "img0000.png"},
};

START_TEST(test_generate_raw_matches_official)
{
    const raw_case *c = &raw_cases[_i];
    char *dir = make_tmpdir();
    run_ok("generate %s --outdir %s/out --save-raw %s/raw.npy -q", c->args, dir, dir);
    char p[300];
    snprintf(p, sizeof p, "%s/raw.npy", dir);
    arr got = load_f32(p);
    arr want = load_f32(c->golden);
    ck_assert_int_eq(got.ndim, 4);
    for (int d = 0; d < 4; d++)
        ck_assert_int_eq(got.shape[d], want.shape[d]);
    double e = fs_check_rel_l2(got.data, want.data, want.numel);
    ck_assert_msg(e <= 1e-5, "%s: relative L2 %.3g", c->args, e);
    snprintf(p, sizeof p, "%s/out/%s", dir, c->first_png);
    ck_assert_msg(exists(p), "%s missing", p);
    snprintf(p, sizeof p, "%s/out", dir);
    ck_assert_int_eq(count_entries(p), (int)want.shape[0]);
    free(got.data);
    free(want.data);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* --class K is the one-hot label: rows 0 and 1 of c.npy are classes 0 and 1. */
START_TEST(test_generate_class_is_one_hot)
{
    char *dir = make_tmpdir();
    run_ok("generate --network " COND "/network-snapshot.pkl --z " COND "/z.npy --class 1 "
           "--outdir %s/out --save-raw %s/raw.npy -q", dir, dir);
    char p[300];
    snprintf(p, sizeof p, "%s/raw.npy", dir);
    arr got = load_f32(p);
    arr want = load_f32(COND "/img_psi1_const.npy");
    size_t per = want.numel / 4;
    double e = fs_check_rel_l2(got.data + per, want.data + per, per);
    ck_assert_msg(e <= 1e-5, "row 1: relative L2 %.3g", e);
    /* row 0 had class 0: different */
    ck_assert(fs_check_rel_l2(got.data, want.data, per) > 1e-3);
    free(got.data);
    free(want.data);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* Same images whatever the batch size: floats bit for bit, PNG files byte
 * for byte; for const and for (seeded) random noise. */
START_TEST(test_generate_batch_independent)
{
    static const char *const noise[2] = {"const", "random"};
    char *dir = make_tmpdir();
    static const int batches[3] = {1, 3, 7};
    for (int b = 0; b < 3; b++)
        run_ok("generate --network " TINY "/network-snapshot.pkl --seeds 0-4,42,7 --trunc 0.8 "
               "--noise-mode %s --batch %d --outdir %s/b%d --save-raw %s/raw%d.npy -q",
               noise[_i], batches[b], dir, b, dir, b);
    char p[300], q[300];
    snprintf(p, sizeof p, "%s/raw0.npy", dir);
    arr ref = load_f32(p);
    ck_assert_int_eq(ref.shape[0], 7);
    for (int b = 1; b < 3; b++) {
        snprintf(q, sizeof q, "%s/raw%d.npy", dir, b);
        arr x = load_f32(q);
        ck_assert_uint_eq(x.numel, ref.numel);
        ck_assert_msg(memcmp(x.data, ref.data, ref.numel * sizeof(float)) == 0,
                      "--batch %d differs from --batch 1", batches[b]);
        free(x.data);
        static const int seeds[7] = {0, 1, 2, 3, 4, 42, 7};
        for (int i = 0; i < 7; i++) {
            snprintf(p, sizeof p, "%s/b0/seed%04d.png", dir, seeds[i]);
            snprintf(q, sizeof q, "%s/b%d/seed%04d.png", dir, b, seeds[i]);
            ck_assert_msg(files_equal(p, q), "%s != %s", p, q);
        }
    }
    free(ref.data);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* Random noise is seeded by the image's seed: reproducible, and not const. */
START_TEST(test_generate_random_noise_seeded)
{
    char *dir = make_tmpdir();
    run_ok("generate --network " TINY "/network-snapshot.pkl --seeds 5,6 --noise-mode random "
           "--outdir %s/a --save-raw %s/a.npy -q", dir, dir);
    run_ok("generate --network " TINY "/network-snapshot.pkl --seeds 6 --noise-mode random "
           "--outdir %s/b --save-raw %s/b.npy -q", dir, dir);
    run_ok("generate --network " TINY "/network-snapshot.pkl --seeds 6 --noise-mode const "
           "--outdir %s/c --save-raw %s/c.npy -q", dir, dir);
    char p[300];
    snprintf(p, sizeof p, "%s/a.npy", dir);
    arr a = load_f32(p);
    snprintf(p, sizeof p, "%s/b.npy", dir);
    arr b = load_f32(p);
    snprintf(p, sizeof p, "%s/c.npy", dir);
    arr c = load_f32(p);
    size_t per = b.numel;
    ck_assert(memcmp(a.data + per, b.data, per * sizeof(float)) == 0);
    ck_assert(fs_check_rel_l2(b.data, c.data, per) > 1e-4);
    free(a.data);
    free(b.data);
    free(c.data);
    remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_help)
{
    char err[4096], out[64];
    ck_assert_int_eq(run_cli("generate --help", err, sizeof err, out, sizeof out), 0);
    char *t = slurp(out);
    unlink(out);
    ck_assert_ptr_nonnull(strstr(t, "usage: facesynth generate"));
    ck_assert_ptr_nonnull(strstr(t, "--seeds"));
    ck_assert_str_eq(err, "");
    free(t);
    ck_assert_int_eq(run_cli("score --help", err, sizeof err, out, sizeof out), 0);
    t = slurp(out);
    unlink(out);
    ck_assert_ptr_nonnull(strstr(t, "usage: facesynth score"));
    free(t);
    ck_assert_int_eq(run_cli("--help", err, sizeof err, out, sizeof out), 0);
    t = slurp(out);
    unlink(out);
    ck_assert_ptr_nonnull(strstr(t, "generate"));
    ck_assert_ptr_nonnull(strstr(t, "score"));
    free(t);
}
END_TEST

/* ---- bad invocations ------------------------------------------------------------- */

/* In args and needle, @ stands for the test's temporary directory, which
 * holds: z64.npy [2, 64] (tiny wants 128), c3.npy [1, 3] (tiny-cond wants 5),
 * img8.npy [8, 3, 16, 16], file (a regular file), empty/ (a directory). */
#define NET "--network " TINY "/network-snapshot.pkl "
#define CNET "--network " COND "/network-snapshot.pkl "
#define OUT " --outdir @/out --save-raw @/raw.npy"

static const cli_bad cli_bad_cases[] = {
    {"generate " NET "--z @/z64.npy" OUT, "@/z64.npy: --z has shape [2, 64], expected [N, 128]"},
    {"generate " CNET "--seeds 0" OUT, "conditional (c_dim 5)"},
    {"generate " NET "--seeds 0-3,x" OUT, "--seeds: seed list item 'x'"},
    {"generate " NET "--seeds 0 --bogus" OUT, "'--bogus'"},
    {"generate " NET "--seeds 0 --outdir @/file/sub", "@/file/sub"},
    {"generate " NET "--seeds 0 --class 1" OUT, "unconditional"},
    {"generate " CNET "--seeds 0 --class 5" OUT, "--class 5 is out of range"},
    {"generate " CNET "--seeds 0 --c @/c3.npy" OUT, "@/c3.npy: labels of shape [1, 3]"},
    {"generate " CNET "--seeds 0 --c @/c3.npy --class 1" OUT, "mutually exclusive"},
    {"generate " NET "--seeds 0 --device cuda" OUT, "--device cuda"},
    {"generate " NET "--seeds 0 --device tpu" OUT, "'tpu'"},
    {"generate " NET "--seeds 0 --z @/z64.npy" OUT, "mutually exclusive"},
    {"generate " NET OUT, "missing --seeds"},
    {"generate --seeds 0" OUT, "missing --network"},
    {"generate --network @/missing.pkl --seeds 0" OUT, "@/missing.pkl: cannot open"},
    {"generate --network " TINY "/D.pt --seeds 0" OUT, "discriminator"},
    {"generate --network @/z64.npy --seeds 0" OUT, "@/z64.npy"},
    {"generate " NET "--seeds 5-3" OUT, "reversed range (5 > 3)"},
    {"generate " NET "--seeds 4294967296" OUT, "out of range"},
    {"generate " NET "--ws " TINY "/z.npy" OUT, "--ws has shape [4, 128], expected [N, 8, 128]"},
    {"generate " NET "--ws " TINY "/ws_psi1.npy --trunc 0.5" OUT, "--ws skips"},
    {"generate " NET "--seeds 0 --trunc abc" OUT, "--trunc needs a number"},
    {"generate " NET "--seeds 0 --trunc nan" OUT, "--trunc needs a number"},
    {"generate " NET "--seeds 0 --batch 0" OUT, "--batch"},
    {"generate " NET "--seeds 0 --threads -1" OUT, "--threads"},
    {"generate " NET "--seeds 0 --noise-mode loud" OUT, "'loud'"},
    {"generate " NET "--seeds 0 extra" OUT, "unexpected argument 'extra'"},
    {"generate " NET "--seeds 0 --outdir @/out --save-raw @/nodir/raw.npy", "@/nodir/raw.npy"},
    {"generate " NET "--seeds 0 --outdir @/out --seeds", "needs a value"},
    {"score --network " COND "/network-snapshot.pkl --images " TINY "/img_psi1_const.npy "
     "--c " COND "/c.npy --save-raw @/raw.npy", "expected [N, 3, 16, 16]"},
    {"score --network " COND "/network-snapshot.pkl --images @/img8.npy --class 0 --batch 6 "
     "--save-raw @/raw.npy", "minibatch-std groups of 4"},
    {"score --network " COND "/network-snapshot.pkl --images @/img8.npy --save-raw @/raw.npy",
     "conditional (c_dim 5)"},
    {"score --network " TINY "/network-snapshot.pkl --images " TINY "/img_psi1_const.npy "
     "--class 0 --save-raw @/raw.npy", "unconditional"},
    {"score --network " TINY "/network-snapshot.pkl --images @/empty --save-raw @/raw.npy",
     "@/empty: no .png files"},
    {"score --network " TINY "/G_ema.pt --images @/img8.npy --save-raw @/raw.npy", "generator"},
    {"score --network " TINY "/network-snapshot.pkl --images @/nothing --save-raw @/raw.npy",
     "@/nothing"},
    {"score --network " TINY "/network-snapshot.pkl --save-raw @/raw.npy", "missing --images"},
    {"score --network " TINY "/network-snapshot.pkl --images @/empty --bogus", "'--bogus'"},
};

static void make_bad_inputs(const char *dir)
{
    char p[300];
    float z[2 * 64] = {0};
    snprintf(p, sizeof p, "%s/z64.npy", dir);
    save_f32(p, 2, (const int64_t[]){2, 64}, z);
    float c[3] = {1, 0, 0};
    snprintf(p, sizeof p, "%s/c3.npy", dir);
    save_f32(p, 2, (const int64_t[]){1, 3}, c);
    arr img = load_f32(COND "/img_psi1_const.npy");
    float *img8 = malloc(2 * img.numel * sizeof *img8);
    memcpy(img8, img.data, img.numel * sizeof *img8);
    memcpy(img8 + img.numel, img.data, img.numel * sizeof *img8);
    snprintf(p, sizeof p, "%s/img8.npy", dir);
    save_f32(p, 4, (const int64_t[]){8, 3, 16, 16}, img8);
    free(img8);
    free(img.data);
    snprintf(p, sizeof p, "%s/file", dir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(p, sizeof p, "%s/empty", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
}

START_TEST(test_cli_errors)
{
    const cli_bad *c = &cli_bad_cases[_i];
    char *dir = make_tmpdir();
    make_bad_inputs(dir);
    int before = count_entries(dir);
    char args[2048], needle[512], err[4096], p[300];
    expand(args, sizeof args, c->args, dir);
    expand(needle, sizeof needle, c->needle, dir);
    ck_assert_int_eq(run_cli(args, err, sizeof err, NULL, 0), 2);
    ck_assert_msg(strstr(err, needle) != NULL, "'%s': stderr '%s' lacks '%s'", args, err, needle);
    ck_assert_msg(cli_error_prefix_ok(args, err), "'%s': '%s' lacks the command's prefix", args,
                  err);
    char *nl = strchr(err, '\n');
    ck_assert_msg(nl && nl[1] == '\0', "'%s': not exactly one line: '%s'", args, err);
    /* nothing written: no output directory, no raw file, no temporaries */
    snprintf(p, sizeof p, "%s/out", dir);
    ck_assert_msg(!exists(p), "'%s' created %s", args, p);
    ck_assert_int_eq(count_entries(dir), before);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- score --------------------------------------------------------------------- */

START_TEST(test_score_matches_official)
{
    char *dir = make_tmpdir();
    char args[1024], err[4096], out[64], p[300];
    snprintf(args, sizeof args,
             "score --network " COND "/network-snapshot.pkl --images " COND "/img_psi1_const.npy "
             "--c " COND "/c.npy --save-raw %s/x.npy", dir);
    ck_assert_msg(run_cli(args, err, sizeof err, out, sizeof out) == 0, "%s", err);
    snprintf(p, sizeof p, "%s/x.npy", dir);
    arr got = load_f32(p);
    arr want = load_f32(COND "/D_scores_img_psi1_const.npy");
    ck_assert_int_eq(got.ndim, 2);
    ck_assert_int_eq(got.shape[0], 4);
    ck_assert_int_eq(got.shape[1], 1);
    ck_assert_rel_l2_le(got.data, want.data, 4, 1e-5);
    /* the table on stdout: header, then index, name, logit */
    char *t = slurp(out);
    unlink(out);
    ck_assert_msg(!strncmp(t, "index\tname\tlogit\n0\timg_psi1_const.npy[0]\t", 40), "%s", t);
    ck_assert_int_eq(count_char(t, '\n'), 5);
    char *last = strstr(t, "3\timg_psi1_const.npy[3]\t");
    ck_assert_ptr_nonnull(last);
    double v = strtod(last + strlen("3\timg_psi1_const.npy[3]\t"), NULL);
    ck_assert_msg(fabs(v - got.data[3]) <= 1e-6 * fabs(got.data[3]), "%g vs %g", v, got.data[3]);
    free(t);
    free(got.data);
    free(want.data);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* A PNG directory scores as the .npy of its pixels mapped to [-1, 1]
 * (x / 127.5 - 1), images in name order. */
START_TEST(test_score_png_directory)
{
    char *dir = make_tmpdir();
    run_ok("generate --network " TINY "/network-snapshot.pkl --seeds 10-13,2 --outdir %s/png -q",
           dir);
    /* name order: seed0002, seed0010 .. seed0013 */
    static const int order[5] = {2, 10, 11, 12, 13};
    float *img = malloc(5 * 3 * 32 * 32 * sizeof *img);
    for (int i = 0; i < 5; i++) {
        char p[300];
        snprintf(p, sizeof p, "%s/png/seed%04d.png", dir, order[i]);
        int w, h;
        uint8_t *rgb = read_png(p, &w, &h);
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 32 * 32; k++)
                img[(i * 3 + c) * 1024 + k] = (float)rgb[k * 3 + c] / 127.5f - 1.0f;
        free(rgb);
    }
    char p[300];
    snprintf(p, sizeof p, "%s/img.npy", dir);
    save_f32(p, 4, (const int64_t[]){5, 3, 32, 32}, img);
    free(img);
    run_ok("score --network " TINY "/network-snapshot.pkl --images %s/png --batch 4 "
           "--save-raw %s/a.npy -q", dir, dir);
    run_ok("score --network " TINY "/network-snapshot.pkl --images %s/img.npy --batch 4 "
           "--save-raw %s/b.npy -q", dir, dir);
    snprintf(p, sizeof p, "%s/a.npy", dir);
    arr a = load_f32(p);
    snprintf(p, sizeof p, "%s/b.npy", dir);
    arr b = load_f32(p);
    ck_assert_int_eq(a.shape[0], 5);
    ck_assert(memcmp(a.data, b.data, 5 * sizeof(float)) == 0);
    free(a.data);
    free(b.data);
    /* the table names the files */
    char args[1024], err[4096], out[64];
    snprintf(args, sizeof args, "score --network " TINY "/network-snapshot.pkl --images %s/png -q",
             dir);
    ck_assert_int_eq(run_cli(args, err, sizeof err, out, sizeof out), 0);
    char *t = slurp(out);
    unlink(out);
    ck_assert_ptr_nonnull(strstr(t, "\n0\tseed0002.png\t"));
    ck_assert_ptr_nonnull(strstr(t, "\n4\tseed0013.png\t"));
    free(t);
    /* a PNG of the wrong size is refused by name */
    uint8_t small[8 * 8 * 3] = {0};
    snprintf(p, sizeof p, "%s/png/zz.png", dir);
    ck_assert_int_eq(fs_png_write_rgb8(p, small, 8, 8, 3), FS_OK);
    ck_assert_int_eq(run_cli(args, err, sizeof err, NULL, 0), 2);
    ck_assert_msg(strstr(err, "zz.png: image is 8x8, the discriminator takes 32x32"), "%s", err);
    remove_tree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_generate");
    TCase *io = tcase_create("image_io");
    tcase_add_test(io, test_f32_to_u8_rule);
    tcase_add_test(io, test_layouts);
    tcase_add_loop_test(io, test_png_roundtrip_all_channels, 0, 4);
    tcase_add_test(io, test_png_read_other_kinds);
    tcase_add_test(io, test_png_bad_input);
    tcase_add_test(io, test_png_write_failures_leave_nothing);
    tcase_set_timeout(io, 30);
    suite_add_tcase(s, io);
    TCase *pr = tcase_create("progress");
    tcase_add_test(pr, test_progress_lines);
    tcase_add_test(pr, test_progress_tty);
    tcase_add_test(pr, test_progress_quiet);
    suite_add_tcase(s, pr);
    TCase *gen = tcase_create("generate");
    tcase_add_test(gen, test_generate_matches_gen_images);
    tcase_add_test(gen, test_generate_from_fsw);
    tcase_add_loop_test(gen, test_generate_raw_matches_official, 0,
                        (int)(sizeof raw_cases / sizeof *raw_cases));
    tcase_add_test(gen, test_generate_class_is_one_hot);
    tcase_add_loop_test(gen, test_generate_batch_independent, 0, 2);
    tcase_add_test(gen, test_generate_random_noise_seeded);
    tcase_add_test(gen, test_help);
    tcase_add_loop_test(gen, test_cli_errors, 0,
                        (int)(sizeof cli_bad_cases / sizeof *cli_bad_cases));
    tcase_set_timeout(gen, 120);
    suite_add_tcase(s, gen);
    TCase *sc = tcase_create("score");
    tcase_add_test(sc, test_score_matches_official);
    tcase_add_test(sc, test_score_png_directory);
    tcase_set_timeout(sc, 120);
    suite_add_tcase(s, sc);
    return fs_check_run(s, "cli_generate");
}
