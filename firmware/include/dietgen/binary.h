#ifndef DG_BINARY_H
#define DG_BINARY_H
#include "dietgen/common.h"

enum { DG_ADD = 0, DG_SUB, DG_MUL, DG_DIV, DG_POW, DG_MAX, DG_MIN };

/* y = fn(a op b) with broadcasting: y is contiguous with the given dims; a and b are read with
 * element strides sa and sb (0 along broadcast dimensions). */
DG_API void dg_binary(const float *a, const float *b, float *y, int op, dg_int ndim, const dg_int *dims,
               const dg_int *sa, const dg_int *sb, dg_fn fn);

#endif
