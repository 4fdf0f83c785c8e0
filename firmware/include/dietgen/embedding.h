#ifndef DG_EMBEDDING_H
#define DG_EMBEDDING_H
#include "dietgen/common.h"

/* Embedding lookup (dietgen::Embedding): for each of n codes, y[i, :] = table[k, :] (dim floats), where k is
 * codes[i] rounded to the nearest class (halves up) and clamped to [0, classes - 1], NaN giving 0. table is in
 * flash. */
DG_API void dg_embedding(const float *codes, const float *table, float *y, dg_int n, dg_int classes, dg_int dim);

#endif
