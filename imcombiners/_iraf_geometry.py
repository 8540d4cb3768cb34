"""IRAF ``imcombine`` output geometry: image offsets, the output canvas and ``outlimits``.

IRAF places every input frame on an output canvas at an integer offset (``offsets``
parameter) and makes the canvas just large enough to hold them all; ``outlimits`` then
crops (or extends) it. This module reproduces that bookkeeping (IRAF ``ic_setout``):

* ``"none"``: every frame at the origin;
* ``"wcs"`` / ``"world"``: the world point at the reference value (``CRVALn``) of the
  first frame, converted to pixels in each frame: the offset of frame i is
  ``nint(pixel in frame 1 - pixel in frame i)``;
* ``"physical"``: the same with IRAF's physical system (``LTVn``/``LTMi_j``);
* ``"grid n1 s1 n2 s2 ..."``: frame i (0-based) at ``x = (i mod n1) * s1``,
  ``y = ((i div n1) mod n2) * s2`` and so on;
* a file name: one line per frame holding the x, y, ... offsets; a ``# absolute`` line
  keeps the values as given (``# relative``, the default, subtracts the per-axis
  minimum);
* a sequence of N rows of numbers: the lines of such a file (x first, IRAF's order).

Offsets are always given and returned in IRAF axis order: x (the last NumPy axis)
first. Every value is rounded with Fortran's NINT (half away from zero).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Geometry", "OffsetSpec", "parse_offsets", "check_offsets", "frame_offsets", "output_geometry",
           "parse_outlimits", "nint", "StatSection", "parse_statsec", "frame_section"]

_KINDS = ("none", "wcs", "world", "physical", "grid")
#: largest canvas IRAF accepts (100 Gpixel); also our guard against absurd offsets
_MAX_PIXELS = 100 * 1_000_000_000


def nint(x: float) -> int:
    """Fortran NINT: round half away from zero."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


@dataclass(frozen=True)
class OffsetSpec:
    """A parsed ``offsets`` parameter.

    Attributes
    ----------
    kind : str
        ``"none"``, ``"wcs"``, ``"world"``, ``"physical"``, ``"grid"``, ``"file"`` or
        ``"numbers"``.
    grid : tuple of (int, int)
        ``(n, step)`` per axis for ``"grid"``.
    values : ndarray or None
        ``(N, ndim)`` offsets (IRAF axis order, already rounded) for ``"file"`` and
        ``"numbers"``.
    absolute : bool
        Values are absolute (a ``# absolute`` line in the file): the per-axis minimum is
        not subtracted.
    source : str
        The text given (for messages and provenance).
    """

    kind: str
    grid: tuple[tuple[int, int], ...] = ()
    values: np.ndarray | None = None
    absolute: bool = False
    source: str = "none"

    @property
    def relative(self) -> bool:
        return not self.absolute


def _read_offsets_file(path: str, n: int, ndim: int) -> tuple[np.ndarray, bool]:
    """IRAF's offsets file: comment lines may switch to absolute/relative offsets."""
    try:
        with open(path) as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise ValueError(f"offsets: cannot read the offsets file {path!r}: {exc}") from None
    absolute = False
    rows: list[list[int]] = []
    for lineno, line in enumerate(lines, 1):
        words = line.split()
        if not words:
            continue
        if words[0].startswith("#"):
            if words[0] == "#" and len(words) > 1:
                word = words[1].lower()
                if word == "absolute":
                    absolute = True
                elif word == "relative":
                    absolute = False
            continue
        if len(rows) == n:
            break  # IRAF reads exactly one line per image
        try:
            vals = [float(w) for w in words[:ndim]]
        except ValueError:
            raise ValueError(f"offsets: {path!r} line {lineno}: expected {ndim} numbers, got {line!r}") from None
        if len(vals) < ndim or not all(math.isfinite(v) for v in vals):
            raise ValueError(f"offsets: {path!r} line {lineno}: expected {ndim} numbers, got {line!r}")
        rows.append([nint(v) for v in vals])
    if len(rows) < n:
        raise ValueError(f"offsets: the offset list {path!r} has {len(rows)} lines for {n} images")
    return np.asarray(rows, dtype=np.int64), absolute


def parse_offsets(offsets: Any, n: int, ndim: int) -> OffsetSpec:
    """Parse the ``offsets`` parameter (see the module docstring).

    Parameters
    ----------
    offsets
        None/"none"/"", "wcs", "world", "physical", "grid n1 s1 ...", a path (str or
        ``os.PathLike``) to an offsets file, or N rows of ``ndim`` numbers (x first).
    n, ndim
        Number of images and of image axes.
    """
    if offsets is None:
        return OffsetSpec("none")
    if isinstance(offsets, os.PathLike):
        offsets = os.fspath(offsets)
    if isinstance(offsets, str):
        text = offsets.strip()
        words = text.split()
        if not words:
            return OffsetSpec("none", source=text)
        first = words[0].lower()
        # IRAF takes the first word as a kind only when it is spelled out in full; anything
        # else names an offsets file
        if first in _KINDS:
            if first == "grid":
                nums = words[1:]
                try:
                    ints = [int(float(w)) for w in nums]
                except ValueError:
                    raise ValueError(f"offsets: grid needs integers 'grid n1 s1 n2 s2 ...'; got {offsets!r}") from None
                grid = []
                for d in range(ndim):
                    if len(ints) >= 2 * (d + 1):
                        grid.append((ints[2 * d], ints[2 * d + 1]))
                    else:
                        grid.append((1, 0))
                if any(a < 1 for a, _ in grid):
                    raise ValueError(f"offsets: grid counts must be >= 1; got {offsets!r}")
                return OffsetSpec("grid", grid=tuple(grid), source=text)
            return OffsetSpec(first, source=text)
        path = text[1:] if text.startswith("@") else text
        if not os.path.exists(path):
            raise ValueError(
                f"offsets: {offsets!r} is neither none, wcs, world, physical, 'grid n1 s1 ...' "
                f"nor an existing offsets file"
            )
        values, absolute = _read_offsets_file(path, n, ndim)
        return OffsetSpec("file", values=values, absolute=absolute, source=path)
    try:
        arr = np.asarray(offsets, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"offsets: expected a name, a file name or N rows of numbers; got {offsets!r}") from None
    if arr.ndim == 1 and ndim == 1 and arr.size == n:
        arr = arr.reshape(n, 1)
    if arr.shape != (n, ndim):
        raise ValueError(f"offsets: give {n} rows of {ndim} numbers (x first, IRAF's order); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("offsets: values must be finite")
    values = np.array([[nint(v) for v in row] for row in arr], dtype=np.int64)
    return OffsetSpec("numbers", values=values, source="numbers")


def check_offsets(offsets: Any) -> None:
    """Validate ``offsets`` as far as possible without the images (kinds, grid numbers,
    the file's existence, rows of finite numbers)."""
    if offsets is None:
        return
    if isinstance(offsets, (str, os.PathLike)):
        text = os.fspath(offsets).strip()
        words = text.split()
        if words and words[0].lower() == "grid":
            parse_offsets(text, 1, max(1, (len(words) - 1) // 2))
        elif words and words[0].lower() not in _KINDS:
            path = text[1:] if text.startswith("@") else text
            if not os.path.exists(path):
                raise ValueError(f"offsets: {offsets!r} is neither none, wcs, world, physical, 'grid n1 s1 ...' "
                                 f"nor an existing offsets file")
        return
    try:
        arr = np.asarray(offsets, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"offsets: expected none, wcs, world, physical, 'grid ...', a file name or N rows of "
                        f"numbers (x first); got {offsets!r}") from None
    if arr.ndim not in (1, 2) or not np.all(np.isfinite(arr)):
        raise ValueError(f"offsets: give N rows of finite numbers (x first, IRAF's order); got {offsets!r}")


# ----------------------------------------------------------------------------- WCS offsets


def frame_offsets(spec: OffsetSpec, shapes: Sequence[tuple[int, ...]],
                  headers: Sequence[Mapping[str, Any] | None] | None) -> np.ndarray:
    """Raw per-frame offsets ``(N, ndim)`` in IRAF axis order, before the canvas step."""
    from ._iraf_wcs import FrameWcs

    n = len(shapes)
    ndim = len(shapes[0])
    if spec.kind == "none":
        return np.zeros((n, ndim), dtype=np.int64)
    if spec.kind in ("file", "numbers"):
        return np.array(spec.values, dtype=np.int64)
    if spec.kind == "grid":
        out = np.zeros((n, ndim), dtype=np.int64)
        block = 1
        for d, (count, step) in enumerate(spec.grid):
            for i in range(n):
                out[i, d] = ((i // block) % count) * step
            block *= count
        return out
    hdrs = list(headers) if headers is not None else [None] * n
    wcs = [FrameWcs.from_header(h, ndim) for h in hdrs]
    out = np.zeros((n, ndim), dtype=np.int64)
    if spec.kind in ("wcs", "world"):
        ref_world = wcs[0].crval
        ref = wcs[0].world_to_logical(ref_world)
        for i in range(1, n):
            try:
                pix = wcs[i].world_to_logical(ref_world)
            except ValueError as exc:
                raise ValueError(f"offsets: image {i}: {exc}") from None
            out[i] = [nint(ref[d] - pix[d]) for d in range(ndim)]
        return out
    # physical: the logical reference pixel of frame 1 in its physical system, then
    # that physical point in each frame's logical system
    ref_log = wcs[0].crpix_logical()
    ref_phys = wcs[0].logical_to_physical(ref_log)
    for i in range(1, n):
        pix = wcs[i].physical_to_logical(ref_phys)
        out[i] = [nint(ref_log[d] - pix[d]) for d in range(ndim)]
    return out


# ----------------------------------------------------------------------------- canvas


def parse_outlimits(outlimits: Any, ndim: int) -> list[tuple[int | None, int | None]]:
    """``"x1 x2 y1 y2"`` (1-based, inclusive; ``INDEF`` = open) -> per IRAF axis limits."""
    if outlimits is None:
        return []
    if isinstance(outlimits, str):
        words = outlimits.split()
    else:
        try:
            words = [str(v) for v in outlimits]
        except TypeError:
            raise TypeError(f"outlimits: expected 'x1 x2 [y1 y2 ...]' or a sequence; got {outlimits!r}") from None
    vals: list[int | None] = []
    for w in words:
        if w.upper() == "INDEF":
            vals.append(None)
            continue
        try:
            f = float(w)
        except ValueError:
            break  # IRAF's scan stops at the first word that is not a number
        if not math.isfinite(f) or f != int(f):
            raise ValueError(f"outlimits: limits are whole pixel numbers; got {w!r}")
        vals.append(int(f))
    out = []
    for d in range(ndim):
        if len(vals) < 2 * (d + 1):
            break
        out.append((vals[2 * d], vals[2 * d + 1]))
    return out


@dataclass(frozen=True)
class Geometry:
    """Where every input frame lies on the output image.

    Attributes
    ----------
    offsets : ndarray of int64, (N, ndim)
        Output pixel (0-based, IRAF axis order: x first) of each frame's first pixel,
        as IRAF prints them in its log; negative after ``outlimits`` cropped the start.
    out_len : tuple of int
        Output length per IRAF axis (x first).
    aligned : bool
        IRAF's flag: every frame covers the output exactly (no placement needed).
    update_wcs : bool
        IRAF shifts the output's physical system (LTV) by the first frame's offset.
    reset_physical : bool
        ``wcs``/``world`` offsets: IRAF then folds LTV/LTM into CRPIX/CD.
    """

    offsets: np.ndarray
    out_len: tuple[int, ...]
    aligned: bool
    update_wcs: bool
    reset_physical: bool

    @property
    def shape(self) -> tuple[int, ...]:
        """Output shape in NumPy order."""
        return tuple(reversed(self.out_len))

    def numpy_offsets(self) -> np.ndarray:
        """Offsets in NumPy axis order (``(oy, ox)`` for images)."""
        return self.offsets[:, ::-1].copy()

    @property
    def trivial(self) -> bool:
        """Every frame is the output grid itself (no offsets, no cropping)."""
        return bool(self.aligned and not np.any(self.offsets))


def output_geometry(raw: np.ndarray, relative: bool, shapes: Sequence[tuple[int, ...]],
                    outlimits: Any = None, *, reset_physical: bool = False) -> Geometry:
    """IRAF's output size, final offsets and flags from the raw offsets.

    Parameters
    ----------
    raw : (N, ndim) ints, IRAF axis order
    relative : bool
        Subtract the per-axis minimum (IRAF does unless the offsets are absolute; it
        also does when an absolute offset is negative).
    shapes : N NumPy shapes of the frames
    outlimits : see :func:`parse_outlimits`
    """
    off = np.array(raw, dtype=np.int64)
    n, ndim = off.shape
    lens = np.array([list(reversed(s)) for s in shapes], dtype=np.int64)  # IRAF order
    aligned = True
    out_len = []
    for j in range(ndim):
        a = off[0, j]
        b = lens[0, j] + a
        amin, bmax = a, b
        for i in range(1, n):
            a = off[i, j]
            b = lens[i, j] + a
            if a != amin or b != bmax or not relative:
                aligned = False
            amin = min(a, amin)
            bmax = max(b, bmax)
        length = bmax
        if relative or amin < 0:
            off[:, j] -= amin
            length -= amin
        out_len.append(int(length))
    limits = parse_outlimits(outlimits, ndim)
    for j, (a, b) in enumerate(limits):
        if a is not None:
            off[:, j] -= a - 1
            if np.any(off[:, j] != 0):
                aligned = False
            out_len[j] -= a - 1
        if a is not None and b is not None:
            out_len[j] = min(out_len[j], b - a + 1)
    if limits and any(v < 1 for v in out_len):
        raise ValueError(f"outlimits: {outlimits!r} leaves an empty output image (size {tuple(out_len)})")
    if math.prod(out_len) > _MAX_PIXELS:
        raise ValueError(f"offsets: the output would have {math.prod(out_len)} pixels (more than 100 Gpixel; "
                         f"check the offsets)")
    return Geometry(off, tuple(out_len), aligned, update_wcs=(not aligned or not relative),
                    reset_physical=reset_physical)


# ----------------------------------------------------------------------------- statsec


@dataclass(frozen=True)
class StatSection:
    """A parsed ``statsec``: IRAF's reference system and the section.

    ``mode`` is ``"input"`` (each frame's own pixels; also without a modifier),
    ``"output"`` (output-canvas pixels) or ``"overlap"`` (the region every frame covers,
    in output pixels). ``section`` holds per IRAF axis ``(a, b)`` 1-based inclusive
    limits, or None for the whole reference image.
    """

    mode: str
    section: tuple[tuple[int | None, int | None], ...] | None


_SECTION = re.compile(r"\[(.*)\]")


def parse_statsec(statsec: Any) -> StatSection:
    """``"[x1:x2,y1:y2]"``, ``"input [..]"``, ``"output [..]"`` or ``"overlap"``."""
    if statsec is None:
        return StatSection("input", None)
    if not isinstance(statsec, str):
        raise TypeError(f"statsec must be a string like '[x1:x2,y1:y2]' or None; got {statsec!r}")
    words = statsec.split()
    mode = "input"
    if words and words[0].lower() in ("input", "output", "overlap"):
        mode = words[0].lower()
        words = words[1:]
    if mode == "overlap":
        return StatSection("overlap", None)
    text = "".join(words)
    if text == "":
        return StatSection(mode, None)
    m = _SECTION.fullmatch(text)
    if not m:
        raise ValueError(f"statsec must look like '[x1:x2,y1:y2]' (1-based, inclusive), optionally after "
                         f"'input' or 'output', or be 'overlap'; got {statsec!r}")
    axes: list[tuple[int | None, int | None]] = []
    for d, part in enumerate(m.group(1).split(",")):
        p = part.strip()
        if p == "*" or p == "":
            axes.append((None, None))
            continue
        mm = re.fullmatch(r"(-?\d+)(?::(-?\d+))?(?::\d+)?", p)
        if not mm:
            raise ValueError(f"statsec: cannot parse axis {d + 1} {p!r} of {statsec!r}")
        a = int(mm.group(1))
        b = int(mm.group(2)) if mm.group(2) is not None else a
        axes.append((a, b))
    return StatSection(mode, tuple(axes))


def frame_section(sec: StatSection, i: int, geom: Geometry | None,
                  frame_len: Sequence[int]) -> list[tuple[int, int]] | None:
    """Section of frame ``i`` (its own 1-based pixels, IRAF axis order) for the statistics.

    The limits may lie partly outside the frame (the statistics clip them, as IRAF).
    ``frame_len`` is the frame's length per IRAF axis.
    """
    ndim = len(frame_len)
    if sec.mode == "input" or geom is None:
        if sec.section is None:
            return None
        if len(sec.section) > ndim:
            raise ValueError(f"statsec has {len(sec.section)} axes but the images have {ndim}")
        out = []
        for d in range(ndim):
            a, b = sec.section[d] if d < len(sec.section) else (None, None)
            out.append((1 if a is None else a, frame_len[d] if b is None else b))
        return out
    off = geom.offsets[i]
    if sec.mode == "overlap":
        lo = np.max(geom.offsets + 1, axis=0)
        hi = np.min(geom.offsets + np.asarray(frame_len)[None, :], axis=0)
        lims = [(int(lo[d]), int(hi[d])) for d in range(ndim)]
    else:
        if sec.section is not None and len(sec.section) > ndim:
            raise ValueError(f"statsec has {len(sec.section)} axes but the images have {ndim}")
        lims = []
        for d in range(ndim):
            a, b = (sec.section[d] if sec.section is not None and d < len(sec.section) else (None, None))
            lims.append((1 if a is None else a, geom.out_len[d] if b is None else b))
    return [(a - int(off[d]), b - int(off[d])) for d, (a, b) in enumerate(lims)]
