"""Numbers from FITS header keywords, one per image (IRAF's ``!KEYWORD`` and friends).

Used by IRAF mode (noise parameters, scale/zero/weight sources, exposure times,
NCOMBINE) and by the library modes' ``weights``/``scale``/``zero`` given as ``"!KEY"`` or
``"exposure"``. A header is any mapping (an astropy ``Header`` is one); keywords are looked
up as given, then upper and lower case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["Header", "EXPOSURE_KEYWORDS", "header_value", "header_float", "keyword_values", "header_numbers"]

#: One image header: keyword -> value (an astropy Header or any mapping).
Header = Mapping[str, object]

#: Keywords tried, in order, for ``"exposure"`` in the library modes.
EXPOSURE_KEYWORDS = ("EXPTIME", "EXPOSURE")


def header_value(headers: Sequence[Header | None] | None, i: int, key: str, default: object = None) -> object:
    """Keyword ``key`` of image ``i`` (exact, upper or lower case), or ``default``."""
    if headers is None or headers[i] is None:
        return default
    h = headers[i]
    for k in (key, key.upper(), key.lower()):
        if k in h:  # type: ignore[operator]
            return h[k]  # type: ignore[index]
    return default


def header_float(value: object) -> float:
    """A header value as a float: numbers, and numbers written as strings (a decimal comma
    as cameras write ``'3,2E-05'``, a Fortran ``1.5D3``) too; ValueError otherwise."""
    from .io.fits.header import header_number  # the one reading of header numbers

    x = header_number(value)
    if x is None:
        raise ValueError(f"not a number: {value!r}")
    return x


def keyword_values(name: str, key: str, headers: Sequence[Header | None] | None, n: int) -> list[float]:
    """The number under ``key`` in each of the n headers; ValueError naming ``name`` and the
    image when a header lacks it or it is not a number."""
    vals = []
    for i in range(n):
        v = header_value(headers, i, key)
        if v is None:
            raise ValueError(f"{name}: header keyword {key!r} not found for image {i}")
        try:
            vals.append(header_float(v))
        except (TypeError, ValueError):
            raise ValueError(f"{name}: header keyword {key!r} of image {i} is not a number ({v!r})") from None
    return vals


def header_numbers(headers: Sequence[Header | None] | None, n: int, key: str | None,
                   default: float) -> list[float]:
    """Per-image numeric header values (``default`` when absent or not a number)."""
    out = []
    for i in range(n):
        v = header_value(headers, i, key, None) if key else None
        try:
            out.append(default if v is None else header_float(v))
        except (TypeError, ValueError):
            out.append(default)
    return out
