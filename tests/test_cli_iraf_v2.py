"""`imcombiners imcombine` (IRAF's task form) on the second set of real-IRAF cases.

Each case is written as IRAF read it (FITS frames with their headers, masks named by
the BPM keyword) and run through the command line with IRAF's parameter strings:
offsets files and kinds, outlimits, masktype/maskvalue, outtype, the products as files.
The written images must equal what IRAF wrote, and the output header must carry IRAF's
coordinate keywords (CRPIX/LTV/LTM, NAXISn, NCOMBINE).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from astropy.io import fits

from imcombiners.cli._main import main
from tests.helpers.iraf_v2 import CASES, header_differences, load, write_fits_case


def _value(v: object) -> str:
    if v is None:
        return "INDEF"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def _tokens(z, params: dict, tmp) -> list[str]:
    toks = []
    for key in ("combine", "reject", "nlow", "nhigh", "nkeep", "mclip", "lsigma", "hsigma", "rdnoise", "gain",
                "snoise", "sigscale", "pclip", "grow", "lthreshold", "hthreshold", "statsec", "expname",
                "blank", "outtype", "outlimits", "masktype", "maskvalue"):
        toks.append(f"{key}={_value(params[key])}")
    for key in ("zero", "scale", "weight"):
        v = params[key]
        if isinstance(v, list):
            (tmp / f"{key}.dat").write_text("".join(f"{float(x)!r}\n" for x in v))
            v = f"@{tmp / f'{key}.dat'}"
        toks.append(f"{key}={v}")
    offs = params["offsets"]
    if isinstance(offs, list):
        (tmp / "offsets.txt").write_text(str(z["offsets_file"]))
        offs = str(tmp / "offsets.txt")
    toks.append(f"offsets={offs}")
    for name, flag in (("sigma", "sigmas"), ("rejmask", "rejmasks"), ("nrejmask", "nrejmasks"),
                       ("expmask", "expmasks")):
        if params.get(f"want_{name}"):
            toks.append(f"{flag}={tmp / (name + '.fits')}")
    return toks


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_v2_case_through_the_command_line(case, tmp_path, capsys):
    z, params = load(case)
    paths = write_fits_case(z, params, tmp_path)
    (tmp_path / "in.lis").write_text("".join(os.path.basename(p) + "\n" for p in paths))
    cwd = os.getcwd()
    os.chdir(tmp_path)  # IRAF's @list and mask names are relative to the current directory
    try:
        status = main(["imcombine", "@in.lis", "out.fits", "logfile=", *_tokens(z, params, tmp_path)])
    finally:
        os.chdir(cwd)
    assert status == 0, capsys.readouterr().err
    with fits.open(tmp_path / "out.fits") as hdul:
        out = hdul[0].data
        header = hdul[0].header
        assert out.dtype.newbyteorder("=") == z["output"].dtype
        assert np.array_equal(out, z["output"], equal_nan=True)
        assert not header_differences(dict(header), json.loads(str(z["output_header_json"])))
    for name in ("sigma", "rejmask", "nrejmask", "expmask"):
        if params.get(f"want_{name}"):
            got = fits.getdata(tmp_path / f"{name}.fits")
            ref = z[name]
            if name == "rejmask":
                assert np.array_equal(got.astype(bool), ref.astype(bool)), name
            else:
                assert np.array_equal(got, ref, equal_nan=True), name


def test_bpmasks_and_headers_outputs(tmp_path, capsys):
    """``bpmasks=`` writes the output's bad pixel mask (and names it in the output's BPM
    keyword, as IRAF); ``headers=`` one data-less extension per input holding its header."""
    import warnings

    from imcombiners.iraf import imcombine
    from tests.helpers.iraf_v2 import kwargs_of

    case = next(c for c in CASES if c["params"]["masktype"] == "novalue")
    z, params = load(case)
    paths = write_fits_case(z, params, tmp_path)
    (tmp_path / "in.lis").write_text("".join(os.path.basename(p) + "\n" for p in paths))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        status = main(["imcombine", "@in.lis", "out.fits", "logfile=", "bpmasks=bpm.fits", "headers=hdrs",
                       *_tokens(z, params, tmp_path)])
    finally:
        os.chdir(cwd)
    assert status == 0, capsys.readouterr().err
    kw = kwargs_of(z, params, tmp_path)
    kw["products"] = "bpmask"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = imcombine(z["stack"], **kw)
    bpm = fits.getdata(tmp_path / "bpm.fits")
    assert np.array_equal(bpm, ref.bpmask) and set(np.unique(bpm)) <= {0, 1, 2} and (bpm == 2).any()
    assert fits.getheader(tmp_path / "out.fits")["BPM"] == "bpm.fits"
    with fits.open(tmp_path / "hdrs.fits") as hdul:
        assert len(hdul) == 1 + len(paths)
        for h, p in zip(hdul[1:], paths):
            assert h.data is None
            assert h.header["INIMAGE"] == os.path.basename(p) and h.header["OUTIMAGE"] == "out.fits"
            assert (h.header["AXLEN1"], h.header["AXLEN2"]) == z["stack"].shape[:0:-1]
