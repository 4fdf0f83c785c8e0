/* dietgen runtime: the panel loops (panel.h) for x86-64 with AVX2 and FMA, and with AVX-512 where the build
 * enables it (-march=native on a core that has it).
 *
 * From the portable C, GCC keeps DG_MR = 4 columns' sums in four 8-lane vectors: four chains of multiply-adds,
 * while an FMA takes 4 cycles and two can start per cycle, so the loop waits on its own sums half the time.
 * Here a panel's 8 rows are one __m256 per column, and:
 * - AVX2, DG_MR = 4 columns: three panels at a time (dg_port_panel_mr3, 12 chains), then one (even and odd
 *   taps summing apart: 8 chains, 8 of the 16 ymm registers, added together at the end). Per tap a weight row is
 *   one load, each column's x one broadcast load (VBROADCASTSS, which costs a load port and nothing else) and
 *   one FMA: one panel takes 5 loads for 4 FMAs, so the loads bound it; three take 7 for 12.
 * - AVX-512, DG_MR = 4 columns: a zmm holds two taps of a panel, interleaved by one two-source permutation
 *   (VPERMT2PS) of two weight rows so that lanes 2r and 2r + 1 are row r at taps p and p + 1, and each column
 *   multiplies it by the pair x[p], x[p + 1] broadcast to every lane pair (VBROADCASTSD, again a load only). The
 *   permutation serves all four columns; taps 4q, 4q + 1 and 4q + 2, 4q + 3 sum apart (8 chains). At the end
 *   the lane pairs are added. Per 4 taps 12 loads and 10 vector operations (8 FMAs, 2 permutations) for 128
 *   MACs. The rows come in as 32-byte halves: the weight arrays are 32-byte aligned, and a 64-byte load that
 *   straddles two cache lines (every other one where an array is not 64-byte aligned) cost up to 40 % of the
 *   speed. The last k % 4 taps go through the AVX2 loop.
 * - One column (the one-frame streaming step), both builds: 4 taps per iteration into 4 accumulators, each FMA
 *   taking its weight row straight from memory: two instructions (a broadcast, an FMA) per 8 MACs. A broadcast
 *   and a weight load per FMA bound it at one FMA per cycle, which 4 chains already cover. Two panels at once
 *   (dg_port_panel_2, panel.c takes them in pairs) share each broadcast: 1.5 instructions per 8 MACs; that took
 *   the one-sample steps of gru24 from 3,501 to 3,042 instructions and conv16 from 6,900 to 6,497. A column in
 *   several runs (a streamed convolution's taps) keeps its sums in the same registers from the first run to the
 *   last: conv16 5,404 -> 4,824, gru24 2,980 -> 2,728.
 * - The rows after the last full panel (dg_port_row_dot): 16 taps per iteration in two vectors of sums.
 * FMA rounds once per multiply-add (as DG_FMA does in the portable C with FMA enabled); only the summation
 * order differs from the portable C.
 * Measured on an earlier round's Xeon (AVX-512; callgrind counts of the AVX2 build, valgrind decodes no AVX-512):
 * per MAC added by a tap (n = 24, k 17 -> 64; tests/test_kernels.py) one column 0.36, 4 + 1 columns 0.34 (portable
 * C 2.02 and 0.73); the panel product at dense512's shape (best of 15) AVX-512 48-55 G MAC/s, AVX2 31-36 with one
 * panel per pass, portable C 3-5. On an AMD EPYC (AVX2 only, FMA peak 50.5 G MAC/s), three panels per pass: that
 * product 48 G MAC/s, and whole layers (docs/benchmarks.md, -O3 -march=native, medians side by side) dense512 at
 * 90 % and conv128 at 70 % of the peak, both at onnxruntime's speed. Wall-clock figures on these shared machines
 * vary by 2x between runs: read them side by side. */
#ifndef DG_PORT_X86_H
#define DG_PORT_X86_H
#include <immintrin.h>
#include <stddef.h>

#define DG_PORT_PANEL

#if DG_MR != 4
#error "the x86 panel port is written for DG_MR == 4 (panel.h)"
#endif

/* v stays in a register: GCC otherwise folds a weight row's load into each FMA that uses it (vfmadd231ps with a
 * memory operand), a load per FMA where one serves them all, and the loads, not the FMAs, bound the loop. An
 * empty asm that takes v in a register is opaque to that folding and costs no instruction. */
#if defined(__GNUC__)
#define DG_X86_IN_REGISTER(v) __asm__("" : "+x"(v))
#else
#define DG_X86_IN_REGISTER(v) ((void)0)
#endif

/* One tap (a weight row) into the 4 sums a0-a3 of the columns at x0-x3, offset p. */
#define DG_X86_TAP(a, wrow, p) do { \
        __m256 r_ = _mm256_loadu_ps(wrow); \
        DG_X86_IN_REGISTER(r_); \
        a##0 = _mm256_fmadd_ps(r_, _mm256_broadcast_ss(x0 + (p)), a##0); \
        a##1 = _mm256_fmadd_ps(r_, _mm256_broadcast_ss(x1 + (p)), a##1); \
        a##2 = _mm256_fmadd_ps(r_, _mm256_broadcast_ss(x2 + (p)), a##2); \
        a##3 = _mm256_fmadd_ps(r_, _mm256_broadcast_ss(x3 + (p)), a##3); \
    } while (0)

#if defined(__AVX512F__)
/* x[0] and x[1] in every pair of lanes: one VBROADCASTSD from memory (memcpy, which compiles to that load, reads
 * the two floats as a double without breaking aliasing rules). */
static inline __m512 dg_x86_pair(const float *x)
{
    double pair;
    memcpy(&pair, x, sizeof pair);
    return _mm512_castpd_ps(_mm512_set1_pd(pair));
}

/* Two taps (16 weights at w) into the 4 sums a0-a3 of the columns at x0-x3, offset p. */
#define DG_X86_TAP2(a, p) do { \
        __m512 r_ = _mm512_permutex2var_ps(_mm512_castps256_ps512(_mm256_loadu_ps(w)), mix, \
                                           _mm512_castps256_ps512(_mm256_loadu_ps(w + DG_NR))); \
        a##0 = _mm512_fmadd_ps(r_, dg_x86_pair(x0 + (p)), a##0); \
        a##1 = _mm512_fmadd_ps(r_, dg_x86_pair(x1 + (p)), a##1); \
        a##2 = _mm512_fmadd_ps(r_, dg_x86_pair(x2 + (p)), a##2); \
        a##3 = _mm512_fmadd_ps(r_, dg_x86_pair(x3 + (p)), a##3); \
        w += 2 * DG_NR; \
    } while (0)

/* The 8 row sums of s, whose lanes 2r and 2r + 1 both sum into row r, plus t, to out. */
static inline void dg_x86_fold(__m512 s, __m256 t, float *out)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14);
    s = _mm512_add_ps(s, _mm512_permute_ps(s, 0xb1));
    _mm256_storeu_ps(out, _mm256_add_ps(_mm512_castps512_ps256(_mm512_permutexvar_ps(even, s)), t));
}

static inline void dg_port_panel_mr(const float *DG_RESTRICT w, const float *DG_RESTRICT x, dg_int xs, dg_int k,
                                    const float *DG_RESTRICT start, float acc[DG_MR][DG_NR])
{
    const float *x0 = x, *x1 = x + xs, *x2 = x + 2 * xs, *x3 = x + 3 * xs;
    /* lanes 2r, 2r + 1 <- row r of the first and of the second tap */
    const __m512i mix = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    __m256 t0 = _mm256_loadu_ps(start), t1 = t0, t2 = t0, t3 = t0;
    dg_int p;
    for (p = 0; p + 4 <= k; p += 4) {
        DG_X86_TAP2(a, p);
        DG_X86_TAP2(b, p + 2);
    }
    for (; p < k; ++p, w += DG_NR)
        DG_X86_TAP(t, w, p);
    dg_x86_fold(_mm512_add_ps(a0, b0), t0, acc[0]);
    dg_x86_fold(_mm512_add_ps(a1, b1), t1, acc[1]);
    dg_x86_fold(_mm512_add_ps(a2, b2), t2, acc[2]);
    dg_x86_fold(_mm512_add_ps(a3, b3), t3, acc[3]);
}

#undef DG_X86_TAP2
#else
static inline void dg_port_panel_mr(const float *DG_RESTRICT w, const float *DG_RESTRICT x, dg_int xs, dg_int k,
                                    const float *DG_RESTRICT start, float acc[DG_MR][DG_NR])
{
    const float *x0 = x, *x1 = x + xs, *x2 = x + 2 * xs, *x3 = x + 3 * xs;
    __m256 a0 = _mm256_loadu_ps(start), a1 = a0, a2 = a0, a3 = a0, b0 = _mm256_setzero_ps(), b1 = b0, b2 = b0,
           b3 = b0;
    dg_int p;
    for (p = 0; p + 2 <= k; p += 2, w += 2 * DG_NR) {
        DG_X86_TAP(a, w, p);
        DG_X86_TAP(b, w + DG_NR, p + 1);
    }
    if (p < k)
        DG_X86_TAP(a, w, p);
    _mm256_storeu_ps(acc[0], _mm256_add_ps(a0, b0));
    _mm256_storeu_ps(acc[1], _mm256_add_ps(a1, b1));
    _mm256_storeu_ps(acc[2], _mm256_add_ps(a2, b2));
    _mm256_storeu_ps(acc[3], _mm256_add_ps(a3, b3));
}

/* Three panels (24 rows) against DG_MR = 4 columns: 12 sums in 12 of the 16 ymm registers, a tap's three
 * weight rows in three more and each column's x broadcast into the last. Per tap 3 weight loads and 4
 * broadcasts feed 12 FMAs, where one panel takes 5 loads for 4: the FMAs, not the loads, bound it, and 12
 * independent chains cover the FMA latency (4-5 cycles, two pipes). All 16 registers are taken, which leaves
 * GCC's allocator no room: written in C, it spilled a sum to the stack (a store and a load every tap) wherever
 * the loop was inlined into a larger function, so the loop is assembly. Measured (-O3 -march=native, this
 * machine's AMD EPYC, best of 15): dense512's product 21.6 -> 48 G MAC/s, one 128-channel conv tile 21.7 -> 49,
 * against an FMA peak of 50.5 (firmware/harness/fma_peak.c). */
#define DG_PORT_PANEL_MR3
static inline void dg_port_panel_mr3(const float *DG_RESTRICT w, const float *DG_RESTRICT x, dg_int xs, dg_int k,
                                     const float *DG_RESTRICT start, float acc[3][DG_MR][DG_NR])
{
    const float *x3 = x + 3 * xs;
    /* 64-bit registers for the addressing (dg_int is 32 bits) */
    ptrdiff_t panel_bytes = (ptrdiff_t)DG_NR * k * (ptrdiff_t)sizeof(float);
    ptrdiff_t column_bytes = (ptrdiff_t)xs * (ptrdiff_t)sizeof(float), n = k;
    __m256 a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3, wu, wv, wt, xb;
    /* the sums start from start's 24 floats; k may be 0 */
    __asm__("vmovups (%[s]), %[a0]\n\t"
            "vmovaps %[a0], %[a1]\n\t"
            "vmovaps %[a0], %[a2]\n\t"
            "vmovaps %[a0], %[a3]\n\t"
            "vmovups 32(%[s]), %[b0]\n\t"
            "vmovaps %[b0], %[b1]\n\t"
            "vmovaps %[b0], %[b2]\n\t"
            "vmovaps %[b0], %[b3]\n\t"
            "vmovups 64(%[s]), %[c0]\n\t"
            "vmovaps %[c0], %[c1]\n\t"
            "vmovaps %[c0], %[c2]\n\t"
            "vmovaps %[c0], %[c3]\n\t"
            "test %[n], %[n]\n\t"
            "jz 2f\n"
            "1:\n\t"
            "vmovups (%[w]), %[wu]\n\t"
            "vmovups (%[w],%[pb]), %[wv]\n\t"
            "vmovups (%[w],%[pb],2), %[wt]\n\t"
            "vbroadcastss (%[x]), %[xb]\n\t"
            "vfmadd231ps %[wu], %[xb], %[a0]\n\t"
            "vfmadd231ps %[wv], %[xb], %[b0]\n\t"
            "vfmadd231ps %[wt], %[xb], %[c0]\n\t"
            "vbroadcastss (%[x],%[cb]), %[xb]\n\t"
            "vfmadd231ps %[wu], %[xb], %[a1]\n\t"
            "vfmadd231ps %[wv], %[xb], %[b1]\n\t"
            "vfmadd231ps %[wt], %[xb], %[c1]\n\t"
            "vbroadcastss (%[x],%[cb],2), %[xb]\n\t"
            "vfmadd231ps %[wu], %[xb], %[a2]\n\t"
            "vfmadd231ps %[wv], %[xb], %[b2]\n\t"
            "vfmadd231ps %[wt], %[xb], %[c2]\n\t"
            "vbroadcastss (%[x3]), %[xb]\n\t"
            "vfmadd231ps %[wu], %[xb], %[a3]\n\t"
            "vfmadd231ps %[wv], %[xb], %[b3]\n\t"
            "vfmadd231ps %[wt], %[xb], %[c3]\n\t"
            "add $32, %[w]\n\t"
            "add $4, %[x]\n\t"
            "add $4, %[x3]\n\t"
            "dec %[n]\n\t"
            "jnz 1b\n"
            "2:"
            : [a0] "=&x"(a0), [a1] "=&x"(a1), [a2] "=&x"(a2), [a3] "=&x"(a3), [b0] "=&x"(b0), [b1] "=&x"(b1),
              [b2] "=&x"(b2), [b3] "=&x"(b3), [c0] "=&x"(c0), [c1] "=&x"(c1), [c2] "=&x"(c2), [c3] "=&x"(c3),
              [wu] "=&x"(wu), [wv] "=&x"(wv), [wt] "=&x"(wt), [xb] "=&x"(xb), [w] "+r"(w), [x] "+r"(x),
              [x3] "+r"(x3), [n] "+r"(n)
            : [pb] "r"(panel_bytes), [cb] "r"(column_bytes), [s] "r"(start)
            : "cc", "memory");
    _mm256_storeu_ps(acc[0][0], a0);
    _mm256_storeu_ps(acc[0][1], a1);
    _mm256_storeu_ps(acc[0][2], a2);
    _mm256_storeu_ps(acc[0][3], a3);
    _mm256_storeu_ps(acc[1][0], b0);
    _mm256_storeu_ps(acc[1][1], b1);
    _mm256_storeu_ps(acc[1][2], b2);
    _mm256_storeu_ps(acc[1][3], b3);
    _mm256_storeu_ps(acc[2][0], c0);
    _mm256_storeu_ps(acc[2][1], c1);
    _mm256_storeu_ps(acc[2][2], c2);
    _mm256_storeu_ps(acc[2][3], c3);
}
#endif

/* One column in `parts` runs (panel.h): 4 taps per iteration into 4 sums, which run on from one run to the
 * next (a streamed convolution's one-frame step is three runs of 16 taps). */
static inline void dg_port_panel_1(const float *DG_RESTRICT w, const float *const *runs, dg_int parts, dg_int k,
                                   dg_int step, const float *DG_RESTRICT start, float acc[DG_NR])
{
    __m256 a0 = _mm256_loadu_ps(start), a1 = _mm256_setzero_ps(), a2 = a1, a3 = a1;
    dg_int p, s;
    DG_ROLLED
    for (s = 0; s < parts; ++s) {
        const float *DG_RESTRICT x = runs[s], *DG_RESTRICT u = w + s * step;
        for (p = 0; p + 4 <= k; p += 4, u += 4 * DG_NR) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(u), _mm256_broadcast_ss(x + p), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(u + DG_NR), _mm256_broadcast_ss(x + p + 1), a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(u + 2 * DG_NR), _mm256_broadcast_ss(x + p + 2), a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(u + 3 * DG_NR), _mm256_broadcast_ss(x + p + 3), a3);
        }
        for (; p < k; ++p, u += DG_NR)
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(u), _mm256_broadcast_ss(x + p), a0);
    }
    _mm256_storeu_ps(acc, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

/* Two panels against one column in runs: each x value is broadcast once for both. 4 taps per iteration into 4
 * sums (two per panel): 4 broadcasts and 8 FMAs per 64 MACs, where two panel_1 calls take 8 broadcasts. */
#define DG_PORT_PANEL_2
static inline void dg_port_panel_2(const float *DG_RESTRICT w, const float *const *runs, dg_int parts, dg_int k,
                                   dg_int step, const float *DG_RESTRICT start, float acc[2][DG_NR])
{
    __m256 a0 = _mm256_loadu_ps(start), b0 = _mm256_loadu_ps(start + DG_NR), a1 = _mm256_setzero_ps(), b1 = a1, x0,
           x1;
    dg_int p, s;
    DG_ROLLED
    for (s = 0; s < parts; ++s) {
        const float *DG_RESTRICT x = runs[s], *DG_RESTRICT u = w + s * step, *DG_RESTRICT v = u + DG_NR * k;
        for (p = 0; p + 4 <= k; p += 4, u += 4 * DG_NR, v += 4 * DG_NR) {
            x0 = _mm256_broadcast_ss(x + p);
            x1 = _mm256_broadcast_ss(x + p + 1);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(u), x0, a0);
            b0 = _mm256_fmadd_ps(_mm256_loadu_ps(v), x0, b0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(u + DG_NR), x1, a1);
            b1 = _mm256_fmadd_ps(_mm256_loadu_ps(v + DG_NR), x1, b1);
            x0 = _mm256_broadcast_ss(x + p + 2);
            x1 = _mm256_broadcast_ss(x + p + 3);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(u + 2 * DG_NR), x0, a0);
            b0 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 2 * DG_NR), x0, b0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(u + 3 * DG_NR), x1, a1);
            b1 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 3 * DG_NR), x1, b1);
        }
        for (; p < k; ++p, u += DG_NR, v += DG_NR) {
            x0 = _mm256_broadcast_ss(x + p);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(u), x0, a0);
            b0 = _mm256_fmadd_ps(_mm256_loadu_ps(v), x0, b0);
        }
    }
    _mm256_storeu_ps(acc[0], _mm256_add_ps(a0, a1));
    _mm256_storeu_ps(acc[1], _mm256_add_ps(b0, b1));
}

/* One unpacked row (the rows after the last full panel) against one column: 16 taps per iteration in two 8-lane
 * vectors of sums, where the portable C keeps two scalar chains and GCC -O3 does not vectorise them (a one-hot
 * conditioning of 1000 inputs into 4 outputs took half of SING's x86 step that way). */
#define DG_PORT_ROW_DOT
static inline float dg_port_row_dot(const float *DG_RESTRICT w, const float *DG_RESTRICT x, dg_int k)
{
    __m256 a = _mm256_setzero_ps(), b = a;
    __m128 s;
    float sum;
    dg_int p;
    for (p = 0; p + 16 <= k; p += 16) {
        a = _mm256_fmadd_ps(_mm256_loadu_ps(w + p), _mm256_loadu_ps(x + p), a);
        b = _mm256_fmadd_ps(_mm256_loadu_ps(w + p + 8), _mm256_loadu_ps(x + p + 8), b);
    }
    if (p + 8 <= k) {
        a = _mm256_fmadd_ps(_mm256_loadu_ps(w + p), _mm256_loadu_ps(x + p), a);
        p += 8;
    }
    a = _mm256_add_ps(a, b);
    s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    sum = _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
    for (; p < k; ++p)
        sum = DG_FMA(w[p], x[p], sum);
    return sum;
}

#undef DG_X86_TAP

#endif
