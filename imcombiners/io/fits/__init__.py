"""FITS input and output: the one place the library reads and writes FITS files.

Every path that touches FITS (the in-memory API given file names, :func:`imcombiners.imcombine`,
:mod:`imcombiners.dask`, the command line) goes through this package:

* :mod:`.pixels` — the one table of pixel types: BITPIX + BZERO/BSCALE/BLANK -> physical
  values and the dtype delivered to the library (exact) or IRAF (IRAF's pixel type) view;
  unsigned 16/32-bit, scaled integers, BLANK -> NaN (masked).
* :mod:`.names` — IRAF image names ``file.fits[1]``, ``file.fits[SCI]``, ``file.fits[SCI,2]``.
* :mod:`.frame` — :func:`probe` finds the image HDU (the primary when it holds data, else
  the first image extension) and :class:`FitsFrame` reads windows of it: positioned reads
  of plain files, tile-wise decompression of ``.fz`` (Rice, GZIP, HCOMPRESS, PLIO), a
  local decompressed copy of ``.gz``/``.bz2`` files.
* :mod:`.handles` — open files under a per-process budget; decompressed copies.
* :mod:`.mapped` — memory maps of plain images for the IRAF engine.
* :mod:`.stack` — whole images of N files for the in-memory API.
* :mod:`.header` — headers as IRAF merges them, numbers from odd cards, output headers
  (the first input's cards, cleaned, plus provenance).
* :mod:`.write` — atomic whole-image writes; preallocated files written by regions.
* :mod:`.cards` — fixed-format structural cards read without astropy (fast headers).

astropy is imported only by the functions that need it (``import imcombiners`` stays lean).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imcombiners._lazy import lazy_names

if TYPE_CHECKING:
    from .frame import FitsFrame, probe, probe_many
    from .handles import close_all, get_open_file_budget, set_open_file_budget
    from .header import FitsHeaderWarning, header_number, output_header, read_header
    from .names import split_name
    from .pixels import PixelType, pixel_type
    from .stack import ImageSet, load_images
    from .write import FitsRegionTarget, HduSpec, ImageHdu, create_fits, write_image

#: public name -> the submodule defining it. Loaded on first use: a command-line run
#: imports only the submodules it needs (not the in-memory loader and its memory maps).
_HOME = {
    "FitsFrame": "frame", "probe": "frame", "probe_many": "frame",
    "close_all": "handles", "get_open_file_budget": "handles", "set_open_file_budget": "handles",
    "FitsHeaderWarning": "header", "header_number": "header", "output_header": "header",
    "read_header": "header",
    "split_name": "names",
    "PixelType": "pixels", "pixel_type": "pixels",
    "ImageSet": "stack", "load_images": "stack",
    "FitsRegionTarget": "write", "HduSpec": "write", "ImageHdu": "write", "create_fits": "write",
    "write_image": "write",
}
#: submodules reachable as attributes (``imcombiners.io.fits.frame``) without importing them
_SUBMODULES = frozenset({"cards", "cardtext", "frame", "handles", "header", "header_rules", "mapped", "names",
                         "outputs", "pixels", "stack", "window", "write"})

__all__ = sorted(_HOME)


__getattr__, __dir__ = lazy_names(__name__, _HOME, _SUBMODULES, globals())
