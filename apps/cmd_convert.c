/* `facesynth convert`: any supported checkpoint -> flat weight file. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
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
            "Converts a StyleGAN2 checkpoint into a flat weight file (.fsw), without Python.\n"
            "INPUT may be a stylegan2-ada-pytorch / stylegan3 network pickle, an original\n"
            "TensorFlow StyleGAN2 pickle, a torch.save file (zip or legacy) with an official\n"
            "or rosinality state dict, or a .safetensors file. Pickles are read by a\n"
            "whitelisting reader that never executes anything.\n"
            "\n"
            "options:\n"
            "  -o, --output FILE       output weight file (written atomically)\n"
            "      --net G_ema|G|D     which network of a checkpoint (default: G_ema, TF: Gs)\n"
            "      --dtype f32|f16|bf16   storage type of every tensor (default f32)\n"
            "\n"
            "hyper-parameters a bare state dict cannot carry (defaults: the official\n"
            "constructors'; they also override what a pickle says):\n"
            "      --conv-clamp X      clamp of conv outputs (0 = none; official training: 256)\n"
            "      --architecture skip|resnet|orig\n"
            "      --mapping-lr X      mapping network learning-rate multiplier (0.01)\n"
            "      --num-fp16-res N    number of top resolutions the official code runs in fp16\n"
            "      --mbstd-group N     discriminator minibatch-std group size (0 = whole batch)\n"
            "  -h, --help              this text\n");
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return errno == 0 && end != s && *end == '\0' && isfinite(*out);
}

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    *out = v;
    return errno == 0 && end != s && *end == '\0';
}

int cmd_convert(int argc, char **argv)
{
    enum { O_NET = 256, O_DTYPE, O_CLAMP, O_ARCH, O_MLR, O_FP16, O_MBSTD };
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},   {"net", required_argument, 0, O_NET},
        {"dtype", required_argument, 0, O_DTYPE}, {"conv-clamp", required_argument, 0, O_CLAMP},
        {"architecture", required_argument, 0, O_ARCH},
        {"mapping-lr", required_argument, 0, O_MLR},
        {"num-fp16-res", required_argument, 0, O_FP16},
        {"mbstd-group", required_argument, 0, O_MBSTD},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    fs_convert_options o;
    fs_convert_options_default(&o);
    fs_sg2_overrides *ov = &o.overrides;
    const char *out = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return 0;
        case O_NET:
            if (!fs_net_parse(optarg, &o.net))
                return cli_usage_error("convert", "--net must be G_ema, G or D, not '%s'", optarg);
            break;
        case O_DTYPE:
            o.dtype = fs_dtype_parse_storable(optarg);
            if (o.dtype == FS_DTYPE_INVALID)
                return cli_usage_error("convert", "--dtype must be f32, f16 or bf16, not '%s'",
                                       optarg);
            break;
        case O_CLAMP:
            if (!parse_double(optarg, &ov->conv_clamp) || ov->conv_clamp < 0)
                return cli_usage_error("convert", "--conv-clamp needs a number >= 0, not '%s'",
                                       optarg);
            ov->has_conv_clamp = 1;
            break;
        case O_ARCH:
            if (!fs_sg2_arch_parse(optarg, &ov->architecture))
                return cli_usage_error("convert", "--architecture must be skip, resnet or orig");
            ov->has_architecture = 1;
            break;
        case O_MLR:
            if (!parse_double(optarg, &ov->mapping_lr) || ov->mapping_lr <= 0)
                return cli_usage_error("convert", "--mapping-lr needs a number > 0, not '%s'",
                                       optarg);
            ov->has_mapping_lr = 1;
            break;
        case O_FP16:
            if (!parse_int(optarg, &ov->num_fp16_res) || ov->num_fp16_res < 0)
                return cli_usage_error("convert", "--num-fp16-res needs an integer >= 0");
            ov->has_num_fp16_res = 1;
            break;
        case O_MBSTD:
            if (!parse_int(optarg, &ov->mbstd_group_size) || ov->mbstd_group_size < 0)
                return cli_usage_error("convert", "--mbstd-group needs an integer >= 0");
            ov->has_mbstd_group = 1;
            break;
        case ':':
            return cli_usage_error("convert", "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("convert", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("convert", optind >= argc ? "missing INPUT" : "more than one INPUT");
    if (!out)
        return cli_usage_error("convert", "missing -o OUTPUT");
    const char *in = argv[optind];
    fs_convert_report rep;
    fs_status s = fs_convert_file(in, out, &o, &rep);
    if (s != FS_OK)
        return cli_fail(s);
    fprintf(stderr, "facesynth: %s (%s, %s) -> %s: %s, %zu tensors, %s\n", in, rep.format, rep.net,
            out, fs_family_name(rep.family), rep.tensors, fs_dtype_name(o.dtype));
    return 0;
}
