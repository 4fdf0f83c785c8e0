#ifndef DG_COPY_H
#define DG_COPY_H
#include "dietgen/common.h"

/* Data movement: views that cannot share storage, transposes, slices, concatenation, padding, gathers,
 * broadcasting copies and selection. src and dst never overlap. */

DG_API void dg_copy(const float *src, float *dst, dg_int n);

DG_API void dg_fill(float *dst, dg_int n, float value);

/* Element (i0, ..., i[ndim-1]) of a block of the given dims moves from src[sum i_d * src_strides[d]] to
 * dst[sum i_d * dst_strides[d]]. Source strides may be negative (reversed slices) or zero (broadcasting);
 * the caller points src and dst at element (0, ..., 0). */
DG_API void dg_copy_nd(const float *src, float *dst, dg_int ndim, const dg_int *dims, const dg_int *src_strides,
                const dg_int *dst_strides);

/* dst is contiguous: dims[0] x ... x dims[ndim-1] blocks of `block` floats each. Block (i0, ..., i[ndim-1])
 * starts at src + offsets[i0] + offsets[dims[0] + i1] + ...: one table of element offsets per dimension,
 * laid end to end. */
DG_API void dg_gather(const float *src, float *dst, dg_int ndim, const dg_int *dims, const dg_int *offsets,
               dg_int block);

/* out = cond ? x : y with broadcasting: out is contiguous with the given dims; cond (a table of 0/1), x and
 * y are read with element strides sc, sx and sy (0 along broadcast dimensions). */
DG_API void dg_where(const dg_int *cond, const float *x, const float *y, float *out, dg_int ndim, const dg_int *dims,
              const dg_int *sc, const dg_int *sx, const dg_int *sy);

#endif
