/* facesynth: the command-line front end. Dispatches to one subcommand per
 * stage of the data path (convert -> info -> generate/score ...); the error
 * lines they print are cli_error.c's. */
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
            "            identity; SimGAN per-patch realism) for .npy images or a folder\n"
            "  encode    images -> CVAE-GAN latents z (and mu, logvar)\n"
            "  edit      InterFaceGAN latent edits (sweeps, random strengths, conditions)\n"
            "            along boundary files, synthesised with a StyleGAN2 generator\n"
            "  boundary  boundary files: project out conditions, or train one (linear SVM)\n"
            "  invert    face images -> StyleGAN2 W+ codes with an e4e encoder (and their\n"
            "            reconstructions through a generator)\n"
            "  landmarks dlib's 68 face landmarks (as dlib computes them) for boxes in PNGs\n"
            "  filter    keep augmented images whose landmarks agree with the original's\n"
            "            (and, optionally, that a StyleGAN2 discriminator finds real and an\n"
            "            identity network finds the same person)\n"
            "  embed     face images -> identity embeddings (Light CNN-9, ArcFace IR-SE-50)\n"
            "  refine    synthetic images -> SimGAN-refined images (any size, gray or colour)\n"
            "  dataset   identity-structured training sets (image folders or tar shards with\n"
            "            labels and provenance; resumable, sharded; 'dataset merge')\n"
            "  mixup     blend synthetic and real face sets pixel-wise, with soft labels\n"
            "  augment   invert, edit and synthesise labelled faces, keep the candidates\n"
            "            whose landmarks agree, and write them with their labels\n"
            "\n"
            "Run 'facesynth <command> --help' for the options of a command.\n");
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
                {"score", cmd_score}, {"encode", cmd_encode},
                {"embed", cmd_embed}, {"refine", cmd_refine},
                {"dataset", cmd_dataset}, {"mixup", cmd_mixup},
                {"edit", cmd_edit}, {"boundary", cmd_boundary}, {"invert", cmd_invert},
                {"landmarks", cmd_landmarks}, {"filter", cmd_filter}, {"augment", cmd_augment}};
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
