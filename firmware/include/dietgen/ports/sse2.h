/* dietgen runtime: the panel loops (panel.h) for plain x86-64 builds, which have SSE2 and nothing more (the
 * generated Makefile's default -O3 and dietgen's own host builds, without -march).
 *
 * The portable C is fragile there: GCC 12 vectorises its loop over the taps rather than over a panel's rows
 * when it knows the sizes or at -O3, which took Dense 512 -> 512 over 256 rows from 80 M instructions (the C
 * compiled on its own at -O2) to 446 M at -O3 and 276 M in the model's unity file at -O2 (callgrind). Written
 * out with intrinsics, the panel's 8 rows are two 4-lane vectors per column, whatever the compiler knows:
 * - DG_MR = 2 columns: even and odd taps sum apart, 8 sums in 8 of the 16 xmm registers (SSE2 has no fused
 *   multiply-add: a multiply and an add, rounded twice, as the portable C rounds without FMA). Per tap, two
 *   weight loads and one broadcast per column serve 16 MACs.
 * - One column (the one-frame streaming step), in runs (panel.h): 4 taps per iteration into 4 pairs of sums,
 *   which run on from one run to the next; two panels at once share each x value's broadcast.
 * - The rows after the last full panel: 8 taps per iteration in two vectors of sums.
 * Only the summation order differs from the portable C. */
#ifndef DG_PORT_SSE2_H
#define DG_PORT_SSE2_H
#include <emmintrin.h>

#define DG_PORT_PANEL

#if DG_MR != 2
#error "the SSE2 panel port is written for DG_MR == 2 (panel.h)"
#endif

/* One tap: the panel row at wrow (8 weights) times x0[p] and x1[p], into the sums lo/hi of each column. */
#define DG_SSE2_TAP(a, wrow, p) do { \
        __m128 lo_ = _mm_loadu_ps(wrow), hi_ = _mm_loadu_ps((wrow) + 4); \
        __m128 u_ = _mm_set1_ps(x0[p]), v_ = _mm_set1_ps(x1[p]); \
        a##0 = _mm_add_ps(a##0, _mm_mul_ps(lo_, u_)); \
        a##1 = _mm_add_ps(a##1, _mm_mul_ps(hi_, u_)); \
        a##2 = _mm_add_ps(a##2, _mm_mul_ps(lo_, v_)); \
        a##3 = _mm_add_ps(a##3, _mm_mul_ps(hi_, v_)); \
    } while (0)

static inline void dg_port_panel_mr(const float *DG_RESTRICT w, const float *DG_RESTRICT x, dg_int xs, dg_int k,
                                    const float *DG_RESTRICT start, float acc[DG_MR][DG_NR])
{
    const float *x0 = x, *x1 = x + xs;
    __m128 a0 = _mm_loadu_ps(start), a1 = _mm_loadu_ps(start + 4), a2 = a0, a3 = a1, b0 = _mm_setzero_ps(),
           b1 = b0, b2 = b0, b3 = b0;
    dg_int p;
    for (p = 0; p + 2 <= k; p += 2, w += 2 * DG_NR) {
        DG_SSE2_TAP(a, w, p);
        DG_SSE2_TAP(b, w + DG_NR, p + 1);
    }
    if (p < k)
        DG_SSE2_TAP(a, w, p);
    _mm_storeu_ps(acc[0], _mm_add_ps(a0, b0));
    _mm_storeu_ps(acc[0] + 4, _mm_add_ps(a1, b1));
    _mm_storeu_ps(acc[1], _mm_add_ps(a2, b2));
    _mm_storeu_ps(acc[1] + 4, _mm_add_ps(a3, b3));
}

#undef DG_SSE2_TAP

/* Tap t of the group at p: row u + t*DG_NR times x[p + t], into the sums lo##t, hi##t. */
#define DG_SSE2_TAP1(t) do { \
        __m128 x_ = _mm_set1_ps(x[p + (t)]); \
        lo##t = _mm_add_ps(lo##t, _mm_mul_ps(_mm_loadu_ps(u + (t) * DG_NR), x_)); \
        hi##t = _mm_add_ps(hi##t, _mm_mul_ps(_mm_loadu_ps(u + (t) * DG_NR + 4), x_)); \
    } while (0)

static inline void dg_port_panel_1(const float *DG_RESTRICT w, const float *const *runs, dg_int parts, dg_int k,
                                   dg_int step, const float *DG_RESTRICT start, float acc[DG_NR])
{
    __m128 lo0 = _mm_loadu_ps(start), hi0 = _mm_loadu_ps(start + 4), lo1 = _mm_setzero_ps(), lo2 = lo1, lo3 = lo1,
           hi1 = lo1, hi2 = lo1, hi3 = lo1;
    dg_int p, s;
    DG_ROLLED
    for (s = 0; s < parts; ++s) {
        const float *DG_RESTRICT x = runs[s], *DG_RESTRICT u = w + s * step;
        for (p = 0; p + 4 <= k; p += 4, u += 4 * DG_NR) {
            DG_SSE2_TAP1(0);
            DG_SSE2_TAP1(1);
            DG_SSE2_TAP1(2);
            DG_SSE2_TAP1(3);
        }
        for (; p < k; ++p, u += DG_NR)
            DG_SSE2_TAP1(0);
    }
    _mm_storeu_ps(acc, _mm_add_ps(_mm_add_ps(lo0, lo1), _mm_add_ps(lo2, lo3)));
    _mm_storeu_ps(acc + 4, _mm_add_ps(_mm_add_ps(hi0, hi1), _mm_add_ps(hi2, hi3)));
}

#undef DG_SSE2_TAP1

/* Two panels against one column in runs: each x value broadcast (a load and a shuffle) once for both. 2 taps per
 * iteration into 8 sums (two panels, their low and high rows, even and odd taps): 2 broadcasts, 8 loads,
 * 8 multiplies and 8 adds per 32 MACs, where two panel_1 calls take 4 broadcasts. When this came in, conv16's
 * one-sample step at -O3 without -march went from 14,753 to 13,923 instructions, gru24's from 15,229 to 13,898. */
#define DG_PORT_PANEL_2
static inline void dg_port_panel_2(const float *DG_RESTRICT w, const float *const *runs, dg_int parts, dg_int k,
                                   dg_int step, const float *DG_RESTRICT start, float acc[2][DG_NR])
{
    __m128 a0 = _mm_loadu_ps(start), a1 = _mm_loadu_ps(start + 4), a2 = _mm_loadu_ps(start + 8),
           a3 = _mm_loadu_ps(start + 12), b0 = _mm_setzero_ps(), b1 = b0, b2 = b0, b3 = b0;
    dg_int p, s;
    DG_ROLLED
    for (s = 0; s < parts; ++s) {
        const float *DG_RESTRICT x = runs[s], *DG_RESTRICT u = w + s * step, *DG_RESTRICT v = u + DG_NR * k;
        for (p = 0; p + 2 <= k; p += 2, u += 2 * DG_NR, v += 2 * DG_NR) {
            __m128 x0 = _mm_set1_ps(x[p]), x1 = _mm_set1_ps(x[p + 1]);
            a0 = _mm_add_ps(a0, _mm_mul_ps(_mm_loadu_ps(u), x0));
            a1 = _mm_add_ps(a1, _mm_mul_ps(_mm_loadu_ps(u + 4), x0));
            a2 = _mm_add_ps(a2, _mm_mul_ps(_mm_loadu_ps(v), x0));
            a3 = _mm_add_ps(a3, _mm_mul_ps(_mm_loadu_ps(v + 4), x0));
            b0 = _mm_add_ps(b0, _mm_mul_ps(_mm_loadu_ps(u + DG_NR), x1));
            b1 = _mm_add_ps(b1, _mm_mul_ps(_mm_loadu_ps(u + DG_NR + 4), x1));
            b2 = _mm_add_ps(b2, _mm_mul_ps(_mm_loadu_ps(v + DG_NR), x1));
            b3 = _mm_add_ps(b3, _mm_mul_ps(_mm_loadu_ps(v + DG_NR + 4), x1));
        }
        if (p < k) {
            __m128 x0 = _mm_set1_ps(x[p]);
            a0 = _mm_add_ps(a0, _mm_mul_ps(_mm_loadu_ps(u), x0));
            a1 = _mm_add_ps(a1, _mm_mul_ps(_mm_loadu_ps(u + 4), x0));
            a2 = _mm_add_ps(a2, _mm_mul_ps(_mm_loadu_ps(v), x0));
            a3 = _mm_add_ps(a3, _mm_mul_ps(_mm_loadu_ps(v + 4), x0));
        }
    }
    _mm_storeu_ps(acc[0], _mm_add_ps(a0, b0));
    _mm_storeu_ps(acc[0] + 4, _mm_add_ps(a1, b1));
    _mm_storeu_ps(acc[1], _mm_add_ps(a2, b2));
    _mm_storeu_ps(acc[1] + 4, _mm_add_ps(a3, b3));
}


/* One unpacked row (the rows after the last full panel) against one column: 8 taps per iteration in two 4-lane
 * vectors of sums, where the portable C keeps two scalar chains. */
#define DG_PORT_ROW_DOT
static inline float dg_port_row_dot(const float *DG_RESTRICT w, const float *DG_RESTRICT x, dg_int k)
{
    __m128 a = _mm_setzero_ps(), b = a;
    float sum;
    dg_int p;
    for (p = 0; p + 8 <= k; p += 8) {
        a = _mm_add_ps(a, _mm_mul_ps(_mm_loadu_ps(w + p), _mm_loadu_ps(x + p)));
        b = _mm_add_ps(b, _mm_mul_ps(_mm_loadu_ps(w + p + 4), _mm_loadu_ps(x + p + 4)));
    }
    a = _mm_add_ps(a, b);
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    sum = _mm_cvtss_f32(_mm_add_ss(a, _mm_shuffle_ps(a, a, 1)));
    for (; p < k; ++p)
        sum = DG_FMA(w[p], x[p], sum);
    return sum;
}

#endif
