#ifndef DG_RNN_H
#define DG_RNN_H
#include "dietgen/common.h"
#include "dietgen/panel.h"

/* ONNX GRU and LSTM, forward direction, default activations, one sequence of frames per call.
 *
 * x frame t of batch entry b starts at x + t*sxt + b*sxb (input floats). h (and c): (batch, hidden) state, read
 * as the initial state and updated in place step by step, so a caller can keep it between calls. y: NULL or the
 * output frame of (t, b) at y + t*syt + b*syb.
 *
 * Weights (flash), made at export by dietgen/ops/rnn.py, gates in ONNX order (GRU z, r, h; LSTM i, o, f, c):
 * w: W (gates*hidden, input) packed by pack_panels; r: R (gates*hidden, hidden) packed by pack_panels, except a
 * GRU without linear_before_reset, whose z and r rows (2*hidden) and h rows (hidden) are packed as two blocks,
 * the second after the first, since the h rows multiply r*h, known only once the r gate is. bx (gates*hidden)
 * or NULL: W's bias plus R's where ONNX adds both, i.e. all of them but a linear_before_reset GRU's h rows; bh
 * (hidden) or NULL: those h rows of R's bias, which the reset gate scales.
 *
 * The input projections W x_t + bx of up to `frames` frames are one product, kept in scratch; each step then
 * costs one product of R with the state of all batch entries (two for a GRU without linear_before_reset), and
 * one pass over the hidden units applies the gates. scratch: batch * (frames * gates * hidden + 4 * hidden)
 * floats (3 * hidden instead of 4 for a GRU with linear_before_reset). */
DG_API void dg_gru(const float *x, const float *w, const float *r, const float *bx, const float *bh, float *h,
            float *scratch, float *y, dg_int seq, dg_int batch, dg_int input, dg_int hidden, dg_int sxt,
            dg_int sxb, dg_int syt, dg_int syb, dg_int frames, dg_int linear_before_reset);

DG_API void dg_lstm(const float *x, const float *w, const float *r, const float *bx, float *h, float *c, float *scratch,
             float *y, dg_int seq, dg_int batch, dg_int input, dg_int hidden, dg_int sxt, dg_int sxb, dg_int syt,
             dg_int syb, dg_int frames);

/* dst(n) = src(n), or zeros when src is NULL: loads an initial state and stores a final one. */
DG_API void dg_rnn_copy(float *dst, const float *src, dg_int n);

/* Streaming: on the first call after init (*primed is 0), load the initial state src (computed at run time)
 * into h; later calls keep h as the previous block left it. */
DG_API void dg_rnn_prime(float *h, const float *src, dg_int n, dg_int *primed);

#endif
