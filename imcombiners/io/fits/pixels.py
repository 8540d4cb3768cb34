"""The one table of FITS pixel types: what the stored integers mean and how they are delivered.

A FITS image stores raw numbers of type BITPIX (big-endian); the *physical* value of a
pixel is ``BZERO + BSCALE * raw``, and a raw integer equal to BLANK is undefined. Every
reader in the library (windowed reads, memory maps, whole-image reads for the in-memory
API) asks this module what a header's pixels are and converts them with
:func:`to_physical`, so the rules live in one place:

* ``BITPIX`` + ``BZERO``/``BSCALE``/``BLANK`` -> :class:`PixelType`: the on-disk dtype,
  the physical kind (``uint16`` for BITPIX=16 with BZERO=32768, ``uint32`` for BITPIX=32
  with BZERO=2^31, ``scaled`` for anything else with BSCALE/BZERO, ...), and the dtype
  delivered to each *view*:

  ``"library"``
      :class:`~imcombiners.Combiner`, :mod:`imcombiners.dask`, the ``combine`` command:
      physical values held exactly where a kernel type can (uint32, scaled 32-bit and
      64-bit-free integers with BLANK -> float64; scaled 8/16-bit -> float32, as astropy).
  ``"iraf"``
      :func:`imcombiners.imcombine` and the ``imcombine`` command: IRAF's own pixel type
      for the file (IRAF 2.17 reads BITPIX=32 with BZERO=2^31, and every scaled integer
      image, as *real*: float32 of the physical value), so results equal IRAF's.

* BLANK (integer images only) becomes NaN, i.e. a masked sample, in both views (IRAF
  would combine the raw BLANK number as data: see ``docs/iraf-differences.md``).
* 64-bit integers (BITPIX=64) are refused, as int64 arrays are: no kernel workspace
  holds them exactly.

Writing uses :func:`bitpix_for` (dtype -> BITPIX, BZERO) from the same table.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass
from typing import Any

import numpy as np

from imcombiners._record import Record

__all__ = ["PixelType", "pixel_type", "to_physical", "bitpix_for", "disk_dtype", "VIEWS",
           "BITPIX_VALUES", "converts_in_place", "physical_in_place"]

#: Where pixels go: the library's exact view or IRAF's view of the file.
VIEWS = ("library", "iraf")

#: BITPIX -> big-endian dtype of the stored numbers.
_DISK = {8: ">u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}
BITPIX_VALUES = tuple(_DISK)

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)

#: (BITPIX, BZERO) of the FITS unsigned-integer convention (BSCALE = 1) -> physical kind.
_UNSIGNED = {(8, -128): "int8", (16, 1 << 15): "uint16", (32, 1 << 31): "uint32", (64, 1 << 63): "uint64"}

#: physical kind -> (library dtype, IRAF dtype); None = refused.
_DELIVERED: dict[str, tuple[np.dtype | None, np.dtype | None]] = {
    "uint8": (np.dtype(np.uint8), np.dtype(np.uint8)),
    "int16": (np.dtype(np.int16), np.dtype(np.int16)),
    "int32": (np.dtype(np.int32), np.dtype(np.int32)),
    "float32": (_F32, _F32),
    "float64": (_F64, _F64),
    "uint16": (np.dtype(np.uint16), np.dtype(np.uint16)),
    "int8": (_F32, _F32),  # exact in float32; IRAF: real
    "uint32": (_F64, _F32),  # exact in float64; IRAF: real (float32 of the value)
    "int64": (None, None),
    "uint64": (None, None),
}


def disk_dtype(bitpix: int) -> np.dtype:
    """Big-endian dtype of the stored numbers of a BITPIX."""
    try:
        return np.dtype(_DISK[bitpix])
    except KeyError:
        raise ValueError(
            f"BITPIX = {bitpix} is not a FITS pixel type (8, 16, 32, 64, -32 or -64)"
        ) from None


def _number(v: Any) -> Any:
    """Header numbers as Python scalars (numpy scalars would change the arithmetic)."""
    return v.item() if isinstance(v, np.generic) else v


@dataclass(init=False, repr=False, eq=False)  # a dataclass to users; methods from Record
class PixelType(Record):
    """What the stored numbers of one image mean.

    Attributes
    ----------
    bitpix : int
    bzero, bscale : int or float
        As in the header (defaults 0 and 1).
    blank : int or None
        The BLANK value of an integer image (None for float images or without BLANK).
    kind : str
        Physical kind: ``uint8``, ``int16``, ``int32``, ``int64``, ``float32``,
        ``float64`` (stored as is), ``int8``, ``uint16``, ``uint32``, ``uint64`` (the
        unsigned convention), or ``scaled`` (any other BZERO/BSCALE).
    """

    _frozen_error = FrozenInstanceError  # as the frozen dataclass it was

    bitpix: int
    bzero: Any = 0
    bscale: Any = 1
    blank: Any = None

    def __post_init__(self) -> None:
        disk_dtype(self.bitpix)  # validates BITPIX
        object.__setattr__(self, "bzero", _number(self.bzero))
        object.__setattr__(self, "bscale", _number(self.bscale))
        blank = _number(self.blank) if self.bitpix > 0 else None
        object.__setattr__(self, "blank", blank)

    @property
    def disk(self) -> np.dtype:
        """Big-endian dtype of the stored numbers."""
        return disk_dtype(self.bitpix)

    @property
    def kind(self) -> str:
        if self.bscale == 1 and self.bzero == 0:
            return disk_dtype(self.bitpix).newbyteorder("=").name
        if self.bscale == 1 and (self.bitpix, self.bzero) in _UNSIGNED:
            return _UNSIGNED[(self.bitpix, self.bzero)]
        return "scaled"

    @property
    def is_plain(self) -> bool:
        """Stored numbers are the values (no scaling, no BLANK)."""
        return self.bscale == 1 and self.bzero == 0 and self.blank is None

    def dtype(self, view: str = "library") -> np.dtype:
        """dtype delivered to ``view`` (``"library"`` or ``"iraf"``).

        Raises
        ------
        TypeError
            For 64-bit integers (no exact workspace).
        """
        if view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}; got {view!r}")
        kind = self.kind
        if kind in ("int64", "uint64") or (kind == "scaled" and self.bitpix == 64):
            raise TypeError(
                f"64-bit integer pixels (BITPIX=64, {kind}) cannot be combined without loss; "
                "convert the file to float64 (or int32 when the values fit) first"
            )
        if kind == "scaled":
            if self.bitpix == -64:
                return _F64
            if view == "iraf":
                return _F32  # IRAF reads every scaled image as real
            return _F64 if self.bitpix == 32 else _F32
        lib, iraf = _DELIVERED[kind]
        dt = lib if view == "library" else iraf
        if self.blank is not None and dt is not None and dt.kind in "iu":
            # a BLANK pixel is NaN: the smallest float type holding every value exactly
            dt = _F64 if dt.itemsize >= 4 else _F32
        return dt  # type: ignore[return-value]


def pixel_type(bitpix: int, bzero: Any = 0, bscale: Any = 1, blank: Any = None) -> PixelType:
    """:class:`PixelType` of a header's BITPIX, BZERO, BSCALE and BLANK."""
    return PixelType(int(bitpix), 0 if bzero is None else bzero, 1 if bscale is None else bscale, blank)


def to_physical(raw: np.ndarray, ptype: PixelType, out: np.ndarray) -> np.ndarray:
    """Convert stored numbers (any byte order) into ``out`` (physical values, NaN for BLANK).

    The values are exact wherever ``out``'s dtype can hold them: unsigned conventions
    flip the sign bit (integer arithmetic), other scaling is computed in float64
    (``raw * BSCALE + BZERO``) and rounded once to ``out``'s dtype.

    Parameters
    ----------
    raw : ndarray
        Stored numbers of ``ptype.bitpix`` (big- or little-endian), any shape.
    ptype : PixelType
    out : ndarray
        Destination of ``raw``'s shape (any numeric dtype that holds the values).
    """
    kind = ptype.kind
    blank = ptype.blank
    if kind in _UNSIGNED.values() and kind != "int8":
        bits = raw.dtype.itemsize * 8
        udt = raw.dtype.str.replace("i", "u")
        # physical = raw + 2^(bits-1) is the raw word with its top bit flipped
        out[...] = raw.view(udt) ^ np.array(1 << (bits - 1), udt)
        if blank is not None:
            out[raw == blank] = np.nan
        return out
    if kind == "scaled" or kind == "int8":
        work = raw.astype(_F64)  # one rounding per operation, in float64
        if ptype.bscale != 1:
            np.multiply(work, float(ptype.bscale), out=work)
        if ptype.bzero != 0:
            np.add(work, float(ptype.bzero), out=work)
        if blank is not None:
            work[raw == blank] = np.nan
        out[...] = work
        return out
    out[...] = raw
    if blank is not None:
        out[raw == blank] = np.nan
    return out


#: physical kinds whose values fit the stored words' size: converted where they were read.
_IN_PLACE = {"uint8": np.dtype(np.uint8), "int16": np.dtype(np.int16), "int32": np.dtype(np.int32),
             "float32": _F32, "float64": _F64, "uint16": np.dtype(np.uint16)}


def converts_in_place(ptype: PixelType, dtype: Any) -> bool:
    """Whether stored words read into an array of ``dtype`` can become the physical values
    where they are (:func:`physical_in_place`): same item size, no scaling beyond the
    unsigned convention, no BLANK."""
    want = _IN_PLACE.get(ptype.kind)
    return want is not None and ptype.blank is None and np.dtype(dtype) == want


def physical_in_place(words: np.ndarray, ptype: PixelType) -> np.ndarray:
    """Turn stored (big-endian) words held in a native array of the physical dtype into the
    values, in place: a byte swap (then, for uint16, the sign bit flipped).

    The values equal :func:`to_physical`'s; no second array is allocated, which matters
    for a strip of a frame that is converted while it is still in the CPU's cache.
    """
    if not converts_in_place(ptype, words.dtype):
        raise ValueError(f"{ptype.kind} pixels cannot be converted in place into {words.dtype}")
    size = words.dtype.itemsize
    if size == 1:
        return words
    if words.flags.c_contiguous and words.flags.writeable:
        # One vectorised pass in the kernels (swap, and the top bit for uint16): NumPy's
        # byteswap is a scalar loop, a tenth of a small command-line job.
        from ... import _core  # loaded already by whoever reads pixels to combine them

        _core.stored_to_native(words.view(f"u{size}"), ptype.kind == "uint16")
        return words
    words.byteswap(inplace=True)
    if ptype.kind == "uint16":
        np.bitwise_xor(words, np.uint16(1 << 15), out=words)
    return words


#: dtype -> (BITPIX, BZERO) used to store it (the writer's side of the table).
_STORED = {
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


def bitpix_for(dtype: Any) -> tuple[int, int]:
    """(BITPIX, BZERO) that store ``dtype`` (unsigned integers with the BZERO convention)."""
    dt = np.dtype(dtype)
    try:
        return _STORED[dt.newbyteorder("=") if dt.byteorder not in ("=", "|") else dt]
    except KeyError:
        raise TypeError(f"cannot store dtype {dt} in FITS; cast explicitly") from None
