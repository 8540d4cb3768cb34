"""Expand command-line inputs (paths, globs, ``@list`` files, IRAF comma lists).

Why a module of its own: both ``combine`` and ``imcombine`` accept IRAF-style
input lists, and the rules (order, comments, relative paths) must be identical.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterable

from ._errors import CLIError

__all__ = ["expand_inputs", "read_list_file"]

_GLOB_CHARS = set("*?[")


def read_list_file(path: str | os.PathLike) -> list[str]:
    """Read an IRAF-style ``@list`` file: one name per line.

    Blank lines and lines starting with ``#`` are skipped; surrounding white space is
    stripped. Relative names are kept as written (IRAF resolves them against the
    current directory, and so do we).

    Parameters
    ----------
    path : str or os.PathLike
        The list file (without the leading ``@``).

    Returns
    -------
    list of str
        The entries in file order.
    """
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"list file not found: '{p}'")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CLIError(f"cannot read list file '{p}': {exc}") from None
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            entries.append(line)
    return entries


def _expand_token(token: str, depth: int) -> list[str]:
    token = token.strip()
    if not token:
        return []
    if token.startswith("@"):
        if depth > 8:
            raise CLIError(f"@list files nested too deeply at '{token}'")
        out: list[str] = []
        for entry in read_list_file(token[1:]):
            out.extend(_expand_token(entry, depth + 1))
        return out
    # IRAF lists separate names with commas; a real file name with a comma wins.
    if "," in token and not os.path.exists(token):
        out = []
        for part in token.split(","):
            out.extend(_expand_token(part, depth))
        return out
    if _GLOB_CHARS & set(token) and not os.path.exists(token):
        matches = sorted(glob.glob(os.path.expanduser(token)))
        if not matches:
            raise CLIError(f"no file matches '{token}'")
        return matches
    path = os.path.expanduser(token)
    if not os.path.exists(path):
        raise CLIError(f"input file not found: '{token}'")
    if os.path.isdir(path) and not path.rstrip("/").endswith(".zarr"):
        raise CLIError(f"input '{token}' is a directory; give files, a glob or an @list")
    return [path]


def expand_inputs(tokens: Iterable[str]) -> list[str]:
    """Turn command-line input tokens into an ordered list of existing paths.

    Parameters
    ----------
    tokens : iterable of str
        Each a path, a glob (``raw/*.fits``, sorted by name), an ``@list`` file
        (one entry per line, entries may themselves be globs or ``@lists``), or an
        IRAF comma-separated list (``a.fits,b.fits``).

    Returns
    -------
    list of str
        Paths in the order given (globs sorted). Duplicates are kept: combining a
        frame twice is the caller's choice, as in IRAF.

    Raises
    ------
    CLIError
        When a file, glob or list file does not resolve, or nothing is left.
    """
    paths: list[str] = []
    for token in tokens:
        paths.extend(_expand_token(token, 0))
    if not paths:
        raise CLIError("no input images given")
    return paths
