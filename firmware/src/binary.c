#include "dietgen/binary.h"

static void binary_row(const float *a, dg_int sa, const float *b, dg_int sb, float *y, dg_int n, int op)
{
    dg_int i;
    switch (op) {
    case DG_ADD:
        for (i = 0; i < n; ++i)
            y[i] = a[i * sa] + b[i * sb];
        break;
    case DG_SUB:
        for (i = 0; i < n; ++i)
            y[i] = a[i * sa] - b[i * sb];
        break;
    case DG_MUL:
        for (i = 0; i < n; ++i)
            y[i] = a[i * sa] * b[i * sb];
        break;
    case DG_DIV:
        for (i = 0; i < n; ++i)
            y[i] = a[i * sa] / b[i * sb];
        break;
    case DG_POW:
        for (i = 0; i < n; ++i)
            y[i] = dg_powf(a[i * sa], b[i * sb]);
        break;
    case DG_MAX:
        for (i = 0; i < n; ++i)
            y[i] = fmaxf(a[i * sa], b[i * sb]);
        break;
    default:
        for (i = 0; i < n; ++i)
            y[i] = fminf(a[i * sa], b[i * sb]);
        break;
    }
}

DG_API void dg_binary(const float *a, const float *b, float *y, int op, dg_int ndim, const dg_int *dims,
               const dg_int *sa, const dg_int *sb, dg_fn fn)
{
    dg_int index[DG_MAX_DIMS] = {0};
    dg_int offsets[2] = {0, 0};
    const dg_int *strides[2];
    dg_int inner = dims[ndim - 1], rows = 1, r, d;
    strides[0] = sa;
    strides[1] = sb;
    for (d = 0; d < ndim - 1; ++d)
        rows *= dims[d];
    for (r = 0; r < rows; ++r) {
        binary_row(a + offsets[0], sa[ndim - 1], b + offsets[1], sb[ndim - 1], y, inner, op);
        dg_apply_n(fn, y, inner);
        y += inner;
        dg_nd_next(ndim, dims, index, strides, offsets, 2);
    }
}
