"""Out-of-core IRAF imcombine on an output canvas: frames at offsets, integer mask codes.

:class:`CanvasSource` is the stack source of :func:`imcombiners.dask.imcombine` when the
output is not simply the stacked frames (``offsets``/``outlimits``) or when the masks
need IRAF's ``masktype`` rules. Its shape is ``(N, *output)``; reading a window of
output rows returns a :class:`PlacedBlock`: for each frame only the rows of that frame
that the window covers (whole frame rows, read at the frame's offset: never a padded
copy), their placement on the window, and each frame's mask codes for those rows. The
IRAF kernel takes the block as it is (``placement`` argument of ``_core.iraf_combine``).

Only the grow pass with frames at offsets needs the frames on the window's grid
(:meth:`PlacedBlock.dense`, one window at a time): its sentinel line (see
:func:`imcombiners.dask.iraf.find_sentinel`) is a whole output line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imcombiners._iraf_masks import BAD, MaskPart, MaskRule, is_empty, mask_codes, mask_file
from imcombiners._iraf_setup import Layout, Placement
from imcombiners.dask.inputs import FrameView, is_dask
from imcombiners.dask.sources import StackSource, as_frame

__all__ = ["PlacedBlock", "CanvasSource", "RaggedFrames", "probe_frames", "mask_readers"]


@dataclass
class PlacedBlock:
    """The frames' pixels for one window of output rows.

    Attributes
    ----------
    frames : list of ndarray
        Per frame its rows inside the window, shape ``(h_i, w_i)`` (possibly no rows); or
        all frames as one ``(N, rows, W)`` array when they are the output grid.
    codes : list of (ndarray or None) or None
        Mask codes laid out as ``frames`` (None: no mask).
    placement : list of (oy, ox, h, w) or None
        Where each frame's rows lie on the window (None: every frame is the window);
        ``(offsets, shape)`` (NumPy order) for images of more than two axes.
    shape : tuple of int
        The window's shape (rows, W).
    """

    frames: list[np.ndarray] | np.ndarray
    codes: list[np.ndarray | None] | None
    placement: list[Placement] | None
    shape: tuple[int, ...]

    def dense(self) -> tuple[np.ndarray, np.ndarray]:
        """The frames on the window's grid with their codes (uncovered pixels: bad).

        The kernel reads this exactly as the placed frames (a frame line whose covered
        part is all bad, or that is not covered, carries no data either way).
        """
        n = len(self.frames)
        first = self.frames[0]
        data = np.zeros((n, *self.shape), np.asarray(first).dtype)
        codes = np.full((n, *self.shape), BAD, np.uint8)
        for i in range(n):
            frame = np.asarray(self.frames[i])
            c = None if self.codes is None else self.codes[i]
            if self.placement is None:
                data[i] = frame
                codes[i] = 0 if c is None else c
                continue
            oy, ox, h, w = self.placement[i]
            if h == 0:
                continue
            x0, x1 = max(0, ox), min(self.shape[-1], ox + w)
            if x1 <= x0:
                continue
            rows = slice(oy, oy + h)
            data[i, rows, x0:x1] = frame[:, x0 - ox:x1 - ox]
            codes[i, rows, x0:x1] = 0 if c is None else c[:, x0 - ox:x1 - ox]
        return data, codes


class RaggedFrames:
    """Frames of different sizes (one number of axes), which IRAF places on its output
    canvas each at its offset: what :func:`imcombiners.dask.imcombine` learns from the
    inputs before it builds the :class:`CanvasSource` (nothing is read here)."""

    def __init__(self, frames: Sequence[object]) -> None:
        from dask.base import tokenize

        self.frames = list(frames)
        self.frame_shapes = [tuple(f.shape) for f in self.frames]  # type: ignore[attr-defined]
        if len({len(s) for s in self.frame_shapes}) != 1:
            raise ValueError(f"images: images of different sizes must have the same number of axes (IRAF); got "
                             f"shapes {self.frame_shapes}")
        self.dtype = np.dtype(np.result_type(*[f.dtype for f in self.frames]))  # type: ignore[attr-defined]
        self.shape = (len(self.frames), *self.frame_shapes[0])
        self.offsets = None
        self.names = ([f.path for f in self.frames] if all(hasattr(f, "path") for f in self.frames)  # type: ignore[attr-defined]
                      else None)
        self.token = tokenize("iraf-ragged", [(getattr(f, "path", None), getattr(f, "hdu", None),
                                               id(getattr(f, "array", f)), f.shape)  # type: ignore[attr-defined]
                                              for f in self.frames])


def probe_frames(images: object, hdu: object, as_source: object) -> object:
    """The inputs of :func:`imcombiners.dask.imcombine` as a source (FITS read as IRAF reads
    them): :class:`RaggedFrames` when a list holds images of different sizes, else the
    stack source ``as_source`` makes (the frames probed once either way)."""
    if isinstance(images, (list, tuple)) and images and not isinstance(images, (str, bytes)):
        readers = [as_frame(f, hdu, "iraf") for f in images]  # type: ignore[arg-type]
        if len({tuple(r.shape) for r in readers}) > 1:
            return RaggedFrames(readers)
        images = readers
    return as_source(images, offsets=None, hdu=hdu, view="iraf")  # type: ignore[operator]


@dataclass(frozen=True, eq=False)
class _DaskFrame:
    """Frame ``i`` of a dask stack, read synchronously inside a task."""

    array: object
    i: int

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape[1:])  # type: ignore[attr-defined]

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.array.dtype).newbyteorder("=")  # type: ignore[attr-defined]

    def read(self, window: Sequence[slice] | None = None, out: np.ndarray | None = None) -> np.ndarray:
        block = self.array[(self.i,) + tuple(window or ())]  # type: ignore[index]
        block = np.ascontiguousarray(block.compute(scheduler="sync"), dtype=self.dtype)
        if out is not None:
            out[...] = block
            return out
        return block


def frame_readers(inputs: object, source: StackSource | None, n: int) -> list[object]:
    """One reader per frame (``read(window)``) of the stack's inputs."""
    frames = getattr(source, "frames", None)
    if frames is not None and getattr(source, "offsets", None) is None:
        return list(frames)
    if is_dask(inputs):
        return [_DaskFrame(inputs, i) for i in range(n)]
    if source is not None and hasattr(source, "read_frame"):
        return [_SourceFrame(source, i) for i in range(n)]
    return [FrameView(inputs, i) for i in range(n)]  # type: ignore[arg-type]


@dataclass(frozen=True, eq=False)
class _SourceFrame:
    """Frame ``i`` of a stack source."""

    source: StackSource
    i: int

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.source.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.source.dtype)

    def read(self, window: Sequence[slice] | None = None, out: np.ndarray | None = None) -> np.ndarray:
        block = self.source.read_frame(self.i, window)
        if out is not None:
            out[...] = block
            return out
        return block


def _zero_is_bad(rule: MaskRule) -> bool:
    k, v = rule.kind, rule.value
    return k in ("goodbits", "gtval", "goodvalue") or (k == "ltval" and v <= 0) or (k == "badvalue" and v == 0)


def mask_readers(rule: MaskRule, masks: object, n: int, spatial: tuple[int, ...],
                 headers: Sequence[object] | None, paths: Sequence[str] | None,
                 shapes: Sequence[tuple[int, ...]] | None = None) -> list[object | None] | None:
    """Per frame a reader of its raw mask (None: no mask), or None when no frame has one.

    ``masks`` as :func:`imcombiners.imcombine` takes them (None: files named by each
    frame's mask keyword). A frame whose whole mask is 0 counts as having no mask when
    IRAF's rule says so (the mask is read once here to find out).
    """
    if not rule.active:
        return None
    from imcombiners._iraf_masks import header_mask_names

    shapes = [tuple(spatial)] * n if shapes is None else [tuple(s) for s in shapes]
    same = all(s == shapes[0] for s in shapes)

    items: list[object | None]
    if masks is None:
        names = header_mask_names(rule, headers, n)  # type: ignore[arg-type]
        items = [None if nm is None else mask_file(nm, None if paths is None else paths[i])
                 for i, nm in enumerate(names)]
    elif isinstance(masks, (list, tuple)):
        if len(masks) != n:
            raise ValueError(f"masks: {len(masks)} masks given for {n} images")
        items = list(masks)
    else:
        shape = tuple(getattr(masks, "shape", np.shape(masks)))
        if not same:
            raise ValueError("masks: the images differ in size: give a list of N masks, each of its image's shape")
        if shape == (n, *spatial):
            items = [FrameView(masks, i) if not is_dask(masks) else _DaskFrame(masks, i)  # type: ignore[arg-type]
                     for i in range(n)]
        elif shape == tuple(spatial):
            items = [masks] * n
        else:
            raise ValueError(f"masks has shape {shape} but the stack has shape {(n, *spatial)}; give one mask per "
                             f"image (or one for all)")
    readers: list[object | None] = []
    for i, item in enumerate(items):
        if item is None:
            readers.append(None)
            continue
        whole_empty = item.empty if isinstance(item, MaskPart) else None  # project: the image's whole mask
        if isinstance(item, MaskPart):
            item = item.data
        reader = item if hasattr(item, "read") and hasattr(item, "shape") else as_frame(
            os.fspath(item) if isinstance(item, (str, os.PathLike)) else item)  # type: ignore[arg-type]
        if tuple(reader.shape) != shapes[i]:  # type: ignore[attr-defined]
            raise ValueError(f"masks[{i}] has shape {tuple(reader.shape)} but image {i} has shape "  # type: ignore[attr-defined]
                             f"{shapes[i]}")
        if _zero_is_bad(rule) and not rule.invert and (
                is_empty(reader.read()) if whole_empty is None else whole_empty):  # type: ignore[attr-defined]
            readers.append(None)  # IRAF: an all-zero mask is no mask
            continue
        readers.append(reader)
    return None if all(r is None for r in readers) else readers


class CanvasSource(StackSource):
    """The frames placed on the output canvas, read window by window (see the module doc).

    Parameters
    ----------
    frames : list
        One reader per frame (``shape``, ``dtype``, ``read(window)``).
    layout : Layout
        The output canvas and the frames' placement (``layout.placement`` None: the
        frames are the output grid).
    masks : list of (reader or None) or None
        Raw mask readers per frame.
    rule : MaskRule
        How raw masks become codes.
    names : list of str or None
        Input names (provenance).
    token : str
        Identity of the inputs (dask key names).
    """

    def __init__(self, frames: list[object], layout: Layout, masks: list[object | None] | None, rule: MaskRule,
                 names: list[str] | None, token: str) -> None:
        from dask.base import tokenize

        self.frames = frames
        self.layout = layout
        self.masks = masks
        self.rule = rule
        self.names = names
        self.dtype = np.dtype(frames[0].dtype)  # type: ignore[attr-defined]
        self.frame_shapes = [tuple(f.shape) for f in frames]  # type: ignore[attr-defined]
        self.frame_shape = self.frame_shapes[0]
        self.shape = (len(frames), *layout.shape)
        self.disk_itemsize = self.dtype.itemsize
        self.align = ()
        self.token = tokenize("iraf-canvas", token, layout.offsets.tolist(), layout.shape, repr(rule))

    def _codes(self, i: int, window: Sequence[slice]) -> np.ndarray | None:
        if self.masks is None or self.masks[i] is None:
            return None
        raw = self.masks[i].read(tuple(window))  # type: ignore[union-attr]
        return np.ascontiguousarray(mask_codes(raw, self.rule), dtype=np.uint8)

    def read(self, window: Sequence[slice]) -> PlacedBlock:  # type: ignore[override]
        """The frames' rows for a window of whole output rows (see :class:`PlacedBlock`)."""
        n = len(self.frames)
        if self.layout.placement is None:
            frames = [np.ascontiguousarray(f.read(tuple(window))) for f in self.frames]  # type: ignore[attr-defined]
            codes = None if self.masks is None else [self._codes(i, window) for i in range(n)]
            wshape = tuple(len(range(*s.indices(d))) for s, d in zip(window, self.layout.shape))
            return PlacedBlock(frames, codes, None, wshape)
        if len(self.layout.shape) == 1:  # one line: the window is the whole output
            frames = [np.ascontiguousarray(f.read(None)) for f in self.frames]  # type: ignore[attr-defined]
            codes = None if self.masks is None else [self._codes(i, (slice(None),)) for i in range(n)]
            return PlacedBlock(frames, codes, list(self.layout.placement), tuple(self.layout.shape))
        if len(self.layout.shape) > 2:
            return self._read_axes(window)
        y0, y1 = window[0].start, window[0].stop
        wshape = (y1 - y0, *self.layout.shape[1:])
        frames, codes, place = [], [], []
        for i, (oy, ox, h, w) in enumerate(self.layout.placement):  # type: ignore[misc]
            r0, r1 = max(0, y0 - oy), min(h, y1 - oy)
            if r1 <= r0:
                frames.append(np.zeros((0, w), self.dtype))
                codes.append(None)
                place.append((0, ox, 0, w))
                continue
            win = (slice(r0, r1), slice(0, w))
            frames.append(np.ascontiguousarray(self.frames[i].read(win)))  # type: ignore[attr-defined]
            codes.append(self._codes(i, win))
            place.append((oy + r0 - y0, ox, r1 - r0, w))
        return PlacedBlock(frames, None if self.masks is None else codes, place, wshape)

    def _read_axes(self, window: Sequence[slice]) -> PlacedBlock:
        """:meth:`read` for images of more than two axes: each frame's part of the window
        (whole frame lines), placed with the kernel's ``(offsets, shape)`` form."""
        nd = len(self.layout.shape)
        lo = [int(s.start or 0) for s in window[:-1]]
        hi = [int(self.layout.shape[a] if s.stop is None else s.stop) for a, s in enumerate(window[:-1])]
        wshape = (*(b - a for a, b in zip(lo, hi)), self.layout.shape[-1])
        frames, codes, place = [], [], []
        for i, (offs, fshape) in enumerate(self.layout.placement):  # type: ignore[misc]
            r0 = [max(0, lo[a] - offs[a]) for a in range(nd - 1)]
            r1 = [min(fshape[a], hi[a] - offs[a]) for a in range(nd - 1)]
            w = int(fshape[-1])
            if any(b <= a for a, b in zip(r0, r1)):
                frames.append(np.zeros((0,) * (nd - 1) + (w,), self.dtype))
                codes.append(None)
                place.append(([0] * (nd - 1) + [int(offs[-1])], [0] * (nd - 1) + [w]))
                continue
            win = (*(slice(a, b) for a, b in zip(r0, r1)), slice(0, w))
            frames.append(np.ascontiguousarray(self.frames[i].read(win)))  # type: ignore[attr-defined]
            codes.append(self._codes(i, win))
            place.append(([offs[a] + r0[a] - lo[a] for a in range(nd - 1)] + [int(offs[-1])],
                          [b - a for a, b in zip(r0, r1)] + [w]))
        return PlacedBlock(frames, None if self.masks is None else codes, place, wshape)

    def read_frame(self, i: int, window: Sequence[slice] | None = None) -> np.ndarray:
        """Frame ``i`` in its own pixels (a window, steps allowed)."""
        return np.asarray(self.frames[i].read(None if window is None else tuple(window)))  # type: ignore[attr-defined]

    def read_frame_codes(self, i: int, window: Sequence[slice] | None) -> np.ndarray | None:
        """Mask codes of frame ``i`` in its own pixels, or None."""
        if self.masks is None or self.masks[i] is None:
            return None
        raw = self.masks[i].read(None if window is None else tuple(window))  # type: ignore[union-attr]
        return np.ascontiguousarray(mask_codes(raw, self.rule), dtype=np.uint8)
