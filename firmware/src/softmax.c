#include "dietgen/softmax.h"

/* One softmax over n floats spaced stride apart. Subtracting the maximum first keeps dg_expf in range. */
static void softmax_run(const float *x, float *y, dg_int n, dg_int stride, int log_softmax)
{
    float max = x[0], sum = 0.0f;
    dg_int r;
    for (r = 1; r < n; ++r)
        max = x[r * stride] > max ? x[r * stride] : max;
    for (r = 0; r < n; ++r) {
        float e = dg_expf(x[r * stride] - max);
        if (!log_softmax)
            y[r * stride] = e;
        sum += e;
    }
    if (log_softmax) {
        float log_sum = logf(sum);
        for (r = 0; r < n; ++r)
            y[r * stride] = x[r * stride] - max - log_sum;
    } else {
        float scale = 1.0f / sum;
        for (r = 0; r < n; ++r)
            y[r * stride] *= scale;
    }
}

DG_API void dg_softmax(const float *x, float *y, dg_int outer, dg_int n, dg_int inner, int log_softmax)
{
    dg_int o, i;
    for (o = 0; o < outer; ++o)
        for (i = 0; i < inner; ++i)
            softmax_run(x + o * n * inner + i, y + o * n * inner + i, n, inner, log_softmax);
}
