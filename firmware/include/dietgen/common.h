/* dietgen runtime: definitions shared by every kernel.
 * Kernels trust their arguments: dietgen validated every shape and attribute at export time. */
#ifndef DG_COMMON_H
#define DG_COMMON_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Which pointwise functions (DG_F_* below) this build applies: DG_USE_<KIND> 1 for each, DG_USE_TANH say. A generated library
 * ships its own dietgen/fns.h naming only what its model uses, so dg_map_n compiles no other case and an image
 * links no libm function the model never calls; the runtime's default enables them all. */
#include "dietgen/fns.h"

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

/* a*b + c in one rounding where the core has a fused multiply-add as fast as a multiply (FP_FAST_FMAF: the
 * Cortex-M4F/M7/M33 FPU, NEON and AArch64, x86 with FMA enabled), else as two operations. The fused form is no
 * less accurate: each product-sum rounds once instead of twice, so a dot product of k terms keeps its error bound
 * (k * 2^-24 * sum |w x|), far inside the models' tolerance of 1e-4 of the output's RMS. It is explicit rather
 * than left to -ffp-contract, which -std=c99 turns off. Results then differ between cores with and without FMA
 * by that rounding only. */
#if defined(FP_FAST_FMAF) || defined(__FP_FAST_FMAF)
#define DG_FMA(a, b, c) fmaf((a), (b), (c))
#else
#define DG_FMA(a, b, c) ((a) * (b) + (c))
#endif

/* C99's restrict, which C++ (Arduino sketches include these headers) spells __restrict__. */
#if defined(__cplusplus)
#define DG_RESTRICT __restrict__
#else
#define DG_RESTRICT restrict
#endif

/* Every runtime function is declared and defined DG_API. A generated library's NAME_unity.c defines DG_UNITY and
 * includes the model with the runtime sources it uses, so one translation unit holds all the calls: the kernels
 * are then static, and the compiler clones or inlines them for the literal sizes the model passes (an LSTM step
 * of 20 units runs in a third of the instructions on x86). The unused attribute keeps -Wall quiet about a kernel
 * function a model never calls. Compiled file by file, they are ordinary external functions: the runtime as a
 * library any program can link. */
#if defined(DG_UNITY) && defined(__GNUC__)
#define DG_API static __attribute__((unused))
#elif defined(DG_UNITY)
#define DG_API static
#else
#define DG_API
#endif

/* For a helper whose arguments are what a caller specialises on, where there are vector units (hosts, Raspberry
 * Pis): inlined wherever it is called, so that the sizes reach its loops as constants. GCC's -O3 otherwise keeps
 * it out of line in one clone for all callers: the one-frame conv step of conv16 (ten dg_panel_gemv_runs calls)
 * took 5,869 x86 instructions that way against 4,824. Used sparingly: forcing the whole panel product inline
 * everywhere halved the one-sample GRU and conv steps' gap to RTNeural but doubled the demo's step (420 k -> 805 k
 * instructions), and on microcontrollers flash is a budget, so there the compiler decides. */
#if defined(__GNUC__) && (defined(__AVX__) || defined(__ARM_NEON) || defined(__ARM_NEON__) || defined(__SSE2__))
#define DG_INLINE inline __attribute__((always_inline))
#else
#define DG_INLINE inline
#endif

/* The emulator counters give each node of a step its own count by the calls of dg_mark_node (the harness's,
 * firmware/harness/marks.h) the step makes before each node: kernels inlined in a unity build make no calls that
 * could be counted. Only dietgen's counting builds define DG_COUNT_NODES; elsewhere the mark is nothing. */
#ifdef DG_COUNT_NODES
#ifdef __cplusplus
extern "C" void dg_mark_node(void);
#else
void dg_mark_node(void);
#endif
#define DG_MARK_NODE() dg_mark_node()
#else
#define DG_MARK_NODE() ((void)0)
#endif

/* Fully unrolls the loop that follows, of a few fixed iterations (a panel's rows and columns), so that its sums
 * stay in registers; -O2 alone leaves such loops rolled on the Cortex-M. Compilers without the pragma (avr-gcc 5)
 * get the plain loop. */
#if (defined(__GNUC__) && __GNUC__ >= 8) || defined(__clang__)
#define DG_UNROLL _Pragma("GCC unroll 8")
#else
#define DG_UNROLL
#endif

/* Keeps the loop that follows rolled: a loop over a column's runs (panel.h), whose body is a whole unrolled tap
 * loop. GCC 12 at -O3, knowing a streamed convolution's sizes, unrolled three runs of 16 taps completely, loaded
 * every weight row of the step up front and spilled them to the stack: conv16's x86 step took 5,608
 * instructions that way, 4,824 with this loop rolled. */
#if (defined(__GNUC__) && __GNUC__ >= 8) || defined(__clang__)
#define DG_ROLLED _Pragma("GCC unroll 1")
#else
#define DG_ROLLED
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
 *   dg_tanhf     absolute error <= 1.2e-7 (measured 8.3e-8), also relative for |x| < 0.55 (measured 6.1e-8)
 *   dg_sigmoidf  absolute error <= 1.2e-7 (measured 8.9e-8)
 * The target is a few ulp (2e-7): below what a float pipeline accumulates anyway, so whole models stay within
 * their tolerance. Edges are exact: e^x is +Inf above DG_EXPF_MAX and 0 below DG_EXPF_MIN (denormal results
 * are flushed: they would cost precision and, on many FPUs, time); tanh and sigmoid reach +-1, 0 and 1
 * exactly where the float result rounds there; NaN in gives NaN out; tanh keeps the sign of -0. */
#define DG_EXPF_MAX 88.72283172607421875f   /* the largest x whose e^x rounds to a finite float */
#define DG_EXPF_MIN -87.33654022216796875f  /* the smallest x whose e^x is at least FLT_MIN */

static DG_INLINE uint32_t dg_f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static DG_INLINE float dg_u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* e^x = 2^k * e^r with k = round(x / ln 2) and |r| <= ln(2)/2. ln 2 is split Cody-Waite style into a 16-bit
 * head (k * head is exact for |k| <= 128) and a tail, so r carries no cancellation error. e^r = 1 + r + r^2 P(r),
 * P the degree-4 minimax (Remez) fit of (e^r - 1 - r) / r^2 for relative error (3.1e-9) on |r| <= 0.348, its
 * Horner steps fused multiply-adds where the core has them (DG_FMA); what remains is float rounding. k comes from
 * y + 1.5 * 2^23, whose low bits hold k in two's complement (round to nearest, no float-to-int conversion and no
 * branch on the sign): *kbits gets those bits, 0x4b400000 + k. Returns q = e^r - 1, so that callers finish
 * 2^k (1 + q) as one multiply-add, 2^k + q 2^k: an instruction and a rounding fewer. Every variant below shares
 * this range reduction and polynomial. */
static DG_INLINE float dg_exp_reduced(float x, uint32_t *kbits)
{
    float y = x * 1.44269504088896341f, fk = (y + 12582912.0f) - 12582912.0f, r;
    *kbits = dg_f2u(y + 12582912.0f);
    r = DG_FMA(-fk, 1.42860676533018690e-6f, DG_FMA(-fk, 0.693145751953125f, x));
    return DG_FMA(r * r, DG_FMA(DG_FMA(DG_FMA(DG_FMA(0.0013814191334f, r, 0.0083689140156f), r, 0.041668407619f),
                                       r, 0.16666519642f), r, 0.49999994040f),
                  r);
}

/* 1 + e^x, what tanh and sigmoid divide by, for callers that keep x within [DG_EXPF_MIN, DG_EXP_SAFE] themselves
 * (or pass NaN, which comes out NaN): k is then at most 127, so 2^k is a normal float, and there are no edges to
 * select; tanh and sigmoid, whose arguments are clamped anyway, spend a third fewer instructions this way. 2^k's
 * bits are (k + 127) << 23, which is (kbits << 23) + (127 << 23) modulo 2^32, since 0x4b400000 << 23 wraps to 0:
 * two integer instructions, without taking k out. The 1 goes onto 2^k before the multiply-add. Same errors. */
#define DG_EXP_SAFE 88.0f
static DG_INLINE float dg_one_plus_exp(float x)
{
    uint32_t kbits;
    float q = dg_exp_reduced(x, &kbits), s = dg_u2f((kbits << 23) + 0x3f800000u);
    return DG_FMA(q, s, 1.0f + s);
}

/* 2^k for the full range of k (-126..128) in two halves, so that neither leaves the normal range. */
static DG_INLINE float dg_exp_scaled(float q, uint32_t kbits)
{
    dg_int k = (dg_int)(kbits - 0x4b400000u), h = k / 2;
    float s = dg_u2f((uint32_t)(h + 127) << 23);
    return DG_FMA(q, s, s) * dg_u2f((uint32_t)(k - h + 127) << 23);
}

/* tanh on |x| below 0.55: |x| + |x|^3 Q(x^2), Q the degree-4 minimax fit of (tanh(x) - x) / x^3 for relative
 * error (1.0e-9), so small signals keep their relative precision. Above it tanh is 1 - 2 / (e^(2|x|) + 1), which
 * rounds to exactly 1 from |x| = 9.01 on (clamping at 9.5 keeps e^(2|x|) finite and lets NaN through). */
static DG_INLINE float dg_tanh_small(float a)
{
    float s = a * a;
    return DG_FMA(a * s, DG_FMA(DG_FMA(DG_FMA(DG_FMA(-0.0062742396258f, s, 0.021071679890f), s, -0.053852308542f),
                                       s, 0.13332585990f), s, -0.33333316445f), a);
}

#if defined(__AVX__) || defined(__ARM_NEON) || defined(__ARM_NEON__)
/* Where there are vector units, the functions without branches, so that a loop applying them (an RNN's gates,
 * a fused activation) vectorises: the clamps and edges are chosen by bit masks from quiet comparisons
 * (isgreater...) rather than by ?: — under the default -ftrapping-math a compiler may not evaluate float
 * arithmetic a branch would have skipped, and GCC turns no more than one such select per loop into a blend. Same
 * polynomials, same errors. */
#define DG_VECTOR_MATH 1
/* DG_SIMD marks a loop over activations as a SIMD loop (OpenMP's simd directive; no threads, no runtime), for
 * builds with -fopenmp-simd -DDG_OMP_SIMD (the Pis': toolchain/cross.py's optimisation_flags). GCC's cost model
 * charges a loop the vector constants of these functions but not the scalar ones, so on the Cortex-A72 it keeps
 * loops of fewer than 11 floats scalar: WaveNet's gates of 8 channels, a panel's 8 sums, an LSTM of 8 units. */
#if defined(DG_OMP_SIMD)
#define DG_SIMD _Pragma("omp simd")
#endif
/* ...and always inline (DG_INLINE): a gate loop vectorises only where they are inlined into it, and GCC's
 * inlining budget for a whole model's unity file ran out before them once the panel product grew (the demo's
 * x86 step took 4x as long, its LSTM gates one scalar call per activation). */

/* mask ? a : b, for a mask of all ones or all zeros (dg_mask). */
static DG_INLINE float dg_pick(uint32_t mask, float a, float b)
{
    return dg_u2f((dg_f2u(a) & mask) | (dg_f2u(b) & ~mask));
}

static DG_INLINE uint32_t dg_mask(int condition)
{
    return 0u - (uint32_t)condition;
}

static DG_INLINE float dg_expf(float x)
{
    uint32_t over = dg_mask(isgreater(x, DG_EXPF_MAX)), under = dg_mask(isless(x, DG_EXPF_MIN)), kbits;
    float q = dg_exp_reduced(dg_pick(over, DG_EXPF_MAX, dg_pick(under, DG_EXPF_MIN, x)), &kbits);
    float e = dg_exp_scaled(q, kbits);
    /* above the range +Inf, below it 0, NaN itself (NaN compares neither greater nor less) */
    return dg_pick(over, INFINITY, dg_pick(under, 0.0f, dg_pick(dg_mask(x != x), x, e)));
}

/* Both branches computed and one selected; the sign bit of x is copied last, which keeps -0 and odd symmetry. */
static DG_INLINE float dg_tanhf(float x)
{
    float a = fabsf(x), large;
    large = 1.0f - 2.0f / dg_one_plus_exp(2.0f * dg_pick(dg_mask(isgreater(a, 9.5f)), 9.5f, a));
    return dg_u2f(dg_f2u(dg_pick(dg_mask(isless(a, 0.55f)), dg_tanh_small(a), large)) | (dg_f2u(x) & 0x80000000u));
}

/* 1 / (1 + e^-x): exactly 1 once e^-x is below half an ulp of 1 (x > 16.6), exactly 0 once e^-x overflows.
 * e^-x clamped into dg_one_plus_exp's range (the ends give 1 and a result below 7e-39), the overflow's 0 chosen
 * by one mask; NaN passes through every comparison. */
static DG_INLINE float dg_sigmoidf(float x)
{
    float v = -x;
    v = dg_pick(dg_mask(isgreater(v, DG_EXP_SAFE)), DG_EXP_SAFE, dg_pick(dg_mask(isless(v, DG_EXPF_MIN)),
                                                                         DG_EXPF_MIN, v));
    return dg_pick(dg_mask(isless(x, -DG_EXPF_MAX)), 0.0f, 1.0f / dg_one_plus_exp(v));
}
#else
/* Scalar FPUs (the Cortex-M4F, M7, M33; soft float): branches, so that only the side taken is paid for, and as
 * few of them as the common case allows: each float comparison is a compare, a flags transfer and a branch. */
static inline float dg_expf(float x)
{
    uint32_t kbits;
    float q;
    if (x > DG_EXPF_MAX)
        return INFINITY;
    if (!(x >= DG_EXPF_MIN))
        return x != x ? x : 0.0f;
    q = dg_exp_reduced(x, &kbits);
    return dg_exp_scaled(q, kbits);
}

/* The sign of x (-0 included) goes on last, which keeps odd symmetry: t is never negative, so the sign bit of x
 * alone decides (copysignf would also clear t's). */
static inline float dg_tanhf(float x)
{
    float a = fabsf(x);
    float t = a < 0.55f ? dg_tanh_small(a) : 1.0f - 2.0f / dg_one_plus_exp(2.0f * (a > 9.5f ? 9.5f : a));
    return dg_f2u(x) >> 31 ? -t : t;
}

/* 1 / (1 + e^-x) (see above). Within |x| <= 17, where the gates of a network live, e^-x is in range as it is: one
 * comparison. Beyond it (and for NaN, which fails it) the ends: 1 above (the result rounds to 1 from 16.6 on), 0
 * where e^-x overflows, and e^-x clamped to DG_EXP_SAFE in between. */
static inline float dg_sigmoidf(float x)
{
    if (!(fabsf(x) <= 17.0f)) {
        if (x > 0.0f || x != x)
            return x > 0.0f ? 1.0f : x;
        if (x < -DG_EXPF_MAX)
            return 0.0f;
        return 1.0f / dg_one_plus_exp(x < -DG_EXP_SAFE ? DG_EXP_SAFE : -x);
    }
    return 1.0f / dg_one_plus_exp(-x);
}
#endif

/* ln x: x = 2^e m with m in [sqrt(1/2), sqrt(2)), and ln m = 2 atanh(s) with s = (m - 1) / (m + 1), |s| <= 0.172,
 * from its odd series up to s^9 (what is left, 2|s|^11/11, is below 4e-10). m - 1 is exact there, so the error is
 * float rounding: relative error <= 2.4e-7 (tests/test_approx.py). e ln 2 uses the split ln 2 of dg_expf, so a
 * result near 0 keeps its relative precision. Denormals are scaled into the normal range first; 0 gives -Inf,
 * a negative x NaN, +Inf and NaN themselves. */
static inline float dg_logf(float x)
{
    uint32_t u;
    dg_int e = 0;
    float m, f, s, z, fe;
    if (!(x > 0.0f))
        return x == 0.0f ? -INFINITY : NAN;
    if (x == INFINITY)
        return x;
    if (x < 1.17549435e-38f) {
        x *= 8388608.0f;
        e = -23;
    }
    u = dg_f2u(x);
    e += (dg_int)(u >> 23) - 127;
    m = dg_u2f((u & 0x007fffffu) | 0x3f800000u);
    if (m > 1.41421356f) {
        m *= 0.5f;
        ++e;
    }
    f = m - 1.0f;
    s = f / (2.0f + f);
    z = s * s;
    fe = (float)e;
    return fe * 0.693145751953125f + (fe * 1.42860676533018690e-6f + (2.0f * s + s * z * (0.66666667f +
           z * (0.4f + z * (0.28571429f + z * 0.22222222f)))));
}

/* a^b as e^(b ln|a|), with IEEE pow's special cases: b = 0 or a = 1 give 1 (even for NaN), a negative needs an
 * integer b (else NaN) and takes the sign of a^b from b's parity, 0 and Inf powers go to 0 or Inf by b's sign.
 * b ln|a| is rounded before e^(.) sees it, so the relative error grows with its size: <= 3.6e-7 (1 + |b ln|a||),
 * measured over a sweep of a for many b (tests/test_approx.py). */
static inline float dg_powf(float a, float b)
{
    float m = fabsf(a), r;
    int odd = 0;
    if (b == 0.0f || a == 1.0f)
        return 1.0f;
    if (a != a || b != b)
        return a + b;
    if (m == 1.0f && fabsf(b) == INFINITY)
        return 1.0f;
    if (dg_f2u(a) >> 31) {
        /* every float of magnitude 2^24 or more is an even integer */
        if (fabsf(b) < 16777216.0f) {
            dg_int i = (dg_int)b;
            if ((float)i != b && m != 0.0f && m != INFINITY)
                return NAN;
            odd = (float)i == b && (i & 1);
        }
    }
    if (m == 0.0f)
        r = b > 0.0f ? 0.0f : INFINITY;
    else if (m == INFINITY)
        r = b > 0.0f ? INFINITY : 0.0f;
    else
        r = dg_expf(b * dg_logf(m));
    return odd ? -r : r;
}

#ifndef DG_SIMD
#define DG_SIMD /* a loop the compiler vectorises as its cost model decides */
#endif

/* y[i] = f(x[i]) for n floats, x == y allowed. The switch runs once per call and each kind gets its own loop,
 * free of per-element dispatch, which the compiler can unroll or vectorise. DG_MAP is that loop, v the input. */
static inline void dg_map_n(dg_fn f, const float *x, float *y, dg_int n)
{
    dg_int i;
#define DG_MAP(expr) DG_SIMD for (i = 0; i < n; ++i) { float v = x[i]; y[i] = (expr); } break
    switch (f.kind) {
#if DG_USE_RELU
    case DG_F_RELU: DG_MAP(v > 0.0f ? v : 0.0f);
#endif
#if DG_USE_LEAKY_RELU
    case DG_F_LEAKY_RELU: DG_MAP(v >= 0.0f ? v : f.alpha * v);
#endif
#if DG_USE_ELU
    case DG_F_ELU: DG_MAP(v >= 0.0f ? v : f.alpha * (dg_expf(v) - 1.0f));
#endif
#if DG_USE_TANH
    case DG_F_TANH: DG_MAP(dg_tanhf(v));
#endif
#if DG_USE_SIGMOID
    case DG_F_SIGMOID: DG_MAP(dg_sigmoidf(v));
#endif
#if DG_USE_HARD_SIGMOID
    case DG_F_HARD_SIGMOID: DG_MAP(fmaxf(0.0f, fminf(1.0f, f.alpha * v + f.beta)));
#endif
#if DG_USE_SOFTPLUS
    case DG_F_SOFTPLUS: DG_MAP(v > 20.0f ? v : log1pf(dg_expf(v)));
#endif
#if DG_USE_CLIP
    case DG_F_CLIP: DG_MAP(v < f.alpha ? f.alpha : (v > f.beta ? f.beta : v));
#endif
#if DG_USE_EXP
    case DG_F_EXP: DG_MAP(dg_expf(v));
#endif
#if DG_USE_LOG
    case DG_F_LOG: DG_MAP(dg_logf(v));
#endif
#if DG_USE_SIN
    case DG_F_SIN: DG_MAP(sinf(v));
#endif
#if DG_USE_COS
    case DG_F_COS: DG_MAP(cosf(v));
#endif
#if DG_USE_SQRT
    case DG_F_SQRT: DG_MAP(sqrtf(v));
#endif
#if DG_USE_ABS
    case DG_F_ABS: DG_MAP(fabsf(v));
#endif
#if DG_USE_NEG
    case DG_F_NEG: DG_MAP(-v);
#endif
#if DG_USE_RECIPROCAL
    case DG_F_RECIPROCAL: DG_MAP(1.0f / v);
#endif
#if DG_USE_FLOOR
    case DG_F_FLOOR: DG_MAP(floorf(v));
#endif
#if DG_USE_CEIL
    case DG_F_CEIL: DG_MAP(ceilf(v));
#endif
#if DG_USE_ERF
    case DG_F_ERF: DG_MAP(erff(v));
#endif
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
