/* The se_residual op on the GPU (the tail of an IR-SE unit), as
 * engine/cpu/se_residual.c: channel means summed in double, the gates from
 * two matrix-vector products in double with the CPU's float roundings
 * between them, then y = r * g + shortcut with the product rounded first
 * (__fmul_rn, __fadd_rn). Means and gates live in the backend's scratch.
 *
 * Kernel versions (v1): se_mean_kernel1 is one block per (sample, channel)
 * plane with a block reduction; se_gate_kernel1 one block per sample (the
 * hidden vector in shared memory); se_add_kernel1 one element per thread. */
#include "cuda_common.cuh"

#define SE_BLOCK 256

__global__ void se_mean_kernel1(const float *__restrict__ r, size_t hw, float *mean)
{
    __shared__ double sh[32];
    const float *p = r + (size_t)blockIdx.x * hw;
    double s = 0;
    for (size_t q = threadIdx.x; q < hw; q += blockDim.x)
        s += p[q];
    s = block_sum(s, sh);
    if (threadIdx.x == 0)
        mean[blockIdx.x] = (float)(s / (double)hw);
}

__global__ void se_gate_kernel1(const float *__restrict__ mean, const float *__restrict__ fc1,
                                const float *__restrict__ fc2, int c, int cr, float *gate)
{
    extern __shared__ double hid[]; /* [cr] */
    const float *m = mean + (size_t)blockIdx.x * c;
    for (int j = threadIdx.x; j < cr; j += blockDim.x) {
        const float *w1 = fc1 + (size_t)j * c;
        double z = 0;
        for (int k = 0; k < c; k++)
            z += (double)w1[k] * m[k];
        hid[j] = z > 0 ? (double)(float)z : 0.0;
    }
    __syncthreads();
    for (int ch = threadIdx.x; ch < c; ch += blockDim.x) {
        const float *w2 = fc2 + (size_t)ch * cr;
        double z = 0;
        for (int j = 0; j < cr; j++)
            z += (double)w2[j] * hid[j];
        z = (double)(float)z;
        gate[(size_t)blockIdx.x * c + ch] = (float)(1.0 / (1.0 + exp(-z)));
    }
}

__global__ void se_add_kernel1(const float *r, const float *__restrict__ sc,
                               const float *__restrict__ gate, float *y, size_t total, int h,
                               int w, int st, int sc_h, int sc_w)
{
    size_t hw = (size_t)h * w;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t plane = i / hw, q = i - plane * hw;
        size_t yy = q / (size_t)w, xx = q - yy * (size_t)w;
        float v = __fmul_rn(r[i], gate[plane]);
        y[i] = __fadd_rn(v, sc[(plane * sc_h + yy * st) * (size_t)sc_w + xx * st]);
    }
}

static fs_status se_residual_launch(const fs_se_residual_args *a, float *mean, float *gate,
                                    cudaStream_t stream)
{
    size_t planes = (size_t)a->n * a->c, hw = (size_t)a->h * a->w;
    int st = a->sc_stride > 0 ? a->sc_stride : 1;
    se_mean_kernel1<<<(unsigned)planes, SE_BLOCK, 0, stream>>>(a->r, hw, mean);
    CUDA_CHECK_LAUNCH("se_mean_kernel1");
    se_gate_kernel1<<<a->n, SE_BLOCK, (size_t)a->cr * sizeof(double), stream>>>(
        mean, a->fc1, a->fc2, a->c, a->cr, gate);
    CUDA_CHECK_LAUNCH("se_gate_kernel1");
    size_t total = planes * hw;
    se_add_kernel1<<<cuda_blocks(total, SE_BLOCK), SE_BLOCK, 0, stream>>>(
        a->r, a->sc, gate, a->y, total, a->h, a->w, st, a->sc_h, a->sc_w);
    CUDA_CHECK_LAUNCH("se_add_kernel1");
    return FS_OK;
}

fs_status cuda_se_residual(fs_backend *b, const fs_se_residual_args *a)
{
    FS_TRY(cuda_enter(b));
    int st = a->sc_stride > 0 ? a->sc_stride : 1;
    if (a->n < 0 || a->c < 1 || a->cr < 1 || a->h < 1 || a->w < 1 ||
        (long)(a->h - 1) * st >= a->sc_h || (long)(a->w - 1) * st >= a->sc_w)
        return fs_error(FS_ERR_ARG, "cuda se_residual: shapes n %d c %d cr %d %dx%d, shortcut "
                        "%dx%d stride %d", a->n, a->c, a->cr, a->h, a->w, a->sc_h, a->sc_w, st);
    if (a->n == 0)
        return FS_OK;
    /* the hidden vector in shared memory: 48 KiB hold 6144 doubles */
    if ((size_t)a->cr * sizeof(double) > 48 * 1024)
        return fs_error(FS_ERR_LIMIT, "cuda se_residual: %d hidden channels (at most 6144)", a->cr);
    size_t planes = (size_t)a->n * a->c;
    if (planes > 0x7fffffff)
        return fs_error(FS_ERR_LIMIT, "cuda se_residual: %zu planes", planes);
    void *tmp;
    FS_TRY(cuda_scratch(b, 2 * cuda_align(planes * sizeof(float)), &tmp));
    float *mean = (float *)tmp;
    float *gate = (float *)((char *)tmp + cuda_align(planes * sizeof(float)));
    return se_residual_launch(a, mean, gate, cuda_impl_of(b)->stream);
}
