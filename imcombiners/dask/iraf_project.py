"""IRAF ``imcombine`` with ``project=yes`` out of core (see :mod:`imcombiners._iraf_project`).

Each input image is combined along its highest axis: its planes are the images of an
ordinary :func:`imcombiners.dask.imcombine` run. A FITS image's planes are read through
:class:`PlaneFrame` (windows of the one file, never a copy of the cube); an array-like
image (NumPy, memmap, zarr, dask) already is the ``(planes, *plane)`` stack.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from imcombiners._iraf_masks import MaskPart
from imcombiners._iraf_project import header_mask, plane_offsets, project_inputs
from imcombiners.dask.sources import as_frame

__all__ = ["PlaneFrame", "imcombine_projected"]


@dataclass(frozen=True, eq=False)
class PlaneFrame:
    """Plane ``k`` (index along the first NumPy axis) of a frame reader of more axes."""

    reader: Any
    k: int

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.reader.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.reader.dtype)

    @property
    def path(self) -> str | None:
        return getattr(self.reader, "path", None)

    def read(self, window: Sequence[slice] | None = None, out: np.ndarray | None = None) -> np.ndarray:
        win = tuple(window) if window is not None else tuple(slice(None) for _ in self.shape)
        block = np.asarray(self.reader.read((slice(self.k, self.k + 1), *win)))[0]
        if out is not None:
            out[...] = block
            return out
        return block


def _planes(image: Any, hdu: Any, what: str) -> tuple[Any, Any, str | None, int]:
    """(the planes as imcombine's images, the image's header or None, its path, planes)."""
    if isinstance(image, (str, os.PathLike)):
        from imcombiners.io.fits import read_header

        reader = as_frame(os.fspath(image), hdu, "iraf")
        if len(reader.shape) < 2:
            raise ValueError(f"images: project=True combines the highest axis of each image; {what} has shape "
                             f"{tuple(reader.shape)} (at least two axes needed)")
        return ([PlaneFrame(reader, k) for k in range(reader.shape[0])], read_header(reader),
                os.fspath(image), int(reader.shape[0]))
    if not (hasattr(image, "shape") and hasattr(image, "dtype")):
        image = np.asarray(image)
    if len(image.shape) < 2:
        raise ValueError(f"images: project=True combines the highest axis of each image; {what} has shape "
                         f"{tuple(image.shape)} (at least two axes needed)")
    return image, None, None, int(image.shape[0])


def _plane_mask(mask: Any, shape: tuple[int, ...], what: str) -> Any:
    """One input's mask as imcombine's ``masks`` for its planes: the image's shape (one
    plane each) or one plane's shape (shared), file names read window by window."""
    from imcombiners._iraf_masks import is_empty
    from imcombiners.dask.inputs import FrameView

    if mask is None:
        return None
    if isinstance(mask, (str, os.PathLike)):
        reader = as_frame(os.fspath(mask))
        if tuple(reader.shape) == shape:  # IRAF judges "all 0 = no mask" on the whole mask
            empty = is_empty(reader.read())
            return [MaskPart(PlaneFrame(reader, k), empty) for k in range(shape[0])]
        if tuple(reader.shape) == shape[1:]:
            return [reader] * shape[0]
        got = tuple(reader.shape)
    else:
        got = tuple(getattr(mask, "shape", np.shape(mask)))
        if got == shape:
            empty = is_empty(np.asarray(mask))
            return [MaskPart(FrameView(mask, k), empty) for k in range(shape[0])]
        if got == shape[1:]:
            return mask
    raise ValueError(f"masks: the mask of {what} has shape {got}; give the image's shape {shape} or one plane's "
                     f"shape {shape[1:]}")


def imcombine_projected(run: Callable[..., Any], images: Any, arguments: dict) -> Any:
    """``project=True`` of :func:`imcombiners.dask.imcombine`: one lazy result per input
    (a list for a list of images). ``run`` is the entry point, ``arguments`` its other
    keyword arguments."""
    params = arguments.pop("params")
    headers, masks, offsets, hdu = (arguments.pop(k) for k in ("headers", "masks", "offsets", "hdu"))
    for key in ("images", "project", "imcombine_projected"):
        arguments.pop(key, None)
    inputs, single = project_inputs(images, headers, masks)
    rule = params.mask_rule(masks_given=masks is not None)
    results = []
    for k, item in enumerate(inputs):
        what = repr(os.fspath(item.image)) if isinstance(item.image, (str, os.PathLike)) else f"image {k}"
        planes, header, path, nplanes = _planes(item.image, hdu, what)
        header = item.header if item.header is not None else header
        shape = (nplanes, *(planes.shape[1:] if hasattr(planes, "shape") else planes[0].shape))
        mask = item.mask
        if mask is None and masks is None and rule.active:  # IRAF: the file the image's keyword names
            mask = header_mask(rule, header, path)
        plane_mask = _plane_mask(mask, shape, what)
        if isinstance(plane_mask, list) and rule.kind == "boolean":  # nonzero = bad: emptiness is moot
            plane_mask = [m.data if isinstance(m, MaskPart) else m for m in plane_mask]
        results.append(run(planes, headers=None if header is None else [header] * nplanes,
                           masks=plane_mask, offsets=plane_offsets(offsets, nplanes),
                           hdu=hdu, **arguments))
    return results[0] if single else results
