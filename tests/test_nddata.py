"""CCDData/NDData in and out (imcombiners.io.nddata), checked against ccdproc and NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData, StdDevUncertainty, VarianceUncertainty

import imcombiners as imc
from imcombiners.io.nddata import combine_nddata, stack_from_nddata, to_ccddata


@pytest.fixture
def ccds(rng):
    out = []
    for i in range(6):
        mask = rng.random((10, 12)) < 0.1
        data = rng.normal(100.0, 3.0, (10, 12)).astype(np.float32)
        out.append(CCDData(data, unit="adu", mask=mask, uncertainty=StdDevUncertainty(np.full((10, 12), 3.0)),
                           meta=fits.Header({"FRAME": i})))
    return out


def test_mean_matches_ccdproc(ccds):
    ccdproc = pytest.importorskip("ccdproc")
    ref = ccdproc.Combiner(ccds).average_combine()
    got = combine_nddata(ccds, method="mean")
    np.testing.assert_allclose(got.data, ref.data, rtol=1e-6)
    np.testing.assert_allclose(got.uncertainty.array, ref.uncertainty.array, rtol=1e-5)
    assert got.unit == ref.unit


def test_masks_honoured_and_output_mask(ccds):
    for c in ccds:
        c.mask[0, 0] = True  # no sample left at (0, 0)
    got = combine_nddata(ccds, method="median")
    stack = np.ma.array([c.data for c in ccds], mask=[c.mask for c in ccds])
    expected = np.ma.median(stack, axis=0)
    ok = ~expected.mask
    np.testing.assert_allclose(got.data[ok], expected.data[ok], rtol=1e-6)
    assert got.mask[0, 0] and got.mask.sum() == 1
    assert got.meta["NCOMBINE"] == 6 and got.meta["FRAME"] == 0 and "IMCPARAM" in got.meta


def test_rejection_and_propagated_uncertainty(ccds):
    ccds[2].data[5, 5] = 1e4  # a cosmic ray
    for c in ccds:
        c.mask[5, 5] = False
    got = combine_nddata(ccds, method="mean", rejectors=[imc.MinMaxClip(n_min=0, n_max=1)],
                         uncertainty="propagate")
    # NumPy twin: IRAF's minmax count is a fraction of N applied to the valid samples,
    # k = trunc(n_valid / N + 0.001): the highest sample goes only where none is masked.
    data = np.stack([c.data for c in ccds]).astype(np.float64)
    used = ~np.stack([c.mask for c in ccds])
    k = np.trunc(used.sum(axis=0) / len(ccds) + 0.001).astype(int)
    top = np.argmax(np.where(used, data, -np.inf), axis=0)
    drop = np.zeros_like(used)
    np.put_along_axis(drop, top[None], (k == 1)[None], axis=0)
    used &= ~drop
    np.testing.assert_allclose(got.data, np.nanmean(np.where(used, data, np.nan), axis=0), rtol=1e-6)
    assert abs(got.data[5, 5] - 100.0) < 10.0
    np.testing.assert_allclose(got.uncertainty.array, 3.0 / np.sqrt(used.sum(axis=0)), rtol=1e-6)
    with pytest.raises(ValueError, match="propagate"):
        combine_nddata(ccds, method="median", uncertainty="propagate")


def test_stack_conversions():
    a = CCDData(np.ones((3, 4)), unit="electron", uncertainty=VarianceUncertainty(np.full((3, 4), 4.0)))
    b = CCDData(np.zeros((3, 4)), unit="electron")
    st = stack_from_nddata([a, b])
    assert st.data.shape == (2, 3, 4) and st.mask is None
    np.testing.assert_array_equal(st.uncertainty[0], 2.0)
    assert np.isnan(st.uncertainty[1]).all()
    with pytest.raises(ValueError, match="unit"):
        stack_from_nddata([a, CCDData(np.ones((3, 4)), unit="adu")])
    with pytest.raises(ValueError, match="shape"):
        stack_from_nddata([a, CCDData(np.ones((2, 4)), unit="electron")])
    out = to_ccddata(np.zeros((3, 4)), mask=np.zeros((3, 4), bool), uncertainty=np.ones((3, 4)))
    assert out.unit == "adu" and out.uncertainty.uncertainty_type == "std"
