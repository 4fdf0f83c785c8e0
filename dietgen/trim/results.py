"""A results document (docs/results.md) regenerated from committed trim runs, so anyone can check its tables.

The runs behind a document DOC.md live beside it in DOC/runs/: the sweep.json of the sweep that made them and
one RUN/trim.json per finished run, nothing else (no checkpoints), so the folder is a sweep folder that
``dietgen trim report`` reads as well. The document keeps its prose; each comparison table sits between
marker comments on lines of their own::

    <!-- results: ddsp-small -->
    | configuration | seeds | ... |
    <!-- /results -->

The key after ``results:`` selects the runs whose folder name starts with it and a dash (ddsp-small-...); what
lies between the markers is replaced by report.compare_table of those runs (seeds of one configuration
averaged, in the sweep's order), and their normalised loss against compression is drawn to DOC/KEY.png."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dietgen.errors import DietgenError
from dietgen.output import write_bytes_atomic, write_tree
from dietgen.trim.report import DOCUMENT, compare, compare_table, load_run, seed_groups
from dietgen.trim.sweep import PLAN, load_plan, run_folders

RUNS = "runs"
START = re.compile(r"<!-- results: (\S+) -->")
END = "<!-- /results -->"


@dataclass(frozen=True)
class Section:
    key: str
    start: int      # index of the opening marker's line
    end: int        # index of the closing marker's line


@dataclass(frozen=True)
class Update:
    """What update_doc did: the runs copied from the sweep (and those left out, unfinished), the tables
    rewritten and the plots written."""
    copied: tuple[str, ...]
    unfinished: tuple[str, ...]
    tables: tuple[str, ...]
    plots: tuple[Path, ...]


def runs_folder(doc) -> Path:
    """Where the runs behind ``doc`` are committed: DOC/runs beside DOC.md."""
    doc = Path(doc)
    return doc.parent / doc.stem / RUNS


def sections(text: str, where: str) -> list[Section]:
    """The marked tables of a document, checked: every opening marker closed before the next opens, no key
    twice."""
    found, opened = [], None
    for n, line in enumerate(text.splitlines()):
        start = START.fullmatch(line.strip())
        if start and opened is not None:
            raise DietgenError(f"{where}:{n + 1}: a results marker opens before the one of line {opened[1] + 1} "
                               f"({opened[0]}) is closed by {END}")
        if start:
            if any(s.key == start.group(1) for s in found):
                raise DietgenError(f"{where}:{n + 1}: results {start.group(1)} marked twice; mark each table once")
            opened = (start.group(1), n)
        elif line.strip() == END:
            if opened is None:
                raise DietgenError(f"{where}:{n + 1}: {END} closes no <!-- results: KEY --> marker")
            found.append(Section(opened[0], opened[1], n))
            opened = None
    if opened is not None:
        raise DietgenError(f"{where}:{opened[1] + 1}: results marker {opened[0]} is never closed by {END}")
    return found


def comparisons(runs_dir, keys: list[str]) -> dict[str, tuple[list[dict], list[list[dict]]]]:
    """For each key: compare's rows of the runs in ``runs_dir`` named KEY-..., and the runs of each row (for
    the plot)."""
    runs_dir = Path(runs_dir)
    if not (runs_dir / PLAN).is_file():
        raise DietgenError(f"{runs_dir}: no committed runs ({PLAN} missing); copy a sweep's finished runs there "
                           f"with dietgen trim results SWEEP_DIR --doc DOC")
    folders, _ = run_folders(runs_dir)
    out = {}
    for key in keys:
        chosen = [f for f in folders if f.name.startswith(f"{key}-")]
        if not chosen:
            raise DietgenError(f"{runs_dir}: no finished run named {key}-* for the table marked results: {key}; "
                               f"run it, or change the marker's key")
        names = [f.name for f in chosen]
        docs = [load_run(f) for f in chosen]
        out[key] = (compare(docs, names=names), [[docs[i] for i in g] for g in seed_groups(docs)])
    return out


def _marked(text: str, where: str) -> list[Section]:
    marked = sections(text, where)
    if not marked:
        raise DietgenError(f"{where}: no table marked <!-- results: KEY --> ... {END}; mark the tables to "
                           f"regenerate")
    return marked


def render(text: str, runs_dir, where: str) -> str:
    """``text`` with every marked table regenerated from the runs in ``runs_dir``; the rest unchanged."""
    marked = _marked(text, where)
    return _replaced(text, marked, comparisons(runs_dir, [s.key for s in marked]))


def _replaced(text: str, marked: list[Section], found: dict) -> str:
    lines = text.splitlines(keepends=True)
    for section in reversed(marked):
        table = compare_table(found[section.key][0], markdown=True)
        lines[section.start + 1:section.end] = [line + "\n" for line in table.splitlines()]
    return "".join(lines)


def _finished(run_dir: Path, settings: dict) -> bool:
    """Whether the run folder holds a complete run made with the plan's ``settings``: all its rounds, or
    stopped early because nothing was left to remove."""
    if not (run_dir / DOCUMENT).is_file():
        return False
    doc = load_run(run_dir)
    return doc["settings"] == settings and ("stopped" in doc or len(doc["rounds"]) >= settings["rounds"])


def collect(sweep_dir, runs_dir) -> tuple[list[str], list[str]]:
    """Replace ``runs_dir`` by the sweep's plan and the trim.json of each of its finished runs. Returns the
    names copied and those left out (not finished yet)."""
    sweep_dir, runs_dir = Path(sweep_dir), Path(runs_dir)
    plan = load_plan(sweep_dir)
    files: dict[str, str | bytes] = {PLAN: (sweep_dir / PLAN).read_bytes()}
    copied, unfinished = [], []
    for run in plan["runs"]:
        if _finished(sweep_dir / run["name"], run["settings"]):
            files[f"{run['name']}/{DOCUMENT}"] = (sweep_dir / run["name"] / DOCUMENT).read_bytes()
            copied.append(run["name"])
        else:
            unfinished.append(run["name"])
    if not copied:
        raise DietgenError(f"{sweep_dir}: no run of this sweep has finished yet; nothing to copy into {runs_dir}")
    write_tree(files, runs_dir, force=True)
    return copied, unfinished


def _read(doc: Path) -> str:
    try:
        return doc.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DietgenError(f"{doc}: cannot be read ({exc}); give the markdown results document")


def check_doc(doc) -> None:
    """A one-line error unless the marked tables of ``doc`` are exactly those its committed runs give."""
    doc = Path(doc)
    text = _read(doc)
    if render(text, runs_folder(doc), str(doc)) != text:
        raise DietgenError(f"{doc}: its tables differ from those of the runs in {runs_folder(doc)}; regenerate "
                           f"them with dietgen trim results --doc {doc}")


def update_doc(doc, sweep_dir=None) -> Update:
    """Regenerate the marked tables of ``doc`` and their plots from the runs committed beside it, after
    copying the finished runs of ``sweep_dir`` there when it is given."""
    from dietgen.report.plots import compression_png
    doc = Path(doc)
    text, runs_dir = _read(doc), runs_folder(doc)
    # Markers are checked before the committed runs are replaced.
    marked = _marked(text, str(doc))
    copied, unfinished = collect(sweep_dir, runs_dir) if sweep_dir is not None else ([], [])
    found = comparisons(runs_dir, [s.key for s in marked])
    new = _replaced(text, marked, found)
    plots = []
    for key, (rows, groups) in found.items():
        figure = compression_png([(row["label"], runs) for row, runs in zip(rows, groups)])
        plots.append(write_bytes_atomic(runs_dir.parent / f"{key}.png", figure))
    if new != text:
        write_bytes_atomic(doc, new.encode())
    return Update(tuple(copied), tuple(unfinished), tuple(found), tuple(plots))
