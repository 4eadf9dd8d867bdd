/* FIR filtering plans for the CPU backend (upfirdn2d and the up-sampling
 * conv's 4x4 blur). A plan precomputes, for every output row and column, which
 * input samples and which taps contribute (zero insertion, padding and
 * decimation folded into index tables), so the inner loops are branch-free
 * and the separable case costs 2 x taps per output instead of taps^2. */
#ifndef FS_CPU_FIR_H
#define FS_CPU_FIR_H

#include <stddef.h>

#include "../status.h"

typedef struct fs_cpu_fir fs_cpu_fir;

/* fir2d: [fl, fl] filter applied as a true convolution, times gain. */
fs_status fs_cpu_fir_plan(fs_cpu_fir **out, int h, int w, int up, int down, int pad0, int pad1,
                          const float *fir2d, int fl, float gain);
void fs_cpu_fir_free(fs_cpu_fir *p);
int fs_cpu_fir_out_h(const fs_cpu_fir *p);
int fs_cpu_fir_out_w(const fs_cpu_fir *p);
/* Scratch floats fs_cpu_fir_run needs per concurrent caller. */
size_t fs_cpu_fir_tmp_floats(const fs_cpu_fir *p);
/* One plane: x [h, w] -> y [out_h, out_w]. */
void fs_cpu_fir_run(const fs_cpu_fir *p, const float *x, float *y, float *tmp);
/* Output rows [oy0, oy1) only (y points at row oy0), from input rows
 * [iy0, iy0 + nrows) (x points at row iy0), which must hold every row the
 * filter reaches from them; tmp as above. The same values as the whole-plane
 * run. */
void fs_cpu_fir_run_rows(const fs_cpu_fir *p, const float *x, int iy0, int nrows, float *y,
                         int oy0, int oy1, float *tmp);

#endif
