"""Memory-mapped FITS images for :func:`imcombiners.imcombine` (no converted copy).

A plain FITS image stores its pixels big-endian after the header. Instead of reading
them through astropy (a read plus a byte-swapping conversion of every frame), the data
block is memory-mapped and handed to the IRAF engine as native unsigned words of the
same width, which byte-swaps each value as it gathers a line (``swapped`` kinds of
``_core.iraf_combine``). Only the structural keywords are parsed here; the full header
is parsed by astropy (``Header.fromstring``) the first time a present keyword is read.

Anything that is not a plain image (compressed HDUs, tables, BSCALE != 1, BLANK,
unusual BZERO, truncated files) returns None and the caller falls back to astropy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MappedImage", "map_image"]

_BLOCK = 2880
_CARD = 80

# (BITPIX, BZERO) -> (raw word dtype, logical dtype, swapped kind for _core, or None)
_KINDS = {
    (-32, 0): (np.uint32, np.float32, "f4"),
    (-64, 0): (np.uint64, np.float64, "f8"),
    (16, 0): (np.uint16, np.int16, "i2"),
    (16, 32768): (np.uint16, np.uint16, "u2"),
    (32, 0): (np.uint32, np.int32, "i4"),
    (8, 0): (np.uint8, np.uint8, None),  # bytes need no swapping
}


@dataclass(frozen=True, eq=False)
class MappedImage:
    """The data of one FITS image HDU, memory-mapped.

    Attributes
    ----------
    raw : ndarray, 1-D
        The file's data bytes as native unsigned words (uint8/16/32/64), read-only.
    dtype : numpy.dtype
        The pixel type the values represent (what astropy would return).
    swapped : str or None
        Kind passed to ``_core`` (None: ``raw`` already holds the values, uint8).
    shape : tuple of int
        Spatial shape in C order (NAXISn reversed).
    header : Mapping
        The HDU's header (:class:`LazyHeader`).
    """

    raw: np.ndarray
    dtype: np.dtype
    swapped: str | None
    shape: tuple[int, ...]
    header: Any


class LazyHeader(Mapping):
    """Read-only header mapping over the raw header bytes.

    Looking up an ordinary keyword that does not occur in the header (e.g. NCOMBINE, which
    imcombine always asks for) answers from the raw cards; anything else parses the header
    with astropy once and delegates to that :class:`astropy.io.fits.Header`.
    """

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._names = {raw[k:k + 8].rstrip().upper() for k in range(0, len(raw), _CARD)}
        self._header: Any = None

    def _full(self) -> Any:
        if self._header is None:
            from astropy.io import fits

            self._header = fits.Header.fromstring(self._raw.decode("ascii", "replace"))
        return self._header

    def _absent(self, key: Any) -> bool:
        # only plain keywords can be ruled out from the raw card names
        if not isinstance(key, str) or len(key) > 8 or " " in key or "." in key:
            return False
        return key.upper().encode("ascii", "replace") not in self._names

    def __contains__(self, key: object) -> bool:
        return False if self._absent(key) else key in self._full()

    def __getitem__(self, key: Any) -> Any:
        if self._absent(key):
            raise KeyError(key)
        return self._full()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._full())

    def __len__(self) -> int:
        return len(self._full())


def _cards(raw: bytes) -> dict[str, str]:
    """Keyword -> raw value text of the fixed-format cards (structural keywords only)."""
    out = {}
    for k in range(0, len(raw), _CARD):
        card = raw[k:k + _CARD]
        if card[8:10] != b"= ":
            continue
        key = card[:8].rstrip().decode("ascii", "replace")
        text = card[10:].decode("ascii", "replace").strip()
        if text.startswith("'"):
            end = text.find("'", 1)
            out[key] = text[:end + 1] if end > 0 else text
        else:
            out[key] = text.split("/", 1)[0].strip()
    return out


def _num(cards: dict[str, str], key: str, default: int | float) -> int | float | None:
    """A numeric card value (None when present but not a plain number)."""
    text = cards.get(key)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text.replace("D", "E").replace("d", "e"))
    except ValueError:
        return None


def _read_header(fh) -> bytes | None:
    """Header bytes from the current position up to and including the END block."""
    chunks = []
    while True:
        block = fh.read(_BLOCK)
        if len(block) < _BLOCK:
            return None
        chunks.append(block)
        for k in range(0, _BLOCK, _CARD):
            if block[k:k + 8] == b"END     ":
                return b"".join(chunks)
        if len(chunks) > 10000:  # not a FITS header
            return None


def _int(cards: dict[str, str], key: str, default: int) -> int | None:
    v = _num(cards, key, default)
    return v if isinstance(v, int) else None


def map_image(path: str | os.PathLike) -> MappedImage | None:
    """Memory-map the first HDU holding data of a plain FITS image file.

    Returns None when the file cannot be used this way (the caller then reads it with
    astropy, which also reports malformed files).
    """
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            pos = 0
            primary = True
            while pos < size:
                raw_header = _read_header(fh)
                if raw_header is None:
                    return None
                cards = _cards(raw_header)
                if primary and cards.get("SIMPLE") != "T":
                    return None
                if not primary and cards.get("XTENSION", "").strip("' ") != "IMAGE":
                    return None  # a table (or compressed image) first: astropy decides
                bitpix = _int(cards, "BITPIX", 0)
                naxis = _int(cards, "NAXIS", 0)
                if bitpix is None or naxis is None or naxis < 0:
                    return None
                dims = [_int(cards, f"NAXIS{k}", -1) for k in range(1, naxis + 1)]
                if any(d is None or d < 0 for d in dims):
                    return None
                pcount = _int(cards, "PCOUNT", 0) if not primary else 0
                gcount = _int(cards, "GCOUNT", 1) if not primary else 1
                if pcount is None or gcount is None:
                    return None
                npix = int(np.prod(dims, dtype=np.int64)) if naxis > 0 else 0
                nbytes = abs(bitpix) // 8 * gcount * (pcount + npix)
                data_start = pos + len(raw_header)
                if naxis > 0 and npix > 0:
                    return _map_data(path, raw_header, cards, bitpix, dims, data_start, size, pcount, gcount)
                pos = data_start + (nbytes + _BLOCK - 1) // _BLOCK * _BLOCK
                fh.seek(pos)
                primary = False
    except (OSError, ValueError, KeyError):
        return None
    return None


def _map_data(path: str, raw_header: bytes, cards: dict[str, str], bitpix: int, dims: list[int],
              start: int, size: int, pcount: int, gcount: int) -> MappedImage | None:
    if pcount != 0 or gcount != 1 or "BLANK" in cards:
        return None
    bscale = _num(cards, "BSCALE", 1)
    bzero = _num(cards, "BZERO", 0)
    if bscale is None or bzero is None or bscale != 1:
        return None
    kind = _KINDS.get((bitpix, bzero))
    if kind is None:
        return None
    word, logical, swapped = kind
    npix = int(np.prod(dims, dtype=np.int64))
    if start + npix * np.dtype(word).itemsize > size:
        return None  # truncated
    raw = np.memmap(path, dtype=word, mode="r", offset=start, shape=(npix,))
    return MappedImage(raw, np.dtype(logical), swapped, tuple(reversed(dims)), LazyHeader(raw_header))
