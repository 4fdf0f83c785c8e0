#ifndef DG_CONTROL_H
#define DG_CONTROL_H
#include "dietgen/common.h"

/* A note on the grid of the model's steps: it sounds over steps [on, off). A phrase is an array of notes
 * sorted by on and not overlapping (dietgen is monophonic; the host checks this before a phrase reaches C). */
typedef struct {
    dg_int on, off;
    int16_t pitch, velocity, instrument;
} dg_note;

/* Index of the note sounding at step or, between notes, of the last one released; -1 before the first.
 * *cursor remembers where the previous call stopped, so a phrase played forward costs O(1) per step. */
DG_API dg_int dg_note_at(const dg_note *notes, dg_int count, dg_int step, dg_int *cursor);

/* Equal-tempered frequency of a MIDI pitch (A4 = 69 = 440 Hz). */
DG_API float dg_midi_hz(dg_int pitch);

/* dst[0..n) = 0 except dst[min(index, n - 1)] = 1. */
DG_API void dg_onehot(float *dst, dg_int n, dg_int index);

/* The loudness envelope of the training notes (dietgen.control.Envelope): per instrument, dB at velocity 127
 * per frame from note-on (hold, hold_len per row) and relative to note-off (release), each continued past its
 * table by its last slope; velocity adds velocity_db per decade; never below floor_db. Tables live in flash. */
typedef struct {
    const float *hold, *release, *hold_slope, *release_slope;
    dg_int hold_len, release_len, instruments;
    float velocity_db, floor_db;
} dg_envelope;

/* dB at since_on frames after the note's on (held frames: off - on). */
DG_API float dg_envelope_db(const dg_envelope *env, const dg_note *note, dg_int since_on);

#endif
