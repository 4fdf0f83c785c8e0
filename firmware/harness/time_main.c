/* Timing harness for `dietgen bench` (host only): reads K blocks of DG_IN_SIZE floats (native byte order) from
 * stdin, then REPEATS times resets the model (DG_INIT) and times CALLS steps, cycling through the K blocks, and
 * prints each repeat's seconds on its own line. With CALLS 0 it first doubles the calls until one run lasts at
 * least DG_MIN_SECONDS, and prints "calls N" before the repeats, so a repeat is long enough for the clock and
 * short steps are not lost in timer noise.
 *
 * usage: time_main REPEATS CALLS < blocks.bin
 *
 * Compiled with the same -D flags as host_main.c. Host only, so it may use POSIX and malloc: clock_gettime
 * (CLOCK_MONOTONIC) needs _POSIX_C_SOURCE under -std=c99, and K is only known at run time. callgrind counts
 * the instructions of dg_time_steps (--toggle-collect=dg_time_steps), which is kept out of line for that. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include DG_HEADER

#ifndef DG_MIN_SECONDS
#define DG_MIN_SECONDS 0.02
#endif

static float out_block[DG_OUT_SIZE > 0 ? DG_OUT_SIZE : 1];
/* Keeps the outputs observable so the compiler cannot drop the work. */
volatile float dg_time_sink;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#if defined(__GNUC__)
__attribute__((noinline))
#endif
void dg_time_steps(const float *blocks, long count, long calls)
{
    long i;
    for (i = 0; i < calls; ++i) {
        DG_STEP(blocks + (i % count) * DG_IN_SIZE, out_block);
        dg_time_sink = out_block[0];
    }
}

static double timed(const float *blocks, long count, long calls)
{
    double t;
    DG_INIT();
    t = now();
    dg_time_steps(blocks, count, calls);
    return now() - t;
}

int main(int argc, char **argv)
{
    long repeats, calls, count = 0, capacity = 64, r;
    size_t in_size = DG_IN_SIZE > 0 ? DG_IN_SIZE : 1;
    float *blocks, *grown;
    if (argc != 3 || (repeats = atol(argv[1])) < 1 || (calls = atol(argv[2])) < 0) {
        fprintf(stderr, "usage: %s REPEATS CALLS < blocks.bin\n", argv[0]);
        return 2;
    }
    blocks = malloc(capacity * in_size * sizeof(float));
    while (blocks && fread(blocks + count * in_size, sizeof(float), in_size, stdin) == in_size) {
        if (++count == capacity) {
            capacity *= 2;
            grown = realloc(blocks, capacity * in_size * sizeof(float));
            if (!grown) free(blocks);
            blocks = grown;
        }
    }
    if (!blocks || count == 0) {
        fprintf(stderr, "no input: give at least one block of %d floats on stdin\n", DG_IN_SIZE);
        return 3;
    }
    if (calls == 0) {
        calls = 1;
        while (timed(blocks, count, calls) < DG_MIN_SECONDS && calls < (1L << 30))
            calls *= 2;
        printf("calls %ld\n", calls);
    }
    for (r = 0; r < repeats; ++r)
        printf("%.9f\n", timed(blocks, count, calls));
    free(blocks);
    return 0;
}
