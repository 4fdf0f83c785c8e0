#ifndef DG_GEMM_H
#define DG_GEMM_H
#include "dietgen/common.h"

/* y(m, n) = alpha * sum_k a(m, k) b(k, n) + beta * c(m, n), then fn. Operands are read through element
 * strides, so transposed and broadcast operands need no copies; c may be NULL. y is contiguous (m, n). */
DG_API void dg_gemm(const float *a, dg_int sam, dg_int sak, const float *b, dg_int sbk, dg_int sbn, const float *c,
             dg_int scm, dg_int scn, float *y, dg_int m, dg_int n, dg_int k, float alpha, float beta, dg_fn fn);

/* Batched matrix product: for each of `batches` matrices, a at a_offsets[i], b at b_offsets[i] (elements),
 * y contiguous (batches, m, n). */
DG_API void dg_matmul(const float *a, const dg_int *a_offsets, const float *b, const dg_int *b_offsets, float *y,
               dg_int batches, dg_int m, dg_int n, dg_int k, dg_fn fn);

#endif
