"""Sections of RESULTS.md owned by other scripts than run.py (N-sweep, beyond-RAM run).

Each lives between ``<!-- section:NAME -->`` and ``<!-- /section:NAME -->``: its script
replaces only its own section, and run.py carries every section over when it rewrites
the file, so one script's run never erases another's results.
"""

from __future__ import annotations

import re
from pathlib import Path

_SECTION = re.compile(r"<!-- section:(?P<name>[\w-]+) -->\n.*?<!-- /section:(?P=name) -->\n", re.S)


def _wrap(name: str, text: str) -> str:
    return f"<!-- section:{name} -->\n{text.rstrip()}\n<!-- /section:{name} -->\n"


def sections(text: str) -> list[str]:
    """The marked sections of a RESULTS.md text, in order, markers included."""
    return [m.group(0) for m in _SECTION.finditer(text)]


def keep_sections(path: Path, new_text: str) -> str:
    """`new_text` followed by the marked sections of the file now at `path` (if any)."""
    try:
        old = path.read_text()
    except FileNotFoundError:
        return new_text
    kept = sections(old)
    return new_text.rstrip() + "\n\n" + "\n".join(kept) if kept else new_text


def replace_section(path: Path, name: str, text: str) -> None:
    """Put `text` in section `name` of the file (replacing it, else appended)."""
    old = path.read_text() if path.exists() else ""
    block = _wrap(name, text)
    pat = re.compile(rf"<!-- section:{re.escape(name)} -->\n.*?<!-- /section:{re.escape(name)} -->\n", re.S)
    new = pat.sub(lambda _: block, old, count=1) if pat.search(old) else old.rstrip() + "\n\n" + block
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(new)
    tmp.replace(path)
