/* The whitelisting pickle reader: an interpreter for the subset of Python's
 * pickle machine that StyleGAN2 checkpoints use (protocols 2 to 5), which
 * builds an inert value graph instead of importing and calling things.
 *
 * Layout of this file: limits; the arena and the node wrapper; error
 * messages; the machine's stack, marks and memo; value constructors; the
 * whitelist of globals and what calling each one means (REDUCE, NEWOBJ,
 * BUILD, persistent ids); the opcode loop; the small public helpers.
 *
 * Two invariants make the graph safe to walk: it is acyclic, and no container
 * is nested deeper than MAX_HEIGHT. Both come from one rule: a node that has
 * been placed inside another node is sealed and can no longer be modified
 * (APPEND, SETITEM, ADDITEMS, BUILD). Python's pickler always finishes an
 * object before it stores it anywhere, so only recursive structures, which
 * no checkpoint contains, break the rule; they are refused. With children
 * frozen, a container's height is known exactly when a child is added. */
#include "pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torch_load.h"

/* Memory: the arena, the machine stacks and the memo together may use at
 * most BUDGET_BASE + BUDGET_PER_INPUT_BYTE * input_size bytes. A real
 * checkpoint needs well under one byte of graph per input byte (tensor data
 * and big strings stay in the input), so only hostile inputs reach it. */
#define BUDGET_BASE ((size_t)64 << 20)
#define BUDGET_PER_INPUT_BYTE 16
/* Work: bytes decoded from latin-1 strings plus bytes of storage blobs
 * parsed, which the memo could otherwise make a hostile file repeat
 * (one blob, a thousand REDUCEs). Real files decode each byte once. The same
 * formula as the memory budget. */
#define WORK_BASE ((size_t)64 << 20)
#define WORK_PER_INPUT_BYTE 16
/* Containers nested deeper than this are refused (StyleGAN2 pickles reach ~30). */
#define MAX_HEIGHT 1000
/* Objects on the machine stack and open MARKs (real pickles: tens of each). */
#define MAX_STACK ((size_t)1 << 24)
#define MAX_MARKS ((size_t)1 << 16)
/* torch.storage._load_from_bytes blobs inside blobs (real files: 1 level). */
#define MAX_TORCH_NESTING 2
/* Class names and storage keys, in bytes. */
#define MAX_NAME 1024
/* Entries of a persistent object's metadata dict (real ones have 5). */
#define MAX_META_ENTRIES 64
/* Arena chunk size; larger requests get a chunk of their own. */
#define ARENA_CHUNK ((size_t)64 << 10)

/* ------------------------------------------------------------------------ */
/* Arena and nodes */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t cap, used;
    max_align_t data[];
} arena_chunk;

/* Every fs_pv the reader makes is the first member of a node, so the two
 * pointer types convert both ways. */
typedef struct {
    fs_pv pv;
    uint32_t height; /* 0 for scalars; a container is 1 + its tallest child */
    uint8_t sealed;  /* stored inside another node: immutable from now on */
    uint8_t built;   /* NDARRAY / NPDTYPE: BUILD already applied */
    size_t cap;      /* allocated slots of a LIST, SET or DICT */
} node;

struct fs_pickle {
    char *label;
    size_t input_size;
    size_t budget, used;
    size_t work_budget, work;
    arena_chunk *chunks; /* all chunks; the first one is the bump chunk */
    node *none, *true_, *false_;
    node **storages;
    size_t nstorages, storages_cap;
    const uint8_t *origin; /* offsets in messages count from here */
    size_t origin_len;
    /* A storage blob decoded into the arena (protocol 2), being parsed. */
    const uint8_t *blob;
    size_t blob_len, blob_at;
    /* The innermost fs_pickle_load buffer: offsets of anything else. */
    const uint8_t *cur_buf;
    size_t cur_len;
    int torch_nesting;
};

static fs_status budget_take(fs_pickle *p, size_t n)
{
    if (n > p->budget || p->used > p->budget - n)
        return FS_ERR_LIMIT;
    p->used += n;
    return FS_OK;
}

/* Arena allocation without an error message; callers add one with context. */
static fs_status arena_alloc(fs_pickle *p, size_t n, void **out)
{
    *out = NULL;
    const size_t align = sizeof(max_align_t);
    if (n > SIZE_MAX - align)
        return FS_ERR_LIMIT;
    n = n ? (n + align - 1) / align * align : align;
    arena_chunk *c = p->chunks;
    if (c && c->cap - c->used >= n) {
        *out = (unsigned char *)c->data + c->used;
        c->used += n;
        return FS_OK;
    }
    size_t cap = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
    FS_TRY(budget_take(p, cap + sizeof(arena_chunk)));
    arena_chunk *nc = calloc(1, sizeof(arena_chunk) + cap);
    if (!nc) {
        p->used -= cap + sizeof(arena_chunk);
        return fs_error(FS_ERR_NOMEM, "pickle: out of memory for a %zu-byte arena chunk", cap);
    }
    nc->cap = cap;
    nc->used = n;
    if (cap == ARENA_CHUNK || !c) { /* becomes the bump chunk */
        nc->next = c;
        p->chunks = nc;
    } else { /* a dedicated chunk: keep bumping in the current one */
        nc->next = c->next;
        c->next = nc;
    }
    *out = nc->data;
    return FS_OK;
}

/* Grows a malloc'd array (machine stack, marks, memo) inside the budget.
 * New slots are zeroed. */
static fs_status grow_array(fs_pickle *p, void **arr, size_t *cap, size_t elem, size_t need,
                            size_t max)
{
    if (need <= *cap)
        return FS_OK;
    if (need > max)
        return FS_ERR_LIMIT;
    size_t ncap = *cap ? *cap : 32;
    while (ncap < need)
        ncap = ncap > max / 2 ? max : ncap * 2;
    if (ncap > SIZE_MAX / elem)
        return FS_ERR_LIMIT;
    FS_TRY(budget_take(p, (ncap - *cap) * elem));
    void *na = realloc(*arr, ncap * elem);
    if (!na) {
        p->used -= (ncap - *cap) * elem;
        return fs_error(FS_ERR_NOMEM, "pickle: out of memory growing an array to %zu entries",
                        ncap);
    }
    memset((char *)na + *cap * elem, 0, (ncap - *cap) * elem);
    *arr = na;
    *cap = ncap;
    return FS_OK;
}

static void release_array(fs_pickle *p, void *arr, size_t cap, size_t elem)
{
    free(arr);
    p->used -= cap * elem;
}

/* ------------------------------------------------------------------------ */
/* Error messages */

/* Whether at lies in [base, base + len] (the end included), compared as
 * integers since the pointers may belong to unrelated buffers. */
static int inside(const uint8_t *at, const uint8_t *base, size_t len)
{
    uintptr_t a = (uintptr_t)at, b = (uintptr_t)base;
    return base && a >= b && a - b <= len;
}

static void describe_offset(const fs_pickle *p, const uint8_t *at, char *out, size_t cap)
{
    if (inside(at, p->origin, p->origin_len))
        snprintf(out, cap, "offset %zu", (size_t)(at - p->origin));
    else if (inside(at, p->blob, p->blob_len))
        snprintf(out, cap, "offset %zu of the storage blob decoded at offset %zu",
                 (size_t)(at - p->blob), p->blob_at);
    else if (inside(at, p->cur_buf, p->cur_len))
        snprintf(out, cap, "offset %zu", (size_t)(at - p->cur_buf));
    else
        snprintf(out, cap, "unknown offset");
}

static fs_status pickle_verror(const fs_pickle *p, fs_status s, const uint8_t *at,
                               const char *fmt, va_list ap)
{
    char where[128], msg[768];
    describe_offset(p, at, where, sizeof where);
    vsnprintf(msg, sizeof msg, fmt, ap);
    return fs_error(s, "%s: %s: %s", p->label, where, msg);
}

fs_status fs_pickle_error(const fs_pickle *p, fs_status s, const uint8_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s = pickle_verror(p, s, at, fmt, ap);
    va_end(ap);
    return s;
}

/* Untrusted names go into messages printable and bounded. */
static void sanitize(const char *s, size_t n, char *out, size_t cap)
{
    const size_t max = cap > 4 ? cap - 4 : 0;
    size_t j = 0;
    for (size_t i = 0; i < n && j < max; i++) {
        unsigned char c = (unsigned char)s[i];
        out[j++] = (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') ? (char)c : '?';
    }
    if (j < n && cap >= 4) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    if (cap)
        out[j < cap ? j : cap - 1] = '\0';
}

static const char *opcode_name(uint8_t op)
{
    switch (op) {
    case 0x80: return "PROTO";
    case 0x95: return "FRAME";
    case '.': return "STOP";
    case '(': return "MARK";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'N': return "NONE";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'M': return "BININT2";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 'G': return "BINFLOAT";
    case 'X': return "BINUNICODE";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x8e: return "BINBYTES8";
    case '}': return "EMPTY_DICT";
    case ']': return "EMPTY_LIST";
    case ')': return "EMPTY_TUPLE";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 't': return "TUPLE";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case 'a': return "APPEND";
    case 'e': return "APPENDS";
    case 's': return "SETITEM";
    case 'u': return "SETITEMS";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 0x94: return "MEMOIZE";
    case 'h': return "BINGET";
    case 'j': return "LONG_BINGET";
    case 'c': return "GLOBAL";
    case 0x93: return "STACK_GLOBAL";
    case 'R': return "REDUCE";
    case 0x81: return "NEWOBJ";
    case 'b': return "BUILD";
    case 'Q': return "BINPERSID";
    /* valid pickle opcodes this reader does not implement */
    case 'I': return "INT";
    case 'L': return "LONG";
    case 'F': return "FLOAT";
    case 'S': return "STRING";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";
    case 'p': return "PUT";
    case 'g': return "GET";
    case 'd': return "DICT";
    case 'l': return "LIST";
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 'P': return "PERSID";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return NULL;
    }
}

/* ------------------------------------------------------------------------ */
/* The machine: one per fs_pickle_load call, since every pickle has its own
 * stack and memo and a storage blob runs a nested machine mid-REDUCE. */

typedef struct {
    fs_pickle *p;
    const uint8_t *buf;
    size_t len, pos;
    size_t op; /* offset of the opcode being run, for messages */
    node **stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t nmarks, marks_cap;
    node **memo;
    size_t memo_cap, memo_count;
} vm;

static fs_status vm_err(const vm *m, fs_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static fs_status vm_err(const vm *m, fs_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s = pickle_verror(m->p, s, m->buf + m->op, fmt, ap);
    va_end(ap);
    return s;
}

static fs_status vm_nomem(const vm *m, fs_status s)
{
    if (s == FS_ERR_NOMEM)
        return vm_err(m, s, "out of memory");
    return vm_err(m, s, "the reader's memory budget of %zu bytes is exhausted", m->p->budget);
}

static fs_status charge_work(vm *m, size_t n)
{
    fs_pickle *p = m->p;
    if (n > p->work_budget || p->work > p->work_budget - n)
        return vm_err(m, FS_ERR_LIMIT,
                      "decoding would process more than %zu bytes (a string or storage blob "
                      "used over and over)",
                      p->work_budget);
    p->work += n;
    return FS_OK;
}

static fs_status vm_alloc(vm *m, size_t n, void **out)
{
    fs_status s = arena_alloc(m->p, n, out);
    return s == FS_OK ? s : vm_nomem(m, s);
}

/* "a list", "an int": node kinds as message text. */
static const char *kind_name(const node *n)
{
    static const char *const names[] = {
        [FS_PV_NONE] = "None",        [FS_PV_BOOL] = "a bool",
        [FS_PV_INT] = "an int",       [FS_PV_BIGINT] = "a big int",
        [FS_PV_FLOAT] = "a float",    [FS_PV_STR] = "a str",
        [FS_PV_BYTES] = "bytes",      [FS_PV_TUPLE] = "a tuple",
        [FS_PV_LIST] = "a list",      [FS_PV_SET] = "a set",
        [FS_PV_DICT] = "a dict",      [FS_PV_GLOBAL] = "a global",
        [FS_PV_STORAGE] = "a storage", [FS_PV_TENSOR] = "a tensor",
        [FS_PV_NDARRAY] = "an ndarray", [FS_PV_NPDTYPE] = "a numpy dtype",
        [FS_PV_OBJECT] = "an object",
    };
    unsigned k = (unsigned)n->pv.kind;
    return k < sizeof names / sizeof names[0] && names[k] ? names[k] : "a value";
}

static size_t fence(const vm *m) { return m->nmarks ? m->marks[m->nmarks - 1] : 0; }

static fs_status push(vm *m, node *n)
{
    if (m->sp == m->stack_cap) {
        fs_status s = grow_array(m->p, (void **)&m->stack, &m->stack_cap, sizeof *m->stack,
                                 m->sp + 1, MAX_STACK);
        if (s == FS_ERR_LIMIT && m->sp + 1 > MAX_STACK)
            return vm_err(m, s, "more than %zu objects on the pickle stack", MAX_STACK);
        if (s != FS_OK)
            return vm_nomem(m, s);
    }
    m->stack[m->sp++] = n;
    return FS_OK;
}

static fs_status underflow(const vm *m)
{
    return vm_err(m, FS_ERR_FORMAT, "pickle stack underflow");
}

static fs_status pop(vm *m, node **out)
{
    if (m->sp <= fence(m))
        return underflow(m);
    *out = m->stack[--m->sp];
    return FS_OK;
}

static fs_status peek(const vm *m, node **out)
{
    if (m->sp <= fence(m))
        return underflow(m);
    *out = m->stack[m->sp - 1];
    return FS_OK;
}

/* Pops the top MARK; *mark is the stack height it recorded. */
static fs_status pop_mark(vm *m, size_t *mark)
{
    if (!m->nmarks)
        return vm_err(m, FS_ERR_FORMAT, "%s without a MARK", opcode_name(m->buf[m->op]));
    *mark = m->marks[--m->nmarks];
    return FS_OK;
}

/* Operand bytes of the current opcode. */
static fs_status take(vm *m, size_t n, const uint8_t **out)
{
    if (n > m->len - m->pos)
        return vm_err(m, FS_ERR_FORMAT, "truncated %s: needs %zu bytes, %zu left",
                      opcode_name(m->buf[m->op]), n, m->len - m->pos);
    *out = m->buf + m->pos;
    m->pos += n;
    return FS_OK;
}

static uint64_t le(const uint8_t *b, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

/* ------------------------------------------------------------------------ */
/* Values */

static fs_status new_node(vm *m, fs_pv_kind kind, node **out)
{
    void *mem;
    FS_TRY(vm_alloc(m, sizeof(node), &mem));
    node *n = mem;
    n->pv.kind = kind;
    *out = n;
    return FS_OK;
}

static node *singleton(fs_pickle *p, fs_pv_kind kind, int64_t i)
{
    node **slot = kind == FS_PV_NONE ? &p->none : i ? &p->true_ : &p->false_;
    if (!*slot) {
        void *mem;
        if (arena_alloc(p, sizeof(node), &mem) != FS_OK)
            return NULL;
        *slot = mem;
        (*slot)->pv.kind = kind;
        (*slot)->pv.u.i = i;
    }
    return *slot;
}

static fs_status push_singleton(vm *m, fs_pv_kind kind, int64_t i)
{
    node *n = singleton(m->p, kind, i);
    if (!n)
        return vm_nomem(m, FS_ERR_LIMIT);
    return push(m, n);
}

static fs_status push_int(vm *m, int64_t i)
{
    node *n = NULL;
    FS_TRY(new_node(m, FS_PV_INT, &n));
    n->pv.u.i = i;
    return push(m, n);
}

/* Per-byte masks over a 64-bit word (high bit of each byte set where true),
 * for the UTF-8 that protocol 2 makes of bytes objects: ASCII plus the
 * two-byte sequences C2/C3 xx. Checking that form a word at a time keeps
 * 500 MB protocol-2 pickles at disk speed, where random data defeats a
 * byte-by-byte loop's branch prediction. */
#define HIGH_BITS 0x8080808080808080ull
#define LOW7_BITS 0x7f7f7f7f7f7f7f7full

static uint64_t cont_bytes(uint64_t w) { return w & ~(w << 1) & HIGH_BITS; } /* 10xxxxxx */
static uint64_t lead_bytes(uint64_t w) { return w & (w << 1) & HIGH_BITS; }  /* 11xxxxxx */

static uint64_t latin1_lead_bytes(uint64_t w) /* exactly C2 or C3 */
{
    uint64_t v = (w ^ 0xc2c2c2c2c2c2c2c2ull) & 0xfefefefefefefefeull;
    return ~(((v & LOW7_BITS) + LOW7_BITS) | v | LOW7_BITS);
}

/* 1 if s is ASCII and C2/C3 sequences only (so valid UTF-8, all <= U+00FF). */
static int utf8_latin1_form(const uint8_t *s, size_t n)
{
    uint64_t carry = 0; /* the previous word ended with a lead byte */
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t lead = latin1_lead_bytes(w), cont = cont_bytes(w);
        if ((w & HIGH_BITS & ~cont & ~lead) | (cont ^ (lead << 8 | carry << 7)))
            return 0;
        carry = lead >> 63;
    }
    for (; i < n; i++) {
        uint8_t c = s[i];
        if (carry != ((c & 0xc0) == 0x80))
            return 0;
        carry = (c & 0xfe) == 0xc2;
        if (c >= 0x80 && !carry && (c & 0xc0) != 0x80)
            return 0;
    }
    return carry == 0;
}

/* Well-formed UTF-8, with lone surrogates allowed as Python's pickle writes
 * strings with 'surrogatepass'. */
static int utf8_valid(const uint8_t *s, size_t n)
{
    if (utf8_latin1_form(s, n))
        return 1;
    size_t i = 0;
    while (i < n) {
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & HIGH_BITS)
                break;
            i += 8;
        }
        if (i == n)
            break;
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0)
                lo = 0xa0;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0)
                lo = 0x90;
            if (c == 0xf4)
                hi = 0x8f;
        } else {
            return 0;
        }
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
        i += len;
    }
    return 1;
}

static fs_status push_str(vm *m, const uint8_t *s, size_t n)
{
    if (!utf8_valid(s, n))
        return vm_err(m, FS_ERR_FORMAT, "string is not valid UTF-8");
    node *v = NULL;
    FS_TRY(new_node(m, FS_PV_STR, &v));
    v->pv.u.s.ptr = (const char *)s;
    v->pv.u.s.len = n;
    return push(m, v);
}

static fs_status push_bytes(vm *m, const uint8_t *s, size_t n)
{
    node *v = NULL;
    FS_TRY(new_node(m, FS_PV_BYTES, &v));
    v->pv.u.s.ptr = (const char *)s;
    v->pv.u.s.len = n;
    return push(m, v);
}

/* LONG1/LONG4: little-endian two's complement of any width. */
static fs_status push_long(vm *m, const uint8_t *b, size_t n)
{
    if (n <= 8) {
        uint64_t u = le(b, (int)n);
        if (n > 0 && n < 8 && (b[n - 1] & 0x80))
            u |= ~(uint64_t)0 << (8 * n);
        return push_int(m, (int64_t)u);
    }
    uint8_t ext = (b[7] & 0x80) ? 0xff : 0x00;
    size_t k = 8;
    while (k < n && b[k] == ext)
        k++;
    if (k == n)
        return push_int(m, (int64_t)le(b, 8));
    node *v = NULL;
    FS_TRY(new_node(m, FS_PV_BIGINT, &v));
    v->pv.u.s.ptr = (const char *)b;
    v->pv.u.s.len = n;
    return push(m, v);
}

/* Adds child under parent: seals child and updates parent's height. */
static fs_status adopt(vm *m, node *parent, node *child)
{
    if (child == parent)
        return vm_err(m, FS_ERR_UNSUPPORTED,
                      "%s contains itself: recursive structures are not supported",
                      kind_name(parent));
    child->sealed = 1;
    uint32_t h = child->height + 1;
    if (h > MAX_HEIGHT)
        return vm_err(m, FS_ERR_LIMIT, "containers are nested more than %d levels deep",
                      MAX_HEIGHT);
    if (h > parent->height)
        parent->height = h;
    return FS_OK;
}

static fs_status check_mutable(const vm *m, const node *target, fs_pv_kind want)
{
    const char *op = opcode_name(m->buf[m->op]);
    if (target->pv.kind != want)
        return vm_err(m, FS_ERR_FORMAT, "%s on %s, expected a %s", op, kind_name(target),
                      fs_pv_kind_name(want));
    if (target->sealed)
        return vm_err(m, FS_ERR_UNSUPPORTED,
                      "%s on %s that is already stored elsewhere: recursive structures are "
                      "not supported",
                      op, kind_name(target));
    return FS_OK;
}

/* Room for `extra` more items in a LIST, SET or TUPLE (geometric growth:
 * the arena never frees, so the abandoned arrays sum to less than the last). */
static fs_status seq_reserve(vm *m, node *n, size_t extra)
{
    size_t have = n->pv.u.seq.n;
    if (extra <= n->cap - have)
        return FS_OK;
    size_t need = have + extra; /* both bounded by the stack size */
    size_t ncap = n->cap * 2 > need ? n->cap * 2 : need < 4 ? 4 : need;
    void *mem;
    FS_TRY(vm_alloc(m, ncap * sizeof(fs_pv *), &mem));
    if (have)
        memcpy(mem, n->pv.u.seq.items, have * sizeof(fs_pv *));
    n->pv.u.seq.items = mem;
    n->cap = ncap;
    return FS_OK;
}

static fs_status dict_reserve(vm *m, node *n, size_t extra)
{
    size_t have = n->pv.u.dict.n;
    if (extra <= n->cap - have)
        return FS_OK;
    size_t need = have + extra;
    size_t ncap = n->cap * 2 > need ? n->cap * 2 : need < 4 ? 4 : need;
    void *k, *v;
    FS_TRY(vm_alloc(m, ncap * sizeof(fs_pv *), &k));
    FS_TRY(vm_alloc(m, ncap * sizeof(fs_pv *), &v));
    if (have) {
        memcpy(k, n->pv.u.dict.keys, have * sizeof(fs_pv *));
        memcpy(v, n->pv.u.dict.vals, have * sizeof(fs_pv *));
    }
    n->pv.u.dict.keys = k;
    n->pv.u.dict.vals = v;
    n->cap = ncap;
    return FS_OK;
}

static fs_status seq_add(vm *m, node *seq, node *item)
{
    FS_TRY(adopt(m, seq, item));
    seq->pv.u.seq.items[seq->pv.u.seq.n++] = &item->pv;
    return FS_OK;
}

static fs_status dict_add(vm *m, node *d, node *key, node *val)
{
    FS_TRY(adopt(m, d, key));
    FS_TRY(adopt(m, d, val));
    d->pv.u.dict.keys[d->pv.u.dict.n] = &key->pv;
    d->pv.u.dict.vals[d->pv.u.dict.n++] = &val->pv;
    return FS_OK;
}

/* A TUPLE, LIST or SET holding items[0..n). */
static fs_status make_seq(vm *m, fs_pv_kind kind, node **items, size_t n, node **out)
{
    FS_TRY(new_node(m, kind, out));
    (*out)->height = 1;
    FS_TRY(seq_reserve(m, *out, n));
    for (size_t i = 0; i < n; i++)
        FS_TRY(seq_add(m, *out, items[i]));
    return FS_OK;
}

static fs_status make_container(vm *m, fs_pv_kind kind)
{
    node *n = NULL;
    FS_TRY(new_node(m, kind, &n));
    n->height = 1;
    return push(m, n);
}

/* A NUL-terminated arena copy of a STR (class names, storage keys). */
static fs_status copy_name(vm *m, const node *s, const char *what, const char **out)
{
    size_t n = s->pv.u.s.len;
    if (n > MAX_NAME)
        return vm_err(m, FS_ERR_LIMIT, "%s is %zu bytes long (at most %d)", what, n, MAX_NAME);
    if (memchr(s->pv.u.s.ptr, '\0', n))
        return vm_err(m, FS_ERR_FORMAT, "%s contains a NUL byte", what);
    void *mem;
    FS_TRY(vm_alloc(m, n + 1, &mem));
    memcpy(mem, s->pv.u.s.ptr, n);
    *out = mem;
    return FS_OK;
}

static int is_str(const node *n, const char *s) { return fs_pv_is_str(&n->pv, s); }

static int as_int(const node *n, int64_t *out)
{
    if (n->pv.kind != FS_PV_INT && n->pv.kind != FS_PV_BOOL)
        return 0;
    *out = n->pv.u.i;
    return 1;
}

static size_t nargs(const node *t) { return t->pv.u.seq.n; }
static node *arg(const node *t, size_t i) { return (node *)t->pv.u.seq.items[i]; }

/* A latin-1 str (protocol 2's spelling of bytes, or a numpy buffer written by
 * Python 2) to the bytes it stands for. The str is valid UTF-8 already. Pure
 * ASCII needs no copy. */
static fs_status latin1_bytes(vm *m, const node *s, const uint8_t **out, size_t *out_len)
{
    const uint8_t *in = (const uint8_t *)s->pv.u.s.ptr;
    size_t n = s->pv.u.s.len, cont = 0, i = 0;
    FS_TRY(charge_work(m, n));
    uint64_t wide = 0; /* lead bytes of code points above U+00FF */
    for (; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, in + i, 8);
        cont += (size_t)((cont_bytes(w) >> 7) * 0x0101010101010101ull >> 56);
        wide |= lead_bytes(w) & ~latin1_lead_bytes(w);
    }
    for (; i < n; i++) {
        cont += (in[i] & 0xc0) == 0x80;
        wide |= in[i] >= 0xc4;
    }
    if (wide)
        return vm_err(m, FS_ERR_FORMAT, "latin-1 string holds a character above U+00FF");
    if (!cont) {
        *out = in;
        *out_len = n;
        return FS_OK;
    }
    void *mem;
    FS_TRY(vm_alloc(m, n - cont, &mem));
    uint8_t *o = mem;
    /* A word at a time: each continuation byte takes the slot of its lead
     * (C2 or C3, whose low two bits are the code point's top bits) and holds
     * the finished byte; every other byte keeps its value. A byte's slot is its
     * index minus the continuation bytes up to it, which one multiplication
     * gives for all eight (prefix sums of one bit per byte). Past the ASCII
     * shortcut no branch depends on the data, which for weights is random. */
    size_t j = 0;
    uint64_t prev = 0; /* the previous word; its last byte precedes this word's first */
    for (i = 0; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, in + i, 8);
        uint64_t before = w << 8 | prev >> 56; /* each byte's predecessor */
        prev = w;
        if (!(w & HIGH_BITS)) { /* ASCII: zeros in weights, text */
            memcpy(o + j, &w, 8);
            j += 8;
            continue;
        }
        uint64_t is_cont = cont_bytes(w) >> 7; /* bit 0 of each byte */
        uint64_t joined = (before & 0x0303030303030303ull) << 6 | (w & 0x3f3f3f3f3f3f3f3full);
        uint64_t pick = is_cont * 0xff;
        uint64_t v = (joined & pick) | (w & ~pick);
        uint64_t conts_upto = is_cont * 0x0101010101010101ull; /* inclusive prefix sums */
        for (int k = 0; k < 8; k++)
            o[j + (size_t)k - ((conts_upto >> (8 * k)) & 0xff)] = (uint8_t)(v >> (8 * k));
        j += 8 - (conts_upto >> 56);
    }
    for (; i < n; i++) {
        uint8_t c = in[i];
        if ((c & 0xc0) == 0x80)
            o[j - 1] = (uint8_t)((o[j - 1] & 0x03) << 6 | (c & 0x3f));
        else
            o[j++] = c;
    }
    *out = o;
    *out_len = j;
    return FS_OK;
}

static fs_status bytes_of(vm *m, const node *v, const char *what, const uint8_t **out,
                          size_t *len)
{
    if (v->pv.kind == FS_PV_BYTES) {
        *out = (const uint8_t *)v->pv.u.s.ptr;
        *len = v->pv.u.s.len;
        return FS_OK;
    }
    if (v->pv.kind == FS_PV_STR)
        return latin1_bytes(m, v, out, len);
    return vm_err(m, FS_ERR_FORMAT, "%s is %s, expected bytes", what, kind_name(v));
}

/* ------------------------------------------------------------------------ */
/* The whitelist */

static const struct {
    const char *module, *name;
    fs_pickle_global id;
    fs_dtype dtype;
} allowed[] = {
    {"collections", "OrderedDict", FS_GLOBAL_ORDERED_DICT, FS_DTYPE_INVALID},
    {"builtins", "set", FS_GLOBAL_SET, FS_DTYPE_INVALID},
    {"__builtin__", "set", FS_GLOBAL_SET, FS_DTYPE_INVALID},
    {"_codecs", "encode", FS_GLOBAL_CODECS_ENCODE, FS_DTYPE_INVALID},
    /* Protocol 2 writes an empty bytes object as bytes(): the same node kind. */
    {"builtins", "bytes", FS_GLOBAL_CODECS_ENCODE, FS_DTYPE_INVALID},
    {"__builtin__", "bytes", FS_GLOBAL_CODECS_ENCODE, FS_DTYPE_INVALID},
    {"torch._utils", "_rebuild_tensor_v2", FS_GLOBAL_REBUILD_TENSOR_V2, FS_DTYPE_INVALID},
    {"torch._utils", "_rebuild_parameter", FS_GLOBAL_REBUILD_PARAMETER, FS_DTYPE_INVALID},
    {"torch._utils", "_rebuild_parameter_with_state", FS_GLOBAL_REBUILD_PARAMETER,
     FS_DTYPE_INVALID},
    {"torch.storage", "_load_from_bytes", FS_GLOBAL_LOAD_FROM_BYTES, FS_DTYPE_INVALID},
    {"torch", "FloatStorage", FS_GLOBAL_STORAGE_TYPE, FS_DTYPE_F32},
    {"torch", "HalfStorage", FS_GLOBAL_STORAGE_TYPE, FS_DTYPE_F16},
    {"torch", "BFloat16Storage", FS_GLOBAL_STORAGE_TYPE, FS_DTYPE_BF16},
    {"torch", "DoubleStorage", FS_GLOBAL_STORAGE_TYPE, FS_DTYPE_F64},
    {"torch", "LongStorage", FS_GLOBAL_STORAGE_TYPE, FS_DTYPE_I64},
    {"torch", "IntStorage", FS_GLOBAL_STORAGE_TYPE, FS_DTYPE_I32},
    {"torch", "ShortStorage", FS_GLOBAL_STORAGE_TYPE, FS_DTYPE_I16},
    {"torch", "CharStorage", FS_GLOBAL_STORAGE_TYPE, FS_DTYPE_I8},
    {"torch", "ByteStorage", FS_GLOBAL_STORAGE_TYPE, FS_DTYPE_U8},
    {"torch", "BoolStorage", FS_GLOBAL_STORAGE_TYPE, FS_DTYPE_BOOL},
    {"torch_utils.persistence", "_reconstruct_persistent_obj", FS_GLOBAL_PERSISTENT_OBJ,
     FS_DTYPE_INVALID},
    {"dnnlib.util", "EasyDict", FS_GLOBAL_EASYDICT, FS_DTYPE_INVALID},
    {"dnnlib.tflib.network", "Network", FS_GLOBAL_TF_NETWORK, FS_DTYPE_INVALID},
    {"numpy.core.multiarray", "_reconstruct", FS_GLOBAL_NP_RECONSTRUCT, FS_DTYPE_INVALID},
    {"numpy._core.multiarray", "_reconstruct", FS_GLOBAL_NP_RECONSTRUCT, FS_DTYPE_INVALID},
    {"numpy", "ndarray", FS_GLOBAL_NP_NDARRAY, FS_DTYPE_INVALID},
    {"numpy", "dtype", FS_GLOBAL_NP_DTYPE, FS_DTYPE_INVALID},
    {"numpy.core.multiarray", "scalar", FS_GLOBAL_NP_SCALAR, FS_DTYPE_INVALID},
    {"numpy._core.multiarray", "scalar", FS_GLOBAL_NP_SCALAR, FS_DTYPE_INVALID},
    {"argparse", "Namespace", FS_GLOBAL_ARGPARSE_NAMESPACE, FS_DTYPE_INVALID},
    {"torch._utils", "_rebuild_tensor", FS_GLOBAL_REBUILD_TENSOR, FS_DTYPE_INVALID},
};

static const char *global_name(fs_pickle_global id)
{
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (allowed[i].id == id)
            return allowed[i].name;
    return "?";
}

static int name_is(const uint8_t *s, size_t n, const char *want)
{
    return strlen(want) == n && memcmp(s, want, n) == 0;
}

static fs_status push_global(vm *m, const uint8_t *mod, size_t mod_len, const uint8_t *name,
                             size_t name_len)
{
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        if (name_is(mod, mod_len, allowed[i].module) && name_is(name, name_len, allowed[i].name)) {
            node *g;
            FS_TRY(new_node(m, FS_PV_GLOBAL, &g));
            g->pv.u.global.id = allowed[i].id;
            g->pv.u.global.dtype = allowed[i].dtype;
            return push(m, g);
        }
    }
    char smod[96], sname[96];
    sanitize((const char *)mod, mod_len, smod, sizeof smod);
    sanitize((const char *)name, name_len, sname, sizeof sname);
    return vm_err(m, FS_ERR_FORBIDDEN, "forbidden pickle global '%s.%s'", smod, sname);
}

/* ------------------------------------------------------------------------ */
/* Calling whitelisted globals */

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[,
 * metadata]) or, v1 set, the old _rebuild_tensor(storage, offset, size,
 * stride): the same view either way. */
static fs_status reconstruct_tensor(vm *m, const node *args, int v1, node **out)
{
    size_t n = nargs(args);
    const char *fn = v1 ? "_rebuild_tensor" : "_rebuild_tensor_v2";
    if (v1 ? n != 4 : n != 6 && n != 7)
        return vm_err(m, FS_ERR_FORMAT, "%s takes %s arguments, got %zu", fn, v1 ? "4" : "6 or 7",
                      n);
    node *st = arg(args, 0), *size = arg(args, 2), *stride = arg(args, 3);
    int64_t offset;
    if (st->pv.kind != FS_PV_STORAGE)
        return vm_err(m, FS_ERR_FORMAT, "%s: storage is %s", fn, kind_name(st));
    if (!as_int(arg(args, 1), &offset) || offset < 0)
        return vm_err(m, FS_ERR_FORMAT, "%s: bad storage offset", fn);
    if (size->pv.kind != FS_PV_TUPLE || stride->pv.kind != FS_PV_TUPLE ||
        nargs(size) != nargs(stride))
        return vm_err(m, FS_ERR_FORMAT, "%s: size and stride must be tuples of one length", fn);
    if (nargs(size) > FS_PICKLE_MAX_DIMS)
        return vm_err(m, FS_ERR_LIMIT, "tensor has %zu dimensions (at most %d)", nargs(size),
                      FS_PICKLE_MAX_DIMS);
    node *t = NULL;
    FS_TRY(new_node(m, FS_PV_TENSOR, &t));
    t->pv.u.tensor.ndim = (int)nargs(size);
    t->pv.u.tensor.offset = offset;
    t->pv.u.tensor.storage = &st->pv;
    /* The view must stay inside the storage: the last element it reaches is
     * offset + sum (shape - 1) * stride, computed without overflow. */
    int64_t last = offset, numel = 1;
    int empty = 0;
    for (int d = 0; d < t->pv.u.tensor.ndim; d++) {
        int64_t sh, sd;
        if (!as_int(arg(size, d), &sh) || !as_int(arg(stride, d), &sd) || sh < 0 || sd < 0)
            return vm_err(m, FS_ERR_FORMAT, "tensor dimension %d has a bad size or stride", d);
        t->pv.u.tensor.shape[d] = sh;
        t->pv.u.tensor.stride[d] = sd;
        if (sh == 0) {
            empty = 1;
            continue;
        }
        int64_t span;
        if (__builtin_mul_overflow(sh - 1, sd, &span) || __builtin_add_overflow(last, span, &last) ||
            __builtin_mul_overflow(numel, sh, &numel))
            return vm_err(m, FS_ERR_FORMAT, "tensor size or strides overflow");
    }
    uint64_t avail = st->pv.u.storage.numel;
    size_t es = fs_dtype_size(st->pv.u.storage.dtype);
    if (!empty && numel > INT64_MAX / (int64_t)es)
        return vm_err(m, FS_ERR_FORMAT, "tensor has too many elements");
    if (empty ? (uint64_t)offset > avail : (uint64_t)last >= avail)
        return vm_err(m, FS_ERR_FORMAT,
                      "tensor view reaches element %lld of a storage of %llu elements",
                      (long long)last, (unsigned long long)avail);
    /* Only a view that repeats elements (a zero or overlapping stride) can
     * have more of them than its storage; copying one out could take far
     * more memory than the file, and checkpoints never hold one. */
    if (!empty && (uint64_t)numel > avail)
        return vm_err(m, FS_ERR_UNSUPPORTED,
                      "tensor of %lld elements repeats elements of a storage of %llu",
                      (long long)numel, (unsigned long long)avail);
    t->height = 1;
    FS_TRY(adopt(m, t, st));
    *out = t;
    return FS_OK;
}

static fs_status load_from_bytes(vm *m, const node *args, node **out)
{
    const uint8_t *blob = NULL;
    size_t len = 0;
    if (nargs(args) != 1)
        return vm_err(m, FS_ERR_FORMAT, "_load_from_bytes takes 1 argument");
    FS_TRY(bytes_of(m, arg(args, 0), "_load_from_bytes argument", &blob, &len));
    fs_pickle *p = m->p;
    FS_TRY(charge_work(m, len));
    if (p->torch_nesting >= MAX_TORCH_NESTING)
        return vm_err(m, FS_ERR_LIMIT, "storage blobs nested more than %d levels deep",
                      MAX_TORCH_NESTING);
    /* A blob decoded from a protocol-2 string lives in the arena: messages
     * about it say where it came from. */
    const uint8_t *saved_blob = p->blob;
    size_t saved_len = p->blob_len, saved_at = p->blob_at;
    if (!inside(blob, p->origin, p->origin_len) && !inside(blob, p->blob, p->blob_len)) {
        size_t at = m->op;
        if (inside(m->buf, p->origin, p->origin_len))
            at += (size_t)(m->buf - p->origin);
        p->blob = blob;
        p->blob_len = len;
        p->blob_at = at;
    }
    p->torch_nesting++;
    size_t used = 0;
    fs_pv *res = NULL;
    fs_status s = fs_torch_legacy_load(p, blob, len, &used, &res);
    p->torch_nesting--;
    if (s == FS_OK && used != len)
        s = fs_pickle_error(p, FS_ERR_FORMAT, blob + used,
                            "%zu trailing bytes after a torch.save storage blob", len - used);
    p->blob = saved_blob;
    p->blob_len = saved_len;
    p->blob_at = saved_at;
    *out = (node *)res;
    return s;
}

static fs_status persistent_obj(vm *m, const node *args, node **out)
{
    node *meta = nargs(args) == 1 ? arg(args, 0) : NULL;
    if (!meta || meta->pv.kind != FS_PV_DICT)
        return vm_err(m, FS_ERR_FORMAT, "_reconstruct_persistent_obj takes one dict");
    if (meta->pv.u.dict.n > MAX_META_ENTRIES) /* each lookup below scans it */
        return vm_err(m, FS_ERR_LIMIT, "persistent object metadata has %zu entries (at most %d)",
                      meta->pv.u.dict.n, MAX_META_ENTRIES);
    node *cls = (node *)fs_pv_dict_get(&meta->pv, "class_name");
    node *state = (node *)fs_pv_dict_get(&meta->pv, "state");
    if (!cls || cls->pv.kind != FS_PV_STR || !state || state->pv.kind != FS_PV_DICT)
        return vm_err(m, FS_ERR_FORMAT,
                      "persistent object without a class_name string and a state dict");
    node *o = NULL;
    FS_TRY(new_node(m, FS_PV_OBJECT, &o));
    FS_TRY(copy_name(m, cls, "class name", &o->pv.u.object.class_name));
    o->pv.u.object.state = &state->pv;
    FS_TRY(adopt(m, o, state));
    *out = o;
    return FS_OK;
}

/* numpy dtype descriptors as numpy pickles them: kind letter + item size. */
static fs_dtype np_dtype(const uint8_t *s, size_t n, int *big_endian)
{
    *big_endian = 0;
    if (n && (s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=')) {
        *big_endian = s[0] == '>';
        s++;
        n--;
    }
    static const struct {
        const char *descr;
        fs_dtype t;
    } map[] = {
        {"f2", FS_DTYPE_F16}, {"f4", FS_DTYPE_F32}, {"f8", FS_DTYPE_F64}, {"i1", FS_DTYPE_I8},
        {"i2", FS_DTYPE_I16}, {"i4", FS_DTYPE_I32}, {"i8", FS_DTYPE_I64}, {"u1", FS_DTYPE_U8},
        {"b1", FS_DTYPE_BOOL},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (name_is(s, n, map[i].descr))
            return map[i].t;
    return FS_DTYPE_INVALID;
}

static fs_status make_np_dtype(vm *m, const node *args, node **out)
{
    node *d = nargs(args) >= 1 ? arg(args, 0) : NULL;
    if (!d || d->pv.kind != FS_PV_STR)
        return vm_err(m, FS_ERR_FORMAT, "numpy.dtype without a descriptor string");
    int be;
    fs_dtype t = np_dtype((const uint8_t *)d->pv.u.s.ptr, d->pv.u.s.len, &be);
    if (t == FS_DTYPE_INVALID) {
        char name[32];
        sanitize(d->pv.u.s.ptr, d->pv.u.s.len, name, sizeof name);
        return vm_err(m, FS_ERR_UNSUPPORTED, "numpy dtype '%s' is not supported", name);
    }
    FS_TRY(new_node(m, FS_PV_NPDTYPE, out));
    (*out)->pv.u.npdtype.dtype = t;
    (*out)->pv.u.npdtype.big_endian = be && fs_dtype_size(t) > 1;
    return FS_OK;
}

static fs_status np_scalar(vm *m, const node *args, node **out)
{
    node *dt = nargs(args) == 2 ? arg(args, 0) : NULL;
    if (!dt || dt->pv.kind != FS_PV_NPDTYPE)
        return vm_err(m, FS_ERR_FORMAT, "numpy scalar takes a dtype and bytes");
    const uint8_t *raw = NULL;
    size_t len = 0;
    FS_TRY(bytes_of(m, arg(args, 1), "numpy scalar data", &raw, &len));
    fs_dtype t = dt->pv.u.npdtype.dtype;
    size_t es = fs_dtype_size(t);
    if (len != es)
        return vm_err(m, FS_ERR_FORMAT, "numpy %s scalar has %zu bytes", fs_dtype_name(t), len);
    uint8_t b[8];
    for (size_t i = 0; i < es; i++)
        b[i] = dt->pv.u.npdtype.big_endian ? raw[es - 1 - i] : raw[i];
    switch (t) {
    case FS_DTYPE_F16: case FS_DTYPE_F32: case FS_DTYPE_F64:
        FS_TRY(new_node(m, FS_PV_FLOAT, out));
        (*out)->pv.u.f = fs_dtype_load(t, b, 0);
        return FS_OK;
    case FS_DTYPE_BOOL:
        *out = singleton(m->p, FS_PV_BOOL, b[0] != 0);
        return *out ? FS_OK : vm_nomem(m, FS_ERR_LIMIT);
    default: {
        uint64_t u = le(b, (int)es);
        if (t != FS_DTYPE_U8 && es < 8 && (b[es - 1] & 0x80))
            u |= ~(uint64_t)0 << (8 * es);
        FS_TRY(new_node(m, FS_PV_INT, out));
        (*out)->pv.u.i = (int64_t)u;
        return FS_OK;
    }
    }
}

/* Classes whose instances start empty and are filled by SETITEMS or BUILD. */
static fs_status instantiate(vm *m, const node *g, const node *args, node **out)
{
    fs_pickle_global id = g->pv.u.global.id;
    const char *cls = NULL;
    switch (id) {
    case FS_GLOBAL_ORDERED_DICT:
    case FS_GLOBAL_EASYDICT:
        if (nargs(args))
            break;
        FS_TRY(new_node(m, FS_PV_DICT, out));
        (*out)->height = 1;
        return FS_OK;
    case FS_GLOBAL_SET:
        if (nargs(args))
            break;
        FS_TRY(new_node(m, FS_PV_SET, out));
        (*out)->height = 1;
        return FS_OK;
    case FS_GLOBAL_TF_NETWORK: cls = "Network"; break;
    case FS_GLOBAL_ARGPARSE_NAMESPACE: cls = "Namespace"; break;
    default: break;
    }
    if (!cls || nargs(args))
        return vm_err(m, FS_ERR_UNSUPPORTED, "%s of %s with %zu arguments is not supported",
                      opcode_name(m->buf[m->op]), global_name(id), nargs(args));
    FS_TRY(new_node(m, FS_PV_OBJECT, out));
    (*out)->pv.u.object.class_name = cls;
    (*out)->pv.u.object.state = &m->p->none->pv; /* set up by fs_pickle_load */
    (*out)->height = 1;
    return FS_OK;
}

/* OrderedDict(items): a new dict of the (key, value) pairs of a list or
 * tuple, each pair a 2-item list or tuple, in order (a repeated key appends;
 * fs_pv_dict_get returns the last one, as Python keeps the last value). */
static fs_status ordered_dict_of_pairs(vm *m, const node *items, node **out)
{
    if (items->pv.kind != FS_PV_LIST && items->pv.kind != FS_PV_TUPLE)
        return vm_err(m, FS_ERR_FORMAT, "OrderedDict of %s, not a list of (key, value) pairs",
                      kind_name(items));
    size_t n = nargs(items);
    node *d = NULL;
    FS_TRY(new_node(m, FS_PV_DICT, &d));
    d->height = 1;
    FS_TRY(dict_reserve(m, d, n));
    for (size_t i = 0; i < n; i++) {
        node *pair = arg(items, i);
        if ((pair->pv.kind != FS_PV_LIST && pair->pv.kind != FS_PV_TUPLE) || nargs(pair) != 2)
            return vm_err(m, FS_ERR_FORMAT, "OrderedDict item %zu is %s, not a (key, value) pair",
                          i, kind_name(pair));
        FS_TRY(dict_add(m, d, arg(pair, 0), arg(pair, 1)));
    }
    *out = d;
    return FS_OK;
}

static fs_status call_global(vm *m, const node *g, const node *args, node **out)
{
    switch (g->pv.u.global.id) {
    case FS_GLOBAL_SET:
        if (nargs(args) == 1) {
            node *l = arg(args, 0);
            if (l->pv.kind != FS_PV_LIST && l->pv.kind != FS_PV_TUPLE)
                return vm_err(m, FS_ERR_FORMAT, "set() of %s", kind_name(l));
            return make_seq(m, FS_PV_SET, (node **)l->pv.u.seq.items, l->pv.u.seq.n, out);
        }
        return instantiate(m, g, args, out);
    case FS_GLOBAL_CODECS_ENCODE: {
        const uint8_t *b = (const uint8_t *)"";
        size_t len = 0;
        if (nargs(args) == 2) {
            node *s = arg(args, 0), *enc = arg(args, 1);
            if (s->pv.kind != FS_PV_STR || !(is_str(enc, "latin1") || is_str(enc, "latin-1")))
                return vm_err(m, FS_ERR_UNSUPPORTED, "_codecs.encode supports (str, 'latin1') only");
            FS_TRY(latin1_bytes(m, s, &b, &len));
        } else if (nargs(args) != 0) {
            return vm_err(m, FS_ERR_FORMAT, "bytes() or _codecs.encode with %zu arguments",
                          nargs(args));
        }
        FS_TRY(new_node(m, FS_PV_BYTES, out));
        (*out)->pv.u.s.ptr = (const char *)b;
        (*out)->pv.u.s.len = len;
        return FS_OK;
    }
    case FS_GLOBAL_REBUILD_TENSOR_V2:
        return reconstruct_tensor(m, args, 0, out);
    case FS_GLOBAL_REBUILD_TENSOR:
        return reconstruct_tensor(m, args, 1, out);
    case FS_GLOBAL_ORDERED_DICT:
        /* Python 2's OrderedDict pickles as OrderedDict([[key, value], ...]) */
        if (nargs(args) == 1)
            return ordered_dict_of_pairs(m, arg(args, 0), out);
        return instantiate(m, g, args, out);
    case FS_GLOBAL_REBUILD_PARAMETER:
        /* (tensor, requires_grad, hooks[, state]): the tensor is all we keep. */
        if ((nargs(args) != 3 && nargs(args) != 4) || arg(args, 0)->pv.kind != FS_PV_TENSOR)
            return vm_err(m, FS_ERR_FORMAT, "_rebuild_parameter takes a tensor and 2 or 3 more");
        *out = arg(args, 0);
        return FS_OK;
    case FS_GLOBAL_LOAD_FROM_BYTES:
        return load_from_bytes(m, args, out);
    case FS_GLOBAL_PERSISTENT_OBJ:
        return persistent_obj(m, args, out);
    case FS_GLOBAL_NP_RECONSTRUCT: {
        /* (ndarray, (0,), b'b'): an empty array that BUILD fills. */
        if (nargs(args) != 3 || arg(args, 0)->pv.kind != FS_PV_GLOBAL ||
            arg(args, 0)->pv.u.global.id != FS_GLOBAL_NP_NDARRAY)
            return vm_err(m, FS_ERR_UNSUPPORTED, "numpy _reconstruct of anything but ndarray");
        FS_TRY(new_node(m, FS_PV_NDARRAY, out));
        (*out)->pv.u.ndarray.ndim = 1;
        (*out)->height = 1;
        return FS_OK;
    }
    case FS_GLOBAL_NP_DTYPE:
        return make_np_dtype(m, args, out);
    case FS_GLOBAL_NP_SCALAR:
        return np_scalar(m, args, out);
    case FS_GLOBAL_STORAGE_TYPE:
    case FS_GLOBAL_NP_NDARRAY:
        return vm_err(m, FS_ERR_UNSUPPORTED, "calling %s is not supported",
                      global_name(g->pv.u.global.id));
    default:
        return instantiate(m, g, args, out);
    }
}

/* numpy's ndarray.__setstate__((version, shape, dtype, is_fortran, raw)). */
static fs_status build_ndarray(vm *m, node *a, const node *state)
{
    size_t n = state->pv.kind == FS_PV_TUPLE ? nargs(state) : 0;
    if (n != 4 && n != 5)
        return vm_err(m, FS_ERR_FORMAT, "numpy array state is not a 4- or 5-tuple");
    size_t k = n - 4;
    node *shape = arg(state, k), *dt = arg(state, k + 1);
    int64_t fortran;
    if (shape->pv.kind != FS_PV_TUPLE || dt->pv.kind != FS_PV_NPDTYPE ||
        !as_int(arg(state, k + 2), &fortran))
        return vm_err(m, FS_ERR_FORMAT, "numpy array state has bad shape, dtype or order");
    if (arg(state, k + 3)->pv.kind == FS_PV_LIST)
        return vm_err(m, FS_ERR_UNSUPPORTED, "numpy object arrays are not supported");
    if (nargs(shape) > FS_PICKLE_MAX_DIMS)
        return vm_err(m, FS_ERR_LIMIT, "numpy array has %zu dimensions (at most %d)",
                      nargs(shape), FS_PICKLE_MAX_DIMS);
    fs_dtype t = dt->pv.u.npdtype.dtype;
    if (dt->pv.u.npdtype.big_endian)
        return vm_err(m, FS_ERR_UNSUPPORTED, "big-endian numpy arrays are not supported");
    const uint8_t *raw = NULL;
    size_t len = 0;
    FS_TRY(bytes_of(m, arg(state, k + 3), "numpy array data", &raw, &len));
    uint64_t nbytes = fs_dtype_size(t);
    for (size_t d = 0; d < nargs(shape); d++) {
        int64_t v;
        if (!as_int(arg(shape, d), &v) || v < 0)
            return vm_err(m, FS_ERR_FORMAT, "numpy array dimension %zu is bad", d);
        if (v && nbytes > UINT64_MAX / (uint64_t)v)
            return vm_err(m, FS_ERR_FORMAT, "numpy array size overflows");
        nbytes *= (uint64_t)v;
        a->pv.u.ndarray.shape[d] = v;
    }
    if (nbytes != len)
        return vm_err(m, FS_ERR_FORMAT, "numpy array needs %llu bytes, its data has %zu",
                      (unsigned long long)nbytes, len);
    a->pv.u.ndarray.dtype = t;
    a->pv.u.ndarray.ndim = (int)nargs(shape);
    a->pv.u.ndarray.fortran = fortran != 0;
    a->pv.u.ndarray.data = raw;
    a->pv.u.ndarray.nbytes = len;
    return FS_OK;
}

static fs_status op_build(vm *m)
{
    node *state = NULL, *obj = NULL;
    FS_TRY(pop(m, &state));
    FS_TRY(peek(m, &obj));
    fs_pv_kind k = obj->pv.kind;
    if (k == FS_PV_DICT || k == FS_PV_OBJECT || k == FS_PV_NPDTYPE || k == FS_PV_NDARRAY)
        FS_TRY(check_mutable(m, obj, k));
    switch (k) {
    case FS_PV_DICT: /* e.g. an OrderedDict's {'_metadata': ...}: not needed */
        if (state->pv.kind != FS_PV_DICT)
            break;
        return FS_OK;
    case FS_PV_OBJECT:
        if (state->pv.kind != FS_PV_DICT || obj->pv.u.object.state->kind != FS_PV_NONE)
            break;
        FS_TRY(adopt(m, obj, state));
        obj->pv.u.object.state = &state->pv;
        return FS_OK;
    case FS_PV_NPDTYPE: {
        /* (version, byteorder, ...) */
        node *bo = state->pv.kind == FS_PV_TUPLE && nargs(state) >= 2 ? arg(state, 1) : NULL;
        if (obj->built || !bo || bo->pv.kind != FS_PV_STR || bo->pv.u.s.len != 1 ||
            !strchr("<>|=", bo->pv.u.s.ptr[0]))
            break;
        obj->built = 1;
        obj->pv.u.npdtype.big_endian =
            bo->pv.u.s.ptr[0] == '>' && fs_dtype_size(obj->pv.u.npdtype.dtype) > 1;
        return FS_OK;
    }
    case FS_PV_NDARRAY:
        if (obj->built)
            break;
        obj->built = 1;
        return build_ndarray(m, obj, state);
    default:
        break;
    }
    return vm_err(m, FS_ERR_FORMAT, "BUILD of %s with %s as state", kind_name(obj),
                  kind_name(state));
}

/* ('storage', StorageType, key, location, numel[, view_metadata]) */
static fs_status op_binpersid(vm *m)
{
    node *pid = NULL;
    FS_TRY(pop(m, &pid));
    size_t n = pid->pv.kind == FS_PV_TUPLE ? nargs(pid) : 0;
    if (n >= 1 && is_str(arg(pid, 0), "module"))
        return vm_err(m, FS_ERR_UNSUPPORTED,
                      "whole-module torch.save files ('module' persistent ids) are not supported");
    if ((n != 5 && n != 6) || !is_str(arg(pid, 0), "storage"))
        return vm_err(m, FS_ERR_FORMAT,
                      "persistent id is not ('storage', type, key, location, numel[, view])");
    node *type = arg(pid, 1), *key = arg(pid, 2), *loc = arg(pid, 3);
    int64_t numel;
    if (type->pv.kind != FS_PV_GLOBAL || type->pv.u.global.id != FS_GLOBAL_STORAGE_TYPE ||
        key->pv.kind != FS_PV_STR || loc->pv.kind != FS_PV_STR || !as_int(arg(pid, 4), &numel) ||
        numel < 0)
        return vm_err(m, FS_ERR_FORMAT, "persistent id has a bad storage type, key or size");
    if (n == 6 && arg(pid, 5)->pv.kind != FS_PV_NONE)
        return vm_err(m, FS_ERR_UNSUPPORTED, "storage views in persistent ids are not supported");
    fs_dtype t = type->pv.u.global.dtype;
    uint64_t es = fs_dtype_size(t);
    if ((uint64_t)numel > m->p->input_size / es)
        return vm_err(m, FS_ERR_FORMAT, "storage of %lld %s elements is larger than the input",
                      (long long)numel, fs_dtype_name(t));
    fs_pickle *p = m->p;
    if (p->nstorages == p->storages_cap) {
        size_t ncap = p->storages_cap ? p->storages_cap * 2 : 16;
        void *mem;
        FS_TRY(vm_alloc(m, ncap * sizeof(node *), &mem));
        if (p->nstorages)
            memcpy(mem, p->storages, p->nstorages * sizeof(node *));
        p->storages = mem;
        p->storages_cap = ncap;
    }
    node *st = NULL;
    FS_TRY(new_node(m, FS_PV_STORAGE, &st));
    st->pv.u.storage.dtype = t;
    st->pv.u.storage.numel = (uint64_t)numel;
    FS_TRY(copy_name(m, key, "storage key", &st->pv.u.storage.key));
    p->storages[p->nstorages++] = st;
    return push(m, st);
}

/* ------------------------------------------------------------------------ */
/* The opcode loop */

static fs_status memo_put(vm *m, size_t idx, node *v)
{
    /* Python numbers memo entries consecutively, so an index is always below
     * the offset of the opcode that stores it; this bounds the memo array. */
    if (idx >= 256 && idx > m->op)
        return vm_err(m, FS_ERR_FORMAT, "memo index %zu out of range", idx);
    if (idx >= m->memo_cap) {
        fs_status s = grow_array(m->p, (void **)&m->memo, &m->memo_cap, sizeof *m->memo, idx + 1,
                                 SIZE_MAX / sizeof *m->memo);
        if (s != FS_OK)
            return vm_nomem(m, s);
    }
    if (!m->memo[idx])
        m->memo_count++;
    m->memo[idx] = v;
    return FS_OK;
}

static fs_status memo_get(vm *m, size_t idx)
{
    if (idx >= m->memo_cap || !m->memo[idx])
        return vm_err(m, FS_ERR_FORMAT, "memo index %zu is not set", idx);
    return push(m, m->memo[idx]);
}

/* Pops the items above the top MARK and adds them to the container below it. */
static fs_status fill_from_mark(vm *m)
{
    uint8_t op = m->buf[m->op];
    size_t mark = 0;
    FS_TRY(pop_mark(m, &mark));
    if (mark <= fence(m)) /* the target must sit between the two marks */
        return underflow(m);
    node *target = m->stack[mark - 1], **items = m->stack + mark;
    size_t n = m->sp - mark;
    if (op == 'u') {
        FS_TRY(check_mutable(m, target, FS_PV_DICT));
        if (n % 2)
            return vm_err(m, FS_ERR_FORMAT, "SETITEMS with an odd number of items");
        FS_TRY(dict_reserve(m, target, n / 2));
        for (size_t i = 0; i < n; i += 2)
            FS_TRY(dict_add(m, target, items[i], items[i + 1]));
    } else {
        FS_TRY(check_mutable(m, target, op == 'e' ? FS_PV_LIST : FS_PV_SET));
        FS_TRY(seq_reserve(m, target, n));
        for (size_t i = 0; i < n; i++)
            FS_TRY(seq_add(m, target, items[i]));
    }
    m->sp = mark;
    return FS_OK;
}

static fs_status make_tuple(vm *m, size_t n)
{
    if (m->sp - fence(m) < n)
        return underflow(m);
    node *t = NULL;
    FS_TRY(make_seq(m, FS_PV_TUPLE, n ? m->stack + m->sp - n : NULL, n, &t));
    m->sp -= n;
    return push(m, t);
}

static fs_status read_line(vm *m, const uint8_t **s, size_t *n)
{
    const uint8_t *start = m->buf + m->pos;
    const uint8_t *nl = memchr(start, '\n', m->len - m->pos);
    if (!nl)
        return vm_err(m, FS_ERR_FORMAT, "truncated GLOBAL");
    *s = start;
    *n = (size_t)(nl - start);
    m->pos += *n + 1;
    return FS_OK;
}

/* Lengths from the file are checked against what is left before use. */
static fs_status sized(vm *m, uint64_t n, const uint8_t **out, size_t *len)
{
    if (n > m->len - m->pos)
        return vm_err(m, FS_ERR_FORMAT, "%s of %llu bytes runs past the end (%zu left)",
                      opcode_name(m->buf[m->op]), (unsigned long long)n, m->len - m->pos);
    *len = (size_t)n;
    return take(m, *len, out);
}

static fs_status step(vm *m, int *stop)
{
    const uint8_t *b = NULL;
    size_t n = 0;
    node *x = NULL, *y = NULL, *z = NULL;
    uint8_t op = m->buf[m->pos++];
    switch (op) {
    case 0x80: /* PROTO */
        FS_TRY(take(m, 1, &b));
        if (b[0] < 2 || b[0] > 5)
            return vm_err(m, FS_ERR_UNSUPPORTED, "pickle protocol %u (supported: 2 to 5)", b[0]);
        return FS_OK;
    case 0x95: /* FRAME: framing only groups opcodes; the bytes are contiguous */
        FS_TRY(take(m, 8, &b));
        if (le(b, 8) > m->len - m->pos)
            return vm_err(m, FS_ERR_FORMAT, "FRAME of %llu bytes runs past the end",
                          (unsigned long long)le(b, 8));
        return FS_OK;
    case '.': /* STOP */
        *stop = 1;
        return FS_OK;
    case '(': /* MARK */
        if (m->nmarks == m->marks_cap) {
            fs_status s = grow_array(m->p, (void **)&m->marks, &m->marks_cap, sizeof *m->marks,
                                     m->nmarks + 1, MAX_MARKS);
            if (s == FS_ERR_LIMIT && m->nmarks + 1 > MAX_MARKS)
                return vm_err(m, s, "more than %zu nested MARKs", MAX_MARKS);
            if (s != FS_OK)
                return vm_nomem(m, s);
        }
        m->marks[m->nmarks++] = m->sp;
        return FS_OK;
    case '0': /* POP: an empty MARK on top is popped instead, as Python does */
        if (m->nmarks && m->marks[m->nmarks - 1] == m->sp) {
            m->nmarks--;
            return FS_OK;
        }
        return pop(m, &x);
    case '1': /* POP_MARK */
        FS_TRY(pop_mark(m, &n));
        m->sp = n;
        return FS_OK;
    case '2': /* DUP */
        FS_TRY(peek(m, &x));
        return push(m, x);
    case 'N': return push_singleton(m, FS_PV_NONE, 0);
    case 0x88: return push_singleton(m, FS_PV_BOOL, 1);
    case 0x89: return push_singleton(m, FS_PV_BOOL, 0);
    case 'J': /* BININT */
        FS_TRY(take(m, 4, &b));
        return push_int(m, (int32_t)(uint32_t)le(b, 4));
    case 'K': /* BININT1 */
        FS_TRY(take(m, 1, &b));
        return push_int(m, b[0]);
    case 'M': /* BININT2 */
        FS_TRY(take(m, 2, &b));
        return push_int(m, (int64_t)le(b, 2));
    case 0x8a: /* LONG1 */
        FS_TRY(take(m, 1, &b));
        FS_TRY(sized(m, b[0], &b, &n));
        return push_long(m, b, n);
    case 0x8b: { /* LONG4: a signed length */
        FS_TRY(take(m, 4, &b));
        int32_t len = (int32_t)(uint32_t)le(b, 4);
        if (len < 0)
            return vm_err(m, FS_ERR_FORMAT, "LONG4 with a negative length");
        FS_TRY(sized(m, (uint64_t)len, &b, &n));
        return push_long(m, b, n);
    }
    case 'G': { /* BINFLOAT: big-endian */
        FS_TRY(take(m, 8, &b));
        uint64_t u = 0;
        for (int i = 0; i < 8; i++)
            u = u << 8 | b[i];
        FS_TRY(new_node(m, FS_PV_FLOAT, &x));
        memcpy(&x->pv.u.f, &u, 8);
        return push(m, x);
    }
    case 0x8c: /* SHORT_BINUNICODE */
        FS_TRY(take(m, 1, &b));
        FS_TRY(sized(m, b[0], &b, &n));
        return push_str(m, b, n);
    case 'X': /* BINUNICODE */
        FS_TRY(take(m, 4, &b));
        FS_TRY(sized(m, le(b, 4), &b, &n));
        return push_str(m, b, n);
    case 0x8d: /* BINUNICODE8 */
        FS_TRY(take(m, 8, &b));
        FS_TRY(sized(m, le(b, 8), &b, &n));
        return push_str(m, b, n);
    case 'U': /* SHORT_BINSTRING: a Python 2 str, read as text like torch.load does */
        FS_TRY(take(m, 1, &b));
        FS_TRY(sized(m, b[0], &b, &n));
        return push_str(m, b, n);
    case 'T': { /* BINSTRING: a signed length */
        FS_TRY(take(m, 4, &b));
        int32_t len = (int32_t)(uint32_t)le(b, 4);
        if (len < 0)
            return vm_err(m, FS_ERR_FORMAT, "BINSTRING with a negative length");
        FS_TRY(sized(m, (uint64_t)len, &b, &n));
        return push_str(m, b, n);
    }
    case 'C': /* SHORT_BINBYTES */
        FS_TRY(take(m, 1, &b));
        FS_TRY(sized(m, b[0], &b, &n));
        return push_bytes(m, b, n);
    case 'B': /* BINBYTES */
        FS_TRY(take(m, 4, &b));
        FS_TRY(sized(m, le(b, 4), &b, &n));
        return push_bytes(m, b, n);
    case 0x8e: /* BINBYTES8 */
        FS_TRY(take(m, 8, &b));
        FS_TRY(sized(m, le(b, 8), &b, &n));
        return push_bytes(m, b, n);
    case '}': return make_container(m, FS_PV_DICT);
    case ']': return make_container(m, FS_PV_LIST);
    case ')': return make_container(m, FS_PV_TUPLE);
    case 0x8f: return make_container(m, FS_PV_SET);
    case 't': /* TUPLE */
        FS_TRY(pop_mark(m, &n));
        return make_tuple(m, m->sp - n);
    case 0x85: return make_tuple(m, 1);
    case 0x86: return make_tuple(m, 2);
    case 0x87: return make_tuple(m, 3);
    case 'a': /* APPEND */
        FS_TRY(pop(m, &y));
        FS_TRY(peek(m, &x));
        FS_TRY(check_mutable(m, x, FS_PV_LIST));
        FS_TRY(seq_reserve(m, x, 1));
        return seq_add(m, x, y);
    case 's': /* SETITEM */
        FS_TRY(pop(m, &z));
        FS_TRY(pop(m, &y));
        FS_TRY(peek(m, &x));
        FS_TRY(check_mutable(m, x, FS_PV_DICT));
        FS_TRY(dict_reserve(m, x, 1));
        return dict_add(m, x, y, z);
    case 'e': case 'u': case 0x90: /* APPENDS, SETITEMS, ADDITEMS */
        return fill_from_mark(m);
    case 'q': /* BINPUT */
        FS_TRY(take(m, 1, &b));
        FS_TRY(peek(m, &x));
        return memo_put(m, b[0], x);
    case 'r': /* LONG_BINPUT */
        FS_TRY(take(m, 4, &b));
        FS_TRY(peek(m, &x));
        return memo_put(m, (size_t)le(b, 4), x);
    case 0x94: /* MEMOIZE */
        FS_TRY(peek(m, &x));
        return memo_put(m, m->memo_count, x);
    case 'h': /* BINGET */
        FS_TRY(take(m, 1, &b));
        return memo_get(m, b[0]);
    case 'j': /* LONG_BINGET */
        FS_TRY(take(m, 4, &b));
        return memo_get(m, (size_t)le(b, 4));
    case 'c': { /* GLOBAL "module\nname\n" */
        const uint8_t *mod = NULL, *name = NULL;
        size_t mod_len = 0, name_len = 0;
        FS_TRY(read_line(m, &mod, &mod_len));
        FS_TRY(read_line(m, &name, &name_len));
        return push_global(m, mod, mod_len, name, name_len);
    }
    case 0x93: /* STACK_GLOBAL */
        FS_TRY(pop(m, &y));
        FS_TRY(pop(m, &x));
        if (x->pv.kind != FS_PV_STR || y->pv.kind != FS_PV_STR)
            return vm_err(m, FS_ERR_FORMAT, "STACK_GLOBAL needs two strings");
        return push_global(m, (const uint8_t *)x->pv.u.s.ptr, x->pv.u.s.len,
                           (const uint8_t *)y->pv.u.s.ptr, y->pv.u.s.len);
    case 'R': case 0x81: /* REDUCE, NEWOBJ */
        FS_TRY(pop(m, &y));
        FS_TRY(pop(m, &x));
        if (x->pv.kind != FS_PV_GLOBAL)
            return vm_err(m, FS_ERR_FORMAT, "%s of %s, not of a whitelisted global",
                          opcode_name(op), kind_name(x));
        if (y->pv.kind != FS_PV_TUPLE)
            return vm_err(m, FS_ERR_FORMAT, "%s arguments are %s, not a tuple",
                          opcode_name(op), kind_name(y));
        FS_TRY(op == 'R' ? call_global(m, x, y, &z) : instantiate(m, x, y, &z));
        return push(m, z);
    case 'b': return op_build(m);
    case 'Q': return op_binpersid(m);
    default: {
        const char *name = opcode_name(op);
        if (op >= 0x20 && op < 0x7f)
            return vm_err(m, FS_ERR_UNSUPPORTED, "unsupported pickle opcode 0x%02x ('%c'%s%s)",
                          op, op, name ? ", " : "", name ? name : "");
        return vm_err(m, FS_ERR_UNSUPPORTED, "unsupported pickle opcode 0x%02x%s%s%s", op,
                      name ? " (" : "", name ? name : "", name ? ")" : "");
    }
    }
}

fs_status fs_pickle_load(fs_pickle *p, const uint8_t *buf, size_t len, size_t *consumed,
                         fs_pv **out)
{
    if (out)
        *out = NULL;
    if (consumed)
        *consumed = 0;
    if (!p || !out || (!buf && len))
        return fs_error(FS_ERR_ARG, "fs_pickle_load: bad arguments");
    if (!buf)
        buf = (const uint8_t *)"";
    if (!p->origin)
        fs_pickle_set_origin(p, buf, len);
    vm m = {.p = p, .buf = buf, .len = len};
    const uint8_t *saved_buf = p->cur_buf;
    size_t saved_len = p->cur_len;
    p->cur_buf = buf;
    p->cur_len = len;
    fs_status s = FS_OK;
    if (!singleton(p, FS_PV_NONE, 0)) /* objects point at it before BUILD */
        s = vm_nomem(&m, FS_ERR_LIMIT);
    int stop = 0;
    while (s == FS_OK && !stop) {
        m.op = m.pos;
        if (m.pos == m.len)
            s = vm_err(&m, FS_ERR_FORMAT, "pickle ends without STOP");
        else
            s = step(&m, &stop);
    }
    node *result = NULL;
    if (s == FS_OK)
        s = pop(&m, &result);
    release_array(p, m.stack, m.stack_cap, sizeof *m.stack);
    release_array(p, m.marks, m.marks_cap, sizeof *m.marks);
    release_array(p, m.memo, m.memo_cap, sizeof *m.memo);
    p->cur_buf = saved_buf;
    p->cur_len = saved_len;
    if (s != FS_OK)
        return s;
    *out = &result->pv;
    if (consumed)
        *consumed = m.pos;
    return FS_OK;
}

/* ------------------------------------------------------------------------ */
/* Context and helpers */

fs_status fs_pickle_init(fs_pickle **out, const char *label, size_t input_size)
{
    if (!out)
        return fs_error(FS_ERR_ARG, "fs_pickle_init: out is NULL");
    *out = NULL;
    fs_pickle *p = calloc(1, sizeof *p);
    if (!label)
        label = "pickle";
    char *l = malloc(strlen(label) + 1);
    if (!p || !l) {
        free(p);
        free(l);
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", label);
    }
    strcpy(l, label);
    p->label = l;
    p->input_size = input_size;
    p->budget = input_size > (SIZE_MAX - BUDGET_BASE) / BUDGET_PER_INPUT_BYTE
                    ? SIZE_MAX
                    : BUDGET_BASE + BUDGET_PER_INPUT_BYTE * input_size;
    p->work_budget = input_size > (SIZE_MAX - WORK_BASE) / WORK_PER_INPUT_BYTE
                         ? SIZE_MAX
                         : WORK_BASE + WORK_PER_INPUT_BYTE * input_size;
    *out = p;
    return FS_OK;
}

void fs_pickle_free(fs_pickle *p)
{
    if (!p)
        return;
    for (arena_chunk *c = p->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(p->label);
    free(p);
}

size_t fs_pickle_storage_count(const fs_pickle *p) { return p ? p->nstorages : 0; }

fs_pv *fs_pickle_storage_at(const fs_pickle *p, size_t i)
{
    return p && i < p->nstorages ? &p->storages[i]->pv : NULL;
}

void *fs_pickle_alloc(fs_pickle *p, size_t n)
{
    if (!p)
        return NULL;
    void *mem;
    fs_status s = arena_alloc(p, n, &mem);
    if (s == FS_ERR_NOMEM)
        fs_error(s, "%s: out of memory", p->label);
    else if (s != FS_OK)
        fs_error(s, "%s: the reader's memory budget of %zu bytes is exhausted", p->label,
                 p->budget);
    return mem;
}

const char *fs_pickle_label(const fs_pickle *p) { return p ? p->label : "pickle"; }

void fs_pickle_set_origin(fs_pickle *p, const uint8_t *buf, size_t len)
{
    if (p && !p->origin && buf) {
        p->origin = buf;
        p->origin_len = len;
    }
}

int fs_pv_is_str(const fs_pv *v, const char *s)
{
    return v && v->kind == FS_PV_STR && strlen(s) == v->u.s.len &&
           memcmp(v->u.s.ptr, s, v->u.s.len) == 0;
}

/* The last match, as a dict that saw the same key twice keeps the last value. */
const fs_pv *fs_pv_dict_get(const fs_pv *v, const char *key)
{
    if (!v || v->kind != FS_PV_DICT)
        return NULL;
    for (size_t i = v->u.dict.n; i-- > 0;)
        if (fs_pv_is_str(v->u.dict.keys[i], key))
            return v->u.dict.vals[i];
    return NULL;
}

void fs_pv_str_copy(const fs_pv *v, char *buf, size_t cap)
{
    if (!cap)
        return;
    size_t n = 0;
    if (v && v->kind == FS_PV_STR) {
        n = v->u.s.len < cap - 1 ? v->u.s.len : cap - 1;
        memcpy(buf, v->u.s.ptr, n);
    }
    buf[n] = '\0';
}

const char *fs_pv_kind_name(fs_pv_kind k)
{
    switch (k) {
    case FS_PV_NONE: return "None";
    case FS_PV_BOOL: return "bool";
    case FS_PV_INT: return "int";
    case FS_PV_BIGINT: return "big int";
    case FS_PV_FLOAT: return "float";
    case FS_PV_STR: return "str";
    case FS_PV_BYTES: return "bytes";
    case FS_PV_TUPLE: return "tuple";
    case FS_PV_LIST: return "list";
    case FS_PV_SET: return "set";
    case FS_PV_DICT: return "dict";
    case FS_PV_GLOBAL: return "global";
    case FS_PV_STORAGE: return "storage";
    case FS_PV_TENSOR: return "tensor";
    case FS_PV_NDARRAY: return "ndarray";
    case FS_PV_NPDTYPE: return "numpy dtype";
    case FS_PV_OBJECT: return "object";
    }
    return "unknown";
}
