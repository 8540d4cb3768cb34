"""What an output header leaves out, and how a repaired or dropped input card is reported.

Shared by the two ways an output header is made (:mod:`.header` through astropy,
:mod:`.cardtext` without it), so that both drop the same cards and word the same warnings.
"""

from __future__ import annotations

import os
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
#: Stems of numbered stale keywords -> how many digits follow (0: one or more):
#: NAXISn, ZNAXISn, ZTILEn, ZNAMEn, ZVALn, TTYPEn, TFORMn, TUNITn, TDIMn, PTYPEn, PSCALn,
#: PZEROn, and an earlier combine's IMCMBnnn, IMCZnnnn/IMCSnnnn/IMCWnnnn.
_STALE_NUMBERED = {"NAXIS": 0, "ZNAXIS": 0, "ZTILE": 0, "ZNAME": 0, "ZVAL": 0, "TTYPE": 0, "TFORM": 0,
                   "TUNIT": 0, "TDIM": 0, "PTYPE": 0, "PSCAL": 0, "PZERO": 0, "IMCMB": 3, "IMCZ": 4,
                   "IMCS": 4, "IMCW": 4}
_DIGITS = "0123456789"


def is_stale(keyword: str) -> bool:
    """A keyword that describes the stored file or an earlier combine, not the output."""
    if keyword in STALE_KEYWORDS:
        return True
    # (a table, not a regular expression: compiling one is ~2 M instructions of every run)
    stem = keyword.rstrip(_DIGITS)
    digits = len(keyword) - len(stem)
    want = _STALE_NUMBERED.get(stem)
    return digits > 0 and want is not None and (want == 0 or digits == want)


def warn_card(source: str, key: str, problem: str, action: str) -> None:
    """One :class:`FitsHeaderWarning` naming the card and the file it came from."""
    warnings.warn(f"{os.path.basename(source)}: header card {key or '(blank)'}: {problem}; {action}",
                  FitsHeaderWarning, stacklevel=3)
