/* The backend interface: the operations every model is made of (StyleGAN2's
 * generator and discriminator, the CVAE-GAN's encoder, generator and
 * discriminators, the e4e encoder, the identity networks, SimGAN), behind one
 * table of function pointers. The model code (engine/stylegan2_g.c,
 * stylegan2_d.c, cvaegan.c, e4e.c, lightcnn.c, arcface.c, simgan.c) computes
 * shapes and calls these; the CPU backend (engine/cpu/) is the float32 oracle, and the CUDA
 * backend (kernels/) implements the same table with its own kernels, one
 * same-named file per op family (docs/ops.md). All pointers an op receives
 * are the backend's own memory (host memory for the CPU, device memory for
 * CUDA).
 *
 * Plans: a model prepares each layer once, at _init, with ops->plan (the
 * weights pre-packed or transposed in the backend's own layout, FIR index
 * tables built, ...) and passes the plan in the layer's args on every call,
 * so nothing is repacked or re-planned per forward. An op given plan NULL
 * prepares what it needs per call (tests, one-off callers).
 *
 * Layouts: activations NCHW float32; weights as the flat file stores them. */
#ifndef FS_BACKEND_H
#define FS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FS_ACT_LINEAR = 0,
    FS_ACT_LRELU = 1,    /* StyleGAN: leaky ReLU slope 0.2, times sqrt(2) */
    FS_ACT_RELU = 2,
    FS_ACT_LEAKY001 = 3, /* torch LeakyReLU(0.01), no gain */
    FS_ACT_TANH = 4,
} fs_act;

/* Storage of the synthesis network's feature maps (docs/precision.md). Every
 * op reads and writes F32_NCHW; modconv, torgb and convert_features also take
 * the 16-bit NHWC formats, in which a CUDA v2 backend keeps the features of
 * its fp16/bf16 layers (half the bytes, channels innermost for the implicit
 * GEMM's K dimension) and which the CPU emulates as their oracle. */
typedef enum {
    FS_FEAT_F32_NCHW = 0,  /* float32 [n, c, h, w] */
    FS_FEAT_F16_NHWC = 1,  /* IEEE binary16 [n, h, w, c] */
    FS_FEAT_BF16_NHWC = 2, /* bfloat16 [n, h, w, c] */
} fs_feat_format;

/* The ops that take a plan. */
typedef enum {
    FS_OP_FC = 1,
    FS_OP_MODCONV,
    FS_OP_CONV2D,
    FS_OP_CONV_TRANSPOSE2D,
    FS_OP_UPFIRDN2D,
    FS_OP_STYLES,
} fs_op_kind;

/* A backend's prepared form of one layer (opaque, backend-defined). It fixes
 * everything in the layer's args except the batch n and the activation
 * pointers (x, y, styles, noise seeds); an op checks the shapes it was made
 * for and refuses others. */
typedef struct fs_plan fs_plan;

typedef enum {
    FS_NOISE_CONST = 0,  /* the stored noise_const map, the same for every sample */
    FS_NOISE_RANDOM = 1, /* Philox normals keyed by (per-sample seed, layer) */
    FS_NOISE_NONE = 2,
} fs_noise_mode;

/* y = act(x W^T * weight_gain + b * bias_gain) * gain, clamped to +-clamp (0: none). */
typedef struct {
    const float *x; /* [n, in], rows ldx apart (0: in) */
    int ldx;
    const float *w; /* [out, in] */
    const float *b; /* [out] or NULL */
    float *y;       /* [n, out] */
    int n, in, out;
    float weight_gain, bias_gain, gain, clamp;
    fs_act act;
    const fs_plan *plan; /* FS_OP_FC, or NULL */
} fs_fc_args;

/* One modulated convolution layer of the synthesis network, everything after
 * the styles fused: y = clamp(act(demod(conv(x * s, W)) + noise + b) * gain).
 *   up == 2: stride-2 transposed conv followed by the 4x4 FIR (pad 1, gain 4).
 *   demodulate == 0 (ToRGB): no demodulation, styles already scaled. */
typedef struct {
    const float *x;      /* [n, cin, h, w] */
    const float *weight; /* [cout, cin, k, k] */
    const float *styles; /* [n, cin] */
    const float *b;      /* [cout] */
    float *y;            /* [n, cout, h*up, w*up] */
    int n, cin, cout, h, w, k, up;
    int demodulate;
    const float *fir;    /* 2-D FIR [fir_len, fir_len], normalised (sum 1); up == 2 only */
    int fir_len;
    fs_noise_mode noise_mode;
    const float *noise_const; /* [h*up, w*up] */
    float noise_strength;
    const uint64_t *noise_seeds; /* [n], FS_NOISE_RANDOM */
    uint32_t noise_stream;       /* layer id, FS_NOISE_RANDOM */
    fs_act act;
    float gain, clamp;
    /* 1: the layer is one the official code runs in fp16 (the top
     * num_fp16_res resolutions). Only a CUDA backend in FS_CUDA_MIXED
     * precision reads it; the CPU computes every layer in float32. */
    int fp16;
    /* The storage of x and y. F32_NCHW (0, the default): x and y as above.
     * F16_NHWC / BF16_NHWC: x16 [n, h, w, cin] and y16 [n, h*up, w*up, cout]
     * instead, and the layer computes in that precision, as
     * docs/precision.md §2 fixes every rounding: the GEMM operand is
     * r(x * r(s / smax[n])) with smax[n] = max_i |s[n, i]| (1 if 0), the weight is
     * r(W) (made once by the plan), products accumulate in float32, and
     * the float32 epilogue multiplies by d[n, o] * smax[n] before noise,
     * bias, activation, gain and clamp; y is rounded once (r: round to
     * nearest even in the format). */
    fs_feat_format fmt;
    const uint16_t *x16;
    uint16_t *y16;
    /* d[n, o] of the demodulation, precomputed for every layer by the styles
     * op (fs_styles_args), or NULL: the op computes it from W and styles. */
    const float *dcoef;
    const fs_plan *plan; /* FS_OP_MODCONV, or NULL */
} fs_modconv_args;

/* The affine styles and the demodulation coefficients of every modulated
 * layer of a synthesis network, for all samples, in one op per forward
 * (docs/precision.md §3): for layer l with w = ws[s, w_index]
 *   styles_l[s, i] = (sum_j A[i, j] w[j] * weight_gain + b[i]) * gain
 *   dcoef_l[s, o]  = 1 / sqrt(sum_i sw2[o, i] styles_l[s, i]^2 + 1e-8)
 * where sw2[o, i] = sum over the k x k taps of W[o, i]^2 (made once by the
 * plan); dcoef only for demodulated layers. Outputs are layer-major: layer
 * l's [n, cin] block starts at styles + n * style_off and its [n, cout]
 * block at dcoef + n * dcoef_off, so one layer's rows are contiguous. */
typedef struct {
    const float *affine_w; /* [cin, w_dim] */
    const float *affine_b; /* [cin] */
    const float *weight;   /* the layer's [cout, cin, k, k]; read by the plan */
    int cin, cout, k, w_index, demodulate;
    float weight_gain, gain;
    size_t style_off, dcoef_off;
} fs_style_layer;

typedef struct {
    const fs_style_layer *layers; /* host memory (the arrays they point to: backend) */
    int n_layers;
    const float *ws; /* [n, num_ws, w_dim] */
    int n, num_ws, w_dim;
    float *styles;   /* [n * sum of cin] */
    float *dcoef;    /* [n * sum of cout over demodulated layers] */
    const fs_plan *plan; /* FS_OP_STYLES, or NULL */
} fs_styles_args;

/* ToRGB and the skip image in one op (docs/precision.md §4):
 *   img[s, c, y, x] = clamp(sum_i W[c, i] styles[s, i] f[s, y, x, i] + b[c])
 *                     + up2(img_prev)[s, c, y, x]
 * with no demodulation (the styles carry the 1/sqrt(cin) gain), clamp to
 * +-clamp (0: none) and up2 the official 2x FIR up-sampling (pad 2/1, gain
 * 4) of img_prev [n, cout, h/2, w/2]; img_prev NULL (the first block): no
 * skip term. The features f are x (F32_NCHW) or x16 (16-bit NHWC); the image
 * is float32 NCHW in every format. img may not be img_prev. */
typedef struct {
    fs_feat_format fmt;
    const float *x;      /* [n, cin, h, w], F32_NCHW */
    const uint16_t *x16; /* [n, h, w, cin], 16-bit formats */
    const float *weight; /* [cout, cin] */
    const float *styles; /* [n, cin] */
    const float *b;      /* [cout] */
    const float *img_prev;
    float *img;          /* [n, cout, h, w] */
    const float *fir;    /* 2-D [fir_len, fir_len], normalised */
    int fir_len;
    int n, cin, cout, h, w;
    float clamp;
} fs_torgb_args;

/* Feature maps from one format to another (n samples, c channels, hw
 * pixels): to a 16-bit format rounds to nearest even once. */
typedef struct {
    fs_feat_format xfmt, yfmt;
    const void *x;
    void *y; /* not x */
    int n, c;
    size_t hw;
} fs_convert_features_args;

/* A plain conv layer: weight * weight_gain, bias, activation, gain, clamp.
 * down == 2 (StyleGAN discriminator): FIR down-sampling folded in the
 * official way, stride and pad ignored. Otherwise a stride/pad correlation. */
typedef struct {
    const float *x; /* [n, cin, h, w] */
    const float *weight; /* [cout, cin, k, k] */
    const float *b; /* [cout] or NULL */
    float *y;       /* [n, cout, oh, ow] */
    int n, cin, cout, h, w, k, down;
    const float *fir; /* 2-D normalised FIR, down == 2 only */
    int fir_len;
    float weight_gain, gain, clamp;
    fs_act act;
    int stride, pad;  /* down != 2; stride 0 means 1 */
    /* 1: a CUDA backend in TF32, FP16 or BF16 precision runs this conv on
     * tensor cores in that precision (FP32 accumulation and epilogue); 0
     * (the default), or FP32/MIXED precision, or the CPU: FP32 throughout.
     * Set by the e4e encoder; the other models' convs stay FP32. */
    int tensor_cores;
    const fs_plan *plan; /* FS_OP_CONV2D, or NULL */
} fs_conv2d_args;

/* ConvTranspose2d(k, stride, pad) with bias: y [n, cout, (h-1)s - 2p + k, ...];
 * weight [cin, cout, k, k] as PyTorch stores it. */
typedef struct {
    const float *x;
    const float *weight;
    const float *b;
    float *y;
    int n, cin, cout, h, w, k, stride, pad;
    const fs_plan *plan; /* FS_OP_CONV_TRANSPOSE2D, or NULL */
} fs_conv_transpose2d_args;

/* upfirdn2d: zero-insert by up, pad, convolve with fir * gain (true
 * convolution), keep every down-th sample. Per channel, NCHW. */
typedef struct {
    const float *x; /* [nc, h, w] */
    float *y;       /* [nc, oh, ow] */
    int nc, h, w, up, down, pad0, pad1;
    const float *fir; /* 2-D [fir_len, fir_len] */
    int fir_len;
    float gain;
    const fs_plan *plan; /* FS_OP_UPFIRDN2D, or NULL */
} fs_upfirdn2d_args;

/* Per-channel affine map and PReLU: the eval-mode BatchNorm2d and the PReLU
 * of IR-SE networks (docs/e4e.md). y = prelu(x * scale[c] + shift[c]) with
 * prelu(v) = v > 0 ? v : v * slope[c]. scale and shift NULL: 1 and 0 (the
 * PReLU alone); slope NULL: no activation (the BatchNorm alone). y may be x. */
typedef struct {
    const float *x; /* [n, c, hw] */
    float *y;       /* [n, c, hw] */
    int n, c;
    size_t hw;
    const float *scale, *shift; /* [c] or NULL */
    const float *slope;         /* [c] or NULL */
} fs_channel_affine_args;

/* The tail of an IR-SE unit: squeeze-and-excitation on the residual branch
 * r, then the shortcut added (docs/e4e.md):
 *   m[s, c] = mean of r[s, c] over h x w
 *   g[s, c] = sigmoid(sum_j fc2[c, j] relu(sum_k fc1[j, k] m[s, k]))
 *   y[s, c, i, j] = r[s, c, i, j] * g[s, c] + sc[s, c, i * st, j * st]
 * fc1 [cr, c] and fc2 [c, cr] are the 1x1 convs without bias. The shortcut
 * sc [n, c, sc_h, sc_w] is read with stride st = sc_stride: 1, or 2 for the
 * MaxPool2d(1, 2) shortcut (every second pixel from (0, 0)); it needs
 * (h - 1) * st < sc_h and (w - 1) * st < sc_w. y may be r (not sc). */
typedef struct {
    const float *r;  /* [n, c, h, w] */
    const float *sc; /* [n, c, sc_h, sc_w] */
    const float *fc1, *fc2;
    float *y;        /* [n, c, h, w] */
    int n, c, cr, h, w;
    int sc_stride, sc_h, sc_w;
} fs_se_residual_args;

/* The FPN's upsample-add: y[p] += bilinear(x[p]) at oh x ow for each of the
 * nc planes, with align_corners=True as F.interpolate(x, size=(oh, ow),
 * mode='bilinear', align_corners=True): output row i reads source row
 * i * (h - 1) / (oh - 1) (0 when oh == 1), mixing the two rows around it by
 * distance; columns likewise. */
typedef struct {
    const float *x; /* [nc, h, w] */
    float *y;       /* [nc, oh, ow], added to */
    int nc, h, w, oh, ow;
} fs_upsample_add_args;

/* Light CNN's max-feature-map: the element-wise maximum of the two channel
 * halves of x [n, 2c, hw], y [n, c, hw]: y[s, j, q] = max(x[s, j, q],
 * x[s, c + j, q]), as torch.max of the two torch.split halves (NaN wins). */
typedef struct {
    const float *x; /* [n, 2c, hw] */
    float *y;       /* [n, c, hw]; not x */
    int n, c;
    size_t hw;
} fs_max_feature_map_args;

/* torch.nn.MaxPool2d(k, stride, pad, ceil_mode) on nc planes: positions
 * outside the plane never win (they count as -inf); NaN wins. The output
 * side is fs_max_pool2d_out_size's. */
typedef struct {
    const float *x; /* [nc, h, w] */
    float *y;       /* [nc, oh, ow] */
    int nc, h, w, k, stride, pad;
    int ceil_mode;
} fs_max_pool2d_args;

/* The output side of a max pool, as PyTorch's pooling_output_shape computes
 * it: floor or ceil of (in + 2 pad - k) / stride, plus 1, where a ceil-mode
 * window that would start past the input and its left padding is dropped.
 * 0 when the window does not fit. */
static inline int fs_max_pool2d_out_size(int in, int k, int stride, int pad, int ceil_mode)
{
    int span = in + 2 * pad - k;
    if (span < 0 || stride < 1)
        return 0;
    int out = (span + (ceil_mode ? stride - 1 : 0)) / stride + 1;
    if (ceil_mode && (out - 1) * stride >= in + pad)
        out--;
    return out;
}

/* torch.nn.AdaptiveAvgPool2d((oh, ow)) of the ih x iw window at (y0, x0) of
 * each of nc planes h x w (the whole plane: y0 = x0 = 0, ih = h, iw = w):
 * output (i, j) averages window rows floor(i ih / oh) .. ceil((i + 1) ih / oh)
 * - 1 and the columns likewise, summed in float row by row and divided by
 * the row count, then by the column count (PyTorch's CPU kernel). pSp's ID
 * loss crops a 256^2 face to [35:223, 32:220] and pools it to 112^2 so. */
typedef struct {
    const float *x; /* [nc, h, w] */
    float *y;       /* [nc, oh, ow] */
    int nc, h, w;
    int y0, x0, ih, iw; /* the window: inside the plane, ih, iw >= 1 */
    int oh, ow;
} fs_adaptive_avg_pool2d_args;

/* Domain mixup's pixel blend (facesynth mixup, docs/datasets.md): n image
 * pairs of len bytes each, y[s, j] = u8(w[s] a[s, j] + (1 - w[s]) b[s, j])
 * in float32 with every operation rounded once (no FMA): p = a * w,
 * q = b * (1.0f - w), v = (p + q) + 0.5f, then clamped to [0, 255] and
 * truncated (round half up). w[s] in [0, 1]. All four arrays are backend
 * memory; y may be a or b. */
typedef struct {
    const uint8_t *a, *b; /* [n, len] */
    const float *w;       /* [n] */
    uint8_t *y;           /* [n, len] */
    int n;
    size_t len;
} fs_blend_args;

typedef struct fs_backend fs_backend;

/* A recorded sequence of ops (capture_begin / capture_end) and a copy-lane
 * fence (download_async): opaque, backend-defined. */
typedef struct fs_graph fs_graph;
typedef struct fs_fence fs_fence;

typedef struct {
    const char *name;
    void (*destroy)(fs_backend *b);
    void *(*alloc)(fs_backend *b, size_t bytes);
    void (*release)(fs_backend *b, void *p);
    fs_status (*upload)(fs_backend *b, void *dst, const void *src, size_t bytes);
    fs_status (*download)(fs_backend *b, void *dst, const void *src, size_t bytes);
    /* The plan of one layer: args points to the op's fs_*_args (kind says
     * which) filled as every later call will fill it; n and the activation
     * pointers are ignored. *out may be NULL where the backend needs none. */
    fs_status (*plan)(fs_backend *b, fs_op_kind kind, const void *args, fs_plan **out);
    void (*plan_free)(fs_backend *b, fs_plan *p);
    /* dst[r * ldd + j] = src[r * lds + j] for r < rows, j < cols (floats, both
     * in backend memory; lds may be 0 to repeat one row): the broadcast of w
     * to every layer, the label embedding's place in the mapping input, the
     * learned constant of every sample. */
    fs_status (*copy_rows)(fs_backend *b, float *dst, size_t ldd, const float *src, size_t lds,
                           size_t rows, size_t cols);
    fs_status (*fc)(fs_backend *b, const fs_fc_args *a);
    /* x[i, :] *= rsqrt(mean(x[i, :]^2) + 1e-8) */
    fs_status (*normalize_2nd_moment)(fs_backend *b, float *x, int n, int c);
    /* y = a + t * (y - a), on rows [row0, row1) of each [n, rows, c] sample: truncation */
    fs_status (*lerp_rows)(fs_backend *b, float *y, const float *a, int n, int rows, int c,
                           int row0, int row1, float t);
    fs_status (*modconv)(fs_backend *b, const fs_modconv_args *a);
    fs_status (*conv2d)(fs_backend *b, const fs_conv2d_args *a);
    fs_status (*upfirdn2d)(fs_backend *b, const fs_upfirdn2d_args *a);
    /* x[n, c, hw] = clamp(act(x + b[c]) * gain), in place; b may be NULL */
    fs_status (*bias_act)(fs_backend *b, float *x, const float *bias, int n, int c, size_t hw,
                          fs_act act, float gain, float clamp);
    /* y = y * ys + x * xs, elementwise */
    fs_status (*axpby)(fs_backend *b, float *y, const float *x, size_t n, float ys, float xs);
    /* Appends the minibatch-std channels: y [n, c + f, h, w] from x [n, c, h, w]. */
    fs_status (*mbstd)(fs_backend *b, const float *x, float *y, int n, int c, int h, int w,
                       int group, int f);
    /* out[i] = sum_j x[i, j] * cmap[i, j] * scale */
    fs_status (*project)(fs_backend *b, const float *x, const float *cmap, float *out, int n,
                         int c, float scale);
    fs_status (*conv_transpose2d)(fs_backend *b, const fs_conv_transpose2d_args *a);
    /* InstanceNorm2d(affine, eps) per sample and channel over h*w, then act, in place */
    fs_status (*instance_norm)(fs_backend *b, float *x, const float *weight, const float *bias,
                               int n, int c, size_t hw, float eps, fs_act act);
    /* avg_pool2d(k, stride, pad, count_include_pad=False) */
    fs_status (*avg_pool2d)(fs_backend *b, const float *x, float *y, int nc, int h, int w, int k,
                            int stride, int pad);
    fs_status (*synchronize)(fs_backend *b);
    /* y [n, h, w, c] uint8 from x [n, c, h, w]: the official image conversion
     * of image_io.h fs_image_f32_to_u8 (t = x * 127.5f, then t + 128.0f, as
     * two float32 roundings with no FMA, clamped to [0, 255], truncated;
     * NaN -> 0), bit for bit on every backend. */
    fs_status (*to_uint8)(fs_backend *b, const float *x, uint8_t *y, int n, int c, int h, int w);
    /* IR-SE networks (e4e's encoder): BatchNorm/PReLU, the SE unit tail, the
     * FPN upsample-add (the args structs above). */
    fs_status (*channel_affine)(fs_backend *b, const fs_channel_affine_args *a);
    fs_status (*se_residual)(fs_backend *b, const fs_se_residual_args *a);
    fs_status (*upsample_add)(fs_backend *b, const fs_upsample_add_args *a);
    /* Identity networks and SimGAN (docs/identity.md, docs/simgan.md):
     * Light CNN's max-feature-map, max pooling (Light CNN, SimGAN's
     * discriminator), the adaptive average pool of pSp's ID loss. */
    fs_status (*max_feature_map)(fs_backend *b, const fs_max_feature_map_args *a);
    fs_status (*max_pool2d)(fs_backend *b, const fs_max_pool2d_args *a);
    fs_status (*adaptive_avg_pool2d)(fs_backend *b, const fs_adaptive_avg_pool2d_args *a);
    /* Domain mixup: the pixel blend of image pairs (fs_blend_args). */
    fs_status (*blend)(fs_backend *b, const fs_blend_args *a);
    /* The feature format this backend computes a synthesis layer in: the
     * official fp16 layer set is fp16_layer (fs_modconv_args.fp16). FP32
     * backends: F32_NCHW always. */
    fs_feat_format (*feature_format)(fs_backend *b, int fp16_layer);
    fs_status (*styles)(fs_backend *b, const fs_styles_args *a);
    fs_status (*torgb)(fs_backend *b, const fs_torgb_args *a);
    fs_status (*convert_features)(fs_backend *b, const fs_convert_features_args *a);
    /* ---- the host path (docs/cuda_host_path.md) ----
     * Host memory the backend copies to and from at full speed and without
     * blocking: pinned (page-locked) on CUDA, where upload, download and
     * download_async from it are true DMA and may be captured into a graph;
     * 64-byte-aligned malloc on the CPU. NULL (with a message) on failure. */
    void *(*alloc_host)(fs_backend *b, size_t bytes);
    void (*release_host)(fs_backend *b, void *p);
    /* Sizes the backend's per-op temporaries (scratch) for batches of up to
     * max_batch samples of every layer planned so far on it, then fixes
     * them: from here on an op that would need more fails with FS_ERR_LIMIT
     * instead of re-allocating in the middle of a forward (a device-wide
     * synchronisation, and illegal inside a graph capture). Call after the
     * models' _init (their plans) and before the first forward; again, with
     * a larger batch or after planning more layers, to grow
     * (docs/cuda_host_path.md §1). The CPU needs nothing (FS_OK). */
    fs_status (*reserve)(fs_backend *b, int max_batch);
    /* Graphs: capture_begin starts recording the ops this thread then calls
     * on the backend, which are queued but not run; capture_end stops and
     * makes a graph of them (*out; on failure *out is NULL and the backend
     * is out of capture mode either way). graph_launch runs the recorded
     * ops again, as they were called (the same pointers and arguments: the
     * host values they read are read at launch time), in order with the
     * other ops. A captured sequence may contain no allocation, no download
     * (a host synchronisation) and no upload from pageable memory: stage
     * inputs in alloc_host memory. A graph holds the scratch's address too:
     * once reserve (or an op before any reserve) has re-allocated the
     * scratch, graph_launch refuses the graphs captured before (FS_ERR_ARG;
     * capture again). The CPU backend has no graphs:
     * capture_begin returns FS_ERR_UNSUPPORTED and callers run the ops
     * directly. */
    fs_status (*capture_begin)(fs_backend *b);
    fs_status (*capture_end)(fs_backend *b, fs_graph **out);
    fs_status (*graph_launch)(fs_backend *b, fs_graph *g);
    void (*graph_free)(fs_backend *b, fs_graph *g);
    /* Fences order a second, copy lane against the ops. download_async
     * queues a copy of `bytes` from backend memory src to host memory dst
     * (alloc_host's, or the copy is not asynchronous) that starts once every
     * op queued before it has finished, runs alongside the ops queued after
     * it, and signals f when done. Those later ops must not write src
     * before the copy has read it: fence_order(b, f) makes every op queued
     * after it wait for f's last signal, on the device. fence_wait blocks
     * the calling thread until f's last signal (at once for a fence never
     * signalled). On the CPU the copy is done at once and the fence calls
     * return FS_OK. */
    fs_status (*fence_create)(fs_backend *b, fs_fence **out);
    void (*fence_free)(fs_backend *b, fs_fence *f);
    fs_status (*download_async)(fs_backend *b, void *dst, const void *src, size_t bytes,
                                fs_fence *f);
    fs_status (*fence_order)(fs_backend *b, fs_fence *f);
    fs_status (*fence_wait)(fs_backend *b, fs_fence *f);
} fs_backend_ops;

struct fs_backend {
    const fs_backend_ops *ops;
    void *impl;
};

/* The CPU backend with `threads` worker threads (0: one per core). */
fs_status fs_backend_cpu_init(fs_backend **out, int threads);

/* The same, emulating the feature formats of a CUDA v2 backend in
 * `precision` (fs_backend_precision_parse's index: 0 fp32, 2 fp16, 3 bf16,
 * 4 mixed; tf32 is refused): feature_format answers as that backend does and
 * the 16-bit formats round where docs/precision.md says the GPU rounds. The
 * oracle of the CUDA v2 kernels and the way to measure a precision's image
 * difference without a GPU. */
fs_status fs_backend_cpu_init_ex(fs_backend **out, int threads, int precision);

/* A backend by name, for programs that choose at run time: device "cpu"
 * (NULL too) with `threads` workers, or "cuda" / "cuda:N"; precision NULL or
 * "fp32", else "tf32", "fp16", "bf16" or "mixed" (CUDA only: see
 * kernels/cuda_backend.h). FS_ERR_UNSUPPORTED for CUDA in a build without it. */
fs_status fs_backend_open(const char *device, const char *precision, int threads,
                          fs_backend **out);
/* The index of a precision name in that list (NULL: 0), or -1. */
int fs_backend_precision_parse(const char *s);
/* -1 for "cpu" (or NULL), N for "cuda" (0) or "cuda:N" (N <= 255), -2 otherwise. */
int fs_backend_device_index(const char *device);
/* 1 if this build has the CUDA backend. */
int fs_backend_has_cuda(void);
void fs_backend_free(fs_backend *b);

#ifdef __cplusplus
}
#endif
#endif
