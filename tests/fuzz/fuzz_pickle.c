/* libFuzzer harness for the pickle reader: fs_pickle_load on arbitrary bytes.
 * Built as fuzz_torch_legacy too (FUZZ_TORCH_LEGACY), where the bytes are a
 * legacy torch.save stream for fs_torch_legacy_load.
 *
 * Beyond "no crash, no leak", the harness walks the result and reads every
 * byte a consumer may read (string ends, storage and array data, the last
 * element of each tensor view), so a pointer or bound the reader got wrong
 * shows up as an ASan report, and it traps on broken invariants: an error
 * without a one-line message naming the input, a storage left unbound by the
 * legacy loader, an array whose size disagrees with its shape. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../weights_tools/pickle.h"
#include "../../weights_tools/torch_load.h"

#define LABEL "fuzz"
/* The graph may share nodes (the memo), so a walk is cut after this many visits. */
#define MAX_VISITS 200000

static volatile uint8_t sink;

static void touch(const void *p, size_t n)
{
    if (n) {
        sink ^= ((const volatile uint8_t *)p)[0];
        sink ^= ((const volatile uint8_t *)p)[n - 1];
    }
}

static void require(int ok)
{
    if (!ok)
        __builtin_trap();
}

static void walk(const fs_pv *v, int depth, long *visits)
{
    require(v != NULL && depth <= 1100);
    if (++*visits > MAX_VISITS)
        return;
    switch (v->kind) {
    case FS_PV_STR:
    case FS_PV_BYTES:
    case FS_PV_BIGINT: touch(v->u.s.ptr, v->u.s.len); break;
    case FS_PV_TUPLE:
    case FS_PV_LIST:
    case FS_PV_SET:
        for (size_t i = 0; i < v->u.seq.n; i++)
            walk(v->u.seq.items[i], depth + 1, visits);
        break;
    case FS_PV_DICT:
        for (size_t i = 0; i < v->u.dict.n; i++) {
            walk(v->u.dict.keys[i], depth + 1, visits);
            walk(v->u.dict.vals[i], depth + 1, visits);
        }
        break;
    case FS_PV_STORAGE: {
        touch(v->u.storage.key, strlen(v->u.storage.key) + 1);
        size_t es = fs_dtype_size(v->u.storage.dtype);
        require(es != 0);
        if (v->u.storage.data)
            touch(v->u.storage.data, (size_t)v->u.storage.numel * es);
        break;
    }
    case FS_PV_TENSOR: {
        const fs_pv *st = v->u.tensor.storage;
        require(st && st->kind == FS_PV_STORAGE);
        require(v->u.tensor.ndim >= 0 && v->u.tensor.ndim <= FS_PICKLE_MAX_DIMS);
        int64_t last = v->u.tensor.offset;
        int empty = 0;
        for (int d = 0; d < v->u.tensor.ndim; d++) {
            require(v->u.tensor.shape[d] >= 0 && v->u.tensor.stride[d] >= 0);
            if (v->u.tensor.shape[d] == 0)
                empty = 1;
            else
                last += (v->u.tensor.shape[d] - 1) * v->u.tensor.stride[d];
        }
        require(empty ? (uint64_t)v->u.tensor.offset <= st->u.storage.numel
                      : (uint64_t)last < st->u.storage.numel);
        size_t es = fs_dtype_size(st->u.storage.dtype);
        if (st->u.storage.data && !empty)
            touch(st->u.storage.data + (size_t)last * es, es);
        walk(st, depth + 1, visits);
        break;
    }
    case FS_PV_NDARRAY: {
        uint64_t n = fs_dtype_size(v->u.ndarray.dtype);
        require(v->u.ndarray.ndim >= 0 && v->u.ndarray.ndim <= FS_PICKLE_MAX_DIMS);
        for (int d = 0; d < v->u.ndarray.ndim; d++)
            n *= (uint64_t)v->u.ndarray.shape[d];
        if (v->u.ndarray.dtype != FS_DTYPE_INVALID)
            require(n == v->u.ndarray.nbytes);
        touch(v->u.ndarray.data, v->u.ndarray.nbytes);
        break;
    }
    case FS_PV_OBJECT:
        touch(v->u.object.class_name, strlen(v->u.object.class_name) + 1);
        require(v->u.object.state->kind == FS_PV_DICT || v->u.object.state->kind == FS_PV_NONE);
        walk(v->u.object.state, depth + 1, visits);
        break;
    default: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fs_pickle *p;
    if (fs_pickle_init(&p, LABEL, size) != FS_OK)
        return 0;
    fs_pv *root = NULL;
    size_t used = 0;
#ifdef FUZZ_TORCH_LEGACY
    fs_status s = fs_torch_legacy_load(p, data, size, &used, &root);
#else
    fs_status s = fs_pickle_load(p, data, size, &used, &root);
#endif
    if (s == FS_OK) {
        require(root != NULL && used <= size);
        long visits = 0;
        walk(root, 0, &visits);
#ifdef FUZZ_TORCH_LEGACY
        for (size_t i = 0; i < fs_pickle_storage_count(p); i++)
            require(fs_pickle_storage_at(p, i)->u.storage.data != NULL);
#endif
    } else {
        const char *msg = fs_error_message();
        require(root == NULL && used == 0);
        require(strncmp(msg, LABEL ": ", sizeof LABEL + 1) == 0 && !strchr(msg, '\n'));
    }
    fs_pickle_free(p);
    return 0;
}
