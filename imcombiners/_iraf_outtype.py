"""IRAF output pixel types and the working type IRAF combines in.

IRAF combines in the highest of the input pixel types and ``outtype`` (short < ushort <
int < long < real < double; short mixed with ushort gives int). Four code paths exist:
short, int (ushort, int, long), real and double. On the two integer paths (integer
inputs and an integer ``outtype``) the scaled values are stored back as integers, i.e.
truncated toward zero before rejection and combining; the combined line itself is a
real number.

Writing a real value to an integer image truncates it toward zero and wraps values
outside the type's range around (two's complement): 40000.7 is -25536 as ``short``,
-1.5 is 65535 as ``ushort``, 3e9 is -1294967552 as ``integer``. ``long`` images are
32-bit. :func:`to_outtype` does this and counts the pixels that wrapped.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["OUTTYPES", "parse_outtype", "working_path", "to_outtype", "INTEGER_OUTTYPES"]

#: outtype -> NumPy dtype of the result (None: the library's default working type)
OUTTYPES: dict[str, np.dtype] = {
    "short": np.dtype(np.int16),
    "ushort": np.dtype(np.uint16),
    "integer": np.dtype(np.int32),
    "long": np.dtype(np.int32),
    "real": np.dtype(np.float32),
    "double": np.dtype(np.float64),
}
INTEGER_OUTTYPES = ("short", "ushort", "integer", "long")
_ALIASES = {"s": "short", "u": "ushort", "i": "integer", "int": "integer", "l": "long", "r": "real",
            "d": "double"}
# IRAF pixel type of each input dtype and the precedence order
_IRAF_TYPE = {np.dtype(np.uint8): "short", np.dtype(np.int16): "short", np.dtype(np.uint16): "ushort",
              np.dtype(np.int32): "integer", np.dtype(np.float32): "real", np.dtype(np.float64): "double"}
_RANK = {"short": 1, "ushort": 2, "integer": 3, "long": 4, "real": 5, "double": 6}


def parse_outtype(outtype: Any) -> str | None:
    """Normalise ``outtype`` (None, ``"none"`` and ``""`` keep the library's default)."""
    if outtype is None:
        return None
    if not isinstance(outtype, str):
        raise ValueError(f"outtype: use None, 'real', 'double', 'short', 'ushort', 'integer' or 'long'; "
                         f"got {outtype!r}")
    t = outtype.strip().lower()
    if t in ("", "none"):
        return None
    t = _ALIASES.get(t, t)
    if t not in OUTTYPES:
        raise ValueError(f"outtype: use None, 'real', 'double', 'short', 'ushort', 'integer' or 'long'; "
                         f"got {outtype!r}")
    return t


def _ty_max(a: str, b: str) -> str:
    if {a, b} == {"short", "ushort"}:
        return "integer"
    return a if _RANK[a] >= _RANK[b] else b


def working_path(dtype: np.dtype, outtype: str | None) -> str:
    """IRAF's code path: ``"short"``, ``"int"``, ``"real"`` or ``"double"``.

    ``outtype=None`` is the library's default (not IRAF's "highest input type"):
    float32 for 8/16-bit and float32 input, float64 for int32 and float64 input.
    """
    dtype = np.dtype(dtype)
    if outtype is None:
        return "double" if dtype in (np.dtype(np.float64), np.dtype(np.int32)) else "real"
    t = _ty_max(_IRAF_TYPE[dtype], outtype)
    if t == "short":
        return "short"
    if t in ("ushort", "integer", "long"):
        return "int"
    return t


def to_outtype(values: np.ndarray, outtype: str) -> tuple[np.ndarray, int]:
    """Convert a real result to ``outtype`` as IRAF writes it; returns (array, wrapped).

    ``wrapped`` counts pixels whose truncated value lies outside the type's range (they
    are wrapped around, not clipped). Non-finite values and values beyond 64-bit integers
    become 0, the low bits of the x86 "integer indefinite" IRAF's conversion yields.
    """
    dt = OUTTYPES[outtype]
    if dt.kind == "f":
        return values.astype(dt, copy=False), 0
    v = np.trunc(np.asarray(values, dtype=np.float64))
    huge = ~np.isfinite(v) | (np.abs(v) >= 2.0**63)
    if huge.any():
        v = np.where(huge, 0.0, v)
    iv = v.astype(np.int64)
    info = np.iinfo(dt)
    wrapped = int(np.count_nonzero((iv < info.min) | (iv > info.max) | huge))
    bits = dt.itemsize * 8
    if dt.kind == "u":
        out = (iv & ((1 << bits) - 1)).astype(dt)
    else:
        out = iv.astype(np.dtype(f"u{dt.itemsize}")).view(dt) if bits < 64 else iv
        out = out.astype(dt, copy=False)
    return out, wrapped
