#include "dietgen/copy.h"

DG_API void dg_copy(const float *src, float *dst, dg_int n)
{
    memcpy(dst, src, (size_t)n * sizeof *dst);
}

DG_API void dg_fill(float *dst, dg_int n, float value)
{
    dg_int i;
    for (i = 0; i < n; ++i)
        dst[i] = value;
}

static dg_int outer_count(dg_int ndim, const dg_int *dims)
{
    dg_int rows = 1, d;
    for (d = 0; d < ndim - 1; ++d)
        rows *= dims[d];
    return rows;
}

DG_API void dg_copy_nd(const float *src, float *dst, dg_int ndim, const dg_int *dims, const dg_int *src_strides,
                const dg_int *dst_strides)
{
    dg_int index[DG_MAX_DIMS] = {0};
    dg_int offsets[2] = {0, 0};
    const dg_int *strides[2];
    dg_int inner = dims[ndim - 1], ss = src_strides[ndim - 1], ds = dst_strides[ndim - 1];
    dg_int rows = outer_count(ndim, dims), r, i;
    strides[0] = src_strides;
    strides[1] = dst_strides;
    for (r = 0; r < rows; ++r) {
        const float *s = src + offsets[0];
        float *t = dst + offsets[1];
        if (ss == 1 && ds == 1)
            memcpy(t, s, (size_t)inner * sizeof *t);
        else
            for (i = 0; i < inner; ++i)
                t[i * ds] = s[i * ss];
        dg_nd_next(ndim, dims, index, strides, offsets, 2);
    }
}

/* Move a row-major multi-index over dims[0..ndim-2] one step; the sum of the selected table entries of
 * those dimensions is returned, tables[d] being dimension d's offsets. */
static dg_int gather_next(dg_int ndim, const dg_int *dims, dg_int *index, const dg_int *const *tables)
{
    dg_int d, base = 0;
    for (d = ndim - 2; d >= 0; --d) {
        if (++index[d] < dims[d])
            break;
        index[d] = 0;
    }
    for (d = 0; d < ndim - 1; ++d)
        base += tables[d][index[d]];
    return base;
}

DG_API void dg_gather(const float *src, float *dst, dg_int ndim, const dg_int *dims, const dg_int *offsets,
               dg_int block)
{
    dg_int index[DG_MAX_DIMS] = {0};
    const dg_int *tables[DG_MAX_DIMS] = {NULL};
    const dg_int *last;
    dg_int inner = dims[ndim - 1], rows = outer_count(ndim, dims), base = 0, r, i, d;
    for (d = 0; d < ndim; ++d) {
        tables[d] = offsets;
        offsets += dims[d];
    }
    last = tables[ndim - 1];
    for (d = 0; d < ndim - 1; ++d)
        base += tables[d][0];
    for (r = 0; r < rows; ++r) {
        if (block == 1)
            for (i = 0; i < inner; ++i)
                dst[i] = src[base + last[i]];
        else
            for (i = 0; i < inner; ++i)
                memcpy(dst + i * block, src + base + last[i], (size_t)block * sizeof *dst);
        dst += inner * block;
        base = gather_next(ndim, dims, index, tables);
    }
}

DG_API void dg_where(const dg_int *cond, const float *x, const float *y, float *out, dg_int ndim, const dg_int *dims,
              const dg_int *sc, const dg_int *sx, const dg_int *sy)
{
    dg_int index[DG_MAX_DIMS] = {0};
    dg_int offsets[3] = {0, 0, 0};
    const dg_int *strides[3];
    dg_int inner = dims[ndim - 1], rows = outer_count(ndim, dims), r, i;
    dg_int c1 = sc[ndim - 1], x1 = sx[ndim - 1], y1 = sy[ndim - 1];
    strides[0] = sc;
    strides[1] = sx;
    strides[2] = sy;
    for (r = 0; r < rows; ++r) {
        const dg_int *c = cond + offsets[0];
        const float *a = x + offsets[1], *b = y + offsets[2];
        for (i = 0; i < inner; ++i)
            out[i] = c[i * c1] ? a[i * x1] : b[i * y1];
        out += inner;
        dg_nd_next(ndim, dims, index, strides, offsets, 3);
    }
}
