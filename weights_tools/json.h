/* A small strict JSON (RFC 8259) parser for headers of untrusted files.
 *
 * The whole text must be one value surrounded by optional whitespace. Strings
 * must be valid UTF-8 and are returned unescaped (\uXXXX and surrogate pairs
 * become UTF-8); integral numbers are int64 (out-of-range ones are rejected,
 * never rounded); objects with a repeated key are rejected; nesting is capped
 * at FS_JSON_MAX_DEPTH and the number of values at FS_JSON_MAX_VALUES.
 * Members and items keep their document order. */
#ifndef FS_JSON_H
#define FS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FS_JSON_MAX_DEPTH 64
/* Each value costs about 32 bytes, so this bounds a hostile document's
 * memory to well under a gigabyte; a safetensors header has ~10 per tensor. */
#define FS_JSON_MAX_VALUES (1u << 24)

typedef enum {
    FS_JSON_NULL,
    FS_JSON_BOOL,   /* u.boolean */
    FS_JSON_INT,    /* u.integer: a number without fraction or exponent */
    FS_JSON_REAL,   /* u.real: any other number (finite) */
    FS_JSON_STRING, /* u.string */
    FS_JSON_ARRAY,  /* u.array */
    FS_JSON_OBJECT, /* u.object */
} fs_json_type;

typedef struct fs_json fs_json;
typedef struct fs_json_member fs_json_member;

struct fs_json {
    fs_json_type type;
    uint64_t offset; /* of the value's first byte, plus the base given to fs_json_parse */
    union {
        int boolean;
        int64_t integer;
        double real;
        struct {
            char *chars; /* NUL-terminated; may also contain NULs (from \u0000): see len */
            size_t len;
        } string;
        struct {
            fs_json *items;
            size_t count;
        } array;
        struct {
            fs_json_member *members;
            size_t count;
        } object;
    } u;
};

struct fs_json_member {
    char *key; /* as a string value: NUL-terminated, key_len bytes */
    size_t key_len;
    uint64_t key_offset;
    fs_json value;
};

/* Parses text[0..len). Error messages read "LABEL: JSON: problem (offset N)",
 * with N = base_offset + the position in text, so that a caller parsing a
 * header embedded in a file can report file offsets. */
fs_status fs_json_parse(const uint8_t *text, size_t len, const char *label, uint64_t base_offset,
                        fs_json **out);
void fs_json_free(fs_json *v);

/* The member value for key (a NUL-free string), or NULL. Linear in the object
 * size: meant for small objects. */
const fs_json *fs_json_get(const fs_json *object, const char *key);

/* "null", "bool", "integer", "number", "string", "array", "object". */
const char *fs_json_type_name(fs_json_type t);

#ifdef __cplusplus
}
#endif
#endif
