/* `facesynth convert`: any supported checkpoint -> flat weight file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../weights_tools/convert.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth convert INPUT -o OUTPUT [options]\n"
            "\n"
            "Converts a StyleGAN2, CVAE-GAN or e4e checkpoint into a flat weight file (.fsw),\n"
            "without Python. INPUT may be a stylegan2-ada-pytorch / stylegan3 network pickle,\n"
            "an original TensorFlow StyleGAN2 pickle, a torch.save file (zip or legacy) with\n"
            "an official or rosinality state dict or a CVAE-GAN state dict, or a\n"
            ".safetensors file. Pickles are read by a whitelisting reader that never executes\n"
            "anything.\n"
            "\n"
            "options:\n"
            "  -o, --output FILE       output weight file (written atomically)\n"
            "      --net G_ema|G|D|encoder|decoder\n"
            "                          which network of a StyleGAN2 checkpoint (default: G_ema,\n"
            "                          TF: Gs), or of an e4e checkpoint (default: encoder; the\n"
            "                          decoder is its StyleGAN2 generator); a CVAE-GAN file\n"
            "                          holds all its networks\n"
            "      --dtype f32|f16|bf16   storage type of every tensor (default f32)\n"
            "  -h, --help              this text\n"
            "\n"
            "state dicts with other tensor names, and hyper-parameters a bare state dict\n"
            "cannot carry (defaults: the official constructors'; they also override what a\n"
            "pickle says; StyleGAN2 only, except --rename):\n"
            "%s",
            cli_convert_help);
}

int cmd_convert(int argc, char **argv)
{
    enum { O_NET = 256, O_DTYPE };
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},   {"net", required_argument, 0, O_NET},
        {"dtype", required_argument, 0, O_DTYPE}, {"help", no_argument, 0, 'h'},
        CLI_CONVERT_OPTIONS,                      {0, 0, 0, 0}};
    cli_net_opts no;
    cli_net_opts_init(&no);
    fs_convert_options *o = &no.conv;
    const char *out = NULL;
    int c;
    cli_getopt_state go;
    cli_getopt_init(&go);
    while ((c = cli_getopt(&go, "convert", argc, argv, ":o:h", opts)) != -1) {
        if (c == CLI_OPT_ERROR)
            return FS_EXIT_FAILURE;
        int r = cli_convert_option("convert", c, optarg, &no);
        if (r >= 0) {
            if (r != 0)
                return r;
            continue;
        }
        switch (c) {
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return 0;
        case O_NET:
            if (!fs_net_parse(optarg, &o->net))
                return cli_usage_error("convert", "--net must be G_ema, G, D, encoder or decoder, "
                                       "not '%s'", optarg);
            break;
        case O_DTYPE:
            o->dtype = fs_dtype_parse_storable(optarg);
            if (o->dtype == FS_DTYPE_INVALID)
                return cli_usage_error("convert", "--dtype must be f32, f16 or bf16, not '%s'",
                                       optarg);
            break;
        default:
            return cli_usage_error("convert", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("convert", optind >= argc ? "missing INPUT" : "more than one INPUT");
    if (!out)
        return cli_usage_error("convert", "missing -o OUTPUT");
    const char *in = argv[optind];
    if (!*out)
        return cli_usage_error("convert", "-o is empty");
    fs_convert_report rep;
    fs_status s = fs_convert_file(in, out, o, &rep);
    if (s != FS_OK)
        return cli_fail(s);
    /* The output was written as OUTPUT.tmp.<pid>, as dead runs wrote it:
     * the ones they left can go. */
    cli_clean_stale_output(out);
    fprintf(stderr, "facesynth: %s (%s, %s) -> %s: %s, %zu tensors, %s\n", in, rep.format, rep.net,
            out, fs_family_name(rep.family), rep.tensors, fs_dtype_name(o->dtype));
    return 0;
}
