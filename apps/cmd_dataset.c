/* `facesynth dataset`: identity-structured training sets (docs/datasets.md),
 * and `facesynth dataset merge OUT`. This file parses and checks the flags,
 * opens the network(s) and the backend, fills the job (engine/dataset.h),
 * and hands over: the plan, the draws, the formats, the writers, resume and
 * merge are the library's.
 *
 * As in every command, everything that can be checked is checked before
 * anything is written: the flags, the network, the boundaries, the shard,
 * an existing OUT (a dataset of other flags is refused; chunks already done
 * need --resume), and that OUT can be written. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/dataset.h"
#include "../engine/file.h"
#include "../engine/progress.h"
#include "../engine/stylegan2.h"
#include "cli.h"

#define CMD "dataset"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth dataset --network FILE --identities N --per-identity M --outdir OUT\n"
            "                         [options]\n"
            "       facesynth dataset merge OUT\n"
            "\n"
            "Generates a face-recognition training set: N identities, M images of each, every\n"
            "image a function of the network, the flags below that change output and its index\n"
            "(never of --batch, --threads, --writers, --device, --shard or --resume). The\n"
            "draws are in docs/datasets.md:\n"
            "  StyleGAN2: identity i is w(z), z = RandomState(seed + i).randn(z_dim), truncated;\n"
            "    image j of it draws from RandomState(v), v = Philox4x32-10 of (seed, 1, i, j):\n"
            "    z_v = randn(z_dim) gives the ws of --mix-layers, then one uniform strength per\n"
            "    --edit; random noise is keyed by v.\n"
            "  CVAE-GAN: identity i is class i (one-hot); image j is G(z_v, label).\n"
            "  identity mixup: with probability P an identity mixes two pure ones, a and b:\n"
            "    phi w_a + (1 - phi) w_b (a label mixture for a CVAE-GAN), soft label\n"
            "    (phi, 1 - phi) over (a, b).\n"
            "\n"
            "the set:\n"
            "      --network FILE      a StyleGAN2 generator or a CVAE-GAN (.fsw or any\n"
            "                          checkpoint 'convert' reads, with its defaults)\n"
            "      --identities N      identities (CVAE-GAN: at most its n_id classes)\n"
            "      --per-identity M    images of each identity\n"
            "      --seed S            the job's seed, 0 to 4294967295 (default 0)\n"
            "\n"
            "StyleGAN2 variations:\n"
            "      --trunc PSI         truncation psi of every code (default 1: none)\n"
            "      --mix-layers LIST   ws rows taken from the variation's code: 8- (default:\n"
            "                          8 to the last), 4-7, 0-3,8, all or none\n"
            "      --noise-mode M      random (default, keyed by the variation), const or none\n"
            "      --edit FILE:A,B     a random-strength edit along a boundary (.npy or .pt, as\n"
            "                          'edit' reads them, D = w_dim): alpha uniform in [A, B];\n"
            "                          repeatable, applied in order\n"
            "      --edit-layers LIST  ws rows the edits move (default all)\n"
            "\n"
            "identity mixup:\n"
            "      --mixup-prob P      probability that an identity is a mixed one (default 0)\n"
            "      --mixup-weight PHI  phi of every mixed identity, in [0, 1]\n"
            "      --mixup-beta A,B    phi = numpy RandomState.beta(A, B) (default 1,1: uniform)\n"
            "\n"
            "filter scores:\n"
            "      --discriminator FILE  record each image's realism in the manifest: a\n"
            "                          StyleGAN2 discriminator (its logit), or for a CVAE-GAN\n"
            "                          the --network file itself (mean of both scales' src maps)\n"
            "\n"
            "output:\n"
            "      --outdir OUT        the dataset directory (shards of a job share it)\n"
            "      --format F          folder (default: OUT/<identity>/<n>.png, ImageFolder) or\n"
            "                          tar (WebDataset: OUT/<chunk>.tar with .png|.jpg, .json,\n"
            "                          .cls per sample)\n"
            "      --image T           png (default) or jpg (libjpeg-turbo, baseline 4:2:0)\n"
            "      --quality Q         JPEG quality 1-100 (default 95)\n"
            "      --chunk-size S      images per chunk (default 1000): per tar file, per\n"
            "                          manifest part, the unit of resume and of shards\n"
            "      Every run writes job.json; a complete one also manifest.jsonl and\n"
            "      dataset.json (stylegan2-ada labels: class ids, or soft vectors with\n"
            "      mixup); run.log records hosts and times.\n"
            "\n"
            "scale:\n"
            "      --shard K/N         shard K of N: a disjoint, balanced range of chunks\n"
            "      --shard auto        K and N from Slurm (array task or job step), Open MPI or\n"
            "                          PMI; then 'facesynth dataset merge OUT' when all are done\n"
            "      --resume            go on with an OUT of the same job (after kill -9 too)\n"
            "      --batch N           images per forward pass (default 4)\n"
            "      --threads N         CPU worker threads (default 0: one per core)\n"
            "      --writers N         encoding and writing threads (default 2)\n"
            "      --device D          cpu (default), cuda or cuda:N (one process per GPU)\n"
            "      --precision P       CUDA arithmetic: fp32 (default), tf32, fp16, bf16, mixed\n"
            "                          (on the CPU fp16, bf16 and mixed are emulated)\n"
            "  -q, --quiet             no progress on stderr\n"
            "  -h, --help              this text\n");
}

static void merge_usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth dataset merge OUT\n"
            "\n"
            "Combines the manifest parts of a dataset whose shards are all done into\n"
            "OUT/manifest.jsonl and writes OUT/dataset.json, then removes the parts. The\n"
            "result is the same bytes an unsharded run writes.\n"
            "\n"
            "  -q, --quiet             print nothing on success\n"
            "  -h, --help              this text\n");
}

static int cmd_dataset_merge(int argc, char **argv)
{
    static const struct option opts[] = {{"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *cmd = "dataset merge";
    int quiet = 0, c;
    cli_getopt_state go;
    cli_getopt_init(&go);
    while ((c = cli_getopt(&go, cmd, argc, argv, ":qh", opts)) != -1) {
        if (c == CLI_OPT_ERROR)
            return FS_EXIT_FAILURE;
        if (c == 'q')
            quiet = 1;
        else if (c == 'h') {
            merge_usage(stdout);
            return 0;
        } else
            return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    }
    if (optind >= argc)
        return cli_usage_error(cmd, "missing OUT, the dataset directory");
    if (optind + 1 < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
    int state;
    fs_status s = fs_ds_merge(argv[optind], &state);
    if (s != FS_OK)
        return cli_fail(s);
    if (!quiet)
        fprintf(stderr, "facesynth dataset merge: %s: %s\n", argv[optind],
                state ? "already merged" : "merged into manifest.jsonl and dataset.json");
    return 0;
}

/* ---- the dataset command ------------------------------------------------------------- */

typedef struct {
    const char *network, *outdir, *shard, *mix_layers, *edit_layers, *disc;
    const char *device, *precision; /* as given (checked by cli_device_option) */
    const char *edit_specs[FS_DS_MAX_EDITS];
    int n_edits;
    long identities, per_identity, seed, quality, batch, threads, writers;
    long long chunk;
    double psi, mixup_prob, mixup_weight, beta_a, beta_b;
    int has_identities, has_per_identity, has_quality, has_mixup_weight, has_mixup_beta;
    int has_mixup_prob, resume, quiet, has_psi, has_noise;
    fs_noise_mode noise;
    fs_ds_format format;
    fs_ds_image image;
    const char *sg2_flag; /* the first StyleGAN2-only flag given */
} ds_args;

typedef struct {
    ds_args a;
    fs_ds_job job;
    fs_weights *w, *dw;
    fs_backend *b;
    fs_sg2_generator *g;
    fs_cvaegan *cvae;
    fs_sg2_discriminator *d;
    fs_ds_run *run;
    cli_new_dirs made;
    fs_progress prog;
} ds_state;

static void state_free(ds_state *st)
{
    fs_ds_run_free(st->run);
    fs_sg2_discriminator_free(st->d);
    fs_sg2_generator_free(st->g);
    fs_cvaegan_free(st->cvae);
    fs_backend_free(st->b);
    fs_weights_free(st->w);
    fs_weights_free(st->dw);
    fs_ds_job_free(&st->job);
    cli_new_dirs_keep(&st->made);
}

/* "A,B" */
static int parse_pair(const char *s, double *a, double *b)
{
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return 0;
    strcpy(buf, s);
    char *comma = strchr(buf, ',');
    if (!comma || strchr(comma + 1, ','))
        return 0;
    *comma = '\0';
    return cli_parse_double(buf, a) && cli_parse_double(comma + 1, b);
}

/* SHA-256 of a whole file, the job's provenance of a network. */
static fs_status file_sha256(const char *path, char hex[65])
{
    fs_file_map m;
    FS_TRY(fs_file_map_open(path, &m));
    fs_sha256_hex(m.data ? m.data : (const uint8_t *)"", m.size, hex);
    fs_file_map_close(&m);
    return FS_OK;
}

/* --edit FILE:A,B: the boundary, checked against the generator's w_dim. */
static int load_edit(ds_state *st, const char *spec, int w_dim)
{
    fs_ds_edit *e = &st->job.edits[st->job.n_edits];
    const char *colon = strrchr(spec, ':');
    double lo, hi;
    if (!colon || colon == spec || !parse_pair(colon + 1, &lo, &hi))
        return cli_usage_error(CMD, "--edit needs FILE:A,B (a boundary and its strength range), "
                               "not '%s'", spec);
    if (lo > hi)
        return cli_usage_error(CMD, "--edit %s: the range is empty (A must be <= B)", spec);
    if (!(e->path = strndup(spec, (size_t)(colon - spec))))
        return cli_fail(fs_error(FS_ERR_NOMEM, "out of memory"));
    st->job.n_edits++;
    e->lo = lo;
    e->hi = hi;
    fs_status s = fs_boundary_load(e->path, &e->b);
    if (s == FS_OK)
        s = fs_boundary_check_dim(&e->b, e->path, w_dim, "--edit", "w_dim");
    if (s != FS_OK)
        return cli_fail(s);
    if (!fs_boundary_is_unit(&e->b))
        fprintf(stderr, "facesynth dataset: warning: %s has norm %.9g, not 1: its strengths are "
                "scaled by it\n", e->path, e->b.norm);
    return 0;
}

static const char *getenv_cb(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

static void on_progress(void *user, uint64_t done)
{
    fs_progress_update(user, done);
}

/* Network, job and checks; 0 or an exit status. */
static int prepare(ds_state *st, fs_ds_shard *shard, char *shard_src, size_t src_cap)
{
    ds_args *a = &st->a;
    fs_ds_job *j = &st->job;
    fs_status s;
    int rc;
    if (a->shard && !strcmp(a->shard, "auto")) {
        if ((s = fs_ds_shard_auto(getenv_cb, NULL, shard, shard_src, src_cap)) != FS_OK)
            return cli_usage_error(CMD, "%s", fs_error_message());
    } else if (a->shard) {
        if ((s = fs_ds_shard_parse(a->shard, shard)) != FS_OK)
            return cli_usage_error(CMD, "%s", fs_error_message());
        snprintf(shard_src, src_cap, "--shard %s", a->shard);
    } else {
        *shard = (fs_ds_shard){.k = 0, .n = 1};
        snprintf(shard_src, src_cap, "unsharded");
    }
    if ((s = cli_open_network(a->network, CLI_NET_GENERATOR, NULL, &st->w)) != FS_OK)
        return cli_fail(s);
    if ((s = file_sha256(a->network, j->network_sha256)) != FS_OK)
        return cli_fail(s);
    int cvae = fs_weights_family(st->w) == FS_FAMILY_CVAEGAN;
    if (cvae && a->sg2_flag)
        return cli_usage_error(CMD, "--%s is a StyleGAN2 option; %s is a CVAE-GAN (its "
                               "variations are z alone)", a->sg2_flag, a->network);
    if ((s = cli_backend_open(a->threads, &st->b)) != FS_OK)
        return cli_fail(s);
    j->identities = (uint64_t)a->identities;
    j->per_identity = (uint64_t)a->per_identity;
    j->seed = (uint32_t)a->seed;
    j->format = a->format;
    j->image = a->image;
    j->quality = (int)a->quality;
    j->chunk = (uint64_t)a->chunk;
    j->mixup_prob = a->mixup_prob;
    j->mixup_fixed = a->has_mixup_weight;
    j->mixup_weight = a->mixup_weight;
    j->beta_a = a->beta_a;
    j->beta_b = a->beta_b;
    j->noise = a->noise;
    j->psi = a->psi;
    snprintf(j->precision, sizeof j->precision, "%s", a->precision);
    if (cvae) {
        if ((s = fs_cvaegan_init(&st->cvae, st->w, st->b)) != FS_OK)
            return cli_fail(s);
        const fs_cvaegan_config *c = fs_cvaegan_get_config(st->cvae);
        j->family = FS_DS_CVAE;
        j->z_dim = (int)c->z_dim;
        j->n_classes = (int)c->n_id;
        j->img_res = (int)c->img_resolution;
        j->img_channels = 3;
        if (a->disc) {
            char h[65];
            if ((s = file_sha256(a->disc, h)) != FS_OK)
                return cli_fail(s);
            if (strcmp(h, j->network_sha256))
                return cli_usage_error(CMD, "--discriminator %s: a CVAE-GAN is scored by its "
                                       "own discriminators; give the --network file", a->disc);
            memcpy(j->disc_sha256, h, sizeof h);
        }
    } else {
        if ((s = fs_sg2_generator_init(&st->g, st->w, st->b)) != FS_OK)
            return cli_fail(s);
        const fs_sg2_config *c = fs_sg2_generator_config(st->g);
        if (c->c_dim > 0)
            return cli_usage_error(CMD, "%s is a conditional StyleGAN2 (c_dim %lld): dataset "
                                   "takes unconditional generators", a->network,
                                   (long long)c->c_dim);
        j->family = FS_DS_SG2;
        j->z_dim = (int)c->z_dim;
        j->w_dim = (int)c->w_dim;
        j->num_ws = (int)fs_sg2_num_ws(c);
        j->img_res = (int)c->img_resolution;
        j->img_channels = (int)c->img_channels;
        if (j->img_channels != 1 && j->img_channels != 3 && a->image == FS_DS_JPEG)
            return cli_usage_error(CMD, "--image jpg: the network makes %d-channel images "
                                   "(JPEG holds 1 or 3)", j->img_channels);
        const char *ml = a->mix_layers ? a->mix_layers : "8-";
        if ((s = fs_ds_parse_layers(ml, j->num_ws, a->mix_layers ? "--mix-layers"
                                                                 : "--mix-layers (default 8-)",
                                    &j->mix_mask)) != FS_OK)
            return cli_usage_error(CMD, "%s", fs_error_message());
        if ((s = fs_ds_parse_layers(a->edit_layers ? a->edit_layers : "all", j->num_ws,
                                    "--edit-layers", &j->edit_mask)) != FS_OK)
            return cli_usage_error(CMD, "%s", fs_error_message());
        for (int i = 0; i < a->n_edits; i++)
            if ((rc = load_edit(st, a->edit_specs[i], j->w_dim)))
                return rc;
        if (a->disc) {
            if ((s = cli_open_network(a->disc, CLI_NET_DISCRIMINATOR, NULL, &st->dw)) != FS_OK ||
                (s = file_sha256(a->disc, j->disc_sha256)) != FS_OK ||
                (s = fs_sg2_discriminator_init(&st->d, st->dw, st->b)) != FS_OK)
                return cli_fail(s);
            const fs_sg2_config *dc = fs_sg2_discriminator_config(st->d);
            if (dc->c_dim > 0 || dc->img_resolution != c->img_resolution ||
                dc->img_channels != c->img_channels)
                return cli_usage_error(CMD, "--discriminator %s: an unconditional discriminator "
                                       "of %lldx%lld x %lld images is needed (it is %lldx%lld "
                                       "x %lld, c_dim %lld)", a->disc,
                                       (long long)c->img_resolution,
                                       (long long)c->img_resolution, (long long)c->img_channels,
                                       (long long)dc->img_resolution,
                                       (long long)dc->img_resolution,
                                       (long long)dc->img_channels, (long long)dc->c_dim);
        }
    }
    char note[512];
    snprintf(note, sizeof note, "%s; network %s; device %s; threads %ld; batch %ld; writers %ld",
             shard_src, a->network, a->device, a->threads, a->batch, a->writers);
    fs_ds_run_args ra = {
        .outdir = a->outdir,
        .job = j,
        .shard = *shard,
        .resume = a->resume,
        .batch = (int)a->batch,
        .writers = (int)a->writers,
        .g = st->g,
        .cvae = st->cvae,
        .d = st->d,
        .cvae_scores = cvae && a->disc,
        .run_note = note,
    };
    if ((s = fs_ds_run_prepare(&ra, &st->run)) != FS_OK)
        return s == FS_ERR_ARG ? cli_usage_error(CMD, "%s", fs_error_message()) : cli_fail(s);
    /* OUT exists and can be written before the first image is computed */
    if ((s = cli_make_outdir(a->outdir, &st->made)) != FS_OK)
        return cli_fail(s);
    if (!a->quiet)
        fprintf(stderr, "facesynth dataset: %s: shard %llu/%llu (%s): %llu images, %llu to do\n",
                a->outdir, (unsigned long long)shard->k, (unsigned long long)shard->n,
                shard_src, (unsigned long long)fs_ds_run_shard_images(st->run),
                (unsigned long long)fs_ds_run_todo(st->run));
    return 0;
}

int cmd_dataset(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "merge")) {
        cli_set_command("dataset merge");
        return cmd_dataset_merge(argc - 1, argv + 1);
    }
    enum { O_NET = 256, O_IDS, O_PER, O_OUT, O_FORMAT, O_IMAGE, O_QUALITY, O_CHUNK, O_SHARD,
           O_RESUME, O_SEED, O_TRUNC, O_MIX, O_NOISE, O_EDIT, O_EDIT_LAYERS, O_MIXP, O_MIXW,
           O_MIXB, O_DISC, O_BATCH, O_THREADS, O_WRITERS, O_DEVICE, O_PRECISION };
    static const struct option opts[] = {
        {"network", required_argument, 0, O_NET},
        {"identities", required_argument, 0, O_IDS},
        {"per-identity", required_argument, 0, O_PER},
        {"outdir", required_argument, 0, O_OUT},
        {"format", required_argument, 0, O_FORMAT},
        {"image", required_argument, 0, O_IMAGE},
        {"quality", required_argument, 0, O_QUALITY},
        {"chunk-size", required_argument, 0, O_CHUNK},
        {"shard", required_argument, 0, O_SHARD},
        {"resume", no_argument, 0, O_RESUME},
        {"seed", required_argument, 0, O_SEED},
        {"trunc", required_argument, 0, O_TRUNC},
        {"mix-layers", required_argument, 0, O_MIX},
        {"noise-mode", required_argument, 0, O_NOISE},
        {"edit", required_argument, 0, O_EDIT},
        {"edit-layers", required_argument, 0, O_EDIT_LAYERS},
        {"mixup-prob", required_argument, 0, O_MIXP},
        {"mixup-weight", required_argument, 0, O_MIXW},
        {"mixup-beta", required_argument, 0, O_MIXB},
        {"discriminator", required_argument, 0, O_DISC},
        {"batch", required_argument, 0, O_BATCH},
        {"threads", required_argument, 0, O_THREADS},
        {"writers", required_argument, 0, O_WRITERS},
        {"device", required_argument, 0, O_DEVICE},
        {"precision", required_argument, 0, O_PRECISION},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    ds_state st;
    memset(&st, 0, sizeof st);
    ds_args *a = &st.a;
    a->psi = 1.0;
    a->noise = FS_NOISE_RANDOM;
    a->quality = 95;
    a->chunk = 1000;
    a->batch = 4;
    a->writers = 2;
    a->beta_a = a->beta_b = 1.0;
    a->device = "cpu";
    a->precision = "fp32";
    int c, rc;
    cli_getopt_state go;
    cli_getopt_init(&go);
    cli_getopt_repeatable(&go, opts, "edit");
    while ((c = cli_getopt(&go, CMD, argc, argv, ":qh", opts)) != -1) {
        if (c == CLI_OPT_ERROR)
            return FS_EXIT_FAILURE;
        switch (c) {
        case O_TRUNC: case O_MIX: case O_NOISE: case O_EDIT: case O_EDIT_LAYERS:
            if (!a->sg2_flag)
                a->sg2_flag = go.name;
            break;
        }
        switch (c) {
        case O_NET: a->network = optarg; break;
        case O_OUT: a->outdir = optarg; break;
        case O_SHARD: a->shard = optarg; break;
        case O_MIX: a->mix_layers = optarg; break;
        case O_EDIT_LAYERS: a->edit_layers = optarg; break;
        case O_DISC: a->disc = optarg; break;
        case O_RESUME: a->resume = 1; break;
        case 'q': a->quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case O_IDS:
            if (!cli_parse_long(optarg, 1, (long)FS_DS_MAX_IDENTITIES, &a->identities))
                return cli_usage_error(CMD, "--identities needs an integer from 1 to %llu, not "
                                       "'%s'", (unsigned long long)FS_DS_MAX_IDENTITIES, optarg);
            a->has_identities = 1;
            break;
        case O_PER:
            if (!cli_parse_long(optarg, 1, 4294967295L, &a->per_identity))
                return cli_usage_error(CMD, "--per-identity needs an integer from 1 to "
                                       "4294967295, not '%s'", optarg);
            a->has_per_identity = 1;
            break;
        case O_SEED:
            if (!cli_parse_long(optarg, 0, 4294967295L, &a->seed))
                return cli_usage_error(CMD, "--seed needs an integer from 0 to 4294967295, not "
                                       "'%s'", optarg);
            break;
        case O_FORMAT:
            if (!strcmp(optarg, "folder"))
                a->format = FS_DS_FOLDER;
            else if (!strcmp(optarg, "tar"))
                a->format = FS_DS_TAR;
            else
                return cli_usage_error(CMD, "--format must be folder or tar, not '%s'", optarg);
            break;
        case O_IMAGE:
            if (!strcmp(optarg, "png"))
                a->image = FS_DS_PNG;
            else if (!strcmp(optarg, "jpg") || !strcmp(optarg, "jpeg"))
                a->image = FS_DS_JPEG;
            else
                return cli_usage_error(CMD, "--image must be png or jpg, not '%s'", optarg);
            break;
        case O_QUALITY:
            if (!cli_parse_long(optarg, 1, 100, &a->quality))
                return cli_usage_error(CMD, "--quality needs an integer from 1 to 100, not '%s'",
                                       optarg);
            a->has_quality = 1;
            break;
        case O_CHUNK: {
            long v;
            if (!cli_parse_long(optarg, 1, 100000000L, &v))
                return cli_usage_error(CMD, "--chunk-size needs an integer from 1 to 100000000, "
                                       "not '%s'", optarg);
            a->chunk = v;
            break;
        }
        case O_TRUNC:
            if (!cli_parse_double(optarg, &a->psi))
                return cli_usage_error(CMD, "--trunc needs a number, not '%s'", optarg);
            break;
        case O_NOISE:
            if (!cli_parse_noise(optarg, &a->noise))
                return cli_usage_error(CMD, "--noise-mode must be random, const or none, not "
                                       "'%s'", optarg);
            break;
        case O_EDIT:
            if (a->n_edits >= FS_DS_MAX_EDITS)
                return cli_usage_error(CMD, "at most %d --edit", FS_DS_MAX_EDITS);
            a->edit_specs[a->n_edits++] = optarg;
            break;
        case O_MIXP:
            if (!cli_parse_double(optarg, &a->mixup_prob) || a->mixup_prob < 0 ||
                a->mixup_prob > 1)
                return cli_usage_error(CMD, "--mixup-prob needs a probability in [0, 1], not "
                                       "'%s'", optarg);
            a->has_mixup_prob = 1;
            break;
        case O_MIXW:
            if (!cli_parse_double(optarg, &a->mixup_weight) || a->mixup_weight < 0 ||
                a->mixup_weight > 1)
                return cli_usage_error(CMD, "--mixup-weight needs a number in [0, 1], not '%s'",
                                       optarg);
            a->has_mixup_weight = 1;
            break;
        case O_MIXB:
            if (!parse_pair(optarg, &a->beta_a, &a->beta_b) || !(a->beta_a > 0) ||
                !(a->beta_b > 0))
                return cli_usage_error(CMD, "--mixup-beta needs A,B (two numbers > 0), not '%s'",
                                       optarg);
            a->has_mixup_beta = 1;
            break;
        case O_BATCH:
            if ((rc = cli_batch_option(CMD, optarg, &a->batch)))
                return rc;
            break;
        case O_THREADS:
            if ((rc = cli_threads_option(CMD, optarg, &a->threads)))
                return rc;
            break;
        case O_WRITERS:
            if (!cli_parse_long(optarg, 1, 32, &a->writers))
                return cli_usage_error(CMD, "--writers needs an integer from 1 to 32, not '%s'",
                                       optarg);
            break;
        case O_DEVICE:
            if ((rc = cli_device_option(CMD, optarg)))
                return rc;
            a->device = optarg;
            break;
        case O_PRECISION:
            if ((rc = cli_precision_option(CMD, optarg)))
                return rc;
            a->precision = optarg;
            break;
        default:
            return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!a->network)
        return cli_usage_error(CMD, "missing --network FILE");
    if (!a->has_identities)
        return cli_usage_error(CMD, "missing --identities N");
    if (!a->has_per_identity)
        return cli_usage_error(CMD, "missing --per-identity M");
    if (!a->outdir || !*a->outdir)
        return cli_usage_error(CMD, a->outdir ? "--outdir is empty" : "missing --outdir OUT");
    if ((rc = cli_precision_check(CMD)))
        return rc;
    if (a->has_quality && a->image != FS_DS_JPEG)
        return cli_usage_error(CMD, "--quality goes with --image jpg");
    if (a->has_mixup_weight && a->has_mixup_beta)
        return cli_usage_error(CMD, "--mixup-weight and --mixup-beta are mutually exclusive");
    if ((a->has_mixup_weight || a->has_mixup_beta) && !(a->mixup_prob > 0))
        return cli_usage_error(CMD, "--%s goes with --mixup-prob P > 0",
                               a->has_mixup_weight ? "mixup-weight" : "mixup-beta");
    if (a->edit_layers && !a->n_edits)
        return cli_usage_error(CMD, "--edit-layers goes with --edit");
    fs_ds_shard shard;
    char shard_src[256];
    rc = prepare(&st, &shard, shard_src, sizeof shard_src);
    if (rc) {
        state_free(&st);
        return rc;
    }
    fs_progress_start(&st.prog, stderr, a->quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO,
                      "images", "img/s", fs_ds_run_todo(st.run));
    fs_status s = fs_ds_run_execute(st.run, on_progress, &st.prog);
    if (s != FS_OK) {
        fs_progress_abort(&st.prog);
        rc = cli_fail(s);
        cli_new_dirs_remove(&st.made); /* only what is still empty */
    } else {
        fs_progress_finish(&st.prog);
    }
    state_free(&st);
    return rc;
}
