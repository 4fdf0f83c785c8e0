#ifndef DG_REDUCE_H
#define DG_REDUCE_H
#include "dietgen/common.h"

enum { DG_R_SUM = 0, DG_R_MEAN, DG_R_MAX, DG_R_MIN, DG_R_PROD, DG_R_L1, DG_R_L2, DG_R_SUM_SQUARE, DG_R_LOG_SUM };

/* x: (outer, n, inner) reduced over its middle axis into y: (outer, inner); n >= 1. */
DG_API void dg_reduce(const float *x, float *y, int op, dg_int outer, dg_int n, dg_int inner);

#endif
