"""Sizes given on the command line (``--memory-limit 2GB``, ``--memory 4GB``)."""

from __future__ import annotations

from ._errors import CLIError

__all__ = ["parse_memory"]


def parse_memory(text: str | None, option: str = "--memory-limit") -> int | None:
    """``2GB``, ``512MiB``, ``1e9`` -> bytes (None stays None)."""
    if text is None:
        return None
    from dask.utils import parse_bytes

    try:
        value = int(parse_bytes(text))
    except (ValueError, TypeError):
        raise CLIError(f"{option}: expected a size such as 2GB or 512MiB, got '{text}'") from None
    if value <= 0:
        raise CLIError(f"{option}: must be positive, got '{text}'")
    return value
