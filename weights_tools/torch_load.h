/* torch.save containers: the zip archive of PyTorch >= 1.6 and the legacy
 * (pre-1.6) magic-number stream, which is also the format of every storage
 * blob embedded in a stylegan2-ada/stylegan3 network pickle.
 *
 * Both run the pickle reader on the object pickle and then bind each storage
 * to its raw bytes (zero copy: pointers into buf), checking sizes. */
#ifndef FS_TORCH_LOAD_H
#define FS_TORCH_LOAD_H

#include "pickle.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The legacy stream: magic number, protocol 1001, sys_info, the object,
 * the storage key list, then per key an int64 element count and the data.
 * *consumed (may be NULL) receives the bytes used. Nested _load_from_bytes
 * blobs call back into this with the same context. */
fs_status fs_torch_legacy_load(fs_pickle *p, const uint8_t *buf, size_t len, size_t *consumed,
                               fs_pv **out);

/* The zip archive: "<prefix>/data.pkl" plus "<prefix>/data/<key>" records. */
fs_status fs_torch_zip_load(fs_pickle *p, const uint8_t *buf, size_t len, fs_pv **out);

/* Either of the above, chosen by the leading bytes; the old tar format is
 * refused with FS_ERR_UNSUPPORTED and a message that says so. */
fs_status fs_torch_load(fs_pickle *p, const uint8_t *buf, size_t len, fs_pv **out);

#ifdef __cplusplus
}
#endif
#endif
