"""Does a model fit a board? Flash, RAM and time per block against the board file's figures.

flash = weights + code: the size of the model cross-compiled for the board (with the bench harness) when the
        board's compiler is installed, else an estimate, labelled as such.
RAM   = arena + state + I/O buffers + stack (-fstack-usage of that build, else an estimate) + what the
        framework takes before the model (the board file's framework_ram_bytes), against the RAM bank that
        holds the arena and state: the default bank when everything fits there, else the first other bank
        (board file [[ram_banks]]) with room for them, placed by its linker section (BudgetReport.arena_section,
        the DG_ARENA_SECTION of the generated model.c). On Linux boards the row is the model's own RAM against
        what the OS leaves (ram_bytes - framework_ram_bytes).
time  = cycles per step from the per-core cost model (dietgen.cost) at the board's clock, against the step's
        deadline (output frames / sample rate); their ratio is the real-time factor (below 1 keeps up).

A report's status is "over" when a budget is over, "unknown" when time per block has no estimate (no cost table
for the core), else "fits". ``ok`` (export proceeds, `dietgen check` exits 0) means nothing is over; it is not a
claim that the model fits: an unknown time is reported as such, never as "fits".
"""
from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dietgen.boards import BANK_SHARES, Board, boards, get_board
from dietgen.codegen.render import render
from dietgen.errors import DietgenError
from dietgen.ir import Graph, TensorKind
from dietgen.output import write_tree
from dietgen.passes.stream import out_frames
from dietgen.pipeline import Compiled, compile_model
from dietgen.report.table import human_bytes

# Rough code sizes for boards whose compiler is not installed: the libm and runtime the kernels pull in, each
# kernel family, each call site. AVR code is about twice as large (8-bit ALU, software floating point).
_CODE_BASE, _CODE_PER_KERNEL, _CODE_PER_CALL = 4096, 1536, 48
# Stack when it cannot be measured: the deepest kernel frame plus the harness, by kind of core.
_STACK_ESTIMATE = {"avr": 256, "cortex-m": 1024, "cortex-a": 8192, "xtensa": 2048}
_TOP = 3   # contributors named in a report


@dataclass(frozen=True)
class Budget:
    """One resource: what the model uses, what the board offers, how it splits, and who uses the most."""
    name: str                           # "flash" | "RAM" | "time"
    used: float                         # bytes, or seconds per step
    limit: float
    measured: bool                      # False: an estimate
    parts: dict[str, float] = field(default_factory=dict)   # the whole split, wherever each part lives
    layers: tuple[tuple[str, float], ...] = ()   # largest contributors by layer, largest first
    detail: str = ""                    # what the limit is: the RAM bank and why, the OS's share

    @property
    def fits(self) -> bool:
        return self.used <= self.limit

    @property
    def ratio(self) -> float:
        return self.used / self.limit if self.limit else float("inf")

    def amount(self, value: float) -> str:
        if self.name == "time":
            return f"{value:.3g} s" if abs(value) >= 1 else f"{value * 1e3:.3g} ms"
        return human_bytes(int(value))


@dataclass(frozen=True)
class BudgetReport:
    model: str
    board: Board
    flash: Budget
    ram: Budget
    time: Budget | None                # None: no cost model for the board's core
    block: int
    sample_rate: int
    notes: tuple[str, ...] = ()        # why a figure is an estimate
    graph: Graph | None = field(default=None, repr=False, compare=False)   # for the hint: what other boards do
    arena_section: str = ""            # linker section of the RAM bank for the arena and state; "": the default

    @property
    def budgets(self) -> tuple[Budget, ...]:
        return tuple(b for b in (self.flash, self.ram, self.time) if b is not None)

    @property
    def ok(self) -> bool:
        """Nothing is over budget. Not "it fits": see status."""
        return all(b.fits for b in self.budgets)

    @property
    def status(self) -> str:
        """"over", "unknown" (nothing over, but no time estimate) or "fits"."""
        if not self.ok:
            return "over"
        return "unknown" if self.time is None else "fits"

    @property
    def verdict(self) -> str:
        """The status as a table cell: "fits", "OVER flash,RAM" or "unknown: no time estimate"."""
        if self.status == "over":
            return "OVER " + ",".join(b.name for b in self.budgets if not b.fits)
        return "unknown: no time estimate" if self.status == "unknown" else "fits"

    @property
    def rtf(self) -> float | None:
        """Real-time factor: compute time per step over the audio it produces."""
        return self.time.ratio if self.time else None

    def error(self) -> DietgenError:
        """The over-budget error: which budget, by how much, the largest layers, and what to do."""
        over = [b for b in self.budgets if not b.fits]
        parts = []
        for b in over:
            what = (f"time per block {b.amount(b.used)} against a {b.amount(b.limit)} deadline (real-time factor "
                    f"{b.ratio:.2f})" if b.name == "time" else
                    f"{b.name} {b.amount(b.used)} needed, {b.amount(b.limit)} available"
                    + (f" ({b.detail})" if b.detail else ""))
            layers = ", ".join(f"{n} {b.amount(v)}" for n, v in b.layers)
            parts.append(f"{what}, over by {b.amount(b.used - b.limit)}"
                         + (f" (largest: {layers})" if layers else ""))
        roomier = [o.id for o in boards().values()
                   if o.id != self.board.id and all(_room(o, b, self.graph) for b in over)]
        where = f"; or a board with room for it: {', '.join(roomier[:5])}" if roomier else ""
        return DietgenError(f"{self.model} does not fit {self.board.id}: {'; '.join(parts)}. Trim it further, "
                            f"use a smaller preset{where}")

    def to_dict(self) -> dict[str, Any]:
        def one(b: Budget | None):
            return None if b is None else {**asdict(b), "layers": [list(x) for x in b.layers], "fits": b.fits,
                                           "estimate": not b.measured}
        return {"model": self.model, "board": self.board.id, "ok": self.ok, "status": self.status,
                "arena_section": self.arena_section, "block": self.block,
                "sample_rate": self.sample_rate, "real_time_factor": self.rtf, "notes": list(self.notes),
                "flash": one(self.flash), "ram": one(self.ram), "time": one(self.time)}


def _room(board: Board, need: Budget, graph: Graph | None) -> bool:
    """Would ``board`` meet the budget ``need`` failed? A first guess for the hint: the same code and stack
    bytes, and the cost model's time where the board's core has a cost table."""
    if need.name == "flash":
        return board.flash_bytes >= need.used
    if need.name == "RAM":
        model = {k: need.parts.get(k, 0) for k in ("arena", "state", "io", "stack")}
        return _ram(board, model, {k: need.parts.get(k, 0) for k in BANK_SHARES}, True, ())[0].fits
    cycles = _cycles(graph, board) if graph is not None else "no graph"
    return not isinstance(cycles, str) and cycles[0] / board.clock_hz <= need.limit


def _ram(board: Board, model: dict[str, float], flash: dict[str, float], measured: bool,
         layers: tuple[tuple[str, float], ...]) -> tuple[Budget, str]:
    """The RAM budget and the linker section of the bank that holds the arena and state ("": the default).
    ``model``: arena, state, io and stack bytes; ``flash``: the flash budget's parts, which a bank that
    ``shares`` them holds too (Teensy 4 copies code and const data into RAM1)."""
    if board.is_linux:
        fw = board.framework_ram_bytes
        return Budget("RAM", sum(model.values()), board.ram_bytes - fw, measured, dict(model), layers,
                      f"of {human_bytes(board.ram_bytes)} after the OS's {human_bytes(fw)}"), ""
    banks = board.banks
    default, *others = banks
    parts = {**model, "framework": board.framework_ram_bytes,
             **{k: flash.get(k, 0) for k in default.shares}}
    movable = model["arena"] + model["state"]
    resident = sum(parts.values()) - movable
    rest = ", ".join(k for k in parts if k not in ("arena", "state"))

    def ram(used: float, limit: float, detail: str, section: str = "") -> tuple[Budget, str]:
        return Budget("RAM", used, limit, measured, parts, layers, detail), section

    if movable + resident <= default.bytes:
        return ram(movable + resident, default.bytes, f"in {default.name}, the default bank" if others else "")
    if others and resident > default.bytes:
        return ram(resident, default.bytes, f"{default.name} has no room even for {rest}")
    bank = next((b for b in others if movable <= b.bytes), None)
    if bank is not None:
        return ram(movable, bank.bytes, f"arena and state in {bank.name}, section {bank.section}: they do not fit "
                                        f"beside {rest} in {default.name}", bank.section)
    # Nothing holds them: the row is the bank with the most room, over by what is missing there.
    roomiest = max(banks, key=lambda b: b.bytes - (resident if b is default else 0))
    names = "; ".join(f"{b.name} {human_bytes(b.bytes)}" + (f" less {human_bytes(resident)} of {rest}"
                                                             if b is default else f" (section {b.section})")
                      for b in banks)
    return ram(movable + (resident if roomiest is default else 0), roomiest.bytes,
               f"arena and state ({human_bytes(movable)}) fit no RAM bank: {names}")


def sample_rate_of(graph: Graph) -> int:
    return int(graph.meta.get("sample_rate", 16000))


def _producers(graph: Graph) -> dict[str, str]:
    return {o: n.name for n in graph.nodes for o in n.outputs if o}


def _top(amounts: dict[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(((k, v) for k, v in amounts.items() if v > 0), key=lambda kv: -kv[1])[:_TOP])


def _weight_layers(graph: Graph) -> dict[str, float]:
    per: dict[str, float] = {}
    for node in graph.nodes:
        for i in node.inputs:
            if i and graph.tensors[i].kind == TensorKind.WEIGHT:
                per[node.name] = per.get(node.name, 0) + graph.tensors[i].nbytes
    return per


def _arena_layers(graph: Graph) -> dict[str, float]:
    """Arena buffers by the layer that writes them (scratch by the layer that owns it)."""
    producers = _producers(graph)
    per: dict[str, float] = {}
    for buf in graph.meta["plan"].buffers:
        layer = producers.get(buf.name, graph.nodes[buf.first].name if buf.first < len(graph.nodes) else buf.name)
        per[layer] = max(per.get(layer, 0), buf.size)
    return per


def _core_family(board: Board) -> str:
    return next(k for k in _STACK_ESTIMATE if board.core.startswith(k))


def _measure(graph: Graph, c_name: str, board: Board) -> tuple[int, int] | str:
    """(flash bytes, stack bytes) of the model cross-compiled for ``board``, or why it could not be measured."""
    from dietgen.toolchain import cross
    if not cross.cross_available(board):
        package = board.toolchain.debian_package
        return (f"{board.toolchain.cc} not installed (apt-get install {package})" if package else
                f"no compiler for {board.core} in Debian") + ": flash and stack estimated"
    with tempfile.TemporaryDirectory(prefix="dietgen-budget-") as tmp:
        src = write_tree(render(graph), Path(tmp) / "src")
        out = Path(tmp) / "build"
        try:
            elf = cross.build_elf(src, c_name, board, out, "bench")
            sizes = cross.elf_sizes(elf, board)
            return sizes["text"] + sizes["data"], cross.stack_bytes(out)
        except DietgenError as exc:
            return f"{exc.message.replace(tmp + '/', '')}: flash and stack estimated"


# The note player's sampling of a class per step (dg_sample_categorical): per class one expf and a few
# adds and compares over two passes. expf is costed as the core's fused sigmoid (an expf and a division), the
# closest calibrated figure; the passes as these instructions per class.
SAMPLING_PASS_INSTRUCTIONS = 8
SAMPLING = "sampling (player)"


def _sampling_count(graph: Graph, table: dict) -> float:
    """What the player adds per step when the model's output is sampled, in the table's unit."""
    control = (graph.meta.get("control") or {}).get("control") or {}
    if control.get("output") != "logits":
        return 0.0
    classes = graph.tensors[graph.outputs[0]].size
    per_class = table["fn"].get("DG_F_SIGMOID", max(table["fn"].values(), default=0.0))
    return classes * (per_class + SAMPLING_PASS_INSTRUCTIONS)


def _cycles(graph: Graph, board: Board) -> tuple[float, dict[str, float]] | str:
    """Cycles per step (total, per node, and the player's sampling when the output is sampled) from the
    per-core cost model, or why there are none."""
    from dietgen.cost import block_cycles, cost_table, has_cost_table
    if not has_cost_table(board.core):
        return f"no cost table for {board.core} (dietgen calibrate makes one): time per block unknown"
    total, per_node = block_cycles(graph, board)
    table = cost_table(board.core)
    sampling = _sampling_count(graph, table) * (table.get("cycles_per_instruction", 1.0)
                                                if table["unit"] == "instructions" else 1.0)
    if sampling:
        per_node = {**per_node, SAMPLING: sampling}
    return total + sampling, per_node


def check(model: Any = None, board: str | Board = "nano33ble", *, shapes=None, compiled: Compiled | None = None,
          measure: bool = True, stream=None, block: int | None = None,
          sample_rate: int | None = None) -> BudgetReport:
    """Flash, RAM and time per block of ``model`` on ``board`` (an id or a Board). ``measure=False`` skips the
    cross build and estimates flash and stack. ``stream`` and ``block``: see pipeline.stream_request; the
    deadline is one step's output frames at ``sample_rate``."""
    board = get_board(board) if isinstance(board, str) else board
    compiled = compiled or compile_model(model, shapes, sample_rate=sample_rate, block=block, stream=stream)
    g = compiled.graph
    plan = g.meta["plan"]
    weights = sum(t.nbytes for t in g.tensors.values() if t.kind == TensorKind.WEIGHT)

    measured = _measure(g, compiled.c_name, board) if measure else "not measured: flash and stack estimated"
    notes = (measured,) if isinstance(measured, str) else ()
    if not notes:
        flash_used, stack = measured
        code = max(0, flash_used - weights)
    else:
        kernels = {n.op_type for n in g.nodes}
        code = (_CODE_BASE + _CODE_PER_KERNEL * len(kernels) + _CODE_PER_CALL * len(g.nodes)) \
            * (2 if board.core == "avr" else 1)
        stack = _STACK_ESTIMATE[_core_family(board)]
    flash = Budget("flash", weights + code, board.flash_bytes, not notes,
                   {"weights": weights, "code": code}, _top(_weight_layers(g)))

    # io: the step's float input and output, and the board program's ring of two 16-bit blocks of audio (deeper
    # where the audio hardware takes large chunks: see the project's dietgen_app.h).
    io = 4 * (plan.in_size + plan.out_size) + 2 * 2 * out_frames(g)
    model_ram = {"arena": plan.arena_bytes, "state": plan.all_state_bytes, "io": io, "stack": stack}
    ram, section = _ram(board, model_ram, flash.parts, not notes, _top(_arena_layers(g)))

    frames, rate = out_frames(g), sample_rate_of(g)
    cycles = _cycles(g, board)
    time = None
    if isinstance(cycles, str):
        notes += (cycles,)
    else:
        total, per_node = cycles
        time = Budget("time", total / board.clock_hz, frames / rate, False,
                      {"cycles": total, "clock_hz": board.clock_hz},
                      tuple((n, c / board.clock_hz) for n, c in _top(per_node)))
    return BudgetReport(compiled.c_name, board, flash, ram, time, frames, rate, notes, g, section)


def check_all(model: Any = None, *, shapes=None, compiled: Compiled | None = None,
              measure: bool = True) -> list[BudgetReport]:
    """``check`` on every known board, compiling the model once."""
    compiled = compiled or compile_model(model, shapes)
    return [check(board=b, compiled=compiled, measure=measure) for b in boards().values()]
