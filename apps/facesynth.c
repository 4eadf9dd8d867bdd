/* facesynth: the command-line front end. Dispatches to one subcommand per
 * stage of the data path (convert -> info -> generate/score ...), and owns
 * the one format of an error line: "facesynth <command>: <message>". */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define FS_VERSION "0.1.0"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth <command> [options]\n"
            "\n"
            "commands:\n"
            "  convert   checkpoint (.pkl, .pt, .safetensors) -> flat weight file (.fsw)\n"
            "  info      print a weight file's family, hyper-parameters and tensors\n"
            "  generate  images from a StyleGAN2 generator (gen_images.py-compatible seeds)\n"
            "            or a CVAE-GAN (an identity, or a mix of identities)\n"
            "  score     discriminator scores (StyleGAN2 logits; CVAE-GAN realism and\n"
            "            identity) for .npy images or a PNG directory\n"
            "  encode    images -> CVAE-GAN latents z (and mu, logvar)\n"
            "\n"
            "Run 'facesynth <command> --help' for the options of a command.\n");
}

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

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return FS_EXIT_FAILURE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("facesynth %s\n", FS_VERSION);
        return 0;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } cmds[] = {{"convert", cmd_convert}, {"info", cmd_info}, {"generate", cmd_generate},
                {"score", cmd_score}, {"encode", cmd_encode}};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        if (strcmp(cmd, cmds[i].name) != 0)
            continue;
        cli_set_command(cmds[i].name);
        /* No command leaves temporaries or new empty directories behind
         * when it is interrupted or terminated. */
        cli_install_signal_cleanup();
        return cmds[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "facesynth: unknown command '%s' (see 'facesynth --help')\n", cmd);
    return FS_EXIT_FAILURE;
}
