"""IRAF IMCOMBINE-compatible entry point.

:func:`imcombine` takes IRAF's parameter names and defaults and reproduces IRAF 2.17
``images.immatch.imcombine`` bit for bit on the real (float32) and double code paths:
the same image statistics, factor normalisation, rejection algorithms (with their
quirks), combining arithmetic and optional products. See ``docs/iraf.md`` for the
parameter mapping and ``docs/iraf-differences.md`` for the few deliberate differences.
"""

from __future__ import annotations

import math
import numbers
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _core
from ._fitsmap import map_image
from ._frames import FrameSet, prepare_frames
from ._iraf_outtype import OUTTYPES, parse_outtype, working_path
from ._iraf_setup import Layout, finish_output, frame_mask_codes, merge_bad, resolve_layout, resolve_mask_rule, \
    stat_sections
from ._iraf_wcs import output_header
from ._validate import as_int, check_memory

__all__ = ["ImcombineResult", "imcombine"]

_COMBINES = ("average", "median", "lmedian", "sum", "quadrature", "nmodel")
_REJECTS = ("none", "minmax", "sigclip", "avsigclip", "ccdclip", "crreject", "pclip")
_STATS = ("mode", "median", "mean")
_MAX_REAL = 0.99e37  # IRAF's MAX_REAL (INDEF thresholds)
_PRODUCTS = ("sigma", "rejmask", "nrejmask", "expmask", "bpmask")


def _products(products: Any) -> list[str]:
    """``products`` -> the list of optional products to compute (None: none, as IRAF)."""
    if products is None:
        return []
    if isinstance(products, str):
        low = products.lower()
        if low == "all":
            return list(_PRODUCTS)
        if low == "none":
            return []
        products = [products]
    try:
        names = [str(p).lower() for p in products]
    except TypeError:
        raise TypeError(f"products must be 'all', 'none' or a collection of names among "
                        f"{', '.join(_PRODUCTS)}; got {products!r}") from None
    unknown = [p for p in names if p not in _PRODUCTS]
    if unknown:
        raise ValueError(f"products: unknown {unknown}; use 'all', 'none' or names among {', '.join(_PRODUCTS)}")
    return [p for p in _PRODUCTS if p in names]


@dataclass(frozen=True, eq=False)
class ImcombineResult:
    """Products of :func:`imcombine` (IRAF's output images).

    ``sigma``, ``rejmask``, ``nrejmask``, ``expmask`` and ``bpmask`` are None unless
    requested with :func:`imcombine`'s ``products`` (by default none is computed, as in
    IRAF).

    Attributes
    ----------
    output : ndarray, ``*spatial``
        The combined image on the output grid (larger than the inputs with offsets):
        float32 for ``outtype="real"``, float64 for ``"double"``, int16 ``"short"``,
        uint16 ``"ushort"``, int32 ``"integer"`` and ``"long"``.
    sigma : ndarray, ``*spatial``, or None
        IRAF's sigma image: scatter of the combined values about the output value
        (``blank`` where nothing was combined).
    rejmask : ndarray of bool, ``(N, *spatial)``, or None
        True where a sample was not used (masked, non-finite, outside the thresholds,
        rejected, or grown), like IRAF's ``rejmasks``.
    nrejmask : ndarray of int32, ``*spatial``, or None
        Number of samples not used per pixel (IRAF's ``nrejmasks``).
    expmask : ndarray of int32, ``*spatial``, or None
        IRAF's exposure mask: total exposure of the used images, stored as
        ``round((E - maskzero) / maskscal)`` (the number of images used when no
        ``expname`` is given).
    bpmask : ndarray of int32, ``*spatial``, or None
        IRAF's output bad pixel mask: 0 where values were combined, 1 where none was
        left (the pixel is ``blank``), 2 where only bad values were combined
        (``masktype="novalue"``).
    scale, zero, weight : ndarray of float32, ``(N,)``
        Factors actually used: a pixel ``v`` of image ``i`` is combined as
        ``v / scale[i] - zero[i]``; ``weight`` sums to 1.
    maskscal, maskzero : float
        Encoding of ``expmask`` (IRAF's MASKSCAL / MASKZERO).
    warnings : tuple of str
        Conditions IRAF warns about (e.g. non-positive scale factors), and integer
        output values that wrapped around.
    offsets : ndarray of int64, ``(N, ndim)``
        Where each image's first pixel lies in the output (0-based, IRAF axis order:
        x first), as IRAF prints them in its log.
    header : dict
        The output header as IRAF writes it: the first image's keywords, ``NAXISn``,
        ``NCOMBINE``, and the world/physical system shifted with the output (``CRPIXn``,
        ``LTVn``, ``LTMi_j``, ``WCSDIM``).
    """

    output: np.ndarray
    sigma: np.ndarray | None
    rejmask: np.ndarray | None
    nrejmask: np.ndarray | None
    expmask: np.ndarray | None
    scale: np.ndarray
    zero: np.ndarray
    weight: np.ndarray
    maskscal: float
    maskzero: float
    warnings: tuple[str, ...] = ()
    bpmask: np.ndarray | None = None
    offsets: np.ndarray | None = None
    header: dict | None = None


# ----------------------------------------------------------------------------- helpers


def _is_paths(images: Any) -> bool:
    return (
        isinstance(images, (list, tuple))
        and len(images) > 0
        and all(isinstance(p, (str, os.PathLike)) for p in images)
    )


def _read_fits(paths: Sequence[Any]) -> tuple[list[np.ndarray], list[Mapping[str, Any]]]:
    from astropy.io import fits

    from .io.fits import probe

    data, headers = [], []
    for p in paths:
        name = os.fspath(p)
        try:
            # reliability: header checks first (corrupt BITPIX/NAXIS, truncated data), and
            # every read error names the file
            probe(name)
            with fits.open(name, memmap=False) as hdul:
                hdu = next((h for h in hdul if getattr(h, "data", None) is not None), None)
                if hdu is None:
                    raise ValueError(f"images: {name!r} has no image data")
                data.append(np.asarray(hdu.data))
                headers.append(hdu.header.copy())
        except FileNotFoundError:
            raise
        except (OSError, ValueError, TypeError, KeyError) as exc:
            if name in str(exc):
                raise
            raise ValueError(f"images: cannot read FITS image {name!r}: {exc}") from exc
    return data, headers


def _map_fits(paths: Sequence[Any]) -> tuple[FrameSet, str | None, list[Any]] | None:
    """Memory-map every file (see ``_fitsmap``); None unless all are plain images of one
    type and shape."""
    mapped = []
    for p in paths:
        m = map_image(p)
        if m is None or (mapped and (m.swapped, m.dtype, m.shape) != (mapped[0].swapped, mapped[0].dtype,
                                                                       mapped[0].shape)):
            return None
        mapped.append(m)
    first = mapped[0]
    if len(first.shape) < 1:
        return None
    fs = FrameSet(tuple(m.raw for m in mapped), None, first.shape, first.dtype)
    return fs, first.swapped, [m.header for m in mapped]


def _float(name: str, value: Any, *, allow_none: bool = False, allow_nan: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    v = float(value)
    if math.isnan(v) and not allow_nan:
        raise ValueError(f"{name} must not be NaN")
    return v


def _nonneg(name: str, value: Any, *, allow_none: bool = False) -> float | None:
    v = _float(name, value, allow_none=allow_none)
    if v is not None and not (v >= 0 and math.isfinite(v)):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return v


def _header_value(headers: Sequence[Mapping[str, Any]] | None, i: int, key: str, default: Any = None) -> Any:
    if headers is None or headers[i] is None:
        return default
    h = headers[i]
    for k in (key, key.upper(), key.lower()):
        if k in h:
            return h[k]
    return default


def _keyword_values(name: str, key: str, headers: Sequence[Mapping[str, Any]] | None, n: int) -> list[float]:
    vals = []
    for i in range(n):
        v = _header_value(headers, i, key)
        if v is None:
            raise ValueError(f"{name}: header keyword {key!r} not found for image {i}")
        try:
            vals.append(float(v))
        except (TypeError, ValueError):
            raise ValueError(f"{name}: header keyword {key!r} of image {i} is not a number ({v!r})") from None
    return vals


def _parse_statsec(statsec: Any, spatial: tuple[int, ...]) -> list[tuple[int, int]] | None:
    """IRAF section ``[x1:x2,y1:y2]`` (1-based inclusive, x = last axis) -> limits."""
    if statsec is None:
        return None
    if not isinstance(statsec, str):
        raise TypeError(f"statsec must be a string like '[x1:x2,y1:y2]' or None; got {statsec!r}")
    s = statsec.strip()
    for mod in ("input", "output", "overlap"):  # only meaningful with offsets
        if s.lower().startswith(mod):
            s = s[len(mod):].strip()
    if s == "":
        return None
    m = re.fullmatch(r"\[(.*)\]", s)
    if not m:
        raise ValueError(f"statsec must look like '[x1:x2,y1:y2]' (1-based, inclusive); got {statsec!r}")
    parts = [p.strip() for p in m.group(1).split(",")]
    nd = len(spatial)
    if len(parts) > nd:
        raise ValueError(f"statsec {statsec!r} has {len(parts)} axes but the images have {nd}")
    out = []
    for d, p in enumerate(parts):
        length = spatial[nd - 1 - d]
        if p == "*":
            out.append((1, length))
            continue
        mm = re.fullmatch(r"(-?\d+)(?::(-?\d+))?(?::\d+)?", p)
        if not mm:
            raise ValueError(f"statsec: cannot parse axis {d + 1} {p!r} of {statsec!r}")
        a = int(mm.group(1))
        b = int(mm.group(2)) if mm.group(2) is not None else a
        if max(a, b) < 1 or min(a, b) > length:
            raise ValueError(f"statsec: axis {d + 1} range {a}:{b} lies outside the image (1..{length})")
        out.append((a, b))
    return out


def _read_list_file(name: str, path: str, n: int) -> list[float]:
    with open(path) as fh:
        vals = []
        for line in fh:
            tok = line.split()
            if tok:
                vals.append(float(tok[0]))
    if len(vals) < n:
        raise ValueError(f"{name}: {path!r} lists {len(vals)} values for {n} images")
    return vals[:n]


def _noise_values(name: str, value: Any, headers: Sequence[Mapping[str, Any]] | None, n: int) -> list[float]:
    """rdnoise / gain / snoise: a number, N numbers, or a header keyword."""
    if isinstance(value, str):
        key = value[1:] if value.startswith("!") else value
        try:
            return [float(key)] * n
        except ValueError:
            return _keyword_values(name, key, headers, n)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return [float(value)] * n
    vals = np.asarray(value, dtype=float).ravel()
    if vals.size != n:
        raise ValueError(f"{name}: give one number, {n} numbers or a header keyword; got {vals.size} values")
    return [float(v) for v in vals]


# ----------------------------------------------------------------------------- factors


def _resolve_factors(
    fs: Any,
    swapped: str | None,
    scale: Any,
    zero: Any,
    weight: Any,
    statsec: Any,
    expname: str | None,
    headers: Sequence[Mapping[str, Any]] | None,
    thresholds: tuple[float | None, float | None],
    *,
    codes: Sequence[np.ndarray | None] | None = None,
    layout: Layout | None = None,
) -> dict[str, Any]:
    n = fs.n
    specs = {"scale": scale, "zero": zero, "weight": weight}
    stat_kinds = {k: v for k, v in specs.items() if isinstance(v, str) and v.lower() in _STATS}
    stats = None
    if stat_kinds:
        sections = stat_sections(statsec, layout, [fs.spatial] * n)
        needs_sort = any(v.lower() in ("mode", "median") for v in stat_kinds.values())
        lo, hi = thresholds
        if lo is not None or hi is not None:
            lo = -_MAX_REAL if lo is None else lo
            hi = _MAX_REAL if hi is None else hi
        stats = []
        for i in range(n):
            mask = None if codes is None else codes[i]
            try:
                stats.append(_core.iraf_stats(fs.frames[i], mask, list(fs.spatial), sections[i], lo, hi, needs_sort,
                                              swapped))
            except ValueError as e:
                raise ValueError(f"statsec: image {i}: {e}") from None
    elif statsec is not None:
        stat_sections(statsec, layout, [fs.spatial] * n)  # validate anyway

    by_name = None if stats is None else {name: [float(st[k]) for st in stats] for k, name in enumerate(_STATS)}
    resolved = {k: _resolve_factor(k, v, n, by_name, expname, headers) for k, v in specs.items()}
    return _iraf_factors(resolved, headers, n)


def _resolve_factor(name: str, spec: Any, n: int, stats: Mapping[str, Sequence[float]] | None,
                    expname: str | None, headers: Sequence[Mapping[str, Any]] | None) -> tuple[str, list[float]]:
    """(source, values) of one of scale/zero/weight: ``"none"``, a statistic (``stats``
    maps mode/median/mean to the N per-image values), ``"exposure"``, ``!KEYWORD``,
    ``@file`` or N numbers (shared by the in-memory and the out-of-core call)."""
    if isinstance(spec, str):
        s = spec.strip()
        low = s.lower()
        if low == "none":
            return "none", []
        if low in _STATS:
            return "stat", [float(v) for v in stats[low]]  # type: ignore[index]
        if low == "exposure":
            if name == "zero":
                raise ValueError("zero: 'exposure' is not allowed (use it for scale or weight)")
            key = expname or ""
            return "stat", [max(0.001, float(_header_value(headers, i, key, 0.0) if key else 0.0))
                            for i in range(n)]
        if s.startswith("!"):
            return "file", _keyword_values(name, s[1:], headers, n)
        if s.startswith("@"):
            return "file", _read_list_file(name, s[1:], n)
        raise ValueError(
            f"{name}: unknown {spec!r}; use 'none', 'mode', 'median', 'mean'"
            + (", 'exposure'" if name != "zero" else "")
            + ", '!KEYWORD', '@file' or a sequence of N numbers"
        )
    try:
        vals = np.asarray(spec, dtype=float).ravel()
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a name or a sequence of {n} numbers; got {spec!r}") from None
    if vals.size != n:
        raise ValueError(f"{name}: {vals.size} values given for {n} images")
    if not np.all(np.isfinite(vals)):
        raise ValueError(f"{name}: values must be finite")
    return "file", [float(v) for v in vals]


def _header_numbers(headers: Sequence[Mapping[str, Any]] | None, n: int, key: str | None,
                    default: float) -> list[float]:
    """Per-image numeric header values (``default`` when absent or not a number)."""
    out = []
    for i in range(n):
        v = _header_value(headers, i, key, None) if key else None
        try:
            out.append(default if v is None else float(v))
        except (TypeError, ValueError):
            out.append(default)
    return out


def _iraf_factors(resolved: Mapping[str, tuple[str, list[float]]],
                  headers: Sequence[Mapping[str, Any]] | None, n: int) -> dict[str, Any]:
    """IRAF's scale/zero/weight factors (``_core.iraf_factors``) with NCOMBINE weighting."""
    ncombine = _header_numbers(headers, n, "NCOMBINE", 1.0)
    return _core.iraf_factors(resolved["scale"], resolved["zero"], resolved["weight"], ncombine)


# ----------------------------------------------------------------------------- main


def imcombine(
    images: Any,
    *,
    combine: str = "average",
    reject: str = "none",
    nlow: float = 1,
    nhigh: float = 1,
    nkeep: int = 1,
    mclip: bool = True,
    lsigma: float | None = 3.0,
    hsigma: float | None = 3.0,
    rdnoise: Any = 0.0,
    gain: Any = 1.0,
    snoise: Any = 0.0,
    sigscale: float = 0.1,
    pclip: float = -0.5,
    grow: float = 0.0,
    lthreshold: float | None = None,
    hthreshold: float | None = None,
    zero: Any = "none",
    scale: Any = "none",
    weight: Any = "none",
    statsec: str | None = None,
    expname: str | None = None,
    blank: float = 0.0,
    masks: Any = None,
    masktype: str | None = None,
    maskvalue: Any = None,
    offsets: Any = "none",
    outlimits: Any = None,
    headers: Sequence[Mapping[str, Any]] | None = None,
    outtype: str | None = None,
    products: Any = None,
    threads: int = 0,
) -> ImcombineResult:
    """Combine images exactly as IRAF ``imcombine`` (IRAF 2.17 names and defaults).

    Parameters
    ----------
    images : ndarray (N, *spatial), list of N arrays, or list of N FITS paths
        The input images. With paths, the first HDU holding data is read and its header
        serves ``!KEYWORD``, ``exposure``/``expname``, NCOMBINE, keyword noise
        parameters, WCS/physical offsets and mask keywords. Accepted dtypes: uint8,
        uint16, int16, int32, float32, float64. Non-finite values are treated as masked
        (IRAF would read them as 0).
    combine : {"average", "median", "lmedian", "sum", "quadrature", "nmodel"}
        ``quadrature``: the inputs are sigmas, the result is ``sqrt(sum (w v)^2) / sum w``
        over the values kept; ``nmodel``: each kept value's variance from the CCD noise
        model (``rdnoise``, ``gain``, ``snoise``) combined the same way.
    reject : {"none", "minmax", "sigclip", "avsigclip", "ccdclip", "crreject", "pclip"}
    nlow, nhigh : int or float
        minmax: number of lowest / highest values removed (integers, IRAF), or fractions
        of the images in [0, 1) (this library's extension; IRAF's CL truncates them).
    nkeep : int
        Minimum number of values kept (>= 0) or maximum number rejected (< 0).
    mclip : bool
        Median (True) or mean (False) as the clipping centre.
    lsigma, hsigma : float or None
        Clipping limits in sigma units (None = INDEF, no limit).
    rdnoise, gain, snoise : float, sequence of N floats, or header keyword name
        CCD noise model of ccdclip/crreject and nmodel (electrons, electrons per ADU,
        fraction).
    sigscale : float
        Tolerance for the Poisson sigma correction of scaled images (0 disables it).
    pclip : float
        pclip rank parameter (|pclip| < 1: fraction of N/2; must be nonzero).
    grow : float
        Radius (pixels) of the second-pass rejection around rejected values.
    lthreshold, hthreshold : float or None
        Raw values below / above are excluded (inclusive limits kept; None = INDEF).
    zero, scale, weight : str or sequence of N numbers
        "none", "mode", "median", "mean", "exposure" (scale/weight), "!KEYWORD", "@file",
        or N numbers with IRAF's @file meaning (listed scales multiply the images,
        listed zeros are added and not made relative, listed weights are relative).
    statsec : str or None
        IRAF section ``"[x1:x2,y1:y2]"`` (1-based inclusive, x = last axis) for the
        statistics, in each image's pixels; ``"input [..]"`` is the same, ``"output
        [..]"`` a section of the output image, ``"overlap"`` the region every image
        covers (the last two matter with offsets).
    expname : str or None
        Header keyword holding the exposure time (for ``exposure`` and ``expmask``).
    blank : float
        Output (and sigma) value where no value is left, and where no image covers the
        output (offsets).
    masks : array-like (N, *spatial), one ``*spatial`` mask, or list of N arrays, file
        names or None; optional
        Bad-pixel masks. Without ``masktype`` they mean nonzero = bad (bool masks:
        True = bad). With ``masktype`` they are integer masks read the IRAF way. When
        ``masks`` is None and ``masktype`` is given, each image's mask is the integer
        FITS image named by its ``BPM`` header keyword (or the keyword of
        ``masktype="!KEY"``), looked up as given and then in the image's directory.
    masktype : str or None
        IRAF's mask type: "none", "goodvalue", "badvalue", "goodbits", "badbits",
        "novalue", or "!KEYWORD [type]" (mask file named by KEYWORD). None: "none"
        without ``masks``, nonzero = bad with them. IRAF treats an image whose whole
        mask is 0 as having no mask (see docs/iraf.md).
    maskvalue : int or str
        IRAF's mask value; ``"<v"`` (bad where mask >= v) and ``">v"`` (bad where
        mask <= v) override the mask type, as in IRAF. Default 0.
    offsets : str, path or sequence of N rows
        Where each image lies on the output: "none", "wcs" / "world" (from each image's
        WCS), "physical" (IRAF's LTV/LTM), "grid n1 s1 n2 s2 ...", the name of an IRAF
        offsets file (one "x y" line per image; a "# absolute" line keeps the offsets as
        given), or N rows of numbers **in IRAF's axis order: x (the last NumPy axis)
        first**, e.g. ``[[dx0, dy0], [dx1, dy1], ...]``. Values are rounded to whole
        pixels and the minimum is subtracted per axis. The output grows to hold every
        image; pixels no image covers are ``blank``.
    outlimits : str, sequence or None
        ``"x1 x2 y1 y2"`` (1-based, inclusive, in the full output): write only that
        window (a limit beyond the output is clipped to it).
    headers : sequence of N mappings, optional
        Header keywords per image when ``images`` are arrays.
    outtype : {None, "real", "double", "short", "ushort", "integer", "long"}
        "real": float32 output (float64 input is still combined in float64, as IRAF);
        "double": combine and return float64; None: float32 for uint8/uint16/int16/
        float32 input, float64 for int32/float64. The integer types truncate toward
        zero and wrap values outside their range around, as IRAF does (a
        :class:`~imcombiners._iraf_setup.WrapWarning` says when); "long" is 32-bit.
        With integer inputs and an integer outtype IRAF works on integers: scaled values
        are truncated before rejection and combining, reproduced here.
    products : None, "all", "none", or a collection of names among "sigma", "rejmask",
        "nrejmask", "expmask", "bpmask"
        Optional products to compute (IRAF's ``sigmas``, ``rejmasks``, ``nrejmasks``,
        ``expmasks``, ``bpmasks``); the others are None in the result. Default: none,
        as IRAF. The combined image does not depend on this choice (mean avsigclip's
        add-back quirk is always the one IRAF shows when a rejection mask is written).
    threads : int
        0 = all cores, k = k threads (results never depend on it).

    Returns
    -------
    ImcombineResult
    """
    wanted = _products(products)
    # --- images
    swapped = None  # frames are raw big-endian FITS words of this kind (see _fitsmap)
    paths = None
    if _is_paths(images):
        paths = [os.fspath(p) for p in images]
        mapped = _map_fits(images)
        if mapped is not None:
            images, swapped, fits_headers = mapped
        else:
            images, fits_headers = _read_fits(images)
        if headers is None:
            headers = fits_headers
    fs = prepare_frames(images, None, name="images", mask_name="masks")
    n = fs.n
    threads = as_int(threads, "threads", min=0)
    if headers is not None:
        headers = list(headers)
        if len(headers) != n:
            raise ValueError(f"headers: {len(headers)} headers given for {n} images")

    # --- names
    if not isinstance(combine, str) or combine.lower() not in _COMBINES:
        raise ValueError(f"combine: unknown {combine!r}; use one of {', '.join(_COMBINES)}")
    combine = combine.lower()
    if not isinstance(reject, str) or reject.lower() not in _REJECTS:
        raise ValueError(f"reject: unknown {reject!r}; use one of {', '.join(_REJECTS)}")
    reject = reject.lower()
    outt = parse_outtype(outtype)

    # --- numbers
    counts = {}
    for name, v in (("nlow", nlow), ("nhigh", nhigh)):
        f = _nonneg(name, v)
        if f >= 1 and f != int(f):
            raise ValueError(f"{name}: counts (>= 1) must be integers, fractions must be < 1; got {v!r}")
        counts[name] = f
    if reject == "minmax":
        nf = float(np.float32(n))

        def _k(f: float) -> int:
            frac = np.float32(f) if f < 1 else np.float32(np.float32(f) / np.float32(nf))
            return int(np.float32(frac * np.float32(nf)))

        if _k(counts["nlow"]) + _k(counts["nhigh"]) >= n:
            raise ValueError(
                f"nlow, nhigh: together they must remove fewer than the {n} images "
                f"(nlow={nlow!r}, nhigh={nhigh!r})"
            )
    if isinstance(nkeep, bool) or not isinstance(nkeep, numbers.Integral):
        raise TypeError(f"nkeep must be an integer; got {nkeep!r}")
    if not isinstance(mclip, (bool, np.bool_)):
        raise TypeError(f"mclip must be True or False; got {mclip!r}")
    ls = _nonneg("lsigma", lsigma, allow_none=True)
    hs = _nonneg("hsigma", hsigma, allow_none=True)
    sigscale = _nonneg("sigscale", sigscale)
    grow = _nonneg("grow", grow)
    pclip = _float("pclip", pclip)
    if not math.isfinite(pclip) or pclip == 0:
        raise ValueError(f"pclip must be a finite nonzero number; got {pclip!r}")
    blank = _float("blank", blank, allow_nan=True)
    lth = _float("lthreshold", lthreshold, allow_none=True)
    hth = _float("hthreshold", hthreshold, allow_none=True)
    if lth is not None and hth is not None and lth > hth:
        raise ValueError(f"lthreshold ({lth}) must not exceed hthreshold ({hth})")
    rn = _noise_values("rdnoise", rdnoise, headers, n)
    gn = _noise_values("gain", gain, headers, n)
    sn = _noise_values("snoise", snoise, headers, n)
    for name, vals in (("rdnoise", rn), ("snoise", sn)):
        if any(not (v >= 0 and math.isfinite(v)) for v in vals):
            raise ValueError(f"{name} must be finite and >= 0; got {vals}")
    if any(not (v > 0 and math.isfinite(v)) for v in gn):
        raise ValueError(f"gain must be finite and > 0 (electrons per ADU); got {gn}")
    if expname is not None and not isinstance(expname, str):
        raise TypeError(f"expname must be a header keyword name or None; got {expname!r}")

    # --- output layout and masks
    layout = resolve_layout(offsets, outlimits, [fs.spatial] * n, headers)
    rule = resolve_mask_rule(masks, masktype, maskvalue)
    if rule.novalue and grow >= 1.0:
        raise ValueError("grow: masktype='novalue' cannot be combined with grow >= 1 (IRAF 2.17 crashes on it); "
                         "use another mask type or grow=0")
    codes = frame_mask_codes(rule, masks, n, fs.spatial, headers, paths)
    codes = merge_bad(codes, fs.masks, n)
    out_shape = layout.shape
    m_out = int(np.prod(out_shape, dtype=np.int64))
    # reliability: the products (rejmask is N x M bytes) are allocated by the kernel;
    # fail fast with InsufficientMemoryError instead of an allocation abort in Rust
    check_memory(m_out * 8 + sum(m_out * s for p, s in (("rejmask", n), ("sigma", 8), ("nrejmask", 4),
                                                          ("expmask", 4), ("bpmask", 4)) if p in wanted),
                 what="imcombine (output and requested products)")

    # --- working type
    path = working_path(fs.dtype, outt)
    double = path == "double"
    int_path = path if path in ("short", "int") else "real"
    work_dtype = np.dtype(np.float64 if double else np.float32)
    sigma_dtype = work_dtype if outt in (None, "double") else np.dtype(np.float32)
    if outt == "real":
        sigma_dtype = np.dtype(np.float32)

    # --- factors and exposures
    fac = _resolve_factors(fs, swapped, scale, zero, weight, statsec, expname, headers, (lth, hth),
                           codes=codes, layout=layout)
    exposures = _header_numbers(headers, n, expname, 1.0)

    params = {
        "combine": combine,
        "reject": reject,
        "nlow": counts["nlow"],
        "nhigh": counts["nhigh"],
        "nkeep": int(nkeep),
        "mclip": bool(mclip),
        "lsigma": ls,
        "hsigma": hs,
        "rdnoise": rn,
        "gain": gn,
        "snoise": sn,
        "sigscale": sigscale,
        "pclip": pclip,
        "grow": grow,
        "lthreshold": lth,
        "hthreshold": hth,
        "blank": blank,
        "scales": fac["scales"],
        "zeros": fac["zeros"],
        "wts": fac["wts"],
        "doscale": fac["doscale"],
        "dozero": fac["dozero"],
        "dowts": fac["dowts"],
        "exposures": exposures,
        "int_path": int_path,
        "novalue": rule.novalue,
    }
    res = _core.iraf_combine(
        list(fs.frames),
        codes,
        list(out_shape),
        params,
        wanted,
        bool(double),
        int(threads),
        swapped,
        layout.placement,
    )

    def _get(key: str, shape: tuple[int, ...], dtype: np.dtype | None = None) -> np.ndarray | None:
        if key not in res:
            return None
        a = res[key] if dtype is None else res[key].astype(dtype, copy=False)
        return a.reshape(shape)

    output, wrap_msgs = finish_output(res["output"], outt, work_dtype)
    ncombine = int(sum(_header_numbers(headers, n, "NCOMBINE", 1.0)))
    names = None if paths is None else [os.path.basename(p) for p in paths]
    header = output_header(None if headers is None else headers[0], layout.geom, ncombine=ncombine, names=names,
                           ndim=len(out_shape))
    return ImcombineResult(
        output=output.reshape(out_shape),
        sigma=_get("sigma", out_shape, sigma_dtype),
        rejmask=_get("rejmask", (n, *out_shape)),
        nrejmask=_get("nrejmask", out_shape),
        expmask=_get("expmask", out_shape),
        scale=np.asarray(fac["scales"], dtype=np.float32),
        zero=np.asarray(fac["zeros"], dtype=np.float32),
        weight=np.asarray(fac["wts"], dtype=np.float32),
        maskscal=float(res["maskscal"]),
        maskzero=float(res["maskzero"]),
        warnings=tuple(fac["warnings"]) + tuple(wrap_msgs),
        bpmask=_get("bpmask", out_shape),
        offsets=layout.offsets.copy(),
        header=header,
    )
