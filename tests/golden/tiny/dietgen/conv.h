#ifndef DG_CONV_H
#define DG_CONV_H
#include "dietgen/common.h"

/* ONNX Conv in 1-D. x: (n, cin, lin), w: (cout, cin/groups, k) in flash, b: (cout) in flash or NULL,
 * y: (n, cout, lout). pad is the number of implicit zeros before the first input frame. */
void dg_conv1d(const float *x, const float *w, const float *b, float *y, dg_int n, dg_int cin, dg_int lin,
               dg_int cout, dg_int lout, dg_int k, dg_int stride, dg_int dilation, dg_int pad, dg_int groups,
               dg_fn fn);

/* ONNX ConvTranspose in 1-D. x: (n, cin, lin), w: (cin, cout/groups, k) in flash, b: (cout) or NULL,
 * y: (n, cout, lout); input frame t lands on output frame t*stride + j*dilation - pad. */
void dg_conv_transpose1d(const float *x, const float *w, const float *b, float *y, dg_int n, dg_int cin,
                         dg_int lin, dg_int cout, dg_int lout, dg_int k, dg_int stride, dg_int dilation,
                         dg_int pad, dg_int groups, dg_fn fn);

#endif
