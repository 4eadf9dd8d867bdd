/* Strided views: permute, flip and reshape by stride arithmetic, and one
 * gather that converts while it walks. */
#include "view.h"

#include <string.h>

fs_view fs_view_contiguous(fs_dtype dtype, int ndim, const int64_t *shape, const void *base)
{
    fs_view v;
    memset(&v, 0, sizeof v);
    v.dtype = dtype;
    v.ndim = ndim;
    v.base = base;
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        v.shape[d] = shape[d];
        v.stride[d] = s;
        s *= shape[d];
    }
    return v;
}

int64_t fs_view_numel(const fs_view *v)
{
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++)
        n *= v->shape[d];
    return n;
}

int fs_view_is_contiguous(const fs_view *v)
{
    int64_t s = 1;
    for (int d = v->ndim - 1; d >= 0; d--) {
        if (v->shape[d] != 1 && v->stride[d] != s)
            return 0;
        s *= v->shape[d];
    }
    return 1;
}

fs_status fs_view_permute(fs_view *v, const int *perm)
{
    fs_view r = *v;
    unsigned used = 0;
    for (int i = 0; i < v->ndim; i++) {
        int p = perm[i];
        if (p < 0 || p >= v->ndim || (used & (1u << p)))
            return fs_error(FS_ERR_ARG, "invalid permutation");
        used |= 1u << p;
        r.shape[i] = v->shape[p];
        r.stride[i] = v->stride[p];
    }
    *v = r;
    return FS_OK;
}

fs_status fs_view_flip(fs_view *v, int d)
{
    if (d < 0 || d >= v->ndim)
        return fs_error(FS_ERR_ARG, "invalid flip dimension");
    if (v->shape[d] > 1)
        v->base += (ptrdiff_t)((v->shape[d] - 1) * v->stride[d]) * (ptrdiff_t)fs_dtype_size(v->dtype);
    v->stride[d] = -v->stride[d];
    return FS_OK;
}

fs_status fs_view_reshape(fs_view *v, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > FS_VIEW_MAX_DIMS)
        return fs_error(FS_ERR_ARG, "reshape to rank %d", ndim);
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= shape[d];
    if (n != fs_view_numel(v))
        return fs_error(FS_ERR_SHAPE, "reshape changes the element count");
    if (fs_view_is_contiguous(v)) {
        fs_view r = fs_view_contiguous(v->dtype, ndim, shape, v->base);
        r.add = v->add;
        *v = r;
        return FS_OK;
    }
    /* Non-contiguous: match the non-unit dimensions one to one. */
    fs_view r = *v;
    r.ndim = ndim;
    int src = 0;
    for (int d = 0; d < ndim; d++) {
        r.shape[d] = shape[d];
        if (shape[d] == 1) {
            r.stride[d] = 0;
            continue;
        }
        while (src < v->ndim && v->shape[src] == 1)
            src++;
        if (src >= v->ndim || v->shape[src] != shape[d])
            return fs_error(FS_ERR_SHAPE, "reshape of a strided view");
        r.stride[d] = v->stride[src++];
    }
    while (src < v->ndim && v->shape[src] == 1)
        src++;
    if (src != v->ndim)
        return fs_error(FS_ERR_SHAPE, "reshape of a strided view");
    *v = r;
    return FS_OK;
}

static void store(fs_dtype out_dtype, void *out, int64_t i, double x)
{
    switch (out_dtype) {
    case FS_DTYPE_F32: ((float *)out)[i] = (float)x; break;
    case FS_DTYPE_F16: ((uint16_t *)out)[i] = fs_f32_to_f16((float)x); break;
    case FS_DTYPE_BF16: ((uint16_t *)out)[i] = fs_f32_to_bf16((float)x); break;
    default: break;
    }
}

void fs_view_gather(const fs_view *v, int64_t first, int64_t n, fs_dtype out_dtype, void *out)
{
    /* The common case, a contiguous f32 tensor copied to f32, is a memcpy. */
    if (v->dtype == out_dtype && v->add == 0 && fs_view_is_contiguous(v)) {
        size_t es = fs_dtype_size(v->dtype);
        memcpy(out, v->base + (size_t)first * es, (size_t)n * es);
        return;
    }
    int64_t idx[FS_VIEW_MAX_DIMS];
    int64_t rem = first;
    for (int d = v->ndim - 1; d >= 0; d--) {
        idx[d] = v->shape[d] ? rem % v->shape[d] : 0;
        rem = v->shape[d] ? rem / v->shape[d] : 0;
    }
    int64_t off = 0;
    for (int d = 0; d < v->ndim; d++)
        off += idx[d] * v->stride[d];
    for (int64_t i = 0; i < n; i++) {
        /* Going through double is exact for every source type we accept except
         * i64 beyond 2^53, which no weight tensor holds. */
        double x = fs_dtype_load(v->dtype, v->base, off) + v->add;
        store(out_dtype, out, i, x);
        for (int d = v->ndim - 1; d >= 0; d--) {
            off += v->stride[d];
            if (++idx[d] < v->shape[d])
                break;
            off -= v->stride[d] * v->shape[d];
            idx[d] = 0;
        }
    }
}
