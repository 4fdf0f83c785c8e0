/* dietgen runtime: the panel loops (panel.h) in NEON, for the Raspberry Pis, 64-bit (AArch64) and 32-bit (armhf,
 * ARMv7/ARMv8 NEON).
 *
 * A panel's 8 rows of sums are two float32x4 vectors per column, so a packed weight row is two vector loads and
 * one vector multiply-add does 4 MACs. From the portable C, GCC vectorises only the AArch64 DG_MR loop (the
 * one-column loop stays mostly scalar FMADD), and nothing on 32-bit NEON, whose arithmetic flushes denormals to
 * zero (not IEEE, so GCC leaves float loops to the VFP unit unless -ffast-math). Flushing denormals (below
 * 1.2e-38) changes no audio result; it is the one difference besides summation order. Here:
 * - DG_MR = 4 columns: 8 accumulators (32 sums) reuse each weight row 4 times. AArch64 loads 4 taps of each
 *   column as one vector and multiplies by its lanes inside FMLA (by-element form, free); 32-bit NEON has 16 q
 *   registers, too few for 8 sums, 4 x vectors and a weight row, so it loads each x value into all lanes at
 *   once (VLD1 to all lanes) instead.
 * - One column (the one-frame streaming step): 4 taps per iteration, x as one vector used lane by lane, each tap
 *   into its own pair of accumulators (8 independent chains hide the FMA latency), added together at the end.
 * Fused multiply-add (vfmaq) where the core has it (__ARM_FEATURE_FMA: every AArch64 core, ARMv7 with VFPv4).
 * 32-bit NEON has no by-lane VFMA, so there the lane is first duplicated (one VDUP from a d register); without
 * FMA (ARMv7 VFPv3 NEON) the by-lane, separately rounded VMLA, as DG_FMA does in the portable C.
 * Measured (qemu-user instruction counts, static -O2 builds; whole dg_panel_gemm call, n = 64, k = 256):
 *   AArch64 (rpi4, -mcpu=cortex-a72):     one column 0.66 per MAC, 4 columns 0.45 (portable C 1.76, 0.62)
 *   armhf (rpizero2w, Cortex-A53 NEON):   one column 0.87 per MAC, 4 columns 0.71 (portable C 2.54, 2.32) */
#ifndef DG_PORT_NEON_H
#define DG_PORT_NEON_H
#include <arm_neon.h>

#define DG_PORT_PANEL

#if DG_MR != 4
#error "the NEON panel port is written for DG_MR == 4 (panel.h)"
#endif

/* acc += w * lane l of xv, l a literal 0-3. */
#if defined(__aarch64__)
#define DG_NEON_FMA_LANE(acc, w, xv, l) vfmaq_laneq_f32((acc), (w), (xv), l)
#else
/* 32-bit NEON takes a lane of a d register: xv's low half holds lanes 0-1, its high half 2-3. */
#define DG_NEON_HALF_0 vget_low_f32
#define DG_NEON_HALF_1 vget_low_f32
#define DG_NEON_HALF_2 vget_high_f32
#define DG_NEON_HALF_3 vget_high_f32
#define DG_NEON_HALF(xv, l) DG_NEON_HALF_##l(xv)
#if defined(__ARM_FEATURE_FMA)
#define DG_NEON_FMA_LANE(acc, w, xv, l) vfmaq_f32((acc), (w), vdupq_lane_f32(DG_NEON_HALF(xv, l), (l) & 1))
#else
#define DG_NEON_FMA_LANE(acc, w, xv, l) vmlaq_lane_f32((acc), (w), DG_NEON_HALF(xv, l), (l) & 1)
#endif
#endif

/* A panel row of 8 weights (or 8 sums to start from) into lo and hi, and 8 sums from lo and hi to memory. AArch64 loads a row with one
 * LDP at an offset from w. 32-bit NEON loads have no offset form (each VLD1 of a q register at w + 4 costs an
 * ADD), so there a row comes in with one VLD2, which splits it into even and odd rows; the sums keep that order
 * and VST2 interleaves them back. */
#if defined(__aarch64__)
#define DG_NEON_ROW(lo, hi, w) do { lo = vld1q_f32(w); hi = vld1q_f32((w) + 4); } while (0)
#define DG_NEON_STORE(out, lo, hi) do { vst1q_f32(out, lo); vst1q_f32((out) + 4, hi); } while (0)
#else
#define DG_NEON_ROW(lo, hi, w) do { float32x4x2_t r_ = vld2q_f32(w); lo = r_.val[0]; hi = r_.val[1]; } while (0)
#define DG_NEON_STORE(out, lo, hi) do { float32x4x2_t r_; r_.val[0] = lo; r_.val[1] = hi; vst2q_f32(out, r_); } \
    while (0)
#endif

/* acc += w * v, v a value broadcast to all lanes. */
#if defined(__ARM_FEATURE_FMA)
#define DG_NEON_FMA(acc, w, v) vfmaq_f32((acc), (w), (v))
#else
#define DG_NEON_FMA(acc, w, v) vmlaq_f32((acc), (w), (v))
#endif

static inline void dg_port_panel_mr(const float *DG_RESTRICT w, const float *DG_RESTRICT x, dg_int xs, dg_int k,
                                    const float *DG_RESTRICT start, float acc[DG_MR][DG_NR])
{
    const float *x0 = x, *x1 = x + xs, *x2 = x + 2 * xs, *x3 = x + 3 * xs;
    float32x4_t a0, a1, a2, a3, b0, b1, b2, b3;
    dg_int p = 0;
    DG_NEON_ROW(a0, b0, start);
    a1 = a2 = a3 = a0;
    b1 = b2 = b3 = b0;
#if defined(__aarch64__)
    for (; p + 4 <= k; p += 4, x0 += 4, x1 += 4, x2 += 4, x3 += 4) {
        float32x4_t v0 = vld1q_f32(x0), v1 = vld1q_f32(x1), v2 = vld1q_f32(x2), v3 = vld1q_f32(x3);
#define DG_NEON_TAP(l) do { \
            float32x4_t lo, hi; \
            DG_NEON_ROW(lo, hi, w); \
            w += DG_NR; \
            a0 = DG_NEON_FMA_LANE(a0, lo, v0, l); b0 = DG_NEON_FMA_LANE(b0, hi, v0, l); \
            a1 = DG_NEON_FMA_LANE(a1, lo, v1, l); b1 = DG_NEON_FMA_LANE(b1, hi, v1, l); \
            a2 = DG_NEON_FMA_LANE(a2, lo, v2, l); b2 = DG_NEON_FMA_LANE(b2, hi, v2, l); \
            a3 = DG_NEON_FMA_LANE(a3, lo, v3, l); b3 = DG_NEON_FMA_LANE(b3, hi, v3, l); \
        } while (0)
        DG_NEON_TAP(0);
        DG_NEON_TAP(1);
        DG_NEON_TAP(2);
        DG_NEON_TAP(3);
#undef DG_NEON_TAP
    }
#endif
    for (; p < k; ++p) {
        float32x4_t lo, hi, v;
        DG_NEON_ROW(lo, hi, w);
        w += DG_NR;
        v = vld1q_dup_f32(x0++); a0 = DG_NEON_FMA(a0, lo, v); b0 = DG_NEON_FMA(b0, hi, v);
        v = vld1q_dup_f32(x1++); a1 = DG_NEON_FMA(a1, lo, v); b1 = DG_NEON_FMA(b1, hi, v);
        v = vld1q_dup_f32(x2++); a2 = DG_NEON_FMA(a2, lo, v); b2 = DG_NEON_FMA(b2, hi, v);
        v = vld1q_dup_f32(x3++); a3 = DG_NEON_FMA(a3, lo, v); b3 = DG_NEON_FMA(b3, hi, v);
    }
    DG_NEON_STORE(acc[0], a0, b0);
    DG_NEON_STORE(acc[1], a1, b1);
    DG_NEON_STORE(acc[2], a2, b2);
    DG_NEON_STORE(acc[3], a3, b3);
}

static inline void dg_port_panel_1(const float *DG_RESTRICT w, const float *const *runs, dg_int parts, dg_int k,
                                   dg_int step, const float *DG_RESTRICT start, float acc[DG_NR])
{
    float32x4_t a0, b0, a1 = vdupq_n_f32(0.0f), a2 = a1, a3 = a1, b1 = a1, b2 = a1, b3 = a1;
    dg_int p, s;
    DG_NEON_ROW(a0, b0, start);
    DG_ROLLED
    for (s = 0; s < parts; ++s) {
        const float *DG_RESTRICT x = runs[s], *DG_RESTRICT u = w + s * step;
        for (p = 0; p + 4 <= k; p += 4) {
            float32x4_t v = vld1q_f32(x + p), lo, hi;
            DG_NEON_ROW(lo, hi, u);
            a0 = DG_NEON_FMA_LANE(a0, lo, v, 0); b0 = DG_NEON_FMA_LANE(b0, hi, v, 0);
            DG_NEON_ROW(lo, hi, u + DG_NR);
            a1 = DG_NEON_FMA_LANE(a1, lo, v, 1); b1 = DG_NEON_FMA_LANE(b1, hi, v, 1);
            DG_NEON_ROW(lo, hi, u + 2 * DG_NR);
            a2 = DG_NEON_FMA_LANE(a2, lo, v, 2); b2 = DG_NEON_FMA_LANE(b2, hi, v, 2);
            DG_NEON_ROW(lo, hi, u + 3 * DG_NR);
            a3 = DG_NEON_FMA_LANE(a3, lo, v, 3); b3 = DG_NEON_FMA_LANE(b3, hi, v, 3);
            u += 4 * DG_NR;
        }
        for (; p < k; ++p, u += DG_NR) {
            float32x4_t v = vld1q_dup_f32(x + p), lo, hi;
            DG_NEON_ROW(lo, hi, u);
            a0 = DG_NEON_FMA(a0, lo, v);
            b0 = DG_NEON_FMA(b0, hi, v);
        }
    }
    a0 = vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3));
    b0 = vaddq_f32(vaddq_f32(b0, b1), vaddq_f32(b2, b3));
    DG_NEON_STORE(acc, a0, b0);
}

#undef DG_NEON_FMA
#undef DG_NEON_ROW
#undef DG_NEON_STORE
#undef DG_NEON_FMA_LANE
#if !defined(__aarch64__)
#undef DG_NEON_HALF
#undef DG_NEON_HALF_0
#undef DG_NEON_HALF_1
#undef DG_NEON_HALF_2
#undef DG_NEON_HALF_3
#endif

#endif
