/* What checking the CRC-32 of every torch.save zip member costs (issue 15).
 *
 * Writes (once) a torch.save zip of a config-f 1024x1024 StyleGAN2 generator
 * state dict, official names, deterministic pseudo-random weights (about
 * 120 MB), then times, after one warm-up, N in-memory conversions of it
 * (fs_convert_to_memory: mmap, zip directory, data.pkl, CRC-32 of every
 * member read, canonical mapping, the flat image with its CRC-32C sums; no
 * disk write, so that the measure is the CPU work the check adds to). It
 * also times the CRC-32 pass alone over every member and a plain read of the
 * same bytes. bench/bench_zip_crc.sh links this three times (as built, with
 * the table-only CRC-32 of -DFS_CRC32_PORTABLE_ONLY, and against a zip.c
 * compiled with FS_ZIP_BENCH_SKIP_CRC) and runs them in turn.
 *
 * Usage: bench_zip_crc [-n N] [PT]   (default PT bench/work/g1024-state-dict.pt) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../engine/file.h"
#include "../engine/stylegan2_config.h"
#include "../weights_tools/convert.h"
#include "../weights_tools/zip.h"
#include "bench_util.h"

/* ---- a growable byte buffer ---- */

typedef struct {
    uint8_t *b;
    size_t n, cap;
} buf;

static void put(buf *o, const void *p, size_t n)
{
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2;
        o->b = realloc(o->b, o->cap);
        if (!o->b) {
            fprintf(stderr, "bench_zip_crc: out of memory\n");
            exit(1);
        }
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void put8(buf *o, uint8_t v) { put(o, &v, 1); }
static void put16(buf *o, uint32_t v) { uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)}; put(o, b, 2); }
static void put32(buf *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(o, b, 4);
}

/* ---- the state dict's tensors ---- */

#define MAX_T 512
typedef struct {
    char name[96];
    int ndim;
    int64_t shape[4];
} spec;
static spec specs[MAX_T];
static int n_specs;

static fs_status collect(void *u, const char *name, int ndim, const int64_t *shape)
{
    if (n_specs == MAX_T)
        return FS_ERR_LIMIT;
    spec *s = &specs[n_specs++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->ndim = ndim;
    memcpy(s->shape, shape, sizeof(int64_t) * (size_t)ndim);
    return FS_OK;
}

/* ---- a torch.save zip writer (protocol 2 data.pkl, stored, 64-aligned) ---- */

static uint32_t crc_tab[256];
static uint32_t crc32_bitwise_table(const uint8_t *p, size_t n)
{
    if (!crc_tab[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            crc_tab[i] = c;
        }
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        c = crc_tab[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return ~c;
}

static void pk_str(buf *p, const char *s)
{
    put8(p, 'X');
    put32(p, (uint32_t)strlen(s));
    put(p, s, strlen(s));
}
static void pk_int(buf *p, int64_t v) { put8(p, 'J'); put32(p, (uint32_t)(int32_t)v); }
static void pk_global(buf *p, const char *mod, const char *name)
{
    put8(p, 'c');
    put(p, mod, strlen(mod));
    put8(p, '\n');
    put(p, name, strlen(name));
    put8(p, '\n');
}

typedef struct {
    char name[64];
    uint32_t crc, size, offset;
} member;

static void add_member(buf *z, member *m, const char *name, const uint8_t *data, uint32_t size)
{
    snprintf(m->name, sizeof m->name, "%s", name);
    m->crc = crc32_bitwise_table(data, size);
    m->size = size;
    m->offset = (uint32_t)z->n;
    size_t nl = strlen(name);
    size_t pad = (64 - (z->n + 30 + nl) % 64) % 64;
    if (pad && pad < 4)
        pad += 64;
    put32(z, 0x04034b50u);
    put16(z, 20), put16(z, 0), put16(z, 0), put16(z, 0), put16(z, 0);
    put32(z, m->crc), put32(z, size), put32(z, size);
    put16(z, (uint32_t)nl), put16(z, (uint32_t)pad);
    put(z, name, nl);
    if (pad) {
        put16(z, 0x4246), put16(z, (uint32_t)(pad - 4));
        for (size_t i = 4; i < pad; i++)
            put8(z, 'Z');
    }
    put(z, data, size);
}

static int write_checkpoint(const char *path)
{
    fs_sg2_config c;
    fs_sg2_config_default_g(&c);
    c.z_dim = c.w_dim = 512;
    c.img_resolution = 1024;
    c.img_channels = 3;
    c.channel_base = 32768;
    c.channel_max = 512;
    c.mapping_layers = 8;
    c.num_fp16_res = 4;
    c.conv_clamp = 256;
    if (fs_sg2_config_finalize(&c, "bench") != FS_OK ||
        fs_sg2_for_each_tensor(&c, collect, NULL) != FS_OK) {
        fprintf(stderr, "bench_zip_crc: %s\n", fs_error_message());
        return 1;
    }
    buf pkl = {0}, z = {0};
    static member members[MAX_T + 3];
    int nm = 0;
    put8(&pkl, 0x80), put8(&pkl, 2), put8(&pkl, '}'), put8(&pkl, '(');
    buf data = {0};
    for (int i = 0; i < n_specs; i++) {
        const spec *s = &specs[i];
        int64_t numel = 1, stride[4];
        for (int d = s->ndim - 1; d >= 0; d--) {
            stride[d] = numel;
            numel *= s->shape[d];
        }
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        pk_str(&pkl, s->name);
        pk_global(&pkl, "torch._utils", "_rebuild_tensor_v2");
        put8(&pkl, '('), put8(&pkl, '(');
        pk_str(&pkl, "storage");
        pk_global(&pkl, "torch", "FloatStorage");
        pk_str(&pkl, key);
        pk_str(&pkl, "cpu");
        pk_int(&pkl, numel);
        put8(&pkl, 't'), put8(&pkl, 'Q');
        pk_int(&pkl, 0);
        put8(&pkl, '(');
        for (int d = 0; d < s->ndim; d++)
            pk_int(&pkl, s->shape[d]);
        put8(&pkl, 't'), put8(&pkl, '(');
        for (int d = 0; d < s->ndim; d++)
            pk_int(&pkl, stride[d]);
        put8(&pkl, 't'), put8(&pkl, 0x89);
        pk_global(&pkl, "collections", "OrderedDict");
        put8(&pkl, ')'), put8(&pkl, 'R'), put8(&pkl, 't'), put8(&pkl, 'R');
    }
    put8(&pkl, 'u'), put8(&pkl, '.');
    /* The archive: data.pkl first, as torch writes it, then the storages. */
    add_member(&z, &members[nm++], "archive/data.pkl", pkl.b, (uint32_t)pkl.n);
    uint64_t state = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < n_specs; i++) {
        int64_t numel = 1;
        for (int d = 0; d < specs[i].ndim; d++)
            numel *= specs[i].shape[d];
        data.n = 0;
        for (int64_t k = 0; k < numel; k++) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            float v = (float)((int64_t)(state >> 40) - (1 << 23)) / (float)(1 << 24);
            put(&data, &v, 4);
        }
        char name[64];
        snprintf(name, sizeof name, "archive/data/%d", i);
        add_member(&z, &members[nm++], name, data.b, (uint32_t)data.n);
    }
    add_member(&z, &members[nm++], "archive/version", (const uint8_t *)"3\n", 2);
    add_member(&z, &members[nm++], "archive/byteorder", (const uint8_t *)"little", 6);
    uint32_t cd = (uint32_t)z.n;
    for (int i = 0; i < nm; i++) {
        size_t nl = strlen(members[i].name);
        put32(&z, 0x02014b50u);
        put16(&z, 20), put16(&z, 20), put16(&z, 0), put16(&z, 0), put16(&z, 0), put16(&z, 0);
        put32(&z, members[i].crc), put32(&z, members[i].size), put32(&z, members[i].size);
        put16(&z, (uint32_t)nl), put16(&z, 0), put16(&z, 0), put16(&z, 0), put16(&z, 0);
        put32(&z, 0), put32(&z, members[i].offset);
        put(&z, members[i].name, nl);
    }
    uint32_t cd_size = (uint32_t)z.n - cd;
    put32(&z, 0x06054b50u);
    put16(&z, 0), put16(&z, 0), put16(&z, (uint32_t)nm), put16(&z, (uint32_t)nm);
    put32(&z, cd_size), put32(&z, cd), put16(&z, 0);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(z.b, 1, z.n, f) == z.n;
    ok = f && fclose(f) == 0 && ok;
    free(pkl.b), free(z.b), free(data.b);
    if (!ok) {
        fprintf(stderr, "bench_zip_crc: cannot write %s\n", path);
        return 1;
    }
    fprintf(stderr, "bench_zip_crc: wrote %s (%d tensors)\n", path, n_specs);
    return 0;
}

/* ---- timing ---- */

static void report(const char *what, const double *t, int n, double bytes)
{
    stats s = stats_of(t, n);
    printf("%-34s median %.4f s  min %.4f  max %.4f  (%.0f MB/s of checkpoint)\n", what, s.median,
           s.min, s.max, bytes / s.median / 1e6);
}

int main(int argc, char **argv)
{
    int n = 9;
    const char *path = "bench/work/g1024-state-dict.pt";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else
            path = argv[i];
    }
    if (n < 1 || n > 1000)
        n = 9;
    struct stat st;
    if (stat(path, &st) != 0 && write_checkpoint(path) != 0)
        return 1;
    fs_file_map m;
    if (fs_file_map_open(path, &m) != FS_OK) {
        fprintf(stderr, "bench_zip_crc: %s\n", fs_error_message());
        return 1;
    }
#ifdef FS_ZIP_BENCH_SKIP_CRC
    const char *variant = "without the member CRC check";
#else
    const char *variant = "with the member CRC check";
#endif
    printf("%s: %zu bytes; %s; %d runs after 1 warm-up\n", path, m.size, variant, n);
    double *t = calloc((size_t)n, sizeof *t);
    fs_convert_options o;
    fs_convert_options_default(&o);
    o.overrides.has_conv_clamp = 1;
    o.overrides.conv_clamp = 256;
    for (int r = -1; r < n; r++) {
        double t0 = now_s();
        uint8_t *out = NULL;
        size_t len = 0;
        if (fs_convert_to_memory(path, &o, &out, &len, NULL) != FS_OK) {
            fprintf(stderr, "bench_zip_crc: %s\n", fs_error_message());
            return 1;
        }
        free(out);
        if (r >= 0)
            t[r] = now_s() - t0;
    }
    report("convert to memory", t, n, (double)m.size);
    /* The check alone: the CRC-32 of every member, and a plain read of the
     * same bytes (one 64-bit add per word) for scale. */
    fs_zip *z;
    if (fs_zip_open(m.data, m.size, path, &z) != FS_OK)
        return 1;
    volatile uint64_t sink = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int r = -1; r < n; r++) {
            double t0 = now_s();
            for (size_t i = 0; i < fs_zip_count(z); i++) {
                const fs_zip_entry *e = fs_zip_entry_at(z, i);
                const uint8_t *d;
                if (pass == 0) {
                    if (fs_zip_entry_data(z, e, 1, &d) != FS_OK)
                        return 1;
                } else {
                    fs_zip_entry_data(z, e, 0, &d);
                    uint64_t acc = 0, w;
                    for (size_t k = 0; k + 8 <= e->size; k += 8) {
                        memcpy(&w, d + k, 8);
                        acc += w;
                    }
                    sink += acc;
                }
            }
            if (r >= 0)
                t[r] = now_s() - t0;
        }
        report(pass == 0 ? "CRC-32 of every member" : "plain read of every member", t, n,
               (double)m.size);
    }
    fs_zip_free(z);
    fs_file_map_close(&m);
    free(t);
    return 0;
}
