"""``Dataset.imc.combine``: a survey stack held as variables of one Dataset.

The products must equal the in-memory ``Combiner`` on the same samples bit for bit
(whatever the variables' dimension order and chunking), come back under the variables'
own names with the coordinates not on the frame dimension and the attributes kept, and
the accessor must be there after a plain ``import imcombiners``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import twin as h

h.require_package()

xr = pytest.importorskip("xarray")
pytest.importorskip("dask.array")

import imcombiners as imc  # noqa: E402,F401  (registers the accessors)


def _survey_dataset(rng, n, shape, var_order=("time", "y", "x"), chunks=None):
    flux = rng.normal(1000.0, 10.0, (n, *shape)).astype(np.float32)
    flux[rng.random(flux.shape) < 0.03] += 4000.0  # cosmic rays
    var = rng.uniform(80.0, 120.0, flux.shape).astype(np.float32)
    var[rng.random(flux.shape) < 0.02] = np.nan  # unusable
    dq = (rng.integers(0, 8, flux.shape) * (rng.random(flux.shape) < 0.1)).astype(np.uint16)
    dims = ("time", "y", "x")
    ds = xr.Dataset(
        {
            "flux": xr.DataArray(flux, dims=dims, attrs={"units": "electron"}),
            "var": xr.DataArray(var, dims=dims, attrs={"units": "electron2"}).transpose(*var_order),
            "dq": xr.DataArray(dq, dims=dims, attrs={"flag_meanings": "hot sat cr"}),
        },
        coords={"time": np.arange(n) * 30.0, "y": np.arange(shape[0]) * 0.5, "x": np.arange(shape[1]) * 0.5,
                "exptime": ("time", np.full(n, 30.0))},
        attrs={"telescope": "synthetic", "night": "2026-12-04"},
    )
    if chunks:
        ds = ds.chunk(chunks)
    return ds, flux, var, dq


@settings(max_examples=12)  # each example builds and runs a dask graph
@given(n=st.integers(1, 9), h_=st.integers(2, 17), w=st.integers(2, 19), seed=st.integers(0, 2**31),
       var_order=st.sampled_from([("time", "y", "x"), ("y", "time", "x"), ("x", "y", "time")]),
       chunked=st.booleans(), weighting=st.sampled_from([None, "inverse_variance"]),
       method=st.sampled_from(["mean", "median", "sum"]))
def test_dataset_accessor_equals_memory(n, h_, w, seed, var_order, chunked, weighting, method):
    if weighting and method == "median":
        method = "mean"
    rng = np.random.default_rng(seed)
    ds, flux, var, dq = _survey_dataset(rng, n, (h_, w), var_order, {"y": 5, "x": 7} if chunked else None)
    rej = [imc.VarClip(sigma=(4.0, 4.0))]
    out = ds.imc.combine(method, dim="time", data="flux", variance="var", dq="dq", bad_bits=1 | 2,
                         weights=weighting, rejectors=rej, tile=(3, 4), diagnostics=["variance", "dq", "weight"])
    want = imc.Combiner(flux, variance=var, dq=dq, bad_bits=3).combine(
        method, weights=weighting, rejectors=rej, diagnostics=["variance", "dq", "weight"])
    got = out.compute()
    assert set(got.data_vars) == {"flux", "var", "dq", "weight"}
    for name, ref in (("flux", want.data), ("var", want.variance), ("dq", want.dq), ("weight", want.weight)):
        g = got[name].values
        assert g.dtype == np.asarray(ref).dtype and g.tobytes() == np.asarray(ref).tobytes(), name
        assert got[name].dims == ("y", "x"), name


def test_dataset_accessor_keeps_coords_and_attrs():
    rng = np.random.default_rng(1)
    ds, *_ = _survey_dataset(rng, 4, (6, 5))
    out = ds.imc.combine("mean", dim="time", data="flux", variance="var", dq="dq", weights="inverse_variance")
    assert "time" not in out.dims and "time" not in out.coords and "exptime" not in out.coords
    np.testing.assert_array_equal(out["x"].values, ds["x"].values)
    np.testing.assert_array_equal(out["y"].values, ds["y"].values)
    assert out.attrs["telescope"] == "synthetic" and out.attrs["night"] == "2026-12-04"
    prov = json.loads(out.attrs["imcombiners"])
    assert prov["ncombine"] == 4 and prov["parameters"]["weights"] == "inverse_variance"
    assert out["flux"].attrs["units"] == "electron" and out["var"].attrs["units"] == "electron2"
    assert out["dq"].attrs["flag_meanings"] == "hot sat cr"


def test_dataset_accessor_names_the_bad_argument():
    rng = np.random.default_rng(2)
    ds, *_ = _survey_dataset(rng, 3, (4, 4))
    with pytest.raises(ValueError, match=r"variance='nope' is not a data variable"):
        ds.imc.combine(dim="time", data="flux", variance="nope")
    with pytest.raises(ValueError, match="dim='frame' is not a dimension"):
        ds.imc.combine(data="flux")
    with pytest.raises(ValueError, match="data: give the name"):
        ds.imc.combine(dim="time")
