/* ustar headers and members (tar_writer.h), as POSIX.1-1988 lays them out:
 * name, octal mode/uid/gid/size/mtime, a checksum of the header's bytes
 * with the checksum field read as spaces, type '0', magic "ustar\0" and
 * version "00". */
#include "tar_writer.h"

#include <stdio.h>
#include <string.h>

/* An octal number in a field of w bytes: w - 1 digits and a NUL. */
static void octal(uint8_t *field, size_t w, uint64_t v)
{
    for (size_t i = w - 1; i-- > 0;) {
        field[i] = (uint8_t)('0' + (v & 7));
        v >>= 3;
    }
    field[w - 1] = '\0';
}

fs_status fs_tar_header(uint8_t hdr[FS_TAR_BLOCK], const char *name, uint64_t size)
{
    size_t n = strlen(name);
    if (n == 0 || n > FS_TAR_NAME_MAX)
        return fs_error(FS_ERR_ARG, "tar: member name '%s' is empty or longer than %d bytes",
                        name, FS_TAR_NAME_MAX);
    if (size > FS_TAR_SIZE_MAX)
        return fs_error(FS_ERR_ARG, "tar: member '%s' of %llu bytes is larger than ustar holds",
                        name, (unsigned long long)size);
    memset(hdr, 0, FS_TAR_BLOCK);
    memcpy(hdr, name, n);             /* name[100] */
    octal(hdr + 100, 8, 0644);        /* mode */
    octal(hdr + 108, 8, 0);           /* uid */
    octal(hdr + 116, 8, 0);           /* gid */
    octal(hdr + 124, 12, size);       /* size */
    octal(hdr + 136, 12, 0);          /* mtime: fixed, so archives are reproducible */
    hdr[156] = '0';                   /* typeflag: regular file */
    memcpy(hdr + 257, "ustar", 6);    /* magic, NUL included */
    memcpy(hdr + 263, "00", 2);       /* version */
    memset(hdr + 148, ' ', 8);        /* chksum counts as spaces */
    unsigned sum = 0;
    for (int i = 0; i < FS_TAR_BLOCK; i++)
        sum += hdr[i];
    octal(hdr + 148, 7, sum);         /* six digits and a NUL ... */
    hdr[155] = ' ';                   /* ... then a space, as tar writes it */
    return FS_OK;
}

fs_status fs_tar_write_member(fs_out_file *f, const char *name, const void *data, size_t n)
{
    uint8_t hdr[FS_TAR_BLOCK];
    FS_TRY(fs_tar_header(hdr, name, n));
    FS_TRY(fs_out_file_write(f, hdr, sizeof hdr));
    FS_TRY(fs_out_file_write(f, data, n));
    size_t pad = (FS_TAR_BLOCK - n % FS_TAR_BLOCK) % FS_TAR_BLOCK;
    return fs_out_file_pad(f, pad);
}

fs_status fs_tar_write_end(fs_out_file *f)
{
    return fs_out_file_pad(f, 2 * FS_TAR_BLOCK);
}
