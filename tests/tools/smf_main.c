/* Test main for firmware/src/smf.c: the notes of the MIDI file named by argv[1], one a line as
 * "pitch velocity program start duration" with the times in C99 hexadecimal (exact, for float.fromhex), or
 * the reason it was refused on one line on stderr and exit status 1. */
#include <stdio.h>
#include <stdlib.h>

#include "dietgen/smf.h"

static dg_smf smf;

int main(int argc, char **argv)
{
    FILE *f;
    uint8_t *data;
    long size;
    dg_smf_track *tracks;
    dg_smf_note *notes;
    dg_int count, i;
    if (argc != 2 || !(f = fopen(argv[1], "rb")) || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "usage: %s FILE.mid\n", argv[0]);
        return 2;
    }
    /* Exactly the file's bytes, so the sanitizer sees any read past its end. */
    data = malloc(size ? (size_t)size : 1);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size)
        return 2;
    fclose(f);
    if (dg_smf_open(&smf, data, (size_t)size) != 0) {
        fprintf(stderr, "%s\n", smf.error);
        free(data);
        return 1;
    }
    tracks = malloc(sizeof *tracks * (size_t)(smf.tracks ? smf.tracks : 1));
    notes = malloc(sizeof *notes * (size_t)(smf.max_notes ? smf.max_notes : 1));
    if (!tracks || !notes)
        return 2;
    count = dg_smf_notes(&smf, tracks, notes, smf.max_notes);
    if (count < 0)
        fprintf(stderr, "%s\n", smf.error);
    for (i = 0; i < count; ++i)
        printf("%d %d %d %a %a\n", notes[i].pitch, notes[i].velocity, notes[i].program, notes[i].start,
               notes[i].duration);
    free(notes);
    free(tracks);
    free(data);
    return count < 0;
}
