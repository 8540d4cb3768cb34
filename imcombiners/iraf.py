"""IRAF IMCOMBINE-compatible entry point.

:func:`imcombine` takes IRAF's parameter names and defaults and reproduces IRAF 2.17
``images.immatch.imcombine`` bit for bit on the real (float32) and double code paths:
the same image statistics, factor normalisation, rejection algorithms (with their
quirks), combining arithmetic and optional products. See ``docs/iraf.md`` for the
parameter mapping and ``docs/iraf-differences.md`` for the few deliberate differences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._frames import FrameSet, prepare_frames
from ._iraf_params import STATISTICS, FactorParam, Header, IrafParams, NoiseParam, ResolvedParams
from ._job import load_core
from ._validate import as_int, check_memory

__all__ = ["ImcombineResult", "imcombine"]


@dataclass(frozen=True, eq=False)
class ImcombineResult:
    """Products of :func:`imcombine` (IRAF's output images).

    ``sigma``, ``rejmask``, ``nrejmask`` and ``expmask`` are None unless requested with
    :func:`imcombine`'s ``products`` (default ``"all"``).

    Attributes
    ----------
    output : ndarray, ``*spatial``
        The combined image (float32 for ``outtype="real"``, float64 for ``"double"``).
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
    scale, zero, weight : ndarray of float32, ``(N,)``
        Factors actually used: a pixel ``v`` of image ``i`` is combined as
        ``v / scale[i] - zero[i]``; ``weight`` sums to 1.
    maskscal, maskzero : float
        Encoding of ``expmask`` (IRAF's MASKSCAL / MASKZERO).
    warnings : tuple of str
        Conditions IRAF warns about (e.g. non-positive scale factors).
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


# ----------------------------------------------------------------------------- helpers


def _measured_statistics(fs: FrameSet, swapped: str | None, resolved: ResolvedParams) -> dict[str, list[float]] | None:
    """IRAF's (mode, median, mean) of every image (its statistics section and sampling grid),
    when scale/zero/weight ask for one of them; None otherwise."""
    params = resolved.params
    wanted = params.statistics()
    if not wanted:
        return None
    needs_sort = any(v in ("mode", "median") for v in wanted.values())
    lo, hi = params.statistic_thresholds() or (None, None)
    core = load_core()
    stats = []
    for i in range(fs.n):
        try:
            stats.append(core.iraf_stats(fs.frames[i], None if fs.masks is None else fs.masks[i],
                                         list(fs.spatial), resolved.section, lo, hi, needs_sort, swapped))
        except ValueError as e:
            raise ValueError(f"statsec: image {i}: {e}") from None
    return {name: [float(st[k]) for st in stats] for k, name in enumerate(STATISTICS)}


# ----------------------------------------------------------------------------- main


def imcombine(
    images: object,
    *,
    combine: str = "average",
    reject: str = "none",
    nlow: float = 1,
    nhigh: float = 1,
    nkeep: int = 1,
    mclip: bool = True,
    lsigma: float | None = 3.0,
    hsigma: float | None = 3.0,
    rdnoise: NoiseParam = 0.0,
    gain: NoiseParam = 1.0,
    snoise: NoiseParam = 0.0,
    sigscale: float = 0.1,
    pclip: float = -0.5,
    grow: float = 0.0,
    lthreshold: float | None = None,
    hthreshold: float | None = None,
    zero: FactorParam = "none",
    scale: FactorParam = "none",
    weight: FactorParam = "none",
    statsec: str | None = None,
    expname: str | None = None,
    blank: float = 0.0,
    masks: object = None,
    headers: Sequence[Header] | None = None,
    outtype: str | None = None,
    products: str | Sequence[str] = "all",
    threads: int = 0,
    hdu: int | str | tuple[str, int] | None = None,
) -> ImcombineResult:
    """Combine images exactly as IRAF ``imcombine`` (IRAF 2.17 names and defaults).

    Parameters
    ----------
    images : ndarray (N, *spatial), list of N arrays, or list of N FITS paths
        The input images. With paths (IRAF names such as ``raw.fits[1]`` or
        ``raw.fits[SCI,2]`` allowed), the image is the HDU named, or ``hdu``, or the
        primary HDU when it holds data, else the first image extension; files are read
        as IRAF reads them (unsigned 16-bit as ushort; unsigned 32-bit and scaled
        integers as real, i.e. float32 of the physical value; BLANK pixels masked;
        ``.fz`` and ``.gz`` files too). The image's header (primary cards merged for an
        image in an extension) serves ``!KEYWORD``, ``exposure``/``expname``, NCOMBINE
        and keyword noise parameters. Accepted array dtypes: uint8, uint16, int16,
        int32, float32, float64. Non-finite values are treated as masked (IRAF would
        read them as 0).
    combine : {"average", "median", "lmedian", "sum"}
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
        CCD noise model of ccdclip/crreject (electrons, electrons per ADU, fraction).
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
        statistics.
    expname : str or None
        Header keyword holding the exposure time (for ``exposure`` and ``expmask``).
    blank : float
        Output (and sigma) value where no value is left.
    masks : array-like (N, *spatial) or list, optional
        Bad-pixel masks, nonzero = bad.
    headers : sequence of N mappings, optional
        Header keywords per image when ``images`` are arrays.
    outtype : {None, "real", "double"}
        "real": float32 output (float64 input is still combined in float64, as IRAF);
        "double": combine and return float64. None: float32 for uint8/uint16/int16/float32
        input, float64 for int32/float64.
    products : "all", "none", or a collection of names among "sigma", "rejmask",
        "nrejmask", "expmask"
        Optional products to compute (IRAF's ``sigmas``, ``rejmasks``, ``nrejmasks``,
        ``expmasks``); the others are None in the result. The combined image does not
        depend on this choice (mean avsigclip's add-back quirk is always the one IRAF
        shows when a rejection mask is written). Asking for fewer products is faster:
        ``products="none"`` computes only the combined image.
    threads : int
        0 = all cores, k = k threads (results never depend on it).
    hdu : int, str or (str, int), optional
        HDU of FITS paths given without an IRAF ``[...]`` name: index, EXTNAME or
        (EXTNAME, EXTVER).

    Returns
    -------
    ImcombineResult
    """
    params = IrafParams.from_arguments(locals())  # every IRAF parameter, validated
    # --- images
    swapped = None  # frames are raw big-endian FITS words of this kind (io.fits.mapped)
    from .io.fits.stack import is_image_names, load_images

    if is_image_names(images):
        # IRAF's view of the files (e.g. unsigned 32-bit -> real, as IRAF reads them)
        loaded = load_images(images, hdu, view="iraf", allow_mapping=True)  # type: ignore[arg-type]
        images, swapped = loaded.frames, loaded.swapped
        if loaded.mapped:
            images = FrameSet(tuple(loaded.frames), None, loaded.shape, loaded.dtype)
        if headers is None:
            headers = loaded.headers
    fs = prepare_frames(images, masks, name="images", mask_name="masks")
    n = fs.n
    # reliability: the products (rejmask is N x M bytes) are allocated by the kernel;
    # fail fast with InsufficientMemoryError instead of an allocation abort in Rust
    check_memory(n * fs.m + fs.m * (2 * 8 + 8), what="imcombine (output, sigma, rejmask, nrejmask and expmask)")
    threads = as_int(threads, "threads", min=0)
    resolved = params.resolve(n, fs.spatial, headers)

    # --- factors, working type, kernel
    fac = resolved.factor_values(_measured_statistics(fs, swapped, resolved))
    double, out_dtype = params.working_type(fs.dtype)
    res = load_core().iraf_combine(
        list(fs.frames),
        None if fs.masks is None else list(fs.masks),
        list(fs.spatial),
        resolved.kernel_params(fac),
        list(params.products),
        bool(double),
        int(threads),
        swapped,
    )
    spatial = fs.spatial

    def _get(key: str, shape: tuple[int, ...], dtype: np.dtype | None = None) -> np.ndarray | None:
        if key not in res:
            return None
        a = res[key] if dtype is None else res[key].astype(dtype, copy=False)
        return a.reshape(shape)

    return ImcombineResult(
        output=res["output"].astype(out_dtype, copy=False).reshape(spatial),
        sigma=_get("sigma", spatial, out_dtype),
        rejmask=_get("rejmask", (n, *spatial)),
        nrejmask=_get("nrejmask", spatial),
        expmask=_get("expmask", spatial),
        scale=np.asarray(fac["scales"], dtype=np.float32),
        zero=np.asarray(fac["zeros"], dtype=np.float32),
        weight=np.asarray(fac["wts"], dtype=np.float32),
        maskscal=float(res["maskscal"]),
        maskzero=float(res["maskzero"]),
        warnings=tuple(fac["warnings"]),
    )
