/* Check suite for the StyleGAN2 batch pipeline (engine/sg2_pipeline.c).
 *
 * "cpu" (every machine): the pipeline's images are byte for byte those of
 * fs_sg2_generate on the same batches, over several batches with a ragged
 * last one, driven as a program drives it (two in flight, each batch's
 * images used while the next computes): z input with truncation and const
 * noise (tiny), z with labels and random noise (tiny-cond), ws input
 * (tiny-resnet); and the 16-bit synthesis form (the CPU emulating fp16 and
 * mixed). On the CPU no graph exists: the
 * stats say so and every forward ran directly. Then the refusals: a third batch in flight, a batch
 * over max_batch, a wait with none in flight, missing seeds or labels.
 *
 * "cuda" (tag gpu; SKIP without a device): the same comparisons on the CUDA
 * backend in fp32 and fp16, pipeline against fs_sg2_generate on CUDA, byte
 * for byte (a graph replays the very kernels), with the stats showing the
 * graphs captured and replayed, and a run with graphs off for comparison. */
#include "fixture_util.h"

#include <stdint.h>

#include "../engine/backend.h"
#include "../engine/sg2_pipeline.h"
#include "../engine/stylegan2.h"
#ifdef FS_WITH_CUDA
#include "../kernels/cuda_backend.h"
#endif

#define SG2 FS_FIXTURES "/stylegan2"

static float rnd_normalish(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return (float)((double)(*s >> 11) / 9007199254740992.0 * 4.0 - 2.0);
}

typedef struct {
    const char *dir;
    int ws_input, labels;
    fs_noise_mode noise;
    float psi;
    int cutoff;
} pipe_case;

static const pipe_case g_cases[] = {
    {SG2 "/tiny", 0, 0, FS_NOISE_CONST, 0.7f, -1},
    {SG2 "/tiny-cond", 0, 1, FS_NOISE_RANDOM, 0.5f, 4},
    {SG2 "/tiny-resnet", 1, 0, FS_NOISE_CONST, 1.0f, -1},
};

/* The whole run's inputs: total samples of z (or ws), labels and seeds. */
typedef struct {
    int total, in_floats, c_floats;
    float *in, *c;
    uint64_t *seeds;
    size_t img_bytes; /* per sample */
} run_inputs;

static run_inputs make_inputs(const fs_sg2_config *cfg, const pipe_case *pc, int total)
{
    run_inputs r = {.total = total};
    r.in_floats = pc->ws_input ? (int)(fs_sg2_num_ws(cfg) * cfg->w_dim) : (int)cfg->z_dim;
    r.c_floats = pc->labels ? (int)cfg->c_dim : 0;
    r.img_bytes = (size_t)cfg->img_channels * cfg->img_resolution * cfg->img_resolution;
    r.in = malloc((size_t)total * r.in_floats * sizeof(float));
    r.c = r.c_floats ? calloc((size_t)total * r.c_floats, sizeof(float)) : NULL;
    r.seeds = malloc((size_t)total * sizeof(uint64_t));
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < (size_t)total * r.in_floats; i++)
        r.in[i] = rnd_normalish(&s) * (pc->ws_input ? 0.25f : 1.0f);
    for (int i = 0; i < total; i++) {
        if (r.c)
            r.c[(size_t)i * r.c_floats + (size_t)i % r.c_floats] = 1.0f; /* one-hot */
        r.seeds[i] = 0x1234ull * (uint64_t)(i + 1) ^ 0xabcdefull;
    }
    return r;
}

static void free_inputs(run_inputs *r)
{
    free(r->in);
    free(r->c);
    free(r->seeds);
}

static fs_sg2_pipeline_batch batch_at(const run_inputs *r, const pipe_case *pc, int start, int n)
{
    return (fs_sg2_pipeline_batch){
        .n = n,
        .z = pc->ws_input ? NULL : r->in + (size_t)start * r->in_floats,
        .ws = pc->ws_input ? r->in + (size_t)start * r->in_floats : NULL,
        .c = r->c ? r->c + (size_t)start * r->c_floats : NULL,
        .noise_seeds = r->seeds + start,
        .tag = start,
    };
}

/* ---- a CPU backend with graphs and a lazy copy lane ---------------------------------------------------
 *
 * The CPU backend's ops, except that between capture_begin and capture_end
 * the ops a forward uses are recorded (arguments copied, pointers kept, as a
 * CUDA graph bakes its kernels' parameters), not run, and graph_launch runs
 * them again; a recorded upload reads its source at launch, and must come
 * from alloc_host memory (CUDA refuses pageable sources in a capture); an
 * allocation, a download or a synchronize inside a capture is refused. The
 * copy lane is as late as the contract allows: download_async only records
 * the copy, made when its fence is waited for or ordered against (so a
 * later op that overwrote the source first, or a host buffer reused before
 * its fence, shows in the images). Released backend buffers are kept,
 * marked dead: a replayed op touching one counts in g_sim.stale (a graph
 * holding a freed buffer, which on a GPU writes someone else's memory). So
 * the pipeline's capture and replay logic runs on every machine. */

enum { R_UPLOAD, R_NORMALIZE, R_FC, R_COPY_ROWS, R_LERP, R_MODCONV, R_UPFIRDN, R_BIAS_ACT, R_AXPBY,
       R_CONV2D, R_TO_U8, R_STYLES, R_TORGB, R_CONVERT };

typedef struct {
    int kind;
    union {
        fs_fc_args fc;
        fs_modconv_args mc;
        fs_upfirdn2d_args up;
        fs_conv2d_args cv;
        fs_styles_args st;
        fs_torgb_args tr;
        fs_convert_features_args cf;
    } a;
    void *p0;
    const void *p1;
    size_t z0, z1, z2, z3;
    int i0, i1, i2, i3, i4;
    float f0, f1;
    fs_act act;
    const void *touch[10]; /* the backend buffers it reads or writes */
} rec_op;

struct fs_graph {
    rec_op *ops;
    int n;
};

struct fs_fence {
    void *dst;
    const void *src;
    size_t bytes;
    int pending;
};

typedef struct {
    const void *p;
    size_t bytes;
    int dead;
} sim_range;

#define SIM_HOST 64

static struct {
    fs_backend *real;
    fs_backend wrap;
    fs_backend_ops ops;
    int capturing, capture_failed;
    rec_op *rec;
    int n_rec, cap_rec;
    sim_range *dev, host[SIM_HOST];
    int n_dev, cap_dev, n_host;
    long stale, violations, launches;
    int refuse_launch; /* 1: graph_launch refuses (a graph the backend made stale) */
} g_sim;

static sim_range *sim_find(sim_range *r, int n, const void *p)
{
    for (int i = 0; i < n; i++)
        if ((const char *)p >= (const char *)r[i].p &&
            (const char *)p < (const char *)r[i].p + (r[i].bytes ? r[i].bytes : 1))
            return &r[i];
    return NULL;
}

static void *sim_alloc(fs_backend *b, size_t bytes)
{
    if (g_sim.capturing) {
        g_sim.capture_failed = 1;
        fs_error(FS_ERR_ARG, "sim: allocation inside a capture");
        return NULL;
    }
    void *p = g_sim.real->ops->alloc(g_sim.real, bytes);
    if (p && g_sim.n_dev == g_sim.cap_dev) {
        g_sim.cap_dev = g_sim.cap_dev ? 2 * g_sim.cap_dev : 256;
        g_sim.dev = realloc(g_sim.dev, (size_t)g_sim.cap_dev * sizeof *g_sim.dev);
        ck_assert_ptr_nonnull(g_sim.dev);
    }
    if (p)
        g_sim.dev[g_sim.n_dev++] = (sim_range){p, bytes, 0};
    return p;
}

static void sim_release(fs_backend *b, void *p)
{
    if (!p)
        return;
    sim_range *r = sim_find(g_sim.dev, g_sim.n_dev, p);
    ck_assert_msg(r && !r->dead && r->p == p, "sim: release of a pointer not allocated (or dead)");
    r->dead = 1; /* kept until the sim ends: replays may still touch it */
}

static void *sim_alloc_host(fs_backend *b, size_t bytes)
{
    void *p = g_sim.real->ops->alloc_host(g_sim.real, bytes);
    ck_assert_int_lt(g_sim.n_host, SIM_HOST);
    if (p)
        g_sim.host[g_sim.n_host++] = (sim_range){p, bytes, 0};
    return p;
}

static void sim_flush(fs_fence *f)
{
    if (f->pending && f->bytes)
        memcpy(f->dst, f->src, f->bytes);
    f->pending = 0;
}

static fs_fence *g_fences[8];

static void sim_release_host(fs_backend *b, void *p)
{
    if (!p)
        return;
    sim_range *r = sim_find(g_sim.host, g_sim.n_host, p);
    for (int i = 0; i < 8; i++)
        if (r && g_fences[i] && g_fences[i]->pending &&
            sim_find(g_sim.host, g_sim.n_host, g_fences[i]->dst) == r)
            g_sim.violations++; /* pinned memory freed under a copy in flight */
    if (r)
        *r = g_sim.host[--g_sim.n_host];
    g_sim.real->ops->release_host(g_sim.real, p);
}

static fs_status sim_fence_create(fs_backend *b, fs_fence **out)
{
    *out = calloc(1, sizeof **out);
    for (int i = 0; i < 8; i++)
        if (!g_fences[i]) {
            g_fences[i] = *out;
            return FS_OK;
        }
    ck_abort_msg("sim: too many fences");
    return FS_ERR_LIMIT;
}

static void sim_fence_free(fs_backend *b, fs_fence *f)
{
    if (!f)
        return;
    if (f->pending)
        g_sim.violations++; /* freed with its copy still to come */
    for (int i = 0; i < 8; i++)
        if (g_fences[i] == f)
            g_fences[i] = NULL;
    free(f);
}

static fs_status sim_download_async(fs_backend *b, void *dst, const void *src, size_t bytes,
                                    fs_fence *f)
{
    if (g_sim.capturing)
        return fs_error(FS_ERR_ARG, "sim: download_async inside a capture");
    sim_flush(f); /* the copy lane is in order: the older copy is done first */
    *f = (fs_fence){dst, src, bytes, 1};
    return FS_OK;
}

static fs_status sim_fence_sync(fs_backend *b, fs_fence *f)
{
    if (g_sim.capturing)
        return fs_error(FS_ERR_ARG, "sim: fence op inside a capture");
    sim_flush(f);
    return FS_OK;
}

static fs_status sim_download(fs_backend *b, void *dst, const void *src, size_t bytes)
{
    if (g_sim.capturing) {
        g_sim.capture_failed = 1;
        return fs_error(FS_ERR_ARG, "sim: download inside a capture");
    }
    return g_sim.real->ops->download(g_sim.real, dst, src, bytes);
}

static fs_status sim_synchronize(fs_backend *b)
{
    if (g_sim.capturing) {
        g_sim.capture_failed = 1;
        return fs_error(FS_ERR_ARG, "sim: synchronize inside a capture");
    }
    return FS_OK; /* the compute lane only: copies keep their fences */
}

static fs_status sim_run(const rec_op *r)
{
    fs_backend *b = g_sim.real;
    const fs_backend_ops *o = b->ops;
    switch (r->kind) {
    case R_UPLOAD: return o->upload(b, r->p0, r->p1, r->z0);
    case R_NORMALIZE: return o->normalize_2nd_moment(b, r->p0, r->i0, r->i1);
    case R_FC: return o->fc(b, &r->a.fc);
    case R_COPY_ROWS: return o->copy_rows(b, r->p0, r->z0, r->p1, r->z1, r->z2, r->z3);
    case R_LERP: return o->lerp_rows(b, r->p0, r->p1, r->i0, r->i1, r->i2, r->i3, r->i4, r->f0);
    case R_MODCONV: return o->modconv(b, &r->a.mc);
    case R_UPFIRDN: return o->upfirdn2d(b, &r->a.up);
    case R_BIAS_ACT:
        return o->bias_act(b, r->p0, r->p1, r->i0, r->i1, r->z0, r->act, r->f0, r->f1);
    case R_AXPBY: return o->axpby(b, r->p0, r->p1, r->z0, r->f0, r->f1);
    case R_CONV2D: return o->conv2d(b, &r->a.cv);
    case R_TO_U8: return o->to_uint8(b, r->p1, r->p0, r->i0, r->i1, r->i2, r->i3);
    case R_STYLES: return o->styles(b, &r->a.st);
    case R_TORGB: return o->torgb(b, &r->a.tr);
    case R_CONVERT: return o->convert_features(b, &r->a.cf);
    }
    return fs_error(FS_ERR_ARG, "sim: op %d", r->kind);
}

/* Records r while capturing, else runs it. */
static fs_status sim_op(rec_op r)
{
    if (!g_sim.capturing)
        return sim_run(&r);
    if (g_sim.n_rec == g_sim.cap_rec) {
        g_sim.cap_rec = g_sim.cap_rec ? 2 * g_sim.cap_rec : 64;
        g_sim.rec = realloc(g_sim.rec, (size_t)g_sim.cap_rec * sizeof *g_sim.rec);
    }
    g_sim.rec[g_sim.n_rec++] = r;
    return FS_OK;
}

static fs_status sim_upload(fs_backend *b, void *dst, const void *src, size_t bytes)
{
    if (g_sim.capturing && bytes && !sim_find(g_sim.host, g_sim.n_host, src))
        return fs_error(FS_ERR_ARG, "sim: upload of pageable host memory inside a capture");
    return sim_op((rec_op){.kind = R_UPLOAD, .p0 = dst, .p1 = src, .z0 = bytes, .touch = {dst}});
}
static fs_status sim_normalize(fs_backend *b, float *x, int n, int c)
{
    return sim_op((rec_op){.kind = R_NORMALIZE, .p0 = x, .i0 = n, .i1 = c, .touch = {x}});
}
static fs_status sim_fc(fs_backend *b, const fs_fc_args *a)
{
    return sim_op((rec_op){.kind = R_FC, .a.fc = *a, .touch = {a->x, a->y}});
}
static fs_status sim_copy_rows(fs_backend *b, float *dst, size_t ldd, const float *src,
                               size_t lds, size_t rows, size_t cols)
{
    return sim_op((rec_op){.kind = R_COPY_ROWS, .p0 = dst, .p1 = src, .z0 = ldd, .z1 = lds,
                           .z2 = rows, .z3 = cols, .touch = {dst, src}});
}
static fs_status sim_lerp(fs_backend *b, float *y, const float *a, int n, int rows, int c,
                          int row0, int row1, float t)
{
    return sim_op((rec_op){.kind = R_LERP, .p0 = y, .p1 = a, .i0 = n, .i1 = rows, .i2 = c,
                           .i3 = row0, .i4 = row1, .f0 = t, .touch = {y}});
}
static fs_status sim_modconv(fs_backend *b, const fs_modconv_args *a)
{
    return sim_op((rec_op){.kind = R_MODCONV, .a.mc = *a,
                           .touch = {a->x, a->y, a->x16, a->y16, a->styles, a->dcoef,
                                     a->noise_seeds}});
}
static fs_status sim_upfirdn(fs_backend *b, const fs_upfirdn2d_args *a)
{
    return sim_op((rec_op){.kind = R_UPFIRDN, .a.up = *a, .touch = {a->x, a->y}});
}
static fs_status sim_bias_act(fs_backend *b, float *x, const float *bias, int n, int c, size_t hw,
                              fs_act act, float gain, float clamp)
{
    return sim_op((rec_op){.kind = R_BIAS_ACT, .p0 = x, .p1 = bias, .i0 = n, .i1 = c, .z0 = hw,
                           .act = act, .f0 = gain, .f1 = clamp, .touch = {x}});
}
static fs_status sim_axpby(fs_backend *b, float *y, const float *x, size_t n, float ys, float xs)
{
    return sim_op((rec_op){.kind = R_AXPBY, .p0 = y, .p1 = x, .z0 = n, .f0 = ys, .f1 = xs,
                           .touch = {y, x}});
}
static fs_status sim_conv2d(fs_backend *b, const fs_conv2d_args *a)
{
    return sim_op((rec_op){.kind = R_CONV2D, .a.cv = *a, .touch = {a->x, a->y}});
}
static fs_status sim_to_u8(fs_backend *b, const float *x, uint8_t *y, int n, int c, int h, int w)
{
    return sim_op((rec_op){.kind = R_TO_U8, .p0 = y, .p1 = x, .i0 = n, .i1 = c, .i2 = h, .i3 = w,
                           .touch = {x, y}});
}
static fs_status sim_styles(fs_backend *b, const fs_styles_args *a)
{
    return sim_op((rec_op){.kind = R_STYLES, .a.st = *a, .touch = {a->ws, a->styles, a->dcoef}});
}
static fs_status sim_torgb(fs_backend *b, const fs_torgb_args *a)
{
    return sim_op((rec_op){.kind = R_TORGB, .a.tr = *a,
                           .touch = {a->x, a->x16, a->styles, a->img_prev, a->img}});
}
static fs_status sim_convert(fs_backend *b, const fs_convert_features_args *a)
{
    return sim_op((rec_op){.kind = R_CONVERT, .a.cf = *a, .touch = {a->x, a->y}});
}

static fs_status sim_capture_begin(fs_backend *b)
{
    if (g_sim.capturing)
        return fs_error(FS_ERR_ARG, "sim: nested capture");
    g_sim.capturing = 1;
    g_sim.capture_failed = 0;
    g_sim.n_rec = 0;
    return FS_OK;
}

static fs_status sim_capture_end(fs_backend *b, fs_graph **out)
{
    *out = NULL;
    if (!g_sim.capturing)
        return fs_error(FS_ERR_ARG, "sim: no capture");
    g_sim.capturing = 0;
    if (g_sim.capture_failed)
        return fs_error(FS_ERR_DEVICE, "sim: capture invalidated");
    fs_graph *g = calloc(1, sizeof *g);
    g->n = g_sim.n_rec;
    g->ops = malloc((size_t)(g->n ? g->n : 1) * sizeof *g->ops);
    memcpy(g->ops, g_sim.rec, (size_t)g->n * sizeof *g->ops);
    *out = g;
    return FS_OK;
}

static fs_status sim_graph_launch(fs_backend *b, fs_graph *g)
{
    if (g_sim.capturing)
        return fs_error(FS_ERR_ARG, "sim: graph_launch inside a capture");
    if (g_sim.refuse_launch)
        return fs_error(FS_ERR_ARG, "sim: a stale graph");
    g_sim.launches++;
    for (int i = 0; i < g->n; i++) {
        for (int k = 0; k < 10; k++) {
            const sim_range *r = g->ops[i].touch[k]
                                     ? sim_find(g_sim.dev, g_sim.n_dev, g->ops[i].touch[k])
                                     : NULL;
            g_sim.stale += r && r->dead;
        }
        FS_TRY(sim_run(&g->ops[i]));
    }
    return FS_OK;
}

static void sim_graph_free(fs_backend *b, fs_graph *g)
{
    if (g) {
        free(g->ops);
        free(g);
    }
}

/* The sim over a CPU backend of `precision` (fs_backend_cpu_init_ex). */
static fs_backend *sim_init(int precision)
{
    memset(&g_sim, 0, sizeof g_sim);
    memset(g_fences, 0, sizeof g_fences);
    ck_assert_msg(fs_backend_cpu_init_ex(&g_sim.real, 2, precision) == FS_OK, "%s",
                  fs_error_message());
    fs_backend_ops *o = &g_sim.ops;
    *o = *g_sim.real->ops;
    o->name = "sim";
    o->alloc = sim_alloc;
    o->release = sim_release;
    o->alloc_host = sim_alloc_host;
    o->release_host = sim_release_host;
    o->upload = sim_upload;
    o->download = sim_download;
    o->synchronize = sim_synchronize;
    o->normalize_2nd_moment = sim_normalize;
    o->fc = sim_fc;
    o->copy_rows = sim_copy_rows;
    o->lerp_rows = sim_lerp;
    o->modconv = sim_modconv;
    o->upfirdn2d = sim_upfirdn;
    o->bias_act = sim_bias_act;
    o->axpby = sim_axpby;
    o->conv2d = sim_conv2d;
    o->to_uint8 = sim_to_u8;
    o->styles = sim_styles;
    o->torgb = sim_torgb;
    o->convert_features = sim_convert;
    o->capture_begin = sim_capture_begin;
    o->capture_end = sim_capture_end;
    o->graph_launch = sim_graph_launch;
    o->graph_free = sim_graph_free;
    o->fence_create = sim_fence_create;
    o->fence_free = sim_fence_free;
    o->download_async = sim_download_async;
    o->fence_order = sim_fence_sync;
    o->fence_wait = sim_fence_sync;
    g_sim.wrap.ops = o;
    g_sim.wrap.impl = g_sim.real->impl; /* the CPU ops find their state there */
    return &g_sim.wrap;
}

static void sim_free(void)
{
    for (int i = 0; i < g_sim.n_dev; i++)
        g_sim.real->ops->release(g_sim.real, (void *)g_sim.dev[i].p);
    free(g_sim.dev);
    free(g_sim.rec);
    fs_backend_free(g_sim.real);
    memset(&g_sim, 0, sizeof g_sim);
}

/* fs_sg2_generate batch by batch: the reference. */
static uint8_t *reference_images(fs_sg2_generator *g, const run_inputs *r, const pipe_case *pc,
                                 int max_batch)
{
    uint8_t *out = malloc((size_t)r->total * r->img_bytes);
    for (int s0 = 0; s0 < r->total; s0 += max_batch) {
        int n = r->total - s0 < max_batch ? r->total - s0 : max_batch;
        fs_sg2_pipeline_batch bt = batch_at(r, pc, s0, n);
        fs_sg2_generate_args a = {.n = n, .z = bt.z, .c = bt.c, .ws = bt.ws, .psi = pc->psi,
                                  .cutoff = pc->cutoff, .noise_mode = pc->noise,
                                  .noise_seeds = bt.noise_seeds,
                                  .images = out + (size_t)s0 * r->img_bytes};
        ck_assert_msg(fs_sg2_generate(g, &a) == FS_OK, "%s", fs_error_message());
    }
    return out;
}

/* The pipeline over the whole run as a program drives it: submit the next
 * batch, then wait for the older one and use its images (copied out here). */
static uint8_t *pipeline_images(fs_sg2_pipeline *p, const run_inputs *r, const pipe_case *pc,
                                int max_batch)
{
    uint8_t *out = calloc((size_t)r->total, r->img_bytes);
    int next = 0, got = 0;
    while (got < r->total) {
        while (next < r->total && fs_sg2_pipeline_in_flight(p) < 2) {
            int n = r->total - next < max_batch ? r->total - next : max_batch;
            fs_sg2_pipeline_batch bt = batch_at(r, pc, next, n);
            ck_assert_msg(fs_sg2_pipeline_submit(p, &bt) == FS_OK, "%s", fs_error_message());
            next += n;
        }
        fs_sg2_pipeline_result res;
        ck_assert_msg(fs_sg2_pipeline_wait(p, &res) == FS_OK, "%s", fs_error_message());
        ck_assert_int_eq(res.tag, got); /* in submission order */
        memcpy(out + (size_t)res.tag * r->img_bytes, res.images, (size_t)res.n * r->img_bytes);
        got += res.n;
    }
    ck_assert_int_eq(fs_sg2_pipeline_in_flight(p), 0);
    return out;
}

static const char *checkpoint_of(const char *dir) { (void)dir; return "network-snapshot.pkl"; }

/* Pipeline vs fs_sg2_generate on backend b; returns the stats. */
static fs_sg2_pipeline_stats compare_on(fs_backend *b, const pipe_case *pc, int total,
                                        int max_batch, int no_graphs)
{
    fs_weights *w = fs_fixture_open_in(pc->dir, checkpoint_of(pc->dir), FS_WANT_GENERATOR, -1);
    fs_sg2_generator *g;
    ck_assert_msg(fs_sg2_generator_init(&g, w, b) == FS_OK, "%s", fs_error_message());
    const fs_sg2_config *cfg = fs_sg2_generator_config(g);
    if (pc->labels)
        ck_assert_int_gt(cfg->c_dim, 0);
    run_inputs r = make_inputs(cfg, pc, total);
    uint8_t *want = reference_images(g, &r, pc, max_batch);

    fs_sg2_pipeline_opts o = fs_sg2_pipeline_defaults(max_batch);
    o.ws_input = pc->ws_input;
    o.psi = pc->psi;
    o.cutoff = pc->cutoff;
    o.noise_mode = pc->noise;
    o.no_graphs = no_graphs;
    fs_sg2_pipeline *p;
    ck_assert_msg(fs_sg2_pipeline_init(&p, g, b, &o) == FS_OK, "%s", fs_error_message());
    /* twice: the second run replays what the first captured */
    for (int rep = 0; rep < 2; rep++) {
        uint8_t *got = pipeline_images(p, &r, pc, max_batch);
        for (size_t i = 0; i < (size_t)total * r.img_bytes; i++)
            if (got[i] != want[i])
                ck_abort_msg("%s on %s (run %d): image byte %zu (sample %zu) is %d, "
                             "fs_sg2_generate gave %d", pc->dir, b->ops->name, rep, i,
                             i / r.img_bytes, got[i], want[i]);
        free(got);
    }
    fs_sg2_pipeline_stats st;
    fs_sg2_pipeline_get_stats(p, &st);
    if (getenv("FS_TEST_VERBOSE"))
        printf("%s on %s: %ld direct, %ld captured, %ld replayed, graphs %s%s%s\n", pc->dir,
               b->ops->name, st.direct, st.captured, st.replayed, st.graphs_off ? "off" : "on",
               st.graph_error[0] ? ": " : "", st.graph_error);
    fs_sg2_pipeline_free(p);
    free(want);
    free_inputs(&r);
    fs_sg2_generator_free(g);
    fs_weights_free(w);
    return st;
}

/* 11 samples in batches of 4: 4, 4, 3 (ragged), twice. */
START_TEST(test_cpu_matches_generate)
{
    fs_backend *b;
    ck_assert_int_eq(fs_backend_cpu_init(&b, 2), FS_OK);
    fs_sg2_pipeline_stats st = compare_on(b, &g_cases[_i], 11, 4, 0);
    /* no graphs on the CPU: the capture of the second size-4 batch was
     * refused and everything ran directly */
    ck_assert_int_eq(st.graphs_off, 1);
    ck_assert_int_eq(st.captured, 0);
    ck_assert_int_eq(st.replayed, 0);
    ck_assert_int_eq(st.direct, 6);
    ck_assert_ptr_nonnull(strstr(st.graph_error, "cpu backend"));
    fs_backend_free(b);
}
END_TEST

/* The CPU emulating CUDA v2's 16-bit formats (fp16, then mixed): the
 * generator's v2 form, byte for byte too. */
START_TEST(test_cpu_half_matches_generate)
{
    fs_backend *b;
    ck_assert_msg(fs_backend_cpu_init_ex(&b, 2, _i == 0 ? 2 : 4) == FS_OK, "%s",
                  fs_error_message());
    fs_sg2_pipeline_stats st = compare_on(b, &g_cases[0], 7, 3, 0);
    ck_assert_int_eq(st.graphs_off, 1);
    ck_assert_int_eq(st.direct, 6);
    fs_backend_free(b);
}
END_TEST

START_TEST(test_refusals)
{
    fs_backend *b;
    ck_assert_int_eq(fs_backend_cpu_init(&b, 1), FS_OK);
    const pipe_case *pc = &g_cases[1]; /* labels and random noise */
    fs_weights *w = fs_fixture_open_in(pc->dir, checkpoint_of(pc->dir), FS_WANT_GENERATOR, -1);
    fs_sg2_generator *g;
    ck_assert_int_eq(fs_sg2_generator_init(&g, w, b), FS_OK);
    run_inputs r = make_inputs(fs_sg2_generator_config(g), pc, 6);
    fs_sg2_pipeline_opts o = fs_sg2_pipeline_defaults(2);
    o.noise_mode = FS_NOISE_RANDOM;
    fs_sg2_pipeline *p;
    ck_assert_int_eq(fs_sg2_pipeline_init(&p, g, b, &o), FS_OK);
    fs_sg2_pipeline_result res;
    ck_assert_int_eq(fs_sg2_pipeline_wait(p, &res), FS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "no batch in flight"));
    fs_sg2_pipeline_batch bt = batch_at(&r, pc, 0, 3);
    ck_assert_int_eq(fs_sg2_pipeline_submit(p, &bt), FS_ERR_ARG); /* 3 > max_batch 2 */
    bt = batch_at(&r, pc, 0, 2);
    bt.noise_seeds = NULL;
    ck_assert_int_eq(fs_sg2_pipeline_submit(p, &bt), FS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "seeds"));
    bt = batch_at(&r, pc, 0, 2);
    bt.c = NULL;
    ck_assert_int_eq(fs_sg2_pipeline_submit(p, &bt), FS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "label"));
    ck_assert_int_eq(fs_sg2_pipeline_in_flight(p), 0);
    for (int k = 0; k < 2; k++) {
        bt = batch_at(&r, pc, 2 * k, 2);
        ck_assert_int_eq(fs_sg2_pipeline_submit(p, &bt), FS_OK);
    }
    bt = batch_at(&r, pc, 4, 2);
    ck_assert_int_eq(fs_sg2_pipeline_submit(p, &bt), FS_ERR_ARG); /* two in flight */
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "in flight"));
    ck_assert_int_eq(fs_sg2_pipeline_wait(p, &res), FS_OK);
    ck_assert_int_eq(res.tag, 0);
    ck_assert_int_eq(fs_sg2_pipeline_submit(p, &bt), FS_OK);
    /* freed with two batches in flight: no leak, no wait needed */
    fs_sg2_pipeline_free(p);
    fs_sg2_pipeline_opts bad = fs_sg2_pipeline_defaults(0);
    ck_assert_int_eq(fs_sg2_pipeline_init(&p, g, b, &bad), FS_ERR_ARG);
    ck_assert_ptr_null(p);
    free_inputs(&r);
    fs_sg2_generator_free(g);
    fs_weights_free(w);
    fs_backend_free(b);
}
END_TEST

/* The sim (graphs and a lazy copy lane on the CPU): the pipeline's images
 * are fs_sg2_generate's, with the graph counts the CUDA case expects (run
 * 1: 4 direct, 4 and 4 captured, 4 replayed, 3 direct; run 2: four replays,
 * the 3 captured), every upload in a graph from pinned staging, no graph
 * touching a freed buffer, no copy outliving its fence or its buffer.
 * _i 0-2: the cases in float32; 3, 4: tiny in the fp16 and mixed v2 form;
 * 5: tiny-cond (labels, random noise: the seeds' upload) in fp16. */
START_TEST(test_sim_matches_generate)
{
    const pipe_case *pc = &g_cases[_i < 3 ? _i : _i == 5 ? 1 : 0];
    fs_backend *b = sim_init(_i < 3 ? 0 : _i == 4 ? 4 : 2);
    fs_sg2_pipeline_stats st = compare_on(b, pc, 19, 4, 0);
    ck_assert_msg(!st.graphs_off, "graphs off: %s", st.graph_error);
    ck_assert_int_eq(st.direct, 2);
    ck_assert_int_eq(st.captured, 3);
    ck_assert_int_eq(st.replayed, 5);
    ck_assert_int_eq(st.dropped, 0);
    ck_assert_int_eq(g_sim.launches, 8);
    ck_assert_int_eq(g_sim.stale, 0);
    ck_assert_int_eq(g_sim.violations, 0);
    sim_free();
}
END_TEST

/* The generator re-allocated under the pipeline (a larger batch called
 * directly between two runs): the graphs captured on the old buffers must
 * not be replayed (_i 0: they are dropped and captured again, the images
 * unchanged); a launch the backend refuses (_i 1) turns graphs off and the
 * batches run directly, the images unchanged. */
START_TEST(test_sim_stale_graphs)
{
    const pipe_case *pc = &g_cases[1]; /* labels and random noise */
    fs_backend *b = sim_init(0);
    fs_weights *w = fs_fixture_open_in(pc->dir, checkpoint_of(pc->dir), FS_WANT_GENERATOR, -1);
    fs_sg2_generator *g;
    ck_assert_msg(fs_sg2_generator_init(&g, w, b) == FS_OK, "%s", fs_error_message());
    run_inputs r = make_inputs(fs_sg2_generator_config(g), pc, 12);
    uint8_t *want = reference_images(g, &r, pc, 4);
    fs_sg2_pipeline_opts o = fs_sg2_pipeline_defaults(4);
    o.psi = pc->psi;
    o.cutoff = pc->cutoff;
    o.noise_mode = pc->noise;
    fs_sg2_pipeline *p;
    ck_assert_msg(fs_sg2_pipeline_init(&p, g, b, &o) == FS_OK, "%s", fs_error_message());
    uint8_t *extra = malloc(5 * r.img_bytes);
    for (int rep = 0; rep < 3; rep++) {
        uint8_t *got = pipeline_images(p, &r, pc, 4);
        ck_assert_msg(memcmp(got, want, (size_t)r.total * r.img_bytes) == 0,
                      "run %d: the pipeline's images differ from fs_sg2_generate's", rep);
        free(got);
        ck_assert_int_eq(g_sim.stale, 0);
        if (rep == 0 && _i == 0) {
            /* 5 > max_batch 4: the generator's buffers are made again */
            fs_sg2_pipeline_batch bt = batch_at(&r, pc, 0, 5);
            fs_sg2_generate_args a = {.n = 5, .z = bt.z, .c = bt.c, .psi = pc->psi,
                                      .cutoff = pc->cutoff, .noise_mode = pc->noise,
                                      .noise_seeds = bt.noise_seeds, .images = extra};
            ck_assert_msg(fs_sg2_generate(g, &a) == FS_OK, "%s", fs_error_message());
        }
        if (rep == 0 && _i == 1)
            g_sim.refuse_launch = 1;
    }
    fs_sg2_pipeline_stats st;
    fs_sg2_pipeline_get_stats(p, &st);
    if (_i == 0) {
        ck_assert_msg(!st.graphs_off, "graphs off: %s", st.graph_error);
        ck_assert_int_eq(st.dropped, 1);
        ck_assert_int_gt(st.captured, 2); /* captured again after the drop */
    } else {
        ck_assert_int_eq(st.graphs_off, 1);
        ck_assert_ptr_nonnull(strstr(st.graph_error, "stale"));
    }
    ck_assert_int_eq(g_sim.violations, 0);
    fs_sg2_pipeline_free(p);
    free(extra);
    free(want);
    free_inputs(&r);
    fs_sg2_generator_free(g);
    fs_weights_free(w);
    sim_free();
}
END_TEST

#ifdef FS_WITH_CUDA
/* The pipeline on CUDA against fs_sg2_generate on CUDA: 19 samples in
 * batches of 4 (4 x 4 + 3), twice, with graphs and without; _i = case * 2
 * + {0: fp32 (v1 kernels), 1: fp16 (the v2 form, but tiny-resnet stays
 * float32)}. */
START_TEST(test_cuda_matches_generate)
{
    const pipe_case *pc = &g_cases[_i / 2];
    fs_cuda_precision prec = _i % 2 ? FS_CUDA_FP16 : FS_CUDA_FP32;
    for (int no_graphs = 0; no_graphs < 2; no_graphs++) {
        fs_backend *b;
        ck_assert_msg(fs_backend_cuda_init_ex(&b, 0, prec) == FS_OK, "%s", fs_error_message());
        fs_sg2_pipeline_stats st = compare_on(b, pc, 19, 4, no_graphs);
        if (no_graphs) {
            ck_assert_int_eq(st.captured + st.replayed, 0);
        } else {
            /* nothing in the generator stops a capture (random noise too: its
             * seeds go up from the pipeline's pinned buffer). Run 1:
             * 4 direct, 4 and 4 captured (one graph per slot), 4 replayed, 3
             * direct; run 2: four replays, the 3 captured. */
            ck_assert_msg(!st.graphs_off, "graphs off: %s", st.graph_error);
            ck_assert_int_eq(st.direct, 2);
            ck_assert_int_eq(st.captured, 3);
            ck_assert_int_eq(st.replayed, 5);
        }
        fs_backend_free(b);
    }
}
END_TEST
#endif

int main(void)
{
    Suite *s = suite_create("sg2_pipeline");
    TCase *cpu = tcase_create("cpu");
    tcase_set_timeout(cpu, 120);
    tcase_add_loop_test(cpu, test_cpu_matches_generate, 0, (int)(sizeof g_cases / sizeof *g_cases));
    tcase_add_loop_test(cpu, test_cpu_half_matches_generate, 0, 2);
    tcase_add_test(cpu, test_refusals);
    tcase_add_loop_test(cpu, test_sim_matches_generate, 0, 6);
    tcase_add_loop_test(cpu, test_sim_stale_graphs, 0, 2);
    suite_add_tcase(s, cpu);
    TCase *cuda = fs_check_gpu_tcase(s, "cuda");
#ifdef FS_WITH_CUDA
    tcase_add_loop_test(cuda, test_cuda_matches_generate, 0,
                        2 * (int)(sizeof g_cases / sizeof *g_cases));
#else
    (void)cuda;
#endif
    return fs_check_run(s, "sg2_pipeline");
}
