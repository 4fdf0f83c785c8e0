"""Training data: FluidSynth rendering (deterministic, resumable), NSynth folders, features, batches, and the
bad-input cases (missing or empty folder, missing SoundFont, wrong sample rate)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from dietgen.cli import cli
from dietgen.data import Dataset, render_dataset, synthetic_dataset
from dietgen.data.features import a_weighted_loudness, estimate_f0, midi_to_hz, pitch_check
from dietgen.data.synthetic import synthetic_note
from dietgen.data.wav import read_wav, wav_bytes
from dietgen.errors import DietgenError
from clirun import assert_one_line_error

SOUNDFONT = "/usr/share/sounds/sf2/TimGM6mb.sf2"
SMALL = dict(soundfont=SOUNDFONT, instruments=(0, 40), pitches=(57, 60, 64), velocities=(60, 120), seconds=0.512,
             release=0.128)


def files_of(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("render") / "notes"
    render_dataset(folder, seed=3, **SMALL)
    return folder


def test_render_writes_nsynth_style_notes_with_splits(rendered):
    entries = json.loads((rendered / "examples.json").read_text())
    assert len(entries) == 12
    for name, entry in entries.items():
        audio = read_wav(rendered / "audio" / f"{name}.wav", 16000)
        assert len(audio) == int(0.512 * 16000) and np.abs(audio).max() > 1e-3
        assert entry["pitch_ok"], (name, entry["f0_estimate_hz"])   # the SoundFont plays the MIDI pitch
    for program in (0, 40):
        splits = {e["split"] for e in entries.values() if e["instrument"] == program}
        assert splits == {"train", "valid", "test"}
    # the release: the held part is louder than the note's end, which "all sound off" has silenced
    audio = read_wav(rendered / "audio" / f"{next(iter(entries))}.wav", 16000)
    assert np.abs(audio[-64:]).max() < 0.1 * np.abs(audio[:4000]).max()


def test_render_is_deterministic_and_resumes_after_an_interruption(rendered, tmp_path):
    interrupted = tmp_path / "again"

    def stop_after_first(instruments, label):
        for k, program in enumerate(instruments):
            if k == 1:
                raise KeyboardInterrupt
            yield program

    with pytest.raises(KeyboardInterrupt):
        render_dataset(interrupted, seed=3, progress=stop_after_first, **SMALL)
    assert not (interrupted / "examples.json").exists()
    with pytest.raises(DietgenError, match="interrupted render"):
        Dataset(interrupted)
    render_dataset(interrupted, seed=3, **SMALL)
    assert files_of(interrupted) == files_of(rendered)   # same seed, same bytes, resumed or not

    other = tmp_path / "other_seed"
    render_dataset(other, seed=4, **SMALL)
    same_audio = {k: v for k, v in files_of(other).items() if k.startswith("audio/")}
    assert same_audio == {k: v for k, v in files_of(rendered).items() if k.startswith("audio/")}
    splits = [{n: e["split"] for n, e in json.loads((f / "examples.json").read_text()).items()}
              for f in (rendered, other)]
    assert splits[0] != splits[1]


def test_render_refuses_other_settings_without_force(rendered, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(rendered, copy)
    with pytest.raises(DietgenError, match="other settings"):
        render_dataset(copy, seed=3, **{**SMALL, "velocities": (100,)})
    summary = render_dataset(copy, seed=3, force=True, **{**SMALL, "velocities": (100,)})
    assert summary["notes"] == 6


def test_soundfont_missing_names_the_debian_package(tmp_path):
    result = CliRunner().invoke(cli, ["data", "render", "-o", str(tmp_path / "d"), "--soundfont",
                                      str(tmp_path / "none.sf2")])
    assert_one_line_error(result, "none.sf2", "fluid-soundfont-gm")
    assert not (tmp_path / "d").exists()


def test_batches_have_the_training_format(rendered):
    dataset = Dataset(rendered)
    assert dataset.instruments == ["gm_000", "gm_040"]
    batch = next(iter(dataset.loader("train", 4, crop=3200, shuffle=True, seed=1)))
    assert batch["audio"].shape == (4, 3200) and batch["audio"].dtype == torch.float32
    assert batch["audio"].abs().max() <= 1.0
    for key in ("pitch", "velocity", "instrument"):
        assert batch[key].shape == (4,) and batch[key].dtype == torch.long
    assert batch["f0"].shape == batch["loudness"].shape == (4, 20)
    assert torch.allclose(batch["f0"][:, 0], torch.tensor(midi_to_hz(batch["pitch"].numpy()), dtype=torch.float32))
    full = next(iter(dataset.loader("valid", 2)))
    assert full["audio"].shape == (2, 8192 - 8192 % 160)


def test_pitch_estimate_and_loudness():
    note = synthetic_note(1, 57, 127, 16000)
    assert abs(estimate_f0(note) - 220.0) < 0.5
    assert pitch_check(note, 57)[1] and not pitch_check(note, 58)[1]
    assert estimate_f0(np.zeros(16000)) is None
    loud, soft = a_weighted_loudness(torch.tensor(np.stack([note, 0.1 * note])))
    assert loud.shape == (100,)
    assert torch.allclose((loud - soft)[20:80], torch.full((60,), 20.0), atol=0.5)   # 20 dB for a factor 10


def test_nsynth_folder_and_wrong_sample_rate(tmp_path):
    nsynth = tmp_path / "nsynth"
    synthetic_dataset(tmp_path / "synthetic")
    for split in ("train", "valid", "test"):
        part = nsynth / f"nsynth-{split}"
        (part / "audio").mkdir(parents=True)
        entries = {}
        for k, name in enumerate(sorted(json.loads((tmp_path / "synthetic" / "examples.json").read_text()))[:3]):
            shutil.copy(tmp_path / "synthetic" / "audio" / f"{name}.wav", part / "audio" / f"{name}.wav")
            entries[name] = {"note_str": name, "pitch": 60 + k, "velocity": 100, "instrument_str": "bass_x_001",
                             "sample_rate": 16000, "instrument_family_str": "bass"}
        (part / "examples.json").write_text(json.dumps(entries))
    dataset = Dataset(nsynth)
    assert [len(dataset.split(s)) for s in ("train", "valid", "test")] == [3, 3, 3]
    assert next(iter(dataset.loader("valid", 3)))["pitch"].tolist() == [60, 61, 62]

    bad = nsynth / "nsynth-test" / "audio" / sorted((nsynth / "nsynth-test" / "audio").iterdir())[0].name
    bad.write_bytes(wav_bytes(np.zeros(1000), 44100))
    with pytest.raises(DietgenError, match="44100 Hz.*resample"):
        next(iter(Dataset(nsynth).loader("test", 3)))


@pytest.mark.parametrize("make", ["missing", "empty", "no_notes"])
def test_bad_data_folders_are_one_line_errors(tmp_path, make):
    folder = tmp_path / "data"
    if make != "missing":
        folder.mkdir()
    if make == "no_notes":
        (folder / "examples.json").write_text("{}")
    result = CliRunner().invoke(cli, ["train", "--model", "ddsp", "--preset", "tiny", "--data", str(folder),
                                      "-o", str(tmp_path / "run")])
    assert_one_line_error(result, str(folder))
    assert not (tmp_path / "run").exists()
