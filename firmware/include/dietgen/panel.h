/* dietgen runtime: a weight matrix packed at export time times vectors held in RAM (dense layers, convolution
 * taps, recurrent gates). Every multiply-accumulate of a model with weights runs here. */
#ifndef DG_PANEL_H
#define DG_PANEL_H
#include "dietgen/common.h"

/* Packing (dietgen.ops.common.pack_panels, at export): the rows of W (n x k) go in panels of DG_NR rows
 * interleaved by column, w[g*DG_NR*k + p*DG_NR + r] = W[g*DG_NR + r][p]; the last n % DG_NR rows follow as they
 * are, row-major. Same size as W. The kernel then streams the weights once, in order, and keeps DG_NR sums in
 * registers while it reads each x value once per panel instead of once per row. */
#define DG_NR 8

/* Columns of x that share one pass over a panel's weights: each column is an independent chain of
 * multiply-adds, so several hide the FMA latency, and each weight loaded serves them all. Bounded by the
 * registers: DG_MR * DG_NR sums, plus a panel row of weights. */
#if defined(__AVX__) || defined(__ARM_NEON) || defined(__ARM_NEON__)
#define DG_MR 4
#else
#define DG_MR 2
#endif

/* A port for the core the code is compiled for, picked by the compiler's own predefined macros (so by the board's
 * -mcpu/-mfpu flags), replaces the two inner loops of dg_panel_gemm: it defines DG_PORT_PANEL and
 *   static void dg_port_panel_mr(const float *w, const float *x, dg_int xs, dg_int k, const float *start,
 *                                float acc[DG_MR][DG_NR]);
 *   static void dg_port_panel_1(const float *w, const float *const *runs, dg_int parts, dg_int k, dg_int step,
 *                               const float *start, float acc[DG_NR]);
 * The first sets acc to one panel (DG_NR rows of W, packed) times DG_MR columns of x (x(c, p) = x[c*xs + p]).
 * The second multiplies one column, whose values lie in `parts` runs of k floats (an ordinary column is one run),
 * run s against its own panel at w + s*step, and sets acc to the sum over the runs: the sums stay in registers
 * from the first run to the last. Every column's sums start from the DG_NR floats at start (the panel's bias in
 * flash, or zeros), so the bias costs no pass of its own. A port may also define DG_PORT_PANEL_2 and
 * dg_port_panel_2, the same for two panels at once (the second DG_NR*k floats after the first in every run's
 * weights, its sums starting from the 2*DG_NR floats at start, acc[2][DG_NR]), sharing each x value between them.
 * A port may define DG_PORT_ROW_DOT and
 *   static float dg_port_row_dot(const float *w, const float *x, dg_int k);
 * the dot product of one unpacked row (the rows after the last full panel) with one column.
 * -DDG_NO_PORT keeps the portable C (the reference the ports are tested against). */
#if !defined(DG_NO_PORT)
#include "dietgen/ports.h"
#endif

/* y(c, j) = bias[j] + sum_p W[j][p] x(c, p), then fn, for columns c < m and rows j < n, where
 * x(c, p) = x[c*xs + p] and y(c, j) = y[c*ycs + j*yjs]. W is packed as above; W and bias (NULL: zero) are in
 * flash; y may not overlap x. */
DG_API void dg_panel_gemm(const float *w, const float *bias, const float *x, dg_int xs, float *y, dg_int ycs,
                   dg_int yjs, dg_int m, dg_int n, dg_int k, dg_fn fn);

/* One column whose values are not in one place but in `parts` runs of len floats, run s at runs[s] (a streamed
 * convolution's taps, each multiplied where it is kept): y[j] = bias[j] + sum_s sum_p W_s[j][p] runs[s][p], then
 * fn, for rows j < n. W_s (n x len) are packed as above, one after the other (W_s at w + s*n*len). Each panel's
 * sums stay in registers across the runs. */
DG_API void dg_panel_gemv_runs(const float *w, const float *bias, const float *const *runs, dg_int parts,
                        dg_int len, float *y, dg_int n, dg_fn fn);

#endif
