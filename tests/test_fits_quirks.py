"""Real-instrument FITS quirks, reproduced in small synthetic files, through every door.

Each quirk (image behind an empty primary, unsigned 32-bit with BZERO=2^31, BLANK,
tile compression, gzip, cards astropy will not write) is read by the library paths
(Combiner, imcombiners.dask.combine), the IRAF paths (imcombine in memory and out of
core) and both command-line forms, and compared with the physical values decoded
independently (astropy, NumPy):

* library paths: physical values, exact (uint32 in float64), BLANK masked;
* IRAF paths: bit-identical to ``imcombine`` on arrays of IRAF's pixel type for the
  file (real = float32 of the physical value for uint32 and scaled images), which the
  stored and live real-IRAF cases pin to IRAF 2.17.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from astropy.io import fits

from tests.helpers import fits_quirks as q
import imcombiners as imc
import imcombiners.dask as imd
from imcombiners.cli import main
from imcombiners.io.fits import FitsHeaderWarning, probe, read_header


def _physical(paths, hdu=None) -> np.ndarray:
    """Physical values by astropy (independent decoding), float64, NaN where BLANK."""
    out = []
    for p in paths:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(p) as hdul:
                h = hdul[hdu] if hdu is not None else next(x for x in hdul if x.data is not None)
                raw = fits.getdata(p, h.name if hdu is None else hdu, do_not_scale_image_data=True) \
                    if not isinstance(h, fits.CompImageHDU) else None
                data = np.asarray(h.data, dtype=np.float64)
                blank = h.header.get("BLANK") if raw is not None and raw.dtype.kind in "iu" else None
                if blank is not None:
                    data[raw == blank] = np.nan
        out.append(data)
    return np.stack(out)


def _cli(capsys, *argv) -> tuple[int, str, str]:
    status = main(list(argv))
    cap = capsys.readouterr()
    return status, cap.out, cap.err


def _library_checks(paths, physical, capsys, tmp_path, hdu=None):
    """Combiner, dask.combine and the combine command give the median of the physical values."""
    expect = np.nanmedian(physical, axis=0)
    got = imc.Combiner(list(paths)).combine("median")
    np.testing.assert_array_equal(np.asarray(got, np.float64), expect)
    lazy = imd.combine(list(paths), "median", hdu=hdu, tile=(4, 16))
    np.testing.assert_array_equal(np.asarray(lazy.compute().data, np.float64), expect)
    out = tmp_path / "cli_combine.fits"
    status, _, err = _cli(capsys, "combine", *paths, "-o", str(out), "-q", "-f", "--method", "median")
    assert status == 0, err
    np.testing.assert_array_equal(fits.getdata(out).astype(np.float64), expect)


def _iraf_view(physical: np.ndarray, kind: str) -> np.ndarray:
    """IRAF's pixel type for the file: ushort stays uint16; uint32/scaled -> real."""
    if kind in ("uint16", "int16"):
        return physical.astype(kind)
    return physical.astype(np.float32)


def _iraf_checks(paths, physical, kind, capsys, tmp_path, **kw):
    ref = imc.imcombine(_iraf_view(physical, kind), products="none", **kw).output
    got = imc.imcombine(list(paths), products="none", **kw).output
    assert got.dtype == ref.dtype
    np.testing.assert_array_equal(got, ref)
    lazy = imd.imcombine(list(paths), products="none", tile=(4, 1), **kw).compute().output
    np.testing.assert_array_equal(lazy, ref)
    out = tmp_path / "cli_imcombine.fits"
    params = [f"{k}={v}" for k, v in kw.items()]
    lst = tmp_path / "in.lis"
    lst.write_text("\n".join(paths) + "\n")
    status, _, err = _cli(capsys, "imcombine", f"@{lst}", str(out), "logfile=", "-f", *params)
    assert status == 0, err
    np.testing.assert_array_equal(fits.getdata(out), ref)


# ---------------------------------------------------------------------------- MEF, uint32


def test_mef_empty_primary_uint32(tmp_path, capsys):
    st = q.bias_stack(5)
    paths = q.mef_empty_primary(tmp_path, st)
    frame = probe(paths[0])
    assert frame.hdu == 1 and frame.shape == st.shape[1:] and frame.dtype == np.float64
    assert probe(paths[0], view="iraf").dtype == np.float32
    physical = _physical(paths)
    np.testing.assert_array_equal(physical, st.astype(np.float64))  # exact, wrapped values too
    _library_checks(paths, physical, capsys, tmp_path)
    for kw in ({"combine": "median"}, {"combine": "average", "reject": "sigclip"},
               {"combine": "average", "reject": "minmax"}):
        _iraf_checks(paths, physical, "uint32", capsys, tmp_path, **kw)


@pytest.mark.parametrize("selector", ["[1]", "[im1]", "[IM1]", "[im1,1]"])
def test_iraf_image_names_everywhere(tmp_path, capsys, selector):
    st = q.bias_stack(4, dtype=np.uint16, level=900)
    # a primary *with* data, so the default HDU would be the wrong image
    paths = []
    for i, frame in enumerate(st):
        p = tmp_path / f"two{i}.fits"
        fits.HDUList([fits.PrimaryHDU(np.zeros_like(frame)), fits.ImageHDU(frame, name="im1")]).writeto(p)
        paths.append(str(p))
    names = [p + selector for p in paths]
    expect = np.median(st.astype(np.float64), axis=0)
    np.testing.assert_array_equal(np.asarray(imc.Combiner(names).combine("median"), np.float64), expect)
    np.testing.assert_array_equal(imd.combine(names, "median").compute().data.astype(np.float64), expect)
    hdu = selector[1:-1].split(",")[0]
    np.testing.assert_array_equal(
        imd.combine(paths, "median", hdu=int(hdu) if hdu.isdigit() else hdu).compute().data, expect)
    ref = imc.imcombine(st, combine="median", products="none").output
    np.testing.assert_array_equal(imc.imcombine(names, combine="median", products="none").output, ref)
    lst = tmp_path / "in.lis"
    lst.write_text("\n".join(names) + "\n")
    status, _, err = _cli(capsys, "combine", f"@{lst}", "-o", str(tmp_path / "c.fits"), "-q")
    assert status == 0, err
    np.testing.assert_array_equal(fits.getdata(tmp_path / "c.fits").astype(np.float64), expect)
    status, _, err = _cli(capsys, "imcombine", f"@{lst}", str(tmp_path / "i.fits"), "combine=median",
                          "logfile=")
    assert status == 0, err
    np.testing.assert_array_equal(fits.getdata(tmp_path / "i.fits"), ref)
    assert fits.getheader(tmp_path / "i.fits")["IMCMB001"] == os.path.basename(names[0])
    # the same selector on the command line, with a glob
    status, _, err = _cli(capsys, "combine", str(tmp_path / "two*.fits") + selector, "-o",
                          str(tmp_path / "g.fits"), "-q")
    assert status == 0, err
    np.testing.assert_array_equal(fits.getdata(tmp_path / "g.fits").astype(np.float64), expect)


def test_bad_selectors_are_clear(tmp_path, capsys):
    paths = q.single_hdu(tmp_path, q.bias_stack(2, dtype=np.uint16))
    with pytest.raises(ValueError, match=r"no HDU \[SCI\]"):
        probe(paths[0] + "[SCI]")
    with pytest.raises(ValueError, match="image section"):
        probe(paths[0] + "[1:10,*]")
    status, _, err = _cli(capsys, "combine", paths[0] + "[3]", paths[1], "-o", str(tmp_path / "x.fits"))
    assert status == 2 and "no HDU [3]" in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------------------- header


def test_output_header_starts_from_first_input(tmp_path, capsys):
    paths = q.mef_empty_primary(tmp_path, q.bias_stack(3))
    for argv in (["combine", *paths, "-o", str(tmp_path / "c.fits"), "-q"],
                 ["imcombine", ",".join(paths), str(tmp_path / "i.fits"), "logfile="]):
        status, _, err = _cli(capsys, *argv)
        assert status == 0, err
    first = read_header(paths[0])
    for out in ("c.fits", "i.fits"):
        h = fits.getheader(tmp_path / out)
        # primary and extension cards of the first input (merged, as IRAF does) ...
        for key in ("TELESCOP", "INSTRUME", "DATE-OBS", "EXPTIME", "IMAGETYP", "GAIN", "RDNOISE",
                    "CTYPE1", "CRVAL1", "CRPIX1", "BIASSEC", "DETWIN1"):
            assert h[key] == first[key], (out, key)
        # ... minus what no longer describes the output
        for key in ("BZERO", "BSCALE", "BLANK", "DATAMIN", "EXTNAME", "INHERIT", "XTENSION", "PCOUNT"):
            assert key not in h, (out, key)
        assert h["NCOMBINE"] == 3 and h["IMCMB003"] == os.path.basename(paths[2])
        # uint32: exact float64 values in the library, IRAF's real in the IRAF form
        assert h["BITPIX"] == (-64 if out == "c.fits" else -32) and h["NAXIS1"] == 31


def test_bad_cards_are_repaired_or_dropped_with_one_warning_each(tmp_path, capsys):
    st = q.bias_stack(3, dtype=np.uint16, level=1370)
    paths = q.bad_cards(tmp_path, st)
    name = os.path.basename(paths[0])
    for form, out in (("combine", "c.fits"), ("imcombine", "i.fits")):
        if form == "combine":
            argv = ["combine", *paths, "-o", str(tmp_path / out), "-q", "--method", "median"]
        else:
            argv = ["imcombine", ",".join(paths), str(tmp_path / out), "combine=median", "logfile="]
        status, _, err = _cli(capsys, *argv)
        assert status == 0, err
        lines = [ln for ln in err.splitlines() if "header card" in ln]
        for key in ("EXPTIME", "EXPOSURE", "NANVAL", "UNQUOTED", "LOWKEY", "BAD KEY", "NONASCII"):
            hits = [ln for ln in lines if f"header card {key}:" in ln]
            assert len(hits) == 1 and name in hits[0], (form, key, err)
        assert not any("GOODKEY" in ln for ln in lines)
        h = fits.getheader(tmp_path / out)
        assert h["EXPTIME"] == "3,2E-05" and h["GOODKEY"] == 42.0 and h["LOWKEY"] == 1
        assert "BAD KEY" not in h and h["NONASCII"] == "caf??"
        np.testing.assert_array_equal(fits.getdata(tmp_path / out).astype(np.float64),
                                      np.median(st.astype(np.float64), axis=0))
    # the decimal comma is still read as a number where a keyword value is needed
    res = imc.imcombine(paths, scale="exposure", expname="EXPTIME", products="none")
    np.testing.assert_array_equal(res.scale, np.ones(3, np.float32))


def test_library_write_never_fails_on_input_cards(tmp_path):
    paths = q.bad_cards(tmp_path, q.bias_stack(2, dtype=np.uint16))
    from imcombiners.io.fits import output_header, write_image

    with pytest.warns(FitsHeaderWarning) as rec:
        header = output_header(paths[0], [("NCOMBINE", 2, "number of images combined")])
    assert {str(w.message).split("header card ")[1].split(":")[0] for w in rec} >= {"EXPTIME", "BAD KEY"}
    write_image(tmp_path / "out.fits", np.zeros((3, 4), np.float32), header)
    with fits.open(tmp_path / "out.fits") as hdul:
        hdul.verify("exception")  # a standard-conforming file


def test_provenance_comments_fit_their_cards(tmp_path, capsys):
    long = "a_rather_long_file_name_written_by_some_camera_software_0001.fits"
    st = q.bias_stack(3, dtype=np.uint16)
    paths = []
    for i, frame in enumerate(st):
        p = tmp_path / long.replace("0001", f"{i:04d}")
        fits.PrimaryHDU(frame).writeto(p)
        paths.append(str(p))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no truncation warning from astropy
        status, _, err = _cli(capsys, "imcombine", ",".join(paths), str(tmp_path / "o.fits"), "logfile=")
    assert status == 0 and "warning" not in err.lower(), err
    assert fits.getheader(tmp_path / "o.fits")["IMCMB002"] == os.path.basename(paths[1])


# ---------------------------------------------------------------------------- BLANK, BSCALE


def test_blank_is_masked_everywhere(tmp_path, capsys):
    rng = np.random.default_rng(3)
    raw = rng.integers(-3000, 3000, (5, 12, 17)).astype(np.int16)
    raw[1, 2, 3] = raw[3, 2, 3] = raw[4, 5, 6] = -32768
    raw[:, 7, 8] = -32768  # every frame blank there: no value left
    paths = q.blank_int16(tmp_path, raw, bscale=0.5, bzero=100.0)
    physical = _physical(paths)
    assert np.isnan(physical).sum() == 8
    got = np.asarray(imc.Combiner(paths).combine("median"), np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = np.nanmedian(physical, axis=0)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(imd.combine(paths, "median").compute().data.astype(np.float64), ref)
    ref_iraf = imc.imcombine(physical.astype(np.float32), combine="average", reject="sigclip",
                             blank=-1.0, products="none").output
    got_iraf = imc.imcombine(paths, combine="average", reject="sigclip", blank=-1.0, products="none").output
    np.testing.assert_array_equal(got_iraf, ref_iraf)
    assert got_iraf[7, 8] == -1.0


# ---------------------------------------------------------------------------- compression


@pytest.mark.parametrize("compression", q.COMPRESSIONS)
def test_tile_compressed_everywhere(tmp_path, capsys, compression):
    st = q.bias_stack(4, dtype=np.uint16, level=2000)
    kind = "uint16"
    if compression == "PLIO_1":  # PLIO holds non-negative integers of up to 24 bits, signed types
        st, kind = (st.astype(np.int32) % 4096).astype(np.int16), "int16"
    paths = q.tile_compressed(tmp_path, st, compression)
    frame = probe(paths[0])
    assert frame.compressed and frame.hdu == 1
    physical = _physical(paths)
    np.testing.assert_array_equal(physical, st.astype(np.float64))
    # windows decompress only their tiles and equal the whole frame
    whole = frame.read()
    for win in [(slice(3, 9), slice(4, 20)), (slice(0, 23, 5), slice(1, 30, 7))]:
        np.testing.assert_array_equal(frame.read(win), whole[win])
    _library_checks(paths, physical, capsys, tmp_path)
    _iraf_checks(paths, physical, kind, capsys, tmp_path, combine="median", reject="sigclip")


@pytest.mark.parametrize("maker", ["uint16", "uint32_mef", "compressed"])
def test_gzip_everywhere(tmp_path, capsys, maker):
    if maker == "uint16":
        st = q.bias_stack(4, dtype=np.uint16, level=1370)
        plain, kind = q.single_hdu(tmp_path, st), "uint16"
    elif maker == "uint32_mef":
        st = q.bias_stack(4)
        plain, kind = q.mef_empty_primary(tmp_path, st), "uint32"
    else:
        st = q.bias_stack(4, dtype=np.uint16, level=800)
        plain, kind = q.tile_compressed(tmp_path, st, "RICE_1"), "uint16"
    paths = q.gzipped(plain)
    for p in plain:
        os.remove(p)  # only the .gz files exist
    frame = probe(paths[0])
    assert frame.container == "gzip"
    np.testing.assert_array_equal(frame.read((slice(2, 7),)), st[0, 2:7].astype(frame.dtype))
    physical = st.astype(np.float64)
    _library_checks(paths, physical, capsys, tmp_path)
    _iraf_checks(paths, physical, kind, capsys, tmp_path, combine="average", reject="minmax")
    h = fits.getheader(tmp_path / "cli_combine.fits")
    assert h["IMCMB001"] == os.path.basename(paths[0])


def test_corrupt_gzip_is_a_clear_error(tmp_path, capsys):
    plain = q.single_hdu(tmp_path, q.bias_stack(2, dtype=np.uint16))
    gz = q.gzipped(plain)
    data = open(gz[0], "rb").read()
    open(gz[0], "wb").write(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cannot decompress"):
        probe(gz[0])
    status, _, err = _cli(capsys, "combine", *gz, "-o", str(tmp_path / "x.fits"))
    assert status == 2 and os.path.basename(gz[0]) in err and len(err.strip().splitlines()) == 1
