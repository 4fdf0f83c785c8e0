#ifndef DG_SAMPLE_H
#define DG_SAMPLE_H
#include "dietgen/common.h"

/* Autoregressive generation: what a generation loop does with a step's logits before feeding the next input.
 * Not an op kernel: these run between NAME_step calls. */

/* A class drawn from softmax(logits / temperature) (temperature > 0) by inverse CDF with one xorshift32 draw
 * from *rng (a nonzero state, advanced by one step; the same generator as dietgen::NoiseFIR): u in [0, 1) from
 * 24 bits, p_i = expf((logits[i] - max) / temperature), and the class is the first i whose running sum of p
 * exceeds u times their total. The p are computed twice rather than stored, so no buffer is needed.
 * dietgen.models.wavenet.sample_reference gives the same classes in Python. */
DG_API dg_int dg_sample_categorical(const float *logits, dg_int classes, float temperature, uint32_t *rng);

/* The audio sample in [-1, 1] that mu-law code (0 .. classes - 1) stands for: dietgen.models.wavenet's
 * mu_law_decode, in the same float32 steps (to an ulp: C libraries' expm1f is not always correctly rounded). */
DG_API float dg_mulaw_decode(dg_int code, dg_int classes);

#endif
