/* The dataset library (engine/dataset.h) piece by piece: the seeded draws
 * against numpy's values, shards (balanced, disjoint, covering; the
 * scheduler environments), layer lists, the job file, the plan's mixup
 * draws, the encoders (PNG bytes as generate writes them, JPEG through
 * libjpeg-turbo and back), the tar writer against Python's tarfile, and the
 * renderer: batch-invariant, and a mixed, style-mixed, edited image equal to
 * the same ws built here from the formulas and synthesised directly.
 * The end-to-end command is tests/test_cli_dataset.c's. */
#define CLI_TMP_PREFIX "/tmp/fs_h13_ds"
#include "cli_util.h"

#include <inttypes.h>

#include "../engine/dataset.h"
#include "../engine/dataset_internal.h"
#include "../engine/image_io.h"
#include "../engine/image_jpeg.h"
#include "../engine/image_jpeg_write.h"
#include "../engine/network.h"
#include "../engine/tar_writer.h"
#include "../weights_tools/json.h"

#define TINY "tests/fixtures/stylegan2/tiny/network-snapshot.pkl"
#define CVAE "tests/fixtures/cvaegan/tiny/cvaegan.pt"

/* ---- draws ------------------------------------------------------------------------- */

/* fs_ds_seed32 against the Philox4x32-10 of tests/test_dataset_reader.py
 * ("draws 7"), itself the Random123 round function written out. */
START_TEST(test_seed32)
{
    ck_assert_uint_eq(fs_ds_seed32(7, 1, 0, 0), 1505935688u);
    ck_assert_uint_eq(fs_ds_seed32(7, 1, 7, 3), 2352302974u);
    ck_assert_uint_eq(fs_ds_seed32(7, 2, 123456789012ull, 0), 805175909u);
    ck_assert_uint_eq(fs_ds_seed32(7, 3, 5, 0), 337214849u);
}
END_TEST

/* numpy 2.4's RandomState(7).beta(a, b), three draws per line (the same
 * values the reader's own legacy sampler gives). */
START_TEST(test_np_beta)
{
    static const struct {
        double a, b, want[3];
    } rows[] = {
        {0.5, 0.5, {0.009482153272006313, 0.2685878155406901, 0.9797459976727148}},
        {1, 1, {0.08912155549916569, 0.8742939571074294, 0.349383671764379}},
        {2, 3, {0.41878293043700493, 0.2621878129433636, 0.4177370182776615}},
        {0.3, 4.0, {2.3706631158633105e-05, 0.0427469371050441, 0.0020819881880350666}},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        fs_np_random r;
        fs_np_random_seed(&r, 7);
        for (int k = 0; k < 3; k++) {
            double v = fs_ds_np_beta(&r, rows[i].a, rows[i].b);
            ck_assert_msg(v == rows[i].want[k], "beta(%g, %g) draw %d: %.17g, numpy %.17g",
                          rows[i].a, rows[i].b, k, v, rows[i].want[k]);
        }
    }
}
END_TEST

/* ---- shards ------------------------------------------------------------------------- */

START_TEST(test_shard_ranges)
{
    static const uint64_t chunks[] = {0, 1, 5, 17, 1000, 1000000000000ull};
    static const uint64_t shards[] = {1, 2, 3, 7, 64, 4294967296ull};
    for (size_t a = 0; a < sizeof chunks / sizeof *chunks; a++)
        for (size_t b = 0; b < sizeof shards / sizeof *shards; b++) {
            uint64_t C = chunks[a], N = shards[b], next = 0, lo = UINT64_MAX, hi = 0;
            /* all shards of small N; for huge N the first, last and some middle ones */
            for (uint64_t k = 0; k < N; k = N > 100 && k >= 50 && k < N - 50 ? N - 50 : k + 1) {
                fs_ds_shard s = {.k = k, .n = N};
                uint64_t c0, c1;
                fs_ds_shard_chunks(&s, C, &c0, &c1);
                if (N <= 100 || k < 50)
                    ck_assert_msg(c0 == next, "C %" PRIu64 " N %" PRIu64 " shard %" PRIu64
                                  " starts at %" PRIu64 ", not %" PRIu64, C, N, k, c0, next);
                ck_assert_uint_le(c0, c1);
                lo = c1 - c0 < lo ? c1 - c0 : lo;
                hi = c1 - c0 > hi ? c1 - c0 : hi;
                next = c1;
                if (k == N - 1)
                    ck_assert_uint_eq(c1, C);
            }
            ck_assert_msg(hi - lo <= 1, "C %" PRIu64 " N %" PRIu64 ": sizes %" PRIu64 " to %" PRIu64,
                          C, N, lo, hi);
        }
    fs_ds_shard s;
    ck_assert_int_eq(fs_ds_shard_parse("2/5", &s), FS_OK);
    ck_assert(s.k == 2 && s.n == 5);
    ck_assert_int_eq(fs_ds_shard_parse("4294967295/4294967296", &s), FS_OK);
    static const char *bad[] = {"5/5", "6/5", "0/0", "-1/3", "1", "a/b", "1/", "/3", "1/3/4",
                                "1/4294967297", "99999999999999999999/3", " 1/3", "1/3 "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_msg(fs_ds_shard_parse(bad[i], &s) == FS_ERR_ARG, "'%s' accepted", bad[i]);
        ck_assert_ptr_null(strchr(fs_error_message(), '\n'));
    }
}
END_TEST

/* A fake environment: "NAME=value" strings. */
static const char *fake_env(const char *name, void *ctx)
{
    const char *const *v = ctx;
    size_t n = strlen(name);
    for (; *v; v++)
        if (!strncmp(*v, name, n) && (*v)[n] == '=')
            return *v + n + 1;
    return NULL;
}

START_TEST(test_shard_auto)
{
    static const struct {
        const char *env[8];
        int ok;
        uint64_t k, n;
        const char *needle; /* in the source, or in the error */
    } rows[] = {
        /* sbatch --array=0-3: the four tasks */
        {{"SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_TASK_MIN=0", "SLURM_ARRAY_TASK_MAX=3",
          "SLURM_ARRAY_TASK_COUNT=4", "SLURM_PROCID=0"}, 1, 2, 4, "slurm array task 2"},
        /* --array=10-13 without COUNT: min and max */
        {{"SLURM_ARRAY_TASK_ID=13", "SLURM_ARRAY_TASK_MIN=10", "SLURM_ARRAY_TASK_MAX=13"}, 1, 3,
         4, "array"},
        /* --array=0-15:4 */
        {{"SLURM_ARRAY_TASK_ID=8", "SLURM_ARRAY_TASK_MIN=0", "SLURM_ARRAY_TASK_MAX=12",
          "SLURM_ARRAY_TASK_STEP=4", "SLURM_ARRAY_TASK_COUNT=4"}, 1, 2, 4, "array"},
        /* --array=1,5,9: no numbering */
        {{"SLURM_ARRAY_TASK_ID=5", "SLURM_ARRAY_TASK_MIN=1", "SLURM_ARRAY_TASK_MAX=9",
          "SLURM_ARRAY_TASK_COUNT=3"}, 0, 0, 0, "cannot be numbered"},
        /* an array task running srun -n 2: 2 x 4 shards */
        {{"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_MIN=0", "SLURM_ARRAY_TASK_COUNT=4",
          "SLURM_STEP_ID=0", "SLURM_NTASKS=2", "SLURM_PROCID=1"}, 1, 3, 8, "task 1 of 2"},
        /* a batch script with -n 2 but no srun: one process, not a shard */
        {{"SLURM_PROCID=0", "SLURM_NTASKS=2", "SLURM_JOB_ID=5"}, 0, 0, 0, "no Slurm array"},
        /* srun -n 3 */
        {{"SLURM_PROCID=2", "SLURM_NTASKS=3", "SLURM_STEP_ID=0"}, 1, 2, 3, "slurm job step"},
        {{"OMPI_COMM_WORLD_RANK=1", "OMPI_COMM_WORLD_SIZE=2"}, 1, 1, 2, "open mpi"},
        {{"PMI_RANK=0", "PMI_SIZE=5"}, 1, 0, 5, "pmi"},
        /* the Slurm array wins over MPI */
        {{"PMI_RANK=0", "PMI_SIZE=5", "SLURM_ARRAY_TASK_ID=0", "SLURM_ARRAY_TASK_MIN=0",
          "SLURM_ARRAY_TASK_COUNT=2"}, 1, 0, 2, "array"},
        {{"PMI_RANK=5", "PMI_SIZE=5"}, 0, 0, 0, "not below"},
        {{"OMPI_COMM_WORLD_RANK=x", "OMPI_COMM_WORLD_SIZE=2"}, 0, 0, 0, "not a number"},
        {{"OMPI_COMM_WORLD_RANK=1"}, 0, 0, 0, "is not"},
        {{"SLURM_ARRAY_TASK_ID=3"}, 0, 0, 0, "SLURM_ARRAY_TASK_MIN"},
        {{NULL}, 0, 0, 0, "give --shard K/N"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        fs_ds_shard s = {0};
        char src[256] = "";
        fs_status st = fs_ds_shard_auto(fake_env, (void *)rows[i].env, &s, src, sizeof src);
        if (rows[i].ok) {
            ck_assert_msg(st == FS_OK, "row %zu: %s", i, fs_error_message());
            ck_assert_msg(s.k == rows[i].k && s.n == rows[i].n, "row %zu: %" PRIu64 "/%" PRIu64, i,
                          s.k, s.n);
            ck_assert_msg(strstr(src, rows[i].needle), "row %zu: source '%s'", i, src);
        } else {
            ck_assert_msg(st == FS_ERR_ARG, "row %zu accepted (%" PRIu64 "/%" PRIu64 ")", i, s.k,
                          s.n);
            ck_assert_msg(strstr(fs_error_message(), rows[i].needle), "row %zu: '%s'", i,
                          fs_error_message());
        }
    }
}
END_TEST

/* ---- layers, the job --------------------------------------------------------------- */

START_TEST(test_layers)
{
    uint64_t m;
    char buf[256];
    ck_assert_int_eq(fs_ds_parse_layers("8-", 14, "--mix-layers", &m), FS_OK);
    ck_assert_uint_eq(m, 0x3f00u);
    fs_ds_layers_string(m, 14, buf, sizeof buf);
    ck_assert_str_eq(buf, "8-13");
    ck_assert_int_eq(fs_ds_parse_layers("0-3,8,10-", 12, "x", &m), FS_OK);
    fs_ds_layers_string(m, 12, buf, sizeof buf);
    ck_assert_str_eq(buf, "0-3,8,10-11");
    ck_assert_int_eq(fs_ds_parse_layers("none", 8, "x", &m), FS_OK);
    ck_assert_uint_eq(m, 0);
    fs_ds_layers_string(m, 8, buf, sizeof buf);
    ck_assert_str_eq(buf, "none");
    ck_assert_int_eq(fs_ds_parse_layers("all", 18, "x", &m), FS_OK);
    ck_assert_uint_eq(m, 0x3ffffu);
    static const char *bad[] = {"8-", "3-1", "x", "1,", "8", "0-8", "-3", "1--2", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(fs_ds_parse_layers(bad[i], 8, "--mix-layers", &m) == FS_ERR_ARG, "'%s'",
                      bad[i]);
    fs_ds_parse_layers("8-", 8, "--mix-layers", &m);
    ck_assert_msg(strstr(fs_error_message(), "8 ws"), "%s", fs_error_message());
}
END_TEST

static fs_ds_job small_job(void)
{
    fs_ds_job j = {
        .family = FS_DS_SG2, .identities = 10, .per_identity = 3, .seed = 11, .z_dim = 128,
        .w_dim = 128, .num_ws = 8, .img_res = 32, .img_channels = 3, .psi = 0.7,
        .noise = FS_NOISE_RANDOM, .mix_mask = 0xf0, .format = FS_DS_FOLDER, .image = FS_DS_PNG,
        .quality = 95, .chunk = 4, .mixup_prob = 0.5, .beta_a = 2, .beta_b = 3};
    strcpy(j.network_sha256, "ab");
    strcpy(j.precision, "fp32");
    return j;
}

START_TEST(test_job_text)
{
    fs_ds_job j = small_job();
    char *t, *t2;
    ck_assert_int_eq(fs_ds_job_text(&j, &t), FS_OK);
    fs_json *o;
    ck_assert_int_eq(fs_json_parse((const uint8_t *)t, strlen(t), "job", 0, &o), FS_OK);
    fs_json_free(o);
    fs_ds_job back;
    ck_assert_msg(fs_ds_job_parse(t, strlen(t), "job.json", &back) == FS_OK, "%s",
                  fs_error_message());
    ck_assert(back.identities == 10 && back.per_identity == 3 && back.seed == 11 &&
              back.chunk == 4 && back.mixup_prob == 0.5 && !back.mixup_fixed &&
              back.beta_a == 2 && back.beta_b == 3 && back.format == FS_DS_FOLDER);
    ck_assert_int_eq(fs_ds_job_compare(t, t, "OUT"), FS_OK);
    j.per_identity = 4;
    ck_assert_int_eq(fs_ds_job_text(&j, &t2), FS_OK);
    ck_assert_int_eq(fs_ds_job_compare(t, t2, "OUT"), FS_ERR_ARG);
    ck_assert_msg(strstr(fs_error_message(), "\"per_identity\": 3 there, \"per_identity\": 4 here"),
                  "%s", fs_error_message());
    free(t);
    free(t2);
}
END_TEST

START_TEST(test_plan_mixup)
{
    fs_ds_job j = small_job();
    j.identities = 200;
    j.mixup_prob = 0.3;
    fs_ds_plan p;
    ck_assert_int_eq(fs_ds_plan_init(&p, &j), FS_OK);
    uint64_t mixed = 0;
    for (uint64_t i = 0; i < j.identities; i++) {
        int mx;
        uint64_t src[2];
        double phi;
        fs_ds_identity_mixup(&p, i, &mx, src, &phi);
        ck_assert_int_eq(mx, p.mixed[i]);
        if (!mx)
            continue;
        mixed++;
        ck_assert(src[0] != src[1] && !p.mixed[src[0]] && !p.mixed[src[1]]);
        ck_assert(phi >= 0 && phi <= 1);
        /* its images: the soft label of the plan */
        fs_ds_image_info in;
        fs_ds_describe(&p, i * j.per_identity + 2, &in, NULL);
        ck_assert(in.mixed && in.src[0] == src[0] && in.phi == phi);
        ck_assert(in.weight[0] == (float)phi && in.weight[1] == (float)(1.0 - phi));
    }
    ck_assert_uint_eq(mixed + p.n_pure, j.identities);
    ck_assert_msg(mixed > 40 && mixed < 80, "%" PRIu64 " of 200 mixed at p 0.3", mixed);
    fs_ds_plan_free(&p);
    j.mixup_prob = 1; /* nobody left to mix */
    ck_assert_int_eq(fs_ds_plan_init(&p, &j), FS_ERR_ARG);
    ck_assert_msg(strstr(fs_error_message(), "pure"), "%s", fs_error_message());
    j = small_job();
    j.identities = 100000;
    j.per_identity = 10000; /* soft vectors of 10^5 x 10^9: too big for dataset.json */
    ck_assert_int_eq(fs_ds_plan_init(&p, &j), FS_ERR_LIMIT);
}
END_TEST

/* ---- encoders and tar -------------------------------------------------------------- */

static uint8_t *test_pixels(int w, int h, int c)
{
    uint8_t *p = malloc((size_t)w * h * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                p[((size_t)y * w + x) * c + k] = (uint8_t)(x * 2 + y + k * 30) /* no wrap: smooth */;
    return p;
}

START_TEST(test_png_encode)
{
    char *d = make_tmpdir(), path[256];
    uint8_t *pix = test_pixels(37, 21, 3), *enc, *back;
    size_t len;
    ck_assert_int_eq(fs_png_encode(pix, 37, 21, 3, &enc, &len), FS_OK);
    snprintf(path, sizeof path, "%s/a.png", d);
    ck_assert_int_eq(fs_png_write_rgb8(path, pix, 37, 21, 3), FS_OK);
    fs_file_map m;
    ck_assert_int_eq(fs_file_map_open(path, &m), FS_OK);
    ck_assert_msg(m.size == len && !memcmp(m.data, enc, len), "the in-memory PNG differs from "
                  "fs_png_write_rgb8's file");
    fs_file_map_close(&m);
    int w, h;
    ck_assert_int_eq(fs_png_decode_rgb(enc, len, "mem", &back, &w, &h), FS_OK);
    ck_assert(w == 37 && h == 21 && !memcmp(back, pix, (size_t)37 * 21 * 3));
    free(back);
    free(enc);
    free(pix);
    remove_tree(d);
    free(d);
}
END_TEST

START_TEST(test_jpeg_encode)
{
    uint8_t *pix = test_pixels(64, 48, 3), *e95, *e95b, *e50, *back;
    size_t l95, l95b, l50;
    ck_assert_int_eq(fs_jpeg_encode(pix, 64, 48, 3, 95, &e95, &l95), FS_OK);
    ck_assert_int_eq(fs_jpeg_encode(pix, 64, 48, 3, 95, &e95b, &l95b), FS_OK);
    ck_assert_int_eq(fs_jpeg_encode(pix, 64, 48, 3, 50, &e50, &l50), FS_OK);
    ck_assert_msg(l95 == l95b && !memcmp(e95, e95b, l95), "two encodings differ");
    ck_assert_msg(l50 < l95, "quality 50 is %zu bytes, 95 is %zu", l50, l95);
    int w, h;
    ck_assert_int_eq(fs_jpeg_decode_rgb(e95, l95, "mem", &back, &w, &h), FS_OK);
    ck_assert(w == 64 && h == 48);
    double se = 0;
    for (size_t i = 0; i < (size_t)64 * 48 * 3; i++)
        se += ((double)back[i] - pix[i]) * ((double)back[i] - pix[i]);
    double psnr = 10 * log10(255.0 * 255.0 / (se / (64.0 * 48 * 3)));
    ck_assert_msg(psnr > 40, "PSNR %.1f dB at quality 95", psnr);
    free(back);
    uint8_t *gray = test_pixels(16, 16, 1), *eg;
    size_t lg;
    ck_assert_int_eq(fs_jpeg_encode(gray, 16, 16, 1, 90, &eg, &lg), FS_OK);
    ck_assert_int_eq(fs_jpeg_encode(gray, 16, 16, 2, 90, &back, &lg), FS_ERR_ARG);
    ck_assert_int_eq(fs_jpeg_encode(gray, 16, 16, 1, 0, &back, &lg), FS_ERR_ARG);
    free(eg);
    free(gray);
    free(e95);
    free(e95b);
    free(e50);
    free(pix);
}
END_TEST

/* Members of every size around the block boundary, read back by Python's
 * tarfile, byte for byte. */
START_TEST(test_tar_python)
{
    char *d = make_tmpdir(), path[256], cmd[1024];
    snprintf(path, sizeof path, "%s/t.tar", d);
    fs_out_file f;
    ck_assert_int_eq(fs_out_file_open(path, &f), FS_OK);
    static const size_t sizes[] = {0, 1, 511, 512, 513, 2000};
    uint8_t buf[2000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char name[32];
        snprintf(name, sizeof name, "%06zu.bin", sizes[i]);
        ck_assert_int_eq(fs_tar_write_member(&f, name, buf, sizes[i]), FS_OK);
    }
    ck_assert_int_eq(fs_tar_write_end(&f), FS_OK);
    ck_assert_int_eq(fs_out_file_commit(&f), FS_OK);
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import tarfile,sys\n"
             "t = tarfile.open('%s')\n"
             "ms = t.getmembers()\n"
             "assert [m.name for m in ms] == ['%%06d.bin' %% s for s in (0,1,511,512,513,2000)], ms\n"
             "for m in ms:\n"
             "    d = t.extractfile(m).read()\n"
             "    assert d == bytes((i*7+3) & 255 for i in range(m.size)), m.name\n"
             "    assert m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.mode == 0o644 and m.isreg()\n"
             "print('tarfile read', len(ms), 'members')\"", path);
    ck_assert_msg(system(cmd) == 0, "python3's tarfile rejected the archive");
    uint8_t hdr[512];
    char longname[128];
    memset(longname, 'a', 101);
    longname[101] = '\0';
    ck_assert_int_eq(fs_tar_header(hdr, longname, 1), FS_ERR_ARG);
    ck_assert_int_eq(fs_tar_header(hdr, "x", 1ull << 33), FS_ERR_ARG);
    remove_tree(d);
    free(d);
}
END_TEST

/* ---- rendering --------------------------------------------------------------------- */

typedef struct {
    fs_weights *w;
    fs_backend *b;
    fs_sg2_generator *g;
} sg2;

static sg2 open_sg2(void)
{
    sg2 m;
    fs_network_opts o = fs_fixture_opts(FS_WANT_GENERATOR, -1);
    m.w = fs_fixture_open(TINY, &o);
    ck_assert_int_eq(fs_backend_cpu_init(&m.b, 2), FS_OK);
    ck_assert_int_eq(fs_sg2_generator_init(&m.g, m.w, m.b), FS_OK);
    return m;
}

static void close_sg2(sg2 *m)
{
    fs_sg2_generator_free(m->g);
    fs_backend_free(m->b);
    fs_weights_free(m->w);
}

/* Mixed identities, style mixing, two edits and random noise: image g
 * rendered alone equals image g rendered in batches of other sizes, and
 * equals ws assembled here from the documented formulas and synthesised. */
START_TEST(test_render_formulas)
{
    sg2 m = open_sg2();
    fs_ds_job j = small_job();
    j.identities = 8;
    j.per_identity = 3;
    j.mixup_prob = 0.4;
    j.mixup_fixed = 0;
    j.mix_mask = 0xe0;  /* 5-7 */
    j.edit_mask = 0x0f; /* 0-3 */
    const char *bfiles[2] = {"tests/fixtures/interfacegan/boundary_a.npy",
                             "tests/fixtures/interfacegan/boundary_b.npy"};
    for (int e = 0; e < 2; e++) {
        ck_assert_int_eq(fs_boundary_load(bfiles[e], &j.edits[e].b), FS_OK);
        j.edits[e].path = strdup(bfiles[e]);
        j.edits[e].lo = -2 - e;
        j.edits[e].hi = 1.5;
        j.n_edits++;
    }
    fs_ds_plan p;
    ck_assert_int_eq(fs_ds_plan_init(&p, &j), FS_OK);
    uint64_t n = p.total;
    size_t img = 32 * 32 * 3;
    uint8_t *one = malloc(n * img), *many = malloc(n * img);
    fs_ds_image_info info[8];
    double sc[8];
    fs_ds_render *r1, *r7;
    ck_assert_int_eq(fs_ds_render_init(&r1, &p, m.g, NULL, NULL, 0, 1), FS_OK);
    ck_assert_int_eq(fs_ds_render_init(&r7, &p, m.g, NULL, NULL, 0, 7), FS_OK);
    for (uint64_t g = 0; g < n; g++)
        ck_assert_int_eq(fs_ds_render_batch(r1, &g, 1, one + g * img, info, sc), FS_OK);
    uint64_t idx[7];
    for (uint64_t g0 = 0; g0 < n; g0 += 7) { /* batches that cross identities */
        int k = (int)(n - g0 < 7 ? n - g0 : 7);
        for (int q = 0; q < k; q++)
            idx[q] = n - 1 - (g0 + (uint64_t)q); /* backwards too */
        ck_assert_int_eq(fs_ds_render_batch(r7, idx, k, many, info, sc), FS_OK);
        for (int q = 0; q < k; q++)
            ck_assert_msg(!memcmp(many + (size_t)q * img, one + idx[q] * img, img),
                          "image %" PRIu64 " depends on its batch", idx[q]);
    }
    /* the formulas, written out */
    int nmixed = 0;
    float z[3][128], ws3[3][8 * 128], ws[8 * 128];
    uint8_t pix[32 * 32 * 3];
    for (uint64_t g = 0; g < n; g++) {
        fs_ds_image_info in;
        fs_ds_describe(&p, g, &in, z[2]);
        fs_np_random rr;
        uint64_t ids[2] = {in.mixed ? in.src[0] : in.identity, in.mixed ? in.src[1] : in.identity};
        for (int q = 0; q < 2; q++) {
            fs_np_random_seed(&rr, (uint32_t)(j.seed + ids[q]));
            for (int k = 0; k < 128; k++)
                z[q][k] = (float)fs_np_random_gauss(&rr);
        }
        fs_np_random_seed(&rr, fs_ds_seed32(j.seed, FS_DS_TAG_VARIATION, in.identity,
                                            (uint32_t)in.variation));
        for (int k = 0; k < 128; k++)
            ck_assert(z[2][k] == (float)fs_np_random_gauss(&rr));
        for (int e = 0; e < 2; e++) {
            double u = fs_np_random_double(&rr);
            ck_assert(in.alpha[e] == j.edits[e].lo + (j.edits[e].hi - j.edits[e].lo) * u);
        }
        for (int q = 0; q < 3; q++)
            ck_assert_int_eq(fs_sg2_generator_mapping(m.g, z[q], NULL, 1, 0.7f, -1, ws3[q]),
                             FS_OK);
        nmixed += in.mixed;
        for (int l = 0; l < 8; l++)
            for (int k = 0; k < 128; k++) {
                volatile float a = in.weight[0] * ws3[0][k], b = in.weight[1] * ws3[1][k];
                float id = in.mixed ? a + b : ws3[0][k];
                ws[l * 128 + k] = l >= 5 ? ws3[2][k] : id;
            }
        /* code + float32(alpha) n, in the boundary's precision (a float32 and a
         * float64 boundary here) as InterFaceGAN's numpy computes it */
        for (int e = 0; e < 2; e++)
            for (int l = 0; l < 4; l++)
                for (int k = 0; k < 128; k++) {
                    float s = (float)in.alpha[e], *c = &ws[l * 128 + k];
                    if (j.edits[e].b.dtype == FS_DTYPE_F32) {
                        volatile float prod = s * (float)j.edits[e].b.v[k];
                        *c = *c + prod;
                    } else {
                        *c = (float)((double)*c + (double)s * j.edits[e].b.v[k]);
                    }
                }
        uint64_t ns = in.variation_seed;
        fs_sg2_generate_args ga = {.n = 1, .ws = ws, .psi = 1, .cutoff = -1,
                                   .noise_mode = FS_NOISE_RANDOM, .noise_seeds = &ns,
                                   .images = pix};
        ck_assert_int_eq(fs_sg2_generate(m.g, &ga), FS_OK);
        ck_assert_msg(!memcmp(pix, one + g * img, img), "image %" PRIu64 " (mixed %d) is not "
                      "the formulas' image", g, in.mixed);
    }
    ck_assert_msg(nmixed > 0 && nmixed < (int)n, "%d of %" PRIu64 " images mixed", nmixed, n);
    fs_ds_render_free(r1);
    fs_ds_render_free(r7);
    fs_ds_plan_free(&p);
    fs_ds_job_free(&j);
    free(one);
    free(many);
    close_sg2(&m);
}
END_TEST

/* CVAE-GAN: G(z_v, label) with the label one-hot or the mixture, in any batch. */
START_TEST(test_render_cvae)
{
    fs_network_opts o = fs_fixture_opts(FS_WANT_CVAEGAN, -1);
    fs_weights *w = fs_fixture_open(CVAE, &o);
    fs_backend *b;
    fs_cvaegan *cv;
    ck_assert_int_eq(fs_backend_cpu_init(&b, 2), FS_OK);
    ck_assert_int_eq(fs_cvaegan_init(&cv, w, b), FS_OK);
    const fs_cvaegan_config *c = fs_cvaegan_get_config(cv);
    fs_ds_job j = {.family = FS_DS_CVAE, .identities = 5, .per_identity = 2, .seed = 4,
                   .z_dim = (int)c->z_dim, .n_classes = (int)c->n_id, .img_res = 128,
                   .img_channels = 3, .chunk = 3, .mixup_prob = 0.5, .mixup_fixed = 1,
                   .mixup_weight = 0.25};
    fs_ds_plan p;
    ck_assert_int_eq(fs_ds_plan_init(&p, &j), FS_OK);
    size_t img = 128 * 128 * 3;
    uint8_t *a = malloc(10 * img), *bb = malloc(10 * img);
    float *x = malloc(3 * 128 * 128 * sizeof *x), zv[64], lab[8];
    fs_ds_image_info info[10];
    double sc[10];
    fs_ds_render *r1, *r4;
    ck_assert_int_eq(fs_ds_render_init(&r1, &p, NULL, cv, NULL, 0, 1), FS_OK);
    ck_assert_int_eq(fs_ds_render_init(&r4, &p, NULL, cv, NULL, 0, 4), FS_OK);
    for (uint64_t g = 0; g < 10; g++)
        ck_assert_int_eq(fs_ds_render_batch(r1, &g, 1, a + g * img, info, sc), FS_OK);
    for (uint64_t g0 = 0; g0 < 10; g0 += 4) {
        uint64_t idx[4];
        int k = g0 + 4 <= 10 ? 4 : 2;
        for (int q = 0; q < k; q++)
            idx[q] = g0 + (uint64_t)q;
        ck_assert_int_eq(fs_ds_render_batch(r4, idx, k, bb + g0 * img, info, sc), FS_OK);
    }
    ck_assert_msg(!memcmp(a, bb, 10 * img), "CVAE-GAN images depend on the batch");
    for (uint64_t g = 0; g < 10; g++) {
        fs_ds_image_info in;
        fs_ds_describe(&p, g, &in, zv);
        memset(lab, 0, sizeof lab);
        if (in.mixed) {
            ck_assert(in.phi == 0.25);
            lab[in.src[0]] = 0.25f;
            lab[in.src[1]] = 0.75f;
        } else {
            lab[in.identity] = 1;
        }
        ck_assert_int_eq(fs_cvaegan_generate(cv, zv, lab, 1, x), FS_OK);
        uint8_t pix[128 * 128 * 3];
        fs_image_nchw_f32_to_nhwc_u8(x, 1, 3, 128, 128, pix);
        ck_assert_msg(!memcmp(pix, a + g * img, img), "image %" PRIu64 " is not G(z_v, label)",
                      g);
    }
    fs_ds_render_free(r1);
    fs_ds_render_free(r4);
    fs_ds_plan_free(&p);
    free(a);
    free(bb);
    free(x);
    fs_cvaegan_free(cv);
    fs_backend_free(b);
    fs_weights_free(w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("plan");
    tcase_add_test(tc, test_seed32);
    tcase_add_test(tc, test_np_beta);
    tcase_add_test(tc, test_shard_ranges);
    tcase_add_test(tc, test_shard_auto);
    tcase_add_test(tc, test_layers);
    tcase_add_test(tc, test_job_text);
    tcase_add_test(tc, test_plan_mixup);
    suite_add_tcase(s, tc);
    TCase *io = tcase_create("io");
    tcase_add_test(io, test_png_encode);
    tcase_add_test(io, test_jpeg_encode);
    tcase_add_test(io, test_tar_python);
    suite_add_tcase(s, io);
    TCase *rd = tcase_create("render");
    tcase_set_timeout(rd, 600); /* minutes under the sanitizers or valgrind */
    tcase_add_test(rd, test_render_formulas);
    tcase_add_test(rd, test_render_cvae);
    suite_add_tcase(s, rd);
    return fs_check_run(s, "dataset");
}
