"""What a trim run folder reports: its rounds as a table (terminal and report.md), normalised test loss against
compression ratio as a PNG, and the comparison of several runs at the compressions the paper reports.

A run is the RUN/trim.json document the lottery loop writes after every finished round (format
"dietgen-trim-run", version 1); a sweep folder (dietgen.trim.sweep) holds runs named by its sweep.json."""
from __future__ import annotations

import json
import math
from pathlib import Path

from dietgen.errors import DietgenError
from dietgen.trim.fit import first_fits, project_name

FORMAT = "dietgen-trim-run"
VERSION = 1
DOCUMENT = "trim.json"
# 80 %, 90 % and 95 % of the weights removed: the levels the paper's claims are stated at.
COMPARE_AT = (5, 10, 20, 100)
# "Without significant loss", read as at most 10 % above the dense model's test loss.
LOSS_WITHIN = 1.1
ROUND_KEYS = ("round", "parameters", "units", "compression", "macs_per_second", "file_bytes", "test_loss",
              "normalised_loss")
SETTING_KEYS = ("family", "preset", "data", "criterion", "scope", "method", "rate", "rounds", "rewind", "reset",
                "epochs", "seed")
HEADERS = ["round", "parameters", "units left", "MACs per second of audio", "compression", "file size",
           "test loss", "normalised test loss"]
BOARDS_PNG = "boards.png"
BOARD_HEADERS = ["round", "board", "fits", "real-time factor", "RAM", "flash", "normalised test loss", "over"]
FIT_HEADERS = ["board", "selection", "seeds", "first fitting round", "compression there", "normalised loss there",
               "real-time factor", "RAM", "flash", "over"]


def load_run(path) -> dict:
    """The trim.json document of a run folder (or the file itself), checked against the format."""
    given = Path(path)
    if not given.exists():
        raise DietgenError(f"{given}: no such folder or file; give a run folder made by dietgen trim, or its "
                           f"{DOCUMENT}")
    file = given / DOCUMENT if given.is_dir() else given
    if not file.is_file():
        raise DietgenError(f"{given}: no {DOCUMENT} here, so it is not a trim run; give a folder made by dietgen "
                           f"trim (a run finishes round 0 before it writes {DOCUMENT})")
    try:
        doc = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DietgenError(f"{file}: cannot be read as JSON ({exc}); give the {DOCUMENT} of a dietgen trim run")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DietgenError(f"{file}: not a trim run (format is not {FORMAT!r}); give the {DOCUMENT} of a dietgen "
                           f"trim run")
    if doc.get("version") != VERSION:
        raise DietgenError(f"{file}: trim run version {doc.get('version')!r}, this dietgen reads version "
                           f"{VERSION}; rerun dietgen trim with this version")
    problem = _missing(doc)
    if problem:
        raise DietgenError(f"{file}: {problem}; the file is damaged, rerun dietgen trim to rewrite it")
    return doc


def _model_label(s: dict) -> str:
    """The family and preset, or a user model's factory alone (it has no preset)."""
    return " ".join(str(x) for x in (s["family"], s["preset"]) if x)


def round_line(record: dict) -> str:
    """A finished round in one line, as dietgen trim prints it (with boards: which it fits)."""
    fits = record.get("boards", {})
    boards = "; " + ", ".join(f"{b} {'fits' if f['fits'] else 'no'}" for b, f in fits.items()) if fits else ""
    return (f"round {record['round']}: {record['parameters']:,} parameters, {record['compression']:.3g}x "
            f"compression, test loss {record['test_loss']:.4g}, normalised {record['normalised_loss']:.3f}"
            + boards)


def _missing(doc: dict) -> str | None:
    """What a well-formed version-1 document lacks, or None."""
    settings, dense, rounds = doc.get("settings"), doc.get("dense"), doc.get("rounds")
    if not isinstance(settings, dict) or not isinstance(dense, dict) or not isinstance(rounds, list):
        return "settings, dense or rounds missing"
    for part, keys in (("settings", SETTING_KEYS), ("dense", ("parameters", "test_loss"))):
        lacking = [k for k in keys if k not in doc[part]]
        if lacking:
            return f"{part} lack {', '.join(lacking)}"
    for n, record in enumerate(rounds):
        lacking = [k for k in ROUND_KEYS if not isinstance(record, dict) or k not in record]
        if lacking:
            return f"round {n} lacks {', '.join(lacking)}"
    return None


def _label_parts(doc: dict) -> list[str]:
    s = doc["settings"]
    reset = f"rewind {s['rewind']}" if s["reset"] == "rewind" else s["reset"]
    scope = s["scope"] + (" cost-aware" if s.get("selection") == "cost" else "")
    return [_model_label(s), s["criterion"], scope, s["method"], reset, f"{s['rate']:g}%", f"seed {s['seed']}"]


def run_label(doc: dict, others: list[dict] | tuple = ()) -> str:
    """A short name for a run in legends and comparisons: family, criterion, scope, method, reset and rate; with
    ``others`` (the runs it is shown beside), only what differs among them, so the legend reads as the
    comparison. The seed is named only when it is what differs."""
    parts = _label_parts(doc)
    if others:
        columns = list(zip(*(_label_parts(d) for d in others)))
        differing = [p for p, column in zip(parts, columns) if len(set(column)) > 1]
        if differing:
            return " ".join(differing)
    return " ".join(parts[:-1])


def _macs(n: int) -> str:
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return str(n)


def _round_rows(doc: dict) -> list[list[str]]:
    from dietgen.report.table import human_bytes
    return [[str(r["round"]), f"{r['parameters']:,}", "-" if r["units"] is None else f"{r['units']:,}",
             _macs(r["macs_per_second"]), f"{r['compression']:.3g}x", human_bytes(r["file_bytes"]),
             f"{r['test_loss']:.4g}", f"{r['normalised_loss']:.3f}"] for r in doc["rounds"]]


def rounds_table(doc: dict) -> str:
    """The run's rounds for a terminal: size, cost and loss after each round."""
    from dietgen.report.table import table
    return table(HEADERS, _round_rows(doc), set(range(len(HEADERS))))


def _markdown_table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    """A GitHub markdown table; columns in ``right`` (default: all) aligned right."""
    right = set(range(len(headers))) if right is None else right
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "".join("---:|" if i in right else "---|" for i in range(len(headers)))]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _title(doc: dict) -> str:
    s = doc["settings"]
    reset = (f"survivors rewound to epoch {s['rewind']}" if s["reset"] == "rewind"
             else "survivors re-initialised")
    method = "trimming" if s["method"] == "trim" else "masking"
    return (f"# {_model_label(s)}: structured lottery {method}, {s['criterion']} criterion, "
            f"{s['scope']}{' cost-aware' if s.get('selection') == 'cost' else ''} selection, {s['rate']:g} % of "
            f"the units per round, {reset}")


def _summary(doc: dict) -> str:
    s, dense = doc["settings"], doc["dense"]
    return (f"Data `{s['data']}`; {len(doc['rounds'])} of {s['rounds']} rounds finished; up to {s['epochs']} "
            f"epochs per round; seed {s['seed']}. Dense model: {dense['parameters']:,} parameters, test loss "
            f"{dense['test_loss']:.4g}." + (f" Stopped early: {doc['stopped']}." if doc.get("stopped") else ""))


def board_rows(doc: dict) -> list[list[str]]:
    """A run with boards: per round and board, whether it fits with the run's margins, the figures against
    their limits (RAM limit less the headroom; "est" where flash and stack are estimated), and what is over."""
    from dietgen.report.table import human_bytes
    rows = []
    for r in doc["rounds"]:
        for board, f in r["boards"].items():
            est = " est" if f["estimated"] else ""
            rtf = "unknown" if f["real_time_factor"] is None else f"{f['real_time_factor']:.3g}"
            rows.append([str(r["round"]), board, "yes" if f["fits"] else "no", f"{rtf} / {f['rtf_limit']:.3g}",
                         f"{human_bytes(f['ram_used'])} / {human_bytes(f['ram_limit'])}{est}",
                         f"{human_bytes(f['flash_used'])} / {human_bytes(f['flash_limit'])}{est}",
                         f"{r['normalised_loss']:.3f}", "; ".join(f["fails"]) or "-"])
    return rows


def _board_section(doc: dict) -> list[str]:
    """report.md's board view: the margins, each board's first fitting round and project, the table, the plot."""
    s = doc["settings"]
    firsts = first_fits(doc)
    margins = (f"real-time factor at most {s.get('rtf', 1.0):.3g}, RAM at most the board's limit less "
               f"{s.get('headroom_ram', 0.0):g} % headroom, flash at most the board's")
    lines = "\n".join(f"- {b}: " + (f"fits from round {firsts[b]}; its PlatformIO project: {project_name(b)}/"
                                    if b in firsts else "no round fits") for b in s["boards"])
    cost = (["Selection: cost-aware: each unit's score over what removing it saves of these boards' time, RAM and "
             "flash, weighted toward the budgets still over (each round's savings are in trim.json)."]
            if s.get("selection") == "cost" else [])
    return ["## Boards", f"Margins: {margins}.", *cost, lines,
            _markdown_table(BOARD_HEADERS, board_rows(doc), {0, 3, 4, 5, 6}),
            f"![normalised test loss against real-time factor and RAM per board]({BOARDS_PNG})"]


def write_report(run_dir: Path, doc: dict) -> None:
    """RUN/report.md (settings and the rounds table) and RUN/report.png (normalised test loss against
    compression); a run with boards adds the board view to report.md and RUN/boards.png (normalised test loss
    against real-time factor and RAM per board, the budget lines drawn). All replaced atomically so a reader
    never sees half a report."""
    from dietgen.report.plots import board_fit_png, compression_png
    from dietgen.output import replace_files_atomically
    boards = bool(doc["settings"].get("boards"))

    def write(tmp: Path) -> None:
        parts = [_title(doc), _summary(doc), _markdown_table(HEADERS, _round_rows(doc)),
                 "![normalised test loss against compression ratio](report.png)"]
        (tmp / "report.md").write_text("\n\n".join(parts + (_board_section(doc) if boards else [])) + "\n")
        (tmp / "report.png").write_bytes(compression_png([(run_label(doc), [doc])]))
        if boards:
            (tmp / BOARDS_PNG).write_bytes(board_fit_png([("rounds", doc)]))

    replace_files_atomically(write, ["report.md", "report.png"] + ([BOARDS_PNG] if boards else []), Path(run_dir))


def _interpolated(rounds: list[dict], target: float) -> float | None:
    """Normalised loss at compression ``target``, linear in log-compression between the rounds around it;
    None when the run never reached it."""
    points = [(r["compression"], r["normalised_loss"]) for r in rounds]
    for (c0, l0), (c1, l1) in zip(points, points[1:]):
        if c0 <= target <= c1 and c1 > c0:
            t = (math.log(target) - math.log(c0)) / (math.log(c1) - math.log(c0))
            return l0 + t * (l1 - l0)
    return next((loss for c, loss in points if c == target), None)


def seed_groups(docs: list[dict]) -> list[list[int]]:
    """Indices of ``docs`` grouped into runs alike in every setting but the seed: one configuration measured
    with several seeds, reported as mean, min and max as the paper does. A repeated seed starts a new group."""
    groups: list[tuple[str, list[int]]] = []
    for i, doc in enumerate(docs):
        key = json.dumps({k: v for k, v in doc["settings"].items() if k != "seed"}, sort_keys=True)
        home = next((g for k, g in groups if k == key and all(docs[j]["settings"]["seed"] != doc["settings"]["seed"]
                                                                for j in g)), None)
        if home is None:
            groups.append((key, [i]))
        else:
            home.append(i)
    return [g for _, g in groups]


def _spread(values: list[float | None]) -> tuple[float | None, float | None, float | None]:
    """(mean, min, max), or Nones when a run lacks the value."""
    if not values or any(v is None for v in values):
        return None, None, None
    return sum(values) / len(values), min(values), max(values)


def compare(docs: list[dict], names: list[str] | None = None) -> list[dict]:
    """Per configuration (runs differing only by seed are one, see seed_groups): its label (what differs from
    the others; alike runs are told apart by their ``names``, the folders they came from), the number of seeds,
    the largest compression reached with the normalised test loss and the MACs per second of audio there (and
    the dense model's MACs), and the normalised loss at 5x, 10x and 20x (None when a run did not reach it):
    means, with min and max over the seeds."""
    groups = seed_groups(docs)
    heads = [docs[g[0]] for g in groups]
    labels = [run_label(doc, heads) for doc in heads]
    if names is not None and len(set(labels)) < len(labels):
        labels = [f"{label} ({', '.join(names[i] for i in g)})" for label, g in zip(labels, groups)]
    out = []
    for group, label in zip(groups, labels):
        runs = [docs[i]["rounds"] for i in group]
        lasts = [max(rounds, key=lambda r: r["compression"]) if rounds else None for rounds in runs]
        compression = _spread([None if last is None else last["compression"] for last in lasts])
        at_largest = _spread([None if last is None else last["normalised_loss"] for last in lasts])
        macs = _spread([None if last is None else last["macs_per_second"] for last in lasts])
        dense_macs = _spread([rounds[0]["macs_per_second"] if rounds else None for rounds in runs])
        at = {f"{c}x": _spread([_interpolated(rounds, c) for rounds in runs]) for c in COMPARE_AT}
        within = _spread([max((r["compression"] for r in rounds if r["normalised_loss"] <= LOSS_WITHIN),
                              default=None) for rounds in runs])
        out.append({"label": label, "seeds": len(group), "finished_rounds": min(len(r) for r in runs),
                    "largest_compression": compression[0], "loss_at_largest": at_largest[0],
                    "compression_within": within[0],
                    "compression_range_within": None if within[0] is None else [within[1], within[2]],
                    "macs_at_largest": macs[0], "dense_macs": dense_macs[0],
                    "loss_at": {k: v[0] for k, v in at.items()},
                    "loss_range_at": {k: None if v[0] is None else [v[1], v[2]] for k, v in at.items()}})
    return out


def compare_table(rows: list[dict], markdown: bool = False) -> str:
    """``compare``'s rows for a terminal, or as a markdown table (docs/results.md): means over seeds with
    (min-max); '-' where a run did not reach a compression."""
    from dietgen.report.table import table

    def cell(value, text):
        return "-" if value is None else text.format(value)

    def at(row, c):
        value, spread = row["loss_at"][f"{c}x"], row["loss_range_at"][f"{c}x"]
        if value is None or row["seeds"] == 1:
            return cell(value, "{:.3f}")
        return f"{value:.3f} ({spread[0]:.3f}-{spread[1]:.3f})"

    def macs(row):
        if row["macs_at_largest"] is None:
            return "-"
        # Masking keeps the dense count (its zeros are still multiplied): the dense figure shows it.
        return f"{_macs(round(row['macs_at_largest']))} (dense {_macs(round(row['dense_macs']))})"

    def within(row):
        value, spread = row["compression_within"], row["compression_range_within"]
        if value is None or row["seeds"] == 1:
            return cell(value, "{:.3g}x")
        return f"{value:.3g}x ({spread[0]:.3g}-{spread[1]:.3g})"

    headers = ["configuration", "seeds", "rounds", "largest compression", "normalised loss there",
               f"largest with loss <= {LOSS_WITHIN}"] + [
        f"at {c}x ({100 - 100 // c} % removed)" for c in COMPARE_AT] + ["MACs per second there"]
    body = [[r["label"], str(r["seeds"]), str(r["finished_rounds"]), cell(r["largest_compression"], "{:.3g}x"),
             cell(r["loss_at_largest"], "{:.3f}"), within(r)] + [at(r, c) for c in COMPARE_AT] + [macs(r)]
            for r in rows]
    right = set(range(1, len(headers)))
    return _markdown_table(headers, body, right) if markdown else table(headers, body, right)


def selection_label(doc: dict) -> str:
    return "cost-aware" if doc["settings"].get("selection") == "cost" else "plain"


def fit_compare(docs: list[dict]) -> list[dict]:
    """Trim runs with boards compared at the moment each first fits a board: per board (in the order the runs
    name them) and configuration (runs alike but for the seed, and for plain selection the boards they name: a
    plain run naming three boards meets the cost-aware run aiming at each of them), the figures of each seed's first round that
    fits the board, or of its last round where none does (the floor or the rounds cap came first) with what is
    over there. Means over the seeds, with min and max as compare gives them."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for doc in docs:
        # Plain selection never looks at the boards, so the boards it names only say where it stops; cost-aware
        # selection weighs units by what they cost on exactly those boards.
        ignored = ("seed", "boards") if doc["settings"].get("selection", "plain") == "plain" else ("seed",)
        key = json.dumps({k: v for k, v in doc["settings"].items() if k not in ignored}, sort_keys=True)
        for board in doc["settings"]["boards"]:
            groups.setdefault((board, key), []).append(doc)
    out, heads = [], []
    boards = list(dict.fromkeys(board for board, _ in groups))
    for (board, _), runs in sorted(groups.items(), key=lambda item: boards.index(item[0][0])):
        chosen, fitted, over = [], 0, []
        for doc in runs:
            first = first_fits(doc).get(board)
            record = doc["rounds"][-1 if first is None else first]
            chosen.append(record)
            fitted += first is not None
            if first is None:
                why = "floor reached" if doc.get("stopped") == "floor reached" else "last round"
                seed = f"seed {doc['settings']['seed']}: " if len(runs) > 1 else ""
                over.append(f"{seed}round {record['round']} ({why}): {'; '.join(record['boards'][board]['fails'])}")
        fits = [r["boards"][board] for r in chosen]
        timed = [f["real_time_factor"] for f in fits]
        out.append({"board": board, "label": selection_label(runs[0]), "seeds": len(runs), "fitted": fitted,
                    "round": _spread([r["round"] for r in chosen]),
                    "compression": _spread([r["compression"] for r in chosen]),
                    "normalised_loss": _spread([r["normalised_loss"] for r in chosen]),
                    "real_time_factor": _spread(timed), "rtf_limit": fits[0]["rtf_limit"],
                    "ram_used": _spread([f["ram_used"] for f in fits]), "ram_limit": fits[0]["ram_limit"],
                    "flash_used": _spread([f["flash_used"] for f in fits]), "flash_limit": fits[0]["flash_limit"],
                    "estimated": any(f["estimated"] for f in fits), "over": over})
        heads.append(runs[0])
    # Configurations of one board with the same selection (other settings differ) are told apart by those.
    kinds = [(row["board"], row["label"]) for row in out]
    for row, head, kind in zip(out, heads, kinds):
        alike = [h for k, h in zip(kinds, heads) if k == kind]
        if len(alike) > 1:
            row["label"] += " " + run_label(head, alike)
    return out


def fit_table(rows: list[dict], markdown: bool = False) -> str:
    """``fit_compare``'s rows for a terminal or as a markdown table (docs/results.md): one per board and
    selection, the first fitting round's figures against the board's limits (means over seeds with (min-max));
    where no round fits, the last round's, and what is over."""
    from dietgen.report.table import human_bytes, table

    def spread(values, shown):
        mean, low, high = values
        if mean is None:
            return "unknown"
        show = shown if callable(shown) else shown.format
        return show(mean) if low == high else f"{show(mean)} ({show(low)}-{show(high)})"

    def first(row):
        rounds = spread(row["round"], "{:.3g}")
        if row["fitted"] == row["seeds"]:
            return rounds
        if not row["fitted"]:
            return f"none (last: {rounds})"
        return f"{row['fitted']} of {row['seeds']} seeds (rounds {rounds})"

    body = []
    for r in rows:
        est = " est" if r["estimated"] else ""
        body.append([r["board"], r["label"], str(r["seeds"]), first(r), spread(r["compression"], "{:.3g}x"),
                     spread(r["normalised_loss"], "{:.3f}"),
                     f"{spread(r['real_time_factor'], '{:.3g}')} / {r['rtf_limit']:.3g}",
                     f"{spread(r['ram_used'], human_bytes)} / {human_bytes(r['ram_limit'])}{est}",
                     f"{spread(r['flash_used'], human_bytes)} / {human_bytes(r['flash_limit'])}{est}",
                     "; ".join(r["over"]) or "-"])
    right = {2, 3, 4, 5, 6, 7, 8}
    return _markdown_table(FIT_HEADERS, body, right) if markdown else table(FIT_HEADERS, body, right)
