#ifndef DG_RNN_H
#define DG_RNN_H
#include "dietgen/common.h"

/* ONNX GRU and LSTM, forward direction, default activations, one sequence of frames per call.
 *
 * x frame t of batch entry b starts at x + t*sxt + b*sxb (input floats); w: (gates*hidden, input),
 * r: (gates*hidden, hidden) and b: (2*gates*hidden) or NULL are in flash, in ONNX gate order (GRU z, r, h;
 * LSTM i, o, f, c). h (and c): (batch, hidden) state, read as the initial state and updated in place step by
 * step, so a caller can keep it between calls. y: NULL or the output frame of (t, b) at y + t*syt + b*syb.
 * gates: scratch of 4*hidden floats (3*hidden suffice for a GRU with linear_before_reset). */
void dg_gru(const float *x, const float *w, const float *r, const float *b, float *h, float *gates, float *y,
            dg_int seq, dg_int batch, dg_int input, dg_int hidden, dg_int sxt, dg_int sxb, dg_int syt,
            dg_int syb, dg_int linear_before_reset);

void dg_lstm(const float *x, const float *w, const float *r, const float *b, float *h, float *c, float *gates,
             float *y, dg_int seq, dg_int batch, dg_int input, dg_int hidden, dg_int sxt, dg_int sxb, dg_int syt,
             dg_int syb);

/* dst(n) = src(n), or zeros when src is NULL: loads an initial state and stores a final one. */
void dg_rnn_copy(float *dst, const float *src, dg_int n);

/* Streaming: on the first call after init (*primed is 0), load the initial state src (computed at run time)
 * into h; later calls keep h as the previous block left it. */
void dg_rnn_prime(float *h, const float *src, dg_int n, dg_int *primed);

#endif
