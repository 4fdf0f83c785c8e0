"""The generated player: the control layer between a phrase of notes and the model's step (see dietgen.control
for the roles and the Python twin). Python decides what each input is and checks it fits; the template lays
it out."""
from __future__ import annotations

import math

import numpy as np

from dietgen.codegen.context import c_float
from dietgen.control import (AUDIBLE_DB, MAX_RELEASE_SECONDS, Control, NoteFacts, default_envelope,
                             demo_phrase)
from dietgen.errors import DietgenError
from dietgen.ir import Graph

# The runtime files the player itself calls (the note grid and envelope; the sampler of sampled models).
PLAYER_KERNELS = ("control", "sample")
NOTE_ROLES = {"onehot_pitch": "pitch", "onehot_velocity": "velocity", "onehot_instrument": "instrument"}


def _lines(values: np.ndarray, per_line: int = 8) -> list[str]:
    flat = np.asarray(values, np.float32).reshape(-1)
    return [", ".join(c_float(v) for v in flat[i:i + per_line]) for i in range(0, flat.size, per_line)]


def check_playable(graph: Graph, control: Control) -> None:
    """Refuse a step program the player cannot drive: every input needs a role, the output must be one step
    of audio or one row of logits."""
    stream = graph.meta.get("stream")
    if stream is None:
        raise DietgenError(f"{graph.name}: the player runs the streamed step program; export it streaming")
    missing = [n for n in graph.inputs if n not in control.inputs]
    if missing:
        raise DietgenError(f"{graph.name}: input {missing[0]!r} has no role in the note player (it plays inputs "
                           f"{', '.join(control.inputs) or 'none'}); a model conditioned on it cannot be played "
                           f"from notes")
    if len(graph.outputs) != 1:
        raise DietgenError(f"{graph.name}: the player takes one output, the model has {len(graph.outputs)}")
    size = graph.tensors[graph.outputs[0]].size
    if control.output == "audio" and size != control.step_samples:
        raise DietgenError(f"{graph.name}: a step writes {size} samples, the player expects "
                           f"{control.step_samples}; export with the model's natural block")
    if control.output == "logits" and control.step_samples != 1:
        raise DietgenError(f"{graph.name}: a sampled model plays one sample per step")


def _program_table(facts: NoteFacts) -> list[str] | None:
    """General MIDI program -> the model's instrument (-1: not trained on), when the data named its instruments
    by program; None when instruments are plain indices."""
    names = facts.instrument_names
    if not names or not all(n.startswith("gm_") for n in names):
        return None
    table = [names.index(f"gm_{p:03d}") if f"gm_{p:03d}" in names else -1 for p in range(128)]
    return [", ".join(str(v) for v in table[i:i + 16]) for i in range(0, 128, 16)]


def player_kernels(sampled: bool) -> set[str]:
    return set(PLAYER_KERNELS) if sampled else {"control"}


def player_values(graph: Graph, control: Control, facts: NoteFacts, io: list[dict]) -> dict:
    check_playable(graph, control)
    by_name = {t["tensor"]: t for t in io}
    inputs = [{"role": control.inputs[n], "offset": by_name[n]["offset"], "size": by_name[n]["size"]}
              for n in graph.inputs]
    out = by_name[graph.outputs[0]]
    envelope = None
    if "loudness_db" in control.inputs.values():
        env = facts.envelope or default_envelope()
        envelope = {"hold": _lines(env.hold), "release": _lines(env.release),
                    "hold_slope": ", ".join(map(c_float, env.slope(env.hold))),
                    "release_slope": ", ".join(map(c_float, env.slope(env.release))),
                    "hold_len": env.hold.shape[1], "release_len": env.release.shape[1],
                    "instruments": env.hold.shape[0], "velocity_db": c_float(env.velocity_db),
                    "floor_db": c_float(env.floor_db)}
    sampled = control.output == "logits"
    instruments = next((i["size"] for i in inputs if i["role"] == "onehot_instrument"), None) or \
        facts.instruments or 1
    notes, steps = demo_phrase(control, facts, graph.meta.get("sample_rate", 16000))
    per_second = graph.meta.get("sample_rate", 16000) / control.step_samples
    return {"audible_db": c_float(AUDIBLE_DB), "max_release_s": MAX_RELEASE_SECONDS,
            "max_release_steps": c_float(MAX_RELEASE_SECONDS * per_second),
            "tail_steps": int(math.ceil(control.tail_seconds * per_second)),
            "instruments": instruments, "program_instruments": _program_table(facts),
            "demo": {"notes": notes, "steps": steps},
            "inputs": inputs, "output": {"offset": out["offset"], "size": out["size"]},
            "sampled": sampled, "start_code": control.start_code, "reset_per_note": control.reset_per_note,
            "step_samples": control.step_samples, "envelope": envelope, "note_roles": NOTE_ROLES,
            "output_text": "a class sampled from the logits, mu-law decoded" if sampled else "audio samples"}
