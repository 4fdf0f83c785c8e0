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

void dg_causal_fir(const float *x, const float *h, float *y, dg_int rows, dg_int n, dg_int taps)
{
    dg_int r;
    for (r = 0; r < rows; ++r)
        direct(x + r * n, h, y + r * n, NULL, 0, n, taps);
}

void dg_causal_fir_stream(const float *x, const float *h, float *y, float *ring, dg_int *pos, dg_int rows,
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

/* In-place complex FFT of size n (a power of two) on n interleaved (re, im) pairs: iterative radix-2
 * decimation in time after a bit-reversal permutation. tw holds exp(-i pi k / n) for k < n; a butterfly span
 * of s reads entry k * n / s. inverse conjugates the twiddles and does not divide by n. */
static void fft(float *a, dg_int n, const float *tw, int inverse)
{
    dg_int i, j, bit, half, start, k, step;
    float sign = inverse ? -1.0f : 1.0f;
    for (i = 1, j = 0; i < n; ++i) {
        for (bit = n >> 1; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            float re = a[2 * i], im = a[2 * i + 1];
            a[2 * i] = a[2 * j];
            a[2 * i + 1] = a[2 * j + 1];
            a[2 * j] = re;
            a[2 * j + 1] = im;
        }
    }
    for (half = 1; half < n; half <<= 1) {
        step = n / half;
        for (k = 0; k < half; ++k) {
            float wr = DG_RD(tw + 2 * k * step), wi = sign * DG_RD(tw + 2 * k * step + 1);
            for (start = k; start < n; start += 2 * half) {
                float *u = a + 2 * start, *v = a + 2 * (start + half);
                float vr = v[0] * wr - v[1] * wi, vi = v[0] * wi + v[1] * wr;
                v[0] = u[0] - vr;
                v[1] = u[1] - vi;
                u[0] += vr;
                u[1] += vi;
            }
        }
    }
}

/* z: the complex FFT of size p of a 2p-sample real signal read as p complex values (even samples real, odd
 * imaginary). X: its real FFT of size 2p, bins 0..p, times 2 (the halves of the textbook split are left to the
 * spectra's scale). X[k] = E + W^k O and X[p - k] = conj(E - W^k O), where E = z[k] + conj z[p - k] and
 * O = -i (z[k] - conj z[p - k]) are the even and odd samples' spectra, W = exp(-i pi / p). */
static void split(const float *z, float *X, const float *tw, dg_int p)
{
    dg_int k;
    X[0] = 2.0f * (z[0] + z[1]);
    X[1] = 0.0f;
    X[2 * p] = 2.0f * (z[0] - z[1]);
    X[2 * p + 1] = 0.0f;
    for (k = 1; k <= p / 2; ++k) {
        float ar = z[2 * k], ai = z[2 * k + 1], br = z[2 * (p - k)], bi = z[2 * (p - k) + 1];
        float er = ar + br, ei = ai - bi, orr = ai + bi, oi = br - ar;
        float wr = DG_RD(tw + 2 * k), wi = DG_RD(tw + 2 * k + 1);
        float tr = wr * orr - wi * oi, ti = wr * oi + wi * orr;
        X[2 * k] = er + tr;
        X[2 * k + 1] = ei + ti;
        X[2 * (p - k)] = er - tr;
        X[2 * (p - k) + 1] = ti - ei;
    }
}

/* The inverse of split, times 2: from a real signal's bins 0..p, the p complex values whose inverse complex FFT
 * is that signal read as p complex values. z[k] = E + i O and z[p - k] = conj E + i conj O, where
 * E = X[k] + conj X[p - k] and O = (X[k] - conj X[p - k]) conj W^k. */
static void unsplit(const float *X, float *z, const float *tw, dg_int p)
{
    dg_int k;
    z[0] = X[0] + X[2 * p];
    z[1] = X[0] - X[2 * p];
    for (k = 1; k <= p / 2; ++k) {
        float ar = X[2 * k], ai = X[2 * k + 1], br = X[2 * (p - k)], bi = X[2 * (p - k) + 1];
        float er = ar + br, ei = ai - bi, dr = ar - br, di = ai + bi;
        float wr = DG_RD(tw + 2 * k), wi = DG_RD(tw + 2 * k + 1);
        float orr = dr * wr + di * wi, oi = di * wr - dr * wi;
        z[2 * k] = er - oi;
        z[2 * k + 1] = ei + orr;
        z[2 * (p - k)] = er + oi;
        z[2 * (p - k) + 1] = orr - ei;
    }
}

/* acc = sum over partitions i of the input spectrum i sub-blocks old (ring slot newest - i) times spectra[i]. */
static void accumulate(const float *ring, const float *spectra, float *acc, dg_int newest, dg_int parts,
                       dg_int bins)
{
    dg_int i, k, slot = newest;
    memset(acc, 0, (size_t)(2 * bins) * sizeof(float));
    for (i = 0; i < parts; ++i) {
        const float *xs = ring + slot * 2 * bins, *hs = spectra + i * 2 * bins;
        for (k = 0; k < 2 * bins; k += 2) {
            float hr = DG_RD(hs + k), hi = DG_RD(hs + k + 1);
            acc[k] += xs[k] * hr - xs[k + 1] * hi;
            acc[k + 1] += xs[k] * hi + xs[k + 1] * hr;
        }
        slot = slot ? slot - 1 : parts - 1;
    }
}

void dg_causal_fir_upols(const float *x, const float *spectra, const float *twiddles, float *y, float *history,
                         float *fdl, dg_int *pos, float *work, dg_int rows, dg_int n, dg_int partition,
                         dg_int parts)
{
    dg_int p = partition, bins = p + 1, start = *pos, r, b, slot;
    float *acc = work + 2 * p;
    size_t chunk = (size_t)p * sizeof(float);
    for (r = 0; r < rows; ++r) {
        const float *xr = x + r * n;
        float *hist = history + r * p, *ring = fdl + r * parts * 2 * bins;
        slot = start;
        for (b = 0; b < n; b += p) {
            /* overlap-save: the FFT frame is the previous sub-block and this one; the second half of the
             * circular convolution it gives is free of wrap-around, and is the output */
            memcpy(work, hist, chunk);
            memcpy(work + p, xr + b, chunk);
            memcpy(hist, xr + b, chunk);
            fft(work, p, twiddles, 0);
            split(work, ring + slot * 2 * bins, twiddles, p);
            accumulate(ring, spectra, acc, slot, parts, bins);
            unsplit(acc, work, twiddles, p);
            fft(work, p, twiddles, 1);
            memcpy(y + r * n + b, work + p, chunk);
            if (++slot == parts)
                slot = 0;
        }
    }
    *pos = (dg_int)(((int64_t)start + n / p) % parts);
}
