"""Writing FITS images: whole arrays atomically, or preallocated files written by regions.

* :func:`write_image` writes one array (plus optional image extensions) under a temporary
  name and renames it when complete; the header is cleaned first (:mod:`.header`), so a
  non-standard card copied from an input never makes the write fail.
* :func:`create_fits` preallocates a (multi-extension) file whose data blocks are then
  written region by region through :class:`FitsRegionTarget` objects (picklable: a path
  and an offset, so they work on ``dask.distributed`` workers sharing a filesystem).

Unsigned integers are stored with the BZERO convention (:func:`.pixels.bitpix_for`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import FrozenInstanceError, dataclass
from typing import Any

import numpy as np

from imcombiners._record import Record

from .pixels import bitpix_for, disk_dtype
from .window import normalise_window, pwrite_runs

__all__ = ["HduSpec", "FitsRegionTarget", "create_fits", "write_image", "ImageHdu"]

_BLOCK = 2880


@dataclass(init=False, repr=False, eq=False)  # a dataclass to users; methods from Record
class HduSpec(Record):
    """One HDU of a preallocated output file.

    Attributes
    ----------
    name : str
        EXTNAME (ignored for the primary HDU except as a record).
    shape : tuple of int
        Data shape in NumPy order.
    dtype : numpy dtype
        Data dtype: bool/uint8, int16, uint16, int32, float32, float64.
    cards : tuple
        Extra header cards ``(keyword, value, comment)``.
    header : astropy.io.fits.Header or PlainHeader, optional
        Cards placed before ``cards`` (e.g. :func:`.header.output_header`); structural
        cards in it are ignored. Plain headers and cards are written without astropy.
    """

    _frozen_error = FrozenInstanceError  # as the frozen dataclass it was

    name: str
    shape: tuple[int, ...]
    dtype: Any
    cards: tuple[tuple[str, Any, str], ...] = ()
    header: Any = None


def _structural_cards(spec: HduSpec, primary: bool) -> list[tuple[str, Any, str]]:
    """The structural cards of an HDU: ``(keyword, value, comment)``."""
    bitpix, bzero = bitpix_for(spec.dtype)
    cards: list[tuple[str, Any, str]] = [("SIMPLE", True, "conforms to FITS standard") if primary
                                         else ("XTENSION", "IMAGE", "image extension")]
    cards += [("BITPIX", int(bitpix), ""), ("NAXIS", len(spec.shape), "")]
    cards += [(f"NAXIS{k}", int(n), "") for k, n in enumerate(reversed(spec.shape), start=1)]
    if primary:
        cards.append(("EXTEND", True, ""))
    else:
        cards += [("PCOUNT", 0, ""), ("GCOUNT", 1, ""), ("EXTNAME", spec.name, "")]
    if bzero:
        cards += [("BSCALE", 1, ""), ("BZERO", int(bzero), "")]
    return cards


def _structural(spec: HduSpec, primary: bool) -> Any:
    from astropy.io import fits

    h = fits.Header()
    for key, value, comment in _structural_cards(spec, primary):
        h[key] = (value, comment) if comment else value
    return h


def _header_for(spec: HduSpec, primary: bool) -> Any:
    from .header import clean_cards, fitted_card

    h = _structural(spec, primary)
    fixed = set(h.keys()) | {"SIMPLE", "XTENSION", "EXTEND", "BZERO", "BSCALE", "BLANK", "END"}
    if spec.header is not None:
        for card in clean_cards(spec.header, "header").cards:
            if card.keyword in fixed or card.keyword.startswith("NAXIS"):
                continue
            h.append(card, end=True)
    for key, value, comment in spec.cards:
        if key in fixed:
            continue
        card = fitted_card(key, value, comment)
        if card.keyword in h and card.keyword not in ("COMMENT", "HISTORY"):
            del h[card.keyword]
        h.append(card, end=True)
    return h


def _header_text(spec: HduSpec, primary: bool) -> str:
    """The header block of an HDU: written without astropy when its cards are plain
    (:mod:`.cardtext`, the same characters), else through astropy."""
    from .cardtext import PlainHeader, as_astropy, header_text

    if spec.header is None or isinstance(spec.header, PlainHeader):
        text = header_text(_structural_cards(spec, primary), spec.header, spec.cards)
        if text is not None:
            return text
        if spec.header is not None:
            spec = HduSpec(spec.name, spec.shape, spec.dtype, spec.cards, as_astropy(spec.header))
    return _header_for(spec, primary).tostring()


@dataclass(init=False, repr=False, eq=False)  # a dataclass to users; methods from Record
class FitsRegionTarget(Record):
    """Write regions of one HDU's data in a preallocated FITS file.

    Picklable (path + offset), so ``dask.distributed`` workers can write their
    tiles directly (the file must be on a filesystem they share).  Supports
    ``target[window] = values`` like an array, as ``dask.array.store`` needs.
    Values are cast to the stored dtype on writing.
    """

    _frozen_error = FrozenInstanceError  # as the frozen dataclass it was

    path: str
    offset: int
    shape: tuple[int, ...]
    dtype: str  # logical dtype (e.g. "uint16")

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __setitem__(self, index: Any, value: np.ndarray) -> None:
        if not isinstance(index, tuple):
            index = (index,)
        win = normalise_window(self.shape, index)
        if any(s.step != 1 for s in win):
            raise ValueError("region writes need step-1 slices")
        wshape = tuple(s.stop - s.start for s in win)
        value = np.broadcast_to(np.asarray(value), wshape)
        raw = stored_bytes(value, np.dtype(self.dtype))
        fd = os.open(self.path, os.O_WRONLY)
        try:
            pwrite_runs(fd, self.shape, win, raw, self.offset)
        finally:
            os.close(fd)


def stored_bytes(value: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``value`` as the stored (big-endian, BZERO-shifted) numbers of ``dtype``, C order."""
    bitpix, bzero = bitpix_for(dtype)
    disk = disk_dtype(bitpix)
    if bzero:
        # stored = value - BZERO, i.e. the top bit flipped, then big-endian bytes
        unsigned = np.dtype(disk.str.replace("i", "u")).newbyteorder("=")
        flipped = value.astype(unsigned) ^ np.array(bzero, unsigned)
        return np.ascontiguousarray(flipped, dtype=flipped.dtype.newbyteorder(">")).view(disk)
    return np.ascontiguousarray(value, dtype=disk)


def create_fits(path: str | os.PathLike[str], hdus: Sequence[HduSpec]) -> dict[str, FitsRegionTarget]:
    """Create a FITS file with headers and zero-filled (sparse) data blocks.

    Parameters
    ----------
    path : str or path-like
        File to create (normally a temporary name, see :mod:`imcombiners.io.atomic`).
    hdus : sequence of HduSpec
        The primary HDU first, then image extensions.

    Returns
    -------
    dict of str to FitsRegionTarget
        One writable target per HDU, keyed by ``HduSpec.name``.
    """
    path = os.fspath(path)
    targets: dict[str, FitsRegionTarget] = {}
    pos = 0
    with open(path, "wb") as f:
        for k, spec in enumerate(hdus):
            text = _header_text(spec, primary=(k == 0)).encode("ascii")
            f.write(text)
            pos += len(text)
            bitpix, _ = bitpix_for(spec.dtype)
            # NAXIS = 0 (a primary header without data): no data block at all
            nbytes = int(np.prod(spec.shape)) * abs(bitpix) // 8 if spec.shape else 0
            targets[spec.name] = FitsRegionTarget(path, pos, tuple(int(n) for n in spec.shape),
                                                  np.dtype(spec.dtype).newbyteorder("=").name)
            pos += -(-nbytes // _BLOCK) * _BLOCK
            f.seek(pos)
        f.truncate(pos)  # sparse zero fill: nothing written until regions come
    return targets


@dataclass(init=False, repr=False, eq=False)  # a dataclass to users; methods from Record
class ImageHdu(Record):
    """An image extension for :func:`write_image`."""

    _frozen_error = FrozenInstanceError  # as the frozen dataclass it was

    name: str
    data: np.ndarray
    cards: tuple[tuple[str, Any, str], ...] = ()


def write_image(path: str | os.PathLike[str], data: np.ndarray, header: Any = None, *,
                cards: Sequence[tuple[str, Any, str]] = (), extensions: Sequence[ImageHdu] = (),
                overwrite: bool = False) -> str:
    """Write an array as a FITS primary image, atomically (temporary name, then rename).

    Parameters
    ----------
    path : str or path-like
        Final file name.
    data : ndarray
        The image (bool is stored as uint8; unsigned integers with BZERO).
    header : astropy.io.fits.Header, optional
        Cards for the primary HDU (structural cards are replaced), e.g. from
        :func:`.header.output_header`.
    cards : sequence of (keyword, value, comment)
        More cards, appended (comments shortened to fit).
    extensions : sequence of ImageHdu
        Image extensions after the primary HDU.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    str
        ``path``.
    """
    from imcombiners.io.atomic import atomic_path

    path = os.fspath(path)
    arrays = [np.asarray(data)] + [np.asarray(e.data) for e in extensions]
    arrays = [a.astype(np.uint8) if a.dtype == bool else a for a in arrays]
    specs = [HduSpec("PRIMARY", arrays[0].shape, arrays[0].dtype, tuple(cards), header)]
    specs += [HduSpec(e.name, a.shape, a.dtype, tuple(e.cards)) for e, a in zip(extensions, arrays[1:])]
    with atomic_path(path, overwrite=overwrite) as tmp:
        targets = create_fits(tmp, specs)
        for spec, arr in zip(specs, arrays):
            if arr.size:
                # row blocks of ~8 MB: the stored copy never doubles a large image
                target = targets[spec.name]
                rows = max(1, (8 << 20) // max(1, arr[0].nbytes if arr.ndim > 1 else arr.nbytes))
                if arr.ndim <= 1:
                    target[...] = arr
                else:
                    for r in range(0, arr.shape[0], rows):
                        target[r:r + rows] = arr[r:r + rows]
    return path
