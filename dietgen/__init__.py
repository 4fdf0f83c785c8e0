"""dietgen: trimmed generative audio models as verified, malloc-free C for small boards.

Python API (the CLI is a thin layer over these):
    dietgen.compile_model(model, shapes)  -> Compiled (normalised ONNX + planned IR graph)
    dietgen.export(model, out_dir)        -> writes the C library and host build files (with board=: a PlatformIO
                                             project, checked against the board's budget)
    dietgen.verify(model)                 -> VerifyReport (generated C vs onnxruntime)
    dietgen.inspect(model)                -> Inspection (per-node cost and the memory plan)
    dietgen.check(model, board)           -> BudgetReport (flash, RAM, time per block against a board)
    dietgen.StreamSpec(block, time_axes)  -> what to stream (the ``stream=`` argument of the calls above)
    dietgen.generate(model, notes)        -> Generated (notes played by the generated C: audio, real-time factor)
    dietgen.parse_notes(text), dietgen.read_midi(path) -> the notes generate takes

These names always mean the functions, also where a submodule has the same name (dietgen.verify,
dietgen.generate): ``import dietgen.verify as m`` therefore binds the function; reach such a module with
``from dietgen.verify import ...`` or sys.modules.
"""
import sys
import types

from dietgen.version import __version__  # noqa: F401  (dietgen.__version__)


def _load(name):
    if name == "compile_model":
        from dietgen.pipeline import compile_model
        return compile_model
    if name == "export":
        from dietgen.deploy import export
        return export
    if name == "StreamSpec":
        from dietgen.passes.stream import StreamSpec
        return StreamSpec
    if name == "verify":
        from dietgen.verify import verify
        return verify
    if name in ("check", "check_all"):
        from dietgen import budget
        return getattr(budget, name)
    if name == "generate":
        from dietgen.generate import generate
        return generate
    if name in ("parse_notes", "read_midi", "Note"):
        from dietgen import notes
        return getattr(notes, name)
    from dietgen.report.inspect import inspect
    return inspect


def _public(name):
    """The package attribute ``name``, loaded on first use (importing dietgen, for the CLI's --help say, must not
    pay for torch and onnxruntime). Importing a submodule of the same name makes the import system set the
    package attribute to that module; the setter ignores exactly that, so the name stays the function. Any other
    assignment (a test's monkeypatch) holds until deleted or replaced."""
    def get(package):
        return package.__dict__[name] if name in package.__dict__ else _load(name)

    def set_(package, value):
        if not (isinstance(value, types.ModuleType) and value.__name__ == f"{package.__name__}.{name}"):
            package.__dict__[name] = value

    def delete(package):
        package.__dict__.pop(name, None)

    return property(get, set_, delete)


class _Package(types.ModuleType):
    """The dietgen package with its public API as properties (see _public)."""


for _name in ("compile_model", "export", "StreamSpec", "verify", "check", "check_all", "generate", "parse_notes",
              "read_midi", "Note", "inspect"):
    setattr(_Package, _name, _public(_name))
del _name

sys.modules[__name__].__class__ = _Package
