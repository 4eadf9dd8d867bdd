/* Boundary files (edit.h): .npy (what InterFaceGAN releases and
 * train_boundary returns) and torch.save .pt files holding one tensor (how
 * e4e ships its StyleGAN2 directions), recognised by content; writing
 * (1, D) .npy files; and the SHA-256 that the edit labels record for each
 * boundary file, so a dataset can say exactly which file made an image
 * (`sha256sum FILE` prints the same digest). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../weights_tools/pickle.h"
#include "../weights_tools/torch_load.h"
#include "edit.h"
#include "file.h"

/* ---- SHA-256 (FIPS 180-4) ----------------------------------------------------- */

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

static inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                      sha_k[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

void fs_sha256_hex(const void *data, size_t n, char hex[65])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const uint8_t *p = data;
    size_t full = n / 64;
    for (size_t i = 0; i < full; i++)
        sha_block(h, p + 64 * i);
    /* the tail, the 0x80 marker and the bit length in one or two blocks */
    uint8_t tail[128] = {0};
    size_t rest = n % 64;
    if (rest)
        memcpy(tail, p + 64 * full, rest);
    tail[rest] = 0x80;
    size_t tl = rest < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++)
        tail[tl - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (size_t off = 0; off < tl; off += 64)
        sha_block(h, tail + off);
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        uint8_t byte = (uint8_t)(h[i / 4] >> (24 - 8 * (i % 4)));
        hex[2 * i] = digits[byte >> 4];
        hex[2 * i + 1] = digits[byte & 15];
    }
    hex[64] = '\0';
}

/* ---- reading -------------------------------------------------------------------- */

/* Shape (1, D) or (D,), with D in [1, FS_BOUNDARY_MAX_DIM]; D or -1. */
static int boundary_dim(int ndim, const int64_t *shape)
{
    int64_t d = ndim == 1 ? shape[0] : ndim == 2 && shape[0] == 1 ? shape[1] : -1;
    return d >= 1 && d <= FS_BOUNDARY_MAX_DIM ? (int)d : -1;
}

static fs_status shape_error(const char *label, const char *what, int ndim, const int64_t *shape)
{
    char s[160];
    size_t n = (size_t)snprintf(s, sizeof s, "[");
    for (int d = 0; d < ndim && n < sizeof s; d++)
        n += (size_t)snprintf(s + n, sizeof s - n, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (n < sizeof s)
        snprintf(s + n, sizeof s - n, "]");
    return fs_error(FS_ERR_SHAPE, "%s: %s has shape %s: a boundary is (1, D) or (D,) with "
                    "1 <= D <= %d", label, what, s, FS_BOUNDARY_MAX_DIM);
}

static fs_status dtype_error(const char *label, const char *what, fs_dtype t)
{
    return fs_error(FS_ERR_UNSUPPORTED, "%s: %s holds %s values: a boundary is float32 or "
                    "float64", label, what, fs_dtype_name(t));
}

/* Fills v[i] = element (base + i * stride) of type t, then checks every
 * value and the norm. */
static fs_status boundary_fill(const char *label, fs_dtype t, const uint8_t *base, int64_t stride,
                               int dim, fs_boundary *out)
{
    memset(out, 0, sizeof *out);
    if (!(out->v = malloc((size_t)dim * sizeof *out->v)))
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", label);
    out->dim = dim;
    out->dtype = t;
    double ss = 0;
    for (int i = 0; i < dim; i++) {
        double x = fs_dtype_load(t, base, (int64_t)i * stride);
        if (!isfinite(x)) {
            fs_boundary_free(out);
            return fs_error(FS_ERR_FORMAT, "%s: boundary element %d is %s: every value must be "
                            "finite", label, i, isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
        }
        out->v[i] = x;
        ss += x * x;
    }
    out->norm = sqrt(ss);
    if (!(out->norm > 0)) {
        fs_boundary_free(out);
        return fs_error(FS_ERR_ARG, "%s: boundary is the zero vector: it has no direction", label);
    }
    if (!isfinite(out->norm)) {
        fs_boundary_free(out);
        return fs_error(FS_ERR_ARG, "%s: boundary's norm overflows a double", label);
    }
    return FS_OK;
}

static fs_status parse_npy(const uint8_t *buf, size_t len, const char *label, fs_boundary *out)
{
    fs_npy a;
    FS_TRY(fs_npy_parse(buf, len, label, &a));
    if (a.dtype != FS_DTYPE_F32 && a.dtype != FS_DTYPE_F64)
        return dtype_error(label, "the .npy", a.dtype);
    int dim = boundary_dim(a.ndim, a.shape);
    if (dim < 0)
        return shape_error(label, "the .npy", a.ndim, a.shape);
    /* One row: C and Fortran order lay it out alike. */
    return boundary_fill(label, a.dtype, a.data, 1, dim, out);
}

static fs_status parse_torch(const uint8_t *buf, size_t len, const char *label, fs_boundary *out)
{
    fs_pickle *p = NULL;
    FS_TRY(fs_pickle_init(&p, label, len));
    fs_pv *root = NULL;
    fs_status s = fs_torch_load(p, buf, len, &root);
    if (s == FS_OK && root->kind != FS_PV_TENSOR)
        s = fs_error(FS_ERR_FORMAT, "%s: the torch file holds a %s, not a single tensor", label,
                     root->kind == FS_PV_DICT ? "dict" : root->kind == FS_PV_LIST ? "list"
                     : root->kind == FS_PV_TUPLE ? "tuple" : "non-tensor object");
    if (s == FS_OK) {
        const fs_pv *st = root->u.tensor.storage;
        fs_dtype t = st->u.storage.dtype;
        int dim = boundary_dim(root->u.tensor.ndim, root->u.tensor.shape);
        if (t != FS_DTYPE_F32 && t != FS_DTYPE_F64)
            s = dtype_error(label, "the tensor", t);
        else if (dim < 0)
            s = shape_error(label, "the tensor", root->u.tensor.ndim, root->u.tensor.shape);
        else {
            /* the pickle reader guarantees the view lies inside its storage */
            int64_t stride = root->u.tensor.stride[root->u.tensor.ndim - 1];
            const uint8_t *base = st->u.storage.data + (size_t)root->u.tensor.offset *
                                                       fs_dtype_size(t);
            s = boundary_fill(label, t, base, stride, dim, out);
        }
    }
    fs_pickle_free(p);
    return s;
}

fs_status fs_boundary_parse(const uint8_t *buf, size_t len, const char *label, fs_boundary *out)
{
    memset(out, 0, sizeof *out);
    if (len >= 6 && memcmp(buf, "\x93NUMPY", 6) == 0)
        FS_TRY(parse_npy(buf, len, label, out));
    else if (len >= 2 && (memcmp(buf, "PK", 2) == 0 || buf[0] == 0x80))
        FS_TRY(parse_torch(buf, len, label, out));
    else
        return fs_error(FS_ERR_FORMAT, "%s: not a boundary file: expected a .npy array or a "
                        "torch.save .pt holding one tensor", label);
    fs_sha256_hex(buf, len, out->sha256);
    return FS_OK;
}

fs_status fs_boundary_load(const char *path, fs_boundary *out)
{
    memset(out, 0, sizeof *out);
    fs_file_map m;
    FS_TRY(fs_file_map_open(path, &m));
    fs_status s = fs_boundary_parse(m.data ? m.data : (const uint8_t *)"", m.size, path, out);
    fs_file_map_close(&m);
    return s;
}

/* ---- writing ----------------------------------------------------------------------- */

fs_status fs_boundary_write(const char *path, const fs_boundary *b)
{
    int64_t shape[2] = {1, b->dim};
    if (b->dtype == FS_DTYPE_F64)
        return fs_npy_write(path, FS_DTYPE_F64, 2, shape, b->v);
    float *f = malloc((size_t)b->dim * sizeof *f);
    if (!f)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < b->dim; i++)
        f[i] = (float)b->v[i];
    fs_status s = fs_npy_write(path, FS_DTYPE_F32, 2, shape, f);
    free(f);
    return s;
}
