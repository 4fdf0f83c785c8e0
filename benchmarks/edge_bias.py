"""Bias of the mutual-information estimators of dietgen/trim/information.py against the input width d and the
number of examples N, on a case whose answer is known, and how well each ranks units.

Bias: X ~ N(0, I_d), w a random unit vector, H = sqrt(SNR) w.X + e with e ~ N(0, 1) independent, so
I(X; H) = 0.5 log2(1 + SNR) bits exactly. For d in 8, 64, 256, 1000, N in 160, 500, 2000 and SNR in 0, 1, 15
(0, 0.5 and 2 bits), each estimator runs on `--seeds` independent draws (data and estimator seed both change);
the table gives the mean estimate, the bias (mean - truth) and the spread (standard deviation over seeds).

Ranking: what trimming needs is the order of a layer's units. 32 units of dy time positions each,
H_j = sqrt(SNR_j) s_j + noise per position, s_j = w_j.X normalised, SNR_j from 0.01 to 30 (log spaced), so
I(X; H_j) = 0.5 log2(1 + SNR_j dy). X is N = 256 examples of d = 1000 coordinates, either isotropic or like a
layer input (3 latent factors times a random (3, 1000) mixing plus 0.5 noise). The table gives the Spearman
correlation between estimates and truth (mean and min over seeds) and the time of one `unit_information` call
for the 32 units.

Run from the repository root (about a minute):

    .venv/bin/python benchmarks/edge_bias.py            # writes docs/results/edge_bias.md and .png
    .venv/bin/python benchmarks/edge_bias.py --seeds 3 --out build/edge
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dietgen.trim.information import projection_information, unit_information  # noqa: E402

ESTIMATORS = {"edge": unit_information, "projection": projection_information}
WIDTHS = (8, 64, 256, 1000)
SAMPLES = (160, 500, 2000)
SNRS = (0.0, 1.0, 15.0)


def bias_rows(seeds: int) -> list[dict]:
    rows = []
    for n in SAMPLES:
        for d in WIDTHS:
            estimates = {(name, snr): [] for name in ESTIMATORS for snr in SNRS}
            for seed in range(seeds):
                rng = np.random.default_rng([n, d, seed])
                x = rng.standard_normal((n, d))
                w = rng.standard_normal(d)
                signal = x @ (w / np.linalg.norm(w))
                noise = rng.standard_normal(n)
                for snr in SNRS:
                    h = (math.sqrt(snr) * signal + noise)[:, None]
                    for name, estimate in ESTIMATORS.items():
                        estimates[name, snr].append(float(estimate(x, h, seed=seed)[0]))
            for (name, snr), values in estimates.items():
                true = 0.5 * math.log2(1 + snr)
                rows.append({"estimator": name, "d": d, "n": n, "snr": snr, "true": true,
                             "mean": float(np.mean(values)), "bias": float(np.mean(values)) - true,
                             "spread": float(np.std(values))})
            print(f"N={n} d={d} done", file=sys.stderr)
    return rows


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1])


def ranking_rows(seeds: int) -> list[dict]:
    n, d, units = 256, 1000, 32
    snr = np.geomspace(0.01, 30, units)
    rows = []
    for layer_like in (False, True):
        for dy in (1, 100):
            true = 0.5 * np.log2(1 + snr * dy)
            scores = {name: [] for name in ESTIMATORS}
            seconds = {name: [] for name in ESTIMATORS}
            for seed in range(seeds):
                rng = np.random.default_rng([dy, layer_like, seed])
                if layer_like:
                    x = rng.standard_normal((n, 3)) @ rng.standard_normal((3, d)) + 0.5 * rng.standard_normal((n, d))
                else:
                    x = rng.standard_normal((n, d))
                signal = x @ rng.standard_normal((d, units))
                signal /= signal.std(axis=0)
                h = np.sqrt(snr)[None, :, None] * signal[:, :, None] + rng.standard_normal((n, units, dy))
                for name, estimate in ESTIMATORS.items():
                    start = time.perf_counter()
                    bits = estimate(x, h, seed=seed)
                    seconds[name].append(time.perf_counter() - start)
                    scores[name].append(_spearman(bits, true))
            for name in ESTIMATORS:
                rows.append({"estimator": name, "x": "layer-like (rank 3 + noise)" if layer_like else "isotropic",
                             "dy": dy, "mean": float(np.mean(scores[name])), "min": float(np.min(scores[name])),
                             "seconds": float(np.median(seconds[name]))})
    return rows


def write_markdown(path: Path, bias: list[dict], ranking: list[dict], seeds: int, elapsed: float) -> None:
    lines = ["# Bias of the mutual-information estimators against input width and sample count", "",
             f"Made by `benchmarks/edge_bias.py --seeds {seeds}` ({elapsed:.0f} s wall time); the script's "
             "docstring describes the cases. `edge` is `unit_information` (EDGE with the authors' defaults), "
             "`projection` is `projection_information` (one random view per side), both from "
             "dietgen/trim/information.py. Bits; bias = mean - truth; spread = standard deviation over seeds.", "",
             "## Bias: X ~ N(0, I_d), H = sqrt(SNR) w.X + noise", "",
             "| estimator | d | N | SNR | true bits | mean estimate | bias | spread |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in bias:
        lines.append(f"| {r['estimator']} | {r['d']} | {r['n']} | {r['snr']:g} | {r['true']:.3f} | {r['mean']:.3f} "
                     f"| {r['bias']:+.3f} | {r['spread']:.3f} |")
    lines += ["", "## Ranking: Spearman correlation of 32 units' estimates with their true information "
              "(N = 256, d = 1000)", "",
              "| estimator | X | dy | Spearman mean | Spearman min | seconds per call (32 units) |",
              "|---|---|---:|---:|---:|---:|"]
    for r in ranking:
        lines.append(f"| {r['estimator']} | {r['x']} | {r['dy']} | {r['mean']:+.2f} | {r['min']:+.2f} "
                     f"| {r['seconds']:.3f} |")
    path.write_text("\n".join(lines) + "\n")


def plot(path: Path, bias: list[dict]) -> None:
    fig, axes = plt.subplots(len(ESTIMATORS), len(SNRS), figsize=(4 * len(SNRS), 3.2 * len(ESTIMATORS)),
                             sharex=True, sharey=True, squeeze=False)
    for row, name in enumerate(ESTIMATORS):
        for col, snr in enumerate(SNRS):
            ax = axes[row][col]
            for n in SAMPLES:
                points = [r for r in bias if r["estimator"] == name and r["snr"] == snr and r["n"] == n]
                ax.errorbar([r["d"] for r in points], [r["bias"] for r in points],
                            yerr=[r["spread"] for r in points], marker="o", capsize=3, label=f"N = {n}")
            ax.axhline(0.0, color="grey", linewidth=0.8)
            ax.set_xscale("log")
            ax.set_xticks(WIDTHS, [str(d) for d in WIDTHS])
            ax.set_title(f"{name}, true {0.5 * math.log2(1 + snr):g} bits (SNR {snr:g})")
            if row == len(ESTIMATORS) - 1:
                ax.set_xlabel("input width d")
            if col == 0:
                ax.set_ylabel("bias (bits)")
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="independent draws per case (default 10)")
    parser.add_argument("--out", type=Path, default=Path("docs/results"), help="folder for edge_bias.md/.png")
    args = parser.parse_args()
    start = time.perf_counter()
    bias = bias_rows(args.seeds)
    ranking = ranking_rows(args.seeds)
    args.out.mkdir(parents=True, exist_ok=True)
    write_markdown(args.out / "edge_bias.md", bias, ranking, args.seeds, time.perf_counter() - start)
    plot(args.out / "edge_bias.png", bias)
    print(f"wrote {args.out / 'edge_bias.md'} and {args.out / 'edge_bias.png'}")


if __name__ == "__main__":
    main()
