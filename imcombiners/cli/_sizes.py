"""Sizes given on the command line (``--memory-limit 2GB``, ``--memory 4GB``).

The grammar is Dask's ``dask.utils.parse_bytes`` (what ``memory_limit=`` accepts in
the library), written out here so that the command line reads a size without importing
Dask; ``tests/test_cli_parsing.py`` checks both agree.
"""

from __future__ import annotations

from ._errors import CLIError

__all__ = ["parse_memory", "parse_bytes"]

_DECIMAL = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15}
_BINARY = {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50}
#: unit (lower case) -> bytes: kB..PB, KiB..PiB, their one/two-letter forms, B or nothing.
_UNITS = {"b": 1, "": 1, **_DECIMAL, **_BINARY, **{k[0]: v for k, v in _DECIMAL.items()},
          **{k[:-1]: v for k, v in _BINARY.items()}}


def parse_bytes(text: str) -> int:
    """``2GB`` -> 2000000000, ``512MiB``, ``1e9``, ``MB`` (one megabyte); ValueError otherwise."""
    s = text.replace(" ", "")
    if not any(c.isdigit() for c in s):
        s = "1" + s
    index = len(s)
    while index > 0 and s[index - 1].isalpha():
        index -= 1
    prefix, suffix = s[:index], s[index:]
    try:
        number = float(prefix)
    except ValueError:
        raise ValueError(f"could not interpret {prefix!r} as a number") from None
    try:
        multiplier = _UNITS[suffix.lower()]
    except KeyError:
        raise ValueError(f"could not interpret {suffix!r} as a byte unit") from None
    return int(number * multiplier)


def parse_memory(text: str | None, option: str = "--memory-limit") -> int | None:
    """``2GB``, ``512MiB``, ``1e9`` -> bytes (None stays None)."""
    if text is None:
        return None
    try:
        value = int(parse_bytes(text))
    except (ValueError, TypeError, OverflowError):
        raise CLIError(f"{option}: expected a size such as 2GB or 512MiB, got '{text}'") from None
    if value <= 0:
        raise CLIError(f"{option}: must be positive, got '{text}'")
    return value
