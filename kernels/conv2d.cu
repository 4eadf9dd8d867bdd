/* Plain convolution layers on the GPU (discriminator, CVAE-GAN, the
 * generator's resnet skip), as engine/cpu/conv2d.c: conv2d (weight *
 * weight_gain, bias, activation, gain, clamp) and conv_transpose2d.
 *   down == 2: the official FIR down-sampling order. The FIR runs first with
 *              the conv's padding folded in (pads p0/p1 from k and the filter
 *              length), decimating by 2 itself for a 1x1 conv; then the conv
 *              runs 'valid' with stride 2 (k > 1) or 1 (k == 1). The filtered
 *              image is a temporary, made in sample chunks of about the
 *              backend's chunk byte limit (FS_CUDA_CHUNK_BYTES unless
 *              fs_backend_cuda_set_chunk_bytes) so a large batch needs no
 *              second full-size activation buffer; engine/chunk_plan.c
 *              computes the sizes and the chunks.
 *   otherwise: one stride/pad correlation.
 * The convolution itself is igemm.cu's kernel with the EPI_CONV epilogue, in
 * FP32, or on tensor cores for layers that set tensor_cores (conv2d_mma). */
#include "../engine/chunk_plan.h"
#include "cuda_backend.h"
#include "cuda_common.cuh"

/* The GEMM arithmetic of a conv: tensor cores only for the layers that ask
 * for them (fs_conv2d_args.tensor_cores) in a reduced-precision backend. */
static int conv2d_mma(int precision, const fs_conv2d_args *a)
{
    if (!a->tensor_cores)
        return IG_MMA_NONE;
    switch (precision) {
    case FS_CUDA_TF32: return IG_MMA_TF32;
    case FS_CUDA_FP16: return IG_MMA_FP16;
    case FS_CUDA_BF16: return IG_MMA_BF16;
    default: return IG_MMA_NONE;
    }
}

/* The reserve op's bound (cuda_common.cuh): only the down-sampling path has
 * a temporary, the filtered input, at most a chunk of it. */
size_t cuda_conv2d_scratch_bound(fs_backend *b, const cuda_layer_shape *l, int n)
{
    if (n < 1)
        return 0;
    fs_conv2d_down_plan dp;
    fs_conv2d_down_plan_make(n, l->cin, l->h, l->w, l->k, l->fir_len, cuda_impl_of(b)->chunk_bytes,
                             &dp);
    return dp.empty ? 0 : dp.total;
}

fs_status cuda_conv2d(fs_backend *b, const fs_conv2d_args *a)
{
    FS_TRY(cuda_enter(b));
    cudaStream_t stream = cuda_impl_of(b)->stream;
    if (a->n <= 0 || a->cout <= 0)
        return FS_OK;
    if (a->k < 1)
        return fs_error(FS_ERR_ARG, "cuda conv2d: kernel size %d", a->k);
    igemm_params p = {};
    p.cin = a->cin;
    p.scale = NULL;
    p.wt = a->weight;
    p.cout = a->cout;
    p.w_transposed = 0;
    p.wgain = a->weight_gain;
    p.epi.mode = EPI_CONV;
    p.epi.bias = a->b;
    p.epi.bias_gain = 1.0f;
    p.epi.act = (int)a->act;
    p.epi.gain = a->gain;
    p.epi.clamp = a->clamp;
    p.mma = conv2d_mma(cuda_impl_of(b)->precision, a);

    if (a->down != 2) {
        int stride = a->stride > 0 ? a->stride : 1;
        int oh = (a->h + 2 * a->pad - a->k) / stride + 1, ow = (a->w + 2 * a->pad - a->k) / stride + 1;
        if (oh <= 0 || ow <= 0)
            return FS_OK;
        p.x = a->x;
        p.h = a->h;
        p.w = a->w;
        p.x_sample_stride = (size_t)a->cin * a->h * a->w;
        p.n = a->n;
        igemm_set_correlation(&p, a->k, stride, a->pad, oh, ow);
        p.y = a->y;
        p.y_sample_stride = (size_t)a->cout * oh * ow;
        return igemm_launch(&p, stream);
    }

    /* down == 2, the same pads and sizes as engine/cpu/conv2d.c, chunked by
     * engine/chunk_plan.c (which the reserve op also uses to bound this) */
    fs_conv2d_down_plan dp;
    fs_conv2d_down_plan_make(a->n, a->cin, a->h, a->w, a->k, a->fir_len,
                             cuda_impl_of(b)->chunk_bytes, &dp);
    if (dp.empty)
        return FS_OK;
    int fl = a->fir_len, p0 = dp.p0, p1 = dp.p1, fdown = dp.fdown, fh = dp.fh, fw = dp.fw;
    int stride = dp.stride, oh = dp.oh, ow = dp.ow, chunk = dp.chunk;
    void *tmp;
    FS_TRY(cuda_scratch_for(b, dp.total, "conv2d", &tmp));
    for (int s0 = 0; s0 < a->n; s0 += chunk) {
        int ns = a->n - s0 < chunk ? a->n - s0 : chunk;
        fs_upfirdn2d_args u = {.x = a->x + (size_t)s0 * a->cin * a->h * a->w, .y = (float *)tmp,
                               .nc = ns * a->cin, .h = a->h, .w = a->w, .up = 1, .down = fdown,
                               .pad0 = p0, .pad1 = p1, .fir = a->fir, .fir_len = fl,
                               .gain = 1.0f};
        FS_TRY(upfirdn2d_launch(&u, stream));
        p.x = (const float *)tmp;
        p.h = fh;
        p.w = fw;
        p.x_sample_stride = (size_t)a->cin * fh * fw;
        p.n = ns;
        igemm_set_correlation(&p, a->k, stride, 0, oh, ow);
        p.y = a->y + (size_t)s0 * a->cout * oh * ow;
        p.y_sample_stride = (size_t)a->cout * oh * ow;
        FS_TRY(igemm_launch(&p, stream));
    }
    return FS_OK;
}

/* ---- conv_transpose2d ----------------------------------------------------------------------- */

fs_status cuda_conv_transpose2d(fs_backend *b, const fs_conv_transpose2d_args *a)
{
    FS_TRY(cuda_enter(b));
    if (a->stride < 1 || a->k < 1)
        return fs_error(FS_ERR_ARG, "cuda conv_transpose2d: kernel %d, stride %d", a->k, a->stride);
    int oh = (a->h - 1) * a->stride - 2 * a->pad + a->k, ow = (a->w - 1) * a->stride - 2 * a->pad + a->k;
    if (a->n <= 0 || a->cout <= 0 || oh <= 0 || ow <= 0)
        return FS_OK;
    igemm_params p = {};
    p.x = a->x;
    p.cin = a->cin;
    p.h = a->h;
    p.w = a->w;
    p.x_sample_stride = (size_t)a->cin * a->h * a->w;
    p.scale = NULL;
    p.wt = a->weight;
    p.cout = a->cout;
    p.k = a->k;
    p.w_transposed = 1;
    p.wgain = 1.0f;
    p.n = a->n;
    p.y = a->y;
    p.yh = oh;
    p.yw = ow;
    p.y_sample_stride = (size_t)a->cout * oh * ow;
    p.epi.mode = EPI_CONV;
    p.epi.bias = a->b;
    p.epi.bias_gain = 1.0f;
    p.epi.act = FS_ACT_LINEAR;
    p.epi.gain = 1.0f;
    p.epi.clamp = 0.0f;
    return convt_launch(&p, a->stride, a->pad, cuda_impl_of(b)->stream);
}
