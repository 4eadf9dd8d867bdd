/* `facesynth info`: what a weight file or a checkpoint holds. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../engine/network.h"
#include "../engine/weights.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facesynth info FILE [--tensors]\n"
            "\n"
            "Validates a flat weight file (checksums, bounds, required tensors) and prints its\n"
            "model family, hyper-parameters, tensor count and bytes. FILE may also be any\n"
            "checkpoint `convert` reads: it is described as converted in memory.\n"
            "\n"
            "options:\n"
            "      --tensors   also list every tensor: name, dtype, shape, bytes\n"
            "  -h, --help      this text\n");
}

static void print_meta(const fs_meta *m)
{
    printf("  %-22s ", m->key);
    switch (m->type) {
    case FS_META_I64: printf("%lld\n", (long long)m->i); break;
    case FS_META_F64: printf("%.17g\n", m->f); break;
    case FS_META_STR: printf("%s\n", m->str); break;
    case FS_META_F64_ARRAY:
        printf("[");
        for (size_t i = 0; i < m->len; i++)
            printf(i ? ", %g" : "%g", m->arr[i]);
        printf("]\n");
        break;
    }
}

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {{"tensors", no_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int list = 0, c;
    cli_getopt_state go;
    cli_getopt_init(&go);
    while ((c = cli_getopt(&go, "info", argc, argv, ":h", opts)) != -1) {
        if (c == CLI_OPT_ERROR)
            return FS_EXIT_FAILURE;
        if (c == 't')
            list = 1;
        else if (c == 'h') {
            usage(stdout);
            return 0;
        } else
            return cli_usage_error("info", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind != argc - 1)
        return cli_usage_error("info", optind >= argc ? "missing FILE" : "more than one FILE");
    /* A checkpoint is described through its in-memory conversion: what the
     * engine would run is what matters, whatever the source format. */
    fs_weights *w;
    fs_network_source src;
    fs_status s = fs_network_open(argv[optind], NULL, &w, &src);
    if (s != FS_OK)
        return cli_fail(s);
    uint64_t data_bytes;
    fs_weights_data(w, &data_bytes);
    uint64_t tensor_bytes = 0;
    for (size_t i = 0; i < fs_weights_tensor_count(w); i++)
        tensor_bytes += fs_weights_tensor_at(w, i)->nbytes;
    printf("file      %s\n", argv[optind]);
    if (src.converted)
        printf("source    %s (%s), converted in memory; `facesynth convert` saves it\n",
               src.report.format, src.report.net);
    printf("family    %s\n", fs_family_name(fs_weights_family(w)));
    printf("tensors   %zu (%llu bytes of data, %llu bytes in the file)\n",
           fs_weights_tensor_count(w), (unsigned long long)tensor_bytes,
           (unsigned long long)fs_weights_file_size(w));
    printf("metadata\n");
    for (size_t i = 0; i < fs_weights_meta_count(w); i++)
        print_meta(fs_weights_meta_at(w, i));
    if (list) {
        printf("tensors\n");
        for (size_t i = 0; i < fs_weights_tensor_count(w); i++) {
            const fs_tensor *t = fs_weights_tensor_at(w, i);
            char shape[96];
            size_t n = (size_t)snprintf(shape, sizeof shape, "[");
            for (int d = 0; d < t->ndim; d++)
                n += (size_t)snprintf(shape + n, sizeof shape - n, d ? ", %lld" : "%lld",
                                      (long long)t->shape[d]);
            snprintf(shape + n, sizeof shape - n, "]");
            printf("  %-44s %-5s %-22s %llu\n", t->name, fs_dtype_name(t->dtype), shape,
                   (unsigned long long)t->nbytes);
        }
    }
    fs_weights_free(w);
    return 0;
}
