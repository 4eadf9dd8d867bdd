/* The one format of a facesynth error line: "facesynth <command>: <message>"
 * on stderr and exit status FS_EXIT_FAILURE, for library failures (cli_fail,
 * the library's recorded message) and usage errors (cli_usage_error, with a
 * pointer to the command's --help). Before a command is known the prefix is
 * "facesynth: ". */
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"

/* The command main dispatched to: every error line names it, so a failure
 * in a pipeline of several facesynth commands says which one failed. */
static const char *current_cmd;

void cli_set_command(const char *cmd) { current_cmd = cmd; }

int cli_fail(fs_status s)
{
    const char *msg = fs_error_message();
    fprintf(stderr, "facesynth%s%s: %s\n", current_cmd ? " " : "", current_cmd ? current_cmd : "",
            msg[0] ? msg : fs_status_string(s));
    return FS_EXIT_FAILURE;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "facesynth %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'facesynth %s --help')\n", cmd);
    va_end(ap);
    return FS_EXIT_FAILURE;
}

