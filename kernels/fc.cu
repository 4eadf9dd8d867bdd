/* Fully connected layers on the GPU: y = act(x W^T * weight_gain +
 * b * bias_gain) * gain, clamped, as engine/cpu/fc.c.
 *
 * No cuBLAS: the layer is the implicit-GEMM kernel of igemm.cu seen as a 1x1
 * convolution over n "samples" of one pixel each (rows of x ldx apart), which
 * keeps the library free of a runtime libcublas dependency. weight_gain
 * multiplies each W element as it is loaded, before the product, as the CPU
 * folds it into W; the bias, its gain, the activation, gain and clamp are the
 * EPI_CONV epilogue.
 *
 * The StyleGAN layers are small (512 x 512 mapping and affine layers, the
 * discriminator's 8192 x 512 fc), so this is launch- and weight-read-bound;
 * a split-K variant for K = 8192 with n <= 64 is the obvious next version. */
#include "cuda_common.cuh"

fs_status cuda_fc(fs_backend *b, const fs_fc_args *a)
{
    FS_TRY(cuda_enter(b));
    if (a->n <= 0 || a->out <= 0)
        return FS_OK;
    igemm_params p = {};
    p.x = a->x;
    p.cin = a->in;
    p.h = p.w = 1;
    p.x_sample_stride = (size_t)(a->ldx ? a->ldx : a->in);
    p.scale = NULL;
    p.wt = a->w;
    p.cout = a->out;
    p.w_transposed = 0;
    p.wgain = a->weight_gain;
    p.n = a->n;
    igemm_set_correlation(&p, 1, 1, 0, 1, 1);
    p.y = a->y;
    p.y_sample_stride = (size_t)a->out;
    p.epi.mode = EPI_CONV;
    p.epi.bias = a->b;
    p.epi.bias_gain = a->bias_gain;
    p.epi.act = (int)a->act;
    p.epi.gain = a->gain;
    p.epi.clamp = a->clamp;
    return igemm_launch(&p, cuda_impl_of(b)->stream);
}
