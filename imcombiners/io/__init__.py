"""Input/output helpers: FITS files, atomic outputs, provenance, NDData.

* :mod:`imcombiners.io.fits` — the one FITS package: image HDUs found as users expect
  (empty primary, IRAF names ``f.fits[SCI,2]``), one pixel-type table (unsigned,
  BSCALE, BLANK), tile-compressed and gzip inputs, windowed reads, headers (merged as
  IRAF does; outputs start from the first input's), atomic and region-by-region writes.
* :mod:`imcombiners.io.atomic` — temporary name + atomic rename.
* :mod:`imcombiners.io.provenance` — NCOMBINE/IMCMBnnn/parameters/version.
"""

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

__all__ = [
    "FitsFrame",
    "FitsRegionTarget",
    "HduSpec",
    "atomic_path",
    "create_fits",
    "probe",
    "probe_many",
    "provenance_cards",
    "provenance_dict",
    "set_open_file_budget",
]
