/* dietgen runtime: every pointwise function enabled (a generated library replaces this file with the ones its
 * model uses; see common.h). */
#ifndef DG_FNS_H
#define DG_FNS_H
#define DG_USE_RELU 1
#define DG_USE_LEAKY_RELU 1
#define DG_USE_ELU 1
#define DG_USE_TANH 1
#define DG_USE_SIGMOID 1
#define DG_USE_HARD_SIGMOID 1
#define DG_USE_SOFTPLUS 1
#define DG_USE_CLIP 1
#define DG_USE_EXP 1
#define DG_USE_LOG 1
#define DG_USE_SIN 1
#define DG_USE_COS 1
#define DG_USE_SQRT 1
#define DG_USE_ABS 1
#define DG_USE_NEG 1
#define DG_USE_RECIPROCAL 1
#define DG_USE_FLOOR 1
#define DG_USE_CEIL 1
#define DG_USE_ERF 1
#endif
