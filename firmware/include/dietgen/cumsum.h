#ifndef DG_CUMSUM_H
#define DG_CUMSUM_H
#include "dietgen/common.h"

/* Running sums of x: (outer, n, inner) along its middle axis into y, same shape. exclusive: each sum leaves
 * out its own element; reverse: sums run from the end. */
DG_API void dg_cumsum(const float *x, float *y, dg_int outer, dg_int n, dg_int inner, int exclusive, int reverse);

/* Running sums along the time axis of one streamed block, forward only: carry (outer, inner) holds the sums
 * of all earlier blocks and is advanced past this one. */
DG_API void dg_cumsum_stream(const float *x, float *y, float *carry, dg_int outer, dg_int n, dg_int inner,
                      int exclusive);

#endif
