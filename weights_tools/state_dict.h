/* A named list of tensor views: what every checkpoint format is reduced to
 * before its names are mapped onto the canonical set of a model family. */
#ifndef FS_STATE_DICT_H
#define FS_STATE_DICT_H

#include <stddef.h>

#include "pickle.h"
#include "view.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char *name;
    fs_view view;
    int used; /* set when a mapping consumed it; unused leftovers are errors */
} fs_sd_entry;

typedef struct {
    fs_sd_entry *e;
    size_t n, cap;
    const char *label; /* the source file, for messages */
} fs_state_dict;

void fs_sd_init(fs_state_dict *sd, const char *label);
void fs_sd_free(fs_state_dict *sd);
/* Adds a copy of name; duplicate names are an error. */
fs_status fs_sd_add(fs_state_dict *sd, const char *name, const fs_view *v);
fs_sd_entry *fs_sd_find(const fs_state_dict *sd, const char *name);
/* The entry `name` with rank ndim, or a message naming the file and tensor. */
fs_status fs_sd_need(const fs_state_dict *sd, const char *name, int ndim, const fs_view **v);
/* Marks every entry whose name ends with suffix as used (buffers we drop). */
void fs_sd_mark_suffix(fs_state_dict *sd, const char *suffix);

/* A view of a pickle value: a torch tensor with bound storage, a numpy array,
 * or a numpy scalar (FLOAT/INT, viewed in place as a 0-d f64/i64). */
fs_status fs_view_from_pv(const fs_pv *v, const char *label, const char *name, fs_view *out);

/* Adds every tensor of a dict of name -> tensor (a torch state_dict). Keys that
 * are not strings or values that are not tensors are errors naming them. */
fs_status fs_sd_from_pv_dict(fs_state_dict *sd, const fs_pv *dict, const char *prefix);

#ifdef __cplusplus
}
#endif
#endif
