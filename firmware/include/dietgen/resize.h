#ifndef DG_RESIZE_H
#define DG_RESIZE_H
#include "dietgen/common.h"

/* Resize x: (outer, lin, inner) along its middle axis into y: (outer, lout, inner). Output position t reads
 * input position index[t] (nearest), or w_left[t] * x[left[t]] + w_right[t] * x[right[t]] (linear); the
 * tables were computed at export time. */
DG_API void dg_resize_nearest(const float *x, float *y, dg_int outer, dg_int lin, dg_int lout, dg_int inner,
                       const dg_int *index);
DG_API void dg_resize_linear(const float *x, float *y, dg_int outer, dg_int lin, dg_int lout, dg_int inner,
                      const dg_int *left, const dg_int *right, const float *w_left, const float *w_right);

/* Upsampling by an integer factor along time, one block at a time. history: the window frames before the block
 * (per outer row), filled with the first frame on the first call (*primed 0); ext: scratch of (window + lin)
 * frames. Output j of the block reads frame j/factor + behind + left[j % factor] of history-then-block (and
 * right[...], weighted, for linear; w_left NULL for nearest): tables of one period, computed at export time. */
DG_API void dg_resize_stream(const float *x, float *y, float *history, dg_int *primed, float *ext, dg_int outer,
                      dg_int lin, dg_int inner, dg_int factor, dg_int window, dg_int behind, const dg_int *left,
                      const dg_int *right, const float *w_left, const float *w_right);

#endif
