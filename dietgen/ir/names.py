"""C identifiers from untrusted ONNX names: sanitised, never a keyword, never clashing."""
from __future__ import annotations

import re
from collections.abc import Iterable

C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline int long
register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while
_Bool _Complex _Imaginary _Alignas _Alignof _Atomic _Generic _Noreturn _Static_assert _Thread_local
bool true false asm main
""".split())

_MAX_LEN = 48


def c_identifier(name: str, fallback: str = "t") -> str:
    """A valid, lower-case-safe C identifier for ``name`` (not yet unique)."""
    ident = re.sub(r"[^0-9A-Za-z_]", "_", name)
    ident = re.sub(r"_+", "_", ident).strip("_")[:_MAX_LEN].rstrip("_")
    if not ident:
        ident = fallback
    if ident[0].isdigit():
        ident = f"{fallback}_{ident}"
    if ident in C_KEYWORDS or ident.startswith(("dg_", "DG_", "__")):
        ident = f"{fallback}_{ident}"
    return ident


def unique_c_names(names: Iterable[str], fallback: str = "t") -> dict[str, str]:
    """Map each name to a distinct C identifier; names that clash after sanitising get numeric suffixes.

    Comparison is case-insensitive because the header also derives upper-case macro names from them.
    """
    taken: set[str] = set()
    mapping: dict[str, str] = {}
    for name in names:
        if name in mapping:
            continue
        base = c_identifier(name, fallback)
        ident, k = base, 1
        while ident.lower() in taken:
            ident = f"{base}_{k}"
            k += 1
        taken.add(ident.lower())
        mapping[name] = ident
    return mapping
