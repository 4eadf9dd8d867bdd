/* `facesynth boundary`: boundary files without a generator
 * (docs/editing.md).
 *   project: a primal boundary made orthogonal to condition boundaries, as
 *            InterFaceGAN's project_boundary (and `edit --condition`) does;
 *   train:   a boundary from latent codes and attribute scores, as
 *            InterFaceGAN's train_boundary does (libsvm, numpy's split).
 * The math is the library's (engine/edit.h); this file reads, checks,
 * prints and writes. Error lines start "facesynth boundary <sub>: ". */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/edit.h"
#include "../engine/file.h"
#include "../weights_tools/npy.h"
#include "cli.h"

#define MAX_CONDITIONS 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth boundary project PRIMAL --condition FILE [--condition FILE ...]\n"
            "                                  -o OUT.npy [--normalize] [-q]\n"
            "       facesynth boundary train --latents CODES.npy --scores SCORES.npy -o OUT.npy\n"
            "                                [--ratio R] [--split S] [--invalid-value V]\n"
            "                                [--seed S] [-q]\n"
            "\n"
            "Run 'facesynth boundary project --help' or 'facesynth boundary train --help'.\n");
}

/* ---- project ------------------------------------------------------------------ */

static void usage_project(FILE *f)
{
    fprintf(f,
            "usage: facesynth boundary project PRIMAL --condition FILE [--condition FILE ...]\n"
            "                                  -o OUT.npy [options]\n"
            "\n"
            "Makes the primal boundary orthogonal to every condition at once, as InterFaceGAN's\n"
            "project_boundary does (the same projection as 'edit --condition'): one condition\n"
            "c: p - <p,c> c; two: the official closed form, whose 1e-8 in the denominator\n"
            "leaves the result orthogonal to about 1e-8; three or more: the least-squares\n"
            "solve. The result is normalised and written as (1, D), float64 if any input is\n"
            "float64, else float32. Boundaries are .npy (float32/64, (1, D) or (D,)) or a torch\n"
            "file holding one such tensor.\n"
            "\n"
            "      --condition FILE    a condition boundary (repeatable; at least one)\n"
            "  -o, --output FILE.npy   the projected boundary\n"
            "      --normalize         divide every input by its norm first (the official\n"
            "                          function assumes unit inputs; other norms are warned\n"
            "                          about)\n"
            "  -q, --quiet             no summary on stdout\n"
            "  -h, --help              this text\n");
}

#define SUB_PROJECT "boundary project"
#define SUB_TRAIN "boundary train"

static int cmd_project(int argc, char **argv)
{
    enum { O_COND = 256, O_NORM };
    static const struct option opts[] = {
        {"condition", required_argument, 0, O_COND}, {"output", required_argument, 0, 'o'},
        {"normalize", no_argument, 0, O_NORM},       {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},               {0, 0, 0, 0}};
    const char *cpaths[MAX_CONDITIONS], *out = NULL;
    int nc = 0, normalize = 0, quiet = 0, c;
    cli_getopt_state go;
    cli_getopt_init(&go);
    cli_getopt_repeatable(&go, opts, "condition");
    while ((c = cli_getopt(&go, SUB_PROJECT, argc, argv, ":o:qh", opts)) != -1) {
        switch (c) {
        case CLI_OPT_ERROR: return FS_EXIT_FAILURE;
        case 'h': usage_project(stdout); return 0;
        case 'o': out = optarg; break;
        case 'q': quiet = 1; break;
        case O_NORM: normalize = 1; break;
        case O_COND:
            if (nc >= MAX_CONDITIONS)
                return cli_usage_error(SUB_PROJECT, "at most %d --condition files",
                                       MAX_CONDITIONS);
            cpaths[nc++] = optarg;
            break;
        default: return cli_usage_error(SUB_PROJECT, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error(SUB_PROJECT, "missing the PRIMAL boundary file");
    if (optind + 1 < argc)
        return cli_usage_error(SUB_PROJECT, "unexpected argument '%s'", argv[optind + 1]);
    const char *primal_path = argv[optind];
    if (nc == 0)
        return cli_usage_error(SUB_PROJECT, "missing --condition FILE: there is nothing to "
                               "project out");
    if (!out)
        return cli_usage_error(SUB_PROJECT, "missing -o OUT.npy");
    int rc = cli_check_output(SUB_PROJECT, "--output", out);
    if (rc)
        return rc;

    fs_boundary primal = {0}, conds[MAX_CONDITIONS], result = {0};
    memset(conds, 0, sizeof conds);
    const char *names[MAX_CONDITIONS + 1] = {primal_path};
    fs_status s = fs_boundary_load(primal_path, &primal);
    for (int i = 0; i < nc && s == FS_OK; i++) {
        names[i + 1] = cpaths[i];
        s = fs_boundary_load(cpaths[i], &conds[i]);
    }
    for (int i = 0; i <= nc && s == FS_OK; i++) {
        fs_boundary *b = i ? &conds[i - 1] : &primal;
        if (normalize)
            fs_boundary_normalize(b);
        else if (!fs_boundary_is_unit(b))
            fprintf(stderr, "facesynth " SUB_PROJECT ": warning: %s has norm %.9g, not 1 (the "
                    "projection assumes unit boundaries; --normalize divides by the norm)\n",
                    names[i], b->norm);
    }
    if (s == FS_OK)
        s = fs_boundary_project(&primal, conds, nc, names, &result);
    if (s == FS_OK) {
        cli_clean_stale_output(out);
        s = fs_boundary_write(out, &result);
    }
    if (s == FS_OK && !quiet) {
        double cos_p = 0, worst = 0;
        for (int d = 0; d < result.dim; d++)
            cos_p += result.v[d] * primal.v[d];
        cos_p /= primal.norm;
        for (int i = 0; i < nc; i++) {
            double dc = 0;
            for (int d = 0; d < result.dim; d++)
                dc += result.v[d] * conds[i].v[d];
            worst = fmax(worst, fabs(dc / conds[i].norm));
        }
        printf("%s: %s projected out of %d condition%s (D = %d, %s): cos with the primal "
               "%.6f, max |cos| with a condition %.3g\n", out, primal_path, nc, nc > 1 ? "s" : "",
               result.dim, result.dtype == FS_DTYPE_F64 ? "float64" : "float32", cos_p, worst);
    }
    rc = s == FS_OK ? 0 : cli_fail(s);
    fs_boundary_free(&primal);
    fs_boundary_free(&result);
    for (int i = 0; i < nc; i++)
        fs_boundary_free(&conds[i]);
    return rc;
}

/* ---- train ------------------------------------------------------------------------ */

static void usage_train(FILE *f)
{
    fprintf(f,
            "usage: facesynth boundary train --latents CODES.npy --scores SCORES.npy -o OUT.npy\n"
            "                                [options]\n"
            "\n"
            "Trains a boundary as InterFaceGAN's train_boundary does: rows whose score equals\n"
            "--invalid-value are dropped; the rest are sorted by score (descending, numpy's\n"
            "argsort); the top and bottom `chosen` rows are the positives and negatives, each\n"
            "split into training and validation by numpy's legacy shuffle after\n"
            "np.random.seed(S) (positives first); a linear SVM (libsvm C-SVC, C = 1, tolerance\n"
            "1e-3, the defaults of scikit-learn's SVC) is fitted on the training rows; the\n"
            "accuracies on the validation rows and on the remaining rows (labelled by the\n"
            "mid-range of the scores) are printed as the official function logs them; the unit\n"
            "normal toward the high scores is written as float32 (1, D).\n"
            "\n"
            "      --latents FILE.npy  latent codes [N, D] (float32/64)\n"
            "      --scores FILE.npy   attribute scores [N, 1] or [N] (float32/64)\n"
            "  -o, --output FILE.npy   the boundary\n"
            "      --ratio R           chosen per side: R * N if 0 < R <= 1, else R itself as a\n"
            "                          count; at most N / 2 (default 0.02)\n"
            "      --split S           training share of the chosen, in (0, 1] (default 0.7)\n"
            "      --invalid-value V   drop rows whose score equals V (compared in the scores'\n"
            "                          type, as numpy does)\n"
            "      --seed S            np.random.seed(S) before the split, 0 to 4294967295\n"
            "                          (default 0)\n"
            "  -q, --quiet             print only the accuracies\n"
            "  -h, --help              this text\n");
}

/* An .npy mapped in memory; the array points into the mapping. */
typedef struct {
    fs_file_map map;
    fs_npy a;
} npy_file;

static fs_status npy_open(const char *path, npy_file *f)
{
    memset(f, 0, sizeof *f);
    FS_TRY(fs_file_map_open(path, &f->map));
    return fs_npy_parse(f->map.data ? f->map.data : (const uint8_t *)"", f->map.size, path,
                        &f->a);
}

static int cmd_train(int argc, char **argv)
{
    enum { O_LATENTS = 256, O_SCORES, O_RATIO, O_SPLIT, O_INVALID, O_SEED };
    static const struct option opts[] = {
        {"latents", required_argument, 0, O_LATENTS}, {"scores", required_argument, 0, O_SCORES},
        {"output", required_argument, 0, 'o'},        {"ratio", required_argument, 0, O_RATIO},
        {"split", required_argument, 0, O_SPLIT},     {"invalid-value", required_argument, 0, O_INVALID},
        {"seed", required_argument, 0, O_SEED},       {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},                {0, 0, 0, 0}};
    const char *latents = NULL, *scores = NULL, *out = NULL;
    fs_boundary_train_args ta = {.ratio = 0.02, .split = 0.7};
    int quiet = 0, c;
    long seed = 0;
    cli_getopt_state go;
    cli_getopt_init(&go);
    while ((c = cli_getopt(&go, SUB_TRAIN, argc, argv, ":o:qh", opts)) != -1) {
        switch (c) {
        case CLI_OPT_ERROR: return FS_EXIT_FAILURE;
        case 'h': usage_train(stdout); return 0;
        case 'o': out = optarg; break;
        case 'q': quiet = 1; break;
        case O_LATENTS: latents = optarg; break;
        case O_SCORES: scores = optarg; break;
        case O_RATIO:
            if (!cli_parse_double(optarg, &ta.ratio) || !(ta.ratio > 0))
                return cli_usage_error(SUB_TRAIN, "--ratio needs a number > 0 (a ratio up to 1, "
                                       "a count above), not '%s'", optarg);
            break;
        case O_SPLIT:
            if (!cli_parse_double(optarg, &ta.split) || !(ta.split > 0 && ta.split <= 1))
                return cli_usage_error(SUB_TRAIN, "--split needs a number in (0, 1], not '%s'",
                                       optarg);
            break;
        case O_INVALID:
            if (!cli_parse_double(optarg, &ta.invalid_value))
                return cli_usage_error(SUB_TRAIN, "--invalid-value needs a number, not '%s'",
                                       optarg);
            ta.has_invalid = 1;
            break;
        case O_SEED:
            if (!cli_parse_long(optarg, 0, 4294967295L, &seed))
                return cli_usage_error(SUB_TRAIN, "--seed needs an integer from 0 to "
                                       "4294967295, not '%s'", optarg);
            break;
        default: return cli_usage_error(SUB_TRAIN, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(SUB_TRAIN, "unexpected argument '%s'", argv[optind]);
    if (!latents || !scores)
        return cli_usage_error(SUB_TRAIN, "missing --%s FILE.npy", latents ? "scores" : "latents");
    if (!out)
        return cli_usage_error(SUB_TRAIN, "missing -o OUT.npy");
    int rc = cli_check_output(SUB_TRAIN, "--output", out);
    if (rc)
        return rc;
    ta.seed = (uint32_t)seed;
    ta.codes_label = latents;
    ta.scores_label = scores;

    npy_file cf, sf;
    fs_boundary_train_result r;
    memset(&r, 0, sizeof r);
    fs_status s = npy_open(latents, &cf);
    if (s == FS_OK)
        s = npy_open(scores, &sf);
    else
        memset(&sf, 0, sizeof sf);
    if (s == FS_OK) {
        ta.codes = &cf.a;
        ta.scores = &sf.a;
        s = fs_boundary_train(&ta, &r);
    }
    if (s == FS_OK) {
        /* The official log, message for message ("Spliting" as it is spelt there). */
        if (!quiet) {
            printf("Filtering training data.\n");
            printf("Sorting scores to get positive and negative samples.\n");
            printf("Spliting training and validation sets:\n");
            printf("  Training: %lld positive, %lld negative.\n", (long long)r.train_num,
                   (long long)r.train_num);
            printf("  Validation: %lld positive, %lld negative.\n", (long long)r.val_num,
                   (long long)r.val_num);
            printf("  Remaining: %lld positive, %lld negative.\n", (long long)r.remaining_pos,
                   (long long)r.remaining_neg);
            printf("Training boundary.\n");
            printf("Finish training.\n");
        }
        if (r.val_num)
            printf("Accuracy for validation set: %lld / %lld = %.6f\n", (long long)r.val_correct,
                   (long long)(2 * r.val_num), (double)r.val_correct / (double)(2 * r.val_num));
        if (r.remaining_num)
            printf("Accuracy for remaining set: %lld / %lld = %.6f\n",
                   (long long)r.remaining_correct, (long long)r.remaining_num,
                   (double)r.remaining_correct / (double)r.remaining_num);
        fflush(stdout);
        int64_t shape[2] = {1, r.dim};
        cli_clean_stale_output(out);
        s = fs_npy_write(out, FS_DTYPE_F32, 2, shape, r.boundary);
    }
    rc = s == FS_OK ? 0 : cli_fail(s);
    fs_boundary_train_result_free(&r);
    fs_file_map_close(&cf.map);
    fs_file_map_close(&sf.map);
    return rc;
}

int cmd_boundary(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return FS_EXIT_FAILURE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(sub, "project")) {
        cli_set_command(SUB_PROJECT);
        return cmd_project(argc - 1, argv + 1);
    }
    if (!strcmp(sub, "train")) {
        cli_set_command(SUB_TRAIN);
        return cmd_train(argc - 1, argv + 1);
    }
    return cli_usage_error("boundary", "unknown subcommand '%s': project or train", sub);
}
