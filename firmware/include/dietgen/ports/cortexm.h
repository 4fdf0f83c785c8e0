/* dietgen runtime: the panel loops (panel.h) for the Cortex-M4F, M7 and M33 single-precision FPU.
 *
 * Why assembly: the FPU has 32 single registers, enough for a whole register block, but from the portable C GCC
 * loads every weight with its own single-register load next to its VFMA, plus address and loop updates: 2.3
 * instructions per MAC for one column, 1.8 for two. Here a panel row of 8 weights comes in with one VLDMIA, x values 4 at a time with another, and
 * every MAC is one VFMA into a sum that stays in a register for the whole pass; the loop is unrolled over 4
 * taps, so branch and counter cost 2 instructions per 4 taps.
 * - One column (the one-frame streaming step): sums s0-s7, weight rows alternately in s8-s15 and s16-s23 (the
 *   next row loads while the previous one is multiplied), 4 x values in s24-s27. 39 instructions per 4 taps
 *   (32 MACs): 1.22 per MAC. A column in several runs (a streamed convolution's taps) keeps its sums in s0-s7
 *   from the first run to the last. Two panels at once (dg_port_panel_2) share each x value: sums s0-s15.
 * - DG_MR = 2 columns: sums s0-s7 and s8-s15, the weight row in s16-s23, 4 taps of each column in s24-s27 and
 *   s28-s31, all 32 registers. 72 instructions per 4 taps (64 MACs): 1.13 per MAC.
 * The sums come in with one VLDMIA from where they start (the panel's bias, read in flash, or zeros: panel.h).
 * A DG_MR pass with no activation stores its sums from their registers (dg_port_panel_mr_store): the demo's step
 * on the M4F 290,730 -> 278,073 instructions, its streamed convolutions 2.15 -> 1.82 per MAC.
 * Each sum gets one VFMA in 8 (or 16), so the FMA latency never holds up the next one. VFMA rounds once (as
 * DG_FMA does in the portable C); the sums run in tap order, so results differ from the portable C (which sums
 * even and odd taps apart) by rounding only.
 * Measured (QEMU instruction counts, the same on the M4F, M7 and M33 to 1 %; tests/test_kernels.py):
 *   per MAC added by a tap (n = 24, k 17 -> 64): one column 1.21, 2 columns 1.12 (portable C 2.28, 1.81);
 *   whole dg_panel_gemm call, n = 24, k = 64: 1.74 and 1.54 (portable C 3.29, 2.36);
 *                             n = 64, k = 256: 1.33 and 1.22 (portable C 2.59, 1.94),
 * measured while the bias still took a pass of its own after the product (it is the sums' start now, so whole
 * calls cost a little less). The difference is panel.c's stores (activation, strided y) and call set-up.
 * s16-s31 are callee-saved: GCC saves those the asm clobbers (one VPUSH and one VPOP per dg_panel_gemm call). */
#ifndef DG_PORT_CORTEXM_H
#define DG_PORT_CORTEXM_H

#define DG_PORT_PANEL

#if DG_MR != 2
#error "the Cortex-M panel port is written for DG_MR == 2 (panel.h)"
#endif

#define DG_CM_FMA(a, w, x) "vfma.f32 s" #a ", s" #w ", s" #x "\n\t"
/* s0-s7 += s8-s15 * sx */
#define DG_CM_ROW_0_8(x) DG_CM_FMA(0, 8, x) DG_CM_FMA(1, 9, x) DG_CM_FMA(2, 10, x) DG_CM_FMA(3, 11, x) \
    DG_CM_FMA(4, 12, x) DG_CM_FMA(5, 13, x) DG_CM_FMA(6, 14, x) DG_CM_FMA(7, 15, x)
/* s0-s7 += s16-s23 * sx */
#define DG_CM_ROW_0_16(x) DG_CM_FMA(0, 16, x) DG_CM_FMA(1, 17, x) DG_CM_FMA(2, 18, x) DG_CM_FMA(3, 19, x) \
    DG_CM_FMA(4, 20, x) DG_CM_FMA(5, 21, x) DG_CM_FMA(6, 22, x) DG_CM_FMA(7, 23, x)
/* s8-s15 += s16-s23 * sx */
#define DG_CM_ROW_8_16(x) DG_CM_FMA(8, 16, x) DG_CM_FMA(9, 17, x) DG_CM_FMA(10, 18, x) DG_CM_FMA(11, 19, x) \
    DG_CM_FMA(12, 20, x) DG_CM_FMA(13, 21, x) DG_CM_FMA(14, 22, x) DG_CM_FMA(15, 23, x)
/* Both columns of the DG_MR pass, tap t of 4: column 0's x in s24+t, column 1's in s28+t. */
#define DG_CM_TAP2(x0, x1) "vldmia %[w]!, {s16-s23}\n\t" DG_CM_ROW_0_16(x0) DG_CM_ROW_8_16(x1)

/* The DG_MR pass: the sums start from start's 8 floats, then k taps of the two columns at x0 and x1, 4 at a time and
 * then one at a time, with one counter for both loops (k less 4 per group of 4, then the taps left): the sums are
 * left in s0-s15 for what follows. */
#define DG_CM_MR_BODY \
        "vldmia %[start], {s0-s7}\n\t" \
        "vldmia %[start], {s8-s15}\n\t" \
        "subs %[k], %[k], #4\n\t" \
        "blt 2f\n" \
        "1:\n\t" \
        "vldmia %[x0]!, {s24-s27}\n\t" \
        "vldmia %[x1]!, {s28-s31}\n\t" \
        DG_CM_TAP2(24, 28) DG_CM_TAP2(25, 29) DG_CM_TAP2(26, 30) DG_CM_TAP2(27, 31) \
        "subs %[k], %[k], #4\n\t" \
        "bge 1b\n" \
        "2:\n\t" \
        "adds %[k], %[k], #4\n\t" \
        "beq 4f\n" \
        "3:\n\t" \
        "vldmia %[x0]!, {s24}\n\t" \
        "vldmia %[x1]!, {s28}\n\t" \
        DG_CM_TAP2(24, 28) \
        "subs %[k], %[k], #1\n\t" \
        "bne 3b\n" \
        "4:\n\t"
#define DG_CM_CLOBBERS_S0_S31 \
    "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15", "s16", \
    "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31"

static inline void dg_port_panel_mr(const float *DG_RESTRICT w, const float *DG_RESTRICT x, dg_int xs, dg_int k,
                                    const float *DG_RESTRICT start, float acc[DG_MR][DG_NR])
{
    const float *x1 = x + xs;
    __asm__ __volatile__(
        DG_CM_MR_BODY
        "vstmia %[acc], {s0-s15}"
        : [w] "+r"(w), [x0] "+r"(x), [x1] "+r"(x1), [k] "+r"(k)
        : [start] "r"(start), [acc] "r"(acc)
        : DG_CM_CLOBBERS_S0_S31, "cc", "memory");
}

/* Row r of a stored column: its sum s<reg> to [y], then y on to the next row (yjs bytes). The second column's
 * address is in the register that held the sums' start. */
#define DG_CM_STORE(reg, y) "vstr s" #reg ", [%[" #y "]]\n\t" "add %[" #y "], %[" #y "], %[yjs]\n\t"
#define DG_CM_STORE_ROW(r, r8) DG_CM_STORE(r, y0) DG_CM_STORE(r8, start)

/* The DG_MR pass with no activation, its 16 sums stored from their registers to y(c, j) at y[c*ycs + j*yjs]: two
 * instructions a float, where panel.c's store takes them back from memory at five a float along a stride (a
 * convolution's output rows). Eight register operands: GCC at -O0 has no more to give. */
#define DG_PORT_PANEL_MR_STORE
static inline void dg_port_panel_mr_store(const float *DG_RESTRICT w, const float *DG_RESTRICT x, dg_int xs,
                                          dg_int k, const float *DG_RESTRICT start, float *DG_RESTRICT y,
                                          dg_int ycs, dg_int yjs)
{
    const float *x1 = x + xs;
    __asm__ __volatile__(
        DG_CM_MR_BODY
        "add %[start], %[y0], %[ycs], lsl #2\n\t"
        DG_CM_STORE_ROW(0, 8) DG_CM_STORE_ROW(1, 9) DG_CM_STORE_ROW(2, 10) DG_CM_STORE_ROW(3, 11)
        DG_CM_STORE_ROW(4, 12) DG_CM_STORE_ROW(5, 13) DG_CM_STORE_ROW(6, 14) DG_CM_STORE_ROW(7, 15)
        : [w] "+r"(w), [x0] "+r"(x), [x1] "+r"(x1), [k] "+r"(k), [y0] "+r"(y), [start] "+r"(start)
        : [ycs] "r"(ycs), [yjs] "r"(yjs * (dg_int)sizeof(float))
        : DG_CM_CLOBBERS_S0_S31, "cc", "memory");
}

/* The loop over a column's runs of k floats (runs: the next run's address; k; n: runs left; q: the counter of
 * the 4-tap groups, then of the taps left),
 * around `quad`, which multiplies 4 taps whose x values are in s24-s27, and `one`, which multiplies one tap whose
 * x value is in s24; `skip` moves the weight pointers on to the next run's panels. */
#define DG_CM_RUNS(quad, one, skip) \
    "0:\n\t" "ldr %[x], [%[runs]], #4\n\t" "lsrs %[q], %[k], #2\n\t" "beq 2f\n" \
    "1:\n\t" "vldmia %[x]!, {s24-s27}\n\t" quad "subs %[q], %[q], #1\n\t" "bne 1b\n" \
    "2:\n\t" "ands %[q], %[k], #3\n\t" "beq 4f\n" \
    "3:\n\t" "vldmia %[x]!, {s24}\n\t" one "subs %[q], %[q], #1\n\t" "bne 3b\n" \
    "4:\n\t" skip "subs %[n], %[n], #1\n\t" "bne 0b\n\t"
/* One tap of two panels: a row of each (at w and v) into s16-s23 in turn, times sx, into s0-s7 and s8-s15. */
#define DG_CM_TAP_PAIR(x) "vldmia %[w]!, {s16-s23}\n\t" DG_CM_ROW_0_16(x) "vldmia %[v]!, {s16-s23}\n\t" \
    DG_CM_ROW_8_16(x)

/* One column in `parts` runs (panel.h), the loop over the runs inside the assembly, so the sums stay in
 * s0-s7 from the first run to the last: after a run the weights pointer has moved on by its DG_NR*k floats and
 * skips the rest of that run's step to the next run's panel. x holds the sums' start until the first run's
 * address replaces it: one register fewer, which GCC needs at -O0 (it keeps r7 for the frame). */
static inline void dg_port_panel_1(const float *DG_RESTRICT w, const float *const *runs, dg_int parts, dg_int k,
                                   dg_int step, const float *DG_RESTRICT start, float acc[DG_NR])
{
    const float *x = start;
    dg_int q, skip = step - DG_NR * k;
    __asm__ __volatile__(
        "vldmia %[x], {s0-s7}\n\t"
        DG_CM_RUNS("vldmia %[w]!, {s8-s15}\n\t" DG_CM_ROW_0_8(24)
                   "vldmia %[w]!, {s16-s23}\n\t" DG_CM_ROW_0_16(25)
                   "vldmia %[w]!, {s8-s15}\n\t" DG_CM_ROW_0_8(26)
                   "vldmia %[w]!, {s16-s23}\n\t" DG_CM_ROW_0_16(27),
                   "vldmia %[w]!, {s8-s15}\n\t" DG_CM_ROW_0_8(24),
                   "add %[w], %[w], %[skip], lsl #2\n\t")
        "vstmia %[acc], {s0-s7}"
        : [w] "+r"(w), [runs] "+r"(runs), [n] "+r"(parts), [x] "+&r"(x), [q] "=&r"(q)
        : [k] "r"(k), [skip] "r"(skip), [acc] "r"(acc)
        : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15",
          "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "cc", "memory");
}

/* Two panels against one column in runs: sums s0-s15, each x value (4 at a time in s24-s27) used for a row of
 * each panel, the rows loaded in turn into s16-s23. 75 instructions per 4 taps (64 MACs) where two panel_1
 * passes take 78, and one call's set-up and stores instead of two. The second panel's rows start DG_NR*k floats
 * (k*32 bytes) after the first's; the assembly finds them itself, as GCC at -O0 runs out of registers for one
 * more in-and-out operand. */
#define DG_PORT_PANEL_2
static inline void dg_port_panel_2(const float *DG_RESTRICT w, const float *const *runs, dg_int parts, dg_int k,
                                   dg_int step, const float *DG_RESTRICT start, float acc[2][DG_NR])
{
    const float *x = start, *v;
    dg_int q, skip = step - DG_NR * k;
    __asm__ __volatile__(
        "add %[v], %[w], %[k], lsl #5\n\t"
        "vldmia %[x], {s0-s15}\n\t"
        DG_CM_RUNS(DG_CM_TAP_PAIR(24) DG_CM_TAP_PAIR(25) DG_CM_TAP_PAIR(26) DG_CM_TAP_PAIR(27),
                   DG_CM_TAP_PAIR(24),
                   "add %[w], %[w], %[skip], lsl #2\n\t" "add %[v], %[v], %[skip], lsl #2\n\t")
        "vstmia %[acc], {s0-s15}"
        : [w] "+r"(w), [v] "=&r"(v), [runs] "+r"(runs), [n] "+r"(parts), [x] "+&r"(x), [q] "=&r"(q)
        : [k] "r"(k), [skip] "r"(skip), [acc] "r"(acc)
        : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15",
          "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "cc", "memory");
}

/* One unpacked row (the rows after the last full panel: panel.h) against one column: 4 chains, the first in the
 * register GCC gives the result and s1-s3 the others, with 4 weights and 4 x values per pair of VLDMIAs: 8
 * instructions per 4 taps (2 per MAC), where GCC's two chains from the portable C took 10 per 2 taps. The chains
 * meet after the last group of 4, then the taps left go onto the sum. */
#define DG_PORT_ROW_DOT
static inline float dg_port_row_dot(const float *DG_RESTRICT w, const float *DG_RESTRICT x, dg_int k)
{
    float sum;
    dg_int quads = k >> 2, rest = k & 3;
    __asm__ __volatile__(
        "vmov %[sum], %[zero]\n\t"
        "vmov s1, s2, %[zero], %[zero]\n\t"
        "vmov s3, %[zero]\n\t"
        "cmp %[q], #0\n\t"
        "beq 2f\n"
        "1:\n\t"
        "vldmia %[w]!, {s4-s7}\n\t"
        "vldmia %[x]!, {s8-s11}\n\t"
        "vfma.f32 %[sum], s4, s8\n\t"
        "vfma.f32 s1, s5, s9\n\t"
        "vfma.f32 s2, s6, s10\n\t"
        "vfma.f32 s3, s7, s11\n\t"
        "subs %[q], %[q], #1\n\t"
        "bne 1b\n\t"
        "vadd.f32 s1, s1, s2\n\t"
        "vadd.f32 %[sum], %[sum], s3\n\t"
        "vadd.f32 %[sum], %[sum], s1\n"
        "2:\n\t"
        "cmp %[r], #0\n\t"
        "beq 4f\n"
        "3:\n\t"
        "vldmia %[w]!, {s4}\n\t"
        "vldmia %[x]!, {s8}\n\t"
        "vfma.f32 %[sum], s4, s8\n\t"
        "subs %[r], %[r], #1\n\t"
        "bne 3b\n"
        "4:"
        : [sum] "=&t"(sum), [w] "+r"(w), [x] "+r"(x), [q] "+r"(quads), [r] "+r"(rest)
        : [zero] "r"(0)
        : "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "cc", "memory");
    return sum;
}

#undef DG_CM_STORE_ROW
#undef DG_CM_STORE
#undef DG_CM_CLOBBERS_S0_S31
#undef DG_CM_MR_BODY
#undef DG_CM_TAP_PAIR
#undef DG_CM_RUNS
#undef DG_CM_TAP2
#undef DG_CM_ROW_8_16
#undef DG_CM_ROW_0_16
#undef DG_CM_ROW_0_8
#undef DG_CM_FMA

#endif
