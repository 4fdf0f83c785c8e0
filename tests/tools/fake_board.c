/* A board with a fake clock, to test a generated project's app layer (src/dietgen_app.h) on the host: the audio
 * hardware takes CHUNK samples every CHUNK sample periods (and, for an effect, gives as many); the loop takes
 * COST sample periods to compute a step and the hardware goes on meanwhile; MIDI bytes arrive at given times.
 *   fake_board COST CHUNK SAMPLES [MIDI_FILE] > played.raw
 * CHUNK must be the DG_HW_CHUNK the app was compiled with (dietgen_app.h sizes its rings for it).
 * MIDI_FILE holds lines "TIME BYTE..." (TIME in sample periods, bytes in decimal). stdout: what the hardware
 * played, int16; stdin (effects): what the hardware records, int16. stderr: "underruns U overruns O" and, for
 * each MIDI byte, "midi TIME STEP" with the number of steps computed before the byte was read. */
#include <stdio.h>
#include <stdlib.h>

#include "dietgen_app.h"

#define MAX_BYTES 4096

static long midi_time[MAX_BYTES];
static int midi_byte[MAX_BYTES];
static int midi_count;

static void read_midi(const char *path)
{
    FILE *f = fopen(path, "r");
    long t;
    char line[256];
    if (!f) {
        perror(path);
        exit(2);
    }
    while (fgets(line, sizeof line, f)) {
        char *p = line, *end;
        t = strtol(p, &end, 10);
        if (end == p)
            continue;
        for (p = end;; p = end) {
            long b = strtol(p, &end, 10);
            if (end == p || midi_count == MAX_BYTES)
                break;
            midi_time[midi_count] = t;
            midi_byte[midi_count++] = (int)b;
        }
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    long cost, chunk, total, now = 0, next_callback = 0, played = 0, steps = 0;
    int next_midi = 0;
    int16_t *buffer;
    if (argc < 4) {
        fprintf(stderr, "usage: %s COST CHUNK SAMPLES [MIDI_FILE]\n", argv[0]);
        return 2;
    }
    cost = atol(argv[1]);
    chunk = atol(argv[2]);
    total = atol(argv[3]);
    if (argc > 4)
        read_midi(argv[4]);
    buffer = (int16_t *)malloc(sizeof(int16_t) * (size_t)chunk);
    if (!buffer || cost < 1 || chunk != DG_HW_CHUNK) {
        fprintf(stderr, "CHUNK %ld: this build's rings are sized for %d\n", chunk, DG_HW_CHUNK);
        return 2;
    }
    dg_app_init();
    dg_app_prime();
    steps = dg_out.filled;      /* the steps computed to fill the ring before the hardware started */
    while (played < total) {
        long done;
        int ready;
        while (next_midi < midi_count && midi_time[next_midi] <= now) {
            fprintf(stderr, "midi %ld %ld\n", now, steps);
            dg_app_midi((uint8_t)midi_byte[next_midi++]);
        }
        /* The step starts now if there is room for it, and its block is handed over when it is done. */
#if DG_EFFECT
        ready = dg_ring_full_block(&dg_in) != 0 && dg_ring_free_block(&dg_out) != 0;
#else
        ready = dg_ring_free_block(&dg_out) != 0;
#endif
        done = ready ? now + cost : next_callback;
        while (next_callback <= done && played < total) {
#if DG_EFFECT
            if (fread(buffer, sizeof(int16_t), (size_t)chunk, stdin) != (size_t)chunk)
                memset(buffer, 0, sizeof(int16_t) * (size_t)chunk);
            dg_ring_put(&dg_in, buffer, (dg_int)chunk);
#endif
            dg_ring_take(&dg_out, buffer, (dg_int)chunk);
            fwrite(buffer, sizeof(int16_t), (size_t)chunk, stdout);
            played += chunk;
            next_callback += chunk;
        }
        if (ready) {
            dg_app_work();
            ++steps;
        }
        now = done > now ? done : now + 1;
    }
#if DG_EFFECT
    fprintf(stderr, "underruns %lu overruns %lu\n", (unsigned long)dg_out.underruns, (unsigned long)dg_in.overruns);
#else
    fprintf(stderr, "underruns %lu overruns 0\n", (unsigned long)dg_out.underruns);
#endif
    free(buffer);
    return 0;
}
