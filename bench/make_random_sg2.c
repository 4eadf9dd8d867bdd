/* A StyleGAN2 generator with random weights, written as a .fsw: the
 * benchmarks' network where no checkpoint (and no PyTorch to make one) is at
 * hand. Weights and the learned constant are N(0, 1) as the official
 * initialisation draws them (equalised learning rate: the gains live in the
 * forward), biases 0 but the affine biases 1, noise strengths 0.1 so the
 * noise path does real work, w_avg N(0, 1); numpy's RandomState(seed).
 *
 *   build/bench/make_random_sg2 --out FILE [--resolution 256] [--channel-base 32768]
 *       [--channel-max 512] [--seed 0]
 *
 * Timing depends only on the shapes, which are config-f's for the given
 * resolution and channel base. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/stylegan2_config.h"
#include "random_sg2.h"

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"resolution", required_argument, 0, 'r'},
                                         {"channel-base", required_argument, 0, 'b'},
                                         {"channel-max", required_argument, 0, 'm'},
                                         {"seed", required_argument, 0, 's'},
                                         {0, 0, 0, 0}};
    const char *out = NULL;
    fs_sg2_config c;
    fs_sg2_config_default_g(&c);
    c.img_resolution = 256;
    unsigned seed = 0;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'o': out = optarg; break;
        case 'r': c.img_resolution = atoll(optarg); break;
        case 'b': c.channel_base = atoll(optarg); break;
        case 'm': c.channel_max = atoll(optarg); break;
        case 's': seed = (unsigned)strtoul(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: make_random_sg2 --out FILE [--resolution R] "
                            "[--channel-base N] [--channel-max N] [--seed S]\n");
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "make_random_sg2: missing --out FILE\n");
        return 2;
    }
    fs_status s = random_sg2_write(&c, seed, out, out, NULL, NULL);
    if (s != FS_OK) {
        fprintf(stderr, "make_random_sg2: %s\n", fs_error_message());
        return 1;
    }
    return 0;
}
