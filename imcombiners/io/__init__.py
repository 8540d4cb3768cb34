"""FITS input/output helpers used by the out-of-core engine and the CLI.

* :mod:`imcombiners.io.fits` — windowed FITS reads (BZERO/BSCALE, big-endian,
  tile-compressed) under an open-file budget; preallocated FITS outputs written
  region by region.
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
