"""FITS input and output for out-of-core combining.

Reading
-------
:func:`probe` reads one header and returns a small picklable :class:`FitsFrame`
(path, HDU, shape, BITPIX, BZERO/BSCALE/BLANK, data offset, compressed tile
shape).  :meth:`FitsFrame.read` reads a window of it:

* uncompressed images: positioned reads (``os.preadv``) of exactly the bytes of
  the window into a buffer, then one conversion (byte swap, BZERO/BSCALE,
  BLANK) into the caller's array.  A full-width strip is one contiguous read per
  file.  No memory map: mapped pages would count towards the process's resident
  memory, and astropy refuses to memory-map scaled data anyway.
* tile-compressed images (``CompImageHDU``): astropy's ``section``, which
  decompresses only the tiles overlapping the window.

Values equal what ``astropy.io.fits.getdata`` returns (same dtype rules, same
float32/float64 arithmetic for BSCALE/BZERO, BLANK -> NaN), except that dtypes
the kernels do not take are widened exactly: int8 -> float32,
uint32/int64/uint64 -> float64; byte order is always native.

Open files are shared per process through a small LRU cache whose size is the
*open-file budget* (:func:`set_open_file_budget`), so thousands of inputs work
without hitting the descriptor limit.

Writing
-------
:func:`create_fits` preallocates a (multi-extension) FITS file whose data
blocks are then written region by region through :class:`FitsRegionTarget`
objects (picklable: they hold a path and an offset, so they work on
``dask.distributed`` workers sharing a filesystem).
"""

from __future__ import annotations

import collections
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _cards

__all__ = [
    "FitsFrame",
    "probe",
    "probe_many",
    "set_open_file_budget",
    "get_open_file_budget",
    "close_all",
    "create_fits",
    "FitsRegionTarget",
    "HduSpec",
]

_BITPIX_DISK = {8: ">u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}
_BLOCK = 2880


# --------------------------------------------------------------------------
# open-file budget
# --------------------------------------------------------------------------


def _default_budget() -> int:
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            soft = 4096
    except Exception:  # pragma: no cover - non-POSIX
        soft = 1024
    # leave most descriptors to the rest of the process (sockets, zarr, logs)
    return int(max(8, min(256, soft // 4)))


class _HandleCache:
    """Per-process LRU of open files (plain descriptors or astropy HDULists).

    Entries in use by a reader are never closed under it: eviction skips them,
    so the budget can be exceeded briefly by at most the number of threads
    reading at the same time.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[tuple[str, str], list[Any]] = (
            collections.OrderedDict()
        )  # key -> [handle, users, entry_lock]
        self.opens = 0  # statistics (tests)

    def acquire(self, key: tuple[str, str], opener) -> tuple[Any, threading.Lock]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                entry[1] += 1
                return entry[0], entry[2]
        handle = opener()
        with self._lock:
            self.opens += 1
            entry = self._entries.get(key)
            if entry is not None:  # another thread opened it meanwhile
                _close_handle(handle)
                entry[1] += 1
                self._entries.move_to_end(key)
                return entry[0], entry[2]
            entry = [handle, 1, threading.Lock()]
            self._entries[key] = entry
            self._evict_locked()
            return handle, entry[2]

    def release(self, key: tuple[str, str]) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry[1] -= 1
            self._evict_locked()

    def _evict_locked(self) -> None:
        if len(self._entries) <= self.budget:
            return
        for key in list(self._entries):
            if len(self._entries) <= self.budget:
                break
            entry = self._entries[key]
            if entry[1] <= 0:
                del self._entries[key]
                _close_handle(entry[0])

    def close_all(self) -> None:
        with self._lock:
            for key in list(self._entries):
                entry = self._entries[key]
                if entry[1] <= 0:
                    del self._entries[key]
                    _close_handle(entry[0])

    def __len__(self) -> int:
        return len(self._entries)


def _close_handle(handle: Any) -> None:
    try:
        if isinstance(handle, int):
            os.close(handle)
        else:
            handle.close()
    except Exception:  # closing must never mask the real work
        pass


_CACHE = _HandleCache(_default_budget())


def set_open_file_budget(n: int) -> None:
    """Set the maximum number of input files kept open per process.

    Parameters
    ----------
    n : int
        At least 1.  Files beyond the budget are closed least-recently-used
        first and reopened when needed.
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"open-file budget must be a positive integer, got {n!r}")
    _CACHE.budget = int(n)
    with _CACHE._lock:
        _CACHE._evict_locked()


def get_open_file_budget() -> int:
    """Current open-file budget of this process."""
    return _CACHE.budget


def close_all() -> None:
    """Close every cached input file of this process that is not being read."""
    _CACHE.close_all()


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------


def _output_dtype(bitpix: int, bzero: Any, bscale: Any, blank: Any) -> tuple[np.dtype, str]:
    """dtype delivered for a header and the conversion rule (astropy's rules).

    Returns ``(dtype, rule)`` with rule in ``plain`` (cast only), ``unsigned``
    (FITS pseudo-unsigned integers), ``int8`` (BITPIX 8 with BZERO -128) or
    ``scaled`` (float arithmetic with BSCALE/BZERO/BLANK).
    """
    if bzero == 0 and bscale == 1 and blank is None:
        disk = np.dtype(_BITPIX_DISK[bitpix]).newbyteorder("=")
        if disk == np.int64:
            return np.dtype(np.float64), "plain"
        return disk, "plain"
    if bscale == 1 and bzero != 0:
        if bitpix == 8 and bzero == -128:
            return np.dtype(np.float32), "int8"
        if bitpix == 16 and bzero == 1 << 15:
            return np.dtype(np.uint16), "unsigned"
        if bitpix == 32 and bzero == 1 << 31:
            return np.dtype(np.float64), "unsigned"
        if bitpix == 64 and bzero == 1 << 63:
            return np.dtype(np.float64), "unsigned"
    if bitpix > 16 or bitpix == -64:
        return np.dtype(np.float64), "scaled"
    return np.dtype(np.float32), "scaled"


def _pyscalar(v: Any) -> Any:
    """Header numbers as Python scalars (keeps numpy's weak-scalar arithmetic)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def read_window(fd: int, shape: tuple[int, ...], win: tuple[slice, ...], disk: np.dtype, offset: int) -> np.ndarray:
    """Read a window of a C-ordered array stored at byte ``offset`` of an open file.

    Only the window's bytes are read (positioned reads, one per contiguous run); the last
    axis is read as one run and subsampled in memory when the window has a step there.
    Returns the window in the on-disk dtype ``disk``.
    """
    last = win[-1]
    read_win = win[:-1] + (slice(last.start, last.stop, 1),)
    rshape = tuple(len(range(s.start, s.stop, s.step)) for s in read_win)
    raw = np.empty(rshape, disk)
    flat = raw.reshape(-1).view(np.uint8)
    pos = 0
    for elem_offset, count in _contiguous_runs(shape, read_win):
        nbytes = count * disk.itemsize
        _pread_into(fd, flat[pos : pos + nbytes], offset + elem_offset * disk.itemsize)
        pos += nbytes
    return raw[..., :: last.step] if last.step != 1 else raw


@dataclass(frozen=True)
class FitsFrame:
    """A picklable description of one FITS image (no open file inside).

    Attributes
    ----------
    path : str
        File name.
    hdu : int
        HDU index holding the image.
    shape : tuple of int
        Image shape in NumPy order (NAXISn reversed).
    bitpix, bzero, bscale, blank
        Header values of the stored data (compressed: of the image header).
    data_offset : int
        Byte offset of the data (uncompressed only).
    compressed : bool
        Tile-compressed (``CompImageHDU``).
    tile_shape : tuple of int
        Compression tile shape in NumPy order (uncompressed: one row).
    """

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

    @property
    def dtype(self) -> np.dtype:
        """dtype delivered by :meth:`read` (native byte order)."""
        return _output_dtype(self.bitpix, self.bzero, self.bscale, self.blank)[0]

    @property
    def disk_itemsize(self) -> int:
        """Bytes per stored pixel (uncompressed)."""
        return abs(self.bitpix) // 8

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
            ``out``, filled.
        """
        win = _normalise_window(self.shape, window)
        wshape = tuple(len(range(s.start, s.stop, s.step)) for s in win)
        if out is None:
            out = np.empty(wshape, self.dtype)
        elif out.shape != wshape:
            raise ValueError(f"out has shape {out.shape}, window needs {wshape}")
        if 0 in wshape:
            return out
        if self.compressed:
            self._read_compressed(win, out)
        else:
            self._read_plain(win, out)
        return out

    # -- uncompressed: positioned reads of exactly the window's bytes ------
    def _read_plain(self, win: tuple[slice, ...], out: np.ndarray) -> None:
        disk = np.dtype(_BITPIX_DISK[self.bitpix])
        key = ("fd", self.path)
        fd, _lock = _CACHE.acquire(key, lambda: os.open(self.path, os.O_RDONLY))
        try:
            raw = read_window(fd, self.shape, win, disk, self.data_offset)
        finally:
            _CACHE.release(key)
        _convert(raw, out, self.bitpix, self.bzero, self.bscale, self.blank)

    # -- tile-compressed: astropy decompresses the overlapping tiles -------
    def _read_compressed(self, win: tuple[slice, ...], out: np.ndarray) -> None:
        from astropy.io import fits

        key = ("hdul", self.path)
        # raw (unscaled) tiles: astropy refuses to scale memory-mapped data,
        # and applying BZERO/BSCALE ourselves keeps one conversion rule
        hdul, lock = _CACHE.acquire(
            key, lambda: fits.open(self.path, memmap=True, do_not_scale_image_data=True)
        )
        try:
            with lock:  # astropy objects are not thread-safe
                try:
                    raw = hdul[self.hdu].section[win]
                except (OSError, ValueError, TypeError, KeyError) as exc:
                    # reliability: say which file is broken (astropy's message does not)
                    raise ValueError(
                        f"{self.path}[{self.hdu}]: cannot decompress the image (corrupt or "
                        f"truncated file): {exc}"
                    ) from exc
        finally:
            _CACHE.release(key)
        _convert(raw, out, self.bitpix, self.bzero, self.bscale, self.blank)


def _normalise_window(shape: tuple[int, ...], window: Sequence[slice] | None) -> tuple[slice, ...]:
    window = tuple(window or ())
    if len(window) > len(shape):
        raise ValueError(f"window has {len(window)} axes, image has {len(shape)}")
    window = window + (slice(None),) * (len(shape) - len(window))
    out = []
    for s, n in zip(window, shape):
        if not isinstance(s, slice):
            raise TypeError(f"window must be a tuple of slices, got {s!r}")
        start, stop, step = s.indices(n)
        if step < 1:
            raise ValueError("window slices must have a positive step")
        out.append(slice(start, max(start, stop), step))
    return tuple(out)


def _contiguous_runs(shape: tuple[int, ...], win: tuple[slice, ...]) -> Iterator[tuple[int, int]]:
    """Yield ``(element_offset, count)`` runs covering ``win`` in C order.

    Trailing axes taken whole (step 1) merge with the axis before them, so a
    full-width strip of rows is a single run.
    """
    ndim = len(shape)
    strides = [1] * ndim
    for k in range(ndim - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    m = ndim  # axes m.. are whole with step 1
    while m > 0 and win[m - 1].step == 1 and win[m - 1].start == 0 and win[m - 1].stop == shape[m - 1]:
        m -= 1
    if m == 0:
        yield 0, int(np.prod(shape))
        return
    block_axis = m - 1
    if win[block_axis].step == 1:
        count = (win[block_axis].stop - win[block_axis].start) * strides[block_axis]
        outer = list(range(block_axis))
        inner_start = win[block_axis].start * strides[block_axis]
    else:  # a stepped axis cannot be merged: one run per index of it
        count = strides[block_axis]
        outer = list(range(block_axis + 1))
        inner_start = 0
    ranges = [range(win[k].start, win[k].stop, win[k].step) for k in outer]

    def rec(level: int, base: int) -> Iterator[tuple[int, int]]:
        if level == len(ranges):
            yield base + inner_start, count
            return
        for idx in ranges[level]:
            yield from rec(level + 1, base + idx * strides[outer[level]])

    yield from rec(0, 0)


def _pread_into(fd: int, buf: np.ndarray, offset: int) -> None:
    """Fill ``buf`` (uint8, contiguous) from ``fd`` at ``offset`` (loops on short reads)."""
    view = memoryview(buf)
    done = 0
    total = len(view)
    while done < total:
        got = os.preadv(fd, [view[done:]], offset + done)
        if got <= 0:
            raise OSError(f"unexpected end of FITS data (needed {total} bytes at {offset})")
        done += got


def _convert(raw: np.ndarray, out: np.ndarray, bitpix: int, bzero: Any, bscale: Any, blank: Any) -> None:
    """Raw big-endian disk values -> physical values in ``out`` (astropy's arithmetic)."""
    dtype, rule = _output_dtype(bitpix, bzero, bscale, blank)
    if rule == "plain":
        out[...] = raw
        return
    if rule == "unsigned":
        bits = raw.dtype.itemsize * 8
        flipped = raw.view(raw.dtype.str.replace("i", "u")) ^ np.array(1 << (bits - 1), raw.dtype.str.replace("i", "u"))
        out[...] = flipped
        return
    if rule == "int8":
        out[...] = raw
        out -= 128
        return
    # scaled: convert in the dtype astropy would give, then cast into out
    work = out if out.dtype == dtype else np.empty(raw.shape, dtype)
    work[...] = raw
    if bscale != 1:
        np.multiply(work, bscale, work)
    if bzero != 0:
        work += bzero
    if blank and bitpix > 0:
        work[raw == blank] = np.nan
    if work is not out:
        out[...] = work


def probe(path: str | os.PathLike[str], hdu: int | str | None = None) -> FitsFrame:
    """Describe the image of a FITS file without reading its data.

    Parameters
    ----------
    path : str or path-like
        FITS file.
    hdu : int or str, optional
        HDU index or EXTNAME.  Default: the first HDU with image data
        (the primary HDU, or the first compressed/image extension).

    Returns
    -------
    FitsFrame
    """
    from astropy.io import fits

    path = os.fspath(path)
    if hdu is None or isinstance(hdu, int):
        frame = _probe_plain(path, hdu)
        if frame is not None:
            return frame
    try:
        hdul = fits.open(path, memmap=False, lazy_load_hdus=True)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, TypeError) as exc:
        # reliability: astropy's message ("Empty or corrupt FITS file") omits the file
        raise OSError(f"{path}: not a readable FITS file: {exc}") from exc
    with hdul:
        if hdu is None:
            index = None
            for i, h in enumerate(hdul):
                if isinstance(h, fits.CompImageHDU) or (
                    h.is_image and h.header.get("NAXIS", 0) > 0
                ):
                    index = i
                    break
            if index is None:
                raise ValueError(f"{path}: no image data in any HDU")
        else:
            index = hdul.index_of(hdu)
        h = hdul[index]
        header = h.header
        naxis = int(header.get("NAXIS", 0))
        if naxis == 0:
            raise ValueError(f"{path}[{index}]: HDU has no data")
        shape = tuple(int(header[f"NAXIS{k}"]) for k in range(naxis, 0, -1))
        bitpix = int(header["BITPIX"])
        # reliability: a corrupt header is a clear ValueError naming the file, not a
        # KeyError (BITPIX) or a garbage shape
        if bitpix not in _BITPIX_DISK:
            raise ValueError(
                f"{path}[{index}]: BITPIX = {bitpix} is not a FITS pixel type "
                "(8, 16, 32, 64, -32 or -64); the file is corrupt"
            )
        if any(s < 0 for s in shape):
            raise ValueError(f"{path}[{index}]: negative NAXISn in the header {shape}; the file is corrupt")
        bzero = _pyscalar(header.get("BZERO", 0))
        bscale = _pyscalar(header.get("BSCALE", 1))
        blank = _pyscalar(header.get("BLANK")) if bitpix > 0 else None
        if isinstance(h, fits.CompImageHDU):
            return FitsFrame(path, index, shape, bitpix, bzero, bscale, blank, 0, True,
                             tuple(int(t) for t in h.tile_shape))
        if not h.is_image:
            raise ValueError(f"{path}[{index}]: not an image HDU")
        offset = int(hdul.fileinfo(index)["datLoc"])
        # reliability: a truncated file fails here, naming the file, instead of in the
        # middle of a combine ("unexpected end of FITS data")
        need = offset + int(np.prod(shape, dtype=np.int64)) * (abs(bitpix) // 8)
        size = os.path.getsize(path)
        if size < need:
            raise ValueError(
                f"{path}[{index}]: truncated FITS file: the header needs {need} bytes, "
                f"the file has {size}"
            )
        return FitsFrame(path, index, shape, bitpix, bzero, bscale, blank, offset, False,
                         (1,) * (naxis - 1) + (shape[-1],))


def _probe_plain(path: str, hdu: int | None) -> FitsFrame | None:
    """:func:`probe` of an uncompressed image from its structural cards (no astropy).

    None when the file is anything else (compressed, a table first, an unusual or
    malformed header, truncated data): :func:`probe` then asks astropy, which also words
    the errors. The values equal astropy's: integer literals stay int, others float.
    """
    try:
        for h in _cards.walk(path):
            if hdu is None:
                if not h.is_image:
                    return None  # e.g. a compressed image (a table): astropy
                if h.npix == 0 and h.index == 0:
                    continue  # empty primary: look at the first extension
            elif h.index != hdu:
                continue
            if not h.is_image or not h.dims or h.pcount != 0 or h.gcount != 1:
                return None
            if h.bitpix not in _BITPIX_DISK or h.npix == 0:
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


def probe_many(paths: Sequence[str | os.PathLike[str]], hdu: int | str | None = None) -> list[FitsFrame]:
    """:func:`probe` every path (headers only)."""
    return [probe(p, hdu) for p in paths]


# --------------------------------------------------------------------------
# writing: preallocated multi-extension file + region targets
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class HduSpec:
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
    """

    name: str
    shape: tuple[int, ...]
    dtype: Any
    cards: tuple[tuple[str, Any, str], ...] = ()


def _bitpix_for(dtype: np.dtype) -> tuple[int, int]:
    """(BITPIX, BZERO) used to store ``dtype``."""
    dtype = np.dtype(dtype)
    table = {
        np.dtype(bool): (8, 0),
        np.dtype(np.uint8): (8, 0),
        np.dtype(np.int16): (16, 0),
        np.dtype(np.uint16): (16, 1 << 15),
        np.dtype(np.int32): (32, 0),
        np.dtype(np.uint32): (32, 1 << 31),
        np.dtype(np.int64): (64, 0),
        np.dtype(np.float32): (-32, 0),
        np.dtype(np.float64): (-64, 0),
    }
    try:
        return table[dtype.newbyteorder("=")]
    except KeyError:
        raise TypeError(f"cannot store dtype {dtype} in FITS; cast explicitly") from None


def _header_for(spec: HduSpec, primary: bool):
    from astropy.io import fits

    bitpix, bzero = _bitpix_for(spec.dtype)
    h = fits.Header()
    if primary:
        h["SIMPLE"] = True
    else:
        h["XTENSION"] = ("IMAGE", "image extension")
    h["BITPIX"] = bitpix
    h["NAXIS"] = len(spec.shape)
    for k, n in enumerate(reversed(spec.shape), start=1):
        h[f"NAXIS{k}"] = int(n)
    if primary:
        h["EXTEND"] = True
    else:
        h["PCOUNT"] = 0
        h["GCOUNT"] = 1
        h["EXTNAME"] = spec.name
    if bzero:
        h["BSCALE"] = 1
        h["BZERO"] = bzero
    for key, value, comment in spec.cards:
        if key in h and key in ("SIMPLE", "BITPIX", "NAXIS", "EXTEND", "XTENSION"):
            continue
        if len(key) > 8:
            h[f"HIERARCH {key}"] = (value, comment)
        else:
            h[key] = (value, comment)
    return h


@dataclass(frozen=True)
class FitsRegionTarget:
    """Write regions of one HDU's data in a preallocated FITS file.

    Picklable (path + offset), so ``dask.distributed`` workers can write their
    tiles directly (the file must be on a filesystem they share).  Supports
    ``target[window] = values`` like an array, as ``dask.array.store`` needs.
    """

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
        win = _normalise_window(self.shape, index)
        if any(s.step != 1 for s in win):
            raise ValueError("region writes need step-1 slices")
        wshape = tuple(s.stop - s.start for s in win)
        value = np.broadcast_to(np.asarray(value), wshape)
        bitpix, bzero = _bitpix_for(np.dtype(self.dtype))
        disk = np.dtype(_BITPIX_DISK[bitpix])
        if bzero:
            # stored = value - BZERO, i.e. the top bit flipped, then big-endian bytes
            unsigned = np.dtype(disk.str.replace("i", "u")).newbyteorder("=")
            flipped = value.astype(unsigned) ^ np.array(bzero, unsigned)
            raw = np.ascontiguousarray(flipped, dtype=flipped.dtype.newbyteorder(">")).view(disk)
        else:
            raw = np.ascontiguousarray(value, dtype=disk)
        flat = raw.reshape(-1).view(np.uint8)
        fd = os.open(self.path, os.O_WRONLY)
        try:
            pos = 0
            for elem_offset, count in _contiguous_runs(self.shape, win):
                nbytes = count * disk.itemsize
                view = memoryview(flat[pos : pos + nbytes])
                done = 0
                while done < nbytes:
                    done += os.pwrite(fd, view[done:], self.offset + elem_offset * disk.itemsize + done)
                pos += nbytes
        finally:
            os.close(fd)


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
            header = _header_for(spec, primary=(k == 0))
            text = header.tostring().encode("ascii")
            f.write(text)
            pos += len(text)
            bitpix, _ = _bitpix_for(spec.dtype)
            nbytes = int(np.prod(spec.shape)) * abs(bitpix) // 8
            targets[spec.name] = FitsRegionTarget(path, pos, tuple(int(n) for n in spec.shape),
                                                  np.dtype(spec.dtype).newbyteorder("=").name)
            pos += -(-nbytes // _BLOCK) * _BLOCK
            f.seek(pos)
        f.truncate(pos)  # sparse zero fill: nothing written until regions come
    return targets
