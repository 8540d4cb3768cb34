#!/usr/bin/env python
"""Generate docs/api.md (the API reference) from the package's docstrings.

Usage::

    python docs/gen_api.py            # rewrite docs/api.md
    python docs/gen_api.py --check    # exit 1 if docs/api.md is out of date

Each documented module contributes its public names (``__all__``, else names not
starting with ``_``), in ``__all__`` order: classes with their public methods and
properties, functions with their signatures, and the numpydoc docstrings verbatim
(numpydoc section underlines are turned into bold headings for Markdown).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
from pathlib import Path

#: (module, one-line description) in the order they appear in the reference.
MODULES = [
    ("imcombiners", "Top-level API: Combiner, ndcombine, imcombine, rejectors, helpers"),
    ("imcombiners.kernels", "Direct kernels (plain functions of arrays)"),
    ("imcombiners.canvas", "WCS-aligned canvases: whole-pixel offsets of dithered frames from their WCS"),
    ("imcombiners.dask", "Out-of-core engine"),
    ("imcombiners.io.nddata", "CCDData / NDData in and out"),
    ("imcombiners.io.fits", "FITS input and output: image HDUs, pixel types, headers, windowed reads, writes"),
    ("imcombiners.io.provenance", "Provenance keywords and attributes"),
    ("imcombiners.quicklook", "PNG quick-looks"),
    ("imcombiners.demo", "Synthetic raw frames and the demo job"),
]

_LIST_SECTIONS = {"Parameters", "Other Parameters", "Returns", "Yields", "Raises", "Attributes",
                  "Warns", "Receives"}


def _doc(obj) -> str:
    """numpydoc -> Markdown: section titles in bold, parameter lists as bullets,
    doctest examples as fenced code."""
    lines = (inspect.getdoc(obj) or "").splitlines()
    out: list[str] = []
    section = None
    in_code = False
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"-{3,}", nxt.strip()) and not line.startswith(" "):
            if in_code:
                out.append("```")
                in_code = False
            section = line.strip()
            out.extend(["", f"**{section}**", ""])
            i += 2
            continue
        if line.lstrip().startswith(">>>") or (in_code and line.strip()):
            if not in_code:
                out.append("```python")
                in_code = True
            out.append(line)
        elif in_code:
            out.append("```")
            in_code = False
            out.append(line)
        elif section in _LIST_SECTIONS and line.strip():
            if not line.startswith(" "):
                head, sep, kind = line.partition(" : ")
                out.append(f"- `{head.strip()}`" + (f" : {kind.strip()}" if sep else ""))
            else:
                out.append("  " + line.strip())
        else:
            out.append(line)
        i += 1
    if in_code:
        out.append("```")
    text = "\n".join(out).strip()
    # reST roles and double backquotes -> Markdown code spans
    text = re.sub(r":(?:class|func|meth|mod|attr|data|obj):`~?([^`]+)`", r"`\1`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _annotation(a) -> str:
    if a is inspect.Parameter.empty:
        return ""
    return a if isinstance(a, str) else inspect.formatannotation(a)


def _signature(name: str, obj) -> str:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return f"{name}(...)"
    parts = []
    seen_kwonly = False
    for p in sig.parameters.values():
        if p.kind is p.KEYWORD_ONLY and not seen_kwonly:
            parts.append("*")
            seen_kwonly = True
        if p.kind is p.VAR_POSITIONAL:
            seen_kwonly = True
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        text = prefix + p.name
        ann = _annotation(p.annotation)
        if ann:
            text += f": {ann}"
        if p.default is not p.empty:
            default = re.sub(r" at 0x[0-9a-f]+", "", repr(p.default))
            text += f" = {default}" if ann else f"={default}"
        parts.append(text)
    ret = _annotation(sig.return_annotation)
    return f"{name}({', '.join(parts)})" + (f" -> {ret}" if ret and ret != "None" else "")


def _public(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
        names = [n for n in names if getattr(vars(module)[n], "__module__", "") == module.__name__]
    return list(names)


def _members(cls) -> list[tuple[str, object]]:
    out = []
    for name, member in vars(cls).items():
        if name.startswith("_") or name in getattr(cls, "__dataclass_fields__", {}):
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if inspect.isfunction(member) or isinstance(member, property):
            out.append((name, member))
    return out


def render_object(qualname: str, obj, level: int = 3) -> list[str]:
    h = "#" * level
    lines: list[str] = []
    if inspect.isclass(obj):
        lines.append(f"{h} class `{_signature(qualname, obj)}`\n")
        doc = _doc(obj)
        if doc:
            lines.append(doc + "\n")
        for name, member in _members(obj):
            if isinstance(member, property):
                lines.append(f"{h}# property `{qualname}.{name}`\n")
            else:
                lines.append(f"{h}# `{_signature(qualname + '.' + name, member)}`\n")
            doc = _doc(member)
            if doc:
                lines.append(doc + "\n")
    elif callable(obj):
        lines.append(f"{h} `{_signature(qualname, obj)}`\n")
        doc = _doc(obj)
        if doc:
            lines.append(doc + "\n")
    else:
        lines.append(f"{h} `{qualname}`\n")
        lines.append(f"`{obj!r}`\n" if len(repr(obj)) < 200 else f"({type(obj).__name__})\n")
    return lines


def render() -> str:
    out = [
        "# API reference\n",
        "Generated by `python docs/gen_api.py` from the docstrings; do not edit by hand.\n",
    ]
    toc, body = [], []
    for modname, blurb in MODULES:
        try:
            module = importlib.import_module(modname)
        except Exception as exc:  # a module not built yet should not stop the rest
            body.append(f"## `{modname}`\n\n_Not importable when generated: {type(exc).__name__}._\n")
            continue
        anchor = modname.replace(".", "")
        toc.append(f"- [`{modname}`](#{anchor}) — {blurb}")
        body.append(f"## `{modname}`\n")
        mdoc = _doc(module)
        if mdoc:
            body.append(mdoc + "\n")
        for name in _public(module):
            obj = getattr(module, name, None)
            if obj is None or inspect.ismodule(obj):
                continue
            body.extend(render_object(f"{modname}.{name}", obj))
    return "\n".join(out + toc + [""] + body).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if docs/api.md is out of date")
    ap.add_argument("-o", "--output", default=str(Path(__file__).with_name("api.md")))
    args = ap.parse_args(argv)
    text = render()
    path = Path(args.output)
    if args.check:
        current = path.read_text() if path.exists() else ""
        if current != text:
            print(f"{path} is out of date; run python docs/gen_api.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(text)
    print(f"wrote {path} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
