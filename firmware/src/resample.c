#include "dietgen/resample.h"

/* Both directions keep `phase` as the next output's position past x0, in 1/out input samples, with
 * (x0, x1) the two newest input samples. Starting at 2 * out with both zero puts the first output exactly on
 * the first input sample, which is what makes equal rates an exact pass-through. */

static uint32_t gcd(uint32_t a, uint32_t b)
{
    while (b) {
        uint32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

DG_API void dg_resample_init(dg_resampler *r, uint32_t in_rate, uint32_t out_rate)
{
    uint32_t g = gcd(in_rate, out_rate);
    r->in = in_rate / g;
    r->out = out_rate / g;
    r->recip = 0xFFFFFFFFu / r->out;
    r->phase = 2 * r->out;
    r->x0 = 0;
    r->x1 = 0;
}

/* a + (b - a) * frac / out, frac in [0, out): exactly a when frac is 0. The product fits 32 bits: |b - a| is
 * at most 65535 and the weight below 2^15. */
static int16_t lerp(const dg_resampler *r, int16_t a, int16_t b, uint32_t frac)
{
    int32_t w = (int32_t)((frac * r->recip) >> 17);
    return (int16_t)(a + ((((int32_t)b - a) * w + 16384) >> 15));
}

DG_API void dg_resample_take(dg_resampler *r, dg_ring *ring, int16_t *dst, dg_int n)
{
    dg_int i;
    for (i = 0; i < n; ++i) {
        while (r->phase >= r->out) {
            r->phase -= r->out;
            r->x0 = r->x1;
            r->x1 = dg_ring_take1(ring);
        }
        dst[i] = lerp(r, r->x0, r->x1, r->phase);
        r->phase += r->in;
    }
}

DG_API void dg_resample_put(dg_resampler *r, dg_ring *ring, const int16_t *src, dg_int n)
{
    dg_int i;
    for (i = 0; i < n; ++i) {
        r->x0 = r->x1;
        r->x1 = src[i];
        r->phase -= r->out;
        /* Every output at or before the new sample; counted back from it, so one landing on it is exact. */
        while (r->phase <= r->out) {
            dg_ring_put1(ring, lerp(r, r->x1, r->x0, r->out - r->phase));
            r->phase += r->in;
        }
    }
}
