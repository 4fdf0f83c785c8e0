/* Single-core fused multiply-add peak of the host, for `dietgen bench`'s "% of FMA peak" column.
 *
 * How: CHAINS independent accumulators, each updated acc = acc * a + b once per iteration with the widest FMA
 * the build enables (-O3 -march=native: AVX-512, else AVX2+FMA, else NEON, else scalar fmaf). Independent chains
 * hide the FMA latency (4-5 cycles on current x86 and Arm cores, two FMA pipes), so the loop runs at the FMA
 * throughput rather than its latency: enough chains to cover latency x pipes, few enough that they and a and b
 * fit the vector registers, so nothing spills to memory. AVX-512 and AArch64 NEON have 32 registers (16
 * chains); AVX2 and 32-bit NEON have 16, where 16 chains spilled and halved the measured peak (57 instead of
 * 101 GFLOP/s on an AMD EPYC with AVX2), so 12 there. a and b come through volatiles and the accumulators are summed and
 * printed, so the compiler can neither fold nor drop the loop. The best of REPEATS runs is the peak: anything
 * slower than the best was disturbed by the rest of this shared machine.
 *
 * Prints one line: "<lanes> <chains> <best seconds> <GFLOP/s>" (an FMA counts as two floating-point operations).
 * Host-only: clock_gettime needs POSIX, hence _POSIX_C_SOURCE with -std=c99. */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <time.h>

#if (defined(__AVX__) && !defined(__AVX512F__)) || (defined(__ARM_NEON) && !defined(__aarch64__))
#define CHAINS 12
#else
#define CHAINS 16
#endif
#define ITERATIONS 4000000L
#define REPEATS 5

#if defined(__AVX512F__) || (defined(__AVX__) && defined(__FMA__))
#include <immintrin.h>
#elif defined(__ARM_NEON) && defined(__ARM_FEATURE_FMA)
#include <arm_neon.h>
#endif

static volatile float mul_in = 0.999999f, add_in = 1e-6f;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Runs the chains; returns their sum (keeps the work observable) and the lanes per chain in *lanes. */
static float run(int *lanes)
{
    long i;
    int c;
    float sum = 0.0f;
#if defined(__AVX512F__)
    __m512 acc[CHAINS], a = _mm512_set1_ps(mul_in), b = _mm512_set1_ps(add_in);
    float lane[16];
    for (c = 0; c < CHAINS; ++c) acc[c] = _mm512_set1_ps((float)c);
    for (i = 0; i < ITERATIONS; ++i)
        for (c = 0; c < CHAINS; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
    for (c = 0; c < CHAINS; ++c) { _mm512_storeu_ps(lane, acc[c]); sum += lane[0]; }
    *lanes = 16;
#elif defined(__AVX__) && defined(__FMA__)
    __m256 acc[CHAINS], a = _mm256_set1_ps(mul_in), b = _mm256_set1_ps(add_in);
    float lane[8];
    for (c = 0; c < CHAINS; ++c) acc[c] = _mm256_set1_ps((float)c);
    for (i = 0; i < ITERATIONS; ++i)
        for (c = 0; c < CHAINS; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
    for (c = 0; c < CHAINS; ++c) { _mm256_storeu_ps(lane, acc[c]); sum += lane[0]; }
    *lanes = 8;
#elif defined(__ARM_NEON) && defined(__ARM_FEATURE_FMA)
    float32x4_t acc[CHAINS], a = vdupq_n_f32(mul_in), b = vdupq_n_f32(add_in);
    for (c = 0; c < CHAINS; ++c) acc[c] = vdupq_n_f32((float)c);
    for (i = 0; i < ITERATIONS; ++i)
        for (c = 0; c < CHAINS; ++c) acc[c] = vfmaq_f32(b, acc[c], a);
    for (c = 0; c < CHAINS; ++c) sum += vgetq_lane_f32(acc[c], 0);
    *lanes = 4;
#else
    float acc[CHAINS], a = mul_in, b = add_in;
    for (c = 0; c < CHAINS; ++c) acc[c] = (float)c;
    for (i = 0; i < ITERATIONS; ++i)
        for (c = 0; c < CHAINS; ++c) acc[c] = fmaf(acc[c], a, b);
    for (c = 0; c < CHAINS; ++c) sum += acc[c];
    *lanes = 1;
#endif
    return sum;
}

int main(void)
{
    int r, lanes = 1;
    double best = 1e30, t;
    float sink = 0.0f;
    for (r = 0; r < REPEATS; ++r) {
        t = now();
        sink += run(&lanes);
        t = now() - t;
        if (t < best) best = t;
    }
    printf("%d %d %.9f %.6f\n", lanes, CHAINS, best,
           2.0 * (double)lanes * CHAINS * (double)ITERATIONS / best / 1e9);
    fprintf(stderr, "checksum %g\n", (double)sink);
    return 0;
}
