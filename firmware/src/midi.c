#include "dietgen/midi.h"

DG_API void dg_midi_init(dg_midi_parser *parser)
{
    parser->status = 0;
    parser->have = 0;
    parser->skipping = 0;
}

/* Data bytes a channel message takes: program change and channel pressure one, the others two. */
static uint8_t data_bytes(uint8_t status)
{
    uint8_t kind = status & 0xF0;
    return kind == 0xC0 || kind == 0xD0 ? 1 : 2;
}

DG_API int dg_midi_feed(dg_midi_parser *parser, uint8_t byte, dg_midi_event *event)
{
    uint8_t kind;
    if (byte >= 0xF8)          /* real-time: may come between any two bytes and changes nothing */
        return 0;
    if (byte >= 0xF0) {        /* system common or exclusive: cancels running status */
        parser->status = 0;
        parser->have = 0;
        /* Everything up to the next status byte is skipped; End of Exclusive (0xF7) ends a SysEx. */
        parser->skipping = byte != 0xF7;
        return 0;
    }
    if (byte & 0x80) {         /* a channel status byte starts a message */
        parser->status = byte;
        parser->have = 0;
        parser->skipping = 0;
        return 0;
    }
    if (parser->skipping || parser->status == 0)
        return 0;              /* a data byte of something skipped, or with no status yet */
    parser->data[parser->have++] = byte;
    if (parser->have < data_bytes(parser->status))
        return 0;
    parser->have = 0;          /* running status: the next data bytes reuse the same status */
    kind = parser->status & 0xF0;
    event->channel = parser->status & 0x0F;
    event->data1 = parser->data[0];
    event->data2 = kind == 0xC0 || kind == 0xD0 ? 0 : parser->data[1];
    if (kind == 0x90 && event->data2 == 0)
        kind = 0x80;           /* note-on at velocity 0 is how running status sends note-off */
    if (kind != 0x80 && kind != 0x90 && kind != 0xB0 && kind != 0xC0)
        return 0;
    event->type = kind;
    return 1;
}
