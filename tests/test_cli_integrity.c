/* The command line under hostile input and faults (issue 15, items 3 to 7):
 *
 *   - non-finite inputs: a NaN or an infinity in any float .npy input (--z,
 *     --ws, --c, --eps, --images) or in --mix-weights is refused with the
 *     file, the row and the column, exit status 2 and no output;
 *   - signals: SIGTERM or SIGINT in the middle of generate, caught while a
 *     temporary is open (the child is stopped, checked, then signalled),
 *     leaves no temporary, and the exit status is the signal's; the
 *     temporaries a dead run left are removed by the next run into the same
 *     directory, and nothing else is: not a live process's (this test's own
 *     pid, pid 1), not a fresh one, not names that merely look similar;
 *   - late checks: output paths that cannot be written are refused before
 *     the first image; a write that fails mid-run (a file-size limit stands
 *     in for a full disk) keeps the complete images written before it and
 *     removes an output directory the run created and left empty;
 *   - messages: a PNG beyond our size limit names the limit; every error
 *     line starts with "facesynth <command>: ";
 *   - flags: a flag that takes a value, given twice, is refused, and so is a
 *     flag whose value is missing because the next flag follows it. */
#define CLI_TMP_PREFIX "/tmp/fs_h5_integ"
#include "cli_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>

#include "../engine/file.h"
#include "../engine/image_io.h"

#define SG2 FS_FIXTURES "/stylegan2"
#define TINY SG2 "/tiny"
#define COND SG2 "/tiny-cond"
#define CV FS_FIXTURES "/cvaegan/tiny"

#define UNET "--network " TINY "/network-snapshot.pkl "
#define CNET "--network " COND "/network-snapshot.pkl "
#define DNET "--network " TINY "/D.pt "
#define VNET "--network " CV "/cvaegan.pt "

/* ---- helpers ---------------------------------------------------------------- */

/* A refused command line: exit status 2, exactly one line that starts with
 * "facesynth <cmd>: " and contains needle, and nothing new in dir. */
static void expect_refused(const char *tmpl, const char *needle_tmpl, const char *dir)
{
    char args[2048], needle[1024], err[4096], st[96];
    expand(args, sizeof args, tmpl, dir);
    expand(needle, sizeof needle, needle_tmpl, dir);
    int before = count_entries(dir);
    int ws = run_cli_wait(args, err, sizeof err, NULL, 0);
    ck_assert_msg(ws != -1 && WIFEXITED(ws) && WEXITSTATUS(ws) == 2, "'%s': %s, stderr '%s'",
                  args, cli_status_text(ws, st, sizeof st), err);
    ck_assert_msg(strstr(err, needle), "'%s': stderr '%s' lacks '%s'", args, err, needle);
    ck_assert_msg(cli_error_prefix_ok(args, err), "'%s': '%s' lacks the command's prefix", args,
                  err);
    char *nl = strchr(err, '\n');
    ck_assert_msg(nl && nl[1] == '\0', "'%s': not exactly one line: '%s'", args, err);
    ck_assert_msg(count_entries(dir) == before, "'%s' left %d new entries in %s", args,
                  count_entries(dir) - before, dir);
}

/* Entries of dir whose name starts with prefix and contains ".tmp." (0 when
 * dir is missing); the first one's name into first. */
static int count_temps_of(const char *dir, const char *prefix, char *first, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix)) && strstr(e->d_name, ".tmp.") &&
            !n++ && first)
            snprintf(first, cap, "%s", e->d_name);
    closedir(d);
    return n;
}

static int count_temps(const char *dir, char *first, size_t cap)
{
    return count_temps_of(dir, "", first, cap);
}

/* Every .png in dir decodes completely; their number (0 without dir). */
static int count_valid_pngs(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    char p[600];
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".png"))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        uint8_t *rgb;
        int w, h;
        ck_assert_msg(fs_png_read_rgb(p, &rgb, &w, &h) == FS_OK, "%s", fs_error_message());
        free(rgb);
        n++;
    }
    closedir(d);
    return n;
}

/* Starts $FS_CLI args in the background, stdout to /dev/null, stderr into a
 * pipe (*err_fd; a pipe, since a file-size limit would apply to a file).
 * After the shell's exec, the child's pid is facesynth's. fsize_limit >= 0:
 * RLIMIT_FSIZE for the child, with SIGXFSZ ignored, so an over-long write
 * fails with EFBIG as a write to a full disk fails with ENOSPC. */
static pid_t spawn_cli(const char *args, long fsize_limit, int *err_fd)
{
    const char *bin = getenv("FS_CLI") ? getenv("FS_CLI") : "build/facesynth";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "exec %s %s >/dev/null", bin, args);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        /* whatever the test runner inherited: the default actions */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        if (fsize_limit >= 0) {
            struct rlimit rl = {.rlim_cur = (rlim_t)fsize_limit, .rlim_max = (rlim_t)fsize_limit};
            signal(SIGXFSZ, SIG_IGN);
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    *err_fd = fds[0];
    return pid;
}

/* Reads the child's stderr to its end into err, then reaps it: its wait
 * status. */
static int finish_cli(pid_t pid, int err_fd, char *err, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    char sink[256];
    while ((r = read(err_fd, n + 1 < cap ? err + n : sink,
                     n + 1 < cap ? cap - 1 - n : sizeof sink)) > 0)
        if (n + 1 < cap)
            n += (size_t)r;
    err[n] = '\0';
    close(err_fd);
    int ws;
    ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
    return ws;
}

/* A pid that no process has: a child that has exited and been reaped. */
static long dead_pid(void)
{
    pid_t p = fork();
    ck_assert_int_ge(p, 0);
    if (p == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(p, NULL, 0), p);
    ck_assert(kill(p, 0) == -1 && errno == ESRCH);
    return (long)p;
}

/* Creates dir/name (a regular file) last modified age_s seconds ago. */
static void touch_aged(const char *dir, const char *name, long age_s)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("partial", f);
    fclose(f);
    struct timespec t[2];
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= age_s;
    t[1] = t[0];
    ck_assert_int_eq(utimensat(AT_FDCWD, p, t, 0), 0);
}

static int exists_in(const char *dir, const char *name)
{
    char p[5000];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return lstat(p, &st) == 0;
}

/* ---- non-finite inputs --------------------------------------------------------- */

/* @: the test's directory, which make_nonfinite_inputs fills. */
static const cli_bad nonfinite_cases[] = {
    {"generate " UNET "--z @/z_nan.npy --outdir @/out", "@/z_nan.npy: --z row 1, column 5 is nan"},
    {"generate " UNET "--ws @/ws_inf.npy --outdir @/out",
     "@/ws_inf.npy: --ws row 1, column 263 (index [1, 2, 7]) is inf"},
    {"generate " UNET "--z @/z_big64.npy --outdir @/out",
     "@/z_big64.npy: --z row 0, column 127 is inf in float32"},
    {"generate " CNET "--seeds 0 --c @/c_nan.npy --outdir @/out",
     "@/c_nan.npy: --c row 0, column 3 is nan"},
    {"generate " CNET "--seeds 0 --c @/c1d_nan.npy --outdir @/out",
     "@/c1d_nan.npy: --c column 2 is nan"},
    {"generate " VNET "--z @/zc_nan.npy --identity 1 --outdir @/out",
     "@/zc_nan.npy: --z row 0, column 31 is nan"},
    {"generate " VNET "--seeds 0-1 --c @/cc_ninf.npy --outdir @/out",
     "@/cc_ninf.npy: --c row 1, column 0 is -inf"},
    {"generate " VNET "--seeds 0 --mix 1,2 --mix-weights nan,1 --outdir @/out",
     "--mix-weights item 'nan'"},
    {"generate " VNET "--seeds 0 --mix 1,2 --mix-weights 1,inf --outdir @/out",
     "--mix-weights item 'inf'"},
    {"generate " VNET "--seeds 0 --mix 1,2 --mix-weights 1e308,1e308 --outdir @/out",
     "positive, finite sum"},
    {"encode " VNET "--images " CV "/x.npy --eps @/eps_nan.npy --save-raw @/z.npy",
     "@/eps_nan.npy: --eps row 3, column 0 is nan"},
    {"encode " VNET "--images @/x_nan.npy --save-raw @/z.npy",
     "@/x_nan.npy: --images row 0, column 33417 (index [0, 2, 5, 9]) is nan"},
    {"score " VNET "--images @/x_nan.npy --save-raw-dir @/heads",
     "@/x_nan.npy: --images row 0, column 33417 (index [0, 2, 5, 9]) is nan"},
    {"score " DNET "--images @/img_inf.npy --save-raw @/raw.npy",
     "@/img_inf.npy: --images row 3, column 0 (index [3, 0, 0, 0]) is inf"},
};

static void save_with(const char *dir, const char *name, int ndim, const int64_t *shape,
                      float *data, size_t at, float v)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    data[at] = v;
    save_f32(p, ndim, shape, data);
}

static void make_nonfinite_inputs(const char *dir)
{
    static float buf[4 * 3 * 128 * 128];
    memset(buf, 0, 2 * 128 * sizeof *buf);
    save_with(dir, "z_nan.npy", 2, (const int64_t[]){2, 128}, buf, 1 * 128 + 5, NAN);
    memset(buf, 0, 2 * 8 * 128 * sizeof *buf);
    save_with(dir, "ws_inf.npy", 3, (const int64_t[]){2, 8, 128}, buf, (1 * 8 + 2) * 128 + 7,
              INFINITY);
    float c[5] = {0, 1, 0, 0, 0};
    save_with(dir, "c_nan.npy", 2, (const int64_t[]){1, 5}, c, 3, NAN);
    float c1[5] = {0, 1, 0, 0, 0};
    save_with(dir, "c1d_nan.npy", 1, (const int64_t[]){5}, c1, 2, NAN);
    memset(buf, 0, 2 * 32 * sizeof *buf);
    save_with(dir, "zc_nan.npy", 2, (const int64_t[]){2, 32}, buf, 31, NAN);
    float cc[10] = {1, 0, 0, 0, 0, 0, 1, 0, 0, 0};
    save_with(dir, "cc_ninf.npy", 2, (const int64_t[]){2, 5}, cc, 5, -INFINITY);
    memset(buf, 0, 4 * 32 * sizeof *buf);
    save_with(dir, "eps_nan.npy", 2, (const int64_t[]){4, 32}, buf, 3 * 32, NAN);
    arr x = load_f32(CV "/x.npy"); /* [4, 3, 128, 128] */
    ck_assert_uint_eq(x.numel, sizeof buf / sizeof *buf);
    memcpy(buf, x.data, sizeof buf);
    save_with(dir, "x_nan.npy", 4, x.shape, buf, (2 * 128 + 5) * 128 + 9, NAN);
    free(x.data);
    arr img = load_f32(TINY "/img_psi1_const.npy"); /* [4, 3, 32, 32] */
    save_with(dir, "img_inf.npy", 4, img.shape, img.data, 3 * 3 * 32 * 32, INFINITY);
    free(img.data);
    /* float64 1e300: finite in the file, infinite once read as float32 */
    double z64[128] = {0};
    z64[127] = 1e300;
    char p[600];
    snprintf(p, sizeof p, "%s/z_big64.npy", dir);
    ck_assert_int_eq(fs_npy_write(p, FS_DTYPE_F64, 2, (const int64_t[]){1, 128}, z64), FS_OK);
}

START_TEST(test_nonfinite_refused)
{
    char *dir = make_tmpdir();
    make_nonfinite_inputs(dir);
    expect_refused(nonfinite_cases[_i].args, nonfinite_cases[_i].needle, dir);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- signals ------------------------------------------------------------------ */

/* The registry behind the signal handler: every open temporary is in it,
 * and only while it is open. */
START_TEST(test_temp_registry)
{
    char *dir = make_tmpdir();
    char p[700];
    fs_out_file f[FS_OUT_FILE_MAX_OPEN + 1];
    /* two open: the handler's call removes both; their aborts then find
     * nothing to unlink, and free their slots */
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/f%d.bin", dir, i);
        ck_assert_int_eq(fs_out_file_open(p, &f[i]), FS_OK);
        ck_assert_int_eq(fs_out_file_write(&f[i], "x", 1), FS_OK);
    }
    ck_assert_int_eq(count_temps(dir, NULL, 0), 2);
    /* a zeroed handle releases no one's slot */
    fs_out_file z;
    memset(&z, 0, sizeof z);
    fs_out_file_abort(&z);
    fs_out_file_remove_temps();
    ck_assert_int_eq(count_temps(dir, NULL, 0), 0);
    for (int i = 0; i < 2; i++)
        fs_out_file_abort(&f[i]);
    /* committed or aborted files leave the registry: many in turn */
    for (int i = 0; i < 3 * FS_OUT_FILE_MAX_OPEN; i++) {
        snprintf(p, sizeof p, "%s/g%d.bin", dir, i % 3);
        ck_assert_msg(fs_out_file_open(p, &f[0]) == FS_OK, "%d: %s", i, fs_error_message());
        if (i % 2)
            fs_out_file_abort(&f[0]);
        else
            ck_assert_int_eq(fs_out_file_commit(&f[0]), FS_OK);
    }
    fs_out_file_remove_temps();
    ck_assert_int_eq(count_entries(dir), 3); /* g0..g2.bin, no temporary */
    /* at most FS_OUT_FILE_MAX_OPEN at once, said so */
    for (int i = 0; i < FS_OUT_FILE_MAX_OPEN; i++) {
        snprintf(p, sizeof p, "%s/h%d.bin", dir, i);
        ck_assert_int_eq(fs_out_file_open(p, &f[i]), FS_OK);
    }
    snprintf(p, sizeof p, "%s/one-more.bin", dir);
    ck_assert_int_eq(fs_out_file_open(p, &f[FS_OUT_FILE_MAX_OPEN]), FS_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "output files open at once"));
    for (int i = 0; i < FS_OUT_FILE_MAX_OPEN; i++)
        fs_out_file_abort(&f[i]);
    ck_assert_int_eq(fs_out_file_open(p, &f[0]), FS_OK);
    ck_assert_int_eq(fs_out_file_commit(&f[0]), FS_OK);
    ck_assert_int_eq(count_temps(dir, NULL, 0), 0);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* generate with many seeds; stop it while a temporary is open in its output
 * directory, then send sig: it must leave no temporary behind and end with
 * sig's status. The images it completed stay, each a valid PNG. */
START_TEST(test_signal_removes_temporaries)
{
    static const int sigs[2] = {SIGTERM, SIGINT};
    int sig = sigs[_i];
    char *dir = make_tmpdir();
    char args[1024], out[600], tmpname[256] = "", err[4096];
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(args, sizeof args,
             "generate " UNET "--seeds 0-99999 --batch 1 --threads 1 -q --outdir %s", out);
    int err_fd;
    pid_t pid = spawn_cli(args, -1, &err_fd);
    int caught = 0, ws = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 60)
            break;
        pid_t r = waitpid(pid, &ws, WNOHANG);
        ck_assert_msg(r == 0, "generate ended before a temporary was caught (status %d)", ws);
        /* an image's temporary (not the directory probe's): images
         * before it are complete and must stay */
        if (!count_temps_of(out, "seed", NULL, 0))
            continue;
        kill(pid, SIGSTOP);
        ck_assert_int_eq(waitpid(pid, &ws, WUNTRACED), pid);
        ck_assert(WIFSTOPPED(ws));
        if (count_temps_of(out, "seed", tmpname, sizeof tmpname)) {
            caught = 1;
            break;
        }
        kill(pid, SIGCONT);
    }
    if (!caught) {
        kill(pid, SIGKILL);
        kill(pid, SIGCONT);
        finish_cli(pid, err_fd, err, sizeof err);
        ck_abort_msg("no temporary seen in 60 s");
    }
    /* stopped, with tmpname open: the signal is delivered on SIGCONT */
    kill(pid, sig);
    kill(pid, SIGCONT);
    ws = finish_cli(pid, err_fd, err, sizeof err);
    char st[96];
    ck_assert_msg(WIFSIGNALED(ws) && WTERMSIG(ws) == sig, "%s (%s was open): want signal %d; "
                  "stderr '%s'", cli_status_text(ws, st, sizeof st), tmpname, sig, err);
    char left[256] = "";
    int n = count_temps(out, left, sizeof left);
    ck_assert_msg(n == 0, "%d temporaries left after signal %d, e.g. %s", n, sig, left);
    /* the images done are complete; the directory stays when it has any */
    int done = count_valid_pngs(out);
    ck_assert_msg(done > 0 || !exists(out), "an empty %s stayed", out);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* A run into a directory where dead runs left temporaries removes exactly
 * theirs: canonical "<a name this run writes>.tmp.<dead pid>", regular, not
 * modified for a minute. */
START_TEST(test_stale_temporaries_cleaned)
{
    char *dir = make_tmpdir();
    char out[600], n[256];
    snprintf(out, sizeof out, "%s/out", dir);
    ck_assert_int_eq(mkdir(out, 0755), 0);
    long dead = dead_pid(), self = (long)getpid();
    const long hour = 3600;
    struct {
        char name[128];
        int removed;
    } files[32];
    int nf = 0;
#define FILE_CASE(rm, ...)                                                            \
    do {                                                                              \
        snprintf(files[nf].name, sizeof files[nf].name, __VA_ARGS__);                 \
        files[nf++].removed = (rm);                                                   \
    } while (0)
    FILE_CASE(1, "seed0001.png.tmp.%ld", dead);
    FILE_CASE(1, "seed0003.png.tmp.%ld", dead);
    FILE_CASE(1, ".facesynth-probe.tmp.%ld", dead);
    FILE_CASE(0, "seed0002.png.tmp.%ld", self);      /* this live process */
    FILE_CASE(0, "seed0000.png.tmp.1");               /* init: alive */
    FILE_CASE(0, "seed0001.png.tmp.0%ld", dead);     /* not a canonical pid */
    FILE_CASE(0, "seed0001.png.tmp.%ldx", dead);
    FILE_CASE(0, "seed0001.png.tmp.-%ld", dead);
    FILE_CASE(0, "seed0001.png.tmp%ld", dead);
    FILE_CASE(0, "seed0001.png.tmp.");
    FILE_CASE(0, "seed00001.png.tmp.%ld", dead);     /* not how %%04u writes 1 */
    FILE_CASE(0, "seed0009.png.tmp.%ld", dead);      /* seed not in this run */
    FILE_CASE(0, "img0001.png.tmp.%ld", dead);       /* not a name of a seed run */
    FILE_CASE(0, "notes.txt.tmp.%ld", dead);
    FILE_CASE(0, "seed0001.png.bak.tmp.%ld", dead);
    FILE_CASE(0, ".tmp.%ld", dead);
    for (int i = 0; i < nf; i++)
        touch_aged(out, files[i].name, hour);
    /* a fresh one: a writer on another machine sharing the directory */
    snprintf(n, sizeof n, "seed0000.png.tmp.%ld", dead);
    touch_aged(out, n, 5);
    /* not regular files: a directory and a link (to a file that must stay) */
    char p[700], q[700];
    snprintf(p, sizeof p, "%s/seed0002.png.tmp.%ld", out, dead);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    touch_aged(dir, "target", hour);
    snprintf(p, sizeof p, "%s/seed0003.png.tmp.1%ld", out, dead);
    snprintf(q, sizeof q, "%s/target", dir);
    ck_assert_int_eq(symlink(q, p), 0);
    /* next to --save-raw and --save-labels-like outputs */
    snprintf(n, sizeof n, "raw.npy.tmp.%ld", dead);
    touch_aged(dir, n, hour);
    snprintf(n, sizeof n, "raw.npy.tmp.%ld.bak", dead);
    touch_aged(dir, n, hour);
    snprintf(n, sizeof n, "other.npy.tmp.%ld", dead);
    touch_aged(dir, n, hour);

    run_ok("generate " UNET "--seeds 0-3 -q --outdir %s --save-raw %s/raw.npy", out, dir);

    for (int i = 0; i < nf; i++)
        ck_assert_msg(exists_in(out, files[i].name) == !files[i].removed, "%s: %s", files[i].name,
                      files[i].removed ? "stale, not removed" : "removed, but not stale");
    snprintf(n, sizeof n, "seed0000.png.tmp.%ld", dead);
    ck_assert_msg(exists_in(out, n), "a fresh temporary was removed");
    snprintf(n, sizeof n, "seed0002.png.tmp.%ld", dead);
    ck_assert_msg(exists_in(out, n), "a directory was removed");
    snprintf(n, sizeof n, "seed0003.png.tmp.1%ld", dead);
    ck_assert_msg(exists_in(out, n) && exists_in(dir, "target"), "a link or its target went");
    snprintf(n, sizeof n, "raw.npy.tmp.%ld", dead);
    ck_assert_msg(!exists_in(dir, n), "--save-raw's stale temporary stayed");
    snprintf(n, sizeof n, "raw.npy.tmp.%ld.bak", dead);
    ck_assert(exists_in(dir, n));
    snprintf(n, sizeof n, "other.npy.tmp.%ld", dead);
    ck_assert(exists_in(dir, n));
    for (int s = 0; s < 4; s++) {
        snprintf(n, sizeof n, "seed%04d.png", s);
        ck_assert(exists_in(out, n));
    }
#undef FILE_CASE
    remove_tree(dir);
    free(dir);
}
END_TEST

/* The other commands clean the temporaries of the outputs they write. */
typedef struct {
    const char *args; /* @: the directory */
    const char *dir;  /* where the stale file is, relative to @ ("" for @) */
    const char *name; /* the final name; the stale file is name.tmp.<dead> */
} stale_case;

static const stale_case stale_cases[] = {
    {"convert " TINY "/G_ema.pt -o @/g.fsw", "", "g.fsw"},
    {"encode " VNET "--images " CV "/x.npy --mean --save-raw @/z.npy --save-mu @/mu.npy", "",
     "mu.npy"},
    {"score " VNET "--images " CV "/x.npy --save-raw-dir @/heads -q", "heads", "d2_cls.npy"},
    {"score " DNET "--images " TINY "/img_psi1_const.npy --save-raw @/logits.npy -q", "",
     "logits.npy"},
    {"generate " VNET "--seeds 0-1 --identity 2 -q --outdir @/out --save-labels @/l.npy", "",
     "l.npy"},
    {"generate " VNET "--z " CV "/z.npy --identity 2 -q --outdir @/out", "out", "img0003.png"},
};

START_TEST(test_stale_temporaries_cleaned_by_every_command)
{
    const stale_case *c = &stale_cases[_i];
    char *dir = make_tmpdir();
    char sub[600], name[256], args[2048];
    snprintf(sub, sizeof sub, "%s%s%s", dir, *c->dir ? "/" : "", c->dir);
    mkdir(sub, 0755);
    long dead = dead_pid();
    snprintf(name, sizeof name, "%s.tmp.%ld", c->name, dead);
    touch_aged(sub, name, 3600);
    expand(args, sizeof args, c->args, dir);
    run_ok("%s", args);
    ck_assert_msg(exists_in(sub, c->name), "'%s' did not write %s", args, c->name);
    ck_assert_msg(!exists_in(sub, name), "'%s' left the stale %s", args, name);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- failures mid-run ------------------------------------------------------------ */

/* The first image cannot be written (a file-size limit of 512 bytes, less
 * than any PNG of the tiny network; not 0, which valgrind's own files do not
 * survive): exit 2 naming it, and the output directory the run created is
 * gone again, as are the directories above it that it created. */
START_TEST(test_failed_run_removes_new_dirs)
{
    char *dir = make_tmpdir();
    char args[1024], p[700], st[96], err[4096];
    snprintf(args, sizeof args, "generate " UNET "--seeds 0-3 -q --outdir %s/new/out", dir);
    int err_fd;
    pid_t pid = spawn_cli(args, 512, &err_fd);
    int ws = finish_cli(pid, err_fd, err, sizeof err);
    ck_assert_msg(WIFEXITED(ws) && WEXITSTATUS(ws) == 2, "%s: %s",
                  cli_status_text(ws, st, sizeof st), err);
    snprintf(p, sizeof p, "%s/new/out/seed0000.png", dir);
    ck_assert_msg(strstr(err, p), "'%s' lacks %s", err, p);
    ck_assert_msg(!strncmp(err, "facesynth generate: ", 20), "%s", err);
    ck_assert_msg(count_entries(dir) == 0, "the run left %s/new behind", dir);
    /* an existing directory stays, even empty */
    snprintf(p, sizeof p, "%s/old", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(args, sizeof args, "generate " UNET "--seeds 0-3 -q --outdir %s/old", dir);
    pid = spawn_cli(args, 512, &err_fd);
    ws = finish_cli(pid, err_fd, err, sizeof err);
    ck_assert_msg(WIFEXITED(ws) && WEXITSTATUS(ws) == 2, "%s", err);
    ck_assert(exists(p));
    ck_assert_int_eq(count_entries(p), 0);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* A write fails after some outputs were written (the documented exception,
 * as a full disk would): the images written before it are complete and
 * valid, no temporary stays, and the output that failed does not exist. */
START_TEST(test_failed_write_keeps_complete_images)
{
    char *dir = make_tmpdir();
    char args[1024], p[700], st[96], err[4096];
    /* PNGs of 32x32 are a few KiB; the raw array of 8 is 96 KiB */
    snprintf(args, sizeof args,
             "generate " UNET "--seeds 0-7 -q --outdir %s/out --save-raw %s/raw.npy", dir, dir);
    int err_fd;
    pid_t pid = spawn_cli(args, 32 * 1024, &err_fd);
    int ws = finish_cli(pid, err_fd, err, sizeof err);
    ck_assert_msg(WIFEXITED(ws) && WEXITSTATUS(ws) == 2, "%s: %s",
                  cli_status_text(ws, st, sizeof st), err);
    snprintf(p, sizeof p, "%s/raw.npy", dir);
    ck_assert_msg(strstr(err, p), "'%s' lacks %s", err, p);
    ck_assert(!exists(p));
    snprintf(p, sizeof p, "%s/out", dir);
    ck_assert_int_eq(count_valid_pngs(p), 8);
    ck_assert_int_eq(count_temps(p, NULL, 0), 0);
    ck_assert_int_eq(count_temps(dir, NULL, 0), 0);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- output paths checked before any work ------------------------------------- */

/* @ holds: a directory where an output file would go. */
static const cli_bad late_cases[] = {
    {"generate " UNET "--seeds 0-3 --outdir @/out --batch 1", "@/out/seed0002.png: is a directory"},
    {"generate " VNET "--z " CV "/z.npy --identity 0 --outdir @/out --batch 1",
     "@/out/img0002.png: is a directory"},
    {"score " VNET "--images " CV "/x.npy --save-raw-dir @/heads",
     "@/heads/d2_src.npy: --save-raw-dir names a directory"},
    {"score " DNET "--images " TINY "/img_psi1_const.npy --save-raw @/heads",
     "@/heads: --save-raw names a directory"},
    {"encode " VNET "--images " CV "/x.npy --save-raw @/z.npy --save-logvar @/heads",
     "@/heads: --save-logvar names a directory"},
    {"generate " VNET "--seeds 0 --identity 0 --outdir @/o2 --save-labels @/heads",
     "@/heads: --save-labels names a directory"},
    {"generate " VNET "--seeds 0 --identity 0 --outdir @/o2 --save-raw @/r.npy",
     "@/r.labels.npy: --save-raw (its labels file) names a directory"},
};

START_TEST(test_outputs_checked_first)
{
    char *dir = make_tmpdir();
    char p[700];
    snprintf(p, sizeof p, "%s/out", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    static const char *const dirs[] = {"out/seed0002.png", "out/img0002.png", "heads",
                                       "heads/d2_src.npy", "r.labels.npy"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, dirs[i]);
        ck_assert_int_eq(mkdir(p, 0755), 0);
    }
    snprintf(p, sizeof p, "%s/out", dir);
    int before = count_entries(p);
    expect_refused(late_cases[_i].args, late_cases[_i].needle, dir);
    /* nothing written before the refusal: not even the first image */
    ck_assert_int_eq(count_entries(p), before);
    snprintf(p, sizeof p, "%s/heads", dir);
    ck_assert_int_eq(count_entries(p), 1);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- messages ------------------------------------------------------------------ */

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xffffffffu;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A PNG header of w x h RGB8 with a valid IHDR checksum, then IEND: enough
 * for a decoder to read the size (no pixel data: nothing huge is written). */
static size_t png_header(uint8_t buf[64], uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(buf, sig, 8);
    put_be32(buf + 8, 13);
    memcpy(buf + 12, "IHDR", 4);
    put_be32(buf + 16, w);
    put_be32(buf + 20, h);
    buf[24] = 8; /* depth */
    buf[25] = 2; /* RGB */
    buf[26] = buf[27] = buf[28] = 0;
    put_be32(buf + 29, crc32_png(buf + 12, 17));
    put_be32(buf + 33, 0);
    memcpy(buf + 37, "IEND", 4);
    put_be32(buf + 41, crc32_png(buf + 37, 4));
    return 45;
}

START_TEST(test_png_over_limit_names_it)
{
    uint8_t buf[64];
    uint8_t *rgb;
    int w, h;
    static const uint32_t dims[][2] = {{20000, 20000}, {16385, 8}, {8, 16385}, {1u << 31, 1}};
    for (size_t i = 0; i < sizeof dims / sizeof *dims; i++) {
        size_t n = png_header(buf, dims[i][0], dims[i][1]);
        fs_status s = fs_png_decode_rgb(buf, n, "big.png", &rgb, &w, &h);
        ck_assert_int_eq(s, FS_ERR_LIMIT);
        char want[128];
        snprintf(want, sizeof want, "big.png: PNG of %ux%u pixels: larger than the limit of "
                 "16384x16384", dims[i][0], dims[i][1]);
        ck_assert_msg(strstr(fs_error_message(), want), "'%s' lacks '%s'", fs_error_message(),
                      want);
        ck_assert_ptr_null(rgb);
    }
    /* the limit itself is not refused for its size (libpng then finds the
     * missing pixel data) */
    size_t n = png_header(buf, 16384, 1);
    fs_status s = fs_png_decode_rgb(buf, n, "edge.png", &rgb, &w, &h);
    ck_assert_int_ne(s, FS_ERR_LIMIT);
    ck_assert_ptr_null(strstr(fs_error_message(), "limit"));

    /* and on the command line, for score and encode */
    char *dir = make_tmpdir();
    char p[700];
    snprintf(p, sizeof p, "%s/faces", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/faces/huge.png", dir);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    n = png_header(buf, 20000, 20000);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
    expect_refused("score " VNET "--images @/faces",
                   "@/faces/huge.png: PNG of 20000x20000 pixels: larger than the limit of "
                   "16384x16384", dir);
    expect_refused("encode " VNET "--images @/faces --save-raw @/z.npy",
                   "@/faces/huge.png: PNG of 20000x20000 pixels: larger than the limit", dir);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* Every error line of every command starts with "facesynth <command>: ",
 * usage errors and library errors alike (expect_refused checks it). */
static const cli_bad prefix_cases[] = {
    {"generate " UNET "--seeds 0 --outdir @/out --batch 0", "--batch"},
    {"generate --network @/missing.pkl --seeds 0 --outdir @/out", "@/missing.pkl"},
    {"score " DNET "--images @/missing.npy", "@/missing.npy"},
    {"score " DNET, "missing --images"},
    {"encode " VNET "--images @/missing.npy --save-raw @/z.npy", "@/missing.npy"},
    {"encode " VNET "--images " CV "/x.npy", "missing --save-raw"},
    {"convert @/missing.pkl -o @/x.fsw", "@/missing.pkl"},
    {"convert " TINY "/G_ema.pt", "missing -o"},
    {"info @/missing.fsw", "@/missing.fsw"},
    {"info", "missing FILE"},
};

START_TEST(test_error_prefix)
{
    char *dir = make_tmpdir();
    expect_refused(prefix_cases[_i].args, prefix_cases[_i].needle, dir);
    remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_error_prefix_without_command)
{
    char err[4096];
    ck_assert_int_eq(run_cli("frobnicate", err, sizeof err, NULL, 0), 2);
    ck_assert_msg(!strncmp(err, "facesynth: unknown command 'frobnicate'", 39), "%s", err);
}
END_TEST

/* ---- flags ---------------------------------------------------------------------- */

static const cli_bad flag_cases[] = {
    {"generate " UNET "--seeds 0 --seeds 1 --outdir @/out", "--seeds is given twice"},
    {"generate " UNET "--seeds 0 --see 1 --outdir @/out", "--seeds is given twice"},
    {"generate " UNET "--seeds 0 --outdir @/out --outdir @/out2", "--outdir is given twice"},
    {"generate " UNET "--seeds 0 --trunc 0.5 --trunc 0.7 --outdir @/out", "--trunc is given twice"},
    {"generate " UNET "--network " TINY "/G_ema.pt --seeds 0 --outdir @/out",
     "--network is given twice"},
    {"generate " UNET "--seeds --outdir @/out", "--seeds needs a value"},
    {"generate --network --seeds 0 --outdir @/out", "--network needs a value"},
    {"generate " UNET "--seeds=--outdir --outdir @/out", "--seeds needs a value"},
    {"generate " UNET "--seeds 0 --outdir", "--outdir needs a value"},
    {"score " DNET "--images " TINY "/img_psi1_const.npy --batch 4 --batch 2", "--batch is given "
     "twice"},
    {"score " DNET "--images --batch 4", "--images needs a value"},
    {"encode " VNET "--images " CV "/x.npy --save-raw @/a.npy --save-raw @/b.npy",
     "--save-raw is given twice"},
    {"encode " VNET "--images " CV "/x.npy --save-raw @/a.npy --seed 1 --seed 2",
     "--seed is given twice"},
    {"convert " TINY "/G_ema.pt -o @/a.fsw -o @/b.fsw", "--output is given twice"},
    {"convert " TINY "/G_ema.pt -o @/a.fsw --output @/b.fsw", "--output is given twice"},
    {"convert " TINY "/G_ema.pt -o --dtype f16", "--output needs a value"},
    {"convert " TINY "/G_ema.pt -o @/a.fsw --dtype f16 --dtype bf16", "--dtype is given twice"},
    {"convert " TINY "/G_ema.pt -o @/a.fsw -o", "--output needs a value"},
    {"convert " TINY "/G_ema.pt -o @/a.fsw --rename @/r --rename @/s", "--rename is given twice"},
    {"info " TINY "/G_ema.pt --bogus", "unknown option '--bogus'"},
    {"generate " UNET "--s 0 --outdir @/out", "ambiguous option '--s': it abbreviates"},
    {"info " TINY "/G_ema.pt --tensors=1", "--tensors takes no value"},
    {"encode " VNET "--images " CV "/x.npy --save-raw @/a.npy --mean=1", "--mean takes no value"},
};

START_TEST(test_flag_misuse)
{
    char *dir = make_tmpdir();
    expect_refused(flag_cases[_i].args, flag_cases[_i].needle, dir);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* Flags without a value may be repeated: they only switch something on. */
START_TEST(test_switches_may_repeat)
{
    char *dir = make_tmpdir();
    run_ok("generate " UNET "--seeds 0 -q --quiet --outdir %s/out", dir);
    run_ok("info " TINY "/G_ema.pt --tensors --tensors");
    remove_tree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_integrity");
    TCase *nf = tcase_create("nonfinite");
    tcase_add_loop_test(nf, test_nonfinite_refused, 0,
                        (int)(sizeof nonfinite_cases / sizeof *nonfinite_cases));
    tcase_set_timeout(nf, 60);
    suite_add_tcase(s, nf);
    TCase *sg = tcase_create("signals");
    tcase_add_test(sg, test_temp_registry);
    tcase_add_loop_test(sg, test_signal_removes_temporaries, 0, 2);
    tcase_add_test(sg, test_stale_temporaries_cleaned);
    tcase_add_loop_test(sg, test_stale_temporaries_cleaned_by_every_command, 0,
                        (int)(sizeof stale_cases / sizeof *stale_cases));
    tcase_set_timeout(sg, 120);
    suite_add_tcase(s, sg);
    TCase *late = tcase_create("late");
    tcase_add_test(late, test_failed_run_removes_new_dirs);
    tcase_add_test(late, test_failed_write_keeps_complete_images);
    tcase_add_loop_test(late, test_outputs_checked_first, 0,
                        (int)(sizeof late_cases / sizeof *late_cases));
    tcase_set_timeout(late, 60);
    suite_add_tcase(s, late);
    TCase *msg = tcase_create("messages");
    tcase_add_test(msg, test_png_over_limit_names_it);
    tcase_add_loop_test(msg, test_error_prefix, 0,
                        (int)(sizeof prefix_cases / sizeof *prefix_cases));
    tcase_add_test(msg, test_error_prefix_without_command);
    tcase_set_timeout(msg, 60);
    suite_add_tcase(s, msg);
    TCase *fl = tcase_create("flags");
    tcase_add_loop_test(fl, test_flag_misuse, 0, (int)(sizeof flag_cases / sizeof *flag_cases));
    tcase_add_test(fl, test_switches_may_repeat);
    tcase_set_timeout(fl, 60);
    suite_add_tcase(s, fl);
    return fs_check_run(s, "cli_integrity");
}
