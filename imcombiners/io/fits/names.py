"""Image names as IRAF and users write them: ``file.fits[1]``, ``file.fits[SCI]``, ``file.fits[SCI,2]``.

An *HDU selector* is None (the first HDU holding an image), an index (0 = primary), an
EXTNAME (case-insensitive, as IRAF and astropy match it) or an ``(EXTNAME, EXTVER)``
pair. :func:`split_name` takes the selector off the end of a file name; a file whose
name really ends in brackets wins over the IRAF reading (it exists).
"""

from __future__ import annotations

import os
import re
from typing import Any, Union

__all__ = ["HduSelector", "split_name", "parse_hdu", "hdu_label"]

HduSelector = Union[None, int, str, tuple[str, int]]

_SUFFIX = re.compile(r"^(?P<path>.+?)\[(?P<spec>[^\[\]]*)\]$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-. ]*$")


def parse_hdu(spec: Any, *, what: str = "hdu") -> HduSelector:
    """Normalise an HDU selector given as an int, a string or an ``(EXTNAME, EXTVER)`` pair.

    ``"1"`` -> 1, ``"SCI"`` -> ``"SCI"``, ``"SCI,2"`` -> ``("SCI", 2)``.

    Raises
    ------
    ValueError
        For an image section (``[1:100,*]``: not an HDU) or anything unreadable.
    """
    if spec is None:
        return None
    if isinstance(spec, bool):
        raise TypeError(f"{what} must be an HDU index, an EXTNAME or (EXTNAME, EXTVER); got {spec!r}")
    if isinstance(spec, int):
        if spec < 0:
            raise ValueError(f"{what} must be >= 0 (0 = the primary HDU); got {spec}")
        return spec
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        return (spec[0].strip(), int(spec[1]))
    if not isinstance(spec, str):
        raise TypeError(f"{what} must be an HDU index, an EXTNAME or (EXTNAME, EXTVER); got {spec!r}")
    text = spec.strip()
    if text.lstrip("+").isdigit():
        return int(text)
    if ":" in text or "*" in text:
        raise ValueError(
            f"{what}: '[{text}]' is an image section; sections are not supported (give the whole "
            "image, or crop the files first)"
        )
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 1 and _NAME.match(parts[0]):
        return parts[0]
    if len(parts) == 2 and _NAME.match(parts[0]) and parts[1].isdigit():
        return (parts[0], int(parts[1]))
    raise ValueError(
        f"{what}: cannot read '{text}' as an HDU (give an index such as 1, an EXTNAME such as "
        "SCI, or EXTNAME,EXTVER such as SCI,2)"
    )


def split_name(name: str | os.PathLike[str]) -> tuple[str, HduSelector]:
    """``"f.fits[SCI,2]"`` -> ``("f.fits", ("SCI", 2))``; a name without a selector -> ``(name, None)``.

    A name that exists as a file is returned unchanged (a file may be called ``a[1].fits``).
    """
    text = os.fspath(name)
    m = _SUFFIX.match(text)
    if m is None or os.path.exists(text):
        return text, None
    return m.group("path"), parse_hdu(m.group("spec"), what=f"image name '{text}'")


def hdu_label(selector: HduSelector) -> str:
    """The IRAF-style suffix for messages: ``[1]``, ``[SCI]``, ``[SCI,2]`` (empty for None)."""
    if selector is None:
        return ""
    if isinstance(selector, tuple):
        return f"[{selector[0]},{selector[1]}]"
    return f"[{selector}]"
