#include "dietgen/rnn.h"

/* Weight row (flash) . vector (RAM). */
static float dot(const float *w, const float *v, dg_int n)
{
    float acc = 0.0f;
    dg_int k;
    for (k = 0; k < n; ++k)
        acc += DG_RD(w + k) * v[k];
    return acc;
}

static float bias_at(const float *b, dg_int j)
{
    return b ? DG_RD(b + j) : 0.0f;
}

/* g(rows) = w(rows, n) v + b: the input projection of one frame, each weight row read contiguously. */
static void project(const float *w, const float *b, const float *v, float *g, dg_int rows, dg_int n)
{
    dg_int j;
    for (j = 0; j < rows; ++j)
        g[j] = bias_at(b, j) + dot(w + j * n, v, n);
}

static void gru_cell(const float *x, const float *w, const float *r, const float *b, float *h, float *g,
                     dg_int input, dg_int hidden, dg_int linear_before_reset)
{
    const float *rb = b ? b + 3 * hidden : NULL;
    const float *rn = r + 2 * hidden * hidden;
    const float *rbn = rb ? rb + 2 * hidden : NULL;
    float *z = g, *reset = g + hidden, *n = g + 2 * hidden, *rh = g + 3 * hidden;
    dg_int j;
    project(w, b, x, g, 3 * hidden, input);
    for (j = 0; j < 2 * hidden; ++j)
        g[j] = dg_sigmoidf(g[j] + bias_at(rb, j) + dot(r + j * hidden, h, hidden));
    if (linear_before_reset) {
        for (j = 0; j < hidden; ++j)
            n[j] = dg_tanhf(n[j] + reset[j] * (dot(rn + j * hidden, h, hidden) + bias_at(rbn, j)));
    } else {
        for (j = 0; j < hidden; ++j)
            rh[j] = reset[j] * h[j];
        for (j = 0; j < hidden; ++j)
            n[j] = dg_tanhf(n[j] + dot(rn + j * hidden, rh, hidden) + bias_at(rbn, j));
    }
    /* h is only overwritten now: every gate above read the previous state */
    for (j = 0; j < hidden; ++j)
        h[j] = (1.0f - z[j]) * n[j] + z[j] * h[j];
}

static void lstm_cell(const float *x, const float *w, const float *r, const float *b, float *h, float *c,
                      float *g, dg_int input, dg_int hidden)
{
    const float *rb = b ? b + 4 * hidden : NULL;
    dg_int j;
    project(w, b, x, g, 4 * hidden, input);
    for (j = 0; j < 4 * hidden; ++j)
        g[j] += bias_at(rb, j) + dot(r + j * hidden, h, hidden);
    for (j = 0; j < hidden; ++j) {
        float in = dg_sigmoidf(g[j]), out = dg_sigmoidf(g[hidden + j]);
        float forget = dg_sigmoidf(g[2 * hidden + j]), cand = dg_tanhf(g[3 * hidden + j]);
        c[j] = forget * c[j] + in * cand;
        h[j] = out * dg_tanhf(c[j]);
    }
}

void dg_gru(const float *x, const float *w, const float *r, const float *b, float *h, float *gates, float *y,
            dg_int seq, dg_int batch, dg_int input, dg_int hidden, dg_int sxt, dg_int sxb, dg_int syt,
            dg_int syb, dg_int linear_before_reset)
{
    dg_int t, bi;
    for (t = 0; t < seq; ++t) {
        for (bi = 0; bi < batch; ++bi) {
            float *hb = h + bi * hidden;
            gru_cell(x + t * sxt + bi * sxb, w, r, b, hb, gates, input, hidden, linear_before_reset);
            if (y)
                memcpy(y + t * syt + bi * syb, hb, (size_t)hidden * sizeof(float));
        }
    }
}

void dg_lstm(const float *x, const float *w, const float *r, const float *b, float *h, float *c, float *gates,
             float *y, dg_int seq, dg_int batch, dg_int input, dg_int hidden, dg_int sxt, dg_int sxb, dg_int syt,
             dg_int syb)
{
    dg_int t, bi;
    for (t = 0; t < seq; ++t) {
        for (bi = 0; bi < batch; ++bi) {
            float *hb = h + bi * hidden;
            lstm_cell(x + t * sxt + bi * sxb, w, r, b, hb, c + bi * hidden, gates, input, hidden);
            if (y)
                memcpy(y + t * syt + bi * syb, hb, (size_t)hidden * sizeof(float));
        }
    }
}

void dg_rnn_copy(float *dst, const float *src, dg_int n)
{
    if (src)
        memcpy(dst, src, (size_t)n * sizeof(float));
    else
        memset(dst, 0, (size_t)n * sizeof(float));
}

void dg_rnn_prime(float *h, const float *src, dg_int n, dg_int *primed)
{
    if (*primed)
        return;
    memcpy(h, src, (size_t)n * sizeof(float));
    *primed = 1;
}
