#ifndef DG_FIR_H
#define DG_FIR_H
#include "dietgen/common.h"

/* Causal FIR (dietgen::CausalFIR) over rows rows of n samples: y[r, t] = sum_{j < taps} h[j] * x[r, t - j],
 * x zero before t = 0. h: taps floats in flash. Direct convolution: the exact form, for verification. */
DG_API void dg_causal_fir(const float *x, const float *h, float *y, dg_int rows, dg_int n, dg_int taps);

/* The same filter one block of n samples at a time, by direct convolution. ring: rows * (taps - 1) floats, each
 * row's last taps - 1 samples, the i-th oldest at slot (*pos + i) % (taps - 1) (one unused float when taps is
 * 1); zeros and *pos = 0 at the start. Consecutive calls give what one dg_causal_fir call over all of them
 * gives. */
DG_API void dg_causal_fir_stream(const float *x, const float *h, float *y, float *ring, dg_int *pos, dg_int rows,
                          dg_int n, dg_int taps);

/* The same filter one block of n samples at a time, by uniformly partitioned overlap-save FFT convolution:
 * n / partition sub-blocks (partition P: at least 8, dividing n, no prime factor but 2, 3 and 5),
 * parts K = ceil(taps / P). Constants in flash: spectra, (P + 1) * K complex (re, im) values, bin-major (bin k
 * of partition i at (k * K + i)), partition i's spectrum being the real FFT of size 2P of h[i * P .. (i + 1) * P)
 * zero-padded, divided by 4P; twiddles, exp(-i pi k / P) for k <= P / 2, then each FFT stage's table (see
 * dietgen/ops/causal_fir.py, twiddles()); radices, the complex FFT's stage radices (2, 3, 4 or 5), first stage
 * first, their product P. State, zeros and *pos = 0 at the start: history, rows * P floats (each row's last P
 * samples); fdl, rows * (P + 1) * K complex values, bin-major like spectra (each row's last K input spectra,
 * the newest at slot (*pos + 1) % K: slots run backwards in time). work: scratch of 4P + 2 floats. */
DG_API void dg_causal_fir_upols(const float *x, const float *spectra, const float *twiddles, const dg_int *radices,
                         float *y, float *history, float *fdl, dg_int *pos, float *work, dg_int rows, dg_int n,
                         dg_int partition, dg_int parts);

#endif
