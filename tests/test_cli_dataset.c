/* `facesynth dataset` and `facesynth mixup` end to end, on the tiny fixture
 * networks:
 *   - every format (ImageFolder and tar, PNG and JPEG) read back by an
 *     independent reader (tests/test_dataset_reader.py: json, tarfile and a
 *     zlib PNG decoder) that also recomputes every seeded draw and label;
 *   - the bytes do not depend on --batch, --threads or --writers, on shards
 *     (K/N and auto; their union, merged, is the unsharded run byte for
 *     byte) or on resumes after kill -9 at random moments;
 *   - a full disk (a small tmpfs where mounting is permitted; always a file
 *     size limit) is one clear error, leaves no partial file, and a resume
 *     then finishes the same dataset;
 *   - bad input is one line, exit status 2, and no output;
 *   - filter scores equal `facesynth score`'s, one image at a time;
 *   - mixup's pairs, weights, labels and pixels, recomputed by the reader.
 * Trees are compared with `diff -r` leaving out run.log (times and hosts),
 * the one file that is not deterministic. */
#define CLI_TMP_PREFIX "/tmp/fs_h13_cli"
#include "cli_util.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <time.h>

#define NET "tests/fixtures/stylegan2/tiny/network-snapshot.pkl"
#define DISC "tests/fixtures/stylegan2/tiny/D.pt"
#define CVAE "tests/fixtures/cvaegan/tiny/cvaegan.pt"
#define BND_A "tests/fixtures/interfacegan/boundary_a.npy"
#define BND_B "tests/fixtures/interfacegan/boundary_b.npy"
#define READER "python3 tests/test_dataset_reader.py"

/* A job with every kind of variation: style mixing, two edits, random noise,
 * identity mixup. */
#define JOB_PER(PER)                                                                        \
    "dataset --network " NET " --identities 9 --per-identity " PER " --mix-layers 4- "     \
    "--trunc 0.8 --edit " BND_A ":-2,2 --edit " BND_B ":0,1.5 --edit-layers 0-5 "          \
    "--mixup-prob 0.3 --mixup-beta 2,3 --seed 17 --chunk-size 5 -q"
#define JOB JOB_PER("4")

static int same_tree(const char *a, const char *b)
{
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "diff -r -q -x run.log '%s' '%s'", a, b);
    return system(cmd) == 0;
}

static int temps_in(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "find '%s' -name '*.tmp.*' | grep -q .", dir);
    return system(cmd) == 0;
}

static void reader_ok(const char *args)
{
    char cmd[2200];
    snprintf(cmd, sizeof cmd, READER " %s", args);
    ck_assert_msg(system(cmd) == 0, "the reader found problems: %s", cmd);
}

/* ---- formats ---------------------------------------------------------------------- */

START_TEST(test_formats)
{
    char *d = make_tmpdir(), cmd[1024];
    static const char *const fmts[][2] = {
        {"folder", "--image png"}, {"folder", "--image jpg --quality 80"},
        {"tar", "--image png"},    {"tar", "--image jpg --quality 90"}};
    for (int i = 0; i < 4; i++) {
        run_ok(JOB " --format %s %s --outdir %s/f%d", fmts[i][0], fmts[i][1], d, i);
        snprintf(cmd, sizeof cmd, "dataset %s/f%d", d, i);
        reader_ok(cmd);
    }
    /* a tar member is the folder's file, byte for byte */
    snprintf(cmd, sizeof cmd, "python3 -c \"import tarfile\n"
             "t = tarfile.open('%s/f2/000001.tar')\n"
             "assert t.extractfile('000000007.png').read() == open('%s/f0/00001/0003.png','rb').read()\n"
             "t = tarfile.open('%s/f3/000000.tar')\n"
             "assert t.extractfile('000000000.jpg').read()[:2] == b'\\xff\\xd8'\"", d, d, d);
    ck_assert_msg(system(cmd) == 0, "tar members differ from the folder's images");
    /* JPEG quality changes the bytes; everything else is the same job */
    char p80[512], p95[512];
    run_ok(JOB " --image jpg --outdir %s/q95", d);
    snprintf(p80, sizeof p80, "%s/f1/00002/0001.jpg", d);
    snprintf(p95, sizeof p95, "%s/q95/00002/0001.jpg", d);
    ck_assert(!files_equal(p80, p95));
    remove_tree(d);
    free(d);
}
END_TEST

/* With no mixing, const noise and no edits, image (i, j) is generate's seed
 * (seed + i): the same PNG file. */
START_TEST(test_same_as_generate)
{
    char *d = make_tmpdir(), a[512], b[512];
    run_ok("dataset --network " NET " --identities 3 --per-identity 2 --mix-layers none "
           "--noise-mode const --trunc 0.7 --seed 40 --outdir %s/ds -q", d);
    run_ok("generate --network " NET " --seeds 40-42 --trunc 0.7 --outdir %s/gen -q", d);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) {
            snprintf(a, sizeof a, "%s/ds/%05d/%04d.png", d, i, j);
            snprintf(b, sizeof b, "%s/gen/seed%04d.png", d, 40 + i);
            ck_assert_msg(files_equal(a, b), "%s differs from %s", a, b);
        }
    remove_tree(d);
    free(d);
}
END_TEST

/* ---- determinism ------------------------------------------------------------------ */

START_TEST(test_batch_threads_writers)
{
    char *d = make_tmpdir(), a[512], b[512], c[512];
    run_ok(JOB " --batch 1 --threads 1 --writers 1 --outdir %s/a", d);
    run_ok(JOB " --batch 7 --threads 2 --writers 3 --outdir %s/b", d);
    run_ok(JOB " --batch 36 --threads 0 --writers 8 --outdir %s/c", d);
    snprintf(a, sizeof a, "%s/a", d);
    snprintf(b, sizeof b, "%s/b", d);
    snprintf(c, sizeof c, "%s/c", d);
    ck_assert_msg(same_tree(a, b) && same_tree(a, c), "the bytes depend on batch/threads/writers");
    remove_tree(d);
    free(d);
}
END_TEST

START_TEST(test_shards)
{
    char *d = make_tmpdir(), ref[512], got[512], err[4096], args[1024];
    /* folder, 3 shards; tar, 4 shards; 11 shards for 8 chunks (some empty) */
    static const struct {
        const char *fmt;
        int n;
    } runs[] = {{"folder", 3}, {"tar", 4}, {"folder", 11}};
    for (int r = 0; r < 3; r++) {
        run_ok(JOB " --format %s --outdir %s/ref%d", runs[r].fmt, d, r);
        for (int k = runs[r].n - 1; k >= 0; k--) {
            run_ok(JOB " --format %s --outdir %s/sh%d --shard %d/%d --batch %d", runs[r].fmt, d,
                   r, k, runs[r].n, 1 + k % 3);
            if (r == 0 && k == 1) { /* a merge before the last shard: refused, nothing written */
                snprintf(args, sizeof args, "dataset merge %s/sh%d", d, r);
                ck_assert_int_eq(run_cli(args, err, sizeof err, NULL, 0), 2);
                ck_assert_msg(strstr(err, "are not done") &&
                              !strncmp(err, "facesynth dataset merge: ", 25), "%s", err);
                snprintf(got, sizeof got, "%s/sh%d/manifest.jsonl", d, r);
                ck_assert(!exists(got));
            }
        }
        run_ok("dataset merge %s/sh%d -q", d, r);
        snprintf(ref, sizeof ref, "%s/ref%d", d, r);
        snprintf(got, sizeof got, "%s/sh%d", d, r);
        ck_assert_msg(same_tree(ref, got), "%s: the union of %d shards is not the unsharded run",
                      runs[r].fmt, runs[r].n);
        run_ok("dataset merge %s/sh%d -q", d, r); /* again: already merged */
        ck_assert(same_tree(ref, got));
    }
    /* --shard auto as a Slurm array sets it */
    setenv("SLURM_ARRAY_TASK_MIN", "0", 1);
    setenv("SLURM_ARRAY_TASK_MAX", "1", 1);
    setenv("SLURM_ARRAY_TASK_COUNT", "2", 1);
    for (int k = 0; k < 2; k++) {
        char id[16];
        snprintf(id, sizeof id, "%d", k);
        setenv("SLURM_ARRAY_TASK_ID", id, 1);
        run_ok(JOB " --outdir %s/auto --shard auto --resume", d);
    }
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURM_ARRAY_TASK_MIN");
    unsetenv("SLURM_ARRAY_TASK_MAX");
    unsetenv("SLURM_ARRAY_TASK_COUNT");
    run_ok("dataset merge %s/auto -q", d);
    snprintf(ref, sizeof ref, "%s/ref0", d);
    snprintf(got, sizeof got, "%s/auto", d);
    ck_assert(same_tree(ref, got));
    snprintf(got, sizeof got, "%s/auto/run.log", d);
    char *log = slurp(got);
    ck_assert_msg(strstr(log, "slurm array task 1 of 0-1"), "%s", log);
    free(log);
    remove_tree(d);
    free(d);
}
END_TEST

/* ---- resume after kill -9 ----------------------------------------------------------- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Starts `facesynth args` (exec'd by sh, so the pid is facesynth's). */
static pid_t start_cli(const char *args)
{
    char cmd[4096];
    const char *bin = getenv("FS_CLI") ? getenv("FS_CLI") : "build/facesynth";
    snprintf(cmd, sizeof cmd, "exec %s %s >/dev/null 2>&1", bin, args);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Every image file under dir decodes (no partial file under a final name),
 * and every tar file reads whole. */
static void check_no_partial(const char *dir)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import os, sys, tarfile\n"
             "sys.path.insert(0, 'tests')\n"
             "import test_dataset_reader as R\n"
             "for root, _, files in os.walk('%s'):\n"
             "    for f in files:\n"
             "        p = os.path.join(root, f)\n"
             "        if f.endswith('.png'): R.png_decode(open(p, 'rb').read(), p)\n"
             "        if f.endswith('.tar'):\n"
             "            for m in tarfile.open(p).getmembers(): assert m.size >= 1, p\n"
             "        if '.part-' in f: [R.json.loads(l) for l in open(p)]\"", dir);
    ck_assert_msg(system(cmd) == 0, "a partial file under %s", dir);
}

START_TEST(test_resume_after_kill)
{
    char *d = make_tmpdir(), ref[512], out[512], args[2048];
    unsigned seed = getenv("FS_TEST_SEED") ? (unsigned)strtoul(getenv("FS_TEST_SEED"), NULL, 0)
                                           : (unsigned)time(NULL) ^ (unsigned)getpid();
    printf("test_resume_after_kill: seed %u (FS_TEST_SEED replays it)\n", seed);
    srand(seed);
    static const char *const fmts[] = {"folder", "tar"};
    for (int f = 0; f < 2; f++) {
        snprintf(ref, sizeof ref, "%s/ref_%s", d, fmts[f]);
        snprintf(out, sizeof out, "%s/out_%s", d, fmts[f]);
        /* slow enough to be killed inside: one image per pass, one thread */
        snprintf(args, sizeof args, JOB_PER("7") " --format %s --batch 1 "
                 "--threads 1 --writers 2 --outdir %s", fmts[f], ref);
        double t0 = now_s();
        run_ok("%s", args);
        double t = now_s() - t0;
        int kills = 0, finished = 0;
        char part[600];
        /* kill at random moments of what is left (start-up, writing, committing,
         * merging) until five runs were killed mid-run or the dataset is done */
        for (int attempt = 0; attempt < 40 && kills < 5; attempt++) {
            snprintf(part, sizeof part, "%s/dataset.json", out);
            if (exists(part)) {
                /* merged before enough kills (perhaps killed while it removed the
                 * parts, which the next run finishes): check it, start again */
                run_ok(JOB_PER("7") " --format %s --outdir %s --resume", fmts[f], out);
                ck_assert_msg(same_tree(ref, out), "%s: killed and resumed differs", fmts[f]);
                remove_tree(out);
                finished++;
            }
            int parts = 0;
            for (int c = 0; c < 13; c++) {
                snprintf(part, sizeof part, "%s/manifest.part-%06d.jsonl", out, c);
                parts += exists(part);
            }
            double left = 0.25 + 0.75 * (1.0 - parts / 13.0);
            snprintf(args, sizeof args, JOB_PER("7") " --format %s --batch 1 --threads 1 "
                     "--writers 2 --outdir %s --resume", fmts[f], out);
            pid_t pid = start_cli(args);
            double delay = (double)rand() / RAND_MAX * t * left;
            usleep((useconds_t)(delay * 1e6));
            kill(pid, SIGKILL);
            int ws;
            ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
            kills += WIFSIGNALED(ws) != 0;
            if (!WIFSIGNALED(ws))
                t *= 0.7; /* the host got faster than the reference run: aim earlier */
            if (getenv("FS_TEST_VERBOSE"))
                printf("  %s attempt %d: %d of 13 chunks done; SIGKILL after %.3f s (a whole "
                       "run: %.3f s): %s\n", fmts[f], attempt, parts, delay, t,
                       WIFSIGNALED(ws) ? "killed" : "it had ended");
            check_no_partial(out);
        }
        printf("test_resume_after_kill: %s: %d runs killed with SIGKILL mid-run (%d datasets "
               "completed before enough kills, checked and started again)\n", fmts[f], kills,
               finished);
        ck_assert_msg(kills >= 5, "only %d runs were killed mid-run", kills);
        run_ok(JOB_PER("7") " --format %s --batch 3 --outdir %s --resume",
               fmts[f], out);
        ck_assert_msg(!temps_in(out), "temporaries left in %s", out);
        ck_assert_msg(same_tree(ref, out), "%s: killed and resumed differs from uninterrupted",
                      fmts[f]);
    }
    remove_tree(d);
    free(d);
}
END_TEST

/* ---- a full disk ------------------------------------------------------------------------ */

/* A run that fails writing: one line naming the cause, no temporaries, no
 * partial file; then a resume with room finishes the same dataset. */
static void check_write_failure(const char *out, const char *err, const char *cause,
                                const char *ref, const char *resume_args)
{
    ck_assert_msg(strstr(err, cause) && strchr(err, '\n') == err + strlen(err) - 1 &&
                  !strncmp(err, "facesynth dataset: ", 19), "%s", err);
    ck_assert_msg(!temps_in(out), "temporaries left after: %s", err);
    check_no_partial(out);
    run_ok("%s", resume_args);
    ck_assert_msg(same_tree(ref, out), "resumed after a write failure differs");
}

START_TEST(test_disk_full)
{
    char *d = make_tmpdir(), ref[512], out[512], args[2048], err[4096];
    snprintf(ref, sizeof ref, "%s/ref", d);
    run_ok(JOB " --outdir %s", ref);
    /* a tmpfs too small for the dataset, where this process may mount */
    char mnt[400];
    snprintf(mnt, sizeof mnt, "%s/tmpfs", d);
    ck_assert_int_eq(mkdir(mnt, 0755), 0);
    /* in a mount namespace of this test's own (where permitted), so that the
     * tmpfs goes with the process even when an assertion ends it early */
    if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
        mount("tmpfs", mnt, "tmpfs", 0, "size=64k") == 0) {
        snprintf(out, sizeof out, "%s/out", mnt);
        snprintf(args, sizeof args, JOB " --outdir %s", out);
        int rc = run_cli(args, err, sizeof err, NULL, 0);
        ck_assert_msg(rc == 2, "exit %d on a full disk: %s", rc, err);
        mount("tmpfs", mnt, "tmpfs", MS_REMOUNT, "size=16m");
        snprintf(args, sizeof args, JOB " --outdir %s --resume", out);
        check_write_failure(out, err, "No space left on device", ref, args);
        printf("test_disk_full: 64 KiB tmpfs: %s", err);
        umount(mnt);
    } else {
        printf("test_disk_full: SKIP the tmpfs part: mount: %s (the file size limit below "
               "still runs)\n", strerror(errno));
    }
    /* a file size limit (writes past it fail with EFBIG; SIGXFSZ ignored):
     * 8 blocks hold job.json, the manifest parts and PNGs, not a tar file */
    snprintf(ref, sizeof ref, "%s/reftar", d);
    run_ok(JOB " --format tar --outdir %s", ref);
    snprintf(out, sizeof out, "%s/limited", d);
    const char *bin = getenv("FS_CLI") ? getenv("FS_CLI") : "build/facesynth";
    char cmd[4096], ef[600];
    snprintf(ef, sizeof ef, "%s/err.txt", d);
    snprintf(cmd, sizeof cmd, "sh -c \"trap '' XFSZ; ulimit -f 8; exec %s " JOB
             " --format tar --outdir %s\" 2>%s", bin, out, ef);
    int ws = system(cmd);
    ck_assert_msg(WIFEXITED(ws) && WEXITSTATUS(ws) == 2, "exit status %d under a file size limit",
                  WEXITSTATUS(ws));
    char *e = slurp(ef);
    snprintf(args, sizeof args, JOB " --format tar --outdir %s --resume", out);
    check_write_failure(out, e, "File too large", ref, args);
    printf("test_disk_full: file size limit: %s", e);
    free(e);
    remove_tree(d);
    free(d);
}
END_TEST

/* ---- bad input ------------------------------------------------------------------------------ */

static void expect_bad(const char *dir, const char *fmt, const char *needle)
{
    char args[2048], ex[2048], err[4096], nd[1024];
    expand(ex, sizeof ex, fmt, dir);
    expand(nd, sizeof nd, needle, dir);
    needle = nd;
    snprintf(args, sizeof args, "%s", ex);
    int rc = run_cli(args, err, sizeof err, NULL, 0);
    ck_assert_msg(rc == 2, "'%s': exit %d (%s)", args, rc, err);
    ck_assert_msg(cli_error_prefix_ok(args, err) || !strncmp(err, "facesynth dataset merge: ", 25),
                  "'%s': %s", args, err);
    ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1, "'%s': not one line: %s", args, err);
    ck_assert_msg(strstr(err, needle), "'%s': '%s' lacks '%s'", args, err, needle);
}

START_TEST(test_bad_input)
{
    char *d = make_tmpdir(), p[512];
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURM_PROCID");
    unsetenv("OMPI_COMM_WORLD_RANK");
    unsetenv("PMI_RANK");
    static const cli_bad rows[] = {
        {"dataset --network " NET " --identities 0 --per-identity 2 --outdir @/out",
         "--identities needs"},
        {"dataset --network " NET " --identities 2 --outdir @/out", "missing --per-identity"},
        {"dataset --network " NET " --identities 2 --per-identity 2", "missing --outdir"},
        {"dataset --network " NET " --identities 2 --per-identity 2 --outdir @/out",
         "--mix-layers (default 8-) '8-': layer 8, but the network has 8 ws"},
        {"dataset --network " NET " --identities 2 --per-identity 2 --mix-layers 9-10 "
         "--outdir @/out", "layer 9"},
        {"dataset --network " NET " --identities 2 --per-identity 2 --mix-layers 4- "
         "--shard 3/3 --outdir @/out", "shards are numbered 0 to 2"},
        {"dataset --network " NET " --identities 2 --per-identity 2 --mix-layers 4- "
         "--shard 0/0 --outdir @/out", "N must be"},
        {"dataset --network " NET " --identities 2 --per-identity 2 --mix-layers 4- "
         "--shard two --outdir @/out", "expected K/N"},
        {"dataset --network " NET " --identities 2 --per-identity 2 --mix-layers 4- "
         "--shard auto --outdir @/out", "no Slurm array task"},
        {"dataset --network " NET " --identities 2 --per-identity 2 --mix-layers 4- "
         "--quality 80 --outdir @/out", "--quality goes with --image jpg"},
        {"dataset --network " NET " --identities 2 --per-identity 2 --mix-layers 4- "
         "--mixup-weight 0.5 --outdir @/out", "goes with --mixup-prob"},
        {"dataset --network " NET " --identities 2 --per-identity 2 --mix-layers 4- "
         "--mixup-prob 1 --outdir @/out", "pure"},
        {"dataset --network " NET " --identities 2 --per-identity 2 --mix-layers 4- "
         "--edit @/none.npy:0,1 --outdir @/out", "none.npy"},
        {"dataset --network " NET " --identities 2 --per-identity 2 --mix-layers 4- "
         "--edit " BND_A " --outdir @/out", "--edit needs FILE:A,B"},
        {"dataset --network " NET " --identities 2 --per-identity 2 --mix-layers 4- --edit "
         "tests/fixtures/interfacegan/ties_boundary.npy:0,1 --outdir @/out", "D = 16"},
        {"dataset --network " NET " --identities 2 --per-identity 2 --mix-layers 4- "
         "--discriminator " CVAE " --outdir @/out", "discriminator"},
        {"dataset --network " CVAE " --identities 6 --per-identity 2 --outdir @/out",
         "the CVAE-GAN has 5 identities"},
        {"dataset --network " CVAE " --identities 2 --per-identity 2 --mix-layers 4- "
         "--outdir @/out", "--mix-layers is a StyleGAN2 option"},
        {"dataset --network " NET " --identities 2 --per-identity 2 --mix-layers 4- "
         "--outdir @/file/out", "@/file"},
        {"dataset --network " NET " --identities 2 --per-identity 2 --mix-layers 4- "
         "--outdir /proc/fs_h13/out", "/proc/fs_h13"},
        {"dataset merge @/nothing", "not a directory"},
        {"dataset merge", "missing OUT"},
        {"mixup --synthetic @/small --real @/big --outdir @/out", "must have one size"},
        {"mixup --synthetic @/small --real @/small --outdir @/out --weight 2", "--weight needs"},
        {"mixup --synthetic @/small --real @/empty --outdir @/out", "no PNG or JPEG"},
    };
    snprintf(p, sizeof p, "%s/file", d);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(p, sizeof p, "%s/empty", d);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    run_ok("dataset --network " NET " --identities 2 --per-identity 2 --mix-layers 4- "
           "--outdir %s/small -q", d);
    run_ok("dataset --network " CVAE " --identities 2 --per-identity 1 --outdir %s/big -q", d);
    /* a synthetic set whose a.png and a.jpg would both be written as a.png */
    run_ok("dataset --network " NET " --identities 1 --per-identity 1 --mix-layers 4- "
           "--image jpg --outdir %s/jpg -q", d);
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "mkdir %s/dup && cp %s/small/00000/0000.png %s/dup/a.png && "
             "cp %s/jpg/00000/0000.jpg %s/dup/a.jpg", d, d, d, d, d);
    ck_assert_int_eq(system(cmd), 0);
    expect_bad(d, "mixup --synthetic @/dup --real @/small --outdir @/out",
               "differ only in their extension");
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        expect_bad(d, rows[i].args, rows[i].needle);
        snprintf(p, sizeof p, "%s/out", d);
        ck_assert_msg(!exists(p), "'%s' left %s behind", rows[i].args, p);
    }

    /* an existing directory that is not a dataset: refused, untouched */
    snprintf(p, sizeof p, "%s/other/keep.txt", d);
    run_ok("dataset --network " NET " --identities 1 --per-identity 1 --mix-layers 4- "
           "--outdir %s/other0 -q", d); /* (just to have the binary warm) */
    char q[600];
    snprintf(q, sizeof q, "%s/other", d);
    ck_assert_int_eq(mkdir(q, 0755), 0);
    f = fopen(p, "w");
    fputs("mine", f);
    fclose(f);
    expect_bad(d, "dataset --network " NET " --identities 2 --per-identity 2 --mix-layers 4- "
               "--outdir @/other", "not a facesynth dataset");
    ck_assert_int_eq(count_entries(q), 1);

    /* an existing dataset of other flags: refused, with --resume too, untouched */
    char ref[512], copy[512];
    snprintf(ref, sizeof ref, "%s/ds", d);
    snprintf(copy, sizeof copy, "%s/ds_copy", d);
    run_ok("dataset --network " NET " --identities 3 --per-identity 2 --mix-layers 4- "
           "--outdir %s -q", ref);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", ref, copy);
    ck_assert_int_eq(system(cmd), 0);
    expect_bad(d, "dataset --network " NET " --identities 3 --per-identity 3 --mix-layers 4- "
               "--outdir @/ds", "\"per_identity\": 2 there, \"per_identity\": 3 here");
    expect_bad(d, "dataset --network " NET " --identities 3 --per-identity 2 --mix-layers 4- "
               "--trunc 0.5 --outdir @/ds --resume", "\"psi\": 1 there, \"psi\": 0.5 here");
    expect_bad(d, "dataset --network " NET " --identities 3 --per-identity 2 --mix-layers 4- "
               "--format tar --outdir @/ds --resume", "\"format\"");
    /* the same flags without --resume: refused; with it (and flags that change no byte) fine */
    expect_bad(d, "dataset --network " NET " --identities 3 --per-identity 2 --mix-layers 4- "
               "--outdir @/ds", "add --resume");
    run_ok("dataset --network " NET " --identities 3 --per-identity 2 --mix-layers 4- --outdir "
           "%s --resume --batch 5 --threads 1 --writers 4 --device cpu -q", ref);
    ck_assert(same_tree(ref, copy));
    remove_tree(d);
    free(d);
}
END_TEST

/* ---- filter scores, CVAE-GAN, mixup ------------------------------------------------------ */

START_TEST(test_scores)
{
    char *d = make_tmpdir(), args[1024], out[256], line[256];
    run_ok("dataset --network " NET " --identities 2 --per-identity 3 --mix-layers 4- "
           "--discriminator " DISC " --batch 3 --outdir %s/ds -q", d);
    snprintf(args, sizeof args, "score --network " DISC " --images %s/ds/00001 --batch 1 -q", d);
    char err[4096];
    ck_assert_int_eq(run_cli(args, err, sizeof err, out, sizeof out), 0);
    FILE *f = fopen(out, "r");
    snprintf(line, sizeof line, "%s/ds/manifest.jsonl", d);
    char *man = slurp(line), *m = man;
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f)); /* the header */
    for (int k = 0; k < 3; k++) {
        m = strstr(m, "\"identity\":1,");
        ck_assert_ptr_nonnull(m);
        char *r = strstr(m, "\"realism\":");
        ck_assert_ptr_nonnull(r);
        char want[64];
        snprintf(want, sizeof want, "%.9g", (double)(float)strtod(r + 10, NULL));
        ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
        char *tab = strrchr(line, '\t');
        ck_assert_msg(!strncmp(tab + 1, want, strlen(want)), "image %d: score says %s, the "
                      "manifest %s", k, tab + 1, want);
        m = r;
    }
    fclose(f);
    unlink(out);
    free(man);
    remove_tree(d);
    free(d);
}
END_TEST

START_TEST(test_cvae)
{
    char *d = make_tmpdir(), a[512], b[512];
    run_ok("dataset --network " CVAE " --identities 5 --per-identity 3 --mixup-prob 0.4 "
           "--mixup-weight 0.3 --seed 2 --chunk-size 4 --batch 2 --outdir %s/a -q", d);
    run_ok("dataset --network " CVAE " --identities 5 --per-identity 3 --mixup-prob 0.4 "
           "--mixup-weight 0.3 --seed 2 --chunk-size 4 --batch 5 --shard 1/2 --outdir %s/b -q",
           d);
    run_ok("dataset --network " CVAE " --identities 5 --per-identity 3 --mixup-prob 0.4 "
           "--mixup-weight 0.3 --seed 2 --chunk-size 4 --batch 1 --shard 0/2 --outdir %s/b -q",
           d);
    run_ok("dataset merge %s/b -q", d);
    snprintf(a, sizeof a, "%s/a", d);
    snprintf(b, sizeof b, "%s/b", d);
    ck_assert(same_tree(a, b));
    char args[600];
    snprintf(args, sizeof args, "dataset %s", a);
    reader_ok(args);
    remove_tree(d);
    free(d);
}
END_TEST

START_TEST(test_mixup)
{
    char *d = make_tmpdir(), args[1024], a[512], b[512];
    /* synthetic: a dataset (its dataset.json gives the labels); real: a flat folder */
    run_ok("dataset --network " NET " --identities 4 --per-identity 3 --mix-layers 4- "
           "--outdir %s/syn -q", d);
    run_ok("generate --network " NET " --seeds 100-104 --outdir %s/real -q", d);
    /* real as an ImageFolder tree */
    run_ok("dataset --network " NET " --identities 3 --per-identity 2 --mix-layers 2- --seed 9 "
           "--outdir %s/real2 -q", d);
    snprintf(args, sizeof args, "rm %s/real2/dataset.json", d);
    ck_assert_int_eq(system(args), 0);
    run_ok("mixup --synthetic %s/syn --real %s/real --outdir %s/w --weight 0.3 -q", d, d, d);
    snprintf(args, sizeof args, "mixup %s/w %s/syn %s/real weight 0.3", d, d, d);
    reader_ok(args);
    run_ok("mixup --synthetic %s/syn --real %s/real2 --outdir %s/b1 --beta 2,3 --seed 5 "
           "--batch 1 --writers 1 -q", d, d, d);
    run_ok("mixup --synthetic %s/syn --real %s/real2 --outdir %s/b2 --beta 2,3 --seed 5 "
           "--batch 5 --writers 3 -q", d, d, d);
    snprintf(args, sizeof args, "mixup %s/b1 %s/syn %s/real2 beta 2,3", d, d, d);
    reader_ok(args);
    snprintf(a, sizeof a, "%s/b1", d);
    snprintf(b, sizeof b, "%s/b2", d);
    ck_assert(same_tree(a, b));
    /* into a directory that is not empty: refused, untouched */
    snprintf(args, sizeof args, "mixup --synthetic %s/syn --real %s/real --outdir %s/w", d, d, d);
    char err[4096];
    ck_assert_int_eq(run_cli(args, err, sizeof err, NULL, 0), 2);
    ck_assert_msg(strstr(err, "not empty"), "%s", err);
    remove_tree(d);
    free(d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_dataset");
    TCase *tc = tcase_create("dataset");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_formats);
    tcase_add_test(tc, test_same_as_generate);
    tcase_add_test(tc, test_batch_threads_writers);
    tcase_add_test(tc, test_shards);
    tcase_add_test(tc, test_resume_after_kill);
    tcase_add_test(tc, test_disk_full);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_scores);
    tcase_add_test(tc, test_cvae);
    tcase_add_test(tc, test_mixup);
    suite_add_tcase(s, tc);
    return fs_check_run(s, "cli_dataset");
}
