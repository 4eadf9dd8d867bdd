/* fs_backend_open: a backend chosen by name, so that a program linking the
 * library picks the CPU or the CUDA backend at run time without including
 * CUDA headers or knowing whether this build has CUDA. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#ifdef FS_WITH_CUDA
#include "../kernels/cuda_backend.h"
#endif

static const char *const precision_names[] = {"fp32", "tf32", "fp16", "bf16", "mixed"};

int fs_backend_precision_parse(const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < (int)(sizeof precision_names / sizeof *precision_names); i++)
        if (!strcmp(s, precision_names[i]))
            return i;
    return -1;
}

int fs_backend_device_index(const char *device)
{
    if (!device || !strcmp(device, "cpu"))
        return -1;
    if (!strcmp(device, "cuda"))
        return 0;
    if (strncmp(device, "cuda:", 5) != 0 || device[5] < '0' || device[5] > '9')
        return -2;
    char *end;
    long v = strtol(device + 5, &end, 10);
    return *end || v > 255 ? -2 : (int)v;
}

int fs_backend_has_cuda(void)
{
#ifdef FS_WITH_CUDA
    return 1;
#else
    return 0;
#endif
}

fs_status fs_backend_open(const char *device, const char *precision, int threads,
                          fs_backend **out)
{
    *out = NULL;
    if (!device)
        device = "cpu";
    int prec = fs_backend_precision_parse(precision);
    if (prec < 0)
        return fs_error(FS_ERR_ARG, "precision must be fp32, tf32, fp16, bf16 or mixed, not '%s'",
                        precision);
    int idx = fs_backend_device_index(device);
    if (idx == -1) {
        if (prec == 1)
            return fs_error(FS_ERR_ARG, "precision tf32: the CPU backend emulates fp32, fp16, "
                            "bf16 and mixed only");
        return fs_backend_cpu_init_ex(out, threads, prec);
    }
    if (idx < 0)
        return fs_error(FS_ERR_ARG, "device must be cpu, cuda or cuda:N, not '%s'", device);
#ifdef FS_WITH_CUDA
    return fs_backend_cuda_init_ex(out, idx, (fs_cuda_precision)prec);
#else
    return fs_error(FS_ERR_UNSUPPORTED, "device %s: this build has no CUDA backend", device);
#endif
}
