"""PNG quick-look of images side by side (raw frame, master, rejection map, ...).

Uses matplotlib's Agg backend through the object API (no pyplot state, safe in
threads and on machines without a display) and IRAF/DS9-style zscale limits
(:class:`astropy.visualization.ZScaleInterval`) for image panels.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

import numpy as np

__all__ = ["quicklook", "zscale_limits", "display_image"]

_MAX_DISPLAY = 1024  # panels larger than this are block-averaged first (fast, no aliasing)


def zscale_limits(image: np.ndarray) -> tuple[float, float]:
    """Display limits from :class:`astropy.visualization.ZScaleInterval`.

    Non-finite pixels are ignored; a constant or empty image gives a small range
    around its value so that matplotlib still draws it.
    """
    from astropy.visualization import ZScaleInterval

    finite = np.asarray(image, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = ZScaleInterval().get_limits(finite)
    if not hi > lo:
        lo, hi = float(finite.min()), float(finite.max())
    if not hi > lo:
        lo, hi = lo - 0.5, lo + 0.5
    return float(lo), float(hi)


def _factor(shape: Sequence[int], limit: int = _MAX_DISPLAY) -> int:
    return max(1, int(np.ceil(max(shape) / limit)))


def _reduce_rows(rows: np.ndarray, f: int, is_count: bool) -> np.ndarray:
    """Block-reduce ``f`` x ``f`` blocks of a strip of rows (whole blocks only)."""
    h, w = (rows.shape[0] // f) * f, (rows.shape[1] // f) * f
    blocks = rows[:h, :w].astype(np.float64).reshape(h // f, f, w // f, f)
    # Counts keep their maximum so isolated rejections stay visible.
    if is_count:
        return blocks.max(axis=(1, 3))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks stay NaN
        return np.nanmean(blocks, axis=(1, 3))


def _shrink(image: np.ndarray, is_count: bool, limit: int = _MAX_DISPLAY) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim != 2:
        raise ValueError(f"quicklook panels must be 2-D images, got shape {img.shape}")
    f = _factor(img.shape, limit)
    return img if f <= 1 else _reduce_rows(img, f, is_count)


def display_image(read_rows: Callable[[int, int], np.ndarray], shape: Sequence[int], *,
                  is_count: bool = False, limit: int = _MAX_DISPLAY) -> np.ndarray:
    """An image reduced for display, read strip by strip (bounded memory).

    Parameters
    ----------
    read_rows : callable
        ``read_rows(y0, y1)`` returns rows ``y0:y1`` of the image (2-D).
    shape : (int, int)
        The full image shape.
    is_count : bool
        Reduce blocks by their maximum (counts) instead of their mean.
    limit : int
        Largest side wanted (pixels).

    Returns
    -------
    ndarray of float32
        At most about ``limit`` pixels on a side; pass ``shapes=[shape]`` to
        :func:`quicklook` so its axes keep the full image's pixel coordinates.
    """
    ny = int(shape[0])
    f = _factor(shape, limit)
    if f <= 1:
        return np.asarray(read_rows(0, ny), dtype=np.float32)
    step = f * max(1, (2 << 20) // max(1, int(shape[1]) * 8 * f))  # ~2 MB strips, whole blocks
    parts = [_reduce_rows(np.asarray(read_rows(y0, min(ny, y0 + step))), f, is_count).astype(np.float32)
             for y0 in range(0, (ny // f) * f, step)]
    return np.concatenate(parts, axis=0)


def quicklook(
    images: Sequence[np.ndarray],
    path: str | os.PathLike,
    *,
    titles: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    shapes: Sequence[Sequence[int] | None] | None = None,
    panel_size: float = 5.0,
    dpi: int = 100,
) -> str:
    """Save images side by side as a PNG, with pixel-coordinate axes and colour bars.

    Parameters
    ----------
    images : sequence of 2-D arrays
        Panels, left to right. By default the last panel of two or more is treated
        as a count map (e.g. rejected samples per pixel) when it has an integer
        dtype; every other panel is an image (raw integer frames included).
    path : str or os.PathLike
        Output PNG path.
    titles : sequence of str, optional
        One title per panel.
    kinds : sequence of {"image", "count"}, optional
        ``"image"``: grey, zscale limits, a colour bar labelled with the stretch.
        ``"count"``: colour map from 0 to the maximum count, with a colour bar.
    shapes : sequence of (int, int) or None, optional
        Full shapes of panels already reduced (:func:`display_image`), so the axis
        ticks show the original pixel coordinates.
    panel_size : float
        Width and height of each panel in inches.
    dpi : int
        Resolution. The PNG is ``len(images) * panel_size * dpi`` pixels wide and
        ``(panel_size + 0.6) * dpi`` high.

    Returns
    -------
    str
        The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    images = list(images)
    if not images:
        raise ValueError("quicklook needs at least one image")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles has {len(titles)} entries for {len(images)} images")
    if kinds is None:
        kinds = ["image"] * len(images)
        if len(images) > 1 and np.issubdtype(np.asarray(images[-1]).dtype, np.integer):
            kinds[-1] = "count"
    if shapes is None:
        shapes = [None] * len(images)
    for kind in kinds:
        if kind not in ("image", "count"):
            raise ValueError(f"kinds entries must be 'image' or 'count', got {kind!r}")

    n = len(images)
    fig = Figure(figsize=(n * panel_size, panel_size + 0.6), dpi=dpi)
    FigureCanvasAgg(fig)
    for i, (img, kind, full) in enumerate(zip(images, kinds, shapes)):
        ax = fig.add_subplot(1, n, i + 1)
        arr = np.asarray(img)
        full = tuple(full) if full is not None else arr.shape
        # no more pixels than the panel shows: matplotlib resamples in float64 RGBA copies
        shown = _shrink(arr, kind == "count", max(64, int(panel_size * dpi))).astype(np.float32)
        # pixel coordinates of the full image (FITS/IRAF numbering: first pixel is 1)
        extent = (0.5, full[1] + 0.5, 0.5, full[0] + 0.5) if len(full) == 2 else None
        if kind == "count":
            top = int(np.nanmax(shown)) if np.isfinite(shown).any() else 0
            im = ax.imshow(shown, origin="lower", cmap="magma", vmin=0, vmax=max(top, 1),
                           interpolation="nearest", extent=extent)
            bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
            bar.set_label("count", fontsize=8)
        else:
            lo, hi = zscale_limits(shown)
            im = ax.imshow(shown, origin="lower", cmap="gray", vmin=lo, vmax=hi,
                           interpolation="nearest", extent=extent)
            bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
            bar.set_label(f"zscale, linear: {lo:.6g} to {hi:.6g}", fontsize=8)
        bar.ax.tick_params(labelsize=7)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("x (pixel)", fontsize=8)
        ax.set_ylabel("y (pixel)", fontsize=8)
        if titles is not None:
            ax.set_title(titles[i], fontsize=11)
    fig.subplots_adjust(left=0.05, right=0.96, bottom=0.1, top=0.92, wspace=0.35)
    fig.savefig(os.fspath(path), dpi=dpi)  # fixed size: no bbox_inches="tight"
    return os.fspath(path)
