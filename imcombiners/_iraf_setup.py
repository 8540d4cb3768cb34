"""What an IRAF ``imcombine`` run needs besides the pixels: output layout and masks.

Shared by the in-memory :func:`imcombiners.imcombine` and the out-of-core
:func:`imcombiners.dask.imcombine`:

* :func:`resolve_layout`: the output canvas and where each frame lies on it
  (``offsets``, ``outlimits``; :mod:`imcombiners._iraf_geometry`);
* :func:`resolve_mask_rule` / :func:`frame_mask_codes`: each frame's mask as the
  per-pixel codes the kernel reads (``masks``, ``masktype``, ``maskvalue``, masks named
  by header keywords; :mod:`imcombiners._iraf_masks`);
* :func:`stat_sections`: the ``statsec`` of every frame in its own pixels;
* :func:`finish_output`: the result in ``outtype`` (IRAF's truncation and wrap-around,
  with a warning when values wrapped).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._iraf_geometry import Geometry, OffsetSpec, frame_offsets, frame_section, output_geometry, parse_offsets, \
    parse_statsec
from ._iraf_masks import BAD, MaskPart, MaskRule, header_mask_names, is_empty, mask_codes, mask_file, parse_mask_rule, \
    read_mask
from ._iraf_outtype import INTEGER_OUTTYPES, OUTTYPES, to_outtype

__all__ = ["Layout", "resolve_layout", "resolve_mask_rule", "frame_mask_codes", "stat_sections",
           "finish_output", "WrapWarning"]


#: Where a frame lies on the canvas, as the kernel takes it: ``(oy, ox, h, w)`` for 1-D and
#: 2-D images, ``(offsets, shape)`` (NumPy order) for more axes.
Placement = tuple[int, int, int, int] | tuple[list[int], list[int]]


class WrapWarning(RuntimeWarning):
    """Values outside an integer ``outtype``'s range wrapped around (as in IRAF)."""


@dataclass(frozen=True)
class Layout:
    """The output canvas of a run.

    Attributes
    ----------
    spec : OffsetSpec
    geom : Geometry
    shape : tuple of int
        Output spatial shape (NumPy order).
    placement : list of Placement or None
        Where each frame lies on the canvas (None: every frame is the canvas):
        ``(oy, ox, h, w)`` for 1-D/2-D images, ``(offsets, shape)`` beyond.
    """

    spec: OffsetSpec
    geom: Geometry
    shape: tuple[int, ...]
    placement: list[Placement] | None

    @property
    def offsets(self) -> np.ndarray:
        """IRAF's offsets ``(N, ndim)``, x first."""
        return self.geom.offsets


def resolve_layout(offsets: Any, outlimits: Any, shapes: Sequence[tuple[int, ...]],
                   headers: Sequence[Mapping[str, Any] | None] | None) -> Layout:
    """Parse ``offsets``/``outlimits`` and compute IRAF's output geometry."""
    n = len(shapes)
    ndim = len(shapes[0])
    spec = parse_offsets(offsets, n, ndim)
    raw = frame_offsets(spec, shapes, headers)
    geom = output_geometry(raw, spec.relative, shapes, outlimits, reset_physical=spec.kind in ("wcs", "world"))
    shape = geom.shape
    trivial = geom.trivial and all(tuple(s) == shape for s in shapes)
    if trivial:
        return Layout(spec, geom, shape, None)
    place: list[Placement] = []
    for i, s in enumerate(shapes):
        if ndim == 1:
            place.append((0, int(geom.offsets[i, 0]), 1, int(s[0])))
        elif ndim == 2:
            place.append((int(geom.offsets[i, 1]), int(geom.offsets[i, 0]), int(s[0]), int(s[1])))
        else:  # the kernel's N-D form: NumPy-order offsets and shape
            place.append(([int(v) for v in geom.offsets[i, ::-1]], [int(v) for v in s]))
    return Layout(spec, geom, shape, place)


def resolve_mask_rule(masks: Any, masktype: Any, maskvalue: Any) -> MaskRule:
    """The mask rule of a run: explicit masks without a ``masktype`` keep the library's
    meaning (nonzero = bad); otherwise IRAF's ``masktype``/``maskvalue``."""
    if masktype is None:
        if masks is None:
            return MaskRule("none")
        masktype = "goodvalue"
        if maskvalue is None:
            maskvalue = 0
    return parse_mask_rule(masktype, 0 if maskvalue is None else maskvalue)


def _zero_is_bad(rule: MaskRule) -> bool:
    k, v = rule.kind, rule.value
    return k in ("goodbits", "gtval", "goodvalue") or (k == "ltval" and v <= 0) or (k == "badvalue" and v == 0)


def frame_mask_codes(rule: MaskRule, masks: Any, n: int, spatial: tuple[int, ...],
                     headers: Sequence[Mapping[str, Any] | None] | None,
                     paths: Sequence[str] | None,
                     shapes: Sequence[tuple[int, ...]] | None = None) -> list[np.ndarray | None] | None:
    """Each frame's mask codes (flat uint8, or None = no mask), or None when no frame has one.

    ``masks``: None (masks named by the header keyword of ``rule``, IRAF's way), an
    ``(N, *spatial)`` array, one ``spatial`` mask for every frame, or a list of N items
    (arrays, mask file names, or None). ``shapes``: each frame's shape when the sizes
    differ (each mask then has its frame's shape).
    """
    shapes = [tuple(spatial)] * n if shapes is None else [tuple(s) for s in shapes]
    same = all(s == shapes[0] for s in shapes)
    if not rule.active:
        return None
    items: list[Any]
    if masks is None:
        names = header_mask_names(rule, headers, n)
        items = []
        for i, name in enumerate(names):
            items.append(None if name is None else mask_file(name, None if paths is None else paths[i]))
    elif isinstance(masks, (list, tuple)):
        if len(masks) != n:
            raise ValueError(f"masks: {len(masks)} masks given for {n} images")
        items = list(masks)
    else:
        arr = np.asarray(masks)
        if same and arr.shape == (n, *spatial):
            items = list(arr)
        elif same and arr.shape == tuple(spatial):
            items = [arr] * n
        elif not same:
            raise ValueError("masks: the images differ in size: give a list of N masks, each of its image's shape")
        else:
            raise ValueError(f"masks has shape {arr.shape} but the stack has shape {(n, *spatial)}; give one mask per "
                             f"image (or one for all)")
    out: list[np.ndarray | None] = []
    cache: dict[int, np.ndarray | None] = {}
    for i, item in enumerate(items):
        if item is None:
            out.append(None)
            continue
        if id(item) in cache:  # one mask shared by every frame: one conversion
            out.append(cache[id(item)])
            continue
        whole_empty = item.empty if isinstance(item, MaskPart) else None  # project: the image's whole mask
        if isinstance(item, MaskPart):
            item = item.data
        raw = read_mask(os.fspath(item)) if isinstance(item, (str, os.PathLike)) else np.asarray(item)
        if raw.shape != shapes[i]:
            raise ValueError(f"masks[{i}] has shape {raw.shape} but image {i} has shape {shapes[i]}")
        if raw.dtype.kind not in "biuf":
            raise TypeError(f"masks[{i}]: integer or boolean masks expected; got dtype {raw.dtype}")
        # IRAF: an all-zero mask is no mask, unless the type makes 0 bad everywhere
        # ("inverted" types keep it; for the others 0 is bad only in a non-empty mask)
        if _zero_is_bad(rule) and not rule.invert and (is_empty(raw) if whole_empty is None else whole_empty):
            codes = None
        else:
            codes = np.ascontiguousarray(mask_codes(raw, rule)).reshape(-1)
        cache[id(item)] = codes
        out.append(codes)
    if all(c is None for c in out):
        return None
    return out


def merge_bad(codes: list[np.ndarray | None] | None, bad: Sequence[np.ndarray] | None,
              n: int) -> list[np.ndarray | None] | None:
    """OR extra bad pixels (e.g. a masked array's own mask, flat bool) into the codes."""
    if bad is None:
        return codes
    out: list[np.ndarray | None] = []
    for i in range(n):
        c = None if codes is None else codes[i]
        b = np.asarray(bad[i], dtype=bool)
        if c is None:
            out.append(b.view(np.uint8))
        else:
            out.append(np.where(b, np.uint8(BAD), c).astype(np.uint8))
    return out


def stat_sections(statsec: Any, layout: Layout | None, shapes: Sequence[tuple[int, ...]]) -> list[Any]:
    """Per frame, the statistics section in the frame's own pixels (IRAF axis order,
    1-based inclusive; None = the whole frame)."""
    sec = parse_statsec(statsec)
    geom = None if layout is None else layout.geom
    out = []
    for i, s in enumerate(shapes):
        flen = list(reversed(s))
        out.append(frame_section(sec, i, geom, flen))
    return out


def finish_output(values: np.ndarray, outtype: str | None, default: np.dtype) -> tuple[np.ndarray, list[str]]:
    """The combined image in ``outtype`` and the warnings of the conversion."""
    if outtype is None:
        return values.astype(default, copy=False), []
    if outtype not in INTEGER_OUTTYPES:
        return values.astype(OUTTYPES[outtype], copy=False), []
    out, wrapped = to_outtype(values, outtype)
    msgs = []
    if wrapped:
        msg = (f"outtype={outtype!r}: {wrapped} output pixel(s) lie outside the type's range and wrapped "
               f"around (IRAF truncates and wraps; use outtype='real' to keep them)")
        warnings.warn(msg, WrapWarning, stacklevel=3)
        msgs.append(msg)
    return out, msgs
