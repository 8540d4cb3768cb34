"""IRAF ``imcombine`` with ``project=yes``: each input image combined along its highest axis.

IRAF's ``project=yes`` takes every input image on its own: the elements of its highest
axis (the planes of a cube; the first NumPy axis) are the images combined, and each input
gives its own output (IRAF's matching output lists). Checked against IRAF 2.17:

* every plane is one image: statistics, scale/zero/weight and offsets per plane; header
  keywords (``!KEYWORD``, ``exposure``, noise keywords, ``NCOMBINE``) come from the one
  header, so every plane has the same values (``NCOMBINE`` of the output = planes x the
  input's NCOMBINE); ``IMCMBnnn`` names the input file once per plane;
* an offsets file (or N rows of numbers) gives one line per plane, read from its start
  again for every input;
* the input's mask (``masks=`` or the file its ``BPM`` keyword names) has the image's
  shape (one mask plane per plane) or one plane's shape (the same mask for every plane);
  IRAF's rule "an all-zero mask is no mask" looks at the whole mask (a plane of zeros in
  a cube mask with other values is a mask whose values are 0).

:func:`project_inputs` splits the ``images`` argument into these per-input runs; the
entry points run each as an ordinary combine of the planes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ProjectedInput", "project_inputs", "plane_offsets", "plane_masks"]


@dataclass(frozen=True, eq=False)
class ProjectedInput:
    """One input image of a ``project=yes`` run.

    Attributes
    ----------
    image : ndarray, str or object
        The image: an array (its first NumPy axis is projected) or a FITS name.
    header : mapping or None
        Its header (given, or read from the file by the entry point).
    mask : object
        Its mask as given (array, file name or None).
    """

    image: Any
    header: Mapping[str, Any] | None
    mask: Any


def _is_one_image(images: Any) -> bool:
    return isinstance(images, (str, os.PathLike)) or (hasattr(images, "shape") and hasattr(images, "dtype"))


def project_inputs(images: Any, headers: Any, masks: Any) -> tuple[list[ProjectedInput], bool]:
    """The inputs of a ``project=yes`` call and whether one image was given (one result).

    ``images``: one image (an array of two or more axes, or a FITS name) or a list of
    them. ``headers``: None, one mapping (one image) or one per image. ``masks``: None,
    one mask (one image) or one per image.
    """
    single = _is_one_image(images)
    items = [images] if single else list(images)
    if not items:
        raise ValueError("images: at least one image is required")
    n = len(items)
    if headers is None:
        hdrs: list[Any] = [None] * n
    elif isinstance(headers, Mapping):
        if n != 1:
            raise ValueError(f"headers: give one header per image ({n} images)")
        hdrs = [headers]
    else:
        hdrs = list(headers)
        if len(hdrs) != n:
            raise ValueError(f"headers: {len(hdrs)} headers given for {n} images")
    if masks is None:
        mks: list[Any] = [None] * n
    elif single:
        mks = [masks]
    else:
        if not isinstance(masks, (list, tuple)) or len(masks) != n:
            raise ValueError(f"masks: with project=True give one mask per image ({n} images)")
        mks = list(masks)
    return [ProjectedInput(img, h, m) for img, h, m in zip(items, hdrs, mks)], single


def plane_offsets(offsets: Any, nplanes: int) -> Any:
    """The offsets of one input's planes: names and files as given (IRAF reads a file's
    first lines again for every input), rows of numbers taken from the start."""
    if offsets is None or isinstance(offsets, (str, os.PathLike)):
        return offsets
    arr = np.asarray(offsets, dtype=float)
    if arr.ndim == 2 and arr.shape[0] > nplanes:
        return arr[:nplanes]
    return offsets


def plane_masks(mask: Any, shape: Sequence[int], what: str) -> list[Any] | None:
    """One input's mask as one mask per plane.

    ``mask``: None, an array (or FITS file name) of the image's shape or of one plane's
    shape. ``shape``: the image's NumPy shape.
    """
    if mask is None:
        return None
    if isinstance(mask, (str, os.PathLike)):
        from ._iraf_masks import read_mask

        mask = read_mask(os.fspath(mask))
    arr = np.asarray(mask)
    shape = tuple(shape)
    if arr.shape == shape:  # IRAF judges "all 0 = no mask" on the whole mask
        from ._iraf_masks import MaskPart, is_empty

        empty = is_empty(arr)
        return [MaskPart(plane, empty) for plane in arr]  # type: ignore[misc]
    if arr.shape == shape[1:]:
        return [arr] * shape[0]  # IRAF: a mask of one plane's shape serves every plane
    raise ValueError(f"masks: the mask of {what} has shape {arr.shape}; give the image's shape {shape} or one "
                     f"plane's shape {shape[1:]}")


def header_mask(rule: Any, header: Mapping[str, Any] | None, path: str | None) -> str | None:
    """The mask file named by the input's mask keyword (IRAF's way), or None."""
    from ._iraf_masks import header_mask_names, mask_file

    name = header_mask_names(rule, [header], 1)[0]
    return None if name is None else mask_file(name, path)
