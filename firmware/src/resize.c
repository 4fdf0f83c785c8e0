#include "dietgen/resize.h"

DG_API void dg_resize_nearest(const float *x, float *y, dg_int outer, dg_int lin, dg_int lout, dg_int inner,
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

DG_API void dg_resize_linear(const float *x, float *y, dg_int outer, dg_int lin, dg_int lout, dg_int inner,
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

DG_API void dg_resize_stream(const float *x, float *y, float *history, dg_int *primed, float *ext, dg_int outer,
                      dg_int lin, dg_int inner, dg_int factor, dg_int window, dg_int behind, const dg_int *left,
                      const dg_int *right, const float *w_left, const float *w_right)
{
    dg_int o, f, j, i;
    size_t frame = (size_t)inner * sizeof(float);
    if (!*primed) {
        /* before the first frame the signal holds its first value, as the offline resize clamps to it */
        for (o = 0; o < outer; ++o)
            for (f = 0; f < window; ++f)
                memcpy(history + (o * window + f) * inner, x + o * lin * inner, frame);
        *primed = 1;
    }
    for (o = 0; o < outer; ++o) {
        const float *e;
        float *yo = y + o * lin * factor * inner;
        memcpy(ext, history + o * window * inner, (size_t)window * frame);
        memcpy(ext + window * inner, x + o * lin * inner, (size_t)lin * frame);
        for (j = 0; j < lin * factor; ++j) {
            dg_int p = j % factor, base = j / factor + behind;
            const float *a = ext + (base + left[p]) * inner;
            e = ext + (base + right[p]) * inner;
            for (i = 0; i < inner; ++i)
                yo[j * inner + i] = w_left ? DG_RD(w_left + p) * a[i] + DG_RD(w_right + p) * e[i] : a[i];
        }
        memcpy(history + o * window * inner, ext + lin * inner, (size_t)window * frame);
    }
}
