#ifndef DG_FIR_H
#define DG_FIR_H
#include "dietgen/common.h"

/* Causal FIR (dietgen::CausalFIR) over rows rows of n samples: y[r, t] = sum_{j < taps} h[j] * x[r, t - j],
 * x zero before t = 0. h: taps floats in flash. Direct convolution: the exact form, for verification. */
void dg_causal_fir(const float *x, const float *h, float *y, dg_int rows, dg_int n, dg_int taps);

/* The same filter one block of n samples at a time, by direct convolution. ring: rows * (taps - 1) floats, each
 * row's last taps - 1 samples, the i-th oldest at slot (*pos + i) % (taps - 1) (one unused float when taps is
 * 1); zeros and *pos = 0 at the start. Consecutive calls give what one dg_causal_fir call over all of them
 * gives. */
void dg_causal_fir_stream(const float *x, const float *h, float *y, float *ring, dg_int *pos, dg_int rows,
                          dg_int n, dg_int taps);

/* The same filter one block of n samples at a time, by uniformly partitioned overlap-save FFT convolution:
 * n / partition sub-blocks (partition a power of two of at least 8 dividing n), parts = ceil(taps / partition).
 * Constants in flash: spectra, parts * (partition + 1) complex (re, im) bins, partition i's spectrum being the
 * real FFT of size 2 * partition of h[i * partition .. (i + 1) * partition) zero-padded, divided by
 * 4 * partition; twiddles, exp(-i pi k / partition) for k < partition as (re, im). State, zeros and *pos = 0 at
 * the start: history, rows * partition floats (each row's last partition samples); fdl, rows * parts *
 * (partition + 1) complex bins (each row's last parts input spectra, the newest at slot *pos - 1). work:
 * scratch of 4 * partition + 2 floats. */
void dg_causal_fir_upols(const float *x, const float *spectra, const float *twiddles, float *y, float *history,
                         float *fdl, dg_int *pos, float *work, dg_int rows, dg_int n, dg_int partition,
                         dg_int parts);

#endif
