/* `facesynth dataset` end to end against its pure compute, in one process,
 * interleaved (bench/run_dataset_bench.sh runs it and writes
 * bench/results/dataset.md):
 *   compute     fs_ds_render_batch over the job's images: the draws, the
 *               mapping, the synthesis, the uint8 conversion and the copy
 *               back; nothing encoded or written
 *   end-to-end  fs_ds_run_prepare + fs_ds_run_execute into a fresh OUT: the
 *               same compute, and the writer pool encoding (PNG or JPEG),
 *               writing, fsyncing and committing every chunk, then the merge
 *   serial      the compute, then each batch encoded and written by the
 *               calling thread: what the writer pool's overlap saves
 * The network is loaded and planned once, before any timing; each mode runs
 * once per round, the order rotated; medians over the rounds.
 *
 *   build/bench/bench_dataset --network FILE [--images N] [--batch B]
 *       [--threads T] [--writers W] [--rounds R] [--image png|jpg]
 *       [--format folder|tar] [--device cpu|cuda[:N]] [--workdir DIR] [--json FILE] */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/dataset.h"
#include "../engine/dataset_internal.h"
#include "../engine/network.h"
#include "bench_util.h"

static void die(const char *what)
{
    fprintf(stderr, "bench_dataset: %s: %s\n", what, fs_error_message());
    exit(1);
}

static void rm_rf(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        exit(1);
}

int main(int argc, char **argv)
{
    const char *net = NULL, *workdir = "/tmp/fs_bench_dataset", *json = NULL, *device = "cpu";
    int images = 16, batch = 4, threads = 0, writers = 2, rounds = 3;
    fs_ds_image image = FS_DS_PNG;
    fs_ds_format format = FS_DS_FOLDER;
    static const struct option opts[] = {
        {"network", required_argument, 0, 'n'}, {"images", required_argument, 0, 'i'},
        {"batch", required_argument, 0, 'b'},   {"threads", required_argument, 0, 't'},
        {"writers", required_argument, 0, 'w'}, {"rounds", required_argument, 0, 'r'},
        {"image", required_argument, 0, 'm'},   {"format", required_argument, 0, 'f'},
        {"device", required_argument, 0, 'd'},  {"workdir", required_argument, 0, 'o'},
        {"json", required_argument, 0, 'j'},    {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'n': net = optarg; break;
        case 'i': images = atoi(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'w': writers = atoi(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        case 'm': image = !strcmp(optarg, "jpg") ? FS_DS_JPEG : FS_DS_PNG; break;
        case 'f': format = !strcmp(optarg, "tar") ? FS_DS_TAR : FS_DS_FOLDER; break;
        case 'd': device = optarg; break;
        case 'o': workdir = optarg; break;
        case 'j': json = optarg; break;
        default:
            fprintf(stderr, "usage: bench_dataset --network FILE [--images N] [--batch B] "
                            "[--threads T] [--writers W] [--rounds R] [--image png|jpg] "
                            "[--format folder|tar] [--device D] [--workdir DIR] [--json FILE]\n");
            return 2;
        }
    }
    if (!net || images < 2 || images % 2 || batch < 1 || rounds < 1 || rounds > 64) {
        fprintf(stderr, "bench_dataset: --network, an even --images >= 2, --rounds 1..64\n");
        return 2;
    }
    fs_network_opts no;
    fs_network_opts_default(&no);
    no.want = FS_WANT_GENERATOR;
    fs_weights *w;
    fs_backend *be;
    fs_sg2_generator *g;
    if (fs_network_open(net, &no, &w, NULL) != FS_OK)
        die(net);
    if (fs_backend_open(device, NULL, threads, &be) != FS_OK)
        die(device);
    if (fs_sg2_generator_init(&g, w, be) != FS_OK)
        die("generator");
    const fs_sg2_config *c = fs_sg2_generator_config(g);
    /* identities of two images each, half the ws from the variation, random noise */
    fs_ds_job job = {.family = FS_DS_SG2, .identities = (uint64_t)images / 2, .per_identity = 2,
                     .seed = 1, .z_dim = (int)c->z_dim, .w_dim = (int)c->w_dim,
                     .num_ws = (int)fs_sg2_num_ws(c), .img_res = (int)c->img_resolution,
                     .img_channels = (int)c->img_channels, .psi = 0.7, .noise = FS_NOISE_RANDOM,
                     .format = format, .image = image, .quality = 95, .chunk = 8};
    snprintf(job.network_sha256, sizeof job.network_sha256, "bench");
    snprintf(job.precision, sizeof job.precision, "fp32");
    job.mix_mask = ((1ull << job.num_ws) - 1) & ~((1ull << (job.num_ws / 2)) - 1);
    fs_ds_plan plan;
    if (fs_ds_plan_init(&plan, &job) != FS_OK)
        die("plan");
    fs_ds_render *rd;
    if (fs_ds_render_init(&rd, &plan, g, NULL, NULL, 0, batch) != FS_OK)
        die("render");
    size_t bytes = fs_ds_render_image_bytes(rd);
    uint8_t *pix = malloc((size_t)batch * bytes);
    uint64_t *idx = malloc((size_t)batch * sizeof *idx);
    fs_ds_image_info *info = malloc((size_t)batch * sizeof *info);
    double *sc = malloc((size_t)batch * sizeof *sc);
    if (!pix || !idx || !info || !sc)
        return 1;
    char out[1024], path[1200], name[96];
    if (fs_ds_mkdir(workdir) != FS_OK)
        die(workdir);
    double t[3][64], cpu[3][64];
    static const char *const names[3] = {"compute", "end-to-end", "serial"};
    size_t enc_bytes = 0;
    { /* warm-up: one batch */
        for (int k = 0; k < batch; k++)
            idx[k] = (uint64_t)k % (uint64_t)images;
        if (fs_ds_render_batch(rd, idx, batch, pix, info, sc) != FS_OK)
            die("warm-up");
    }
    for (int r = 0; r < rounds; r++) {
        for (int q = 0; q < 3; q++) {
            int mode = (q + r) % 3;
            snprintf(out, sizeof out, "%s/round%d_%s", workdir, r, names[mode]);
            rm_rf(out);
            double t0 = now_s(), c0 = cpu_s();
            if (mode == 1) {
                fs_ds_run *run;
                fs_ds_run_args ra = {.outdir = out, .job = &job, .shard = {.k = 0, .n = 1},
                                     .batch = batch, .writers = writers, .g = g,
                                     .run_note = "bench"};
                if (fs_ds_run_prepare(&ra, &run) != FS_OK || fs_ds_run_execute(run, NULL, NULL) != FS_OK)
                    die("end-to-end");
                fs_ds_run_free(run);
            } else {
                if (mode == 2 && fs_ds_mkdir(out) != FS_OK)
                    die(out);
                for (int g0 = 0; g0 < images; g0 += batch) {
                    int n = images - g0 < batch ? images - g0 : batch;
                    for (int k = 0; k < n; k++)
                        idx[k] = (uint64_t)(g0 + k);
                    if (fs_ds_render_batch(rd, idx, n, pix, info, sc) != FS_OK)
                        die("compute");
                    for (int k = 0; mode == 2 && k < n; k++) {
                        uint8_t *enc;
                        size_t len;
                        if (fs_ds_encode(image, 95, pix + (size_t)k * bytes, job.img_res,
                                         job.img_res, job.img_channels, &enc, &len) != FS_OK)
                            die("encode");
                        enc_bytes += len;
                        snprintf(name, sizeof name, "%d.%s", g0 + k, image == FS_DS_JPEG ? "jpg" : "png");
                        snprintf(path, sizeof path, "%s/%s", out, name);
                        if (fs_ds_write_file(path, enc, len) != FS_OK)
                            die(path);
                        free(enc);
                    }
                }
            }
            t[mode][r] = now_s() - t0;
            cpu[mode][r] = cpu_s() - c0;
            fprintf(stderr, "round %d %-10s %.3f s  %.3f img/s  (cpu %.1f s)\n", r, names[mode],
                    t[mode][r], images / t[mode][r], cpu[mode][r]);
            rm_rf(out);
        }
    }
    stats s[3];
    for (int m = 0; m < 3; m++)
        s[m] = stats_of(t[m], rounds);
    printf("%d images of %dx%d, batch %d, %s threads %d, writers %d, %s %s, %d rounds (medians)\n",
           images, job.img_res, job.img_res, batch, device, threads, writers,
           format == FS_DS_TAR ? "tar" : "folder", image == FS_DS_JPEG ? "jpg" : "png", rounds);
    for (int m = 0; m < 3; m++)
        printf("  %-10s %8.3f s  %8.4f img/s  (min %.3f, max %.3f s)\n", names[m], s[m].median,
               images / s[m].median, s[m].min, s[m].max);
    printf("  end-to-end / compute: %.4f of the img/s (%+.2f%%); serial / compute: %.4f\n",
           s[0].median / s[1].median, 100.0 * (s[0].median / s[1].median - 1),
           s[0].median / s[2].median);
    stats cs[3];
    for (int m = 0; m < 3; m++)
        cs[m] = stats_of(cpu[m], rounds);
    /* on a shared host the CPU time is the steadier measure of the work added */
    printf("  CPU time (all threads), medians: compute %.2f s, end-to-end %.2f s (%+.2f%%), "
           "serial %.2f s\n", cs[0].median, cs[1].median,
           100.0 * (cs[1].median / cs[0].median - 1), cs[2].median);
    printf("  encoded image: %.0f bytes on average\n",
           (double)enc_bytes / ((double)images * rounds));
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f)
            return 1;
        fprintf(f, "{\"images\": %d, \"resolution\": %d, \"batch\": %d, \"device\": ", images,
                job.img_res, batch);
        json_str(f, device);
        fprintf(f, ", \"threads\": %d, \"writers\": %d, \"format\": \"%s\", \"image\": \"%s\", "
                "\"rounds\": %d", threads, writers, format == FS_DS_TAR ? "tar" : "folder",
                image == FS_DS_JPEG ? "jpg" : "png", rounds);
        for (int m = 0; m < 3; m++) {
            fprintf(f, ", \"%s\": {\"median_s\": %.6f, \"img_per_s\": %.6f, \"runs_s\": [", names[m],
                    s[m].median, images / s[m].median);
            for (int r = 0; r < rounds; r++)
                fprintf(f, "%s%.6f", r ? ", " : "", t[m][r]);
            fprintf(f, "], \"cpu_s\": [");
            for (int r = 0; r < rounds; r++)
                fprintf(f, "%s%.3f", r ? ", " : "", cpu[m][r]);
            fprintf(f, "]}");
        }
        fprintf(f, ", \"ratio_end_to_end\": %.6f}\n", s[0].median / s[1].median);
        fclose(f);
    }
    fs_ds_render_free(rd);
    fs_ds_plan_free(&plan);
    free(pix);
    free(idx);
    free(info);
    free(sc);
    fs_sg2_generator_free(g);
    fs_backend_free(be);
    fs_weights_free(w);
    return 0;
}
