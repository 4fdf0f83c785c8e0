#ifndef DG_SOFTMAX_H
#define DG_SOFTMAX_H
#include "dietgen/common.h"

/* Softmax (or, when log_softmax, LogSoftmax) of x: (outer, n, inner) over its middle axis into y, same
 * shape; n >= 1. x and y may be the same buffer. */
DG_API void dg_softmax(const float *x, float *y, dg_int outer, dg_int n, dg_int inner, int log_softmax);

#endif
