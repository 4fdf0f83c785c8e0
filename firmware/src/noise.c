#include "dietgen/noise.h"

void dg_noise_fir(const float *ir, float *y, dg_int rows, dg_int frames, dg_int hop, dg_int taps,
                  uint32_t seed, float *noise)
{
    uint32_t x = seed;
    dg_int count = frames * hop + taps - 1, i, r, f, n, j;
    for (i = 0; i < count; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        /* 24 random bits scaled into [-1, 1): exact in float32, so every platform draws the same values. */
        noise[i] = (float)(x >> 8) * (1.0f / 8388608.0f) - 1.0f;
    }
    for (r = 0; r < rows; ++r) {
        for (f = 0; f < frames; ++f) {
            const float *h = ir + (r * frames + f) * taps;
            for (n = 0; n < hop; ++n) {
                const float *tail = noise + f * hop + n + taps - 1;
                float acc = 0.0f;
                for (j = 0; j < taps; ++j)
                    acc += h[j] * tail[-j];
                y[(r * frames + f) * hop + n] = acc;
            }
        }
    }
}
