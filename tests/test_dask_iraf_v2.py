"""IRAF imcombine out of core on the second set of real-IRAF cases (tests/data/iraf/v2).

Offsets (the strips are strips of the output canvas and read only the rows of each frame
they cover), integer masks with every masktype (as arrays and as files named by the
frames' BPM / !KEY keywords), integer outtypes, quadrature and nmodel: the out-of-core
result must equal IRAF's stored result and be bit-identical to the in-memory one (every
product, the header and the offsets) for strips of one and of four output lines.
"""

from __future__ import annotations

import json
import warnings

import pytest
from astropy.io import fits

import imcombiners.dask as imd
from imcombiners.iraf import imcombine
from tests.helpers.iraf_v2 import CASES, differences, header_differences, kwargs_of, load, write_fits_case

FIELDS = ("output", "sigma", "rejmask", "nrejmask", "expmask", "bpmask", "scale", "zero", "weight", "offsets")


def _same(got, ref, what):
    for name in FIELDS:
        a, b = getattr(got, name), getattr(ref, name)
        assert (a is None) == (b is None), (what, name)
        if a is not None:
            assert a.dtype == b.dtype and a.shape == b.shape, (what, name, a.dtype, b.dtype, a.shape, b.shape)
            assert a.tobytes() == b.tobytes(), (what, name)
    assert got.header == ref.header, what
    assert (got.maskscal, got.maskzero) == (ref.maskscal, ref.maskzero), what


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # IRAF's wrap-around is expected here
        yield


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_v2_cases_through_small_strips(case, tmp_path):
    z, params = load(case)
    kw = kwargs_of(z, params, tmp_path)
    kw["products"] = "all"
    ref = imcombine(z["stack"], **kw)
    for rows in (1, 4):
        lazy = imd.imcombine(z["stack"], tile=(rows, 3), **kw)
        got = lazy.compute()
        _same(got, ref, f"{case['id']} rows={rows}")
        assert not differences(got, z, params), f"{case['id']} rows={rows}"  # IRAF's own result


@pytest.mark.parametrize("case", [c for c in CASES if c["features"]["mask_kind"] or c["features"]["offsets_kind"]],
                         ids=lambda c: c["id"])
def test_v2_cases_from_fits_files_through_strips(case, tmp_path):
    """FITS frames with their headers: masks by keyword, WCS offsets; matches IRAF, and
    ``to_fits`` writes IRAF's output header keywords."""
    z, params = load(case)
    paths = write_fits_case(z, params, tmp_path)
    kw = kwargs_of(z, params, tmp_path)
    kw.pop("masks", None)
    kw.pop("headers")
    lazy = imd.imcombine(paths, tile=(3, 3), **kw)
    assert not differences(lazy.compute(), z, params)
    # the written output carries IRAF's coordinate keywords (CRPIX/LTV/LTM, NAXISn)
    lazy.to_fits(tmp_path / "out.fits")
    header = fits.getheader(tmp_path / "out.fits")
    assert not header_differences(dict(header), json.loads(str(z["output_header_json"])))
