"""Memory-mapped FITS images for :func:`imcombiners.imcombine` (no converted copy).

A plain FITS image stores its pixels big-endian after the header. Instead of reading
them (a read plus a byte-swapping conversion of every frame), the data block is
memory-mapped and handed to the IRAF engine as native unsigned words of the same width,
which byte-swaps each value as it gathers a line (``swapped`` kinds of
``_core.iraf_combine``). The full header is parsed by astropy the first time a keyword
that occurs in it is read.

Only images whose stored numbers are the values IRAF uses qualify (:mod:`.pixels`: plain
8/16/32-bit integers and floats, and unsigned 16-bit); anything else (compression, other
scaling, BLANK, truncated files) returns None and the caller reads the file instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import cards as _cards

__all__ = ["MappedImage", "LazyHeader", "map_image"]

_CARD = _cards.CARD

#: physical kind -> swapped kind passed to ``_core`` (None: bytes need no swapping)
_SWAPPED = {"float32": "f4", "float64": "f8", "int16": "i2", "uint16": "u2", "int32": "i4", "uint8": None}


@dataclass(frozen=True, eq=False)
class MappedImage:
    """The data of one FITS image HDU, memory-mapped.

    Attributes
    ----------
    raw : ndarray, 1-D
        The file's data bytes as native unsigned words (uint8/16/32/64), read-only.
    dtype : numpy.dtype
        The pixel type the values represent.
    swapped : str or None
        Kind passed to ``_core`` (None: ``raw`` already holds the values, uint8).
    shape : tuple of int
        Spatial shape in C order (NAXISn reversed).
    header : Mapping
        The image's header (:class:`LazyHeader`; primary cards merged as IRAF does).
    """

    raw: np.ndarray
    dtype: np.dtype
    swapped: str | None
    shape: tuple[int, ...]
    header: Any


class LazyHeader(Mapping):
    """Read-only header mapping, parsed on first use of a keyword present in it.

    Looking up an ordinary keyword that does not occur in the raw cards (e.g. NCOMBINE,
    which imcombine always asks for) answers without parsing; anything else parses the
    header once (``load``) and delegates to that :class:`astropy.io.fits.Header`.
    """

    def __init__(self, raw: bytes, load: Callable[[], Any] | None = None) -> None:
        self._raw = raw
        self._names = {raw[k:k + 8].rstrip().upper() for k in range(0, len(raw), _CARD)}
        self._load = load
        self._header: Any = None

    def _full(self) -> Any:
        if self._header is None:
            if self._load is not None:
                self._header = self._load()
            else:
                from astropy.io import fits

                from .header import _ascii_text

                self._header = fits.Header.fromstring(_ascii_text(self._raw))
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


def map_image(path: str | os.PathLike, hdu: Any = None) -> MappedImage | None:
    """Memory-map the image of a plain FITS file (the HDU :func:`.frame.probe` finds).

    Returns None when the file cannot be used this way (the caller then reads it, which
    also reports malformed files).
    """
    from .frame import _probe_plain
    from .names import parse_hdu, split_name

    try:
        name, selector = split_name(os.fspath(path))
        if selector is None:
            selector = parse_hdu(hdu)
        frame = _probe_plain(name, selector)
        if frame is None:
            return None
        ptype = frame.pixels
        if ptype.blank is not None or (not ptype.is_plain and ptype.kind != "uint16"):
            return None
        kind = ptype.kind
        if kind not in _SWAPPED:
            return None
        raw_names = b""
        for h in _cards.walk(name):
            if h.index == 0 or h.index == frame.hdu:
                raw_names += h.header
            if h.index >= frame.hdu:
                break
    except (OSError, ValueError, TypeError, KeyError):
        return None
    word = np.dtype(f"u{frame.pixels.disk.itemsize}")
    npix = int(np.prod(frame.shape, dtype=np.int64))
    raw = np.memmap(name, dtype=word, mode="r", offset=frame.data_offset, shape=(npix,))

    def load() -> Any:
        from .header import read_header

        return read_header(frame)

    return MappedImage(raw, ptype.dtype("iraf"), _SWAPPED[kind], frame.shape, LazyHeader(raw_names, load))
