#ifndef DG_STREAM_H
#define DG_STREAM_H
#include "dietgen/common.h"

/* What the streaming pass adds between layers. Tensors are (outer, len, inner) around their time axis: len
 * frames of this step, each frame inner floats, for each of outer rows. */

/* y = x delayed by frames: y frame t is x frame t - frames of the stream, the first frames read as zeros.
 * ring: (outer, frames, inner) floats, slot (*pos + i) % frames holding the i-th oldest frame kept;
 * no frame is moved once written. */
DG_API void dg_delay(const float *x, float *y, float *ring, dg_int *pos, dg_int outer, dg_int len, dg_int inner,
              dg_int frames);

/* y = x, except that while *remaining is above zero the first frames are zeroed (frames streamed before the
 * signal's first, which zero-padding readers must see as zeros); *remaining counts down. */
DG_API void dg_gate(const float *x, float *y, dg_int *remaining, dg_int outer, dg_int len, dg_int inner);

#endif
