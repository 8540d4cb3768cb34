"""Validation helpers shared by every entry point.

Everything here raises ``TypeError`` / ``ValueError`` whose message starts with the
name of the offending parameter and says what is accepted, so that a user reading the
message knows what to change without reading the source.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._deprecation import NegativeCountError, ParameterTypeError

__all__ = [
    "ACCEPTED_DTYPES",
    "InsufficientMemoryError",
    "as_bool",
    "as_float",
    "as_int",
    "as_sigma_pair",
    "as_thresholds",
    "canonical_centre",
    "canonical_method",
    "canonical_stdfunc",
    "check_diagnostics",
    "check_dtype",
    "check_memory",
    "workspace_dtype",
]

# --------------------------------------------------------------------------- dtypes

#: Accepted input dtypes (native byte order) -> workspace dtype of the results.
ACCEPTED_DTYPES: dict[np.dtype, np.dtype] = {
    np.dtype(np.uint8): np.dtype(np.float32),
    np.dtype(np.uint16): np.dtype(np.float32),
    np.dtype(np.int16): np.dtype(np.float32),
    np.dtype(np.int32): np.dtype(np.float64),
    np.dtype(np.float32): np.dtype(np.float32),
    np.dtype(np.float64): np.dtype(np.float64),
}

_ACCEPTED_TEXT = "uint8, uint16, int16, int32, float32 or float64"


def check_dtype(dtype: Any, name: str = "stack") -> np.dtype:
    """Return the native-byte-order version of an accepted dtype.

    Raises
    ------
    TypeError
        For any other dtype (int64, uint32, float16, bool, complex, object, ...). We never
        cast silently: int64 and uint32 cannot be held exactly by any float workspace we
        offer, float16/bool/complex have no meaningful combine, so the caller chooses.
    """
    dt = np.dtype(dtype)
    native = dt.newbyteorder("=") if dt.byteorder not in ("=", "|") else dt
    if native not in ACCEPTED_DTYPES:
        target = "float32" if native.kind == "f" else "float64"
        extra = " (take .real or np.abs first)" if native.kind == "c" else ""
        raise TypeError(
            f"{name} has dtype {dt.name}, which is not supported: accepted dtypes are "
            f"{_ACCEPTED_TEXT}; cast explicitly{extra}, e.g. {name}.astype(np.{target})"
        )
    return native


def workspace_dtype(dtype: Any) -> np.dtype:
    """Float dtype of the results for an accepted input dtype."""
    return ACCEPTED_DTYPES[check_dtype(dtype)]


# --------------------------------------------------------------------------- names

_METHODS = {
    "mean": "mean", "average": "mean", "avg": "mean",
    "median": "median", "med": "median",
    "lmedian": "lmedian", "lmed": "lmedian",
    "sum": "sum", "summation": "sum",
    "min": "min", "minimum": "min",
    "max": "max", "maximum": "max",
    "variance": "variance", "var": "variance",
    "wavg": "wavg", "weighted_average": "wavg", "wvg": "wavg",
    "quantile": "quantile",
}

_CENTRES = {
    "mean": "mean", "average": "mean", "avg": "mean",
    "median": "median", "med": "median",
    "lmedian": "lmedian", "lmed": "lmedian", "lower_median": "lmedian",
    "lower-median": "lmedian", "lower median": "lmedian",
}

_STDFUNCS = {
    "std": "std", "standard_deviation": "std", "standard-deviation": "std",
    "mad": "mad", "mad_std": "mad", "median_absolute_deviation": "mad", "median-absolute-deviation": "mad",
    "iraf": "iraf",
}


def _canonical(value: Any, table: dict[str, str], name: str, accepted: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string ({accepted}); got {value!r}")
    try:
        return table[value.strip().lower()]
    except KeyError:
        raise ValueError(f"{name}: unknown value {value!r}; expected {accepted}") from None


def canonical_method(method: Any, name: str = "method") -> str:
    """Resolve a combine-method alias (case-insensitive) to its canonical name."""
    return _canonical(
        method, _METHODS, name,
        "mean|average|avg, median|med, lmedian|lmed, sum|summation, min|minimum, "
        "max|maximum, variance|var, wavg|weighted_average, quantile",
    )


def canonical_centre(cenfunc: Any, name: str = "cenfunc") -> str:
    """Resolve a clipping-centre alias to mean, median or lmedian."""
    return _canonical(cenfunc, _CENTRES, name, "mean|average|avg, median|med, lmedian|lmed")


def canonical_stdfunc(stdfunc: Any, name: str = "stdfunc") -> str:
    """Resolve a spread-estimator name to std, mad or iraf."""
    return _canonical(stdfunc, _STDFUNCS, name, "std, mad or iraf")


def check_diagnostics(diagnostics: Any, *, allow_none: bool = True) -> str | None:
    """Validate a ``diagnostics`` level: None, "simple" or "full"."""
    if diagnostics is None and allow_none:
        return None
    if isinstance(diagnostics, str) and diagnostics.lower() in ("simple", "full"):
        return diagnostics.lower()
    accepted = "None, 'simple' or 'full'" if allow_none else "'simple' or 'full'"
    raise ValueError(f"diagnostics must be {accepted}; got {diagnostics!r}")


# --------------------------------------------------------------------------- numbers


def _is_real_number(value: Any) -> bool:
    # bool is an int subclass but True as a sigma or count is almost always a mistake.
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def as_float(
    value: Any,
    name: str,
    *,
    finite: bool = True,
    min: float | None = None,
    positive: bool = False,
    nonzero: bool = False,
) -> float:
    """Convert a real scalar to float, checking finiteness and range."""
    if not _is_real_number(value):
        raise ParameterTypeError(f"{name} must be a real number; got {value!r}")
    v = float(value)
    if math.isnan(v) or (finite and math.isinf(v)):
        raise ValueError(f"{name} must be {'finite' if finite else 'a number (not NaN)'}; got {v}")
    if positive and not v > 0:
        raise ValueError(f"{name} must be > 0; got {v}")
    if min is not None and v < min:
        raise ValueError(f"{name} must be >= {min:g}; got {v}")
    if nonzero and v == 0:
        raise ValueError(f"{name} must be non-zero; got {v}")
    return v


def as_int(value: Any, name: str, *, min: int | None = None, max: int | None = None) -> int:
    """Convert an integral scalar to int, checking the range (floats like 3.0 accepted)."""
    if isinstance(value, (bool, np.bool_)):
        raise ParameterTypeError(f"{name} must be an integer; got {value!r}")
    if isinstance(value, numbers.Integral):
        v = int(value)
    elif isinstance(value, numbers.Real) and float(value).is_integer():
        v = int(value)
    else:
        raise ParameterTypeError(f"{name} must be an integer; got {value!r}")
    if min is not None and v < min:
        # A negative count was an OverflowError in 0.1.1: catchable as both.
        cls = NegativeCountError if (min == 0 and v < 0) else ValueError
        raise cls(f"{name} must be >= {min}; got {v}")
    if max is not None and v > max:
        raise ValueError(f"{name} must be <= {max}; got {v}")
    return v


def as_bool(value: Any, name: str) -> bool:
    """Accept only real booleans (a string "no" would otherwise be truthy)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False; got {value!r}")


def as_sigma_pair(value: Any, name: str = "sigma") -> tuple[float, float]:
    """A non-negative number or a ``(lo, hi)`` pair of them -> ``(lo, hi)`` floats.

    ``inf`` is allowed (it disables that side of the clipping).
    """
    if _is_real_number(value):
        v = as_float(value, name, finite=False, min=0.0)
        return (v, v)
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        items = list(value)
        if len(items) == 2 and all(_is_real_number(x) for x in items):
            lo = as_float(items[0], f"{name}[0] (lower)", finite=False, min=0.0)
            hi = as_float(items[1], f"{name}[1] (upper)", finite=False, min=0.0)
            return (lo, hi)
    raise ParameterTypeError(f"{name} must be a non-negative number or a (lo, hi) pair of them; got {value!r}")


def as_thresholds(value: Any, name: str = "thresholds") -> tuple[float, float] | None:
    """``None`` or an inclusive ``(lo, hi)`` keep range on raw values.

    ``None`` for one side means unbounded on that side; NaN is refused.
    """
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be None or a (low, high) pair; got {value!r}")
    items = list(value)
    if len(items) != 2:
        raise ValueError(f"{name} must be a (low, high) pair; got {len(items)} values")
    lo = -math.inf if items[0] is None else as_float(items[0], f"{name}[0] (low)", finite=False)
    hi = math.inf if items[1] is None else as_float(items[1], f"{name}[1] (high)", finite=False)
    if lo > hi:
        raise ValueError(f"{name}: low ({lo}) must be <= high ({hi})")
    return (lo, hi)


def as_blank(value: Any) -> float | None:
    """``None`` (NaN; sum gives 0) or a float fill for elements with no sample left."""
    if value is None:
        return None
    if not _is_real_number(value):
        raise TypeError(f"blank must be None or a real number; got {value!r}")
    return float(value)


# --------------------------------------------------------------------------- memory


class InsufficientMemoryError(MemoryError):
    """An in-memory combine would clearly not fit in the available RAM.

    Raised *before* any large allocation; use ``imcombiners.dask.combine`` (tiles under
    a ``memory_limit``) for such stacks.
    """


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    raise AssertionError  # pragma: no cover


def _available_bytes() -> int | None:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dependency
        return None
    return int(psutil.virtual_memory().available)


def check_memory(required_bytes: int, *, what: str = "this combine", available: int | None = None) -> None:
    """Fail fast when ``required_bytes`` of new allocations cannot fit in free RAM.

    The estimate should count only what the call is about to allocate (converted frame
    copies, outputs, masks, per-sample diagnostics): input arrays already in memory are
    already accounted for by the OS, and memory-mapped inputs are reclaimable page cache.

    Parameters
    ----------
    required_bytes
        Bytes the call will allocate.
    what
        Short description used in the message.
    available
        Override of the available RAM (tests); default ``psutil.virtual_memory().available``.

    Raises
    ------
    InsufficientMemoryError
        A ``MemoryError`` pointing to ``imcombiners.dask.combine``.
    """
    if required_bytes <= 0:
        return
    if available is None:
        # Small jobs cannot be the problem; skip the system call for them (Dask tiles).
        if required_bytes < (64 << 20):
            return
        available = _available_bytes()
        if available is None:  # pragma: no cover
            return
    if required_bytes > available:
        raise InsufficientMemoryError(
            f"{what} needs about {_fmt_bytes(required_bytes)} of new memory but only "
            f"{_fmt_bytes(available)} is available; combine it out of core with "
            "imcombiners.dask.combine(...) (tiles under a memory_limit), or ask for fewer "
            "diagnostics"
        )
