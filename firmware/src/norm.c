#include "dietgen/norm.h"

/* y = (x - mean(x)) / sqrt(var(x) + eps) * scale + bias over n floats; the variance takes a second pass
 * over x, which is more accurate than E[x^2] - E[x]^2. */
static void normalise_run(const float *x, float *y, dg_int n, const float *scale, dg_int scale_step,
                          const float *bias, dg_int bias_step, float eps)
{
    float mean = 0.0f, var = 0.0f, inv_std;
    dg_int j;
    for (j = 0; j < n; ++j)
        mean += x[j];
    mean /= (float)n;
    for (j = 0; j < n; ++j)
        var += (x[j] - mean) * (x[j] - mean);
    inv_std = 1.0f / sqrtf(var / (float)n + eps);
    for (j = 0; j < n; ++j)
        y[j] = (x[j] - mean) * inv_std * DG_RD(scale + j * scale_step) + (bias ? DG_RD(bias + j * bias_step) : 0.0f);
}

DG_API void dg_layer_norm(const float *x, const float *scale, dg_int scale_step, const float *bias, dg_int bias_step,
                   float *y, dg_int rows, dg_int n, float eps)
{
    dg_int r;
    for (r = 0; r < rows; ++r)
        normalise_run(x + r * n, y + r * n, n, scale, scale_step, bias, bias_step, eps);
}

DG_API void dg_batch_norm(const float *x, const float *scale, const float *bias, const float *mean, const float *var,
                   float *y, dg_int batch, dg_int channels, dg_int inner, float eps)
{
    dg_int b, c, i;
    for (c = 0; c < channels; ++c) {
        float s = DG_RD(scale + c) * (1.0f / sqrtf(DG_RD(var + c) + eps));
        float t = DG_RD(bias + c) - DG_RD(mean + c) * s;
        for (b = 0; b < batch; ++b) {
            const float *xc = x + (b * channels + c) * inner;
            float *yc = y + (b * channels + c) * inner;
            for (i = 0; i < inner; ++i)
                yc[i] = xc[i] * s + t;
        }
    }
}

DG_API void dg_instance_norm(const float *x, const float *scale, const float *bias, float *y, dg_int batch,
                      dg_int channels, dg_int inner, float eps)
{
    dg_int b, c;
    for (b = 0; b < batch; ++b)
        for (c = 0; c < channels; ++c)
            normalise_run(x + (b * channels + c) * inner, y + (b * channels + c) * inner, inner, scale + c, 0,
                          bias + c, 0, eps);
}
