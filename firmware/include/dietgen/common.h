/* dietgen runtime: definitions shared by every kernel.
 * Kernels trust their arguments: dietgen validated every shape and attribute at export time. */
#ifndef DG_COMMON_H
#define DG_COMMON_H

#include <math.h>
#include <stdint.h>
#include <string.h>

typedef int32_t dg_int;

/* Weights live in flash. On AVR, flash is a separate address space read with pgm_read_*; elsewhere
 * const data is already in flash and read through plain pointers. DG_RD reads one float a kernel takes
 * from a flash argument, DG_RDI one int32. */
#if defined(__AVR__)
#include <avr/pgmspace.h>
#define DG_FLASH PROGMEM
#define DG_RD(p) pgm_read_float(p)
#define DG_RDI(p) ((dg_int)pgm_read_dword(p))
/* avr-libc (where float is double) has neither log1pf nor erff. */
#define log1pf(x) logf(1.0f + (x))
#define erff(x) dg_erff(x)
/* Abramowitz and Stegun 7.1.26: absolute error below 1.5e-7. */
static inline float dg_erff(float x)
{
    float t = 1.0f / (1.0f + 0.3275911f * fabsf(x));
    float y = 1.0f - t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f +
              t * 1.061405429f)))) * expf(-x * x);
    return x < 0.0f ? -y : y;
}
#else
#define DG_FLASH
#define DG_RD(p) (*(p))
#define DG_RDI(p) (*(p))
#endif

/* Pointwise functions: the unary kernel applies one to a tensor, and producers (conv, matmul, gemm,
 * binary) apply one to what they write, which is how activation fusion saves a pass over memory. */
enum {
    DG_F_NONE = 0,
    DG_F_RELU,
    DG_F_LEAKY_RELU, /* alpha */
    DG_F_ELU,        /* alpha */
    DG_F_TANH,
    DG_F_SIGMOID,
    DG_F_HARD_SIGMOID, /* alpha, beta */
    DG_F_SOFTPLUS,
    DG_F_CLIP,       /* alpha = min, beta = max */
    DG_F_EXP,
    DG_F_LOG,
    DG_F_SIN,
    DG_F_COS,
    DG_F_SQRT,
    DG_F_ABS,
    DG_F_NEG,
    DG_F_RECIPROCAL,
    DG_F_FLOOR,
    DG_F_CEIL,
    DG_F_ERF
};

typedef struct {
    int kind;
    float alpha;
    float beta;
} dg_fn;

#define DG_FN(kind, alpha, beta) ((dg_fn){(kind), (alpha), (beta)})
#define DG_NOFN DG_FN(DG_F_NONE, 0.0f, 0.0f)

/* exp, tanh and sigmoid for the hot loops, from the math instead of libm: a libm call costs about 100
 * instructions on a Cortex-M4F, these a dozen multiply-adds. Maximum errors against the exact functions, over
 * every float (tests/test_approx.py sweeps the whole range and asserts the same numbers):
 *   dg_expf      relative error <= 1.2e-7 (1 ulp of 1.0) wherever e^x is a normal float (measured 7.8e-8)
 *   dg_tanhf     absolute error <= 1.2e-7 (measured 8.2e-8), also relative for |x| < 0.55 (measured 6.4e-8)
 *   dg_sigmoidf  absolute error <= 1.2e-7 (measured 8.9e-8)
 * The target is a few ulp (2e-7): below what a float pipeline accumulates anyway, so whole models stay within
 * their tolerance. Edges are exact: e^x is +Inf above DG_EXPF_MAX and 0 below DG_EXPF_MIN (denormal results
 * are flushed: they would cost precision and, on many FPUs, time); tanh and sigmoid reach +-1, 0 and 1
 * exactly where the float result rounds there; NaN in gives NaN out; tanh keeps the sign of -0. */
#define DG_EXPF_MAX 88.72283172607421875f   /* the largest x whose e^x rounds to a finite float */
#define DG_EXPF_MIN -87.33654022216796875f  /* the smallest x whose e^x is at least FLT_MIN */

static inline uint32_t dg_f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float dg_u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* e^x = 2^k * e^r with k = round(x / ln 2) and |r| <= ln(2)/2. ln 2 is split Cody-Waite style into a 16-bit
 * head (k * head is exact for |k| <= 128) and a tail, so r carries no cancellation error. e^r = 1 + r + r^2 P(r),
 * P the degree-4 minimax (Remez) fit of (e^r - 1 - r) / r^2 for relative error (3.1e-9) on |r| <= 0.348; what
 * remains is float rounding. 2^k is built from its exponent bits in two halves, so k = 128 (x just below
 * DG_EXPF_MAX) and k = -126 never leave the normal range. */
static inline float dg_expf(float x)
{
    float y, fk, r, p;
    dg_int k, h;
    if (x > DG_EXPF_MAX)
        return INFINITY;
    if (!(x >= DG_EXPF_MIN))
        return x != x ? x : 0.0f;
    y = x * 1.44269504088896341f;
    k = (dg_int)(y < 0.0f ? y - 0.5f : y + 0.5f);
    fk = (float)k;
    r = (x - fk * 0.693145751953125f) - fk * 1.42860676533018690e-6f;
    p = 1.0f + (r + r * r * (0.49999994040f + r * (0.16666519642f + r * (0.041668407619f +
                                                  r * (0.0083689140156f + r * 0.0013814191334f)))));
    h = k / 2;
    return p * dg_u2f((uint32_t)(h + 127) << 23) * dg_u2f((uint32_t)(k - h + 127) << 23);
}

/* tanh on |x|: below 0.55 the odd polynomial |x| + |x|^3 Q(x^2), Q the degree-4 minimax fit of
 * (tanh(x) - x) / x^3 for relative error (1.0e-9), so small signals keep their relative precision; above it
 * 1 - 2 / (e^(2|x|) + 1), which rounds to exactly 1 from |x| = 9.01 on (clamping at 9.5 keeps e^(2|x|) finite
 * and lets NaN through). The sign bit of x is copied last, which keeps -0 and odd symmetry. */
static inline float dg_tanhf(float x)
{
    float a = fabsf(x), t;
    if (a < 0.55f) {
        float s = a * a;
        t = a + a * s * (-0.33333316445f + s * (0.13332585990f + s * (-0.053852308542f +
                                               s * (0.021071679890f + s * -0.0062742396258f))));
    } else {
        t = 1.0f - 2.0f / (dg_expf(2.0f * (a > 9.5f ? 9.5f : a)) + 1.0f);
    }
    return dg_u2f(dg_f2u(t) | (dg_f2u(x) & 0x80000000u));
}

/* 1 / (1 + e^-x): exactly 1 once e^-x is below half an ulp of 1 (x > 16.6), exactly 0 once e^-x overflows. */
static inline float dg_sigmoidf(float x)
{
    return 1.0f / (1.0f + dg_expf(-x));
}

/* y[i] = f(x[i]) for n floats, x == y allowed. The switch runs once per call and each kind gets its own loop,
 * free of per-element dispatch, which the compiler can unroll or vectorise. DG_MAP is that loop, v the input. */
static inline void dg_map_n(dg_fn f, const float *x, float *y, dg_int n)
{
    dg_int i;
#define DG_MAP(expr) for (i = 0; i < n; ++i) { float v = x[i]; y[i] = (expr); } break
    switch (f.kind) {
    case DG_F_RELU: DG_MAP(v > 0.0f ? v : 0.0f);
    case DG_F_LEAKY_RELU: DG_MAP(v >= 0.0f ? v : f.alpha * v);
    case DG_F_ELU: DG_MAP(v >= 0.0f ? v : f.alpha * (dg_expf(v) - 1.0f));
    case DG_F_TANH: DG_MAP(dg_tanhf(v));
    case DG_F_SIGMOID: DG_MAP(dg_sigmoidf(v));
    case DG_F_HARD_SIGMOID: DG_MAP(fmaxf(0.0f, fminf(1.0f, f.alpha * v + f.beta)));
    case DG_F_SOFTPLUS: DG_MAP(v > 20.0f ? v : log1pf(dg_expf(v)));
    case DG_F_CLIP: DG_MAP(v < f.alpha ? f.alpha : (v > f.beta ? f.beta : v));
    case DG_F_EXP: DG_MAP(dg_expf(v));
    case DG_F_LOG: DG_MAP(logf(v));
    case DG_F_SIN: DG_MAP(sinf(v));
    case DG_F_COS: DG_MAP(cosf(v));
    case DG_F_SQRT: DG_MAP(sqrtf(v));
    case DG_F_ABS: DG_MAP(fabsf(v));
    case DG_F_NEG: DG_MAP(-v);
    case DG_F_RECIPROCAL: DG_MAP(1.0f / v);
    case DG_F_FLOOR: DG_MAP(floorf(v));
    case DG_F_CEIL: DG_MAP(ceilf(v));
    case DG_F_ERF: DG_MAP(erff(v));
    default:
        if (x == y)
            break;
        DG_MAP(v);
    }
#undef DG_MAP
}

/* Apply f to n floats in place; a no-op for DG_F_NONE. */
static inline void dg_apply_n(dg_fn f, float *y, dg_int n)
{
    if (f.kind != DG_F_NONE)
        dg_map_n(f, y, y, n);
}

#define DG_MAX_DIMS 8

/* Advance a row-major multi-index over dims[0..ndim-2] (the innermost dimension is the caller's loop),
 * moving up to three strided offsets with it. */
static inline void dg_nd_next(dg_int ndim, const dg_int *dims, dg_int *index, const dg_int *const *strides,
                              dg_int *offsets, int noperands)
{
    dg_int d;
    int k;
    for (d = ndim - 2; d >= 0; --d) {
        if (++index[d] < dims[d]) {
            for (k = 0; k < noperands; ++k)
                offsets[k] += strides[k][d];
            return;
        }
        index[d] = 0;
        for (k = 0; k < noperands; ++k)
            offsets[k] -= strides[k][d] * (dims[d] - 1);
    }
}

#endif
