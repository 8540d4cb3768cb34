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

import sys
from typing import TYPE_CHECKING, Any

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


def _submodule(name: str) -> Any:
    # ``__import__``, not importlib's import_module: the import statement's own path,
    # which ``python -X importtime`` reports (tests/test_cli_startup.py reads it)
    full = f"{__name__}.{name}"
    __import__(full)
    return sys.modules[full]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return _submodule(name)
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_submodule(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
