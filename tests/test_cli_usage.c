/* README.md's Usage block against every command's --help (issue 15.9).
 *
 * For each command, the flags its --help defines (an option line: indented
 * by one to six spaces, then "-x, --flag" or "--flag"; continuation and
 * prose lines are indented further or do not start with a flag) must be
 * exactly the --flags README.md's Usage code block lists for that command
 * (the line "facesynth <command> ..." and the indented lines under it).
 * --help itself is left out: the README says once that every command takes
 * it. And every flag --help defines must be one the command accepts: given
 * alone, the error is never an unknown or ambiguous option. */
#define CLI_TMP_PREFIX "/tmp/fs_h5_usage"
#include "cli_util.h"

#include <ctype.h>

static const char *const commands[] = {"convert", "info", "generate", "score", "encode", "invert",
                                        "edit", "boundary project", "boundary train",
                                        "dataset", "dataset merge", "mixup",
                                        "landmarks", "filter", "augment", "embed", "refine"};
#define NCMD ((int)(sizeof commands / sizeof *commands))

#define MAX_FLAGS 64
typedef struct {
    char name[MAX_FLAGS][40]; /* without the leading "--" */
    int n;
} flag_set;

static int flag_set_has(const flag_set *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->name[i], name))
            return 1;
    return 0;
}

static void flag_set_add(flag_set *s, const char *p, size_t len)
{
    char name[40];
    ck_assert_uint_lt(len, sizeof name);
    memcpy(name, p, len);
    name[len] = '\0';
    if (!strcmp(name, "help") || flag_set_has(s, name))
        return;
    ck_assert_int_lt(s->n, MAX_FLAGS);
    strcpy(s->name[s->n++], name);
}

/* Length of the flag name at p (after "--"): [a-z0-9-]+. */
static size_t flag_len(const char *p)
{
    size_t n = 0;
    while (islower((unsigned char)p[n]) || isdigit((unsigned char)p[n]) || p[n] == '-')
        n++;
    return n;
}

/* Every "--flag" anywhere in [p, end). */
static void add_all_flags(flag_set *s, const char *p, const char *end)
{
    for (; p + 2 < end; p++) {
        if (p[0] != '-' || p[1] != '-' || (p > end - 3) || !islower((unsigned char)p[2]))
            continue;
        if (p[-1] != ' ' && p[-1] != '[' && p[-1] != '(' && p[-1] != '|' && p[-1] != '\n')
            continue;
        size_t n = flag_len(p + 2);
        flag_set_add(s, p + 2, n);
        p += 1 + n;
    }
}

/* The flags `facesynth cmd --help` defines. */
static void help_flags(const char *cmd, flag_set *s)
{
    char args[64], err[4096], out[128];
    snprintf(args, sizeof args, "%s --help", cmd);
    ck_assert_int_eq(run_cli(args, err, sizeof err, out, sizeof out), 0);
    char *text = slurp(out);
    unlink(out);
    memset(s, 0, sizeof *s);
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        size_t ind = 0;
        while (ind < len && line[ind] == ' ')
            ind++;
        const char *f = line + ind;
        if (ind >= 1 && ind <= 6 && f[0] == '-' && isalpha((unsigned char)f[1]) && f[2] == ',' &&
            f[3] == ' ')
            f += 4; /* "-q, --quiet" */
        if (ind >= 1 && ind <= 6 && f[0] == '-' && f[1] == '-' && islower((unsigned char)f[2]))
            flag_set_add(s, f + 2, flag_len(f + 2));
        line += len + (nl ? 1 : 0);
    }
    free(text);
    ck_assert_msg(s->n > 0, "%s --help defines no flag", cmd);
}

/* The flags README.md's Usage block lists for cmd. */
static void readme_flags(const char *cmd, flag_set *s)
{
    char *text = slurp("README.md");
    memset(s, 0, sizeof *s);
    char *sec = strstr(text, "\n## Usage\n");
    ck_assert_msg(sec, "README.md has no '## Usage' section");
    char *open = strstr(sec, "\n```");
    ck_assert_ptr_nonnull(open);
    char *body = strchr(open + 1, '\n') + 1;
    char *close = strstr(body, "\n```");
    ck_assert_ptr_nonnull(close);
    char head[64];
    snprintf(head, sizeof head, "facesynth %s ", cmd);
    int found = 0;
    for (char *line = body; line < close + 1;) {
        char *nl = strchr(line, '\n');
        if (!strncmp(line, head, strlen(head))) {
            found = 1;
            /* this line and the indented ones under it */
            char *end = nl;
            while (end && end < close && end[1] == ' ')
                end = strchr(end + 1, '\n');
            add_all_flags(s, line, end ? end : close);
            break;
        }
        line = nl + 1;
    }
    ck_assert_msg(found, "README.md's Usage block has no line 'facesynth %s ...'", cmd);
    free(text);
}

START_TEST(test_readme_usage_matches_help)
{
    const char *cmd = commands[_i];
    flag_set help, readme;
    help_flags(cmd, &help);
    readme_flags(cmd, &readme);
    char missing[1024] = "", extra[1024] = "";
    for (int i = 0; i < help.n; i++)
        if (!flag_set_has(&readme, help.name[i]))
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " --%s",
                     help.name[i]);
    for (int i = 0; i < readme.n; i++)
        if (!flag_set_has(&help, readme.name[i]))
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " --%s",
                     readme.name[i]);
    ck_assert_msg(!*missing && !*extra,
                  "%s: in --help but not in README.md's Usage block:%s; in the Usage block but "
                  "not in --help:%s", cmd, *missing ? missing : " none", *extra ? extra : " none");
}
END_TEST

/* Every flag --help defines is one the command parses. */
START_TEST(test_help_flags_are_accepted)
{
    const char *cmd = commands[_i];
    flag_set help;
    help_flags(cmd, &help);
    for (int i = 0; i < help.n; i++) {
        char args[128], err[4096];
        snprintf(args, sizeof args, "%s --%s", cmd, help.name[i]);
        int rc = run_cli(args, err, sizeof err, NULL, 0);
        ck_assert_msg(rc == 2, "'%s': exit status %d (%s)", args, rc, err);
        ck_assert_msg(!strstr(err, "unknown") && !strstr(err, "ambiguous"), "'%s': %s", args,
                      err);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_usage");
    TCase *tc = tcase_create("usage");
    tcase_add_loop_test(tc, test_readme_usage_matches_help, 0, NCMD);
    tcase_add_loop_test(tc, test_help_flags_are_accepted, 0, NCMD);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return fs_check_run(s, "cli_usage");
}
