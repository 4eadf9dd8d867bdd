/* ZIP directory reader for archives held in memory (see zip.h).
 *
 * Nothing in the archive is trusted. The end record is found by scanning back
 * from the end of the buffer and must end exactly there; ZIP64 end records are
 * used when the locator is present; the central directory must fill exactly
 * the bytes the end record gives it; and every entry's local header is read
 * back and compared with its directory entry before the entry is exposed.
 * All arithmetic on file values is done in uint64_t with explicit overflow
 * checks, and every count is bounded by the bytes that would have to hold it,
 * so a hostile archive cannot make us allocate much more than its own size. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "zip.h"

#include <stdlib.h>
#include <string.h>

#include "crc32.h"

#define ZIP_MAX_NAME 4096     /* bytes; torch names are < 100, paths < 4096 on Linux */
#define ZIP_MAX_COMMENT 65535 /* the comment length is a 16-bit field */

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_Z64_EOCD 0x06064b50u
#define SIG_Z64_LOCATOR 0x07064b50u

#define LOCAL_SIZE 30
#define CENTRAL_SIZE 46
#define EOCD_SIZE 22
#define Z64_LOCATOR_SIZE 20
#define Z64_EOCD_SIZE 56

#define EXTRA_ZIP64 0x0001u

/* General purpose flag bits. */
#define FLAG_ENCRYPTED 0x0001u
#define FLAG_DESCRIPTOR 0x0008u /* crc and sizes follow the data, local copies are 0 */
#define FLAG_STRONG_CRYPT 0x0040u
#define FLAG_MASKED_HEADER 0x2000u

struct fs_zip {
    const uint8_t *buf;
    size_t len;
    char *label;
    fs_zip_entry *entries; /* directory order */
    size_t count;
    const fs_zip_entry **by_name; /* sorted by name, for fs_zip_find */
    char *names;                  /* every entry's NUL-terminated name */
};

/* The directory as the end records describe it. */
typedef struct {
    uint64_t entries;
    uint64_t cd_size;
    uint64_t cd_offset;
    uint64_t records_start; /* the first byte of the end records: the directory must end here */
} zip_directory;

/* An entry's bytes in the file, from its local header to the end of its data. */
typedef struct {
    uint64_t start, end;
    const char *name;
} zip_span;

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Every member that is read has its CRC-32 checked, tensor storages included,
 * so the CRC runs over the whole checkpoint: crc32.c folds it with carry-less
 * multiplies where the CPU has them, at about the speed of reading the bytes.
 * bench/bench_zip_crc.sh measures its share of a conversion. */

/* ---- end records ---- */

/* The end record is the last 22 bytes plus a comment of up to 64 KiB; the
 * first candidate from the end whose comment length reaches exactly to the end
 * of the buffer is the one. Anything after it would be unaccounted bytes. */
static fs_status find_eocd(const fs_zip *z, size_t *pos)
{
    if (z->len < EOCD_SIZE)
        return fs_error(FS_ERR_FORMAT, "%s: not a ZIP archive: only %zu bytes", z->label, z->len);
    size_t last = z->len - EOCD_SIZE;
    size_t lowest = last > ZIP_MAX_COMMENT ? last - ZIP_MAX_COMMENT : 0;
    for (size_t p = last + 1; p-- > lowest;) {
        if (rd32(z->buf + p) == SIG_EOCD && rd16(z->buf + p + 20) == last - p) {
            *pos = p;
            return FS_OK;
        }
    }
    return fs_error(FS_ERR_FORMAT,
                    "%s: not a ZIP archive: no end of central directory record at the end",
                    z->label);
}

/* A 32-bit (or 16-bit) end-record field that is saturated defers to ZIP64;
 * one that is not must agree with the ZIP64 record when there is one. */
static fs_status merge_field(const fs_zip *z, const char *what, uint64_t small, uint64_t saturated,
                             int have64, uint64_t big, uint64_t *out)
{
    if (!have64) {
        if (small == saturated)
            return fs_error(FS_ERR_FORMAT,
                            "%s: end record %s is 0x%llx but there is no ZIP64 record", z->label,
                            what, (unsigned long long)small);
        *out = small;
        return FS_OK;
    }
    if (small != saturated && small != big)
        return fs_error(FS_ERR_FORMAT, "%s: end record %s %llu disagrees with ZIP64 record (%llu)",
                        z->label, what, (unsigned long long)small, (unsigned long long)big);
    *out = big;
    return FS_OK;
}

static fs_status read_end_records(const fs_zip *z, zip_directory *dir)
{
    size_t eocd = 0;
    FS_TRY(find_eocd(z, &eocd));
    const uint8_t *e = z->buf + eocd;

    /* ZIP64: a locator immediately before the end record points at the
     * ZIP64 end record, which must end exactly where the locator begins. */
    int have64 = 0;
    uint64_t disk64 = 0, cd_disk64 = 0, disk_entries64 = 0, entries64 = 0, size64 = 0, ofs64 = 0;
    dir->records_start = eocd;
    if (eocd >= Z64_LOCATOR_SIZE && rd32(e - Z64_LOCATOR_SIZE) == SIG_Z64_LOCATOR) {
        size_t loc = eocd - Z64_LOCATOR_SIZE;
        const uint8_t *l = z->buf + loc;
        uint64_t rec = rd64(l + 8);
        if (rd32(l + 4) != 0 || rd32(l + 16) > 1)
            return fs_error(FS_ERR_UNSUPPORTED,
                            "%s: multi-disk ZIP archives are not supported (offset %zu)", z->label,
                            loc);
        if (rec > loc || loc - rec < Z64_EOCD_SIZE)
            return fs_error(FS_ERR_FORMAT,
                            "%s: ZIP64 end record offset %llu out of range (offset %zu)", z->label,
                            (unsigned long long)rec, loc + 8);
        const uint8_t *r = z->buf + rec;
        if (rd32(r) != SIG_Z64_EOCD)
            return fs_error(FS_ERR_FORMAT, "%s: bad ZIP64 end record signature (offset %llu)",
                            z->label, (unsigned long long)rec);
        /* The record's size field counts the bytes after itself. */
        uint64_t rec_size = rd64(r + 4);
        if (rec_size < Z64_EOCD_SIZE - 12 || rec_size != loc - rec - 12)
            return fs_error(
                FS_ERR_FORMAT,
                "%s: ZIP64 end record size %llu does not reach the locator (offset %llu)", z->label,
                (unsigned long long)rec_size, (unsigned long long)rec + 4);
        disk64 = rd32(r + 16);
        cd_disk64 = rd32(r + 20);
        disk_entries64 = rd64(r + 24);
        entries64 = rd64(r + 32);
        size64 = rd64(r + 40);
        ofs64 = rd64(r + 48);
        have64 = 1;
        dir->records_start = rec;
    }

    uint64_t disk = 0, cd_disk = 0, disk_entries = 0;
    FS_TRY(merge_field(z, "disk number", rd16(e + 4), 0xffff, have64, disk64, &disk));
    FS_TRY(merge_field(z, "directory disk", rd16(e + 6), 0xffff, have64, cd_disk64, &cd_disk));
    FS_TRY(merge_field(z, "entries on disk", rd16(e + 8), 0xffff, have64, disk_entries64,
                       &disk_entries));
    FS_TRY(merge_field(z, "entry count", rd16(e + 10), 0xffff, have64, entries64, &dir->entries));
    FS_TRY(
        merge_field(z, "directory size", rd32(e + 12), 0xffffffff, have64, size64, &dir->cd_size));
    FS_TRY(merge_field(z, "directory offset", rd32(e + 16), 0xffffffff, have64, ofs64,
                       &dir->cd_offset));
    if (disk != 0 || cd_disk != 0)
        return fs_error(FS_ERR_UNSUPPORTED,
                        "%s: multi-disk ZIP archives are not supported (offset %zu)", z->label,
                        eocd);
    if (disk_entries != dir->entries)
        return fs_error(
            FS_ERR_FORMAT,
            "%s: end record counts %llu entries on this disk but %llu in all (offset %zu)",
            z->label, (unsigned long long)disk_entries, (unsigned long long)dir->entries, eocd);

    /* The directory sits directly before the end records: no gap, no prefix. */
    if (dir->cd_offset > dir->records_start || dir->records_start - dir->cd_offset != dir->cd_size)
        return fs_error(FS_ERR_FORMAT,
                        "%s: central directory at %llu, %llu bytes, does not end where the end "
                        "records begin (offset %llu)",
                        z->label, (unsigned long long)dir->cd_offset,
                        (unsigned long long)dir->cd_size, (unsigned long long)dir->records_start);
    if (dir->entries > dir->cd_size / CENTRAL_SIZE)
        return fs_error(FS_ERR_FORMAT,
                        "%s: %llu entries cannot fit in a %llu-byte central directory", z->label,
                        (unsigned long long)dir->entries, (unsigned long long)dir->cd_size);
    return FS_OK;
}

/* ---- central directory entries ---- */

/* Finds extra field `id` in a central directory extra block; the block must be
 * a well-formed sequence of (id, size, data) records. */
static fs_status find_extra(const fs_zip *z, const uint8_t *extra, size_t n, uint64_t at,
                            uint16_t id, const uint8_t **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    size_t p = 0;
    while (p < n) {
        if (n - p < 4)
            return fs_error(FS_ERR_FORMAT, "%s: truncated extra field header (offset %llu)",
                            z->label, (unsigned long long)(at + p));
        uint16_t fid = rd16(extra + p), fsize = rd16(extra + p + 2);
        if (fsize > n - p - 4)
            return fs_error(FS_ERR_FORMAT,
                            "%s: extra field 0x%04x overruns its block (offset %llu)", z->label,
                            fid, (unsigned long long)(at + p));
        if (fid == id && !*data) {
            *data = extra + p + 4;
            *size = fsize;
        }
        p += 4 + (size_t)fsize;
    }
    return FS_OK;
}

/* Replaces the saturated 32-bit fields with their ZIP64 values, which follow
 * in this fixed order and only for the fields that are saturated. */
static fs_status apply_zip64_extra(const fs_zip *z, const uint8_t *extra, size_t extra_len,
                                   uint64_t at, const char *name, uint64_t *size,
                                   uint64_t *comp_size, uint64_t *lho, uint32_t *disk)
{
    int need_size = *size == 0xffffffffu, need_comp = *comp_size == 0xffffffffu;
    int need_lho = *lho == 0xffffffffu, need_disk = *disk == 0xffffu;
    if (!need_size && !need_comp && !need_lho && !need_disk)
        return FS_OK;
    const uint8_t *d;
    size_t n;
    FS_TRY(find_extra(z, extra, extra_len, at, EXTRA_ZIP64, &d, &n));
    size_t want = 8 * (size_t)(need_size + need_comp + need_lho) + 4 * (size_t)need_disk;
    if (!d || n < want)
        return fs_error(
            FS_ERR_FORMAT,
            "%s: %s: saturated sizes but no (or a short) ZIP64 extra field (offset %llu)", z->label,
            name, (unsigned long long)at);
    if (need_size) {
        *size = rd64(d);
        d += 8;
    }
    if (need_comp) {
        *comp_size = rd64(d);
        d += 8;
    }
    if (need_lho) {
        *lho = rd64(d);
        d += 8;
    }
    if (need_disk)
        *disk = rd32(d);
    return FS_OK;
}

/* Reads the local header of entry e and fills in e->data_offset. The local
 * header repeats the name, method and (unless a data descriptor follows the
 * data) crc and sizes; any disagreement means the archive was tampered with
 * or is damaged, and two readers would see two different files. */
static fs_status check_local_header(const fs_zip *z, fs_zip_entry *e, uint64_t lho, uint16_t flags,
                                    size_t name_len, zip_span *span)
{
    if (lho > z->len || z->len - lho < LOCAL_SIZE)
        return fs_error(FS_ERR_FORMAT, "%s: %s: local header offset %llu beyond the archive",
                        z->label, e->name, (unsigned long long)lho);
    const uint8_t *l = z->buf + lho;
    if (rd32(l) != SIG_LOCAL)
        return fs_error(FS_ERR_FORMAT, "%s: %s: bad local header signature (offset %llu)", z->label,
                        e->name, (unsigned long long)lho);
    uint16_t lflags = rd16(l + 6), lmethod = rd16(l + 8);
    uint32_t lcrc = rd32(l + 14), lcomp = rd32(l + 18), lsize = rd32(l + 22);
    size_t lname = rd16(l + 26), lextra = rd16(l + 28);
    if ((lflags & FLAG_ENCRYPTED) != (flags & FLAG_ENCRYPTED) || lmethod != e->method)
        return fs_error(
            FS_ERR_FORMAT,
            "%s: %s: local header flags or method differ from the directory (offset %llu)",
            z->label, e->name, (unsigned long long)lho);
    if (lname != name_len || z->len - lho - LOCAL_SIZE < lname ||
        memcmp(l + LOCAL_SIZE, e->name, name_len) != 0)
        return fs_error(FS_ERR_FORMAT,
                        "%s: %s: local header name differs from the directory (offset %llu)",
                        z->label, e->name, (unsigned long long)lho);
    if (!(lflags & FLAG_DESCRIPTOR)) {
        /* 0xffffffff defers to a local ZIP64 field; the directory's values are
         * authoritative then, so there is nothing more to compare. */
        int crc_ok = lcrc == e->crc32;
        int comp_ok = lcomp == 0xffffffffu || lcomp == e->comp_size;
        int size_ok = lsize == 0xffffffffu || lsize == e->size;
        if (!crc_ok || !comp_ok || !size_ok)
            return fs_error(
                FS_ERR_FORMAT,
                "%s: %s: local header crc or sizes differ from the directory (offset %llu)",
                z->label, e->name, (unsigned long long)lho);
    }
    /* lho + 30 + 65535 + 65535 cannot overflow: lho <= len - 30. */
    uint64_t data = lho + LOCAL_SIZE + lname + lextra;
    if (data > z->len || z->len - data < e->comp_size)
        return fs_error(
            FS_ERR_FORMAT, "%s: %s: %llu data bytes at offset %llu run past the end of the archive",
            z->label, e->name, (unsigned long long)e->comp_size, (unsigned long long)data);
    e->data_offset = data;
    span->start = lho;
    span->end = data + e->comp_size;
    span->name = e->name;
    return FS_OK;
}

static fs_status read_entry(fs_zip *z, uint64_t *pos, uint64_t cd_end, char **name_store,
                            fs_zip_entry *e, zip_span *span)
{
    uint64_t at = *pos;
    if (cd_end - at < CENTRAL_SIZE)
        return fs_error(FS_ERR_FORMAT, "%s: central directory entry truncated (offset %llu)",
                        z->label, (unsigned long long)at);
    const uint8_t *c = z->buf + at;
    if (rd32(c) != SIG_CENTRAL)
        return fs_error(FS_ERR_FORMAT, "%s: bad central directory entry signature (offset %llu)",
                        z->label, (unsigned long long)at);
    uint16_t flags = rd16(c + 8);
    e->method = rd16(c + 10);
    e->crc32 = rd32(c + 16);
    e->comp_size = rd32(c + 20);
    e->size = rd32(c + 24);
    size_t name_len = rd16(c + 28), extra_len = rd16(c + 30), comment_len = rd16(c + 32);
    uint32_t disk = rd16(c + 34);
    uint64_t lho = rd32(c + 42);
    size_t var = name_len + extra_len + comment_len;
    if (cd_end - at - CENTRAL_SIZE < var)
        return fs_error(FS_ERR_FORMAT,
                        "%s: central directory entry runs past the directory (offset %llu)",
                        z->label, (unsigned long long)at);

    const uint8_t *name = c + CENTRAL_SIZE;
    if (name_len == 0)
        return fs_error(FS_ERR_FORMAT, "%s: entry with an empty name (offset %llu)", z->label,
                        (unsigned long long)at);
    if (name_len > ZIP_MAX_NAME)
        return fs_error(FS_ERR_LIMIT, "%s: entry name of %zu bytes exceeds %d (offset %llu)",
                        z->label, name_len, ZIP_MAX_NAME, (unsigned long long)at);
    if (memchr(name, 0, name_len))
        return fs_error(FS_ERR_FORMAT, "%s: entry name contains a NUL byte (offset %llu)", z->label,
                        (unsigned long long)at);
    memcpy(*name_store, name, name_len);
    (*name_store)[name_len] = '\0';
    e->name = *name_store;
    *name_store += name_len + 1;

    if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_CRYPT | FLAG_MASKED_HEADER))
        return fs_error(FS_ERR_UNSUPPORTED,
                        "%s: %s: encrypted entries are not supported (offset %llu)", z->label,
                        e->name, (unsigned long long)at);
    FS_TRY(apply_zip64_extra(z, name + name_len, extra_len, at + CENTRAL_SIZE + name_len, e->name,
                             &e->size, &e->comp_size, &lho, &disk));
    if (disk != 0)
        return fs_error(
            FS_ERR_UNSUPPORTED,
            "%s: %s: entry on disk %u; multi-disk archives are not supported (offset %llu)",
            z->label, e->name, disk, (unsigned long long)at);
    if (e->method == 0 && e->comp_size != e->size)
        return fs_error(FS_ERR_FORMAT,
                        "%s: %s: stored entry with size %llu but %llu stored bytes (offset %llu)",
                        z->label, e->name, (unsigned long long)e->size,
                        (unsigned long long)e->comp_size, (unsigned long long)at);
    FS_TRY(check_local_header(z, e, lho, flags, name_len, span));
    *pos = at + CENTRAL_SIZE + var;
    return FS_OK;
}

static int span_cmp(const void *a, const void *b)
{
    const zip_span *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int entry_name_cmp(const void *a, const void *b)
{
    const fs_zip_entry *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Entries may not share bytes with each other or with the directory: an
 * archive whose entries overlap can show different contents to different
 * readers (and is the classic zip-bomb construction). */
static fs_status check_layout(const fs_zip *z, zip_span *spans, uint64_t cd_offset)
{
    qsort(spans, z->count, sizeof *spans, span_cmp);
    for (size_t i = 0; i < z->count; i++) {
        uint64_t limit = i + 1 < z->count ? spans[i + 1].start : cd_offset;
        if (spans[i].end > limit) {
            if (i + 1 < z->count)
                return fs_error(FS_ERR_FORMAT, "%s: entries %s and %s overlap (offset %llu)",
                                z->label, spans[i].name, spans[i + 1].name,
                                (unsigned long long)spans[i + 1].start);
            return fs_error(FS_ERR_FORMAT,
                            "%s: entry %s overlaps the central directory (offset %llu)", z->label,
                            spans[i].name, (unsigned long long)cd_offset);
        }
    }
    return FS_OK;
}

static fs_status check_unique_names(const fs_zip *z)
{
    for (size_t i = 0; i < z->count; i++)
        z->by_name[i] = &z->entries[i];
    qsort(z->by_name, z->count, sizeof *z->by_name, entry_name_cmp);
    for (size_t i = 1; i < z->count; i++)
        if (strcmp(z->by_name[i - 1]->name, z->by_name[i]->name) == 0)
            return fs_error(FS_ERR_FORMAT, "%s: duplicate entry name %s", z->label,
                            z->by_name[i]->name);
    return FS_OK;
}

static fs_status read_directory(fs_zip *z, const zip_directory *dir)
{
    /* Both bounded by the directory size, which is bounded by the buffer. */
    size_t count = (size_t)dir->entries;
    size_t names_size = (size_t)dir->cd_size + count + 1;
    z->entries = calloc(count ? count : 1, sizeof *z->entries);
    z->by_name = calloc(count ? count : 1, sizeof *z->by_name);
    z->names = malloc(names_size);
    zip_span *spans = calloc(count ? count : 1, sizeof *spans);
    if (!z->entries || !z->by_name || !z->names || !spans) {
        free(spans);
        return fs_error(FS_ERR_NOMEM, "%s: out of memory for %zu directory entries", z->label,
                        count);
    }
    fs_status s = FS_OK;
    uint64_t pos = dir->cd_offset, cd_end = dir->cd_offset + dir->cd_size;
    char *name_store = z->names;
    for (size_t i = 0; i < count && s == FS_OK; i++, z->count++)
        s = read_entry(z, &pos, cd_end, &name_store, &z->entries[i], &spans[i]);
    if (s == FS_OK && pos != cd_end)
        s = fs_error(FS_ERR_FORMAT,
                     "%s: %llu unaccounted bytes at the end of the central directory (offset %llu)",
                     z->label, (unsigned long long)(cd_end - pos), (unsigned long long)pos);
    if (s == FS_OK)
        s = check_layout(z, spans, dir->cd_offset);
    if (s == FS_OK)
        s = check_unique_names(z);
    free(spans);
    return s;
}

fs_status fs_zip_open(const uint8_t *buf, size_t len, const char *label, fs_zip **out)
{
    if (!out)
        return fs_error(FS_ERR_ARG, "fs_zip_open: out is NULL");
    *out = NULL;
    if (!label)
        label = "zip";
    if (!buf && len > 0)
        return fs_error(FS_ERR_ARG, "%s: NULL buffer", label);
    fs_zip *z = calloc(1, sizeof *z);
    if (!z || !(z->label = strdup(label))) {
        free(z);
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", label);
    }
    z->buf = buf;
    z->len = len;
    zip_directory dir = {0};
    fs_status s = read_end_records(z, &dir);
    if (s == FS_OK)
        s = read_directory(z, &dir);
    if (s != FS_OK) {
        fs_zip_free(z);
        return s;
    }
    *out = z;
    return FS_OK;
}

void fs_zip_free(fs_zip *z)
{
    if (!z)
        return;
    free(z->entries);
    free(z->by_name);
    free(z->names);
    free(z->label);
    free(z);
}

size_t fs_zip_count(const fs_zip *z) { return z ? z->count : 0; }

const fs_zip_entry *fs_zip_entry_at(const fs_zip *z, size_t i)
{
    return z && i < z->count ? &z->entries[i] : NULL;
}

const fs_zip_entry *fs_zip_find(const fs_zip *z, const char *name)
{
    if (!z || !name || z->count == 0)
        return NULL;
    fs_zip_entry key = {.name = name};
    const fs_zip_entry *pkey = &key;
    const fs_zip_entry **hit =
        bsearch(&pkey, z->by_name, z->count, sizeof *z->by_name, entry_name_cmp);
    return hit ? *hit : NULL;
}

fs_status fs_zip_entry_data(const fs_zip *z, const fs_zip_entry *e, int verify_crc,
                            const uint8_t **data)
{
    if (!z || !e || !data || e < z->entries || e >= z->entries + z->count)
        return fs_error(FS_ERR_ARG, "fs_zip_entry_data: entry does not belong to this archive");
    *data = NULL;
    if (e->method != 0)
        return fs_error(FS_ERR_UNSUPPORTED,
                        "%s: %s: compression method %u is not supported (only stored entries)",
                        z->label, e->name, e->method);
    const uint8_t *p = z->buf + e->data_offset;
#ifdef FS_ZIP_BENCH_SKIP_CRC
    /* Only bench/bench_zip_crc.sh defines this, to time a conversion without
     * the check; no build of the library or the tools ever does. */
    verify_crc = 0;
#endif
    if (verify_crc) {
        uint32_t crc = fs_crc32(0, p, (size_t)e->size);
        if (crc != e->crc32)
            return fs_error(FS_ERR_CHECKSUM,
                            "%s: %s: CRC-32 is 0x%08x, directory says 0x%08x (offset %llu)",
                            z->label, e->name, crc, e->crc32, (unsigned long long)e->data_offset);
    }
    *data = p;
    return FS_OK;
}
