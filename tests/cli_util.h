/* Helpers shared by the command-line suites (tests/test_cli_*.c): temporary
 * directories, reading files, running build/facesynth (or $FS_CLI) with its
 * stderr and stdout captured, and float32 .npy arrays.
 *
 * A suite defines CLI_TMP_PREFIX (e.g. "/tmp/fs_gen") before including this
 * header; temporary directories are CLI_TMP_PREFIX "_XXXXXX" and the captured
 * streams CLI_TMP_PREFIX "_err.<pid>" / "_out.<pid>". */
#ifndef FS_CLI_UTIL_H
#define FS_CLI_UTIL_H

#include "check_util.h"
#include "fixture_util.h"

#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../engine/file.h"
#include "../weights_tools/npy.h"

#ifndef CLI_TMP_PREFIX
#error "define CLI_TMP_PREFIX before including cli_util.h"
#endif

static inline char *make_tmpdir(void)
{
    char *d = strdup(CLI_TMP_PREFIX "_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

static inline void remove_tree(const char *d)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    ck_assert_int_eq(system(cmd), 0);
}

static inline int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Entries in a directory other than "." and ".." (0 when it does not exist). */
static inline int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static inline char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    return b;
}

/* Runs build/facesynth (or $FS_CLI, another build of the binary, e.g.
 * build-asan/facesynth, or a wrapped one: "valgrind -q --error-exitcode=9
 * build/facesynth") with args; stderr into err; stdout into a file whose
 * name goes to out_path (removed when out_path is NULL). Returns the wait
 * status. The shell execs the command, so a crash shows as WIFSIGNALED
 * rather than as the shell's exit status 128 + N. */
static inline int run_cli_wait(const char *args, char *err, size_t cap, char *out_path,
                               size_t out_cap)
{
    char e[64], o[64], cmd[4096];
    snprintf(e, sizeof e, CLI_TMP_PREFIX "_err.%ld", (long)getpid());
    snprintf(o, sizeof o, CLI_TMP_PREFIX "_out.%ld", (long)getpid());
    const char *bin = getenv("FS_CLI") ? getenv("FS_CLI") : "build/facesynth";
    snprintf(cmd, sizeof cmd, "exec %s %s 2>%s >%s", bin, args, e, o);
    int rc = system(cmd);
    FILE *f = fopen(e, "r");
    size_t n = f ? fread(err, 1, cap - 1, f) : 0;
    err[n] = '\0';
    if (f)
        fclose(f);
    unlink(e);
    if (out_path)
        snprintf(out_path, out_cap, "%s", o);
    else
        unlink(o);
    return rc;
}

/* run_cli_wait's status as the exit status, or -1 for a death by a signal. */
static inline int run_cli(const char *args, char *err, size_t cap, char *out_path,
                          size_t out_cap)
{
    int rc = run_cli_wait(args, err, cap, out_path, out_cap);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* "exit status 2", "killed by signal 11 (Segmentation fault)": for messages. */
static inline const char *cli_status_text(int wstatus, char *buf, size_t cap)
{
    if (wstatus == -1)
        snprintf(buf, cap, "not run (system() failed)");
    else if (WIFSIGNALED(wstatus))
        snprintf(buf, cap, "killed by signal %d (%s)", WTERMSIG(wstatus),
                 strsignal(WTERMSIG(wstatus)));
    else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) > 128)
        snprintf(buf, cap, "exit status %d (a shell's report of signal %d?)",
                 WEXITSTATUS(wstatus), WEXITSTATUS(wstatus) - 128);
    else
        snprintf(buf, cap, "exit status %d", WEXITSTATUS(wstatus));
    return buf;
}

/* run_cli with printf-style args; the test fails unless it exits 0. */
static inline int run_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int run_ok(const char *fmt, ...)
{
    char args[2048], err[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int ws = run_cli_wait(args, err, sizeof err, NULL, 0);
    char st[96];
    ck_assert_msg(ws != -1 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "'%s': %s: %s", args,
                  cli_status_text(ws, st, sizeof st), err);
    return 0;
}

/* The suites' one .npy loader (fixture_util.h), under the CLI suites' names. */
typedef fs_fixture_arr arr;

static inline arr load_f32(const char *path) { return fs_fixture_load_path(path); }

static inline void save_f32(const char *path, int ndim, const int64_t *shape, const float *data)
{
    ck_assert_msg(fs_npy_write(path, FS_DTYPE_F32, ndim, shape, data) == FS_OK, "%s",
                  fs_error_message());
}

static inline int files_equal(const char *a, const char *b)
{
    fs_file_map ma, mb;
    ck_assert_int_eq(fs_file_map_open(a, &ma), FS_OK);
    ck_assert_int_eq(fs_file_map_open(b, &mb), FS_OK);
    int eq = ma.size == mb.size && memcmp(ma.data, mb.data, ma.size) == 0;
    fs_file_map_close(&ma);
    fs_file_map_close(&mb);
    return eq;
}

/* The one rule for error lines: "facesynth <command>: ...", where the
 * command is args' first word. */
static inline int cli_error_prefix_ok(const char *args, const char *err)
{
    char prefix[64];
    size_t n = strcspn(args, " ");
    snprintf(prefix, sizeof prefix, "facesynth %.*s: ", (int)(n < 40 ? n : 40), args);
    return strncmp(err, prefix, strlen(prefix)) == 0;
}

/* A command line that must fail: args, and a piece of the one-line error
 * (in both, @ stands for the test's temporary directory; see expand). */
typedef struct {
    const char *args;
    const char *needle;
} cli_bad;

/* Copies s with every @ replaced by dir. */
static inline void expand(char *dst, size_t cap, const char *s, const char *dir)
{
    size_t n = 0, dl = strlen(dir);
    for (; *s && n + dl + 1 < cap; s++) {
        if (*s == '@') {
            memcpy(dst + n, dir, dl);
            n += dl;
        } else {
            dst[n++] = *s;
        }
    }
    dst[n] = '\0';
}

#endif
