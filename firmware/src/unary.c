#include "dietgen/unary.h"

DG_API void dg_unary(const float *x, float *y, dg_int n, dg_fn f)
{
    dg_map_n(f, x, y, n);
}
