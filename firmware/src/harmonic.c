#include "dietgen/harmonic.h"

/* Samples a harmonic's phasor is rotated before it is re-anchored on its exact phase (see bank). The rounding
 * gained grows with it: 16 keeps 100 harmonics within 5e-6 of their RMS (as a sine polynomial per sample did);
 * 32 would double that to save a tenth of the instructions. */
#define DG_HARMONIC_RUN 16

/* round(frac(f0 / rate) * 2^32) mod 2^32: the per-sample step on the accumulators' grid, once per frame. The
 * step is summed over the whole note, so an error in it would grow without bound (float32 f0 / rate drifts by
 * 0.01 rad at harmonic 16 after 4 s); on the grid it is summed exactly, wrapping for free. It is computed in
 * integers, exactly, because double is float on AVR: |f0| = m 2^(e - 24) with m a 24-bit integer, so
 * f0 2^32 / rate = m 2^(e + 8) / rate, rounded half up (as floor(x + 0.5)); a negative f0 steps backwards. */
static uint32_t to_step(float f0, dg_int rate)
{
    const uint64_t modulus = (uint64_t)rate << 32;   /* remainders mod rate 2^32 keep the quotient mod 2^32 */
    uint64_t n, q;
    int e, shift;
    if (!(f0 == f0) || f0 == 0.0f || fabsf(f0) > 3.0e38f)
        return 0u;                                   /* NaN or infinite: no defined phase, hold it */
    n = (uint64_t)ldexpf(frexpf(fabsf(f0), &e), 24);
    shift = e + 8;
    if (shift < 0) {
        if (shift < -32)
            return 0u;                               /* below half a step */
        q = (n + ((uint64_t)rate << -shift) / 2) / ((uint64_t)rate << -shift);
    } else {
        for (; shift > 0; --shift)                   /* n 2^shift mod rate 2^32, without overflow */
            n = n >= modulus - n ? n - (modulus - n) : n + n;
        q = (n + (uint64_t)rate / 2) / (uint64_t)rate;
    }
    return f0 < 0.0f ? 0u - (uint32_t)q : (uint32_t)q;
}

/* How many harmonics k = 1, 2, ... play over a frame: those with k f0 < nyquist, decided exactly as that product
 * in double decides it (NaN plays none, f0 <= 0 all), with one division per frame instead of a test per
 * harmonic. */
static dg_int live_harmonics(float f0, double nyquist, dg_int harmonics)
{
    double f = (double)f0, most;
    dg_int live;
    if (!(f < nyquist))
        return 0;
    if (f <= 0.0)
        return harmonics;
    most = floor(nyquist / f);
    live = most < (double)harmonics ? (dg_int)most : harmonics;
    while (live > 0 && (double)live * f >= nyquist)    /* the quotient's rounding, either way */
        --live;
    while (live < harmonics && (double)(live + 1) * f < nyquist)
        ++live;
    return live;
}

/* cos and sin of 2 pi p / 2^32. The nearest quarter cycle is taken off in integers, exactly, and what is left
 * (within 1/8 cycle) is read to 24 significant bits, so the angle is off by at most 5e-8 rad wherever p is;
 * minimax polynomials in cycles (fitted to 3e-9 for sin, 5e-11 for cos) leave float rounding, about 1.5 ulp. No
 * libm, no table, no double. */
static inline void turn(uint32_t p, float *c, float *s)
{
    uint32_t q = p + 0x20000000u;
    float x = (float)((int32_t)(q & 0x3fffffffu) - (int32_t)0x20000000) * (1.0f / 4294967296.0f);
    float x2 = x * x;
    float sn = x * (6.28318548f + x2 * (-41.3416634f + x2 * (81.5923538f + x2 * -75.3935623f)));
    float cs = 1.0f + x2 * (-19.7392082f + x2 * (64.9393234f + x2 * (-85.4437408f + x2 * 59.2459564f)));
    switch (q >> 30) {
    case 0: *c = cs; *s = sn; break;
    case 1: *c = -sn; *s = cs; break;
    case 2: *c = -cs; *s = -sn; break;
    default: *c = sn; *s = -cs; break;
    }
}

/* One harmonic over a frame: its phase at the next run's first sample and the advance per run (mod 2^32, exactly
 * frac(k theta)), its rotation per sample, and its amplitude ramp. */
typedef struct {
    uint32_t phase, run;
    float c, s, from, slope;
} dg_voice;

static void voice(dg_voice *v, uint32_t k, uint32_t acc, uint32_t step, float from, float to, float per_sample)
{
    turn(k * step, &v->c, &v->s);
    v->phase = k * acc;
    v->run = (uint32_t)DG_HARMONIC_RUN * k * step;
    v->from = from;
    v->slope = (to - from) * per_sample;
}

/* One row from phase acc; before: the amplitudes of the frame before the first (NULL: silence). Returns the
 * phase after the last frame.
 *
 * Each harmonic is a unit phasor rotated once per sample (4 multiplies, 2 adds, against a sine polynomial per
 * sample), its amplitude a ramp advanced by one addition. Both gain a rounding or so per sample, so every
 * DG_HARMONIC_RUN samples the phasor is re-anchored on the exact accumulator phase and the ramp re-evaluated:
 * nothing builds up beyond one run, along the frame or the note. Harmonics go in pairs so that each output
 * sample is loaded and stored once per two; an odd one out is paired with a silent partner. */
static uint32_t bank(const float *restrict f0, const float *restrict amps, const float *restrict before,
                     float *restrict y, dg_int frames, dg_int hop, dg_int harmonics, dg_int sample_rate,
                     uint32_t acc)
{
    const double nyquist = 0.5 * (double)sample_rate;
    const float per_sample = 1.0f / (float)hop;
    dg_int f, k, n, start;
    for (f = 0; f < frames; ++f, before = amps, amps += harmonics, y += hop) {
        uint32_t step = to_step(f0[f], sample_rate);
        dg_int live = live_harmonics(f0[f], nyquist, harmonics);
        memset(y, 0, (size_t)hop * sizeof(float));
        for (k = 0; k < live; k += 2) {
            dg_voice a, b;
            voice(&a, (uint32_t)k + 1u, acc, step, before ? before[k] : 0.0f, amps[k], per_sample);
            if (k + 1 < live)
                voice(&b, (uint32_t)k + 2u, acc, step, before ? before[k + 1] : 0.0f, amps[k + 1], per_sample);
            else
                voice(&b, 0u, 0u, 0u, 0.0f, 0.0f, per_sample);
            for (start = 0; start < hop; start += DG_HARMONIC_RUN) {
                dg_int stop = hop - start < DG_HARMONIC_RUN ? hop : start + DG_HARMONIC_RUN;
                float re0, im0, re1, im1, t = (float)(start + 1);
                float env0 = a.from + a.slope * t, env1 = b.from + b.slope * t;
                turn(a.phase, &re0, &im0);
                turn(b.phase, &re1, &im1);
                a.phase += a.run;
                b.phase += b.run;
                for (n = start; n < stop; ++n) {
                    float next0 = re0 * a.c - im0 * a.s, next1 = re1 * b.c - im1 * b.s;
                    y[n] += env0 * im0 + env1 * im1;
                    im0 = re0 * a.s + im0 * a.c;
                    im1 = re1 * b.s + im1 * b.c;
                    re0 = next0;
                    re1 = next1;
                    env0 += a.slope;
                    env1 += b.slope;
                }
            }
        }
        acc += (uint32_t)hop * step;
    }
    return acc;
}

DG_API void dg_harmonic(const float *f0, const float *amps, float *y, dg_int rows, dg_int frames, dg_int hop,
                 dg_int harmonics, dg_int sample_rate)
{
    dg_int r;
    for (r = 0; r < rows; ++r)
        bank(f0 + r * frames, amps + r * frames * harmonics, NULL, y + r * frames * hop, frames, hop, harmonics,
             sample_rate, 0u);
}

DG_API void dg_harmonic_stream(const float *f0, const float *amps, float *y, dg_int rows, dg_int frames, dg_int hop,
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
