/* Check suite for the whitelisting pickle reader (weights_tools/pickle.c) and
 * the legacy torch.save stream loader (weights_tools/torch_legacy.c).
 *
 * Real checkpoints (tests/fixtures/stylegan2) are parsed in full and checked
 * against values read with Python's pickle. Hand-made inputs from
 * tests/fixtures/pickle/make_pickles.py cover each opcode and value kind,
 * and a table of malformed inputs pins the status each must fail with.
 * Truncation tests cut valid inputs at (nearly) every offset into buffers of
 * exactly that size, so ASan and valgrind see any read past the end. */
#include "check_util.h"

#include <stdint.h>

#include "../engine/file.h"
#include "../weights_tools/pickle.h"
#include "../weights_tools/torch_load.h"

#define PK FS_FIXTURES "/pickle/"
#define SG FS_FIXTURES "/stylegan2/"

/* ------------------------------------------------------------------------ */
/* Helpers */

typedef struct {
    fs_file_map map;
    fs_pickle *p;
    fs_pv *root;
    size_t used;
} loaded;

static fs_status parse(const uint8_t *buf, size_t len, int legacy, const char *label,
                       fs_pickle **p, fs_pv **root, size_t *used)
{
    fs_status s = fs_pickle_init(p, label, len);
    ck_assert_int_eq(s, FS_OK);
    if (legacy)
        return fs_torch_legacy_load(*p, buf, len, used, root);
    return fs_pickle_load(*p, buf, len, used, root);
}

/* Loads a file that must parse completely. */
static loaded load_ok(const char *path, int legacy)
{
    loaded l;
    memset(&l, 0, sizeof l);
    ck_assert_msg(fs_file_map_open(path, &l.map) == FS_OK, "%s", fs_error_message());
    fs_status s = parse(l.map.data, l.map.size, legacy, path, &l.p, &l.root, &l.used);
    ck_assert_msg(s == FS_OK, "%s: %s", path, fs_error_message());
    ck_assert_uint_eq(l.used, l.map.size);
    return l;
}

static void unload(loaded *l)
{
    fs_pickle_free(l->p);
    fs_file_map_close(&l->map);
}

static const fs_pv *get(const fs_pv *dict, const char *key)
{
    ck_assert_msg(dict && dict->kind == FS_PV_DICT, "looking up '%s' in a %s", key,
                  dict ? fs_pv_kind_name(dict->kind) : "NULL");
    const fs_pv *v = fs_pv_dict_get(dict, key);
    ck_assert_msg(v, "key '%s' missing", key);
    return v;
}

static const fs_pv *state_of(const fs_pv *obj, const char *class_name)
{
    ck_assert_int_eq(obj->kind, FS_PV_OBJECT);
    ck_assert_str_eq(obj->u.object.class_name, class_name);
    ck_assert_int_eq(obj->u.object.state->kind, FS_PV_DICT);
    return obj->u.object.state;
}

/* The ADA module tree: state._modules[name]. */
static const fs_pv *submodule(const fs_pv *obj, const char *name, const char *class_name)
{
    const fs_pv *m = get(get(obj->u.object.state, "_modules"), name);
    state_of(m, class_name);
    return m;
}

static const fs_pv *item(const fs_pv *seq, size_t i)
{
    ck_assert_msg(seq->kind == FS_PV_TUPLE || seq->kind == FS_PV_LIST || seq->kind == FS_PV_SET,
                  "%s is not a sequence", fs_pv_kind_name(seq->kind));
    ck_assert_uint_lt(i, seq->u.seq.n);
    return seq->u.seq.items[i];
}

static int64_t int_of(const fs_pv *v)
{
    ck_assert_msg(v->kind == FS_PV_INT || v->kind == FS_PV_BOOL, "a %s, not an int",
                  fs_pv_kind_name(v->kind));
    return v->u.i;
}

static double float_of(const fs_pv *v)
{
    ck_assert_msg(v->kind == FS_PV_FLOAT, "a %s, not a float", fs_pv_kind_name(v->kind));
    return v->u.f;
}

static void assert_str(const fs_pv *v, const char *s)
{
    char buf[128];
    fs_pv_str_copy(v, buf, sizeof buf);
    ck_assert_msg(fs_pv_is_str(v, s), "'%s' (a %s), expected '%s'", buf, fs_pv_kind_name(v->kind),
                  s);
}

static void assert_bytes(const fs_pv *v, fs_pv_kind kind, const void *want, size_t n)
{
    ck_assert_int_eq(v->kind, kind);
    ck_assert_uint_eq(v->u.s.len, n);
    ck_assert(n == 0 || memcmp(v->u.s.ptr, want, n) == 0);
}

/* Element i (in storage order) of a float32 tensor's view start. */
static double tensor_f32(const fs_pv *t, int64_t i)
{
    ck_assert_int_eq(t->kind, FS_PV_TENSOR);
    const fs_pv *st = t->u.tensor.storage;
    ck_assert_int_eq(st->u.storage.dtype, FS_DTYPE_F32);
    ck_assert_ptr_nonnull(st->u.storage.data);
    ck_assert_uint_lt((uint64_t)(t->u.tensor.offset + i), st->u.storage.numel);
    return fs_dtype_load(FS_DTYPE_F32, st->u.storage.data, t->u.tensor.offset + i);
}

static void assert_shape(const fs_pv *t, int ndim, const int64_t *shape, const int64_t *stride)
{
    ck_assert_int_eq(t->kind, FS_PV_TENSOR);
    ck_assert_int_eq(t->u.tensor.ndim, ndim);
    for (int d = 0; d < ndim; d++) {
        ck_assert_int_eq(t->u.tensor.shape[d], shape[d]);
        ck_assert_int_eq(t->u.tensor.stride[d], stride[d]);
    }
}

static void assert_all_storages_bound(const fs_pickle *p, size_t want)
{
    ck_assert_uint_eq(fs_pickle_storage_count(p), want);
    for (size_t i = 0; i < want; i++)
        ck_assert_ptr_nonnull(fs_pickle_storage_at(p, i)->u.storage.data);
}

/* A malloc'd copy of exactly n bytes, so a read past the end is an error
 * that ASan and valgrind report. */
static uint8_t *exact_copy(const uint8_t *src, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(b);
    if (n)
        memcpy(b, src, n);
    return b;
}

/* ------------------------------------------------------------------------ */
/* Real checkpoints */

/* tiny/network-snapshot.pkl and its re-saves at other protocols: values read
 * from the file with Python's pickle (stand-in globals) and struct. */
static void check_ada_snapshot(const char *path)
{
    loaded l = load_ok(path, 0);
    const fs_pv *r = l.root;
    static const char *const keys[] = {"training_set_kwargs", "G", "D", "G_ema", "augment_pipe"};
    ck_assert_int_eq(r->kind, FS_PV_DICT);
    ck_assert_uint_eq(r->u.dict.n, 5);
    for (int i = 0; i < 5; i++)
        assert_str(r->u.dict.keys[i], keys[i]);
    ck_assert_int_eq(get(r, "augment_pipe")->kind, FS_PV_NONE);
    const fs_pv *tsk = get(r, "training_set_kwargs");
    ck_assert_int_eq(int_of(get(tsk, "resolution")), 32);
    assert_str(get(tsk, "class_name"), "training.dataset.ImageFolderDataset");
    ck_assert_int_eq(get(tsk, "use_labels")->kind, FS_PV_BOOL);

    const fs_pv *g = get(r, "G_ema");
    const fs_pv *st = state_of(g, "Generator");
    state_of(get(r, "G"), "Generator");
    state_of(get(r, "D"), "Discriminator");
    const fs_pv *kw = get(st, "_init_kwargs");
    ck_assert_int_eq(int_of(get(kw, "img_resolution")), 32);
    ck_assert_int_eq(int_of(get(kw, "z_dim")), 128);
    ck_assert_int_eq(int_of(get(get(kw, "mapping_kwargs"), "num_layers")), 8);
    ck_assert_double_eq(float_of(get(get(kw, "synthesis_kwargs"), "conv_clamp")), 256.0);
    ck_assert_int_eq(get(st, "_non_persistent_buffers_set")->kind, FS_PV_SET);
    ck_assert_int_eq(get(st, "training")->kind, FS_PV_BOOL);
    ck_assert_int_eq(get(st, "training")->u.i, 0);

    const fs_pv *syn = submodule(g, "synthesis", "SynthesisNetwork");
    const fs_pv *b4 = submodule(syn, "b4", "SynthesisBlock");
    const fs_pv *c = get(get(b4->u.object.state, "_parameters"), "const");
    assert_shape(c, 3, (const int64_t[]){64, 4, 4}, (const int64_t[]){16, 4, 1});
    ck_assert_uint_eq(c->u.tensor.storage->u.storage.numel, 1024);
    ck_assert_double_eq(tensor_f32(c, 0), -1.5262027978897095);
    ck_assert_double_eq(tensor_f32(c, 1), -0.751818060874939);
    ck_assert_double_eq(tensor_f32(c, 3), -1.6220264434814453);

    const fs_pv *conv1 = submodule(b4, "conv1", "SynthesisLayer");
    /* a numpy.float64 scalar: sqrt(2) to the last bit */
    ck_assert_double_eq(float_of(get(conv1->u.object.state, "act_gain")), 1.4142135623730951);
    const fs_pv *ns = get(get(conv1->u.object.state, "_parameters"), "noise_strength");
    ck_assert_int_eq(ns->u.tensor.ndim, 0);

    const fs_pv *map = submodule(g, "mapping", "MappingNetwork");
    const fs_pv *w_avg = get(get(map->u.object.state, "_buffers"), "w_avg");
    assert_shape(w_avg, 1, (const int64_t[]){128}, (const int64_t[]){1});
    ck_assert_double_eq(tensor_f32(w_avg, 0), 0.18804079294204712);
    ck_assert_double_eq(tensor_f32(w_avg, 3), 0.26783621311187744);
    assert_all_storages_bound(l.p, 211);
    unload(&l);
}

START_TEST(test_ada_snapshot_p4) { check_ada_snapshot(SG "tiny/network-snapshot.pkl"); }
END_TEST

START_TEST(test_ada_snapshot_other_protocols)
{
    check_ada_snapshot(SG "protocols/tiny-p2.pkl");
    check_ada_snapshot(SG "protocols/tiny-p3.pkl");
    check_ada_snapshot(SG "protocols/tiny-p5.pkl");
}
END_TEST

START_TEST(test_tf_layout)
{
    loaded l = load_ok(SG "tiny-tf/stylegan2-tf-layout.pkl", 0);
    const fs_pv *r = l.root;
    ck_assert_int_eq(r->kind, FS_PV_TUPLE);
    ck_assert_uint_eq(r->u.seq.n, 3);
    static const char *const names[] = {"G", "D", "Gs"};
    for (int i = 0; i < 3; i++) {
        const fs_pv *st = state_of(item(r, (size_t)i), "Network");
        assert_str(get(st, "name"), names[i]);
        ck_assert_int_eq(int_of(get(st, "version")), 4);
    }
    ck_assert_uint_eq(get(item(r, 1)->u.object.state, "components")->u.dict.n, 0);
    const fs_pv *gs = item(r, 2)->u.object.state;
    ck_assert_int_eq(int_of(get(get(gs, "static_kwargs"), "resolution")), 16);
    assert_str(get(gs, "build_func_name"), "Gs_func");

    const fs_pv *mapping = get(get(gs, "components"), "mapping");
    const fs_pv *vars = get(state_of(mapping, "Network"), "variables");
    ck_assert_uint_eq(vars->u.seq.n, 16);
    assert_str(item(item(vars, 0), 0), "Dense0/weight");
    const fs_pv *w = item(item(vars, 0), 1);
    ck_assert_int_eq(w->kind, FS_PV_NDARRAY);
    ck_assert_int_eq(w->u.ndarray.dtype, FS_DTYPE_F32);
    ck_assert_int_eq(w->u.ndarray.ndim, 2);
    ck_assert_int_eq(w->u.ndarray.shape[0], 64);
    ck_assert_int_eq(w->u.ndarray.shape[1], 64);
    ck_assert_int_eq(w->u.ndarray.fortran, 0);
    ck_assert_uint_eq(w->u.ndarray.nbytes, 64 * 64 * 4);
    ck_assert_double_eq(fs_dtype_load(FS_DTYPE_F32, w->u.ndarray.data, 0), -2.174626588821411);

    const fs_pv *syn = get(get(gs, "components"), "synthesis");
    const fs_pv *svars = get(state_of(syn, "Network"), "variables");
    ck_assert_uint_eq(svars->u.seq.n, 43);
    const fs_pv *noise = item(item(svars, 3), 1);
    assert_str(item(item(svars, 3), 0), "4x4/Conv/noise_strength");
    ck_assert_int_eq(noise->u.ndarray.ndim, 0);
    ck_assert_uint_eq(noise->u.ndarray.nbytes, 4);
    ck_assert_double_eq(fs_dtype_load(FS_DTYPE_F32, noise->u.ndarray.data, 0),
                        -0.06567200273275375);
    const fs_pv *cst = item(item(svars, 0), 1);
    ck_assert_int_eq(cst->u.ndarray.ndim, 4);
    ck_assert_double_eq(fs_dtype_load(FS_DTYPE_F32, cst->u.ndarray.data, 0), -1.067394733428955);
    ck_assert_uint_eq(fs_pickle_storage_count(l.p), 0);
    unload(&l);
}
END_TEST

START_TEST(test_legacy_g_ema)
{
    loaded l = load_ok(SG "tiny/G_ema_legacy.pt", 1);
    ck_assert_int_eq(l.root->kind, FS_PV_DICT);
    ck_assert_uint_eq(l.root->u.dict.n, 87);
    const fs_pv *c = get(l.root, "synthesis.b4.const");
    assert_shape(c, 3, (const int64_t[]){64, 4, 4}, (const int64_t[]){16, 4, 1});
    ck_assert_str_eq(c->u.tensor.storage->u.storage.key, "827785840");
    ck_assert_double_eq(tensor_f32(c, 0), -1.5262027978897095);
    ck_assert_double_eq(tensor_f32(c, 2), -0.6565865278244019);
    /* the record lies in the file: zero copy */
    const uint8_t *d = c->u.tensor.storage->u.storage.data;
    ck_assert(d > l.map.data && d + 4096 <= l.map.data + l.map.size);
    ck_assert_int_eq(get(l.root, "synthesis.b4.conv1.noise_strength")->u.tensor.ndim, 0);
    assert_all_storages_bound(l.p, 87);
    unload(&l);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Hand-made valid inputs */

static void check_ops(const char *path)
{
    loaded l = load_ok(path, 0);
    const fs_pv *r = l.root;

    static const int64_t small[] = {0, 1, 255, 256, 65535, 65536, -1, INT32_MIN, INT32_MAX,
                                    (int64_t)INT32_MAX + 1, (int64_t)INT32_MIN - 1, INT64_MAX,
                                    INT64_MIN};
    const fs_pv *ints = get(r, "ints");
    ck_assert_uint_eq(ints->u.seq.n, 16);
    for (size_t i = 0; i < 13; i++) {
        ck_assert_int_eq(item(ints, i)->kind, FS_PV_INT);
        ck_assert_int_eq(item(ints, i)->u.i, small[i]);
    }
    /* 2**63, 2**64, -2**70: two's complement, little-endian, minimal width */
    assert_bytes(item(ints, 13), FS_PV_BIGINT, "\0\0\0\0\0\0\0\x80\0", 9);
    assert_bytes(item(ints, 14), FS_PV_BIGINT, "\0\0\0\0\0\0\0\0\x01", 9);
    assert_bytes(item(ints, 15), FS_PV_BIGINT, "\0\0\0\0\0\0\0\0\xc0", 9);

    const fs_pv *fl = get(r, "floats");
    ck_assert_double_eq(float_of(item(fl, 0)), 0.0);
    ck_assert_double_eq(float_of(item(fl, 1)), -1.5);
    ck_assert_double_eq(float_of(item(fl, 2)), 1e300);
    ck_assert(isinf(float_of(item(fl, 3))));

    const fs_pv *strs = get(r, "strs");
    assert_str(item(strs, 0), "");
    assert_str(item(strs, 1), "a");
    assert_str(item(strs, 2), "\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80");
    ck_assert_uint_eq(item(strs, 3)->u.s.len, 300);
    assert_str(item(strs, 4), "\xed\xa0\x80"); /* a lone surrogate, as 'surrogatepass' writes it */

    const fs_pv *by = get(r, "bytes");
    assert_bytes(item(by, 0), FS_PV_BYTES, "", 0);
    assert_bytes(item(by, 1), FS_PV_BYTES, "\x00\xff\x80" "abc", 6);
    const fs_pv *b512 = item(by, 2);
    ck_assert_uint_eq(b512->u.s.len, 512);
    for (size_t i = 0; i < 512; i++)
        ck_assert_uint_eq((uint8_t)b512->u.s.ptr[i], i % 256);

    const fs_pv *tuples = get(r, "tuples");
    for (size_t n = 0; n < 5; n++) {
        const fs_pv *t = item(tuples, n);
        ck_assert_int_eq(t->kind, FS_PV_TUPLE);
        ck_assert_uint_eq(t->u.seq.n, n);
        for (size_t i = 0; i < n; i++)
            ck_assert_int_eq(int_of(item(t, i)), (int64_t)i + 1);
    }
    ck_assert_int_eq(int_of(item(get(r, "list1"), 0)), 7);
    const fs_pv *set = get(r, "set");
    ck_assert_int_eq(set->kind, FS_PV_SET);
    ck_assert_int_eq(int_of(item(set, 0)), 3);
    const fs_pv *consts = get(r, "consts");
    ck_assert_int_eq(item(consts, 0)->kind, FS_PV_NONE);
    ck_assert_int_eq(item(consts, 1)->kind, FS_PV_BOOL);
    ck_assert_int_eq(item(consts, 1)->u.i, 1);
    ck_assert_int_eq(item(consts, 2)->u.i, 0);
    const fs_pv *shared = get(r, "shared");
    ck_assert_ptr_eq(item(shared, 0), item(shared, 1)); /* the memo keeps identity */
    assert_str(item(item(shared, 0), 0), "shared");

    const fs_pv *od = get(r, "od");
    ck_assert_int_eq(od->kind, FS_PV_DICT);
    ck_assert_uint_eq(od->u.dict.n, 2);
    assert_str(od->u.dict.keys[0], "b");
    assert_str(od->u.dict.keys[1], "a");
    ck_assert_int_eq(int_of(get(od, "a")), 1);

    const fs_pv *deep = get(item(get(get(r, "nested"), "k"), 0), "deep");
    ck_assert_int_eq(get(item(item(deep, 1), 1), "x")->kind, FS_PV_NONE);
    const fs_pv *many = get(r, "many");
    ck_assert_uint_eq(many->u.seq.n, 2500);
    for (size_t i = 0; i < 2500; i++)
        ck_assert_int_eq(int_of(item(many, i)), (int64_t)i);
    ck_assert_uint_eq(fs_pickle_storage_count(l.p), 0);
    unload(&l);
}

START_TEST(test_ops_all_protocols)
{
    check_ops(PK "ops_p2.pkl");
    check_ops(PK "ops_p3.pkl");
    check_ops(PK "ops_p4.pkl");
    check_ops(PK "ops_p5.pkl");
}
END_TEST

/* Protocol 2 spells bytes as latin-1 strings: decoding them must give what
 * protocol 4 stores raw, at every length and alignment. */
START_TEST(test_latin1_bytes)
{
    loaded a = load_ok(PK "latin1_p2.pkl", 0), b = load_ok(PK "latin1_p4.pkl", 0);
    ck_assert_uint_eq(a.root->u.seq.n, 72);
    ck_assert_uint_eq(b.root->u.seq.n, 72);
    for (size_t i = 0; i < 72; i++) {
        const fs_pv *x = item(a.root, i), *y = item(b.root, i);
        assert_bytes(x, FS_PV_BYTES, y->u.s.ptr, y->u.s.len);
    }
    unload(&a);
    unload(&b);
}
END_TEST

START_TEST(test_ops_rare)
{
    /* ((3, 3), 9, 513, 0, -1, -2**71, 'u8', b'b8', {5, 6}, s, s, (s,)) */
    loaded l = load_ok(PK "ops_rare.pkl", 0);
    const fs_pv *r = l.root;
    ck_assert_uint_eq(r->u.seq.n, 12);
    ck_assert_int_eq(int_of(item(item(r, 0), 1)), 3);
    ck_assert_int_eq(int_of(item(r, 1)), 9);
    ck_assert_int_eq(int_of(item(r, 2)), 513);
    ck_assert_int_eq(int_of(item(r, 3)), 0);
    ck_assert_int_eq(int_of(item(r, 4)), -1);
    assert_bytes(item(r, 5), FS_PV_BIGINT, "\0\0\0\0\0\0\0\0\x80", 9);
    assert_str(item(r, 6), "u8");
    assert_bytes(item(r, 7), FS_PV_BYTES, "b8", 2);
    const fs_pv *s = item(r, 8);
    ck_assert_int_eq(s->kind, FS_PV_SET);
    ck_assert_uint_eq(s->u.seq.n, 2);
    ck_assert_ptr_eq(item(r, 9), s);
    ck_assert_ptr_eq(item(r, 10), s);
    ck_assert_ptr_eq(item(item(r, 11), 0), s);
    unload(&l);
}
END_TEST

START_TEST(test_state_dict_zip_style)
{
    loaded l = load_ok(PK "state_dict_p2.pkl", 0);
    const fs_pv *r = l.root;
    ck_assert_uint_eq(r->u.dict.n, 5);
    const fs_pv *w = get(r, "w"), *view = get(r, "view"), *h = get(r, "h");
    assert_shape(w, 2, (const int64_t[]){2, 3}, (const int64_t[]){3, 1});
    assert_shape(view, 1, (const int64_t[]){2}, (const int64_t[]){2});
    ck_assert_int_eq(view->u.tensor.offset, 2);
    ck_assert_str_eq(w->u.tensor.storage->u.storage.key, "0");
    ck_assert_str_eq(view->u.tensor.storage->u.storage.key, "0");
    ck_assert_uint_eq(w->u.tensor.storage->u.storage.numel, 6);
    ck_assert_ptr_null(w->u.tensor.storage->u.storage.data); /* the zip loader binds it */
    ck_assert_int_eq(h->u.tensor.storage->u.storage.dtype, FS_DTYPE_F16);
    const fs_pv *hs = get(r, "hs"); /* _rebuild_parameter_with_state */
    ck_assert_int_eq(hs->u.tensor.ndim, 0);
    ck_assert_int_eq(hs->u.tensor.offset, 1);
    const fs_pv *e = get(r, "empty");
    assert_shape(e, 2, (const int64_t[]){0, 5}, (const int64_t[]){5, 1});
    ck_assert_uint_eq(fs_pickle_storage_count(l.p), 5); /* one per persistent id */
    ck_assert_ptr_eq(fs_pickle_storage_at(l.p, 0), w->u.tensor.storage);
    ck_assert_ptr_null(fs_pickle_storage_at(l.p, 5));
    unload(&l);
}
END_TEST

static void check_ada_like(const char *path)
{
    loaded l = load_ok(path, 0);
    const fs_pv *r = l.root;
    ck_assert_int_eq(get(r, "augment_pipe")->kind, FS_PV_NONE);
    assert_bytes(get(r, "blob"), FS_PV_BYTES, "\x80\xff", 2);
    const fs_pv *g = get(r, "G_ema");
    const fs_pv *st = state_of(g, "Generator");
    const fs_pv *kw = get(st, "_init_kwargs"); /* an EasyDict */
    ck_assert_int_eq(int_of(get(kw, "img_resolution")), 32);
    ck_assert_int_eq(int_of(get(get(kw, "mapping_kwargs"), "num_layers")), 8);
    ck_assert_double_eq(float_of(get(st, "w_gain")), 2.0);
    const fs_pv *layer = submodule(g, "b4", "SynthesisLayer");
    const fs_pv *ls = layer->u.object.state;
    ck_assert_double_eq(float_of(get(ls, "act_gain")), 1.4142135623730951);
    ck_assert_int_eq(int_of(get(ls, "i16")), -300);
    ck_assert_int_eq(get(ls, "flag")->kind, FS_PV_BOOL);
    ck_assert_int_eq(get(ls, "flag")->u.i, 1);
    ck_assert_double_eq(float_of(get(ls, "half_be")), 1.5);
    ck_assert_int_eq(get(ls, "_non_persistent_buffers_set")->kind, FS_PV_SET);
    ck_assert_uint_eq(get(ls, "_non_persistent_buffers_set")->u.seq.n, 0);
    const fs_pv *w = get(get(ls, "_parameters"), "weight");
    assert_shape(w, 2, (const int64_t[]){2, 2}, (const int64_t[]){2, 1});
    ck_assert_str_eq(w->u.tensor.storage->u.storage.key, "94352");
    static const double want[] = {0.25, -1.0, 3.5, 8.0};
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq(tensor_f32(w, i), want[i]);
    assert_all_storages_bound(l.p, 1);
    unload(&l);
}

START_TEST(test_ada_like)
{
    check_ada_like(PK "ada_like_p2.pkl"); /* blobs as _codecs.encode(latin-1 str) */
    check_ada_like(PK "ada_like_p3.pkl");
    check_ada_like(PK "ada_like_p4.pkl");
}
END_TEST

START_TEST(test_tf_like)
{
    loaded l = load_ok(PK "tf_like_p4.pkl", 0);
    const fs_pv *r = l.root;
    ck_assert_ptr_eq(item(r, 0), item(r, 1));
    const fs_pv *gs = state_of(item(r, 0), "Network");
    assert_str(get(gs, "name"), "Gs");
    const fs_pv *vars = get(state_of(get(get(gs, "components"), "mapping"), "Network"), "variables");
    const fs_pv *w = item(item(vars, 0), 1);
    ck_assert_int_eq(w->u.ndarray.ndim, 2);
    ck_assert_int_eq(w->u.ndarray.shape[1], 3);
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq(fs_dtype_load(FS_DTYPE_F32, w->u.ndarray.data, i), i);
    const fs_pv *lod = item(item(vars, 1), 1);
    ck_assert_int_eq(lod->u.ndarray.ndim, 0);
    ck_assert_double_eq(fs_dtype_load(FS_DTYPE_F32, lod->u.ndarray.data, 0), 0.5);
    ck_assert_int_eq(item(item(vars, 2), 1)->u.ndarray.fortran, 1);
    ck_assert_double_eq(float_of(item(item(vars, 3), 1)), -0.25);
    unload(&l);
}
END_TEST

START_TEST(test_namespace)
{
    loaded l = load_ok(PK "namespace_p2.pkl", 0);
    const fs_pv *ns = state_of(get(l.root, "args"), "Namespace");
    ck_assert_int_eq(int_of(get(ns, "size")), 256);
    ck_assert_double_eq(float_of(get(ns, "lr")), 0.002);
    unload(&l);
}
END_TEST

START_TEST(test_legacy_views_and_types)
{
    loaded l = load_ok(PK "legacy_ok.pt", 1);
    const fs_pv *a = get(l.root, "a"), *a2 = get(l.root, "a2"), *b = get(l.root, "b");
    const fs_pv *e = get(l.root, "e");
    ck_assert_double_eq(tensor_f32(a, 3), 4.0);
    ck_assert_double_eq(tensor_f32(a2, 0), 2.0);
    ck_assert_ptr_eq(a->u.tensor.storage->u.storage.data, a2->u.tensor.storage->u.storage.data);
    const fs_pv *bs = b->u.tensor.storage;
    ck_assert_int_eq(bs->u.storage.dtype, FS_DTYPE_I64);
    ck_assert_double_eq(fs_dtype_load(FS_DTYPE_I64, bs->u.storage.data, 0), -5);
    ck_assert_double_eq(fs_dtype_load(FS_DTYPE_I64, bs->u.storage.data, 1), 7);
    ck_assert_uint_eq(e->u.tensor.storage->u.storage.numel, 0);
    assert_all_storages_bound(l.p, 4);
    unload(&l);
}
END_TEST

/* A PyTorch 0.2 file written under Python 2, laid out like a released Light
 * CNN checkpoint: str keys as byte strings, OrderedDict([[k, v], ...]),
 * _rebuild_tensor, storages tagged 'cuda:0' (the location is ignored), two
 * tensors viewing one storage through the memo. */
START_TEST(test_python2_legacy)
{
    loaded l = load_ok(PK "py2_legacy.pt", 1);
    ck_assert_int_eq(int_of(get(l.root, "epoch")), 80);
    assert_str(get(l.root, "arch"), "LightCNN");
    ck_assert_double_eq(float_of(get(l.root, "prec1")), 97.25);
    const fs_pv *sd = get(l.root, "state_dict");
    ck_assert_uint_eq(sd->u.dict.n, 3);
    assert_str(sd->u.dict.keys[0], "module.features.0.filter.weight");
    const fs_pv *w = get(sd, "module.features.0.filter.weight");
    const fs_pv *b = get(sd, "module.features.0.filter.bias");
    assert_shape(w, 2, (int64_t[]){2, 3}, (int64_t[]){3, 1});
    ck_assert_double_eq(tensor_f32(w, 1), -1.0);
    ck_assert_double_eq(tensor_f32(b, 0), 7.25);
    ck_assert_ptr_eq(w->u.tensor.storage, b->u.tensor.storage);
    ck_assert_str_eq(w->u.tensor.storage->u.storage.key, "94021611491200");
    char key[400];
    fs_pv_str_copy(sd->u.dict.keys[2], key, sizeof key);
    ck_assert_uint_eq(strlen(key), 307); /* a BINSTRING */
    ck_assert_double_eq(tensor_f32(sd->u.dict.vals[2], 1), 2.0);
    assert_all_storages_bound(l.p, 2);
    unload(&l);
}
END_TEST

START_TEST(test_nested_blobs)
{
    loaded l = load_ok(PK "nested2_p4.pkl", 0);
    const fs_pv *x = get(l.root, "x");
    ck_assert_int_eq(x->kind, FS_PV_STORAGE);
    ck_assert_uint_eq(x->u.storage.numel, 1);
    ck_assert_double_eq(fs_dtype_load(FS_DTYPE_F32, x->u.storage.data, 0), 42.0);
    unload(&l);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Malformed inputs */

typedef struct {
    const char *file;
    int legacy; /* fs_torch_legacy_load instead of fs_pickle_load */
    fs_status want;
    const char *msg; /* a substring of the message */
} bad_case;

static const bad_case bad_cases[] = {
    /* forbidden globals */
    {"bad_exploit_p2.pkl", 0, FS_ERR_FORBIDDEN, "offset 2: forbidden pickle global 'posix.system'"},
    {"bad_exploit_p4.pkl", 0, FS_ERR_FORBIDDEN, "forbidden pickle global 'posix.system'"},
    {"bad_os_system.pkl", 0, FS_ERR_FORBIDDEN, "forbidden pickle global 'os.system'"},
    {"bad_eval_stack_global.pkl", 0, FS_ERR_FORBIDDEN, "'builtins.eval'"},
    {"bad_unknown_class.pkl", 0, FS_ERR_FORBIDDEN, "'training.networks.Generator'"},
    {"bad_long_global.pkl", 0, FS_ERR_FORBIDDEN, "global 'xxxxxxxx"},
    {"bad_torch_load.pkl", 0, FS_ERR_FORBIDDEN, "'torch.load'"},
    /* opcodes outside the subset */
    {"bad_protocol0.pkl", 0, FS_ERR_UNSUPPORTED, "unsupported pickle opcode 0x6c ('l', LIST)"},
    {"bad_inst.pkl", 0, FS_ERR_UNSUPPORTED, "offset 3: unsupported pickle opcode 0x69 ('i', INST)"},
    {"bad_opcode_ff.pkl", 0, FS_ERR_UNSUPPORTED, "unsupported pickle opcode 0xff"},
    {"bad_proto6.pkl", 0, FS_ERR_UNSUPPORTED, "pickle protocol 6"},
    {"bad_next_buffer.pkl", 0, FS_ERR_UNSUPPORTED, "NEXT_BUFFER"},
    /* stack, mark and memo */
    {"bad_empty.pkl", 0, FS_ERR_FORMAT, "ends without STOP"},
    {"bad_no_stop.pkl", 0, FS_ERR_FORMAT, "offset 3: pickle ends without STOP"},
    {"bad_stop_empty.pkl", 0, FS_ERR_FORMAT, "stack underflow"},
    {"bad_stop_after_mark.pkl", 0, FS_ERR_FORMAT, "stack underflow"},
    {"bad_tuple_no_mark.pkl", 0, FS_ERR_FORMAT, "TUPLE without a MARK"},
    {"bad_appends_no_mark.pkl", 0, FS_ERR_FORMAT, "APPENDS without a MARK"},
    {"bad_appends_no_target.pkl", 0, FS_ERR_FORMAT, "stack underflow"},
    {"bad_pop_empty.pkl", 0, FS_ERR_FORMAT, "stack underflow"},
    {"bad_tuple2_underflow.pkl", 0, FS_ERR_FORMAT, "stack underflow"},
    {"bad_reduce_below_mark.pkl", 0, FS_ERR_FORMAT, "stack underflow"},
    {"bad_setitems_odd.pkl", 0, FS_ERR_FORMAT, "odd number"},
    {"bad_setitem_list.pkl", 0, FS_ERR_FORMAT, "SETITEM on a list"},
    {"bad_append_tuple.pkl", 0, FS_ERR_FORMAT, "APPEND on a tuple"},
    {"bad_additems_list.pkl", 0, FS_ERR_FORMAT, "ADDITEMS on a list"},
    {"bad_binget_unset.pkl", 0, FS_ERR_FORMAT, "memo index 5 is not set"},
    {"bad_long_binget_huge.pkl", 0, FS_ERR_FORMAT, "memo index 4294967295 is not set"},
    {"bad_long_binput_huge.pkl", 0, FS_ERR_FORMAT, "memo index 4294967280 out of range"},
    {"bad_memoize_empty.pkl", 0, FS_ERR_FORMAT, "stack underflow"},
    {"bad_stack_global_int.pkl", 0, FS_ERR_FORMAT, "STACK_GLOBAL needs two strings"},
    /* lengths and encodings */
    {"bad_binunicode_len.pkl", 0, FS_ERR_FORMAT, "BINUNICODE of 4294967295 bytes runs past"},
    {"bad_binunicode8_len.pkl", 0, FS_ERR_FORMAT, "runs past the end"},
    {"bad_binbytes8_len.pkl", 0, FS_ERR_FORMAT, "runs past the end"},
    {"bad_binbytes_len.pkl", 0, FS_ERR_FORMAT, "runs past the end"},
    {"bad_long4_negative.pkl", 0, FS_ERR_FORMAT, "negative length"},
    {"bad_long1_short.pkl", 0, FS_ERR_FORMAT, "LONG1 of 9 bytes"},
    {"bad_frame_len.pkl", 0, FS_ERR_FORMAT, "FRAME"},
    {"bad_binint_short.pkl", 0, FS_ERR_FORMAT, "truncated BININT"},
    {"bad_global_no_newline.pkl", 0, FS_ERR_FORMAT, "truncated GLOBAL"},
    {"bad_utf8.pkl", 0, FS_ERR_FORMAT, "not valid UTF-8"},
    {"bad_utf8_overlong.pkl", 0, FS_ERR_FORMAT, "not valid UTF-8"},
    {"bad_utf8_too_big.pkl", 0, FS_ERR_FORMAT, "not valid UTF-8"},
    /* calls */
    {"bad_reduce_list.pkl", 0, FS_ERR_FORMAT, "REDUCE of a list"},
    {"bad_reduce_args_list.pkl", 0, FS_ERR_FORMAT, "REDUCE arguments are a list"},
    {"bad_newobj_tensor.pkl", 0, FS_ERR_UNSUPPORTED, "NEWOBJ of _rebuild_tensor_v2"},
    {"bad_ordereddict_args.pkl", 0, FS_ERR_FORMAT, "OrderedDict of an int, not a list of"},
    {"bad_build_list.pkl", 0, FS_ERR_FORMAT, "BUILD of a list"},
    {"bad_build_str.pkl", 0, FS_ERR_FORMAT, "BUILD of a str"},
    {"bad_build_network_twice.pkl", 0, FS_ERR_FORMAT, "BUILD of an object with a dict"},
    {"bad_build_network_list.pkl", 0, FS_ERR_FORMAT, "BUILD of an object with a list"},
    {"bad_codecs_wide.pkl", 0, FS_ERR_FORMAT, "above U+00FF"},
    {"bad_codecs_utf8.pkl", 0, FS_ERR_UNSUPPORTED, "_codecs.encode"},
    {"bad_call_storage_type.pkl", 0, FS_ERR_UNSUPPORTED, "calling FloatStorage"},
    {"bad_persistent_no_state.pkl", 0, FS_ERR_FORMAT, "persistent object without"},
    {"bad_persistent_meta_big.pkl", 0, FS_ERR_LIMIT, "72 entries (at most 64)"},
    /* recursive structures */
    {"bad_recursive_list.pkl", 0, FS_ERR_UNSUPPORTED, "a list contains itself"},
    {"bad_recursive_dict.pkl", 0, FS_ERR_UNSUPPORTED, "recursive structures"},
    {"bad_mutate_after_use.pkl", 0, FS_ERR_UNSUPPORTED, "already stored elsewhere"},
    {"bad_build_after_use.pkl", 0, FS_ERR_UNSUPPORTED, "already stored elsewhere"},
    /* tensors and storages */
    {"bad_persid_not_tuple.pkl", 0, FS_ERR_FORMAT, "persistent id is not"},
    {"bad_persid_short.pkl", 0, FS_ERR_FORMAT, "persistent id is not"},
    {"bad_persid_module.pkl", 0, FS_ERR_UNSUPPORTED, "whole-module"},
    {"bad_persid_type.pkl", 0, FS_ERR_FORMAT, "bad storage type"},
    {"bad_persid_huge.pkl", 0, FS_ERR_FORMAT, "larger than the input"},
    {"bad_persid_negative.pkl", 0, FS_ERR_FORMAT, "bad storage type, key or size"},
    {"bad_persid_view.pkl", 0, FS_ERR_UNSUPPORTED, "storage views"},
    {"bad_persid_key_nul.pkl", 0, FS_ERR_FORMAT, "NUL byte"},
    {"bad_tensor_oob.pkl", 0, FS_ERR_FORMAT, "reaches element 5 of a storage of 5"},
    {"bad_tensor_offset_oob.pkl", 0, FS_ERR_FORMAT, "reaches element 4 of a storage of 4"},
    {"bad_tensor_empty_offset.pkl", 0, FS_ERR_FORMAT, "of a storage of 4"},
    {"bad_tensor_neg_stride.pkl", 0, FS_ERR_FORMAT, "bad size or stride"},
    {"bad_tensor_neg_size.pkl", 0, FS_ERR_FORMAT, "bad size or stride"},
    {"bad_tensor_overflow.pkl", 0, FS_ERR_FORMAT, "overflow"},
    {"bad_tensor_expanded.pkl", 0, FS_ERR_UNSUPPORTED, "4000 elements repeats elements"},
    {"bad_tensor_9d.pkl", 0, FS_ERR_LIMIT, "9 dimensions"},
    {"bad_tensor_rank_mismatch.pkl", 0, FS_ERR_FORMAT, "one length"},
    {"bad_tensor_not_storage.pkl", 0, FS_ERR_FORMAT, "storage is an int"},
    {"bad_parameter_not_tensor.pkl", 0, FS_ERR_FORMAT, "_rebuild_parameter"},
    /* numpy */
    {"bad_np_dtype_c16.pkl", 0, FS_ERR_UNSUPPORTED, "numpy dtype 'c16'"},
    {"bad_np_size.pkl", 0, FS_ERR_FORMAT, "needs 16 bytes, its data has 12"},
    {"bad_np_big_endian.pkl", 0, FS_ERR_UNSUPPORTED, "big-endian"},
    {"bad_np_9d.pkl", 0, FS_ERR_LIMIT, "9 dimensions"},
    {"bad_np_scalar_size.pkl", 0, FS_ERR_FORMAT, "scalar has 4 bytes"},
    {"bad_np_reconstruct_list.pkl", 0, FS_ERR_UNSUPPORTED, "_reconstruct"},
    /* storage blobs and legacy streams */
    {"nested3_p4.pkl", 0, FS_ERR_LIMIT, "nested more than 2 levels"},
    {"bad_blob_trailing.pkl", 0, FS_ERR_FORMAT, "2 trailing bytes"},
    {"bad_blob_garbage.pkl", 0, FS_ERR_FORMAT, "offset 50: not a legacy torch.save stream"},
    {"bad_legacy_magic.pt", 1, FS_ERR_FORMAT, "bad magic number"},
    {"bad_legacy_version.pt", 1, FS_ERR_UNSUPPORTED, "offset 15: torch.save protocol version"},
    {"bad_legacy_big_endian.pt", 1, FS_ERR_UNSUPPORTED, "big-endian"},
    {"bad_legacy_no_sysinfo.pt", 1, FS_ERR_FORMAT, "lacks little_endian"},
    {"bad_legacy_numel.pt", 1, FS_ERR_FORMAT, "holds 3 elements, its persistent id says 4"},
    {"bad_legacy_truncated.pt", 1, FS_ERR_FORMAT, "needs 16 bytes, 15 left"},
    {"bad_legacy_dup_key.pt", 1, FS_ERR_FORMAT, "listed twice"},
    {"bad_legacy_unused_key.pt", 1, FS_ERR_FORMAT, "'139' is not used"},
    {"bad_legacy_missing_key.pt", 1, FS_ERR_FORMAT, "'139' has no entry"},
    {"bad_legacy_keys_not_list.pt", 1, FS_ERR_FORMAT, "key list is a str"},
    {"bad_legacy_two_types.pt", 1, FS_ERR_FORMAT, "two element types"},
    {"bad_legacy_zip.pt", 1, FS_ERR_FORMAT, "zip"},
    {"bad_legacy_tar.pt", 1, FS_ERR_UNSUPPORTED, "tar-based"},
    {"bad_legacy_not_pickle.pt", 1, FS_ERR_FORMAT, "not a legacy torch.save stream"},
    {"ops_p4.pkl", 1, FS_ERR_FORMAT, "bad magic number"},
    /* Python 2 pickles (PyTorch 0.1-0.3): byte strings, the old tensor rebuilder,
     * OrderedDict of pairs; nothing else of Python 2 is let in */
    {"bad_py2_binstring_negative.pkl", 0, FS_ERR_FORMAT, "BINSTRING with a negative length"},
    {"bad_py2_binstring_len.pkl", 0, FS_ERR_FORMAT, "BINSTRING of 100 bytes runs past the end"},
    {"bad_py2_short_binstring_len.pkl", 0, FS_ERR_FORMAT, "SHORT_BINSTRING of 5 bytes runs past"},
    {"bad_py2_string_utf8.pkl", 0, FS_ERR_FORMAT, "offset 2: string is not valid UTF-8"},
    {"bad_py2_rebuild_tensor_args.pkl", 0, FS_ERR_FORMAT,
     "_rebuild_tensor takes 4 arguments, got 6"},
    {"bad_py2_rebuild_tensor_oob.pkl", 0, FS_ERR_FORMAT, "reaches element 4 of a storage of 4"},
    {"bad_py2_rebuild_tensor_not_storage.pkl", 0, FS_ERR_FORMAT,
     "_rebuild_tensor: storage is an int"},
    {"bad_py2_ordereddict_pair.pkl", 0, FS_ERR_FORMAT,
     "OrderedDict item 0 is a list, not a (key, value) pair"},
    {"bad_py2_ordereddict_str.pkl", 0, FS_ERR_FORMAT, "OrderedDict of a str"},
    {"bad_py2_cuda_storage.pkl", 0, FS_ERR_FORBIDDEN, "forbidden pickle global 'torch.cuda.Float"},
    {"bad_py2_eval.pkl", 0, FS_ERR_FORBIDDEN, "forbidden pickle global '__builtin__.eval'"},
    /* fuzzer finds (regressions) */
    {"fuzz_empty_tuple_null_stack.pkl", 0, FS_ERR_UNSUPPORTED, "offset 13: unsupported pickle opcode 0x6f"},
    {"fuzz_empty_tuple_null_stack.pt", 1, FS_ERR_UNSUPPORTED, "offset 14: unsupported pickle opcode 0x6f"},
};

START_TEST(test_bad_inputs)
{
    const bad_case *c = &bad_cases[_i];
    char path[256];
    snprintf(path, sizeof path, PK "%s", c->file);
    fs_file_map m;
    ck_assert_msg(fs_file_map_open(path, &m) == FS_OK, "%s", fs_error_message());
    uint8_t *buf = exact_copy(m.data, m.size);
    fs_pickle *p;
    fs_pv *root = (fs_pv *)&root;
    size_t used = 1;
    fs_error_clear();
    fs_status s = parse(buf, m.size, c->legacy, path, &p, &root, &used);
    const char *msg = fs_error_message();
    ck_assert_msg(s == c->want, "%s: status %d (%s), expected %d; message: %s", c->file, s,
                  fs_status_string(s), c->want, msg);
    ck_assert_msg(strstr(msg, c->msg), "%s: message '%s' lacks '%s'", c->file, msg, c->msg);
    /* one line, naming the input first */
    ck_assert_msg(strncmp(msg, path, strlen(path)) == 0 && msg[strlen(path)] == ':', "%s", msg);
    ck_assert_ptr_null(strchr(msg, '\n'));
    ck_assert_ptr_null(root);
    ck_assert_uint_eq(used, 0);
    fs_pickle_free(p);
    free(buf);
    fs_file_map_close(&m);
}
END_TEST

START_TEST(test_exact_messages)
{
    const char *path = PK "bad_os_system.pkl";
    fs_file_map m;
    ck_assert_int_eq(fs_file_map_open(path, &m), FS_OK);
    fs_pickle *p;
    fs_pv *root;
    ck_assert_int_eq(parse(m.data, m.size, 0, "model.pkl", &p, &root, NULL), FS_ERR_FORBIDDEN);
    ck_assert_str_eq(fs_error_message(),
                     "model.pkl: offset 2: forbidden pickle global 'os.system'");
    fs_pickle_free(p);
    fs_file_map_close(&m);

    /* Untrusted names are printable and bounded in messages. */
    path = PK "bad_long_global.pkl";
    ck_assert_int_eq(fs_file_map_open(path, &m), FS_OK);
    ck_assert_int_eq(parse(m.data, m.size, 0, "m", &p, &root, NULL), FS_ERR_FORBIDDEN);
    const char *msg = fs_error_message();
    ck_assert_uint_lt(strlen(msg), 300);
    for (const char *c = msg; *c; c++)
        ck_assert(*c >= 0x20 && *c < 0x7f);
    fs_pickle_free(p);
    fs_file_map_close(&m);
}
END_TEST

/* An error inside a storage blob is reported at its offset in the file. */
START_TEST(test_blob_error_offsets)
{
    static const uint8_t magic[] = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46};
    const char *files[] = {PK "ada_like_p4.pkl", PK "ada_like_p2.pkl"};
    for (int f = 0; f < 2; f++) {
        fs_file_map m;
        ck_assert_int_eq(fs_file_map_open(files[f], &m), FS_OK);
        uint8_t *buf = exact_copy(m.data, m.size);
        /* the blob's PROTO opcode precedes the magic number's LONG1 */
        size_t at = 0;
        if (f == 0) {
            const uint8_t *hit = memmem(buf, m.size, magic, sizeof magic);
            ck_assert_ptr_nonnull(hit);
            at = (size_t)(hit - buf) - 2;
            ck_assert_uint_eq(buf[at], 0x80);
            buf[at + 1] = 9; /* protocol 9 */
        } else {
            /* protocol 2: the blob is a latin-1 str; \x80 encodes as C2 80 */
            static const uint8_t p2_magic[] = {0xc2, 0x80, 0x02, 0xc2, 0x8a, 0x0a, 0x6c};
            const uint8_t *hit = memmem(buf, m.size, p2_magic, sizeof p2_magic);
            ck_assert_ptr_nonnull(hit);
            buf[hit - buf + 2] = 9;
        }
        fs_pickle *p;
        fs_pv *root;
        ck_assert_int_eq(parse(buf, m.size, 0, "x.pkl", &p, &root, NULL), FS_ERR_UNSUPPORTED);
        char want[128];
        if (f == 0)
            snprintf(want, sizeof want, "x.pkl: offset %zu: pickle protocol 9", at);
        else
            snprintf(want, sizeof want, "x.pkl: offset 0 of the storage blob decoded at offset ");
        ck_assert_msg(strstr(fs_error_message(), want), "'%s' lacks '%s'", fs_error_message(),
                      want);
        fs_pickle_free(p);
        free(buf);
        fs_file_map_close(&m);
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Truncation, nesting and budget */

/* Every cut [0, len) in steps of `step` (1: every offset) must fail cleanly. */
static void truncate_all(const char *path, int legacy, size_t from, size_t to, size_t step)
{
    fs_file_map m;
    ck_assert_int_eq(fs_file_map_open(path, &m), FS_OK);
    if (to > m.size)
        to = m.size;
    for (size_t n = from; n < to; n += step) {
        uint8_t *buf = exact_copy(m.data, n);
        fs_pickle *p;
        fs_pv *root;
        size_t used;
        fs_status s = parse(buf, n, legacy, path, &p, &root, &used);
        ck_assert_msg(s != FS_OK, "%s cut at %zu parsed", path, n);
        ck_assert_msg(s == FS_ERR_FORMAT || s == FS_ERR_UNSUPPORTED,
                      "%s cut at %zu: %s", path, n, fs_error_message());
        fs_pickle_free(p);
        free(buf);
    }
    fs_file_map_close(&m);
}

START_TEST(test_truncate_handmade)
{
    static const char *const files[] = {"ops_p2.pkl", "ops_p4.pkl", "ops_rare.pkl",
                                        "state_dict_p2.pkl", "ada_like_p2.pkl", "ada_like_p4.pkl",
                                        "tf_like_p4.pkl", "namespace_p2.pkl", "nested2_p4.pkl"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, PK "%s", files[i]);
        truncate_all(path, 0, 0, SIZE_MAX, 1);
    }
    truncate_all(PK "legacy_ok.pt", 1, 0, SIZE_MAX, 1);
    truncate_all(PK "py2_legacy.pt", 1, 0, SIZE_MAX, 1);
}
END_TEST

START_TEST(test_truncate_checkpoints)
{
    /* the legacy stream's pickles at every offset, its records sparsely */
    truncate_all(SG "tiny/G_ema_legacy.pt", 1, 0, 11300, 1);
    truncate_all(SG "tiny/G_ema_legacy.pt", 1, 11300, SIZE_MAX, 9973);
    truncate_all(SG "tiny/network-snapshot.pkl", 0, 0, 4096, 7);
    truncate_all(SG "tiny/network-snapshot.pkl", 0, 4096, SIZE_MAX, 65521);
    truncate_all(SG "tiny-tf/stylegan2-tf-layout.pkl", 0, 0, SIZE_MAX, 4099);
}
END_TEST

/* n nested empty lists: EMPTY_LIST x n, then APPEND x (n - 1). */
static fs_status nested_lists(size_t n)
{
    size_t len = 2 + n + (n - 1) + 1;
    uint8_t *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    buf[0] = 0x80;
    buf[1] = 2;
    memset(buf + 2, ']', n);
    memset(buf + 2 + n, 'a', n - 1);
    buf[len - 1] = '.';
    fs_pickle *p;
    fs_pv *root;
    fs_status s = parse(buf, len, 0, "deep", &p, &root, NULL);
    if (s == FS_OK) { /* walk down: every level is one list holding the next */
        size_t depth = 1;
        for (const fs_pv *v = root; v->u.seq.n; v = v->u.seq.items[0])
            depth++;
        ck_assert_uint_eq(depth, n);
    }
    fs_pickle_free(p);
    free(buf);
    return s;
}

START_TEST(test_deep_nesting)
{
    ck_assert_int_eq(nested_lists(1000), FS_OK);
    ck_assert_int_eq(nested_lists(1001), FS_ERR_LIMIT);
    ck_assert_int_eq(nested_lists(100000), FS_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "nested more than 1000 levels"));

    /* MARKs without end */
    size_t len = 2 + 100000;
    uint8_t *buf = malloc(len);
    buf[0] = 0x80;
    buf[1] = 2;
    memset(buf + 2, '(', 100000);
    fs_pickle *p;
    fs_pv *root;
    ck_assert_int_eq(parse(buf, len, 0, "marks", &p, &root, NULL), FS_ERR_LIMIT);
    fs_pickle_free(p);
    free(buf);
}
END_TEST

START_TEST(test_memory_budget)
{
    /* 1.5 MB of EMPTY_LIST: ~300 MB of nodes against a budget of 64 MiB + 16 x 1.5 MB */
    size_t n = 1500000, len = n + 3;
    uint8_t *buf = malloc(len);
    buf[0] = 0x80;
    buf[1] = 2;
    memset(buf + 2, ']', n);
    buf[len - 1] = '.';
    fs_pickle *p;
    fs_pv *root;
    ck_assert_int_eq(parse(buf, len, 0, "lists", &p, &root, NULL), FS_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "memory budget"));
    fs_pickle_free(p);
    free(buf);

    ck_assert_int_eq(fs_pickle_init(&p, "alloc", 0), FS_OK);
    ck_assert_ptr_nonnull(fs_pickle_alloc(p, 0));
    uint8_t *z = fs_pickle_alloc(p, 1 << 20);
    ck_assert_ptr_nonnull(z);
    ck_assert_uint_eq(z[0] | z[(1 << 20) - 1], 0);
    ck_assert_ptr_null(fs_pickle_alloc(p, (size_t)65 << 20));
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "alloc: the reader's memory budget"));
    fs_pickle_free(p);
}
END_TEST

/* A memoized 100 kB string decoded by 2000 REDUCEs: 200 MB of work from a
 * 118 kB input is refused. */
START_TEST(test_work_budget)
{
    const size_t n = 100000, reps = 2000;
    static const char head[] = "\x80\x02" "c_codecs\nencode\n" "q\x01" "\x8c\x06latin1" "q\x02";
    static const uint8_t rep[] = {'h', 1, 'h', 0, 'h', 2, 0x86, 'R', '0'};
    size_t len = (sizeof head - 1) + 5 + n + 2 + reps * sizeof rep + 2;
    uint8_t *buf = malloc(len), *w = buf;
    memcpy(w, head, sizeof head - 1);
    w += sizeof head - 1;
    *w++ = 'X';
    memcpy(w, &(uint32_t){(uint32_t)n}, 4); /* little-endian hosts only, like the library */
    w += 4;
    memset(w, 'a', n);
    w += n;
    *w++ = 'q';
    *w++ = 0;
    for (size_t i = 0; i < reps; i++, w += sizeof rep)
        memcpy(w, rep, sizeof rep);
    *w++ = 'N';
    *w++ = '.';
    ck_assert_uint_eq((size_t)(w - buf), len);
    fs_pickle *p;
    fs_pv *root;
    ck_assert_int_eq(parse(buf, len, 0, "work", &p, &root, NULL), FS_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(fs_error_message(), "over and over"));
    fs_pickle_free(p);
    /* 500 repetitions fit in the budget */
    len -= (reps - 500) * sizeof rep;
    buf[len - 2] = 'N';
    buf[len - 1] = '.';
    ck_assert_int_eq(parse(buf, len, 0, "work", &p, &root, NULL), FS_OK);
    fs_pickle_free(p);
    free(buf);
}
END_TEST

START_TEST(test_api)
{
    fs_pickle *p = NULL;
    fs_pv *root;
    ck_assert_int_eq(fs_pickle_init(NULL, "x", 0), FS_ERR_ARG);
    ck_assert_int_eq(fs_pickle_init(&p, NULL, 0), FS_OK);
    ck_assert_str_eq(fs_pickle_label(p), "pickle");
    ck_assert_int_eq(fs_pickle_load(p, NULL, 1, NULL, &root), FS_ERR_ARG);
    ck_assert_int_eq(fs_pickle_load(p, (const uint8_t *)"", 0, NULL, NULL), FS_ERR_ARG);
    ck_assert_int_eq(fs_pickle_load(p, NULL, 0, NULL, &root), FS_ERR_FORMAT);
    ck_assert_int_eq(fs_torch_legacy_load(p, NULL, 0, NULL, &root), FS_ERR_FORMAT);
    ck_assert_int_eq(fs_torch_legacy_load(NULL, NULL, 0, NULL, &root), FS_ERR_ARG);
    ck_assert_uint_eq(fs_pickle_storage_count(p), 0);
    ck_assert_ptr_null(fs_pickle_storage_at(p, 0));

    /* two pickles back to back in one buffer share the context */
    static const uint8_t two[] = {0x80, 2, 'K', 7, '.', 0x80, 4, 0x8c, 1, 'z', '.'};
    size_t used;
    ck_assert_int_eq(fs_pickle_load(p, two, sizeof two, &used, &root), FS_OK);
    ck_assert_uint_eq(used, 5);
    ck_assert_int_eq(root->u.i, 7);
    ck_assert_int_eq(fs_pickle_load(p, two + used, sizeof two - used, &used, &root), FS_OK);
    ck_assert(fs_pv_is_str(root, "z"));
    ck_assert(!fs_pv_is_str(root, "zz"));
    ck_assert(!fs_pv_is_str(NULL, "z"));
    char s[2];
    fs_pv_str_copy(root, s, 1);
    ck_assert_str_eq(s, "");
    fs_pv_str_copy(NULL, s, 2);
    ck_assert_str_eq(s, "");
    ck_assert_ptr_null(fs_pv_dict_get(root, "z"));
    ck_assert_ptr_null(fs_pv_dict_get(NULL, "z"));
    for (int k = FS_PV_NONE; k <= FS_PV_OBJECT; k++)
        ck_assert_str_ne(fs_pv_kind_name((fs_pv_kind)k), "unknown");
    fs_pickle_free(p);
    fs_pickle_free(NULL);

    /* a dict that saw a key twice answers with the last value, as Python does */
    static const uint8_t dup[] = {0x80, 2, '}', '(', 0x8c, 1, 'k', 'K', 1,
                                  0x8c, 1, 'k', 'K', 2, 'u', '.'};
    ck_assert_int_eq(fs_pickle_init(&p, "dup", sizeof dup), FS_OK);
    ck_assert_int_eq(fs_pickle_load(p, dup, sizeof dup, NULL, &root), FS_OK);
    ck_assert_int_eq(fs_pv_dict_get(root, "k")->u.i, 2);
    fs_pickle_free(p);
}
END_TEST

static Suite *pickle_suite(void)
{
    Suite *s = suite_create("pickle");
    TCase *tc = tcase_create("checkpoints");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_ada_snapshot_p4);
    tcase_add_test(tc, test_ada_snapshot_other_protocols);
    tcase_add_test(tc, test_tf_layout);
    tcase_add_test(tc, test_legacy_g_ema);
    suite_add_tcase(s, tc);

    tc = tcase_create("handmade");
    tcase_add_test(tc, test_ops_all_protocols);
    tcase_add_test(tc, test_ops_rare);
    tcase_add_test(tc, test_latin1_bytes);
    tcase_add_test(tc, test_state_dict_zip_style);
    tcase_add_test(tc, test_ada_like);
    tcase_add_test(tc, test_tf_like);
    tcase_add_test(tc, test_namespace);
    tcase_add_test(tc, test_legacy_views_and_types);
    tcase_add_test(tc, test_nested_blobs);
    tcase_add_test(tc, test_python2_legacy);
    tcase_add_test(tc, test_api);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_bad_inputs, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, test_exact_messages);
    tcase_add_test(tc, test_blob_error_offsets);
    tcase_add_test(tc, test_truncate_handmade);
    tcase_add_test(tc, test_truncate_checkpoints);
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_memory_budget);
    tcase_add_test(tc, test_work_budget);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return fs_check_run(pickle_suite(), "pickle"); }
