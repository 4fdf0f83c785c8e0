"""Note lists for dietgen generate: the command-line form, MIDI files (tempo changes, note-on velocity 0, program
changes, drums left out), untrusted files, and the checks against the model."""
from __future__ import annotations

import mido
import pytest

from dietgen.errors import DietgenError
from dietgen.notes import Note, parse_notes, read_midi, total_seconds, validate

RANGE = (48, 72)


def test_parse_notes_reads_both_forms_and_tolerates_whitespace():
    assert parse_notes("60:100:0:1.0,64:100:1.0:1.0") == [Note(60, 100, 0.0, 1.0), Note(64, 100, 1.0, 1.0)]
    assert parse_notes(" 60 : 90 : 0.5 : 0.25 : 3 ,\n62:1:1:2 ,") == [Note(60, 90, 0.5, 0.25, 3),
                                                                       Note(62, 1, 1.0, 2.0, 0)]


@pytest.mark.parametrize("text, words", [
    ("60:100:0", ["note 1", "3 fields", "pitch:velocity:start:duration"]),
    ("60:100:0:1,64:100:1:1:0:9", ["note 2", "6 fields"]),
    ("60.5:100:0:1", ["note 1", "whole numbers"]),
    ("60:100:soon:1", ["note 1", "seconds"]),
    (" , ", ["no notes"]),
])
def test_parse_notes_errors_name_the_note_and_the_form(text, words):
    with pytest.raises(DietgenError) as error:
        parse_notes(text)
    message = error.value.message
    assert "\n" not in message
    for word in words:
        assert word in message, message


def test_validate_sorts_by_start_and_accepts_touching_notes():
    notes = [Note(64, 100, 1.0, 1.0), Note(60, 100, 0.0, 1.0, 1)]
    assert validate(notes, pitch_range=RANGE, instruments=2) == [notes[1], notes[0]]
    assert validate([Note(60, 100, 0.1, 0.2), Note(60, 100, 0.3, 0.1)], pitch_range=RANGE, instruments=None)


@pytest.mark.parametrize("note, words", [
    (Note(80, 100, 0.0, 1.0), ["note 2", "pitch 80", "range 48..72"]),
    (Note(47, 100, 0.0, 1.0), ["note 2", "pitch 47", "48..72"]),
    (Note(60, 0, 0.0, 1.0), ["note 2", "velocity 0", "1..127"]),
    (Note(60, 128, 0.0, 1.0), ["note 2", "velocity 128", "1..127"]),
    (Note(60, 100, 5.0, 0.0), ["note 2", "duration 0 s", "more than 0"]),
    (Note(60, 100, 5.0, -1.0), ["note 2", "duration -1 s"]),
    (Note(60, 100, -0.5, 1.0), ["note 2", "start -0.5 s", "0 s or later"]),
    (Note(60, 100, 5.0, 1.0, 4), ["note 2", "instrument 4", "0..3"]),
    (Note(60, 100, 5.0, 1.0, -1), ["note 2", "instrument -1"]),
])
def test_validate_errors_name_the_note_its_values_and_the_rule(note, words):
    with pytest.raises(DietgenError) as error:
        validate([Note(60, 100, 10.0, 1.0), note], pitch_range=RANGE, instruments=4)
    message = error.value.message
    assert "\n" not in message
    for word in words:
        assert word in message, message


def test_overlapping_notes_are_an_error_naming_both():
    notes = [Note(64, 100, 0.5, 1.0), Note(60, 100, 0.0, 1.0)]
    with pytest.raises(DietgenError) as error:
        validate(notes, pitch_range=RANGE, instruments=None)
    message = error.value.message
    for word in ("note 1 (pitch 64", "note 2 (pitch 60", "monophonic", "shorten note 2"):
        assert word in message, message


def test_no_notes_and_negative_tail_are_errors():
    with pytest.raises(DietgenError, match="no notes"):
        validate([], pitch_range=RANGE, instruments=None)
    with pytest.raises(DietgenError, match="tail"):
        total_seconds([Note(60, 100, 0.0, 1.0)], -1.0)


def test_total_seconds_runs_to_the_last_end_plus_the_tail():
    assert total_seconds([Note(60, 100, 0.0, 3.0), Note(62, 100, 1.0, 0.5)], 0.5) == 3.5


def _midi_file(path):
    """Type 1 at 480 ticks per beat: 120 bpm for two beats, then 60 bpm. Melody on channel 1 (program 40 from the
    second note), a held note on channel 2 never released, a drum hit on channel 10."""
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    tempo, melody, other = mido.MidiTrack(), mido.MidiTrack(), mido.MidiTrack()
    midi.tracks += [tempo, melody, other]
    tempo.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    tempo.append(mido.MetaMessage("set_tempo", tempo=1000000, time=960))
    melody += [
        mido.Message("note_on", channel=0, note=60, velocity=100, time=0),
        mido.Message("note_on", channel=0, note=60, velocity=0, time=480),        # 0.5 s, velocity 0 = off
        mido.Message("program_change", channel=0, program=40, time=0),
        mido.Message("note_on", channel=0, note=62, velocity=90, time=0),
        mido.Message("note_on", channel=0, note=62, velocity=0, time=480),        # to 1.0 s, the tempo change
        mido.Message("note_on", channel=0, note=64, velocity=80, time=0),
        mido.Message("note_off", channel=0, note=64, velocity=64, time=480),      # one beat at 60 bpm: 1 s
    ]
    other += [
        mido.Message("note_on", channel=9, note=36, velocity=127, time=0),        # drums: left out
        mido.Message("note_on", channel=9, note=36, velocity=0, time=240),
        mido.Message("program_change", channel=1, program=5, time=1440),         # tick 1680: 1 s + 1.5 beats
        mido.Message("note_on", channel=1, note=67, velocity=70, time=0),
        mido.MetaMessage("end_of_track", time=480),                               # the file ends at 3.5 s
    ]
    midi.save(path)
    return path


def test_read_midi_gives_the_notes_with_tempo_programs_and_drums_left_out(tmp_path):
    path = _midi_file(tmp_path / "tune.mid")
    assert read_midi(path) == [Note(60, 100, 0.0, 0.5, 0), Note(62, 90, 0.5, 0.5, 40), Note(64, 80, 1.0, 1.0, 40),
                               Note(67, 70, 2.5, 1.0, 5)]
    # the file really holds a running-status note-off: note-on 60, 480 ticks later 60 at velocity 0, no status
    assert bytes([0x90, 60, 100, 0x83, 0x60, 60, 0]) in path.read_bytes()


@pytest.mark.parametrize("content, words", [
    (b"", ["empty file"]),
    (b"this is not a MIDI file at all", ["not a readable Standard MIDI File"]),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x10\x00\x90<", ["not a readable"]),
    (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk\x00\x00\x00\x04\x00\xff/\x00", ["no notes"]),
])
def test_bad_midi_files_are_one_line_errors_naming_the_file(tmp_path, content, words):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    with pytest.raises(DietgenError) as error:
        read_midi(path)
    message = error.value.message
    assert "\n" not in message and str(path) in message
    for word in words:
        assert word in message, message


def test_a_drums_only_or_missing_midi_file_is_an_error(tmp_path):
    midi = mido.MidiFile(type=0)
    midi.tracks.append(mido.MidiTrack([mido.Message("note_on", channel=9, note=36, velocity=100),
                                       mido.Message("note_off", channel=9, note=36, time=100)]))
    midi.save(tmp_path / "drums.mid")
    with pytest.raises(DietgenError, match="no notes outside the drum channel"):
        read_midi(tmp_path / "drums.mid")
    with pytest.raises(DietgenError, match="missing"):
        read_midi(tmp_path / "nothing.mid")
