#ifndef DG_CONV_H
#define DG_CONV_H
#include "dietgen/common.h"
#include "dietgen/panel.h"

/* The weights come packed at export (dietgen.ops.conv), one block per group, groups one after the other:
 *   Conv: the group's cout/groups output channels as rows of W (taps = k * cin/groups columns, tap j of input
 *     channel i at column j*cin_g + i), packed for dg_panel_gemm;
 *   ConvTranspose: the group's (output channel o, tap j) pairs as rows o*k + j of W' (cin/groups columns),
 *     packed the same way.
 * Both run a tile of up to `tile` frames at a time through dg_panel_gemm, the frames as its columns, so every
 * weight loaded serves several frames; col (and z) are scratch sized for one tile. */

/* ONNX Conv in 1-D. x: (n, cin, lin), b: (cout) in flash or NULL, y: (n, cout, lout). pad is the number of
 * implicit zeros before the first input frame. col: tile * k * cin/groups floats; unused (NULL) for a 1x1 conv
 * of one unpadded frame (lin, lout and k 1, pad 0), whose channels are the column already. */
DG_API void dg_conv1d(const float *x, const float *w, const float *b, float *y, float *col, dg_int n, dg_int cin,
               dg_int lin, dg_int cout, dg_int lout, dg_int k, dg_int stride, dg_int dilation, dg_int pad,
               dg_int groups, dg_int tile, dg_fn fn);

/* ONNX ConvTranspose in 1-D. x: (n, cin, lin), b: (cout) or NULL, y: (n, cout, lout); input frame t, tap j
 * lands on output frame t*stride + j*dilation - pad. col: tile * cin/groups floats, unused (NULL) when lin is 1;
 * z: tile * k * cout/groups floats. */
DG_API void dg_conv_transpose1d(const float *x, const float *w, const float *b, float *y, float *col, float *z,
                         dg_int n, dg_int cin, dg_int lin, dg_int cout, dg_int lout, dg_int k, dg_int stride,
                         dg_int dilation, dg_int pad, dg_int groups, dg_int tile, dg_fn fn);

/* Conv streamed one block at a time. x: (n, cin, lin) this step's frames; ring: (n, (k-1)*dilation, cin) the
 * frames before them, whole frames, slot (*pos + i) % span holding the i-th oldest (NULL when k is 1); output
 * frame u reads block frame u*stride + phase - (k-1)*dilation + j*dilation, the negative ones from the ring. The
 * ring is read in place and only the newest frames are written into it: no shifting copies. col as dg_conv1d's,
 * or NULL for a one-frame step (lin and lout 1): then nothing is gathered, each tap's channels are multiplied
 * where they are kept, and w is packed tap by tap instead (per group, per tap j: the cout/groups x cin/groups
 * matrix of tap j, packed for dg_panel_gemm); export takes that path only for k up to DG_CONV_RUNS. */
#define DG_CONV_RUNS 16
DG_API void dg_conv1d_stream(const float *x, const float *w, const float *b, float *y, float *ring, dg_int *pos,
                      float *col, dg_int n, dg_int cin, dg_int lin, dg_int cout, dg_int lout, dg_int k,
                      dg_int stride, dg_int dilation, dg_int phase, dg_int groups, dg_int tile, dg_fn fn);

/* ConvTranspose streamed: x (n, cin, lin) gives y (n, cout, lin*stride) complete frames; tail (n, cout,
 * tail_len, NULL when tail_len is 0) carries the overlap that reaches into the next block: on return, frame i
 * of a channel's tail holds what this and earlier blocks added to output frame lin*stride + i (bias and fn not
 * applied). col and z as dg_conv_transpose1d's. */
DG_API void dg_conv_transpose1d_stream(const float *x, const float *w, const float *b, float *y, float *tail,
                                float *col, float *z, dg_int n, dg_int cin, dg_int lin, dg_int cout, dg_int k,
                                dg_int stride, dg_int dilation, dg_int groups, dg_int tail_len, dg_int tile,
                                dg_fn fn);

#endif
