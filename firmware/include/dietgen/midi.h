#ifndef DG_MIDI_H
#define DG_MIDI_H
#include "dietgen/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A MIDI 1.0 byte stream (serial MIDI at 31250 baud, USB MIDI's payload, a raw ALSA port) turned into the
 * channel messages a note player needs. Running status, note-on with velocity 0 as note-off, real-time bytes
 * (clock, active sensing) between a message's bytes, and System Exclusive of any length are handled as the
 * MIDI 1.0 specification says; other system messages are skipped whole. */
enum {
    DG_MIDI_NONE = 0,
    DG_MIDI_NOTE_OFF = 0x80,
    DG_MIDI_NOTE_ON = 0x90,
    DG_MIDI_CONTROL = 0xB0,
    DG_MIDI_PROGRAM = 0xC0
};

typedef struct {
    uint8_t type;      /* DG_MIDI_NOTE_OFF, DG_MIDI_NOTE_ON (velocity > 0), DG_MIDI_CONTROL, DG_MIDI_PROGRAM */
    uint8_t channel;   /* 0..15 (MIDI channel 10, the drums, is 9) */
    uint8_t data1;     /* the note, controller or program */
    uint8_t data2;     /* the velocity or controller value (0 for a program change) */
} dg_midi_event;

typedef struct {
    uint8_t status;    /* running status: the last channel status byte, 0 when none */
    uint8_t data[2];
    uint8_t have;      /* data bytes of the current message received so far */
    uint8_t skipping;  /* inside System Exclusive or a system common message dietgen does not use */
} dg_midi_parser;

DG_API void dg_midi_init(dg_midi_parser *parser);

/* Feed one byte; returns 1 and fills *event when it completes a message the player uses, else 0. */
DG_API int dg_midi_feed(dg_midi_parser *parser, uint8_t byte, dg_midi_event *event);

#ifdef __cplusplus
}
#endif

#endif
