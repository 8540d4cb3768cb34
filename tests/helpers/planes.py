"""Hypothesis strategies and package adapters for the survey planes (variance, weights, DQ).

A :class:`PlaneCase` adds planes to a :class:`~tests.helpers.strategies.StackCase`:
variances (some unusable: zero, negative, NaN, inf), integer DQ words of a drawn width
and signedness with a drawn ``bad_bits``, and a weighting (none, per frame, per pixel,
inverse variance).  :func:`run_pkg_planes` calls the package the way the twin is called.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from tests.helpers import reference as ref
from tests.helpers import strategies as sts
from tests.helpers import twin as h

DQ_DTYPES = ("uint8", "uint16", "int16", "uint32", "int32")


@dataclass
class PlaneCase:
    """Planes of a stack case, and how they are used."""

    variance: np.ndarray | None
    dq: np.ndarray | None
    bad_bits: int | None
    weights: object  # None, (N,) per frame, (N, *spatial) per pixel or "inverse_variance"
    exptime: np.ndarray | None
    params: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"PlaneCase({self.params})"


@st.composite
def varclips(draw, grow: bool = False):
    """A :class:`~tests.helpers.reference.VarClip` with drawn parameters."""
    return ref.VarClip(
        sigma=draw(sts.sigma_pairs),
        maxiters=draw(st.integers(0, 8)),
        cenfunc=draw(sts.centres),
        nkeep=draw(sts.nkeeps),
        maxrej=draw(sts.maxrejs),
        revert_on_nkeep=draw(st.booleans()),
        grow=draw(sts.grows) if grow else None,
    )


def make_planes(case: sts.StackCase, p: dict) -> PlaneCase:
    """Build the planes from drawn parameters (reproducible from ``p``)."""
    rng = np.random.default_rng(p["seed"])
    shape = (case.n,) + case.spatial
    variance = None
    if p["variance"] is not None:
        # variances on the data's scale (sigma ~ 1..10 % of a typical value)
        scale = float(np.nanmedian(np.abs(case.native().astype(float)))) if case.data.size else 1.0
        scale = scale if np.isfinite(scale) and scale > 0 else 1.0
        v = (scale * rng.uniform(0.01, 0.1, shape)) ** 2
        bad = rng.random(shape) < p["bad_variance"]
        v[bad] = rng.choice([0.0, -1.0, np.nan, np.inf], bad.sum())
        variance = v.astype(p["variance"])
    dq = None
    if p["dq"] is not None:
        dt = np.dtype(p["dq"])
        words = rng.integers(0, 16, shape) * (rng.random(shape) < p["dq_rate"])
        words = np.where(rng.random(shape) < 0.05, np.iinfo(dt).max if dt.kind == "u" else -1, words)
        dq = words.astype(dt)
    weights: object = None
    if p["weighting"] == "frame":
        weights = rng.uniform(0.0, 3.0, case.n)
    elif p["weighting"] == "pixel":
        w = rng.uniform(0.0, 3.0, shape)
        w[rng.random(shape) < 0.05] = rng.choice([0.0, -1.0, np.nan])
        weights = w
    elif p["weighting"] == "inverse_variance":
        weights = "inverse_variance"
    exptime = rng.uniform(10, 100, case.n) if p["exptime"] else None
    return PlaneCase(variance, dq, p["bad_bits"], weights, exptime, p)


@st.composite
def planes_for(draw, case: sts.StackCase, variance: bool | None = None):
    """Planes for ``case``; ``variance=True`` forces a variance plane."""
    has_var = draw(st.booleans()) if variance is None else variance
    weighting = draw(st.sampled_from([None, None, "frame", "pixel"] + (["inverse_variance"] if has_var else [])))
    p = {
        "seed": draw(st.integers(0, 2**32 - 1)),
        "variance": draw(st.sampled_from(["float32", "float64"])) if has_var else None,
        "bad_variance": draw(st.sampled_from([0.0, 0.0, 0.05, 0.3])),
        "dq": draw(st.sampled_from([None] + list(DQ_DTYPES))),
        "dq_rate": draw(st.sampled_from([0.0, 0.1, 0.5])),
        "bad_bits": draw(st.sampled_from([None, 0, 1, 2 | 8, 4])),
        "weighting": weighting,
        "exptime": draw(st.booleans()),
    }
    if p["dq"] is None:
        p["bad_bits"] = None
    return make_planes(case, p)


def run_pkg_planes(data, mask, pc: PlaneCase, *, method="mean", thresholds=None, zero=None, scale=None,
                   rejectors=(), want=(), nodata_bit=None, threads=0, q=None) -> dict:
    """``run_job`` with the planes of ``pc`` (twin-style arguments)."""
    from imcombiners._job import Job, run_job
    from imcombiners._planes import prepare_planes

    n = data.shape[0]
    spatial = data.shape[1:]
    weights, weighting, wplane = None, None, None
    if isinstance(pc.weights, str):
        weighting = "inverse_variance"
    elif pc.weights is not None and np.ndim(pc.weights) > 1:
        weighting, wplane = "pixel", pc.weights
    elif pc.weights is not None:
        weighting, weights = "frame", pc.weights
    planes = prepare_planes(n, spatial, variance=pc.variance, weights=wplane, dq=pc.dq)
    job = Job(method, rejectors=tuple(h.pkg_rejector(r) for r in rejectors), thresholds=thresholds, zero=zero,
              scale=scale, weights=weights, q=q, weighting=weighting, bad_bits=pc.bad_bits, nodata_bit=nodata_bit,
              exptime=pc.exptime, want=frozenset(want))
    return run_job(data, mask, job, threads=threads, planes=planes)


def run_twin_planes(data, mask, pc: PlaneCase, *, method="mean", thresholds=None, zero=None, scale=None,
                    rejectors=(), nodata_bit=None) -> ref.TwinResult:
    """The twin on the same case."""
    return ref.combine(data, mask, method=method, thresholds=thresholds, zero=zero, scale=scale,
                       weights=pc.weights, rejectors=rejectors, variance=pc.variance, dq=pc.dq,
                       bad_bits=pc.bad_bits, nodata_bit=nodata_bit, exptime=pc.exptime)
