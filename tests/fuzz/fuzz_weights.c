/* libFuzzer harness for the flat weight file reader (engine/weights.c): every
 * input is validated in full, and an accepted file is walked tensor by
 * tensor and metadata record by record, so an over-read anywhere shows up. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/crc32c.h"
#include "../../engine/weights.h"

static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static void walk(const uint8_t *data, size_t size, unsigned flags);

/* The checksums stop almost every mutation at the door; a second pass on a
 * copy whose header, metadata and directory CRCs are recomputed lets the
 * fuzzer reach the checks behind them. */
static void reseal_and_walk(const uint8_t *data, size_t size)
{
    if (size < FS_FSW_HEADER_SIZE)
        return;
    uint8_t *b = malloc(size);
    if (!b)
        return;
    memcpy(b, data, size);
    uint64_t mo = rd64(b + FS_FSW_OFF_META_OFFSET), ms = rd64(b + FS_FSW_OFF_META_SIZE);
    uint64_t dof = rd64(b + FS_FSW_OFF_DIR_OFFSET), ds = rd64(b + FS_FSW_OFF_DIR_SIZE);
    if (mo <= size && ms <= size - mo)
        wr32(b + FS_FSW_OFF_META_CRC, fs_crc32c(0, b + mo, ms));
    if (dof <= size && ds <= size - dof)
        wr32(b + FS_FSW_OFF_DIR_CRC, fs_crc32c(0, b + dof, ds));
    wr32(b + FS_FSW_OFF_HEADER_CRC, fs_crc32c(0, b, FS_FSW_OFF_HEADER_CRC));
    walk(b, size, FS_WEIGHTS_SKIP_DATA_CRC);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    walk(data, size, FS_WEIGHTS_VERIFY_ALL);
    reseal_and_walk(data, size);
    return 0;
}

static void walk(const uint8_t *data, size_t size, unsigned flags)
{
    fs_weights *w = NULL;
    if (fs_weights_open_buffer(data, size, "fuzz.fsw", flags, &w) != FS_OK)
        return;
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < fs_weights_tensor_count(w); i++) {
        const fs_tensor *t = fs_weights_tensor_at(w, i);
        if (t->nbytes)
            sink ^= ((const uint8_t *)t->data)[t->nbytes - 1];
        if (fs_weights_find(w, t->name) != t)
            __builtin_trap();
    }
    for (size_t i = 0; i < fs_weights_meta_count(w); i++) {
        const fs_meta *m = fs_weights_meta_at(w, i);
        if (m->type == FS_META_STR && m->len)
            sink ^= (uint8_t)m->str[m->len - 1];
        if (m->type == FS_META_F64_ARRAY && m->len) {
            uint8_t last[8]; /* read the bytes: converting any double to an integer is not defined */
            memcpy(last, &m->arr[m->len - 1], 8);
            sink ^= last[7];
        }
    }
    (void)sink;
    fs_weights_free(w);
}
