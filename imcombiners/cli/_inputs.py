"""Expand command-line inputs (paths, globs, ``@list`` files, IRAF comma lists).

Why a module of its own: both ``combine`` and ``imcombine`` accept IRAF-style
input lists, and the rules (order, comments, relative paths, IRAF image names such as
``raw/a.fits[1]`` or ``raw/*.fits[SCI,2]``) must be identical.
"""

from __future__ import annotations

import os
import re
from typing import Iterable

from ._errors import CLIError

__all__ = ["expand_inputs", "read_list_file", "file_of", "looks_like_list"]

_GLOB_CHARS = set("*?[")
_SELECTOR = re.compile(r"^(?P<base>.+?)(?P<sel>\[[^\[\]]*\])$")


def _glob(pattern: str) -> list[str]:
    # glob (and fnmatch) are imported only when a name is tried as a pattern: a run over
    # plain file names does not load them
    import glob

    return glob.glob(pattern)


def _split_selector(token: str) -> tuple[str, str]:
    """``a.fits[SCI,2]`` -> (``a.fits``, ``[SCI,2]``); a name that exists keeps its brackets."""
    m = _SELECTOR.match(token)
    if m is None or os.path.exists(token) or _glob(os.path.expanduser(token)):
        return token, ""  # a file, or a glob ending in a character class (raw/f[0-9])
    from imcombiners.io.fits.names import parse_hdu

    try:
        parse_hdu(m.group("sel")[1:-1], what=f"input '{token}'")
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    return m.group("base"), m.group("sel")


def file_of(name: str) -> str:
    """The file of an input name (an IRAF ``[...]`` selector removed)."""
    return _split_selector(name)[0]


def looks_like_list(path: str) -> bool:
    """A small text file whose lines name existing files: an @list given without the @."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
        text = head.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if text.startswith("SIMPLE") or "\0" in text:
        return False
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if not lines:
        return False
    base = os.path.dirname(path)
    hits = 0
    for ln in lines[:50]:
        name = _split_selector(ln)[0] if "[" in ln else ln
        if os.path.exists(name) or os.path.exists(os.path.join(base, name)) or _glob(name):
            hits += 1
    return hits > 0


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
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise CLIError(f"list file not found: '{p}'")
    try:
        with open(p) as fh:
            text = fh.read()
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
    base, selector = _split_selector(token)
    # IRAF lists separate names with commas; a real file name with a comma wins (and
    # the comma of an [EXTNAME,EXTVER] selector is not a separator).
    if "," in base and not os.path.exists(base):
        out = []
        for part in _split_commas(token):
            out.extend(_expand_token(part, depth))
        return out
    if _GLOB_CHARS & set(base) and not os.path.exists(base):
        matches = sorted(_glob(os.path.expanduser(base)))
        if not matches:
            raise CLIError(f"no file matches '{token}'")
        return [m + selector for m in matches]
    path = os.path.expanduser(base)
    if not os.path.exists(path):
        raise CLIError(f"input file not found: '{base}'")
    if os.path.isdir(path) and not path.rstrip("/").endswith(".zarr"):
        raise CLIError(f"input '{token}' is a directory; give files, a glob or an @list")
    return [path + selector]


def _split_commas(token: str) -> list[str]:
    """Split an IRAF comma list, keeping commas inside ``[...]``."""
    parts, depth, cur = [], 0, ""
    for ch in token:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


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
