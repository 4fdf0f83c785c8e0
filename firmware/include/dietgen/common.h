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

static inline float dg_sigmoidf(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

static inline float dg_apply(dg_fn f, float x)
{
    switch (f.kind) {
    case DG_F_RELU: return x > 0.0f ? x : 0.0f;
    case DG_F_LEAKY_RELU: return x >= 0.0f ? x : f.alpha * x;
    case DG_F_ELU: return x >= 0.0f ? x : f.alpha * (expf(x) - 1.0f);
    case DG_F_TANH: return tanhf(x);
    case DG_F_SIGMOID: return dg_sigmoidf(x);
    case DG_F_HARD_SIGMOID: return fmaxf(0.0f, fminf(1.0f, f.alpha * x + f.beta));
    case DG_F_SOFTPLUS: return x > 20.0f ? x : log1pf(expf(x));
    case DG_F_CLIP: return x < f.alpha ? f.alpha : (x > f.beta ? f.beta : x);
    case DG_F_EXP: return expf(x);
    case DG_F_LOG: return logf(x);
    case DG_F_SIN: return sinf(x);
    case DG_F_COS: return cosf(x);
    case DG_F_SQRT: return sqrtf(x);
    case DG_F_ABS: return fabsf(x);
    case DG_F_NEG: return -x;
    case DG_F_RECIPROCAL: return 1.0f / x;
    case DG_F_FLOOR: return floorf(x);
    case DG_F_CEIL: return ceilf(x);
    case DG_F_ERF: return erff(x);
    default: return x;
    }
}

/* Apply f to n floats in place; a no-op for DG_F_NONE. */
static inline void dg_apply_n(dg_fn f, float *y, dg_int n)
{
    dg_int i;
    if (f.kind == DG_F_NONE)
        return;
    for (i = 0; i < n; ++i)
        y[i] = dg_apply(f, y[i]);
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
