"""What an output header leaves out, and how a repaired or dropped input card is reported.

Shared by the two ways an output header is made (:mod:`.header` through astropy,
:mod:`.cardtext` without it), so that both drop the same cards and word the same warnings.
"""

from __future__ import annotations

import os
import re
import warnings

__all__ = ["FitsHeaderWarning", "STALE_KEYWORDS", "is_stale", "warn_card"]


class FitsHeaderWarning(UserWarning):
    """A header card of an input was repaired or dropped on its way to an output."""


#: Keywords that describe the stored file, not the combined image (removed from outputs).
STALE_KEYWORDS = frozenset({
    "SIMPLE", "XTENSION", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT", "GROUPS",
    "BZERO", "BSCALE", "BLANK", "DATAMIN", "DATAMAX", "CHECKSUM", "DATASUM", "CHECKVER",
    "EXTNAME", "EXTVER", "EXTLEVEL", "INHERIT", "NEXTEND", "END",
    # tile compression (astropy hides them from a CompImageHDU's header; a copied header may not)
    "ZIMAGE", "ZSIMPLE", "ZTENSION", "ZEXTEND", "ZBLOCKED", "ZPCOUNT", "ZGCOUNT", "ZCMPTYPE",
    "ZBITPIX", "ZNAXIS", "ZQUANTIZ", "ZDITHER0", "ZHECKSUM", "ZDATASUM", "TFIELDS", "THEAP",
    # an earlier combine (IRAF replaces them; the provenance of this combine follows)
    "NCOMBINE", "IMCVERS", "IMCMETH", "IMCPARAM", "IMCPROD", "IMCMAST",
})
_STALE_PATTERN = re.compile(
    r"^(NAXIS\d+|ZNAXIS\d+|ZTILE\d+|ZNAME\d+|ZVAL\d+|TTYPE\d+|TFORM\d+|TUNIT\d+|TDIM\d+|"
    r"PTYPE\d+|PSCAL\d+|PZERO\d+|IMCMB\d{3}|IMC[ZSW]\d{4})$"
)


def is_stale(keyword: str) -> bool:
    """A keyword that describes the stored file or an earlier combine, not the output."""
    return keyword in STALE_KEYWORDS or bool(_STALE_PATTERN.match(keyword))


def warn_card(source: str, key: str, problem: str, action: str) -> None:
    """One :class:`FitsHeaderWarning` naming the card and the file it came from."""
    warnings.warn(f"{os.path.basename(source)}: header card {key or '(blank)'}: {problem}; {action}",
                  FitsHeaderWarning, stacklevel=3)
