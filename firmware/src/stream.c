#include "dietgen/stream.h"

DG_API void dg_delay(const float *x, float *y, float *ring, dg_int *pos, dg_int outer, dg_int len, dg_int inner,
              dg_int frames)
{
    dg_int o, t, slot;
    size_t row = (size_t)inner * sizeof(float);
    for (o = 0; o < outer; ++o) {
        const float *xo = x + o * len * inner;
        float *yo = y + o * len * inner;
        float *ro = ring + o * frames * inner;
        /* the oldest frames come from the ring, the rest from this block */
        slot = *pos;
        for (t = 0; t < len && t < frames; ++t) {
            memcpy(yo + t * inner, ro + slot * inner, row);
            if (++slot == frames)
                slot = 0;
        }
        if (len > frames)
            memcpy(yo + frames * inner, xo, (size_t)(len - frames) * row);
        /* the newest frames of the block replace the oldest in the ring */
        t = len > frames ? len - frames : 0;
        slot = (dg_int)(((int64_t)*pos + t) % frames);
        for (; t < len; ++t) {
            memcpy(ro + slot * inner, xo + t * inner, row);
            if (++slot == frames)
                slot = 0;
        }
    }
    *pos = (dg_int)(((int64_t)*pos + len) % frames);
}

DG_API void dg_gate(const float *x, float *y, dg_int *remaining, dg_int outer, dg_int len, dg_int inner)
{
    dg_int zeroed = *remaining < len ? *remaining : len, o;
    for (o = 0; o < outer; ++o) {
        float *yo = y + o * len * inner;
        if (yo != x + o * len * inner)
            memcpy(yo, x + o * len * inner, (size_t)(len * inner) * sizeof(float));
        memset(yo, 0, (size_t)(zeroed * inner) * sizeof(float));
    }
    *remaining -= zeroed;
}
