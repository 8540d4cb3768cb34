"""Output paths checked before any work; directories the run creates, removed if it fails.

Why a module of its own: every command writes several files (the master, diagnostic
images, a preview, IRAF's sigma and mask images, a log) and each must be checked the same
way before a single pixel is read: not one of the inputs (even with ``--overwrite``: a
master written over a raw frame destroys data), not existing unless ``--overwrite``, not
a directory, not given twice, in a directory that exists and can be written.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence

from ._errors import EXIT_FAILURE, CLIError

__all__ = ["check_outputs", "created_directory", "public_text"]

# Temporary names of atomic outputs: ".<name>.<12 hex>.part" (+ a suffix added for
# matplotlib): users never see them; messages name the final file.
_PART = r"\.([^/\\\s'\"]+?)\.[0-9a-f]{12}\.part(?:\.png)?"


def public_text(text: str) -> str:
    """``text`` with temporary ``.name.<hex>.part`` names replaced by the final names."""
    if ".part" not in text:  # (most messages: no pattern compiled for them)
        return text
    return re.sub(_PART, r"\1", text)


def _real(path: str) -> str:
    return os.path.realpath(os.path.abspath(os.path.expanduser(path)))


def check_outputs(outputs: Mapping[str, str], inputs: Sequence[str], *, overwrite: bool,
                  directories: Sequence[str] = ()) -> None:
    """Refuse outputs that cannot or must not be written, before any work starts.

    Parameters
    ----------
    outputs : mapping of label -> path
        Files to be written, labelled by the option naming them (``-o``, ``sigmas=``...).
        Empty paths are skipped.
    inputs : sequence of str
        Input files (IRAF ``[...]`` selectors removed by the caller).
    overwrite : bool
        Existing outputs may be replaced (inputs never).
    directories : sequence of str
        Directories the run will create if missing (their parent must exist).

    Raises
    ------
    CLIError
        Status 2 for a bad path (an input, exists, a directory, twice, no such
        directory), status 1 when the directory cannot be written.
    """
    in_real = {_real(p): p for p in inputs}
    seen: dict[str, str] = {}
    will_create = {_real(d) for d in directories}
    for label, path in outputs.items():
        if not path:
            continue
        real = _real(path)
        if real in in_real:
            raise CLIError(f"{label} '{path}' is one of the inputs; refusing to write over an input "
                           "(choose another name)")
        if real in seen:
            raise CLIError(f"{label} '{path}' is also given as {seen[real]}; give each output its own name")
        seen[real] = label
        if os.path.isdir(path) and not path.rstrip("/").endswith(".zarr"):
            raise CLIError(f"{label} '{path}' is a directory; give a file name")
        if os.path.lexists(path) and not overwrite:
            raise CLIError(f"output '{path}' exists (use --overwrite to replace it)")
        parent = os.path.dirname(os.path.abspath(path))
        if _real(parent) in will_create:  # created by the run: its nearest existing ancestor
            while parent and not os.path.isdir(parent) and os.path.dirname(parent) != parent:
                parent = os.path.dirname(parent)
        if not os.path.isdir(parent):
            raise CLIError(f"output directory does not exist: '{parent}' (for {label} '{path}')")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise CLIError(f"cannot write {label} '{path}': Permission denied (directory '{parent}')",
                           status=EXIT_FAILURE)


@contextlib.contextmanager
def created_directory(path: str | None) -> Iterator[None]:
    """Create ``path`` (and missing parents) for the run; remove what was created if it fails.

    Directories that existed before are left alone; created ones are removed on any
    failure or interrupt when they are empty (the run's files are written atomically, so
    a failed run leaves none).
    """
    if not path:
        yield
        return
    made: list[str] = []
    p = os.path.abspath(path)
    while not os.path.isdir(p):
        made.append(p)
        p = os.path.dirname(p)
    for d in reversed(made):
        os.mkdir(d)
    try:
        yield
    except BaseException:
        for d in made:  # deepest first
            _remove_empty_tree(d)
        raise


def _remove_empty_tree(top: str) -> None:
    """Remove ``top`` and its subdirectories when they hold no file."""
    for root, _dirs, _files in os.walk(top, topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(root)  # fails (and stays) when something is in it
