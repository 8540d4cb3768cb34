"""IRAF imcombine's parameters, validated once for every mode (the IRAF counterpart of ``Job``).

Two stages, because some parameters can only be checked against the images:

* :class:`IrafParams` -- every IRAF parameter of a call, checked and normalised without
  looking at the images (names, ranges, types).  The command line builds one right after
  parsing (bad parameters fail before any file is read); :func:`imcombiners.imcombine`
  and :func:`imcombiners.dask.imcombine` build one from their arguments.
* :class:`ResolvedParams` -- the same for N images of one shape with their headers:
  per-image noise values, the statistics section, scale/zero/weight sources (keywords,
  files, numbers; statistics are measured by the caller), exposures, NCOMBINE.  Its
  :meth:`~ResolvedParams.kernel_params` is the parameter set of the IRAF line engine.

A new IRAF parameter is added here: a field of :class:`IrafParams` (validated in
``__post_init__``), what it becomes per image in :meth:`IrafParams.resolve`, and its
entry in :meth:`ResolvedParams.kernel_params`; the two ``imcombine`` functions take it
by name (:meth:`IrafParams.from_arguments`).

The output geometry (``offsets``, ``outlimits``, statsec modifiers), the mask types and
the output types are worked out by :mod:`._iraf_setup` (and the modules it uses).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Union

import numpy as np

from ._headers import Header, header_float, header_numbers, header_value, keyword_values
from ._iraf_geometry import check_offsets, parse_outlimits
from ._iraf_geometry import parse_statsec as parse_stat_section
from ._iraf_masks import MaskRule
from ._iraf_outtype import OUTTYPES as _OUTTYPE_DTYPES
from ._iraf_outtype import parse_outtype, working_path
from ._iraf_setup import Layout, resolve_layout, resolve_mask_rule, stat_sections
from ._job import load_core
from ._products import IRAF_PRODUCTS

__all__ = [
    "COMBINES", "REJECTS", "STATISTICS", "OUTTYPES", "MAX_REAL", "IrafParams", "ResolvedParams",
    "FactorSource", "Header", "parse_products",
]

#: ``combine`` values.
COMBINES = ("average", "median", "lmedian", "sum", "quadrature", "nmodel")
#: ``reject`` values.
REJECTS = ("none", "minmax", "sigclip", "avsigclip", "ccdclip", "crreject", "pclip")
#: Image statistics for ``zero``/``scale``/``weight``, in the order the kernel returns them.
STATISTICS = ("mode", "median", "mean")
#: ``outtype`` values (None: float32, or float64 for int32/float64 input; the integer
#: types truncate and wrap as IRAF; one-letter abbreviations are accepted too).
OUTTYPES = (None, "real", "double", "short", "ushort", "integer", "long")
#: IRAF's MAX_REAL: INDEF thresholds become +-MAX_REAL for the statistics.
MAX_REAL = 0.99e37

#: rdnoise / gain / snoise as given: a number, N numbers, or a header keyword (``!`` optional).
NoiseParam = Union[float, str, Sequence[float], np.ndarray]
#: zero / scale / weight as given: a name (none, a statistic, exposure, !KEYWORD, @file) or N numbers.
FactorParam = Union[str, Sequence[float], np.ndarray]
#: Measured image statistics: "mode" / "median" / "mean" -> N values.
Statistics = Mapping[str, Union[Sequence[float], np.ndarray]]


# ----------------------------------------------------------------------------- scalar checks


def _float(name: str, value: object, *, allow_none: bool = False, allow_nan: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    v = float(value)
    if math.isnan(v) and not allow_nan:
        raise ValueError(f"{name} must not be NaN")
    return v


def _nonneg(name: str, value: object, *, allow_none: bool = False) -> float | None:
    v = _float(name, value, allow_none=allow_none)
    if v is not None and not (v >= 0 and math.isfinite(v)):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return v


def _choice(name: str, value: object, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value.lower() not in choices:
        raise ValueError(f"{name}: unknown {value!r}; use one of {', '.join(choices)}")
    return value.lower()


def _count(name: str, value: object) -> float:
    """nlow / nhigh: an integer count (IRAF) or a fraction of the images in [0, 1)."""
    f = _nonneg(name, value)
    assert f is not None
    if f >= 1 and f != int(f):
        raise ValueError(f"{name}: counts (>= 1) must be integers, fractions must be < 1; got {value!r}")
    return f


def parse_products(products: object) -> tuple[str, ...]:
    """``"all"``, ``"none"``/None, one name or a collection of names -> product names in IRAF's order."""
    if products is None:
        return ()
    if isinstance(products, str):
        low = products.lower()
        if low == "all":
            return IRAF_PRODUCTS
        if low == "none":
            return ()
        products = [products]
    try:
        names = [str(p).lower() for p in products]  # type: ignore[union-attr]
    except TypeError:
        raise TypeError(f"products must be 'all', 'none' or a collection of names among "
                        f"{', '.join(IRAF_PRODUCTS)}; got {products!r}") from None
    unknown = [p for p in names if p not in IRAF_PRODUCTS]
    if unknown:
        raise ValueError(f"products: unknown {unknown}; use 'all', 'none' or names among {', '.join(IRAF_PRODUCTS)}")
    return tuple(p for p in IRAF_PRODUCTS if p in names)


# ----------------------------------------------------------------------------- headers and sections


def _noise_values(name: str, value: NoiseParam, headers: Sequence[Header | None] | None, n: int) -> list[float]:
    """rdnoise / gain / snoise: a number, N numbers, or a header keyword."""
    if isinstance(value, str):
        key = value[1:] if value.startswith("!") else value
        try:
            return [float(key)] * n
        except ValueError:
            return keyword_values(name, key, headers, n)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return [float(value)] * n
    vals = np.asarray(value, dtype=float).ravel()
    if vals.size != n:
        raise ValueError(f"{name}: give one number, {n} numbers or a header keyword; got {vals.size} values")
    return [float(v) for v in vals]


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


# ----------------------------------------------------------------------------- scale / zero / weight


@dataclass(frozen=True)
class FactorSource:
    """Where the values of one of scale/zero/weight come from (IRAF's vocabulary).

    Attributes
    ----------
    kind : {"none", "stat", "file"}
        Not used; measured from the images (or exposure times); given values.
    statistic : str or None
        ``mode``/``median``/``mean`` when the caller measures the values.
    values : tuple of float
        The values when they are known without measuring (exposures, keywords, files, numbers).
    """

    kind: str
    statistic: str | None = None
    values: tuple[float, ...] = ()

    def values_with(self, stats: Statistics | None) -> tuple[str, list[float]]:
        """(kind, values) for the factor kernel; ``stats`` maps a statistic to N values."""
        if self.statistic is not None:
            return "stat", [float(v) for v in stats[self.statistic]]  # type: ignore[index]
        return self.kind, list(self.values)


def _factor_source(name: str, spec: FactorParam, n: int, expname: str | None,
                   headers: Sequence[Header | None] | None) -> FactorSource:
    """Resolve ``"none"``, a statistic, ``"exposure"``, ``!KEYWORD``, ``@file`` or N numbers."""
    if isinstance(spec, str):
        s = spec.strip()
        low = s.lower()
        if low == "none":
            return FactorSource("none")
        if low in STATISTICS:
            return FactorSource("stat", statistic=low)
        if low == "exposure":
            if name == "zero":
                raise ValueError("zero: 'exposure' is not allowed (use it for scale or weight)")
            key = expname or ""
            return FactorSource("stat", values=tuple(
                max(0.001, header_float(header_value(headers, i, key, 0.0) if key else 0.0))
                for i in range(n)))
        if s.startswith("!"):
            return FactorSource("file", values=tuple(keyword_values(name, s[1:], headers, n)))
        if s.startswith("@"):
            return FactorSource("file", values=tuple(_read_list_file(name, s[1:], n)))
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
    return FactorSource("file", values=tuple(float(v) for v in vals))


# ----------------------------------------------------------------------------- the parameters


@dataclass(frozen=True)
class IrafParams:
    """Every IRAF imcombine parameter of a call, validated (IRAF's names and defaults).

    See :func:`imcombiners.imcombine` for the meaning of each.  Values are normalised on
    construction: names lower case, numbers float, ``products`` a tuple of names in
    IRAF's order.  Checks that need the images are done by :meth:`resolve`.

    Raises
    ------
    TypeError, ValueError
        Naming the parameter and what it accepts.
    """

    combine: str = "average"
    reject: str = "none"
    nlow: float = 1
    nhigh: float = 1
    nkeep: int = 1
    mclip: bool = True
    lsigma: float | None = 3.0
    hsigma: float | None = 3.0
    rdnoise: NoiseParam = 0.0
    gain: NoiseParam = 1.0
    snoise: NoiseParam = 0.0
    sigscale: float = 0.1
    pclip: float = -0.5
    grow: float = 0.0
    lthreshold: float | None = None
    hthreshold: float | None = None
    zero: FactorParam = "none"
    scale: FactorParam = "none"
    weight: FactorParam = "none"
    statsec: str | None = None
    expname: str | None = None
    blank: float = 0.0
    outtype: str | None = None
    masktype: str | None = None
    maskvalue: object = None
    offsets: object = "none"
    outlimits: object = None
    project: bool = False
    products: tuple[str, ...] | str | None = None

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        put("combine", _choice("combine", self.combine, COMBINES))
        put("reject", _choice("reject", self.reject, REJECTS))
        put("outtype", parse_outtype(self.outtype))
        put("nlow", _count("nlow", self.nlow))
        put("nhigh", _count("nhigh", self.nhigh))
        if isinstance(self.nkeep, bool) or not isinstance(self.nkeep, numbers.Integral):
            raise TypeError(f"nkeep must be an integer; got {self.nkeep!r}")
        put("nkeep", int(self.nkeep))
        if not isinstance(self.mclip, (bool, np.bool_)):
            raise TypeError(f"mclip must be True or False; got {self.mclip!r}")
        put("mclip", bool(self.mclip))
        if not isinstance(self.project, (bool, np.bool_)):
            raise TypeError(f"project must be True or False; got {self.project!r}")
        put("project", bool(self.project))
        put("lsigma", _nonneg("lsigma", self.lsigma, allow_none=True))
        put("hsigma", _nonneg("hsigma", self.hsigma, allow_none=True))
        put("sigscale", _nonneg("sigscale", self.sigscale))
        put("grow", _nonneg("grow", self.grow))
        pclip = _float("pclip", self.pclip)
        if not math.isfinite(pclip) or pclip == 0:  # type: ignore[arg-type]
            raise ValueError(f"pclip must be a finite nonzero number; got {self.pclip!r}")
        put("pclip", pclip)
        put("blank", _float("blank", self.blank, allow_nan=True))
        lth = _float("lthreshold", self.lthreshold, allow_none=True)
        hth = _float("hthreshold", self.hthreshold, allow_none=True)
        if lth is not None and hth is not None and lth > hth:
            raise ValueError(f"lthreshold ({lth}) is greater than hthreshold ({hth})")
        put("lthreshold", lth)
        put("hthreshold", hth)
        if self.expname is not None and not isinstance(self.expname, str):
            raise TypeError(f"expname must be a header keyword name or None; got {self.expname!r}")
        put("products", parse_products(self.products))
        rule = self.mask_rule(masks_given=True)  # validates masktype / maskvalue
        if rule.novalue and self.grow >= 1.0:  # type: ignore[operator]
            raise ValueError("grow: masktype='novalue' cannot be combined with grow >= 1 (IRAF 2.17 crashes on "
                             "it); use another mask type or grow=0")
        check_offsets(self.offsets)
        parse_outlimits(self.outlimits, 7)  # validates the format
        parse_stat_section(self.statsec)  # validates the format and modifier

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The IRAF parameter names (the fields)."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, object]) -> IrafParams:
        """The parameters among ``arguments`` (e.g. an entry point's ``locals()``), validated."""
        return cls(**{k: arguments[k] for k in cls.names() if k in arguments})  # type: ignore[arg-type]

    # -- derived ------------------------------------------------------------
    def working_type(self, dtype: np.dtype) -> tuple[bool, np.dtype]:
        """(combine in double precision, kernel output dtype) for images of ``dtype``.

        The kernel's output is real (float32, or float64 on IRAF's double path); an
        integer ``outtype`` is applied afterwards (:meth:`output_dtype`).
        """
        double = working_path(np.dtype(dtype), self.outtype) == "double"  # type: ignore[arg-type]
        return double, np.dtype(np.float64 if double else np.float32)

    def int_path(self, dtype: np.dtype) -> str:
        """IRAF's integer code path for images of ``dtype``: "short", "int" or "real"."""
        path = working_path(np.dtype(dtype), self.outtype)  # type: ignore[arg-type]
        return path if path in ("short", "int") else "real"

    def output_dtype(self, dtype: np.dtype) -> np.dtype:
        """dtype of the combined image for images of ``dtype``."""
        if self.outtype is None:
            return self.working_type(dtype)[1]
        return _OUTTYPE_DTYPES[self.outtype]  # type: ignore[index]

    def sigma_dtype(self, dtype: np.dtype) -> np.dtype:
        """dtype of the sigma image: real (float32) for every outtype but double."""
        if self.outtype is None:
            return self.working_type(dtype)[1]
        return np.dtype(np.float64 if self.outtype == "double" else np.float32)

    def mask_rule(self, masks_given: bool) -> MaskRule:
        """How masks are read: explicit masks without ``masktype`` mean nonzero = bad."""
        return resolve_mask_rule(object() if masks_given else None, self.masktype, self.maskvalue)

    def statistics(self) -> dict[str, str]:
        """Factors measured from the images: name (scale/zero/weight) -> statistic."""
        specs = {"scale": self.scale, "zero": self.zero, "weight": self.weight}
        return {k: s.strip().lower() for k, s in specs.items()
                if isinstance(s, str) and s.strip().lower() in STATISTICS}

    def statistic_thresholds(self) -> tuple[float, float] | None:
        """The thresholds of the statistics (INDEF = +-MAX_REAL), None without thresholds."""
        lo, hi = self.lthreshold, self.hthreshold
        if lo is None and hi is None:
            return None
        return (-MAX_REAL if lo is None else lo, MAX_REAL if hi is None else hi)

    def resolve(self, n: int, spatial: tuple[int, ...], headers: Sequence[Header | None] | None,
                shapes: Sequence[tuple[int, ...]] | None = None) -> ResolvedParams:
        """The parameters for ``n`` images of shape ``spatial`` with these headers (or None).

        ``shapes`` gives each image's own shape when the sizes differ (IRAF places each on
        the output canvas at its offset).

        Raises
        ------
        ValueError
            For what only the images can show: too few images for nlow + nhigh, noise
            values or header keywords missing, a statistics section outside the images,
            scale/zero/weight values of the wrong length.
        """
        if headers is not None:
            headers = list(headers)
            if len(headers) != n:
                raise ValueError(f"headers: {len(headers)} headers given for {n} images")
        if self.reject == "minmax":
            self._check_minmax(n)
        noise = {name: _noise_values(name, getattr(self, name), headers, n) for name in ("rdnoise", "gain", "snoise")}
        shapes = [tuple(spatial)] * n if shapes is None else [tuple(s) for s in shapes]
        layout = resolve_layout(self.offsets, self.outlimits, shapes, headers)
        for name in ("rdnoise", "snoise"):
            if any(not (v >= 0 and math.isfinite(v)) for v in noise[name]):
                raise ValueError(f"{name} must be finite and >= 0; got {noise[name]}")
        if any(not (v > 0 and math.isfinite(v)) for v in noise["gain"]):
            raise ValueError(f"gain must be finite and > 0 (electrons per ADU); got {noise['gain']}")
        sections = stat_sections(self.statsec, layout, shapes)
        factors = {k: _factor_source(k, getattr(self, k), n, self.expname, headers)
                   for k in ("scale", "zero", "weight")}
        return ResolvedParams(
            params=self, n=n, layout=layout, sections=sections, rdnoise=tuple(noise["rdnoise"]),
            gain=tuple(noise["gain"]),
            snoise=tuple(noise["snoise"]), factors=factors,
            exposures=tuple(header_numbers(headers, n, self.expname, 1.0)),
            ncombine=tuple(header_numbers(headers, n, "NCOMBINE", 1.0)),
            headers=headers,
        )

    def _check_minmax(self, n: int) -> None:
        """IRAF's minmax removes trunc(f * n) values per end (float32): some must remain."""
        nf = np.float32(n)

        def removed(f: float) -> int:
            frac = np.float32(f) if f < 1 else np.float32(np.float32(f) / nf)
            return int(np.float32(frac * nf))

        if removed(self.nlow) + removed(self.nhigh) >= n:
            raise ValueError(f"nlow, nhigh: together they must remove fewer than the {n} images "
                             f"(nlow={self.nlow!r}, nhigh={self.nhigh!r})")


@dataclass(frozen=True)
class ResolvedParams:
    """:class:`IrafParams` for N given images: what the IRAF engine computes with.

    Attributes
    ----------
    params : IrafParams
    n : int
    layout : Layout
        The output canvas and where each image lies on it (``offsets``, ``outlimits``).
    sections : list
        Per image, its statistics section per IRAF axis (1-based inclusive, in its own
        pixels; may reach outside it), None = the whole image.
    rdnoise, gain, snoise : tuple of float
        Per image.
    factors : dict of str to FactorSource
        scale, zero, weight.
    exposures, ncombine : tuple of float
        Per image (exposure time from ``expname``, default 1; NCOMBINE, default 1).
    headers : list or None
        The images' headers (mask keywords, the output header).
    """

    params: IrafParams
    n: int
    layout: Layout
    sections: list[list[tuple[int, int]] | None]
    rdnoise: tuple[float, ...]
    gain: tuple[float, ...]
    snoise: tuple[float, ...]
    factors: Mapping[str, FactorSource] = field(default_factory=dict)
    exposures: tuple[float, ...] = ()
    ncombine: tuple[float, ...] = ()
    headers: list[Header | None] | None = None

    def factor_values(self, stats: Statistics | None) -> dict:
        """IRAF's scale/zero/weight factors (``scales``, ``zeros``, ``wts``, ``do*``, ``warnings``)
        from the measured statistics (``stats``: statistic -> N values, or None)."""
        f = {k: src.values_with(stats) for k, src in self.factors.items()}
        return load_core().iraf_factors(f["scale"], f["zero"], f["weight"], list(self.ncombine))

    def kernel_params(self, factors: Mapping[str, object], *, int_path: str = "real",
                      novalue: bool = False) -> dict:
        """The parameter set of the IRAF line engine (``_core.iraf_combine``).

        ``int_path``: IRAF's integer code path (:meth:`IrafParams.int_path`);
        ``novalue``: masks are read with ``masktype="novalue"``.
        """
        p = self.params
        return {
            "combine": p.combine, "reject": p.reject, "nlow": p.nlow, "nhigh": p.nhigh, "nkeep": p.nkeep,
            "mclip": p.mclip, "lsigma": p.lsigma, "hsigma": p.hsigma, "rdnoise": list(self.rdnoise),
            "gain": list(self.gain), "snoise": list(self.snoise), "sigscale": p.sigscale, "pclip": p.pclip,
            "grow": p.grow, "lthreshold": p.lthreshold, "hthreshold": p.hthreshold, "blank": p.blank,
            "scales": factors["scales"], "zeros": factors["zeros"], "wts": factors["wts"],
            "doscale": factors["doscale"], "dozero": factors["dozero"], "dowts": factors["dowts"],
            "exposures": list(self.exposures), "int_path": int_path, "novalue": novalue,
        }
