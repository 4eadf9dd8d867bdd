/* The flat weight format: writer/reader round trip, dtype conversions, and a
 * table of hand-corrupted files, each of which must be refused with the
 * expected status and a one-line message naming the file. */
#include "check_util.h"

#include <stdint.h>

#include "../engine/crc32c.h"
#include "../engine/dtype.h"
#include "../engine/network.h"
#include "../engine/stylegan2_config.h"
#include "../engine/weights.h"
#include "../weights_tools/weights_writer.h"

#define LABEL "unit.fsw"

/* A tiny but complete StyleGAN2 generator with random weights. */
typedef struct {
    float *data[256];
    int n;
} arena;

static uint32_t rng_state = 12345;
static float frand(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

typedef struct {
    fs_weights_writer *w;
    arena *a;
    fs_dtype dtype;
} build_ctx;

static fs_status add_random(void *user, const char *name, int ndim, const int64_t *shape)
{
    build_ctx *b = user;
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= shape[d];
    float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (int64_t i = 0; i < n; i++)
        p[i] = frand();
    b->a->data[b->a->n++] = p;
    fs_view v = fs_view_contiguous(FS_DTYPE_F32, ndim, shape, p);
    return fs_weights_writer_add(b->w, name, b->dtype, &v);
}

static void tiny_config(fs_sg2_config *c)
{
    fs_sg2_config_default_g(c);
    c->z_dim = 8;
    c->w_dim = 8;
    c->c_dim = 3;
    c->img_resolution = 8;
    c->channel_base = 32;
    c->channel_max = 8;
    c->mapping_layers = 2;
    c->conv_clamp = 256;
    ck_assert_int_eq(fs_sg2_config_finalize(c, "tiny"), FS_OK);
}

static uint8_t *build_file(fs_dtype dtype, size_t *len, arena *a)
{
    fs_sg2_config c;
    tiny_config(&c);
    fs_weights_writer *w;
    ck_assert_int_eq(fs_weights_writer_init(&w, FS_FAMILY_STYLEGAN2_G), FS_OK);
    ck_assert_int_eq(fs_sg2_config_to_meta(&c, fs_weights_writer_put_meta, w), FS_OK);
    build_ctx b = {.w = w, .a = a, .dtype = dtype};
    ck_assert_int_eq(fs_sg2_for_each_tensor(&c, add_random, &b), FS_OK);
    uint8_t *buf;
    ck_assert_int_eq(fs_weights_writer_write_memory(w, &buf, len), FS_OK);
    fs_weights_writer_free(w);
    return buf;
}

static void arena_free(arena *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->data[i]);
}

START_TEST(test_crc32c_vectors)
{
    ck_assert_uint_eq(fs_crc32c(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(fs_crc32c_portable(0, "123456789", 9), 0xE3069283u);
    uint8_t buf[1000];
    for (int i = 0; i < 1000; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t n = 0; n < 1000; n += 37) /* hardware and table paths agree, chained too */
        ck_assert_uint_eq(fs_crc32c(fs_crc32c(0, buf, n), buf + n, 1000 - n),
                          fs_crc32c_portable(0, buf, 1000));
}
END_TEST

START_TEST(test_half_conversions)
{
    /* Exact values, rounding to nearest even, overflow, subnormals, nan. */
    ck_assert_uint_eq(fs_f32_to_f16(1.0f), 0x3c00);
    ck_assert_uint_eq(fs_f32_to_f16(-2.0f), 0xc000);
    ck_assert_uint_eq(fs_f32_to_f16(65504.0f), 0x7bff);
    ck_assert_uint_eq(fs_f32_to_f16(65520.0f), 0x7c00);
    ck_assert_uint_eq(fs_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00);        /* tie -> even */
    ck_assert_uint_eq(fs_f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);        /* tie -> even (up) */
    ck_assert_uint_eq(fs_f32_to_f16(5.960464477539063e-08f), 0x0001);    /* smallest subnormal */
    ck_assert_uint_eq(fs_f32_to_f16(2.9e-08f), 0x0000);                  /* below half of it */
    ck_assert_uint_eq(fs_f32_to_f16(6.097555160522461e-05f), 0x03ff);    /* largest subnormal */
    ck_assert((fs_f32_to_f16(NAN) & 0x7fff) > 0x7c00);
    for (uint32_t h = 0; h < 0x7c00; h++) /* every finite half round-trips */
        ck_assert_uint_eq(fs_f32_to_f16(fs_f16_to_f32((uint16_t)h)), h);
    ck_assert_uint_eq(fs_f32_to_bf16(1.0f), 0x3f80);
    ck_assert_uint_eq(fs_f32_to_bf16(1.00390625f), 0x3f80);  /* tie -> even */
    ck_assert_uint_eq(fs_f32_to_bf16(1.01171875f), 0x3f82);  /* tie -> even (up) */
    ck_assert(fs_bf16_to_f32(0x4049) == 3.140625f);
}
END_TEST

START_TEST(test_round_trip)
{
    static const fs_dtype types[3] = {FS_DTYPE_F32, FS_DTYPE_F16, FS_DTYPE_BF16};
    fs_dtype dt = types[_i];
    arena a = {{0}, 0};
    rng_state = 777;
    size_t len;
    uint8_t *buf = build_file(dt, &len, &a);
    ck_assert_uint_eq(len % FS_FSW_TENSOR_ALIGN, 0);
    fs_weights *w;
    ck_assert_msg(fs_weights_open_owned(buf, len, LABEL, 0, &w) == FS_OK, "%s",
                  fs_error_message());
    ck_assert_int_eq(fs_weights_family(w), FS_FAMILY_STYLEGAN2_G);
    fs_sg2_config c;
    ck_assert_int_eq(fs_sg2_config_from_weights(w, &c), FS_OK);
    ck_assert_int_eq(c.c_dim, 3);
    ck_assert_int_eq(c.img_resolution, 8);
    ck_assert(c.conv_clamp == 256.0);
    ck_assert_int_eq(fs_sg2_num_ws(&c), 4);
    /* Tensors come back in canonical order, aligned, with the values written
     * (rounded once to the storage type). */
    ck_assert_uint_eq(fs_weights_tensor_count(w), (size_t)a.n);
    for (size_t i = 0; i < fs_weights_tensor_count(w); i++) {
        const fs_tensor *t = fs_weights_tensor_at(w, i);
        ck_assert_ptr_eq(fs_weights_find(w, t->name), t);
        ck_assert_uint_eq((uintptr_t)t->data % FS_FSW_TENSOR_ALIGN, 0);
        int64_t n = 1;
        for (int d = 0; d < t->ndim; d++)
            n *= t->shape[d];
        for (int64_t k = 0; k < n; k++) {
            float want = a.data[i][k];
            float got = (float)fs_dtype_load(t->dtype, t->data, k);
            if (dt == FS_DTYPE_F16)
                want = fs_f16_to_f32(fs_f32_to_f16(want));
            else if (dt == FS_DTYPE_BF16)
                want = fs_bf16_to_f32(fs_f32_to_bf16(want));
            ck_assert_msg(got == want, "%s[%lld]: %g != %g", t->name, (long long)k, got, want);
        }
    }
    ck_assert_ptr_null(fs_weights_find(w, "mapping.fc9.weight"));
    fs_weights_free(w);
    arena_free(&a);
}
END_TEST

/* ---- corruption table ------------------------------------------------------ */

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Re-seals header, metadata and directory so a corruption reaches the check
 * behind the checksums. */
static void reseal(uint8_t *b, int level)
{
    if (level >= 2) {
        uint64_t ms = rd64(b + FS_FSW_OFF_META_SIZE), doff = rd64(b + FS_FSW_OFF_DIR_OFFSET);
        uint64_t ds = rd64(b + FS_FSW_OFF_DIR_SIZE);
        wr32(b + FS_FSW_OFF_META_CRC, fs_crc32c(0, b + 128, ms));
        wr32(b + FS_FSW_OFF_DIR_CRC, fs_crc32c(0, b + doff, ds));
    }
    wr32(b + FS_FSW_OFF_HEADER_CRC, fs_crc32c(0, b, FS_FSW_OFF_HEADER_CRC));
}

static uint8_t *dir_entry(uint8_t *b, int i)
{
    return b + rd64(b + FS_FSW_OFF_DIR_OFFSET) + (uint64_t)i * FS_FSW_DIR_ENTRY_SIZE;
}

typedef struct {
    const char *what;
    void (*corrupt)(uint8_t *b, size_t *len);
    int reseal; /* 0 none, 1 header CRC, 2 all CRCs */
    fs_status want;
} corruption;

static void c_magic(uint8_t *b, size_t *l) { b[0] = 'X'; }
static void c_version(uint8_t *b, size_t *l) { wr32(b + FS_FSW_OFF_VERSION, 2); }
static void c_header_bit(uint8_t *b, size_t *l) { b[FS_FSW_OFF_META_SIZE] ^= 8; }
static void c_family(uint8_t *b, size_t *l) { wr32(b + FS_FSW_OFF_FAMILY, 99); }
static void c_reserved(uint8_t *b, size_t *l) { b[FS_FSW_OFF_RESERVED + 3] = 1; }
static void c_trailing(uint8_t *b, size_t *l) { *l += 1; }
static void c_file_size(uint8_t *b, size_t *l) { wr64(b + FS_FSW_OFF_FILE_SIZE, UINT64_MAX); }
static void c_meta_huge(uint8_t *b, size_t *l) { wr64(b + FS_FSW_OFF_META_SIZE, UINT64_MAX - 7); }
static void c_dir_count(uint8_t *b, size_t *l) { wr32(b + FS_FSW_OFF_TENSOR_COUNT, 0xffffffffu); }
static void c_data_misaligned(uint8_t *b, size_t *l)
{
    wr64(b + FS_FSW_OFF_DATA_OFFSET, rd64(b + FS_FSW_OFF_DATA_OFFSET) - 8);
    wr64(b + FS_FSW_OFF_DATA_SIZE, rd64(b + FS_FSW_OFF_DATA_SIZE) + 8);
}
static void c_meta_crc(uint8_t *b, size_t *l) { b[128 + 9] ^= 1; }
static void c_dir_crc(uint8_t *b, size_t *l) { dir_entry(b, 0)[0] ^= 1; }
static void c_data_crc(uint8_t *b, size_t *l)
{
    uint8_t *e = dir_entry(b, 3);
    b[rd64(b + FS_FSW_OFF_DATA_OFFSET) + rd64(e + FS_FSW_DIR_OFFSET)] ^= 0x40;
}
/* Data bytes outside every tensor: the format says they are zero, and no
 * checksum covers them, so the reader compares them with zero. */
static uint8_t *data_end_of(uint8_t *b, int i)
{
    uint8_t *e = dir_entry(b, i);
    return b + rd64(b + FS_FSW_OFF_DATA_OFFSET) + rd64(e + FS_FSW_DIR_OFFSET) +
           rd64(e + FS_FSW_DIR_NBYTES);
}
static void c_pad_between(uint8_t *b, size_t *l)
{
    /* mapping.embed.weight is 96 bytes: 160 bytes of padding follow it. */
    ck_assert_uint_eq(rd64(dir_entry(b, 0) + FS_FSW_DIR_NBYTES) % FS_FSW_TENSOR_ALIGN, 96);
    data_end_of(b, 0)[0] = 0x01;
}
static void c_pad_between_last_byte(uint8_t *b, size_t *l)
{
    uint8_t *next = b + rd64(b + FS_FSW_OFF_DATA_OFFSET) + rd64(dir_entry(b, 1) + FS_FSW_DIR_OFFSET);
    next[-1] = 0x80;
}
static void c_pad_after_last(uint8_t *b, size_t *l)
{
    /* The tensor that ends last must leave padding before the end of the file. */
    uint32_t n = rd32(b + FS_FSW_OFF_TENSOR_COUNT);
    uint8_t *end = b;
    for (uint32_t i = 0; i < n; i++)
        if (data_end_of(b, (int)i) > end)
            end = data_end_of(b, (int)i);
    ck_assert(end < b + *l);
    b[*l - 1] = 0x20;
}
static void c_meta_key(uint8_t *b, size_t *l) { b[128 + 8] = '/'; }
static void c_meta_type(uint8_t *b, size_t *l) { b[128 + 2] = 9; }
static void c_meta_len(uint8_t *b, size_t *l) { wr32(b + 128 + 4, 0x7fffffff); }
static void c_dtype(uint8_t *b, size_t *l) { wr32(dir_entry(b, 0) + FS_FSW_DIR_DTYPE, 7); }
static void c_rank(uint8_t *b, size_t *l) { wr32(dir_entry(b, 0) + FS_FSW_DIR_NDIM, 9); }
static void c_shape_overflow(uint8_t *b, size_t *l)
{
    wr64(dir_entry(b, 0) + FS_FSW_DIR_SHAPE, 1ull << 62);
    wr64(dir_entry(b, 0) + FS_FSW_DIR_SHAPE + 8, 1ull << 62);
}
static void c_nbytes(uint8_t *b, size_t *l)
{
    uint8_t *e = dir_entry(b, 0);
    wr64(e + FS_FSW_DIR_NBYTES, rd64(e + FS_FSW_DIR_NBYTES) + 4);
}
static void c_offset_align(uint8_t *b, size_t *l) { wr64(dir_entry(b, 1) + FS_FSW_DIR_OFFSET, 4); }
static void c_offset_range(uint8_t *b, size_t *l)
{
    wr64(dir_entry(b, 1) + FS_FSW_DIR_OFFSET, UINT64_MAX - 255);
}
static void c_overlap(uint8_t *b, size_t *l)
{
    /* Point tensor 2 at tensor 1's data; recompute its CRC so only the overlap is wrong. */
    uint8_t *e1 = dir_entry(b, 1), *e2 = dir_entry(b, 2);
    wr64(e2 + FS_FSW_DIR_OFFSET, rd64(e1 + FS_FSW_DIR_OFFSET));
    const uint8_t *data = b + rd64(b + FS_FSW_OFF_DATA_OFFSET) + rd64(e1 + FS_FSW_DIR_OFFSET);
    wr32(e2 + FS_FSW_DIR_CRC, fs_crc32c(0, data, rd64(e2 + FS_FSW_DIR_NBYTES)));
}
static void c_dup_name(uint8_t *b, size_t *l)
{
    memcpy(dir_entry(b, 1), dir_entry(b, 0), FS_FSW_NAME_MAX);
}
static void c_name_unterminated(uint8_t *b, size_t *l) { memset(dir_entry(b, 0), 'a', FS_FSW_NAME_MAX); }
static void c_name_chars(uint8_t *b, size_t *l) { dir_entry(b, 0)[2] = ' '; }
static void c_missing_tensor(uint8_t *b, size_t *l) { dir_entry(b, 0)[0] = 'x'; }
static void c_wrong_shape(uint8_t *b, size_t *l)
{
    /* mapping.embed.weight [8, 3] -> [4, 6]: same bytes, wrong shape. */
    uint8_t *e = dir_entry(b, 0);
    wr64(e + FS_FSW_DIR_SHAPE, 4);
    wr64(e + FS_FSW_DIR_SHAPE + 8, 6);
}
static void c_bad_resolution(uint8_t *b, size_t *l)
{
    /* Find the img_resolution record and make it 12. */
    uint8_t *p = b + 128;
    while (memcmp(p + 8, "img_resolution", 14) != 0)
        p += 8 + ((p[0] | p[1] << 8) + rd32(p + 4) + 7) / 8 * 8;
    int64_t v = 12;
    memcpy(p + 8 + 14, &v, 8);
}

static const corruption table[] = {
    {"bad magic", c_magic, 0, FS_ERR_FORMAT},
    {"unknown version", c_version, 0, FS_ERR_UNSUPPORTED},
    {"header bit flip", c_header_bit, 0, FS_ERR_CHECKSUM},
    {"unknown family", c_family, 1, FS_ERR_UNSUPPORTED},
    {"reserved field", c_reserved, 1, FS_ERR_UNSUPPORTED},
    {"trailing byte", c_trailing, 0, FS_ERR_FORMAT},
    {"file size lies", c_file_size, 1, FS_ERR_FORMAT},
    {"huge metadata size", c_meta_huge, 1, FS_ERR_FORMAT},
    {"huge tensor count", c_dir_count, 1, FS_ERR_LIMIT},
    {"misaligned data region", c_data_misaligned, 1, FS_ERR_FORMAT},
    {"metadata bit flip", c_meta_crc, 0, FS_ERR_CHECKSUM},
    {"directory bit flip", c_dir_crc, 0, FS_ERR_CHECKSUM},
    {"tensor data bit flip", c_data_crc, 0, FS_ERR_CHECKSUM},
    {"padding between tensors (first byte)", c_pad_between, 0, FS_ERR_FORMAT},
    {"padding between tensors (last byte)", c_pad_between_last_byte, 0, FS_ERR_FORMAT},
    {"padding after the last tensor", c_pad_after_last, 0, FS_ERR_FORMAT},
    {"bad metadata key", c_meta_key, 2, FS_ERR_FORMAT},
    {"unknown metadata type", c_meta_type, 2, FS_ERR_UNSUPPORTED},
    {"metadata length out of range", c_meta_len, 2, FS_ERR_FORMAT},
    {"unknown dtype", c_dtype, 2, FS_ERR_UNSUPPORTED},
    {"rank too high", c_rank, 2, FS_ERR_FORMAT},
    {"overflowing shape", c_shape_overflow, 2, FS_ERR_FORMAT},
    {"byte size mismatch", c_nbytes, 2, FS_ERR_FORMAT},
    {"misaligned tensor", c_offset_align, 2, FS_ERR_FORMAT},
    {"tensor out of range", c_offset_range, 2, FS_ERR_FORMAT},
    {"overlapping tensors", c_overlap, 2, FS_ERR_FORMAT},
    {"duplicate name", c_dup_name, 2, FS_ERR_FORMAT},
    {"unterminated name", c_name_unterminated, 2, FS_ERR_FORMAT},
    {"bad name characters", c_name_chars, 2, FS_ERR_FORMAT},
    {"required tensor missing", c_missing_tensor, 2, FS_ERR_MISSING},
    {"required tensor misshapen", c_wrong_shape, 2, FS_ERR_SHAPE},
    {"resolution not a power of two", c_bad_resolution, 2, FS_ERR_UNSUPPORTED},
};

START_TEST(test_corruption_table)
{
    const corruption *c = &table[_i];
    arena a = {{0}, 0};
    size_t len;
    uint8_t *orig = build_file(FS_DTYPE_F32, &len, &a);
    uint8_t *buf = calloc(1, len + 16);
    memcpy(buf, orig, len);
    size_t n = len;
    c->corrupt(buf, &n);
    if (c->reseal)
        reseal(buf, c->reseal);
    fs_weights *w = NULL;
    /* The file checks, then the family check, in the order fs_network_open runs them. */
    fs_status s = fs_weights_open_buffer(buf, n, LABEL, 0, &w);
    if (s == FS_OK && (s = fs_network_check(w)) != FS_OK) {
        fs_weights_free(w);
        w = NULL;
    }
    ck_assert_msg(s == c->want, "%s: got %s (%s), want %s", c->what, fs_status_string(s),
                  fs_error_message(), fs_status_string(c->want));
    ck_assert_ptr_null(w);
    ck_assert_msg(strstr(fs_error_message(), LABEL) != NULL, "%s: message '%s' lacks the file",
                  c->what, fs_error_message());
    ck_assert(strchr(fs_error_message(), '\n') == NULL);
    free(buf);
    free(orig);
    arena_free(&a);
}
END_TEST

/* Non-zero padding is refused with FS_WEIGHTS_SKIP_DATA_CRC too (the flag
 * fs_network_open uses for a file it has just converted in memory): the check
 * does not depend on the data CRC pass. */
START_TEST(test_padding_checked_without_data_crc)
{
    static void (*const corrupt[])(uint8_t *, size_t *) = {c_pad_between, c_pad_between_last_byte,
                                                           c_pad_after_last};
    arena a = {{0}, 0};
    size_t len;
    uint8_t *buf = build_file(FS_DTYPE_F32, &len, &a);
    size_t n = len;
    corrupt[_i](buf, &n);
    fs_weights *w = NULL;
    fs_status s = fs_weights_open_buffer(buf, n, LABEL, FS_WEIGHTS_SKIP_DATA_CRC, &w);
    ck_assert_msg(s == FS_ERR_FORMAT, "got %s (%s)", fs_status_string(s), fs_error_message());
    ck_assert_ptr_null(w);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "non-zero padding"));
    ck_assert_ptr_nonnull(strstr(fs_error_message(), LABEL));
    free(buf);
    arena_free(&a);
}
END_TEST

START_TEST(test_truncation_everywhere)
{
    arena a = {{0}, 0};
    size_t len;
    uint8_t *buf = build_file(FS_DTYPE_F32, &len, &a);
    for (size_t n = 0; n < len; n += (n < 4096 ? 1 : 97)) {
        fs_weights *w = NULL;
        fs_status s = fs_weights_open_buffer(buf, n, LABEL, 0, &w);
        ck_assert_msg(s != FS_OK, "truncated to %zu bytes but accepted", n);
        ck_assert_ptr_null(w);
    }
    free(buf);
    arena_free(&a);
}
END_TEST

START_TEST(test_open_missing_file)
{
    fs_weights *w = NULL;
    ck_assert_int_eq(fs_weights_open("tests/fixtures/does-not-exist.fsw", 0, &w), FS_ERR_IO);
    ck_assert_ptr_null(w);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "does-not-exist.fsw"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("weights");
    TCase *tc = tcase_create("format");
    tcase_add_test(tc, test_crc32c_vectors);
    tcase_add_test(tc, test_half_conversions);
    tcase_add_loop_test(tc, test_round_trip, 0, 3);
    tcase_add_loop_test(tc, test_corruption_table, 0, (int)(sizeof table / sizeof table[0]));
    tcase_add_loop_test(tc, test_padding_checked_without_data_crc, 0, 3);
    tcase_add_test(tc, test_truncation_everywhere);
    tcase_add_test(tc, test_open_missing_file);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return fs_check_run(s, "weights");
}
