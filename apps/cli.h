/* Shared pieces of the facesynth command line: subcommand entry points and
 * the one way every command reports a failure (one line on stderr, exit 2). */
#ifndef FS_CLI_H
#define FS_CLI_H

#include "../engine/status.h"

#define FS_EXIT_FAILURE 2

int cmd_convert(int argc, char **argv);
int cmd_info(int argc, char **argv);

/* Prints "facesynth: <library message>" and returns FS_EXIT_FAILURE. */
int cli_fail(fs_status s);
/* Prints "facesynth <cmd>: <message>" for usage errors, returns FS_EXIT_FAILURE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
