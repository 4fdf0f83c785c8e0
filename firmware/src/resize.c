#include "dietgen/resize.h"

void dg_resize_nearest(const float *x, float *y, dg_int outer, dg_int lin, dg_int lout, dg_int inner,
                       const dg_int *index)
{
    dg_int o, t, i;
    for (o = 0; o < outer; ++o) {
        const float *xo = x + o * lin * inner;
        for (t = 0; t < lout; ++t, y += inner)
            for (i = 0; i < inner; ++i)
                y[i] = xo[index[t] * inner + i];
    }
}

void dg_resize_linear(const float *x, float *y, dg_int outer, dg_int lin, dg_int lout, dg_int inner,
                      const dg_int *left, const dg_int *right, const float *w_left, const float *w_right)
{
    dg_int o, t, i;
    for (o = 0; o < outer; ++o) {
        const float *xo = x + o * lin * inner;
        for (t = 0; t < lout; ++t, y += inner) {
            const float *a = xo + left[t] * inner, *b = xo + right[t] * inner;
            for (i = 0; i < inner; ++i)
                y[i] = w_left[t] * a[i] + w_right[t] * b[i];
        }
    }
}
