"""Whole models built in torch for the level-2 tests (and the planner's arena / lower-bound figures)."""
from __future__ import annotations

import torch
from torch import nn

from dietgen.models.demo import DemoModel, GatedResidualBlock


class DilatedStack(nn.Module):
    """WaveNet-like: gated tanh*sigmoid dilated causal convolutions, residual and skip sums, 1x1 head."""
    def __init__(self, channels=8, skip=12, dilations=(1, 2, 4, 8, 1, 2)):
        super().__init__()
        self.inp = nn.Conv1d(1, channels, 1)
        self.blocks = nn.ModuleList(GatedResidualBlock(channels, skip, d) for d in dilations)
        self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(skip, skip, 1), nn.ReLU(), nn.Conv1d(skip, 16, 1))

    def forward(self, x):
        h, skips = self.inp(x), 0
        for block in self.blocks:
            h, s = block(h)
            skips = skips + s
        return self.head(skips)


class GruModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.pre = nn.Linear(3, 16)
        self.gru = nn.GRU(16, 24, batch_first=True)
        self.post = nn.Linear(24, 5)

    def forward(self, x):
        h, _ = self.gru(torch.relu(self.pre(x)))
        return torch.sigmoid(self.post(h))


class LstmModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 20, num_layers=2)
        self.norm = nn.LayerNorm(20)
        self.out = nn.Linear(20, 6)

    def forward(self, x):
        h, _ = self.lstm(x)
        return self.out(self.norm(h))


class Decoder(nn.Module):
    """SING-like: conv, 1x1 convs, then ConvTranspose1d with kernel 4x its stride."""
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 16, 3, padding=1)
        self.bn = nn.BatchNorm1d(16)
        self.mix = nn.Sequential(nn.ReLU(), nn.Conv1d(16, 16, 1), nn.ReLU(), nn.Conv1d(16, 16, 1), nn.ReLU())
        self.up = nn.ConvTranspose1d(16, 1, kernel_size=32, stride=8, padding=12)

    def forward(self, z):
        return self.up(self.mix(self.bn(self.conv(z))))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(10, 32), nn.LeakyReLU(0.1), nn.Linear(32, 32), nn.ELU(),
                                 nn.Linear(32, 32), nn.Softplus(), nn.Linear(32, 4))

    def forward(self, x):
        return torch.softmax(self.net(x), dim=-1)


def _bn_stats(model):
    """Non-trivial BatchNorm statistics, so folding them is really tested."""
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
    return model


def build(name: str):
    torch.manual_seed(0)
    models = {
        "dilated_stack": (DilatedStack, {"x": (1, 1, 64)}),
        "gru": (GruModel, {"x": (1, 20, 3)}),
        "lstm2": (LstmModel, {"x": (12, 1, 6)}),
        "decoder": (Decoder, {"z": (1, 4, 8)}),
        "mlp": (Mlp, {"x": (3, 10)}),
        "mixed": (DemoModel, {"x": (1, 1, 32)}),
    }
    cls, shapes = models[name]
    return _bn_stats(cls()).eval(), shapes


NAMES = ["dilated_stack", "gru", "lstm2", "decoder", "mlp", "mixed"]


class Gru2(nn.Module):
    """2-layer GRU 8->24->24 and a Linear head (one of the shapes users compare with RTNeural)."""
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 24, num_layers=2, batch_first=True)
        self.out = nn.Linear(24, 4)

    def forward(self, x):
        return self.out(self.gru(x)[0])


class StridedEncoder(nn.Module):
    """Downsampling by 4 in two strided convolutions (one causal, one centred), then a pointwise head."""
    def __init__(self):
        super().__init__()
        self.a = nn.Conv1d(1, 6, 4, stride=2)
        self.b = nn.Conv1d(6, 6, 3, stride=2, padding=1)
        self.head = nn.Conv1d(6, 3, 1)

    def forward(self, x):
        h = torch.relu(self.a(nn.functional.pad(x, (2, 0))))
        return self.head(torch.tanh(self.b(h)))


class CentredDecoder(nn.Module):
    """RAVE-like: centred convolutions with a residual branch (lookahead becomes delay), then upsampling."""
    def __init__(self):
        super().__init__()
        self.a = nn.Conv1d(2, 8, 3, padding=1)
        self.b = nn.Conv1d(8, 8, 5, padding=4, dilation=2)
        self.up = nn.ConvTranspose1d(8, 2, 8, stride=4, padding=2)

    def forward(self, x):
        h = torch.relu(self.a(x))
        h = h + torch.tanh(self.b(h))
        return self.up(h)


class CroppedCausal(nn.Module):
    """Causal convolutions written as the exporter writes them: padded on both sides, the future cropped by Slice."""
    def __init__(self):
        super().__init__()
        self.a = nn.Conv1d(2, 3, 3, dilation=2, padding=4)
        self.b = nn.Conv1d(3, 2, 2, padding=1)

    def forward(self, x):
        return self.b(torch.tanh(self.a(x)[..., :-4]))[..., :-1]


class TwoRates(nn.Module):
    """Two inputs at two rates: control frames upsampled 4x beside an audio-rate input, summed."""
    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose1d(3, 2, 4, stride=4)
        self.conv = nn.Conv1d(1, 2, 3)

    def forward(self, frames, audio):
        return torch.tanh(self.up(frames) + self.conv(nn.functional.pad(audio, (2, 0))))


def lstm_layout1():
    """Two stacked ONNX LSTMs with layout=1 (batch-first: torch never exports it), constant initial states."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper
    rng = np.random.default_rng(5)

    def arr(*shape):
        return rng.uniform(-0.4, 0.4, shape).astype(np.float32)
    inits = [numpy_helper.from_array(v, n) for n, v in [
        ("w1", arr(1, 40, 3)), ("r1", arr(1, 40, 10)), ("b1", arr(1, 80)), ("h1", arr(1, 1, 10)), ("c1", arr(1, 1, 10)),
        ("w2", arr(1, 40, 10)), ("r2", arr(1, 40, 10)), ("b2", arr(1, 80))]]
    nodes = [helper.make_node("LSTM", ["x", "w1", "r1", "b1", "", "h1", "c1"], ["y1"], name="lstm1", hidden_size=10,
                              layout=1),
             helper.make_node("Squeeze", ["y1", "axis2"], ["s1"], name="squeeze1"),
             helper.make_node("LSTM", ["s1", "w2", "r2", "b2"], ["y2"], name="lstm2", hidden_size=10, layout=1),
             helper.make_node("Squeeze", ["y2", "axis2"], ["y"], name="squeeze2")]
    inits.append(numpy_helper.from_array(np.array([2], np.int64), "axis2"))
    graph = helper.make_graph(nodes, "lstm_layout1", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT,
                                                                                      [1, "T", 3])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, "T", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="dietgen-tests")
    model.ir_version = 8
    return model


# name -> (model, input shapes of the offline window, the time axes the streaming pass must find, its total
# stride, its natural block)
STREAMING = {
    "dilated_stack": (lambda: build("dilated_stack")[0], {"x": (1, 1, 64)}, {"x": 2}, 1, 64),
    "gru2": (lambda: Gru2().eval(), {"x": (1, 20, 8)}, {"x": 1}, 1, 20),
    "lstm2_layout0": (lambda: build("lstm2")[0], {"x": (12, 1, 6)}, {"x": 0}, 1, 12),
    "lstm2_layout1": (lstm_layout1, {"x": (1, 12, 3)}, {"x": 1}, 1, 12),
    "decoder": (lambda: build("decoder")[0], {"z": (1, 4, 8)}, {"z": 2}, 1, 8),
    "centred_decoder": (lambda: CentredDecoder().eval(), {"x": (1, 2, 16)}, {"x": 2}, 1, 16),
    "strided_encoder": (lambda: StridedEncoder().eval(), {"x": (1, 1, 64)}, {"x": 2}, 4, 64),
    "mixed": (lambda: build("mixed")[0], {"x": (1, 1, 32)}, {"x": 2}, 1, 32),
    "cropped_causal": (lambda: CroppedCausal().eval(), {"x": (1, 2, 32)}, {"x": 2}, 1, 32),
    "two_rates": (lambda: TwoRates().eval(), {"frames": (1, 3, 8), "audio": (1, 1, 32)}, {"frames": 2, "audio": 2},
                  1, 8),
}
