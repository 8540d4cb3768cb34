"""PNG quick-look of images side by side (raw frame, master, rejection map, ...).

Uses matplotlib's Agg backend through the object API (no pyplot state, safe in
threads and on machines without a display) and IRAF/DS9-style zscale limits
(:class:`astropy.visualization.ZScaleInterval`) for image panels.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

__all__ = ["quicklook", "zscale_limits"]

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


def _shrink(image: np.ndarray, is_count: bool) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim != 2:
        raise ValueError(f"quicklook panels must be 2-D images, got shape {img.shape}")
    f = int(np.ceil(max(img.shape) / _MAX_DISPLAY))
    if f <= 1:
        return img
    h, w = (img.shape[0] // f) * f, (img.shape[1] // f) * f
    blocks = img[:h, :w].astype(np.float64).reshape(h // f, f, w // f, f)
    # Counts keep their maximum so isolated rejections stay visible.
    return blocks.max(axis=(1, 3)) if is_count else np.nanmean(blocks, axis=(1, 3))


def quicklook(
    images: Sequence[np.ndarray],
    path: str | os.PathLike,
    *,
    titles: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    panel_size: float = 5.0,
    dpi: int = 100,
) -> str:
    """Save images side by side as a PNG.

    Parameters
    ----------
    images : sequence of 2-D arrays
        Panels, left to right. By default the last panel is treated as a count
        map (e.g. rejected samples per pixel) when it has an integer dtype.
    path : str or os.PathLike
        Output PNG path.
    titles : sequence of str, optional
        One title per panel.
    kinds : sequence of {"image", "count"}, optional
        ``"image"``: grey, zscale limits. ``"count"``: discrete colour map from 0 to
        the maximum count, with a colour bar. Default: integer arrays are counts.
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
        kinds = ["count" if np.issubdtype(np.asarray(im).dtype, np.integer) else "image" for im in images]
    for kind in kinds:
        if kind not in ("image", "count"):
            raise ValueError(f"kinds entries must be 'image' or 'count', got {kind!r}")

    n = len(images)
    fig = Figure(figsize=(n * panel_size, panel_size + 0.6), dpi=dpi)
    FigureCanvasAgg(fig)
    for i, (img, kind) in enumerate(zip(images, kinds)):
        ax = fig.add_subplot(1, n, i + 1)
        shown = _shrink(img, kind == "count")
        if kind == "count":
            top = int(np.nanmax(shown)) if np.isfinite(shown).any() else 0
            im = ax.imshow(shown, origin="lower", cmap="magma", vmin=0, vmax=max(top, 1),
                           interpolation="nearest")
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
        else:
            lo, hi = zscale_limits(shown)
            ax.imshow(shown, origin="lower", cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[i], fontsize=11)
    fig.subplots_adjust(left=0.01, right=0.97, bottom=0.02, top=0.92, wspace=0.12)
    fig.savefig(os.fspath(path), dpi=dpi)  # fixed size: no bbox_inches="tight"
    return os.fspath(path)
