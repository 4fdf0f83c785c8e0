#include "dietgen/harmonic.h"

#define DG_CYCLE 4294967296.0 /* one cycle of the uint32 phase accumulator */

/* round(frac(x) * 2^32) mod 2^32, in double: a frame's advance is summed over the whole note, so an error in it
 * grows without bound (float32 drifts by 0.01 rad at harmonic 16 after 4 s). Rounded once to 2^-32 cycles, it
 * is then summed exactly by the uint32 accumulator, which also wraps for free. */
static uint32_t to_phase(double x)
{
    double q = floor((x - floor(x)) * DG_CYCLE + 0.5);
    return q < DG_CYCLE ? (uint32_t)q : 0u;
}

/* cos and sin of 2 pi x, x in cycles (whole cycles dropped). A float angle near pi is off by up to pi 2^-24
 * rad, and as a rotation step that error would add up on every sample of a run; so the angle is made in double
 * and the residue of its rounding to float is folded in to first order (below 2^-24 rad, its square is far
 * below float's resolution). The rotation is then as exact as sinf and cosf. */
static void turn(double x, float *c, float *s)
{
    double angle = (x - floor(x + 0.5)) * 6.283185307179586;
    float hi = (float)angle;
    float lo = (float)(angle - (double)hi);
    float ch = cosf(hi), sh = sinf(hi);
    *c = ch - sh * lo;
    *s = sh + ch * lo;
}

/* Samples a harmonic runs by recurrence before it is re-anchored (see bank). */
#define DG_HARMONIC_RUN 16

/* One row from phase acc; before: the amplitudes of the frame before the first (NULL: silence). Returns the
 * phase after the last frame.
 *
 * Each harmonic is a unit phasor rotated once per sample, started each frame from the exact accumulator phase
 * (k acc wraps mod 2^32 exactly as frac(k theta) does), and its amplitude a ramp advanced by one addition per
 * sample: a handful of flops per harmonic per sample, three sinf/cosf pairs per harmonic per frame. A
 * recurrence on sines alone (2 cos w s[n-1] - s[n-2]) costs less but amplifies rounding by 1 / sin w, ruinous
 * for low harmonics of low notes. Both recurrences gain about eps per sample, whatever k is; summed over 100
 * harmonics at a waveform's peak, a 160-sample frame ended 1.2e-4 of the RMS off. So each harmonic runs
 * DG_HARMONIC_RUN samples from an anchor: the ramp's is recomputed, the phasor's advanced by one rotation per
 * run, so the error after n samples is about (n / DG_HARMONIC_RUN + DG_HARMONIC_RUN) eps (7e-6 there). */
static uint32_t bank(const float *f0, const float *amps, const float *before, float *y, dg_int frames,
                     dg_int hop, dg_int harmonics, dg_int sample_rate, uint32_t acc)
{
    const double rate = (double)sample_rate, nyquist = 0.5 * rate;
    const float per_sample = 1.0f / (float)hop;
    dg_int f, k, n, start;
    for (f = 0; f < frames; ++f, before = amps, amps += harmonics, y += hop) {
        double step = (double)f0[f] / rate;
        memset(y, 0, (size_t)hop * sizeof(float));
        for (k = 1; k <= harmonics && (double)k * (double)f0[f] < nyquist; ++k) {
            float from = before ? before[k - 1] : 0.0f;
            float rise = amps[k - 1] - from, slope = rise * per_sample;
            float at_re, at_im, c, s, run_c, run_s;
            turn((double)((uint32_t)k * acc) / DG_CYCLE, &at_re, &at_im);
            turn((double)k * step, &c, &s);
            turn((double)k * step * DG_HARMONIC_RUN, &run_c, &run_s);
            for (start = 0; start < hop; start += DG_HARMONIC_RUN) {
                dg_int stop = hop - start < DG_HARMONIC_RUN ? hop : start + DG_HARMONIC_RUN;
                float re = at_re, im = at_im, env = from + rise * ((float)start * per_sample);
                float next = at_re * run_c - at_im * run_s;
                at_im = at_re * run_s + at_im * run_c;
                at_re = next;
                for (n = start; n < stop; ++n) {
                    next = re * c - im * s;
                    env += slope;
                    y[n] += env * im;
                    im = re * s + im * c;
                    re = next;
                }
            }
        }
        acc += to_phase((double)f0[f] * (double)hop / rate);
    }
    return acc;
}

void dg_harmonic(const float *f0, const float *amps, float *y, dg_int rows, dg_int frames, dg_int hop,
                 dg_int harmonics, dg_int sample_rate)
{
    dg_int r;
    for (r = 0; r < rows; ++r)
        bank(f0 + r * frames, amps + r * frames * harmonics, NULL, y + r * frames * hop, frames, hop, harmonics,
             sample_rate, 0u);
}

void dg_harmonic_stream(const float *f0, const float *amps, float *y, dg_int rows, dg_int frames, dg_int hop,
                        dg_int harmonics, dg_int sample_rate, uint32_t *phase, float *prev)
{
    dg_int r;
    for (r = 0; r < rows; ++r) {
        const float *a = amps + r * frames * harmonics;
        phase[r] = bank(f0 + r * frames, a, prev + r * harmonics, y + r * frames * hop, frames, hop, harmonics,
                        sample_rate, phase[r]);
        memcpy(prev + r * harmonics, a + (frames - 1) * harmonics, (size_t)harmonics * sizeof(float));
    }
}
