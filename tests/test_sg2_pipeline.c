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
