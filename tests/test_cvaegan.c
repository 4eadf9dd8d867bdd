/* The CVAE-GAN on the CPU backend against the PyTorch reference of
 * docs/cvaegan.md (tests/fixtures/cvaegan/tiny): mu, logvar, gen, recon and
 * the four discriminator heads, each to a relative L2 error <= 1e-5; plus the
 * converter's --rename rules and bad-input errors. */
#include "fixture_util.h"

#include <math.h>

#include "../engine/backend.h"
#include "../engine/cvaegan.h"
#include "../weights_tools/convert.h"

#define DIR_ FS_FIXTURES "/cvaegan/tiny"
#define TOL 1e-5

static void expect_close(const float *got, const char *golden)
{
    fs_fixture_expect_close("cpu", got, DIR_, golden, TOL);
}

typedef struct {
    fs_weights *w;
    fs_backend *b;
    fs_cvaegan *m;
} model;

static model open_model(const char *path, const char *rename)
{
    fs_network_opts o = fs_fixture_opts(FS_WANT_CVAEGAN, -1);
    o.convert.rename_path = rename;
    model m;
    m.w = fs_fixture_open(path, &o);
    ck_assert_int_eq(fs_backend_cpu_init(&m.b, 2), FS_OK);
    ck_assert_msg(fs_cvaegan_init(&m.m, m.w, m.b) == FS_OK, "%s", fs_error_message());
    return m;
}

static void close_model(model *m)
{
    fs_cvaegan_free(m->m);
    fs_backend_free(m->b);
    fs_weights_free(m->w);
}

static void check_all(model *m)
{
    fs_fixture_arr xa = fs_fixture_load(DIR_, "x.npy"), za = fs_fixture_load(DIR_, "z.npy");
    fs_fixture_arr ca = fs_fixture_load(DIR_, "c.npy"), ea = fs_fixture_load(DIR_, "eps.npy");
    float *x = xa.data, *z = za.data, *c = ca.data, *eps = ea.data;
    size_t nx = xa.numel, nz = za.numel;
    const fs_cvaegan_config *cfg = fs_cvaegan_get_config(m->m);
    int n = (int)(nz / (size_t)cfg->z_dim);
    float *mu = malloc(nz * sizeof *mu), *lv = malloc(nz * sizeof *lv);
    ck_assert_int_eq(fs_cvaegan_encode(m->m, x, n, mu, lv), FS_OK);
    expect_close(mu, "mu.npy");
    expect_close(lv, "logvar.npy");
    float *img = malloc(nx * sizeof *img);
    ck_assert_int_eq(fs_cvaegan_generate(m->m, z, c, n, img), FS_OK);
    expect_close(img, "gen.npy");
    float d1s[64], d1c[64], d2s[64], d2c[64];
    ck_assert_int_eq(fs_cvaegan_discriminate(m->m, img, n, d1s, d1c, d2s, d2c), FS_OK);
    expect_close(d1s, "d1_src.npy");
    expect_close(d1c, "d1_cls.npy");
    expect_close(d2s, "d2_src.npy");
    expect_close(d2c, "d2_cls.npy");
    /* reconstruction through the reparameterisation with the stored eps */
    float *zr = malloc(nz * sizeof *zr);
    for (size_t i = 0; i < nz; i++)
        zr[i] = mu[i] + expf(0.5f * lv[i]) * eps[i];
    ck_assert_int_eq(fs_cvaegan_generate(m->m, zr, c, n, img), FS_OK);
    expect_close(img, "recon.npy");
    free(x);
    free(z);
    free(c);
    free(eps);
    free(mu);
    free(lv);
    free(img);
    free(zr);
}

START_TEST(test_cvaegan_goldens)
{
    model m = open_model(DIR_ "/cvaegan.pt", NULL);
    check_all(&m);
    close_model(&m);
}
END_TEST

START_TEST(test_cvaegan_config_from_shapes)
{
    model m = open_model(DIR_ "/cvaegan.pt", NULL);
    const fs_cvaegan_config *c = fs_cvaegan_get_config(m.m);
    ck_assert_int_eq(c->width, 4);
    ck_assert_int_eq(c->z_dim, 32);
    ck_assert_int_eq(c->n_id, 5);
    ck_assert_int_eq(c->img_resolution, 128);
    close_model(&m);
}
END_TEST

/* Writes the fixture's tensors as a safetensors file under foreign module
 * names (encoder. -> enc., discriminators.K.convs. -> discriminators.K.layers.). */
static void write_foreign_safetensors(const char *path)
{
    fs_convert_options o;
    fs_convert_options_default(&o);
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(fs_convert_to_memory(DIR_ "/cvaegan.pt", &o, &buf, &len, NULL), FS_OK);
    fs_weights *w;
    ck_assert_int_eq(fs_weights_open_owned(buf, len, "mem", 0, &w), FS_OK);
    size_t cap = 1 << 16, hl = 0, off = 0;
    char *hdr = malloc(cap);
    hl += (size_t)snprintf(hdr + hl, cap - hl, "{");
    for (size_t i = 0; i < fs_weights_tensor_count(w); i++) {
        const fs_tensor *t = fs_weights_tensor_at(w, i);
        char name[128];
        int k;
        if (!strncmp(t->name, "encoder.", 8))
            snprintf(name, sizeof name, "enc.%s", t->name + 8);
        else if (sscanf(t->name, "discriminators.%d.", &k) == 1 && !strncmp(t->name + 17, "convs.", 6))
            snprintf(name, sizeof name, "discriminators.%d.layers.%s", k, t->name + 23);
        else
            snprintf(name, sizeof name, "%s", t->name);
        hl += (size_t)snprintf(hdr + hl, cap - hl, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", i ? "," : "",
                               name);
        for (int d = 0; d < t->ndim; d++)
            hl += (size_t)snprintf(hdr + hl, cap - hl, d ? ",%lld" : "%lld", (long long)t->shape[d]);
        hl += (size_t)snprintf(hdr + hl, cap - hl, "],\"data_offsets\":[%zu,%zu]}", off,
                               off + (size_t)t->nbytes);
        off += (size_t)t->nbytes;
    }
    hl += (size_t)snprintf(hdr + hl, cap - hl, "}");
    while (hl % 8)
        hdr[hl++] = ' ';
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    uint64_t n = hl;
    fwrite(&n, 8, 1, f);
    fwrite(hdr, 1, hl, f);
    for (size_t i = 0; i < fs_weights_tensor_count(w); i++) {
        const fs_tensor *t = fs_weights_tensor_at(w, i);
        fwrite(t->data, 1, (size_t)t->nbytes, f);
    }
    fclose(f);
    free(hdr);
    fs_weights_free(w);
}

/* A checkpoint trained with other module names converts through --rename. */
START_TEST(test_cvaegan_rename)
{
    const char *st = "/tmp/fs_cvaegan_foreign.safetensors", *rules = "/tmp/fs_rename_rules.txt";
    write_foreign_safetensors(st);
    fs_convert_options o;
    fs_convert_options_default(&o);
    uint8_t *buf = NULL;
    size_t len;
    /* without rules the foreign names are refused, naming one of them */
    ck_assert_int_ne(fs_convert_to_memory(st, &o, &buf, &len, NULL), FS_OK);
    FILE *f = fopen(rules, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "# map a foreign naming onto the spec\n"
               "^enc\\.(.*)$ encoder.\\1\n"
               "\n"
               "^discriminators\\.([01])\\.layers\\.(.*)$ discriminators.\\1.convs.\\2\n");
    fclose(f);
    model m = open_model(st, rules);
    check_all(&m);
    close_model(&m);
    unlink(rules);
    unlink(st);
}
END_TEST

START_TEST(test_cvaegan_bad_rename)
{
    const char *rules = "/tmp/fs_rename_bad.txt";
    FILE *f = fopen(rules, "w");
    fprintf(f, "^(unclosed encoder.\\1\n");
    fclose(f);
    fs_convert_options o;
    fs_convert_options_default(&o);
    o.rename_path = rules;
    uint8_t *buf = NULL;
    size_t len;
    ck_assert_int_eq(fs_convert_to_memory(DIR_ "/cvaegan.pt", &o, &buf, &len, NULL), FS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "line 1"));
    /* a rule that renames a required tensor away: missing tensor, named */
    f = fopen(rules, "w");
    fprintf(f, "^generator\\.fc\\. generator.dense.\n");
    fclose(f);
    ck_assert_int_ne(fs_convert_to_memory(DIR_ "/cvaegan.pt", &o, &buf, &len, NULL), FS_OK);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "generator."));
    ck_assert_ptr_null(buf);
    unlink(rules);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cvaegan");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, test_cvaegan_goldens);
    tcase_add_test(tc, test_cvaegan_config_from_shapes);
    tcase_add_test(tc, test_cvaegan_rename);
    tcase_add_test(tc, test_cvaegan_bad_rename);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return fs_check_run(s, "cvaegan");
}
