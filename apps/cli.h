/* Shared pieces of the facesynth command line: subcommand entry points and
 * the one way every command reports a failure (one line on stderr, exit 2). */
#ifndef FS_CLI_H
#define FS_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "../engine/backend.h"
#include "../engine/network.h"
#include "../engine/status.h"
#include "../engine/weights.h"
#include "../weights_tools/convert.h"
#include "seeds.h"

#define FS_EXIT_FAILURE 2

int cmd_convert(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_encode(int argc, char **argv);
int cmd_invert(int argc, char **argv);
int cmd_edit(int argc, char **argv);
int cmd_boundary(int argc, char **argv);
int cmd_landmarks(int argc, char **argv);
int cmd_filter(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_mixup(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_refine(int argc, char **argv);
int cmd_augment(int argc, char **argv);

/* Error lines. The one rule: every error is one line on stderr that starts
 * with "facesynth <command>: " (the command main dispatched to, set with
 * cli_set_command); only an error before any command is known (no command,
 * an unknown one) starts with "facesynth: ". */
void cli_set_command(const char *cmd);
/* Prints "facesynth <command>: <library message>" and returns FS_EXIT_FAILURE. */
int cli_fail(fs_status s);
/* Prints "facesynth <cmd>: <message> (see 'facesynth <cmd> --help')" for
 * usage errors, returns FS_EXIT_FAILURE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- option parsing (every command's loop) ---- */

/* getopt_long with the checks every command needs, so that no flag is
 * silently dropped or misread:
 *   - a flag that takes a value, given twice (also as its short form), is an
 *     error: "--seeds is given twice" (the last one would win silently);
 *   - a value that starts with "--" is taken for a forgotten value:
 *     "--seeds needs a value" ("--seeds --outdir x" would otherwise read
 *     "--outdir" as the seed list and report 'x' as unexpected);
 *   - a missing value at the end and unknown options are reported here.
 * Returns the option's code, -1 at the end of the options, or
 * CLI_OPT_ERROR after a usage error was printed (exit with FS_EXIT_FAILURE).
 * opts may have at most CLI_OPTS_MAX entries. */
#define CLI_OPT_ERROR (-2)
#define CLI_OPTS_MAX 64
typedef struct {
    unsigned char seen[CLI_OPTS_MAX];
    unsigned char repeatable[CLI_OPTS_MAX]; /* set by cli_getopt_repeatable */
    const char *name; /* long name of the option just returned, or NULL */
} cli_getopt_state;
void cli_getopt_init(cli_getopt_state *g);
/* After cli_getopt_init: the option `name` of opts takes a value each time
 * it is given (edit --boundary A --boundary B) instead of being refused as
 * given twice. */
void cli_getopt_repeatable(cli_getopt_state *g, const struct option *opts, const char *name);
int cli_getopt(cli_getopt_state *g, const char *cmd, int argc, char **argv,
               const char *shortopts, const struct option *opts);

/* ---- signals: nothing left behind by SIGINT, SIGTERM or SIGHUP ---- */

/* Installs a handler for SIGINT, SIGTERM and SIGHUP (not for a signal the
 * process inherited as ignored, e.g. under nohup) that removes every live
 * output temporary (fs_out_file_remove_temps) and the empty directories
 * this run created (cli_make_dirs), then re-raises the signal with its
 * default action, so the exit status is the signal's. */
void cli_install_signal_cleanup(void);

/* ---- helpers shared by the commands (cli_common.c) ---- */

/* Whole-string integer in [lo, hi] / finite double; 1 on success. Every
 * number flag goes through these: NaN and infinities are refused. */
int cli_parse_long(const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *s, double *out);
/* --noise-mode: "const", "random" or "none"; 1 on success (each command
 * words its own error). */
int cli_parse_noise(const char *s, fs_noise_mode *out);
/* "[4, 128]" */
void cli_shape_string(char *buf, size_t cap, int ndim, const int64_t *shape);

/* The converter's options, for commands that take a checkpoint and convert
 * it in memory: --rename FILE and the StyleGAN2 hyper-parameter overrides
 * (--conv-clamp, --architecture, --mapping-lr, --num-fp16-res, --mbstd-group).
 * A command lists CLI_CONVERT_OPTIONS in its getopt table and hands every
 * option code to cli_convert_option. */
enum { CLI_O_CLAMP = 1000, CLI_O_ARCH, CLI_O_MLR, CLI_O_FP16, CLI_O_MBSTD, CLI_O_RENAME };
#define CLI_CONVERT_OPTIONS                                                                   \
    {"conv-clamp", required_argument, 0, CLI_O_CLAMP},                                       \
        {"architecture", required_argument, 0, CLI_O_ARCH},                                  \
        {"mapping-lr", required_argument, 0, CLI_O_MLR},                                     \
        {"num-fp16-res", required_argument, 0, CLI_O_FP16},                                  \
        {"mbstd-group", required_argument, 0, CLI_O_MBSTD},                                  \
        {"rename", required_argument, 0, CLI_O_RENAME}

typedef struct {
    fs_convert_options conv;
    const char *first_flag;    /* the first converter flag given ("--rename"), or NULL */
    const char *first_sg2_flag; /* the first StyleGAN2 override given, or NULL */
} cli_net_opts;

void cli_net_opts_init(cli_net_opts *o);
/* -1: code is not a converter option; 0: parsed into o; otherwise the exit
 * status of a usage error already printed (naming cmd). */
int cli_convert_option(const char *cmd, int code, const char *arg, cli_net_opts *o);
/* The help lines for those options. */
extern const char cli_convert_help[];

/* What a command takes: a StyleGAN2 generator or a CVAE-GAN (generate), a
 * StyleGAN2 discriminator or a CVAE-GAN (score), only a CVAE-GAN (encode). */
typedef enum { CLI_NET_GENERATOR, CLI_NET_DISCRIMINATOR, CLI_NET_CVAEGAN } cli_net_kind;

/* A .fsw (recognised by its magic) or any checkpoint the converter reads,
 * converted in memory with o (NULL: defaults; its D for CLI_NET_DISCRIMINATOR;
 * a CVAE-GAN state dict holds all its networks). The family must be one kind
 * takes. Converter flags with a .fsw, or StyleGAN2 overrides with a CVAE-GAN,
 * are FS_ERR_ARG. */
fs_status cli_open_network(const char *path, cli_net_kind kind, const cli_net_opts *o,
                           fs_weights **out);
/* Labels for n images of a network with c_dim classes: one-hot from --class
 * (has_class) or read from c_path ([n, c_dim], [1, c_dim] or [c_dim]).
 * *labels is NULL for unconditional networks; *rows is 1 (broadcast) or n.
 * FS_ERR_ARG for a missing, superfluous or out-of-range label. */
fs_status cli_load_labels(const char *c_path, int has_class, long class_idx, int64_t c_dim,
                          uint64_t n, float **labels, int *rows);

/* ---- float inputs ---- */

/* Every float .npy a command reads (--z, --ws, --c, --eps, --images) comes
 * through here: fs_npy_read_f32, then every value must be finite. A NaN or
 * an infinity (also a float64 too large for float32) would run through the
 * networks and come out as black images with exit status 0. The error names
 * the file, the flag, the row (first index) and the column (the index within
 * the row; for 3 or more dimensions also the full index):
 *   "z.npy: --z row 3, column 17 is nan: every value must be finite" */
fs_status cli_read_npy(const char *path, const char *flag, int *ndim, int64_t *shape,
                       float **out);
/* The check alone: FS_OK, or FS_ERR_FORMAT with that message. */
fs_status cli_check_finite(const char *path, const char *flag, const float *x, int ndim,
                           const int64_t *shape);

/* ---- output paths ---- */

/* Directories a run created (cli_make_dirs), so that a failed run removes
 * them again when it wrote nothing into them. */
typedef struct {
    char *path;    /* the directory asked for, trailing slashes dropped */
    size_t keep;   /* length of its longest prefix that existed before */
    int slot;      /* 1 + index in the signal handler's list; 0: none */
} cli_new_dirs;

/* mkdir -p (FS_ERR_IO naming dir on failure). made (may be NULL) records the
 * directories created, also for the signal handler. On failure nothing that
 * was created stays. */
fs_status cli_make_dirs(const char *dir, cli_new_dirs *made);
/* After a failure: removes the directories made created, deepest first, as
 * long as they are empty (rmdir: never anything this run did not create,
 * never a file). Then forgets them. */
void cli_new_dirs_remove(cli_new_dirs *made);
/* After success: keeps them, and takes them off the signal handler's list. */
void cli_new_dirs_keep(cli_new_dirs *made);
/* An output directory, before any work: cli_make_dirs, then cli_probe_dir;
 * on failure the directories made are removed again (cli_new_dirs_remove). */
fs_status cli_make_outdir(const char *dir, cli_new_dirs *made);
/* Creates and removes a probe file: the only reliable writability test. */
fs_status cli_probe_dir(const char *dir);
/* Creates and removes path's temporary: fails now, not after the run, when
 * the output cannot be written. */
fs_status cli_probe_output(const char *path);
/* The one check of an output file named by `flag` (NULL path: none given),
 * made before any work by every command: not empty, not a directory, and its
 * temporary can be created. 0, or the exit status of the error printed. */
int cli_check_output(const char *cmd, const char *flag, const char *path);
/* Removes the stale temporaries of path (see fs_out_file_clean_stale). */
void cli_clean_stale_output(const char *path);

/* The images generate writes into an output directory: "seedNNNN.png" for a
 * seed list (every seed of *seeds), "imgNNNN.png" for rows 0 .. n - 1 of an
 * array (seeds NULL), as "%04u" writes the number. */
typedef struct {
    const fs_seed_list *seeds;
    uint64_t n;
} cli_image_names;
/* Before any work: an entry of dir that has the name of an image this run
 * writes and is a directory is an error (the rename into place would fail
 * after the run). 0 or the exit status of the error printed. */
int cli_check_image_names(const char *cmd, const char *dir, const cli_image_names *names);
/* Removes the stale temporaries of such images (and of the directory probe)
 * in dir. */
void cli_clean_stale_images(const char *dir, const cli_image_names *names);

/* A layer mask of n entries as ranges, "0-3,8" ("" when none is set), in a
 * malloc'ed string (NULL when out of memory). */
char *cli_layers_string(const unsigned char *mask, int n);
/* qsort/bsearch comparator for arrays of strings (char *): strcmp order. */
int cli_str_cmp(const void *a, const void *b);
/* A photo file name a command lists in a folder: *.png, *.jpg or *.jpeg in
 * any case, not hidden (no leading dot). */
int cli_is_photo_name(const char *s);

/* Images given to score and encode: an .npy [N, C, R, R] in [-1, 1] or a
 * directory of PNGs (*.png, any case, not hidden; sorted by name with
 * strcmp), decoded to RGB and mapped to [-1, 1] as x / 127.5 - 1. */
typedef struct {
    const char *path;
    const char *what;  /* "the discriminator", for size messages */
    int channels, res;
    int resize;        /* PNGs of another size are resized (image_resize.h) */
    int from_dir;
    char **names;      /* PNG file names (dir) */
    float *npy;        /* all images (npy) */
    uint64_t n;
    char *buf;         /* path of the PNG being read */
} cli_images;

/* Lists or reads the images and checks an .npy's shape against
 * [N, channels, res, res]. what must outlive im. */
fs_status cli_images_open(cli_images *im, const char *path, int channels, int res, int resize,
                          const char *what);
/* Images i0 .. i0 + nb - 1 as float [nb, C, R, R]: a pointer into the .npy,
 * or decoded into dst (which must hold nb images). */
fs_status cli_images_get(cli_images *im, uint64_t i0, int nb, float *dst, const float **out);
/* Prints the name of image i for a table: "file.png" or "x.npy[i]". */
void cli_images_print_name(const cli_images *im, uint64_t i);
void cli_images_free(cli_images *im);

/* ---- CVAE-GAN commands (cvaegan_generate.c, cvaegan_score.c) ---- */

/* generate, after cmd_generate parsed the arguments and opened a CVAE-GAN. */
typedef struct {
    const fs_seed_list *seeds; /* or NULL with z_path */
    const char *z_path, *c_path, *outdir, *raw_path, *labels_path;
    long identity;
    int has_identity;
    const char *mix, *mix_weights;
    long batch, threads;
    int quiet;
} cli_cvae_gen_args;
/* Takes ownership of w; returns the exit status. */
int cvaegan_generate(const cli_cvae_gen_args *a, fs_weights *w);

typedef struct {
    const char *images, *raw_dir;
    long batch, threads;
    int quiet;
} cli_cvae_score_args;
int cvaegan_score(const cli_cvae_score_args *a, fs_weights *w);

/* --batch: an integer from 1 to 4096; --threads: an integer from 0 to 4096
 * (0: one worker per core). Store it in *out and return 0, or return the exit
 * code of the usage error printed ("--batch needs an integer from 1 to 4096,
 * not 'x'"). */
int cli_batch_option(const char *cmd, const char *arg, long *out);
int cli_threads_option(const char *cmd, const char *arg, long *out);
/* --device: "cpu" (default), "cuda" or "cuda:N". Returns 0 or the exit code
 * of a usage error. */
int cli_device_option(const char *cmd, const char *arg);
/* --precision: "fp32" (default), "tf32", "fp16", "bf16" or "mixed" (the
 * official fp16-in-the-top-resolutions rule), the CUDA backend's modconv
 * arithmetic (kernels/cuda_backend.h fs_cuda_precision), emulated by the
 * CPU backend except tf32. Returns 0 or the
 * exit code of a usage error. */
int cli_precision_option(const char *cmd, const char *arg);
/* After parsing: tf32 with the CPU backend is a usage error (the CPU
 * emulates fp16, bf16 and mixed: docs/precision.md). 0 or that exit code. */
int cli_precision_check(const char *cmd);
/* The backend the --device option chose (CPU with `threads` workers), in
 * the --precision given. */
fs_status cli_backend_open(long threads, fs_backend **out);

#endif
