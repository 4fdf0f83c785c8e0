#ifndef DG_NOISE_H
#define DG_NOISE_H
#include "dietgen/common.h"

/* Filtered noise (dietgen::NoiseFIR): xorshift32 noise from seed, frames * hop + taps - 1 values drawn into
 * noise (scratch), then y[r, t] = sum_j ir[r, t / hop, j] * noise[t + taps - 1 - j] for each of rows rows.
 * The first taps - 1 values are warm-up history; every row hears the same noise. */
DG_API void dg_noise_fir(const float *ir, float *y, dg_int rows, dg_int frames, dg_int hop, dg_int taps,
                  uint32_t seed, float *noise);

/* The same filter one block at a time: *state is the generator's state and history its last taps - 1 draws
 * (together they start as after the warm-up: set by NAME_init), both carried to the next call; noise is
 * scratch of frames * hop + taps - 1 floats. Consecutive calls give what one dg_noise_fir call over all the
 * frames gives. */
DG_API void dg_noise_fir_stream(const float *ir, float *y, dg_int rows, dg_int frames, dg_int hop, dg_int taps,
                         uint32_t *state, float *history, float *noise);

#endif
