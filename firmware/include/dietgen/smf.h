#ifndef DG_SMF_H
#define DG_SMF_H
#include <stddef.h>

#include "dietgen/common.h"

/* Standard MIDI Files (types 0 and 1) read into the notes a monophonic player needs, with the rules of
 * dietgen.notes.read_midi so a board plays a song exactly as `dietgen generate` does: every channel but 10 (the
 * drums) merged; tempo changes in any track honoured; a note's program the channel's last program change (0
 * before one); a note struck again before its note-off ends there and starts again; notes still held at the
 * end of the file end there; a note that ends where it starts makes no sound; times in seconds rounded to 6
 * decimals as Python's round(t, 6) rounds them. A file is untrusted input: anything malformed is refused with a
 * one-line reason, never read past its end.
 *
 * No allocation: the caller keeps the file's bytes, a cursor per track and the note array, sized from what
 * dg_smf_open counted. */

typedef struct {
    double start, duration;    /* seconds */
    int16_t pitch, velocity;   /* 0..127, 1..127 */
    int16_t program;           /* General MIDI program 0..127 */
} dg_smf_note;

/* A track's read position while the tracks are merged in time order. */
typedef struct {
    size_t pos, end;           /* the next event's status byte; the end of the track's data */
    uint64_t time;             /* the next event's time in ticks from the start */
    uint8_t status;            /* running status */
} dg_smf_track;

/* A note held on a channel: when it started, how hard, on which program; order is when it was struck. */
typedef struct {
    double start;
    uint32_t order;
    int16_t velocity, program;
    uint8_t held;
} dg_smf_held;

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t first_track;        /* offset of the first track chunk */
    dg_int tracks;             /* track chunks the header announces */
    dg_int max_notes;          /* note-ons outside channel 10: no file gives more notes */
    int16_t format;            /* 0 or 1 */
    int16_t division;          /* ticks per quarter note */
    dg_smf_held held[16 * 128];
    char error[96];            /* why the file was refused */
} dg_smf;

/* Check the whole file (header, every track and event) and count its tracks and note-ons. 0, or -1 with
 * smf->error saying what is wrong and where. data[0..size) must stay in place while the file is read. */
DG_API int dg_smf_open(dg_smf *smf, const uint8_t *data, size_t size);

/* The file's notes into notes[0..capacity), sorted by start, then pitch, then program (notes equal in all
 * three in the order they ended); tracks holds smf->tracks cursors and capacity should be smf->max_notes.
 * The number of notes, or -1 with smf->error (no notes outside channel 10 is an error). */
DG_API dg_int dg_smf_notes(dg_smf *smf, dg_smf_track *tracks, dg_smf_note *notes, dg_int capacity);

/* x rounded to 6 decimals as Python's round(x, 6): the decimal nearest to x's exact binary value (ties to
 * even), then the double nearest to that decimal. */
DG_API double dg_smf_round6(double x);

#endif
