/* `facesynth mixup`: domain mixup (docs/datasets.md). Synthetic faces
 * blended with real ones pixel-wise on the backend (the blend op), each
 * with a soft label over both sets' classes. Parsing and checks here; the
 * sets, the draws, the blend and the outputs are engine/dataset_mixup.c's.
 * Both sets are listed and every image's size read before anything is
 * written; a set of another size is refused with one line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/dataset.h"
#include "../engine/progress.h"
#include "cli.h"

#define CMD "mixup"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth mixup --synthetic DIR --real DIR --outdir OUT\n"
            "                       [--weight PHI | --beta A,B] [options]\n"
            "\n"
            "Blends every synthetic image with a real one, pixel by pixel:\n"
            "  out = round(phi * synthetic + (1 - phi) * real)   (float32, half up)\n"
            "and labels it phi * (its synthetic label) followed by (1 - phi) * (the real\n"
            "one's). A set is an ImageFolder tree (a directory per class) or one flat\n"
            "directory (one class); a dataset.json in it (stylegan2-ada's, or 'facesynth\n"
            "dataset's) gives the labels instead. Synthetic image j (in path order) draws its\n"
            "real partner and phi from numpy RandomState(v), v = Philox4x32-10 of\n"
            "(seed, 3, j, 0):\n"
            "  k = floor(random_sample() * N_real);  phi = PHI, or beta(A, B)\n"
            "\n"
            "      --synthetic DIR     the synthetic set\n"
            "      --real DIR          the real set: every image the synthetic ones' size\n"
            "      --outdir OUT        a new or empty directory: the blends (the synthetic\n"
            "                          paths), manifest.jsonl (pairs, phi, labels) and\n"
            "                          dataset.json (soft label vectors; \"classes\" names them)\n"
            "      --weight PHI        one phi in [0, 1] for every pair\n"
            "      --beta A,B          phi = beta(A, B), A, B > 0 (default 1,1: uniform)\n"
            "      --seed S            0 to 4294967295 (default 0)\n"
            "      --image T           png (default) or jpg\n"
            "      --quality Q         JPEG quality 1-100 (default 95)\n"
            "      --batch N           pairs per blend on the backend (default 16)\n"
            "      --writers N         threads that decode, encode and write (default 2)\n"
            "      --device D          cpu (default), cuda or cuda:N\n"
            "      --threads N         CPU worker threads (default 0: one per core)\n"
            "  -q, --quiet             no progress on stderr\n"
            "  -h, --help              this text\n");
}

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

static void on_progress(void *user, uint64_t done)
{
    fs_progress_update(user, done);
}

int cmd_mixup(int argc, char **argv)
{
    enum { O_SYN = 256, O_REAL, O_OUT, O_WEIGHT, O_BETA, O_SEED, O_IMAGE, O_QUALITY, O_BATCH,
           O_WRITERS, O_DEVICE, O_THREADS };
    static const struct option opts[] = {
        {"synthetic", required_argument, 0, O_SYN}, {"real", required_argument, 0, O_REAL},
        {"outdir", required_argument, 0, O_OUT},    {"weight", required_argument, 0, O_WEIGHT},
        {"beta", required_argument, 0, O_BETA},     {"seed", required_argument, 0, O_SEED},
        {"image", required_argument, 0, O_IMAGE},   {"quality", required_argument, 0, O_QUALITY},
        {"batch", required_argument, 0, O_BATCH},   {"writers", required_argument, 0, O_WRITERS},
        {"device", required_argument, 0, O_DEVICE}, {"threads", required_argument, 0, O_THREADS},
        {"quiet", no_argument, 0, 'q'},             {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    fs_mixup_args ma = {.beta_a = 1, .beta_b = 1, .quality = 95, .batch = 16, .writers = 2,
                        .image = FS_DS_PNG};
    long v, threads = 0;
    int quiet = 0, has_weight = 0, has_beta = 0, has_quality = 0, c, rc;
    cli_getopt_state go;
    cli_getopt_init(&go);
    while ((c = cli_getopt(&go, CMD, argc, argv, ":qh", opts)) != -1) {
        if (c == CLI_OPT_ERROR)
            return FS_EXIT_FAILURE;
        switch (c) {
        case O_SYN: ma.synthetic = optarg; break;
        case O_REAL: ma.real = optarg; break;
        case O_OUT: ma.outdir = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case O_WEIGHT:
            if (!cli_parse_double(optarg, &ma.weight) || ma.weight < 0 || ma.weight > 1)
                return cli_usage_error(CMD, "--weight needs a number in [0, 1], not '%s'", optarg);
            has_weight = 1;
            break;
        case O_BETA:
            if (!parse_pair(optarg, &ma.beta_a, &ma.beta_b) || !(ma.beta_a > 0) ||
                !(ma.beta_b > 0))
                return cli_usage_error(CMD, "--beta needs A,B (two numbers > 0), not '%s'",
                                       optarg);
            has_beta = 1;
            break;
        case O_SEED:
            if (!cli_parse_long(optarg, 0, 4294967295L, &v))
                return cli_usage_error(CMD, "--seed needs an integer from 0 to 4294967295, not "
                                       "'%s'", optarg);
            ma.seed = (uint32_t)v;
            break;
        case O_IMAGE:
            if (!strcmp(optarg, "png"))
                ma.image = FS_DS_PNG;
            else if (!strcmp(optarg, "jpg") || !strcmp(optarg, "jpeg"))
                ma.image = FS_DS_JPEG;
            else
                return cli_usage_error(CMD, "--image must be png or jpg, not '%s'", optarg);
            break;
        case O_QUALITY:
            if (!cli_parse_long(optarg, 1, 100, &v))
                return cli_usage_error(CMD, "--quality needs an integer from 1 to 100, not '%s'",
                                       optarg);
            ma.quality = (int)v;
            has_quality = 1;
            break;
        case O_BATCH:
            if ((rc = cli_batch_option(CMD, optarg, &v)))
                return rc;
            ma.batch = (int)v;
            break;
        case O_WRITERS:
            if (!cli_parse_long(optarg, 1, 32, &v))
                return cli_usage_error(CMD, "--writers needs an integer from 1 to 32, not '%s'",
                                       optarg);
            ma.writers = (int)v;
            break;
        case O_THREADS:
            if ((rc = cli_threads_option(CMD, optarg, &threads)))
                return rc;
            break;
        case O_DEVICE:
            if ((rc = cli_device_option(CMD, optarg)))
                return rc;
            break;
        default:
            return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!ma.synthetic)
        return cli_usage_error(CMD, "missing --synthetic DIR");
    if (!ma.real)
        return cli_usage_error(CMD, "missing --real DIR");
    if (!ma.outdir || !*ma.outdir)
        return cli_usage_error(CMD, ma.outdir ? "--outdir is empty" : "missing --outdir OUT");
    if (has_weight && has_beta)
        return cli_usage_error(CMD, "--weight and --beta are mutually exclusive");
    if (has_quality && ma.image != FS_DS_JPEG)
        return cli_usage_error(CMD, "--quality goes with --image jpg");
    ma.fixed = has_weight;

    fs_mixup *m = NULL;
    fs_backend *be = NULL;
    cli_new_dirs made = {0};
    fs_status s = fs_mixup_prepare(&ma, &m);
    if (s != FS_OK)
        return cli_fail(s);
    s = cli_backend_open(threads, &be);
    if (s == FS_OK)
        s = cli_make_dirs(ma.outdir, &made);
    if (s == FS_OK)
        s = cli_probe_dir(ma.outdir);
    if (s != FS_OK) {
        rc = cli_fail(s);
        cli_new_dirs_remove(&made);
        fs_backend_free(be);
        fs_mixup_free(m);
        return rc;
    }
    fs_progress prog = {0};
    fs_progress_start(&prog, stderr, quiet ? FS_PROGRESS_QUIET : FS_PROGRESS_AUTO, "images",
                      "img/s", fs_mixup_count(m));
    s = fs_mixup_execute(m, be, on_progress, &prog);
    rc = 0;
    if (s != FS_OK) {
        fs_progress_abort(&prog);
        rc = cli_fail(s);
        cli_new_dirs_remove(&made);
    } else {
        fs_progress_finish(&prog);
        cli_new_dirs_keep(&made);
    }
    fs_backend_free(be);
    fs_mixup_free(m);
    return rc;
}
