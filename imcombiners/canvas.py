"""WCS-aligned canvases: integer offsets of dithered frames from their WCS.

Survey frames sit at different places on the sky.  When they share the pixel grid up to a
translation (same projection, orientation and pixel scale: a dither pattern), each frame
is placed on a common canvas at the nearest whole pixel and combined without
interpolation.  :func:`wcs_canvas` derives the offsets, checks that a translation is all
that separates the frames (a rotation, scale or projection difference that moves pixels
by more than ``tolerance`` across a frame is refused, pointing to resampling tools such
as ``reproject``), and gives the full-footprint canvas with its WCS.

The canvas feeds both ways of combining:

* in memory: ``canvas.place(frames)`` (and ``canvas.place(variances)``, ...) builds the
  padded stack (:func:`imcombiners.offsets.place_into_padded`);
* out of core: ``imcombiners.dask.combine(files, offsets="wcs")`` (or
  ``offsets=canvas``) reads only the frames overlapping each tile (no padded copy) and
  writes the canvas WCS into the output header.

astropy is imported only when a canvas is made (``import imcombiners`` stays lean).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .offsets import padded_layout, place_into_padded

__all__ = ["WcsCanvas", "wcs_canvas", "shift_wcs_header", "resolve_offsets", "DEFAULT_TOLERANCE"]

#: Largest drift (pixels) across a frame between its WCS and the reference's once the
#: integer offset is applied (what a rotation/scale mismatch does).  0.1 pixel keeps the
#: misplacement far below the half pixel that nearest-pixel placement already allows.
DEFAULT_TOLERANCE = 0.1


@dataclass(frozen=True)
class WcsCanvas:
    """Frames placed on a common pixel grid by their WCS (see :func:`wcs_canvas`).

    Attributes
    ----------
    offsets : ndarray
        ``(N, ndim)`` int64 start of every frame on the canvas, NumPy axis order
        (``(y, x)`` for images); the offsets argument of
        :func:`~imcombiners.offsets.place_into_padded` and ``imcombiners.dask.combine``.
    shape : tuple of int
        Spatial shape of the canvas (covers every frame).
    shapes : tuple of tuple of int
        Spatial shape of every frame.
    header : astropy.io.fits.Header
        The canvas WCS as FITS cards (the reference frame's WCS with CRPIX moved).
    residual : ndarray
        ``(N,)`` distance (pixels) between each frame's exact position and its whole-pixel
        offset (at most ~0.71: the rounding the nearest pixel costs).
    drift : ndarray
        ``(N,)`` largest misplacement (pixels) inside each frame beyond the translation
        (rotation, scale, projection); at most the tolerance.
    """

    offsets: np.ndarray
    shape: tuple[int, ...]
    shapes: tuple[tuple[int, ...], ...]
    header: Any
    residual: np.ndarray
    drift: np.ndarray

    @property
    def n(self) -> int:
        """Number of frames."""
        return len(self.shapes)

    @property
    def wcs(self) -> Any:
        """The canvas WCS (``astropy.wcs.WCS``)."""
        from astropy.wcs import WCS

        w = WCS(self.header)
        w.pixel_shape = tuple(reversed(self.shape))
        return w

    def place(self, frames: Sequence[Any], fill: float = math.nan, *, dtype: Any = None) -> np.ndarray:
        """The ``(N, *canvas)`` padded stack of ``frames`` (or of their planes).

        Parameters
        ----------
        frames
            N arrays with the shapes the canvas was made for (images, variances, DQ...).
        fill, dtype
            As :func:`~imcombiners.offsets.place_into_padded`: NaN for images and
            variances; ``fill=0, dtype=dq.dtype`` keeps integer DQ words; ``fill=0`` for
            weights.
        """
        frames = list(frames)
        if len(frames) != self.n:
            raise ValueError(f"frames: the canvas holds {self.n} frames; got {len(frames)}")
        for i, (f, s) in enumerate(zip(frames, self.shapes)):
            if tuple(np.shape(f)) != s:
                raise ValueError(f"frames[{i}] has shape {tuple(np.shape(f))}; its WCS was for shape {s}")
        return place_into_padded(frames, self.offsets, fill, dtype=dtype)


def shift_wcs_header(header: Any, start: Sequence[int]) -> Any:
    """A copy of ``header`` whose WCS describes the same sky on a grid whose pixel
    ``start`` (NumPy axis order) is the header's pixel 0.

    Every WCS of the header moves (``CRPIXj`` and the alternates ``CRPIXja``), and IRAF's
    physical system (``LTVj``); distortions relative to the reference pixel (SIP, TPV)
    move with it.
    """
    out = header.copy()
    for k, s in enumerate(reversed(list(start))):  # FITS axis j = NumPy axis ndim - j
        if not s:
            continue
        j = k + 1
        for alt in " ABCDEFGHIJKLMNOPQRSTUVWXYZ":
            key = f"CRPIX{j}{alt.strip()}"
            if key in out:
                out[key] = float(out[key]) + s
        ltv = f"LTV{j}"
        if ltv in out:
            out[ltv] = float(out[ltv]) - s * float(out.get(f"LTM{j}_{j}", 1.0))
    return out


# --------------------------------------------------------------------------
# reading WCS and shapes from what users give
# --------------------------------------------------------------------------


def _header_shape(header: Any) -> tuple[int, ...] | None:
    naxis = int(header.get("ZNAXIS", header.get("NAXIS", 0)) or 0)
    prefix = "ZNAXIS" if "ZNAXIS" in header else "NAXIS"
    dims = [header.get(f"{prefix}{j}") for j in range(1, naxis + 1)]
    if not dims or any(d is None for d in dims):
        return None
    return tuple(int(d) for d in reversed(dims))


def _wcs_and_shape(item: Any, i: int, hdu: Any,
                   shape: tuple[int, ...] | None) -> tuple[Any, Any, tuple[int, ...], str]:
    """(astropy WCS, FITS header of that WCS, frame shape, name for messages) of one frame."""
    from astropy.io import fits
    from astropy.wcs import WCS

    from .io.fits import FitsFrame, probe, read_header

    what = f"frames[{i}]"
    if isinstance(item, (str, os.PathLike, FitsFrame)):
        frame = item if isinstance(item, FitsFrame) else probe(item, hdu)
        header = read_header(frame)
        what = f"frames[{i}] ({getattr(frame, 'path', item)})"
        shape = tuple(frame.shape)
    elif isinstance(item, fits.Header):
        header = item
        shape = shape or _header_shape(item)
    elif isinstance(item, WCS):
        header = item.to_header(relax=True)
        if shape is None and item.pixel_shape is not None:
            shape = tuple(reversed(item.pixel_shape))
    elif hasattr(item, "wcs") and hasattr(item, "data"):  # NDData, CCDData
        if item.wcs is None:
            raise ValueError(f"{what} has no WCS")
        header = item.wcs.to_header(relax=True)
        shape = tuple(np.shape(item.data))
    else:
        raise TypeError(f"{what}: expected a FITS file name, an astropy Header or WCS, or NDData/CCDData "
                        f"with a WCS; got {type(item).__name__}")
    if shape is None:
        raise ValueError(f"{what}: the frame's shape is unknown (give shapes=, or a WCS with pixel_shape)")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FITSFixedWarning about DATE-OBS etc.: not ours to report
        wcs = WCS(header)
    if wcs.naxis != len(shape):
        raise ValueError(f"{what}: its WCS has {wcs.naxis} axes but the frame has shape {shape}")
    if not wcs.has_celestial and not wcs.wcs.ctype[0]:
        raise ValueError(f"{what} has no WCS (no CTYPE cards)")
    return wcs, header, tuple(int(s) for s in shape), what


def _sample_pixels(shape: tuple[int, ...]) -> np.ndarray:
    """Corners, edge midpoints and centre of a frame: ``(K, ndim)`` pixel coordinates in
    astropy's order (x first)."""
    axes = [np.unique([0.0, (s - 1) / 2.0, s - 1.0]) for s in reversed(shape)]
    grid = np.meshgrid(*axes, indexing="ij")
    return np.stack([g.ravel() for g in grid], axis=1)


def _linear_summary(w: Any, ref: Any) -> str:
    """Rotation and scale of ``w`` relative to ``ref`` (2-D celestial WCS), for messages."""
    try:
        # frame pixels -> reference pixels (the linear part): a rotation times a scale
        m = np.linalg.inv(np.asarray(ref.celestial.pixel_scale_matrix)) @ np.asarray(w.celestial.pixel_scale_matrix)
        scale = math.sqrt(abs(np.linalg.det(m)))
        angle = math.degrees(math.atan2(m[1, 0] - m[0, 1], m[0, 0] + m[1, 1]))
        return f"rotated by {angle:.4g} deg and scaled by {scale:.6g} relative to frames[0]; "
    except Exception:  # not 2-D celestial, singular: the drift says enough
        return ""


def wcs_canvas(frames: Sequence[Any], *, hdu: Any = None, shapes: Sequence[Sequence[int]] | None = None,
               tolerance: float = DEFAULT_TOLERANCE) -> WcsCanvas:
    """Whole-pixel offsets of frames from their WCS, and the canvas covering them all.

    Each frame's pixel grid is mapped onto the first frame's through the sky; its offset is
    the nearest whole pixel of that mapping at the frame's centre.

    Parameters
    ----------
    frames
        N FITS file names (IRAF names such as ``"a.fits[SCI]"`` allowed), astropy
        ``Header`` or ``WCS`` objects, or NDData/CCDData with a ``wcs``.
    hdu
        HDU of FITS file names (default: the first with an image).
    shapes
        Spatial shape of every frame, when the WCS does not carry it (a ``WCS`` without
        ``pixel_shape``, a header without NAXISn).
    tolerance
        Largest misplacement (pixels) allowed inside a frame once its whole-pixel offset is
        applied, from a rotation, pixel-scale or projection difference.

    Returns
    -------
    WcsCanvas
        Offsets, canvas shape and the canvas WCS (``.header``, ``.wcs``).

    Raises
    ------
    ValueError
        When a frame's WCS differs from the first frame's by more than a translation
        (the message gives the rotation, scale and drift): such frames need resampling
        onto a common grid (e.g. ``reproject``), not integer offsets.  Also for frames
        without a WCS, or whose sky does not map onto the first frame's grid.
    """
    frames = list(frames)
    if not frames:
        raise ValueError("frames must contain at least one frame")
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a finite number of pixels >= 0; got {tolerance!r}")
    if shapes is not None and len(shapes) != len(frames):
        raise ValueError(f"shapes: expected {len(frames)} shapes (one per frame); got {len(shapes)}")
    got = [_wcs_and_shape(f, i, hdu, None if shapes is None else tuple(int(s) for s in shapes[i]))
           for i, f in enumerate(frames)]
    ref, ref_header, ref_shape, _ = got[0]
    ndim = len(ref_shape)
    offsets = np.zeros((len(frames), ndim), np.int64)
    residual = np.zeros(len(frames))
    drift = np.zeros(len(frames))
    for i, (w, _h, shape, what) in enumerate(got):
        if len(shape) != ndim:
            raise ValueError(f"{what} has {len(shape)} dimensions; frames[0] has {ndim}")
        if i == 0:
            continue
        pix = _sample_pixels(shape)
        with np.errstate(all="ignore"):
            world = w.pixel_to_world(*pix.T)
            world = world if isinstance(world, (list, tuple)) else [world]
            mapped = ref.world_to_pixel(*world)
        mapped = np.stack([np.asarray(m, float) for m in (mapped if isinstance(mapped, (list, tuple)) else [mapped])],
                          axis=1)
        if not np.all(np.isfinite(mapped)):
            raise ValueError(f"{what}: its pixels do not map onto the pixel grid of frames[0] "
                             "(different sky regions or coordinate systems)")
        shift = mapped - pix  # (K, ndim) x-first
        centre = shift[len(shift) // 2]  # the centre is the middle sample of the grid
        whole = np.round(centre)
        d = float(np.max(np.linalg.norm(shift - centre, axis=1)))
        if d > tolerance:
            raise ValueError(
                f"{what}: its WCS is not a whole-pixel translation of frames[0]'s: "
                f"{_linear_summary(w, ref)}pixels drift by {d:.3g} px across the frame (tolerance "
                f"{tolerance:g} px). Integer offsets cannot align such frames: resample them onto a "
                "common grid first (e.g. with the reproject package), or raise tolerance=.")
        offsets[i] = whole[::-1].astype(np.int64)
        residual[i] = float(np.linalg.norm(centre - whole))
        drift[i] = d
    starts, canvas_shape = padded_layout([g[2] for g in got], offsets)
    from astropy.io import fits

    header = ref.to_header(relax=True) if not isinstance(ref_header, fits.Header) else _wcs_cards(ref_header)
    header = shift_wcs_header(header, starts[0])
    return WcsCanvas(starts, tuple(canvas_shape), tuple(g[2] for g in got), header, residual, drift)


def _wcs_cards(header: Any) -> Any:
    """The WCS cards of a header (as astropy writes them), keeping its CRPIX exactly."""
    import warnings

    from astropy.wcs import WCS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return WCS(header).to_header(relax=True)


def resolve_offsets(offsets: Any, frames: Any, hdu: Any = None) -> tuple[Any, WcsCanvas | None]:
    """An engine's ``offsets=`` argument -> (integer offsets or None, canvas or None).

    ``"wcs"`` makes the canvas of FITS inputs from their headers; a :class:`WcsCanvas` is
    used as given; anything else (integers, None) passes through.
    """
    if isinstance(offsets, WcsCanvas):
        n = len(frames) if isinstance(frames, (list, tuple)) else int(getattr(frames, "shape", (0,))[0])
        if n != offsets.n:
            raise ValueError(f"offsets: the canvas holds {offsets.n} frames but the inputs have {n}")
        return offsets.offsets, offsets
    if isinstance(offsets, str):
        if offsets.lower() != "wcs":
            raise ValueError(f"offsets must be 'wcs', a WcsCanvas or (N, ndim) integers; got {offsets!r}")
        from .io.fits import FitsFrame

        if not isinstance(frames, (list, tuple)) or not all(isinstance(f, (str, os.PathLike, FitsFrame))
                                                              for f in frames):
            raise TypeError("offsets='wcs' reads the WCS of FITS file inputs; for other inputs give "
                            "offsets=imcombiners.canvas.wcs_canvas(wcs_list, shapes=...)")
        canvas = wcs_canvas(frames, hdu=hdu)
        return canvas.offsets, canvas
    return offsets, None
