"""Survey planes against the NumPy twin: weighted means and sums, propagated variance, DQ.

Random stacks (every dtype, NaN/inf, masks, layouts) get random planes: variances with
unusable entries, DQ words of every width with drawn ``bad_bits``, per-frame, per-pixel
and inverse-variance weights, exposure times.  Every product of the package must equal
the twin's (tests/helpers/reference.py, written from docs/design.md "Survey planes"):
the image, ``variance``, ``weight``, ``exposure`` to rounding; ``dq``, ``nused``, the
exclusion mask and the sample flags exactly (on elements where no decision was a near
tie).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import planes as hp
from tests.helpers import reference as ref
from tests.helpers import strategies as sts
from tests.helpers import twin as h

h.require_package()

VARIANCE_METHODS = ("mean", "sum", "median", "lmedian")
OTHER_METHODS = ("min", "max", "quantile", "variance")


def _compare_products(got: dict, tw: ref.TwinResult, want: set[str], err: str) -> None:
    keep = ~tw.fragile
    rtol = 2e-6 if tw.workspace == np.float32 else 1e-11
    for name in ("variance", "weight", "exposure"):
        if name in want:
            g, w = np.asarray(got[name], float), getattr(tw, name)
            assert g.dtype.kind == "f" and got[name].dtype == tw.workspace, f"{err} {name} dtype"
            h.assert_close(g[keep], w[keep], rtol=rtol, atol=0.0, err=f"{err} {name}")
    if "dq" in want:
        assert got["dq"].dtype == tw.dq.dtype, f"{err} dq dtype {got['dq'].dtype} != {tw.dq.dtype}"
        assert np.array_equal(got["dq"][keep], tw.dq[keep]), f"{err} dq"


@given(case=sts.stacks(max_n=40, budget=1200), data=st.data())
def test_products_match_the_twin(case, data):
    pc = data.draw(hp.planes_for(case), label="planes")
    weighted = pc.weights is not None
    methods = ("mean", "sum") if weighted else VARIANCE_METHODS + OTHER_METHODS
    method = data.draw(st.sampled_from(methods), label="method")
    rejectors = data.draw(st.one_of(st.just([]), sts.chains(max_size=2, grow=False),
                                    st.lists(hp.varclips(), min_size=1, max_size=1))
                          if pc.variance is not None else st.one_of(st.just([]), sts.chains(max_size=2, grow=False)),
                          label="rejectors")
    thresholds = data.draw(sts.thresholds_for(case), label="thresholds")
    zero, scale = data.draw(sts.normalisations(case.n), label="zero, scale")
    q = 0.3 if method == "quantile" else None
    want = {"mask", "nused", "output_flags", "sample_flags", "weight", "dq"}
    if pc.variance is not None and method in VARIANCE_METHODS:
        want.add("variance")
    if pc.exptime is not None:
        want.add("exposure")
    nodata = data.draw(st.sampled_from([None, 0, 1]), label="nodata_bit")
    got = hp.run_pkg_planes(case.data, case.mask, pc, method=method, thresholds=thresholds, zero=zero, scale=scale,
                            rejectors=rejectors, want=want, nodata_bit=nodata, q=q)
    tw = ref.combine(case.data, case.mask, method=method, thresholds=thresholds, zero=zero, scale=scale,
                     weights=pc.weights, rejectors=rejectors, variance=pc.variance, dq=pc.dq, q=q,
                     bad_bits=pc.bad_bits, nodata_bit=nodata, exptime=pc.exptime)
    err = f"{method} {pc!r} {rejectors}"
    h.compare_to_twin(got, tw, method=method, err=err)
    _compare_products(got, tw, want, err)


@given(case=sts.stacks(max_n=30, budget=800, dtypes=sts.FLOAT_DTYPES), data=st.data())
def test_plane_paths_agree_bit_for_bit(case, data):
    """The plane stream (no rejection) and the element path (forced by a per-sample output)
    give the same bits, and neither depends on the thread count."""
    pc = data.draw(hp.planes_for(case), label="planes")
    method = data.draw(st.sampled_from(["mean", "sum"]), label="method")
    want = {"weight", "dq", "nused"} | ({"variance"} if pc.variance is not None else set())
    fast = hp.run_pkg_planes(case.data, case.mask, pc, method=method, want=want, threads=1)
    slow = hp.run_pkg_planes(case.data, case.mask, pc, method=method, want=want | {"mask"}, threads=2)
    for name in ["data", *sorted(want)]:
        a, b = np.asarray(fast[name]), np.asarray(slow[name])
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name


@given(case=sts.stacks(max_n=30, budget=800), data=st.data())
def test_planes_without_effect_leave_the_image_unchanged(case, data):
    """A variance plane of usable values and DQ words with no bad bit change nothing in
    the combined image of an unweighted combine (same bits as without planes)."""
    method = data.draw(st.sampled_from(["mean", "sum", "median", "lmedian"]), label="method")
    rejectors = data.draw(st.one_of(st.just([]), sts.chains(max_size=2, grow=False)), label="rejectors")
    shape = case.data.shape
    pc = hp.PlaneCase(np.ones(shape, np.float32), np.full(shape, 6, np.uint16), 1, None, None)
    got = hp.run_pkg_planes(case.data, case.mask, pc, method=method, rejectors=rejectors, want={"variance"})
    plain = h.run_pkg(case.data, case.mask, method=method, rejectors=rejectors, want=set())
    want = plain["data"]
    if want.dtype.kind in "iu":
        # integer input keeps its type only without anything that can exclude a sample
        # (planes can, like a mask): the same values in the float workspace
        assert method == "lmedian" and got["data"].dtype.kind == "f", got["data"].dtype
        want = want.astype(got["data"].dtype)
    assert got["data"].tobytes() == want.tobytes()


def test_weighted_mean_twin_by_hand():
    """The NumPy twin of the weighted mean, spelled out: sum(w x) / sum(w) over the samples
    used, variance sum(w^2 v) / sum(w)^2; inverse-variance weights give 1/sum(1/v)."""
    rng = np.random.default_rng(5)
    x = rng.normal(10, 1, (6, 4, 5))
    v = rng.uniform(0.5, 2, x.shape)
    mask = rng.random(x.shape) < 0.2
    for weights in (rng.uniform(0.5, 2, 6), rng.uniform(0.5, 2, x.shape), "inverse_variance"):
        pc = hp.PlaneCase(v, None, None, weights, None)
        got = hp.run_pkg_planes(x, mask, pc, method="mean", want={"variance", "weight"})
        w = 1 / v if isinstance(weights, str) else np.broadcast_to(
            np.asarray(weights).reshape((-1,) + (1,) * (x.ndim - 1) if np.ndim(weights) == 1 else x.shape), x.shape)
        w = np.where(mask, 0.0, w)
        sw = w.sum(axis=0)
        h.assert_close(got["data"], (w * x).sum(axis=0) / sw, rtol=1e-12)
        h.assert_close(got["variance"], (w * w * v).sum(axis=0) / sw**2, rtol=1e-12)
        h.assert_close(got["weight"], sw, rtol=1e-12)
        if isinstance(weights, str):
            # the exact form, bit for bit: NumPy sums axis 0 frame by frame in f64, the
            # order of the library's sums (a masked sample adds +0.0, which changes nothing)
            np.testing.assert_array_equal(got["variance"], 1 / sw)
            np.testing.assert_array_equal(got["weight"], sw)
            got_sum = hp.run_pkg_planes(x, mask, pc, method="sum", want={"variance"})
            np.testing.assert_array_equal(got_sum["variance"], sw)


def test_dq_propagation_twin_by_hand():
    """The NumPy twin of the DQ product: OR of the words of the samples used, the no-data
    bit where none was; bad bits exclude samples, the other bits pass through."""
    rng = np.random.default_rng(6)
    x = rng.normal(10, 1, (5, 3, 4)).astype(np.float32)
    dq = rng.integers(0, 16, x.shape).astype(np.uint16)
    dq[:, 0, 0] |= 8  # every sample of one pixel has a bad bit
    bad = 8
    pc = hp.PlaneCase(None, dq, bad, None, None)
    got = hp.run_pkg_planes(x, None, pc, method="median", want={"dq", "nused"}, nodata_bit=1 << 15)
    used = (dq & bad) == 0
    want = np.bitwise_or.reduce(np.where(used, dq, 0), axis=0).astype(np.uint16)
    want[used.sum(axis=0) == 0] = 1 << 15
    assert got["dq"].dtype == np.uint16
    assert np.array_equal(got["dq"], want)
    assert np.array_equal(got["nused"], used.sum(axis=0))
    h.assert_close(got["data"], np.where(used.any(axis=0),
                                         np.nanmedian(np.where(used, x, np.nan), axis=0), np.nan), rtol=1e-7)


@pytest.mark.parametrize("dtype, nodata", [(np.uint8, 128), (np.int16, 1 << 15), (np.uint32, 1 << 31), (None, 128)])
def test_default_nodata_bit_is_the_top_bit(dtype, nodata):
    x = np.full((3, 2, 2), np.nan, np.float32)
    x[:, 1] = 1.0
    dq = None if dtype is None else np.zeros(x.shape, dtype)
    got = hp.run_pkg_planes(x, None, hp.PlaneCase(None, dq, None, None, None), want={"dq"})
    assert int(got["dq"][0, 0]) == nodata and int(got["dq"][1, 0]) == 0
