"""Headers: reading an image's cards, numbers from odd cards, and the output header.

* :func:`read_header` returns the header of an image as IRAF sees it: when the image is
  in an extension and the primary HDU holds no data, the primary cards followed by the
  extension's (an extension card replaces a primary card of the same keyword), unless the
  extension says ``INHERIT = F``. Non-ASCII characters become ``?``.
* :func:`header_number` reads a number from a card value, accepting what cameras write
  (``'3,2E-05'`` with a decimal comma, numbers written as strings).
* :func:`output_header` builds the header of a combined image the way IRAF does: the
  first input's header without the cards that no longer describe the output (structure,
  BZERO/BSCALE/BLANK, DATAMIN/DATAMAX, checksums, extension and compression cards, an
  earlier combine's NCOMBINE/IMCMBnnn/IMC* cards), WCS kept, then the provenance cards.
  Every card goes through :func:`clean_cards`: a non-standard card is repaired where
  astropy can (a decimal-comma number becomes a string, a lower-case keyword upper case)
  and dropped otherwise, with one :class:`FitsHeaderWarning` per card naming the card and
  the file, so a bad input card never makes writing the output fail.
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

from . import cards as _cards
from .header_rules import STALE_KEYWORDS, FitsHeaderWarning, is_stale as _is_stale, warn_card as _warn

__all__ = ["FitsHeaderWarning", "read_header", "header_number", "clean_cards", "output_header",
           "fitted_card", "STALE_KEYWORDS"]


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------


def _ascii_text(raw: bytes) -> str:
    """Header bytes as text, non-ASCII bytes replaced by ``?`` (FITS headers are ASCII)."""
    return raw.translate(_NON_ASCII).decode("ascii")


def _non_ascii_keywords(raw: bytes | None) -> tuple[str, ...]:
    """Keywords of the cards holding non-ASCII bytes."""
    if raw is None or raw.isascii():
        return ()
    out = []
    for k in range(0, len(raw), _cards.CARD):
        card = raw[k:k + _cards.CARD]
        if not card.isascii():
            out.append(_ascii_text(card[:8]).strip() or "(blank)")
    return tuple(out)


_NON_ASCII = bytes(range(128)) + b"?" * 128


def _raw_headers(path: str, index: int) -> tuple[bytes | None, bytes | None]:
    """Raw bytes of the primary header and of HDU ``index`` (None where not followed)."""
    primary = wanted = None
    try:
        for h in _cards.walk(path):
            if h.index == 0:
                primary = h.header
            if h.index == index:
                wanted = h.header
                break
    except (OSError, ValueError):
        pass
    return primary, wanted


def _astropy_headers(path: str, index: int) -> tuple[Any, Any]:
    """(primary header, image header) through astropy (compressed images)."""
    from astropy.io import fits

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-ASCII and card warnings: reported on writing
        with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
            return hdul[0].header.copy(), hdul[index].header.copy()


def _merge(primary: Any, ext: Any) -> Any:
    """Primary cards then extension cards (an extension value replaces the primary's)."""
    from astropy.io import fits

    merged = fits.Header()
    for card in primary.cards:
        if card.keyword in ("", "END") or _is_structural(card.keyword):
            continue
        merged.append(card, end=True)
    for card in ext.cards:
        key = card.keyword
        if key in ("COMMENT", "HISTORY", ""):
            merged.append(card, end=True)
        elif key in merged:
            at = merged.index(key)  # keep the primary's position, take the extension's card
            del merged[at]
            merged.insert(at, card)
        else:
            merged.append(card, end=True)
    return merged


def _is_structural(keyword: str) -> bool:
    return keyword in ("SIMPLE", "BITPIX", "NAXIS", "EXTEND", "XTENSION", "PCOUNT", "GCOUNT",
                       "GROUPS") or bool(re.match(r"^NAXIS\d+$", keyword))


@functools.lru_cache(maxsize=64)
def _cached_header(path: str, index: int, compressed: bool, size: int, mtime: int) -> tuple[Any, tuple[str, ...]]:
    """(merged header, keywords of cards that held non-ASCII characters)."""
    from astropy.io import fits

    odd: tuple[str, ...] = ()
    if compressed:
        primary, ext = _astropy_headers(path, index)
    else:
        raw_primary, raw_ext = _raw_headers(path, index)
        if raw_ext is None:
            primary, ext = _astropy_headers(path, index)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ext = fits.Header.fromstring(_ascii_text(raw_ext))
                primary = fits.Header.fromstring(_ascii_text(raw_primary)) if index else ext
            odd = _non_ascii_keywords(raw_ext)
            if index and raw_primary is not None:
                odd = _non_ascii_keywords(raw_primary) + odd
    if index == 0:
        return ext, odd
    primary_has_data = int(primary.get("NAXIS", 0) or 0) > 0
    if primary_has_data or ext.get("INHERIT", True) is False:
        return ext, odd
    return _merge(primary, ext), odd


def _header_and_notes(frame: Any, hdu: Any = None) -> tuple[Any, tuple[str, ...]]:
    from .frame import FitsFrame, probe
    from .handles import local_copy

    if not isinstance(frame, FitsFrame):
        frame = probe(frame, hdu)
    local = local_copy(frame.path, frame.container)
    st = os.stat(local)
    header, odd = _cached_header(local, frame.hdu, frame.compressed, st.st_size, st.st_mtime_ns)
    return header.copy(), odd


def read_header(frame: Any, hdu: Any = None) -> Any:
    """The header of an image (primary + extension cards merged as IRAF does).

    Parameters
    ----------
    frame : FitsFrame, str or path-like
        A probed image, or a file name (IRAF selectors allowed) probed here.
    hdu : optional
        HDU selector when ``frame`` is a name.

    Returns
    -------
    astropy.io.fits.Header
        A private copy (free to modify) in which every card can be read: non-standard
        values that astropy can repair are repaired silently (a decimal-comma number
        becomes the string ``'3,2E-05'``, which :func:`header_number` still reads).
        :func:`output_header` reports such cards when it copies them.
    """
    header = _header_and_notes(frame, hdu)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for card in header.cards:
            card.verify("silentfix+ignore")
    return header


# --------------------------------------------------------------------------
# numbers from card values
# --------------------------------------------------------------------------

_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d*([eEdD][+-]?\d+)?$")


def header_number(value: Any) -> float | None:
    """A card value as a number, or None.

    Numbers are returned as floats; strings holding a number are read too, including a
    decimal comma (``'3,2E-05'``, as some camera software writes EXPTIME) and a Fortran
    exponent (``1.5D3``). Booleans, empty strings and other text give None.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        import numpy as np

        if isinstance(value, np.number):
            return float(value)
    except ImportError:  # pragma: no cover
        pass
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if _DECIMAL_COMMA.match(text) and any(c.isdigit() for c in text):
        text = text.replace(",", ".")
    try:
        return float(text.replace("D", "E").replace("d", "e"))
    except ValueError:
        return None


# --------------------------------------------------------------------------
# cleaning cards and building outputs
# --------------------------------------------------------------------------


def _describe_fix(raw: str | None, before_key: str, after: Any) -> tuple[str, str]:
    """(problem, action) of a card astropy repaired; ``raw`` is the card as read."""
    if before_key and before_key != after.keyword:
        return f"keyword {before_key!r} is not upper case", f"written as {after.keyword}"
    if raw is not None and isinstance(after.value, str):
        raw_value = raw[10:].split("/", 1)[0].strip() if raw[8:10] == "= " else raw[8:].strip()
        return (f"value {raw_value} is not a valid FITS value",
                f"written as the string {after.value!r}")
    return "not FITS-standard", f"written as {after.image.rstrip()!r}"


def clean_cards(header: Any, source: str) -> Any:
    """A copy of ``header`` whose every card can be written.

    Cards astropy can repair are repaired, others are dropped; each case gives one
    :class:`FitsHeaderWarning` naming the card and ``source`` (the input file).
    """
    from astropy.io import fits
    from astropy.io.fits.verify import VerifyError

    out = fits.Header()
    for card in header.cards:
        key = card.keyword
        # the card as read (astropy keeps it until the card is verified or changed)
        raw = getattr(card, "_image", None)
        raw = raw if isinstance(raw, str) and len(raw) == 80 else None
        raw_key = raw[:8].strip() if raw is not None else ""
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                card.verify("fix+exception")
                image = card.image
            image.encode("ascii")
            if len(image) % 80:
                raise VerifyError(f"card image of {len(image)} characters")
        except (VerifyError, ValueError, UnicodeError) as exc:
            _warn(source, key, _first_line(exc) or "not a valid card", "dropped from the output header")
            continue
        if any(issubclass(w.category, Warning) and "Verification reported" in str(w.message) for w in caught):
            problem, action = _describe_fix(raw, raw_key if raw_key != key else "", card)
            _warn(source, key, problem, action)
        out.append(card, end=True)
    return out


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("Verification reported", "Note:"))]
    return lines[0] if lines else ""


def fitted_card(keyword: str, value: Any, comment: str = "") -> Any:
    """A card whose comment is shortened to fit (no truncation warning)."""
    from astropy.io import fits

    if len(keyword) > 8 and not keyword.upper().startswith("HIERARCH"):
        keyword = f"HIERARCH {keyword}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        card = fits.Card(keyword, value)
        image = card.image
    if comment and len(image) <= 80:
        room = 80 - len(image.rstrip()) - 3
        if room > 0:
            card = fits.Card(keyword, value, comment[:room].rstrip())
    elif comment and isinstance(value, str):  # a long string: CONTINUE cards carry the comment
        card = fits.Card(keyword, value, comment[:60])
    return card


def output_header(first: Any = None, provenance: Iterable[tuple[str, Any, str]] = (), *,
                  source: str | None = None, extra: Sequence[tuple[str, Any, str]] = (),
                  plain: bool = False) -> Any:
    """Header of a combined image: the first input's header, cleaned, plus provenance.

    Parameters
    ----------
    first : FitsFrame, path, astropy Header, mapping or None
        The first input (its header is read with :func:`read_header`), or a header.
        None: start from an empty header.
    provenance : iterable of (keyword, value, comment)
        Cards appended at the end (``NCOMBINE``, ``IMCMBnnn``, parameters...).
    source : str, optional
        Name used in warnings about bad cards (default: the file name).
    extra : sequence of (keyword, value, comment)
        More cards (e.g. ``MASKSCAL``) appended after the provenance.
    plain : bool
        Return a :class:`.cardtext.PlainHeader` (the same cards, made without importing
        astropy) when every card allows it; the writers take either.

    Returns
    -------
    astropy.io.fits.Header or PlainHeader
        Without structural cards (the writer adds SIMPLE/BITPIX/NAXIS...).
    """
    provenance = list(provenance)
    if plain:
        from .cardtext import output_cards

        cards = output_cards(first, provenance, source=source, extra=extra)
        if cards is not None:
            return cards
    from astropy.io import fits

    from .frame import FitsFrame

    odd: tuple[str, ...] = ()
    if first is None:
        base, name = fits.Header(), source or "header"
    elif isinstance(first, fits.Header):
        base, name = first.copy(), source or "header"
    elif isinstance(first, (FitsFrame, str, os.PathLike)):
        base, odd = _header_and_notes(first)
        name = source or (first.path if isinstance(first, FitsFrame) else os.fspath(first))
    else:  # a mapping of keyword -> value (e.g. a LazyHeader or dict)
        base = fits.Header()
        for k, v in dict(first).items():
            base.append(fitted_card(str(k), v), end=True)
        name = source or "header"
    kept = fits.Header()
    for card in base.cards:
        if card.keyword and _is_stale(card.keyword):
            continue
        if card.keyword == "DATE" and any(k == "DATE" for k, _v, _c in provenance):
            continue
        kept.append(card, end=True)
    for key in dict.fromkeys(odd):
        _warn(name, key, "non-ASCII characters", "replaced by '?'")
    header = clean_cards(kept, name)
    for key, value, comment in (*provenance, *extra):
        card = fitted_card(key, value, comment)
        if card.keyword in header and card.keyword not in ("COMMENT", "HISTORY"):
            del header[card.keyword]
        header.append(card, end=True)
    return header
