/* CVAE-GAN state dicts (docs/cvaegan.md naming) -> flat weight file, and the
 * --rename rules that map a checkpoint trained with other module names onto
 * that naming, without Python. */
#ifndef FS_CVAEGAN_IMPORT_H
#define FS_CVAEGAN_IMPORT_H

#include "../engine/cvaegan.h"
#include "state_dict.h"
#include "weights_writer.h"

#ifdef __cplusplus
extern "C" {
#endif

int fs_cvaegan_is_state_dict(const fs_state_dict *sd);
fs_status fs_cvaegan_infer_config(const fs_state_dict *sd, fs_cvaegan_config *c);
fs_status fs_cvaegan_import(fs_weights_writer *w, fs_state_dict *sd, const fs_cvaegan_config *c,
                            fs_dtype dtype);

/* Rename rules: one "REGEX REPLACEMENT" per line (POSIX extended regex, \1-\9
 * back-references, '#' comments, blank lines ignored). Every rule is applied
 * in order to every name, replacing the first match. */
typedef struct fs_rename_rules fs_rename_rules;
fs_status fs_rename_rules_load(const char *path, fs_rename_rules **out);
void fs_rename_rules_free(fs_rename_rules *r);
fs_status fs_rename_apply(const fs_rename_rules *r, fs_state_dict *sd);

#ifdef __cplusplus
}
#endif
#endif
