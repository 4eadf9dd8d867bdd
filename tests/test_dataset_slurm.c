/* `facesynth dataset` on a real Slurm cluster: tests/slurm/run_slurm_test.sh
 * starts munged, slurmctld and slurmd on this machine, runs a dataset as
 * `sbatch --wait --array=0-3` with --shard auto, merges, compares the result
 * with a single-process run byte for byte and stops the daemons it started.
 *
 * It needs root (the daemons) and Debian's slurm-wlm and munge (make check
 * installs them: TEST_PKGS). Where either is missing, this prints one SKIP
 * line and runs nothing; nothing is counted as passed. */
#include "check_util.h"

#include <sys/wait.h>

static const char *missing(void)
{
    if (geteuid() != 0)
        return "not root: slurmd and munged need it (run make check as root)";
    if (system("PATH=$PATH:/usr/sbin:/sbin; for b in munged slurmctld slurmd sbatch sinfo; do "
               "command -v $b >/dev/null 2>&1 || exit 1; done") != 0)
        return "slurm-wlm and munge are not installed (make deps-test installs them)";
    return NULL;
}

START_TEST(test_slurm_array)
{
    int ws = system("tests/slurm/run_slurm_test.sh");
    ck_assert_msg(ws != -1 && WIFEXITED(ws), "the script did not run to its end");
    ck_assert_msg(WEXITSTATUS(ws) != 77, "the script skipped although its needs were met");
    ck_assert_msg(WEXITSTATUS(ws) == 0, "tests/slurm/run_slurm_test.sh failed (exit %d)",
                  WEXITSTATUS(ws));
}
END_TEST

int main(void)
{
    const char *why = missing();
    if (why) {
        printf("SKIP: dataset_slurm: %s\n", why);
        return 0;
    }
    Suite *s = suite_create("dataset_slurm");
    TCase *tc = tcase_create("slurm");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_slurm_array);
    suite_add_tcase(s, tc);
    return fs_check_run(s, "dataset_slurm");
}
