/* Benchmark of the CVAE-GAN (engine/cvaegan.h): generator G, encoder E and the
 * two discriminators D1 + D2, timed apart, on the CPU backend or the CUDA one.
 *
 *   build/bench/bench_cvaegan [--width 64] [--z-dim 256] [--n-id 1000] [--resolution 128]
 *       [--batch N] [--reps R] [--warmup W] [--device cpu|cuda[:N]] [--threads T]
 *       [--nets g,e,d] [--seed S] [--label TEXT]
 *
 * Weights: random, built in memory for the given configuration (the paper-size
 * model by default: width 64, z 256, 128x128, 1000 identities): every tensor of
 * fs_cvaegan_for_each_tensor gets He-normal values, N(0, 2 / fan_in) with
 * fan_in = cin*k*k for a conv, in for a linear layer and cin*k*k/4 for the
 * stride-2 transposed convs (each output pixel sees cin*(k/2)^2 weights);
 * biases 0, InstanceNorm weight 1 and bias 0. Values come from numpy's
 * RandomState(seed) (engine/rng.h), so they are reproducible. The tensors go
 * through fs_weights_writer into a file image in memory, opened with
 * fs_weights_open_owned (full validation, CRCs included): timed as build_s and
 * load_s, not part of the per-batch timings. Scale hardly matters for speed:
 * E and G normalise every layer; D has no norm but six He-scaled LeakyReLU
 * layers keep its activations O(1) (no denormals).
 *
 * Inputs: G gets z ~ RandomState(seed + i).randn(z_dim) and the one-hot label
 * of identity i mod n_id for sample i; E and D1+D2 get images uniform in
 * [-1, 1] (a different seed per sample). Each network runs W untimed warm-ups,
 * then R timed calls of the whole public entry point (fs_cvaegan_generate,
 * fs_cvaegan_encode, fs_cvaegan_discriminate) on a batch of N, each timed with
 * clock_gettime(CLOCK_MONOTONIC); figures are medians. On CUDA the same wall
 * clock is used: every one of those calls uploads its host input and ends with
 * a blocking device-to-host download of its outputs (kernels/cuda_backend.h:
 * download returns once the host copy is complete), so the batch is finished
 * when the call returns, and the time includes the H2D input and D2H output
 * copies and the host-side launch overhead (CUDA events would need CUDA headers
 * in this file; this is the end-to-end img/s a caller of the API sees). The
 * backend is synchronised before each timed call.
 *
 * FLOP model, per image, 2 x MACs counted from the layer shapes of the config
 * (conventional counting: padded taps included, transposed convs at their input
 * resolution, i.e. H_in*W_in*cin*cout*k*k; norms, activations, the average pool
 * and bias adds not counted):
 *   G: fc (z_dim + n_id) x 4*8w, then the deconvs;
 *   E: stem conv, per block conv1 (stride 2), conv2 and the 1x1 skip, fc_mu + fc_logvar;
 *   D1+D2: six 4x4 stride-2 convs per discriminator (D2 on the R/2 image), src 3x3 and cls heads.
 * GFLOP/s = GFLOP/img * batch / median seconds per batch.
 *
 * The last line of stdout is one JSON object with every figure. */
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
#include "../engine/cvaegan.h"
#include "../engine/rng.h"
#include "../engine/weights.h"
#include "../weights_tools/view.h"
#include "../weights_tools/weights_writer.h"
#ifdef FS_WITH_CUDA
#include "../kernels/cuda_backend.h"
#endif

/* ---- FLOP model ------------------------------------------------------------------ */

typedef struct {
    double g_fc, g_deconv;
    double e_stem, e_conv, e_skip, e_fc;
    double d1_conv, d1_heads, d2_conv, d2_heads;
} macs;

static double conv_macs(double oh, double cin, double cout, double k)
{
    return oh * oh * cin * cout * k * k;
}

static macs count_macs(const fs_cvaegan_config *c)
{
    macs m;
    memset(&m, 0, sizeof m);
    double w = (double)c->width, R = (double)c->img_resolution, z = (double)c->z_dim;
    double nid = (double)c->n_id;
    /* G */
    m.g_fc = (z + nid) * 4 * 8 * w;
    int nd = fs_cvaegan_num_deconvs(c);
    double cin = 8 * w, h = 2;
    for (int i = 0; i < nd; i++) {
        double cout = (double)fs_cvaegan_deconv_out(c, i);
        m.g_deconv += conv_macs(h, cin, cout, 4); /* transposed conv at its input resolution */
        cin = cout;
        h *= 2;
    }
    /* E */
    static const int mult[5] = {1, 2, 4, 8, 8};
    m.e_stem = conv_macs(R, 3, w, 3);
    h = R;
    for (int i = 0; i < 4; i++) {
        double ci = w * mult[i], co = w * mult[i + 1], oh = h / 2;
        m.e_conv += conv_macs(oh, ci, co, 3) + conv_macs(oh, co, co, 3);
        m.e_skip += conv_macs(oh, ci, co, 1);
        h = oh;
    }
    m.e_fc = 2 * (8 * w * (R / 16) * (R / 16)) * z;
    /* D1 (R) and D2 (R/2) */
    for (int k = 0; k < 2; k++) {
        double ch = 3, hh = R / (1 << k), conv = 0;
        for (int i = 0; i < 6; i++) {
            double co = w * (1 << i);
            conv += conv_macs(hh / 2, ch, co, 4);
            ch = co;
            hh /= 2;
        }
        double heads = conv_macs(hh, ch, 1, 3) + nid * ch * hh * hh; /* src 3x3 pad 1; cls k=hh */
        if (k == 0) {
            m.d1_conv = conv;
            m.d1_heads = heads;
        } else {
            m.d2_conv = conv;
            m.d2_heads = heads;
        }
    }
    return m;
}

/* ---- random weights ---------------------------------------------------------------- */

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
        size_t cap = bl->cap ? 2 * bl->cap : 128;
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
    if (ndim == 1) {
        /* biases 0; InstanceNorm: weight 1, bias 0 */
        float v = strstr(name, "norm") && ends_with(name, ".weight") ? 1.0f : 0.0f;
        for (int64_t i = 0; i < numel; i++)
            d[i] = v;
    } else {
        double fan_in;
        if (ndim == 2)
            fan_in = (double)shape[1];                               /* Linear [out, in] */
        else if (strstr(name, "deconvs"))
            fan_in = (double)shape[0] * shape[2] * shape[3] / 4.0;   /* [cin, cout, k, k], stride 2 */
        else
            fan_in = (double)shape[1] * shape[2] * shape[3];         /* Conv2d [cout, cin, k, k] */
        double sd = sqrt(2.0 / fan_in);
        for (int64_t i = 0; i < numel; i++)
            d[i] = (float)(sd * fs_np_random_gauss(&bl->rng));
    }
    fs_view v = fs_view_contiguous(FS_DTYPE_F32, ndim, shape, d);
    return fs_weights_writer_add(bl->w, name, FS_DTYPE_F32, &v);
}

static fs_status put_i64(void *u, const char *key, int64_t v)
{
    return fs_weights_writer_put_meta(u, key, FS_META_I64, v, 0, NULL, NULL, 0);
}

static fs_status build_weights(const fs_cvaegan_config *c, uint32_t seed, fs_weights **out,
                               uint64_t *params, double *build_s, double *load_s)
{
    double t0 = now_s();
    builder bl;
    memset(&bl, 0, sizeof bl);
    fs_np_random_seed(&bl.rng, seed);
    uint8_t *buf = NULL;
    size_t len = 0;
    fs_status s = fs_weights_writer_init(&bl.w, FS_FAMILY_CVAEGAN);
    if (s == FS_OK)
        s = fs_cvaegan_config_to_meta(c, put_i64, bl.w);
    if (s == FS_OK)
        s = fs_cvaegan_for_each_tensor(c, build_visit, &bl);
    if (s == FS_OK)
        s = fs_weights_writer_write_memory(bl.w, &buf, &len);
    fs_weights_writer_free(bl.w);
    for (size_t i = 0; i < bl.n; i++)
        free(bl.bufs[i]);
    free(bl.bufs);
    *params = bl.params;
    *build_s = now_s() - t0;
    if (s != FS_OK) {
        free(buf);
        return s;
    }
    t0 = now_s();
    s = fs_weights_open_owned(buf, len, "random CVAE-GAN weights", FS_WEIGHTS_VERIFY_ALL, out);
    *load_s = now_s() - t0;
    return s;
}

/* ---- main ----------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_cvaegan [--width W] [--z-dim Z] [--n-id N] [--resolution R] [--batch B]\n"
            "           [--reps R] [--warmup W] [--device cpu|cuda[:N]] [--threads T] [--nets g,e,d]\n"
            "           [--seed S] [--label TEXT]\n"
            "  defaults: the paper-size model, width 64, z-dim 256, n-id 1000, resolution 128;\n"
            "  batch 1, reps 5, warmup 1, device cpu, threads 0 (one per core), nets g,e,d, seed 0\n");
}

typedef struct {
    const char *key, *title;
    int on;
    double gflop; /* per image */
    double *t, *tc; /* wall and CPU seconds per call, warm-ups first */
    stats st;
    double cpu_per_wall;
    double out_rms;
    int finite;
} net_run;

static void summarise(net_run *r, int warmup, int reps, const float *out, size_t n)
{
    r->st = stats_of(r->t + warmup, reps);
    double ws = 0, cs = 0;
    for (int i = warmup; i < warmup + reps; i++) {
        ws += r->t[i];
        cs += r->tc[i];
    }
    r->cpu_per_wall = ws > 0 ? cs / ws : 0;
    double sq = 0;
    r->finite = 1;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(out[i]))
            r->finite = 0;
        sq += (double)out[i] * out[i];
    }
    r->out_rms = n ? sqrt(sq / (double)n) : 0;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_cvaegan: %s: %s\n", what, fs_error_message());
    return 1;
}

int main(int argc, char **argv)
{
    fs_cvaegan_config cfg = {64, 256, 1000, 128};
    int batch = 1, reps = 5, warmup = 1, threads = 0, device_cuda = -1;
    const char *label = "", *nets = "g,e,d", *device = "cpu";
    unsigned long seed = 0;
    static const struct option opts[] = {
        {"width", required_argument, 0, 'W'},  {"z-dim", required_argument, 0, 'Z'},
        {"n-id", required_argument, 0, 'N'},   {"resolution", required_argument, 0, 'R'},
        {"batch", required_argument, 0, 'b'},  {"reps", required_argument, 0, 'r'},
        {"warmup", required_argument, 0, 'w'}, {"threads", required_argument, 0, 't'},
        {"device", required_argument, 0, 'D'}, {"nets", required_argument, 0, 'n'},
        {"seed", required_argument, 0, 's'},   {"label", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'W': cfg.width = atoll(optarg); break;
        case 'Z': cfg.z_dim = atoll(optarg); break;
        case 'N': cfg.n_id = atoll(optarg); break;
        case 'R': cfg.img_resolution = atoll(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 'r': reps = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'D': device = optarg; break;
        case 'n': nets = optarg; break;
        case 's': seed = strtoul(optarg, NULL, 10); break;
        case 'l': label = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (batch < 1 || reps < 1 || warmup < 0 || threads < 0) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(device, "cpu")) {
        device_cuda = -1;
    } else if (!strcmp(device, "cuda")) {
        device_cuda = 0;
    } else if (!strncmp(device, "cuda:", 5) && device[5] >= '0' && device[5] <= '9') {
        char *end;
        long d = strtol(device + 5, &end, 10);
        if (*end || d > 255) {
            fprintf(stderr, "--device must be cpu, cuda or cuda:N, not '%s'\n", device);
            return 2;
        }
        device_cuda = (int)d;
    } else {
        fprintf(stderr, "--device must be cpu, cuda or cuda:N, not '%s'\n", device);
        return 2;
    }
    net_run runs[3] = {
        {"G", "G (generate)", 0, 0, NULL, NULL, {0, 0, 0, 0}, 0, 0, 0},
        {"E", "E (encode)", 0, 0, NULL, NULL, {0, 0, 0, 0}, 0, 0, 0},
        {"D", "D1+D2 (discriminate)", 0, 0, NULL, NULL, {0, 0, 0, 0}, 0, 0, 0}};
    for (const char *p = nets; *p; p++) {
        if (*p == 'g' || *p == 'G')
            runs[0].on = 1;
        else if (*p == 'e' || *p == 'E')
            runs[1].on = 1;
        else if (*p == 'd' || *p == 'D')
            runs[2].on = 1;
        else if (*p != ',') {
            fprintf(stderr, "--nets: a comma-separated subset of g, e, d\n");
            return 2;
        }
    }
    if (fs_cvaegan_config_finalize(&cfg, "--width/--z-dim/--n-id/--resolution") != FS_OK)
        return fail("config");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    fs_backend *b = NULL;
    const char *impl = "facesynth-cpu";
    double t0 = now_s();
    if (device_cuda < 0) {
        if (fs_backend_cpu_init(&b, threads) != FS_OK)
            return fail("CPU backend");
    } else {
#ifdef FS_WITH_CUDA
        if (fs_backend_cuda_init(&b, device_cuda) != FS_OK)
            return fail(device);
        impl = "facesynth-cuda";
#else
        fprintf(stderr, "bench_cvaegan: --device %s: this build has no CUDA backend (no nvcc)\n",
                device);
        return 1;
#endif
    }
    double t_backend = now_s() - t0;

    fs_weights *w = NULL;
    uint64_t params = 0;
    double t_build = 0, t_load = 0;
    if (build_weights(&cfg, (uint32_t)seed, &w, &params, &t_build, &t_load) != FS_OK)
        return fail("building random weights");
    fs_cvaegan *m = NULL;
    t0 = now_s();
    if (fs_cvaegan_init(&m, w, b) != FS_OK)
        return fail("fs_cvaegan_init");
    double t_init = now_s() - t0;

    int R = (int)cfg.img_resolution, zd = (int)cfg.z_dim, nid = (int)cfg.n_id;
    int f1 = R / 64, f2 = R / 128;
    size_t img_n = (size_t)batch * 3 * R * R;
    float *z = malloc((size_t)batch * zd * sizeof *z);
    float *c = calloc((size_t)batch * nid, sizeof *c);
    float *img = malloc(img_n * sizeof *img);   /* G output */
    float *x = malloc(img_n * sizeof *x);       /* E and D input */
    float *mu = malloc((size_t)batch * zd * sizeof *mu);
    float *lv = malloc((size_t)batch * zd * sizeof *lv);
    float *d1s = malloc((size_t)batch * f1 * f1 * sizeof *d1s);
    float *d2s = malloc((size_t)batch * (f2 * f2 > 0 ? f2 * f2 : 1) * sizeof *d2s);
    float *d1c = malloc((size_t)batch * nid * sizeof *d1c);
    float *d2c = malloc((size_t)batch * nid * sizeof *d2c);
    for (int k = 0; k < 3; k++) {
        runs[k].t = malloc((size_t)(warmup + reps) * sizeof(double));
        runs[k].tc = malloc((size_t)(warmup + reps) * sizeof(double));
        if (!runs[k].t || !runs[k].tc) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
    }
    if (!z || !c || !img || !x || !mu || !lv || !d1s || !d2s || !d1c || !d2c) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (int i = 0; i < batch; i++) {
        fs_np_random r;
        fs_np_random_seed(&r, (uint32_t)(seed + (unsigned long)i));
        for (int j = 0; j < zd; j++)
            z[(size_t)i * zd + j] = (float)fs_np_random_gauss(&r);
        c[(size_t)i * nid + i % nid] = 1.0f;
        fs_np_random_seed(&r, (uint32_t)(seed + 1000003UL + (unsigned long)i));
        for (size_t j = 0; j < (size_t)3 * R * R; j++)
            x[(size_t)i * 3 * R * R + j] = (float)(2.0 * fs_np_random_double(&r) - 1.0);
    }

    macs mc = count_macs(&cfg);
    runs[0].gflop = 2e-9 * (mc.g_fc + mc.g_deconv);
    runs[1].gflop = 2e-9 * (mc.e_stem + mc.e_conv + mc.e_skip + mc.e_fc);
    runs[2].gflop = 2e-9 * (mc.d1_conv + mc.d1_heads + mc.d2_conv + mc.d2_heads);

    fprintf(stderr, "[bench_cvaegan] width %lld, z_dim %lld, n_id %lld, %dx%d (%.1f M params); "
            "device %s, batch %d, %d warm-up + %d timed, threads %d (%ld cores); backend %.3f s, "
            "weights built %.3f s, opened %.3f s, init %.3f s\n",
            (long long)cfg.width, (long long)cfg.z_dim, (long long)cfg.n_id, R, R, params * 1e-6,
            device, batch, warmup, reps, threads, cores, t_backend, t_build, t_load, t_init);

    for (int k = 0; k < 3; k++) {
        net_run *r = &runs[k];
        if (!r->on)
            continue;
        for (int i = 0; i < warmup + reps; i++) {
            if (b->ops->synchronize(b) != FS_OK)
                return fail("synchronize");
            double c0 = cpu_s();
            t0 = now_s();
            fs_status s;
            if (k == 0)
                s = fs_cvaegan_generate(m, z, c, batch, img);
            else if (k == 1)
                s = fs_cvaegan_encode(m, x, batch, mu, lv);
            else
                s = fs_cvaegan_discriminate(m, x, batch, d1s, d1c, d2s, d2c);
            r->t[i] = now_s() - t0;
            r->tc[i] = cpu_s() - c0;
            if (s != FS_OK)
                return fail(r->title);
            fprintf(stderr, "[bench_cvaegan]   %s %s %d: %.4f s (CPU %.3f s)\n", r->key,
                    i < warmup ? "warm-up" : "rep", i < warmup ? i + 1 : i - warmup + 1, r->t[i],
                    r->tc[i]);
        }
        if (k == 0)
            summarise(r, warmup, reps, img, img_n);
        else if (k == 1)
            summarise(r, warmup, reps, mu, (size_t)batch * zd);
        else
            summarise(r, warmup, reps, d1c, (size_t)batch * nid);
    }

    printf("config       width %lld, z_dim %lld, n_id %lld, %dx%d, %.2f M parameters (random, He-normal)\n",
           (long long)cfg.width, (long long)cfg.z_dim, (long long)cfg.n_id, R, R, params * 1e-6);
    printf("run          device %s (%s), batch %d, %d warm-up + %d timed, threads %d (0 = %ld cores), seed %lu\n",
           device, impl, batch, warmup, reps, threads, cores, seed);
    printf("setup        backend %.3f s, weights built %.3f s, opened %.3f s, model init %.3f s (not timed below)\n",
           t_backend, t_build, t_load, t_init);
    printf("flop model   G %.4f GFLOP/img (fc %.4f + deconvs %.4f), E %.4f (stem %.4f + convs %.4f + skips %.4f + fc %.4f),\n"
           "             D1+D2 %.4f (D1 convs %.4f + heads %.4f, D2 convs %.4f + heads %.4f)\n",
           runs[0].gflop, 2e-9 * mc.g_fc, 2e-9 * mc.g_deconv, runs[1].gflop, 2e-9 * mc.e_stem,
           2e-9 * mc.e_conv, 2e-9 * mc.e_skip, 2e-9 * mc.e_fc, runs[2].gflop, 2e-9 * mc.d1_conv,
           2e-9 * mc.d1_heads, 2e-9 * mc.d2_conv, 2e-9 * mc.d2_heads);
    for (int k = 0; k < 3; k++) {
        net_run *r = &runs[k];
        if (!r->on)
            continue;
        printf("%-21s median %.5f s/batch (min %.5f, max %.5f) = %8.2f img/s, %7.2f GFLOP/s, "
               "CPU/wall %.2f, out rms %.4g%s\n", r->title, r->st.median, r->st.min, r->st.max,
               batch / r->st.median, r->gflop * batch / r->st.median, r->cpu_per_wall, r->out_rms,
               r->finite ? "" : " NON-FINITE");
    }

    printf("{\"label\": ");
    json_str(stdout, label);
    printf(", \"impl\": \"%s\", \"device\": ", impl);
    json_str(stdout, device);
    printf(", \"width\": %lld, \"z_dim\": %lld, \"n_id\": %lld, \"resolution\": %d, \"params\": %llu, "
           "\"init\": \"he-normal N(0, 2/fan_in), biases 0, norms 1/0, RandomState(seed)\", "
           "\"batch\": %d, \"warmup\": %d, \"reps\": %d, \"threads\": %d, \"cores\": %ld, \"seed\": %lu, "
           "\"timing\": \"wall clock (CLOCK_MONOTONIC) around each whole API call, host input in, host output out\", "
           "\"backend_s\": %.4f, \"build_s\": %.4f, \"load_s\": %.4f, \"init_s\": %.4f, "
           "\"macs_per_img\": {\"g_fc\": %.0f, \"g_deconv\": %.0f, \"e_stem\": %.0f, \"e_conv\": %.0f, "
           "\"e_skip\": %.0f, \"e_fc\": %.0f, \"d1_conv\": %.0f, \"d1_heads\": %.0f, \"d2_conv\": %.0f, "
           "\"d2_heads\": %.0f}, \"nets\": {",
           (long long)cfg.width, (long long)cfg.z_dim, (long long)cfg.n_id, R,
           (unsigned long long)params, batch, warmup, reps, threads, cores, seed, t_backend, t_build,
           t_load, t_init, mc.g_fc, mc.g_deconv, mc.e_stem, mc.e_conv, mc.e_skip, mc.e_fc, mc.d1_conv,
           mc.d1_heads, mc.d2_conv, mc.d2_heads);
    int first = 1;
    for (int k = 0; k < 3; k++) {
        net_run *r = &runs[k];
        if (!r->on)
            continue;
        printf("%s\"%s\": {\"median_s\": %.6f, \"min_s\": %.6f, \"max_s\": %.6f, \"mean_s\": %.6f, "
               "\"all_s\": [", first ? "" : ", ", r->key, r->st.median, r->st.min, r->st.max,
               r->st.mean);
        first = 0;
        for (int i = warmup; i < warmup + reps; i++)
            printf("%s%.6f", i > warmup ? ", " : "", r->t[i]);
        printf("], \"warmup_s\": [");
        for (int i = 0; i < warmup; i++)
            printf("%s%.6f", i ? ", " : "", r->t[i]);
        printf("], \"cpu_s\": [");
        for (int i = warmup; i < warmup + reps; i++)
            printf("%s%.6f", i > warmup ? ", " : "", r->tc[i]);
        printf("], \"cpu_per_wall\": %.4f, \"img_per_s\": %.6f, \"gflop_per_img\": %.6f, "
               "\"gflops\": %.4f, \"output_rms\": %.6g, \"output_finite\": %s}",
               r->cpu_per_wall, batch / r->st.median, r->gflop, r->gflop * batch / r->st.median,
               r->out_rms, r->finite ? "true" : "false");
    }
    printf("}}\n");

    for (int k = 0; k < 3; k++) {
        free(runs[k].t);
        free(runs[k].tc);
    }
    free(z);
    free(c);
    free(img);
    free(x);
    free(mu);
    free(lv);
    free(d1s);
    free(d2s);
    free(d1c);
    free(d2c);
    fs_cvaegan_free(m);
    fs_weights_free(w);
    fs_backend_free(b);
    return 0;
}
