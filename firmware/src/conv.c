#include "dietgen/conv.h"

/* Every multiply-add runs in dg_panel_gemm over a tile of frames; what is left here is moving data: gathering the
 * taps into columns (Conv) and adding the products into the output (ConvTranspose). Which of a tile's frames a
 * tap reads from the block, the ring or the padding is decided once per tap, where its products land once per
 * frame, so the loops that move the channels have no tests and no divisions. */

/* Columns c in [from, to) of a tile from the channel-major rows of a group (row i at rows + i*lin): out[c*cs + i] =
 * rows[i*lin + first + c*stride], for i < count. A few rows go frame by frame, each column written in one run;
 * more go row by row, each read along its frames: reading down many channels for each frame goes lin floats
 * apart, and at a power-of-two lin those reads fall in the same few sets of the L1 cache (8 ways) and miss it
 * (a 128-channel tile of 512 frames gathered 4x slower). */
static void rows_to_columns(const float *rows, dg_int lin, dg_int count, float *out, dg_int cs, dg_int first,
                            dg_int stride, dg_int from, dg_int to)
{
    dg_int i, c;
    if (from >= to)
        return;
    rows += first + from * stride; /* column from's frame in row 0: inside the rows, as every frame read is */
    out += from * cs;
    to -= from;
    if (count <= 8)
        for (c = 0; c < to; ++c)
            for (i = 0; i < count; ++i)
                out[c * cs + i] = rows[i * lin + c * stride];
    else
        for (i = 0; i < count; ++i)
            for (c = 0; c < to; ++c)
                out[c * cs + i] = rows[i * lin + c * stride];
}

/* Columns c in [from, to) of the count floats at out + c*cs set to zero. */
static void zero_columns(float *out, dg_int cs, dg_int count, dg_int from, dg_int to)
{
    dg_int i;
    for (; from < to; ++from)
        for (i = 0; i < count; ++i)
            out[from * cs + i] = 0.0f;
}

/* Of the m columns c whose tap reads frame first + c*stride, the first one that reads a frame >= 0 (stride > 0). */
static dg_int first_inside(dg_int first, dg_int stride, dg_int m)
{
    dg_int c = first < 0 ? (-first + stride - 1) / stride : 0;
    return c < m ? c : m;
}

/* The taps of a group's output frames u0 .. u0+m-1: col[c*k*cin_g + j*cin_g + i] = input channel i at frame
 * (u0+c)*stride + j*dilation - pad, zero outside [0, lin) (the padding). Tap by tap, the columns whose frame lies
 * inside [lo, hi) copied from the rows, the others zeroed: two divisions per tap, none per frame. */
static void gather(const float *xg, float *col, dg_int cin_g, dg_int lin, dg_int k, dg_int stride,
                   dg_int dilation, dg_int pad, dg_int u0, dg_int m)
{
    dg_int j, first, lo, hi, taps = cin_g * k;
    for (j = 0; j < k; ++j, col += cin_g) {
        first = u0 * stride + j * dilation - pad;
        lo = first_inside(first, stride, m);
        hi = first_inside(first - lin, stride, m); /* >= lo */
        zero_columns(col, taps, cin_g, 0, lo);
        rows_to_columns(xg, lin, cin_g, col, taps, first, stride, lo, hi);
        zero_columns(col, taps, cin_g, hi, m);
    }
}

DG_API void dg_conv1d(const float *x, const float *w, const float *b, float *y, float *col, dg_int n, dg_int cin,
               dg_int lin, dg_int cout, dg_int lout, dg_int k, dg_int stride, dg_int dilation, dg_int pad,
               dg_int groups, dg_int tile, dg_fn fn)
{
    dg_int cin_g = cin / groups, cout_g = cout / groups, taps = cin_g * k;
    dg_int bi, g, u, m;
    for (bi = 0; bi < n; ++bi)
        for (g = 0; g < groups; ++g) {
            const float *xg = x + (bi * cin + g * cin_g) * lin;
            float *yg = y + (bi * cout + g * cout_g) * lout;
            /* one frame through a pointwise conv (a streamed 1x1 layer): its channels are already the column */
            if (lin == 1 && lout == 1 && k == 1 && pad == 0) {
                dg_panel_gemm(w + g * cout_g * taps, b ? b + g * cout_g : NULL, xg, taps, yg, 1, 1, 1, cout_g,
                              taps, fn);
                continue;
            }
            for (u = 0; u < lout; u += m) {
                m = lout - u < tile ? lout - u : tile;
                gather(xg, col, cin_g, lin, k, stride, dilation, pad, u, m);
                dg_panel_gemm(w + g * cout_g * taps, b ? b + g * cout_g : NULL, col, taps, yg + u, 1, lout, m,
                              cout_g, taps, fn);
            }
        }
}

/* The ring's frame `at` frames before the block (-span <= at < 0): slot pos + at, wrapped by one addition. The
 * ring keeps frames whole (a slot holds all cin channels, frame stride cin), so a tap from it is one contiguous
 * run of the group's channels (rg: the ring at the group's first channel). */
static const float *ring_frame(const float *rg, dg_int pos, dg_int at, dg_int span, dg_int cin)
{
    return rg + (pos + at < 0 ? pos + at + span : pos + at) * cin;
}

/* As gather, from the block and the ring: block frame at = (u0+c)*stride + phase - span + j*dilation, the
 * negative ones from the ring (frames whole, so one run of the group's channels each). */
static void gather_stream(const float *xg, const float *rg, dg_int pos, float *col, dg_int cin_g, dg_int cin,
                          dg_int lin, dg_int span, dg_int k, dg_int stride, dg_int dilation, dg_int phase,
                          dg_int u0, dg_int m)
{
    dg_int c, j, first, lo, taps = cin_g * k;
    for (j = 0; j < k; ++j, col += cin_g) {
        first = u0 * stride + phase - span + j * dilation;
        lo = first_inside(first, stride, m);
        for (c = 0; c < lo; ++c)
            memcpy(col + c * taps, ring_frame(rg, pos, first + c * stride, span, cin),
                   (size_t)cin_g * sizeof(float));
        rows_to_columns(xg, lin, cin_g, col, taps, first, stride, lo, m);
    }
}

/* One output frame from one input frame (a one-frame step, col NULL), nothing gathered: each tap's cin_g
 * channels are a run already, the block's frame or a ring slot, multiplied where they are by tap j's weights
 * (packed tap by tap). k is at most DG_CONV_RUNS (checked at export). */
static void one_frame(const float *xg, const float *rg, dg_int pos, const float *wg, const float *bg, float *yg,
                      dg_int cin_g, dg_int cin, dg_int cout_g, dg_int span, dg_int k, dg_int dilation,
                      dg_int phase, dg_fn fn)
{
    const float *runs[DG_CONV_RUNS];
    dg_int j, at = phase - span;
    for (j = 0; j < k; ++j, at += dilation)
        runs[j] = at >= 0 ? xg + at : ring_frame(rg, pos, at, span, cin);
    dg_panel_gemv_runs(wg, bg, runs, k, cin_g, yg, cout_g, fn);
}

DG_API void dg_conv1d_stream(const float *x, const float *w, const float *b, float *y, float *ring, dg_int *pos,
                      float *col, dg_int n, dg_int cin, dg_int lin, dg_int cout, dg_int lout, dg_int k,
                      dg_int stride, dg_int dilation, dg_int phase, dg_int groups, dg_int tile, dg_fn fn)
{
    dg_int cin_g = cin / groups, cout_g = cout / groups, span = (k - 1) * dilation, taps = cin_g * k;
    dg_int oldest = span ? *pos : 0; /* pos is NULL when there is no ring */
    dg_int bi, g, u, m, c, t, next, slot;
    for (bi = 0; bi < n; ++bi)
        for (g = 0; g < groups; ++g) {
            const float *xg = x + (bi * cin + g * cin_g) * lin;
            const float *rg = ring ? ring + bi * span * cin + g * cin_g : NULL;
            const float *wg = w + g * cout_g * taps, *bg = b ? b + g * cout_g : NULL;
            float *yg = y + (bi * cout + g * cout_g) * lout;
            if (!col) {
                one_frame(xg, rg, oldest, wg, bg, yg, cin_g, cin, cout_g, span, k, dilation, phase, fn);
                continue;
            }
            for (u = 0; u < lout; u += m) {
                m = lout - u < tile ? lout - u : tile;
                gather_stream(xg, rg, oldest, col, cin_g, cin, lin, span, k, stride, dilation, phase, u, m);
                dg_panel_gemm(wg, bg, col, taps, yg + u, 1, lout, m, cout_g, taps, fn);
            }
        }
    if (!span)
        return;
    /* the block's newest frames (at most span of them) overwrite the oldest kept ones, a whole frame at a time;
     * nothing else moves. The next block's oldest frame is at pos + lin wrapped: one subtraction for a block no
     * longer than the ring (the common one-frame step), one division per call otherwise. */
    next = oldest + lin;
    next = lin > span ? next % span : next >= span ? next - span : next;
    slot = lin > span ? next : oldest;
    if (lin == 1) /* a frame's channels are contiguous in the block too */
        for (bi = 0; bi < n; ++bi)
            memcpy(ring + (bi * span + slot) * cin, x + bi * cin, (size_t)cin * sizeof(float));
    else
        for (t = lin > span ? lin - span : 0; t < lin; ++t) {
            for (bi = 0; bi < n; ++bi)
                for (c = 0; c < cin; ++c)
                    ring[(bi * span + slot) * cin + c] = x[(bi * cin + c) * lin + t];
            if (++slot == span)
                slot = 0;
        }
    *pos = next;
}

/* z = W' x for a group's input frames t0 .. t0+m-1: z[c*rows + o*k + j] is what frame t0+c adds through tap j
 * to output channel o (rows = cout_g*k). The frames are first laid out as the product's columns. */
static void contributions(const float *xg, const float *wg, float *col, float *z, dg_int cin_g, dg_int rows,
                          dg_int lin, dg_int t0, dg_int m)
{
    if (lin > 1) { /* the frames become columns; one frame (a streamed step) is a column already */
        rows_to_columns(xg, lin, cin_g, col, cin_g, t0, 1, 0, m);
        xg = col;
    }
    dg_panel_gemm(wg, NULL, xg, cin_g, z, rows, 1, m, rows, cin_g, DG_NOFN);
}

/* How many taps j < k land below frame limit: base + j*dilation < limit. One division per input frame, so that
 * the loops that add the products have plain bounds. */
static dg_int taps_below(dg_int limit, dg_int base, dg_int dilation, dg_int k)
{
    dg_int j = limit > base ? (limit - base + dilation - 1) / dilation : 0;
    return j < k ? j : k;
}

/* The taps [j0, j1) of one frame's products zc (cout_g rows of k) added into rows of y (stride ys) at frame
 * at + j*dilation. */
static void add_taps(const float *zc, float *y, dg_int ys, dg_int at, dg_int cout_g, dg_int k, dg_int dilation,
                     dg_int j0, dg_int j1)
{
    dg_int o, j;
    for (o = 0; o < cout_g; ++o, zc += k, y += ys)
        for (j = j0; j < j1; ++j)
            y[at + j * dilation] += zc[j];
}

DG_API void dg_conv_transpose1d(const float *x, const float *w, const float *b, float *y, float *col, float *z,
                         dg_int n, dg_int cin, dg_int lin, dg_int cout, dg_int lout, dg_int k, dg_int stride,
                         dg_int dilation, dg_int pad, dg_int groups, dg_int tile, dg_fn fn)
{
    dg_int cin_g = cin / groups, cout_g = cout / groups, rows = cout_g * k;
    dg_int bi, g, o, t, t0, m, c, at;
    for (bi = 0; bi < n; ++bi) {
        float *yb = y + bi * cout * lout;
        for (o = 0; o < cout; ++o) {
            float bv = b ? DG_RD(b + o) : 0.0f;
            for (t = 0; t < lout; ++t)
                yb[o * lout + t] = bv;
        }
        for (g = 0; g < groups; ++g) {
            const float *xg = x + (bi * cin + g * cin_g) * lin;
            float *yg = yb + g * cout_g * lout;
            for (t0 = 0; t0 < lin; t0 += m) {
                m = lin - t0 < tile ? lin - t0 : tile;
                contributions(xg, w + g * rows * cin_g, col, z, cin_g, rows, lin, t0, m);
                /* frame t0+c, tap j lands on output frame at + j*dilation; outside [0, lout) is the crop */
                for (c = 0; c < m; ++c) {
                    at = (t0 + c) * stride - pad;
                    add_taps(z + c * rows, yg, lout, at, cout_g, k, dilation, taps_below(0, at, dilation, k),
                             taps_below(lout, at, dilation, k));
                }
            }
        }
        dg_apply_n(fn, yb, cout * lout);
    }
}

DG_API void dg_conv_transpose1d_stream(const float *x, const float *w, const float *b, float *y, float *tail,
                                float *col, float *z, dg_int n, dg_int cin, dg_int lin, dg_int cout, dg_int k,
                                dg_int stride, dg_int dilation, dg_int groups, dg_int tail_len, dg_int tile,
                                dg_fn fn)
{
    dg_int cin_g = cin / groups, cout_g = cout / groups, rows = cout_g * k, lout = lin * stride;
    dg_int head = tail_len < lout ? tail_len : lout, keep = tail_len - head;
    dg_int bi, g, o, t, t0, m, c, at, split;
    for (bi = 0; bi < n; ++bi) {
        float *yb = y + bi * cout * lout;
        float *tb = tail ? tail + bi * cout * tail_len : NULL;
        /* y starts from the bias plus the overlap earlier blocks left on its first frames; the rest of the tail
         * moves down by one block and the frames it frees start from zero */
        for (o = 0; o < cout; ++o) {
            float bv = b ? DG_RD(b + o) : 0.0f;
            float *yo = yb + o * lout;
            for (t = 0; t < head; ++t)
                yo[t] = bv + tb[o * tail_len + t];
            for (; t < lout; ++t)
                yo[t] = bv;
            if (keep)
                memmove(tb + o * tail_len, tb + o * tail_len + head, (size_t)keep * sizeof(float));
            if (head)
                memset(tb + o * tail_len + keep, 0, (size_t)head * sizeof(float));
        }
        for (g = 0; g < groups; ++g) {
            const float *xg = x + (bi * cin + g * cin_g) * lin;
            float *yg = yb + g * cout_g * lout;
            float *tg = tb ? tb + g * cout_g * tail_len : NULL;
            for (t0 = 0; t0 < lin; t0 += m) {
                m = lin - t0 < tile ? lin - t0 : tile;
                contributions(xg, w + g * rows * cin_g, col, z, cin_g, rows, lin, t0, m);
                /* frame t0+c, tap j lands on frame at + j*dilation of this block, or of the tail past it */
                for (c = 0; c < m; ++c) {
                    at = (t0 + c) * stride;
                    split = taps_below(lout, at, dilation, k);
                    add_taps(z + c * rows, yg, lout, at, cout_g, k, dilation, 0, split);
                    if (split < k)
                        add_taps(z + c * rows, tg, tail_len, at - lout, cout_g, k, dilation, split, k);
                }
            }
        }
        dg_apply_n(fn, yb, cout * lout);
    }
}
