/* A whitelisting pickle reader: untrusted .pkl/.pt bytes in, a value graph out.
 *
 * Python's pickle format is a small stack machine whose GLOBAL and REDUCE
 * opcodes can call any importable function, so a pickle is a program. This
 * reader interprets only the opcodes that StyleGAN2 checkpoints use (protocols
 * 2 to 5, docs/stylegan2.md §4), plus the byte strings of Python 2 pickles
 * (SHORT_BINSTRING, BINSTRING: decoded as UTF-8 text, as torch.load does), and
 * resolves GLOBAL against a fixed list of
 * names whose meaning it re-implements as data: an OrderedDict becomes a dict,
 * torch._utils._rebuild_tensor_v2 becomes a tensor view node, and so on.
 * Nothing is ever imported or executed. Any other global (os.system,
 * builtins.eval, an unknown class) fails with FS_ERR_FORBIDDEN naming it.
 *
 * Every node lives in an arena owned by the fs_pickle context, whose total size
 * and the stack/memo/nesting depths are capped in proportion to the input size,
 * so a hostile file cannot make the reader allocate much more than it is big.
 * Strings and bytes point into the input buffer where possible (zero copy), so
 * the input must outlive the context.
 *
 * The graph may share nodes (the memo) but has no cycles, and no container
 * is nested more than 1000 deep, so a depth-bounded recursive walk is safe.
 * A crafted dict may list a key twice; fs_pv_dict_get returns the last value,
 * as Python would. Tensor views stay inside their storage and never repeat
 * elements. Storage data may be unaligned. */
#ifndef FS_PICKLE_H
#define FS_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/dtype.h"
#include "../engine/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FS_PICKLE_MAX_DIMS 8

typedef enum {
    FS_PV_NONE,
    FS_PV_BOOL,    /* u.i is 0 or 1 */
    FS_PV_INT,     /* u.i */
    FS_PV_BIGINT,  /* wider than 64 bits: u.s holds the little-endian two's complement bytes */
    FS_PV_FLOAT,   /* u.f */
    FS_PV_STR,     /* u.s: UTF-8 bytes, not NUL-terminated */
    FS_PV_BYTES,   /* u.s */
    FS_PV_TUPLE,   /* u.seq */
    FS_PV_LIST,    /* u.seq */
    FS_PV_SET,     /* u.seq */
    FS_PV_DICT,    /* u.dict, insertion order kept; also OrderedDict, EasyDict */
    FS_PV_GLOBAL,  /* a whitelisted name not yet applied: u.global */
    FS_PV_STORAGE, /* a torch storage: u.storage */
    FS_PV_TENSOR,  /* a torch tensor (strided view of a storage): u.tensor */
    FS_PV_NDARRAY, /* a numpy array: u.ndarray */
    FS_PV_NPDTYPE, /* a numpy dtype: u.npdtype */
    FS_PV_OBJECT,  /* an instance of a whitelisted class: u.object */
} fs_pv_kind;

/* The whitelist. Each entry names what the reader does when the global is
 * called (REDUCE) or instantiated (NEWOBJ); see pickle.c. */
typedef enum {
    FS_GLOBAL_ORDERED_DICT,        /* collections.OrderedDict */
    FS_GLOBAL_SET,                 /* builtins.set, __builtin__.set */
    FS_GLOBAL_CODECS_ENCODE,       /* _codecs.encode(str, 'latin1') -> bytes */
    FS_GLOBAL_REBUILD_TENSOR_V2,   /* torch._utils._rebuild_tensor_v2 */
    FS_GLOBAL_REBUILD_PARAMETER,   /* torch._utils._rebuild_parameter(_with_state) */
    FS_GLOBAL_LOAD_FROM_BYTES,     /* torch.storage._load_from_bytes: nested legacy torch.save */
    FS_GLOBAL_STORAGE_TYPE,        /* torch.FloatStorage etc.; u.global.dtype says which */
    FS_GLOBAL_PERSISTENT_OBJ,      /* torch_utils.persistence._reconstruct_persistent_obj */
    FS_GLOBAL_EASYDICT,            /* dnnlib.util.EasyDict */
    FS_GLOBAL_TF_NETWORK,          /* dnnlib.tflib.network.Network */
    FS_GLOBAL_NP_RECONSTRUCT,      /* numpy.core.multiarray._reconstruct (and numpy._core) */
    FS_GLOBAL_NP_NDARRAY,          /* numpy.ndarray */
    FS_GLOBAL_NP_DTYPE,            /* numpy.dtype */
    FS_GLOBAL_NP_SCALAR,           /* numpy.core.multiarray.scalar -> INT/FLOAT/BOOL */
    FS_GLOBAL_ARGPARSE_NAMESPACE,  /* argparse.Namespace: kept as an OBJECT, never used */
    /* torch._utils._rebuild_tensor(storage, offset, size, stride): PyTorch
     * 0.1-0.3 files (a 2017 Light CNN checkpoint), _rebuild_tensor_v2's first
     * four arguments */
    FS_GLOBAL_REBUILD_TENSOR,
} fs_pickle_global;

typedef struct fs_pv fs_pv;
struct fs_pv {
    fs_pv_kind kind;
    union {
        int64_t i;
        double f;
        struct { const char *ptr; size_t len; } s;
        struct { fs_pv **items; size_t n; } seq;
        struct { fs_pv **keys; fs_pv **vals; size_t n; } dict;
        struct { fs_pickle_global id; fs_dtype dtype; } global;
        struct {
            fs_dtype dtype;
            const char *key;     /* NUL-terminated */
            uint64_t numel;      /* elements, as declared by the persistent id */
            const uint8_t *data; /* numel * dtype size bytes; NULL until bound */
        } storage;
        struct {
            fs_pv *storage;      /* FS_PV_STORAGE */
            int64_t offset;      /* elements */
            int ndim;
            int64_t shape[FS_PICKLE_MAX_DIMS];
            int64_t stride[FS_PICKLE_MAX_DIMS]; /* elements */
        } tensor;
        struct {
            fs_dtype dtype;
            int ndim;
            int64_t shape[FS_PICKLE_MAX_DIMS];
            int fortran;         /* column-major data */
            const uint8_t *data; /* little-endian, nbytes = prod(shape) * size */
            size_t nbytes;
        } ndarray;
        struct { fs_dtype dtype; int big_endian; } npdtype;
        struct {
            const char *class_name; /* NUL-terminated: "Generator", "Network", ... */
            fs_pv *state;           /* DICT (or NONE before BUILD) */
        } object;
    } u;
};

typedef struct fs_pickle fs_pickle;

/* label names the input in error messages (usually the file path).
 * input_size is the size of the whole input file; it sets the memory budget. */
fs_status fs_pickle_init(fs_pickle **out, const char *label, size_t input_size);
void fs_pickle_free(fs_pickle *p);

/* Runs one pickle starting at buf[0] until its STOP opcode. *consumed receives
 * the number of bytes read (the legacy torch format has several pickles back
 * to back). The result and everything it references stay valid until
 * fs_pickle_free. Errors carry the label and the byte offset. */
fs_status fs_pickle_load(fs_pickle *p, const uint8_t *buf, size_t len, size_t *consumed,
                         fs_pv **out);

/* Every FS_PV_STORAGE created from a persistent id, in creation order, so a
 * container (zip archive, legacy stream) can bind its data afterwards. */
size_t fs_pickle_storage_count(const fs_pickle *p);
fs_pv *fs_pickle_storage_at(const fs_pickle *p, size_t i);

/* Allocates n zeroed bytes from the context's arena (counted against its
 * budget); NULL with an error message when the budget is exhausted. */
void *fs_pickle_alloc(fs_pickle *p, size_t n);
const char *fs_pickle_label(const fs_pickle *p);

/* Error offsets count from the origin: the whole input buffer, so that a
 * problem inside data.pkl of a zip or inside a storage blob nested in a .pkl
 * is reported at its file offset. The first call wins (nested containers keep
 * the outermost buffer); without one, the first buffer given to
 * fs_pickle_load becomes the origin. */
void fs_pickle_set_origin(fs_pickle *p, const uint8_t *buf, size_t len);
/* Records "LABEL: offset N: <message>" for a problem at byte `at` and returns s. */
fs_status fs_pickle_error(const fs_pickle *p, fs_status s, const uint8_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Value helpers for the code that walks the graph. */
int fs_pv_is_str(const fs_pv *v, const char *s);
/* Looks up a string key in a DICT; NULL if v is not a dict or has no such key. */
const fs_pv *fs_pv_dict_get(const fs_pv *v, const char *key);
/* Copies a STR into buf as a NUL-terminated string (truncating). */
void fs_pv_str_copy(const fs_pv *v, char *buf, size_t cap);
const char *fs_pv_kind_name(fs_pv_kind k);

#ifdef __cplusplus
}
#endif
#endif
