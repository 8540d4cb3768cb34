"""imcombine against the second set of real IRAF 2.17 cases (tests/data/iraf/v2).

64 cases made by the real task: image offsets (files, ``# absolute``, wcs, physical,
grid, ``outlimits``, statsec modifiers), integer masks with every ``masktype``,
``combine=quadrature``/``nmodel``, integer ``outtype`` (IRAF's truncation, wrap-around
and integer working path) and header-driven factors. Every case must match IRAF bit for
bit: the output, every product IRAF was asked for, the offsets IRAF printed and the
coordinate keywords of its output header. Each case also runs from FITS files the way IRAF read it (masks named by
the ``BPM`` or ``!KEY`` header keyword, WCS from the headers).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from imcombiners.iraf import imcombine

from tests.helpers.iraf_v2 import CASES, differences, kwargs_of, load, write_fits_case

#: case id -> why it may differ (docs/iraf-differences.md); empty: none.
KNOWN_DIFFERENCES: dict[str, str] = {}


def _run(z, kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # IRAF's wrap-around is expected here
        return imcombine(z["stack"], **kw)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_v2_case(case, tmp_path):
    z, params = load(case)
    res = _run(z, kwargs_of(z, params, tmp_path))
    diffs = differences(res, z, params)
    if case["id"] in KNOWN_DIFFERENCES:
        pytest.xfail(KNOWN_DIFFERENCES[case["id"]])
    assert not diffs, f"{case['id']}: {diffs}"


@pytest.mark.parametrize("case", [c for c in CASES if isinstance(c["params"]["offsets"], list)
                                  and not c["params"].get("offsets_absolute")], ids=lambda c: c["id"])
def test_v2_offsets_as_numbers(case, tmp_path):
    """Offsets given from Python (IRAF order, x first) equal the offsets file."""
    z, params = load(case)
    res = _run(z, kwargs_of(z, params, tmp_path, offsets_as="numbers"))
    assert not differences(res, z, params)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_v2_case_from_fits_files(case, tmp_path):
    """The same case from FITS files: headers, masks by header keyword, WCS offsets."""
    z, params = load(case)
    paths = write_fits_case(z, params, tmp_path)
    kw = kwargs_of(z, params, tmp_path)
    kw.pop("masks", None)  # IRAF's way: each frame's BPM (or !KEY) keyword
    kw.pop("headers")
    ref = _run(z, kwargs_of(z, params, tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = imcombine(paths, **kw)
    assert got.output.tobytes() == ref.output.tobytes()
    for name in ("sigma", "rejmask", "nrejmask", "expmask"):
        a, b = getattr(got, name), getattr(ref, name)
        assert (a is None) == (b is None)
        if a is not None:
            assert a.tobytes() == b.tobytes(), name
    assert np.array_equal(got.offsets, ref.offsets)


def test_v2_index_is_complete():
    assert len(CASES) == 64
    families = {f for c in CASES for f in c["features"]["families"]}
    assert families == {"offsets", "masktype", "quadnmodel", "outtype", "headers"}
