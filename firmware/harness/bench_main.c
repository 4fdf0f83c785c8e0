/* Benchmark harness for every target: no I/O at all, so the image holds only the model, its kernels and what
 * they need from libm (the flash and RAM a deployment pays). Runs DG_BENCH_STEPS steps on a fixed
 * pseudo-random input; the emulator counts each step between the markers. Compiled with the same -D flags
 * as host_main.c. */
#include <stdint.h>
#include DG_HEADER
#include "marks.h"

#ifndef DG_BENCH_STEPS
#define DG_BENCH_STEPS 2
#endif

static float in_block[DG_IN_SIZE > 0 ? DG_IN_SIZE : 1];
static float out_block[DG_OUT_SIZE > 0 ? DG_OUT_SIZE : 1];
/* Keeps the outputs observable so the compiler cannot drop the work. */
volatile float dg_bench_sink;

int main(void)
{
    uint32_t seed = 12345u;
    long i;
    int step;
    for (i = 0; i < (long)(sizeof in_block / sizeof in_block[0]); ++i) {
        seed = seed * 1664525u + 1013904223u;
        in_block[i] = (float)(seed >> 8) * (2.0f / 16777216.0f) - 1.0f;
    }
    DG_INIT();
    for (step = 0; step < DG_BENCH_STEPS; ++step) {
        dg_mark_begin();
        DG_STEP(in_block, out_block);
        dg_mark_end();
        dg_bench_sink = out_block[0];
    }
    return 0;
}
