"""World and physical coordinates of IRAF frames, and IRAF's output header.

IRAF keeps two pixel systems in a FITS header: the *logical* system (the pixels of the
file, which is what ``CRPIXn``/``CDi_j`` refer to) and the *physical* system (the
pixels of the original detector frame), related by ``logical = LTM @ physical + LTV``
(keywords ``LTVn``, ``LTMi_j``; identity when absent). ``offsets="wcs"`` uses the
world system, ``offsets="physical"`` the physical one (checked against IRAF 2.17).

When the frames are not simply stacked, IRAF shifts the output's logical system by the
first frame's offset: ``LTVn`` and ``CRPIXn`` both move by that offset (so world and
physical coordinates of every output pixel stay those of the first frame). With
``offsets="wcs"`` it then resets the physical system to the logical one (``LTV = 0``,
``LTM = 1``). :func:`output_header` reproduces this.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FrameWcs", "output_header", "header_changes", "header_value", "STRUCTURAL"]

#: keywords describing the data layout, set by the writer and never copied
STRUCTURAL = ("SIMPLE", "XTENSION", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT", "BSCALE", "BZERO",
              "BLANK", "CHECKSUM", "DATASUM", "END", "GROUPS", "TFIELDS", "ZIMAGE")


def header_value(h: Mapping[str, Any] | None, key: str, default: Any = None) -> Any:
    """A keyword of a header mapping (any case), or ``default``."""
    if h is None:
        return default
    for k in (key, key.upper(), key.lower()):
        try:
            if k in h:
                return h[k]
        except TypeError:
            continue
    return default


def _num(h: Mapping[str, Any] | None, key: str, default: float) -> float:
    v = header_value(h, key)
    if v is None or isinstance(v, bool):
        return default
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ValueError(f"header keyword {key} is not a number ({v!r})") from None


_CELESTIAL = ("RA--", "DEC-", "GLON", "GLAT", "ELON", "ELAT", "SLON", "SLAT", "HLON", "HLAT")


@dataclass(frozen=True)
class FrameWcs:
    """The linear parts of a frame's WCS (IRAF axis order, 1-based pixels).

    Attributes
    ----------
    ctype : tuple of str
    crpix, crval : ndarray (ndim,)
        Reference pixel (logical) and world value.
    cd : ndarray (ndim, ndim)
        ``CDi_j`` (or ``CDELTi`` on the diagonal); identity when absent.
    ltv : ndarray (ndim,), ltm : ndarray (ndim, ndim)
        IRAF's physical system: ``logical = ltm @ physical + ltv``.
    header : Mapping or None
        The source header (for celestial projections).
    """

    ctype: tuple[str, ...]
    crpix: np.ndarray
    crval: np.ndarray
    cd: np.ndarray
    ltv: np.ndarray
    ltm: np.ndarray
    header: Any = None

    @classmethod
    def from_header(cls, h: Mapping[str, Any] | None, ndim: int) -> FrameWcs:
        ax = range(1, ndim + 1)
        ctype = tuple(str(header_value(h, f"CTYPE{i}", "") or "") for i in ax)
        crpix = np.array([_num(h, f"CRPIX{i}", 0.0) for i in ax])
        crval = np.array([_num(h, f"CRVAL{i}", 0.0) for i in ax])
        has_cd = any(header_value(h, f"CD{i}_{j}") is not None for i in ax for j in ax)
        if has_cd:
            cd = np.array([[_num(h, f"CD{i}_{j}", 0.0) for j in ax] for i in ax])
        else:
            cd = np.diag([_num(h, f"CDELT{i}", 1.0) for i in ax])
        ltv = np.array([_num(h, f"LTV{i}", 0.0) for i in ax])
        ltm = np.array([[_num(h, f"LTM{i}_{j}", 1.0 if i == j else 0.0) for j in ax] for i in ax])
        return cls(ctype, crpix, crval, cd, ltv, ltm, h)

    @property
    def celestial(self) -> bool:
        return any(t.upper().startswith(_CELESTIAL) for t in self.ctype)

    def world_to_logical(self, world: np.ndarray) -> np.ndarray:
        """Logical (file) pixel, 1-based, of a world point."""
        world = np.asarray(world, dtype=float)
        if self.celestial:
            return self._celestial_to_pixel(world)
        try:
            return self.crpix + np.linalg.solve(self.cd, world - self.crval)
        except np.linalg.LinAlgError:
            raise ValueError("the WCS matrix (CD/CDELT) is singular") from None

    def _celestial_to_pixel(self, world: np.ndarray) -> np.ndarray:
        import warnings

        from astropy.io import fits
        from astropy.wcs import WCS, FITSFixedWarning

        ndim = len(self.crpix)
        hdr = fits.Header()
        hdr["NAXIS"] = ndim
        for i in range(ndim):
            hdr[f"CTYPE{i + 1}"] = self.ctype[i]
            hdr[f"CRPIX{i + 1}"] = float(self.crpix[i])
            hdr[f"CRVAL{i + 1}"] = float(self.crval[i])
            for j in range(ndim):
                hdr[f"CD{i + 1}_{j + 1}"] = float(self.cd[i, j])
        for key in ("EQUINOX", "RADESYS", "LONPOLE", "LATPOLE"):
            v = header_value(self.header, key)
            if v is not None:
                hdr[key] = v
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            w = WCS(hdr)
        pix = w.all_world2pix(world[None, :], 1)[0]
        if not np.all(np.isfinite(pix)):
            raise ValueError("the reference world point has no pixel position in this frame's WCS")
        return np.asarray(pix, dtype=float)

    def crpix_logical(self) -> np.ndarray:
        return self.crpix.copy()

    def logical_to_physical(self, logical: np.ndarray) -> np.ndarray:
        try:
            return np.linalg.solve(self.ltm, np.asarray(logical, dtype=float) - self.ltv)
        except np.linalg.LinAlgError:
            raise ValueError("the physical system (LTM) is singular") from None

    def physical_to_logical(self, physical: np.ndarray) -> np.ndarray:
        return self.ltm @ np.asarray(physical, dtype=float) + self.ltv


def output_header(first: Mapping[str, Any] | None, geom: Any, *, ncombine: int,
                  names: list[str] | None = None, ndim: int = 2) -> dict[str, Any]:
    """The output image's header as IRAF writes it (keywords only; no data layout).

    Parameters
    ----------
    first
        Header of the first input (copied, as IRAF does), or None.
    geom
        The :class:`~imcombiners._iraf_geometry.Geometry` of the combine, or None.
    ncombine
        Sum of the inputs' NCOMBINE (1 each when absent).
    names
        Input names for ``IMCMBnnn`` (IRAF writes them for fewer than 1000 images).
    ndim
        Number of image axes.

    Returns
    -------
    dict
        Ordered keyword -> value (``NAXISn`` included; ``BITPIX``/``BZERO`` are the
        writer's business).
    """
    out: dict[str, Any] = {}
    if first is not None:
        for key in first:
            k = str(key).upper()
            if k in STRUCTURAL or k.startswith(("NAXIS", "IMCMB", "ZNAXIS", "ZTILE")) or k in ("", "COMMENT",
                                                                                            "HISTORY"):
                continue
            if k == "BPM":  # IRAF deletes the input mask name
                continue
            out[k] = first[key]
    out["NAXIS"] = ndim
    if geom is not None:
        for d, length in enumerate(geom.out_len):
            out[f"NAXIS{d + 1}"] = int(length)
    if geom is not None and geom.update_wcs:
        wcs = FrameWcs.from_header(first, ndim)
        shift = geom.offsets[0].astype(float)
        ltv = wcs.ltv + shift
        ltm = wcs.ltm
        for i in range(ndim):
            key = f"CRPIX{i + 1}"
            if key in out:
                out[key] = float(wcs.crpix[i] + shift[i])
        if geom.reset_physical:
            ltv = np.zeros(ndim)
            ltm = np.eye(ndim)
        out["WCSDIM"] = ndim
        for i in range(ndim):
            key = f"LTV{i + 1}"
            if ltv[i] != 0:
                out[key] = float(ltv[i])
            else:
                out.pop(key, None)
            for j in range(ndim):
                key = f"LTM{i + 1}_{j + 1}"
                if i == j or ltm[i, j] != 0:
                    out[key] = float(ltm[i, j])
                else:
                    out.pop(key, None)
    out["NCOMBINE"] = int(ncombine)
    if names is not None and len(names) < 1000:
        for i, name in enumerate(names):
            out[f"IMCMB{i + 1:03d}"] = name
    return out


def _removable(key: str) -> bool:
    """Keywords IRAF deletes from the first input's header: the input mask's name and the
    physical-system terms it resets (``LTVn`` at 0, ``LTMi_j`` off the diagonal at 0)."""
    k = key.upper()
    return k == "BPM" or (k.startswith(("LTV", "LTM")) and k[3:].replace("_", "").isdigit())


def header_changes(iraf: Mapping[str, Any] | None,
                   first: Any) -> tuple[list[tuple[str, Any, str]], list[str]]:
    """How IRAF's output header (:func:`output_header`) differs from the first input's.

    Returns
    -------
    (cards, removed)
        ``cards``: ``(keyword, value, comment)`` of every keyword IRAF sets to a value the
        first header does not hold (axis lengths aside: the writer's), with the first
        header's comment when it had the keyword; ``removed``: keywords of the first
        header IRAF deletes (``BPM``, reset ``LTVn``/``LTMi_j``).  The command line's
        writer and the out-of-core ``to_fits`` both apply them to the first input's header.
    """
    if not iraf:
        return [], []
    first = first if first is not None else {}
    comments = getattr(first, "comments", None)

    def comment(k: str) -> str:
        if comments is None or k not in first:
            return ""
        try:
            return str(comments[k])
        except (KeyError, IndexError):
            return ""

    cards = [(k, v, comment(k)) for k, v in iraf.items()
             if not k.startswith("NAXIS") and isinstance(v, (str, int, float, bool))
             and not (k in first and first[k] == v)]
    removed = [str(k).upper() for k in first if _removable(str(k)) and str(k).upper() not in iraf]
    return cards, removed
