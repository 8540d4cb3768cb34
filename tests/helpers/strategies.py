"""Hypothesis strategies for image stacks and rejector parameters.

Hypothesis draws the *structure* of a case (N, spatial shape, dtype, distribution,
NaN/inf/mask densities, memory layout, RNG seed); NumPy fills the arrays from the seed.
That keeps generation fast for N up to 300 while every failing example stays
reproducible from its printed parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from tests.helpers import reference as ref

ALL_DTYPES = ("uint8", "uint16", "int16", "int32", "float32", "float64")
FLOAT_DTYPES = ("float32", "float64")
LAYOUTS = ("c", "big", "noncontig", "fortran")
KINDS = ("normal", "outliers", "ties", "uniform", "constant", "ccd", "wide")

_INT_RANGE = {
    "uint8": (0, 255),
    "uint16": (0, 65535),
    "int16": (-32768, 32767),
    "int32": (-(2**31), 2**31 - 1),
}


@dataclass
class StackCase:
    """One generated stack: ``data`` (in the drawn layout) and an optional ``mask``."""

    data: np.ndarray
    mask: np.ndarray | None
    params: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.data.shape[0]

    @property
    def spatial(self) -> tuple[int, ...]:
        return self.data.shape[1:]

    def native(self) -> np.ndarray:
        """A C-contiguous native-endian copy of the data (same values)."""
        return np.ascontiguousarray(self.data.astype(self.data.dtype.newbyteorder("=")))

    def __repr__(self) -> str:  # hypothesis prints this on failure
        return f"StackCase({self.params})"


def _values(rng: np.random.Generator, kind: str, shape, dtype: str) -> np.ndarray:
    """Float64 values of one distribution, suited to ``dtype``."""
    is_int = dtype in _INT_RANGE
    base = 100.0 if dtype == "uint8" else 1000.0
    if kind == "normal":
        v = rng.normal(base, base / 10, shape)
    elif kind == "outliers":  # a sky plus cosmic rays and cold pixels
        v = rng.normal(base, base / 20, shape)
        hot = rng.random(shape) < 0.08
        v[hot] += rng.uniform(base / 2, 5 * base, hot.sum())
        cold = rng.random(shape) < 0.04
        v[cold] -= rng.uniform(base / 4, base, cold.sum())
    elif kind == "ties":  # very few distinct values: exercises tie rules
        v = rng.integers(0, 4, shape).astype(float) * (3 if not is_int else 1) + 10
    elif kind == "uniform":
        v = rng.uniform(-base, base, shape)
    elif kind == "constant":
        v = np.full(shape, base)
        v[rng.random(shape) < 0.1] += 1
    elif kind == "ccd":  # Poisson counts around a few thousand electrons / gain
        v = rng.poisson(2000, shape).astype(float) + rng.normal(0, 5, shape)
        hot = rng.random(shape) < 0.05
        v[hot] += rng.uniform(500, 20000, hot.sum())
    elif kind == "wide":  # magnitudes over many decades, both signs
        v = rng.choice([-1.0, 1.0], shape) * 10.0 ** rng.uniform(-3, 6, shape)
    else:
        raise ValueError(kind)
    if is_int:
        lo, hi = _INT_RANGE[dtype]
        v = np.clip(np.rint(v), lo, hi)
    return v


def make_stack(params: dict) -> StackCase:
    """Build a case from drawn parameters (separate so failures can be replayed)."""
    rng = np.random.default_rng(params["seed"])
    n, spatial, dtype = params["n"], tuple(params["spatial"]), params["dtype"]
    shape = (n,) + spatial
    v = _values(rng, params["kind"], shape, dtype)
    if dtype in FLOAT_DTYPES:
        with np.errstate(over="ignore"):
            v = v.astype(dtype)
        if params["nan"] > 0:
            v[rng.random(shape) < params["nan"]] = np.nan
        if params["inf"] > 0:
            hit = rng.random(shape) < params["inf"]
            v[hit] = rng.choice([np.inf, -np.inf], hit.sum())
        if params["dead"] and v[0].size:  # one element with no finite sample at all
            v[(slice(None),) + tuple(0 for _ in spatial)] = np.nan
    else:
        v = v.astype(dtype)
    mask = None
    if params["mask"] is not None:
        mask = rng.random(shape) < params["mask"]
        if params["dead_mask"] and v[0].size:  # one element fully masked
            mask[(slice(None),) + tuple(s - 1 for s in spatial)] = True
    data = _layout(v, params["layout"], rng)
    if mask is not None and params["layout"] == "noncontig":
        mask = _layout(mask, "noncontig", rng)
    return StackCase(data=data, mask=mask, params=params)


def _layout(v: np.ndarray, layout: str, rng) -> np.ndarray:
    """Same values in another memory layout."""
    if layout == "c":
        return np.ascontiguousarray(v)
    if layout == "big":
        return v.astype(v.dtype.newbyteorder(">"))
    if layout == "fortran":
        return np.asfortranarray(v)
    if layout == "noncontig":  # a strided view into a larger buffer
        big = np.zeros((v.shape[0], *[2 * s for s in v.shape[1:]]), dtype=v.dtype)
        view = big[(slice(None),) + tuple(slice(None, None, 2) for _ in v.shape[1:])]
        view[...] = v
        return view
    raise ValueError(layout)


@st.composite
def spatial_shapes(draw, max_elements: int = 24):
    ndim = draw(st.sampled_from([1, 1, 2, 2, 3]))
    shape = []
    left = max_elements
    for _ in range(ndim):
        s = draw(st.integers(1, max(1, min(6 if ndim > 1 else max_elements, left))))
        shape.append(s)
        left = max(1, left // s)
    return tuple(shape)


@st.composite
def stack_params(draw, dtypes=ALL_DTYPES, min_n: int = 1, max_n: int = 300, budget: int = 3000,
                 nonfinite: bool = True, masks: bool = True, layouts=LAYOUTS, kinds=KINDS):
    """Parameters of a stack (see :func:`make_stack`)."""
    size = draw(st.sampled_from(["tiny", "tiny", "small", "small", "small", "mid", "big"]))
    lo_hi = {"tiny": (1, 6), "small": (3, 25), "mid": (20, 80), "big": (80, 300)}[size]
    lo, hi = max(min_n, lo_hi[0]), min(max_n, lo_hi[1])
    if lo > hi:
        lo, hi = min_n, max_n
    n = draw(st.integers(lo, hi))
    spatial = draw(spatial_shapes(max_elements=max(1, min(24, budget // n))))
    dtype = draw(st.sampled_from(dtypes))
    is_float = dtype in FLOAT_DTYPES
    params = {
        "n": n,
        "spatial": spatial,
        "dtype": dtype,
        "kind": draw(st.sampled_from(kinds)),
        "nan": draw(st.sampled_from([0.0, 0.0, 0.03, 0.2, 0.7])) if (is_float and nonfinite) else 0.0,
        "inf": draw(st.sampled_from([0.0, 0.0, 0.02, 0.1])) if (is_float and nonfinite) else 0.0,
        "dead": draw(st.booleans()) if (is_float and nonfinite) else False,
        "mask": draw(st.sampled_from([None, None, 0.0, 0.1, 0.4, 0.9])) if masks else None,
        "dead_mask": draw(st.booleans()) if masks else False,
        "layout": draw(st.sampled_from(layouts)),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }
    return params


def stacks(**kw):
    """Strategy of :class:`StackCase` (keyword arguments as :func:`stack_params`)."""
    return stack_params(**kw).map(make_stack)


# --------------------------------------------------------------------------------------
# Rejector parameters (twin dataclasses; tests convert them to the package's)
# --------------------------------------------------------------------------------------

_sigmas = st.sampled_from([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0])
sigma_pairs = st.one_of(_sigmas, st.tuples(_sigmas, _sigmas))
centres = st.sampled_from(["mean", "median", "lmedian"])
#: None (the clipping centre, the default) most of the time.
spread_centres = st.sampled_from([None, None, None, "mean", "median", "lmedian"])
nkeeps = st.sampled_from([0, 0, 1, 1, 2, 3, 5, -1, -2, -4])
maxrejs = st.sampled_from([None, None, None, 0, 1, 2, 5])
grows = st.sampled_from([None, None, None, 1.0, 1.5, 2.0])


@st.composite
def sigclips(draw, grow: bool = False, limits: bool = True):
    stdfunc = draw(st.sampled_from(["std", "mad", "iraf"]))
    return ref.SigClip(
        sigma=draw(sigma_pairs),
        maxiters=draw(st.integers(0, 10)),
        cenfunc=draw(centres),
        stdfunc=stdfunc,
        ddof=draw(st.sampled_from([0, 0, 1, 2])) if stdfunc != "iraf" else 0,
        spread_centre=draw(spread_centres),
        nkeep=draw(nkeeps) if limits else 0,
        maxrej=draw(maxrejs) if limits else None,
        revert_on_nkeep=draw(st.booleans()),
        grow=draw(grows) if grow else None,
    )


@st.composite
def ccdclips(draw, grow: bool = False):
    return ref.CcdClip(
        sigma=draw(sigma_pairs),
        maxiters=draw(st.integers(0, 8)),
        cenfunc=draw(centres),
        spread_centre=draw(spread_centres),
        rdnoise=draw(st.sampled_from([0.0, 1.0, 5.0, 20.0])),
        gain=draw(st.sampled_from([0.5, 1.0, 2.5])),
        snoise=draw(st.sampled_from([0.0, 0.0, 0.01, 0.1])),
        sigscale=draw(st.sampled_from([0.0, 0.1, 0.5])),
        nkeep=draw(nkeeps),
        maxrej=draw(maxrejs),
        revert_on_nkeep=draw(st.booleans()),
        high_only=draw(st.booleans()),
        grow=draw(grows) if grow else None,
    )


@st.composite
def linearclips(draw, grow: bool = False):
    return ref.LinearClip(
        low_scale=draw(st.sampled_from([0.5, 0.9, 0.99, 1.0])),
        low=draw(st.sampled_from([0.0, 1.0, 10.0, 100.0])),
        upp_scale=draw(st.sampled_from([1.0, 1.01, 1.1, 2.0])),
        upp=draw(st.sampled_from([0.0, 1.0, 10.0, 100.0])),
        maxiters=draw(st.integers(1, 4)),
        cenfunc=draw(centres),
        nkeep=draw(nkeeps),
        maxrej=draw(maxrejs),
        revert_on_nkeep=draw(st.booleans()),
        grow=draw(grows) if grow else None,
    )


_counts = st.sampled_from([0, 1, 1, 2, 3, 0.1, 0.25, 0.5, 0.2])


@st.composite
def minmaxclips(draw, grow: bool = False):
    return ref.MinMaxClip(n_min=draw(_counts), n_max=draw(_counts),
                          grow=draw(grows) if grow else None)


@st.composite
def pclips(draw, grow: bool = False):
    return ref.PClip(
        frac=draw(st.sampled_from([-0.5, -0.25, 0.25, 0.5, -0.9, -1.0, 1.0, 2.0, -3.0])),
        sigma=draw(st.one_of(st.sampled_from([0.5, 1.0, 2.0, 3.0]),
                             st.tuples(st.sampled_from([1.0, 3.0]), st.sampled_from([1.0, 3.0])))),
        nkeep=draw(st.sampled_from([0, 1, 1, 2, 4, -1, -3])),
        grow=draw(grows) if grow else None,
    )


@st.composite
def avsigclips(draw, grow: bool = False):
    return ref.AvSigClip(
        sigma=draw(sigma_pairs),
        cenfunc=draw(st.sampled_from(["median", "mean"])),
        nkeep=draw(nkeeps),
        sigscale=draw(st.sampled_from([0.0, 0.1, 0.1, 0.5])),
        grow=draw(grows) if grow else None,
    )


_passes = st.sampled_from([None, None, 1, 2, 3, 10])


@st.composite
def winsorizedclips(draw, grow: bool = False):
    return ref.WinsorizedSigClip(
        sigma=draw(sigma_pairs),
        maxiters=draw(_passes),
        cutoff=draw(st.sampled_from([1.5, 1.5, 1.0, 2.5])),
        nkeep=draw(nkeeps),
        maxrej=draw(maxrejs),
        revert_on_nkeep=draw(st.booleans()),
        grow=draw(grows) if grow else None,
    )


@st.composite
def linearfitclips(draw, grow: bool = False):
    return ref.LinearFitClip(
        sigma=draw(st.one_of(st.sampled_from([1.0, 2.0, 3.0, 5.0]),
                             st.tuples(st.sampled_from([1.5, 5.0]), st.sampled_from([1.5, 2.5, 5.0])))),
        maxiters=draw(_passes),
        nkeep=draw(nkeeps),
        maxrej=draw(maxrejs),
        revert_on_nkeep=draw(st.booleans()),
        grow=draw(grows) if grow else None,
    )


@st.composite
def gesdclips(draw, grow: bool = False):
    return ref.GESDClip(
        max_outliers=draw(st.sampled_from([0.3, 0.3, 0.1, 0.5, 0.9, 0.0])),
        significance=draw(st.sampled_from([0.05, 0.05, 0.01, 0.3])),
        nkeep=draw(nkeeps),
        maxrej=draw(maxrejs),
        grow=draw(grows) if grow else None,
    )


def any_rejector(grow: bool = False, avsig: bool = True):
    kinds = [sigclips(grow=grow), ccdclips(grow=grow), linearclips(grow=grow),
             minmaxclips(grow=grow), pclips(grow=grow), winsorizedclips(grow=grow),
             linearfitclips(grow=grow), gesdclips(grow=grow)]
    if avsig:
        kinds.append(avsigclips(grow=grow))
    return st.one_of(*kinds)


@st.composite
def chains(draw, min_size: int = 0, max_size: int = 3, grow: bool = True):
    """A list of rejectors of any kind in any order (an AvSigClip too: its line sigma
    comes from what the rejectors before it left, on every path)."""
    size = draw(st.integers(min_size, max_size))
    return [draw(any_rejector(grow=grow)) for _ in range(size)]


METHODS = ("mean", "median", "lmedian", "sum", "min", "max", "variance", "wavg", "quantile")


@st.composite
def thresholds_for(draw, case: StackCase):
    """None, or an inclusive (lo, hi) taken from the data's own quantiles (or +-inf)."""
    if not draw(st.booleans()):
        return None
    finite = case.native().astype(float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return (-np.inf, np.inf)
    qs = np.quantile(finite, [0.0, 0.05, 0.2, 0.8, 0.95, 1.0])
    lo = draw(st.sampled_from([-np.inf, qs[0], qs[1], qs[2]]))
    hi = draw(st.sampled_from([np.inf, qs[3], qs[4], qs[5]]))
    return (float(lo), float(hi))


@st.composite
def normalisations(draw, n: int):
    """(zero, scale): None or length-N float vectors (scale positive, first = 1 often)."""
    zero = scale = None
    if draw(st.booleans()):
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        zero = rng.normal(0, 50, n).round(3)
    if draw(st.booleans()):
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        spread = draw(st.sampled_from([0.01, 0.3]))
        scale = np.exp(rng.normal(0, spread, n)).round(4)
        if draw(st.booleans()):
            scale = scale / scale[0]
    return zero, scale
