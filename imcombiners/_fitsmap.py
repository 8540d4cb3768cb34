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

from .io import _cards

__all__ = ["MappedImage", "map_image"]

_CARD = _cards.CARD

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


def map_image(path: str | os.PathLike) -> MappedImage | None:
    """Memory-map the first HDU holding data of a plain FITS image file.

    Returns None when the file cannot be used this way (the caller then reads it with
    astropy, which also reports malformed files).
    """
    try:
        for hdu in _cards.walk(path):
            if hdu.index == 0 and hdu.cards.get("GROUPS") == "T":
                return None
            if hdu.index > 0 and not hdu.is_image:
                return None  # a table (or compressed image) first: astropy decides
            if hdu.npix > 0:
                return _map_data(os.fspath(path), hdu)
    except (OSError, ValueError, KeyError):
        return None
    return None


def _map_data(path: str, hdu: _cards.Hdu) -> MappedImage | None:
    cards = hdu.cards
    if hdu.pcount != 0 or hdu.gcount != 1 or "BLANK" in cards:
        return None
    bscale = _cards.number(cards, "BSCALE", 1)
    bzero = _cards.number(cards, "BZERO", 0)
    if bscale is None or bzero is None or bscale != 1:
        return None
    bitpix, dims, start = hdu.bitpix, hdu.dims, hdu.data_start
    kind = _KINDS.get((bitpix, bzero))
    if kind is None:
        return None
    word, logical, swapped = kind
    npix = int(np.prod(dims, dtype=np.int64))
    if start + npix * np.dtype(word).itemsize > hdu.file_size:
        return None  # truncated
    raw = np.memmap(path, dtype=word, mode="r", offset=start, shape=(npix,))
    return MappedImage(raw, np.dtype(logical), swapped, tuple(reversed(dims)), LazyHeader(hdu.header))
