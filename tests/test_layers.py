"""The package's layering: imports point one way (no module imports one that imports it back, counting imports
inside functions), and the compiler layer imports nothing board-facing (see dietgen/pipeline.py's docstring).
Also that the public API names stay the functions when their submodules are imported."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dietgen"

# Turns a model into C and knows no board (and everything these import, e.g. the model zoo for checkpoints).
COMPILER = ("dietgen.errors", "dietgen.resources", "dietgen.output", "dietgen.ir", "dietgen.ops", "dietgen.passes",
            "dietgen.codegen", "dietgen.frontend", "dietgen.control", "dietgen.notes", "dietgen.pipeline")
# Above the compiler: budgets, cost model and its calibration, projects, builds, emulators, flashing,
# verification and generation on boards, benchmarks; the CLI and the package's lazy API (the package itself) on
# top of everything.
BOARD = ("dietgen.boards", "dietgen.budget", "dietgen.cost", "dietgen.calibrate", "dietgen.glue", "dietgen.project",
         "dietgen.deploy", "dietgen.toolchain", "dietgen.verify", "dietgen.generate", "dietgen.bench")
TOP = ("dietgen.cli",)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def in_layer(module: str, layer: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in layer)


def type_checking_only(tree: ast.Module) -> set[int]:
    """Nodes under ``if TYPE_CHECKING:``: never executed, so not part of the import order."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skipped


def imported(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The dietgen modules an import statement needs: ``from a import b`` needs a.b when that is a module, else
    a (the package a's own __init__ runs before any of its modules anyway)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
            anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
            base = ".".join(anchor + ([node.module] if node.module else []))
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
    found = set()
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)
    return found


def import_graph(include_type_checking: bool) -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        skipped = set() if include_type_checking else type_checking_only(tree)
        graph[module] = set()
        for node in ast.walk(tree):       # module level and inside functions alike
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skipped:
                graph[module] |= imported(module, node)
        graph[module].discard(module)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for other in sorted(graph[module]):
            if state.get(other) == "open":
                return path[path.index(other):] + [other]
            if other not in state:
                cycle = visit(other)
                if cycle:
                    return cycle
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def test_the_graph_sees_function_level_imports():
    graph = import_graph(include_type_checking=False)
    assert "dietgen.budget" in graph["dietgen.deploy"]
    assert "dietgen.verify" in graph["dietgen"]                # the lazy API, imported inside a function
    assert "dietgen.toolchain.emulate" in graph["dietgen.calibrate"]


def test_find_cycle_names_the_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_imports_point_one_way():
    cycle = find_cycle(import_graph(include_type_checking=False))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_compiler_layer_reaches_nothing_board_facing():
    """Everything the compiler layer imports, directly or not, is neither board-facing nor above it (annotations
    under TYPE_CHECKING included: a compiler module has no business naming a board type)."""
    graph = import_graph(include_type_checking=True)
    for start in (m for m in MODULES if in_layer(m, COMPILER)):
        seen, stack, via = {start}, [start], {start: None}
        while stack:
            module = stack.pop()
            for other in graph[module]:
                if other in seen:
                    continue
                seen.add(other)
                via[other] = module
                stack.append(other)
                if in_layer(other, BOARD + TOP) or other == "dietgen":
                    chain = [other]
                    while via[chain[-1]]:
                        chain.append(via[chain[-1]])
                    pytest.fail("compiler layer reaches the board layer: " + " -> ".join(reversed(chain)))


def test_layer_lists_name_real_modules():
    for prefix in COMPILER + BOARD + TOP:
        assert any(in_layer(m, (prefix,)) for m in MODULES), prefix
    assert not [m for m in MODULES if in_layer(m, COMPILER) and in_layer(m, BOARD + TOP)]


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).resolve().parent)


def test_public_names_stay_functions_after_their_submodules_are_imported():
    code = """
import dietgen, dietgen.trim
from golden_models import tiny_conv_dense
model = tiny_conv_dense()
first = dietgen.verify(model)
second = dietgen.verify(model)
assert first.ok and second.ok
import dietgen.verify, dietgen.generate, dietgen.deploy, dietgen.budget, dietgen.pipeline
for name in ("verify", "generate", "export", "check", "compile_model", "inspect"):
    assert callable(getattr(dietgen, name)) and not isinstance(getattr(dietgen, name), type(dietgen)), name
from dietgen.verify import verify
from dietgen.generate import generate
from dietgen.deploy import export
assert (dietgen.verify, dietgen.generate, dietgen.export) == (verify, generate, export)
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-2000:]


def test_public_names_can_be_replaced_and_restored():
    import dietgen
    original = dietgen.verify
    dietgen.verify = len
    try:
        assert dietgen.verify is len
    finally:
        del dietgen.verify
    assert dietgen.verify is original


def test_importing_dietgen_stays_cheap():
    result = run_python("import sys, dietgen; print(sorted(m for m in ('torch', 'onnx', 'onnxruntime', 'numpy') "
                        "if m in sys.modules))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
