/* Benchmark of the CPU StyleGAN2 generator (engine/stylegan2.h on the CPU
 * backend): mapping and synthesis timed separately, per batch.
 *
 *   build/bench/bench_generator_cpu --network FILE [--batch N] [--reps R]
 *       [--warmup W] [--threads T] [--psi P] [--seed S] [--noise const|none]
 *       [--dump FILE] [--label TEXT]
 *
 * FILE is any checkpoint the converter reads (converted in memory, timed as
 * load_s, not part of the per-batch timings) or a .fsw flat weight file.
 * z for sample i is numpy's RandomState(seed + i).randn(z_dim) (engine/rng.h),
 * as generate.py draws it, so bench/official_generator_cpu.py with the same
 * --seed feeds the official generator the same z. Mapping runs W + R times,
 * then synthesis W + R times on the ws of the last mapping; each is timed with
 * clock_gettime(CLOCK_MONOTONIC). --dump writes the last synthesis output
 * (float32, NCHW, little-endian raw) for a cross-check against the official
 * images. The last line of stdout is one JSON object with every figure.
 *
 * --serve: after loading, answer commands on stdin, one per line, for a
 * driver that interleaves this generator with other runtimes in one process
 * tree (bench/cpu_generator_runtimes.py): "run K" runs the whole generator
 * (mapping + synthesis, z -> float images) K times and prints one JSON line
 * {"wall_s": [...], "cpu_s": [...]}; "dump FILE" writes the last output;
 * "quit" (or end of input) exits.
 *
 * FLOP model (docs/stylegan2.md §1.10, §5), per image, counted from the
 * layer shapes of the network in the file:
 *   conv:   2 * H*W*9*Cin*Cout for every 3x3 modulated conv, the up-sampling
 *           conv0 counted as a transposed conv at its input resolution
 *   torgb:  2 * R*R*C*img_channels; affine: 2 * w_dim*Cin for every layer
 *   (+ resnet skip 1x1 convs at input resolution)
 * "effective" GFLOP = conv + torgb + affine (what GFLOP/s is reported on);
 * "total" adds per-sample weight modulation/demodulation (3*Cout*Cin*k*k)
 * and the 4x4 FIRs (conv0's after the transposed conv, the skip image's
 * up-sampling), the figure research §5 lists (90.9 GFLOP at 256/32768). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "../engine/backend.h"
#include "../engine/rng.h"
#include "../engine/stylegan2.h"
#ifdef FS_WITH_CUDA
#include "../kernels/cuda_backend.h"
#endif
#include "../engine/weights.h"
#include "../weights_tools/convert.h"

/* Multiply-accumulates per image, by kind. */
typedef struct {
    double conv, torgb, affine, modw, fir, skip, mapping;
} macs;

static macs count_macs(const fs_sg2_config *c)
{
    macs m;
    memset(&m, 0, sizeof m);
    int top = fs_sg2_log2(c->img_resolution);
    double wd = (double)c->w_dim, ic = (double)c->img_channels;
    double fl = (double)c->resample_filter_len, f2 = fl * fl;
    for (int l = 2; l <= top; l++) {
        double r = (double)(1 << l), ch = (double)fs_sg2_channels(c, 1 << l);
        if (l > 2) {
            double cin = (double)fs_sg2_channels(c, 1 << (l - 1)), hin = r / 2;
            m.conv += hin * hin * 9 * cin * ch;  /* conv0: transposed conv at input res */
            m.affine += wd * cin;
            m.modw += 3 * ch * cin * 9;
            m.fir += r * r * f2 * ch;              /* FIR after the transposed conv */
            if (c->architecture == FS_SG2_ARCH_RESNET) {
                m.skip += hin * hin * cin * ch;    /* 1x1 skip conv at input res */
                m.fir += r * r * f2 * ch;          /* ... and its up-sampling FIR */
            }
        }
        m.conv += r * r * 9 * ch * ch;             /* conv1 */
        m.affine += wd * ch;
        m.modw += 3 * ch * ch * 9;
        int has_torgb = l == top || c->architecture == FS_SG2_ARCH_SKIP;
        if (has_torgb) {
            m.torgb += r * r * ch * ic;
            m.affine += wd * ch;
            m.modw += ch * ic;                     /* modulation only, no demod */
            if (l > 2 && c->architecture == FS_SG2_ARCH_SKIP)
                m.fir += r * r * f2 * ic;          /* skip image up-sampling */
        }
    }
    double in = (double)(c->z_dim + c->embed_features);
    for (int i = 0; i < c->mapping_layers; i++) {
        double o = i == c->mapping_layers - 1 ? wd : (double)c->layer_features;
        m.mapping += in * o;
        in = o;
    }
    if (c->c_dim > 0)
        m.mapping += (double)c->c_dim * (double)c->embed_features;
    return m;
}

static int is_fsw(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char magic[8] = {0};
    size_t n = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return n == 8 && memcmp(magic, "FSWEIGHT", 8) == 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_generator_cpu --network FILE [--batch N] [--reps R] [--warmup W]\n"
            "           [--threads T] [--psi P] [--seed S] [--noise const|none] [--dump FILE]\n"
            "           [--label TEXT] [--device cpu|cuda[:N]]\n"
            "           [--precision fp32|tf32|fp16|bf16|mixed] [--serve]\n"
            "  FILE: any checkpoint (converted in memory) or a .fsw weight file\n"
            "  defaults: batch 1, reps 5, warmup 1, threads 0 (one per core), psi 1, seed 0,\n"
            "  noise const, precision fp32 (on the CPU fp16/bf16/mixed are emulated)\n");
}

static void json_stats(FILE *f, const char *name, stats s, const double *v, int n)
{
    fprintf(f, "\"%s\": {\"median_s\": %.6f, \"min_s\": %.6f, \"max_s\": %.6f, \"mean_s\": %.6f, "
            "\"all_s\": [", name, s.median, s.min, s.max, s.mean);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%.6f", i ? ", " : "", v[i]);
    fprintf(f, "]}");
}

int main(int argc, char **argv)
{
    const char *network = NULL, *dump = NULL, *label = "", *device = "cpu", *precision = "fp32";
    int serve = 0;
    int batch = 1, reps = 5, warmup = 1, threads = 0, cuda_device = -1;
    float psi = 1.0f;
    unsigned long seed = 0;
    fs_noise_mode noise = FS_NOISE_CONST;
    static const struct option opts[] = {
        {"network", required_argument, 0, 'n'}, {"batch", required_argument, 0, 'b'},
        {"reps", required_argument, 0, 'r'},    {"warmup", required_argument, 0, 'w'},
        {"threads", required_argument, 0, 't'}, {"psi", required_argument, 0, 'p'},
        {"seed", required_argument, 0, 's'},    {"noise", required_argument, 0, 'z'},
        {"dump", required_argument, 0, 'd'},    {"label", required_argument, 0, 'l'},
        {"device", required_argument, 0, 'D'},  {"serve", no_argument, 0, 'S'},
        {"precision", required_argument, 0, 'P'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'n': network = optarg; break;
        case 'b': batch = atoi(optarg); break;
        case 'r': reps = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'p': psi = strtof(optarg, NULL); break;
        case 's': seed = strtoul(optarg, NULL, 10); break;
        case 'z':
            if (!strcmp(optarg, "const"))
                noise = FS_NOISE_CONST;
            else if (!strcmp(optarg, "none"))
                noise = FS_NOISE_NONE;
            else {
                fprintf(stderr, "--noise: const or none\n");
                return 2;
            }
            break;
        case 'd': dump = optarg; break;
        case 'D':
            cuda_device = fs_backend_device_index(optarg);
            if (cuda_device < -1) {
                fprintf(stderr, "--device: cpu, cuda or cuda:N\n");
                return 2;
            }
            device = optarg;
            break;
        case 'P':
            if (fs_backend_precision_parse(optarg) < 0) {
                fprintf(stderr, "--precision: fp32, tf32, fp16, bf16 or mixed\n");
                return 2;
            }
            precision = optarg;
            break;
        case 'l': label = optarg; break;
        case 'S': serve = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!network || batch < 1 || reps < 1 || warmup < 0 || threads < 0) {
        usage(stderr);
        return 2;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    /* Load (convert in memory unless it is already a .fsw): timed, but apart. */
    double t0 = now_s();
    fs_weights *w = NULL;
    fs_status s;
    int fsw = is_fsw(network);
    if (fsw) {
        s = fs_weights_open(network, FS_WEIGHTS_VERIFY_ALL, &w);
    } else {
        fs_convert_options co;
        fs_convert_options_default(&co);
        uint8_t *buf = NULL;
        size_t len = 0;
        s = fs_convert_to_memory(network, &co, &buf, &len, NULL);
        if (s == FS_OK)
            s = fs_weights_open_owned(buf, len, network, 0, &w);
    }
    if (s != FS_OK) {
        fprintf(stderr, "%s: %s\n", network, fs_error_message());
        return 1;
    }
    double t_load = now_s() - t0;
    fs_backend *b = NULL;
    fs_sg2_generator *g = NULL;
    t0 = now_s();
    /* On the GPU, whole-batch wall time around synthesis (ws upload, the
     * forward, image download) is the end-to-end figure users see. */
    s = fs_backend_open(device, precision, threads, &b);
    if (s != FS_OK ||
        (s = fs_sg2_generator_init(&g, w, b)) != FS_OK) {
        fprintf(stderr, "%s: %s\n", network, fs_error_message());
        return 1;
    }
    double t_init = now_s() - t0;
    const fs_sg2_config *c = fs_sg2_generator_config(g);
    if (c->c_dim > 0) {
        fprintf(stderr, "%s: conditional generators are not benchmarked here\n", network);
        return 1;
    }
    int num_ws = (int)fs_sg2_num_ws(c), zd = (int)c->z_dim, wd = (int)c->w_dim;
    int R = (int)c->img_resolution, ic = (int)c->img_channels;

    float *z = malloc((size_t)batch * zd * sizeof *z);
    float *ws = malloc((size_t)batch * num_ws * wd * sizeof *ws);
    size_t img_n = (size_t)batch * ic * R * R;
    float *img = malloc(img_n * sizeof *img);
    double *tm = malloc((size_t)(reps + warmup) * sizeof *tm);
    double *ts = malloc((size_t)(reps + warmup) * sizeof *ts);
    double *tc = malloc((size_t)(reps + warmup) * sizeof *tc);
    if (!z || !ws || !img || !tm || !ts || !tc) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (int i = 0; i < batch; i++) {
        fs_np_random r;
        fs_np_random_seed(&r, (uint32_t)(seed + (unsigned long)i));
        for (int j = 0; j < zd; j++)
            z[(size_t)i * zd + j] = (float)fs_np_random_gauss(&r);
    }

    if (serve) {
        fs_sg2_synthesis_opts so = {.noise_mode = noise};
        char line[4096];
        macs m = count_macs(c);
        printf("{\"ready\": true, \"load_s\": %.4f, \"init_s\": %.4f, \"resolution\": %d, "
               "\"channel_base\": %lld, \"gflop_per_img_effective\": %.4f}\n", t_load, t_init, R,
               (long long)c->channel_base, 2e-9 * (m.conv + m.torgb + m.affine + m.skip));
        fflush(stdout);
        while (fgets(line, sizeof line, stdin)) {
            line[strcspn(line, "\r\n")] = 0;
            int k;
            if (sscanf(line, "run %d", &k) == 1 && k > 0) {
                printf("{\"wall_s\": [");
                double *cs = malloc((size_t)k * sizeof *cs);
                for (int i = 0; i < k && cs; i++) {
                    double c0 = cpu_s(), w0 = now_s();
                    s = fs_sg2_generator_mapping(g, z, NULL, batch, psi, -1, ws);
                    if (s == FS_OK)
                        s = fs_sg2_generator_synthesis(g, ws, batch, &so, img);
                    double dw = now_s() - w0;
                    cs[i] = cpu_s() - c0;
                    if (s != FS_OK) {
                        fprintf(stderr, "generator: %s\n", fs_error_message());
                        return 1;
                    }
                    printf("%s%.6f", i ? ", " : "", dw);
                }
                printf("], \"cpu_s\": [");
                for (int i = 0; i < k && cs; i++)
                    printf("%s%.6f", i ? ", " : "", cs[i]);
                printf("]}\n");
                free(cs);
            } else if (!strncmp(line, "dump ", 5)) {
                FILE *f = fopen(line + 5, "wb");
                int ok = f && fwrite(img, sizeof *img, img_n, f) == img_n;
                ok = (f && fclose(f) == 0) && ok;
                printf("{\"dumped\": %s}\n", ok ? "true" : "false");
            } else if (!strcmp(line, "quit")) {
                break;
            } else {
                printf("{\"error\": \"unknown command\"}\n");
            }
            fflush(stdout);
        }
        free(z);
        free(ws);
        free(img);
        fs_sg2_generator_free(g);
        fs_backend_free(b);
        fs_weights_free(w);
        return 0;
    }

    fprintf(stderr, "[bench_generator_cpu] %s: %lldx%lld, channel_base %lld, %s, num_ws %d; batch %d, "
            "%d warm-up + %d timed, threads %d (%ld cores); load %.3f s (%s), init %.3f s\n",
            network, (long long)R, (long long)R, (long long)c->channel_base,
            fs_sg2_arch_name(c->architecture), num_ws, batch, warmup, reps, threads, cores, t_load,
            fsw ? ".fsw" : "converted in memory", t_init);

    for (int i = 0; i < warmup + reps; i++) {
        t0 = now_s();
        s = fs_sg2_generator_mapping(g, z, NULL, batch, psi, -1, ws);
        tm[i] = now_s() - t0;
        if (s != FS_OK) {
            fprintf(stderr, "mapping: %s\n", fs_error_message());
            return 1;
        }
    }
    fs_sg2_synthesis_opts so = {.noise_mode = noise};
    for (int i = 0; i < warmup + reps; i++) {
        double c0 = cpu_s();
        t0 = now_s();
        s = fs_sg2_generator_synthesis(g, ws, batch, &so, img);
        ts[i] = now_s() - t0;
        tc[i] = cpu_s() - c0;
        if (s != FS_OK) {
            fprintf(stderr, "synthesis: %s\n", fs_error_message());
            return 1;
        }
        fprintf(stderr, "[bench_generator_cpu]   synthesis %s %d: %.3f s (CPU %.3f s)\n",
                i < warmup ? "warm-up" : "rep", i < warmup ? i + 1 : i - warmup + 1, ts[i], tc[i]);
    }
    stats sm = stats_of(tm + warmup, reps), ss = stats_of(ts + warmup, reps);
    /* CPU seconds per wall second over the timed synthesis runs (2.0 = two busy cores) */
    double wall_sum = 0, cpu_sum = 0;
    for (int i = warmup; i < warmup + reps; i++) {
        wall_sum += ts[i];
        cpu_sum += tc[i];
    }
    double cpu_util = wall_sum > 0 ? cpu_sum / wall_sum : 0;

    double sum = 0, sq = 0;
    int finite = 1;
    for (size_t i = 0; i < img_n; i++) {
        if (!isfinite(img[i]))
            finite = 0;
        sum += img[i];
        sq += (double)img[i] * img[i];
    }
    double mean = sum / (double)img_n, rms = sqrt(sq / (double)img_n);
    if (dump) {
        FILE *f = fopen(dump, "wb");
        if (!f || fwrite(img, sizeof *img, img_n, f) != img_n || fclose(f) != 0) {
            fprintf(stderr, "%s: %s\n", dump, strerror(errno));
            return 1;
        }
    }

    macs m = count_macs(c);
    double eff_gflop = 2e-9 * (m.conv + m.torgb + m.affine + m.skip);
    double tot_gflop = eff_gflop + 2e-9 * (m.modw + m.fir);
    double per_img = ss.median / batch;
    double gen_median = sm.median + ss.median;

    printf("network      %s (%s)\n", network, fsw ? ".fsw" : "converted in memory");
    printf("config       %lldx%lld, channel_base %lld, channel_max %lld, %s, num_ws %d, "
           "conv_clamp %g, num_fp16_res %lld (ignored: the CPU backend is float32 throughout)\n",
           (long long)R, (long long)R, (long long)c->channel_base, (long long)c->channel_max,
           fs_sg2_arch_name(c->architecture), num_ws, c->conv_clamp, (long long)c->num_fp16_res);
    printf("run          batch %d, %d warm-up + %d timed, threads %d (0 = %ld cores), psi %g, "
           "noise %s, seed %lu\n", batch, warmup, reps, threads, cores, psi,
           noise == FS_NOISE_CONST ? "const" : "none", seed);
    printf("load         %.3f s, generator init %.3f s (not in the timings below)\n", t_load, t_init);
    printf("mapping      median %.6f s/batch (min %.6f, max %.6f)\n", sm.median, sm.min, sm.max);
    printf("synthesis    median %.4f s/batch (min %.4f, max %.4f) = %.4f s/img, %.4f img/s\n",
           ss.median, ss.min, ss.max, per_img, batch / ss.median);
    printf("cpu          %.2f CPU-s per wall-s during the timed synthesis runs (user + sys, all threads)\n",
           cpu_util);
    printf("mapping+synthesis median %.4f s/batch, %.4f img/s\n", gen_median, batch / gen_median);
    printf("flop model   %.2f GFLOP/img effective (conv %.2f + torgb %.3f + affine %.4f%s), "
           "%.2f GFLOP/img with modulation/demod + FIRs\n", eff_gflop, 2e-9 * m.conv,
           2e-9 * m.torgb, 2e-9 * m.affine, m.skip > 0 ? " + skip" : "", tot_gflop);
    printf("throughput   %.2f GFLOP/s effective (%.2f GFLOP/s on the total)\n",
           eff_gflop * batch / ss.median, tot_gflop * batch / ss.median);
    printf("output       mean %.6f, rms %.6f, %s\n", mean, rms, finite ? "all finite" : "NON-FINITE VALUES");

    printf("{\"label\": ");
    json_str(stdout, label);
    printf(", \"impl\": \"facesynth-%s\", \"device\": ", cuda_device >= 0 ? "cuda" : "cpu");
    json_str(stdout, device);
    printf(", \"precision\": ");
    json_str(stdout, precision);
    printf(", \"network\": ");
    json_str(stdout, network);
    printf(", \"fsw\": %s, \"resolution\": %d, \"channel_base\": %lld, \"channel_max\": %lld, "
           "\"architecture\": \"%s\", \"num_ws\": %d, \"batch\": %d, \"warmup\": %d, \"reps\": %d, "
           "\"threads\": %d, \"cores\": %ld, \"psi\": %g, \"noise\": \"%s\", \"seed\": %lu, "
           "\"load_s\": %.4f, \"init_s\": %.4f, ",
           fsw ? "true" : "false", R, (long long)c->channel_base, (long long)c->channel_max,
           fs_sg2_arch_name(c->architecture), num_ws, batch, warmup, reps, threads, cores, psi,
           noise == FS_NOISE_CONST ? "const" : "none", seed, t_load, t_init);
    json_stats(stdout, "mapping", sm, tm + warmup, reps);
    printf(", ");
    json_stats(stdout, "synthesis", ss, ts + warmup, reps);
    printf(", \"warmup_synthesis_s\": [");
    for (int i = 0; i < warmup; i++)
        printf("%s%.6f", i ? ", " : "", ts[i]);
    printf("], \"synthesis_cpu_s\": [");
    for (int i = warmup; i < warmup + reps; i++)
        printf("%s%.6f", i > warmup ? ", " : "", tc[i]);
    printf("], \"cpu_per_wall\": %.4f", cpu_util);
    printf(", \"generator_median_s\": %.6f, \"img_per_s\": %.6f, \"synthesis_img_per_s\": %.6f, "
           "\"gflop_per_img_effective\": %.4f, \"gflop_per_img_total\": %.4f, "
           "\"macs_per_img\": {\"conv\": %.0f, \"torgb\": %.0f, \"affine\": %.0f, \"skip\": %.0f, "
           "\"modw\": %.0f, \"fir\": %.0f, \"mapping\": %.0f}, "
           "\"gflops_effective\": %.4f, \"gflops_total\": %.4f, "
           "\"output_mean\": %.8f, \"output_rms\": %.8f, \"output_finite\": %s}\n",
           gen_median, batch / gen_median, batch / ss.median, eff_gflop, tot_gflop, m.conv, m.torgb,
           m.affine, m.skip, m.modw, m.fir, m.mapping, eff_gflop * batch / ss.median,
           tot_gflop * batch / ss.median, mean, rms, finite ? "true" : "false");

    free(z);
    free(ws);
    free(img);
    free(tm);
    free(ts);
    free(tc);
    fs_sg2_generator_free(g);
    fs_backend_free(b);
    fs_weights_free(w);
    return 0;
}
