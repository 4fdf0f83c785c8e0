"""A results document (docs/results.md) regenerated from committed trim runs, so anyone can check its tables.

The runs behind a document DOC.md live beside it in DOC/runs/: the sweep.json of the sweep that made them and
one RUN/trim.json per finished run, nothing else (no checkpoints), so the folder is a sweep folder that
``dietgen trim report`` reads as well. The document keeps its prose; each comparison table sits between
marker comments on lines of their own::

    <!-- results: ddsp-small -->
    | configuration | seeds | ... |
    <!-- /results -->

The key after ``results:`` selects the runs whose folder name starts with it and a dash (ddsp-small-...) and
that name no boards; what lies between the markers is replaced by report.compare_table of those runs (seeds of
one configuration averaged, in the sweep's order), and their normalised loss against compression is drawn to
DOC/KEY.png. A table of trim-until-it-fits runs (dietgen trim --board) is marked the same way with ``fits:``::

    <!-- fits: ddsp-small -->
    <!-- /fits -->

and takes the runs named KEY-... that name boards: report.fit_table of them (each board's first fitting round,
plain against cost-aware selection), and their normalised loss against real-time factor and RAM per board drawn
to DOC/KEY-boards.png."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dietgen.errors import DietgenError
from dietgen.output import write_bytes_atomic, write_tree
from dietgen.trim.report import (DOCUMENT, compare, compare_table, fit_compare, fit_table, load_run,
                                 seed_groups, selection_label)
from dietgen.trim.sweep import PLAN, load_plan, run_folders

RUNS = "runs"
START = re.compile(r"<!-- (results|fits): (\S+) -->")
END = re.compile(r"<!-- /(results|fits) -->")


@dataclass(frozen=True)
class Section:
    kind: str       # results: compression comparisons; fits: first fits of runs with boards
    key: str
    start: int      # index of the opening marker's line
    end: int        # index of the closing marker's line

    @property
    def name(self) -> str:
        return self.key if self.kind == "results" else f"{self.key} (board fits)"

    @property
    def plot(self) -> str:
        return f"{self.key}.png" if self.kind == "results" else f"{self.key}-boards.png"


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
    """The marked tables of a document, checked: every opening marker closed by its kind's closing marker before
    the next opens, no key twice in one kind."""
    found, opened = [], None
    for n, line in enumerate(text.splitlines()):
        start, end = START.fullmatch(line.strip()), END.fullmatch(line.strip())
        if start and opened is not None:
            raise DietgenError(f"{where}:{n + 1}: a {start.group(1)} marker opens before the {opened[0]} marker of "
                               f"line {opened[2] + 1} ({opened[1]}) is closed by <!-- /{opened[0]} -->")
        if start:
            kind, key = start.groups()
            if any((s.kind, s.key) == (kind, key) for s in found):
                raise DietgenError(f"{where}:{n + 1}: {kind} {key} marked twice; mark each table once")
            opened = (kind, key, n)
        elif end:
            if opened is None or opened[0] != end.group(1):
                raise DietgenError(f"{where}:{n + 1}: {line.strip()} closes no <!-- {end.group(1)}: KEY --> marker")
            found.append(Section(opened[0], opened[1], opened[2], n))
            opened = None
    if opened is not None:
        raise DietgenError(f"{where}:{opened[2] + 1}: {opened[0]} marker {opened[1]} is never closed by "
                           f"<!-- /{opened[0]} -->")
    return found


def _chosen(runs_dir: Path, folders: list[Path], section: Section) -> tuple[list[str], list[dict]]:
    """The runs of a section: named KEY-..., with boards for a fits table and without for a results table."""
    names, docs = [], []
    for folder in folders:
        if folder.name.startswith(f"{section.key}-"):
            doc = load_run(folder)
            if bool(doc["settings"].get("boards")) == (section.kind == "fits"):
                names.append(folder.name)
                docs.append(doc)
    if not docs:
        what = "with boards" if section.kind == "fits" else "without boards"
        raise DietgenError(f"{runs_dir}: no finished run {what} named {section.key}-* for the table marked "
                           f"{section.kind}: {section.key}; run it, or change the marker's key")
    return names, docs


def comparisons(runs_dir, marked: list[Section]) -> dict[Section, tuple[list[str], list[dict]]]:
    """For each marked section: the names and trim.json documents of its runs in ``runs_dir``."""
    runs_dir = Path(runs_dir)
    if not (runs_dir / PLAN).is_file():
        raise DietgenError(f"{runs_dir}: no committed runs ({PLAN} missing); copy a sweep's finished runs there "
                           f"with dietgen trim results SWEEP_DIR --doc DOC")
    folders, _ = run_folders(runs_dir)
    return {section: _chosen(runs_dir, folders, section) for section in marked}


def _table(section: Section, names: list[str], docs: list[dict]) -> str:
    if section.kind == "fits":
        return fit_table(fit_compare(docs), markdown=True)
    return compare_table(compare(docs, names=names), markdown=True)


def _figure(section: Section, names: list[str], docs: list[dict]) -> bytes:
    from dietgen.report.plots import board_fit_png, compression_png
    if section.kind == "fits":
        several = len({d["settings"]["seed"] for d in docs}) > 1
        return board_fit_png([(selection_label(d) + (f" seed {d['settings']['seed']}" if several else ""), d)
                              for d in docs])
    rows = compare(docs, names=names)
    return compression_png([(row["label"], [docs[i] for i in group]) for row, group in zip(rows, seed_groups(docs))])


def _marked(text: str, where: str) -> list[Section]:
    marked = sections(text, where)
    if not marked:
        raise DietgenError(f"{where}: no table marked <!-- results: KEY --> ... <!-- /results --> or "
                           f"<!-- fits: KEY --> ... <!-- /fits -->; mark the tables to regenerate")
    return marked


def render(text: str, runs_dir, where: str) -> str:
    """``text`` with every marked table regenerated from the runs in ``runs_dir``; the rest unchanged."""
    marked = _marked(text, where)
    return _replaced(text, comparisons(runs_dir, marked))


def _replaced(text: str, found: dict[Section, tuple[list[str], list[dict]]]) -> str:
    lines = text.splitlines(keepends=True)
    for section in sorted(found, key=lambda s: s.start, reverse=True):
        table = _table(section, *found[section])
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
    doc = Path(doc)
    text, runs_dir = _read(doc), runs_folder(doc)
    # Markers are checked before the committed runs are replaced.
    marked = _marked(text, str(doc))
    copied, unfinished = collect(sweep_dir, runs_dir) if sweep_dir is not None else ([], [])
    found = comparisons(runs_dir, marked)
    new = _replaced(text, found)
    plots = [write_bytes_atomic(runs_dir.parent / section.plot, _figure(section, *runs))
             for section, runs in found.items()]
    if new != text:
        write_bytes_atomic(doc, new.encode())
    return Update(tuple(copied), tuple(unfinished), tuple(section.name for section in found), tuple(plots))
