"""Small synthetic FITS files reproducing what real instruments write.

Each writer takes a directory, a stack of *physical* values and returns the file names;
the tests read them through every path and compare with the physical values. The
quirks are those of ../shared/realdata (NOT/ALFOSC: image in extension 1 behind an empty
primary holding most cards, unsigned 32-bit with BZERO=2^31; ZWO: unsigned 16-bit with a
decimal-comma EXPTIME card) and of other instruments (tile compression, gzip, BLANK,
BSCALE, cards astropy refuses to write).
"""

from __future__ import annotations

import gzip
import os
import shutil

import numpy as np
from astropy.io import fits

COMPRESSIONS = ("RICE_1", "GZIP_1", "GZIP_2", "HCOMPRESS_1", "PLIO_1")


def bias_stack(n: int = 5, shape: tuple[int, int] = (23, 31), *, level: float = 11600.0, seed: int = 7,
               dtype=np.uint32) -> np.ndarray:
    """Integer bias frames: a level, read noise, a few hot pixels and (uint32) wrapped values."""
    rng = np.random.default_rng(seed)
    st = np.round(rng.normal(level, 9.0, (n, *shape)))
    st[:, 3, 4] += 3000  # a hot pixel
    hits = rng.random(st.shape) < 0.01
    st[hits] += rng.uniform(200, 2000, hits.sum()).round()  # cosmic rays
    if np.dtype(dtype) == np.uint32:
        st[:, 0, 0] = 2**32 - 1 - rng.integers(10_000, 20_000, n)  # wrapped negatives (ALFOSC)
    return st.astype(dtype)


def _primary_cards() -> fits.Header:
    h = fits.Header()
    h["TELESCOP"] = ("NOT", "telescope")
    h["INSTRUME"] = ("SYNTH_MEF", "instrument")
    h["DATE-OBS"] = ("2020-03-21T18:18:59.870", "start of exposure")
    h["EXPTIME"] = (0.002, "exposure time")
    h["IMAGETYP"] = ("BIAS", "image type")
    h["DETWIN1"] = "[851:1250, 1:2102]"
    h["DATAMIN"] = (4294950283, "minimum data value")  # stale on the output
    return h


def mef_empty_primary(directory, stack: np.ndarray, *, extname: str = "im1", prefix: str = "mef") -> list[str]:
    """ALFOSC-like: empty primary with most cards (and BZERO/BSCALE), image in an extension."""
    out = []
    for i, frame in enumerate(stack):
        prim = fits.PrimaryHDU(header=_primary_cards())
        prim.header["BZERO"] = 2147483648  # ALFOSC writes them in the empty primary too
        prim.header["BSCALE"] = 1
        ext = fits.ImageHDU(frame, name=extname)
        ext.header["INHERIT"] = True
        ext.header["GAIN"] = (0.16, "e-/ADU")
        ext.header["RDNOISE"] = (4.3, "e-")
        ext.header["CTYPE1"], ext.header["CRVAL1"], ext.header["CRPIX1"] = "X", 899.0, 1.0
        ext.header["BIASSEC"] = "[3:52,1:2102]"
        path = os.path.join(directory, f"{prefix}{i:02d}.fits")
        fits.HDUList([prim, ext]).writeto(path, overwrite=True)
        out.append(path)
    return out


def single_hdu(directory, stack: np.ndarray, *, prefix: str = "img", cards: dict | None = None) -> list[str]:
    """One primary image per file (astropy writes uint16/uint32 with the BZERO convention)."""
    out = []
    for i, frame in enumerate(stack):
        hdu = fits.PrimaryHDU(frame)
        for k, v in (cards or {}).items():
            hdu.header[k] = v
        path = os.path.join(directory, f"{prefix}{i:02d}.fits")
        hdu.writeto(path, overwrite=True)
        out.append(path)
    return out


def tile_compressed(directory, stack: np.ndarray, compression: str, *, tile=(5, 16),
                    prefix: str = "cmp") -> list[str]:
    """``.fz`` files: an empty primary and a CompImageHDU (lossless for integers)."""
    out = []
    for i, frame in enumerate(stack):
        kw = {"compression_type": compression, "tile_shape": tile}
        if compression == "HCOMPRESS_1":
            kw["hcomp_scale"] = 0  # lossless
            kw["tile_shape"] = tuple(_hcompress_tile(n, t) for n, t in zip(frame.shape, tile))
        hdu = fits.CompImageHDU(frame, **kw)
        hdu.header["EXPTIME"] = (30.0, "s")
        path = os.path.join(directory, f"{prefix}{i:02d}.fits.fz")
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)
        out.append(path)
    return out


def _hcompress_tile(n: int, t: int) -> int:
    """A tile size whose every tile (the last included) has at least 4 pixels (HCOMPRESS)."""
    t = max(4, t)
    while n % t and n % t < 4:
        t += 1
    return min(t, n)


def gzipped(paths: list[str]) -> list[str]:
    """``name.gz`` copies of FITS files (whole-file gzip)."""
    out = []
    for p in paths:
        gz = p + ".gz"
        with open(p, "rb") as src, gzip.open(gz, "wb") as dst:
            shutil.copyfileobj(src, dst)
        out.append(gz)
    return out


def blank_int16(directory, stack: np.ndarray, blank: int = -32768, *, bscale: float = 1.0,
                bzero: float = 0.0, prefix: str = "blank") -> list[str]:
    """int16 raw numbers with BLANK (and optional BSCALE/BZERO); ``stack`` holds the raw numbers."""
    out = []
    for i, raw in enumerate(stack):
        hdu = fits.PrimaryHDU(raw.astype(np.int16))
        hdu.header["BLANK"] = blank
        if bscale != 1.0 or bzero != 0.0:
            hdu.header["BSCALE"], hdu.header["BZERO"] = bscale, bzero
        path = os.path.join(directory, f"{prefix}{i:02d}.fits")
        hdu.writeto(path, overwrite=True)
        out.append(path)
    return out


# cards astropy can parse but not write as they are (each a real camera's habit)
BAD_CARDS = [
    b"EXPTIME =              3,2E-05 / Total Exposure Time (s)",  # decimal comma (ZWO)
    b"EXPOSURE=              3,2E-05 / Exposure time in seconds",
    b"NANVAL  = NaN / not a FITS number",
    b"UNQUOTED= hello world / a string without quotes",
    b"lowkey  =                    1 / lower-case keyword",
    b"BAD KEY =                    1 / a space inside the keyword",
    b"NONASCII= 'caf\xc3\xa9'             / non-ASCII bytes",
    b"GOODKEY =                  42. / a normal card that must survive",
]


def _card_block(cards: list[bytes]) -> bytes:
    raw = b"".join(c[:80].ljust(80) for c in cards) + b"END".ljust(80)
    return raw + b" " * (-len(raw) % 2880)


def bad_cards(directory, stack: np.ndarray, *, prefix: str = "bad") -> list[str]:
    """uint16 images (BZERO=32768) whose headers hold :data:`BAD_CARDS`, written byte by byte."""
    out = []
    for i, frame in enumerate(stack):
        ny, nx = frame.shape
        cards = [b"SIMPLE  =                    T", b"BITPIX  =                   16",
                 b"NAXIS   =                    2", b"NAXIS1  = %20d" % nx, b"NAXIS2  = %20d" % ny,
                 b"BZERO   =                32768", b"BSCALE  =                    1", *BAD_CARDS]
        data = (frame.astype(np.int32) - 32768).astype(">i2").tobytes()
        data += b"\0" * (-len(data) % 2880)
        path = os.path.join(directory, f"{prefix}{i:02d}.fit")
        with open(path, "wb") as fh:
            fh.write(_card_block(cards) + data)
        out.append(path)
    return out
