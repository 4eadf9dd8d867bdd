/* facesynth: the command-line front end. Dispatches to one subcommand per
 * stage of the data path (convert -> info -> generate/score ...). */
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

int cli_fail(fs_status s)
{
    const char *msg = fs_error_message();
    fprintf(stderr, "facesynth: %s\n", msg[0] ? msg : fs_status_string(s));
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
    if (!strcmp(cmd, "convert"))
        return cmd_convert(argc - 1, argv + 1);
    if (!strcmp(cmd, "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "generate"))
        return cmd_generate(argc - 1, argv + 1);
    if (!strcmp(cmd, "score"))
        return cmd_score(argc - 1, argv + 1);
    if (!strcmp(cmd, "encode"))
        return cmd_encode(argc - 1, argv + 1);
    fprintf(stderr, "facesynth: unknown command '%s' (see 'facesynth --help')\n", cmd);
    return FS_EXIT_FAILURE;
}
