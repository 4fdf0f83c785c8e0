#include "dietgen/unary.h"

void dg_unary(const float *x, float *y, dg_int n, dg_fn f)
{
    dg_int i;
    /* The common activations get their own loops so the compiler can vectorise them. */
    switch (f.kind) {
    case DG_F_RELU:
        for (i = 0; i < n; ++i)
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case DG_F_TANH:
        for (i = 0; i < n; ++i)
            y[i] = tanhf(x[i]);
        break;
    case DG_F_SIGMOID:
        for (i = 0; i < n; ++i)
            y[i] = dg_sigmoidf(x[i]);
        break;
    default:
        for (i = 0; i < n; ++i)
            y[i] = dg_apply(f, x[i]);
        break;
    }
}
