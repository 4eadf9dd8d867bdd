/* Shared pieces of the facesynth command line: subcommand entry points and
 * the one way every command reports a failure (one line on stderr, exit 2). */
#ifndef FS_CLI_H
#define FS_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/status.h"
#include "../engine/weights.h"

#define FS_EXIT_FAILURE 2

int cmd_convert(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_score(int argc, char **argv);

/* Prints "facesynth: <library message>" and returns FS_EXIT_FAILURE. */
int cli_fail(fs_status s);
/* Prints "facesynth <cmd>: <message>" for usage errors, returns FS_EXIT_FAILURE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Helpers shared by generate and score (defined in cmd_generate.c). */

/* Whole-string integer in [lo, hi] / finite double; 1 on success. */
int cli_parse_long(const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *s, double *out);
/* "[4, 128]" */
void cli_shape_string(char *buf, size_t cap, int ndim, const int64_t *shape);
/* A .fsw (recognised by its magic) or any checkpoint the converter reads,
 * converted in memory (its D when discriminator is set); the family must be a
 * StyleGAN2 generator or discriminator accordingly. */
fs_status cli_open_network(const char *path, int discriminator, fs_weights **out);
/* Labels for n images of a network with c_dim classes: one-hot from --class
 * (has_class) or read from c_path ([n, c_dim], [1, c_dim] or [c_dim]).
 * *labels is NULL for unconditional networks; *rows is 1 (broadcast) or n.
 * FS_ERR_ARG for a missing, superfluous or out-of-range label. */
fs_status cli_load_labels(const char *c_path, int has_class, long class_idx, int64_t c_dim,
                          uint64_t n, float **labels, int *rows);

#endif
