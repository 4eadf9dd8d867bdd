/* The one table of backend op cases: every op of engine/backend.h at the
 * layer shapes the models really run (StyleGAN2 config-f generator and
 * discriminator, the paper-size CVAE-GAN), plus odd shapes that reach the
 * edges of the tiled kernels (non-square, tiny, k = h, phases with no taps,
 * negative padding). tests/test_backend_ops.c checks every case against a
 * naive reference and the CUDA backend against the CPU one, and times them
 * (--perf); bench/bench_cuda_layers.c times the config-f synthesis layers
 * (sets & FS_OPC_SG2F_SYNTH, in network order) against cuDNN.
 *
 * Cases are filled with designated initialisers; a field left out is 0, and
 * these 0s mean a default, so that a row states only what is particular:
 *   gain 0      -> 1 (modconv, conv2d, fc, bias_act)
 *   wgain 0     -> 1 / sqrt(fan_in), StyleGAN2's equalised learning rate
 *                  (fc, conv2d); the CVAE-GAN's plain layers say 1
 *   bgain 0     -> 1 (fc)
 *   fir_len 0   -> 4, StyleGAN2's [1, 3, 3, 1] (modconv up 2, conv2d down 2,
 *                  upfirdn2d); random_fir 1 draws a non-separable filter,
 *                  2 an asymmetric separable one (an outer product), so that
 *                  a flipped filter shows on either path of a backend
 * Shapes: n is the batch (samples); ops that work per channel
 * (upfirdn2d, avg_pool2d) see n * cin planes. The test batches are small;
 * --batch (test --perf, bench) overrides n.
 * styles: a whole synthesis network's modulated layers, h the image
 *   resolution, w the channel base, cin the channel maximum, k w_dim (the
 *   layers as engine/stylegan2_g.c lists them: fs_opc_style_layers).
 * torgb: cin features to cout image channels at h x w; up 2: with the
 *   previous image at h/2 x w/2 (the skip term), up 0: the first block. */
#ifndef FS_TESTS_BACKEND_OP_CASES_H
#define FS_TESTS_BACKEND_OP_CASES_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "../engine/backend.h"

typedef enum {
    FS_CASE_FC,
    FS_CASE_NORMALIZE_2ND_MOMENT,
    FS_CASE_LERP_ROWS,
    FS_CASE_MODCONV,
    FS_CASE_CONV2D,
    FS_CASE_UPFIRDN2D,
    FS_CASE_BIAS_ACT,
    FS_CASE_AXPBY,
    FS_CASE_MBSTD,
    FS_CASE_PROJECT,
    FS_CASE_CONV_TRANSPOSE2D,
    FS_CASE_INSTANCE_NORM,
    FS_CASE_AVG_POOL2D,
    FS_CASE_TO_UINT8,
    FS_CASE_COPY_ROWS,
    FS_CASE_CHANNEL_AFFINE,
    FS_CASE_SE_RESIDUAL,
    FS_CASE_UPSAMPLE_ADD,
    FS_CASE_MAX_FEATURE_MAP,
    FS_CASE_MAX_POOL2D,
    FS_CASE_ADAPTIVE_AVG_POOL2D,
    FS_CASE_BLEND,
    FS_CASE_STYLES,
    FS_CASE_TORGB,
    FS_CASE_CONVERT_FEATURES,
    FS_CASE_COUNT
} fs_case_op;

static const char *const fs_case_op_names[FS_CASE_COUNT] = {
    "fc", "normalize_2nd_moment", "lerp_rows", "modconv", "conv2d", "upfirdn2d", "bias_act",
    "axpby", "mbstd", "project", "conv_transpose2d", "instance_norm", "avg_pool2d", "to_uint8",
    "copy_rows", "channel_affine", "se_residual", "upsample_add", "max_feature_map",
    "max_pool2d", "adaptive_avg_pool2d", "blend", "styles", "torgb", "convert_features",
};

/* sets: which lists a case belongs to besides the test. */
#define FS_OPC_SG2F_SYNTH 1u /* a modconv layer of the config-f 1024^2 synthesis network */

typedef struct {
    const char *name;
    fs_case_op op;
    int n, cin, cout, h, w; /* cin: the channels of one-count ops (c of bias_act, mbstd, ...) */
    int k, up, down, stride, pad, pad1;
    int fir_len, random_fir;
    int demod;              /* modconv */
    fs_noise_mode noise;    /* modconv */
    int exact;              /* modconv: weight 0, bias 0, linear, gain 1, strength 1: the
                               output is the noise itself and must match bit for bit */
    fs_act act;
    float gain, clamp, wgain, bgain;
    int no_bias;            /* fc, conv2d, conv_transpose2d, bias_act; instance_norm: no affine */
    int rows, row0, row1;   /* fc: x is ws [n, rows, in] and row0 is read; lerp_rows;
                               copy_rows: n rows of cin floats to dst + row0 */
    int ldd, lds;           /* copy_rows strides (lds 0: one row repeated) */
    float t, xs;            /* lerp_rows t; axpby y * t + x * xs */
    float eps;              /* instance_norm */
    int group, f;           /* mbstd */
    int prelu;              /* channel_affine: with PReLU slopes (no_bias: without scale
                               and shift) */
    int tensor_cores;       /* conv2d: the layer allows tensor cores (fs_conv2d_args) */
    int out_h, out_w;       /* upsample_add: the output plane (h x w is the input);
                               se_residual: out_h extra shortcut rows and columns past
                               (h - 1) * stride + 1; adaptive_avg_pool2d: the output */
    int ceil_mode;          /* max_pool2d */
    int win_y0, win_x0, win_h, win_w; /* adaptive_avg_pool2d: the pooled window of the
                               h x w plane (win_h 0: the whole plane) */
    fs_feat_format fmt;     /* modconv, torgb: the features' format (docs/precision.md);
                               convert_features: the source format */
    fs_feat_format fmt2;    /* convert_features: the destination format */
    int dcoef;              /* modconv: dcoef given (random, so that using it shows) */
    float srange;           /* modconv: styles in +-srange and x in +-250 (0: the defaults),
                               past the fp16 range unless divided by max |s| */
    unsigned sets;
} fs_op_case;

/* ---- StyleGAN2 config-f at 1024^2 (channel_base 32768, max 512) ------------------------- */

/* A synthesis modconv layer of the official defaults: conv_clamp 256, const
 * noise, lrelu; ToRGB (k 1) linear, no demodulation, no noise. */
#define FS_SG2F_MC(nm, N, CIN, COUT, RES_IN, K, UP)                                             \
    {.name = nm, .op = FS_CASE_MODCONV, .n = N, .cin = CIN, .cout = COUT, .h = RES_IN,           \
     .w = RES_IN, .k = K, .up = UP, .demod = (K) == 3,                                        \
     .noise = (K) == 3 ? FS_NOISE_CONST : FS_NOISE_NONE,                                      \
     .act = (K) == 3 ? FS_ACT_LRELU : FS_ACT_LINEAR, .clamp = 256, .sets = FS_OPC_SG2F_SYNTH}
/* Block b<R>: conv0 up-samples from R/2, conv1 and ToRGB at R. */
#define FS_SG2F_BLOCK(R, CIN, C)                                                                \
    FS_SG2F_MC("sg2f.g.b" #R ".conv0", 2, CIN, C, (R) / 2, 3, 2),                               \
    FS_SG2F_MC("sg2f.g.b" #R ".conv1", 2, C, C, R, 3, 1),                                       \
    FS_SG2F_MC("sg2f.g.b" #R ".torgb", 2, C, 3, R, 1, 1)

/* The same layer with its features in a 16-bit format (docs/precision.md). */
#define FS_SG2F_MCF(nm, N, CIN, COUT, RES_IN, K, UP, FMT)                                      \
    {.name = nm, .op = FS_CASE_MODCONV, .n = N, .cin = CIN, .cout = COUT, .h = RES_IN,           \
     .w = RES_IN, .k = K, .up = UP, .demod = (K) == 3,                                        \
     .noise = (K) == 3 ? FS_NOISE_CONST : FS_NOISE_NONE,                                      \
     .act = (K) == 3 ? FS_ACT_LRELU : FS_ACT_LINEAR, .clamp = 256, .fmt = FMT}
/* The fused ToRGB + skip of block RES (UP 2: with the skip image, 0: b4). */
#define FS_SG2F_TORGB(nm, N, CIN, RES, UP, FMT)                                                 \
    {.name = nm, .op = FS_CASE_TORGB, .n = N, .cin = CIN, .cout = 3, .h = RES, .w = RES,        \
     .up = UP, .clamp = 256, .fmt = FMT}
/* convert_features of N samples, C channels, H x W pixels. */
#define FS_CVT(nm, N, C, H, W, FROM, TO)                                                        \
    {.name = nm, .op = FS_CASE_CONVERT_FEATURES, .n = N, .cin = C, .h = H, .w = W,             \
     .fmt = FROM, .fmt2 = TO}

/* A discriminator conv layer: lrelu, conv_clamp 256; down 2 with the FIR. */
#define FS_SG2F_DCONV(nm, N, CIN, COUT, RES, K, DOWN)                                           \
    {.name = nm, .op = FS_CASE_CONV2D, .n = N, .cin = CIN, .cout = COUT, .h = RES, .w = RES,     \
     .k = K, .down = DOWN, .pad = (K) / 2, .act = FS_ACT_LRELU, .clamp = 256}
/* The resnet skip: 1x1, down 2, no bias, linear, gain sqrt(1/2), no clamp. */
#define FS_SG2F_DSKIP(nm, N, CIN, COUT, RES)                                                    \
    {.name = nm, .op = FS_CASE_CONV2D, .n = N, .cin = CIN, .cout = COUT, .h = RES, .w = RES,     \
     .k = 1, .down = 2, .no_bias = 1, .act = FS_ACT_LINEAR, .gain = 0.70710678f}

/* ---- CVAE-GAN, paper size: width 64, z 256, 1000 identities, 128^2 ------------------------ */

#define FS_CVAE_CONV(nm, N, CIN, COUT, RES, K, STRIDE, PAD, ACT, NOBIAS)                        \
    {.name = nm, .op = FS_CASE_CONV2D, .n = N, .cin = CIN, .cout = COUT, .h = RES, .w = RES,     \
     .k = K, .down = 1, .stride = STRIDE, .pad = PAD, .act = ACT, .wgain = 1,                  \
     .no_bias = NOBIAS}
#define FS_CVAE_DECONV(nm, N, CIN, COUT, RES)                                                   \
    {.name = nm, .op = FS_CASE_CONV_TRANSPOSE2D, .n = N, .cin = CIN, .cout = COUT, .h = RES,     \
     .w = RES, .k = 4, .stride = 2, .pad = 1}
#define FS_CVAE_INORM(nm, N, C, RES, ACT)                                                       \
    {.name = nm, .op = FS_CASE_INSTANCE_NORM, .n = N, .cin = C, .h = RES, .w = RES,              \
     .eps = 1e-5f, .act = ACT}

/* ---- e4e (Encoder4Editing, IR-SE-50 at full width, 256^2 input, 18 styles) ------------------ */

/* A body conv: 3x3 pad 1 or the 1x1 shortcut, no bias, plain weights (the
 * BatchNorm after it folded in at init: it gets a bias then). */
#define FS_E4E_CONV(nm, N, CIN, COUT, RES, K, STRIDE, BIAS)                                     \
    {.name = nm, .op = FS_CASE_CONV2D, .n = N, .cin = CIN, .cout = COUT, .h = RES, .w = RES,     \
     .k = K, .down = 1, .stride = STRIDE, .pad = (K) / 2, .act = FS_ACT_LINEAR, .wgain = 1,     \
     .no_bias = !(BIAS), .tensor_cores = 1}
/* A GradualStyleBlock conv: 3x3 stride 2 pad 1, bias, LeakyReLU(0.01). */
#define FS_E4E_STYLE_CONV(nm, N, C, RES)                                                        \
    {.name = nm, .op = FS_CASE_CONV2D, .n = N, .cin = C, .cout = C, .h = RES, .w = RES, .k = 3,  \
     .down = 1, .stride = 2, .pad = 1, .act = FS_ACT_LEAKY001, .wgain = 1, .tensor_cores = 1}
#define FS_E4E_AFFINE(nm, N, C, RES, PRELU, NOBN)                                               \
    {.name = nm, .op = FS_CASE_CHANNEL_AFFINE, .n = N, .cin = C, .h = RES, .w = RES,             \
     .prelu = PRELU, .no_bias = NOBN}
/* The unit tail: SE with hidden width C / 16, shortcut read with stride S
 * from a plane of (RES - 1) * S + 1 + EXTRA rows. */
#define FS_E4E_SE(nm, N, C, RES, S, EXTRA)                                                      \
    {.name = nm, .op = FS_CASE_SE_RESIDUAL, .n = N, .cin = C, .cout = (C) / 16, .h = RES,        \
     .w = RES, .stride = S, .out_h = EXTRA}

/* ---- identity networks and SimGAN (docs/identity.md, docs/simgan.md) ------------------------ */

/* A plain conv with bias (Light CNN's MFM convs, SimGAN): stride 1 unless
 * stated, "same" padding k / 2. */
#define FS_ID_CONV(nm, N, CIN, COUT, H, W, K, STRIDE, ACT)                                     \
    {.name = nm, .op = FS_CASE_CONV2D, .n = N, .cin = CIN, .cout = COUT, .h = H, .w = W,       \
     .k = K, .down = 1, .stride = STRIDE, .pad = (K) / 2, .act = ACT, .wgain = 1}
/* Light CNN's MFM on C output channels (2C in) and its 2x2 ceil-mode pool. */
#define FS_LCNN_MFM(nm, N, C, RES)                                                              \
    {.name = nm, .op = FS_CASE_MAX_FEATURE_MAP, .n = N, .cin = C, .h = RES, .w = RES}
#define FS_LCNN_POOL(nm, N, C, RES)                                                             \
    {.name = nm, .op = FS_CASE_MAX_POOL2D, .n = N, .cin = C, .h = RES, .w = RES, .k = 2,       \
     .stride = 2, .ceil_mode = 1}

static const fs_op_case fs_op_cases[] = {
    /* StyleGAN2 mapping network (z 512, w 512, 18 ws, lr multiplier 0.01) */
    {.name = "sg2f.map.normalize_z", .op = FS_CASE_NORMALIZE_2ND_MOMENT, .n = 8, .cin = 512},
    {.name = "sg2f.map.fc", .op = FS_CASE_FC, .n = 8, .cin = 512, .cout = 512,
     .act = FS_ACT_LRELU, .wgain = 0.01f / 22.627417f, .bgain = 0.01f},
    {.name = "sg2f.map.fc.b32", .op = FS_CASE_FC, .n = 32, .cin = 512, .cout = 512,
     .act = FS_ACT_LRELU, .wgain = 0.01f / 22.627417f, .bgain = 0.01f},
    {.name = "sg2.map.embed", .op = FS_CASE_FC, .n = 4, .cin = 10, .cout = 512,
     .act = FS_ACT_LINEAR}, /* conditional: the label embedding */
    {.name = "sg2f.map.truncation", .op = FS_CASE_LERP_ROWS, .n = 4, .cin = 512, .rows = 18,
     .row0 = 0, .row1 = 8, .t = 0.7f}, /* psi 0.7, cutoff 8 */
    {.name = "sg2f.map.truncation.all", .op = FS_CASE_LERP_ROWS, .n = 3, .cin = 512, .rows = 18,
     .row0 = 0, .row1 = 18, .t = 0.5f},
    /* w to each of the 18 ws rows (here row 5), the label embedding placed after z */
    {.name = "sg2f.map.ws_broadcast", .op = FS_CASE_COPY_ROWS, .n = 4, .cin = 512,
     .ldd = 18 * 512, .lds = 512, .row0 = 5 * 512},
    {.name = "sg2.map.label_place", .op = FS_CASE_COPY_ROWS, .n = 4, .cin = 512,
     .ldd = 1024, .lds = 512, .row0 = 512},
    /* a synthesis layer's affine: row 5 of each sample's ws */
    {.name = "sg2f.g.affine", .op = FS_CASE_FC, .n = 4, .cin = 512, .cout = 512, .rows = 18,
     .row0 = 5, .act = FS_ACT_LINEAR},

    /* the learned constant of every sample (one row repeated) */
    {.name = "sg2f.g.b4.const", .op = FS_CASE_COPY_ROWS, .n = 4, .cin = 512 * 16,
     .ldd = 512 * 16, .lds = 0},
    /* StyleGAN2 synthesis, every modconv layer of config-f at 1024^2, in network order */
    FS_SG2F_MC("sg2f.g.b4.conv1", 2, 512, 512, 4, 3, 1),
    FS_SG2F_MC("sg2f.g.b4.torgb", 2, 512, 3, 4, 1, 1),
    FS_SG2F_BLOCK(8, 512, 512),
    FS_SG2F_BLOCK(16, 512, 512),
    FS_SG2F_BLOCK(32, 512, 512),
    FS_SG2F_BLOCK(64, 512, 512),
    FS_SG2F_BLOCK(128, 512, 256),
    FS_SG2F_BLOCK(256, 256, 128),
    FS_SG2F_BLOCK(512, 128, 64),
    FS_SG2F_BLOCK(1024, 64, 32),
    /* the same layers with random noise, a clamp that bites, another batch */
    {.name = "sg2f.g.b8.conv1.noise", .op = FS_CASE_MODCONV, .n = 4, .cin = 512, .cout = 512,
     .h = 8, .w = 8, .k = 3, .up = 1, .demod = 1, .noise = FS_NOISE_RANDOM,
     .act = FS_ACT_LRELU, .gain = 0.70710678f},
    {.name = "sg2f.g.b16.conv0.noise", .op = FS_CASE_MODCONV, .n = 2, .cin = 512, .cout = 512,
     .h = 8, .w = 8, .k = 3, .up = 2, .demod = 1, .noise = FS_NOISE_RANDOM,
     .act = FS_ACT_LRELU, .clamp = 256},
    {.name = "sg2f.g.b8.conv1.clamp", .op = FS_CASE_MODCONV, .n = 4, .cin = 512, .cout = 512,
     .h = 8, .w = 8, .k = 3, .up = 1, .demod = 1, .noise = FS_NOISE_CONST,
     .act = FS_ACT_LRELU, .clamp = 0.5f},
    /* Philox noise bit for bit: weight 0, bias 0, so the output is the noise */
    {.name = "sg2.g.noise.exact", .op = FS_CASE_MODCONV, .n = 3, .cin = 4, .cout = 2, .h = 128,
     .w = 128, .k = 3, .up = 1, .demod = 1, .noise = FS_NOISE_RANDOM, .exact = 1},
    {.name = "sg2.g.noise.exact.up", .op = FS_CASE_MODCONV, .n = 3, .cin = 4, .cout = 2, .h = 64,
     .w = 48, .k = 3, .up = 2, .demod = 1, .noise = FS_NOISE_RANDOM, .exact = 1},
    /* skip architecture: the image up-sampling and accumulation */
    {.name = "sg2f.g.b16.img_up", .op = FS_CASE_UPFIRDN2D, .n = 4, .cin = 3, .h = 8, .w = 8,
     .up = 2, .down = 1, .pad = 2, .pad1 = 1, .gain = 4},
    {.name = "sg2f.g.b256.img_up", .op = FS_CASE_UPFIRDN2D, .n = 2, .cin = 3, .h = 128,
     .w = 128, .up = 2, .down = 1, .pad = 2, .pad1 = 1, .gain = 4},
    {.name = "sg2f.g.b256.img_add", .op = FS_CASE_AXPBY, .n = 2, .cin = 3, .h = 256, .w = 256,
     .t = 1, .xs = 1},
    /* resnet architecture: the skip branch (1x1, FIR up, gain sqrt(1/2)) */
    {.name = "sg2f.g.b16.skip", .op = FS_CASE_CONV2D, .n = 2, .cin = 512, .cout = 512, .h = 8,
     .w = 8, .k = 1, .down = 1, .no_bias = 1, .act = FS_ACT_LINEAR},
    {.name = "sg2f.g.b16.skip_up", .op = FS_CASE_UPFIRDN2D, .n = 2, .cin = 512, .h = 8, .w = 8,
     .up = 2, .down = 1, .pad = 2, .pad1 = 1, .gain = 4},
    {.name = "sg2f.g.b16.skip_gain", .op = FS_CASE_BIAS_ACT, .n = 2, .cin = 512, .h = 16,
     .w = 16, .no_bias = 1, .act = FS_ACT_LINEAR, .gain = 0.70710678f},
    {.name = "sg2f.g.b16.skip_add", .op = FS_CASE_AXPBY, .n = 2, .cin = 512, .h = 16, .w = 16,
     .t = 1, .xs = 1},

    /* StyleGAN2 config-f discriminator (resnet) */
    FS_SG2F_DCONV("sg2f.d.b1024.fromrgb", 2, 3, 32, 1024, 1, 1),
    FS_SG2F_DCONV("sg2f.d.b1024.conv0", 2, 32, 32, 1024, 3, 1),
    FS_SG2F_DCONV("sg2f.d.b1024.conv1", 2, 32, 64, 1024, 3, 2),
    FS_SG2F_DSKIP("sg2f.d.b1024.skip", 2, 32, 64, 1024),
    FS_SG2F_DCONV("sg2f.d.b128.conv0", 2, 256, 256, 128, 3, 1),
    FS_SG2F_DCONV("sg2f.d.b128.conv1", 2, 256, 512, 128, 3, 2),
    FS_SG2F_DSKIP("sg2f.d.b128.skip", 2, 256, 512, 128),
    FS_SG2F_DCONV("sg2f.d.b32.conv1", 2, 512, 512, 32, 3, 2),
    FS_SG2F_DSKIP("sg2f.d.b32.skip", 2, 512, 512, 32),
    FS_SG2F_DCONV("sg2f.d.b16.conv0", 2, 512, 512, 16, 3, 1),
    FS_SG2F_DCONV("sg2f.d.b16.conv1", 2, 512, 512, 16, 3, 2),
    FS_SG2F_DSKIP("sg2f.d.b16.skip", 2, 512, 512, 16),
    FS_SG2F_DCONV("sg2f.d.b8.conv0", 4, 512, 512, 8, 3, 1),
    FS_SG2F_DCONV("sg2f.d.b8.conv1", 4, 512, 512, 8, 3, 2),
    FS_SG2F_DSKIP("sg2f.d.b8.skip", 4, 512, 512, 8),
    {.name = "sg2f.d.b8.res_add", .op = FS_CASE_AXPBY, .n = 4, .cin = 512, .h = 4, .w = 4,
     .t = 1, .xs = 1},
    /* skip architecture: the image down-sampling */
    {.name = "sg2.d.b64.img_down", .op = FS_CASE_UPFIRDN2D, .n = 2, .cin = 3, .h = 64, .w = 64,
     .up = 1, .down = 2, .pad = 1, .pad1 = 1, .gain = 1},
    /* epilogue: minibatch std (group 4), b4.conv on 513 channels, fc, out, projection */
    {.name = "sg2f.d.b4.mbstd", .op = FS_CASE_MBSTD, .n = 4, .cin = 512, .h = 4, .w = 4,
     .group = 4, .f = 1},
    {.name = "sg2f.d.b4.mbstd.b8", .op = FS_CASE_MBSTD, .n = 8, .cin = 512, .h = 4, .w = 4,
     .group = 4, .f = 1},
    {.name = "sg2f.d.b4.mbstd.b32", .op = FS_CASE_MBSTD, .n = 32, .cin = 512, .h = 4, .w = 4,
     .group = 4, .f = 1},
    {.name = "sg2f.d.b4.mbstd.g2", .op = FS_CASE_MBSTD, .n = 4, .cin = 512, .h = 4, .w = 4,
     .group = 2, .f = 1},
    FS_SG2F_DCONV("sg2f.d.b4.conv", 4, 513, 512, 4, 3, 1),
    {.name = "sg2f.d.b4.fc", .op = FS_CASE_FC, .n = 4, .cin = 8192, .cout = 512,
     .act = FS_ACT_LRELU},
    {.name = "sg2f.d.b4.out", .op = FS_CASE_FC, .n = 4, .cin = 512, .cout = 1,
     .act = FS_ACT_LINEAR},
    {.name = "sg2f.d.b4.out.cmap", .op = FS_CASE_FC, .n = 4, .cin = 512, .cout = 512,
     .act = FS_ACT_LINEAR},
    {.name = "sg2f.d.project", .op = FS_CASE_PROJECT, .n = 4, .cin = 512,
     .gain = 0.04419417f}, /* 1 / sqrt(cmap_dim) */

    /* CVAE-GAN encoder (n 2) */
    FS_CVAE_CONV("cvae.enc.stem_conv", 2, 3, 64, 128, 3, 1, 1, FS_ACT_LINEAR, 1),
    FS_CVAE_INORM("cvae.enc.stem_norm", 2, 64, 128, FS_ACT_RELU),
    FS_CVAE_CONV("cvae.enc.b0.conv1", 2, 64, 128, 128, 3, 2, 1, FS_ACT_LINEAR, 1),
    FS_CVAE_INORM("cvae.enc.b0.norm1", 2, 128, 64, FS_ACT_RELU),
    FS_CVAE_CONV("cvae.enc.b0.conv2", 2, 128, 128, 64, 3, 1, 1, FS_ACT_LINEAR, 1),
    FS_CVAE_INORM("cvae.enc.b0.norm2", 2, 128, 64, FS_ACT_LINEAR),
    FS_CVAE_CONV("cvae.enc.b0.skip", 2, 64, 128, 128, 1, 2, 0, FS_ACT_LINEAR, 1),
    {.name = "cvae.enc.b0.add", .op = FS_CASE_AXPBY, .n = 2, .cin = 128, .h = 64, .w = 64,
     .t = 1, .xs = 1},
    {.name = "cvae.enc.b0.relu", .op = FS_CASE_BIAS_ACT, .n = 1, .cin = 1, .h = 1,
     .w = 2 * 128 * 64 * 64, .no_bias = 1, .act = FS_ACT_RELU},
    FS_CVAE_CONV("cvae.enc.b3.conv1", 2, 512, 512, 16, 3, 2, 1, FS_ACT_LINEAR, 1),
    FS_CVAE_CONV("cvae.enc.b3.conv2", 2, 512, 512, 8, 3, 1, 1, FS_ACT_LINEAR, 1),
    {.name = "cvae.enc.fc_mu", .op = FS_CASE_FC, .n = 2, .cin = 512 * 8 * 8, .cout = 256,
     .act = FS_ACT_LINEAR, .wgain = 1},
    /* generator */
    {.name = "cvae.gen.fc", .op = FS_CASE_FC, .n = 2, .cin = 256 + 1000, .cout = 4 * 512,
     .act = FS_ACT_RELU, .wgain = 1},
    FS_CVAE_DECONV("cvae.gen.deconv0", 2, 512, 512, 2),
    FS_CVAE_INORM("cvae.gen.norm0", 2, 512, 4, FS_ACT_RELU),
    FS_CVAE_DECONV("cvae.gen.deconv3", 2, 128, 64, 16),
    FS_CVAE_INORM("cvae.gen.norm3", 2, 64, 32, FS_ACT_RELU),
    FS_CVAE_DECONV("cvae.gen.deconv5", 2, 32, 3, 64),
    {.name = "cvae.gen.tanh", .op = FS_CASE_BIAS_ACT, .n = 1, .cin = 1, .h = 1,
     .w = 2 * 3 * 128 * 128, .no_bias = 1, .act = FS_ACT_TANH},
    /* discriminators D1 (128^2) and D2 (the 64^2 average) */
    FS_CVAE_CONV("cvae.d1.conv0", 2, 3, 64, 128, 4, 2, 1, FS_ACT_LEAKY001, 0),
    FS_CVAE_CONV("cvae.d1.conv3", 2, 512, 1024, 16, 4, 2, 1, FS_ACT_LEAKY001, 0),
    FS_CVAE_CONV("cvae.d1.conv5", 2, 1024, 2048, 4, 4, 2, 1, FS_ACT_LEAKY001, 0),
    FS_CVAE_CONV("cvae.d1.src", 2, 2048, 1, 2, 3, 1, 1, FS_ACT_LINEAR, 1),
    FS_CVAE_CONV("cvae.d1.cls", 2, 2048, 1000, 2, 2, 1, 0, FS_ACT_LINEAR, 1), /* k = h */
    {.name = "cvae.d2.pool", .op = FS_CASE_AVG_POOL2D, .n = 2, .cin = 3, .h = 128, .w = 128,
     .k = 3, .stride = 2, .pad = 1},
    /* e4e: input layer, the first unit of each stage (stride 2), a stride-1 unit, the FPN
     * and the style heads (coarse on c3 16^2, fine on p1 64^2) */
    FS_E4E_CONV("e4e.input.conv", 1, 3, 64, 256, 3, 1, 1),
    FS_E4E_AFFINE("e4e.input.prelu", 1, 64, 256, 1, 1),
    FS_E4E_AFFINE("e4e.b0.bn0", 1, 64, 256, 0, 0),
    FS_E4E_CONV("e4e.b0.conv1", 1, 64, 64, 256, 3, 1, 0),
    FS_E4E_AFFINE("e4e.b0.prelu", 1, 64, 256, 1, 1),
    FS_E4E_CONV("e4e.b0.conv2", 1, 64, 64, 256, 3, 2, 1),
    FS_E4E_SE("e4e.b0.se.maxpool", 1, 64, 128, 2, 1),
    FS_E4E_AFFINE("e4e.b3.bn0", 2, 64, 128, 0, 0),
    FS_E4E_CONV("e4e.b3.conv1", 1, 64, 128, 128, 3, 1, 0),
    FS_E4E_CONV("e4e.b3.shortcut", 2, 64, 128, 128, 1, 2, 1),
    FS_E4E_SE("e4e.b3.se", 2, 128, 64, 1, 0),
    FS_E4E_CONV("e4e.b8.conv1", 2, 256, 256, 32, 3, 1, 0),
    FS_E4E_AFFINE("e4e.b8.prelu", 2, 256, 32, 1, 1),
    FS_E4E_SE("e4e.b8.se", 2, 256, 32, 1, 0),
    FS_E4E_CONV("e4e.b21.conv2", 2, 512, 512, 32, 3, 2, 1),
    FS_E4E_SE("e4e.b23.se", 4, 512, 16, 1, 0),
    FS_E4E_CONV("e4e.latlayer1", 2, 256, 512, 32, 1, 1, 1),
    {.name = "e4e.fpn.p2", .op = FS_CASE_UPSAMPLE_ADD, .n = 2, .cin = 512, .h = 16, .w = 16,
     .out_h = 32, .out_w = 32},
    {.name = "e4e.fpn.p1", .op = FS_CASE_UPSAMPLE_ADD, .n = 2, .cin = 512, .h = 32, .w = 32,
     .out_h = 64, .out_w = 64},
    FS_E4E_STYLE_CONV("e4e.style.coarse.conv0", 2, 512, 16),
    FS_E4E_STYLE_CONV("e4e.style.fine.conv0", 1, 512, 64),
    FS_E4E_STYLE_CONV("e4e.style.fine.conv5", 4, 512, 2),
    {.name = "e4e.style.linear", .op = FS_CASE_FC, .n = 4, .cin = 512, .cout = 512,
     .act = FS_ACT_LINEAR}, /* EqualLinear: 1 / sqrt(512), lr_mul 1 */
    /* the codes: w0 + delta, + latent_avg broadcast over the batch */
    {.name = "e4e.codes.delta_add", .op = FS_CASE_AXPBY, .n = 4, .cin = 1, .h = 1, .w = 512,
     .t = 1, .xs = 1},
    {.name = "e4e.codes.latent_avg", .op = FS_CASE_BIAS_ACT, .n = 4, .cin = 512, .h = 1,
     .w = 1, .act = FS_ACT_LINEAR},

    /* Light CNN-9 at 128^2 (the released widths): features.0, the first group, fc1/fc2 */
    FS_ID_CONV("lcnn.f0.conv", 2, 1, 96, 128, 128, 5, 1, FS_ACT_LINEAR),
    FS_LCNN_MFM("lcnn.f0.mfm", 2, 48, 128),
    FS_LCNN_POOL("lcnn.f1.pool", 2, 48, 128),
    FS_ID_CONV("lcnn.f2.conv_a", 2, 48, 96, 64, 64, 1, 1, FS_ACT_LINEAR),
    FS_LCNN_MFM("lcnn.f2.conv_a.mfm", 2, 48, 64),
    FS_ID_CONV("lcnn.f2.conv", 2, 48, 192, 64, 64, 3, 1, FS_ACT_LINEAR),
    FS_LCNN_MFM("lcnn.f2.mfm", 2, 96, 64),
    FS_LCNN_POOL("lcnn.f3.pool", 2, 96, 64),
    FS_ID_CONV("lcnn.f4.conv", 2, 96, 384, 32, 32, 3, 1, FS_ACT_LINEAR),
    FS_ID_CONV("lcnn.f7.conv", 4, 128, 256, 16, 16, 3, 1, FS_ACT_LINEAR),
    FS_LCNN_POOL("lcnn.f8.pool", 4, 128, 16),
    {.name = "lcnn.fc1", .op = FS_CASE_FC, .n = 4, .cin = 8192, .cout = 512,
     .act = FS_ACT_LINEAR, .wgain = 1},
    FS_LCNN_MFM("lcnn.fc1.mfm", 4, 256, 1),
    {.name = "lcnn.fc2.released", .op = FS_CASE_FC, .n = 4, .cin = 256, .cout = 79077,
     .act = FS_ACT_LINEAR, .wgain = 1}, /* the released 79,077-class head: heavy */
    /* ArcFace IR-SE-50 at 112^2 (the trunk's ops are the e4e cases): pSp's ID-loss crop
     * and pool, the input conv, the output layer (BN2d, linear, BN1d) */
    {.name = "arcface.id_loss.crop_pool", .op = FS_CASE_ADAPTIVE_AVG_POOL2D, .n = 2, .cin = 3,
     .h = 256, .w = 256, .win_y0 = 35, .win_x0 = 32, .win_h = 188, .win_w = 188, .out_h = 112,
     .out_w = 112},
    {.name = "arcface.face_pool.1024", .op = FS_CASE_ADAPTIVE_AVG_POOL2D, .n = 1, .cin = 3,
     .h = 1024, .w = 1024, .out_h = 256, .out_w = 256}, /* pSp's face_pool */
    FS_E4E_CONV("arcface.input.conv", 2, 3, 64, 112, 3, 1, 1),
    FS_E4E_AFFINE("arcface.out.bn2d", 4, 512, 7, 0, 0),
    {.name = "arcface.out.linear", .op = FS_CASE_FC, .n = 4, .cin = 25088, .cout = 512,
     .act = FS_ACT_LINEAR, .wgain = 1},
    FS_E4E_AFFINE("arcface.out.bn1d", 4, 512, 1, 0, 0),
    /* SimGAN (docs/simgan.md): the refiner and the local discriminator on 64^2 colour
     * faces, and the paper's 35 x 55 gray eyes */
    FS_ID_CONV("simgan.r.conv_in", 2, 3, 64, 64, 64, 3, 1, FS_ACT_RELU),
    FS_ID_CONV("simgan.r.block.conv2", 2, 64, 64, 64, 64, 3, 1, FS_ACT_LINEAR),
    {.name = "simgan.r.block.add", .op = FS_CASE_AXPBY, .n = 2, .cin = 64, .h = 64, .w = 64,
     .t = 1, .xs = 1},
    {.name = "simgan.r.block.relu", .op = FS_CASE_BIAS_ACT, .n = 2, .cin = 64, .h = 64,
     .w = 64, .no_bias = 1, .act = FS_ACT_RELU},
    FS_ID_CONV("simgan.r.conv_out", 2, 64, 3, 64, 64, 1, 1, FS_ACT_TANH),
    FS_ID_CONV("simgan.d.conv1", 2, 3, 96, 64, 64, 3, 2, FS_ACT_RELU),
    FS_ID_CONV("simgan.d.conv2", 2, 96, 64, 32, 32, 3, 2, FS_ACT_RELU),
    {.name = "simgan.d.pool", .op = FS_CASE_MAX_POOL2D, .n = 2, .cin = 64, .h = 16, .w = 16,
     .k = 3, .stride = 1, .pad = 1},
    FS_ID_CONV("simgan.d.conv3", 2, 64, 32, 16, 16, 3, 1, FS_ACT_RELU),
    FS_ID_CONV("simgan.d.conv5", 2, 32, 2, 16, 16, 1, 1, FS_ACT_LINEAR),
    FS_ID_CONV("simgan.gray.r.conv_in", 3, 1, 64, 35, 55, 3, 1, FS_ACT_RELU),
    FS_ID_CONV("simgan.gray.d.conv1", 3, 1, 96, 35, 55, 3, 2, FS_ACT_RELU),
    {.name = "simgan.gray.d.pool", .op = FS_CASE_MAX_POOL2D, .n = 3, .cin = 64, .h = 9,
     .w = 14, .k = 3, .stride = 1, .pad = 1},

    /* the output images */
    {.name = "sg2f.to_uint8.b1024", .op = FS_CASE_TO_UINT8, .n = 1, .cin = 3, .h = 1024,
     .w = 1024},
    {.name = "cvae.to_uint8", .op = FS_CASE_TO_UINT8, .n = 3, .cin = 3, .h = 128, .w = 128},

    /* odd shapes: tails of every tile, non-square planes, every activation */
    {.name = "odd.modconv.nonsquare", .op = FS_CASE_MODCONV, .n = 3, .cin = 5, .cout = 7, .h = 6,
     .w = 5, .k = 3, .up = 1, .demod = 1, .noise = FS_NOISE_CONST, .act = FS_ACT_TANH,
     .gain = 1.3f},
    {.name = "odd.modconv.up.randfir", .op = FS_CASE_MODCONV, .n = 3, .cin = 5, .cout = 7,
     .h = 6, .w = 5, .k = 3, .up = 2, .demod = 1, .noise = FS_NOISE_RANDOM,
     .act = FS_ACT_RELU, .random_fir = 1},
    {.name = "odd.modconv.up.sepfir", .op = FS_CASE_MODCONV, .n = 2, .cin = 8, .cout = 6,
     .h = 5, .w = 7, .k = 3, .up = 2, .demod = 1, .noise = FS_NOISE_CONST,
     .act = FS_ACT_LRELU, .random_fir = 2},
    {.name = "odd.modconv.up.nodemod", .op = FS_CASE_MODCONV, .n = 2, .cin = 32, .cout = 48,
     .h = 12, .w = 12, .k = 3, .up = 2, .demod = 0, .noise = FS_NOISE_NONE,
     .act = FS_ACT_LRELU},
    {.name = "odd.modconv.k1.demod", .op = FS_CASE_MODCONV, .n = 4, .cin = 17, .cout = 20,
     .h = 9, .w = 9, .k = 1, .up = 1, .demod = 1, .noise = FS_NOISE_CONST,
     .act = FS_ACT_LEAKY001, .gain = 0.9f, .clamp = 0.3f},
    {.name = "odd.fc.relu", .op = FS_CASE_FC, .n = 3, .cin = 37, .cout = 7, .act = FS_ACT_RELU,
     .wgain = 0.5f, .no_bias = 1},
    {.name = "odd.fc.tanh", .op = FS_CASE_FC, .n = 5, .cin = 300, .cout = 100,
     .act = FS_ACT_TANH, .wgain = 0.1f, .bgain = 2, .gain = 1.5f, .clamp = 0.6f},
    {.name = "odd.fc.leaky", .op = FS_CASE_FC, .n = 4, .cin = 64, .cout = 33,
     .act = FS_ACT_LEAKY001, .wgain = 0.2f},
    {.name = "odd.conv2d.down.randfir", .op = FS_CASE_CONV2D, .n = 2, .cin = 16, .cout = 24,
     .h = 9, .w = 11, .k = 3, .down = 2, .random_fir = 1, .act = FS_ACT_TANH, .gain = 1.1f,
     .clamp = 0.9f},
    {.name = "odd.conv2d.down.sepfir", .op = FS_CASE_CONV2D, .n = 2, .cin = 16, .cout = 8,
     .h = 11, .w = 9, .k = 3, .down = 2, .random_fir = 2, .act = FS_ACT_LRELU},
    {.name = "odd.conv2d.skip.sepfir", .op = FS_CASE_CONV2D, .n = 2, .cin = 16, .cout = 8,
     .h = 8, .w = 12, .k = 1, .down = 2, .random_fir = 2, .act = FS_ACT_LINEAR},
    {.name = "odd.conv2d.skip.randfir", .op = FS_CASE_CONV2D, .n = 2, .cin = 16, .cout = 24,
     .h = 10, .w = 6, .k = 1, .down = 2, .random_fir = 1, .act = FS_ACT_RELU},
    {.name = "odd.conv2d.stride3", .op = FS_CASE_CONV2D, .n = 2, .cin = 7, .cout = 9, .h = 13,
     .w = 13, .k = 5, .down = 1, .stride = 3, .pad = 2, .act = FS_ACT_LRELU},
    {.name = "odd.conv2d.nonsquare", .op = FS_CASE_CONV2D, .n = 3, .cin = 8, .cout = 16,
     .h = 12, .w = 10, .k = 3, .down = 1, .stride = 2, .pad = 1, .act = FS_ACT_LINEAR,
     .wgain = 1, .no_bias = 1},
    {.name = "odd.conv2d.k_eq_h", .op = FS_CASE_CONV2D, .n = 3, .cin = 32, .cout = 5, .h = 4,
     .w = 4, .k = 4, .down = 1, .stride = 1, .pad = 0, .act = FS_ACT_LINEAR, .wgain = 1,
     .no_bias = 1},
    {.name = "odd.upfirdn2d.updown", .op = FS_CASE_UPFIRDN2D, .n = 5, .cin = 1, .h = 9, .w = 7,
     .up = 2, .down = 2, .pad = 1, .pad1 = 2, .fir_len = 3, .random_fir = 1, .gain = 2},
    {.name = "odd.upfirdn2d.up.sepfir", .op = FS_CASE_UPFIRDN2D, .n = 2, .cin = 3, .h = 9,
     .w = 7, .up = 2, .down = 1, .pad = 2, .pad1 = 1, .random_fir = 2, .gain = 4},
    {.name = "odd.upfirdn2d.down.sepfir", .op = FS_CASE_UPFIRDN2D, .n = 2, .cin = 3, .h = 12,
     .w = 10, .up = 1, .down = 2, .pad = 1, .pad1 = 1, .random_fir = 2, .gain = 1},
    {.name = "odd.upfirdn2d.crop", .op = FS_CASE_UPFIRDN2D, .n = 4, .cin = 1, .h = 16, .w = 12,
     .up = 1, .down = 1, .pad = -1, .pad1 = 0, .random_fir = 1, .gain = 1},
    {.name = "odd.upfirdn2d.up3", .op = FS_CASE_UPFIRDN2D, .n = 3, .cin = 1, .h = 10, .w = 10,
     .up = 3, .down = 1, .pad = 2, .pad1 = 2, .fir_len = 5, .random_fir = 1, .gain = 1.5f},
    {.name = "odd.deconv.k_lt_stride", .op = FS_CASE_CONV_TRANSPOSE2D, .n = 2, .cin = 8,
     .cout = 6, .h = 5, .w = 7, .k = 2, .stride = 3, .pad = 0}, /* a phase gets only the bias */
    {.name = "odd.deconv.k5s3", .op = FS_CASE_CONV_TRANSPOSE2D, .n = 2, .cin = 8, .cout = 6,
     .h = 5, .w = 4, .k = 5, .stride = 3, .pad = 2},
    {.name = "odd.deconv.s1.nobias", .op = FS_CASE_CONV_TRANSPOSE2D, .n = 3, .cin = 12,
     .cout = 10, .h = 4, .w = 4, .k = 3, .stride = 1, .pad = 1, .no_bias = 1},
    {.name = "odd.deconv.modconv_geometry", .op = FS_CASE_CONV_TRANSPOSE2D, .n = 2, .cin = 40,
     .cout = 20, .h = 6, .w = 6, .k = 3, .stride = 2, .pad = 0},
    {.name = "odd.bias_act.lrelu.clamp", .op = FS_CASE_BIAS_ACT, .n = 2, .cin = 64, .h = 33,
     .w = 33, .act = FS_ACT_LRELU, .clamp = 0.8f},
    {.name = "odd.bias_act.relu", .op = FS_CASE_BIAS_ACT, .n = 2, .cin = 64, .h = 33, .w = 33,
     .act = FS_ACT_RELU, .gain = 1.3f},
    {.name = "odd.bias_act.leaky.clamp", .op = FS_CASE_BIAS_ACT, .n = 2, .cin = 64, .h = 33,
     .w = 33, .act = FS_ACT_LEAKY001, .gain = 1.3f, .clamp = 0.8f},
    {.name = "odd.bias_act.tanh", .op = FS_CASE_BIAS_ACT, .n = 2, .cin = 64, .h = 33, .w = 33,
     .act = FS_ACT_TANH, .gain = 1.3f, .no_bias = 1},
    {.name = "odd.bias_act.flat", .op = FS_CASE_BIAS_ACT, .n = 1, .cin = 1, .h = 1,
     .w = 100003, .act = FS_ACT_LRELU, .no_bias = 1},
    {.name = "odd.axpby", .op = FS_CASE_AXPBY, .n = 1, .cin = 1, .h = 1, .w = 1000003,
     .t = 0.7f, .xs = -1.3f},
    {.name = "odd.normalize", .op = FS_CASE_NORMALIZE_2ND_MOMENT, .n = 3, .cin = 7},
    {.name = "odd.lerp_rows", .op = FS_CASE_LERP_ROWS, .n = 4, .cin = 64, .rows = 6, .row0 = 2,
     .row1 = 3, .t = -0.3f},
    {.name = "odd.mbstd.f2", .op = FS_CASE_MBSTD, .n = 6, .cin = 16, .h = 4, .w = 4, .group = 3,
     .f = 2},
    {.name = "odd.mbstd.group0", .op = FS_CASE_MBSTD, .n = 2, .cin = 64, .h = 4, .w = 4,
     .group = 0, .f = 1}, /* group 0: the whole batch */
    {.name = "odd.mbstd.f4", .op = FS_CASE_MBSTD, .n = 8, .cin = 32, .h = 8, .w = 8, .group = 4,
     .f = 4},
    {.name = "odd.project", .op = FS_CASE_PROJECT, .n = 3, .cin = 17, .gain = 0.5f},
    {.name = "odd.avg_pool2d.k2", .op = FS_CASE_AVG_POOL2D, .n = 3, .cin = 1, .h = 7, .w = 9,
     .k = 2, .stride = 1, .pad = 1},
    {.name = "odd.avg_pool2d.k3s3", .op = FS_CASE_AVG_POOL2D, .n = 2, .cin = 1, .h = 10,
     .w = 10, .k = 3, .stride = 3, .pad = 0},
    {.name = "odd.instance_norm.tiny", .op = FS_CASE_INSTANCE_NORM, .n = 3, .cin = 8, .h = 2,
     .w = 2, .eps = 1e-5f, .act = FS_ACT_LINEAR},
    {.name = "odd.instance_norm.plain", .op = FS_CASE_INSTANCE_NORM, .n = 2, .cin = 4, .h = 33,
     .w = 33, .eps = 1e-3f, .act = FS_ACT_TANH, .no_bias = 1},
    {.name = "odd.to_uint8", .op = FS_CASE_TO_UINT8, .n = 2, .cin = 1, .h = 5, .w = 7},
    {.name = "odd.to_uint8.c4", .op = FS_CASE_TO_UINT8, .n = 1, .cin = 4, .h = 33, .w = 17},
    {.name = "odd.copy_rows", .op = FS_CASE_COPY_ROWS, .n = 7, .cin = 13, .ldd = 29, .lds = 17,
     .row0 = 3},
    {.name = "odd.channel_affine.bn_prelu", .op = FS_CASE_CHANNEL_AFFINE, .n = 3, .cin = 5, .h = 7,
     .w = 9, .prelu = 1},
    {.name = "odd.channel_affine.flat", .op = FS_CASE_CHANNEL_AFFINE, .n = 1, .cin = 3, .h = 1,
     .w = 40000}, /* planes longer than one CPU task */
    {.name = "odd.se_residual.s2", .op = FS_CASE_SE_RESIDUAL, .n = 3, .cin = 16, .cout = 1,
     .h = 4, .w = 5, .stride = 2, .out_h = 0}, /* odd shortcut planes: 7 x 9 */
    {.name = "odd.se_residual.wide", .op = FS_CASE_SE_RESIDUAL, .n = 2, .cin = 24, .cout = 7,
     .h = 3, .w = 200, .stride = 1, .out_h = 2}, /* shortcut larger than read */
    {.name = "odd.upsample_add.nonsquare", .op = FS_CASE_UPSAMPLE_ADD, .n = 2, .cin = 3, .h = 5,
     .w = 7, .out_h = 9, .out_w = 13},
    {.name = "odd.upsample_add.from1", .op = FS_CASE_UPSAMPLE_ADD, .n = 2, .cin = 2, .h = 1,
     .w = 3, .out_h = 4, .out_w = 1}, /* a single row in, a single column out */
    {.name = "odd.upsample_add.shrink", .op = FS_CASE_UPSAMPLE_ADD, .n = 1, .cin = 4, .h = 9,
     .w = 10, .out_h = 4, .out_w = 7},
    {.name = "odd.max_feature_map.flat", .op = FS_CASE_MAX_FEATURE_MAP, .n = 3, .cin = 7,
     .h = 1, .w = 40001}, /* planes longer than one CPU task */
    {.name = "odd.max_pool2d.ceil", .op = FS_CASE_MAX_POOL2D, .n = 2, .cin = 3, .h = 7, .w = 9,
     .k = 3, .stride = 2, .pad = 1, .ceil_mode = 1},
    {.name = "odd.max_pool2d.ceil_dropped", .op = FS_CASE_MAX_POOL2D, .n = 1, .cin = 2, .h = 5,
     .w = 6, .k = 2, .stride = 2, .pad = 1, .ceil_mode = 1}, /* a last window in the padding */
    {.name = "odd.max_pool2d.floor", .op = FS_CASE_MAX_POOL2D, .n = 2, .cin = 2, .h = 11,
     .w = 4, .k = 4, .stride = 3, .pad = 2},
    {.name = "odd.adaptive_avg_pool2d.grow", .op = FS_CASE_ADAPTIVE_AVG_POOL2D, .n = 2,
     .cin = 2, .h = 5, .w = 3, .out_h = 7, .out_w = 8}, /* overlapping one-pixel windows */
    {.name = "odd.adaptive_avg_pool2d.window", .op = FS_CASE_ADAPTIVE_AVG_POOL2D, .n = 1,
     .cin = 3, .h = 30, .w = 41, .win_y0 = 3, .win_x0 = 7, .win_h = 25, .win_w = 17,
     .out_h = 6, .out_w = 5},
    /* blend (facesynth mixup): n image pairs of h x w x cin bytes, one weight per pair */
    {.name = "mixup.blend.arcface112", .op = FS_CASE_BLEND, .n = 8, .cin = 3, .h = 112,
     .w = 112},
    {.name = "mixup.blend.sg2.256", .op = FS_CASE_BLEND, .n = 4, .cin = 3, .h = 256, .w = 256},
    {.name = "mixup.blend.sg2.1024", .op = FS_CASE_BLEND, .n = 1, .cin = 3, .h = 1024,
     .w = 1024},
    {.name = "odd.blend.tiny", .op = FS_CASE_BLEND, .n = 5, .cin = 1, .h = 1, .w = 7},
    {.name = "odd.blend.spans", .op = FS_CASE_BLEND, .n = 3, .cin = 1, .h = 1, .w = 65537 * 2},

    /* CUDA v2 (docs/precision.md): modconv in the 16-bit NHWC formats, the
     * styles op, the fused ToRGB + skip, format conversions */
    FS_SG2F_MCF("sg2f.g.b8.conv1.f16", 2, 512, 512, 8, 3, 1, FS_FEAT_F16_NHWC),
    FS_SG2F_MCF("sg2f.g.b16.conv0.f16", 2, 512, 512, 8, 3, 2, FS_FEAT_F16_NHWC),
    FS_SG2F_MCF("sg2f.g.b64.torgb.f16", 2, 512, 3, 64, 1, 1, FS_FEAT_F16_NHWC),
    FS_SG2F_MCF("sg2f.g.b8.conv1.bf16", 2, 512, 512, 8, 3, 1, FS_FEAT_BF16_NHWC),
    FS_SG2F_MCF("sg2f.g.b16.conv0.bf16", 2, 512, 512, 8, 3, 2, FS_FEAT_BF16_NHWC),
    FS_SG2F_MCF("sg2f.g.b64.torgb.bf16", 2, 512, 3, 64, 1, 1, FS_FEAT_BF16_NHWC),
    FS_SG2F_MCF("sg2f.g.b128.conv0.f16", 2, 512, 256, 64, 3, 2, FS_FEAT_F16_NHWC),
    FS_SG2F_MCF("sg2f.g.b256.conv1.f16", 2, 128, 128, 256, 3, 1, FS_FEAT_F16_NHWC),
    FS_SG2F_MCF("sg2f.g.b1024.conv0.bf16", 2, 64, 32, 512, 3, 2, FS_FEAT_BF16_NHWC),
    FS_SG2F_MCF("sg2f.g.b1024.conv1.f16", 2, 32, 32, 1024, 3, 1, FS_FEAT_F16_NHWC),
    {.name = "sg2f.g.b8.conv1.noise.f16", .op = FS_CASE_MODCONV, .n = 4, .cin = 512,
     .cout = 512, .h = 8, .w = 8, .k = 3, .up = 1, .demod = 1, .noise = FS_NOISE_RANDOM,
     .act = FS_ACT_LRELU, .gain = 0.70710678f, .clamp = 256, .fmt = FS_FEAT_F16_NHWC,
     .dcoef = 1},
    {.name = "sg2f.g.b16.conv0.noise.bf16", .op = FS_CASE_MODCONV, .n = 2, .cin = 512,
     .cout = 512, .h = 8, .w = 8, .k = 3, .up = 2, .demod = 1, .noise = FS_NOISE_RANDOM,
     .act = FS_ACT_LRELU, .clamp = 256, .fmt = FS_FEAT_BF16_NHWC, .dcoef = 1},
    {.name = "sg2f.g.b8.conv1.dcoef", .op = FS_CASE_MODCONV, .n = 4, .cin = 512, .cout = 512,
     .h = 8, .w = 8, .k = 3, .up = 1, .demod = 1, .noise = FS_NOISE_CONST,
     .act = FS_ACT_LRELU, .clamp = 256, .dcoef = 1}, /* float32 with the styles op's d */
    {.name = "sg2f.g.b16.conv1.range.f16", .op = FS_CASE_MODCONV, .n = 2, .cin = 512,
     .cout = 512, .h = 16, .w = 16, .k = 3, .up = 1, .demod = 1, .noise = FS_NOISE_CONST,
     .act = FS_ACT_LRELU, .clamp = 256, .fmt = FS_FEAT_F16_NHWC, .srange = 300},
    {.name = "sg2.g.noise.exact.f16", .op = FS_CASE_MODCONV, .n = 3, .cin = 4, .cout = 2,
     .h = 128, .w = 128, .k = 3, .up = 1, .demod = 1, .noise = FS_NOISE_RANDOM, .exact = 1,
     .fmt = FS_FEAT_F16_NHWC},
    {.name = "sg2.g.noise.exact.up.bf16", .op = FS_CASE_MODCONV, .n = 3, .cin = 4, .cout = 2,
     .h = 64, .w = 48, .k = 3, .up = 2, .demod = 1, .noise = FS_NOISE_RANDOM, .exact = 1,
     .fmt = FS_FEAT_BF16_NHWC},
    {.name = "odd.modconv.nonsquare.bf16", .op = FS_CASE_MODCONV, .n = 3, .cin = 5, .cout = 7,
     .h = 6, .w = 5, .k = 3, .up = 1, .demod = 1, .noise = FS_NOISE_CONST, .act = FS_ACT_TANH,
     .gain = 1.3f, .fmt = FS_FEAT_BF16_NHWC},
    {.name = "odd.modconv.up.randfir.f16", .op = FS_CASE_MODCONV, .n = 3, .cin = 5, .cout = 7,
     .h = 6, .w = 5, .k = 3, .up = 2, .demod = 1, .noise = FS_NOISE_RANDOM,
     .act = FS_ACT_RELU, .random_fir = 1, .fmt = FS_FEAT_F16_NHWC},
    {.name = "odd.modconv.up.nodemod.bf16", .op = FS_CASE_MODCONV, .n = 2, .cin = 32,
     .cout = 48, .h = 12, .w = 12, .k = 3, .up = 2, .demod = 0, .noise = FS_NOISE_NONE,
     .act = FS_ACT_LRELU, .fmt = FS_FEAT_BF16_NHWC},
    {.name = "odd.modconv.k1.demod.f16", .op = FS_CASE_MODCONV, .n = 4, .cin = 17, .cout = 20,
     .h = 9, .w = 9, .k = 1, .up = 1, .demod = 1, .noise = FS_NOISE_CONST,
     .act = FS_ACT_LEAKY001, .gain = 0.9f, .clamp = 0.3f, .fmt = FS_FEAT_F16_NHWC,
     .dcoef = 1},
    /* styles: the tiny fixture's network, a 64^2 one of width 256, config-f 1024^2 (GPU),
     * an odd one (w_dim 37, 10 -> 5 -> 2 channels) */
    {.name = "sg2.g.styles.tiny", .op = FS_CASE_STYLES, .n = 4, .h = 32, .w = 1024,
     .cin = 64, .k = 128},
    {.name = "sg2.g.styles.c256", .op = FS_CASE_STYLES, .n = 3, .h = 64, .w = 4096,
     .cin = 256, .k = 512},
    {.name = "sg2f.g.styles", .op = FS_CASE_STYLES, .n = 4, .h = 1024, .w = 32768,
     .cin = 512, .k = 512},
    {.name = "odd.styles", .op = FS_CASE_STYLES, .n = 3, .h = 16, .w = 40, .cin = 10,
     .k = 37},
    /* torgb + skip: config-f blocks, the first block (no skip), a clamp that bites */
    FS_SG2F_TORGB("sg2f.g.b64.torgb_skip.f32", 2, 512, 64, 2, FS_FEAT_F32_NCHW),
    FS_SG2F_TORGB("sg2f.g.b64.torgb_skip.f16", 2, 512, 64, 2, FS_FEAT_F16_NHWC),
    FS_SG2F_TORGB("sg2f.g.b64.torgb_skip.bf16", 2, 512, 64, 2, FS_FEAT_BF16_NHWC),
    FS_SG2F_TORGB("sg2f.g.b4.torgb_first.f16", 4, 512, 4, 0, FS_FEAT_F16_NHWC),
    FS_SG2F_TORGB("sg2f.g.b256.torgb_skip.f16", 2, 128, 256, 2, FS_FEAT_F16_NHWC),
    FS_SG2F_TORGB("sg2f.g.b1024.torgb_skip.bf16", 2, 32, 1024, 2, FS_FEAT_BF16_NHWC),
    {.name = "odd.torgb.clamp.bf16", .op = FS_CASE_TORGB, .n = 3, .cin = 7, .cout = 5,
     .h = 6, .w = 10, .up = 2, .random_fir = 2, .clamp = 0.3f, .fmt = FS_FEAT_BF16_NHWC},
    {.name = "odd.torgb.first.f32", .op = FS_CASE_TORGB, .n = 2, .cin = 9, .cout = 4, .h = 5,
     .w = 3, .up = 0, .fmt = FS_FEAT_F32_NCHW},
    /* every pair of formats, at a config-f layer and at odd shapes */
    FS_CVT("sg2f.g.b64.cvt.f32_f16", 2, 512, 64, 64, FS_FEAT_F32_NCHW, FS_FEAT_F16_NHWC),
    FS_CVT("sg2f.g.b64.cvt.f16_f32", 2, 512, 64, 64, FS_FEAT_F16_NHWC, FS_FEAT_F32_NCHW),
    FS_CVT("sg2f.g.b64.cvt.f32_bf16", 2, 512, 64, 64, FS_FEAT_F32_NCHW, FS_FEAT_BF16_NHWC),
    FS_CVT("sg2f.g.b64.cvt.bf16_f32", 2, 512, 64, 64, FS_FEAT_BF16_NHWC, FS_FEAT_F32_NCHW),
    FS_CVT("odd.cvt.f16_bf16", 3, 5, 7, 3, FS_FEAT_F16_NHWC, FS_FEAT_BF16_NHWC),
    FS_CVT("odd.cvt.bf16_f16", 3, 5, 7, 3, FS_FEAT_BF16_NHWC, FS_FEAT_F16_NHWC),
    FS_CVT("odd.cvt.f32_f32", 2, 3, 9, 11, FS_FEAT_F32_NCHW, FS_FEAT_F32_NCHW),
    FS_CVT("odd.cvt.f16_f16", 2, 33, 1, 5, FS_FEAT_F16_NHWC, FS_FEAT_F16_NHWC),
    FS_CVT("odd.cvt.bf16_bf16", 1, 1, 13, 17, FS_FEAT_BF16_NHWC, FS_FEAT_BF16_NHWC),
    FS_CVT("odd.cvt.f32_f16.range", 2, 7, 5, 5, FS_FEAT_F32_NCHW, FS_FEAT_F16_NHWC),
};

#define FS_CASE_NCASES ((int)(sizeof fs_op_cases / sizeof *fs_op_cases))

/* ---- derived quantities --------------------------------------------------------------- */

static inline float fs_opc_gain(const fs_op_case *c) { return c->gain != 0 ? c->gain : 1.0f; }
static inline int fs_opc_fir_len(const fs_op_case *c) { return c->fir_len ? c->fir_len : 4; }

/* fc / conv2d weight gain: the stated one or 1 / sqrt(fan_in). */
static inline float fs_opc_wgain(const fs_op_case *c)
{
    if (c->wgain != 0)
        return c->wgain;
    int fan_in = c->op == FS_CASE_FC ? c->cin : c->cin * c->k * c->k;
    return 1.0f / sqrtf((float)fan_in);
}

/* conv2d with down 2: the official FIR padding of conv2d_resample (pad
 * k/2 plus the filter's own), before a stride-2 correlation. */
static inline void fs_opc_down_pads(const fs_op_case *c, int *p0, int *p1)
{
    int fl = fs_opc_fir_len(c);
    *p0 = c->k / 2 + (fl - 2 + 1) / 2;
    *p1 = c->k / 2 + (fl - 2) / 2;
}

/* Output plane of the op (h x w of y; 1 x 1 for per-row ops). */
static inline void fs_opc_out_hw(const fs_op_case *c, int *oh, int *ow)
{
    int fl = fs_opc_fir_len(c);
    switch (c->op) {
    case FS_CASE_MODCONV:
        *oh = c->h * c->up;
        *ow = c->w * c->up;
        return;
    case FS_CASE_CONV2D:
        if (c->down == 2) {
            int p0, p1;
            fs_opc_down_pads(c, &p0, &p1);
            *oh = (c->h + p0 + p1 - fl + 1 - c->k) / 2 + 1;
            *ow = (c->w + p0 + p1 - fl + 1 - c->k) / 2 + 1;
        } else {
            int s = c->stride ? c->stride : 1;
            *oh = (c->h + 2 * c->pad - c->k) / s + 1;
            *ow = (c->w + 2 * c->pad - c->k) / s + 1;
        }
        return;
    case FS_CASE_UPFIRDN2D:
        *oh = (c->h * c->up + c->pad + c->pad1 - fl) / c->down + 1;
        *ow = (c->w * c->up + c->pad + c->pad1 - fl) / c->down + 1;
        return;
    case FS_CASE_CONV_TRANSPOSE2D:
        *oh = (c->h - 1) * c->stride - 2 * c->pad + c->k;
        *ow = (c->w - 1) * c->stride - 2 * c->pad + c->k;
        return;
    case FS_CASE_AVG_POOL2D:
        *oh = (c->h + 2 * c->pad - c->k) / c->stride + 1;
        *ow = (c->w + 2 * c->pad - c->k) / c->stride + 1;
        return;
    case FS_CASE_UPSAMPLE_ADD:
    case FS_CASE_ADAPTIVE_AVG_POOL2D:
        *oh = c->out_h;
        *ow = c->out_w;
        return;
    case FS_CASE_STYLES:
        *oh = *ow = 1;
        return;
    case FS_CASE_MAX_POOL2D:
        *oh = fs_max_pool2d_out_size(c->h, c->k, c->stride, c->pad, c->ceil_mode);
        *ow = fs_max_pool2d_out_size(c->w, c->k, c->stride, c->pad, c->ceil_mode);
        return;
    default:
        *oh = c->h;
        *ow = c->w;
        return;
    }
}

/* The modulated layers of a styles case, as engine/stylegan2_g.c lists them
 * (docs/stylegan2.md §1.3): per block r = 4 .. h, conv0 (r > 4: C(r/2) ->
 * C(r), up 2), conv1 (C(r) -> C(r)), torgb (C(r) -> 3, k 1, not demodulated,
 * the next conv's w row); C(r) = min(w / r, cin). Fills up to max layers,
 * returns the count; *num_ws = 2 log2(h) - 2. */
typedef struct {
    int cin, cout, k, w_index, demod;
} fs_opc_style_layer;

static inline int fs_opc_style_layers(const fs_op_case *c, fs_opc_style_layer *l, int max,
                                      int *num_ws)
{
    int n = 0, idx = 0, log2r = 2;
    while ((1 << log2r) < c->h)
        log2r++;
    for (int e = 2; e <= log2r; e++) {
        int r = 1 << e, ch = c->w / r < c->cin ? c->w / r : c->cin;
        int prev = c->w / (r / 2) < c->cin ? c->w / (r / 2) : c->cin;
        fs_opc_style_layer conv0 = {prev, ch, 3, idx, 1}, conv1, torgb;
        if (e > 2 && n < max)
            l[n++] = conv0;
        if (e > 2)
            idx++;
        conv1 = (fs_opc_style_layer){ch, ch, 3, idx++, 1};
        if (n < max)
            l[n++] = conv1;
        torgb = (fs_opc_style_layer){ch, 3, 1, idx, 0};
        if (n < max)
            l[n++] = torgb;
    }
    *num_ws = 2 * log2r - 2;
    return n;
}

#define FS_OPC_MAX_STYLE_LAYERS 64

/* Floating-point operations of one run with batch n: 2 per multiply-add of
 * the convolutions (the up-sampling modconv counted as a transposed conv at
 * its input resolution, its inserted zeros and the FIR not counted, as in
 * bench_cuda_layers.c), a few per element for the elementwise ops. */
static inline double fs_opc_flops(const fs_op_case *c, int n)
{
    int oh, ow;
    fs_opc_out_hw(c, &oh, &ow);
    double plane = (double)c->h * c->w, oplane = (double)oh * ow;
    int fl = fs_opc_fir_len(c);
    switch (c->op) {
    case FS_CASE_FC: return 2.0 * n * c->cin * c->cout;
    case FS_CASE_MODCONV: return 2.0 * n * c->cout * c->cin * c->k * c->k * plane;
    case FS_CASE_CONV2D: return 2.0 * n * c->cout * c->cin * c->k * c->k * oplane;
    case FS_CASE_CONV_TRANSPOSE2D: return 2.0 * n * c->cout * c->cin * c->k * c->k * plane;
    case FS_CASE_UPFIRDN2D: return 2.0 * n * c->cin * fl * fl * oplane;
    case FS_CASE_NORMALIZE_2ND_MOMENT: return 3.0 * n * c->cin;
    case FS_CASE_LERP_ROWS: return 3.0 * n * (c->row1 - c->row0) * c->cin;
    case FS_CASE_BIAS_ACT: return 3.0 * n * c->cin * plane;
    case FS_CASE_AXPBY: return 3.0 * n * c->cin * plane;
    case FS_CASE_MBSTD: return 5.0 * n * c->cin * plane;
    case FS_CASE_PROJECT: return 2.0 * n * c->cin;
    case FS_CASE_INSTANCE_NORM: return 7.0 * n * c->cin * plane;
    case FS_CASE_AVG_POOL2D: return (double)n * c->cin * c->k * c->k * oplane;
    case FS_CASE_TO_UINT8: return 2.0 * n * c->cin * plane;
    case FS_CASE_COPY_ROWS: return 0;
    case FS_CASE_CHANNEL_AFFINE: return 3.0 * n * c->cin * plane;
    case FS_CASE_SE_RESIDUAL: return n * (3.0 * c->cin * plane + 4.0 * c->cin * c->cout);
    case FS_CASE_UPSAMPLE_ADD: return 7.0 * n * c->cin * oplane;
    case FS_CASE_MAX_FEATURE_MAP: return (double)n * c->cin * plane;
    case FS_CASE_BLEND: return 4.0 * n * c->cin * plane;
    case FS_CASE_TORGB: return 2.0 * n * c->cout * c->cin * plane + 32.0 * n * c->cout * plane;
    case FS_CASE_CONVERT_FEATURES: return (double)n * c->cin * plane;
    case FS_CASE_STYLES: {
        fs_opc_style_layer l[FS_OPC_MAX_STYLE_LAYERS];
        int nws, nl = fs_opc_style_layers(c, l, FS_OPC_MAX_STYLE_LAYERS, &nws);
        double f = 0;
        for (int i = 0; i < nl; i++)
            f += 2.0 * n * l[i].cin * c->k + (l[i].demod ? 2.0 * n * l[i].cin * l[i].cout : 0);
        return f;
    }
    case FS_CASE_MAX_POOL2D: return (double)n * c->cin * c->k * c->k * oplane;
    case FS_CASE_ADAPTIVE_AVG_POOL2D: {
        /* every window's sum and two divisions: about (window / out + 1)^2 + 2 each */
        double wh = c->win_h ? c->win_h : c->h, ww = c->win_w ? c->win_w : c->w;
        return n * c->cin * oplane * ((wh / oh + 1) * (ww / ow + 1) + 2);
    }
    default: return 0;
    }
}

static inline const char *fs_opc_fmt_name(fs_feat_format f)
{
    return f == FS_FEAT_F16_NHWC ? "f16" : f == FS_FEAT_BF16_NHWC ? "bf16" : "f32";
}

/* "n2 512->512 8x8 k3 up2" and the like, for reports. */
static inline void fs_opc_describe(const fs_op_case *c, int n, char *buf, size_t len)
{
    switch (c->op) {
    case FS_CASE_STYLES:
        snprintf(buf, len, "n%d R%d base%d max%d w%d", n, c->h, c->w, c->cin, c->k);
        return;
    case FS_CASE_TORGB:
        snprintf(buf, len, "n%d %d->%d %dx%d%s %s", n, c->cin, c->cout, c->h, c->w,
                 c->up ? " skip" : "", fs_opc_fmt_name(c->fmt));
        return;
    case FS_CASE_CONVERT_FEATURES:
        snprintf(buf, len, "n%d c%d %dx%d %s->%s", n, c->cin, c->h, c->w, fs_opc_fmt_name(c->fmt),
                 fs_opc_fmt_name(c->fmt2));
        return;
    case FS_CASE_FC:
        snprintf(buf, len, "n%d %d->%d%s", n, c->cin, c->cout, c->rows ? " (ws row)" : "");
        return;
    case FS_CASE_MODCONV:
    case FS_CASE_CONV2D:
    case FS_CASE_CONV_TRANSPOSE2D: {
        char extra[16] = "";
        if (c->op == FS_CASE_MODCONV && c->up == 2)
            snprintf(extra, sizeof extra, " up2%s%s", c->fmt ? " " : "",
                     c->fmt ? fs_opc_fmt_name(c->fmt) : "");
        else if (c->op == FS_CASE_MODCONV && c->fmt)
            snprintf(extra, sizeof extra, " %s", fs_opc_fmt_name(c->fmt));
        else if (c->op == FS_CASE_CONV2D && c->down == 2)
            snprintf(extra, sizeof extra, " down2");
        else if (c->stride > 1)
            snprintf(extra, sizeof extra, " s%d", c->stride);
        snprintf(buf, len, "n%d %d->%d %dx%d k%d%s", n, c->cin, c->cout, c->h, c->w, c->k, extra);
        return;
    }
    case FS_CASE_UPFIRDN2D:
        snprintf(buf, len, "n%d c%d %dx%d up%d down%d", n, c->cin, c->h, c->w, c->up, c->down);
        return;
    case FS_CASE_NORMALIZE_2ND_MOMENT:
    case FS_CASE_PROJECT: snprintf(buf, len, "n%d c%d", n, c->cin); return;
    case FS_CASE_LERP_ROWS:
        snprintf(buf, len, "n%d %dx%d rows %d-%d", n, c->rows, c->cin, c->row0, c->row1);
        return;
    case FS_CASE_COPY_ROWS:
        snprintf(buf, len, "%d rows x %d, ld %d/%d", n, c->cin, c->ldd, c->lds);
        return;
    case FS_CASE_UPSAMPLE_ADD:
        snprintf(buf, len, "n%d c%d %dx%d->%dx%d", n, c->cin, c->h, c->w, c->out_h, c->out_w);
        return;
    case FS_CASE_SE_RESIDUAL:
        snprintf(buf, len, "n%d c%d/%d %dx%d s%d", n, c->cin, c->cout, c->h, c->w, c->stride);
        return;
    case FS_CASE_MAX_POOL2D:
        snprintf(buf, len, "n%d c%d %dx%d k%d s%d p%d%s", n, c->cin, c->h, c->w, c->k, c->stride,
                 c->pad, c->ceil_mode ? " ceil" : "");
        return;
    case FS_CASE_ADAPTIVE_AVG_POOL2D:
        snprintf(buf, len, "n%d c%d %dx%d->%dx%d", n, c->cin, c->win_h ? c->win_h : c->h,
                 c->win_w ? c->win_w : c->w, c->out_h, c->out_w);
        return;
    default: snprintf(buf, len, "n%d c%d %dx%d", n, c->cin, c->h, c->w); return;
    }
}

#endif
