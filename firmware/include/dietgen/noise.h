#ifndef DG_NOISE_H
#define DG_NOISE_H
#include "dietgen/common.h"

/* Filtered noise (dietgen::NoiseFIR): xorshift32 noise from seed, frames * hop + taps - 1 values drawn into
 * noise (scratch), then y[r, t] = sum_j ir[r, t / hop, j] * noise[t + taps - 1 - j] for each of rows rows.
 * The first taps - 1 values are warm-up history; every row hears the same noise. */
void dg_noise_fir(const float *ir, float *y, dg_int rows, dg_int frames, dg_int hop, dg_int taps,
                  uint32_t seed, float *noise);

#endif
