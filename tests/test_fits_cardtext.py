"""Output headers written without astropy against astropy's own path: the same characters.

:mod:`imcombiners.io.fits.cardtext` writes plain headers itself (the command line then
never imports astropy); whenever it accepts a header, the file it writes must be the one
astropy's path (:func:`~imcombiners.io.fits.output_header` + ``Header.tostring``) writes,
with the same warnings; whenever it declines, astropy's path runs.
"""

from __future__ import annotations

import glob
import json
import os
import string
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from imcombiners.io.fits import HduSpec, create_fits, output_header, probe
from imcombiners.io.fits.cardtext import PlainHeader, format_card, output_cards
from imcombiners.io.fits.header import fitted_card

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"

PROVENANCE = [
    ("NCOMBINE", 8, "number of images combined"),
    ("IMCVERS", "0.2.0", "imcombiners version"),
    ("DATE", "2026-12-05T01:02:03", "UTC date the combined image was written"),
    ("IMCMETH", "median", "combine method"),
    ("IMCPARAM", json.dumps({"method": "median", "statsec": "'[1:10,2:20]'", "rejectors": [
        {"kind": "SigClip", "sigma": [3.0, 3.0], "cenfunc": "median", "note": "O'Brien's " * 9}]}),
     "combine parameters (JSON)"),
    ("IMCMB001", "frame000.fits", "input image"),
    ("IMCZ0001", 0.0, "zero used for image 1"),
    ("IMCS0002", 1.0123456789012345, "scale used for image 2"),
    ("IMCW0003", 3.5e-12, "weights used for image 3"),
]


def _values(rng: np.random.Generator) -> list:
    words = ["", "a", "O'Brien", "x" * 8, "two words", "''", "a'b'c", " lead", "trail ", "/slash/",
             "=eq=", "x" * 67, "y" * 68, "z" * 69, "w" * 70, " ".join(["word"] * 40), "q'" * 50,
             ("k" * 66) + "'" + "v" * 10, "a b " * 30]
    floats = [0.0, -0.0, 1.0, -2.5, 1e20, 1e-300, 1 / 3, 2.0 ** 60, 123456789.123456789, -1.5e-7,
              float(np.float32(0.1)), 6.02214076e23]
    floats += list(rng.normal(0, 1e3, 20)) + list(10.0 ** rng.uniform(-30, 30, 20))
    ints = [0, 1, -1, 2**31, -(2**62), 65535, 10**19]
    return words + [float(f) for f in floats] + ints + [True, False]


def test_new_cards_are_astropys():
    rng = np.random.default_rng(7)
    comments = ["", "c", "number of images combined", "x" * 30, "y" * 45, "z" * 60, "w" * 80,
                "a comment / with slash", "trailing   "]
    checked = declined = 0
    for value in _values(rng):
        for comment in comments:
            mine = format_card("KEYWORD", value, comment)
            if mine is None:
                declined += 1
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # astropy would warn: we must have declined
                theirs = fitted_card("KEYWORD", value, comment).image
            assert mine == theirs, (value, comment)
            checked += 1
    assert checked > 300 and declined < checked / 10


def _write(path: Path, header) -> bytes:
    create_fits(str(path), [HduSpec("PRIMARY", (3, 4), np.float32, (("IMCPROD", "nrej", "a product"),),
                                    header)])
    with open(path, "rb") as f:
        data = f.read()
    return data[: data.index(b"END" + b" " * 77) + 80]


def _both(frame, tmp: Path, provenance=PROVENANCE):
    with warnings.catch_warnings(record=True) as w1:
        warnings.simplefilter("always")
        plain = output_cards(frame, provenance)
    with warnings.catch_warnings(record=True) as w2:
        warnings.simplefilter("always")
        ref = output_header(frame, provenance)
    if plain is None:
        return None
    assert isinstance(plain, PlainHeader)
    assert [str(w.message) for w in w1] == [str(w.message) for w in w2]
    mine = _write(tmp / "mine.fits", plain)
    theirs = _write(tmp / "theirs.fits", ref)
    assert mine == theirs
    return mine


def _header_file(tmp: Path, name: str, cards_text: str) -> str:
    """A FITS file whose header is exactly these card images (80 characters each)."""
    assert len(cards_text) % 80 == 0
    structural = "".join(c.ljust(80) for c in ("SIMPLE  =                    T", "BITPIX  =                   16",
                                               "NAXIS   =                    2", "NAXIS1  =                    4",
                                               "NAXIS2  =                    3"))
    text = structural + cards_text + "END".ljust(80)
    text += " " * (-len(text) % 2880)
    path = tmp / name
    path.write_bytes(text.encode("latin-1") + b"\0" * 2880)
    return str(path)


PLAIN = [
    "OBSERVER= 'O''Brien'           / who",
    "EXPTIME =                 30.0 / s",
    "GAIN    =                 1.25",
    "FLAG    =                    T / a flag",
    "NEG     =                 -1.5E-05",
    "FREE    =  42   / free-format integer",
    "STR     = 'a / b'",
    "EMPTY   = ''",
    "DATE-OBS= '2024-01-01T00:00:00'",
    "COMMENT   a comment card with 'quotes' and = signs",
    "HISTORY   processed",
    "        blank keyword text",
    "",
    "NCOMBINE=                   12 / an earlier combine: removed",
    "IMCMB001= 'old.fits'",
    "DATE    = '2020-01-01'         / replaced by the provenance DATE",
    "BZERO   =                32768",
    "DECIMAL =              3,2E-05 / a camera's decimal comma",
]
NOT_PLAIN = [
    ("LONGSTR = 'abc&'".ljust(80) + "CONTINUE  'def'").ljust(160),
    "HIERARCH ESO DET CHIP = 'x'",
    "lower   =                    1",
    "FEXP    =               1.5e-3",
    "DEXP    =               1.5D-3",
    "RECORD  = 'AXIS.1: 2'",
    "CPLX    = (1.0, 2.0)",
    "UNDEF   =",
    "NOEQ      just text",
    "BADSTR  = 'unterminated",
    "BADNUM  =                 1..2",
]


@pytest.mark.parametrize("extra", [[]] + [[c] for c in NOT_PLAIN],
                         ids=["plain"] + [c.split("=")[0].strip() or "x" for c in NOT_PLAIN])
def test_input_headers_copied_as_astropy_copies_them(tmp_path, extra):
    text = "".join(c.ljust(80) for c in PLAIN + extra)
    frame = probe(_header_file(tmp_path, "in.fits", text))
    got = _both(frame, tmp_path)
    if extra:
        assert got is None  # declined: astropy's path ran
    else:
        assert got is not None and b"DECIMAL = '3,2E-05 '" in got and b"NCOMBINE=                    8" in got


@pytest.mark.parametrize("short", [False, True], ids=["any-values", "short-values"])
def test_random_headers(tmp_path, short):
    """Headers astropy wrote from random cards: accepted ones must be copied exactly; with
    short values and comments (no CONTINUE cards, nothing truncated) every one is accepted."""
    rng = np.random.default_rng(11 + short)
    values = [v for v in _values(rng) if not (short and isinstance(v, str) and len(v) > 60)]
    letters = string.ascii_uppercase + string.digits + "_-"
    accepted = 0
    for trial in range(40):
        h = fits.Header()
        for _ in range(int(rng.integers(1, 40))):
            key = "".join(rng.choice(list(letters), int(rng.integers(1, 9))))
            if key in ("SIMPLE", "BITPIX", "NAXIS", "EXTEND", "END", "CONTINUE") or key.startswith("NAXIS"):
                continue
            value = values[int(rng.integers(len(values)))]
            comment = "".join(rng.choice(list(string.printable[:94] + " "), int(rng.integers(0, 20 if short else 50))))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                h.append(fits.Card(key, value, comment), end=True)
        path = tmp_path / f"r{trial}.fits"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits.PrimaryHDU(np.zeros((3, 4), np.uint16), header=h).writeto(path, overwrite=True)
        sub = tmp_path / f"t{trial}"
        sub.mkdir()
        if _both(probe(str(path)), sub) is not None:
            accepted += 1
    assert accepted == 40 if short else accepted >= 5


@pytest.mark.skipif(not REALDATA.exists(), reason="../shared/realdata not present")
def test_real_headers(tmp_path):
    accepted = 0
    for k, path in enumerate(sorted(glob.glob(str(REALDATA / "*" / "*.fit*")))):
        sub = tmp_path / str(k)
        sub.mkdir()
        if _both(probe(path), sub) is not None:
            accepted += 1
    assert accepted >= 1  # the ZWO frames (decimal-comma EXPTIME) take the plain path
    assert os.path.isdir(REALDATA)


def test_stale_keywords_are_those_of_the_pattern_they_replace():
    # header_rules.is_stale matches numbered keywords with a table; the regular
    # expression it replaced is the reference
    import itertools
    import re

    from imcombiners.io.fits.header_rules import STALE_KEYWORDS, is_stale

    pattern = re.compile(r"^(NAXIS\d+|ZNAXIS\d+|ZTILE\d+|ZNAME\d+|ZVAL\d+|TTYPE\d+|TFORM\d+|TUNIT\d+|TDIM\d+|"
                         r"PTYPE\d+|PSCAL\d+|PZERO\d+|IMCMB\d{3}|IMC[ZSW]\d{4})$")
    stems = ["NAXIS", "ZNAXIS", "ZTILE", "ZNAME", "ZVAL", "TTYPE", "TFORM", "TUNIT", "TDIM", "PTYPE", "PSCAL",
             "PZERO", "IMCMB", "IMCZ", "IMCS", "IMCW", "IMCX", "IMC", "AXIS", "XNAXIS", "NAXI", "OBJECT", "", "DATE-OBS"]
    tails = ["", "1", "12", "123", "1234", "12345", "0000", "1A", "A1", "-1", " 1"]
    keywords = ["".join(p) for p in itertools.product(stems, tails)] + sorted(STALE_KEYWORDS)
    for key in keywords:
        assert is_stale(key) == (key in STALE_KEYWORDS or bool(pattern.match(key))), key
    assert is_stale("NAXIS2") and is_stale("IMCMB007") and not is_stale("IMCMB0007") and not is_stale("EXPTIME")
