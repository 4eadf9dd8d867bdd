/* The StyleGAN2 batch pipeline (sg2_pipeline.h): two slots, each with pinned
 * host staging for the batch's inputs, a backend buffer for its uint8
 * images, pinned host memory they are downloaded into, a fence that signals
 * the download, and the graphs captured for it (one per batch size).
 *
 * A submit to slot s:
 *   1. copies the inputs into s's pinned buffers (the batch that used s
 *      before has been waited for, so nothing reads them any more);
 *   2. fence_order(s.copied): the ops from here wait, on the device, until
 *      the previous download out of s's image buffer is done;
 *   3. the forward: fs_sg2_generate with no host outputs (so it neither
 *      downloads nor synchronises) reading the pinned inputs, then to_uint8
 *      into s's image buffer; run directly the first time a batch size is
 *      seen (the warm-up: lazy module loading, the CUDA libraries' own
 *      setup), captured into a graph of s the second time and replayed from
 *      then on. The graph is per slot because it bakes in the slot's
 *      buffers; the generator's own buffers are shared by both slots, which
 *      the single compute stream serialises;
 *   4. download_async of the images into s's pinned host buffer, signalling
 *      s.copied; the next submit's forward runs beside it.
 * A wait blocks on the oldest slot's fence. A capture that fails (a backend
 * without graphs, or a generator that still does something a graph cannot
 * hold) is discarded, the batch runs directly, and the pipeline stops
 * trying: the images are the same either way; so is a graph the backend
 * refuses to launch. Graphs hold the generator's buffers: when those are
 * re-made (fs_sg2_generator_buffers_epoch changed) every graph is dropped
 * and captured again. */
#include "sg2_pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 2
#define GRAPHS_PER_SLOT 8 /* batch sizes with a graph; others run directly */

typedef struct {
    int n;
    fs_graph *graph;
} graph_entry;

typedef struct {
    float *in;       /* pinned: z [max, z_dim] or ws [max, num_ws, w_dim] */
    float *c;        /* pinned [max, c_dim], or NULL */
    uint64_t *seeds; /* pinned [max], or NULL */
    uint8_t *u8;     /* backend [max, R, R, C] */
    uint8_t *img;    /* pinned [max, R, R, C] */
    fs_fence *copied;
    graph_entry graphs[GRAPHS_PER_SLOT];
    int n_graphs;
    int n;           /* the batch in flight in this slot */
    int64_t tag;
} slot;

struct fs_sg2_pipeline {
    fs_sg2_generator *g;
    fs_backend *b;
    fs_sg2_pipeline_opts o;
    size_t in_floats, c_floats, img_bytes; /* per sample */
    int img_c, img_r;
    slot slots[SLOTS];
    int next, oldest, in_flight;
    unsigned char *seen; /* [max_batch + 1]: sizes run directly once */
    unsigned long epoch; /* the generator's buffers the graphs were captured on */
    fs_sg2_pipeline_stats stats;
};

fs_sg2_pipeline_opts fs_sg2_pipeline_defaults(int max_batch)
{
    return (fs_sg2_pipeline_opts){.max_batch = max_batch, .ws_input = 0, .psi = 1.0f,
                                  .cutoff = -1, .noise_mode = FS_NOISE_CONST, .no_graphs = 0};
}

void fs_sg2_pipeline_free(fs_sg2_pipeline *p)
{
    if (!p)
        return;
    fs_backend *b = p->b;
    for (int i = 0; i < SLOTS; i++) {
        slot *s = &p->slots[i];
        if (s->copied)
            b->ops->fence_wait(b, s->copied); /* errors: nothing left to report them to */
    }
    b->ops->synchronize(b);
    for (int i = 0; i < SLOTS; i++) {
        slot *s = &p->slots[i];
        for (int k = 0; k < s->n_graphs; k++)
            b->ops->graph_free(b, s->graphs[k].graph);
        if (s->copied)
            b->ops->fence_free(b, s->copied);
        if (s->u8)
            b->ops->release(b, s->u8);
        b->ops->release_host(b, s->in);
        b->ops->release_host(b, s->c);
        b->ops->release_host(b, s->seeds);
        b->ops->release_host(b, s->img);
    }
    free(p->seen);
    free(p);
}

static fs_status slot_init(fs_sg2_pipeline *p, slot *s)
{
    fs_backend *b = p->b;
    size_t n = (size_t)p->o.max_batch;
    s->in = b->ops->alloc_host(b, n * p->in_floats * sizeof(float));
    s->img = b->ops->alloc_host(b, n * p->img_bytes);
    s->u8 = b->ops->alloc(b, n * p->img_bytes);
    if (!s->in || !s->img || !s->u8)
        return FS_ERR_NOMEM; /* the backend recorded the message */
    if (p->c_floats && !(s->c = b->ops->alloc_host(b, n * p->c_floats * sizeof(float))))
        return FS_ERR_NOMEM;
    if (p->o.noise_mode == FS_NOISE_RANDOM &&
        !(s->seeds = b->ops->alloc_host(b, n * sizeof(uint64_t))))
        return FS_ERR_NOMEM;
    return b->ops->fence_create(b, &s->copied);
}

fs_status fs_sg2_pipeline_init(fs_sg2_pipeline **out, fs_sg2_generator *g, fs_backend *b,
                               const fs_sg2_pipeline_opts *o)
{
    *out = NULL;
    if (o->max_batch < 1)
        return fs_error(FS_ERR_ARG, "pipeline: max_batch %d", o->max_batch);
    if (o->noise_mode != FS_NOISE_CONST && o->noise_mode != FS_NOISE_RANDOM &&
        o->noise_mode != FS_NOISE_NONE)
        return fs_error(FS_ERR_ARG, "pipeline: noise mode %d", (int)o->noise_mode);
    const fs_sg2_config *c = fs_sg2_generator_config(g);
    if (!o->ws_input && c->z_dim <= 0)
        return fs_error(FS_ERR_ARG, "pipeline: the generator has no z (z_dim %lld): give ws",
                        (long long)c->z_dim);
    fs_sg2_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return fs_error(FS_ERR_NOMEM, "pipeline: out of memory");
    p->g = g;
    p->b = b;
    p->o = *o;
    p->img_c = (int)c->img_channels;
    p->img_r = (int)c->img_resolution;
    p->img_bytes = (size_t)p->img_c * p->img_r * p->img_r;
    p->in_floats = o->ws_input ? (size_t)fs_sg2_num_ws(c) * c->w_dim : (size_t)c->z_dim;
    p->c_floats = !o->ws_input && c->c_dim > 0 ? (size_t)c->c_dim : 0;
    p->stats.graphs_off = o->no_graphs;
    fs_status st = FS_OK;
    p->seen = calloc((size_t)o->max_batch + 1, 1);
    if (!p->seen)
        st = fs_error(FS_ERR_NOMEM, "pipeline: out of memory");
    /* buffers and scratch at their final size: no forward of the pipeline
     * allocates, which graph capture needs and which keeps the device from
     * synchronising between batches */
    if (st == FS_OK)
        st = fs_sg2_generator_reserve(g, o->max_batch);
    p->epoch = fs_sg2_generator_buffers_epoch(g);
    for (int i = 0; i < SLOTS && st == FS_OK; i++)
        st = slot_init(p, &p->slots[i]);
    if (st != FS_OK) {
        fs_sg2_pipeline_free(p);
        return st;
    }
    *out = p;
    return FS_OK;
}

/* The forward of n samples from slot s's staged inputs into s->u8, queued
 * on the backend (or recorded, inside a capture). */
static fs_status enqueue_forward(fs_sg2_pipeline *p, slot *s, int n)
{
    fs_sg2_generate_args a = {
        .n = n,
        .z = p->o.ws_input ? NULL : s->in,
        .c = s->c,
        .ws = p->o.ws_input ? s->in : NULL,
        .psi = p->o.psi,
        .cutoff = p->o.cutoff,
        .noise_mode = p->o.noise_mode,
        .noise_seeds = s->seeds,
    };
    FS_TRY(fs_sg2_generate(p->g, &a));
    fs_backend *b = p->b;
    return b->ops->to_uint8(b, fs_sg2_generator_images_dev(p->g), s->u8, n, p->img_c, p->img_r,
                            p->img_r);
}

static void graphs_off(fs_sg2_pipeline *p, fs_status st)
{
    p->stats.graphs_off = 1;
    if (st != FS_ERR_UNSUPPORTED || !p->stats.graph_error[0])
        snprintf(p->stats.graph_error, sizeof p->stats.graph_error, "%s", fs_error_message());
    fs_error_clear();
}

/* Captures the forward of n samples for slot s; NULL when the backend has
 * no graphs or the capture failed (graphs are then off). */
static fs_graph *capture(fs_sg2_pipeline *p, slot *s, int n)
{
    fs_backend *b = p->b;
    fs_status st = b->ops->capture_begin(b);
    if (st != FS_OK) {
        graphs_off(p, st);
        return NULL;
    }
    st = enqueue_forward(p, s, n);
    char why[256] = "";
    if (st != FS_OK)
        snprintf(why, sizeof why, "%s", fs_error_message());
    fs_graph *gr = NULL;
    fs_status end = b->ops->capture_end(b, &gr); /* always: leaves capture mode */
    if (st == FS_OK && end == FS_OK)
        return gr;
    b->ops->graph_free(b, gr);
    if (st != FS_OK)
        fs_error(st, "%s", why); /* the first failure is the telling one */
    graphs_off(p, st != FS_OK ? st : end);
    return NULL;
}

/* Frees every slot's graphs (sizes seen stay seen: their warm-up is done). */
static void drop_graphs(fs_sg2_pipeline *p)
{
    for (int i = 0; i < SLOTS; i++) {
        slot *s = &p->slots[i];
        for (int k = 0; k < s->n_graphs; k++)
            p->b->ops->graph_free(p->b, s->graphs[k].graph);
        s->n_graphs = 0;
    }
}

static fs_graph *find_graph(const slot *s, int n)
{
    for (int k = 0; k < s->n_graphs; k++)
        if (s->graphs[k].n == n)
            return s->graphs[k].graph;
    return NULL;
}

static fs_status run_forward(fs_sg2_pipeline *p, slot *s, int n)
{
    fs_backend *b = p->b;
    /* The generator's buffers were re-allocated (a larger batch since the
     * graphs were captured): the graphs would write freed memory. The old
     * buffers were freed after the device finished with them, so the graphs
     * can go at once; they are captured again on the new buffers. */
    unsigned long epoch = fs_sg2_generator_buffers_epoch(p->g);
    if (epoch != p->epoch) {
        drop_graphs(p);
        p->epoch = epoch;
        p->stats.dropped++;
    }
    fs_graph *gr = find_graph(s, n);
    if (!gr && !p->stats.graphs_off && p->seen[n] && s->n_graphs < GRAPHS_PER_SLOT) {
        gr = capture(p, s, n);
        if (gr) {
            s->graphs[s->n_graphs++] = (graph_entry){n, gr};
            p->stats.captured++;
        }
    } else if (gr) {
        p->stats.replayed++;
    }
    if (gr) {
        fs_status st = b->ops->graph_launch(b, gr);
        if (st == FS_OK)
            return FS_OK;
        /* refused (a graph made stale by the backend, e.g. its scratch
         * re-reserved) or failed to start: nothing of it ran. Graphs off,
         * and this batch directly, which reports a broken device itself. */
        drop_graphs(p);
        graphs_off(p, st);
    }
    p->seen[n] = 1;
    p->stats.direct++;
    return enqueue_forward(p, s, n);
}

fs_status fs_sg2_pipeline_submit(fs_sg2_pipeline *p, const fs_sg2_pipeline_batch *batch)
{
    int n = batch->n;
    if (p->in_flight >= SLOTS)
        return fs_error(FS_ERR_ARG, "pipeline: %d batches in flight: wait before submitting",
                        p->in_flight);
    if (n < 1 || n > p->o.max_batch)
        return fs_error(FS_ERR_ARG, "pipeline: batch of %d (1 to %d)", n, p->o.max_batch);
    const float *in = p->o.ws_input ? batch->ws : batch->z;
    if (!in)
        return fs_error(FS_ERR_ARG, "pipeline: the batch has no %s", p->o.ws_input ? "ws" : "z");
    if (p->c_floats && !batch->c)
        return fs_error(FS_ERR_ARG, "pipeline: the generator is conditional: a label is required");
    if (p->o.noise_mode == FS_NOISE_RANDOM && !batch->noise_seeds)
        return fs_error(FS_ERR_ARG, "pipeline: random noise needs per-sample seeds");
    fs_backend *b = p->b;
    slot *s = &p->slots[p->next];
    memcpy(s->in, in, (size_t)n * p->in_floats * sizeof(float));
    if (p->c_floats)
        memcpy(s->c, batch->c, (size_t)n * p->c_floats * sizeof(float));
    if (s->seeds)
        memcpy(s->seeds, batch->noise_seeds, (size_t)n * sizeof(uint64_t));
    FS_TRY(b->ops->fence_order(b, s->copied));
    FS_TRY(run_forward(p, s, n));
    FS_TRY(b->ops->download_async(b, s->img, s->u8, (size_t)n * p->img_bytes, s->copied));
    s->n = n;
    s->tag = batch->tag;
    p->next = (p->next + 1) % SLOTS;
    p->in_flight++;
    return FS_OK;
}

fs_status fs_sg2_pipeline_wait(fs_sg2_pipeline *p, fs_sg2_pipeline_result *r)
{
    if (p->in_flight == 0)
        return fs_error(FS_ERR_ARG, "pipeline: no batch in flight");
    slot *s = &p->slots[p->oldest];
    FS_TRY(p->b->ops->fence_wait(p->b, s->copied));
    r->n = s->n;
    r->images = s->img;
    r->tag = s->tag;
    p->oldest = (p->oldest + 1) % SLOTS;
    p->in_flight--;
    return FS_OK;
}

int fs_sg2_pipeline_in_flight(const fs_sg2_pipeline *p) { return p->in_flight; }

void fs_sg2_pipeline_get_stats(const fs_sg2_pipeline *p, fs_sg2_pipeline_stats *s)
{
    *s = p->stats;
}
