"""Comparing audio: the spectral distance, level statistics, the two-panel spectrogram on one fixed dB scale, and
WAV files written atomically."""
from __future__ import annotations

import os

import numpy as np
import pytest

from dietgen.data.wav import read_wav
from dietgen.errors import DietgenError
from dietgen.report.audio import audio_stats, spectral_distance, write_wav
from dietgen.report.plots import (SPECTROGRAM_DB_RANGE, log_spectrogram_db, spectrogram_compare_png,
                                  spectrogram_figure, spectrogram_pair_png)

RATE = 16000
TIME = np.arange(RATE // 2) / RATE


def sine(hz: float, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * hz * TIME)).astype(np.float32)


def test_spectral_distance_is_zero_for_identical_audio_and_grows_with_detuning():
    assert spectral_distance(sine(440), sine(440), RATE) == 0.0
    distances = [spectral_distance(sine(440), sine(440 * 2 ** (cents / 1200)), RATE) for cents in (5, 50, 300)]
    assert 0 < distances[0] < distances[1] < distances[2]


def test_spectral_distance_crops_to_the_shorter_signal():
    assert spectral_distance(sine(440), sine(440)[:4000], RATE) == 0.0


def test_audio_stats():
    stats = audio_stats(np.concatenate([sine(440, 0.99), [1.5, -2.0]]) + 0.005)
    assert stats["peak"] == pytest.approx(2.0 - 0.005)
    assert stats["rms_dbfs"] == pytest.approx(20 * np.log10(0.99 / np.sqrt(2)), abs=0.01)
    assert stats["dc_offset"] == pytest.approx(0.005, abs=1e-4)
    assert stats["clipped"] == 2 and stats["non_finite"] == 0 and not stats["is_silent"]
    quiet = audio_stats(np.full(100, 1e-6))
    assert quiet["is_silent"] and quiet["rms_dbfs"] == pytest.approx(-120.0)
    assert audio_stats(np.zeros(10))["rms_dbfs"] == -120.0
    broken = audio_stats(np.array([0.1, np.nan, np.inf]))
    assert broken["non_finite"] == 2 and not broken["is_silent"] and np.isnan(broken["rms_dbfs"])


def test_a_full_scale_sine_reads_0_db_and_a_quieter_one_its_level():
    bin_centre = 40 * RATE / 1024
    assert log_spectrogram_db(sine(bin_centre, 1.0)).max() == pytest.approx(0.0, abs=0.01)
    assert log_spectrogram_db(sine(bin_centre, 0.01)).max() == pytest.approx(-40.0, abs=0.01)
    assert log_spectrogram_db(np.zeros(4096)).min() == SPECTROGRAM_DB_RANGE[0]


def test_both_panels_share_one_fixed_scale_whatever_the_levels():
    figure = spectrogram_figure(sine(440, 1.0), sine(440, 0.001), RATE, ("loud", "quiet"), "levels")
    images = [image for ax in figure.axes for image in ax.get_images()]
    assert len(images) == 2
    assert [image.get_clim() for image in images] == [SPECTROGRAM_DB_RANGE] * 2
    labels = {ax.get_title(): (ax.get_xlabel(), ax.get_ylabel()) for ax in figure.axes}
    assert labels["loud"] == ("time (s)", "frequency (kHz)") and labels["quiet"][0] == "time (s)"
    assert any(ax.get_ylabel() == "dB re full scale" for ax in figure.axes)   # the colorbar


def test_spectrogram_pngs_are_valid_and_deterministic(tmp_path):
    png = spectrogram_compare_png(sine(440), sine(445), RATE, title="C vs PyTorch")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png == spectrogram_compare_png(sine(440), sine(445), RATE,
                                                                                 title="C vs PyTorch")
    (tmp_path / "compare.png").write_bytes(png)
    import matplotlib.image
    assert matplotlib.image.imread(tmp_path / "compare.png").shape[:2] == (360, 1000)
    assert spectrogram_pair_png(sine(440), sine(445), RATE, "note").startswith(b"\x89PNG")


def test_write_wav_round_trips_within_16_bit_quantisation(tmp_path):
    audio = np.concatenate([sine(440, 0.9), [1.7, -3.0]])
    path = write_wav(tmp_path / "out.wav", audio, RATE)
    back = read_wav(path, RATE)
    assert back.dtype == np.float32 and len(back) == len(audio)
    assert np.abs(back - np.clip(audio, -1, 1)).max() <= 2 / 32768
    assert os.listdir(tmp_path) == ["out.wav"]          # no temporary file left beside it
    write_wav(path, np.zeros(10), RATE)                 # replaces an existing file
    assert len(read_wav(path, RATE)) == 10


@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_write_wav_to_an_unwritable_path_is_an_error_naming_it(tmp_path, where):
    path = tmp_path / "no" / "out.wav" if where == "missing folder" else tmp_path
    with pytest.raises(DietgenError) as error:
        write_wav(path, sine(440), RATE)
    assert str(path) in error.value.message and "\n" not in error.value.message
    assert [p.name for p in tmp_path.iterdir()] == []
