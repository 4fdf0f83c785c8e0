#include "dietgen/gemm.h"

DG_API void dg_gemm(const float *a, dg_int sam, dg_int sak, const float *b, dg_int sbk, dg_int sbn, const float *c,
             dg_int scm, dg_int scn, float *y, dg_int m, dg_int n, dg_int k, float alpha, float beta, dg_fn fn)
{
    dg_int i, j, p;
    for (i = 0; i < m; ++i) {
        float *yi = y + i * n;
        for (j = 0; j < n; ++j)
            yi[j] = c ? beta * c[i * scm + j * scn] : 0.0f;
        for (p = 0; p < k; ++p) {
            float av = alpha * a[i * sam + p * sak];
            const float *bp = b + p * sbk;
            for (j = 0; j < n; ++j)
                yi[j] += av * bp[j * sbn];
        }
        dg_apply_n(fn, yi, n);
    }
}

DG_API void dg_matmul(const float *a, const dg_int *a_offsets, const float *b, const dg_int *b_offsets, float *y,
               dg_int batches, dg_int m, dg_int n, dg_int k, dg_fn fn)
{
    dg_int i;
    for (i = 0; i < batches; ++i)
        dg_gemm(a + a_offsets[i], k, 1, b + b_offsets[i], n, 1, NULL, 0, 0, y + i * m * n, m, n, k, 1.0f,
                0.0f, fn);
}
