/* What latent editing adds to generation (issue 10): in one process, on one
 * network, rounds that interleave
 *   plain   fs_sg2_generate from z (what `facesynth generate --seeds` runs);
 *   edit1   `facesynth edit --space wp --alpha-range`'s path with one edit
 *           per source: the mapping of the sources, the strengths drawn, the
 *           W+ offset on the host, fs_sg2_generate from the edited ws;
 *   sweep   `edit --space w --distances` with STEPS edits of each source:
 *           one mapping per source, STEPS moves to a distance, broadcast;
 * each producing the same number of uint8 images, order rotating every
 * round. The host-side edit arithmetic and the edit path's separate
 * mapping call (the only work plain generation does not do: its own mapping
 * runs inside fs_sg2_generate) are timed on their own as well. Wall time
 * and the process's CPU time (all threads) are both recorded: on a shared
 * machine other processes stretch the wall time of a run, its CPU time much
 * less. Prints a JSON line per mode: every timed run and the medians.
 *
 *   build/bench/bench_edit --network FILE.fsw [--images 8] [--steps 4]
 *       [--rounds 7] [--warmup 1] [--threads 0] [--device cpu] */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/backend.h"
#include "../engine/edit.h"
#include "../engine/network.h"
#include "../engine/rng.h"
#include "../engine/stylegan2.h"
#include "bench_util.h"

typedef struct {
    fs_sg2_generator *g;
    int n, steps, zd, wd, nws;
    fs_boundary b;
    float *z, *ws_src, *ws;
    uint8_t *img;
    uint64_t *seeds;
    double edit_s; /* host-side edit time of the last run */
    double map_s;  /* its separate mapping call */
} bench;

static void draw_z(bench *B, int n)
{
    for (int i = 0; i < n; i++) {
        fs_np_random r;
        fs_np_random_seed(&r, (uint32_t)i);
        for (int j = 0; j < B->zd; j++)
            B->z[(size_t)i * B->zd + j] = (float)fs_np_random_gauss(&r);
        B->seeds[i] = (uint64_t)i;
    }
}

static fs_status run_plain(bench *B)
{
    draw_z(B, B->n);
    B->edit_s = B->map_s = 0;
    return fs_sg2_generate(B->g, &(fs_sg2_generate_args){.n = B->n, .z = B->z, .psi = 1,
                                                          .cutoff = -1,
                                                          .noise_mode = FS_NOISE_CONST,
                                                          .noise_seeds = B->seeds,
                                                          .images = B->img});
}

/* per_src edits of each of n / per_src sources */
static fs_status run_edit(bench *B, int per_src, int sweep)
{
    int ns = B->n / per_src;
    size_t code = (size_t)B->nws * B->wd;
    draw_z(B, ns);
    double tm = now_s();
    FS_TRY(fs_sg2_generator_mapping(B->g, B->z, NULL, ns, 1.0f, -1, B->ws_src));
    double t0 = now_s();
    B->map_s = t0 - tm;
    double d[64], alpha[64];
    fs_edit_linspace(-3, 3, per_src, d);
    for (int s = 0; s < ns; s++) {
        fs_np_random r;
        fs_np_random_seed(&r, (uint32_t)s);
        fs_edit_draw_alphas(&r, -3, 3, per_src, alpha);
        for (int e = 0; e < per_src; e++) {
            float *out = B->ws + ((size_t)s * per_src + e) * code;
            const float *src = B->ws_src + (size_t)s * code;
            if (sweep) {
                fs_edit_to_distances(src, &B->b, &d[e], 1, out);
                for (int l = 1; l < B->nws; l++)
                    memcpy(out + (size_t)l * B->wd, out, (size_t)B->wd * sizeof *out);
            } else {
                fs_edit_offset(src, B->nws, &B->b, NULL, alpha[e], out);
            }
            B->seeds[s * per_src + e] = (uint64_t)s;
        }
    }
    B->edit_s = now_s() - t0;
    return fs_sg2_generate(B->g, &(fs_sg2_generate_args){.n = B->n, .ws = B->ws,
                                                          .noise_mode = FS_NOISE_CONST,
                                                          .noise_seeds = B->seeds,
                                                          .images = B->img});
}

int main(int argc, char **argv)
{
    const char *net = NULL, *device = "cpu";
    int images = 8, steps = 4, rounds = 7, warmup = 1, threads = 0;
    static const struct option opts[] = {
        {"network", required_argument, 0, 'n'}, {"images", required_argument, 0, 'i'},
        {"steps", required_argument, 0, 's'},   {"rounds", required_argument, 0, 'r'},
        {"warmup", required_argument, 0, 'w'},  {"threads", required_argument, 0, 't'},
        {"device", required_argument, 0, 'd'},  {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'n': net = optarg; break;
        case 'i': images = atoi(optarg); break;
        case 's': steps = atoi(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'd': device = optarg; break;
        default: return 2;
        }
    }
    if (!net || images < 1 || steps < 1 || steps > 64 || images % steps || rounds < 1 ||
        rounds > 1000) {
        fprintf(stderr, "usage: bench_edit --network FILE.fsw [--images N] [--steps S dividing "
                        "N] [--rounds R] [--warmup W] [--threads T] [--device D]\n");
        return 2;
    }
    fs_weights *w = NULL;
    fs_backend *be = NULL;
    bench B = {.n = images, .steps = steps};
    fs_status s = fs_network_open(net, NULL, &w, NULL);
    if (s == FS_OK)
        s = fs_backend_open(device, NULL, threads, &be);
    if (s == FS_OK)
        s = fs_sg2_generator_init(&B.g, w, be);
    if (s != FS_OK) {
        fprintf(stderr, "bench_edit: %s\n", fs_error_message());
        return 1;
    }
    const fs_sg2_config *cfg = fs_sg2_generator_config(B.g);
    B.zd = (int)cfg->z_dim;
    B.wd = (int)cfg->w_dim;
    B.nws = (int)fs_sg2_num_ws(cfg);
    size_t code = (size_t)B.nws * B.wd;
    size_t img = (size_t)cfg->img_channels * cfg->img_resolution * cfg->img_resolution;
    /* a random unit boundary, float64 as the released ones */
    B.b = (fs_boundary){.dim = B.wd, .dtype = FS_DTYPE_F64, .v = malloc((size_t)B.wd * 8)};
    B.z = malloc((size_t)images * B.zd * sizeof *B.z);
    B.ws_src = malloc((size_t)images * code * sizeof *B.ws_src);
    B.ws = malloc((size_t)images * code * sizeof *B.ws);
    B.img = malloc((size_t)images * img);
    B.seeds = malloc((size_t)images * sizeof *B.seeds);
    if (!B.b.v || !B.z || !B.ws_src || !B.ws || !B.img || !B.seeds) {
        fprintf(stderr, "bench_edit: out of memory\n");
        return 1;
    }
    fs_np_random r;
    fs_np_random_seed(&r, 12345);
    double nn = 0;
    for (int i = 0; i < B.wd; i++) {
        B.b.v[i] = fs_np_random_gauss(&r);
        nn += B.b.v[i] * B.b.v[i];
    }
    B.b.norm = sqrt(nn);
    fs_boundary_normalize(&B.b);

    enum { PLAIN, EDIT1, SWEEP, NMODES };
    static const char *const names[NMODES] = {"plain", "edit1", "sweep"};
    double *t = calloc((size_t)NMODES * rounds, sizeof *t);
    double *te = calloc((size_t)NMODES * rounds, sizeof *te);
    double *tc = calloc((size_t)NMODES * rounds, sizeof *tc);
    double *tm = calloc((size_t)NMODES * rounds, sizeof *tm);
    if (!t || !te || !tc || !tm)
        return 1;
    for (int round = -warmup; round < rounds && s == FS_OK; round++) {
        for (int k = 0; k < NMODES && s == FS_OK; k++) {
            int m = (k + (round < 0 ? 0 : round)) % NMODES; /* rotate the order */
            double t0 = now_s(), c0 = cpu_s();
            s = m == PLAIN ? run_plain(&B) : m == EDIT1 ? run_edit(&B, 1, 0)
                                                        : run_edit(&B, steps, 1);
            double dt = now_s() - t0, dc = cpu_s() - c0;
            if (round >= 0) {
                t[m * rounds + round] = dt;
                tc[m * rounds + round] = dc;
                tm[m * rounds + round] = B.map_s;
                te[m * rounds + round] = B.edit_s;
            }
        }
    }
    if (s != FS_OK) {
        fprintf(stderr, "bench_edit: %s\n", fs_error_message());
        return 1;
    }
    stats plain = stats_of(t, rounds), plain_cpu = stats_of(tc, rounds);
    for (int m = 0; m < NMODES; m++) {
        stats st = stats_of(t + m * rounds, rounds), se = stats_of(te + m * rounds, rounds);
        stats sc = stats_of(tc + m * rounds, rounds), sm = stats_of(tm + m * rounds, rounds);
        /* each round against the plain run of the same round: a slow drift
         * of the machine's load cancels in the ratio */
        double pr[1000], prc[1000];
        for (int i = 0; i < rounds; i++) {
            pr[i] = t[m * rounds + i] / t[i];
            prc[i] = tc[m * rounds + i] / tc[i];
        }
        stats spr = stats_of(pr, rounds), sprc = stats_of(prc, rounds);
        printf("{\"mode\": \"%s\", \"images\": %d, \"edits_per_source\": %d, \"median_s\": %.6f, "
               "\"min_s\": %.6f, \"max_s\": %.6f, \"vs_plain\": %.5f, \"cpu_median_s\": %.6f, "
               "\"cpu_vs_plain\": %.5f, \"edit_math_median_s\": %.3e, \"mapping_median_s\": %.3e, "
               "\"added_work_vs_plain\": %.3e, \"paired_vs_plain\": %.5f, \"paired_cpu_vs_plain\": %.5f, "
               "\"all_s\": [", names[m],
               images, m == PLAIN ? 0 : m == EDIT1 ? 1 : steps, st.median, st.min, st.max,
               st.median / plain.median - 1, sc.median, sc.median / plain_cpu.median - 1,
               se.median, sm.median, (se.median + sm.median) / plain.median, spr.median - 1,
               sprc.median - 1);
        for (int i = 0; i < rounds; i++)
            printf("%s%.6f", i ? ", " : "", t[m * rounds + i]);
        printf("], \"all_cpu_s\": [");
        for (int i = 0; i < rounds; i++)
            printf("%s%.6f", i ? ", " : "", tc[m * rounds + i]);
        printf("]}\n");
    }
    free(tm);
    free(tc);
    free(t);
    free(te);
    free(B.b.v);
    free(B.z);
    free(B.ws_src);
    free(B.ws);
    free(B.img);
    free(B.seeds);
    fs_sg2_generator_free(B.g);
    fs_backend_free(be);
    fs_weights_free(w);
    return 0;
}
