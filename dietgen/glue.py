"""The board glue of Arduino-framework boards: for each board family, the template that moves samples between the
app's rings and the board's own audio path and MIDI bytes from its MIDI inputs
(templates/platformio/src/board/<family>.h.j2, rendered to src/dietgen_board.h), what that needs in
platformio.ini, how many samples its hardware side moves at once, and the wiring the project states."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dietgen.boards import Board
from dietgen.errors import DietgenError
from dietgen.toolchain.cross import optimisation_flags

ROLES = ("generator", "effect")
EARLEPHILHOWER_PLATFORM = "https://github.com/maxgerhardt/platform-raspberrypi.git"


@dataclass(frozen=True)
class Glue:
    build_flags: tuple[str, ...]
    lib_deps: tuple[str, ...]        # as PlatformIO's registry names them; libraries a core bundles are not listed
    runtime: tuple[str, ...]         # dietgen runtime modules (firmware/src) the glue calls besides the ring
    # The most samples (at the model's rate) the hardware side takes from or puts into a ring at once, as a C
    # constant expression in DG_SAMPLE_RATE (the app header sizes the rings with it), and what that is.
    hw_chunk: str
    hw_chunk_text: str
    audio_out: str                   # wiring, for the README and main's header
    audio_in: str
    midi_in: str


_BIAS = "bias the line signal to 1.65 V (two 10 kOhm resistors, 1 uF coupling capacitor)"
_DAISY_RATES = " || ".join(f"DG_SAMPLE_RATE == {r}" for r in (8000, 16000, 32000, 48000, 96000))

GLUE: dict[str, Glue] = {
    "teensy": Glue(
        build_flags=("-D USB_MIDI_SERIAL",), lib_deps=(), runtime=("resample",),
        hw_chunk="(128L * DG_SAMPLE_RATE / 44100 + 2)",
        hw_chunk_text="one 128-sample Audio Library block at 44.1 kHz, resampled, and the resampler's look-ahead",
        audio_out="Teensy Audio Shield (SGTL5000) headphone and line out: I2S1 on pins 7 (TX), 20 (LRCLK), "
                  "21 (BCLK), 23 (MCLK), codec control on I2C 18/19; resampled to the library's 44.1 kHz",
        audio_in="Audio Shield line in (I2S1 RX on pin 8), resampled from 44.1 kHz",
        midi_in="USB MIDI (the board enumerates as MIDI + Serial), or a MIDI DIN opto-isolator into Serial1 RX "
                "(pin 0) at 31250 baud"),
    "daisy": Glue(
        build_flags=(), lib_deps=("electro-smith/DaisyDuino",), runtime=("resample",),
        hw_chunk=f"({_DAISY_RATES} ? 48 : 48L * DG_SAMPLE_RATE / 48000 + 2)",
        hw_chunk_text="one 48-sample DaisyDuino callback (resampled from 48 kHz where the codec lacks the rate)",
        audio_out="the Seed's codec, line level on pins 18 (OUT L) and 19 (OUT R); at the model's rate when "
                  "the codec has it (8, 16, 32, 48, 96 kHz), else 48 kHz resampled",
        audio_in="the Seed's codec line in on pin 16 (IN L)",
        midi_in="a MIDI DIN opto-isolator into Serial1 (USART1) RX on D14 (pin 15, PB7) at 31250 baud"),
    "portenta": Glue(
        build_flags=(), lib_deps=("arduino-libraries/Arduino_AdvancedAnalog",), runtime=(),
        hw_chunk="256", hw_chunk_text="the DAC's DMA queue, four 64-sample buffers filled as they come free",
        audio_out="the DAC on A6 (12 bits, DMA at the model's rate) through a 10 uF coupling capacitor into an "
                  "amplifier's line input",
        audio_in=f"A0 through the ADC (DMA at the model's rate): {_BIAS}",
        midi_in="a MIDI DIN opto-isolator into Serial1 RX (D13, PA10) at 31250 baud"),
    "rp2040": Glue(
        build_flags=("-DUSE_TINYUSB",), lib_deps=(), runtime=(),
        hw_chunk="256", hw_chunk_text="the library's four DMA buffers of 32 words (64 PWM samples, 32 I2S frames)",
        audio_out="PWM on GPIO16 through an RC low-pass (1 kOhm, 10 nF) and a coupling capacitor into an amplifier",
        audio_in=f"the ADC on A0 (GPIO26): {_BIAS}",
        midi_in="USB MIDI (Adafruit TinyUSB; the board enumerates as MIDI + Serial), or a MIDI DIN "
                "opto-isolator into Serial1 RX (GPIO1) at 31250 baud"),
    "esp32": Glue(
        build_flags=(), lib_deps=(), runtime=(),
        hw_chunk="256", hw_chunk_text="the I2S driver's three 64-frame DMA buffers and the task's own 64 frames",
        audio_out="an I2S DAC (PCM5102A, MAX98357A): BCLK GPIO5, LRCLK GPIO6, DATA GPIO7 (-D DG_I2S_BCLK=, "
                  "DG_I2S_WS=, DG_I2S_DOUT= change them)",
        audio_in="an I2S ADC or microphone on the same clocks, DATA into GPIO4 (-D DG_I2S_DIN=)",
        midi_in="a MIDI DIN opto-isolator into Serial1 RX on GPIO18 (TX GPIO17) at 31250 baud"),
    "due": Glue(
        build_flags=(), lib_deps=(), runtime=("resample",),
        hw_chunk="2", hw_chunk_text="one sample per timer interrupt, and the resampler's look-ahead",
        audio_out="DAC0 (12 bits, 0.55 to 2.75 V) through a 10 uF coupling capacitor and a 1 kOhm series "
                  "resistor into an amplifier's line input, never a speaker",
        audio_in=f"A0, sampled in the same timer interrupt: {_BIAS}",
        midi_in="a MIDI DIN opto-isolator into Serial1 RX (pin 19) at 31250 baud"),
    "nrf52": Glue(
        build_flags=(), lib_deps=(), runtime=("resample",),
        hw_chunk="262", hw_chunk_text="both 128-sample PWM sequences, filled before they start (resampled: a "
                                      "PWM rate within 0.3 % of the model's, and the look-ahead)",
        audio_out="PWM on D2 (P1.11), carrier twice the sample rate, through an RC low-pass (2.2 kOhm, 10 nF) "
                  "and a coupling capacitor into an amplifier",
        audio_in=f"the SAADC on A0 (P0.04): {_BIAS}",
        midi_in="a MIDI DIN opto-isolator into Serial1 RX (D0, P1.10) at 31250 baud"),
    # As templates/platformio/src/board/avr.h.j2 states it (the Uno's lines; the Mega's differ, see _lines).
    "avr": Glue(
        build_flags=(), lib_deps=(), runtime=(),
        hw_chunk="1", hw_chunk_text="one sample per timer interrupt",
        audio_out="8-bit PWM at 62.5 kHz on pin 11 (OC2A, Timer2) through an RC low-pass (1 kOhm, 10 nF) into "
                  "an amplifier",
        audio_in="A0, biased to 2.5 V, converted in the same timer interrupt",
        midi_in="serial MIDI (31250 baud) on the RX pin (pin 0, shared with USB serial: unplug a MIDI shield to "
                "upload)"),
}

_RP2040_I2S = {
    "audio_out": "an I2S DAC (PCM5102A, MAX98357A): BCLK GPIO26, LRCLK GPIO27, DATA GPIO28; with -D DG_PWM_AUDIO, "
                 "PWM on GPIO16 through an RC low-pass (1 kOhm, 10 nF)",
    "audio_in": "an I2S ADC or microphone: BCLK GPIO18, LRCLK GPIO19, DATA into GPIO20 (with -D DG_PWM_AUDIO, "
                "the ADC on A0)"}
_MEGA = {"audio_out": "8-bit PWM at 62.5 kHz on pin 10 (OC2A, Timer2) through an RC low-pass (1 kOhm, 10 nF) "
                      "into an amplifier",
         "midi_in": "serial MIDI (31250 baud) on Serial1 (RX1, pin 19)"}

# PlatformIO platform -> family, and the ststm32 boards dietgen has glue for.
_PLATFORMS = {"teensy": "teensy", "raspberrypi": "rp2040", EARLEPHILHOWER_PLATFORM: "rp2040",
              "espressif32": "esp32", "atmelsam": "due", "nordicnrf52": "nrf52", "atmelavr": "avr",
              "native": "linux"}
_STM32_BOARDS = {"electrosmith_daisy": "daisy", "portenta_h7_m7": "portenta"}


def family_of(board: Board) -> str:
    """The board's glue family, from its PlatformIO platform (and board, for ststm32): one of GLUE's keys, or
    "linux" (native: the Linux program, no Arduino glue)."""
    platform, pio_board = board.platformio["platform"], board.platformio["board"]
    if platform == "ststm32" and pio_board in _STM32_BOARDS:
        return _STM32_BOARDS[pio_board]
    if platform in _PLATFORMS:
        return _PLATFORMS[platform]
    raise DietgenError(f"board {board.id}: no audio glue for PlatformIO platform {platform!r} board "
                       f"{pio_board!r}; glue exists for platforms {', '.join(sorted(_PLATFORMS))} and ststm32 "
                       f"boards {', '.join(sorted(_STM32_BOARDS))}")


def _lines(board: Board, family: str, glue: Glue) -> dict[str, str]:
    """The wiring lines, where a board of the family is wired differently from the rest."""
    lines = {"audio_out": glue.audio_out, "audio_in": glue.audio_in, "midi_in": glue.midi_in}
    if family == "rp2040" and "i2s" in board.audio_out:
        lines.update(_RP2040_I2S)
    if board.id == "megaatmega2560":
        lines.update(_MEGA)
    return lines


def glue_values(board: Board, role: str) -> dict[str, Any]:
    """What the project renderer merges into its template values: "family"; "glue" (template, relative to
    templates/, or None on Linux; platformio.ini's build_flags and lib_deps; the runtime modules to copy
    beside the ring; the wiring lines audio_out, audio_in (None for a generator) and midi_in); and "hw_chunk",
    "hw_chunk_text" for the app header."""
    if role not in ROLES:
        raise DietgenError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    family = family_of(board)
    if family == "linux":
        return {"family": family, "glue": {"template": None, "build_flags": list(optimisation_flags(board)),
                                           "lib_deps": [],
                                           "runtime": [], "audio_out": None, "audio_in": None, "midi_in": None},
                "hw_chunk": "1", "hw_chunk_text": "none: the program writes each block as soon as it is computed, "
                                                  "paced by aplay's buffer or the file"}
    glue = GLUE[family]
    lines = _lines(board, family, glue)
    return {
        "family": family,
        "glue": {"template": f"platformio/src/board/{family}.h.j2", "build_flags": list(glue.build_flags),
                 "lib_deps": list(glue.lib_deps), "runtime": list(glue.runtime),
                 "audio_out": lines["audio_out"], "audio_in": lines["audio_in"] if role == "effect" else None,
                 "midi_in": lines["midi_in"]},
        "hw_chunk": glue.hw_chunk, "hw_chunk_text": glue.hw_chunk_text,
    }
