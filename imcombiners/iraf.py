"""IRAF IMCOMBINE-compatible entry point.

:func:`imcombine` takes IRAF's parameter names and defaults and reproduces IRAF 2.17
``images.immatch.imcombine`` bit for bit on the real (float32) and double code paths:
the same image statistics, factor normalisation, rejection algorithms (with their
quirks), combining arithmetic and optional products. See ``docs/iraf.md`` for the
parameter mapping and ``docs/iraf-differences.md`` for the few deliberate differences.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._iraf_frames import IrafFrames, load_iraf_frames, load_projected
from ._iraf_params import STATISTICS, FactorParam, Header, IrafParams, NoiseParam, ResolvedParams
from ._iraf_setup import finish_output, frame_mask_codes, merge_bad
from ._iraf_wcs import output_header
from ._job import load_core
from ._validate import as_int, check_memory

__all__ = ["ImcombineResult", "imcombine"]


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
        ``NCOMBINE``, ``IMCMBnnn``, and the world/physical system shifted with the
        output (``CRPIXn``, ``LTVn``, ``LTMi_j``, ``WCSDIM``).
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


def _measured_statistics(fs: IrafFrames, resolved: ResolvedParams,
                         codes: Sequence[np.ndarray | None] | None) -> dict[str, list[float]] | None:
    """IRAF's (mode, median, mean) of every image (its statistics section and sampling grid,
    its mask codes), when scale/zero/weight ask for one of them; None otherwise."""
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
            stats.append(core.iraf_stats(fs.frames[i], None if codes is None else codes[i],
                                         list(fs.shapes[i]), resolved.sections[i], lo, hi, needs_sort,
                                         fs.swapped))
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
    masktype: str | None = None,
    maskvalue: object = None,
    offsets: object = "none",
    outlimits: object = None,
    headers: Sequence[Header] | None = None,
    outtype: str | None = None,
    products: str | Sequence[str] | None = None,
    project: bool = False,
    threads: int = 0,
    hdu: int | str | tuple[str, int] | None = None,
) -> ImcombineResult | list[ImcombineResult]:
    """Combine images exactly as IRAF ``imcombine`` (IRAF 2.17 names and defaults).

    Parameters
    ----------
    images : ndarray (N, *spatial), list of N arrays, or list of N FITS paths
        The input images; their sizes may differ (each lies on the output at its
        offset; with ``offsets="none"`` all start at the first output pixel and the
        output is the largest extent along each axis). With paths (IRAF names such as ``raw.fits[1]`` or
        ``raw.fits[SCI,2]`` allowed), the image is the HDU named, or ``hdu``, or the
        primary HDU when it holds data, else the first image extension; files are read
        as IRAF reads them (unsigned 16-bit as ushort; unsigned 32-bit and scaled
        integers as real, i.e. float32 of the physical value; BLANK pixels masked;
        ``.fz`` and ``.gz`` files too). The image's header (primary cards merged for an
        image in an extension) serves ``!KEYWORD``, ``exposure``/``expname``, NCOMBINE,
        keyword noise parameters, WCS/physical offsets and mask keywords. Accepted array dtypes: uint8, uint16, int16,
        int32, float32, float64. Non-finite values are treated as masked (IRAF would
        read them as 0).
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
    project : bool
        IRAF's ``project=yes``: ``images`` is one image (an array of two or more axes, or
        a FITS name) or a list of them, and each is combined along its highest axis
        (the first NumPy axis: the planes of a cube are the images combined), giving
        one result per input image. Header keywords come from the image's header,
        ``masks`` holds one mask per input (the image's shape, or one plane's shape for
        every plane), an offsets file or rows of numbers give one line per plane, and
        ``headers`` one mapping per input.
    threads : int
        0 = all cores, k = k threads (results never depend on it).
    hdu : int, str or (str, int), optional
        HDU of FITS paths given without an IRAF ``[...]`` name: index, EXTNAME or
        (EXTNAME, EXTVER).

    Returns
    -------
    ImcombineResult
        With ``project=True`` and a list of images: a list of them, one per image.
    """
    params = IrafParams.from_arguments(locals())  # every IRAF parameter, validated
    if params.project:
        return _projected(images, dict(locals()))
    # --- images (their sizes may differ: each lies on the output canvas at its offset)
    fs = load_iraf_frames(images, hdu)
    paths = fs.paths  # file names: mask files named by keywords are also looked up beside them
    if headers is None:
        headers = fs.headers
    n = fs.n
    threads = as_int(threads, "threads", min=0)
    resolved = params.resolve(n, fs.spatial, headers, shapes=fs.shapes)
    layout = resolved.layout

    # --- masks: each image's mask codes (IRAF's masktype / maskvalue)
    rule = params.mask_rule(masks_given=masks is not None)
    codes = frame_mask_codes(rule, masks, n, fs.spatial, resolved.headers, paths, shapes=fs.shapes)
    codes = merge_bad(codes, fs.masks, n)  # a masked array's own mask

    # reliability: the products (rejmask is N x M bytes) are allocated by the kernel;
    # fail fast with InsufficientMemoryError instead of an allocation abort in Rust
    m_out = int(np.prod(layout.shape, dtype=np.int64))
    sizes = {"rejmask": n, "sigma": 8, "nrejmask": 4, "expmask": 4, "bpmask": 4}
    check_memory(m_out * 8 + sum(m_out * sizes[p] for p in params.products),
                 what="imcombine (output and requested products)")

    # --- factors, working type, kernel
    fac = resolved.factor_values(_measured_statistics(fs, resolved, codes))
    double, work_dtype = params.working_type(fs.dtype)
    kernel = resolved.kernel_params(fac, int_path=params.int_path(fs.dtype), novalue=rule.novalue)
    res = load_core().iraf_combine(
        list(fs.frames),
        codes,
        list(layout.shape),
        kernel,
        list(params.products),
        bool(double),
        int(threads),
        fs.swapped,
        layout.placement,
    )
    shape = layout.shape

    def _get(key: str, shape: tuple[int, ...], dtype: np.dtype | None = None) -> np.ndarray | None:
        if key not in res:
            return None
        a = res[key] if dtype is None else res[key].astype(dtype, copy=False)
        return a.reshape(shape)

    output, wrapped = finish_output(res["output"], params.outtype, work_dtype)
    names = None if paths is None else [os.path.basename(p) for p in paths]
    first = None if resolved.headers is None else resolved.headers[0]
    header = output_header(first, layout.geom, ncombine=int(sum(resolved.ncombine)), names=names,
                           ndim=len(shape))
    return ImcombineResult(
        output=output.reshape(shape),
        sigma=_get("sigma", shape, params.sigma_dtype(fs.dtype)),
        rejmask=_get("rejmask", (n, *shape)),
        nrejmask=_get("nrejmask", shape),
        expmask=_get("expmask", shape),
        scale=np.asarray(fac["scales"], dtype=np.float32),
        zero=np.asarray(fac["zeros"], dtype=np.float32),
        weight=np.asarray(fac["wts"], dtype=np.float32),
        maskscal=float(res["maskscal"]),
        maskzero=float(res["maskzero"]),
        warnings=tuple(fac["warnings"]) + tuple(wrapped),
        bpmask=_get("bpmask", shape),
        offsets=layout.offsets.copy(),
        header=header,
    )


def _projected(images: object, arguments: dict) -> ImcombineResult | list[ImcombineResult]:
    """``project=True``: each input image combined along its highest axis (its planes as
    the images of an ordinary run), see :mod:`imcombiners._iraf_project`."""
    from ._iraf_project import header_mask, plane_masks, plane_offsets, project_inputs

    params: IrafParams = arguments.pop("params")
    headers, masks, offsets, hdu = (arguments.pop(k) for k in ("headers", "masks", "offsets", "hdu"))
    for key in ("images", "project"):
        arguments.pop(key)
    inputs, single = project_inputs(images, headers, masks)
    rule = params.mask_rule(masks_given=masks is not None)
    results = []
    for k, item in enumerate(inputs):
        what = f"image {k}" if not isinstance(item.image, (str, os.PathLike)) else repr(os.fspath(item.image))
        planes = load_projected(item.image, item.header, hdu, what)
        mask = item.mask
        if mask is None and masks is None and rule.active:  # IRAF: the file the image's keyword names
            mask = header_mask(rule, planes.headers[0] if planes.headers else None,
                               planes.paths[0] if planes.paths else None)
        shape = (planes.n, *planes.spatial)
        results.append(imcombine(planes, headers=None, masks=plane_masks(mask, shape, what),
                                 offsets=plane_offsets(offsets, planes.n), **arguments))
    return results[0] if single else results
