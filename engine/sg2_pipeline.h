/* A pipeline of StyleGAN2 generator batches (fs_sg2_generate) that keeps a
 * GPU busy: latents go up from pinned host buffers, each batch shape's
 * forward is captured once into a graph and replayed, and the uint8 images
 * come down into pinned, double-buffered host buffers on a copy lane, so
 * that batch i's copy (and the caller's use of batch i - 1) overlaps batch
 * i + 1's compute. docs/cuda_host_path.md describes the design.
 *
 *   fs_sg2_pipeline *p;
 *   fs_sg2_pipeline_opts o = fs_sg2_pipeline_defaults(32);
 *   fs_sg2_pipeline_init(&p, g, b, &o);
 *   submit(batch 0); submit(batch 1);
 *   while batches remain: wait -> use images; submit(next batch)
 *   wait -> use images (until nothing is in flight); fs_sg2_pipeline_free(p)
 *
 * At most two batches are in flight; the images a wait returns stay valid
 * until the next submit. The images are those fs_sg2_generate makes for the
 * same batch, byte for byte (on any backend: a graph replays the very
 * kernels). On a backend without graphs (the CPU) every forward runs
 * directly and the copies are plain, so the pipeline works everywhere.
 *
 * The pipeline reserves its generator's activation buffers for max_batch at
 * init, and its graphs hold their addresses. Calling the generator with a
 * larger batch meanwhile re-allocates them: the pipeline notices
 * (fs_sg2_generator_buffers_epoch) and captures its graphs again, so it is
 * allowed, but costs the captures. A graph the backend refuses to launch
 * (CUDA: captured before its scratch was re-reserved, e.g. for another
 * model on the same backend) turns graphs off and the batch runs directly.
 * Use the pipeline and its generator from one thread at a time
 * (kernels/cuda_backend.h). */
#ifndef FS_SG2_PIPELINE_H
#define FS_SG2_PIPELINE_H

#include <stdint.h>

#include "backend.h"
#include "status.h"
#include "stylegan2.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fs_sg2_pipeline fs_sg2_pipeline;

typedef struct {
    int max_batch;            /* the largest batch submit takes (>= 1) */
    int ws_input;             /* 0: batches give z (+ c); 1: batches give ws */
    float psi;                /* truncation with z (1: none) */
    int cutoff;               /* truncate the first cutoff ws; < 0: all */
    fs_noise_mode noise_mode; /* FS_NOISE_RANDOM: batches give noise_seeds */
    int no_graphs;            /* 1: never capture, run every forward directly */
} fs_sg2_pipeline_opts;

/* max_batch, z input, no truncation, const noise, graphs where available. */
fs_sg2_pipeline_opts fs_sg2_pipeline_defaults(int max_batch);

/* One batch: the arrays are the caller's and are copied (into pinned
 * buffers) before submit returns. */
typedef struct {
    int n;                       /* 1 .. max_batch */
    const float *z;              /* [n, z_dim], z input */
    const float *c;              /* [n, c_dim], z input on a conditional network */
    const float *ws;             /* [n, num_ws, w_dim], ws input */
    const uint64_t *noise_seeds; /* [n], FS_NOISE_RANDOM */
    int64_t tag;                 /* handed back by wait (e.g. the first seed's index) */
} fs_sg2_pipeline_batch;

typedef struct {
    int n;
    const uint8_t *images; /* [n, R, R, img_channels]; valid until the next submit */
    int64_t tag;
} fs_sg2_pipeline_result;

/* What ran: forwards run directly, captured into graphs, replayed from one;
 * graphs_off is 1 once the backend refused graphs or a capture failed (the
 * pipeline then runs directly), with that failure's message (or ""). */
typedef struct {
    long direct, captured, replayed;
    long dropped; /* times every graph was dropped: the generator's buffers were re-made */
    int graphs_off;
    char graph_error[256];
} fs_sg2_pipeline_stats;

/* A pipeline for generator g, which was made on backend b (the same b:
 * the pipeline queues its own copies and conversions there). Reserves the
 * generator for max_batch (fs_sg2_generator_reserve) and allocates the
 * pinned and backend buffers of two slots. */
fs_status fs_sg2_pipeline_init(fs_sg2_pipeline **out, fs_sg2_generator *g, fs_backend *b,
                               const fs_sg2_pipeline_opts *o);

/* Stages the batch and queues its forward and its download; returns without
 * waiting for them. FS_ERR_ARG when two batches are in flight already (wait
 * first) or the batch does not fit the options. */
fs_status fs_sg2_pipeline_submit(fs_sg2_pipeline *p, const fs_sg2_pipeline_batch *batch);

/* Waits for the oldest batch in flight and returns its images. A failure of
 * the forward (a device fault) surfaces here. FS_ERR_ARG with none in flight. */
fs_status fs_sg2_pipeline_wait(fs_sg2_pipeline *p, fs_sg2_pipeline_result *r);

/* Batches submitted and not yet waited for (0, 1 or 2). */
int fs_sg2_pipeline_in_flight(const fs_sg2_pipeline *p);

void fs_sg2_pipeline_get_stats(const fs_sg2_pipeline *p, fs_sg2_pipeline_stats *s);

/* Waits for what is in flight (ignoring its errors) and frees everything. */
void fs_sg2_pipeline_free(fs_sg2_pipeline *p);

#ifdef __cplusplus
}
#endif
#endif
