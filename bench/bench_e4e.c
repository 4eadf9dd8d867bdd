/* Benchmark of the e4e encoder (engine/e4e.h) at the real size: IR-SE-50 at
 * full width (64/128/256/512, SE hidden 4/8/16/32), 256x256 input, 18 styles
 * of 512, on the CPU backend or the CUDA one.
 *
 *   build/bench/bench_e4e (--network FILE | --random) [--x FILE.npy] [--batch N]
 *       [--reps R] [--warmup W] [--device cpu|cuda[:N]] [--precision P] [--threads T]
 *       [--seed S] [--save-codes FILE.npy] [--label TEXT]
 *
 * Weights: --network opens any e4e checkpoint or .fsw through fs_network_open
 * (a .pt is converted in memory; timed as load_s, not part of the per-batch
 * timings). bench/official_e4e_cpu.py writes the random full-size checkpoint
 * both sides then load, so the two runs compute the same function and their
 * codes can be compared. --random builds the full-size network in memory
 * instead (machines without torch): He-normal convs and linear layers from
 * numpy's RandomState(seed), BatchNorm as identity (weight 1, bias 0,
 * statistics 0 and 1), PReLU slopes 0.25, latent_avg 0, so activations stay
 * O(1) and no denormals slow either side down.
 *
 * Inputs: --x [N, 3, 256, 256] (N >= batch; the first batch images are used),
 * else uniform in [-1, 1] from RandomState(seed). W untimed warm-ups, then R
 * timed calls of fs_e4e_encode on the batch (upload, the whole forward and the
 * download of the codes), clock_gettime(CLOCK_MONOTONIC); the backend is
 * synchronised before each call. Figures are medians.
 *
 * FLOP model, per image, 2 x MACs from the layer shapes (padded taps counted):
 * the input conv, per unit the two 3x3 convs (the second at its output
 * resolution) and the 1x1 shortcut conv where there is one, the SE fc1/fc2,
 * the two laterals, every style block's stride-2 convs at their output
 * resolution and its linear layer. BatchNorm, PReLU, the SE pooling and
 * gating, the upsample-adds and the code sums are not counted.
 *
 * The last line of stdout is one JSON object with every figure. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "../engine/backend.h"
#include "../engine/e4e.h"
#include "../engine/network.h"
#include "../engine/rng.h"
#include "../weights_tools/npy.h"
#include "../weights_tools/view.h"
#include "../weights_tools/weights_writer.h"

static void usage(void)
{
    fprintf(stderr, "usage: bench_e4e (--network FILE | --random) [--x FILE.npy] [--batch N] "
            "[--reps R] [--warmup W] [--device cpu|cuda[:N]] [--precision P] [--threads T] "
            "[--seed S] [--save-codes FILE.npy] [--label TEXT]\n");
    exit(2);
}

static void die(const char *what)
{
    fprintf(stderr, "bench_e4e: %s: %s\n", what, fs_error_message());
    exit(1);
}

/* ---- the FLOP model ------------------------------------------------------------------ */

static double e4e_flops(const fs_e4e_config *c)
{
    double f = 0, R = (double)c->input_resolution;
    f += 2.0 * c->body.input_width * 27 * R * R;
    double h = R;
    for (int u = 0; u < fs_ir_se_num_units(&c->body); u++) {
        fs_ir_se_unit t = fs_ir_se_unit_at(&c->body, u);
        double oh = floor((h - 1) / t.stride) + 1;
        f += 2.0 * t.depth * t.in * 9 * h * h;          /* conv1, stride 1 */
        f += 2.0 * t.depth * t.depth * 9 * oh * oh;     /* conv2 */
        if (t.conv_shortcut)
            f += 2.0 * t.depth * t.in * oh * oh;
        f += 4.0 * t.depth * t.se_hidden;
        h = oh;
    }
    double C1 = (double)c->body.stage_width[1], C2 = (double)c->body.stage_width[2];
    double C3 = (double)c->body.stage_width[3], D = (double)c->style_dim;
    f += 2.0 * C3 * C2 * (R / 8) * (R / 8) + 2.0 * C3 * C1 * (R / 4) * (R / 4);
    for (int i = 0; i < c->n_styles; i++) {
        double s = (double)fs_e4e_style_spatial(c, i);
        for (int k = 0; k < fs_e4e_style_convs(c, i); k++) {
            s = floor((s - 1) / 2) + 1;
            f += 2.0 * D * (k ? D : C3) * 9 * s * s;
        }
        f += 2.0 * D * D;
    }
    return f;
}

/* ---- --random: the full-size network in memory ----------------------------------------- */

typedef struct {
    fs_weights_writer *w;
    fs_np_random rng;
    float **bufs;
    size_t n, cap;
    uint64_t params;
} builder;

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static fs_status build_visit(void *user, const char *name, int ndim, const int64_t *shape)
{
    builder *bl = user;
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++)
        numel *= shape[i];
    if (bl->n == bl->cap) {
        size_t cap = bl->cap ? 2 * bl->cap : 512;
        float **p = realloc(bl->bufs, cap * sizeof *p);
        if (!p)
            return fs_error(FS_ERR_NOMEM, "out of memory");
        bl->bufs = p;
        bl->cap = cap;
    }
    float *d = malloc((size_t)numel * sizeof *d);
    if (!d)
        return fs_error(FS_ERR_NOMEM, "out of memory (%s)", name);
    bl->bufs[bl->n++] = d;
    bl->params += (uint64_t)numel;
    int conv = ndim == 4, linear = ndim == 2 && strncmp(name, "latent_avg", 10) != 0;
    if (conv || linear) {
        double fan_in = conv ? (double)shape[1] * shape[2] * shape[3] : (double)shape[1];
        double sd = sqrt((conv ? 2.0 : 1.0) / fan_in);
        for (int64_t i = 0; i < numel; i++)
            d[i] = (float)(sd * fs_np_random_gauss(&bl->rng));
    } else {
        /* BatchNorm as identity, PReLU 0.25, biases and latent_avg 0 */
        float v = ends_with(name, "running_var") ? 1.0f
                  : (strstr(name, "res_layer.2") || strstr(name, "input_layer.2")) ? 0.25f
                  : (ends_with(name, ".weight") && ndim == 1) ? 1.0f
                                                              : 0.0f;
        for (int64_t i = 0; i < numel; i++)
            d[i] = v;
    }
    fs_view v = fs_view_contiguous(FS_DTYPE_F32, ndim, shape, d);
    return fs_weights_writer_add(bl->w, name, FS_DTYPE_F32, &v);
}

static fs_status build_random(uint32_t seed, fs_weights **out)
{
    fs_e4e_config c = {
        .body = {.input_width = 64, .stage_width = {64, 128, 256, 512},
                 .stage_units = {3, 4, 14, 3}, .se_hidden = {4, 8, 16, 32}},
        .n_styles = 18, .style_dim = 512, .input_resolution = 256, .add_latent_avg = 1};
    builder bl;
    memset(&bl, 0, sizeof bl);
    fs_np_random_seed(&bl.rng, seed);
    uint8_t *buf = NULL;
    size_t len = 0;
    fs_status s = fs_weights_writer_init(&bl.w, FS_FAMILY_E4E_ENCODER);
    if (s == FS_OK)
        s = fs_e4e_config_to_meta(&c, fs_weights_writer_put_meta, bl.w);
    if (s == FS_OK)
        s = fs_e4e_for_each_tensor(&c, build_visit, &bl);
    if (s == FS_OK)
        s = fs_weights_writer_write_memory(bl.w, &buf, &len);
    fs_weights_writer_free(bl.w);
    for (size_t i = 0; i < bl.n; i++)
        free(bl.bufs[i]);
    free(bl.bufs);
    if (s != FS_OK) {
        free(buf);
        return s;
    }
    return fs_weights_open_owned(buf, len, "random e4e weights", FS_WEIGHTS_VERIFY_ALL, out);
}

int main(int argc, char **argv)
{
    const char *network = NULL, *x_path = NULL, *save = NULL, *device = "cpu";
    const char *precision = "fp32", *label = "";
    int random = 0, batch = 1, reps = 3, warmup = 1, threads = 0;
    uint32_t seed = 0;
    static const struct option opts[] = {
        {"network", required_argument, 0, 'n'}, {"random", no_argument, 0, 'r'},
        {"x", required_argument, 0, 'x'},       {"batch", required_argument, 0, 'b'},
        {"reps", required_argument, 0, 'R'},    {"warmup", required_argument, 0, 'W'},
        {"device", required_argument, 0, 'd'},  {"precision", required_argument, 0, 'p'},
        {"threads", required_argument, 0, 't'}, {"seed", required_argument, 0, 's'},
        {"save-codes", required_argument, 0, 'o'}, {"label", required_argument, 0, 'l'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n': network = optarg; break;
        case 'r': random = 1; break;
        case 'x': x_path = optarg; break;
        case 'b': batch = atoi(optarg); break;
        case 'R': reps = atoi(optarg); break;
        case 'W': warmup = atoi(optarg); break;
        case 'd': device = optarg; break;
        case 'p': precision = optarg; break;
        case 't': threads = atoi(optarg); break;
        case 's': seed = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'o': save = optarg; break;
        case 'l': label = optarg; break;
        default: usage();
        }
    }
    if (!!network == random || batch < 1 || reps < 1 || reps > 1000 || warmup < 0)
        usage();

    double t0 = now_s();
    fs_weights *w = NULL;
    if (random) {
        if (build_random(seed, &w) != FS_OK)
            die("random weights");
    } else {
        fs_network_opts o;
        fs_network_opts_default(&o);
        o.want = FS_WANT_E4E_ENCODER;
        if (fs_network_open(network, &o, &w, NULL) != FS_OK)
            die(network);
    }
    double load_s = now_s() - t0;
    fs_backend *b;
    if (fs_backend_open(device, precision, threads, &b) != FS_OK)
        die(device);
    t0 = now_s();
    fs_e4e *m;
    if (fs_e4e_init(&m, w, b, NULL) != FS_OK)
        die("e4e init");
    double init_s = now_s() - t0;
    const fs_e4e_config *cfg = fs_e4e_get_config(m);
    int R = (int)cfg->input_resolution;
    size_t img = (size_t)3 * R * R, per = (size_t)cfg->n_styles * cfg->style_dim;

    float *x = malloc((size_t)batch * img * sizeof *x), *codes = malloc(batch * per * sizeof *codes);
    if (!x || !codes)
        die("out of memory");
    if (x_path) {
        int ndim;
        int64_t shape[FS_NPY_MAX_DIMS];
        float *all;
        if (fs_npy_read_f32(x_path, &ndim, shape, &all) != FS_OK)
            die(x_path);
        if (ndim != 4 || shape[0] < batch || shape[1] != 3 || shape[2] != R || shape[3] != R) {
            fprintf(stderr, "bench_e4e: %s: need [>= %d, 3, %d, %d]\n", x_path, batch, R, R);
            return 1;
        }
        memcpy(x, all, (size_t)batch * img * sizeof *x);
        free(all);
    } else {
        fs_np_random r;
        fs_np_random_seed(&r, seed + 1);
        for (size_t i = 0; i < (size_t)batch * img; i++)
            x[i] = (float)(2.0 * fs_np_random_double(&r) - 1.0);
    }

    for (int i = 0; i < warmup; i++)
        if (fs_e4e_encode(m, x, batch, codes) != FS_OK)
            die("encode");
    double *sec = malloc((size_t)reps * sizeof *sec);
    if (!sec)
        die("out of memory");
    double c0 = cpu_s(), w0 = now_s();
    for (int i = 0; i < reps; i++) {
        if (b->ops->synchronize(b) != FS_OK)
            die("synchronize");
        double ts = now_s();
        if (fs_e4e_encode(m, x, batch, codes) != FS_OK)
            die("encode");
        sec[i] = now_s() - ts;
    }
    double cpu_per_wall = (cpu_s() - c0) / (now_s() - w0);
    stats st = stats_of(sec, reps);
    if (save) {
        int64_t shape[3] = {batch, cfg->n_styles, cfg->style_dim};
        if (fs_npy_write(save, FS_DTYPE_F32, 3, shape, codes) != FS_OK)
            die(save);
    }
    double flop = e4e_flops(cfg), ips = batch / st.median;
    printf("e4e %s batch %d: %.3f s/batch (min %.3f, max %.3f), %.3f img/s, %.1f GFLOP/img, "
           "%.1f GFLOP/s, CPU/wall %.2f\n", device, batch, st.median, st.min, st.max, ips,
           flop / 1e9, flop * ips / 1e9, cpu_per_wall);
    printf("{\"label\": ");
    json_str(stdout, label);
    printf(", \"device\": ");
    json_str(stdout, device);
    printf(", \"precision\": ");
    json_str(stdout, precision);
    printf(", \"network\": ");
    json_str(stdout, random ? "random" : network);
    printf(", \"batch\": %d, \"reps\": %d, \"warmup\": %d, \"threads\": %d, \"median_s\": %.6f, "
           "\"min_s\": %.6f, \"max_s\": %.6f, \"img_per_s\": %.6f, \"gflop_per_img\": %.4f, "
           "\"gflop_per_s\": %.3f, \"cpu_per_wall\": %.3f, \"load_s\": %.3f, \"init_s\": %.3f, "
           "\"n_styles\": %lld, \"style_dim\": %lld}\n",
           batch, reps, warmup, threads, st.median, st.min, st.max, ips, flop / 1e9,
           flop * ips / 1e9, cpu_per_wall, load_s, init_s, (long long)cfg->n_styles,
           (long long)cfg->style_dim);
    free(sec);
    free(x);
    free(codes);
    fs_e4e_free(m);
    fs_backend_free(b);
    fs_weights_free(w);
    return 0;
}
