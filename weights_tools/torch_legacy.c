/* The legacy torch.save stream (PyTorch < 1.6, or _use_new_zipfile_serialization
 * = False), which is also the layout of every storage blob that
 * torch.storage._load_from_bytes embeds in a stylegan2-ada/stylegan3 pickle:
 *
 *   pickle 1  the magic number 0x1950a86a20f9469cfc6c
 *   pickle 2  the protocol version, 1001
 *   pickle 3  sys_info: {'protocol_version', 'little_endian', 'type_sizes'}
 *   pickle 4  the object; its storages are persistent ids
 *   pickle 5  the list of storage keys
 *   then, per key in that list: int64 LE element count, then the raw data.
 *
 * Storages are bound to their data where it lies in buf. Every storage that
 * pickle 4 created must have a record, each record must match the element
 * count its persistent ids declared, and all storages sharing a key share the
 * record (torch's views). */
#include <stdlib.h>
#include <string.h>

#include "torch_load.h"

/* LONG1 payload of the magic number, as the pickle holds it (little-endian). */
static const uint8_t magic_bytes[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

typedef struct {
    const char *key;
    size_t len;
    fs_pv *storage;
} keyed;

static int cmp_key(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static int cmp_keyed(const void *x, const void *y)
{
    const keyed *a = x, *b = y;
    return cmp_key(a->key, a->len, b->key, b->len);
}

/* The first entry of the sorted index whose key is >= (key, len). */
static size_t lower_bound(const keyed *idx, size_t n, const char *key, size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_key(idx[mid].key, idx[mid].len, key, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Runs the next pickle of the stream at *pos. */
static fs_status next_pickle(fs_pickle *p, const uint8_t *buf, size_t len, size_t *pos,
                             fs_pv **out)
{
    size_t used = 0;
    FS_TRY(fs_pickle_load(p, buf + *pos, len - *pos, &used, out));
    *pos += used;
    return FS_OK;
}

static fs_status check_header(fs_pickle *p, const uint8_t *buf, size_t len, size_t *pos)
{
    if (len >= 4 && memcmp(buf, "PK\x03\x04", 4) == 0)
        return fs_pickle_error(p, FS_ERR_FORMAT, buf,
                               "a zip torch.save archive, not a legacy torch.save stream");
    if (len >= 262 && memcmp(buf + 257, "ustar", 5) == 0)
        return fs_pickle_error(p, FS_ERR_UNSUPPORTED, buf,
                               "the tar-based torch.save format of very old PyTorch is not "
                               "supported; re-save the checkpoint with a recent PyTorch");
    if (len < 2 || buf[0] != 0x80)
        return fs_pickle_error(p, FS_ERR_FORMAT, buf,
                               "not a legacy torch.save stream (no pickle PROTO opcode)");
    fs_pv *v;
    FS_TRY(next_pickle(p, buf, len, pos, &v));
    if (v->kind != FS_PV_BIGINT || v->u.s.len != sizeof magic_bytes ||
        memcmp(v->u.s.ptr, magic_bytes, sizeof magic_bytes) != 0)
        return fs_pickle_error(p, FS_ERR_FORMAT, buf,
                               "not a legacy torch.save stream (bad magic number)");
    const uint8_t *at = buf + *pos;
    FS_TRY(next_pickle(p, buf, len, pos, &v));
    if (v->kind != FS_PV_INT || v->u.i != 1001)
        return fs_pickle_error(p, FS_ERR_UNSUPPORTED, at,
                               "torch.save protocol version is not 1001");
    at = buf + *pos;
    FS_TRY(next_pickle(p, buf, len, pos, &v));
    const fs_pv *le = fs_pv_dict_get(v, "little_endian");
    if (!le || le->kind != FS_PV_BOOL)
        return fs_pickle_error(p, FS_ERR_FORMAT, at, "torch.save sys_info lacks little_endian");
    if (!le->u.i)
        return fs_pickle_error(p, FS_ERR_UNSUPPORTED, at,
                               "big-endian torch.save files are not supported");
    return FS_OK;
}

/* Binds the storages index[0..n) (sorted by key) to the records that follow
 * the key list, in key-list order. */
static fs_status bind_records(fs_pickle *p, const uint8_t *buf, size_t len, size_t *pos,
                              const fs_pv *keys, const uint8_t *keys_at, keyed *index, size_t n)
{
    uint8_t *seen = fs_pickle_alloc(p, n);
    if (!seen)
        return FS_ERR_LIMIT;
    for (size_t k = 0; k < keys->u.seq.n; k++) {
        const fs_pv *key = keys->u.seq.items[k];
        if (key->kind != FS_PV_STR)
            return fs_pickle_error(p, FS_ERR_FORMAT, keys_at, "storage key %zu is a %s", k,
                                   fs_pv_kind_name(key->kind));
        char name[64];
        fs_pv_str_copy(key, name, sizeof name);
        size_t lo = lower_bound(index, n, key->u.s.ptr, key->u.s.len), hi = lo;
        while (hi < n && !cmp_key(index[hi].key, index[hi].len, key->u.s.ptr, key->u.s.len))
            hi++;
        if (lo == hi)
            return fs_pickle_error(p, FS_ERR_FORMAT, keys_at,
                                   "storage key '%s' is not used by the object", name);
        if (seen[lo])
            return fs_pickle_error(p, FS_ERR_FORMAT, keys_at,
                                   "storage key '%s' is listed twice", name);
        seen[lo] = 1;
        const uint8_t *rec = buf + *pos;
        if (len - *pos < 8)
            return fs_pickle_error(p, FS_ERR_FORMAT, rec,
                                   "truncated element count of storage '%s'", name);
        uint64_t numel = 0;
        for (int i = 7; i >= 0; i--)
            numel = numel << 8 | rec[i];
        *pos += 8;
        fs_dtype t = index[lo].storage->u.storage.dtype;
        for (size_t i = lo; i < hi; i++) {
            const fs_pv *st = index[i].storage;
            if (st->u.storage.dtype != t)
                return fs_pickle_error(p, FS_ERR_FORMAT, rec,
                                       "storage '%s' is used with two element types", name);
            if (st->u.storage.numel != numel)
                return fs_pickle_error(p, FS_ERR_FORMAT, rec,
                                       "storage '%s' holds %llu elements, its persistent id "
                                       "says %llu",
                                       name, (unsigned long long)numel,
                                       (unsigned long long)st->u.storage.numel);
        }
        /* numel * size fits: the persistent id's numel was checked against the input size. */
        size_t nbytes = (size_t)numel * fs_dtype_size(t);
        if (nbytes > len - *pos)
            return fs_pickle_error(p, FS_ERR_FORMAT, rec,
                                   "storage '%s' needs %zu bytes, %zu left", name, nbytes,
                                   len - *pos);
        for (size_t i = lo; i < hi; i++)
            index[i].storage->u.storage.data = buf + *pos;
        *pos += nbytes;
    }
    for (size_t i = 0; i < n; i++)
        if (!index[i].storage->u.storage.data)
            return fs_pickle_error(p, FS_ERR_FORMAT, keys_at,
                                   "storage '%.64s' has no entry in the key list",
                                   index[i].key);
    return FS_OK;
}

fs_status fs_torch_legacy_load(fs_pickle *p, const uint8_t *buf, size_t len, size_t *consumed,
                               fs_pv **out)
{
    if (consumed)
        *consumed = 0;
    if (out)
        *out = NULL;
    if (!p || !out || (!buf && len))
        return fs_error(FS_ERR_ARG, "fs_torch_legacy_load: bad arguments");
    if (!buf)
        buf = (const uint8_t *)"";
    fs_pickle_set_origin(p, buf, len);
    size_t pos = 0;
    FS_TRY(check_header(p, buf, len, &pos));

    size_t first = fs_pickle_storage_count(p);
    fs_pv *obj, *keys;
    FS_TRY(next_pickle(p, buf, len, &pos, &obj));
    size_t last = fs_pickle_storage_count(p);
    const uint8_t *keys_at = buf + pos;
    FS_TRY(next_pickle(p, buf, len, &pos, &keys));
    if (keys->kind != FS_PV_LIST)
        return fs_pickle_error(p, FS_ERR_FORMAT, keys_at, "storage key list is a %s",
                               fs_pv_kind_name(keys->kind));

    /* Storages a nested blob already bound are not this stream's business. */
    size_t n = 0;
    keyed *index = fs_pickle_alloc(p, (last - first) * sizeof *index);
    if (!index)
        return FS_ERR_LIMIT;
    for (size_t i = first; i < last; i++) {
        fs_pv *st = fs_pickle_storage_at(p, i);
        if (!st->u.storage.data)
            index[n++] = (keyed){st->u.storage.key, strlen(st->u.storage.key), st};
    }
    qsort(index, n, sizeof *index, cmp_keyed);
    FS_TRY(bind_records(p, buf, len, &pos, keys, keys_at, index, n));
    if (consumed)
        *consumed = pos;
    *out = obj;
    return FS_OK;
}
