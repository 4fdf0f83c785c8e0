#include <stdio.h>
#include <stdlib.h>

#include "dietgen/smf.h"

#define DRUM_CHANNEL 9
#define DEFAULT_TEMPO 500000u  /* microseconds per quarter note: 120 BPM until a tempo change */
/* mido, which dietgen generate reads files with, refuses longer messages before reading them. */
#define MAX_MESSAGE 1000000u

typedef struct {
    uint8_t status;            /* a channel or system status byte, or 0xFF for a meta event */
    uint8_t type;              /* a meta event's type */
    uint8_t data[2];           /* a channel message's data bytes */
    const uint8_t *payload;    /* a meta event's bytes */
    uint32_t length;
} dg_smf_event;

static int fail(dg_smf *smf, size_t at, const char *why)
{
    snprintf(smf->error, sizeof smf->error, "%s at byte %lu", why, (unsigned long)at);
    return -1;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int16_t be16(const uint8_t *p)
{
    return (int16_t)(uint16_t)((unsigned)p[0] << 8 | p[1]);
}

/* A variable-length number inside the track; the format allows at most 4 bytes (28 bits). */
static int read_number(dg_smf *smf, const dg_smf_track *t, size_t *pos, uint32_t *value)
{
    uint32_t v = 0;
    int n;
    for (n = 0; n < 4; ++n) {
        uint8_t b;
        if (*pos >= t->end)
            return fail(smf, *pos, "event cut off by the end of its track");
        b = smf->data[(*pos)++];
        v = v << 7 | (b & 0x7Fu);
        if (!(b & 0x80)) {
            *value = v;
            return 0;
        }
    }
    return fail(smf, *pos - 4, "variable-length number longer than 4 bytes");
}

/* Bytes a message with this status takes in all, 0 for status bytes MIDI leaves undefined. */
static unsigned message_length(uint8_t status)
{
    static const uint8_t system[16] = {0, 2, 3, 2, 0, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0};
    if (status >= 0xF0)
        return system[status & 0x0F];
    return (status & 0xF0) == 0xC0 || (status & 0xF0) == 0xD0 ? 2 : 3;
}

/* Why a meta event's payload cannot be decoded, as mido decodes it (it refuses the file), or NULL. */
static const char *meta_problem(uint8_t type, const uint8_t *p, uint32_t n)
{
    switch (type) {
    case 0x00:
        return n == 1 ? "sequence number of 1 byte" : 0;
    case 0x20:
        return n < 1 ? "empty channel prefix" : 0;
    case 0x51:
        return n < 3 ? "tempo change shorter than 3 bytes" : 0;
    case 0x54:
        return n < 5 || p[0] >> 5 > 3 || p[1] > 59 || p[2] > 59 || p[4] > 99 ? "malformed SMPTE offset" : 0;
    case 0x58:
        return n < 4 ? "time signature shorter than 4 bytes" : 0;
    case 0x59:
        /* Sharps (1..7) or flats (two's complement -1..-7), and major or minor. */
        return n < 2 || (p[0] > 7 && p[0] < 0xF9) || p[1] > 1 ? "malformed key signature" : 0;
    default:
        return 0;
    }
}

/* The event at t->pos (its delta time already read), checked; moves t->pos past it. */
static int read_event(dg_smf *smf, dg_smf_track *t, dg_smf_event *ev)
{
    const uint8_t *d = smf->data;
    size_t pos = t->pos, at = t->pos;
    uint8_t status = d[pos++];
    unsigned have = 0, need, i;
    uint32_t n;
    if (status < 0x80) {
        if (!t->status)
            return fail(smf, at, "data byte with no running status");
        ev->data[have++] = status;
        status = t->status;
    } else if (status != 0xFF) {
        /* Every status but a meta event's sets running status, system ones included (as mido reads). */
        t->status = status;
    }
    ev->status = status;
    if (status == 0xFF) {
        if (pos >= t->end)
            return fail(smf, at, "meta event cut off by the end of its track");
        ev->type = d[pos++];
    }
    if (status == 0xFF || status == 0xF0 || status == 0xF7) {
        /* A running-status byte before System Exclusive is dropped: the length follows it. */
        if (read_number(smf, t, &pos, &n) != 0)
            return -1;
        if (n > MAX_MESSAGE || n > t->end - pos)
            return fail(smf, at, n > MAX_MESSAGE ? "event longer than 1000000 bytes" :
                                                   "event cut off by the end of its track");
        ev->payload = d + pos;
        ev->length = n;
        pos += n;
        if (status == 0xFF) {
            const char *problem = meta_problem(ev->type, ev->payload, n);
            if (problem)
                return fail(smf, at, problem);
        } else {
            /* Its bytes between a leading 0xF0 and a closing 0xF7 must be data bytes. */
            const uint8_t *p = ev->payload, *end = p + n;
            if (p < end && *p == 0xF0)
                ++p;
            if (p < end && end[-1] == 0xF7)
                --end;
            for (; p < end; ++p)
                if (*p > 0x7F)
                    return fail(smf, at, "System Exclusive with a status byte inside");
        }
        t->pos = pos;
        return 0;
    }
    need = message_length(status);
    if (!need)
        return fail(smf, at, "undefined status byte");
    if (need == 1 && have)
        return fail(smf, at, "data byte after a one-byte system message");
    for (i = have; i + 1 < need; ++i) {
        if (pos >= t->end)
            return fail(smf, at, "message cut off by the end of its track");
        if (d[pos] > 0x7F)
            return fail(smf, pos, "status byte where a data byte belongs");
        ev->data[i] = d[pos++];
    }
    t->pos = pos;
    return 0;
}

static int known_meta(uint8_t type)
{
    return type <= 0x07 || type == 0x09 || type == 0x20 || type == 0x21 || type == 0x2F || type == 0x51 ||
           type == 0x54 || type == 0x58 || type == 0x59 || type == 0x7F;
}

/* Past the event just read: the next one's time, or the track is done. */
static int next_time(dg_smf *smf, dg_smf_track *t)
{
    uint32_t delta;
    if (t->pos >= t->end)
        return 0;
    if (read_number(smf, t, &t->pos, &delta) != 0)
        return -1;
    if (t->pos >= t->end)
        return fail(smf, t->pos, "event cut off by the end of its track");
    /* mido (what dietgen generate reads files with) drops the delta time of a meta event type it does not
     * know, moving the rest of the track earlier: read as it reads, so both play a file alike. */
    if (smf->data[t->pos] != 0xFF || t->pos + 1 >= t->end || known_meta(smf->data[t->pos + 1]))
        t->time += delta;
    return 0;
}

static int is_note_on(const dg_smf_event *ev)
{
    return (ev->status & 0xF0) == 0x90 && (ev->status & 0x0F) != DRUM_CHANNEL && ev->data[1] > 0;
}

/* The track chunk at pos: its cursor at its first event. */
static int start_track(dg_smf *smf, size_t pos, dg_int k, dg_smf_track *t)
{
    uint32_t length;
    char why[48];
    if (smf->size - pos < 8) {
        snprintf(why, sizeof why, "track %ld of %ld missing", (long)k + 1, (long)smf->tracks);
        return fail(smf, pos, why);
    }
    if (memcmp(smf->data + pos, "MTrk", 4) != 0) {
        snprintf(why, sizeof why, "no MTrk header for track %ld", (long)k + 1);
        return fail(smf, pos, why);
    }
    length = be32(smf->data + pos + 4);
    if (length > smf->size - pos - 8) {
        snprintf(why, sizeof why, "track %ld cut short", (long)k + 1);
        return fail(smf, pos, why);
    }
    t->pos = pos + 8;
    t->end = t->pos + length;
    t->time = 0;
    t->status = 0;
    return next_time(smf, t);
}

DG_API int dg_smf_open(dg_smf *smf, const uint8_t *data, size_t size)
{
    uint32_t header;
    size_t pos;
    dg_int k;
    smf->data = data;
    smf->size = size;
    smf->max_notes = 0;
    smf->error[0] = '\0';
    if (size == 0)
        return fail(smf, 0, "empty file");
    if (size < 8 || memcmp(data, "MThd", 4) != 0)
        return fail(smf, 0, "no MThd header");
    header = be32(data + 4);
    if (header < 6 || size - 8 < 6)
        return fail(smf, 4, "header shorter than 6 bytes");
    smf->format = be16(data + 8);
    smf->tracks = be16(data + 10) < 0 ? 0 : be16(data + 10);
    smf->division = be16(data + 12);
    if (smf->format == 2)
        return fail(smf, 8, "a type 2 (asynchronous) file; export the part as a type 0 or 1 file");
    if (smf->format != 0 && smf->format != 1)
        return fail(smf, 8, "unknown file type (expected 0 or 1)");
    if (smf->division <= 0)
        return fail(smf, 12, smf->division ? "SMPTE time division (expected ticks per quarter note)" :
                                             "0 ticks per quarter note");
    smf->first_track = pos = 8 + (header < size - 8 ? header : size - 8);
    for (k = 0; k < smf->tracks; ++k) {
        dg_smf_track t;
        dg_smf_event ev;
        if (start_track(smf, pos, k, &t) != 0)
            return -1;
        while (t.pos < t.end) {
            if (read_event(smf, &t, &ev) != 0 || next_time(smf, &t) != 0)
                return -1;
            smf->max_notes += is_note_on(&ev);
        }
        pos = t.end;
    }
    return 0;
}

DG_API double dg_smf_round6(double x)
{
    /* printf's %.6f is correctly rounded from the exact binary value (C99 7.19.6.1 with glibc and musl), as
     * Python's round(x, 6) is; room for the longest double. */
    char text[330];
    if (!isfinite(x))
        return x;
    snprintf(text, sizeof text, "%.6f", x);
    return strtod(text, 0);
}

static int release(dg_smf *smf, int key, double now, dg_smf_note *notes, dg_int *count, dg_int capacity)
{
    dg_smf_held *h = &smf->held[key];
    double start = dg_smf_round6(h->start), end = dg_smf_round6(now);
    h->held = 0;
    /* A note switched on and off at the same instant makes no sound. */
    if (!(end > start))
        return 0;
    if (*count >= capacity) {
        snprintf(smf->error, sizeof smf->error, "more notes than the room given for them");
        return -1;
    }
    notes[*count].start = start;
    notes[*count].duration = dg_smf_round6(end - start);
    notes[*count].pitch = (int16_t)(key & 127);
    notes[*count].velocity = h->velocity;
    notes[*count].program = h->program;
    ++*count;
    return 0;
}

/* The seconds at tick time, from now at tick *last, as mido times the merged song: message by message. */
static double later(double now, uint64_t *last, uint64_t time, double scale)
{
    /* Stored before it is added: fused into one multiply-add it would round once where Python rounds
     * twice. */
    volatile double seconds;
    if (time <= *last)
        return now;
    seconds = (double)(time - *last) * scale;
    *last = time;
    return now + seconds;
}

static int before(const dg_smf_note *a, const dg_smf_note *b)
{
    if (a->start != b->start)
        return a->start < b->start;
    if (a->pitch != b->pitch)
        return a->pitch < b->pitch;
    return a->program < b->program;
}

DG_API dg_int dg_smf_notes(dg_smf *smf, dg_smf_track *tracks, dg_smf_note *notes, dg_int capacity)
{
    int16_t programs[16];
    uint32_t tempo = DEFAULT_TEMPO, order = 0;
    double scale, now = 0.0;
    uint64_t last = 0, end = 0;
    size_t pos = smf->first_track;
    dg_int k, count = 0, i;
    memset(programs, 0, sizeof programs);
    memset(smf->held, 0, sizeof smf->held);
    for (k = 0; k < smf->tracks; ++k) {
        if (start_track(smf, pos, k, &tracks[k]) != 0)
            return -1;
        pos = tracks[k].end;
    }
    /* mido's seconds per tick: the same operations in the same order, so every time is the same double. */
    scale = (double)tempo * 1e-6 / (double)smf->division;
    for (;;) {
        dg_smf_track *t = 0;
        dg_smf_event ev;
        uint64_t time;
        int channel, key;
        /* The tracks merged by time; at equal times the earlier track first, as a stable sort orders them. */
        for (k = 0; k < smf->tracks; ++k)
            if (tracks[k].pos < tracks[k].end && (!t || tracks[k].time < t->time))
                t = &tracks[k];
        if (!t)
            break;
        time = t->time;
        if (read_event(smf, t, &ev) != 0 || next_time(smf, t) != 0)
            return -1;
        end = time;
        /* Ends of tracks are not events of the merged song; the song's own end is the last of them. */
        if (ev.status == 0xFF && ev.type == 0x2F)
            continue;
        now = later(now, &last, time, scale);
        if (ev.status == 0xFF && ev.type == 0x51) {
            tempo = (uint32_t)ev.payload[0] << 16 | (uint32_t)ev.payload[1] << 8 | ev.payload[2];
            scale = (double)tempo * 1e-6 / (double)smf->division;
        }
        if (ev.status >= 0xF0 || (ev.status & 0x0F) == DRUM_CHANNEL)
            continue;
        channel = ev.status & 0x0F;
        if ((ev.status & 0xF0) == 0xC0) {
            programs[channel] = ev.data[0];
            continue;
        }
        if ((ev.status & 0xF0) != 0x80 && (ev.status & 0xF0) != 0x90)
            continue;
        key = channel * 128 + ev.data[0];
        /* A repeated note-on without a note-off in between strikes the note again: the first one ends. */
        if (smf->held[key].held && release(smf, key, now, notes, &count, capacity) != 0)
            return -1;
        if (is_note_on(&ev)) {
            smf->held[key].held = 1;
            smf->held[key].start = now;
            smf->held[key].velocity = ev.data[1];
            smf->held[key].program = programs[channel];
            smf->held[key].order = order++;
        }
    }
    now = later(now, &last, end, scale);
    /* Notes still held end with the file, in the order they were struck. */
    for (;;) {
        int key = -1;
        for (i = 0; i < 16 * 128; ++i)
            if (smf->held[i].held && (key < 0 || smf->held[i].order < smf->held[key].order))
                key = (int)i;
        if (key < 0)
            break;
        if (release(smf, key, now, notes, &count, capacity) != 0)
            return -1;
    }
    if (!count) {
        snprintf(smf->error, sizeof smf->error, "no notes outside the drum channel (10); give a MIDI file with "
                 "a melodic part");
        return -1;
    }
    /* Insertion sort: stable, in place, and near linear on notes that mostly end in the order they start. */
    for (i = 1; i < count; ++i) {
        dg_smf_note note = notes[i];
        dg_int j = i;
        for (; j > 0 && before(&note, &notes[j - 1]); --j)
            notes[j] = notes[j - 1];
        notes[j] = note;
    }
    return count;
}
