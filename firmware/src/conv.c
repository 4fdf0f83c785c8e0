#include "dietgen/conv.h"

/* First and one-past-last t in [0, count) with 0 <= t*stride + off < limit. */
static void valid_range(dg_int off, dg_int stride, dg_int limit, dg_int count, dg_int *t0, dg_int *t1)
{
    dg_int lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
    dg_int hi = limit - 1 - off >= 0 ? (limit - 1 - off) / stride + 1 : 0;
    *t0 = lo;
    *t1 = hi < count ? hi : count;
}

static void fill_bias(const float *b, float *y, dg_int c, dg_int len)
{
    dg_int o, t;
    for (o = 0; o < c; ++o) {
        float v = b ? DG_RD(b + o) : 0.0f;
        for (t = 0; t < len; ++t)
            y[o * len + t] = v;
    }
}

void dg_conv1d(const float *x, const float *w, const float *b, float *y, dg_int n, dg_int cin, dg_int lin,
               dg_int cout, dg_int lout, dg_int k, dg_int stride, dg_int dilation, dg_int pad, dg_int groups,
               dg_fn fn)
{
    dg_int cin_g = cin / groups, cout_g = cout / groups;
    dg_int bi, o, i, j, t, t0, t1;
    for (bi = 0; bi < n; ++bi) {
        const float *xb = x + bi * cin * lin;
        float *yb = y + bi * cout * lout;
        fill_bias(b, yb, cout, lout);
        for (o = 0; o < cout; ++o) {
            const float *xg = xb + (o / cout_g) * cin_g * lin;
            float *yo = yb + o * lout;
            for (i = 0; i < cin_g; ++i) {
                for (j = 0; j < k; ++j) {
                    float wv = DG_RD(w + (o * cin_g + i) * k + j);
                    dg_int off = j * dilation - pad;
                    const float *xi = xg + i * lin;
                    valid_range(off, stride, lin, lout, &t0, &t1);
                    for (t = t0; t < t1; ++t)
                        yo[t] += wv * xi[t * stride + off];
                }
            }
            dg_apply_n(fn, yo, lout);
        }
    }
}

/* The transposed convolution's contributions added into y (cout rows of `row` frames): input frame t, tap j
 * lands on frame t*stride + j*dilation - pad. With clip, what falls outside the row is dropped (the offline
 * crop); without, the caller's rows hold every contribution, and no tap pays for the range's divisions. */
static void scatter(const float *x, const float *w, float *y, dg_int cin, dg_int groups, dg_int lin, dg_int cout,
                    dg_int row, dg_int k, dg_int stride, dg_int dilation, dg_int pad, int clip)
{
    dg_int cin_g = cin / groups, cout_g = cout / groups;
    dg_int o, i, j, t, t0, t1;
    for (i = 0; i < cin; ++i) {
        const float *xi = x + i * lin;
        dg_int g = i / cin_g;
        for (o = 0; o < cout_g; ++o) {
            float *yo = y + (g * cout_g + o) * row;
            for (j = 0; j < k; ++j) {
                float wv = DG_RD(w + (i * cout_g + o) * k + j);
                dg_int off = j * dilation - pad;
                t0 = 0;
                t1 = lin;
                if (clip)
                    valid_range(off, stride, row, lin, &t0, &t1);
                for (t = t0; t < t1; ++t)
                    yo[t * stride + off] += wv * xi[t];
            }
        }
    }
}

void dg_conv_transpose1d(const float *x, const float *w, const float *b, float *y, dg_int n, dg_int cin,
                         dg_int lin, dg_int cout, dg_int lout, dg_int k, dg_int stride, dg_int dilation,
                         dg_int pad, dg_int groups, dg_fn fn)
{
    dg_int bi;
    for (bi = 0; bi < n; ++bi) {
        const float *xb = x + bi * cin * lin;
        float *yb = y + bi * cout * lout;
        fill_bias(b, yb, cout, lout);
        scatter(xb, w, yb, cin, groups, lin, cout, lout, k, stride, dilation, pad, 1);
        dg_apply_n(fn, yb, cout * lout);
    }
}

void dg_conv1d_stream(const float *x, const float *w, const float *b, float *y, float *ring, dg_int *pos,
                      float *col, dg_int n, dg_int cin, dg_int lin, dg_int cout, dg_int lout, dg_int k,
                      dg_int stride, dg_int dilation, dg_int phase, dg_int groups, dg_fn fn)
{
    dg_int cin_g = cin / groups, cout_g = cout / groups, span = (k - 1) * dilation, taps = cin_g * k;
    dg_int bi, g, o, i, j, u, c, t, slot;
    for (bi = 0; bi < n; ++bi) {
        const float *xb = x + bi * cin * lin;
        const float *rb = ring ? ring + bi * cin * span : NULL;
        float *yb = y + bi * cout * lout;
        for (u = 0; u < lout; ++u) {
            for (g = 0; g < groups; ++g) {
                /* the taps output u reads, gathered once for every output channel of the group: frame
                 * u*stride + phase - span + j*dilation of the block, the ones before it from the ring */
                for (i = 0; i < cin_g; ++i) {
                    const float *xi = xb + (g * cin_g + i) * lin;
                    const float *ri = rb ? rb + (g * cin_g + i) * span : NULL;
                    dg_int at = u * stride + phase - span;
                    for (j = 0; j < k; ++j, at += dilation) {
                        slot = *pos + span + at;
                        col[i * k + j] = at >= 0 ? xi[at] : ri[slot >= span ? slot - span : slot];
                    }
                }
                for (o = g * cout_g; o < (g + 1) * cout_g; ++o) {
                    const float *wo = w + o * taps;
                    float acc = b ? DG_RD(b + o) : 0.0f;
                    for (j = 0; j < taps; ++j)
                        acc += DG_RD(wo + j) * col[j];
                    yb[o * lout + u] = acc;
                }
            }
        }
        dg_apply_n(fn, yb, cout * lout);
    }
    if (!span)
        return;
    /* the block's newest frames overwrite the oldest kept ones; nothing else moves */
    for (c = 0; c < n * cin; ++c) {
        const float *xc = x + c * lin;
        float *rc = ring + c * span;
        t = lin > span ? lin - span : 0;
        slot = (dg_int)(((int64_t)*pos + t) % span);
        for (; t < lin; ++t) {
            rc[slot] = xc[t];
            if (++slot == span)
                slot = 0;
        }
    }
    *pos = (dg_int)(((int64_t)*pos + lin) % span);
}

void dg_conv_transpose1d_stream(const float *x, const float *w, const float *b, float *y, float *tail,
                                float *acc, dg_int n, dg_int cin, dg_int lin, dg_int cout, dg_int k,
                                dg_int stride, dg_int dilation, dg_int groups, dg_int tail_len, dg_fn fn)
{
    dg_int lout = lin * stride, width = lout + tail_len;
    dg_int bi, o, t;
    for (bi = 0; bi < n; ++bi) {
        const float *xb = x + bi * cin * lin;
        float *yb = y + bi * cout * lout;
        float *tb = tail + bi * cout * tail_len;
        memset(acc, 0, (size_t)(cout * width) * sizeof(float));
        for (o = 0; o < cout; ++o)
            memcpy(acc + o * width, tb + o * tail_len, (size_t)tail_len * sizeof(float));
        scatter(xb, w, acc, cin, groups, lin, cout, width, k, stride, dilation, 0, 0);
        /* the first lout frames are complete; what reaches past them is the next block's overlap */
        for (o = 0; o < cout; ++o) {
            float bv = b ? DG_RD(b + o) : 0.0f;
            for (t = 0; t < lout; ++t)
                yb[o * lout + t] = acc[o * width + t] + bv;
            memcpy(tb + o * tail_len, acc + o * width + lout, (size_t)tail_len * sizeof(float));
        }
        dg_apply_n(fn, yb, cout * lout);
    }
}
