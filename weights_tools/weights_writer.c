/* Flat weight file writer. The layout is computed first (offsets do not
 * depend on data), tensor data is then streamed once, each tensor converted in
 * fixed-size chunks with its CRC-32C folded in as it goes, and the header,
 * metadata and directory, which hold those CRCs, are written last at the front
 * of the file. A file is therefore never read back to be checksummed. */
#include "weights_writer.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/crc32c.h"
#include "../engine/file.h"
#include "state_dict.h"

#define CHUNK_ELEMS (1 << 18)

typedef struct {
    char name[FS_FSW_NAME_MAX];
    fs_dtype dtype;
    fs_view src;
    uint64_t offset, nbytes;
    uint32_t crc;
} wtensor;

struct fs_weights_writer {
    fs_family family;
    uint8_t *meta;         /* encoded metadata records */
    size_t meta_size, meta_cap;
    uint32_t meta_count;
    wtensor *tensors;
    size_t n, cap;
};

static void wr16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

fs_status fs_weights_writer_init(fs_weights_writer **out, fs_family family)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return fs_error(FS_ERR_NOMEM, "weights writer: out of memory");
    (*out)->family = family;
    return FS_OK;
}

void fs_weights_writer_free(fs_weights_writer *w)
{
    if (!w)
        return;
    free(w->meta);
    free(w->tensors);
    free(w);
}

static int ident_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '.'))
            return 0;
    return 1;
}

fs_status fs_weights_writer_put_meta(void *writer, const char *key, fs_meta_type type, int64_t i,
                                     double f, const char *str, const double *arr, size_t n)
{
    fs_weights_writer *w = writer;
    size_t klen = strlen(key);
    if (klen >= FS_FSW_META_KEY_MAX || !ident_ok(key))
        return fs_error(FS_ERR_ARG, "metadata key '%s' is not a valid identifier", key);
    if (w->meta_count >= FS_FSW_MAX_META)
        return fs_error(FS_ERR_LIMIT, "too many metadata records");
    size_t vlen;
    switch (type) {
    case FS_META_I64: case FS_META_F64: vlen = 8; break;
    case FS_META_STR: vlen = strlen(str); break;
    case FS_META_F64_ARRAY: vlen = 8 * n; break;
    default: return fs_error(FS_ERR_ARG, "metadata '%s': unknown type", key);
    }
    if (vlen > UINT32_MAX / 2)
        return fs_error(FS_ERR_LIMIT, "metadata '%s' is too large", key);
    size_t rec = 8 + ((klen + vlen + 7) & ~(size_t)7);
    if (w->meta_size + rec > w->meta_cap) {
        size_t cap = (w->meta_cap ? w->meta_cap * 2 : 1024) + rec;
        uint8_t *p = realloc(w->meta, cap);
        if (!p)
            return fs_error(FS_ERR_NOMEM, "weights writer: out of memory for %zu metadata bytes",
                            cap);
        w->meta = p;
        w->meta_cap = cap;
    }
    uint8_t *p = w->meta + w->meta_size;
    memset(p, 0, rec);
    wr16(p, (uint16_t)klen);
    p[2] = (uint8_t)type;
    wr32(p + 4, (uint32_t)vlen);
    memcpy(p + 8, key, klen);
    uint8_t *v = p + 8 + klen;
    switch (type) {
    case FS_META_I64: memcpy(v, &i, 8); break;
    case FS_META_F64: memcpy(v, &f, 8); break;
    case FS_META_STR: memcpy(v, str, vlen); break;
    default: if (vlen) memcpy(v, arr, vlen); break;
    }
    w->meta_size += rec;
    w->meta_count++;
    return FS_OK;
}

fs_status fs_weights_writer_add(fs_weights_writer *w, const char *name, fs_dtype dtype,
                                const fs_view *src)
{
    if (strlen(name) >= FS_FSW_NAME_MAX || !ident_ok(name))
        return fs_error(FS_ERR_ARG, "tensor name '%s' is not a valid identifier", name);
    if (!fs_dtype_is_storable(dtype))
        return fs_error(FS_ERR_ARG, "tensor '%s': dtype %s cannot be stored", name,
                        fs_dtype_name(dtype));
    if (src->ndim > (int)FS_FSW_MAX_DIMS)
        return fs_error(FS_ERR_SHAPE, "tensor '%s': rank %d > %u", name, src->ndim,
                        FS_FSW_MAX_DIMS);
    if (w->n >= FS_FSW_MAX_TENSORS)
        return fs_error(FS_ERR_LIMIT, "too many tensors");
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        wtensor *t = realloc(w->tensors, cap * sizeof *t);
        if (!t)
            return fs_error(FS_ERR_NOMEM, "weights writer: out of memory for %zu tensors", cap);
        w->tensors = t;
        w->cap = cap;
    }
    wtensor *t = &w->tensors[w->n++];
    memset(t, 0, sizeof *t);
    strcpy(t->name, name);
    t->dtype = dtype;
    t->src = *src;
    t->nbytes = (uint64_t)fs_view_numel(src) * fs_dtype_size(dtype);
    return FS_OK;
}

size_t fs_weights_writer_count(const fs_weights_writer *w) { return w->n; }

/* Where the bytes go: a temporary file, or a buffer sized from the layout. */
typedef struct {
    fs_out_file *file;
    uint8_t *mem;
} sink;

static fs_status sink_write(sink *s, uint64_t off, const void *p, size_t n)
{
    if (s->mem) {
        memcpy(s->mem + off, p, n);
        return FS_OK;
    }
    return fs_out_file_write(s->file, p, n);
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

static fs_status write_all(fs_weights_writer *w, sink *s, uint64_t *total)
{
    uint64_t dir_off = FS_FSW_HEADER_SIZE + w->meta_size;
    uint64_t dir_size = (uint64_t)w->n * FS_FSW_DIR_ENTRY_SIZE;
    uint64_t data_off = align_up(dir_off + dir_size, FS_FSW_DATA_ALIGN);
    uint64_t pos = 0;
    for (size_t i = 0; i < w->n; i++) {
        w->tensors[i].offset = pos;
        pos = align_up(pos + w->tensors[i].nbytes, FS_FSW_TENSOR_ALIGN);
    }
    uint64_t data_size = pos;
    *total = data_off + data_size;
    if (s->mem == NULL && s->file == NULL)
        return FS_OK; /* layout only */

    /* The front part is written last; reserve it now. */
    uint8_t *front = calloc(1, data_off);
    if (!front)
        return fs_error(FS_ERR_NOMEM, "weights writer: out of memory for a %llu-byte header",
                        (unsigned long long)data_off);
    fs_status st = sink_write(s, 0, front, data_off);
    void *chunk = st == FS_OK ? malloc((size_t)CHUNK_ELEMS * 4) : NULL;
    if (st == FS_OK && !chunk)
        st = fs_error(FS_ERR_NOMEM, "weights writer: out of memory for a conversion buffer");
    static const uint8_t zeros[FS_FSW_TENSOR_ALIGN];
    uint64_t at = data_off;
    for (size_t i = 0; i < w->n && st == FS_OK; i++) {
        wtensor *t = &w->tensors[i];
        size_t es = fs_dtype_size(t->dtype);
        int64_t numel = fs_view_numel(&t->src);
        uint32_t crc = 0;
        int direct = t->src.dtype == t->dtype && t->src.add == 0 && fs_view_is_contiguous(&t->src);
        for (int64_t e = 0; e < numel && st == FS_OK; e += CHUNK_ELEMS) {
            int64_t n = numel - e < CHUNK_ELEMS ? numel - e : CHUNK_ELEMS;
            const void *bytes = chunk;
            if (direct)
                bytes = t->src.base + (size_t)e * es; /* straight from the mapping */
            else
                fs_view_gather(&t->src, e, n, t->dtype, chunk);
            crc = fs_crc32c(crc, bytes, (size_t)n * es);
            st = sink_write(s, at, bytes, (size_t)n * es);
            at += (uint64_t)n * es;
        }
        t->crc = crc;
        uint64_t pad = align_up(at - data_off, FS_FSW_TENSOR_ALIGN) - (at - data_off);
        if (st == FS_OK && pad)
            st = sink_write(s, at, zeros, pad);
        at += pad;
    }
    free(chunk);
    if (st != FS_OK) {
        free(front);
        return st;
    }

    uint8_t *h = front;
    memcpy(h + FS_FSW_OFF_MAGIC, FS_FSW_MAGIC, 8);
    wr32(h + FS_FSW_OFF_VERSION, FS_FSW_VERSION);
    wr32(h + FS_FSW_OFF_HEADER_SIZE, FS_FSW_HEADER_SIZE);
    wr32(h + FS_FSW_OFF_FAMILY, (uint32_t)w->family);
    wr64(h + FS_FSW_OFF_META_OFFSET, FS_FSW_HEADER_SIZE);
    wr64(h + FS_FSW_OFF_META_SIZE, w->meta_size);
    wr32(h + FS_FSW_OFF_META_COUNT, w->meta_count);
    wr32(h + FS_FSW_OFF_TENSOR_COUNT, (uint32_t)w->n);
    wr64(h + FS_FSW_OFF_DIR_OFFSET, dir_off);
    wr64(h + FS_FSW_OFF_DIR_SIZE, dir_size);
    wr64(h + FS_FSW_OFF_DATA_OFFSET, data_off);
    wr64(h + FS_FSW_OFF_DATA_SIZE, data_size);
    wr64(h + FS_FSW_OFF_FILE_SIZE, data_off + data_size);
    wr32(h + FS_FSW_OFF_TENSOR_ALIGN, FS_FSW_TENSOR_ALIGN);
    if (w->meta_size)
        memcpy(h + FS_FSW_HEADER_SIZE, w->meta, w->meta_size);
    for (size_t i = 0; i < w->n; i++) {
        const wtensor *t = &w->tensors[i];
        uint8_t *e = h + dir_off + i * FS_FSW_DIR_ENTRY_SIZE;
        memcpy(e + FS_FSW_DIR_NAME, t->name, strlen(t->name));
        wr32(e + FS_FSW_DIR_DTYPE, (uint32_t)t->dtype);
        wr32(e + FS_FSW_DIR_NDIM, (uint32_t)t->src.ndim);
        for (int d = 0; d < t->src.ndim; d++)
            wr64(e + FS_FSW_DIR_SHAPE + 8 * d, (uint64_t)t->src.shape[d]);
        wr64(e + FS_FSW_DIR_OFFSET, t->offset);
        wr64(e + FS_FSW_DIR_NBYTES, t->nbytes);
        wr32(e + FS_FSW_DIR_CRC, t->crc);
    }
    wr32(h + FS_FSW_OFF_META_CRC, fs_crc32c(0, h + FS_FSW_HEADER_SIZE, w->meta_size));
    wr32(h + FS_FSW_OFF_DIR_CRC, fs_crc32c(0, h + dir_off, dir_size));
    wr32(h + FS_FSW_OFF_HEADER_CRC, fs_crc32c(0, h, FS_FSW_OFF_HEADER_CRC));

    if (s->mem) {
        memcpy(s->mem, front, data_off);
    } else {
        if (fflush(s->file->fp) != 0 ||
            pwrite(fileno(s->file->fp), front, data_off, 0) != (ssize_t)data_off)
            st = fs_error(FS_ERR_IO, "%s: write failed", s->file->final_path);
    }
    free(front);
    return st;
}

fs_status fs_weights_writer_write_file(fs_weights_writer *w, const char *path)
{
    fs_out_file f;
    FS_TRY(fs_out_file_open(path, &f));
    sink s = {&f, NULL};
    uint64_t total;
    fs_status st = write_all(w, &s, &total);
    if (st != FS_OK) {
        fs_out_file_abort(&f);
        return st;
    }
    return fs_out_file_commit(&f);
}

fs_status fs_weights_writer_write_memory(fs_weights_writer *w, uint8_t **buf, size_t *len)
{
    sink layout = {NULL, NULL};
    uint64_t total;
    FS_TRY(write_all(w, &layout, &total));
    if (total > SIZE_MAX)
        return fs_error(FS_ERR_NOMEM, "model too large for memory");
    /* Page-aligned, so the tensors are as aligned in memory as in a mapped file. */
    size_t cap = (size_t)align_up(total, FS_FSW_DATA_ALIGN); /* C11 wants a multiple */
    uint8_t *mem = aligned_alloc(FS_FSW_DATA_ALIGN, cap);
    if (!mem)
        return fs_error(FS_ERR_NOMEM, "out of memory (%llu bytes)", (unsigned long long)total);
    sink s = {NULL, mem};
    fs_status st = write_all(w, &s, &total);
    if (st != FS_OK) {
        free(mem);
        return st;
    }
    *buf = mem;
    *len = (size_t)total;
    return FS_OK;
}

fs_status fs_weights_import_visit(void *importer, const char *name, int ndim,
                                  const int64_t *shape)
{
    fs_weights_importer *k = importer;
    fs_state_dict *sd = k->sd;
    fs_sd_entry *e = fs_sd_find(sd, name);
    if (!e)
        return fs_error(FS_ERR_MISSING, "%s: tensor '%s' is missing", sd->label, name);
    int same = e->view.ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = e->view.shape[d] == shape[d];
    if (!same) {
        char want[96], got[96];
        fs_shape_format(want, sizeof want, ndim, shape);
        fs_shape_format(got, sizeof got, e->view.ndim, e->view.shape);
        return fs_error(FS_ERR_SHAPE, "%s: tensor '%s' has shape %s, the architecture needs %s",
                        sd->label, name, got, want);
    }
    e->used = 1;
    return fs_weights_writer_add(k->w, name, k->dtype, &e->view);
}
