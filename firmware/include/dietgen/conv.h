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

/* Conv streamed one block at a time. x: (n, cin, lin) this step's frames; ring: (n, cin, (k-1)*dilation) the
 * frames before them, slot (*pos + i) % span holding the i-th oldest (NULL when k is 1); output frame u reads
 * block frame u*stride + phase - (k-1)*dilation + j*dilation, the negative ones from the ring. The ring is
 * read in place and only the newest frames are written into it: no shifting copies. col: scratch of
 * cin/groups * k floats (the taps of one output frame). */
void dg_conv1d_stream(const float *x, const float *w, const float *b, float *y, float *ring, dg_int *pos,
                      float *col, dg_int n, dg_int cin, dg_int lin, dg_int cout, dg_int lout, dg_int k,
                      dg_int stride, dg_int dilation, dg_int phase, dg_int groups, dg_fn fn);

/* ConvTranspose streamed: x (n, cin, lin) gives y (n, cout, lin*stride) complete frames; tail (n, cout,
 * tail_len) carries the overlap that reaches into the next block; acc: scratch of cout*(lin*stride+tail_len). */
void dg_conv_transpose1d_stream(const float *x, const float *w, const float *b, float *y, float *tail,
                                float *acc, dg_int n, dg_int cin, dg_int lin, dg_int cout, dg_int k,
                                dg_int stride, dg_int dilation, dg_int groups, dg_int tail_len, dg_fn fn);

#endif
