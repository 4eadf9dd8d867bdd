/* The IR-SE trunk: the input layer and the bottleneck_IR_SE units of the
 * face-recognition backbones of TreB1eN's InsightFace_Pytorch, as e4e's
 * Encoder4Editing uses them (docs/e4e.md) and as ArcFace IR-SE-50 does. One
 * implementation for every network built on it:
 *   - the config (stage widths, units per stage, SE hidden widths), its
 *     metadata keys and the canonical tensor list it implies (the official
 *     state-dict names, under a prefix);
 *   - the forward over a backend: eval-mode BatchNorm, PReLU, the 3x3 convs,
 *     squeeze-excitation and the shortcuts, from backend.h ops, each conv
 *     planned once at init, with the BatchNorm that follows a conv folded into
 *     that conv's weight and bias there (or kept as an op: fold_bn 0).
 *
 * Structure (InsightFace get_blocks): stage s has stage_units[s] units; the
 * first unit of each stage has stride 2 and maps the previous width to
 * stage_width[s]; the others have stride 1. A unit whose input and output
 * widths differ has a 1x1 conv + BatchNorm shortcut, the others
 * MaxPool2d(1, stride). */
#ifndef FS_IR_SE_H
#define FS_IR_SE_H

#include <stdint.h>

#include "backend.h"
#include "dev_weights.h"
#include "status.h"
#include "weights.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FS_IR_SE_STAGES 4
#define FS_IR_SE_MAX_UNITS 256
#define FS_IR_SE_BN_EPS 1e-5f /* torch.nn.BatchNorm2d's default, which the modules use */

typedef struct {
    int64_t input_width;                    /* the input layer: conv 3 -> input_width */
    int64_t stage_width[FS_IR_SE_STAGES];   /* 64, 128, 256, 512 for the real networks */
    int64_t stage_units[FS_IR_SE_STAGES];   /* 3, 4, 14, 3 for 50 layers */
    int64_t se_hidden[FS_IR_SE_STAGES];     /* the SE bottleneck (width / 16 for the real ones) */
} fs_ir_se_config;

/* One unit's shape, from the config. */
typedef struct {
    int stage;
    int in, depth, stride, se_hidden;
    int conv_shortcut; /* in != depth */
} fs_ir_se_unit;

int fs_ir_se_num_units(const fs_ir_se_config *c);
fs_ir_se_unit fs_ir_se_unit_at(const fs_ir_se_config *c, int u);
/* Bounds and consistency; label names the file in the message. */
fs_status fs_ir_se_config_check(const fs_ir_se_config *c, const char *label);

/* The canonical tensors, official names under prefix ("" for e4e's encoder):
 * input_layer.{0: conv, 1: BN, 2: PReLU}, body.U.res_layer.{0: BN, 1: conv,
 * 2: PReLU, 3: conv, 4: BN, 5: SE fc1/fc2}, body.U.shortcut_layer.{0: conv,
 * 1: BN} (BN: weight, bias, running_mean, running_var). */
fs_status fs_ir_se_for_each_tensor(const fs_ir_se_config *c, const char *prefix,
                                   fs_tensor_spec_fn fn, void *user);

/* Metadata: input_width (i64), stage_widths, stage_units, se_hidden
 * (f64 arrays of FS_IR_SE_STAGES). put has the signature of the weights
 * writer's fs_weights_writer_put_meta. */
typedef fs_status (*fs_ir_se_meta_put_fn)(void *user, const char *key, fs_meta_type type,
                                          int64_t i, double f, const char *str,
                                          const double *arr, size_t n);
fs_status fs_ir_se_config_to_meta(const fs_ir_se_config *c, fs_ir_se_meta_put_fn put,
                                  void *user);
fs_status fs_ir_se_config_from_weights(const fs_weights *w, fs_ir_se_config *c);

/* The eval-mode BatchNorm of file tensors `module`.{weight, bias,
 * running_mean, running_var} (ch channels, any stored dtype) as the affine
 * map y = x * alpha + beta that PyTorch's CPU batch_norm applies, alpha and
 * beta rounded to float as it rounds them. For BatchNorms outside the trunk
 * too (ArcFace's output layer). */
fs_status fs_ir_se_bn_terms(const fs_weights *w, const char *module, int ch, float *alpha,
                            float *beta);

/* ---- the forward ------------------------------------------------------------ */

typedef struct fs_ir_se fs_ir_se;

/* Prepares the trunk for res x res inputs: BatchNorm constants computed from
 * the stored statistics as PyTorch's eval-mode batch_norm computes them
 * (alpha = weight / sqrt(var + eps), beta = bias - mean * alpha, in float),
 * folded weights (fold_bn 1: W * alpha and bias beta for the BatchNorm right
 * after a conv), uploaded once, and every conv planned. dw holds the file's
 * tensors on b and must outlive the trunk. */
fs_status fs_ir_se_init(fs_ir_se **out, const fs_ir_se_config *c, const fs_dev_weights *dw,
                        const char *prefix, int res, int fold_bn);
void fs_ir_se_free(fs_ir_se *m);

/* The side of unit u's output plane (res halved at every stride-2 unit). */
int fs_ir_se_unit_res(const fs_ir_se *m, int u);

/* Runs the trunk on x [n, 3, res, res] (backend memory) up to unit
 * taps[ntaps - 1]; unit taps[k]'s output [n, depth, r, r] is written to
 * tap_out[k] (backend memory the caller owns). taps ascending. */
fs_status fs_ir_se_forward(fs_ir_se *m, const float *x, int n, int ntaps, const int *taps,
                           float *const *tap_out);

#ifdef __cplusplus
}
#endif
#endif
