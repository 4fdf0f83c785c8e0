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

void dg_conv_transpose1d(const float *x, const float *w, const float *b, float *y, dg_int n, dg_int cin,
                         dg_int lin, dg_int cout, dg_int lout, dg_int k, dg_int stride, dg_int dilation,
                         dg_int pad, dg_int groups, dg_fn fn)
{
    dg_int cin_g = cin / groups, cout_g = cout / groups;
    dg_int bi, o, i, j, t, t0, t1;
    for (bi = 0; bi < n; ++bi) {
        const float *xb = x + bi * cin * lin;
        float *yb = y + bi * cout * lout;
        fill_bias(b, yb, cout, lout);
        for (i = 0; i < cin; ++i) {
            const float *xi = xb + i * lin;
            dg_int g = i / cin_g;
            for (o = 0; o < cout_g; ++o) {
                float *yo = yb + (g * cout_g + o) * lout;
                for (j = 0; j < k; ++j) {
                    float wv = DG_RD(w + (i * cout_g + o) * k + j);
                    dg_int off = j * dilation - pad;
                    valid_range(off, stride, lout, lin, &t0, &t1);
                    for (t = t0; t < t1; ++t)
                        yo[t * stride + off] += wv * xi[t];
                }
            }
        }
        dg_apply_n(fn, yb, cout * lout);
    }
}
