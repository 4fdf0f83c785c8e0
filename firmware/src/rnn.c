#include "dietgen/rnn.h"

static dg_int min_of(dg_int a, dg_int b)
{
    return a < b ? a : b;
}

/* gx(b, c) = W x(t0 + c, b) + bx for the n frames from t0 and every batch entry: one product per entry, its
 * frames the columns, so each weight is read once per n frames instead of once per frame. gx(b, c) starts at
 * gx + (b * frames + c) * rows. */
static void project(const float *x, const float *w, const float *bx, float *gx, dg_int t0, dg_int n,
                    dg_int frames, dg_int batch, dg_int input, dg_int rows, dg_int sxt, dg_int sxb)
{
    dg_int b;
    /* n is at most frames already; saying so lets GCC see, where frames is a constant below DG_MR, that the
     * product's DG_MR pass cannot run (it would otherwise warn about writes past gx) */
    n = min_of(n, frames);
    for (b = 0; b < batch; ++b)
        dg_panel_gemm(w, bx, x + t0 * sxt + b * sxb, sxt, gx + b * frames * rows, rows, 1, n, rows, input,
                      DG_NOFN);
}

/* One batch entry's step, all gates in one pass over the hidden units: gx and gh hold its input and recurrent
 * products, in gate order z, r, h; h is overwritten last, after every gate read the previous state. */
static void gru_update(const float *DG_RESTRICT gx, const float *DG_RESTRICT gh, const float *bh, float *h,
                       float *y, dg_int hidden, dg_int linear_before_reset)
{
    const float *gxr = gx + hidden, *gxn = gx + 2 * hidden, *ghr = gh + hidden, *ghn = gh + 2 * hidden;
    float *out = y ? y : h; /* written with h in the same pass; when there is no y, a second store to h */
    dg_int j;
    if (linear_before_reset) {
        DG_SIMD for (j = 0; j < hidden; ++j) {
            float z = dg_sigmoidf(gx[j] + gh[j]), reset = dg_sigmoidf(gxr[j] + ghr[j]);
            float n = dg_tanhf(DG_FMA(reset, ghn[j] + (bh ? DG_RD(bh + j) : 0.0f), gxn[j]));
            float v = DG_FMA(z, h[j] - n, n);
            out[j] = v;
            h[j] = v;
        }
    } else {
        /* ghn already multiplied r * h: see dg_gru */
        DG_SIMD for (j = 0; j < hidden; ++j) {
            float z = dg_sigmoidf(gx[j] + gh[j]), n = dg_tanhf(gxn[j] + ghn[j]);
            float v = DG_FMA(z, h[j] - n, n);
            out[j] = v;
            h[j] = v;
        }
    }
}

DG_API void dg_gru(const float *x, const float *w, const float *r, const float *bx, const float *bh, float *h,
            float *scratch, float *y, dg_int seq, dg_int batch, dg_int input, dg_int hidden, dg_int sxt,
            dg_int sxb, dg_int syt, dg_int syb, dg_int frames, dg_int linear_before_reset)
{
    const dg_int rows = 3 * hidden;
    float *gx = scratch, *gh = gx + batch * frames * rows, *rh = gh + batch * rows;
    dg_int t0, t, n, b, j;
    for (t0 = 0; t0 < seq; t0 += frames) {
        n = min_of(frames, seq - t0);
        project(x, w, bx, gx, t0, n, frames, batch, input, rows, sxt, sxb);
        for (t = 0; t < n; ++t) {
            if (linear_before_reset) {
                dg_panel_gemm(r, NULL, h, hidden, gh, rows, 1, batch, rows, hidden, DG_NOFN);
            } else {
                /* the z and r rows, then the h rows times r * h */
                dg_panel_gemm(r, NULL, h, hidden, gh, rows, 1, batch, 2 * hidden, hidden, DG_NOFN);
                for (b = 0; b < batch; ++b) {
                    const float *gxr = gx + (b * frames + t) * rows + hidden, *ghr = gh + b * rows + hidden;
                    DG_SIMD for (j = 0; j < hidden; ++j)
                        rh[b * hidden + j] = dg_sigmoidf(gxr[j] + ghr[j]) * h[b * hidden + j];
                }
                dg_panel_gemm(r + 2 * hidden * hidden, NULL, rh, hidden, gh + 2 * hidden, rows, 1, batch, hidden,
                              hidden, DG_NOFN);
            }
            for (b = 0; b < batch; ++b)
                gru_update(gx + (b * frames + t) * rows, gh + b * rows, bh, h + b * hidden,
                           y ? y + (t0 + t) * syt + b * syb : NULL, hidden, linear_before_reset);
        }
    }
}

/* One batch entry's step, gates i, o, f, c in one pass; as gru_update. */
static void lstm_update(const float *DG_RESTRICT gx, const float *DG_RESTRICT gh, float *h, float *DG_RESTRICT c,
                        float *y, dg_int hidden)
{
    float *out = y ? y : h;
    const float *gxo = gx + hidden, *gxf = gx + 2 * hidden, *gxc = gx + 3 * hidden;
    const float *gho = gh + hidden, *ghf = gh + 2 * hidden, *ghc = gh + 3 * hidden;
    dg_int j;
    DG_SIMD for (j = 0; j < hidden; ++j) {
        float in = dg_sigmoidf(gx[j] + gh[j]), o = dg_sigmoidf(gxo[j] + gho[j]);
        float forget = dg_sigmoidf(gxf[j] + ghf[j]), cand = dg_tanhf(gxc[j] + ghc[j]);
        c[j] = DG_FMA(forget, c[j], in * cand);
        float v = o * dg_tanhf(c[j]);
        out[j] = v;
        h[j] = v;
    }
}

DG_API void dg_lstm(const float *x, const float *w, const float *r, const float *bx, float *h, float *c, float *scratch,
             float *y, dg_int seq, dg_int batch, dg_int input, dg_int hidden, dg_int sxt, dg_int sxb, dg_int syt,
             dg_int syb, dg_int frames)
{
    const dg_int rows = 4 * hidden;
    float *gx = scratch, *gh = gx + batch * frames * rows;
    dg_int t0, t, n, b;
    for (t0 = 0; t0 < seq; t0 += frames) {
        n = min_of(frames, seq - t0);
        project(x, w, bx, gx, t0, n, frames, batch, input, rows, sxt, sxb);
        for (t = 0; t < n; ++t) {
            dg_panel_gemm(r, NULL, h, hidden, gh, rows, 1, batch, rows, hidden, DG_NOFN);
            for (b = 0; b < batch; ++b)
                lstm_update(gx + (b * frames + t) * rows, gh + b * rows, h + b * hidden, c + b * hidden,
                            y ? y + (t0 + t) * syt + b * syb : NULL, hidden);
        }
    }
}

DG_API void dg_rnn_copy(float *dst, const float *src, dg_int n)
{
    if (src)
        memcpy(dst, src, (size_t)n * sizeof(float));
    else
        memset(dst, 0, (size_t)n * sizeof(float));
}

DG_API void dg_rnn_prime(float *h, const float *src, dg_int n, dg_int *primed)
{
    if (*primed)
        return;
    memcpy(h, src, (size_t)n * sizeof(float));
    *primed = 1;
}
