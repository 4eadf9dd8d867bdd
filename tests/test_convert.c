/* The converter against the real checkpoint fixtures: every source format of
 * the same network yields bit-identical tensors, the hyper-parameters match
 * what the official code was built with, the TF path equals the official
 * legacy.py conversion bit for bit, and bad input fails cleanly (status,
 * one-line message naming the file, no output file, exit status 2). */
#include "check_util.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../engine/file.h"
#include "../engine/stylegan2_config.h"
#include "../weights_tools/convert.h"
#include "../weights_tools/cvaegan_import.h"

#define SG2 FS_FIXTURES "/stylegan2"

static fs_weights *convert_mem(const char *path, fs_net_select net, const fs_sg2_overrides *ov)
{
    fs_convert_options o;
    fs_convert_options_default(&o);
    o.net = net;
    if (ov)
        o.overrides = *ov;
    uint8_t *buf;
    size_t len;
    fs_status s = fs_convert_to_memory(path, &o, &buf, &len, NULL);
    ck_assert_msg(s == FS_OK, "%s: %s", path, fs_error_message());
    fs_weights *w;
    s = fs_weights_open_owned(buf, len, path, 0, &w);
    ck_assert_msg(s == FS_OK, "%s: reopen: %s", path, fs_error_message());
    return w;
}

/* Same tensor names in the same order with the same bytes. */
static void assert_same_tensors(const fs_weights *a, const fs_weights *b)
{
    ck_assert_uint_eq(fs_weights_tensor_count(a), fs_weights_tensor_count(b));
    for (size_t i = 0; i < fs_weights_tensor_count(a); i++) {
        const fs_tensor *x = fs_weights_tensor_at(a, i), *y = fs_weights_tensor_at(b, i);
        ck_assert_str_eq(x->name, y->name);
        ck_assert_int_eq(x->ndim, y->ndim);
        for (int d = 0; d < x->ndim; d++)
            ck_assert_int_eq(x->shape[d], y->shape[d]);
        ck_assert_uint_eq(x->nbytes, y->nbytes);
        ck_assert_msg(memcmp(x->data, y->data, x->nbytes) == 0, "%s differs between %s and %s",
                      x->name, fs_weights_label(a), fs_weights_label(b));
    }
}

/* Same hyper-parameters (provenance keys aside). */
static void assert_same_config(const fs_weights *a, const fs_weights *b)
{
    fs_sg2_config ca, cb;
    ck_assert_int_eq(fs_sg2_config_from_weights(a, &ca), FS_OK);
    ck_assert_int_eq(fs_sg2_config_from_weights(b, &cb), FS_OK);
    ck_assert_msg(memcmp(&ca, &cb, sizeof ca) == 0, "configs of %s and %s differ",
                  fs_weights_label(a), fs_weights_label(b));
}

static const char *const tiny_g_sources[] = {
    SG2 "/tiny/G_ema.pt",           SG2 "/tiny/G_ema_legacy.pt",   SG2 "/tiny/G_ema.safetensors",
    SG2 "/tiny/rosinality.pt",      SG2 "/protocols/tiny-p2.pkl", SG2 "/protocols/tiny-p3.pkl",
    SG2 "/protocols/tiny-p5.pkl",
};

START_TEST(test_tiny_all_formats_identical)
{
    fs_weights *ref = convert_mem(SG2 "/tiny/network-snapshot.pkl", FS_NET_DEFAULT, NULL);
    const char *src = tiny_g_sources[_i];
    /* A state dict cannot carry conv_clamp; the flag restores the training value. */
    fs_sg2_overrides ov = {0};
    if (!strstr(src, ".pkl")) {
        ov.has_conv_clamp = 1;
        ov.conv_clamp = 256;
    }
    fs_weights *w = convert_mem(src, FS_NET_DEFAULT, &ov);
    assert_same_tensors(ref, w);
    assert_same_config(ref, w);
    fs_weights_free(w);
    fs_weights_free(ref);
}
END_TEST

static const char *const cond_g_sources[] = {
    SG2 "/tiny-cond/G_ema.pt", SG2 "/tiny-cond/G_ema_legacy.pt", SG2 "/tiny-cond/G_ema.safetensors"};

START_TEST(test_tiny_cond_all_formats_identical)
{
    fs_weights *ref = convert_mem(SG2 "/tiny-cond/network-snapshot.pkl", FS_NET_G_EMA, NULL);
    fs_sg2_overrides ov = {.has_conv_clamp = 1, .conv_clamp = 2};
    fs_weights *w = convert_mem(cond_g_sources[_i], FS_NET_DEFAULT, &ov);
    assert_same_tensors(ref, w);
    assert_same_config(ref, w);
    fs_weights_free(w);
    fs_weights_free(ref);
}
END_TEST

START_TEST(test_discriminators_pkl_vs_pt)
{
    static const char *const dirs[2] = {"tiny", "tiny-cond"};
    static const double clamp[2] = {256, 2};
    char pkl[256], pt[256];
    snprintf(pkl, sizeof pkl, SG2 "/%s/network-snapshot.pkl", dirs[_i]);
    snprintf(pt, sizeof pt, SG2 "/%s/D.pt", dirs[_i]);
    fs_weights *ref = convert_mem(pkl, FS_NET_D, NULL);
    ck_assert_int_eq(fs_weights_family(ref), FS_FAMILY_STYLEGAN2_D);
    fs_sg2_overrides ov = {.has_conv_clamp = 1, .conv_clamp = clamp[_i]};
    fs_weights *w = convert_mem(pt, FS_NET_DEFAULT, &ov);
    assert_same_tensors(ref, w);
    assert_same_config(ref, w);
    fs_weights_free(w);
    fs_weights_free(ref);
}
END_TEST

/* The TF layout transforms (transposes, flips, +1, noise indices) against the
 * official legacy.py conversion of the same pickle, bit for bit. */
START_TEST(test_tf_matches_official_conversion)
{
    fs_weights *g = convert_mem(SG2 "/tiny-tf/stylegan2-tf-layout.pkl", FS_NET_DEFAULT, NULL);
    fs_weights *g_ref = convert_mem(SG2 "/tiny-tf/G_ema_from_tf.pt", FS_NET_DEFAULT, NULL);
    assert_same_tensors(g, g_ref);
    fs_weights *d = convert_mem(SG2 "/tiny-tf/stylegan2-tf-layout.pkl", FS_NET_D, NULL);
    fs_weights *d_ref = convert_mem(SG2 "/tiny-tf/D_from_tf.pt", FS_NET_DEFAULT, NULL);
    assert_same_tensors(d, d_ref);
    fs_weights_free(g);
    fs_weights_free(g_ref);
    fs_weights_free(d);
    fs_weights_free(d_ref);
}
END_TEST

static int64_t meta_i(const fs_weights *w, const char *k)
{
    int64_t v = -1;
    ck_assert_msg(fs_weights_meta_i64(w, k, &v) == FS_OK, "%s", fs_error_message());
    return v;
}

static double meta_f(const fs_weights *w, const char *k)
{
    double v = -1;
    ck_assert_msg(fs_weights_meta_f64(w, k, &v) == FS_OK, "%s", fs_error_message());
    return v;
}

/* Hyper-parameters as in each fixture's meta.json (the official constructor arguments). */
START_TEST(test_architecture_from_pickles)
{
    fs_weights *w = convert_mem(SG2 "/tiny/network-snapshot.pkl", FS_NET_DEFAULT, NULL);
    ck_assert_int_eq(meta_i(w, "z_dim"), 128);
    ck_assert_int_eq(meta_i(w, "w_dim"), 128);
    ck_assert_int_eq(meta_i(w, "c_dim"), 0);
    ck_assert_int_eq(meta_i(w, "img_resolution"), 32);
    ck_assert_int_eq(meta_i(w, "channel_base"), 1024);
    ck_assert_int_eq(meta_i(w, "channel_max"), 64);
    ck_assert_int_eq(meta_i(w, "mapping_layers"), 8);
    ck_assert_int_eq(meta_i(w, "num_ws"), 8);
    ck_assert(meta_f(w, "conv_clamp") == 256.0);
    ck_assert(meta_f(w, "mapping_lr_multiplier") == 0.01);
    const char *arch;
    ck_assert_int_eq(fs_weights_meta_str(w, "architecture", &arch), FS_OK);
    ck_assert_str_eq(arch, "skip");
    fs_weights_free(w);

    w = convert_mem(SG2 "/tiny-cond/network-snapshot.pkl", FS_NET_DEFAULT, NULL);
    ck_assert_int_eq(meta_i(w, "z_dim"), 64);
    ck_assert_int_eq(meta_i(w, "c_dim"), 5);
    ck_assert_int_eq(meta_i(w, "img_resolution"), 16);
    ck_assert_int_eq(meta_i(w, "channel_base"), 512);
    ck_assert_int_eq(meta_i(w, "mapping_layers"), 4);
    ck_assert_int_eq(meta_i(w, "num_ws"), 6);
    ck_assert(meta_f(w, "conv_clamp") == 2.0);
    fs_weights_free(w);

    w = convert_mem(SG2 "/tiny-cond/network-snapshot.pkl", FS_NET_D, NULL);
    ck_assert_int_eq(meta_i(w, "c_dim"), 5);
    ck_assert_int_eq(meta_i(w, "cmap_dim"), 64);
    ck_assert_int_eq(meta_i(w, "mbstd_group_size"), 4);
    ck_assert_int_eq(meta_i(w, "mbstd_num_channels"), 1);
    ck_assert_int_eq(fs_weights_meta_str(w, "architecture", &arch), FS_OK);
    ck_assert_str_eq(arch, "resnet");
    fs_weights_free(w);

    w = convert_mem(SG2 "/tiny-tf/stylegan2-tf-layout.pkl", FS_NET_DEFAULT, NULL);
    ck_assert_int_eq(meta_i(w, "z_dim"), 64);
    ck_assert_int_eq(meta_i(w, "img_resolution"), 16);
    ck_assert_int_eq(meta_i(w, "channel_base"), 512); /* fmap_base 256 x 2 */
    ck_assert_int_eq(meta_i(w, "channel_max"), 32);
    ck_assert_int_eq(meta_i(w, "num_ws"), 6);
    ck_assert(meta_f(w, "conv_clamp") == 0.0);
    fs_weights_free(w);
}
END_TEST

/* What a state dict cannot say comes from the official defaults or flags. */
START_TEST(test_state_dict_defaults_and_flags)
{
    fs_weights *w = convert_mem(SG2 "/tiny/G_ema.pt", FS_NET_DEFAULT, NULL);
    ck_assert(meta_f(w, "conv_clamp") == 0.0);
    ck_assert_int_eq(meta_i(w, "num_fp16_res"), 0);
    ck_assert_int_eq(meta_i(w, "channel_base"), 1024); /* inferred from the shapes */
    fs_weights_free(w);
    fs_sg2_overrides ov = {.has_mapping_lr = 1, .mapping_lr = 0.1, .has_num_fp16_res = 1,
                           .num_fp16_res = 2};
    w = convert_mem(SG2 "/tiny/G_ema.pt", FS_NET_DEFAULT, &ov);
    ck_assert(meta_f(w, "mapping_lr_multiplier") == 0.1);
    ck_assert_int_eq(meta_i(w, "num_fp16_res"), 2);
    fs_weights_free(w);
}
END_TEST

START_TEST(test_f16_and_bf16_outputs)
{
    fs_weights *ref = convert_mem(SG2 "/tiny/G_ema.pt", FS_NET_DEFAULT, NULL);
    static const fs_dtype types[2] = {FS_DTYPE_F16, FS_DTYPE_BF16};
    fs_convert_options o;
    fs_convert_options_default(&o);
    o.dtype = types[_i];
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(fs_convert_to_memory(SG2 "/tiny/G_ema.pt", &o, &buf, &len, NULL), FS_OK);
    fs_weights *w;
    ck_assert_int_eq(fs_weights_open_owned(buf, len, "half", 0, &w), FS_OK);
    for (size_t i = 0; i < fs_weights_tensor_count(w); i++) {
        const fs_tensor *t = fs_weights_tensor_at(w, i), *r = fs_weights_tensor_at(ref, i);
        ck_assert_int_eq(t->dtype, o.dtype);
        for (uint64_t k = 0; k < r->nbytes / 4; k++) {
            float x = ((const float *)r->data)[k];
            uint16_t want = o.dtype == FS_DTYPE_F16 ? fs_f32_to_f16(x) : fs_f32_to_bf16(x);
            ck_assert_uint_eq(((const uint16_t *)t->data)[k], want);
        }
    }
    fs_weights_free(w);
    fs_weights_free(ref);
}
END_TEST

/* ---- bad input ------------------------------------------------------------ */

typedef struct {
    const char *path;
    fs_net_select net;
    fs_status want;
    const char *needle; /* expected in the message */
} bad_case;

static const bad_case bad_cases[] = {
    {SG2 "/tiny/G_ema.pt", FS_NET_D, FS_ERR_ARG, "--net D"},
    {SG2 "/tiny/D.pt", FS_NET_G_EMA, FS_ERR_ARG, "discriminator"},
    {SG2 "/tiny/z.npy", FS_NET_DEFAULT, FS_ERR_UNSUPPORTED, ".npy"},
    {SG2 "/tiny/rosinality.pt", FS_NET_D, FS_ERR_UNSUPPORTED, "rosinality"},
    {SG2 "/tiny/meta.json", FS_NET_DEFAULT, FS_ERR_UNSUPPORTED, "unrecognised"},
    {SG2 "/tiny/missing.pkl", FS_NET_DEFAULT, FS_ERR_IO, "cannot open"},
    /* issue 15: --net means nothing to a CVAE-GAN state dict (it holds every network) */
    {FS_FIXTURES "/cvaegan/tiny/cvaegan.pt", FS_NET_D, FS_ERR_ARG, "--net applies only"},
    {FS_FIXTURES "/cvaegan/tiny/cvaegan.pt", FS_NET_G, FS_ERR_ARG, "CVAE-GAN"},
};

START_TEST(test_bad_inputs)
{
    const bad_case *c = &bad_cases[_i];
    fs_convert_options o;
    fs_convert_options_default(&o);
    o.net = c->net;
    uint8_t *buf = NULL;
    size_t len;
    fs_status s = fs_convert_to_memory(c->path, &o, &buf, &len, NULL);
    ck_assert_msg(s == c->want, "%s: %s (%s)", c->path, fs_status_string(s), fs_error_message());
    ck_assert_ptr_null(buf);
    ck_assert_msg(strstr(fs_error_message(), c->path) && strstr(fs_error_message(), c->needle),
                  "message '%s'", fs_error_message());
}
END_TEST

/* StyleGAN2 hyper-parameter flags are refused for a CVAE-GAN, and the
 * discriminator-only --mbstd-group for a generator, instead of being ignored. */
START_TEST(test_flags_that_do_not_apply)
{
    static const struct {
        const char *path, *flag;
    } cases[] = {
        {FS_FIXTURES "/cvaegan/tiny/cvaegan.pt", "--conv-clamp"},
        {FS_FIXTURES "/cvaegan/tiny/cvaegan.pt", "--architecture"},
        {FS_FIXTURES "/cvaegan/tiny/cvaegan.pt", "--mapping-lr"},
        {FS_FIXTURES "/cvaegan/tiny/cvaegan.pt", "--num-fp16-res"},
        {FS_FIXTURES "/cvaegan/tiny/cvaegan.pt", "--mbstd-group"},
        {SG2 "/tiny/G_ema.pt", "--mbstd-group"},
        {SG2 "/tiny/network-snapshot.pkl", "--mbstd-group"},
    };
    fs_convert_options o;
    fs_convert_options_default(&o);
    fs_sg2_overrides *ov = &o.overrides;
    switch (_i) {
    case 0: ov->has_conv_clamp = 1; ov->conv_clamp = 256; break;
    case 1: ov->has_architecture = 1; ov->architecture = FS_SG2_ARCH_SKIP; break;
    case 2: ov->has_mapping_lr = 1; ov->mapping_lr = 0.01; break;
    case 3: ov->has_num_fp16_res = 1; ov->num_fp16_res = 2; break;
    default: ov->has_mbstd_group = 1; ov->mbstd_group_size = 4; break;
    }
    uint8_t *buf = NULL;
    size_t len;
    fs_status s = fs_convert_to_memory(cases[_i].path, &o, &buf, &len, NULL);
    ck_assert_msg(s == FS_ERR_ARG, "%s %s: %s (%s)", cases[_i].path, cases[_i].flag,
                  fs_status_string(s), fs_error_message());
    ck_assert_ptr_null(buf);
    ck_assert_msg(strstr(fs_error_message(), cases[_i].path) &&
                      strstr(fs_error_message(), cases[_i].flag),
                  "message '%s'", fs_error_message());
    /* the same flag is fine where it applies */
    if (_i == 4) {
        fs_weights *w = convert_mem(SG2 "/tiny/D.pt", FS_NET_DEFAULT, ov);
        fs_weights_free(w);
    }
}
END_TEST

static int exists(const char *p);
static int run_cli(const char *args, char *err, size_t cap);

static char *tmp_dir(void)
{
    char *d = strdup("/tmp/fs_conv_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

static void rm_tree(const char *d)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    ck_assert_int_eq(system(cmd), 0);
}

static void copy_file(const char *from, const char *to)
{
    fs_file_map m;
    ck_assert_int_eq(fs_file_map_open(from, &m), FS_OK);
    FILE *f = fopen(to, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(m.data, 1, m.size, f), m.size);
    ck_assert_int_eq(fclose(f), 0);
    fs_file_map_close(&m);
}

static int same_bytes(const char *a, const char *b)
{
    fs_file_map x, y;
    ck_assert_int_eq(fs_file_map_open(a, &x), FS_OK);
    ck_assert_int_eq(fs_file_map_open(b, &y), FS_OK);
    int same = x.size == y.size && (x.size == 0 || memcmp(x.data, y.data, x.size) == 0);
    fs_file_map_close(&x);
    fs_file_map_close(&y);
    return same;
}

/* `convert x.pkl -o x.pkl` and every other spelling of the input as the
 * output (./, a/../, a symlink, a hard link) is refused before anything is
 * written; the checkpoint keeps its bytes and no temporary is left. */
START_TEST(test_output_names_the_input)
{
    char *d = tmp_dir();
    char in[256], p[256], sym[256], hard[256];
    snprintf(in, sizeof in, "%s/x.pkl", d);
    copy_file(SG2 "/tiny/network-snapshot.pkl", in);
    snprintf(p, sizeof p, "%s/sub", d);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(sym, sizeof sym, "%s/link.pkl", d);
    ck_assert_int_eq(symlink("x.pkl", sym), 0);
    snprintf(hard, sizeof hard, "%s/hard.pkl", d);
    ck_assert_int_eq(link(in, hard) == 0 || errno == EPERM, 1);
    char outs[5][256];
    snprintf(outs[0], sizeof outs[0], "%s", in);
    snprintf(outs[1], sizeof outs[1], "%s/./x.pkl", d);
    snprintf(outs[2], sizeof outs[2], "%s/sub/../x.pkl", d);
    snprintf(outs[3], sizeof outs[3], "%s", sym);
    snprintf(outs[4], sizeof outs[4], "%s", hard);
    fs_convert_options o;
    fs_convert_options_default(&o);
    for (int i = 0; i < 5; i++) {
        if (i == 4 && !exists(hard))
            continue; /* no hard links on this file system */
        fs_status s = fs_convert_file(in, outs[i], &o, NULL);
        ck_assert_msg(s == FS_ERR_ARG, "-o %s: %s (%s)", outs[i], fs_status_string(s),
                      fs_error_message());
        ck_assert_msg(strstr(fs_error_message(), outs[i]) && strstr(fs_error_message(), "input"),
                      "message '%s'", fs_error_message());
        ck_assert(!strchr(fs_error_message(), '\n'));
        ck_assert_msg(same_bytes(in, SG2 "/tiny/network-snapshot.pkl"), "-o %s changed the input",
                      outs[i]);
    }
    /* the input named through the symlink, the output as itself: the same file too */
    ck_assert_int_eq(fs_convert_file(sym, in, &o, NULL), FS_ERR_ARG);
    /* the command: exit status 2, one line naming the output */
    char args[600], err[4096];
    snprintf(args, sizeof args, "convert %s -o %s", in, outs[2]);
    ck_assert_int_eq(run_cli(args, err, sizeof err), 2);
    ck_assert_msg(strstr(err, outs[2]) && strstr(err, "the output is the input"), "stderr '%s'",
                  err);
    ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1, "not one line: '%s'", err);
    ck_assert(same_bytes(in, SG2 "/tiny/network-snapshot.pkl"));
    /* the directory holds only what the test made: no temporary file */
    DIR *dir = opendir(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(dir)))
        n += e->d_name[0] != '.';
    closedir(dir);
    ck_assert_int_eq(n, exists(hard) ? 4 : 3);
    /* a different output next to it is fine */
    snprintf(p, sizeof p, "%s/x.fsw", d);
    ck_assert_msg(fs_convert_file(in, p, &o, NULL) == FS_OK, "%s", fs_error_message());
    rm_tree(d);
    free(d);
}
END_TEST

/* A .fsw given to convert says it is already converted; a safetensors file
 * with an absurd header length names that length, not "unrecognised". */
START_TEST(test_messages)
{
    char *d = tmp_dir();
    char fsw[256], st[256];
    snprintf(fsw, sizeof fsw, "%s/done.fsw", d);
    fs_convert_options o;
    fs_convert_options_default(&o);
    ck_assert_int_eq(fs_convert_file(SG2 "/tiny/G_ema.pt", fsw, &o, NULL), FS_OK);
    ck_assert(same_bytes(fsw, fsw));
    uint8_t *buf = NULL;
    size_t len;
    ck_assert_int_eq(fs_convert_to_memory(fsw, &o, &buf, &len, NULL), FS_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(fs_error_message(), fsw) && strstr(fs_error_message(), "already converted"),
                  "message '%s'", fs_error_message());
    static const uint64_t lens[] = {UINT64_C(1) << 50, UINT64_C(200000000), 4096};
    static const fs_status want[] = {FS_ERR_LIMIT, FS_ERR_LIMIT, FS_ERR_FORMAT};
    static const char *const text[] = {"1125899906842624", "200000000", "4096"};
    for (int i = 0; i < 3; i++) {
        snprintf(st, sizeof st, "%s/bad%d.safetensors", d, i);
        FILE *f = fopen(st, "wb");
        ck_assert_ptr_nonnull(f);
        uint8_t hdr[8];
        for (int k = 0; k < 8; k++)
            hdr[k] = (uint8_t)(lens[i] >> (8 * k));
        fwrite(hdr, 1, 8, f);
        fputs("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", f);
        ck_assert_int_eq(fclose(f), 0);
        fs_status s = fs_convert_to_memory(st, &o, &buf, &len, NULL);
        ck_assert_msg(s == want[i], "%s: %s (%s)", st, fs_status_string(s), fs_error_message());
        ck_assert_msg(strstr(fs_error_message(), st) && strstr(fs_error_message(), text[i]) &&
                          strstr(fs_error_message(), "impossible safetensors header length"),
                      "message '%s'", fs_error_message());
    }
    rm_tree(d);
    free(d);
}
END_TEST

/* --rename rules: what the parser accepts and refuses. The refused rows
 * include the fuzzer's find (issue 15): glibc's regcomp copies the subtree
 * under + and {m,n}, so stacked or nested ones took more than 2 GB. */
START_TEST(test_rename_rules_parse)
{
    static const struct {
        const char *text;
        fs_status want;
        const char *needle;
    } rows[] = {
        {"^enc\\. encoder.\n# comment\n\n^netG\\.(.*)$ generator.\\1\r\n", FS_OK, NULL},
        {"(module\\.)?(blocks)\\.([0-9]+)\\. \\2.\\3.\n", FS_OK, NULL},
        {"([a-z]+\\.)* x\n[]+]{2,3} y\na{255} z\n", FS_OK, NULL},
        {"1\\} b\r\n\r\\++++++++++++++++++++++++++++++++++++4\r\\4 `", FS_ERR_LIMIT, "line 2"},
        {"a++ b\n", FS_ERR_LIMIT, "already repeats"},
        {"((a{9}){9}){9} b\n", FS_ERR_LIMIT, "already repeats"},
        {"(a+)+ b\n", FS_ERR_LIMIT, "already repeats"},
        {"a{256} b\n", FS_ERR_LIMIT, "255"},
        {"(a)\\1 b\n", FS_ERR_LIMIT, "back-reference"},
        {"( b\n", FS_ERR_FORMAT, "bad regex"},
        {"nospace\n", FS_ERR_FORMAT, "REGEX REPLACEMENT"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fs_rename_rules *r = NULL;
        fs_status s = fs_rename_rules_parse(rows[i].text, strlen(rows[i].text), "r.rules", &r);
        ck_assert_msg(s == rows[i].want, "row %zu: %s (%s)", i, fs_status_string(s),
                      fs_error_message());
        if (s == FS_OK) {
            ck_assert_ptr_nonnull(r);
        } else {
            ck_assert_ptr_null(r);
            ck_assert_msg(strstr(fs_error_message(), "r.rules") &&
                              strstr(fs_error_message(), rows[i].needle) &&
                              !strchr(fs_error_message(), '\n'),
                          "row %zu: message '%s'", i, fs_error_message());
        }
        fs_rename_rules_free(r);
    }
    /* a NUL byte would have ended the line early without a word */
    fs_rename_rules *r = NULL;
    ck_assert_int_eq(fs_rename_rules_parse("a b\n\0c d\n", 9, "r.rules", &r), FS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "line 2: NUL"));
}
END_TEST

/* Every fixture format, cut short at many offsets, is refused (never crashes,
 * never produces a file). */
static const char *const truncated_sources[] = {
    SG2 "/tiny-cond/network-snapshot.pkl", SG2 "/tiny-cond/G_ema.pt",
    SG2 "/tiny-cond/G_ema_legacy.pt",      SG2 "/tiny-cond/G_ema.safetensors",
    SG2 "/tiny-tf/stylegan2-tf-layout.pkl", SG2 "/tiny/rosinality.pt",
};

START_TEST(test_truncated_sources)
{
    const char *src = truncated_sources[_i];
    fs_file_map m;
    ck_assert_int_eq(fs_file_map_open(src, &m), FS_OK);
    char tmp[] = "/tmp/fs_trunc_XXXXXX";
    int fd = mkstemp(tmp);
    ck_assert_int_ge(fd, 0);
    close(fd);
    fs_convert_options o;
    fs_convert_options_default(&o);
    size_t step = m.size / 157 + 1;
    for (size_t n = 0; n < m.size; n += (n < 512 ? 7 : step)) {
        FILE *f = fopen(tmp, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(m.data, 1, n, f), n);
        fclose(f);
        uint8_t *buf = NULL;
        size_t len;
        fs_status s = fs_convert_to_memory(tmp, &o, &buf, &len, NULL);
        ck_assert_msg(s != FS_OK, "%s cut to %zu bytes was accepted", src, n);
        ck_assert_ptr_null(buf);
        ck_assert_msg(strstr(fs_error_message(), tmp) != NULL, "message '%s'", fs_error_message());
    }
    unlink(tmp);
    fs_file_map_close(&m);
}
END_TEST

/* ---- the command line -------------------------------------------------------- */

/* The binary of this build ($FS_CLI, which make check sets to
 * $(BUILD)/facesynth), and per-process names for the captured streams and
 * outputs, so that suites of other builds can run at the same time. */
static char cli_out[64], cli_err[64], cli_bad_fsw[64];

static void cli_names(void)
{
    snprintf(cli_out, sizeof cli_out, "/tmp/fs_conv_out.%ld", (long)getpid());
    snprintf(cli_err, sizeof cli_err, "/tmp/fs_conv_err.%ld", (long)getpid());
    snprintf(cli_bad_fsw, sizeof cli_bad_fsw, "/tmp/fs_conv_bad.%ld.fsw", (long)getpid());
}

/* args may contain @OUT@, which stands for cli_bad_fsw. */
static int run_cli(const char *args, char *err, size_t cap)
{
    cli_names();
    const char *bin = getenv("FS_CLI") ? getenv("FS_CLI") : "build/facesynth";
    char cmd[2048], expanded[1024];
    size_t o = 0;
    for (const char *p = args; *p && o + 64 < sizeof expanded;) {
        if (!strncmp(p, "@OUT@", 5)) {
            o += (size_t)snprintf(expanded + o, sizeof expanded - o, "%s", cli_bad_fsw);
            p += 5;
        } else {
            expanded[o++] = *p++;
        }
    }
    expanded[o] = '\0';
    snprintf(cmd, sizeof cmd, "exec %s %s 2>%s >%s", bin, expanded, cli_err, cli_out);
    int rc = system(cmd);
    FILE *f = fopen(cli_err, "r");
    size_t n = f ? fread(err, 1, cap - 1, f) : 0;
    err[n] = '\0';
    if (f)
        fclose(f);
    unlink(cli_err);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

START_TEST(test_cli_convert_and_info)
{
    char err[4096];
    cli_names();
    const char *out = cli_bad_fsw;
    unlink(out);
    ck_assert_int_eq(run_cli("convert " SG2 "/tiny/network-snapshot.pkl -o @OUT@", err, sizeof err),
                     0);
    ck_assert(exists(out));
    ck_assert_int_eq(run_cli("info @OUT@ --tensors", err, sizeof err), 0);
    FILE *f = fopen(cli_out, "r");
    char text[16384];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "stylegan2-generator"));
    ck_assert_ptr_nonnull(strstr(text, "img_resolution         32"));
    ck_assert_ptr_nonnull(strstr(text, "synthesis.b32.torgb.weight"));
    unlink(out);
    /* a checkpoint is described through its in-memory conversion */
    ck_assert_int_eq(run_cli("info " SG2 "/tiny/G_ema.pt", err, sizeof err), 0);
    f = fopen(cli_out, "r");
    n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "converted in memory"));
    ck_assert_ptr_nonnull(strstr(text, "stylegan2-generator"));
    unlink(cli_out);
}
END_TEST

typedef struct {
    const char *args;
    const char *needle;
} cli_bad;

static const cli_bad cli_bad_cases[] = {
    {"convert " SG2 "/tiny/z.npy -o @OUT@", "z.npy"},
    {"convert " SG2 "/tiny/G_ema.pt -o @OUT@ --net X", "--net"},
    {"convert " SG2 "/tiny/G_ema.pt -o @OUT@ --dtype f8", "--dtype"},
    {"convert " SG2 "/tiny/G_ema.pt -o @OUT@ --bogus", "--bogus"},
    {"convert " SG2 "/tiny/G_ema.pt", "-o"},
    {"convert " SG2 "/tiny/G_ema.pt -o /nonexistent-dir/x.fsw", "/nonexistent-dir/x.fsw"},
    {"convert " SG2 "/tiny/G_ema.pt -o @OUT@ --conv-clamp -1", "--conv-clamp"},
    {"convert " FS_FIXTURES "/cvaegan/tiny/cvaegan.pt -o @OUT@ --net D", "--net"},
    {"convert " FS_FIXTURES "/cvaegan/tiny/cvaegan.pt -o @OUT@ --conv-clamp 256", "--conv-clamp"},
    {"info " SG2 "/tiny/z.npy", "z.npy"},
    {"frobnicate", "frobnicate"},
};

START_TEST(test_cli_errors)
{
    const cli_bad *c = &cli_bad_cases[_i];
    char err[4096];
    cli_names();
    unlink(cli_bad_fsw);
    ck_assert_int_eq(run_cli(c->args, err, sizeof err), 2);
    ck_assert_msg(strstr(err, c->needle) != NULL, "'%s': stderr '%s'", c->args, err);
    char *nl = strchr(err, '\n');
    ck_assert_msg(nl && nl[1] == '\0', "'%s': not exactly one line: '%s'", c->args, err);
    ck_assert(!exists(cli_bad_fsw));
    unlink(cli_out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("convert");
    TCase *tc = tcase_create("formats");
    tcase_add_loop_test(tc, test_tiny_all_formats_identical, 0,
                        (int)(sizeof tiny_g_sources / sizeof *tiny_g_sources));
    tcase_add_loop_test(tc, test_tiny_cond_all_formats_identical, 0, 3);
    tcase_add_loop_test(tc, test_discriminators_pkl_vs_pt, 0, 2);
    tcase_add_test(tc, test_tf_matches_official_conversion);
    tcase_add_test(tc, test_architecture_from_pickles);
    tcase_add_test(tc, test_state_dict_defaults_and_flags);
    tcase_add_loop_test(tc, test_f16_and_bf16_outputs, 0, 2);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    TCase *bad = tcase_create("bad_input");
    tcase_add_loop_test(bad, test_bad_inputs, 0, (int)(sizeof bad_cases / sizeof *bad_cases));
    tcase_add_loop_test(bad, test_flags_that_do_not_apply, 0, 7);
    tcase_add_test(bad, test_output_names_the_input);
    tcase_add_test(bad, test_messages);
    tcase_add_test(bad, test_rename_rules_parse);
    tcase_add_loop_test(bad, test_truncated_sources, 0,
                        (int)(sizeof truncated_sources / sizeof *truncated_sources));
    tcase_set_timeout(bad, 120);
    suite_add_tcase(s, bad);
    TCase *cli = tcase_create("cli");
    tcase_add_test(cli, test_cli_convert_and_info);
    tcase_add_loop_test(cli, test_cli_errors, 0, (int)(sizeof cli_bad_cases / sizeof *cli_bad_cases));
    tcase_set_timeout(cli, 60);
    suite_add_tcase(s, cli);
    return fs_check_run(s, "convert");
}
