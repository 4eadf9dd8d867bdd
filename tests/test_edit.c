/* The latent-editing library (engine/edit.h) against InterFaceGAN's own
 * functions (tests/fixtures/interfacegan, docs/editing.md): boundary files
 * (.npy, .pt, their SHA-256 and their refusals), project_boundary with one,
 * two and three conditions, both branches of linear_interpolate, numpy's
 * linspace, argsort and legacy shuffle, the seeded strengths, layer lists,
 * and train_boundary (split, accuracies, the boundary itself). */
#include "check_util.h"
#include "fixture_util.h"

#include <stdint.h>

#include "../engine/edit.h"
#include "../engine/file.h"

#define IG FS_FIXTURES "/interfacegan"
#define TINY FS_FIXTURES "/stylegan2/tiny"

static fs_boundary load_b(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, IG "/%s", name);
    fs_boundary b;
    fs_status s = fs_boundary_load(path, &b);
    ck_assert_msg(s == FS_OK, "%s: %s", path, fs_error_message());
    return b;
}

/* ---- files ------------------------------------------------------------------------ */

START_TEST(test_sha256_vectors)
{
    char hex[65];
    fs_sha256_hex("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    fs_sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char a[1000];
    memset(a, 'a', sizeof a);
    /* 56 and 64 bytes: the padding spills into a second block / fills one */
    fs_sha256_hex(a, 56, hex);
    ck_assert_str_eq(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    fs_sha256_hex(a, 64, hex);
    ck_assert_str_eq(hex, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
    fs_sha256_hex(a, 1000, hex);
    ck_assert_str_eq(hex, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}
END_TEST

START_TEST(test_boundary_files)
{
    fs_boundary a = load_b("boundary_a.npy"), b = load_b("boundary_b.npy");
    fs_boundary c = load_b("boundary_c.npy"), pt = load_b("boundary_a.pt");
    ck_assert_int_eq(a.dim, 128);
    ck_assert_int_eq(a.dtype, FS_DTYPE_F32);
    ck_assert_int_eq(b.dtype, FS_DTYPE_F64);
    ck_assert_int_eq(c.dim, 128); /* (D,) accepted */
    ck_assert_int_eq(c.dtype, FS_DTYPE_F64);
    ck_assert(fs_boundary_is_unit(&a) && fs_boundary_is_unit(&b) && fs_boundary_is_unit(&c));
    /* the .pt holds the same float32 values */
    ck_assert_int_eq(pt.dim, 128);
    ck_assert_int_eq(pt.dtype, FS_DTYPE_F32);
    ck_assert(memcmp(pt.v, a.v, 128 * sizeof *a.v) == 0);
    /* the digest `sha256sum boundary_a.npy` prints */
    ck_assert_str_eq(a.sha256, "74cf3990cc68020bbd931856040a6be162074b1df544f2617933189178d28fd3");
    ck_assert_str_ne(pt.sha256, a.sha256);
    /* the dimension check names the file, D and the space */
    ck_assert_int_eq(fs_boundary_check_dim(&a, "x.npy", 512, "--space w", "w_dim"), FS_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "x.npy: boundary has D = 128"));
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "w_dim = 512"));
    ck_assert_int_eq(fs_boundary_check_dim(&a, "x.npy", 128, "--space w", "w_dim"), FS_OK);
    /* --normalize keeps the type and makes the norm 1 */
    for (int i = 0; i < 128; i++)
        a.v[i] = (double)(float)(a.v[i] * 3.0);
    a.norm *= 3;
    ck_assert(!fs_boundary_is_unit(&a));
    fs_boundary_normalize(&a);
    ck_assert(fabs(a.norm - 1) < 1e-6);
    ck_assert(a.v[5] == (double)(float)a.v[5]);
    fs_boundary_free(&a);
    fs_boundary_free(&b);
    fs_boundary_free(&c);
    fs_boundary_free(&pt);
}
END_TEST

/* Bad boundary files: one message naming the file, nothing loaded. */
START_TEST(test_boundary_refused)
{
    char dir[] = "/tmp/fs_h10_edit_XXXXXX", path[300];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    float f[256] = {0};
    int32_t ints[4] = {1, 2, 3, 4};
    struct {
        const char *name;
        fs_dtype t;
        int ndim;
        int64_t shape[3];
        const void *data;
        const char *needle;
    } cases[] = {
        {"two_rows.npy", FS_DTYPE_F32, 2, {2, 128}, f, "shape [2, 128]"},
        {"three_d.npy", FS_DTYPE_F32, 3, {1, 1, 128}, f, "(1, D) or (D,)"},
        {"ints.npy", FS_DTYPE_I32, 1, {4}, ints, "holds i32 values"},
        {"zero.npy", FS_DTYPE_F32, 2, {1, 128}, f, "zero vector"},
        {"nan.npy", FS_DTYPE_F32, 1, {128}, f, "element 7 is nan"},
        {"empty.npy", FS_DTYPE_F32, 1, {0}, f, "shape [0]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (!strcmp(cases[i].name, "nan.npy")) {
            f[0] = 1;
            f[7] = NAN;
        }
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].name);
        ck_assert_int_eq(fs_npy_write(path, cases[i].t, cases[i].ndim, cases[i].shape,
                                      cases[i].data), FS_OK);
        fs_boundary b;
        ck_assert_int_ne(fs_boundary_load(path, &b), FS_OK);
        ck_assert_ptr_null(b.v);
        const char *m = fs_error_message();
        ck_assert_msg(strstr(m, path) && strstr(m, cases[i].needle) && !strchr(m, '\n'),
                      "%s: '%s'", cases[i].name, m);
        unlink(path);
    }
    /* not an array at all; a torch file holding something else */
    fs_boundary b;
    ck_assert_int_ne(fs_boundary_parse((const uint8_t *)"hello, world", 12, "t.npy", &b), FS_OK);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "t.npy: not a boundary file"));
    fs_file_map m;
    ck_assert_int_eq(fs_file_map_open(FS_FIXTURES "/pickle/legacy_ok.pt", &m), FS_OK);
    ck_assert_int_ne(fs_boundary_parse(m.data, m.size, "dict.pt", &b), FS_OK);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "dict.pt"));
    fs_file_map_close(&m);
    ck_assert_int_ne(fs_boundary_load("/nonexistent/b.npy", &b), FS_OK);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "/nonexistent/b.npy"));
    rmdir(dir);
}
END_TEST

/* ---- project_boundary ---------------------------------------------------------------- */


START_TEST(test_project_goldens)
{
    fs_boundary a = load_b("boundary_a.npy");
    fs_boundary cs[3] = {load_b("boundary_b.npy"), load_b("boundary_c.npy"),
                         load_b("boundary_d.npy")};
    static const char *const golden[3] = {"proj1.npy", "proj2.npy", "proj3.npy"};
    for (int k = 1; k <= 3; k++) {
        fs_boundary out;
        ck_assert_int_eq(fs_boundary_project(&a, cs, k, NULL, &out), FS_OK);
        ck_assert_int_eq(out.dtype, FS_DTYPE_F64); /* numpy promotes to the float64 conditions */
        /* the golden read as float32 loses the last bits: compare in double from the file */
        fs_file_map m;
        char path[128];
        snprintf(path, sizeof path, IG "/%s", golden[k - 1]);
        ck_assert_int_eq(fs_file_map_open(path, &m), FS_OK);
        fs_npy g;
        ck_assert_int_eq(fs_npy_parse(m.data, m.size, path, &g), FS_OK);
        ck_assert_int_eq(g.dtype, FS_DTYPE_F64);
        double worst = 0, orth = 0;
        for (int i = 0; i < 128; i++)
            worst = fmax(worst, fabs(out.v[i] - fs_dtype_load(FS_DTYPE_F64, g.data, i)));
        for (int j = 0; j < k; j++) {
            double d = 0;
            for (int i = 0; i < 128; i++)
                d += out.v[i] * cs[j].v[i];
            orth = fmax(orth, fabs(d));
        }
        if (getenv("FS_TEST_VERBOSE"))
            printf("project %d conditions: max |diff| %.3g, max |<p, c>| %.3g\n", k, worst, orth);
        ck_assert_msg(worst <= 1e-12, "%s: max |diff| %.3g", golden[k - 1], worst);
        ck_assert(fabs(out.norm - 1) < 1e-12);
        /* two conditions: the 1e-8 of the closed form leaves ~2e-8, as the official */
        ck_assert(k == 2 ? orth > 1e-9 && orth < 1e-7 : orth < 1e-12);
        fs_file_map_close(&m);
        fs_boundary_free(&out);
    }
    /* no condition: the primal unchanged (not renormalised) */
    fs_boundary out;
    ck_assert_int_eq(fs_boundary_project(&a, cs, 0, NULL, &out), FS_OK);
    ck_assert(memcmp(out.v, a.v, 128 * sizeof *a.v) == 0 && out.dtype == FS_DTYPE_F32);
    fs_boundary_free(&out);
    /* float32 inputs only: a float32 result */
    fs_boundary a2;
    ck_assert_int_eq(fs_boundary_copy(&a, &a2), FS_OK);
    ck_assert_int_eq(fs_boundary_project(&cs[0], &a2, 1, NULL, &out), FS_OK);
    ck_assert_int_eq(out.dtype, FS_DTYPE_F64); /* primal b is float64 */
    fs_boundary_free(&out);
    fs_boundary_free(&a2);
    for (int j = 0; j < 3; j++)
        fs_boundary_free(&cs[j]);
    fs_boundary_free(&a);
}
END_TEST

START_TEST(test_project_refused)
{
    fs_boundary a = load_b("boundary_a.npy"), b = load_b("boundary_b.npy"), out;
    const char *names[4] = {"p.npy", "c1.npy", "c2.npy", "c3.npy"};
    /* the primal itself as the condition: nothing left */
    ck_assert_int_eq(fs_boundary_project(&a, &a, 1, names, &out), FS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "p.npy lies in the span"));
    ck_assert_ptr_null(out.v);
    /* two parallel conditions */
    fs_boundary two[2] = {b, b};
    ck_assert_int_eq(fs_boundary_project(&a, two, 2, names, &out), FS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "c1.npy and c2.npy are parallel"));
    /* three dependent conditions */
    fs_boundary three[3] = {a, b, b};
    fs_boundary c = load_b("boundary_c.npy");
    ck_assert_int_eq(fs_boundary_project(&c, three, 3, names, &out), FS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "linearly dependent"));
    /* another dimension */
    fs_boundary short_b = b;
    short_b.dim = 64;
    ck_assert_int_eq(fs_boundary_project(&a, &short_b, 1, names, &out), FS_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "c1.npy: condition has D = 64"));
    fs_boundary_free(&a);
    fs_boundary_free(&b);
    fs_boundary_free(&c);
}
END_TEST

/* ---- linear_interpolate ---------------------------------------------------------------- */

START_TEST(test_linspace)
{
    double out[16];
    /* numpy.linspace(0.1, 0.7, 7) and (2.5, -1.25, 4), bit for bit */
    static const double want1[7] = {0x1.999999999999ap-4, 0x1.999999999999ap-3,
                                    0x1.3333333333333p-2, 0x1.999999999999ap-2, 0x1p-1,
                                    0x1.3333333333333p-1, 0x1.6666666666666p-1};
    ck_assert_int_eq(fs_edit_linspace(0.1, 0.7, 7, out), FS_OK);
    for (int i = 0; i < 7; i++)
        ck_assert_msg(out[i] == want1[i], "linspace(0.1, 0.7, 7)[%d] = %a", i, out[i]);
    static const double want2[4] = {2.5, 1.25, 0, -1.25};
    ck_assert_int_eq(fs_edit_linspace(2.5, -1.25, 4, out), FS_OK);
    for (int i = 0; i < 4; i++)
        ck_assert(out[i] == want2[i]);
    /* 0 .. 1 in 10: the middle values as numpy rounds them */
    ck_assert_int_eq(fs_edit_linspace(0, 1, 10, out), FS_OK);
    ck_assert(out[5] == 0x1.1c71c71c71c72p-1 && out[7] == 0x1.8e38e38e38e38p-1 && out[9] == 1);
    ck_assert_int_eq(fs_edit_linspace(0.75, 9, 1, out), FS_OK);
    ck_assert(out[0] == 0.75);
    ck_assert_int_eq(fs_edit_linspace(3, 3, 3, out), FS_OK);
    ck_assert(out[0] == 3 && out[1] == 3 && out[2] == 3);
    ck_assert_int_eq(fs_edit_linspace(0, 1, 0, out), FS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "at least 1 step"));
}
END_TEST

/* The W branch: w_edit (float32 boundary), li_w_f64 (float64), li_steps1. */
START_TEST(test_interpolate_w)
{
    fs_fixture_arr ws = fs_fixture_load(TINY, "ws_psi1.npy");
    struct {
        const char *boundary, *golden;
        double start, end;
        int steps;
    } cases[] = {{"boundary_a.npy", "w_edit.npy", -3, 3, 7},
                 {"boundary_b.npy", "li_w_f64.npy", -1.5, 2.5, 4},
                 {"boundary_b.npy", "li_steps1.npy", 0.75, 9.0, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        fs_boundary b = load_b(cases[c].boundary);
        fs_fixture_arr g = fs_fixture_load(IG, cases[c].golden);
        double d[16], worst = 0, dist_err = 0;
        ck_assert_int_eq(fs_edit_linspace(cases[c].start, cases[c].end, cases[c].steps, d), FS_OK);
        float out[16 * 128];
        for (int i = 0; i < 4; i++) {
            fs_edit_to_distances(ws.data + (size_t)i * 8 * 128, &b, d, cases[c].steps, out);
            for (int k = 0; k < cases[c].steps * 128; k++)
                worst = fmax(worst, fabs((double)out[k] - g.data[(size_t)i * cases[c].steps * 128 + k]));
            /* every output sits at its signed distance from the hyperplane */
            for (int k = 0; k < cases[c].steps; k++)
                dist_err = fmax(dist_err, fabs(fs_edit_projection(out + k * 128, &b) - d[k]));
        }
        if (getenv("FS_TEST_VERBOSE"))
            printf("%s: max |diff| %.3g, max |<w, n> - d| %.3g\n", cases[c].golden, worst,
                   dist_err);
        ck_assert_msg(worst <= 1e-6, "%s: max |diff| %.3g", cases[c].golden, worst);
        ck_assert(dist_err <= 1e-5);
        fs_fixture_free(&g);
        fs_boundary_free(&b);
    }
    fs_fixture_free(&ws);
}
END_TEST

/* The W+ branch (a plain offset), on all layers and on layers 0-3. */
START_TEST(test_interpolate_wp)
{
    fs_fixture_arr ws = fs_fixture_load(TINY, "ws_psi1.npy");
    fs_boundary b = load_b("boundary_b.npy");
    unsigned char mask[8];
    ck_assert_int_eq(fs_edit_parse_layers("0-3", 8, mask), FS_OK);
    const char *golden[2] = {"wp_edit.npy", "wp_edit_layers0-4.npy"};
    double d[5];
    fs_edit_linspace(-2, 2, 5, d);
    for (int c = 0; c < 2; c++) {
        fs_fixture_arr g = fs_fixture_load(IG, golden[c]); /* float64 read as float32 */
        float out[8 * 128];
        size_t exact = 0, n = 0;
        double worst = 0;
        for (int i = 0; i < 4; i++)
            for (int k = 0; k < 5; k++) {
                fs_edit_offset(ws.data + (size_t)i * 1024, 8, &b, c ? mask : NULL, d[k], out);
                const float *want = g.data + ((size_t)i * 5 + k) * 1024;
                for (int j = 0; j < 1024; j++, n++) {
                    exact += out[j] == want[j];
                    worst = fmax(worst, fabs((double)out[j] - want[j]));
                }
            }
        /* computed in float64 and rounded once, as the golden cast to float32 */
        ck_assert_msg(exact == n, "%s: %zu of %zu values differ (max %.3g)", golden[c], n - exact,
                      n, worst);
        fs_fixture_free(&g);
    }
    /* in place, and a float32 boundary's float32 arithmetic */
    fs_boundary a = load_b("boundary_a.npy");
    float code[2 * 128], want[2 * 128];
    memcpy(code, ws.data, sizeof code);
    for (int j = 0; j < 2 * 128; j++) {
        float prod = 1.5f * (float)a.v[j % 128];
        want[j] = j < 128 ? code[j] : code[j] + prod;
    }
    unsigned char m2[2] = {0, 1};
    fs_edit_offset(code, 2, &a, m2, 1.5, code);
    ck_assert(memcmp(code, want, sizeof code) == 0);
    fs_boundary_free(&a);
    fs_boundary_free(&b);
    fs_fixture_free(&ws);
}
END_TEST

START_TEST(test_alphas_and_shuffle)
{
    /* RandomState(s): randn(1, 128), then uniform(-2, 2, size=(2, 3)) */
    fs_fixture_arr g = fs_fixture_load(IG, "alphas_seeds0-2.npy");
    fs_file_map m;
    ck_assert_int_eq(fs_file_map_open(IG "/alphas_seeds0-2.npy", &m), FS_OK);
    fs_npy arr;
    ck_assert_int_eq(fs_npy_parse(m.data, m.size, "alphas", &arr), FS_OK);
    for (uint32_t s = 0; s < 3; s++) {
        fs_np_random r;
        fs_np_random_seed(&r, s);
        for (int j = 0; j < 128; j++)
            fs_np_random_gauss(&r);
        double al[6];
        fs_edit_draw_alphas(&r, -2, 2, 6, al);
        for (int j = 0; j < 6; j++)
            ck_assert_msg(al[j] == fs_dtype_load(FS_DTYPE_F64, arr.data, s * 6 + j),
                          "seed %u alpha %d: %.17g", s, j, al[j]);
    }
    fs_file_map_close(&m);
    fs_fixture_free(&g);
    /* np.random.seed(0); shuffle(arange(10)) */
    static const int64_t want[10] = {2, 8, 4, 9, 1, 6, 7, 3, 0, 5};
    int64_t x[10];
    for (int i = 0; i < 10; i++)
        x[i] = i;
    fs_np_random r;
    fs_np_random_seed(&r, 0);
    fs_np_shuffle(&r, x, 10);
    ck_assert(memcmp(x, want, sizeof x) == 0);
    /* np.random.seed(123456789); shuffle(arange(1000)) */
    static const int64_t head[10] = {947, 863, 731, 526, 692, 674, 230, 551, 422, 547};
    static const int64_t tail[5] = {346, 985, 306, 668, 696};
    int64_t *y = malloc(1000 * sizeof *y);
    for (int i = 0; i < 1000; i++)
        y[i] = i;
    fs_np_random_seed(&r, 123456789u);
    fs_np_shuffle(&r, y, 1000);
    ck_assert(memcmp(y, head, sizeof head) == 0 && memcmp(y + 995, tail, sizeof tail) == 0);
    free(y);
}
END_TEST

START_TEST(test_layers)
{
    unsigned char m[14];
    ck_assert_int_eq(fs_edit_parse_layers("0-3,8", 14, m), FS_OK);
    for (int l = 0; l < 14; l++)
        ck_assert_int_eq(m[l], l <= 3 || l == 8);
    ck_assert_int_eq(fs_edit_parse_layers("13,2-2,0-1,1", 14, m), FS_OK);
    ck_assert(m[0] && m[1] && m[2] && !m[3] && m[13]);
    struct {
        const char *s, *needle;
    } bad[] = {{"5-3", "empty range"}, {"14", "layer 14 is out of range"},
               {"0-14", "layer 14 is out of range"}, {"a", "'a' is not"}, {"1,", "ends with a comma"},
               {"", "empty"}, {"1-", "'1-' is not"}, {"-1", "'-1' is not"}, {"1;2", "'1;2' is not"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(fs_edit_parse_layers(bad[i].s, 14, m), FS_ERR_ARG);
        ck_assert_msg(strstr(fs_error_message(), bad[i].needle), "'%s': %s", bad[i].s,
                      fs_error_message());
    }
}
END_TEST

/* ---- train_boundary -------------------------------------------------------------------- */

typedef struct {
    fs_file_map map;
    fs_npy a;
} npy_in;

static void npy_in_open(npy_in *f, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, IG "/%s", name);
    ck_assert_int_eq(fs_file_map_open(path, &f->map), FS_OK);
    ck_assert_int_eq(fs_npy_parse(f->map.data, f->map.size, path, &f->a), FS_OK);
}

/* "key v0 v1 ..." from a split file into out (at most cap values); the count. */
static int read_list(const char *file, const char *key, int64_t *out, int cap)
{
    char path[256];
    snprintf(path, sizeof path, IG "/%s", file);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char line[1 << 16];
    int n = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ' ') {
            n = 0;
            for (char *p = line + kl; n < cap;) {
                char *end;
                long long v = strtoll(p, &end, 10);
                if (end == p)
                    break;
                out[n++] = v;
                p = end;
            }
        }
    fclose(f);
    ck_assert_msg(n >= 0, "%s: no '%s' line", file, key);
    return n;
}

static double cosine_f(const float *a, const float *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

START_TEST(test_train_golden)
{
    npy_in codes, scores;
    npy_in_open(&codes, "codes.npy");
    npy_in_open(&scores, "scores.npy");
    fs_boundary_train_args a = {.codes = &codes.a, .scores = &scores.a, .ratio = 0.1,
                                .split = 0.7, .seed = 0};
    fs_boundary_train_result r;
    fs_status s = fs_boundary_train(&a, &r);
    ck_assert_msg(s == FS_OK, "%s", fs_error_message());
    ck_assert_int_eq(r.chosen, 200);
    ck_assert_int_eq(r.train_num, 140);
    ck_assert_int_eq(r.val_num, 60);
    ck_assert_int_eq(r.remaining_num, 1600);
    ck_assert_int_eq(r.remaining_pos, 787);
    ck_assert_int_eq(r.remaining_neg, 813);
    /* the split, bit for bit */
    int64_t want[200];
    ck_assert_int_eq(read_list("split_seed0.txt", "positive_idx", want, 200), 200);
    ck_assert(memcmp(r.positive_idx, want, sizeof want) == 0);
    ck_assert_int_eq(read_list("split_seed0.txt", "negative_idx", want, 200), 200);
    ck_assert(memcmp(r.negative_idx, want, sizeof want) == 0);
    ck_assert_int_eq(read_list("split_seed0.txt", "train_rows_positive", want, 200), 140);
    for (int k = 0; k < 140; k++)
        ck_assert_int_eq(r.sorted_rows[r.positive_idx[k]], want[k]);
    ck_assert_int_eq(read_list("split_seed0.txt", "train_rows_negative", want, 200), 140);
    for (int k = 0; k < 140; k++)
        ck_assert_int_eq(r.sorted_rows[r.n_valid - r.chosen + r.negative_idx[k]], want[k]);
    /* the accuracies the official function logged */
    ck_assert_int_eq(r.val_correct, 119);
    ck_assert_int_eq(r.remaining_correct, 1231);
    int64_t nsv[2];
    ck_assert_int_eq(read_list("split_seed0.txt", "n_support", nsv, 2), 2);
    ck_assert_int_eq(r.n_support[0], nsv[0]);
    ck_assert_int_eq(r.n_support[1], nsv[1]);
    ck_assert(fabs(r.intercept - -0.029621808918541416) < 1e-6);
    /* the boundary */
    fs_fixture_arr g = fs_fixture_load(IG, "boundary_trained.npy");
    double cs = cosine_f(r.boundary, g.data, 128), worst = 0;
    for (int i = 0; i < 128; i++)
        worst = fmax(worst, fabs((double)r.boundary[i] - g.data[i]));
    if (getenv("FS_TEST_VERBOSE"))
        printf("train_boundary: cosine %.9f, max |diff| %.3g, intercept %.9f\n", cs, worst,
               r.intercept);
    ck_assert_msg(cs >= 0.99999, "cosine %.9f", cs);
    ck_assert(worst < 1e-6);
    double nn = 0;
    for (int i = 0; i < 128; i++)
        nn += (double)r.boundary[i] * r.boundary[i];
    ck_assert(fabs(nn - 1) < 1e-6);
    fs_fixture_free(&g);
    fs_boundary_train_result_free(&r);
    fs_file_map_close(&codes.map);
    fs_file_map_close(&scores.map);
}
END_TEST

/* Ties, float32 scores, an invalid value and a count: the sort order
 * numpy's argsort gives, which decides the chosen rows. */
START_TEST(test_train_ties)
{
    npy_in codes, scores;
    npy_in_open(&codes, "ties_codes.npy");
    npy_in_open(&scores, "ties_scores.npy");
    fs_boundary_train_args a = {.codes = &codes.a, .scores = &scores.a, .ratio = 50,
                                .split = 0.6, .has_invalid = 1, .invalid_value = -9.0,
                                .seed = 7};
    fs_boundary_train_result r;
    ck_assert_int_eq(fs_boundary_train(&a, &r), FS_OK);
    ck_assert_int_eq(r.n_valid, 560);
    int64_t want[600];
    ck_assert_int_eq(read_list("ties_split.txt", "sorted_rows", want, 600), 560);
    ck_assert(memcmp(r.sorted_rows, want, 560 * sizeof *want) == 0);
    ck_assert_int_eq(read_list("ties_split.txt", "positive_idx", want, 600), 50);
    ck_assert(memcmp(r.positive_idx, want, 50 * sizeof *want) == 0);
    ck_assert_int_eq(read_list("ties_split.txt", "negative_idx", want, 600), 50);
    ck_assert(memcmp(r.negative_idx, want, 50 * sizeof *want) == 0);
    ck_assert_int_eq(r.train_num, 30);
    ck_assert_int_eq(r.remaining_pos, 178);
    ck_assert_int_eq(r.remaining_neg, 282);
    ck_assert_int_eq(r.val_correct, 40);
    ck_assert_int_eq(r.remaining_correct, 383);
    fs_fixture_arr g = fs_fixture_load(IG, "ties_boundary.npy");
    double cs = cosine_f(r.boundary, g.data, 16);
    ck_assert_msg(cs >= 0.99999, "cosine %.9f", cs);
    fs_fixture_free(&g);
    fs_boundary_train_result_free(&r);
    fs_file_map_close(&codes.map);
    fs_file_map_close(&scores.map);
}
END_TEST

START_TEST(test_train_refused)
{
    npy_in codes, scores, ties;
    npy_in_open(&codes, "codes.npy");
    npy_in_open(&scores, "scores.npy");
    npy_in_open(&ties, "ties_scores.npy");
    fs_boundary_train_result r;
    /* too few chosen to train on */
    fs_boundary_train_args a = {.codes = &codes.a, .scores = &scores.a, .ratio = 0.0004,
                                .split = 0.7, .codes_label = "c.npy", .scores_label = "s.npy"};
    ck_assert_int_eq(fs_boundary_train(&a, &r), FS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "at least one of each class"));
    fs_boundary_train_result_free(&r);
    /* scores of another length */
    a.ratio = 0.1;
    a.scores = &ties.a;
    ck_assert_int_eq(fs_boundary_train(&a, &r), FS_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "s.npy: scores must have shape [2000, 1]"));
    /* a NaN score */
    a.scores = &scores.a;
    uint8_t *copy = malloc(scores.a.nbytes);
    memcpy(copy, scores.a.data, scores.a.nbytes);
    double nan = NAN;
    memcpy(copy + 8 * 17, &nan, 8);
    fs_npy bad = scores.a;
    bad.data = copy;
    a.scores = &bad;
    ck_assert_int_eq(fs_boundary_train(&a, &r), FS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "s.npy: scores row 17, column 0 is nan"));
    free(copy);
    /* bad ratio and split */
    a.scores = &scores.a;
    a.ratio = 0;
    ck_assert_int_eq(fs_boundary_train(&a, &r), FS_ERR_ARG);
    a.ratio = 0.1;
    a.split = 1.5;
    ck_assert_int_eq(fs_boundary_train(&a, &r), FS_ERR_ARG);
    fs_file_map_close(&codes.map);
    fs_file_map_close(&scores.map);
    fs_file_map_close(&ties.map);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("edit");
    TCase *tc = tcase_create("edit");
    tcase_add_test(tc, test_sha256_vectors);
    tcase_add_test(tc, test_boundary_files);
    tcase_add_test(tc, test_boundary_refused);
    tcase_add_test(tc, test_project_goldens);
    tcase_add_test(tc, test_project_refused);
    tcase_add_test(tc, test_linspace);
    tcase_add_test(tc, test_interpolate_w);
    tcase_add_test(tc, test_interpolate_wp);
    tcase_add_test(tc, test_alphas_and_shuffle);
    tcase_add_test(tc, test_layers);
    tcase_add_test(tc, test_train_golden);
    tcase_add_test(tc, test_train_ties);
    tcase_add_test(tc, test_train_refused);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return fs_check_run(s, "edit");
}
