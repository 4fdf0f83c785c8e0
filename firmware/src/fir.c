#include "dietgen/fir.h"

/* One row, n samples: the taps that reach before the block read ring (span = taps - 1 samples, the i-th oldest
 * at slot (pos + i) % span), or zeros when ring is NULL. Each sum is split into runs that need no index
 * wrapping inside the loop. */
static void direct(const float *x, const float *h, float *y, const float *ring, dg_int pos, dg_int n, dg_int taps)
{
    dg_int span = taps - 1, t, j, k, stop, slot, left, run;
    for (t = 0; t < n; ++t) {
        float acc = 0.0f;
        stop = t < span ? t : span;
        for (j = 0; j <= stop; ++j)
            acc += DG_RD(h + j) * x[t - j];
        if (ring && t < span) {
            /* taps span down to t + 1 meet history samples t up to span - 1 */
            const float *hj = h + span;
            slot = pos + t >= span ? pos + t - span : pos + t;
            left = span - t;
            run = span - slot < left ? span - slot : left;
            for (k = 0; k < run; ++k)
                acc += DG_RD(hj - k) * ring[slot + k];
            for (; k < left; ++k)
                acc += DG_RD(hj - k) * ring[slot + k - span];
        }
        y[t] = acc;
    }
}

DG_API void dg_causal_fir(const float *x, const float *h, float *y, dg_int rows, dg_int n, dg_int taps)
{
    dg_int r;
    for (r = 0; r < rows; ++r)
        direct(x + r * n, h, y + r * n, NULL, 0, n, taps);
}

DG_API void dg_causal_fir_stream(const float *x, const float *h, float *y, float *ring, dg_int *pos, dg_int rows,
                          dg_int n, dg_int taps)
{
    dg_int span = taps - 1, r, t, slot;
    for (r = 0; r < rows; ++r)
        direct(x + r * n, h, y + r * n, span ? ring + r * span : NULL, *pos, n, taps);
    if (!span)
        return;
    /* the block's newest samples overwrite the oldest kept ones; nothing else moves */
    for (r = 0; r < rows; ++r) {
        const float *xr = x + r * n;
        float *rr = ring + r * span;
        t = n > span ? n - span : 0;
        slot = (dg_int)(((int64_t)*pos + t) % span);
        for (; t < n; ++t) {
            rr[slot] = xr[t];
            if (++slot == span)
                slot = 0;
        }
    }
    *pos = (dg_int)(((int64_t)*pos + n) % span);
}

/* The complex FFT of size p = 2^a 3^b 5^c is Stockham's autosort form of decimation in frequency: each stage
 * reads one buffer and writes the other, so the result comes out in natural order with no digit-reversal pass
 * and no index table. A stage of radix r on sub-transforms of length n = r * m at stride s (n * s = p) maps
 * x[q + s * (j + i * m)], i < r, through an r-point DFT to y[q + s * (r * j + k)] and multiplies output k by
 * exp(-2 pi i j k / n); the stage's twiddle table holds those r - 1 factors for each j < m (j = 0 included, so
 * the pointer never leaves the table, but never multiplied by). The butterflies are the textbook small DFTs:
 * radix 4 needs no multiplications, radices 3 and 5 fold the conjugate-symmetric pairs so each real constant
 * multiplies once. Only the forward transform exists: the inverse is the forward one on swapped (re, im). */

#define DG_SIN60 0.866025403784438647f   /* sin(2 pi / 3) */
#define DG_COS72 0.309016994374947424f   /* cos(2 pi / 5) */
#define DG_COS144 (-0.809016994374947424f) /* cos(4 pi / 5) */
#define DG_SIN72 0.951056516295153572f   /* sin(2 pi / 5) */
#define DG_SIN144 0.587785252292473129f  /* sin(4 pi / 5) */

/* Stores re + i im at o, times the twiddle at w unless it is 1 (j = 0): skipping that is exact and is all of
 * the last stage's twiddles. */
static void put(float *o, float re, float im, const float *w, int twiddled)
{
    if (twiddled) {
        float wr = DG_RD(w), wi = DG_RD(w + 1);
        o[0] = re * wr - im * wi;
        o[1] = re * wi + im * wr;
    } else {
        o[0] = re;
        o[1] = im;
    }
}

static void stage2(const float *restrict x, float *restrict y, dg_int m, dg_int s, const float *w)
{
    dg_int j, q, is = 2 * s * m;
    for (j = 0; j < m; ++j, w += 2) {
        const float *a = x + 2 * s * j;
        float *b = y + 4 * s * j;
        for (q = 0; q < s; ++q, a += 2, b += 2) {
            float a0r = a[0], a0i = a[1], a1r = a[is], a1i = a[is + 1];
            b[0] = a0r + a1r;
            b[1] = a0i + a1i;
            put(b + 2 * s, a0r - a1r, a0i - a1i, w, j != 0);
        }
    }
}

static void stage3(const float *restrict x, float *restrict y, dg_int m, dg_int s, const float *w)
{
    dg_int j, q, is = 2 * s * m;
    for (j = 0; j < m; ++j, w += 4) {
        const float *a = x + 2 * s * j;
        float *b = y + 6 * s * j;
        for (q = 0; q < s; ++q, a += 2, b += 2) {
            float a0r = a[0], a0i = a[1];
            float tr = a[is] + a[2 * is], ti = a[is + 1] + a[2 * is + 1];
            /* -i sin60 (a1 - a2) */
            float vr = DG_SIN60 * (a[is + 1] - a[2 * is + 1]), vi = DG_SIN60 * (a[2 * is] - a[is]);
            float ur = a0r - 0.5f * tr, ui = a0i - 0.5f * ti;
            b[0] = a0r + tr;
            b[1] = a0i + ti;
            put(b + 2 * s, ur + vr, ui + vi, w, j != 0);
            put(b + 4 * s, ur - vr, ui - vi, w + 2, j != 0);
        }
    }
}

static void stage4(const float *restrict x, float *restrict y, dg_int m, dg_int s, const float *w)
{
    dg_int j, q, is = 2 * s * m;
    for (j = 0; j < m; ++j, w += 6) {
        const float *a = x + 2 * s * j;
        float *b = y + 8 * s * j;
        for (q = 0; q < s; ++q, a += 2, b += 2) {
            const float *a1 = a + is, *a2 = a1 + is, *a3 = a2 + is;
            float t0r = a[0] + a2[0], t0i = a[1] + a2[1], t1r = a[0] - a2[0], t1i = a[1] - a2[1];
            /* t3 = -i (a1 - a3) */
            float t2r = a1[0] + a3[0], t2i = a1[1] + a3[1], t3r = a1[1] - a3[1], t3i = a3[0] - a1[0];
            b[0] = t0r + t2r;
            b[1] = t0i + t2i;
            put(b + 2 * s, t1r + t3r, t1i + t3i, w, j != 0);
            put(b + 4 * s, t0r - t2r, t0i - t2i, w + 2, j != 0);
            put(b + 6 * s, t1r - t3r, t1i - t3i, w + 4, j != 0);
        }
    }
}

static void stage5(const float *restrict x, float *restrict y, dg_int m, dg_int s, const float *w)
{
    dg_int j, q, is = 2 * s * m;
    for (j = 0; j < m; ++j, w += 8) {
        const float *a = x + 2 * s * j;
        float *b = y + 10 * s * j;
        for (q = 0; q < s; ++q, a += 2, b += 2) {
            const float *a1 = a + is, *a2 = a1 + is, *a3 = a2 + is, *a4 = a3 + is;
            float t1r = a1[0] + a4[0], t1i = a1[1] + a4[1], d1r = a1[0] - a4[0], d1i = a1[1] - a4[1];
            float t2r = a2[0] + a3[0], t2i = a2[1] + a3[1], d2r = a2[0] - a3[0], d2i = a2[1] - a3[1];
            float m1r = a[0] + DG_COS72 * t1r + DG_COS144 * t2r, m1i = a[1] + DG_COS72 * t1i + DG_COS144 * t2i;
            float m2r = a[0] + DG_COS144 * t1r + DG_COS72 * t2r, m2i = a[1] + DG_COS144 * t1i + DG_COS72 * t2i;
            float n1r = DG_SIN72 * d1r + DG_SIN144 * d2r, n1i = DG_SIN72 * d1i + DG_SIN144 * d2i;
            float n2r = DG_SIN144 * d1r - DG_SIN72 * d2r, n2i = DG_SIN144 * d1i - DG_SIN72 * d2i;
            b[0] = a[0] + t1r + t2r;
            b[1] = a[1] + t1i + t2i;
            /* outputs k and 5 - k are m -+ i n */
            put(b + 2 * s, m1r + n1i, m1i - n1r, w, j != 0);
            put(b + 4 * s, m2r + n2i, m2i - n2r, w + 2, j != 0);
            put(b + 6 * s, m2r - n2i, m2i + n2r, w + 4, j != 0);
            put(b + 8 * s, m1r - n1i, m1i + n1r, w + 6, j != 0);
        }
    }
}

/* The FFT of the p complex values in a, using b as the other buffer; returns whichever holds the result.
 * radices: the stages' radices, first stage first, their product p. tw: the stages' tables, one after another. */
static float *fft(float *a, float *b, dg_int p, const dg_int *radices, const float *tw)
{
    dg_int n = p, s = 1, r, m;
    float *t;
    while (n > 1) {
        r = *radices++;
        m = n / r;
        if (r == 4)
            stage4(a, b, m, s, tw);
        else if (r == 2)
            stage2(a, b, m, s, tw);
        else if (r == 3)
            stage3(a, b, m, s, tw);
        else
            stage5(a, b, m, s, tw);
        tw += 2 * (r - 1) * m;
        s *= r;
        n = m;
        t = a;
        a = b;
        b = t;
    }
    return a;
}

/* z: the complex FFT of size p of a 2p-sample real signal read as p complex values (even samples real, odd
 * imaginary). X: its real FFT of size 2p, bins 0..p, times 2 (the halves of the textbook split are left to the
 * spectra's scale), bin k at X[2 * k * stride]. X[k] = E + W^k O and X[p - k] = conj(E - W^k O), where
 * E = z[k] + conj z[p - k] and O = -i (z[k] - conj z[p - k]) are the even and odd samples' spectra,
 * W = exp(-i pi / p). When p is even, k = p / 2 pairs with itself (W^k = -i exactly, so both writes agree). */
static void split(const float *z, float *X, const float *tw, dg_int p, dg_int stride)
{
    dg_int k;
    X[0] = 2.0f * (z[0] + z[1]);
    X[1] = 0.0f;
    X[2 * p * stride] = 2.0f * (z[0] - z[1]);
    X[2 * p * stride + 1] = 0.0f;
    for (k = 1; k <= p / 2; ++k) {
        float ar = z[2 * k], ai = z[2 * k + 1], br = z[2 * (p - k)], bi = z[2 * (p - k) + 1];
        float er = ar + br, ei = ai - bi, orr = ai + bi, oi = br - ar;
        float wr = DG_RD(tw + 2 * k), wi = DG_RD(tw + 2 * k + 1);
        float tr = wr * orr - wi * oi, ti = wr * oi + wi * orr;
        float *lo = X + 2 * k * stride, *hi = X + 2 * (p - k) * stride;
        lo[0] = er + tr;
        lo[1] = ei + ti;
        hi[0] = er - tr;
        hi[1] = ti - ei;
    }
}

/* The inverse of split, times 2: from a real signal's bins 0..p, the p complex values whose inverse complex FFT
 * is that signal read as p complex values, each stored as (im, re) so that the forward FFT inverts it.
 * z[k] = E + i O and z[p - k] = conj E + i conj O, where E = X[k] + conj X[p - k] and
 * O = (X[k] - conj X[p - k]) conj W^k. */
static void unsplit(const float *X, float *z, const float *tw, dg_int p)
{
    dg_int k;
    z[1] = X[0] + X[2 * p];
    z[0] = X[0] - X[2 * p];
    for (k = 1; k <= p / 2; ++k) {
        float ar = X[2 * k], ai = X[2 * k + 1], br = X[2 * (p - k)], bi = X[2 * (p - k) + 1];
        float er = ar + br, ei = ai - bi, dr = ar - br, di = ai + bi;
        float wr = DG_RD(tw + 2 * k), wi = DG_RD(tw + 2 * k + 1);
        float orr = dr * wr + di * wi, oi = di * wr - dr * wi;
        z[2 * k + 1] = er - oi;
        z[2 * k] = ei + orr;
        z[2 * (p - k) + 1] = er + oi;
        z[2 * (p - k)] = orr - ei;
    }
}

/* acc += sum over i < count of x[i] h[i], complex. Two products a pass, so the loop's pointer updates and
 * branch are paid once for both. */
static void cmac(const float *restrict x, const float *restrict h, dg_int count, float *restrict acc)
{
    const float *pairs = x + 4 * (count / 2);
    float re = acc[0], im = acc[1];
    for (; x < pairs; x += 4, h += 4) {
        float x0r = x[0], x0i = x[1], x1r = x[2], x1i = x[3];
        float h0r = DG_RD(h), h0i = DG_RD(h + 1), h1r = DG_RD(h + 2), h1i = DG_RD(h + 3);
        re += (x0r * h0r - x0i * h0i) + (x1r * h1r - x1i * h1i);
        im += (x0r * h0i + x0i * h0r) + (x1r * h1i + x1i * h1r);
    }
    if (count % 2) {
        float hr = DG_RD(h), hi = DG_RD(h + 1);
        re += x[0] * hr - x[1] * hi;
        im += x[0] * hi + x[1] * hr;
    }
    acc[0] = re;
    acc[1] = im;
}

/* acc[k] = sum over partitions i of the input spectrum i sub-blocks old times partition i's spectrum, for each
 * bin k. Both are stored bin-major (a bin's K values adjacent), and the delay line's slots run backwards in
 * time, so age i sits at slot (newest + i) mod K: each bin is two contiguous complex dot products, reading
 * every value once, their accumulator in registers. */
static void accumulate(const float *restrict ring, const float *restrict spectra, float *restrict acc,
                       dg_int newest, dg_int parts, dg_int bins)
{
    dg_int k, older = parts - newest;
    for (k = 0; k < bins; ++k, ring += 2 * parts, spectra += 2 * parts, acc += 2) {
        acc[0] = acc[1] = 0.0f;
        cmac(ring + 2 * newest, spectra, older, acc);
        cmac(ring, spectra + 2 * older, newest, acc);
    }
}

DG_API void dg_causal_fir_upols(const float *x, const float *spectra, const float *twiddles, const dg_int *radices,
                         float *y, float *history, float *fdl, dg_int *pos, float *work, dg_int rows, dg_int n,
                         dg_int partition, dg_int parts)
{
    dg_int p = partition, bins = p + 1, start = *pos, r, b, t, slot;
    const float *stages = twiddles + 2 * (p / 2 + 1);
    float *acc = work + 2 * p, *z;
    size_t chunk = (size_t)p * sizeof(float);
    for (r = 0; r < rows; ++r) {
        const float *xr = x + r * n;
        float *hist = history + r * p, *ring = fdl + r * parts * 2 * bins, *yr = y + r * n;
        slot = start;
        for (b = 0; b < n; b += p) {
            /* overlap-save: the FFT frame is the previous sub-block and this one; the second half of the
             * circular convolution it gives is free of wrap-around, and is the output */
            memcpy(work, hist, chunk);
            memcpy(work + p, xr + b, chunk);
            memcpy(hist, xr + b, chunk);
            z = fft(work, acc, p, radices, stages);
            split(z, ring + 2 * slot, twiddles, p, parts);
            accumulate(ring, spectra, acc, slot, parts, bins);
            unsplit(acc, work, twiddles, p);
            z = fft(work, acc, p, radices, stages);
            /* unswap: time sample p + t is float (p + t) ^ 1 of the swapped result */
            for (t = 0; t < p; ++t)
                yr[b + t] = z[(p + t) ^ 1];
            slot = slot ? slot - 1 : parts - 1;
        }
    }
    *pos = (dg_int)(((int64_t)start - n / p) % parts);
    if (*pos < 0)
        *pos += parts;
}
