/* The IR-SE trunk (ir_se.h): config, canonical tensors, and the forward as
 * backend ops. The forward walks the units once at init with planning set
 * (each conv adds its plan) and then per batch with the plans, as the other
 * models do (engine/cvaegan.c).
 *
 * One unit, x [n, in, h, h] -> y [n, depth, oh, oh], on three rotating
 * buffers (x stays intact for the shortcut until the end):
 *   A = BN0(x)                       channel_affine (cannot fold: the conv after
 *                                    it pads with zeros, not with BN0(0))
 *   B = conv1(A); PReLU in place     conv2d 3x3, channel_affine
 *   A = conv2(B), stride s           conv2d 3x3 with BN4 folded in (bias)
 *   B = shortcut conv(x), stride s   conv2d 1x1 with its BN folded in, if in != depth
 *   y = A * SE(A) + shortcut         se_residual (MaxPool2d(1, s) read in place)
 * y goes to A (in place) or to a tap buffer the caller keeps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir_se.h"

/* ---- config ---------------------------------------------------------------------- */

int fs_ir_se_num_units(const fs_ir_se_config *c)
{
    int n = 0;
    for (int s = 0; s < FS_IR_SE_STAGES; s++)
        n += (int)c->stage_units[s];
    return n;
}

fs_ir_se_unit fs_ir_se_unit_at(const fs_ir_se_config *c, int u)
{
    fs_ir_se_unit r = {0};
    int first = 0;
    for (int s = 0; s < FS_IR_SE_STAGES; s++) {
        if (u < first + c->stage_units[s]) {
            r.stage = s;
            r.depth = (int)c->stage_width[s];
            r.se_hidden = (int)c->se_hidden[s];
            r.stride = u == first ? 2 : 1;
            r.in = u > first ? r.depth : s == 0 ? (int)c->input_width : (int)c->stage_width[s - 1];
            r.conv_shortcut = r.in != r.depth;
            return r;
        }
        first += (int)c->stage_units[s];
    }
    return r;
}

fs_status fs_ir_se_config_check(const fs_ir_se_config *c, const char *label)
{
    if (c->input_width < 1 || c->input_width > 65536)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: IR-SE input width %lld out of range", label,
                        (long long)c->input_width);
    int total = 0;
    for (int s = 0; s < FS_IR_SE_STAGES; s++) {
        if (c->stage_width[s] < 1 || c->stage_width[s] > 65536 || c->stage_units[s] < 1 ||
            c->stage_units[s] > FS_IR_SE_MAX_UNITS || c->se_hidden[s] < 1 ||
            c->se_hidden[s] > c->stage_width[s])
            return fs_error(FS_ERR_UNSUPPORTED, "%s: IR-SE stage %d (width %lld, %lld units, SE "
                            "hidden %lld) out of range", label, s, (long long)c->stage_width[s],
                            (long long)c->stage_units[s], (long long)c->se_hidden[s]);
        total += (int)c->stage_units[s];
    }
    if (total > FS_IR_SE_MAX_UNITS)
        return fs_error(FS_ERR_UNSUPPORTED, "%s: %d IR-SE units (at most %d)", label, total,
                        FS_IR_SE_MAX_UNITS);
    return FS_OK;
}

static fs_status emit(fs_tensor_spec_fn fn, void *u, const char *prefix, const char *name,
                      int ndim, int64_t a, int64_t b, int64_t c, int64_t d)
{
    char full[160];
    int64_t shape[4] = {a, b, c, d};
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return fn(u, full, ndim, shape);
}

static fs_status emit_bn(fs_tensor_spec_fn fn, void *u, const char *prefix, const char *module,
                         int64_t ch)
{
    static const char *const parts[4] = {"weight", "bias", "running_mean", "running_var"};
    char name[128];
    for (int k = 0; k < 4; k++) {
        snprintf(name, sizeof name, "%s.%s", module, parts[k]);
        FS_TRY(emit(fn, u, prefix, name, 1, ch, 0, 0, 0));
    }
    return FS_OK;
}

fs_status fs_ir_se_for_each_tensor(const fs_ir_se_config *c, const char *prefix,
                                   fs_tensor_spec_fn fn, void *user)
{
    int64_t w0 = c->input_width;
    FS_TRY(emit(fn, user, prefix, "input_layer.0.weight", 4, w0, 3, 3, 3));
    FS_TRY(emit_bn(fn, user, prefix, "input_layer.1", w0));
    FS_TRY(emit(fn, user, prefix, "input_layer.2.weight", 1, w0, 0, 0, 0));
    char name[128], mod[96];
    for (int i = 0; i < fs_ir_se_num_units(c); i++) {
        fs_ir_se_unit t = fs_ir_se_unit_at(c, i);
        snprintf(mod, sizeof mod, "body.%d.res_layer.0", i);
        FS_TRY(emit_bn(fn, user, prefix, mod, t.in));
        snprintf(name, sizeof name, "body.%d.res_layer.1.weight", i);
        FS_TRY(emit(fn, user, prefix, name, 4, t.depth, t.in, 3, 3));
        snprintf(name, sizeof name, "body.%d.res_layer.2.weight", i);
        FS_TRY(emit(fn, user, prefix, name, 1, t.depth, 0, 0, 0));
        snprintf(name, sizeof name, "body.%d.res_layer.3.weight", i);
        FS_TRY(emit(fn, user, prefix, name, 4, t.depth, t.depth, 3, 3));
        snprintf(mod, sizeof mod, "body.%d.res_layer.4", i);
        FS_TRY(emit_bn(fn, user, prefix, mod, t.depth));
        snprintf(name, sizeof name, "body.%d.res_layer.5.fc1.weight", i);
        FS_TRY(emit(fn, user, prefix, name, 4, t.se_hidden, t.depth, 1, 1));
        snprintf(name, sizeof name, "body.%d.res_layer.5.fc2.weight", i);
        FS_TRY(emit(fn, user, prefix, name, 4, t.depth, t.se_hidden, 1, 1));
        if (t.conv_shortcut) {
            snprintf(name, sizeof name, "body.%d.shortcut_layer.0.weight", i);
            FS_TRY(emit(fn, user, prefix, name, 4, t.depth, t.in, 1, 1));
            snprintf(mod, sizeof mod, "body.%d.shortcut_layer.1", i);
            FS_TRY(emit_bn(fn, user, prefix, mod, t.depth));
        }
    }
    return FS_OK;
}

fs_status fs_ir_se_config_to_meta(const fs_ir_se_config *c, fs_ir_se_meta_put_fn put, void *u)
{
    double widths[FS_IR_SE_STAGES], units[FS_IR_SE_STAGES], hidden[FS_IR_SE_STAGES];
    for (int s = 0; s < FS_IR_SE_STAGES; s++) {
        widths[s] = (double)c->stage_width[s];
        units[s] = (double)c->stage_units[s];
        hidden[s] = (double)c->se_hidden[s];
    }
    FS_TRY(put(u, "input_width", FS_META_I64, c->input_width, 0, NULL, NULL, 0));
    FS_TRY(put(u, "stage_widths", FS_META_F64_ARRAY, 0, 0, NULL, widths, FS_IR_SE_STAGES));
    FS_TRY(put(u, "stage_units", FS_META_F64_ARRAY, 0, 0, NULL, units, FS_IR_SE_STAGES));
    return put(u, "se_hidden", FS_META_F64_ARRAY, 0, 0, NULL, hidden, FS_IR_SE_STAGES);
}

/* An array of FS_IR_SE_STAGES whole numbers in [1, 65536]. */
static fs_status meta_stages(const fs_weights *w, const char *key, int64_t *out)
{
    const double *v;
    size_t n;
    FS_TRY(fs_weights_meta_f64_array(w, key, &v, &n));
    if (n != FS_IR_SE_STAGES)
        return fs_error(FS_ERR_FORMAT, "%s: metadata '%s' has %zu values, expected %d",
                        fs_weights_label(w), key, n, FS_IR_SE_STAGES);
    for (int s = 0; s < FS_IR_SE_STAGES; s++) {
        if (!(v[s] >= 1 && v[s] <= 65536) || v[s] != floor(v[s]))
            return fs_error(FS_ERR_FORMAT, "%s: metadata '%s'[%d] = %g is not a count",
                            fs_weights_label(w), key, s, v[s]);
        out[s] = (int64_t)v[s];
    }
    return FS_OK;
}

fs_status fs_ir_se_config_from_weights(const fs_weights *w, fs_ir_se_config *c)
{
    memset(c, 0, sizeof *c);
    FS_TRY(fs_weights_meta_i64(w, "input_width", &c->input_width));
    FS_TRY(meta_stages(w, "stage_widths", c->stage_width));
    FS_TRY(meta_stages(w, "stage_units", c->stage_units));
    FS_TRY(meta_stages(w, "se_hidden", c->se_hidden));
    return fs_ir_se_config_check(c, fs_weights_label(w));
}

/* ---- the forward ------------------------------------------------------------------ */

typedef struct {
    fs_ir_se_unit t;
    int h, oh;
    const float *bn0_scale, *bn0_shift;
    const float *conv1, *prelu, *conv2, *conv2_b;
    const float *bn4_scale, *bn4_shift; /* fold_bn 0 */
    const float *fc1, *fc2;
    const float *sc_w, *sc_b, *sc_scale, *sc_shift;
} unit_rt;

struct fs_ir_se {
    fs_backend *b;
    const fs_dev_weights *dw;
    fs_ir_se_config cfg;
    char prefix[64];
    int res, fold_bn, nunits;
    const float *in_w, *in_b, *in_scale, *in_shift, *in_prelu;
    unit_rt *units;
    float **derived; /* backend buffers made at init */
    size_t nderived, derived_cap;
    fs_plan_table plans;
    float *buf[3];
    int cap;
    size_t act_floats; /* largest activation of one sample */
};

/* A tensor of the file as host float32 (whatever its stored dtype). */
static fs_status host_floats(const fs_weights *w, const char *name, size_t want, float **out)
{
    *out = NULL;
    const fs_tensor *t = fs_weights_find(w, name);
    if (!t)
        return fs_error(FS_ERR_MISSING, "%s: tensor '%s' is missing", fs_weights_label(w), name);
    size_t numel = t->nbytes / fs_dtype_size(t->dtype);
    if (numel != want)
        return fs_error(FS_ERR_SHAPE, "%s: tensor '%s' has %zu elements, expected %zu",
                        fs_weights_label(w), name, numel, want);
    float *p = malloc((numel ? numel : 1) * sizeof *p);
    if (!p)
        return fs_error(FS_ERR_NOMEM, "%s: out of memory for '%s'", fs_weights_label(w), name);
    for (size_t k = 0; k < numel; k++)
        p[k] = (float)fs_dtype_load(t->dtype, t->data, (int64_t)k);
    *out = p;
    return FS_OK;
}

/* Copies n host floats into a new backend buffer the trunk owns. */
static fs_status put_derived(fs_ir_se *m, const float *host, size_t n, const float **out)
{
    if (m->nderived == m->derived_cap) {
        size_t cap = m->derived_cap ? 2 * m->derived_cap : 64;
        float **p = realloc(m->derived, cap * sizeof *p);
        if (!p)
            return fs_error(FS_ERR_NOMEM, "IR-SE: out of memory");
        m->derived = p;
        m->derived_cap = cap;
    }
    float *d = m->b->ops->alloc(m->b, (n ? n : 1) * sizeof(float));
    if (!d)
        return FS_ERR_NOMEM; /* the backend's alloc recorded the message */
    m->derived[m->nderived++] = d;
    *out = d;
    return m->b->ops->upload(m->b, d, host, n * sizeof(float));
}

/* The eval-mode BatchNorm `module` (ch channels) as alpha, beta, computed as
 * PyTorch's CPU batch_norm does: invstd = 1 / sqrt(var + eps), alpha =
 * invstd * weight, beta = bias - mean * alpha, each rounded to float. */
fs_status fs_ir_se_bn_terms(const fs_weights *w, const char *module, int ch, float *alpha,
                            float *beta)
{
    static const char *const parts[4] = {"weight", "bias", "running_mean", "running_var"};
    float *v[4] = {NULL, NULL, NULL, NULL};
    fs_status s = FS_OK;
    char name[160];
    for (int k = 0; k < 4 && s == FS_OK; k++) {
        snprintf(name, sizeof name, "%s.%s", module, parts[k]);
        s = host_floats(w, name, (size_t)ch, &v[k]);
    }
    for (int c = 0; s == FS_OK && c < ch; c++) {
        float invstd = 1.0f / sqrtf(v[3][c] + FS_IR_SE_BN_EPS);
        alpha[c] = invstd * v[0][c];
        float ma = v[2][c] * alpha[c];
        beta[c] = v[1][c] - ma;
    }
    for (int k = 0; k < 4; k++)
        free(v[k]);
    return s;
}

static fs_status bn_terms(const fs_ir_se *m, const char *module, int ch, float *alpha,
                          float *beta)
{
    char full[160];
    snprintf(full, sizeof full, "%s%s", m->prefix, module);
    return fs_ir_se_bn_terms(m->dw->w, full, ch, alpha, beta);
}

/* A conv followed by a BatchNorm: folded (W * alpha[o], bias beta) or both
 * kept (the raw weight, then alpha/beta for a channel_affine). */
static fs_status conv_bn(fs_ir_se *m, const char *conv, const char *bn, int cout, size_t per_out,
                         const float **w, const float **bias, const float **scale,
                         const float **shift)
{
    float *alpha = malloc((size_t)cout * sizeof *alpha), *beta = malloc((size_t)cout * sizeof *beta);
    float *wt = NULL;
    char name[160];
    fs_status s = alpha && beta ? FS_OK : fs_error(FS_ERR_NOMEM, "IR-SE: out of memory");
    if (s == FS_OK)
        s = bn_terms(m, bn, cout, alpha, beta);
    if (s == FS_OK && m->fold_bn) {
        snprintf(name, sizeof name, "%s%s.weight", m->prefix, conv);
        s = host_floats(m->dw->w, name, (size_t)cout * per_out, &wt);
        for (int o = 0; s == FS_OK && o < cout; o++)
            for (size_t k = 0; k < per_out; k++)
                wt[(size_t)o * per_out + k] *= alpha[o];
        if (s == FS_OK)
            s = put_derived(m, wt, (size_t)cout * per_out, w);
        if (s == FS_OK)
            s = put_derived(m, beta, (size_t)cout, bias);
        *scale = *shift = NULL;
    } else if (s == FS_OK) {
        *w = fs_dev_weight(m->dw, "%s%s.weight", m->prefix, conv);
        *bias = NULL;
        s = put_derived(m, alpha, (size_t)cout, scale);
        if (s == FS_OK)
            s = put_derived(m, beta, (size_t)cout, shift);
    }
    free(alpha);
    free(beta);
    free(wt);
    return s;
}

/* BatchNorm alone (before a conv): alpha/beta for a channel_affine. */
static fs_status bn_alone(fs_ir_se *m, const char *bn, int ch, const float **scale,
                          const float **shift)
{
    float *alpha = malloc((size_t)ch * sizeof *alpha), *beta = malloc((size_t)ch * sizeof *beta);
    fs_status s = alpha && beta ? bn_terms(m, bn, ch, alpha, beta)
                                : fs_error(FS_ERR_NOMEM, "IR-SE: out of memory");
    if (s == FS_OK)
        s = put_derived(m, alpha, (size_t)ch, scale);
    if (s == FS_OK)
        s = put_derived(m, beta, (size_t)ch, shift);
    free(alpha);
    free(beta);
    return s;
}

static fs_status prepare_units(fs_ir_se *m)
{
    const fs_dev_weights *dw = m->dw;
    const char *p = m->prefix;
    int w0 = (int)m->cfg.input_width;
    FS_TRY(conv_bn(m, "input_layer.0", "input_layer.1", w0, 27, &m->in_w, &m->in_b, &m->in_scale,
                   &m->in_shift));
    m->in_prelu = fs_dev_weight(dw, "%sinput_layer.2.weight", p);
    int h = m->res;
    size_t act = (size_t)w0 * h * h;
    char conv[64], bn[64];
    for (int i = 0; i < m->nunits; i++) {
        unit_rt *u = &m->units[i];
        u->t = fs_ir_se_unit_at(&m->cfg, i);
        u->h = h;
        u->oh = (h - 1) / u->t.stride + 1; /* conv 3x3 pad 1 and MaxPool2d(1, s) alike */
        snprintf(bn, sizeof bn, "body.%d.res_layer.0", i);
        FS_TRY(bn_alone(m, bn, u->t.in, &u->bn0_scale, &u->bn0_shift));
        u->conv1 = fs_dev_weight(dw, "%sbody.%d.res_layer.1.weight", p, i);
        u->prelu = fs_dev_weight(dw, "%sbody.%d.res_layer.2.weight", p, i);
        snprintf(conv, sizeof conv, "body.%d.res_layer.3", i);
        snprintf(bn, sizeof bn, "body.%d.res_layer.4", i);
        FS_TRY(conv_bn(m, conv, bn, u->t.depth, (size_t)u->t.depth * 9, &u->conv2, &u->conv2_b,
                       &u->bn4_scale, &u->bn4_shift));
        u->fc1 = fs_dev_weight(dw, "%sbody.%d.res_layer.5.fc1.weight", p, i);
        u->fc2 = fs_dev_weight(dw, "%sbody.%d.res_layer.5.fc2.weight", p, i);
        if (u->t.conv_shortcut) {
            snprintf(conv, sizeof conv, "body.%d.shortcut_layer.0", i);
            snprintf(bn, sizeof bn, "body.%d.shortcut_layer.1", i);
            FS_TRY(conv_bn(m, conv, bn, u->t.depth, (size_t)u->t.in, &u->sc_w, &u->sc_b,
                           &u->sc_scale, &u->sc_shift));
        }
        if (!u->conv1 || !u->prelu || !u->fc1 || !u->fc2 || !m->in_prelu)
            return fs_error(FS_ERR_MISSING, "%s: IR-SE unit %d: a tensor is missing",
                            fs_weights_label(dw->w), i);
        /* the unit's largest planes: BN0(x) [in, h], conv1 [depth, h] */
        size_t a = (size_t)(u->t.in > u->t.depth ? u->t.in : u->t.depth) * h * h;
        act = a > act ? a : act;
        h = u->oh;
    }
    m->act_floats = act;
    return FS_OK;
}

/* In the plan walk only the convs act (they add their plans). */
#define RUN(call) FS_PLAN_RUN(&m->plans, call)

static fs_status conv(fs_ir_se *m, const char *name, const float *x, float *y, int n, int cin,
                      int cout, int h, int k, int stride, const float *w, const float *bias)
{
    fs_conv2d_args a = {
        .x = x, .weight = w, .b = bias, .y = y, .n = n, .cin = cin, .cout = cout, .h = h,
        .w = h, .k = k, .down = 1, .weight_gain = 1.0f, .gain = 1.0f, .clamp = 0.0f,
        .act = FS_ACT_LINEAR, .stride = stride, .pad = k / 2, .tensor_cores = 1,
        .plan = fs_plan_table_get(&m->plans, name),
    };
    if (m->plans.planning)
        return fs_plan_table_add(&m->plans, name, FS_OP_CONV2D, &a);
    return m->b->ops->conv2d(m->b, &a);
}

static fs_status affine(fs_ir_se *m, const float *x, float *y, int n, int c, int h,
                        const float *scale, const float *shift, const float *slope)
{
    fs_channel_affine_args a = {.x = x, .y = y, .n = n, .c = c, .hw = (size_t)h * h,
                                .scale = scale, .shift = shift, .slope = slope};
    return m->b->ops->channel_affine(m->b, &a);
}

static fs_status unit_forward(fs_ir_se *m, int i, const float *x, float *ta, float *tb,
                              float *y, int n)
{
    fs_backend *b = m->b;
    const unit_rt *u = &m->units[i];
    int in = u->t.in, d = u->t.depth, h = u->h, oh = u->oh, s = u->t.stride;
    char name[48];
    RUN(affine(m, x, ta, n, in, h, u->bn0_scale, u->bn0_shift, NULL));
    snprintf(name, sizeof name, "u%d.conv1", i);
    FS_TRY(conv(m, name, ta, tb, n, in, d, h, 3, 1, u->conv1, NULL));
    RUN(affine(m, tb, tb, n, d, h, NULL, NULL, u->prelu));
    snprintf(name, sizeof name, "u%d.conv2", i);
    FS_TRY(conv(m, name, tb, ta, n, d, d, h, 3, s, u->conv2, u->conv2_b));
    if (u->bn4_scale)
        RUN(affine(m, ta, ta, n, d, oh, u->bn4_scale, u->bn4_shift, NULL));
    const float *sc = x;
    int sc_stride = s, sc_h = h;
    if (u->t.conv_shortcut) {
        snprintf(name, sizeof name, "u%d.shortcut", i);
        FS_TRY(conv(m, name, x, tb, n, in, d, h, 1, s, u->sc_w, u->sc_b));
        if (u->sc_scale)
            RUN(affine(m, tb, tb, n, d, oh, u->sc_scale, u->sc_shift, NULL));
        sc = tb;
        sc_stride = 1;
        sc_h = oh;
    }
    fs_se_residual_args a = {.r = ta, .sc = sc, .fc1 = u->fc1, .fc2 = u->fc2, .y = y, .n = n,
                             .c = d, .cr = u->t.se_hidden, .h = oh, .w = oh,
                             .sc_stride = sc_stride, .sc_h = sc_h, .sc_w = sc_h};
    RUN(b->ops->se_residual(b, &a));
    return FS_OK;
}

static void free_buffers(fs_ir_se *m)
{
    for (int k = 0; k < 3; k++) {
        if (m->buf[k])
            m->b->ops->release(m->b, m->buf[k]);
        m->buf[k] = NULL;
    }
    m->cap = 0;
}

static fs_status ensure_buffers(fs_ir_se *m, int n)
{
    if (n <= m->cap)
        return FS_OK;
    free_buffers(m);
    for (int k = 0; k < 3; k++)
        if (!(m->buf[k] = m->b->ops->alloc(m->b, m->act_floats * (size_t)n * sizeof(float)))) {
            free_buffers(m);
            return FS_ERR_NOMEM; /* the backend's alloc recorded the message */
        }
    m->cap = n;
    return FS_OK;
}

/* The walk: planning (n = 0, no buffers) or running. */
static fs_status walk(fs_ir_se *m, const float *x_in, int n, int ntaps, const int *taps,
                      float *const *tap_out)
{
    int w0 = (int)m->cfg.input_width, R = m->res;
    float *x = m->buf[0];
    FS_TRY(conv(m, "input", x_in, x, n, 3, w0, R, 3, 1, m->in_w, m->in_b));
    RUN(affine(m, x, x, n, w0, R, m->in_scale, m->in_shift, m->in_prelu));
    int last = ntaps > 0 ? taps[ntaps - 1] : m->nunits - 1, k = 0;
    for (int i = 0; i <= last; i++) {
        /* the two buffers that do not hold x */
        float *t[2];
        int nt = 0;
        for (int j = 0; j < 3 && nt < 2; j++)
            if (m->buf[j] != x || !x)
                t[nt++] = m->buf[j];
        float *y = t[0];
        if (k < ntaps && taps[k] == i)
            y = tap_out[k++];
        FS_TRY(unit_forward(m, i, x, t[0], t[1], y, n));
        x = y;
    }
    return FS_OK;
}

fs_status fs_ir_se_init(fs_ir_se **out, const fs_ir_se_config *c, const fs_dev_weights *dw,
                        const char *prefix, int res, int fold_bn)
{
    *out = NULL;
    FS_TRY(fs_ir_se_config_check(c, fs_weights_label(dw->w)));
    if (res < 1 || res > 16384 || strlen(prefix) >= 64)
        return fs_error(FS_ERR_ARG, "IR-SE: input side %d or prefix '%s' out of range", res,
                        prefix);
    fs_ir_se *m = calloc(1, sizeof *m);
    if (!m)
        return fs_error(FS_ERR_NOMEM, "IR-SE: out of memory");
    m->b = dw->b;
    m->dw = dw;
    m->cfg = *c;
    strcpy(m->prefix, prefix);
    m->res = res;
    m->fold_bn = fold_bn;
    m->nunits = fs_ir_se_num_units(c);
    m->plans.b = dw->b;
    m->units = calloc((size_t)m->nunits, sizeof *m->units);
    fs_status s = m->units ? prepare_units(m) : fs_error(FS_ERR_NOMEM, "IR-SE: out of memory");
    if (s == FS_OK) {
        m->plans.planning = 1;
        s = walk(m, NULL, 0, 0, NULL, NULL);
        m->plans.planning = 0;
    }
    if (s != FS_OK) {
        fs_ir_se_free(m);
        return s;
    }
    *out = m;
    return FS_OK;
}

void fs_ir_se_free(fs_ir_se *m)
{
    if (!m)
        return;
    free_buffers(m);
    fs_plan_table_free(&m->plans);
    for (size_t i = 0; i < m->nderived; i++)
        m->b->ops->release(m->b, m->derived[i]);
    free(m->derived);
    free(m->units);
    free(m);
}

int fs_ir_se_unit_res(const fs_ir_se *m, int u)
{
    return u >= 0 && u < m->nunits ? m->units[u].oh : 0;
}

fs_status fs_ir_se_forward(fs_ir_se *m, const float *x, int n, int ntaps, const int *taps,
                           float *const *tap_out)
{
    if (n <= 0)
        return fs_error(FS_ERR_ARG, "IR-SE: batch of %d", n);
    for (int k = 0; k < ntaps; k++)
        if (taps[k] < 0 || taps[k] >= m->nunits || (k > 0 && taps[k] <= taps[k - 1]) ||
            !tap_out[k])
            return fs_error(FS_ERR_ARG, "IR-SE: tap %d (unit %d of %d) invalid", k, taps[k],
                            m->nunits);
    FS_TRY(ensure_buffers(m, n));
    return walk(m, x, n, ntaps, taps, tap_out);
}
