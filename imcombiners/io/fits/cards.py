"""Fixed-format FITS header cards: just enough to find an image's data without astropy.

Parsing a header with astropy costs about a millisecond; a combine of thousands of files
reads thousands of headers before it starts. The structural keywords of a plain image
(SIMPLE/XTENSION, BITPIX, NAXISn, PCOUNT/GCOUNT, BZERO/BSCALE/BLANK) are fixed-format
cards that this module reads directly. Callers fall back to astropy for anything it does
not follow (:func:`walk` stops there), and astropy remains the judge of malformed files.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator

from imcombiners._record import Record

BLOCK = 2880
CARD = 80
# A header longer than this many blocks is not a FITS header (or not one worth reading here).
_MAX_BLOCKS = 10000


def read_header(fh) -> bytes | None:
    """Header bytes from the current position up to and including the END block, or None."""
    chunks = []
    while len(chunks) < _MAX_BLOCKS:
        block = fh.read(BLOCK)
        if len(block) < BLOCK:
            return None
        chunks.append(block)
        for k in range(0, BLOCK, CARD):
            if block[k:k + 8] == b"END     ":
                return b"".join(chunks)
    return None


# The keywords `walk` and its callers read, as a card start ("KEYWORD = ").
_STRUCTURAL = re.compile(
    rb"(SIMPLE  |XTENSION|BITPIX  |NAXIS   |NAXIS\d{1,3} {0,2}|PCOUNT  |GCOUNT  |GROUPS  |"
    rb"BZERO   |BSCALE  |BLANK   |EXTNAME |EXTVER  )= "
)
_ANY = re.compile(rb"([ -~]{8})= ")


def parse_cards(raw: bytes, every: bool = False) -> dict[str, str]:
    """Keyword -> raw value text of the ``KEYWORD = value`` cards.

    Only the structural keywords (SIMPLE, XTENSION, BITPIX, NAXIS, NAXISn, PCOUNT, GCOUNT,
    GROUPS, BZERO, BSCALE, BLANK, EXTNAME, EXTVER) unless ``every``. The first card of a repeated keyword
    wins, as in astropy. String values keep their quotes; comments after ``/`` are
    dropped from other values.
    """
    out: dict[str, str] = {}
    for m in (_ANY if every else _STRUCTURAL).finditer(raw):
        k = m.start()
        if k % CARD:
            continue  # the pattern inside another card's text
        key = raw[k:k + 8].rstrip().decode("ascii", "replace")
        if key in out:
            continue
        text = raw[k + 10:k + CARD].decode("ascii", "replace").strip()
        if text.startswith("'"):
            end = text.find("'", 1)
            out[key] = text[:end + 1] if end > 0 else text
        else:
            out[key] = text.split("/", 1)[0].strip()
    return out


def number(cards: dict[str, str], key: str, default: float | None) -> float | None:
    """A numeric card value: int for an integer literal, float otherwise (as astropy).

    ``default`` when the card is absent; None when it is present but not a plain number.
    """
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


def integer(cards: dict[str, str], key: str, default: int) -> int | None:
    """An integer card value (None when present but not an integer)."""
    v = number(cards, key, default)
    return v if isinstance(v, int) else None


class Hdu(Record):
    """One HDU found by :func:`walk`.

    Attributes
    ----------
    index : int
        HDU number (0 = primary).
    header : bytes
        Raw header bytes (whole 2880-byte blocks).
    cards : dict
        :func:`parse_cards` of ``header``.
    bitpix : int
    dims : list of int
        NAXIS1..NAXISn (FITS order).
    pcount, gcount : int
    data_start : int
        File offset of the data.
    file_size : int
        Size of the whole file in bytes.
    """

    index: int
    header: bytes
    cards: dict[str, str]
    bitpix: int
    dims: list[int]
    pcount: int
    gcount: int
    data_start: int
    file_size: int

    @property
    def npix(self) -> int:
        return math.prod(self.dims) if self.dims else 0  # exact: a huge NAXISn cannot wrap around

    @property
    def extname(self) -> str | None:
        """EXTNAME (upper case, trailing blanks removed) or None."""
        text = self.cards.get("EXTNAME")
        if text is None or not text.startswith("'"):
            return None
        return text.strip("'").rstrip().upper()

    @property
    def extver(self) -> int:
        """EXTVER (1 when absent, as the FITS standard says)."""
        v = integer(self.cards, "EXTVER", 1)
        return 1 if v is None else v

    @property
    def is_image(self) -> bool:
        """A primary array or an IMAGE extension (not random groups, not a table)."""
        if self.index == 0:
            return self.cards.get("GROUPS") != "T"
        return self.cards.get("XTENSION", "").strip("' ") == "IMAGE"


def walk(path: str | os.PathLike[str]) -> Iterator[Hdu]:
    """The HDUs of a FITS file in order, headers only.

    Stops silently at anything it does not follow (a malformed or truncated header, a
    non-integer structural keyword); the caller then asks astropy.
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        pos = 0
        index = 0
        while pos < size:
            raw = read_header(fh)
            if raw is None:
                return
            cards = parse_cards(raw)
            if index == 0 and cards.get("SIMPLE") != "T":
                return
            if index > 0 and "XTENSION" not in cards:
                return
            bitpix = integer(cards, "BITPIX", 0)
            naxis = integer(cards, "NAXIS", 0)
            if bitpix is None or naxis is None or naxis < 0 or naxis > 999:
                return
            dims = [integer(cards, f"NAXIS{k}", -1) for k in range(1, naxis + 1)]
            if any(d is None or d < 0 for d in dims):
                return
            pcount = integer(cards, "PCOUNT", 0) if index > 0 else 0
            gcount = integer(cards, "GCOUNT", 1) if index > 0 else 1
            if pcount is None or gcount is None:
                return
            hdu = Hdu(index, raw, cards, bitpix, dims, pcount, gcount, pos + len(raw), size)  # type: ignore[arg-type]
            yield hdu
            nbytes = abs(bitpix) // 8 * gcount * (pcount + hdu.npix)
            pos = hdu.data_start + (nbytes + BLOCK - 1) // BLOCK * BLOCK
            fh.seek(pos)
            index += 1
