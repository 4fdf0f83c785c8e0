#include "dietgen/sample.h"

#if defined(__AVR__)
/* avr-libc has no expm1. Its error near 0 (about 1e-7 absolute, then divided by mu) is far below the smallest
 * mu-law step, so decoded audio does not change. */
#define expm1f(x) (expf(x) - 1.0f)
#endif

DG_API dg_int dg_sample_categorical(const float *logits, dg_int classes, float temperature, uint32_t *rng)
{
    const float inv_t = 1.0f / temperature;
    float top = logits[0], total = 0.0f, running = 0.0f, target;
    uint32_t x = *rng;
    dg_int i;
    /* The generator step of noise.c, so that one seed means the same thing to every dietgen generator. */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *rng = x;
    for (i = 1; i < classes; ++i)
        if (logits[i] > top)
            top = logits[i];
    /* Summed in index order, as the search below sums again: its last running sum equals total exactly, and
     * u < 1 keeps target below it, so the search always ends on a class. */
    for (i = 0; i < classes; ++i)
        total += expf((logits[i] - top) * inv_t);
    /* 24 random bits scaled into [0, 1): exact in float32. */
    target = (float)(x >> 8) * (1.0f / 16777216.0f) * total;
    for (i = 0; i < classes - 1; ++i) {
        running += expf((logits[i] - top) * inv_t);
        if (running > target)
            return i;
    }
    return classes - 1;
}

DG_API float dg_mulaw_decode(dg_int code, dg_int classes)
{
    const float mu = (float)(classes - 1);
    const float y = (float)code / mu * 2.0f - 1.0f;
    const float magnitude = expm1f(fabsf(y) * log1pf(mu)) / mu;
    return y < 0.0f ? -magnitude : magnitude;
}
