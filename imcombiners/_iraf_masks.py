"""IRAF ``masktype`` / ``maskvalue``: which pixels of an integer bad-pixel mask are bad.

Each input frame may have an integer mask (IRAF reads it from the file named by the
frame's ``BPM`` keyword, or by the keyword of ``masktype="!KEY ..."``). The mask type
decides which values are bad:

=============  ====================================================================
``goodvalue``  bad unless the value equals ``maskvalue`` (``maskvalue=0``: nonzero = bad)
``badvalue``   bad where the value equals ``maskvalue``
``goodbits``   bad where ``value & maskvalue == 0``
``badbits``    bad where ``value & maskvalue != 0``
``novalue``    0 good, ``maskvalue`` = "no value", any other value bad (see below)
``"<v"``       (``maskvalue``) bad where value >= v
``">v"``       (``maskvalue``) bad where value <= v
=============  ====================================================================

IRAF rules reproduced here (IRAF 2.17, checked against real-IRAF cases):

* a frame whose whole mask is 0 counts as having no mask (all good), except for the two
  "inverted" types where 0 is bad everywhere (``badvalue`` with 0, ``goodvalue`` with a
  nonzero value). So for ``goodbits`` and ``">v"`` an all-zero mask makes the frame all
  good although a 0 pixel of any other mask is bad;
* a ``"<v"``/``">v"`` maskvalue overrides the mask type, even ``"none"``;
* ``badbits`` with 0 means no masks; ``goodvalue``/``goodbits`` with 0 mean nonzero = bad;
* a negative ``maskvalue`` is an error, and so is ``novalue`` with 0;
* a frame without the mask keyword has no mask.

The kernel reads one byte per pixel (:func:`mask_codes`): 0 good, 1 bad (or "no value"
with ``novalue``), 2 bad but holding a value (``novalue`` only), 4 good although the
mask value is nonzero (IRAF then treats the mask line as not empty, which changes how
the weighted average divides by the weights).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MaskRule", "MaskPart", "parse_mask_rule", "mask_codes", "mask_file", "GOOD", "BAD", "BADVAL", "GOODSET"]

GOOD = 0
BAD = 1
BADVAL = 2
GOODSET = 4

_TYPES = ("none", "goodvalue", "badvalue", "goodbits", "badbits", "novalue")


@dataclass(frozen=True)
class MaskRule:
    """A resolved mask type.

    Attributes
    ----------
    kind : str
        ``"none"``, ``"boolean"`` (nonzero = bad), ``"goodvalue"``, ``"badvalue"``,
        ``"goodbits"``, ``"badbits"``, ``"novalue"``, ``"ltval"`` (bad >= value),
        ``"gtval"`` (bad <= value).
    value : int
        ``maskvalue``.
    keyword : str
        Header keyword naming each frame's mask file (``BPM`` unless ``!KEY``).
    invert : bool
        An all-zero mask is all bad (and is kept), not "no mask".
    """

    kind: str
    value: int = 0
    keyword: str = "BPM"
    invert: bool = False

    @property
    def active(self) -> bool:
        return self.kind != "none"

    @property
    def novalue(self) -> bool:
        return self.kind == "novalue"


def _strdic(word: str, choices: Sequence[str], what: str) -> str:
    w = word.lower()
    hits = [c for c in choices if c.startswith(w)] if w else []
    exact = [c for c in hits if c == w]
    if exact:
        return exact[0]
    if len(hits) == 1:
        return hits[0]
    raise ValueError(f"masktype: invalid or ambiguous {what} {word!r}; use none, goodvalue, badvalue, goodbits, "
                     f"badbits, novalue, or '!KEYWORD [type]'")


def parse_mask_rule(masktype: Any, maskvalue: Any) -> MaskRule:
    """IRAF's interpretation of ``masktype`` and ``maskvalue`` (``ic_mopen``)."""
    if masktype is None:
        masktype = "none"
    if not isinstance(masktype, str):
        raise TypeError(f"masktype must be a string; got {masktype!r}")
    words = masktype.split()
    keyword = "BPM"
    kind = "none"
    if words:
        if words[0].startswith("!"):
            keyword = words[0][1:]
            if not keyword:
                raise ValueError(f"masktype: '!' must be followed by a header keyword; got {masktype!r}")
            kind = _strdic(words[1], _TYPES, "mask type") if len(words) > 1 else "goodvalue"
        else:
            kind = _strdic(words[0], _TYPES, "mask type")
    # maskvalue: a number, or "<v" / ">v" (which override the type)
    if isinstance(maskvalue, bool):
        raise TypeError(f"maskvalue must be a number or '<v' / '>v'; got {maskvalue!r}")
    text = str(maskvalue).strip() if maskvalue is not None else "0"
    if text.startswith("<"):
        kind, text = "ltval", text[1:]
    elif text.startswith(">"):
        kind, text = "gtval", text[1:]
    try:
        rval = float(text)
    except ValueError:
        raise ValueError(f"maskvalue: bad mask value {maskvalue!r}") from None
    if not math.isfinite(rval):
        raise ValueError(f"maskvalue: bad mask value {maskvalue!r}")
    value = int(rval)  # IRAF assigns the real to an integer (truncation)
    if value < 0:
        raise ValueError(f"maskvalue: bad mask value {maskvalue!r} (must be >= 0)")
    if value == 0 and kind == "novalue":
        raise ValueError("maskvalue cannot be 0 for masktype 'novalue'")
    invert = False
    if kind == "badbits" and value == 0:
        kind = "none"
    elif value == 0 and kind in ("goodvalue", "goodbits"):
        kind = "boolean"
    elif (kind == "badvalue" and value == 0) or (kind == "goodvalue" and value != 0):
        invert = True
    return MaskRule(kind, value, keyword, invert)


def mask_codes(raw: np.ndarray, rule: MaskRule) -> np.ndarray:
    """Per-pixel codes (uint8) of an integer mask under ``rule`` (see the module docstring)."""
    m = np.asarray(raw)
    if m.dtype == bool:
        if rule.kind in ("boolean", "goodvalue") and rule.value == 0:
            return m.view(np.uint8)
        m = m.astype(np.uint8)
    if m.dtype.kind == "f":
        if not np.all(np.isfinite(m)):
            raise ValueError("masks: mask values must be finite integers")
        m = m.astype(np.int64)
    elif m.dtype.kind not in "iu":
        raise TypeError(f"masks: integer masks expected; got dtype {m.dtype}")
    v = rule.value
    k = rule.kind
    if k == "boolean":
        bad = m != 0
    elif k == "badbits":
        bad = (m & v) != 0
    elif k == "badvalue":
        bad = m == v
    elif k == "goodbits":
        bad = (m & v) == 0
    elif k == "goodvalue":
        bad = m != v
    elif k == "ltval":
        bad = m >= v
    elif k == "gtval":
        bad = m <= v
    elif k == "novalue":
        codes = np.where(m == 0, GOOD, np.where(m == v, BAD, BADVAL)).astype(np.uint8)
        return codes
    else:  # none
        return np.zeros(m.shape, np.uint8)
    codes = bad.astype(np.uint8)
    if k != "boolean":
        codes[(~bad) & (m != 0)] = GOODSET
    return codes


def is_empty(raw: np.ndarray) -> bool:
    """IRAF's empty mask: every value is 0."""
    return not np.any(np.asarray(raw))


@dataclass(frozen=True, eq=False)
class MaskPart:
    """One plane of an image's mask (``project=yes``): IRAF judges whether the mask is
    empty (all 0: no mask) on the whole mask, not plane by plane.

    ``data``: the plane (array, or a reader with ``shape`` and ``read``); ``empty``: the
    whole mask is 0.
    """

    data: Any
    empty: bool


def mask_file(name: str, image_path: str | None) -> str:
    """Find a mask file as IRAF does: as given, else in the image's directory."""
    if os.path.exists(name):
        return name
    if image_path is not None and os.path.dirname(name) == "":
        cand = os.path.join(os.path.dirname(os.fspath(image_path)), name)
        if os.path.exists(cand):
            return cand
    raise ValueError(f"masks: bad pixel mask not found ({name})")


def read_mask(path: str) -> np.ndarray:
    """An integer mask image (first HDU with data)."""
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False) as hdul:
            hdu = next((h for h in hdul if getattr(h, "data", None) is not None), None)
            if hdu is None:
                raise ValueError(f"masks: {path!r} has no image data")
            data = np.asarray(hdu.data)
    except OSError as exc:
        raise ValueError(f"masks: cannot read mask {path!r}: {exc}") from None
    if data.dtype.kind == "f":
        if not np.all(np.isfinite(data)) or not np.all(data == np.trunc(data)):
            raise ValueError(f"masks: {path!r} holds non-integer values")
        data = data.astype(np.int64)
    return data.astype(data.dtype.newbyteorder("="), copy=False)


def header_mask_names(rule: MaskRule, headers: Sequence[Mapping[str, Any] | None] | None,
                      n: int) -> list[str | None]:
    """The mask file named by each frame's keyword (None: no keyword, no mask)."""
    from ._iraf_wcs import header_value

    out: list[str | None] = []
    for i in range(n):
        h = None if headers is None else headers[i]
        v = header_value(h, rule.keyword)
        out.append(None if v is None or str(v).strip() == "" else str(v).strip())
    return out
