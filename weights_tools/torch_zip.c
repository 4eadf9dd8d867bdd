/* torch.save zip archives (PyTorch >= 1.6), and the dispatch between the zip
 * and legacy torch.save formats.
 *
 * Every record lives under one folder whose name torch takes from the output
 * file name, so the prefix is read from the archive rather than assumed.
 * Storages are bound to "<prefix>/data/<key>" records in place: torch stores
 * records uncompressed and 64-byte aligned, so tensors are used where they lie.
 * Every record that is read (byteorder, data.pkl, each referenced storage) has
 * its CRC-32 verified first; records that are never read (version,
 * .data/serialization_id, storages no tensor refers to) are not. */
#include <stdio.h>
#include <string.h>

#include "torch_load.h"
#include "zip.h"

#define MAX_PREFIX 256

static fs_status find_prefix(const fs_zip *z, const char *label, char *prefix)
{
    for (size_t i = 0; i < fs_zip_count(z); i++) {
        const char *n = fs_zip_entry_at(z, i)->name;
        const char *slash = strchr(n, '/');
        if (!slash || strcmp(slash, "/data.pkl") != 0)
            continue;
        size_t len = (size_t)(slash - n);
        if (len >= MAX_PREFIX)
            break;
        memcpy(prefix, n, len);
        prefix[len] = '\0';
        return FS_OK;
    }
    return fs_error(FS_ERR_FORMAT, "%s: zip archive has no <prefix>/data.pkl: not a torch.save file",
                    label);
}

fs_status fs_torch_zip_load(fs_pickle *p, const uint8_t *buf, size_t len, fs_pv **out)
{
    const char *label = fs_pickle_label(p);
    fs_pickle_set_origin(p, buf, len);
    fs_zip *z = NULL;
    FS_TRY(fs_zip_open(buf, len, label, &z));
    char prefix[MAX_PREFIX], name[MAX_PREFIX + 300];
    fs_status s = find_prefix(z, label, prefix);
    if (s == FS_OK) {
        snprintf(name, sizeof name, "%s/constants.pkl", prefix);
        if (fs_zip_find(z, name))
            s = fs_error(FS_ERR_UNSUPPORTED,
                         "%s: a TorchScript archive, not a torch.save checkpoint", label);
    }
    if (s == FS_OK) {
        snprintf(name, sizeof name, "%s/byteorder", prefix);
        const fs_zip_entry *bo = fs_zip_find(z, name);
        const uint8_t *d;
        if (bo && (fs_zip_entry_data(z, bo, 1, &d) != FS_OK || bo->size != 6 ||
                   memcmp(d, "little", 6) != 0))
            s = fs_error(FS_ERR_UNSUPPORTED, "%s: only little-endian torch archives are supported",
                         label);
    }
    const uint8_t *pkl = NULL;
    const fs_zip_entry *e = NULL;
    if (s == FS_OK) {
        snprintf(name, sizeof name, "%s/data.pkl", prefix);
        e = fs_zip_find(z, name);
        s = fs_zip_entry_data(z, e, 1, &pkl);
    }
    size_t used = 0;
    if (s == FS_OK)
        s = fs_pickle_load(p, pkl, (size_t)e->size, &used, out);
    if (s == FS_OK && used != e->size)
        s = fs_error(FS_ERR_FORMAT, "%s: trailing bytes after the pickle in data.pkl", label);
    for (size_t i = 0; s == FS_OK && i < fs_pickle_storage_count(p); i++) {
        fs_pv *st = fs_pickle_storage_at(p, i);
        if (st->u.storage.data)
            continue; /* bound earlier (e.g. inside a nested blob) */
        snprintf(name, sizeof name, "%s/data/%s", prefix, st->u.storage.key);
        const fs_zip_entry *r = fs_zip_find(z, name);
        if (!r) {
            s = fs_error(FS_ERR_MISSING, "%s: storage record '%s' is missing", label, name);
            break;
        }
        uint64_t want = st->u.storage.numel * fs_dtype_size(st->u.storage.dtype);
        if (r->size < want) {
            s = fs_error(FS_ERR_FORMAT, "%s: storage '%s' holds %llu bytes, its tensors need %llu",
                         label, name, (unsigned long long)r->size, (unsigned long long)want);
            break;
        }
        /* The record's CRC-32 is checked like every other member's: the flat
         * file's checksums would only seal whatever bytes we read here, so a
         * flipped bit in a storage must be caught now or never. */
        s = fs_zip_entry_data(z, r, 1, &st->u.storage.data);
    }
    fs_zip_free(z);
    return s;
}

fs_status fs_torch_load(fs_pickle *p, const uint8_t *buf, size_t len, fs_pv **out)
{
    const char *label = fs_pickle_label(p);
    if (len >= 4 && memcmp(buf, "PK\x03\x04", 4) == 0)
        return fs_torch_zip_load(p, buf, len, out);
    if (len >= 263 && memcmp(buf + 257, "ustar", 5) == 0)
        return fs_error(FS_ERR_UNSUPPORTED,
                        "%s: the tar-based torch.save format of very old PyTorch is not "
                        "supported; re-save the checkpoint with a recent PyTorch",
                        label);
    if (len >= 2 && buf[0] == 0x80) {
        size_t used = 0;
        FS_TRY(fs_torch_legacy_load(p, buf, len, &used, out));
        if (used != len)
            return fs_error(FS_ERR_FORMAT, "%s: %zu trailing bytes after the torch.save stream",
                            label, len - used);
        return FS_OK;
    }
    return fs_error(FS_ERR_FORMAT, "%s: not a torch.save file", label);
}
