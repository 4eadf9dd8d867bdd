/* The on-disk layout of a facesynth flat weight file (.fsw), shared by the
 * writer (weights_tools/weights_writer.c) and the reader (engine/weights.c).
 * docs/weights_format.md is the specification; this header mirrors it.
 *
 *   [header 128 B][metadata records][tensor directory][pad to 4096][tensor data]
 *
 * Every integer is little-endian. Tensor data starts on a 4096-byte boundary
 * and every tensor on a 256-byte boundary, so the whole data region can be
 * mmap'd and copied to a GPU in one transfer, each tensor already aligned for
 * vector loads. Header, metadata, directory and every tensor carry a CRC-32C. */
#ifndef FS_WEIGHTS_FORMAT_H
#define FS_WEIGHTS_FORMAT_H

#include <stdint.h>

#define FS_FSW_MAGIC "FSWEIGHT"
#define FS_FSW_VERSION 1u
#define FS_FSW_HEADER_SIZE 128u
#define FS_FSW_DIR_ENTRY_SIZE 160u
#define FS_FSW_NAME_MAX 96u         /* including the terminating NUL */
#define FS_FSW_MAX_DIMS 4u
#define FS_FSW_TENSOR_ALIGN 256u
#define FS_FSW_DATA_ALIGN 4096u
#define FS_FSW_META_KEY_MAX 64u
#define FS_FSW_MAX_TENSORS 65536u
#define FS_FSW_MAX_META 1024u

/* Header field offsets. */
enum {
    FS_FSW_OFF_MAGIC = 0,          /* char[8] */
    FS_FSW_OFF_VERSION = 8,        /* u32 */
    FS_FSW_OFF_HEADER_SIZE = 12,   /* u32 = 128 */
    FS_FSW_OFF_FAMILY = 16,        /* u32 fs_family */
    FS_FSW_OFF_FLAGS = 20,         /* u32, 0 */
    FS_FSW_OFF_META_OFFSET = 24,   /* u64 = 128 */
    FS_FSW_OFF_META_SIZE = 32,     /* u64 */
    FS_FSW_OFF_META_COUNT = 40,    /* u32 */
    FS_FSW_OFF_TENSOR_COUNT = 44,  /* u32 */
    FS_FSW_OFF_DIR_OFFSET = 48,    /* u64 = meta_offset + meta_size */
    FS_FSW_OFF_DIR_SIZE = 56,      /* u64 = tensor_count * 160 */
    FS_FSW_OFF_DATA_OFFSET = 64,   /* u64, multiple of 4096 */
    FS_FSW_OFF_DATA_SIZE = 72,     /* u64 */
    FS_FSW_OFF_FILE_SIZE = 80,     /* u64 = data_offset + data_size */
    FS_FSW_OFF_TENSOR_ALIGN = 88,  /* u32 = 256 */
    FS_FSW_OFF_META_CRC = 92,      /* u32 CRC-32C of the metadata block */
    FS_FSW_OFF_DIR_CRC = 96,       /* u32 CRC-32C of the directory */
    FS_FSW_OFF_RESERVED = 100,     /* 24 zero bytes */
    FS_FSW_OFF_HEADER_CRC = 124,   /* u32 CRC-32C of bytes [0, 124) */
};

/* Directory entry field offsets (160 bytes per tensor). */
enum {
    FS_FSW_DIR_NAME = 0,     /* char[96], NUL-terminated and NUL-padded */
    FS_FSW_DIR_DTYPE = 96,   /* u32 fs_dtype: 1 f32, 2 f16, 3 bf16 */
    FS_FSW_DIR_NDIM = 100,   /* u32 0..4 */
    FS_FSW_DIR_SHAPE = 104,  /* u64[4], unused dimensions 0 */
    FS_FSW_DIR_OFFSET = 136, /* u64, from data_offset, multiple of 256 */
    FS_FSW_DIR_NBYTES = 144, /* u64 = prod(shape) * dtype size */
    FS_FSW_DIR_CRC = 152,    /* u32 CRC-32C of the tensor's bytes */
    FS_FSW_DIR_RESERVED = 156,
};

/* Metadata record: u16 key_len, u8 type, u8 0, u32 value_len, key bytes,
 * value bytes, zero padding to a multiple of 8. */
typedef enum {
    FS_META_I64 = 1,       /* value_len 8 */
    FS_META_F64 = 2,       /* value_len 8 */
    FS_META_STR = 3,       /* UTF-8, no NUL */
    FS_META_F64_ARRAY = 4, /* value_len a multiple of 8 */
} fs_meta_type;

#endif
