"""dietgen: trimmed generative audio models as verified, malloc-free C for small boards.

Python API (the CLI is a thin layer over these):
    dietgen.compile_model(model, shapes)  -> Compiled (normalised ONNX + planned IR graph)
    dietgen.export(model, out_dir)        -> writes the C library and host build files
    dietgen.verify(model)                 -> VerifyReport (generated C vs onnxruntime)
    dietgen.inspect(model)                -> Inspection (per-node cost and the memory plan)
    dietgen.check(model, board)           -> BudgetReport (flash, RAM, time per block against a board)
    dietgen.StreamSpec(block, time_axes)  -> what to stream (the ``stream=`` argument of the calls above)
    dietgen.generate(model, notes)        -> Generated (notes played by the generated C: audio, real-time factor)
    dietgen.parse_notes(text), dietgen.read_midi(path) -> the notes generate takes
"""
__version__ = "0.1.0"


def __getattr__(name):
    # Lazy: importing dietgen (for the CLI's --help, say) must not pay for torch and onnxruntime.
    if name in ("compile_model", "export"):
        from dietgen import pipeline
        return getattr(pipeline, name)
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
    if name == "inspect":
        from dietgen.report.inspect import inspect
        return inspect
    raise AttributeError(name)
