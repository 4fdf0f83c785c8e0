#ifndef DG_HARMONIC_H
#define DG_HARMONIC_H
#include "dietgen/common.h"

/* Harmonic oscillator bank (dietgen::Harmonic), for each of rows rows: f0 (frames) in Hz held over each frame of
 * hop samples, amps (frames, harmonics), y (frames * hop). Harmonic k plays sin(2 pi k theta), its amplitude
 * ramping linearly from the previous frame's (0 before the first) to this frame's, and is silent over a frame
 * where k f0 >= sample_rate / 2. The phase theta starts at 0 and advances each sample by frac(f0 / sample_rate)
 * rounded to 2^-32 cycles. No scratch: nothing of size harmonics x hop is held. */
DG_API void dg_harmonic(const float *f0, const float *amps, float *y, dg_int rows, dg_int frames, dg_int hop,
                 dg_int harmonics, dg_int sample_rate);

/* The same bank one block at a time: phase (rows, in 2^-32 cycles) and prev (rows, harmonics: the amplitudes
 * of the frame before the block) start at zero (set by NAME_init) and are carried to the next call.
 * Consecutive calls give what one dg_harmonic call over all the frames gives. */
DG_API void dg_harmonic_stream(const float *f0, const float *amps, float *y, dg_int rows, dg_int frames, dg_int hop,
                        dg_int harmonics, dg_int sample_rate, uint32_t *phase, float *prev);

#endif
