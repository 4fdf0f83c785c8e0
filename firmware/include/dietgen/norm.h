#ifndef DG_NORM_H
#define DG_NORM_H
#include "dietgen/common.h"

/* LayerNormalization of x: (rows, n) over each row into y. scale (in flash) is read at scale + j*scale_step,
 * so step 0 means one shared value; bias likewise, or NULL. */
DG_API void dg_layer_norm(const float *x, const float *scale, dg_int scale_step, const float *bias, dg_int bias_step,
                   float *y, dg_int rows, dg_int n, float eps);

/* Inference BatchNormalization of x: (batch, channels, inner) into y; scale, bias, mean and var are
 * per-channel and in flash. */
DG_API void dg_batch_norm(const float *x, const float *scale, const float *bias, const float *mean, const float *var,
                   float *y, dg_int batch, dg_int channels, dg_int inner, float eps);

/* InstanceNormalization of x: (batch, channels, inner) over inner into y; scale and bias per channel, in flash. */
DG_API void dg_instance_norm(const float *x, const float *scale, const float *bias, float *y, dg_int batch,
                      dg_int channels, dg_int inner, float eps);

#endif
