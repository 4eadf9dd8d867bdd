/* The image difference of each CUDA v2 precision against float32, measured
 * on the CPU's emulation of the GPU's roundings (fs_backend_cpu_init_ex,
 * docs/precision.md): for every network, the same latents through fp32,
 * fp16, bf16 and mixed, then per mode against fp32 the max and mean absolute
 * difference of the float images (nominally in [-1, 1]), PSNR over a peak-to-
 * peak range of 2, and the fraction of uint8 channel values (the official
 * conversion) that differ. The GPU must later confirm these figures: this is
 * the emulation, not the hardware.
 *
 *   build/bench/bench_precision [--network FILE]... [--random R]...
 *       [--n N] [--psi PSI] [--threads T] [--noise const|random|none]
 *       [--num-fp16-res K]
 *
 * --network opens any checkpoint or .fsw the CLI opens, with its own
 * num_fp16_res (mixed equals fp32 where that is 0, as in the official code)
 * or, for a checkpoint converted on the fly, --num-fp16-res K; --random R builds a config-f generator of resolution R in memory
 * with random weights as bench/make_random_sg2.c draws them (N(0, 1),
 * affine biases 1, noise strengths 0.1, numpy seed 0) and the training
 * configs' conv_clamp 256 and num_fp16_res 4. Latents: z of seeds 0 .. N-1
 * as gen_images.py draws them. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/backend.h"
#include "../engine/network.h"
#include "../engine/rng.h"
#include "../engine/stylegan2.h"
#include "../engine/stylegan2_config.h"
#include "../weights_tools/view.h"
#include "../weights_tools/weights_writer.h"
#include "bench_util.h"
#include "random_sg2.h"

/* ---- a random config-f network in memory --------------------------------------------- */

static fs_status random_network(int res, const char *label, fs_weights **out)
{
    fs_sg2_config c;
    fs_sg2_config_default_g(&c);
    c.img_resolution = res;
    c.conv_clamp = 256;
    c.num_fp16_res = 4;
    uint8_t *buf = NULL;
    size_t len = 0;
    fs_status s = random_sg2_write(&c, 0, label, NULL, &buf, &len);
    if (s == FS_OK)
        s = fs_weights_open_owned(buf, len, label, FS_WEIGHTS_SKIP_DATA_CRC, out);
    else
        free(buf);
    return s;
}

/* ---- one network in every mode ------------------------------------------------------- */

static const struct {
    int precision;
    const char *name;
} modes[] = {{0, "fp32"}, {2, "fp16"}, {3, "bf16"}, {4, "mixed"}};
#define NMODES 4

typedef struct {
    int n, threads;
    float psi;
    fs_noise_mode noise;
} run_opts;

static fs_status run_mode(const fs_weights *w, int precision, const run_opts *ro,
                          const float *z, const float *lab, float *img, uint8_t *u8,
                          double *secs)
{
    fs_backend *b = NULL;
    fs_sg2_generator *g = NULL;
    FS_TRY(fs_backend_cpu_init_ex(&b, ro->threads, precision));
    fs_status s = fs_sg2_generator_init(&g, w, b);
    uint64_t seeds[256];
    for (int i = 0; i < ro->n && i < 256; i++)
        seeds[i] = (uint64_t)i;
    double t0 = now_s();
    if (s == FS_OK) {
        /* one image at a time: the batch does not change the values, and
         * the memory of a 1024^2 batch stays small */
        const fs_sg2_config *c = fs_sg2_generator_config(g);
        size_t per = (size_t)c->img_channels * c->img_resolution * c->img_resolution;
        for (int i = 0; s == FS_OK && i < ro->n; i++) {
            fs_sg2_generate_args a = {.n = 1, .z = z + (size_t)i * c->z_dim,
                                      .c = lab ? lab + (size_t)i * c->c_dim : NULL, .psi = ro->psi,
                                      .cutoff = -1, .noise_mode = ro->noise,
                                      .noise_seeds = seeds + i, .images = u8 + i * per,
                                      .img_out = img + i * per};
            s = fs_sg2_generate(g, &a);
        }
    }
    *secs = now_s() - t0;
    fs_sg2_generator_free(g);
    fs_backend_free(b);
    return s;
}

static int bench_network(const char *label, const fs_weights *w, const run_opts *ro)
{
    fs_sg2_config c;
    fs_status s = fs_sg2_config_from_weights(w, &c);
    if (s != FS_OK) {
        fprintf(stderr, "bench_precision: %s: %s\n", label, fs_error_message());
        return 1;
    }
    size_t per = (size_t)c.img_channels * c.img_resolution * c.img_resolution;
    size_t total = per * (size_t)ro->n;
    float *z = malloc((size_t)ro->n * c.z_dim * sizeof *z);
    /* a conditional network: image i of class i mod c_dim, one-hot */
    float *lab = c.c_dim > 0 ? calloc((size_t)ro->n * c.c_dim, sizeof *lab) : NULL;
    if (lab)
        for (int i = 0; i < ro->n; i++)
            lab[(size_t)i * c.c_dim + i % c.c_dim] = 1.0f;
    float *img[NMODES];
    uint8_t *u8[NMODES];
    for (int m = 0; m < NMODES; m++) {
        img[m] = malloc(total * sizeof **img);
        u8[m] = malloc(total);
        if (!img[m] || !u8[m] || !z) {
            fprintf(stderr, "bench_precision: out of memory\n");
            return 1;
        }
    }
    for (int i = 0; i < ro->n; i++) {
        fs_np_random r;
        fs_np_random_seed(&r, (uint32_t)i);
        for (int64_t j = 0; j < c.z_dim; j++)
            z[(size_t)i * c.z_dim + j] = (float)fs_np_random_gauss(&r);
    }
    printf("\n%s: %lldx%lld, channel_base %lld, channel_max %lld, num_fp16_res %lld, "
           "conv_clamp %g, %d images (seeds 0-%d), psi %g, noise %s\n",
           label, (long long)c.img_resolution, (long long)c.img_resolution,
           (long long)c.channel_base, (long long)c.channel_max, (long long)c.num_fp16_res,
           c.conv_clamp, ro->n, ro->n - 1, ro->psi,
           ro->noise == FS_NOISE_CONST ? "const" : ro->noise == FS_NOISE_RANDOM ? "random" : "none");
    printf("| mode | max abs | mean abs | PSNR (dB) | uint8 values differing | max uint8 "
           "difference | s / image |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    int rc = 0;
    for (int m = 0; m < NMODES; m++) {
        double secs;
        s = run_mode(w, modes[m].precision, ro, z, lab, img[m], u8[m], &secs);
        if (s != FS_OK) {
            fprintf(stderr, "bench_precision: %s %s: %s\n", label, modes[m].name,
                    fs_error_message());
            rc = 1;
            continue;
        }
        double mx = 0, sum = 0, sq = 0, lo = INFINITY, hi = -INFINITY;
        size_t diff = 0;
        int du8 = 0;
        for (size_t i = 0; i < total; i++) {
            double d = fabs((double)img[m][i] - img[0][i]);
            mx = d > mx ? d : mx;
            sum += d;
            sq += d * d;
            diff += u8[m][i] != u8[0][i];
            int dd = abs((int)u8[m][i] - (int)u8[0][i]);
            du8 = dd > du8 ? dd : du8;
            lo = img[0][i] < lo ? img[0][i] : lo;
            hi = img[0][i] > hi ? img[0][i] : hi;
        }
        double mse = sq / (double)total;
        char psnr[32];
        if (mse > 0)
            snprintf(psnr, sizeof psnr, "%.1f", 10.0 * log10(4.0 / mse));
        else
            snprintf(psnr, sizeof psnr, "inf");
        if (m == 0)
            printf("| fp32 (the reference; its values span %.3g .. %.3g) | 0 | 0 | inf | 0 | 0 | "
                   "%.2f |\n", lo, hi, secs / ro->n);
        else
            printf("| %s | %.3g | %.3g | %s | %.3f%% (%zu of %zu) | %d | %.2f |\n", modes[m].name,
                   mx, sum / (double)total, psnr, 100.0 * (double)diff / (double)total, diff,
                   total, du8, secs / ro->n);
        fflush(stdout);
    }
    for (int m = 0; m < NMODES; m++) {
        free(img[m]);
        free(u8[m]);
    }
    free(z);
    free(lab);
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_precision [--network FILE]... [--random R]... [--n N] "
                    "[--psi PSI] [--threads T] [--noise const|random|none] "
                    "[--num-fp16-res K]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"network", required_argument, 0, 'N'}, {"random", required_argument, 0, 'R'},
        {"n", required_argument, 0, 'n'},       {"psi", required_argument, 0, 'p'},
        {"threads", required_argument, 0, 't'}, {"noise", required_argument, 0, 'z'},
        {"num-fp16-res", required_argument, 0, 'f'}, {0, 0, 0, 0}};
    int fp16_res = -1;
    const char *nets[16];
    int rands[16], nn = 0, nr = 0, o;
    run_opts ro = {.n = 4, .threads = 0, .psi = 1.0f, .noise = FS_NOISE_CONST};
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'N':
            if (nn == 16)
                return usage();
            nets[nn++] = optarg;
            break;
        case 'R':
            if (nr == 16)
                return usage();
            rands[nr++] = atoi(optarg);
            break;
        case 'n': ro.n = atoi(optarg); break;
        case 'p': ro.psi = (float)atof(optarg); break;
        case 't': ro.threads = atoi(optarg); break;
        case 'f': fp16_res = atoi(optarg); break;
        case 'z':
            ro.noise = !strcmp(optarg, "random") ? FS_NOISE_RANDOM
                       : !strcmp(optarg, "none") ? FS_NOISE_NONE
                       : !strcmp(optarg, "const") ? FS_NOISE_CONST
                                                  : (fs_noise_mode)-1;
            if ((int)ro.noise < 0)
                return usage();
            break;
        default: return usage();
        }
    }
    if ((!nn && !nr) || ro.n < 1 || ro.n > 256 || ro.threads < 0)
        return usage();
    printf("# bench_precision: every mode against fp32 on the CPU emulation (docs/precision.md)\n");
    int rc = 0;
    for (int i = 0; i < nn; i++) {
        fs_network_opts no;
        fs_network_opts_default(&no);
        no.want = FS_WANT_GENERATOR;
        if (fp16_res >= 0) {
            no.convert.overrides.has_num_fp16_res = 1;
            no.convert.overrides.num_fp16_res = fp16_res;
        }
        fs_weights *w = NULL;
        if (fs_network_open(nets[i], &no, &w, NULL) != FS_OK) {
            fprintf(stderr, "bench_precision: %s\n", fs_error_message());
            rc = 1;
            continue;
        }
        rc |= bench_network(nets[i], w, &ro);
        fs_weights_free(w);
    }
    for (int i = 0; i < nr; i++) {
        char label[64];
        snprintf(label, sizeof label, "random config-f %dx%d", rands[i], rands[i]);
        fs_weights *w = NULL;
        if (random_network(rands[i], label, &w) != FS_OK) {
            fprintf(stderr, "bench_precision: %s: %s\n", label, fs_error_message());
            rc = 1;
            continue;
        }
        rc |= bench_network(label, w, &ro);
        fs_weights_free(w);
    }
    return rc;
}
