"""Helpers shared by the twin tests: NumPy references, the package adapter, comparisons.

The adapter is the only place that knows how the package is called, so an API rename is
fixed here once.  The package paths used:

* ``imcombiners._job.run_job(frames, masks, Job(...))`` (design.md module contract),
* ``imcombiners.Combiner`` (API.md usage modes 1 and 3),
* ``imcombiners._core.run`` (design.md kernel boundary) for thread-count checks.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from hypothesis import settings

from tests.helpers import reference as ref

ALL_WANT = frozenset({"mask", "sample_flags", "std", "low", "upp", "nit", "output_flags", "nused",
                      "clip_low", "clip_upp"})


# ---------------------------------------------------------------------------------------
# NumPy references
# ---------------------------------------------------------------------------------------


def more_examples(factor: int):
    """``@settings`` with ``factor`` times the active profile's example count (for the
    central twin comparisons; scales with ``HYPOTHESIS_PROFILE`` instead of fixing it)."""
    return settings(max_examples=factor * settings.default.max_examples)


def native(a) -> np.ndarray:
    a = np.asarray(a)
    return np.ascontiguousarray(a.astype(a.dtype.newbyteorder("=")))


def excluded_nan(data, mask=None, thresholds=None, zero=None, scale=None) -> np.ndarray:
    """Float64 normalised values with NaN wherever no combine may look (vectorised)."""
    x = native(data).astype(np.float64)
    bad = ~np.isfinite(x)
    if mask is not None:
        bad |= np.asarray(mask, bool)
    if thresholds is not None:
        with np.errstate(invalid="ignore"):
            bad |= (x < thresholds[0]) | (x > thresholds[1])
    shape1 = (x.shape[0],) + (1,) * (x.ndim - 1)
    if zero is not None:
        x = x - np.asarray(zero, float).reshape(shape1)
    if scale is not None:
        x = x / np.asarray(scale, float).reshape(shape1)
    x[bad] = np.nan
    return x


def numpy_combine(x: np.ndarray, method: str, *, ddof=0, q=None, weights=None) -> np.ndarray:
    """The combine by NumPy's nan-functions over axis 0 (x: NaN = excluded)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if method in ("mean", "wavg") and weights is not None:
            w = np.asarray(weights, float).reshape((-1,) + (1,) * (x.ndim - 1))
            ok = np.isfinite(x)
            num = np.where(ok, x * w, 0).sum(axis=0)
            den = np.where(ok, w, 0).sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(ok.any(axis=0), num / den, np.nan)
        if method == "mean":
            return np.nanmean(x, axis=0)
        if method == "median":
            return np.nanmedian(x, axis=0)
        if method == "lmedian":
            s = np.sort(x, axis=0)  # NaN sorts last
            n = np.isfinite(x).sum(axis=0)
            k = np.maximum((n - 1) // 2, 0)
            out = np.take_along_axis(s, k[None], axis=0)[0]
            return np.where(n > 0, out, np.nan)
        if method == "sum":
            return np.nansum(x, axis=0)
        if method == "min":
            return np.nanmin(x, axis=0)
        if method == "max":
            return np.nanmax(x, axis=0)
        if method == "variance":
            return np.nanvar(x, axis=0, ddof=ddof)
        if method == "quantile":
            return np.nanquantile(x, q, axis=0)
    raise ValueError(method)


def assert_close(got, want, rtol=1e-12, atol=None, err=""):
    """NaN == NaN, equal infinities, else |got - want| <= atol + rtol*|want|.

    ``atol`` may be an array (per element); default rtol * max|want|.
    """
    got, want = np.asarray(got, float), np.asarray(want, float)
    if atol is None:
        atol = rtol * np.nanmax(np.abs(want[np.isfinite(want)]), initial=1.0)
    with np.errstate(invalid="ignore"):
        ok = (np.isnan(got) & np.isnan(want)) | (got == want)
        ok |= np.abs(got - want) <= atol + rtol * np.abs(want)
    if not ok.all():
        idx = np.argwhere(~ok)[:5]
        raise AssertionError(f"{err}: {int((~ok).sum())} elements differ; first at {idx.tolist()}: "
                             f"got={got[~ok][:5]} want={want[~ok][:5]}")


def assert_canonical_nan(a, err=""):
    """design.md: a NaN the package produces is the canonical (positive) quiet NaN."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        nan = np.isnan(a)
        assert not np.signbit(a[nan]).any(), f"{err}: negative NaN in the output"


def rtol_for(dtype) -> float:
    """Output tolerance: float32 workspaces round once to float32."""
    return 2e-6 if ref.workspace_dtype(dtype) == np.float32 else 1e-11


# ---------------------------------------------------------------------------------------
# The package
# ---------------------------------------------------------------------------------------


def require_package():
    """Skip the calling module when the compiled package is not importable."""
    pytest.importorskip("imcombiners._core", reason="imcombiners._core is not built")
    pytest.importorskip("imcombiners._job")


def combiner_class():
    try:
        from imcombiners import Combiner
    except ImportError:
        from imcombiners._combiner import Combiner
    return Combiner


def pkg_rejector(r):
    """The package's rejector equal to a twin rejector description."""
    import imcombiners as pr  # every rejector class is exported at the top level

    cls = getattr(pr, type(r).__name__)
    kw = {f.name: getattr(r, f.name) for f in dataclasses.fields(r)}
    if kw.get("grow") is None:
        kw.pop("grow", None)
    return cls(**kw)


def run_pkg(data, mask=None, *, method="mean", thresholds=None, zero=None, scale=None, weights=None,
            rejectors=(), ddof=0, q=None, blank=None, want=ALL_WANT, threads=0) -> dict:
    """``run_job`` with a twin-style argument list."""
    from imcombiners._job import Job, run_job

    if method == "mean" and weights is not None:
        method = "wavg"
    job = Job(method, rejectors=tuple(pkg_rejector(r) for r in rejectors), thresholds=thresholds,
              zero=zero, scale=scale, weights=weights, ddof=ddof, q=q, blank=blank,
              want=frozenset(want))
    return run_job(data, mask, job, threads=threads)


def combiner_combine(data, mask=None, *, method="mean", thresholds=None, zero=None, scale=None,
                     weights=None, rejectors=(), ddof=0, q=None, blank=None, diagnostics=None):
    """``Combiner(data, mask).combine(...)`` with literal (non-relative) zero/scale."""
    kw = dict(thresholds=thresholds, zero=zero, scale=scale, weights=weights,
              rejectors=[pkg_rejector(r) for r in rejectors] or None, ddof=ddof, blank=blank,
              diagnostics=diagnostics)
    if q is not None:
        kw["q"] = q
    if zero is not None or scale is not None:
        kw["relative"] = False
    return combiner_class()(data, mask).combine(method, **kw)


# ---------------------------------------------------------------------------------------
# Package output vs twin
# ---------------------------------------------------------------------------------------


def _sel(a, keep):
    """Per-sample arrays (N, *spatial) restricted to the non-fragile elements."""
    a = np.asarray(a)
    return a[:, keep] if a.ndim == keep.ndim + 1 else a[keep]


def compare_to_twin(got: dict, tw: ref.TwinResult, *, method="mean", parts=None, err=""):
    """Assert the package's outputs equal the twin's on every non-fragile element.

    ``parts``: which outputs to compare (default data, mask, nused, output_flags,
    sample_flags; add std/low/upp/nit for the diagnostics).
    """
    parts = parts or ("data", "mask", "nused", "output_flags", "sample_flags")
    if "data" in parts:
        assert_canonical_nan(got["data"], err)
    keep = ~tw.fragile
    rtol = 2e-6 if tw.workspace == np.float32 else 1e-11
    for name in parts:
        if name == "data":
            assert got["data"].shape == tw.data.shape
            mag = tw.magnitude ** 2 if method == "variance" else tw.magnitude
            assert_close(got["data"][keep], tw.data[keep], rtol=rtol, atol=rtol * mag[keep],
                         err=f"{err} data")
        elif name in ("std", "low", "upp", "clip_low", "clip_upp"):
            g = got.get(name)
            if g is None:
                continue
            assert_close(g[keep], getattr(tw, name)[keep], rtol=rtol, atol=rtol * tw.magnitude[keep],
                         err=f"{err} {name}")
        else:
            g, w = np.asarray(got[name]), getattr(tw, name)
            assert g.shape == w.shape, f"{err} {name} shape {g.shape} != {w.shape}"
            gs, ws = _sel(g, keep), _sel(w, keep)
            if not np.array_equal(gs.astype(np.int64), ws.astype(np.int64)):
                bad = np.argwhere(gs != ws)[:5]
                raise AssertionError(f"{err} {name} differs at {int((gs != ws).sum())} places; "
                                     f"first (index into kept) {bad.tolist()}: got {gs[gs != ws][:8]} "
                                     f"want {ws[gs != ws][:8]}")
