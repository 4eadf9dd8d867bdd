/* Per-family validation run by the weight loader once the file itself has
 * been proven sound: hyper-parameters readable, required tensors present. */
#ifndef FS_MODEL_CHECK_H
#define FS_MODEL_CHECK_H

#include "weights.h"

fs_status fs_model_check(const fs_weights *w);

#endif
