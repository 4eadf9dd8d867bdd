/* Benchmark of the identity networks and the SimGAN refiner (docs/identity.md,
 * docs/simgan.md) on the CPU backend or the CUDA one:
 *
 *   build/bench/bench_identity --net lightcnn|arcface|simgan --network FILE --x FILE.npy
 *       [--batch N] [--reps R] [--warmup W] [--device cpu|cuda[:N]] [--threads T]
 *       [--save-out FILE.npy]
 *
 * --network opens any checkpoint or .fsw of the net's family through
 * fs_network_open (a checkpoint is converted in memory, timed as load_s, not
 * part of the timings). --x holds the inputs (Light CNN [N, 1, 128, 128],
 * ArcFace [N, 3, 112, 112], SimGAN [N, C, H, W]); the first --batch are used.
 * W untimed warm-ups, then R timed calls of the model's host-to-host entry
 * point (fs_lightcnn_forward: the feature; fs_arcface_embed: the normalised
 * embedding; fs_simgan_refine), CLOCK_MONOTONIC. --save-out writes the last
 * output, for comparison with the official code's.
 *
 * FLOP model, per face, 2 x MACs of every conv and linear layer from the
 * shapes (padded taps counted): Light CNN's MFM convs at their 2C outputs and
 * fc1 (the classifier is not computed); ArcFace's input conv, per unit the
 * two 3x3 convs (the second at its output resolution), the 1x1 shortcut where
 * there is one and the SE fc1/fc2, and the output linear layer; the SimGAN
 * refiner's convs at the image size. Max-feature-map, pools, BatchNorm, PReLU
 * and activations are not counted.
 *
 * The last line of stdout is one JSON object with every figure. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "../engine/arcface.h"
#include "../engine/backend.h"
#include "../engine/lightcnn.h"
#include "../engine/network.h"
#include "../engine/simgan.h"
#include "../weights_tools/npy.h"

static void usage(void)
{
    fprintf(stderr, "usage: bench_identity --net lightcnn|arcface|simgan --network FILE "
            "--x FILE.npy [--batch N] [--reps R] [--warmup W] [--device cpu|cuda[:N]] "
            "[--threads T] [--save-out FILE.npy]\n");
    exit(2);
}

static void die(const char *what)
{
    fprintf(stderr, "bench_identity: %s: %s\n", what, fs_error_message());
    exit(1);
}

static double conv_flops(double cout, double cin, double k, double oh, double ow)
{
    return 2.0 * cout * cin * k * k * oh * ow;
}

static double lightcnn_flops(const fs_lightcnn_config *c)
{
    double h = (double)c->input_resolution, f = 0, cin = (double)c->in_channels;
    for (int s = 0; s < FS_LCNN_STAGES; s++) {
        double out = (double)c->widths[s];
        if (s == 0) {
            f += conv_flops(2 * out, cin, 5, h, h);
        } else {
            f += conv_flops(2 * cin, cin, 1, h, h);
            f += conv_flops(2 * out, cin, 3, h, h);
        }
        cin = out;
        if (s != 3)
            h = ceil(h / 2);
    }
    return f + 2.0 * (double)(2 * c->feature_dim) * cin * h * h;
}

static double arcface_flops(const fs_arcface_config *c)
{
    double h = (double)c->input_resolution;
    double f = conv_flops((double)c->body.input_width, 3, 3, h, h);
    for (int u = 0; u < fs_ir_se_num_units(&c->body); u++) {
        fs_ir_se_unit t = fs_ir_se_unit_at(&c->body, u);
        double oh = floor((h - 1) / t.stride) + 1;
        f += conv_flops(t.depth, t.in, 3, h, h) + conv_flops(t.depth, t.depth, 3, oh, oh);
        if (t.conv_shortcut)
            f += conv_flops(t.depth, t.in, 1, oh, oh);
        f += 4.0 * t.depth * t.se_hidden;
        h = oh;
    }
    return f + 2.0 * (double)c->embedding_dim * (double)c->body.stage_width[3] * h * h;
}

static double simgan_flops(const fs_simgan_config *c, int h, int w)
{
    double C = (double)c->channels, F = (double)c->width;
    return conv_flops(F, C, 3, h, w) + 2.0 * (double)c->blocks * conv_flops(F, F, 3, h, w) +
           conv_flops(C, F, 1, h, w);
}

int main(int argc, char **argv)
{
    const char *net = NULL, *path = NULL, *x_path = NULL, *device = "cpu", *save = NULL;
    long batch = 1, reps = 5, warmup = 2, threads = 0;
    static const struct option opts[] = {
        {"net", required_argument, 0, 'n'}, {"network", required_argument, 0, 'N'},
        {"x", required_argument, 0, 'x'}, {"batch", required_argument, 0, 'b'},
        {"reps", required_argument, 0, 'r'}, {"warmup", required_argument, 0, 'w'},
        {"device", required_argument, 0, 'd'}, {"threads", required_argument, 0, 't'},
        {"save-out", required_argument, 0, 's'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n': net = optarg; break;
        case 'N': path = optarg; break;
        case 'x': x_path = optarg; break;
        case 'b': batch = strtol(optarg, NULL, 10); break;
        case 'r': reps = strtol(optarg, NULL, 10); break;
        case 'w': warmup = strtol(optarg, NULL, 10); break;
        case 'd': device = optarg; break;
        case 't': threads = strtol(optarg, NULL, 10); break;
        case 's': save = optarg; break;
        default: usage();
        }
    }
    if (!net || !path || !x_path || batch < 1 || reps < 1 || reps > 1000 || warmup < 0)
        usage();
    int which = !strcmp(net, "lightcnn") ? 0 : !strcmp(net, "arcface") ? 1
                : !strcmp(net, "simgan") ? 2 : -1;
    if (which < 0)
        usage();
    double t0 = now_s();
    fs_network_opts o;
    fs_network_opts_default(&o);
    o.want = which == 2 ? FS_WANT_SIMGAN : FS_WANT_IDENTITY;
    fs_weights *w;
    if (fs_network_open(path, &o, &w, NULL) != FS_OK)
        die(path);
    fs_backend *b;
    if (fs_backend_open(device, NULL, (int)threads, &b) != FS_OK)
        die(device);
    fs_lightcnn *lc = NULL;
    fs_arcface *af = NULL;
    fs_simgan *sg = NULL;
    fs_status s = which == 0 ? fs_lightcnn_init(&lc, w, b)
                  : which == 1 ? fs_arcface_init(&af, w, b, NULL) : fs_simgan_init(&sg, w, b);
    if (s != FS_OK)
        die("init");
    double load_s = now_s() - t0;
    int ndim;
    int64_t shape[FS_NPY_MAX_DIMS];
    float *x;
    if (fs_npy_read_f32(x_path, &ndim, shape, &x) != FS_OK)
        die(x_path);
    if (ndim != 4 || shape[0] < batch) {
        fprintf(stderr, "bench_identity: %s: need [N >= %ld, C, H, W]\n", x_path, batch);
        return 1;
    }
    int n = (int)batch, h = (int)shape[2], wd = (int)shape[3];
    size_t out_len = 0;
    double flops = 0;
    if (lc) {
        out_len = (size_t)n * fs_lightcnn_get_config(lc)->feature_dim;
        flops = lightcnn_flops(fs_lightcnn_get_config(lc));
    } else if (af) {
        out_len = (size_t)n * fs_arcface_get_config(af)->embedding_dim;
        flops = arcface_flops(fs_arcface_get_config(af));
    } else {
        out_len = (size_t)n * shape[1] * h * wd;
        flops = simgan_flops(fs_simgan_get_config(sg), h, wd);
    }
    float *out = malloc(out_len * sizeof *out);
    double *sec = malloc((size_t)reps * sizeof *sec);
    if (!out || !sec)
        return 1;
    double c0 = 0, w0 = 0;
    for (long r = -warmup; r < reps; r++) {
        if (r == 0) {
            c0 = cpu_s();
            w0 = now_s();
        }
        if (b->ops->synchronize(b) != FS_OK)
            die("synchronize");
        double t = now_s();
        s = lc ? fs_lightcnn_forward(lc, x, n, out, NULL, NULL)
            : af ? fs_arcface_embed(af, x, n, h, out, NULL)
                 : fs_simgan_refine(sg, x, n, h, wd, out);
        if (s != FS_OK)
            die("forward");
        if (r >= 0)
            sec[r] = now_s() - t;
    }
    double cpu_per_wall = (cpu_s() - c0) / (now_s() - w0);
    if (save) {
        int64_t os[4] = {n, 0, h, wd};
        int ond = 2;
        if (sg) {
            os[1] = shape[1];
            ond = 4;
        } else {
            os[1] = (int64_t)(out_len / (size_t)n);
        }
        if (fs_npy_write(save, FS_DTYPE_F32, ond, os, out) != FS_OK)
            die(save);
    }
    stats st = stats_of(sec, (int)reps);
    printf("%s: batch %d, %dx%d, median %.4f s, %.2f faces/s, %.3f GFLOP/face, %.1f GFLOP/s\n",
           net, n, h, wd, st.median, n / st.median, flops / 1e9, flops * n / st.median / 1e9);
    printf("{\"net\": ");
    json_str(stdout, net);
    printf(", \"device\": ");
    json_str(stdout, device);
    printf(", \"batch\": %d, \"height\": %d, \"width\": %d, \"reps\": %ld, \"warmup\": %ld, "
           "\"threads\": %ld, \"median_s\": %.6f, \"min_s\": %.6f, \"max_s\": %.6f, "
           "\"faces_per_s\": %.4f, \"gflop_per_face\": %.5f, \"gflop_per_s\": %.3f, "
           "\"cpu_per_wall\": %.3f, \"load_s\": %.3f}\n", n, h, wd, reps, warmup, threads,
           st.median, st.min, st.max, n / st.median, flops / 1e9, flops * n / st.median / 1e9,
           cpu_per_wall, load_s);
    free(out);
    free(sec);
    free(x);
    fs_lightcnn_free(lc);
    fs_arcface_free(af);
    fs_simgan_free(sg);
    fs_backend_free(b);
    fs_weights_free(w);
    return 0;
}
