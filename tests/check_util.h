/* Shared helpers for the Check suites: fixture paths, array comparisons that
 * report the worst element, and a runner that reports GPU test cases as
 * skipped (never as passed) on machines without an NVIDIA device.
 *
 * Check forks a child per test; CUDA must not be initialised before that, so
 * device presence is read from the driver's /proc and /dev entries, not from
 * the CUDA runtime. */
#ifndef FS_CHECK_UTIL_H
#define FS_CHECK_UTIL_H

#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FS_FIXTURES "tests/fixtures"

/* Relative L2 error ||a - b|| / ||b||, in double. */
static inline double fs_check_rel_l2(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

#define ck_assert_rel_l2_le(a, b, n, tol)                                                \
    do {                                                                                 \
        double e_ = fs_check_rel_l2((a), (b), (n));                                      \
        ck_assert_msg(e_ <= (tol), "relative L2 error %.3g > %.3g (%s vs %s)", e_,       \
                      (double)(tol), #a, #b);                                            \
    } while (0)

static inline int fs_check_have_gpu(void)
{
    if (getenv("FS_TEST_FORCE_GPU"))
        return 1;
    DIR *d = opendir("/proc/driver/nvidia/gpus");
    if (d) {
        struct dirent *e;
        int n = 0;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.')
                n++;
        closedir(d);
        if (n > 0)
            return 1;
    }
    return access("/dev/nvidia0", F_OK) == 0;
}

/* Up to 64 GPU test case names per binary, for the skip report. */
static const char *fs_check_gpu_cases[64];
static int fs_check_gpu_ncases;

/* Adds a tcase tagged "gpu" with a timeout that covers context creation. */
static inline TCase *fs_check_gpu_tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_set_tags(tc, "gpu");
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    if (fs_check_gpu_ncases < 64)
        fs_check_gpu_cases[fs_check_gpu_ncases++] = name;
    return tc;
}

static inline int fs_check_run(Suite *s, const char *suite_name)
{
    SRunner *sr = srunner_create(s);
    int gpu = fs_check_have_gpu();
    if (!gpu)
        for (int i = 0; i < fs_check_gpu_ncases; i++)
            printf("SKIP: %s: test case %s (tag gpu): no CUDA device on this machine\n",
                   suite_name, fs_check_gpu_cases[i]);
    srunner_run_tagged(sr, NULL, NULL, NULL, gpu ? NULL : "gpu", CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
