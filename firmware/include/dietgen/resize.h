#ifndef DG_RESIZE_H
#define DG_RESIZE_H
#include "dietgen/common.h"

/* Resize x: (outer, lin, inner) along its middle axis into y: (outer, lout, inner). Output position t reads
 * input position index[t] (nearest), or w_left[t] * x[left[t]] + w_right[t] * x[right[t]] (linear); the
 * tables were computed at export time. */
void dg_resize_nearest(const float *x, float *y, dg_int outer, dg_int lin, dg_int lout, dg_int inner,
                       const dg_int *index);
void dg_resize_linear(const float *x, float *y, dg_int outer, dg_int lin, dg_int lout, dg_int inner,
                      const dg_int *left, const dg_int *right, const float *w_left, const float *w_right);

#endif
