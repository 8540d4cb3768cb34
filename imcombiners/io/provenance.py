"""Provenance of a combined product: FITS header cards and zarr/xarray attributes.

Keywords follow IRAF where IRAF has one (``NCOMBINE``, ``IMCMBnnn`` naming the
inputs); the rest are ``IMC*`` keywords of this library.  The same information
is produced as a JSON-compatible dict for zarr attributes and xarray attrs.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["library_version", "library_parameters", "provenance_dict", "provenance_cards"]

#: IRAF writes IMCMB001 .. IMCMB999; beyond that we record only the count.
_MAX_NAMED_INPUTS = 999
#: Per-image zero/scale/weight keywords ``IMCZnnnn`` etc. (8-character limit).
_MAX_FACTOR_CARDS = 9999


def library_version() -> str:
    """Version string of the installed ``imcombiners`` (``"unknown"`` if not installed).

    When the compiled kernels are loaded and carry a plain release number (the package's
    version comes from the same Cargo.toml, and maturin keeps ``X.Y.Z`` as it is), that
    number is the answer: importing importlib.metadata costs tens of milliseconds of a
    command-line run.
    """
    core = sys.modules.get("imcombiners._core")
    version = getattr(core, "__version__", None)
    if isinstance(version, str) and all(part.isdecimal() for part in version.split(".")):  # X.Y.Z
        return version
    try:
        from importlib.metadata import version

        return version("imcombiners")
    except Exception:  # not installed (running from a bare checkout)
        return "unknown"


def _jsonable(value: Any) -> Any:
    """Convert parameters (dataclasses, numpy scalars/arrays, tuples) to JSON types."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {"kind": type(value).__name__}
        out.update({f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)})
        return out
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        seq = sorted(value) if isinstance(value, (frozenset, set)) else value
        return [_jsonable(v) for v in seq]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if callable(value):
        return getattr(value, "__qualname__", repr(value))
    return repr(value)


def _plane_label(v: Any) -> Any:
    """A plane argument as the provenance records it: an extension name and its kind, or
    ``"array"``."""
    if v is None or isinstance(v, str):
        return v
    if hasattr(v, "extname") and hasattr(v, "kind"):  # imcombiners._planes.PlaneSpec
        return f"{v.extname} ({v.kind})"
    if isinstance(v, tuple) and v and isinstance(v[0], str):  # ("NAME", kind)
        return " ".join(str(x) for x in v)
    return "array"


def _is_plane(v: Any) -> bool:
    """Per-pixel weights (a plane) rather than per-frame numbers."""
    if hasattr(v, "extname") and hasattr(v, "kind"):
        return True
    if isinstance(v, (list, tuple)):
        return bool(v) and all(isinstance(w, str) or len(getattr(w, "shape", ())) >= 1 for w in v)
    return len(getattr(v, "shape", ())) >= 2


def library_parameters(method: str, rejectors: Sequence[Any], thresholds: Any, zero: Any, scale: Any,
                       weights: Any, statsec: Any, ddof: int, q: float | None, blank: float | None,
                       want: Any, offsets: Any, *, planes: Mapping[str, Any] | None = None,
                       bad_bits: int | None = None) -> dict[str, Any]:
    """The parameters of a library combine as its provenance records them.

    Factors given as numbers are recorded as ``"values"`` (their numbers have their own
    cards); statistic names as given; planes (``variance``, ``dq``, per-pixel weights) by
    extension name and kind, or ``"array"``; ``offsets="wcs"`` as ``"wcs"``.
    """
    out = {
        "method": method, "rejectors": list(rejectors or ()), "thresholds": thresholds,
        "zero": zero if isinstance(zero, str) or zero is None else "values",
        "scale": scale if isinstance(scale, str) or scale is None else "values",
        "weights": weights if isinstance(weights, str) or weights is None else (
            _plane_label(weights) if _is_plane(weights) else "values"),
        "statsec": repr(statsec) if statsec is not None else None, "ddof": ddof, "q": q,
        "blank": blank, "diagnostics": sorted(want),
        "offsets": "wcs" if isinstance(offsets, str) else offsets is not None,
    }
    for role, v in (planes or {}).items():
        if v is not None and role != "weights":
            out[role] = _plane_label(v)
    if bad_bits is not None:
        out["bad_bits"] = bad_bits
    return out


def provenance_dict(
    *,
    inputs: Sequence[str] | None,
    ncombine: int,
    parameters: Mapping[str, Any],
    zero: Sequence[float] | None = None,
    scale: Sequence[float] | None = None,
    weights: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Provenance as a JSON-compatible dict (zarr attributes, xarray attrs).

    Parameters
    ----------
    inputs : sequence of str or None
        Names of the inputs (file names), or None for in-memory arrays.
    ncombine : int
        Number of frames combined.
    parameters : mapping
        Every parameter of the combine (method, rejectors, thresholds, ...).
    zero, scale, weights : sequence of float or None
        The per-image factors actually used (resolved numbers).
    """
    return {
        "imcombiners_version": library_version(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "ncombine": int(ncombine),
        "inputs": None if inputs is None else [os.fspath(p) for p in inputs],
        "parameters": _jsonable(dict(parameters)),
        "zero": _jsonable(zero),
        "scale": _jsonable(scale),
        "weights": _jsonable(weights),
    }


def provenance_cards(prov: Mapping[str, Any]) -> list[tuple[str, Any, str]]:
    """FITS header cards ``(keyword, value, comment)`` for a provenance dict.

    ``NCOMBINE``; ``IMCMBnnn`` (input names, IRAF's keyword, first 999);
    ``IMCVERS`` (library version); ``DATE``; ``IMCMETH`` (method); ``IMCPARAM``
    (all parameters as JSON, long-string CONTINUE cards); ``IMCZnnnn``,
    ``IMCSnnnn``, ``IMCWnnnn`` (zero, scale, weight used per image).
    """
    cards: list[tuple[str, Any, str]] = [
        ("NCOMBINE", int(prov["ncombine"]), "number of images combined"),
        ("IMCVERS", str(prov["imcombiners_version"]), "imcombiners version"),
        ("DATE", str(prov["date"])[:19], "UTC date the combined image was written"),
    ]
    params = prov.get("parameters") or {}
    if "method" in params:
        cards.append(("IMCMETH", str(params["method"]), "combine method"))
    cards.append(("IMCPARAM", json.dumps(params, sort_keys=True), "combine parameters (JSON)"))
    inputs = prov.get("inputs") or []
    for i, name in enumerate(inputs[:_MAX_NAMED_INPUTS], start=1):
        cards.append((f"IMCMB{i:03d}", os.path.basename(str(name)), "input image"))
    for key, label in (("zero", "Z"), ("scale", "S"), ("weights", "W")):
        values = prov.get(key)
        if values is None:
            continue
        for i, v in enumerate(list(values)[:_MAX_FACTOR_CARDS], start=1):
            fv = float(v) if not isinstance(v, str) else v
            cards.append((f"IMC{label}{i:04d}", fv, f"{key} used for image {i}"))
    return cards
