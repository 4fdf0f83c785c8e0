#include "dietgen/cumsum.h"

DG_API void dg_cumsum(const float *x, float *y, dg_int outer, dg_int n, dg_int inner, int exclusive, int reverse)
{
    dg_int step = reverse ? -inner : inner, o, i, r;
    for (o = 0; o < outer; ++o) {
        for (i = 0; i < inner; ++i) {
            dg_int at = o * n * inner + i + (reverse ? (n - 1) * inner : 0);
            float sum = 0.0f;
            for (r = 0; r < n; ++r, at += step) {
                float before = sum;
                sum += x[at];
                y[at] = exclusive ? before : sum;
            }
        }
    }
}

DG_API void dg_cumsum_stream(const float *x, float *y, float *carry, dg_int outer, dg_int n, dg_int inner,
                      int exclusive)
{
    dg_int o, i, r;
    for (o = 0; o < outer; ++o) {
        for (i = 0; i < inner; ++i) {
            dg_int at = o * n * inner + i;
            float sum = carry[o * inner + i];
            for (r = 0; r < n; ++r, at += inner) {
                float before = sum;
                sum += x[at];
                y[at] = exclusive ? before : sum;
            }
            carry[o * inner + i] = sum;
        }
    }
}
