"""Input/output helpers: FITS files, atomic outputs, provenance, NDData.

* :mod:`imcombiners.io.fits` — the one FITS package: image HDUs found as users expect
  (empty primary, IRAF names ``f.fits[SCI,2]``), one pixel-type table (unsigned,
  BSCALE, BLANK), tile-compressed and gzip inputs, windowed reads, headers (merged as
  IRAF does; outputs start from the first input's), atomic and region-by-region writes.
* :mod:`imcombiners.io.atomic` — temporary name + atomic rename.
* :mod:`imcombiners.io.provenance` — NCOMBINE/IMCMBnnn/parameters/version.

The names below are loaded on first use: ``import imcombiners.io.fits`` runs this
package first, and a command-line run should pay only for the modules it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imcombiners._lazy import lazy_names

if TYPE_CHECKING:
    from imcombiners.io.atomic import atomic_path
    from imcombiners.io.fits import (
        FitsFrame,
        FitsRegionTarget,
        HduSpec,
        create_fits,
        probe,
        probe_many,
        set_open_file_budget,
    )
    from imcombiners.io.provenance import provenance_cards, provenance_dict

#: public name -> the module defining it
_HOME = {
    "atomic_path": "atomic",
    "FitsFrame": "fits",
    "FitsRegionTarget": "fits",
    "HduSpec": "fits",
    "create_fits": "fits",
    "probe": "fits",
    "probe_many": "fits",
    "set_open_file_budget": "fits",
    "provenance_cards": "provenance",
    "provenance_dict": "provenance",
}

#: submodules that were attributes of this package as soon as it was imported
_SUBMODULES = frozenset({"atomic", "fits", "provenance"})

__all__ = sorted(_HOME)


__getattr__, __dir__ = lazy_names(__name__, _HOME, _SUBMODULES, globals())
