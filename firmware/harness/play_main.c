/* The note player's harness for dietgen generate, on the host and on emulated boards (stdio through
 * semihosting): reads a phrase from stdin, plays it step by step and writes the audio to stdout as native
 * floats. Input, all 32-bit native order: count, seed, temperature (float), steps, then count notes of
 * (on, off, pitch, velocity, instrument). With DG_PLAY_TIMING (host builds) the seconds spent inside the
 * player's steps go to stderr. Compiled with -DDG_PLAYER_HEADER='"name_player.h"' -DDG_PLAY_START=
 * name_play_start -DDG_PLAY_STEP=name_play_step -DDG_PLAY_SAMPLES=NAME_PLAY_SAMPLES. */
#include <stdio.h>
#include <stdlib.h>
#include DG_PLAYER_HEADER
#include "marks.h"
#ifdef DG_PLAY_TIMING
#include <time.h>
#endif

#define DG_MAX_NOTES 1024

static dg_note notes[DG_MAX_NOTES];
static float audio[DG_PLAY_SAMPLES];

int main(void)
{
    int32_t header[4], fields[5];
    dg_int count, steps, i;
    float temperature;
#ifdef DG_PLAY_TIMING
    clock_t spent = 0, t0;
#endif
    if (fread(header, sizeof header, 1, stdin) != 1)
        return 1;
    count = header[0];
    steps = header[3];
    memcpy(&temperature, &header[2], sizeof temperature);
    if (count < 0 || count > DG_MAX_NOTES || steps < 0)
        return 3;
    for (i = 0; i < count; ++i) {
        if (fread(fields, sizeof fields, 1, stdin) != 1)
            return 1;
        notes[i].on = fields[0];
        notes[i].off = fields[1];
        notes[i].pitch = (int16_t)fields[2];
        notes[i].velocity = (int16_t)fields[3];
        notes[i].instrument = (int16_t)fields[4];
    }
    DG_PLAY_START(notes, count, (uint32_t)header[1], temperature);
    for (i = 0; i < steps; ++i) {
#ifdef DG_PLAY_TIMING
        t0 = clock();
#endif
        dg_mark_begin();
        DG_PLAY_STEP(audio);
        dg_mark_end();
#ifdef DG_PLAY_TIMING
        spent += clock() - t0;
#endif
        if (fwrite(audio, sizeof(float), DG_PLAY_SAMPLES, stdout) != (size_t)DG_PLAY_SAMPLES)
            return 2;
    }
#ifdef DG_PLAY_TIMING
    fprintf(stderr, "seconds %.6f\n", (double)spent / CLOCKS_PER_SEC);
#endif
    return 0;
}
