"""Every Python snippet of the documentation runs as written.

The ```python blocks of README.md and docs/*.md are executed file by file, in order, in
one namespace per file and a fresh working directory (a reader pasting them one after
the other gets the same). A block may opt out only by starting with a comment
``# not run by the tests: <reason>`` (e.g. it needs a SLURM cluster); pseudo-code is
fenced as ``text``, not ``python``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
_OPT_OUT = "# not run by the tests:"


def _blocks(path: Path) -> list[str]:
    return _BLOCK.findall(path.read_text())


WITH_SNIPPETS = [p for p in DOCS if _blocks(p)]


@pytest.mark.parametrize("doc", WITH_SNIPPETS, ids=lambda p: p.name)
def test_python_snippets_run(doc, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{doc.stem}"}
    ran = 0
    for k, code in enumerate(_blocks(doc)):
        first = code.lstrip().splitlines()[0] if code.strip() else ""
        if first.startswith(_OPT_OUT):
            assert len(first) > len(_OPT_OUT) + 5, f"{doc.name} block {k}: say why it is not run"
            continue
        assert ">>>" not in code, f"{doc.name} block {k}: write plain code, not a console session"
        try:
            exec(compile(code, f"{doc.name}[python block {k}]", "exec"), namespace)  # noqa: S102
        except Exception as exc:  # pragma: no cover - the failure message is the point
            raise AssertionError(f"{doc.name}, python block {k} fails as written:\n{code}") from exc
        ran += 1
    if not ran:
        pytest.skip(f"{doc.name}: its only snippets need a cluster")


def test_opt_outs_are_few():
    """Only snippets that need machinery a test machine has not (a SLURM cluster) opt out."""
    skipped = [(p.name, b.splitlines()[0]) for p in DOCS for b in _blocks(p)
               if b.lstrip().startswith(_OPT_OUT)]
    assert all("SLURM" in line or "PBS" in line for _name, line in skipped), skipped
