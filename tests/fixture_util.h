/* Fixture helpers for the model suites, written once: golden arrays read
 * from the .npy files under tests/fixtures/, golden comparisons that name the
 * file, and networks opened the way the command line opens them
 * (fs_network_open: a .fsw or any checkpoint, converted in memory, family
 * checked). Every failure is a Check assertion with the path and the
 * library's message. */
#ifndef FS_FIXTURE_UTIL_H
#define FS_FIXTURE_UTIL_H

#include "check_util.h"

#include <stdint.h>

#include "../engine/network.h"
#include "../weights_tools/npy.h"

typedef struct {
    float *data;
    int ndim;
    int64_t shape[FS_NPY_MAX_DIMS];
    size_t numel;
} fs_fixture_arr;

/* dir/name as float32 (the .npy may hold another float type). */
/* A .npy file as float32 (the file may hold another float type). */
static inline fs_fixture_arr fs_fixture_load_path(const char *path)
{
    fs_fixture_arr a;
    memset(&a, 0, sizeof a);
    fs_status s = fs_npy_read_f32(path, &a.ndim, a.shape, &a.data);
    ck_assert_msg(s == FS_OK, "%s: %s", path, fs_error_message());
    a.numel = 1;
    for (int d = 0; d < a.ndim; d++)
        a.numel *= (size_t)a.shape[d];
    return a;
}

static inline fs_fixture_arr fs_fixture_load(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return fs_fixture_load_path(path);
}

static inline void fs_fixture_free(fs_fixture_arr *a)
{
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* got against the golden dir/name: relative L2 <= tol. `who` (e.g. "cuda")
 * leads the message; FS_TEST_VERBOSE=1 prints every error measured. */
static inline double fs_fixture_expect_close(const char *who, const float *got, const char *dir,
                                             const char *name, double tol)
{
    fs_fixture_arr want = fs_fixture_load(dir, name);
    double e = fs_check_rel_l2(got, want.data, want.numel);
    if (getenv("FS_TEST_VERBOSE"))
        printf("%s %s/%-40s relative L2 %.3g\n", who, dir, name, e);
    ck_assert_msg(e <= tol, "%s %s/%s: relative L2 error %.3g > %.0e", who, dir, name, e, tol);
    fs_fixture_free(&want);
    return e;
}

/* The options of a fixture network: the role asked for and, for state
 * dicts (which do not record it), a conv_clamp override when >= 0. */
static inline fs_network_opts fs_fixture_opts(fs_network_want want, double conv_clamp)
{
    fs_network_opts o;
    fs_network_opts_default(&o);
    o.want = want;
    if (conv_clamp >= 0) {
        o.convert.overrides.has_conv_clamp = 1;
        o.convert.overrides.conv_clamp = conv_clamp;
    }
    return o;
}

/* The weights at path, opened with fs_network_open (o NULL: defaults). */
static inline fs_weights *fs_fixture_open(const char *path, const fs_network_opts *o)
{
    fs_weights *w = NULL;
    fs_status s = fs_network_open(path, o, &w, NULL);
    ck_assert_msg(s == FS_OK, "%s: %s", path, fs_error_message());
    return w;
}

/* dir/file with fs_fixture_opts(want, conv_clamp). */
static inline fs_weights *fs_fixture_open_in(const char *dir, const char *file,
                                             fs_network_want want, double conv_clamp)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    fs_network_opts o = fs_fixture_opts(want, conv_clamp);
    return fs_fixture_open(path, &o);
}

#endif
