/* `facesynth edit` and `facesynth boundary` (docs/editing.md) against the
 * InterFaceGAN goldens of tests/fixtures/interfacegan: W, W+ and
 * layer-restricted W+ sweeps (images and codes), the seeded strengths, the
 * labels file, z/W+ edits of strength 0 against generate, the projected
 * and the trained boundaries with the official log; and the refusals: one
 * line, exit status 2, nothing written. */
#define CLI_TMP_PREFIX "/tmp/fs_h10_cli_edit"
#include "cli_util.h"

#include "../engine/image_io.h"

#define IG FS_FIXTURES "/interfacegan"
#define TINY FS_FIXTURES "/stylegan2/tiny"
#define NET TINY "/network-snapshot.pkl"

/* "a\tb\tc" field k of a line (copied into out). */
static void field(const char *line, int k, char *out, size_t cap)
{
    for (int i = 0; i < k; i++) {
        line = strchr(line, '\t');
        ck_assert_ptr_nonnull(line);
        line++;
    }
    size_t n = strcspn(line, "\t\n");
    ck_assert_uint_lt(n, cap);
    memcpy(out, line, n);
    out[n] = '\0';
}

/* The lines of a text file (modified in place); the count. */
static int split_lines(char *text, char **lines, int cap)
{
    int n = 0;
    for (char *p = text; *p && n < cap;) {
        lines[n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    return n;
}

static void expect_rel_l2(const char *got_path, const char *golden, double tol)
{
    arr got = load_f32(got_path), want = load_f32(golden);
    ck_assert_uint_eq(got.numel, want.numel);
    double e = fs_check_rel_l2(got.data, want.data, want.numel);
    if (getenv("FS_TEST_VERBOSE"))
        printf("%s vs %s: relative L2 %.3g\n", got_path, golden, e);
    ck_assert_msg(e <= tol, "%s: relative L2 %.3g > %.0e", golden, e, tol);
    free(got.data);
    free(want.data);
}

/* W sweep: the images, the codes (broadcast to every ws), the names and
 * the labels. */
START_TEST(test_w_sweep_golden)
{
    char *d = make_tmpdir();
    run_ok("edit -q --network " NET " --ws " TINY "/ws_psi1.npy --space w --boundary "
           IG "/boundary_a.npy --distances -3:3:7 --outdir %s/out --save-raw %s/raw.npy "
           "--save-ws %s/ws.npy", d, d, d);
    char p[512];
    snprintf(p, sizeof p, "%s/raw.npy", d);
    expect_rel_l2(p, IG "/img_w_edit.npy", 1e-5);
    snprintf(p, sizeof p, "%s/ws.npy", d);
    arr ws = load_f32(p), w = load_f32(IG "/w_edit.npy");
    ck_assert_int_eq(ws.ndim, 3);
    ck_assert_int_eq(ws.shape[0], 28);
    double worst = 0;
    for (int i = 0; i < 28; i++)
        for (int l = 0; l < 8; l++)
            for (int j = 0; j < 128; j++)
                worst = fmax(worst, fabs((double)ws.data[((size_t)i * 8 + l) * 128 + j] -
                                         w.data[(size_t)i * 128 + j]));
    ck_assert_msg(worst <= 1e-6, "edited w: max |diff| %.3g", worst);
    free(ws.data);
    free(w.data);
    /* names: source, boundary, edit */
    snprintf(p, sizeof p, "%s/out/img0003_b00_e006.png", d);
    ck_assert(exists(p));
    snprintf(p, sizeof p, "%s/out", d);
    ck_assert_int_eq(count_entries(p), 28 + 1);
    /* labels: header + 28 rows, source-major */
    snprintf(p, sizeof p, "%s/out/labels.tsv", d);
    char *text = slurp(p), *lines[64], f[256];
    ck_assert_int_eq(split_lines(text, lines, 64), 29);
    ck_assert_str_eq(lines[0], "image\tsource\tseed\tboundary\tboundary_sha256\tnormalized\tspace"
                               "\tlayers\tdistance\talpha\tconditions\tconditions_sha256");
    field(lines[1 + 7 * 2 + 4], 0, f, sizeof f);
    ck_assert_str_eq(f, "img0002_b00_e004.png");
    field(lines[1 + 7 * 2 + 4], 1, f, sizeof f);
    ck_assert_str_eq(f, "2");
    field(lines[1 + 7 * 2 + 4], 4, f, sizeof f);
    ck_assert_str_eq(f, "74cf3990cc68020bbd931856040a6be162074b1df544f2617933189178d28fd3");
    field(lines[1 + 7 * 2 + 4], 6, f, sizeof f);
    ck_assert_str_eq(f, "w");
    field(lines[1 + 7 * 2 + 4], 8, f, sizeof f);
    ck_assert_str_eq(f, "1");
    field(lines[1 + 7 * 2 + 4], 9, f, sizeof f);
    ck_assert_str_eq(f, "-");
    free(text);
    remove_tree(d);
    free(d);
}
END_TEST

/* W+ sweeps on every ws and on ws 0-3, with a float64 boundary. */
START_TEST(test_wp_sweep_golden)
{
    static const char *const layers[2] = {"", "--layers 0-3"};
    static const char *const golden[2][2] = {{"img_wp_edit.npy", "wp_edit.npy"},
                                             {"img_wp_edit_layers0-4.npy",
                                              "wp_edit_layers0-4.npy"}};
    for (int c = 0; c < 2; c++) {
        char *d = make_tmpdir();
        run_ok("edit -q --network " NET " --ws " TINY "/ws_psi1.npy --space wp %s --boundary "
               IG "/boundary_b.npy --distances=-2:2:5 --outdir %s/out --save-raw %s/raw.npy "
               "--save-ws %s/ws.npy --batch 3", layers[c], d, d, d);
        char p[512], g[256];
        snprintf(p, sizeof p, "%s/raw.npy", d);
        snprintf(g, sizeof g, IG "/%s", golden[c][0]);
        expect_rel_l2(p, g, 1e-5);
        snprintf(p, sizeof p, "%s/ws.npy", d);
        snprintf(g, sizeof g, IG "/%s", golden[c][1]);
        arr ws = load_f32(p), want = load_f32(g);
        ck_assert_uint_eq(ws.numel, want.numel);
        double worst = 0;
        for (size_t i = 0; i < ws.numel; i++)
            worst = fmax(worst, fabs((double)ws.data[i] - want.data[i]));
        ck_assert_msg(worst <= 1e-6, "%s: max |diff| %.3g", golden[c][1], worst);
        free(ws.data);
        free(want.data);
        snprintf(p, sizeof p, "%s/out/labels.tsv", d);
        char *text = slurp(p), *lines[32], f[64];
        ck_assert_int_eq(split_lines(text, lines, 32), 21);
        field(lines[1], 7, f, sizeof f);
        ck_assert_str_eq(f, c ? "0-3" : "all");
        free(text);
        remove_tree(d);
        free(d);
    }
}
END_TEST

/* --alpha-range: the documented draws, reproducible, source-major; two
 * boundaries; a .pt boundary. */
START_TEST(test_alpha_draws)
{
    char *d = make_tmpdir();
    const char *args = "edit -q --network " NET " --seeds 0-2 --space wp --boundary "
                       IG "/boundary_a.pt --boundary " IG "/boundary_b.npy --alpha-range -2,2 "
                       "--per-image 3 --outdir %s/%s --batch 4";
    run_ok(args, d, "a");
    run_ok(args, d, "b");
    arr al = load_f32(IG "/alphas_seeds0-2.npy"); /* float64 read as float32: compare below */
    char p[512], q[512];
    snprintf(p, sizeof p, "%s/a/labels.tsv", d);
    char *text = slurp(p), *lines[32], f[256];
    ck_assert_int_eq(split_lines(text, lines, 32), 1 + 3 * 2 * 3);
    for (int s = 0; s < 3; s++)
        for (int b = 0; b < 2; b++)
            for (int e = 0; e < 3; e++) {
                const char *line = lines[1 + s * 6 + b * 3 + e];
                char name[64];
                snprintf(name, sizeof name, "seed%04d_b%02d_e%03d.png", s, b, e);
                field(line, 0, f, sizeof f);
                ck_assert_str_eq(f, name);
                field(line, 2, f, sizeof f);
                ck_assert_int_eq(atoi(f), s);
                field(line, 3, f, sizeof f);
                ck_assert_str_eq(f, b ? IG "/boundary_b.npy" : IG "/boundary_a.pt");
                field(line, 9, f, sizeof f);
                double alpha = strtod(f, NULL);
                ck_assert_msg((float)alpha == al.data[s * 6 + b * 3 + e],
                              "seed %d boundary %d edit %d: alpha %s", s, b, e, f);
                /* the same command, the same image */
                snprintf(p, sizeof p, "%s/a/%s", d, name);
                snprintf(q, sizeof q, "%s/b/%s", d, name);
                ck_assert(files_equal(p, q));
            }
    free(text);
    free(al.data);
    remove_tree(d);
    free(d);
}
END_TEST

/* An edit of strength 0 synthesises the source: z, w and W+ spaces give
 * generate's pixels (with truncation), and the z-space sweep to a distance
 * puts the edited z there. */
START_TEST(test_zero_edit_is_generate)
{
    char *d = make_tmpdir();
    run_ok("generate -q --network " NET " --seeds 3,5 --trunc 0.7 --outdir %s/gen", d);
    static const char *const spaces[3] = {"z", "w", "wp"};
    for (int k = 0; k < 3; k++) {
        run_ok("edit -q --network " NET " --seeds 3,5 --trunc 0.7 --space %s --boundary "
               IG "/boundary_b.npy --alpha-range 0,0 --outdir %s/%s", spaces[k], d, spaces[k]);
        for (int s = 3; s <= 5; s += 2) {
            char p[512], q[512];
            snprintf(p, sizeof p, "%s/gen/seed%04d.png", d, s);
            snprintf(q, sizeof q, "%s/%s/seed%04d_b00_e000.png", d, spaces[k], s);
            int w1, h1, w2, h2;
            uint8_t *a, *b;
            ck_assert_int_eq(fs_png_read_rgb(p, &a, &w1, &h1), FS_OK);
            ck_assert_int_eq(fs_png_read_rgb(q, &b, &w2, &h2), FS_OK);
            ck_assert(w1 == w2 && h1 == h2 && !memcmp(a, b, (size_t)w1 * h1 * 3));
            free(a);
            free(b);
        }
    }
    remove_tree(d);
    free(d);
}
END_TEST

START_TEST(test_boundary_project_cli)
{
    char *d = make_tmpdir();
    static const char *const conds[3] = {
        "--condition " IG "/boundary_b.npy",
        "--condition " IG "/boundary_b.npy --condition " IG "/boundary_c.npy",
        "--condition " IG "/boundary_b.npy --condition " IG "/boundary_c.npy --condition " IG
        "/boundary_d.npy"};
    for (int k = 0; k < 3; k++) {
        run_ok("boundary project -q " IG "/boundary_a.npy %s -o %s/p%d.npy", conds[k], d, k + 1);
        char p[512], g[256];
        snprintf(p, sizeof p, "%s/p%d.npy", d, k + 1);
        snprintf(g, sizeof g, IG "/proj%d.npy", k + 1);
        /* float64 out, equal to the official output to the last bits */
        fs_file_map m1, m2;
        ck_assert_int_eq(fs_file_map_open(p, &m1), FS_OK);
        ck_assert_int_eq(fs_file_map_open(g, &m2), FS_OK);
        fs_npy a, b;
        ck_assert_int_eq(fs_npy_parse(m1.data, m1.size, p, &a), FS_OK);
        ck_assert_int_eq(fs_npy_parse(m2.data, m2.size, g, &b), FS_OK);
        ck_assert_int_eq(a.dtype, FS_DTYPE_F64);
        ck_assert(a.ndim == 2 && a.shape[0] == 1 && a.shape[1] == 128);
        double worst = 0;
        for (int i = 0; i < 128; i++)
            worst = fmax(worst, fabs(fs_dtype_load(FS_DTYPE_F64, a.data, i) -
                                     fs_dtype_load(FS_DTYPE_F64, b.data, i)));
        ck_assert_msg(worst <= 1e-12, "proj%d: max |diff| %.3g", k + 1, worst);
        fs_file_map_close(&m1);
        fs_file_map_close(&m2);
    }
    /* edit --condition applies the same projection: a W sweep along
     * project(a; b) equals a sweep along the projected file */
    run_ok("edit -q --network " NET " --ws " TINY "/ws_psi1.npy --space w --boundary "
           IG "/boundary_a.npy --condition " IG "/boundary_b.npy --distances -1:1:3 "
           "--outdir %s/e1 --save-ws %s/e1.npy", d, d);
    run_ok("edit -q --network " NET " --ws " TINY "/ws_psi1.npy --space w --boundary "
           "%s/p1.npy --distances -1:1:3 --outdir %s/e2 --save-ws %s/e2.npy", d, d, d);
    char p[512], q[512];
    snprintf(p, sizeof p, "%s/e1.npy", d);
    snprintf(q, sizeof q, "%s/e2.npy", d);
    ck_assert(files_equal(p, q));
    snprintf(p, sizeof p, "%s/e1/labels.tsv", d);
    char *text = slurp(p), *lines[16], f[300];
    ck_assert_int_eq(split_lines(text, lines, 16), 13);
    field(lines[1], 10, f, sizeof f);
    ck_assert_str_eq(f, IG "/boundary_b.npy");
    field(lines[1], 11, f, sizeof f);
    ck_assert_uint_eq(strlen(f), 64);
    free(text);
    remove_tree(d);
    free(d);
}
END_TEST

START_TEST(test_boundary_train_cli)
{
    char *d = make_tmpdir();
    char args[1024], err[4096], out[128], p[512];
    snprintf(args, sizeof args, "boundary train --latents " IG "/codes.npy --scores " IG
             "/scores.npy --ratio 0.1 --split 0.7 --seed 0 -o %s/b.npy", d);
    ck_assert_int_eq(run_cli(args, err, sizeof err, out, sizeof out), 0);
    char *got = slurp(out);
    unlink(out);
    /* stdout is the official log, message for message */
    char *want = slurp(IG "/split_seed0.txt"), *lines[64], *glines[64];
    int nw = split_lines(want, lines, 64), ng = split_lines(got, glines, 64), k = 0;
    for (int i = 0; i < nw; i++)
        if (!strncmp(lines[i], "log ", 4)) {
            ck_assert_int_lt(k, ng);
            ck_assert_str_eq(glines[k], lines[i] + 4);
            k++;
        }
    ck_assert_int_eq(k, 10);
    snprintf(p, sizeof p, "%s/b.npy", d);
    arr b = load_f32(p), g = load_f32(IG "/boundary_trained.npy");
    ck_assert(b.ndim == 2 && b.shape[0] == 1 && b.shape[1] == 128);
    double ab = 0;
    for (int i = 0; i < 128; i++)
        ab += (double)b.data[i] * g.data[i];
    ck_assert_msg(ab >= 0.99999, "cosine %.9f", ab);
    free(b.data);
    free(g.data);
    free(got);
    free(want);
    remove_tree(d);
    free(d);
}
END_TEST

/* Bad input: one line, exit 2, the command's prefix, and nothing written
 * (not even the output directory). */
START_TEST(test_refusals)
{
    char *d = make_tmpdir();
    /* boundary files made here */
    float v64[64], v128[128];
    for (int i = 0; i < 64; i++)
        v64[i] = 0.125f;
    for (int i = 0; i < 128; i++)
        v128[i] = 0;
    char p[512];
    int64_t s64[2] = {1, 64}, s128[2] = {1, 128};
    snprintf(p, sizeof p, "%s/d64.npy", d);
    save_f32(p, 2, s64, v64);
    snprintf(p, sizeof p, "%s/zero.npy", d);
    save_f32(p, 2, s128, v128);
    v128[3] = NAN;
    snprintf(p, sizeof p, "%s/nan.npy", d);
    save_f32(p, 2, s128, v128);
    /* a .npy of strings: valid numpy, not numbers */
    snprintf(p, sizeof p, "%s/text.npy", d);
    FILE *f = fopen(p, "wb");
    char hdr[128];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '<U3', 'fortran_order': False, 'shape': (1, 2), }");
    while ((10 + n + 1) % 64)
        hdr[n++] = ' ';
    hdr[n++] = '\n';
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(n & 0xff, f);
    fputc(n >> 8, f);
    fwrite(hdr, 1, (size_t)n, f);
    for (int i = 0; i < 24; i++)
        fputc(i % 4 ? 0 : 'a', f);
    fclose(f);

#define E "edit --network " NET " --outdir @/out --save-raw @/raw.npy "
#define WS "--ws " TINY "/ws_psi1.npy "
#define BA "--boundary " IG "/boundary_a.npy "
    static const cli_bad cases[] = {
        {E WS "--boundary @/d64.npy --distances 0:1:2", "@/d64.npy: boundary has D = 64"},
        {E WS "--boundary @/nan.npy --distances 0:1:2", "element 3 is nan"},
        {E WS "--boundary @/zero.npy --distances 0:1:2", "zero vector"},
        {E WS "--boundary @/text.npy --distances 0:1:2", "@/text.npy"},
        {E WS "--boundary " TINY "/z.npy --distances 0:1:2", "shape [4, 128]"},
        {E WS BA "--distances 0:1:0", "STEPS is 0"},
        {E WS BA "--distances 0:1:-3", "STEPS is -3"},
        {E WS BA "--distances 0:1", "START:END:STEPS"},
        {E WS BA "--alpha-range 2,1", "empty range"},
        {E WS BA "--alpha-range 1", "A,B"},
        {E WS BA "--distances 0:1:2 --layers 5-3", "empty range"},
        {E WS BA "--distances 0:1:2 --layers 0-8", "layer 8 is out of range"},
        {E WS BA "--distances 0:1:2 --layers 0-3 --space w", "--layers selects ws of --space wp"},
        {E WS BA "--distances 0:1:2 --space z", "--space z edits z"},
        {E WS BA "--distances 0:1:2 --alpha-range 0,1", "mutually exclusive"},
        {E WS BA, "missing --distances"},
        {E WS "--distances 0:1:2", "missing --boundary"},
        {E WS BA "--distances 0:1:2 --per-image 3", "--per-image goes with --alpha-range"},
        {E "--seeds 0-2 " BA "--alpha-range 0,1 --alpha-seed 3", "--alpha-seed is for --z"},
        {E "--seeds 0 " BA "--distances 0:1:2 --space w --trunc 0.7 --trunc-cutoff 2",
         "--trunc-cutoff"},
        {E "--seeds 0 " BA "--distances 0:1:2 --space q", "--space must be z, w or wp"},
        {E WS BA "--condition " IG "/boundary_a.npy --distances 0:1:2", "lies in the span"},
        {E WS BA "--condition @/d64.npy --distances 0:1:2", "@/d64.npy: boundary has D = 64"},
        {E WS BA "--distances 0:1:2 --save-ws @/raw.npy", "name the same file"},
        {"edit --network " FS_FIXTURES "/stylegan2/tiny-cond/network-snapshot.pkl --outdir @/out "
         "--seeds 0 --boundary @/d64.npy --space wp --distances 0:1:2",
         "the network is conditional"},
        {"edit --network " FS_FIXTURES "/stylegan2/tiny-cond/network-snapshot.pkl --outdir @/out "
         "--seeds 0 --boundary " IG "/boundary_a.npy --space z --distances 0:1:2",
         "boundary has D = 128, but --space z edits vectors of z_dim = 64"},
    };
#undef E
#undef WS
#undef BA
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char args[2048], needle[512], err[4096];
        expand(args, sizeof args, cases[i].args, d);
        expand(needle, sizeof needle, cases[i].needle, d);
        int rc = run_cli(args, err, sizeof err, NULL, 0);
        ck_assert_msg(rc == 2, "'%s': exit status %d (%s)", args, rc, err);
        ck_assert_msg(strstr(err, needle), "'%s': '%s' not in: %s", args, needle, err);
        ck_assert_msg(cli_error_prefix_ok(args, err), "'%s': %s", args, err);
        ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1, "'%s': not one line: %s", args,
                      err);
        snprintf(p, sizeof p, "%s/out", d);
        ck_assert_msg(!exists(p), "'%s' left %s", args, p);
        snprintf(p, sizeof p, "%s/raw.npy", d);
        ck_assert_msg(!exists(p), "'%s' left %s", args, p);
    }
    /* the conditional network with its label */
    run_ok("edit -q --network " FS_FIXTURES "/stylegan2/tiny-cond/network-snapshot.pkl --outdir "
           "%s/cond --seeds 0 --class 2 --boundary %s/d64.npy --space wp --distances 0:1:2", d, d);
    snprintf(p, sizeof p, "%s/cond/seed0000_b00_e001.png", d);
    ck_assert(exists(p));
    /* boundary project / train */
    static const cli_bad bcases[] = {
        {"boundary project " IG "/boundary_a.npy -o @/o.npy", "missing --condition"},
        {"boundary project " IG "/boundary_a.npy --condition @/d64.npy -o @/o.npy",
         "@/d64.npy: condition has D = 64"},
        {"boundary project @/nan.npy --condition " IG "/boundary_b.npy -o @/o.npy", "is nan"},
        {"boundary project " IG "/boundary_a.npy --condition " IG "/boundary_b.npy", "missing -o"},
        {"boundary train --latents " IG "/codes.npy -o @/o.npy", "missing --scores"},
        {"boundary train --latents " IG "/codes.npy --scores " IG "/ties_scores.npy -o @/o.npy",
         "scores must have shape [2000, 1]"},
        {"boundary train --latents " IG "/codes.npy --scores " IG "/scores.npy --ratio 0 -o "
         "@/o.npy", "--ratio needs a number > 0"},
        {"boundary train --latents " IG "/codes.npy --scores " IG "/scores.npy --split 1.5 -o "
         "@/o.npy", "--split needs a number in (0, 1]"},
        {"boundary train --latents " IG "/codes.npy --scores " IG "/scores.npy --ratio 1 "
         "--split 0.0001 -o @/o.npy", "at least one of each class"},
        {"boundary frobnicate", "unknown subcommand"},
    };
    for (size_t i = 0; i < sizeof bcases / sizeof *bcases; i++) {
        char args[2048], needle[512], err[4096], prefix[64];
        expand(args, sizeof args, bcases[i].args, d);
        expand(needle, sizeof needle, bcases[i].needle, d);
        int rc = run_cli(args, err, sizeof err, NULL, 0);
        ck_assert_msg(rc == 2, "'%s': exit status %d (%s)", args, rc, err);
        ck_assert_msg(strstr(err, needle), "'%s': '%s' not in: %s", args, needle, err);
        /* "facesynth boundary project: ", "facesynth boundary train: " */
        n = (int)strcspn(args + 9, " ");
        snprintf(prefix, sizeof prefix, "facesynth %.*s: ", 9 + n, args);
        if (!strstr(args, "frobnicate"))
            ck_assert_msg(!strncmp(err, prefix, strlen(prefix)), "'%s': %s", args, err);
        ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1, "'%s': not one line: %s", args,
                      err);
        snprintf(p, sizeof p, "%s/o.npy", d);
        ck_assert_msg(!exists(p), "'%s' left %s", args, p);
    }
    remove_tree(d);
    free(d);
}
END_TEST

/* A non-unit boundary is warned about, and --normalize edits with the unit
 * vector (the same codes as the unit file). */
START_TEST(test_normalize)
{
    char *d = make_tmpdir();
    arr a = load_f32(IG "/boundary_a.npy");
    for (size_t i = 0; i < a.numel; i++)
        a.data[i] *= 2.0f; /* exact: the normalised copy equals the original */
    char p[512], args[1024], err[4096];
    snprintf(p, sizeof p, "%s/a2.npy", d);
    save_f32(p, a.ndim, a.shape, a.data);
    free(a.data);
    snprintf(args, sizeof args, "edit -q --network " NET " --ws " TINY "/ws_psi1.npy --space wp "
             "--boundary %s --distances 1:1:1 --outdir %s/x --save-ws %s/x.npy", p, d, d);
    ck_assert_int_eq(run_cli(args, err, sizeof err, NULL, 0), 0);
    ck_assert_msg(strstr(err, "warning") && strstr(err, "norm 2"), "%s", err);
    run_ok("edit -q --network " NET " --ws " TINY "/ws_psi1.npy --space wp --boundary %s "
           "--normalize --distances 1:1:1 --outdir %s/y --save-ws %s/y.npy", p, d, d);
    run_ok("edit -q --network " NET " --ws " TINY "/ws_psi1.npy --space wp --boundary "
           IG "/boundary_a.npy --distances 1:1:1 --outdir %s/z --save-ws %s/z.npy", d, d);
    char q[512];
    snprintf(p, sizeof p, "%s/y.npy", d);
    snprintf(q, sizeof q, "%s/z.npy", d);
    ck_assert(files_equal(p, q));
    snprintf(p, sizeof p, "%s/x.npy", d);
    ck_assert(!files_equal(p, q));
    remove_tree(d);
    free(d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_edit");
    TCase *tc = tcase_create("cli_edit");
    tcase_add_test(tc, test_w_sweep_golden);
    tcase_add_test(tc, test_wp_sweep_golden);
    tcase_add_test(tc, test_alpha_draws);
    tcase_add_test(tc, test_zero_edit_is_generate);
    tcase_add_test(tc, test_boundary_project_cli);
    tcase_add_test(tc, test_boundary_train_cli);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_normalize);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return fs_check_run(s, "cli_edit");
}
