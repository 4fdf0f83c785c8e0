#include "dietgen/noise.h"

/* count xorshift32 draws from state x into out; returns the generator's next state. */
static uint32_t draw(uint32_t x, float *out, dg_int count)
{
    dg_int i;
    for (i = 0; i < count; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        /* 24 random bits scaled into [-1, 1): exact in float32, so every platform draws the same values. */
        out[i] = (float)(x >> 8) * (1.0f / 8388608.0f) - 1.0f;
    }
    return x;
}

/* Outputs of a frame computed together: their sums stay in registers while each tap's weight is read once for
 * all of them, and the noise they read through that tap is one contiguous run (a vector load where there are
 * vector units, a few single loads on a Cortex-M). One output at a time, a tap cost two loads, a multiply-add
 * and the loop (5 instructions per MAC on the Cortex-M4F, DDSP's noise a third of its step). */
#define FIR_BLOCK 8

static void filter(const float *ir, float *y, dg_int rows, dg_int frames, dg_int hop, dg_int taps,
                   const float *noise)
{
    dg_int r, f, n, j, i;
    for (r = 0; r < rows; ++r) {
        for (f = 0; f < frames; ++f) {
            const float *h = ir + (r * frames + f) * taps;
            const float *last = noise + f * hop + taps - 1; /* output n reads last[n - j] through tap j */
            float *out = y + (r * frames + f) * hop;
            for (n = 0; n + FIR_BLOCK <= hop; n += FIR_BLOCK) {
                float acc[FIR_BLOCK];
                for (i = 0; i < FIR_BLOCK; ++i)
                    acc[i] = 0.0f;
                for (j = 0; j < taps; ++j) {
                    const float *run = last + n - j;
                    float hj = h[j];
                    DG_UNROLL
                    for (i = 0; i < FIR_BLOCK; ++i)
                        acc[i] = DG_FMA(hj, run[i], acc[i]);
                }
                for (i = 0; i < FIR_BLOCK; ++i)
                    out[n + i] = acc[i];
            }
            for (; n < hop; ++n) {
                float acc = 0.0f;
                for (j = 0; j < taps; ++j)
                    acc = DG_FMA(h[j], last[n - j], acc);
                out[n] = acc;
            }
        }
    }
}

DG_API void dg_noise_fir(const float *ir, float *y, dg_int rows, dg_int frames, dg_int hop, dg_int taps,
                  uint32_t seed, float *noise)
{
    draw(seed, noise, frames * hop + taps - 1);
    filter(ir, y, rows, frames, hop, taps, noise);
}

DG_API void dg_noise_fir_stream(const float *ir, float *y, dg_int rows, dg_int frames, dg_int hop, dg_int taps,
                         uint32_t *state, float *history, float *noise)
{
    dg_int drawn = frames * hop;
    memcpy(noise, history, (size_t)(taps - 1) * sizeof(float));
    *state = draw(*state, noise + taps - 1, drawn);
    filter(ir, y, rows, frames, hop, taps, noise);
    memcpy(history, noise + drawn, (size_t)(taps - 1) * sizeof(float));
}
