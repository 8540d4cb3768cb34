"""Planes of a stack: per-sample variance, per-pixel weights and integer DQ words.

A plane has one value per sample, like the stack itself, and reaches the kernel the way
the frames do: N flat, C-contiguous, native-endian arrays (views of the user's arrays
whenever possible, converted one frame at a time otherwise).  The rules for what the
planes mean (which samples count, v' = V / s**2, the products) are in docs/design.md,
"Survey planes".

FITS extensions are named by EXTNAME; :func:`variance_spec` tells how an extension's
values become variances (``ERR`` squared, ``WHT`` inverted) and :func:`to_variance`
converts them on read.  Every reader (the in-memory FITS helpers, the out-of-core
sources, the command line) uses these two, so the conversion is written once.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._record import Record
from ._validate import check_memory

__all__ = [
    "VARIANCE_KINDS",
    "EXTNAME_KINDS",
    "PlaneSpec",
    "Planes",
    "variance_spec",
    "plane_spec",
    "to_variance",
    "prepare_planes",
    "is_pixel_weights",
    "is_inverse_variance",
    "dq_unsigned",
    "as_bad_bits",
    "as_nodata_bit",
    "unusable_samples",
    "split_weights",
]

#: How an input plane's values relate to the variance.
VARIANCE_KINDS = ("variance", "stddev", "inverse_variance")

#: EXTNAMEs whose meaning is known (upper case) -> kind of their values.
EXTNAME_KINDS: dict[str, str] = {
    "VAR": "variance", "VARIANCE": "variance",
    "ERR": "stddev", "ERROR": "stddev", "SIGMA": "stddev", "STD": "stddev", "STDDEV": "stddev",
    "UNCERT": "stddev",
    "WHT": "inverse_variance", "WEIGHT": "inverse_variance", "IVAR": "inverse_variance",
    "INVVAR": "inverse_variance",
}

_INVERSE_VARIANCE = ("inverse_variance", "ivar")


class PlaneSpec(Record):
    """A plane read from an image extension of every input file.

    Attributes
    ----------
    extname
        EXTNAME of the extension (an integer HDU index is accepted too).
    kind
        ``"variance"``, ``"stddev"`` or ``"inverse_variance"`` for a variance plane,
        ``"dq"`` for DQ words, ``"weights"`` for per-pixel weights.
    version
        EXTVER when several extensions share the name (None: the first).
    """

    extname: str | int
    kind: str
    version: int | None = None

    @property
    def hdu(self) -> str | int | tuple[str, int]:
        """What a FITS reader takes to find the extension."""
        if self.version is not None and isinstance(self.extname, str):
            return (self.extname, self.version)
        return self.extname


def _split_name(spec: Any, what: str) -> tuple[str | int, int | None, str | None]:
    """``"ERR"``, ``"ERR,2"``, ``("ERR", "stddev")``, ``("ERR", 2, "stddev")``, 3 -> parts."""
    kind = None
    version = None
    if isinstance(spec, (tuple, list)):
        parts = list(spec)
        if len(parts) >= 2 and isinstance(parts[-1], str) and not isinstance(parts[0], numbers.Integral):
            kind = parts.pop()
        if len(parts) == 2:
            version = parts.pop()
        if len(parts) != 1:
            raise ValueError(f"{what}: expected an EXTNAME, (EXTNAME, kind) or (EXTNAME, EXTVER, kind); got {spec!r}")
        spec = parts[0]
    if isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
        return int(spec), None, kind
    if not isinstance(spec, str) or not spec.strip():
        raise TypeError(f"{what}: expected an extension name such as 'VAR'; got {spec!r}")
    name = spec.strip()
    if "," in name:  # IRAF-style "ERR,2"
        base, _, ver = name.partition(",")
        name, version = base.strip(), ver.strip()
    if version is not None:
        try:
            version = int(version)
        except (TypeError, ValueError):
            raise ValueError(f"{what}: EXTVER must be an integer; got {version!r}") from None
    return name.upper(), version, kind


def variance_spec(spec: Any, what: str = "variance") -> PlaneSpec:
    """The variance plane named by ``spec`` (``"VAR"``, ``"ERR"``, ``("NAME", kind)``).

    The kind of a known EXTNAME (:data:`EXTNAME_KINDS`) is inferred; any other name (or
    an HDU index) needs the kind: ``("NAME", "variance" | "stddev" | "inverse_variance")``.
    """
    name, version, kind = _split_name(spec, what)
    if kind is None:
        kind = EXTNAME_KINDS.get(name) if isinstance(name, str) else None
        if kind is None:
            known = ", ".join(sorted(EXTNAME_KINDS))
            raise ValueError(
                f"{what}: the meaning of extension {name!r} is not known (known: {known}); give it as "
                f"({name!r}, 'variance' | 'stddev' | 'inverse_variance')"
            )
    kind = str(kind).strip().lower()
    if kind == "ivar":
        kind = "inverse_variance"
    if kind not in VARIANCE_KINDS:
        raise ValueError(f"{what}: kind must be one of {', '.join(VARIANCE_KINDS)}; got {kind!r}")
    return PlaneSpec(name, kind, version)


def plane_spec(spec: Any, kind: str, what: str) -> PlaneSpec:
    """A DQ (``kind="dq"``) or weight (``kind="weights"``) extension named by ``spec``."""
    name, version, given = _split_name(spec, what)
    if given is not None:
        raise ValueError(f"{what}: give only the extension name (and EXTVER); got {spec!r}")
    return PlaneSpec(name, kind, version)


def to_variance(values: np.ndarray, kind: str) -> np.ndarray:
    """Variances from an extension's values (float array; converted in place when it is one).

    ``stddev`` -> values**2; ``inverse_variance`` -> 1/values (a weight of 0 becomes an
    infinite variance, so the sample is not used); ``variance`` unchanged.
    """
    if kind not in VARIANCE_KINDS:
        raise ValueError(f"variance kind must be one of {', '.join(VARIANCE_KINDS)}; got {kind!r}")
    arr = values if values.dtype.kind == "f" else values.astype(np.float64)
    if kind == "stddev":
        np.multiply(arr, arr, out=arr)
    elif kind == "inverse_variance":
        with np.errstate(divide="ignore"):
            np.divide(1.0, arr, out=arr)
    return arr


# --------------------------------------------------------------------------- planes


class Planes(Record, eq=False):
    """The planes of N frames, ready for the kernel (each None when not given).

    Attributes
    ----------
    variance, weights
        N flat C-contiguous native float32/float64 arrays (raw-unit variances; per-pixel
        weights).
    dq
        N flat C-contiguous native uint8/uint16/uint32 arrays (signed DQ as its unsigned
        view).
    """

    variance: tuple[np.ndarray, ...] | None = None
    weights: tuple[np.ndarray, ...] | None = None
    dq: tuple[np.ndarray, ...] | None = None

    @property
    def dq_dtype(self) -> np.dtype:
        """dtype of the output DQ: the input's (unsigned) or uint8 without a DQ input."""
        return np.dtype(np.uint8) if self.dq is None else self.dq[0].dtype

    def kernel_dict(self) -> dict[str, list[np.ndarray]]:
        """The ``planes`` argument of ``_core.run``."""
        return {name: list(v) for name, v in (("variance", self.variance), ("weights", self.weights),
                                               ("dq", self.dq)) if v is not None}

    def bytes_per_pixel(self) -> int:
        """Bytes of every plane's N samples of one pixel (memory estimates)."""
        return sum(len(v) * v[0].dtype.itemsize for v in (self.variance, self.weights, self.dq) if v)


def is_inverse_variance(weights: Any) -> bool:
    """``weights`` asks for inverse-variance weights."""
    return isinstance(weights, str) and weights.strip().lower() in _INVERSE_VARIANCE


def is_pixel_weights(weights: Any, n: int, spatial: tuple[int, ...]) -> bool:
    """``weights`` is one weight per sample (an array of the stack's shape, or N frames)."""
    if weights is None or isinstance(weights, str) or callable(weights):
        return False
    if isinstance(weights, (list, tuple)):
        return len(weights) == n and len(spatial) > 0 and all(np.ndim(w) == len(spatial) for w in weights)
    return np.ndim(weights) == len(spatial) + 1


def dq_unsigned(dtype: Any, name: str = "dq") -> np.dtype:
    """The unsigned dtype DQ words of ``dtype`` are read as (native byte order).

    Raises
    ------
    TypeError
        For booleans (a mask: use ``mask=``), floats and integers wider than 32 bits.
    """
    dt = np.dtype(dtype)
    if dt.kind == "b":
        raise TypeError(f"{name} holds booleans, which are a mask: pass them as mask= (True = bad); "
                        "dq= takes integer DQ words")
    if dt.kind not in "iu":
        raise TypeError(f"{name} must hold integer DQ words (uint8, uint16, uint32, int16, int32); "
                        f"got dtype {dt}")
    if dt.itemsize > 4:
        raise TypeError(f"{name} has dtype {dt}: DQ words wider than 32 bits are not supported; "
                        f"cast to uint32 (e.g. {name}.astype(np.uint32))")
    return np.dtype(f"u{dt.itemsize}")


def as_bad_bits(bad_bits: Any, dq_dtype: np.dtype) -> int:
    """``bad_bits`` -> an int mask within the DQ width (None: every bit)."""
    width = 8 * np.dtype(dq_dtype).itemsize
    full = (1 << width) - 1
    if bad_bits is None:
        return full
    if isinstance(bad_bits, bool) or not isinstance(bad_bits, (numbers.Integral, np.integer)):
        if isinstance(bad_bits, (list, tuple, set, frozenset)):
            value = 0
            for b in bad_bits:
                value |= as_bad_bits(b, dq_dtype)
            return value
        raise TypeError(f"bad_bits must be an integer bit mask (e.g. 1 | 4 | 16) or a sequence of them; got {bad_bits!r}")
    value = int(bad_bits)
    if value < 0 or value > full:
        raise ValueError(f"bad_bits must be in [0, {full}] for {width}-bit DQ words; got {value}")
    return value


def as_nodata_bit(nodata_bit: Any, dq_dtype: np.dtype) -> int:
    """``nodata_bit`` -> one bit (or 0) within the output DQ's width (None: the top bit)."""
    width = 8 * np.dtype(dq_dtype).itemsize
    if nodata_bit is None:
        return 1 << (width - 1)
    if isinstance(nodata_bit, bool) or not isinstance(nodata_bit, (numbers.Integral, np.integer)):
        raise TypeError(f"nodata_bit must be an integer (one bit, e.g. 16, or 0 for none); got {nodata_bit!r}")
    value = int(nodata_bit)
    if value < 0 or value >= (1 << width) or (value & (value - 1)) != 0:
        raise ValueError(f"nodata_bit must be 0 or a single bit (a power of two) below 2**{width} for "
                         f"{width}-bit DQ words; got {value}")
    return value


def unusable_samples(dq: np.ndarray | None, variance: np.ndarray | None,
                     bad_bits: int | None) -> np.ndarray | None:
    """Samples of one frame that its planes exclude: a bad DQ bit, or a variance that is
    not finite or not positive (raw units); None when neither plane is given.

    Why: the per-frame statistics of zero/scale/weights must skip the samples the combine
    skips, and the kernel reads these planes instead of masks (the out-of-core
    statistics pass and the in-memory API both call this).
    """
    out = None
    if dq is not None:
        words = _as_unsigned(np.asarray(dq))
        bits = np.iinfo(words.dtype).max if bad_bits is None else int(bad_bits)
        out = (words & words.dtype.type(bits & np.iinfo(words.dtype).max)) != 0
    if variance is not None:
        v = np.asarray(variance)
        with np.errstate(invalid="ignore"):
            bad = ~(np.isfinite(v) & (v > 0))
        out = bad if out is None else (out | bad)
    return out


def _frames_of(x: Any, n: int, spatial: tuple[int, ...], name: str, *, shared_ok: bool) -> list[np.ndarray]:
    """N frame arrays of a plane argument: (N, *spatial), a list of N, or one shared frame."""
    if isinstance(x, (list, tuple)):
        if len(x) != n:
            raise ValueError(f"{name} has {len(x)} frames but the stack has {n}")
        items = [np.asarray(f) for f in x]
        for i, f in enumerate(items):
            if f.shape != spatial:
                raise ValueError(f"{name}[{i}] has shape {f.shape} but a frame has shape {spatial}")
        return items
    if isinstance(x, str) or callable(x):
        raise TypeError(f"{name}: give an array of the stack's shape {(n, *spatial)} (an extension name "
                        "such as 'VAR' only works with FITS file inputs)")
    arr = np.asarray(x)
    if arr.shape == (n, *spatial):
        return list(arr)
    if shared_ok and arr.shape == spatial:
        return [arr] * n
    also = f" (or one frame's shape {spatial})" if shared_ok else ""
    raise ValueError(f"{name} has shape {arr.shape} but the stack has shape {(n, *spatial)}; it must match{also}")


def _as_unsigned(f: np.ndarray) -> np.ndarray:
    """Signed DQ words seen as the unsigned integers of the same width (a view, bits kept)."""
    if f.dtype.kind == "i":
        return f.view(f.dtype.str.replace("i", "u"))
    return f


def _flat(frames: list[np.ndarray], dtype: np.dtype, m: int, name: str, copy: bool) -> tuple[np.ndarray, ...]:
    """N flat arrays of ``dtype``: views where possible, one converted frame at a time
    otherwise (a frame shared by every frame is converted once)."""
    if dtype.kind == "u":
        seen: dict[int, np.ndarray] = {}
        frames = [seen.setdefault(id(f), _as_unsigned(f)) for f in frames]
    convert = {id(f) for f in frames if copy or f.dtype != dtype or not f.flags.c_contiguous}
    check_memory(len(convert) * m * dtype.itemsize, what=f"converting frames of {name}")
    done: dict[int, np.ndarray] = {}
    out = []
    for f in frames:
        key = id(f)
        if key in convert:
            if key not in done:
                done[key] = np.array(f, dtype=dtype, order="C", copy=True).reshape(m)
            out.append(done[key])
        else:
            out.append(f.reshape(m))
    return tuple(out)


def _float_plane(x: Any, n: int, spatial: tuple[int, ...], m: int, name: str, copy: bool) -> tuple[np.ndarray, ...]:
    frames = _frames_of(x, n, spatial, name, shared_ok=False)
    for i, f in enumerate(frames):
        if f.dtype.kind not in "iuf":
            raise TypeError(f"{name}[{i}] must be numeric; got dtype {f.dtype}")
    native = {f.dtype.newbyteorder("=") for f in frames}
    # float32/float64 are read as they are; anything else (integers, a mix) becomes float64
    one = native.pop() if len(native) == 1 else None
    dtype = one if one in (np.dtype(np.float32), np.dtype(np.float64)) else np.dtype(np.float64)
    return _flat(frames, dtype, m, name, copy)


def _dq_plane(x: Any, n: int, spatial: tuple[int, ...], m: int, copy: bool) -> tuple[np.ndarray, ...]:
    frames = _frames_of(x, n, spatial, "dq", shared_ok=True)
    out_dtypes = set()
    conv: list[np.ndarray] = []
    wide: dict[int, np.ndarray] = {}
    for i, f in enumerate(frames):
        if f.dtype.kind in "iu" and f.dtype.itemsize > 4:
            # Python ints land in int64: accept them when every word fits in 32 bits
            if id(f) not in wide:
                if f.size and (f.min() < 0 or f.max() > 0xFFFFFFFF):
                    raise ValueError(f"dq[{i}] has DQ words outside [0, 2**32); cast to uint32 explicitly")
                wide[id(f)] = f.astype(np.uint32)
            f = wide[id(f)]
        out_dtypes.add(dq_unsigned(f.dtype, f"dq[{i}]" if isinstance(x, (list, tuple)) else "dq"))
        conv.append(f)
    # mixed widths: every frame widened to the widest (bit patterns kept)
    dtype = max(out_dtypes, key=lambda d: d.itemsize)
    return _flat(conv, dtype, m, "dq", copy)


def _names_extension(value: Any) -> bool:
    """A plane argument that names an extension of FITS inputs (not an array)."""
    return isinstance(value, (str, PlaneSpec)) or (isinstance(value, tuple) and bool(value)
                                                   and isinstance(value[0], str))


def planes_from_files(stack: Any, value: Any, role: str) -> Any:
    """A plane given as an extension name of the FITS file stack -> its N frames.

    ``value`` is returned unchanged unless it names an extension (``"VAR"``, ``"ERR"``,
    ``("NOISE", "stddev")``, ``"DQ"``); then every file's extension is read (the file of an
    image name ``a.fits[SCI]``, not its HDU) and variances converted on read as in
    :func:`to_variance`.
    """
    if value is None or not _names_extension(value):
        return value
    import os

    if not (isinstance(stack, (list, tuple)) and stack and all(isinstance(p, (str, os.PathLike)) for p in stack)):
        raise TypeError(f"{role}={value!r} names a FITS extension: the stack must then be FITS file names")
    from .io.fits import split_name
    from .io.fits.stack import load_images

    spec = variance_spec(value) if role == "variance" else plane_spec(value, role, role)
    files = [split_name(p)[0] for p in stack]
    frames = load_images(files, hdu=spec.hdu, what=role).frames
    if role == "variance" and spec.kind != "variance":
        frames = [to_variance(np.array(f, dtype=np.result_type(f.dtype, np.float32), copy=True), spec.kind)
                  for f in frames]
    return frames


def prepare_planes(
    n: int,
    spatial: tuple[int, ...],
    *,
    variance: Any = None,
    weights: Any = None,
    dq: Any = None,
    copy: bool = False,
) -> Planes | None:
    """Validate plane arguments and return :class:`Planes` (None when none is given).

    Parameters
    ----------
    n, spatial
        Number of frames and their shape.
    variance
        Variances in raw units: ``(N, *spatial)`` array or N frames (float32/float64
        kept; integers become float64).
    weights
        Per-pixel weights of the same forms (per-frame weights are not a plane).
    dq
        Integer DQ words: ``(N, *spatial)``, N frames or one frame shared by all.
    copy
        Hold private copies.
    """
    if variance is None and weights is None and dq is None:
        return None
    m = int(np.prod(spatial, dtype=np.int64))
    var = None if variance is None else _float_plane(variance, n, spatial, m, "variance", copy)
    wts = None if weights is None else _float_plane(weights, n, spatial, m, "weights", copy)
    dqs = None if dq is None else _dq_plane(dq, n, spatial, m, copy)
    return Planes(var, wts, dqs)


def planes_from_sequences(variance: Sequence[np.ndarray] | None = None, weights: Sequence[np.ndarray] | None = None,
                          dq: Sequence[np.ndarray] | None = None) -> Planes | None:
    """Planes from already flat, kernel-ready arrays (the out-of-core tiles)."""
    if variance is None and weights is None and dq is None:
        return None
    return Planes(None if variance is None else tuple(variance), None if weights is None else tuple(weights),
                  None if dq is None else tuple(dq))


def split_weights(weights: Any, n: int, spatial: tuple[int, ...],
                  planes: Planes | None) -> tuple[str | None, Any, Planes | None]:
    """Sort a ``weights`` argument into (weighting, per-frame weights, planes).

    ``"inverse_variance"`` -> ("inverse_variance", None, planes); one weight per sample
    -> ("pixel", None, planes with a weights plane); anything else (None, numbers, a
    statistic name, a callable) is per-frame and returned as given, with weighting None
    (the caller resolves it; resolved numbers mean "frame").
    """
    if is_inverse_variance(weights):
        return "inverse_variance", None, planes
    if is_pixel_weights(weights, n, spatial):
        wp = prepare_planes(n, spatial, weights=weights)
        assert wp is not None
        if planes is None:
            return "pixel", None, wp
        return "pixel", None, Planes(planes.variance, wp.weights, planes.dq)
    return None, weights, planes
