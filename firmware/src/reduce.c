#include "dietgen/reduce.h"

/* Reduce n floats spaced stride apart; the switch sits outside the loops so each loop stays tight. */
static float reduce_run(const float *x, dg_int n, dg_int stride, int op)
{
    float acc = x[0];
    dg_int r;
    switch (op) {
    case DG_R_MAX:
        for (r = 1; r < n; ++r)
            acc = x[r * stride] > acc ? x[r * stride] : acc;
        return acc;
    case DG_R_MIN:
        for (r = 1; r < n; ++r)
            acc = x[r * stride] < acc ? x[r * stride] : acc;
        return acc;
    case DG_R_PROD:
        for (r = 1; r < n; ++r)
            acc *= x[r * stride];
        return acc;
    case DG_R_L1:
        for (acc = 0.0f, r = 0; r < n; ++r)
            acc += fabsf(x[r * stride]);
        return acc;
    case DG_R_L2:
    case DG_R_SUM_SQUARE:
        for (acc = 0.0f, r = 0; r < n; ++r)
            acc += x[r * stride] * x[r * stride];
        return op == DG_R_L2 ? sqrtf(acc) : acc;
    default:
        for (r = 1; r < n; ++r)
            acc += x[r * stride];
        if (op == DG_R_MEAN)
            return acc / (float)n;
        return op == DG_R_LOG_SUM ? logf(acc) : acc;
    }
}

DG_API void dg_reduce(const float *x, float *y, int op, dg_int outer, dg_int n, dg_int inner)
{
    dg_int o, i;
    for (o = 0; o < outer; ++o)
        for (i = 0; i < inner; ++i)
            y[o * inner + i] = reduce_run(x + o * n * inner + i, n, inner, op);
}
