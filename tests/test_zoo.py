"""The model zoo: WaveNet, SING and DDSP at their tiny presets. Streaming equals offline, every family exports
through the frontend and its generated C matches the reference on the host, and dietgen::NoiseFIR's C kernel,
numpy reference and PyTorch synthesizer agree."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import helper

from dietgen.errors import DietgenError
from dietgen.frontend.onnx_model import OPSET
from dietgen.models import load_checkpoint, save_checkpoint
from dietgen.models.base import build, families, run_streaming
from dietgen.models.losses import log_power_spectrogram_loss, multiscale_spectral_loss
from dietgen.models.synth import noise_for
from dietgen.models.wavenet import mu_law_decode, mu_law_encode
from dietgen.ops.noise_fir import noise_fir, noise_stream
from dietgen.pipeline import compile_model
from dietgen.verify import run_c, run_onnxruntime, verify

FAMILIES = ("wavenet", "sing", "ddsp")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Streaming runs thousands of tiny ops; threads only add contention on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def note_batch(samples: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Two notes in the data loader's format; f0 and loudness at 100 frames/s."""
    gen = torch.Generator().manual_seed(seed)
    frames = -(-samples // 160)
    return {"audio": torch.rand(2, samples, generator=gen) * 1.6 - 0.8,
            "pitch": torch.tensor([48, 72]), "velocity": torch.tensor([30, 110]), "instrument": torch.tensor([0, 2]),
            "f0": 60 + torch.rand(2, frames, generator=gen) * 1500,       # up to Nyquist's neighbourhood
            "loudness": -torch.rand(2, frames, generator=gen) * 90}


def tiny(family: str, **overrides):
    torch.manual_seed(0)
    model = build(family, "tiny", num_instruments=3, **overrides).eval()
    if getattr(model, "reverb", None) is not None:    # a wet path loud enough to matter in the comparisons
        with torch.no_grad():
            model.reverb.mul_(50)
    return model


def test_every_family_has_presets_from_paper_to_tiny():
    assert set(FAMILIES) <= set(families())
    for family in FAMILIES:
        sizes = {p: sum(x.numel() for x in build(family, p).parameters()) for p in ("paper", "small", "tiny")}
        assert sizes["paper"] > sizes["small"] > sizes["tiny"], (family, sizes)
    # The paper's parameter counts (method.md): WaveNet about 2.9 M, DDSP about 4.6 M.
    assert 2.5e6 < sum(x.numel() for x in build("wavenet", "paper").parameters()) < 3.2e6
    assert 4.2e6 < sum(x.numel() for x in build("ddsp", "paper").parameters()) < 5.2e6


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(DietgenError, match="valid presets: paper, medium, small, tiny"):
        build("wavenet", "huge")
    with pytest.raises(DietgenError, match="valid families: .*ddsp.*sing.*wavenet"):
        build("transformer", "tiny")
    with pytest.raises(DietgenError, match="unexpected keyword"):
        build("sing", "tiny", widths=3)
    with pytest.raises(DietgenError, match="loss='l1'"):
        build("sing", "tiny", loss="l1")
    with pytest.raises(DietgenError, match="bands=1"):
        build("ddsp", "tiny", bands=1)


@pytest.mark.parametrize("family, overrides, blocks", [
    ("wavenet", {}, (1, 37)),
    ("wavenet", {"local": True}, (13,)),
    ("sing", {}, (1, 3, 8)),
    ("sing", {"kernel": 1, "conv_layers": 0}, (2, 5)),
    ("ddsp", {}, (1, 4, 7)),
    ("ddsp", {"reverb": 500, "z": 4}, (1, 5)),
])
def test_streaming_equals_offline(family, overrides, blocks):
    model = tiny(family, **overrides)
    # Notes longer than WaveNet's receptive field (so the caches wrap) and than several SING/DDSP blocks.
    batch = note_batch(2 * model.receptive_field + 37 if family == "wavenet" else 2900)
    with torch.no_grad():
        offline = {"wavenet": lambda: model.logits(batch), "sing": lambda: model.render(batch),
                   "ddsp": lambda: model.synthesize(batch["f0"], batch["loudness"], model.latent(batch))}[family]()
        assert offline.abs().max() > 1e-3    # a silent model would match trivially
        for block in blocks:
            streamed = run_streaming(model.streaming(), batch, block)
            assert streamed.shape == offline.shape
            assert (streamed - offline).abs().max() <= 1e-5, (family, block)


@pytest.mark.parametrize("family, overrides", [("wavenet", {}), ("sing", {}), ("ddsp", {}),
                                               ("ddsp", {"z": 4, "reverb": 100})])
def test_loss_is_finite_and_trains(family, overrides):
    model = tiny(family, **overrides).train()
    batch = note_batch(1024)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        loss = model.loss(batch)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    audio = model.eval().generate({**batch, "audio": batch["audio"][:, :100]})
    assert audio.shape == (2, 100) and torch.isfinite(audio).all()


@pytest.fixture(scope="module", params=[*FAMILIES, "ddsp-reverb"])
def exported(request):
    family, _, variant = request.param.partition("-")
    model = tiny(family, **({"reverb": 300, "z": 3} if variant else {}))
    module, shapes = model.export_module()
    return family, model, module, compile_model(module, shapes, name=family)


def test_export_verifies_on_the_host(exported):
    family, _, _, compiled = exported
    report = verify(None, compiled=compiled)
    for o in report.outputs:
        print(f"{family}: max abs {o.max_abs:.2e}, max/RMS {o.max_rel:.2e}, SNR {o.snr_db:.1f} dB")
    assert report.ok, report


def test_exported_graph_computes_the_model(exported):
    """The ONNX reference (onnxruntime, with dietgen ops from their numpy references) against PyTorch."""
    family, model, module, compiled = exported
    rng = np.random.default_rng(1)
    feeds = {}
    for name in compiled.graph.inputs:
        shape = compiled.graph.tensors[name].shape
        if family == "ddsp":
            low, high = {"f0": (60, 1500), "loudness": (-90, 0), "z": (-2, 2)}[name]
            feeds[name] = rng.uniform(low, high, shape)
        elif family == "wavenet" and name == "x":    # mu-law codes, as floats
            feeds[name] = rng.integers(0, 256, shape)
        else:    # one-hot conditioning, as the exported inputs expect
            feeds[name] = np.eye(shape[1])[rng.integers(0, shape[1], shape[2:] or (1,))].T.reshape(shape)
        feeds[name] = feeds[name].astype(np.float32)
    want = module(*(torch.from_numpy(feeds[n]) for n in compiled.graph.inputs)).detach().numpy()
    got = run_onnxruntime(compiled, feeds)[compiled.graph.outputs[0]]
    assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())
    if family == "ddsp":    # the float32 export form against the float64-phase model
        offline = model.synthesize(*(torch.from_numpy(feeds[n]) for n in compiled.graph.inputs))
        assert np.abs(offline.detach().numpy() - want).max() <= 1e-3


def noise_fir_model(shape, hop: int, seed: int) -> onnx.ModelProto:
    node = helper.make_node("NoiseFIR", ["ir"], ["y"], domain="dietgen", hop=hop, seed=seed)
    graph = helper.make_graph([node], "noise", [helper.make_tensor_value_info("ir", onnx.TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT,
                                                             (*shape[:-2], shape[-2] * hop))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("dietgen", 1)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("shape, hop, seed", [((1, 5, 8), 16, 1), ((2, 3, 4, 6), 7, 0xDEADBEEF), ((4, 1), 3, 99),
                                             ((1, 3, 17), 13, 5)])
def test_noise_fir_kernel_matches_reference_and_torch(shape, hop, seed, tmp_path):
    ir = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    ref = noise_fir(ir, hop, seed)
    compiled = compile_model(noise_fir_model(shape, hop, seed), name="noise")
    got = run_c(compiled, {"ir": ir}, sanitize=True, workdir=tmp_path)["y"]
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= 1e-5 * np.sqrt(np.mean(ref ** 2))
    rows = torch.from_numpy(ir.reshape(-1, *shape[-2:]))
    assert np.abs(noise_for(rows, hop, seed).numpy().reshape(ref.shape) - ref).max() <= 1e-5


def test_noise_is_seeded_uniform_and_refuses_bad_attributes():
    a, b = noise_stream(7, 20000), noise_stream(8, 20000)
    assert np.array_equal(a, noise_stream(7, 20000)) and not np.array_equal(a, b)
    assert -1 <= a.min() and a.max() < 1 and abs(a.mean()) < 0.02 and abs(a.var() - 1 / 3) < 0.01
    with pytest.raises(DietgenError, match="seed=0"):
        compile_model(noise_fir_model((1, 2, 4), 4, 0))
    with pytest.raises(DietgenError, match="hop=0"):
        compile_model(noise_fir_model((1, 2, 4), 0, 3))


def test_checkpoint_round_trip_with_other_widths_exports_as_saved(tmp_path):
    model = tiny("ddsp", hidden=12, gru=10, harmonics=9, bands=5)
    batch = note_batch(800)
    _, shapes = model.export_module()
    save_checkpoint(model, tmp_path / "ddsp", "ddsp", model.config, {k: list(v) for k, v in shapes.items()})
    loaded, doc = load_checkpoint(tmp_path / "ddsp")
    assert doc["config"]["hidden"] == 12 and loaded.config == model.config
    with torch.no_grad():
        assert torch.equal(loaded.synthesize(batch["f0"], batch["loudness"]),
                           model.synthesize(batch["f0"], batch["loudness"]))
    # The checkpoint itself is a MODEL for the CLI: its forward is the deployable graph, with the noise op.
    compiled = compile_model(tmp_path / "ddsp.json")
    assert any(n.domain == "dietgen" for n in compiled.graph.nodes)
    assert verify(None, compiled=compiled).ok


def test_losses():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(2, 4096, generator=gen), torch.randn(2, 4096, generator=gen)
    assert multiscale_spectral_loss(x, x).item() == 0.0
    assert multiscale_spectral_loss(x, y).item() > multiscale_spectral_loss(x, x + 0.01 * y).item() > 0
    assert log_power_spectrogram_loss(x, x).item() == 0.0 < log_power_spectrogram_loss(x, y).item()


def test_mu_law_round_trip():
    audio = torch.linspace(-1, 1, 1001)
    codes = mu_law_encode(audio)
    assert codes.min() == 0 and codes.max() == 255
    error = (mu_law_decode(codes) - audio).abs()
    assert error.max() < 0.025 and error[audio.abs() < 0.01].max() < 5e-4    # fine steps near silence
