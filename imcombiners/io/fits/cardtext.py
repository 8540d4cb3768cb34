"""Output headers written without astropy, character for character as astropy writes them.

Why: importing ``astropy.io.fits`` costs about half a second (it loads ``astropy.units``),
longer than combining a night's bias frames. The header of a combined image is the first
input's cards, cleaned, then the provenance cards (:func:`.header.output_header`). When
every input card is a plain, valid card (astropy copies its 80 characters unchanged) and
every new card has a plain value, this module produces the same characters itself; it
also makes astropy's one repair that cameras commonly need (a number written with a
decimal comma becomes a string, with the same warning).

Anything else gives None and the caller takes astropy's path: CONTINUE, HIERARCH or
record-valued input cards, non-ASCII bytes, other values or keywords astropy would
repair, an image in an extension (merged headers), compressed files, a comment astropy
would truncate. ``tests/test_fits_cardtext.py`` compares both paths.

The rules followed are the FITS standard's fixed-format cards (4.1-4.2): keyword in
columns 1-8, ``= `` in 9-10, strings quoted with doubled inner quotes and padded to at
least 8 characters, logical and numeric values right-justified to column 30, comments
after `` / ``; long strings continue on ``CONTINUE`` cards ending with ``&``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from imcombiners._record import Record

from .header_rules import is_stale, warn_card

__all__ = ["PlainHeader", "format_card", "plain_cards", "output_cards", "header_text", "as_astropy"]

CARD = 80
BLOCK = 2880
#: Characters of a long string per card, of a long comment per CONTINUE card (astropy's).
_LONG_VALUE, _LONG_COMMENT = 67, 64
_COMMENTARY = frozenset({"COMMENT", "HISTORY", ""})
_KEYWORD = re.compile(r"[A-Z0-9_-]{1,8}\Z")
_PRINTABLE = re.compile(r"[ -~]*\Z")
# a value field astropy leaves as it is: a quoted string (inner quotes doubled), T or F, or
# a decimal number with an optional upper-case E exponent; then spaces and maybe a comment
_STRING = r"'(?P<s>(?:[^']|'')*)'"
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:E[+-]?\d+)?"
_VALUE = re.compile(rf" *(?:{_STRING}|(?P<b>[TF])|(?P<n>{_NUMBER})) *(?:/.*)?\Z")
# a string astropy would read as a record-valued keyword card ('AXIS.1: 2')
_RECORD = re.compile(r" *[a-zA-Z_]\w*(?:\.[a-zA-Z_0-9]\w*)* *:")
# a number written with a decimal comma (astropy stores it as a string)
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d*(?:[EeDd][+-]?\d+)?\Z")


class PlainHeader(Record):
    """A header as card images: ``(keyword, image)`` pairs, an image being 80 characters
    (or a multiple: a long string with its CONTINUE cards). No structural cards."""

    cards: tuple[tuple[str, str], ...]

    def keywords(self) -> list[str]:
        return [k for k, _ in self.cards]


# --------------------------------------------------------------------------
# formatting new cards
# --------------------------------------------------------------------------


def _value_text(value: Any) -> str | None:
    """The value field (at least 20 characters wide) of a plain value, or None."""
    kind = type(value)
    if kind is bool:
        return f"{'T' if value else 'F':>20}"
    if kind is int:
        return f"{value:>20d}"
    if kind is float:
        if value != value or value in (float("inf"), float("-inf")):
            return None
        text = str(value).replace("e", "E")
        if len(text) > 20:  # a 20-character field: shorten the mantissa, keep the exponent
            at = text.find("E")
            text = text[:20] if at < 0 else text[: 20 - (len(text) - at)] + text[at:]
        return f"{text:>20}"
    if kind is str:
        if not _PRINTABLE.match(value):
            return None
        if value == "":
            return "''"
        quoted = "'{:8}'".format(value.replace("'", "''"))
        return f"{quoted:20}"
    return None


def _split_words(text: str, width: int, first: int | None = None) -> list[str]:
    """Pieces of at most ``width`` characters, cut after a blank where one is near enough
    (a longer word is cut in the middle); the first piece may be ``first`` wide."""
    pieces: list[str] = []
    blanks = [i for i, c in enumerate(text + " ") if c == " "]
    room = width if first is None else first
    start = 0
    while True:
        after = [b for b in blanks if b < room + start]
        end = after[-1] + 1 if after and after[-1] + 1 > start else -1
        if end <= start:
            end = min(start + room, len(text))
        pieces.append(text[start:end])
        if end >= len(text):
            return pieces
        start = end
        room = width


def _long_string(keyword: str, value: str, comment: str) -> str:
    """A string too long for one card: CONTINUE cards, then the comment's own."""
    pieces = _split_words(value.replace("'", "''"), _LONG_VALUE)
    out = []
    for k, piece in enumerate(pieces):
        head = f"{keyword:8}= " if k == 0 else "CONTINUE  "
        tail = "'" if (not comment and k == len(pieces) - 1) else "&'"
        out.append(f"{head}'{piece}{tail}".ljust(CARD))
    if comment:
        words = _split_words(comment, _LONG_COMMENT)
        for k, piece in enumerate(words):
            head = "CONTINUE  '' / " if k == len(words) - 1 else "CONTINUE  '&' / "
            out.append(f"{head}{piece}".ljust(CARD))
    return "".join(out)


def _image(keyword: str, value: Any, comment: str) -> str | None:
    """The card image of ``keyword = value / comment`` (None where astropy would truncate)."""
    text = _value_text(value)
    if text is None or not _PRINTABLE.match(comment):
        return None
    line = f"{keyword:8}= {text}" + (f" / {comment}" if comment else "")
    if len(line) <= CARD:
        return line.ljust(CARD)
    if type(value) is str and len(text) > CARD - 10:
        return _long_string(keyword, value, comment)
    return None  # astropy truncates the comment with a warning: its path says so


def format_card(keyword: str, value: Any, comment: str = "") -> str | None:
    """:func:`.header.fitted_card` without astropy: the comment shortened to fit one card.

    Returns the image, or None when the keyword or value is not plain.
    """
    if not _KEYWORD.match(keyword) or keyword in _COMMENTARY or keyword in ("CONTINUE", "END"):
        return None
    bare = _image(keyword, value, "")
    if bare is None:
        return None
    if comment and len(bare) <= CARD:
        room = CARD - len(bare.rstrip()) - 3
        if room > 0:
            return _image(keyword, value, comment[:room].rstrip())
        return bare
    if comment and type(value) is str:
        return _image(keyword, value, comment[:60])
    return bare


# --------------------------------------------------------------------------
# copying input cards
# --------------------------------------------------------------------------


def _repaired_decimal_comma(keyword: str, card: str) -> tuple[str, str, str] | None:
    """A ``KEY = 3,2E-05 / comment`` card as astropy repairs it: (image, raw value, string)."""
    field = card[10:]
    if "/" not in field:
        return None
    raw, comment = field.split("/", 1)
    raw, comment = raw.strip(), comment.strip()
    if not raw or not _DECIMAL_COMMA.match(raw) or not any(c.isdigit() for c in raw):
        return None
    image = _image(keyword, raw, comment)
    return None if image is None else (image, raw, raw)


def plain_cards(raw: bytes, source: str = "header") -> list[tuple[str, str]] | None:
    """``(keyword, image)`` of every card of a header up to END, or None if one is not plain.

    A decimal-comma number is repaired as astropy repairs it (with the same
    :class:`.header.FitsHeaderWarning`); the warnings are given only when the whole
    header is plain (otherwise the astropy path gives them).
    """
    if not raw.isascii():
        return None
    text = raw.decode("ascii")
    out: list[tuple[str, str]] = []
    repairs: list[tuple[str, str, str]] = []
    for k in range(0, len(text) - CARD + 1, CARD):
        card = text[k:k + CARD]
        if not _PRINTABLE.match(card):
            return None
        key = card[:8].rstrip()
        if key == "END" and not card[8:].strip():
            break
        if card[:8] != key.ljust(8) or (key and not _KEYWORD.match(key)):
            return None
        if key in _COMMENTARY:
            out.append((key, card))
            continue
        if key in ("CONTINUE", "HIERARCH", "END") or card[8:10] != "= ":
            return None
        m = _VALUE.match(card[10:])
        if m is None:
            fixed = _repaired_decimal_comma(key, card)
            if fixed is None:
                return None
            out.append((key, fixed[0]))
            repairs.append((key, fixed[1], fixed[2]))
            continue
        if m.group("s") is not None and _RECORD.match(m.group("s").replace("''", "'")):
            return None
        out.append((key, card))
    else:
        return None  # no END card
    if repairs:
        for key, raw_value, value in repairs:
            warn_card(source, key, f"value {raw_value} is not a valid FITS value",
                  f"written as the string {value!r}")
    return out


def _first_header(path: str) -> bytes | None:
    from . import cards as _cards

    try:
        for h in _cards.walk(path):
            return h.header
    except (OSError, ValueError):
        return None
    return None


def output_cards(first: Any, provenance: Iterable[tuple[str, Any, str]] = (), *, source: str | None = None,
                 extra: Sequence[tuple[str, Any, str]] = ()) -> PlainHeader | None:
    """:func:`.header.output_header` for a plain primary image, without astropy (or None).

    Parameters
    ----------
    first : FitsFrame
        The first input (a primary image of an uncompressed file).
    provenance, source, extra
        As :func:`.header.output_header`.
    """
    from .frame import FitsFrame

    if not isinstance(first, FitsFrame) or first.hdu != 0 or first.compressed or first.container:
        return None
    provenance = list(provenance)
    new = provenance + list(extra)
    images = []
    for key, value, comment in new:
        image = format_card(key, value, comment)
        if image is None:
            return None
        images.append((key, image))
    raw = _first_header(first.path)
    if raw is None:
        return None
    cards = plain_cards(raw, source or first.path)
    if cards is None:
        return None
    dated = any(k == "DATE" for k, _v, _c in provenance)
    kept = [(k, img) for k, img in cards
            if not (k and is_stale(k)) and not (k == "DATE" and dated)]
    for key, image in images:
        if key not in _COMMENTARY and any(k == key for k, _ in kept):
            kept = [(k, img) for k, img in kept if k != key]
        kept.append((key, image))
    return PlainHeader(tuple(kept))


# --------------------------------------------------------------------------
# whole headers
# --------------------------------------------------------------------------


def header_text(structural: Sequence[tuple[str, Any, str]], body: PlainHeader | None,
                cards: Sequence[tuple[str, Any, str]]) -> str | None:
    """The header of one HDU as astropy writes it (END and padding included), or None.

    ``structural`` cards first (``(keyword, value, comment)``), then ``body`` without
    structural, scaling or NAXISn cards, then ``cards`` (an existing keyword of the same
    name is removed first, except COMMENT/HISTORY).
    """
    fixed = {k for k, _v, _c in structural} | {"SIMPLE", "XTENSION", "EXTEND", "BZERO", "BSCALE", "BLANK",
                                               "END"}
    out: list[tuple[str, str]] = []
    for key, value, comment in structural:
        image = _image(key, value, comment)
        if image is None:
            return None
        out.append((key, image))
    if body is not None:
        out += [(k, img) for k, img in body.cards if k not in fixed and not k.startswith("NAXIS")]
    for key, value, comment in cards:
        if key in fixed:
            continue
        image = format_card(key, value, comment)
        if image is None:
            return None
        if key not in _COMMENTARY:
            out = [(k, img) for k, img in out if k != key]
        out.append((key, image))
    text = "".join(img for _k, img in out) + "END".ljust(CARD)
    return text + " " * (-len(text) % BLOCK)


def as_astropy(header: PlainHeader) -> Any:
    """The same cards as an ``astropy.io.fits.Header`` (for astropy's path)."""
    from astropy.io import fits

    return fits.Header.fromstring("".join(img for _k, img in header.cards))
