"""FITS windows against astropy, open-file budget, preallocated writes, atomic rename."""

from __future__ import annotations

import os

import numpy as np
import pytest
from astropy.io import fits

from imcombiners.io import fits as imf
from imcombiners.io.atomic import atomic_path
from imcombiners.io.provenance import provenance_cards, provenance_dict

RNG = np.random.default_rng(42)
SHAPE = (37, 53)


def _write(path, data, header=None, compressed=False, tile_shape=None):
    if compressed:
        hdu = fits.CompImageHDU(data, header=header, tile_shape=tile_shape)
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)
    else:
        fits.PrimaryHDU(data, header=header).writeto(path, overwrite=True)
    return str(path)


def _cases(tmp_path):
    out = {}
    out["uint16"] = _write(tmp_path / "u16.fits", RNG.integers(0, 65535, SHAPE).astype(np.uint16))
    out["int16"] = _write(tmp_path / "i16.fits", RNG.integers(-30000, 30000, SHAPE).astype(">i2"))
    out["uint8"] = _write(tmp_path / "u8.fits", RNG.integers(0, 255, SHAPE).astype(np.uint8))
    out["int32"] = _write(tmp_path / "i32.fits", RNG.integers(-2**31, 2**31 - 1, SHAPE).astype(np.int32))
    out["uint32"] = _write(tmp_path / "u32.fits", RNG.integers(0, 2**32 - 1, SHAPE).astype(np.uint32))
    out["float32"] = _write(tmp_path / "f4.fits", RNG.normal(size=SHAPE).astype(">f4"))
    out["float64"] = _write(tmp_path / "f8.fits", RNG.normal(size=SHAPE).astype("<f8"))
    # raw integers with scaling keywords added afterwards (astropy keeps them as given)
    raw = RNG.integers(-3000, 3000, SHAPE).astype(np.int16)
    raw[::5, ::7] = -3000
    hdu = fits.PrimaryHDU(raw)
    hdu.header["BSCALE"], hdu.header["BZERO"], hdu.header["BLANK"] = 0.37, 11.5, -3000
    hdu.writeto(tmp_path / "scaled.fits", overwrite=True)
    out["scaled"] = str(tmp_path / "scaled.fits")
    hdu = fits.PrimaryHDU(RNG.integers(-10**6, 10**6, SHAPE).astype(np.int32))
    hdu.header["BSCALE"], hdu.header["BZERO"] = 2.5e-3, -7.0
    hdu.writeto(tmp_path / "scaled32.fits", overwrite=True)
    out["scaled32"] = str(tmp_path / "scaled32.fits")
    out["comp_u16"] = _write(tmp_path / "cu16.fits", RNG.integers(0, 65535, SHAPE).astype(np.uint16),
                             compressed=True, tile_shape=(5, SHAPE[1]))
    out["comp_f32"] = _write(tmp_path / "cf32.fits", RNG.normal(size=SHAPE).astype(np.float32),
                             compressed=True, tile_shape=(4, 16))
    return out


WINDOWS = [
    (),
    (slice(3, 9),),
    (slice(3, 9), slice(4, 20)),
    (slice(1, 30, 7), slice(2, 50, 3)),
    (slice(36, 37), slice(52, 53)),
    (slice(0, 0),),
]


def test_windows_equal_astropy(tmp_path):
    for name, path in _cases(tmp_path).items():
        frame = imf.probe(path)
        ref = fits.getdata(path)
        for w in WINDOWS:
            got = frame.read(w)
            assert got.dtype == frame.dtype and got.dtype.isnative, name
            expect = ref[w] if w else ref
            assert got.shape == expect.shape
            if name == "scaled":
                # physical values rounded once to float32 (astropy rounds each float32 operation)
                raw = fits.getdata(path, do_not_scale_image_data=True)
                raw = raw[w] if w else raw
                exact = np.where(raw == -3000, np.nan, raw.astype(np.float64) * 0.37 + 11.5)
                np.testing.assert_array_equal(got, exact.astype(np.float32), err_msg=f"{name} {w}")
                np.testing.assert_allclose(got, expect, rtol=0, atol=2 * np.spacing(np.float32(1200)))
                continue
            # same values as astropy (exact, NaN where BLANK), widened dtypes only
            np.testing.assert_array_equal(got, expect.astype(got.dtype), err_msg=f"{name} {w}")
        assert frame.compressed == name.startswith("comp")


def test_dtype_policy(tmp_path):
    cases = _cases(tmp_path)
    expect = {"uint16": np.uint16, "int16": np.int16, "uint8": np.uint8, "int32": np.int32,
              "uint32": np.float64, "float32": np.float32, "float64": np.float64,
              "scaled": np.float32, "scaled32": np.float64, "comp_u16": np.uint16,
              "comp_f32": np.float32}
    for name, dt in expect.items():
        assert imf.probe(cases[name]).dtype == np.dtype(dt), name


def test_blank_becomes_nan(tmp_path):
    path = _cases(tmp_path)["scaled"]
    got = imf.probe(path).read()
    raw = fits.getdata(path, do_not_scale_image_data=True)
    assert np.array_equal(np.isnan(got), raw == -3000)
    assert np.isnan(got).any()


def test_read_into_wider_buffer(tmp_path):
    path = _cases(tmp_path)["uint16"]
    out = np.full((4, 53), -1.0, np.float64)
    imf.probe(path).read((slice(2, 6),), out=out)
    np.testing.assert_array_equal(out, fits.getdata(path)[2:6].astype(np.float64))


def test_open_file_budget(tmp_path):
    paths = []
    for i in range(20):
        paths.append(_write(tmp_path / f"f{i}.fits", np.full((4, 5), i, np.float32)))
    old = imf.get_open_file_budget()
    try:
        imf.close_all()
        imf.set_open_file_budget(3)
        frames = imf.probe_many(paths)
        for _ in range(2):
            for i, fr in enumerate(frames):
                assert fr.read((slice(1, 3),))[0, 0] == i
                assert len(imf.handles.CACHE) <= 3
        fd_dir = "/proc/self/fd"
        if os.path.isdir(fd_dir):
            open_inputs = [p for p in (os.readlink(os.path.join(fd_dir, f)) for f in os.listdir(fd_dir)
                                       if os.path.exists(os.path.join(fd_dir, f)))
                           if p.startswith(str(tmp_path))]
            assert len(open_inputs) <= 3
    finally:
        imf.set_open_file_budget(old)
        imf.close_all()
    with pytest.raises(ValueError, match="budget"):
        imf.set_open_file_budget(0)


def test_extension_and_named_hdu(tmp_path):
    data = RNG.normal(size=(6, 7)).astype(np.float32)
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, name="SCI")]).writeto(tmp_path / "e.fits")
    fr = imf.probe(tmp_path / "e.fits")
    assert fr.hdu == 1
    np.testing.assert_array_equal(fr.read(), data)
    assert imf.probe(tmp_path / "e.fits", hdu="SCI").hdu == 1
    fits.PrimaryHDU().writeto(tmp_path / "empty.fits")
    with pytest.raises(ValueError, match="no image"):
        imf.probe(tmp_path / "empty.fits")


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16, np.int16, np.int32, np.uint8, bool])
def test_preallocated_region_writes_roundtrip(tmp_path, dtype):
    rng = np.random.default_rng(1)
    img = (rng.normal(size=(3, 11, 9)) * 1000).astype(dtype) if dtype is not bool else rng.random((3, 11, 9)) < 0.5
    if dtype == np.uint16:
        img = rng.integers(0, 65535, (3, 11, 9)).astype(np.uint16)
    prim = np.arange(11 * 9, dtype=np.float32).reshape(11, 9)
    path = str(tmp_path / "out.fits")
    targets = imf.create_fits(path, [imf.HduSpec("PRIMARY", prim.shape, np.float32, (("NCOMBINE", 3, "n"),)),
                                     imf.HduSpec("EXT", img.shape, dtype)])
    # full-width strips, a partial window and a single pixel
    targets["PRIMARY"][0:5, :] = prim[0:5]
    targets["PRIMARY"][5:11, 0:4] = prim[5:11, 0:4]
    targets["PRIMARY"][5:11, 4:9] = prim[5:11, 4:9]
    for a, b in [(0, 4), (4, 11)]:
        targets["EXT"][:, a:b, :] = img[:, a:b, :]
    with fits.open(path) as hdul:
        hdul.verify("exception")
        np.testing.assert_array_equal(hdul[0].data, prim)
        assert hdul[0].header["NCOMBINE"] == 3
        got = hdul["EXT"].data
        np.testing.assert_array_equal(got, img.astype(np.uint8) if dtype is bool else img)
    assert os.path.getsize(path) % 2880 == 0


def test_atomic_path(tmp_path):
    final = tmp_path / "a.fits"
    with pytest.raises(RuntimeError):
        with atomic_path(final) as tmp:
            open(tmp, "wb").write(b"partial")
            raise RuntimeError("boom")
    assert not final.exists() and os.listdir(tmp_path) == []
    with atomic_path(final) as tmp:
        open(tmp, "wb").write(b"done")
    assert final.read_bytes() == b"done"
    with pytest.raises(FileExistsError):
        with atomic_path(final, overwrite=False):
            pass


def test_provenance_cards(tmp_path):
    from imcombiners._rejectors import SigClip

    prov = provenance_dict(inputs=[f"/data/raw{i}.fits" for i in range(3)], ncombine=3,
                           parameters={"method": "median", "rejectors": [SigClip(sigma=2.5)]},
                           zero=np.array([0.0, 1.5, -2.0]), scale=[1.0, 1.1, 0.9], weights=None)
    hdr = fits.Header()
    for k, v, c in provenance_cards(prov):
        hdr[k] = (v, c)
    fits.PrimaryHDU(np.zeros((2, 2), np.float32), header=hdr).writeto(tmp_path / "p.fits")
    h = fits.getheader(tmp_path / "p.fits")
    assert h["NCOMBINE"] == 3 and h["IMCMB002"] == "raw1.fits" and h["IMCMETH"] == "median"
    assert h["IMCZ0002"] == 1.5 and h["IMCS0003"] == 0.9 and "IMCW0001" not in h
    import json

    params = json.loads(h["IMCPARAM"])
    assert params["rejectors"][0]["kind"] == "SigClip" and params["rejectors"][0]["sigma"] in (2.5, [2.5, 2.5])
    assert "IMCVERS" in h


FAST_PROBE = imf.frame._probe_plain


def _astropy_probe(path, hdu, monkeypatch):
    """probe() with the structural-card fast path switched off."""
    with monkeypatch.context() as m:
        m.setattr(imf.frame, "_probe_plain", lambda *a: None)
        return imf.probe(path, hdu)


def _more_cases(tmp_path):
    """Headers the fast path must read like astropy (or hand over to it)."""
    out = dict(_cases(tmp_path))
    data = RNG.normal(1000, 5, (3, 4, 5)).astype(np.float32)
    out["cube"] = _write(tmp_path / "cube.fits", data)
    h = fits.Header()
    for k in range(120):  # a header over several 2880-byte blocks
        h[f"KEY{k}"] = (k * 1.5, "a comment / with a slash")
    h["OBJECT"] = "BZERO = 5 / not a card start"
    h["HISTORY"] = "NAXIS1  = 99"
    out["long_header"] = _write(tmp_path / "long.fits", data[0], header=h)
    hdu = fits.PrimaryHDU(RNG.integers(0, 1000, SHAPE).astype(np.int16))
    hdu.header["BZERO"] = 32768.0  # a float literal stays a float
    hdu.header["BSCALE"] = 1
    hdu.writeto(tmp_path / "bzero_float.fits", overwrite=True)
    out["bzero_float"] = str(tmp_path / "bzero_float.fits")
    # empty primary + IMAGE extension, and a named extension behind a table
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data[1], name="SCI")]).writeto(tmp_path / "ext.fits", overwrite=True)
    out["extension"] = str(tmp_path / "ext.fits")
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="E", array=np.arange(3.0))])
    fits.HDUList([fits.PrimaryHDU(), table, fits.ImageHDU(data[2])]).writeto(tmp_path / "tab.fits", overwrite=True)
    out["table_first"] = str(tmp_path / "tab.fits")
    fits.HDUList([fits.PrimaryHDU(data[0]), fits.ImageHDU(data[1])]).writeto(tmp_path / "two.fits", overwrite=True)
    out["two_images"] = str(tmp_path / "two.fits")
    return out


def test_fast_probe_equals_astropy_probe(tmp_path, monkeypatch):
    """The structural-card reader returns exactly what the astropy path returns (value
    types included), or hands the file over to astropy (None)."""
    cases = _more_cases(tmp_path)
    for name, path in cases.items():
        for hdu in (None, 0, 1):
            try:
                expect = _astropy_probe(path, hdu, monkeypatch)
            except (ValueError, IndexError, KeyError, OSError) as exc:
                with pytest.raises(type(exc)):
                    imf.probe(path, hdu)
                continue
            fast = FAST_PROBE(path, hdu)
            if fast is not None:
                assert fast == expect, (name, hdu)
                assert [type(v) for v in (fast.bzero, fast.bscale, fast.blank)] == \
                    [type(v) for v in (expect.bzero, expect.bscale, expect.blank)], (name, hdu)
            assert imf.probe(path, hdu) == expect, (name, hdu)
    # plain images really take the fast path; compressed ones go to astropy
    for name in ("uint16", "int16", "float32", "scaled", "cube", "long_header", "bzero_float",
                 "extension", "two_images"):
        assert FAST_PROBE(cases[name], None) is not None, name
    for name in ("comp_u16", "comp_f32"):
        assert FAST_PROBE(cases[name], None) is None, name


@pytest.mark.filterwarnings("ignore:File may have been truncated")
def test_fast_probe_hands_bad_files_to_astropy(tmp_path):
    """Truncated data and broken structural cards keep astropy's clear errors."""
    path = _write(tmp_path / "ok.fits", RNG.normal(size=SHAPE).astype(np.float32))
    raw = open(path, "rb").read()
    (tmp_path / "trunc.fits").write_bytes(raw[:-3000])
    assert imf.frame._probe_plain(str(tmp_path / "trunc.fits"), None) is None
    with pytest.raises(ValueError, match="truncated"):
        imf.probe(tmp_path / "trunc.fits")
    bad = raw.replace(b"BITPIX  =                  -32", b"BITPIX  =                  -33")
    (tmp_path / "bitpix.fits").write_bytes(bad)
    assert imf.frame._probe_plain(str(tmp_path / "bitpix.fits"), None) is None
    with pytest.raises(ValueError, match="BITPIX"):
        imf.probe(tmp_path / "bitpix.fits")


def test_reads_into_strips_of_a_buffer_convert_in_place(tmp_path):
    # the local engine reads each frame's strip into a slice of a buffer it keeps: the
    # stored words land in that slice and become the values there (uint16, int16, int32,
    # uint8, float32, float64); other kinds go through a temporary array. Same values.
    from imcombiners.io.fits.pixels import converts_in_place

    for name, path in _cases(tmp_path).items():
        frame = imf.probe(path)
        ref = fits.getdata(path)
        buf = np.full((3, 13) + SHAPE[1:], 99, frame.dtype)
        for k, (y0, y1) in enumerate([(0, 13), (13, 20), (30, SHAPE[0])]):
            out = buf[k, : y1 - y0]
            got = frame.read((slice(y0, y1),), out=out)
            assert got is out
            expect = ref[y0:y1]
            if name.startswith("scaled"):
                np.testing.assert_allclose(got, expect, rtol=1e-6, equal_nan=True, err_msg=name)
            else:
                np.testing.assert_array_equal(got, expect.astype(got.dtype), err_msg=name)
        assert converts_in_place(frame.pixels, frame.dtype) == (
            name.replace("comp_", "").replace("f32", "float32").replace("u16", "uint16")
            in ("uint16", "int16", "uint8", "int32", "float32", "float64")), name


@pytest.mark.parametrize("bitpix,bzero", [(16, 0), (16, 32768), (32, 0), (-32, 0), (-64, 0), (8, 0)])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_physical_in_place_equals_to_physical(bitpix, bzero, layout):
    # contiguous words are converted by the kernels (one vectorised pass), others by
    # NumPy; both equal to_physical bit for bit, NaN payloads and -0.0 included
    from imcombiners.io.fits.pixels import physical_in_place, pixel_type, to_physical

    ptype = pixel_type(bitpix, bzero)
    disk = ptype.disk
    rng = np.random.default_rng(abs(bitpix) + bzero)
    raw = rng.integers(0, 256, (41, 67 * disk.itemsize), dtype=np.uint8).view(disk)
    if disk.kind == "f":
        flat = raw.reshape(-1)
        flat[:4] = np.array([np.nan, -0.0, np.inf, -np.inf], disk)
    native = ptype.dtype("library")
    want = to_physical(raw, ptype, np.empty(raw.shape, native))
    if layout == "strided":
        words = np.empty((41, 2 * raw.shape[1]), native)[:, ::2]
    else:
        words = np.empty(raw.shape, native)
    words[...] = raw.view(native)  # the stored bytes, unconverted
    got = physical_in_place(words, ptype)
    assert got is words
    assert got.tobytes() == want.tobytes()


def test_stored_to_native_refuses_what_it_cannot_convert():
    from imcombiners import _core

    with pytest.raises(Exception, match="C-contiguous"):
        _core.stored_to_native(np.zeros((4, 6), np.uint16)[:, ::2], False)
    with pytest.raises(Exception, match="uint16, uint32 or uint64"):
        _core.stored_to_native(np.zeros(4, np.int16), False)
    ro = np.zeros(4, np.uint16)
    ro.flags.writeable = False
    with pytest.raises(Exception):
        _core.stored_to_native(ro, False)


def test_library_version_from_the_kernels_is_the_package_version():
    # provenance reads the version from the loaded kernels (no importlib.metadata import)
    from importlib.metadata import version

    import imcombiners._core  # noqa: F401  (loaded: its version is used)
    from imcombiners.io.provenance import library_version

    assert library_version() == version("imcombiners")


def test_hdu_pixel_counts_are_exact():
    # a header's NAXISn product is an exact integer (not an int64 that can wrap around to
    # a small count and make a truncated file look complete)
    from imcombiners.io.fits.cards import Hdu

    def hdu(dims):
        return Hdu(index=0, header=b"", cards={}, bitpix=16, dims=dims, pcount=0, gcount=1, data_start=2880,
                   file_size=5760)

    assert hdu([2**22, 2**22, 2**20]).npix == 2**64
    assert hdu([1280, 960]).npix == 1228800 and hdu([]).npix == 0
