"""Finding the image of a FITS file and reading windows of it.

:func:`probe` reads headers only and returns a small picklable :class:`FitsFrame`
(file, HDU, shape, pixel type, data offset, compression). :meth:`FitsFrame.read` reads a
window of it as physical values (:mod:`.pixels`):

* plain images: positioned reads of exactly the window's bytes (:mod:`.window`);
* tile-compressed images (``.fz``: Rice, GZIP, HCOMPRESS, PLIO): astropy's ``section``,
  which decompresses only the tiles overlapping the window;
* whole-file compressed images (``.fits.gz``, ``.fits.bz2``): read from a decompressed
  local copy made once per process (:func:`.handles.local_copy`).

The image HDU is found the way users expect: the primary HDU when it holds data, else the
first image extension (plain or compressed) with data; or the HDU named by ``hdu`` (index,
EXTNAME, ``(EXTNAME, EXTVER)``) or by an IRAF name (``file.fits[SCI,2]``).
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Sequence
from dataclasses import FrozenInstanceError, dataclass
from typing import Any

import numpy as np

from imcombiners._record import Record

from . import cards as _cards
from .handles import CACHE, container_of, handle_key, local_copy
from .names import HduSelector, hdu_label, parse_hdu, split_name
from .pixels import PixelType, converts_in_place, physical_in_place, pixel_type, to_physical
from .window import normalise_window, read_file_window, window_shape

#: Serialises HCOMPRESS tile decoding across files and threads (see _read_compressed).
_HCOMPRESS_LOCK = threading.Lock()

__all__ = ["FitsFrame", "probe", "probe_many"]


@dataclass(init=False, repr=False, eq=False)  # a dataclass to users; methods from Record
class FitsFrame(Record):
    """A picklable description of one FITS image (no open file inside).

    Attributes
    ----------
    path : str
        File name (without an IRAF ``[...]`` selector).
    hdu : int
        HDU index holding the image.
    shape : tuple of int
        Image shape in NumPy order (NAXISn reversed).
    bitpix, bzero, bscale, blank
        Header values of the stored data (compressed: of the image header).
    data_offset : int
        Byte offset of the data (uncompressed only; in the decompressed stream for
        ``.gz``/``.bz2`` files).
    compressed : bool
        Tile-compressed (``CompImageHDU``).
    tile_shape : tuple of int
        Compression tile shape in NumPy order (uncompressed: one row).
    container : str
        ``"gzip"`` or ``"bzip2"`` for a whole-file compressed file, else ``""``.
    view : str
        ``"library"`` (exact physical values) or ``"iraf"`` (IRAF's pixel type for the
        file), see :mod:`imcombiners.io.fits.pixels`.
    uncached : bool
        Read long runs past the page cache (``O_DIRECT``, :mod:`.direct`) where the file
        system allows it: for stacks larger than the RAM. Same values either way.
    """

    _frozen_error = FrozenInstanceError  # as the frozen dataclass it was

    path: str
    hdu: int
    shape: tuple[int, ...]
    bitpix: int
    bzero: Any
    bscale: Any
    blank: Any
    data_offset: int
    compressed: bool
    tile_shape: tuple[int, ...]
    container: str = ""
    view: str = "library"
    uncached: bool = False

    @property
    def pixels(self) -> PixelType:
        """The pixel type (what the stored numbers mean)."""
        return pixel_type(self.bitpix, self.bzero, self.bscale, self.blank)

    @property
    def dtype(self) -> np.dtype:
        """dtype delivered by :meth:`read` (native byte order) for this frame's view.

        Raises
        ------
        TypeError
            64-bit integer pixels (no exact workspace), naming the file.
        """
        try:
            return self.pixels.dtype(self.view)
        except TypeError as exc:
            raise TypeError(f"{self.name}: {exc}") from None

    @property
    def disk_itemsize(self) -> int:
        """Bytes per stored pixel (uncompressed)."""
        return abs(self.bitpix) // 8

    @property
    def name(self) -> str:
        """``path[hdu]`` for messages (just the path for a primary image)."""
        return self.path if self.hdu == 0 else f"{self.path}[{self.hdu}]"

    def with_view(self, view: str) -> FitsFrame:
        """The same image read for another view (``"library"`` or ``"iraf"``)."""
        return self if view == self.view else dataclasses.replace(self, view=view)

    @property
    def stored_bytes(self) -> int:
        """Bytes of pixel data read in place from the file (0 for a compressed image)."""
        if self.compressed or self.container:
            return 0
        return int(np.prod(self.shape, dtype=np.int64)) * self.disk_itemsize

    def with_uncached(self, uncached: bool) -> FitsFrame:
        """The same image read past the page cache (True) or through it (False)."""
        return self if uncached == self.uncached else dataclasses.replace(self, uncached=uncached)

    def read(self, window: Sequence[slice] | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """Read a window (a tuple of slices, steps allowed) of the image.

        Parameters
        ----------
        window : sequence of slice, optional
            One slice per axis (NumPy order); missing axes are taken whole.
        out : ndarray, optional
            Destination of the window's shape (any dtype the values cast to
            safely, e.g. a float workspace).  Allocated with :attr:`dtype` if
            omitted.

        Returns
        -------
        ndarray
            ``out``, filled with physical values (NaN where BLANK).
        """
        win = normalise_window(self.shape, window)
        wshape = window_shape(win)
        if out is None:
            out = np.empty(wshape, self.dtype)
        elif out.shape != wshape:
            raise ValueError(f"out has shape {out.shape}, window needs {wshape}")
        if 0 in wshape:
            return out
        local = local_copy(self.path, self.container)
        if self.compressed:
            return to_physical(self._read_compressed(local, win), self.pixels, out)
        ptype = self.pixels
        direct = out if out.flags.c_contiguous and converts_in_place(ptype, out.dtype) else None
        raw = self._read_plain(local, win, direct)
        if direct is not None and np.shares_memory(raw, direct):
            # the stored words were read into ``out`` itself: convert them there (no copy)
            return physical_in_place(direct, ptype)
        return to_physical(raw, ptype, out)

    # -- uncompressed: positioned reads of exactly the window's bytes ------
    def _read_plain(self, local: str, win: tuple[slice, ...], into: np.ndarray | None = None) -> np.ndarray:
        return read_file_window(local, self.shape, win, self.pixels.disk, self.data_offset, into=into,
                                uncached=self.uncached)

    # -- tile-compressed: astropy decompresses the overlapping tiles -------
    def _read_compressed(self, local: str, win: tuple[slice, ...]) -> np.ndarray:
        from astropy.io import fits

        key = handle_key("hdul", local)
        # raw (unscaled) tiles: one conversion rule for every reader (pixels.to_physical)
        hdul, lock = CACHE.acquire(
            key, lambda: fits.open(local, memmap=True, do_not_scale_image_data=True)
        )
        try:
            with lock:  # astropy objects are not thread-safe
                hdu = hdul[self.hdu]
                try:
                    if getattr(hdu, "compression_type", None) == "HCOMPRESS_1":
                        # CFITSIO's H-decompress (in astropy) keeps its state in static
                        # variables: two files decoded at once corrupt each other
                        # ("qtree_decode64: bad format code"), so one at a time.
                        with _HCOMPRESS_LOCK:
                            return np.asarray(hdu.section[win])
                    return np.asarray(hdu.section[win])
                except (OSError, ValueError, TypeError, KeyError) as exc:
                    # reliability: say which file is broken (astropy's message does not)
                    raise ValueError(
                        f"{self.name}: cannot decompress the image (corrupt or truncated file): {exc}"
                    ) from exc
        finally:
            CACHE.release(key)


# --------------------------------------------------------------------------
# probing
# --------------------------------------------------------------------------


def probe(path: str | os.PathLike[str], hdu: Any = None, *, view: str = "library") -> FitsFrame:
    """Describe the image of a FITS file without reading its data.

    Parameters
    ----------
    path : str or path-like
        FITS file, optionally with an IRAF selector: ``f.fits[1]``, ``f.fits[SCI]``,
        ``f.fits[SCI,2]`` (the selector in the name wins over ``hdu``). Whole-file
        gzip/bzip2 compression is recognised from the content.
    hdu : int, str or (str, int), optional
        HDU index, EXTNAME or (EXTNAME, EXTVER). Default: the primary HDU when it holds
        an image, else the first image extension (plain or tile-compressed) with data.
    view : {"library", "iraf"}
        Which dtype :meth:`FitsFrame.read` delivers (see :mod:`.pixels`).

    Returns
    -------
    FitsFrame

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Not a FITS file, no image, no such HDU, a corrupt or truncated header.
    """
    name = os.fspath(path)
    fname, selector = split_name(name)
    if selector is None:
        selector = parse_hdu(hdu)
    if not os.path.exists(fname):
        raise FileNotFoundError(f"{fname}: no such file")
    if os.path.isdir(fname):
        raise ValueError(f"{fname}: is a directory, not a FITS file")
    container = container_of(fname)
    local = local_copy(fname, container)
    frame = _probe_plain(local, selector)
    if frame is None:
        frame = _probe_astropy(local, selector, fname)
    return dataclasses.replace(frame, path=fname, container=container, view=view)


def probe_many(paths: Sequence[str | os.PathLike[str]], hdu: Any = None, *,
               view: str = "library") -> list[FitsFrame]:
    """:func:`probe` every path (headers only)."""
    return [probe(p, hdu, view=view) for p in paths]


def _matches(h: _cards.Hdu, selector: HduSelector) -> bool:
    if isinstance(selector, int):
        return h.index == selector
    if isinstance(selector, str):
        return h.extname == selector.upper()
    name, ver = selector  # type: ignore[misc]
    return h.extname == name.upper() and h.extver == ver


def _probe_plain(path: str, selector: HduSelector) -> FitsFrame | None:
    """:func:`probe` of an uncompressed image from its structural cards (no astropy).

    None when the file is anything else (compressed, a table first, an unusual or
    malformed header, truncated data): :func:`probe` then asks astropy, which also words
    the errors. The values equal astropy's: integer literals stay int, others float.
    """
    try:
        for h in _cards.walk(path):
            if selector is None:
                if not h.is_image:
                    return None  # e.g. a compressed image (a table): astropy
                if h.npix == 0:
                    if h.index == 0 and not (h.cards.get("GROUPS") == "T"):
                        continue  # empty primary: look at the extensions
                    continue  # an empty extension (e.g. ERR of a STIS raw file)
            elif not _matches(h, selector):
                continue
            if not h.is_image or not h.dims or h.pcount != 0 or h.gcount != 1:
                return None
            if h.bitpix not in _cards_bitpix() or h.npix == 0:
                return None
            bzero = _cards.number(h.cards, "BZERO", 0)
            bscale = _cards.number(h.cards, "BSCALE", 1)
            blank = _cards.number(h.cards, "BLANK", None) if h.bitpix > 0 else None
            if bzero is None or bscale is None or ("BLANK" in h.cards and h.bitpix > 0 and blank is None):
                return None
            shape = tuple(reversed(h.dims))
            if h.data_start + h.npix * (abs(h.bitpix) // 8) > h.file_size:
                return None  # truncated: astropy's path reports it
            return FitsFrame(path, h.index, shape, h.bitpix, bzero, bscale, blank, h.data_start, False,
                             (1,) * (len(shape) - 1) + (shape[-1],))
    except (OSError, ValueError):
        return None
    return None


def _cards_bitpix() -> tuple[int, ...]:
    from .pixels import BITPIX_VALUES

    return BITPIX_VALUES


def _has_data(h: Any) -> bool:
    from astropy.io import fits

    if isinstance(h, fits.CompImageHDU):
        return True
    if not h.is_image or isinstance(h, fits.GroupsHDU):
        return False
    naxis = int(h.header.get("NAXIS", 0))
    return naxis > 0 and all(int(h.header.get(f"NAXIS{k}", 0)) > 0 for k in range(1, naxis + 1))


def _probe_astropy(path: str, selector: HduSelector, shown: str) -> FitsFrame:
    """:func:`probe` through astropy (compressed images, tables first, odd headers)."""
    from astropy.io import fits

    try:
        hdul = fits.open(path, memmap=False, lazy_load_hdus=True)
    except (OSError, ValueError, TypeError) as exc:
        # reliability: astropy's message ("Empty or corrupt FITS file") omits the file
        raise ValueError(f"{shown}: not a readable FITS file: {exc}") from exc
    with hdul:
        if selector is None:
            index = None
            kinds = []
            try:
                for i, h in enumerate(hdul):
                    kinds.append(type(h).__name__)
                    if _has_data(h):
                        index = i
                        break
            except (OSError, ValueError, TypeError) as exc:
                raise ValueError(f"{shown}: corrupt FITS file after HDU {len(kinds) - 1}: {exc}") from exc
            if index is None:
                if "GroupsHDU" in kinds:
                    raise ValueError(f"{shown}: holds random-groups data (interferometry), not an image")
                raise ValueError(f"{shown}: no image data in any HDU (found {', '.join(kinds)})")
        else:
            try:
                index = hdul.index_of(selector)
                hdul[index]
            except (KeyError, IndexError):
                raise ValueError(f"{shown}: no HDU {hdu_label(selector)} (the file has {len(hdul)} HDUs: "
                                 f"{_hdu_names(hdul)})") from None
        h = hdul[index]
        label = f"{shown}{hdu_label(index) if index else ''}"
        if isinstance(h, fits.GroupsHDU):
            raise ValueError(f"{label}: random-groups data (interferometry), not an image")
        if not (h.is_image or isinstance(h, fits.CompImageHDU)):
            raise ValueError(f"{label}: not an image HDU ({type(h).__name__})")
        header = h.header
        naxis = int(header.get("NAXIS", 0))
        shape = tuple(int(header[f"NAXIS{k}"]) for k in range(naxis, 0, -1))
        if naxis == 0 or 0 in shape:
            raise ValueError(f"{label}: HDU has no data")
        bitpix = int(header["BITPIX"])
        # reliability: a corrupt header is a clear ValueError naming the file, not a
        # KeyError (BITPIX) or a garbage shape
        if bitpix not in _cards_bitpix():
            raise ValueError(
                f"{label}: BITPIX = {bitpix} is not a FITS pixel type "
                "(8, 16, 32, 64, -32 or -64); the file is corrupt"
            )
        if any(s < 0 for s in shape):
            raise ValueError(f"{label}: negative NAXISn in the header {shape}; the file is corrupt")
        bzero = header.get("BZERO", 0)
        bscale = header.get("BSCALE", 1)
        blank = header.get("BLANK") if bitpix > 0 else None
        for key, v in (("BZERO", bzero), ("BSCALE", bscale), ("BLANK", blank)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float, np.number))):
                raise ValueError(f"{label}: {key} = {v!r} is not a number; the header is corrupt")
        ptype = pixel_type(bitpix, bzero, bscale, blank)
        if isinstance(h, fits.CompImageHDU):
            return FitsFrame(path, index, shape, bitpix, ptype.bzero, ptype.bscale, ptype.blank, 0, True,
                             tuple(int(t) for t in h.tile_shape))
        offset = int(hdul.fileinfo(index)["datLoc"])
        # reliability: a truncated file fails here, naming the file, instead of in the
        # middle of a combine ("unexpected end of FITS data")
        need = offset + int(np.prod(shape, dtype=np.int64)) * (abs(bitpix) // 8)
        size = os.path.getsize(path)
        if size < need:
            raise ValueError(
                f"{label}: truncated FITS file: the header needs {need} bytes, the file has {size}"
            )
        return FitsFrame(path, index, shape, bitpix, ptype.bzero, ptype.bscale, ptype.blank, offset, False,
                         (1,) * (naxis - 1) + (shape[-1],))


def _hdu_names(hdul: Any) -> str:
    out = []
    for i, h in enumerate(hdul):
        name = (h.name or "").strip()
        ver = getattr(h, "ver", 1)
        out.append(f"{i}" + (f"={name}" if name and name != "PRIMARY" else "")
                   + (f",{ver}" if name and ver and ver != 1 else ""))
    return " ".join(out)
