/* libFuzzer harness for the legacy torch.save stream loader: the checks of
 * fuzz_pickle.c, with the bytes given to fs_torch_legacy_load. */
#define FUZZ_TORCH_LEGACY 1
#include "fuzz_pickle.c"
