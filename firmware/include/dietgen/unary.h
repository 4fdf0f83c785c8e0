#ifndef DG_UNARY_H
#define DG_UNARY_H
#include "dietgen/common.h"

/* y[i] = f(x[i]) for i < n; x and y may be the same buffer. */
DG_API void dg_unary(const float *x, float *y, dg_int n, dg_fn f);

#endif
