#include "dietgen/panel.h"

/* Fixed-size loops over DG_NR and DG_MR: the compiler unrolls them, keeps the sums in registers and, where
 * there are vector units, maps a panel row onto them. */

/* fn over a panel's sums, out of line: only activated layers pay for its code at each call site. */
static void apply(dg_fn fn, float *v, dg_int rows)
{
    dg_map_n(fn, v, v, rows);
}

/* The value row j's sum starts from: its bias (flash, NULL: none). */
static inline float bias_of(const float *bias, dg_int j)
{
    return bias ? DG_RD(bias + j) : 0.0f;
}

/* Where the sums of the panels from row j start (panel.h): the bias, read where it is in flash, or zeros, for as
 * many panels as a pass takes (three where the port has a three-panel pass: only those builds pay the flash). */
#if defined(DG_PORT_PANEL_MR3)
static const float DG_FLASH no_bias[3 * DG_NR] = {0.0f};
#else
static const float DG_FLASH no_bias[2 * DG_NR] = {0.0f};
#endif

static inline const float *starts(const float *bias, dg_int j)
{
    return bias ? bias + j : no_bias;
}

/* count sums (bias included), then fn, stored at y with stride ys; contiguous sums (a dense layer's outputs) get
 * a loop the compiler can vectorise. Inline, and acc's address never leaves this file's inlined code (apply gets a
 * copy), so the sums stay in registers. */
static inline void store(float *acc, float *y, dg_int ys, dg_int count, dg_fn fn)
{
    dg_int r;
    if (fn.kind != DG_F_NONE) {
        float v[DG_NR] = {0.0f}; /* all of it: GCC cannot tell that apply reads only count of them */
        for (r = 0; r < count; ++r)
            v[r] = acc[r];
        apply(fn, v, count);
        for (r = 0; r < count; ++r)
            acc[r] = v[r];
    }
    if (ys == 1)
        for (r = 0; r < count; ++r)
            y[r] = acc[r];
    else
        for (r = 0; r < count; ++r)
            y[r * ys] = acc[r];
}

/* Columns of x (floats, at the stride xs) that dg_panel_gemm runs every panel over before it moves to the next
 * columns: each panel reads all of them, so they should stay in a cache the weights stream past. 128 KB: a dense
 * layer's 256 frames of 512 inputs (512 KB) read once per 8-row panel from beyond the L2 cost the x86 port more
 * than half its speed; 128 KB blocks stay within L2 (1-2 MB on current x86 and Cortex-A cores) and still reuse
 * each weight across 64 columns of that layer. Without caches the blocks cost a loop per 128 KB of x, nothing. */
#define X_BLOCK 32768

#if defined(DG_PORT_PANEL)
#define panel_mr dg_port_panel_mr
#define panel_1 dg_port_panel_1
#else
/* DG_MR columns against one panel. The sums live in a local array that only its last loop copies out: an array
 * whose address reaches other code would be kept in memory, a load and a store around every multiply-add. */
static void panel_mr(const float *DG_RESTRICT w, const float *DG_RESTRICT x, dg_int xs, dg_int k,
                     const float *DG_RESTRICT start, float acc[DG_MR][DG_NR])
{
    float sum[DG_MR][DG_NR];
    dg_int p, c, r;
    for (c = 0; c < DG_MR; ++c)
        for (r = 0; r < DG_NR; ++r)
            sum[c][r] = DG_RD(start + r);
    for (p = 0; p < k; ++p, w += DG_NR) {
        DG_UNROLL
        for (c = 0; c < DG_MR; ++c) {
            float xv = x[c * xs + p];
            DG_UNROLL
            for (r = 0; r < DG_NR; ++r)
                sum[c][r] = DG_FMA(DG_RD(w + r), xv, sum[c][r]);
        }
    }
    for (c = 0; c < DG_MR; ++c)
        for (r = 0; r < DG_NR; ++r)
            acc[c][r] = sum[c][r];
}

/* One column in `parts` runs of k floats against one panel, W_s at w + s*step: even and odd taps sum apart, two
 * chains instead of one, across all the runs. */
static void panel_1(const float *DG_RESTRICT w, const float *const *runs, dg_int parts, dg_int k, dg_int step,
                    const float *DG_RESTRICT start, float acc[DG_NR])
{
    float odd[DG_NR];
    dg_int p, r, s;
    for (r = 0; r < DG_NR; ++r) {
        acc[r] = DG_RD(start + r);
        odd[r] = 0.0f;
    }
    DG_ROLLED
    for (s = 0; s < parts; ++s) {
        const float *DG_RESTRICT x = runs[s], *DG_RESTRICT ws = w + s * step;
        for (p = 0; p + 1 < k; p += 2, ws += 2 * DG_NR) {
            float x0 = x[p], x1 = x[p + 1];
            DG_UNROLL
            for (r = 0; r < DG_NR; ++r) {
                acc[r] = DG_FMA(DG_RD(ws + r), x0, acc[r]);
                odd[r] = DG_FMA(DG_RD(ws + DG_NR + r), x1, odd[r]);
            }
        }
        if (p < k)
            for (r = 0; r < DG_NR; ++r)
                acc[r] = DG_FMA(DG_RD(ws + r), x[p], acc[r]);
    }
    for (r = 0; r < DG_NR; ++r)
        acc[r] += odd[r];
}

#endif

#if defined(DG_PORT_PANEL_2)
#define panel_2 dg_port_panel_2
#else
/* Two panels (2 * DG_NR rows, the second DG_NR*k floats after the first in each run's weights) against one
 * column. A port whose vectors need each x value broadcast shares it between the panels; here it is the two
 * products. */
static inline void panel_2(const float *DG_RESTRICT w, const float *const *runs, dg_int parts, dg_int k,
                           dg_int step, const float *DG_RESTRICT start, float acc[2][DG_NR])
{
    panel_1(w, runs, parts, k, step, start, acc[0]);
    panel_1(w + DG_NR * k, runs, parts, k, step, start + DG_NR, acc[1]);
}
#endif

#if defined(DG_PORT_ROW_DOT)
#define row_dot dg_port_row_dot
#else
/* One unpacked row against one column, two chains. */
static inline float row_dot(const float *DG_RESTRICT w, const float *DG_RESTRICT x, dg_int k)
{
    float even = 0.0f, odd = 0.0f;
    dg_int p;
    for (p = 0; p + 1 < k; p += 2) {
        even = DG_FMA(DG_RD(w + p), x[p], even);
        odd = DG_FMA(DG_RD(w + p + 1), x[p + 1], odd);
    }
    if (p < k)
        even = DG_FMA(DG_RD(w + p), x[p], even);
    return even + odd;
}
#endif

/* One column against all of W, y(j) at y[j*ys]. The column's values lie in `parts` runs of len floats (an
 * ordinary column is one run), W_s (packed, n x len) at w + s*n*len; each panel's sums stay in registers across
 * the runs. Panels go two at a time while there are two. */
static DG_INLINE void column_inline(const float *w, const float *bias, const float *const *runs, dg_int parts,
                                    dg_int len, float *y, dg_int ys, dg_int n, dg_fn fn)
{
    float acc[2][DG_NR];
    dg_int j, s, i, two, step = n * len, rest = n % DG_NR;
    for (j = 0; j + DG_NR <= n; j += (two + 1) * DG_NR) {
        two = j + 2 * DG_NR <= n;
        if (two)
            panel_2(w + j * len, runs, parts, len, step, starts(bias, j), acc);
        else
            panel_1(w + j * len, runs, parts, len, step, starts(bias, j), acc[0]);
        for (i = 0; i <= two; ++i)
            store(acc[i], y + (j + i * DG_NR) * ys, ys, DG_NR, fn);
    }
    /* the rows after the last full panel (j = n - rest), unpacked: a dot product each, summed over the runs;
     * counted as n % DG_NR, which GCC knows is below DG_NR when the sizes are inlined */
    if (!rest)
        return;
    for (i = 0; i < rest; ++i) {
        float sum = bias_of(bias, j + i);
        for (s = 0; s < parts; ++s)
            sum += row_dot(w + s * step + (j + i) * len, runs[s], len);
        acc[0][i] = sum;
    }
    store(acc[0], y + j * ys, ys, rest, fn);
}

/* column for the product's columns, out of line or not as the compiler sees fit. */
static void column(const float *w, const float *bias, const float *const *runs, dg_int parts, dg_int len,
                   float *y, dg_int ys, dg_int n, dg_fn fn)
{
    column_inline(w, bias, runs, parts, len, y, ys, n, fn);
}

#if defined(DG_PORT_PANEL_MR3)
/* The port's three panels at a time against the first `blocked` columns, DG_MR at a time, for as many rows as
 * there are whole triples; the rows done back. A function of its own rather than a loop in product: written
 * there, it took so much of GCC's inlining budget for a model's unity file that other kernels went out of line
 * (the demo's x86 step took 14 % more instructions, none of them in this loop). */
static dg_int triples(const float *w, const float *bias, const float *x, dg_int xs, float *y, dg_int ycs,
                      dg_int yjs, dg_int blocked, dg_int n, dg_int k, dg_fn fn)
{
    float acc[3][DG_MR][DG_NR];
    dg_int j, c, g, i;
    for (j = 0; j + 3 * DG_NR <= n; j += 3 * DG_NR, w += 3 * DG_NR * k)
        for (c = 0; c < blocked; c += DG_MR) {
            dg_port_panel_mr3(w, x + c * xs, xs, k, starts(bias, j), acc);
            for (g = 0; g < 3; ++g)
                for (i = 0; i < DG_MR; ++i)
                    store(acc[g][i], y + (c + i) * ycs + (j + g * DG_NR) * yjs, yjs, DG_NR, fn);
        }
    return j;
}
#endif

/* The product for columns that fit X_BLOCK: DG_MR columns at a time against each panel, then the columns left
 * (all of them when there are fewer than DG_MR, as in a streamed step) one at a time. */
static void product(const float *w, const float *bias, const float *x, dg_int xs, float *y, dg_int ycs,
                    dg_int yjs, dg_int m, dg_int n, dg_int k, dg_fn fn)
{
    float acc[DG_MR][DG_NR];
    /* m / DG_MR rather than m % DG_MR: GCC's range analysis folds it to 0 for a tile known to be narrower than
     * DG_MR, so the unreachable DG_MR pass is not compiled (and not warned about as reading past the tile) */
    dg_int blocked = m / DG_MR * DG_MR, rest = n % DG_NR, j, c, i, count;
    const float *xc;
    for (c = blocked; c < m; ++c) {
        xc = x + c * xs;
        column(w, bias, &xc, 1, k, y + c * ycs, yjs, n, fn);
    }
    if (!blocked)
        return;
#if defined(DG_PORT_PANEL_MR3)
    j = triples(w, bias, x, xs, y, ycs, yjs, blocked, n, k, fn);
    w += j * k;
#else
    j = 0;
#endif
    for (; j + DG_NR <= n; j += DG_NR, w += DG_NR * k)
        for (c = 0; c < blocked; c += DG_MR) {
#if defined(DG_PORT_PANEL_MR_STORE)
            if (fn.kind == DG_F_NONE) {
                dg_port_panel_mr_store(w, x + c * xs, xs, k, starts(bias, j), y + c * ycs + j * yjs, ycs, yjs);
                continue;
            }
#endif
            panel_mr(w, x + c * xs, xs, k, starts(bias, j), acc);
            for (i = 0; i < DG_MR; ++i)
                store(acc[i], y + (c + i) * ycs + j * yjs, yjs, DG_NR, fn);
        }
    /* The rows after the last full panel, unpacked: one dot product per row and column. Their sums go through
     * store along the rows (fewer than DG_NR) or, when there are more columns, DG_NR columns at a time, so fn runs
     * over several sums at once: a one-output layer over many frames once per DG_NR frames. */
    if (rest >= blocked)
        for (c = 0; c < blocked; ++c) {
            for (i = 0; i < rest; ++i)
                acc[0][i] = bias_of(bias, j + i) + row_dot(w + i * k, x + c * xs, k);
            store(acc[0], y + c * ycs + j * yjs, yjs, rest, fn);
        }
    else
        for (; j < n; ++j, w += k)
            for (c = 0; c < blocked; c += count) {
                count = blocked - c < DG_NR ? blocked - c : DG_NR;
                for (i = 0; i < count; ++i)
                    acc[0][i] = bias_of(bias, j) + row_dot(w, x + (c + i) * xs, k);
                store(acc[0], y + c * ycs + j * yjs, ycs, count, fn);
            }
}

DG_API void dg_panel_gemm(const float *w, const float *bias, const float *x, dg_int xs, float *y, dg_int ycs,
                   dg_int yjs, dg_int m, dg_int n, dg_int k, dg_fn fn)
{
    /* blocks of columns that fit X_BLOCK, a multiple of DG_MR; the common case (a streamed step's few columns)
     * is one block */
    dg_int block = m, c;
    if (m > DG_MR && m * xs > X_BLOCK) {
        block = X_BLOCK / xs;
        block = block < DG_MR ? DG_MR : block - block % DG_MR;
    }
    for (c = 0; c < m; c += block)
        product(w, bias, x + c * xs, xs, y + c * ycs, ycs, yjs, m - c < block ? m - c : block, n, k, fn);
}

DG_API void dg_panel_gemv_runs(const float *w, const float *bias, const float *const *runs, dg_int parts,
                        dg_int len, float *y, dg_int n, dg_fn fn)
{
    column_inline(w, bias, runs, parts, len, y, 1, n, fn);
}
