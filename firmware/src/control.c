#include "dietgen/control.h"

DG_API dg_int dg_note_at(const dg_note *notes, dg_int count, dg_int step, dg_int *cursor)
{
    dg_int i = *cursor;
    /* A new phrase or a jump back: search again from the start. */
    if (i >= count || (i >= 0 && notes[i].on > step))
        i = -1;
    while (i + 1 < count && notes[i + 1].on <= step)
        ++i;
    *cursor = i;
    return i;
}

DG_API float dg_midi_hz(dg_int pitch)
{
    return 440.0f * powf(2.0f, (float)(pitch - 69) / 12.0f);
}

DG_API void dg_onehot(float *dst, dg_int n, dg_int index)
{
    memset(dst, 0, (size_t)n * sizeof(float));
    dst[index < 0 ? 0 : (index < n ? index : n - 1)] = 1.0f;
}

/* table[row][k], continued past its end by the row's slope. */
static float along(const float *table, const float *slope, dg_int len, dg_int row, dg_int k)
{
    dg_int last = len - 1;
    return DG_RD(table + row * len + (k < last ? k : last)) + (float)(k > last ? k - last : 0) * DG_RD(slope + row);
}

DG_API float dg_envelope_db(const dg_envelope *env, const dg_note *note, dg_int since_on)
{
    dg_int row = note->instrument < env->instruments ? note->instrument : env->instruments - 1;
    dg_int held = note->off - note->on;
    float level = along(env->hold, env->hold_slope, env->hold_len, row, since_on < held ? since_on : held);
    if (since_on >= held)
        level += along(env->release, env->release_slope, env->release_len, row, since_on - held);
    level += env->velocity_db * log10f((float)(note->velocity > 0 ? note->velocity : 1) / 127.0f);
    return level > env->floor_db ? level : env->floor_db;
}
