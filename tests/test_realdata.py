"""Raw frames from real instruments (../shared/realdata) through every door, against real IRAF.

The files are read as they are (never copied into the repository): NOT/ALFOSC biases
(image in extension 1 behind an empty primary, unsigned 32-bit with BZERO=2^31), ZWO
ASI178MC biases (unsigned 16-bit, EXPTIME written with a decimal comma) and darks. For
every set and parameter set:

* IRAF 2.17 runs on the same files (``file.fits[1]`` for ALFOSC, as IRAF users write it);
  the harness on the physical values (``../shared/iraf/tools/iraf_ref.py``) gives the same;
* ``imcombiners.imcombine`` (paths), ``imcombiners.dask.imcombine`` and ``imcombiners
  imcombine @list out combine=...`` equal IRAF bit for bit;
* ``imcombiners combine`` and ``Combiner`` equal IRAF once rounded to float32, except at
  pixels where an input exceeds 2^24: IRAF reads unsigned 32-bit images as real (float32)
  and so rounds those inputs, the library combines the exact values (docs/iraf-differences.md);
* the outputs start from the first input's header (ALFOSC: primary and extension cards).

Skipped cleanly when ../shared/realdata is absent; IRAF comparisons are skipped when
IRAF is not installed.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

import imcombiners as imc
import imcombiners.dask as imd
from imcombiners.cli import main
from imcombiners.io.fits import probe, read_header
from tests.helpers.iraf_files import available as iraf_available
from tests.helpers.iraf_files import iraf_on_files

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "realdata"
TOOLS = ROOT.parent / "shared" / "iraf" / "tools"

pytestmark = pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata not present")

#: data set -> (file pattern, IRAF selector of the image, physical pixel type)
SETS = {
    "not-alfosc-bias-1x1": ("*.fits", "[1]", "uint32"),
    "zwo-asi178mc-bias": ("*.fit", "", "uint16"),
    "zwo-asi178mc-dark100s": ("*.fit", "", "uint16"),
}

#: IRAF parameters, and the same combine with the ``combine`` command's options
CASES = {
    "median": ({"combine": "median"}, ["--method", "median"]),
    "minmax": ({"combine": "average", "reject": "minmax", "nlow": 1, "nhigh": 1},
               ["--method", "mean", "--reject", "minmax", "--nlow", "1", "--nhigh", "1"]),
    "sigclip": ({"combine": "average", "reject": "sigclip"}, ["--method", "mean", "--reject", "sigclip"]),
    "ccdclip": ({"combine": "average", "reject": "ccdclip", "rdnoise": "RDNOISE", "gain": "GAIN"}, None),
}


def _files(name: str) -> list[str]:
    pattern, _sel, _kind = SETS[name]
    files = sorted(glob.glob(str(REALDATA / name / pattern)))
    if not files:
        pytest.skip(f"no files in {REALDATA / name}")
    return files


def _cases(name: str) -> list[str]:
    # ccdclip needs RDNOISE/GAIN keywords: ALFOSC has them (in the extension), ZWO has GAIN=0
    return [c for c in CASES if c != "ccdclip" or name.startswith("not-alfosc")]


def _physical(files: list[str]) -> np.ndarray:
    return np.stack([probe(f).read().astype(np.float64) for f in files])


_IRAF_CACHE: dict = {}


def _iraf(name: str, case: str) -> np.ndarray:
    if not iraf_available():
        pytest.skip("IRAF not installed (apt-get install iraf iraf-noao)")
    key = (name, case)
    if key not in _IRAF_CACHE:
        sel = SETS[name][1]
        _IRAF_CACHE[key] = iraf_on_files([f + sel for f in _files(name)], CASES[case][0])
    return _IRAF_CACHE[key]


def _cli(capsys, *argv) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().err


@pytest.mark.parametrize("name", list(SETS))
def test_files_are_read_as_declared(name):
    files = _files(name)
    kind = SETS[name][2]
    frame = probe(files[0])
    raw = fits.getdata(files[0], frame.hdu)  # astropy's decoding, independently
    assert str(raw.dtype) == kind
    np.testing.assert_array_equal(frame.read(), raw.astype(frame.dtype))
    assert frame.hdu == (1 if SETS[name][1] else 0)
    # past the page cache (O_DIRECT; these files' data start at unaligned offsets): same values
    for f in files:
        buffered = probe(f)
        np.testing.assert_array_equal(buffered.with_uncached(True).read(), buffered.read())
        strip = (slice(100, 180),)
        np.testing.assert_array_equal(buffered.with_uncached(True).read(strip), buffered.read(strip))


@pytest.mark.parametrize("name", list(SETS))
def test_harness_on_physical_values_equals_iraf_on_files(name):
    """The shared harness, fed the physical values, reproduces IRAF run on the files."""
    if not TOOLS.is_dir():
        pytest.skip("../shared/iraf/tools not present")
    spec = importlib.util.spec_from_file_location("iraf_ref", TOOLS / "iraf_ref.py")
    iraf_ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(iraf_ref)
    files = _files(name)
    stack = np.stack([fits.getdata(f, probe(f).hdu) for f in files])  # uint32 / uint16, physical
    res = iraf_ref.iraf_imcombine(stack, **CASES["sigclip"][0], want_sigma=False, want_rejmask=False,
                                  want_nrejmask=False, want_expmask=False)
    np.testing.assert_array_equal(res["output"], _iraf(name, "sigclip"))


@pytest.mark.parametrize("name", list(SETS))
def test_imcombine_equals_iraf_bit_for_bit(name, tmp_path, capsys):
    files = _files(name)
    sel = SETS[name][1]
    lst = tmp_path / "in.lis"
    lst.write_text("".join(f + sel + "\n" for f in files))
    for case in _cases(name):
        params = CASES[case][0]
        ref = _iraf(name, case)
        got = imc.imcombine(files, products="none", **params).output
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, ref, err_msg=f"imcombine {case}")
        lazy = imd.imcombine(files, products="none", memory_limit="300MB", tile=(256, 1), **params)
        np.testing.assert_array_equal(lazy.compute().output, ref, err_msg=f"dask imcombine {case}")
        out = tmp_path / f"i_{case}.fits"
        status, err = _cli(capsys, "imcombine", f"@{lst}", str(out), "logfile=",
                           *[f"{k}={v}" for k, v in params.items()])
        assert status == 0, err
        np.testing.assert_array_equal(fits.getdata(out), ref, err_msg=f"CLI imcombine {case}")


@pytest.mark.parametrize("name", list(SETS))
def test_combine_equals_iraf(name, tmp_path, capsys):
    files = _files(name)
    physical = _physical(files)
    exact_in_float32 = ~(physical >= 2**24).any(axis=0)  # IRAF rounds larger uint32 values
    for case in _cases(name):
        options = CASES[case][1]
        if options is None:
            continue
        ref = _iraf(name, case)
        out = tmp_path / f"c_{case}.fits"
        status, err = _cli(capsys, "combine", *files, "-o", str(out), "-q", *options)
        assert status == 0, err
        got = fits.getdata(out).astype(np.float32)
        np.testing.assert_array_equal(got[exact_in_float32], ref[exact_in_float32], err_msg=case)
        if case == "median":
            api = np.asarray(imc.Combiner(files).combine("median"), np.float32)
            np.testing.assert_array_equal(api[exact_in_float32], ref[exact_in_float32])
            # the wrapped ALFOSC pixels: exact values, within IRAF's float32 rounding of them
            np.testing.assert_allclose(got, ref, rtol=2**-23, atol=0)


@pytest.mark.parametrize("name", list(SETS))
def test_outputs_keep_the_first_input_header(name, tmp_path, capsys):
    files = _files(name)
    first = read_header(files[0])
    stale = {"BZERO", "BSCALE", "BLANK", "DATAMIN", "DATAMAX", "EXTNAME", "INHERIT", "XTENSION",
             "PCOUNT", "GCOUNT", "CHECKSUM", "DATASUM"}
    status, err = _cli(capsys, "combine", *files, "-o", str(tmp_path / "c.fits"), "-q")
    assert status == 0, err
    status, err2 = _cli(capsys, "imcombine", ",".join(files), str(tmp_path / "i.fits"), "logfile=")
    assert status == 0, err2
    raw = open(files[0], "rb").read(2880 * 4)
    cards = [raw[k:k + 80].decode("latin-1") for k in range(0, len(raw), 80)]
    # numbers written with a decimal comma (unquoted: astropy cannot parse them)
    comma = [c[:8].strip() for c in cards if c[8:10] == "= " and re.match(r"^\s*[-+]?\d+,\d", c[10:])]
    for err_text in (err, err2):
        # the decimal-comma cards (ZWO biases): one warning each, naming the file
        for key in comma:
            hits = [ln for ln in err_text.splitlines() if f"header card {key}:" in ln]
            assert len(hits) == 1 and os.path.basename(files[0]) in hits[0], err_text
        assert len([ln for ln in err_text.splitlines() if "warning" in ln]) == len(comma), err_text
    if name == "zwo-asi178mc-bias":
        assert sorted(comma) == ["EXPOSURE", "EXPTIME"]
    for out in ("c.fits", "i.fits"):
        with fits.open(tmp_path / out) as hdul:
            hdul.verify("exception")
            h = hdul[0].header
        for card in first.cards:
            key = card.keyword
            if not key or key in ("COMMENT", "HISTORY") or key in stale or key.startswith("NAXIS"):
                continue
            if key in ("SIMPLE", "BITPIX", "EXTEND", "DATE"):
                continue  # describe the output file / its creation
            assert key in h, (out, key)
            if key not in comma:  # decimal comma: written as a string
                assert h[key] == first[key], (out, key)
        assert not (stale & set(h.keys())), (out, stale & set(h.keys()))
        assert h["NCOMBINE"] == len(files) and h["IMCMB001"] == os.path.basename(files[0])
    if name.startswith("not-alfosc"):  # primary cards (telescope) and extension cards (detector)
        h = fits.getheader(tmp_path / "i.fits")
        assert h["TELESCOP"] == "NOT" and h["GAIN"] == 0.16 and h["RDNOISE"] == 4.3
        assert h["CTYPE1"] == "X"  # the extension's WCS is kept
