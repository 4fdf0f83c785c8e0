#ifndef DG_RESAMPLE_H
#define DG_RESAMPLE_H
#include "dietgen/ring.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A sample-rate converter between a ring of blocks at the model's rate and audio hardware that runs at another
 * (the Teensy Audio Library's 44.1 kHz, a codec's 48 kHz, a timer whose divider is not exact).
 *
 * Linear interpolation with an exact rational phase: the two rates are reduced by their greatest common divisor
 * to in:out (16000:44100 -> 160:441), and the position of each output sample is an integer count of 1/out-th
 * input samples, so the long-run ratio is exactly in/out and nothing drifts, over hours or days. Integer
 * arithmetic only (cores without an FPU run it in the interrupt). The interpolation weight is the phase in Q15,
 * exact to 1/32768 while the reduced `out` is below 131072 (any pair of standard rates).
 *
 * What it does to the spectrum: linear interpolation is a triangle filter, response sinc^2(f / f_in).
 * Upsampling (16 kHz model -> 44.1 kHz codec): the passband droops, -0.11 dB at 1 kHz, -1.8 dB at 4 kHz,
 * -5.9 dB at 7 kHz; the images at k*16 kHz +- f are attenuated by the same sinc^2 (a 1 kHz tone's first image,
 * at 15 kHz, lies 47 dB down; a 4 kHz tone's, at 12 kHz, 21 dB down), so codec output keeps faint images above
 * the model's band. Downsampling (an effect's 44.1 kHz input -> 16 kHz): the triangle spans one sample of the
 * faster input, so the droop is small (-0.75 dB at 7 kHz), but there is next to no anti-aliasing: input above
 * f_out / 2 folds back into the band (10 kHz comes back as 6 kHz only 1.5 dB down), so low-pass the analog input
 * at f_out / 2 where that matters. Equal rates pass every sample through unchanged.
 *
 * One converter serves one direction: dg_resample_take pulls samples from an output ring (each output sample may
 * read ahead one input sample), dg_resample_put pushes samples into an input ring. Both run in the hardware's
 * interrupt or callback and never block; an empty output ring plays the ring's underrun silence. */
typedef struct {
    uint32_t in;        /* input samples ... */
    uint32_t out;       /* ... per this many output samples, reduced */
    uint32_t recip;     /* 2^32 / out, rounded down: phase -> Q15 weight without a division */
    uint32_t phase;     /* take: the next output's offset past x0, in 1/out input samples;
                         * put: how far the next output lies beyond x1, same unit */
    int16_t x0, x1;     /* the input samples around the next output: older, newer */
} dg_resampler;

/* in_rate, out_rate: any positive integers in the ratio of the rates (scale both to keep a fractional rate
 * exact: 44117.647 Hz is 750000/17, so 16000 * 17 : 750000). */
DG_API void dg_resample_init(dg_resampler *r, uint32_t in_rate, uint32_t out_rate);

/* n samples at the output rate, interpolated from the output ring (which runs at the input rate). */
DG_API void dg_resample_take(dg_resampler *r, dg_ring *ring, int16_t *dst, dg_int n);

/* n samples at the input rate from the hardware, converted into the input ring (at the output rate). */
DG_API void dg_resample_put(dg_resampler *r, dg_ring *ring, const int16_t *src, dg_int n);

#ifdef __cplusplus
}
#endif

#endif
