/* Check suite for the .npy reader and writer (weights_tools/npy.c).
 *
 * Every .npy fixture must parse; a few are checked against sums and end
 * values computed with numpy when this test was written. Arrays written here
 * must read back bit for bit. Headers are assembled from dict text so that a
 * table can state, row by row, which header is accepted and which status a
 * malformed one produces. */
#include "check_util.h"

#include <stdint.h>
#include <sys/stat.h>

#include "../engine/file.h"
#include "../weights_tools/npy.h"

#define LABEL "unit.npy"

static void expect_fail(fs_status got, fs_status want, const char *label, const char *what)
{
    ck_assert_msg(got == want, "%s: got %s (%s), want %s", what, fs_status_string(got),
                  fs_error_message(), fs_status_string(want));
    ck_assert_msg(strstr(fs_error_message(), label), "%s: message lacks the label: %s", what,
                  fs_error_message());
    ck_assert_msg(!strchr(fs_error_message(), '\n'), "%s: multi-line message", what);
}

/* A .npy image: preamble of the given major version, dict + spaces + '\n'
 * (64-byte aligned as numpy does), then data_len bytes 0, 1, 2... */
static uint8_t *npy_image(int major, const char *dict, size_t data_len, size_t *len)
{
    size_t pre = major == 1 ? 10 : 12, dlen = strlen(dict);
    size_t hlen = (pre + dlen + 1 + 63) / 64 * 64 - pre;
    *len = pre + hlen + data_len;
    uint8_t *f = malloc(*len);
    ck_assert_ptr_nonnull(f);
    memcpy(f, "\x93NUMPY", 6);
    f[6] = (uint8_t)major;
    f[7] = 0;
    for (size_t i = 0; i < pre - 8; i++)
        f[8 + i] = (uint8_t)(hlen >> (8 * i));
    memcpy(f + pre, dict, dlen);
    memset(f + pre + dlen, ' ', hlen - dlen - 1);
    f[pre + hlen - 1] = '\n';
    for (size_t i = 0; i < data_len; i++)
        f[pre + hlen + i] = (uint8_t)i;
    return f;
}

static char tmp_dir[64];

static void make_tmp_dir(void)
{
    strcpy(tmp_dir, "/tmp/fs_test_npy.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

static void remove_tmp_dir(void)
{
    DIR *d = opendir(tmp_dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') {
                snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
                unlink(p);
            }
        closedir(d);
    }
    rmdir(tmp_dir);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return b;
}

/* ---- fixtures ---- */

/* From numpy 1.24: float(a.astype(float64).sum()), a.ravel()[0], a.ravel()[-1]. */
static const struct {
    const char *path;
    int ndim;
    int64_t shape[4];
    double sum, first, last;
    /* clang-format off */
} npy_expect[] = {
    {"seeds_z512.npy", 2, {5, 512}, -2.9582460463971074, 1.764052391052246, 1.296005129814148},
    {"tiny/z.npy", 2, {4, 128}, -12.807485594414175, 0.20247569680213928, -0.012796987779438496},
    {"tiny/ws_psi1.npy", 3, {4, 8, 128}, 2912.531263373792, 2.274515390396118, -0.1564910113811493},
    {"tiny/img_psi1_const.npy", 4, {4, 3, 32, 32}, 1821.8965879101306, -0.5533766746520996, -0.20032989978790283},
    {"tiny-cond/c.npy", 2, {4, 5}, 4.0, 1.0, 0.0},
    {"tiny-tf/D_scores_img_psi1_const.npy", 2, {4, 1}, 0.08563980087637901, 0.4402303695678711,
     -0.033277858048677444},
    {"tiny/trace_b4_x.npy", 4, {1, 64, 4, 4}, 373.7486612718494, 0.2919711172580719, 1.0540715456008911},
};
/* clang-format on */

START_TEST(test_fixture_values)
{
    for (size_t i = 0; i < sizeof npy_expect / sizeof npy_expect[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/stylegan2/%s", FS_FIXTURES, npy_expect[i].path);
        int ndim;
        int64_t shape[FS_NPY_MAX_DIMS];
        float *d;
        ck_assert_msg(fs_npy_read_f32(path, &ndim, shape, &d) == FS_OK, "%s", fs_error_message());
        ck_assert_int_eq(ndim, npy_expect[i].ndim);
        size_t n = 1;
        for (int k = 0; k < ndim; k++) {
            ck_assert_int_eq(shape[k], npy_expect[i].shape[k]);
            n *= (size_t)shape[k];
        }
        double sum = 0;
        for (size_t k = 0; k < n; k++)
            sum += d[k];
        ck_assert_double_eq_tol(sum, npy_expect[i].sum, 1e-9 * (1 + fabs(npy_expect[i].sum)));
        ck_assert_double_eq(d[0], npy_expect[i].first);
        ck_assert_double_eq(d[n - 1], npy_expect[i].last);
        free(d);
    }
    /* A uint8 image: parse only (it is not a float array). */
    const char *img = FS_FIXTURES "/stylegan2/tiny/gen_psi0.7/seed0042.npy";
    fs_file_map m;
    ck_assert_int_eq(fs_file_map_open(img, &m), FS_OK);
    fs_npy a;
    ck_assert_int_eq(fs_npy_parse(m.data, m.size, img, &a), FS_OK);
    ck_assert_int_eq(a.dtype, FS_DTYPE_U8);
    ck_assert_int_eq(a.ndim, 3);
    ck_assert_int_eq(a.shape[0], 32);
    ck_assert_int_eq(a.shape[2], 3);
    ck_assert_uint_eq(a.nbytes, 32 * 32 * 3);
    uint64_t sum = 0;
    for (size_t k = 0; k < a.nbytes; k++)
        sum += a.data[k];
    ck_assert_uint_eq(sum, 412424);
    ck_assert_int_eq(memcmp(a.data, "\x6c\x74\x5b\xec\x67", 5), 0); /* 108 116 91 236 103 */
    int ndim;
    int64_t shape[FS_NPY_MAX_DIMS];
    float *d = (float *)1;
    expect_fail(fs_npy_read_f32(img, &ndim, shape, &d), FS_ERR_UNSUPPORTED, img, "u8 as float");
    ck_assert_ptr_null(d);
    fs_file_map_close(&m);
}
END_TEST

static int walk_npy(const char *dir, int *count)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            walk_npy(path, count);
            continue;
        }
        size_t n = strlen(path);
        if (n < 4 || strcmp(path + n - 4, ".npy") != 0)
            continue;
        fs_file_map m;
        ck_assert_int_eq(fs_file_map_open(path, &m), FS_OK);
        fs_npy a;
        ck_assert_msg(fs_npy_parse(m.data, m.size, path, &a) == FS_OK, "%s", fs_error_message());
        ck_assert_int_eq(a.fortran, 0);
        ck_assert_uint_eq((size_t)(a.data - m.data) % 64, 0); /* numpy >= 1.22 aligns */
        if (a.dtype == FS_DTYPE_F32) {
            float *f;
            ck_assert_int_eq(fs_npy_to_f32(&a, path, &f), FS_OK);
            ck_assert_int_eq(memcmp(f, a.data, a.nbytes), 0);
            free(f);
        }
        fs_file_map_close(&m);
        (*count)++;
    }
    closedir(d);
    return *count;
}

START_TEST(test_every_fixture)
{
    int count = 0;
    walk_npy(FS_FIXTURES "/stylegan2", &count);
    ck_assert_int_ge(count, 46); /* as of this writing */
}
END_TEST

/* ---- round trips ---- */

START_TEST(test_round_trip)
{
    make_tmp_dir();
    static const struct {
        fs_dtype t;
        const char *descr;
    } types[] = {
        {FS_DTYPE_F32, "<f4"}, {FS_DTYPE_F16, "<f2"}, {FS_DTYPE_F64, "<f8"},
        {FS_DTYPE_I64, "<i8"}, {FS_DTYPE_I32, "<i4"}, {FS_DTYPE_I16, "<i2"},
        {FS_DTYPE_I8, "|i1"},  {FS_DTYPE_U8, "|u1"},  {FS_DTYPE_BOOL, "|b1"},
    };
    static const struct {
        int ndim;
        int64_t shape[8];
        const char *text;
    } shapes[] = {
        {0, {0}, "()"},
        {1, {5}, "(5,)"},
        {2, {3, 7}, "(3, 7)"},
        {3, {2, 0, 4}, "(2, 0, 4)"},
        {8, {2, 1, 2, 1, 2, 1, 2, 3}, "(2, 1, 2, 1, 2, 1, 2, 3)"},
    };
    uint8_t src[8 * 96];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 37 + 11);
    char path[128];
    snprintf(path, sizeof path, "%s/a.npy", tmp_dir);
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            uint8_t data[8 * 96];
            memcpy(data, src, sizeof data);
            if (types[t].t == FS_DTYPE_BOOL)
                for (size_t k = 0; k < sizeof data; k++)
                    data[k] &= 1;
            ck_assert_msg(fs_npy_write(path, types[t].t, shapes[s].ndim, shapes[s].shape, data) ==
                              FS_OK,
                          "%s", fs_error_message());
            size_t len;
            uint8_t *f = slurp(path, &len);
            fs_npy a;
            ck_assert_msg(fs_npy_parse(f, len, path, &a) == FS_OK, "%s", fs_error_message());
            ck_assert_int_eq(a.dtype, types[t].t);
            ck_assert_int_eq(a.ndim, shapes[s].ndim);
            ck_assert_int_eq(a.fortran, 0);
            for (int k = 0; k < a.ndim; k++)
                ck_assert_int_eq(a.shape[k], shapes[s].shape[k]);
            ck_assert_int_eq(memcmp(a.data, data, a.nbytes), 0);
            /* Version 1.0, data 64-byte aligned, header exactly as numpy's repr. */
            ck_assert_int_eq(f[6], 1);
            ck_assert_uint_eq((size_t)(a.data - f) % 64, 0);
            ck_assert_int_eq(a.data[-1], '\n');
            char want[160];
            snprintf(want, sizeof want, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     types[t].descr, shapes[s].text);
            ck_assert_int_eq(memcmp(f + 10, want, strlen(want)), 0);
            free(f);
        }
    }
    /* Float arrays come back through read_f32 as float32. */
    const double dv[6] = {1.5, -2.25, 1e-3, 65504.0, -0.0, 3.0};
    const int64_t sh[2] = {2, 3};
    ck_assert_int_eq(fs_npy_write(path, FS_DTYPE_F64, 2, sh, dv), FS_OK);
    int ndim;
    int64_t shape[FS_NPY_MAX_DIMS];
    float *out;
    ck_assert_int_eq(fs_npy_read_f32(path, &ndim, shape, &out), FS_OK);
    ck_assert_int_eq(ndim, 2);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(out[i], (float)dv[i]);
    free(out);
    uint16_t hv[6];
    for (int i = 0; i < 6; i++)
        hv[i] = fs_f32_to_f16((float)dv[i]);
    ck_assert_int_eq(fs_npy_write(path, FS_DTYPE_F16, 2, sh, hv), FS_OK);
    ck_assert_int_eq(fs_npy_read_f32(path, &ndim, shape, &out), FS_OK);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(out[i], fs_f16_to_f32(hv[i]));
    free(out);
    /* An empty float array reads back as an (empty) allocation. */
    const int64_t zero[2] = {0, 4};
    ck_assert_int_eq(fs_npy_write(path, FS_DTYPE_F32, 2, zero, NULL), FS_OK);
    ck_assert_int_eq(fs_npy_read_f32(path, &ndim, shape, &out), FS_OK);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(shape[0], 0);
    free(out);
    remove_tmp_dir();
}
END_TEST

START_TEST(test_fortran_order)
{
    /* a[i][j][k] = 100 i + 10 j + k, shape (2, 3, 4), stored column-major. */
    size_t len;
    uint8_t *f =
        npy_image(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 4), }", 96, &len);
    float *store = (float *)(void *)(f + len - 96);
    for (int k = 0, s = 0; k < 4; k++)
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < 2; i++, s++) {
                float v = (float)(100 * i + 10 * j + k);
                memcpy(&store[s], &v, 4);
            }
    fs_npy a;
    ck_assert_int_eq(fs_npy_parse(f, len, LABEL, &a), FS_OK);
    ck_assert_int_eq(a.fortran, 1);
    float *c;
    ck_assert_int_eq(fs_npy_to_f32(&a, LABEL, &c), FS_OK);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                ck_assert_float_eq(c[i * 12 + j * 4 + k], (float)(100 * i + 10 * j + k));
    free(c);
    free(f);

    /* 1-d Fortran order is plain order; an empty Fortran array is fine. */
    f = npy_image(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (3,), }", 24, &len);
    ck_assert_int_eq(fs_npy_parse(f, len, LABEL, &a), FS_OK);
    ck_assert_int_eq(fs_npy_to_f32(&a, LABEL, &c), FS_OK);
    free(c);
    free(f);
    f = npy_image(1, "{'descr': '<f2', 'fortran_order': True, 'shape': (3, 0, 2), }", 0, &len);
    ck_assert_int_eq(fs_npy_parse(f, len, LABEL, &a), FS_OK);
    ck_assert_int_eq(fs_npy_to_f32(&a, LABEL, &c), FS_OK);
    free(c);
    free(f);
}
END_TEST

/* ---- header table ---- */

typedef struct {
    const char *what;
    int major;
    const char *dict;
    size_t data_len;
    fs_status expect;
} npy_row;

#define D(descr, fortran, shape)                                                                   \
    "{'descr': '" descr "', 'fortran_order': " fortran ", 'shape': " shape ", }"

/* clang-format off */
static const npy_row npy_rows[] = {
    {"numpy's own header", 1, D("<f4", "False", "(2, 3)"), 24, FS_OK},
    {"version 2.0", 2, D("<f4", "False", "(2, 3)"), 24, FS_OK},
    {"version 3.0", 3, D("<f4", "False", "(2, 3)"), 24, FS_OK},
    {"double quotes, other order, no trailing comma", 1,
     "{\"shape\":(2,3),\"descr\":\"<f4\",\"fortran_order\":False}", 24, FS_OK},
    {"zero-d", 1, D("<f8", "False", "()"), 8, FS_OK},
    {"python 2 long dims", 1, D("<i2", "False", "(3L, 2L)"), 12, FS_OK},
    {"trailing comma in shape", 1, D("<f4", "False", "(2, 3,)"), 24, FS_OK},
    {"native order", 1, D("=f4", "False", "(2,)"), 8, FS_OK},
    {"one-byte types take any order", 1, D("<u1", "False", "(2,)"), 2, FS_OK},
    {"bool", 1, D("|b1", "False", "(2,)"), 2, FS_OK},
    {"int8", 1, D("|i1", "False", "(2,)"), 2, FS_OK},
    {"int64", 1, D("<i8", "False", "(2,)"), 16, FS_OK},
    {"zero dimension beside huge ones", 1, D("<f4", "False", "(4611686018427387904, 4611686018427387904, 0)"), 0,
     FS_OK},
    /* dtypes */
    {"big-endian float", 1, D(">f4", "False", "(2,)"), 8, FS_ERR_UNSUPPORTED},
    {"big-endian int", 1, D(">i8", "False", "(2,)"), 16, FS_ERR_UNSUPPORTED},
    {"'|' on a multi-byte type", 1, D("|f4", "False", "(2,)"), 8, FS_ERR_FORMAT},
    {"object array", 1, D("|O", "False", "(2,)"), 16, FS_ERR_FORBIDDEN},
    {"unsigned 32-bit", 1, D("<u4", "False", "(2,)"), 8, FS_ERR_UNSUPPORTED},
    {"complex", 1, D("<c8", "False", "(2,)"), 16, FS_ERR_UNSUPPORTED},
    {"unicode strings", 1, D("<U4", "False", "(2,)"), 32, FS_ERR_UNSUPPORTED},
    {"long double", 1, D("<f16", "False", "(2,)"), 32, FS_ERR_UNSUPPORTED},
    {"no byte order", 1, D("f4", "False", "(2,)"), 8, FS_ERR_FORMAT},
    {"empty descr", 1, D("", "False", "(2,)"), 8, FS_ERR_FORMAT},
    {"structured dtype", 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8,
     FS_ERR_UNSUPPORTED},
    {"descr not a string", 1, "{'descr': 4, 'fortran_order': False, 'shape': (2,), }", 8, FS_ERR_FORMAT},
    /* keys */
    {"missing shape", 1, "{'descr': '<f4', 'fortran_order': False, }", 4, FS_ERR_FORMAT},
    {"missing descr", 1, "{'fortran_order': False, 'shape': (1,), }", 4, FS_ERR_FORMAT},
    {"empty dict", 1, "{}", 0, FS_ERR_FORMAT},
    {"extra key", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1, }", 4, FS_ERR_FORMAT},
    {"duplicate key", 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4,
     FS_ERR_FORMAT},
    {"key with an escape", 1, "{'desc\\x72': '<f4', 'fortran_order': False, 'shape': (1,), }", 4, FS_ERR_FORMAT},
    {"unterminated key", 1, "{'descr", 0, FS_ERR_FORMAT},
    {"missing colon", 1, "{'descr' '<f4', 'fortran_order': False, 'shape': (1,), }", 4, FS_ERR_FORMAT},
    {"missing comma", 1, "{'descr': '<f4' 'fortran_order': False, 'shape': (1,), }", 4, FS_ERR_FORMAT},
    {"double comma", 1, "{'descr': '<f4',, 'fortran_order': False, 'shape': (1,), }", 4, FS_ERR_FORMAT},
    {"no braces", 1, "'descr': '<f4', 'fortran_order': False, 'shape': (1,)", 4, FS_ERR_FORMAT},
    {"text after the dict", 1, D("<f4", "False", "(1,)") " x", 4, FS_ERR_FORMAT},
    {"tab in the header", 1, "{'descr':\t'<f4', 'fortran_order': False, 'shape': (1,), }", 4, FS_ERR_FORMAT},
    /* fortran_order */
    {"fortran_order lower-case", 1, D("<f4", "false", "(1,)"), 4, FS_ERR_FORMAT},
    {"fortran_order integer", 1, D("<f4", "0", "(1,)"), 4, FS_ERR_FORMAT},
    {"fortran_order string", 1, D("<f4", "'False'", "(1,)"), 4, FS_ERR_FORMAT},
    {"fortran_order prefix", 1, D("<f4", "Fals", "(1,)"), 4, FS_ERR_FORMAT},
    /* shape */
    {"shape is a list", 1, D("<f4", "False", "[1]"), 4, FS_ERR_FORMAT},
    {"shape (n) is an int", 1, D("<f4", "False", "(1)"), 4, FS_ERR_FORMAT},
    {"shape is an int", 1, D("<f4", "False", "1"), 4, FS_ERR_FORMAT},
    {"negative dimension", 1, D("<f4", "False", "(-1,)"), 4, FS_ERR_FORMAT},
    {"real dimension", 1, D("<f4", "False", "(1.0,)"), 4, FS_ERR_FORMAT},
    {"leading zero", 1, D("<f4", "False", "(01,)"), 4, FS_ERR_FORMAT},
    {"empty dimension", 1, D("<f4", "False", "(1,,)"), 4, FS_ERR_FORMAT},
    {"lone comma", 1, D("<f4", "False", "(,)"), 4, FS_ERR_FORMAT},
    {"unclosed tuple", 1, D("<f4", "False", "(1, 2"), 8, FS_ERR_FORMAT},
    {"rank 9", 1, D("|u1", "False", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), 1, FS_ERR_LIMIT},
    {"dimension beyond int64", 1, D("|u1", "False", "(9223372036854775808,)"), 1, FS_ERR_FORMAT},
    {"dimension of 30 digits", 1, D("|u1", "False", "(100000000000000000000000000000,)"), 1, FS_ERR_FORMAT},
    {"product overflows", 1, D("<f4", "False", "(4294967296, 4294967296)"), 0, FS_ERR_FORMAT},
    {"byte size overflows", 1, D("<f8", "False", "(2305843009213693952,)"), 0, FS_ERR_FORMAT},
    /* data size */
    {"data one byte short", 1, D("<f4", "False", "(2, 3)"), 23, FS_ERR_FORMAT},
    {"data one byte long", 1, D("<f4", "False", "(2, 3)"), 25, FS_ERR_FORMAT},
    {"no data", 1, D("<f4", "False", "(2, 3)"), 0, FS_ERR_FORMAT},
};
/* clang-format on */

START_TEST(test_header_table)
{
    for (size_t r = 0; r < sizeof npy_rows / sizeof npy_rows[0]; r++) {
        const npy_row *row = &npy_rows[r];
        size_t len;
        uint8_t *f = npy_image(row->major, row->dict, row->data_len, &len);
        fs_npy a;
        fs_error_clear();
        fs_status s = fs_npy_parse(f, len, LABEL, &a);
        if (row->expect == FS_OK) {
            ck_assert_msg(s == FS_OK, "%s: %s", row->what, fs_error_message());
            ck_assert_uint_eq(a.nbytes, row->data_len);
            ck_assert_ptr_eq(a.data, f + len - row->data_len);
        } else {
            expect_fail(s, row->expect, LABEL, row->what);
        }
        free(f);
    }
}
END_TEST

START_TEST(test_preamble_and_truncation)
{
    size_t len;
    uint8_t *good = npy_image(1, D("<f4", "False", "(2, 3)"), 24, &len);
    uint8_t *f = malloc(len);
    ck_assert_ptr_nonnull(f);
    fs_npy a;
    /* Every proper prefix. */
    for (size_t n = 0; n < len; n++)
        expect_fail(fs_npy_parse(good, n, LABEL, &a), FS_ERR_FORMAT, LABEL, "prefix");

    static const struct {
        const char *what;
        size_t at;
        int width;
        uint32_t value;
        fs_status expect;
    } patches[] = {
        {"bad magic", 0, 1, 0x92, FS_ERR_FORMAT},
        {"bad magic text", 3, 1, 'm', FS_ERR_FORMAT},
        {"version 0.0", 6, 1, 0, FS_ERR_UNSUPPORTED},
        {"version 4.0", 6, 1, 4, FS_ERR_UNSUPPORTED},
        {"version 1.1", 7, 1, 1, FS_ERR_UNSUPPORTED},
        {"header length 0", 8, 2, 0, FS_ERR_FORMAT},
        {"header length past the end", 8, 2, 0xffff, FS_ERR_FORMAT},
        {"header length one short", 8, 2, 117, FS_ERR_FORMAT},
        {"header length one long", 8, 2, 119, FS_ERR_FORMAT},
        {"no newline", 127, 1, ' ', FS_ERR_FORMAT},
        {"NUL in padding", 100, 1, 0, FS_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof patches / sizeof patches[0]; i++) {
        memcpy(f, good, len);
        for (int k = 0; k < patches[i].width; k++)
            f[patches[i].at + (size_t)k] = (uint8_t)(patches[i].value >> (8 * k));
        expect_fail(fs_npy_parse(f, len, LABEL, &a), patches[i].expect, LABEL, patches[i].what);
    }
    free(f);
    free(good);

    /* Version 2.0: a 32-bit header length, capped. */
    good = npy_image(2, D("<f4", "False", "(2, 3)"), 24, &len);
    good[8] = 0;
    good[9] = 0;
    good[10] = 0;
    good[11] = 0x80; /* 2 GiB */
    expect_fail(fs_npy_parse(good, len, LABEL, &a), FS_ERR_LIMIT, LABEL, "huge v2 header");
    good[11] = 0;
    good[10] = 0x20; /* 2 MiB */
    expect_fail(fs_npy_parse(good, len, LABEL, &a), FS_ERR_LIMIT, LABEL, "large v2 header");
    expect_fail(fs_npy_parse(good, 11, LABEL, &a), FS_ERR_FORMAT, LABEL, "short v2 preamble");
    free(good);
}
END_TEST

START_TEST(test_file_errors)
{
    make_tmp_dir();
    char path[160];
    int ndim;
    int64_t shape[FS_NPY_MAX_DIMS];
    float *d = (float *)1;
    snprintf(path, sizeof path, "%s/missing.npy", tmp_dir);
    expect_fail(fs_npy_read_f32(path, &ndim, shape, &d), FS_ERR_IO, path, "missing file");
    ck_assert_ptr_null(d);

    /* An empty file is a truncated one. */
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    fclose(fp);
    expect_fail(fs_npy_read_f32(path, &ndim, shape, &d), FS_ERR_FORMAT, path, "empty file");
    unlink(path);

    const float v[2] = {1, 2};
    const int64_t sh[9] = {2, 1, 1, 1, 1, 1, 1, 1, 1};
    const int64_t neg[1] = {-2};
    expect_fail(fs_npy_write(path, FS_DTYPE_BF16, 1, sh, v), FS_ERR_ARG, path, "bf16");
    expect_fail(fs_npy_write(path, FS_DTYPE_INVALID, 1, sh, v), FS_ERR_ARG, path, "invalid dtype");
    expect_fail(fs_npy_write(path, FS_DTYPE_F32, 9, sh, v), FS_ERR_ARG, path, "rank 9");
    expect_fail(fs_npy_write(path, FS_DTYPE_F32, -1, sh, v), FS_ERR_ARG, path, "rank -1");
    expect_fail(fs_npy_write(path, FS_DTYPE_F32, 1, neg, v), FS_ERR_ARG, path,
                "negative dimension");
    expect_fail(fs_npy_write(path, FS_DTYPE_F32, 1, sh, NULL), FS_ERR_ARG, path, "no data");
    ck_assert_int_ne(access(path, F_OK), 0);

    /* A directory that does not exist: an I/O error, and no temporary left. */
    snprintf(path, sizeof path, "%s/no/such/dir.npy", tmp_dir);
    expect_fail(fs_npy_write(path, FS_DTYPE_F32, 1, sh, v), FS_ERR_IO, path, "bad directory");
    remove_tmp_dir();
}
END_TEST

static Suite *npy_suite(void)
{
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("npy");
    tcase_add_test(tc, test_fixture_values);
    tcase_add_test(tc, test_every_fixture);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_fortran_order);
    tcase_add_test(tc, test_header_table);
    tcase_add_test(tc, test_preamble_and_truncation);
    tcase_add_test(tc, test_file_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return fs_check_run(npy_suite(), "npy"); }
