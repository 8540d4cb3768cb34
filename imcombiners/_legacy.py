"""imcombiners 0.1.1 spellings that need more than a rename (all deprecated).

Each piece reproduces what 0.1.1 did, on top of the current engine, and warns through
:mod:`imcombiners._deprecation`:

* :class:`LegacyCombinerState` -- the Combiner's 0.1.1 state attributes (``arr``,
  ``mask_rej``, ``last_reject``, ``reject_history``, ``n_rejected``, ``copy()``, ...);
* :func:`legacy_tuple` -- the 8/9-tuples of ``ndcombine(full=True)`` / unpacked results;
* :func:`translate_zero_scale` -- ``zero_to_0th``/``scale_to_0th`` and the
  ``*_sigclip_kwargs`` (0.1.1's per-plane sigma-clipped statistic);
* :func:`run_custom_rejector` -- a user ``Rejector`` subclass with its own ``apply``;
* :func:`merge_threshold_pairs` -- a list of ``(low, upp)`` pairs;
* :func:`one_d_kernels`, :func:`resolve_zero_scale`.
"""

from __future__ import annotations

import copy as _copy
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._deprecation import warn_deprecated

__all__ = [
    "LegacyCombinerState",
    "legacy_tuple",
    "translate_zero_scale",
    "Rebase011",
    "run_custom_rejector",
    "merge_threshold_pairs",
    "one_d_kernels",
    "resolve_zero_scale",
]


# --------------------------------------------------------------------------- thresholds


def merge_threshold_pairs(value: Any) -> Any:
    """0.1.1 accepted a sequence of ``(low, upp)`` pairs (each applied in turn): their
    exclusions OR together, which is the single range ``(max low, min upp)``. Anything else
    is returned unchanged."""
    if value is None or isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return value
    items = list(value)
    if not items or not all(isinstance(p, Sequence) and not isinstance(p, (str, bytes)) and len(p) == 2
                            for p in items):
        return value
    from ._validate import as_thresholds

    pairs = [as_thresholds(p) for p in items]
    lo = max(p[0] for p in pairs)
    hi = min(p[1] for p in pairs)
    # Disjoint ranges exclude every finite value: (inf, inf) keeps only +inf, which is
    # non-finite and masked anyway.
    return (lo, hi) if lo <= hi else (math.inf, math.inf)


# --------------------------------------------------------------------------- zero / scale


_SIGCLIP_KEYS = frozenset({"sigma", "maxiters", "cenfunc", "clip_cen", "ddof"})
_LEGACY_STAT_NAMES = {"mean_sc": "mean", "sigclip_mean": "mean", "median_sc": "median",
                      "med_sc": "median", "sigclip_median": "median"}


def _stat_with_kwargs(owner: str, param: str, value: Any, kwargs: dict[str, Any] | None) -> Any:
    if kwargs is None:
        return value
    warn_deprecated(f"{owner}({param}_sigclip_kwargs=...)",
                    f"a callable {param}= (e.g. a sigma-clipped statistic of your choice)",
                    detail="kept as 0.1.1's per-plane statistic")
    if not isinstance(kwargs, dict):
        raise TypeError(f"{param}_sigclip_kwargs must be a dict; got {kwargs!r}")
    unknown = set(kwargs) - _SIGCLIP_KEYS
    if unknown:
        raise ValueError(f"unknown sigma-clipped statistic kwargs: {', '.join(sorted(unknown))}")
    if isinstance(value, str) and value.strip().lower() in _LEGACY_STAT_NAMES:
        from ._stats import plane_sigclip_statistic

        return plane_sigclip_statistic(_LEGACY_STAT_NAMES[value.strip().lower()], **kwargs)
    return value  # 0.1.1 ignored the kwargs for other statistics


@dataclass(frozen=True)
class Rebase011:
    """0.1.1's rebasing of resolved vectors: zero - zero[0], scale / scale[0] (flags)."""

    zero_to_0th: bool
    scale_to_0th: bool
    zero_is_vector: bool
    scale_is_vector: bool

    def apply(self, z: np.ndarray | None, s: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        if self.zero_to_0th and z is not None and self.zero_is_vector:
            z = z - z[0]
        if self.scale_to_0th and s is not None and self.scale_is_vector:
            s = s / s[0]
        return z, s


def _is_vector_spec(value: Any) -> bool:
    # 0.1.1 never rebased a single number.
    return value is not None and not (isinstance(value, numbers.Real) and not isinstance(value, bool))


def translate_zero_scale(owner: str, zero: Any, scale: Any, relative: Any, legacy: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Apply 0.1.1's zero/scale keywords (``legacy``: any of zero_to_0th, scale_to_0th,
    zero_sigclip_kwargs, scale_sigclip_kwargs).

    Returns ``(zero, scale, relative)``; ``relative`` becomes a :class:`Rebase011` when the
    ``*_to_0th`` flags were given: the caller resolves with ``relative=False`` and then
    applies it, which reproduces 0.1.1's ``(x - (z_i - z_0)) / (s_i / s_0)``.
    """
    zero = _stat_with_kwargs(owner, "zero", zero, legacy.get("zero_sigclip_kwargs"))
    scale = _stat_with_kwargs(owner, "scale", scale, legacy.get("scale_sigclip_kwargs"))
    flags = {k: legacy[k] for k in ("zero_to_0th", "scale_to_0th") if k in legacy}
    if flags:
        warn_deprecated(f"{owner}({', '.join(f'{k}=' for k in flags)})", "relative=",
                        detail="the flags reproduce 0.1.1's rebasing z - z[0], s / s[0]; relative=True "
                               "follows IRAF, which differs when zero and scale are both vectors")
        from ._validate import as_bool

        relative = Rebase011(
            as_bool(flags.get("zero_to_0th", True), "zero_to_0th"),
            as_bool(flags.get("scale_to_0th", True), "scale_to_0th"),
            _is_vector_spec(zero), _is_vector_spec(scale),
        )
    return zero, scale, relative


def resolve_zero_scale(name: str, values: Any, arr: Any, *, nonzero: bool = False, to_0th: bool = False,
                       sigclip_kwargs: dict[str, Any] | None = None, validate: Any = None) -> np.ndarray | None:
    """0.1.1's ``resolve_zero_scale``: one zero or scale spec as a broadcast-ready array.

    Returns ``(N, 1, ..., 1)`` for per-frame values or ``(1, ..., 1)`` for one number, in
    ``arr``'s float workspace dtype; None when ``values`` is None.
    """
    warn_deprecated("imcombiners.resolve_zero_scale", "Combiner(stack).zero_scale(zero=..., scale=...) "
                    "and its .zero / .scale vectors")
    from ._frames import prepare_frames
    from ._stats import frame_statistic, resolve_normalisation

    if values is None:
        return None
    fs = prepare_frames(arr, None)
    spec = _stat_with_kwargs("resolve_zero_scale", "zero" if name == "zero" else "scale", values, sigclip_kwargs)
    ndim = 1 + len(fs.spatial)
    ws = fs.workspace
    if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
        v = float(spec)
        if not math.isfinite(v) or (nonzero and v == 0):
            raise ValueError(f"{name} must be finite{' and non-zero' if nonzero else ''}")
        return np.full((1,) * ndim, v, dtype=ws)

    def stat_of(i: int, s: Any) -> float:
        return frame_statistic(fs.frame(i), None, s)

    z, _, _ = resolve_normalisation(fs.n, spec, None, None, stat_of=stat_of, relative=False)
    if nonzero and np.any(z == 0):
        raise ValueError(f"{name} must be finite and non-zero")
    if to_0th and z.size > 1:
        z = z / z[0] if nonzero else z - z[0]
    return z.astype(ws).reshape((fs.n,) + (1,) * (ndim - 1))


# --------------------------------------------------------------------------- results


def legacy_tuple(res: Any) -> tuple[Any, ...]:
    """A CombineResult as 0.1.1's ndcombine tuple.

    ``(data, mask_rej, mask_thresh, std, low, upp, nit, output_flags)`` and, for
    ``diagnostics="full"``, ``sample_flags``. Without a rejector ``mask_rej`` and the per-
    element diagnostics are None; without thresholds ``mask_thresh`` is None.
    """
    info = res._legacy or {}
    rejected = bool(info.get("rejected", res.nit is not None))
    mask_thresh = info.get("mask_thresh")
    if callable(mask_thresh):
        mask_thresh = mask_thresh()
    out = (
        res.data,
        res.mask if rejected else None,
        mask_thresh,
        res.std if rejected else None,
        res.low if rejected else None,
        res.upp if rejected else None,
        res.nit if rejected else None,
        res.output_flags if rejected else None,
    )
    if info.get("full", res.sample_flags is not None):
        out += (res.sample_flags,)
    return out


def threshold_mask(frames: Any, thresholds: Sequence[tuple[float, float]], shape: tuple[int, ...]) -> np.ndarray | None:
    """OR of the raw-value threshold masks (0.1.1's ``mask_thresh``); None without any."""
    if not thresholds:
        return None
    out = np.zeros(shape, bool)
    for i, f in enumerate(frames):
        x = np.asarray(f).reshape(shape[1:])
        for lo, hi in thresholds:
            with np.errstate(invalid="ignore"):
                out[i] |= (x < lo) | (x > hi)
    return out


# --------------------------------------------------------------------------- Combiner state


class LegacyCombinerState:
    """0.1.1's Combiner attributes, read from the current state (all deprecated).

    The Combiner records in ``_legacy_steps`` every rejection of a chained ``reject()``
    and of a ``combine(diagnostics=...)`` (0.1.1 ran that combine as chained steps), with
    the mask after it; ``_legacy_mask`` is the most recent complete mask and
    ``_legacy_thresholds`` the threshold ranges applied.
    """

    _legacy_steps: list[Any]
    _legacy_mask: np.ndarray | None
    _legacy_thresholds: list[tuple[float, float]]
    _legacy_sample_flags: np.ndarray | None

    def _legacy_init(self) -> None:
        self._legacy_steps = []
        self._legacy_mask = None
        self._legacy_thresholds = []
        self._legacy_sample_flags = None

    def _last_step(self) -> Any:
        return self._legacy_steps[-1] if self._legacy_steps else None

    def _step_item(self, name: str, replacement: str) -> Any:
        warn_deprecated(f"Combiner.{name}", replacement)
        step = self._last_step()
        if step is None:
            return None
        return step.mask if name == "mask_rej" else getattr(step, name)

    @property
    def arr(self) -> np.ndarray:
        """Deprecated: the normalised float stack ``(N, *spatial)`` (0.1.1's workspace)."""
        warn_deprecated("Combiner.arr", "the input stack and the .zero / .scale vectors",
                        detail="the input is never modified; this builds the normalised float stack")
        fs = self._fs  # type: ignore[attr-defined]
        ws = fs.workspace
        out = np.empty(fs.shape, ws)
        z, s = self.zero, self.scale  # type: ignore[attr-defined]
        for i in range(fs.n):
            v = fs.frame(i).astype(np.float64)
            if z is not None:
                v = v - z[i]
            if s is not None:
                v = v / s[i]
            out[i] = v
        return out

    @property
    def mask_rej(self) -> np.ndarray | None:
        """Deprecated: every sample excluded after the last rejection step."""
        return self._step_item("mask_rej", "Combiner.history[-1].mask (or CombineResult.mask)")

    @property
    def std(self) -> np.ndarray | None:
        """Deprecated: ``std`` of the last rejection step."""
        return self._step_item("std", "Combiner.history[-1].std (or CombineResult.std)")

    @property
    def low(self) -> np.ndarray | None:
        """Deprecated: ``low`` of the last rejection step (retained minimum)."""
        return self._step_item("low", "Combiner.history[-1].low (or CombineResult.low)")

    @property
    def upp(self) -> np.ndarray | None:
        """Deprecated: ``upp`` of the last rejection step (retained maximum)."""
        return self._step_item("upp", "Combiner.history[-1].upp (or CombineResult.upp)")

    @property
    def nit(self) -> np.ndarray | None:
        """Deprecated: ``nit`` of the last rejection step."""
        return self._step_item("nit", "Combiner.history[-1].nit (or CombineResult.nit)")

    @property
    def output_flags(self) -> np.ndarray | None:
        """Deprecated: ``output_flags`` of the last rejection step."""
        return self._step_item("output_flags", "Combiner.history[-1].output_flags (or CombineResult.output_flags)")

    @property
    def last_reject(self) -> tuple[Any, ...] | None:
        """Deprecated: ``(mask_rej, std, low, upp, nit, output_flags)`` of the last rejection."""
        warn_deprecated("Combiner.last_reject", "Combiner.history[-1]")
        step = self._last_step()
        return None if step is None else _step_tuple(step)

    @property
    def reject_history(self) -> list[tuple[Any, ...]]:
        """Deprecated: the ``last_reject`` tuple of every rejection so far."""
        warn_deprecated("Combiner.reject_history", "Combiner.history")
        return [_step_tuple(s) for s in self._legacy_steps]

    @property
    def last_sample_flags(self) -> np.ndarray | None:
        """Deprecated: sample flags of the last step run with ``diagnostics="full"``."""
        warn_deprecated("Combiner.last_sample_flags", "Combiner.sample_flags")
        return self._legacy_sample_flags

    @property
    def mask_thresh(self) -> np.ndarray | None:
        """Deprecated: samples excluded by the thresholds applied so far (raw values)."""
        warn_deprecated("Combiner.mask_thresh", "CombineResult.sample_flags & SampleFlags.THRESHOLD")
        fs = self._fs  # type: ignore[attr-defined]
        return threshold_mask(fs.frames, self._legacy_thresholds, fs.shape)

    @property
    def n_rejected(self) -> int:
        """Deprecated: number of excluded samples (input mask included) so far."""
        warn_deprecated("Combiner.n_rejected", "int(Combiner.mask.sum())")
        m = self._legacy_mask if self._legacy_mask is not None else self.mask  # type: ignore[attr-defined]
        return 0 if m is None else int(np.count_nonzero(m))

    def copy(self) -> Any:
        """Deprecated: an independent copy of this Combiner (use ``copy.copy``)."""
        warn_deprecated("Combiner.copy()", "copy.copy(combiner)")
        return _copy.copy(self)

    def __copy__(self) -> Any:
        # The frames are read-only for the Combiner, so they are shared; the state lists
        # are copied so the two objects evolve independently.
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        for name in ("_history", "_legacy_steps", "_legacy_thresholds"):
            if name in new.__dict__:
                new.__dict__[name] = list(new.__dict__[name])
        return new


def _step_tuple(step: Any) -> tuple[Any, ...]:
    return (step.mask, step.std, step.low, step.upp, step.nit, step.output_flags)


# --------------------------------------------------------------------------- custom rejectors


def run_custom_rejector(rejector: Any, arr: np.ndarray, mask: np.ndarray | None,
                        grow: Callable[[np.ndarray], np.ndarray] | None) -> dict[str, Any]:
    """Call a user rejector's ``apply(arr, mask)`` (0.1.1's extension point).

    ``arr`` is the normalised float stack ``(N, *spatial)``, ``mask`` the current bool mask
    or None. Its ``mask_rej`` (passed through ``grow`` when given) is OR-ed with ``mask``.
    """
    out = rejector.apply(arr, mask)
    if not isinstance(out, tuple) or len(out) != 6:
        raise TypeError(f"{type(rejector).__name__}.apply must return (mask_rej, std, low, upp, nit, output_flags); "
                        f"got {type(out).__name__}")
    mask_rej, std, low, upp, nit, oflags = out
    mask_rej = np.asarray(mask_rej, dtype=bool)
    if mask_rej.shape != arr.shape:
        raise ValueError(f"{type(rejector).__name__}.apply returned mask_rej of shape {mask_rej.shape}; "
                         f"expected {arr.shape}")
    if grow is not None:
        mask_rej = grow(mask_rej)
    full = mask_rej if mask is None else (mask_rej | mask)
    spatial = arr.shape[1:]

    def plane(a: Any, dtype: Any) -> np.ndarray | None:
        return None if a is None else np.broadcast_to(np.asarray(a, dtype=dtype), spatial).copy()

    return {
        "mask": full,
        "std": plane(std, arr.dtype),
        "low": plane(low, arr.dtype),
        "upp": plane(upp, arr.dtype),
        "nit": plane(nit, np.uint8),
        "output_flags": plane(oflags, np.uint8) if oflags is not None else np.zeros(spatial, np.uint8),
    }


# --------------------------------------------------------------------------- kernels


def one_d_kernels(kernels: Any) -> dict[str, Callable[..., Any]]:
    """0.1.1's ``X_1d``, ``X_mask_1d`` and ``X_combine_1d`` for X in sigclip, ccdclip,
    minmax, pclip (``linearclip_1d`` only): the stack kernels on ``values`` as an ``(n, 1)``
    stack, returning a 1-D mask, NumPy scalars and a Python float."""
    out: dict[str, Callable[..., Any]] = {}

    def values_1d(values: Any, mask: Any) -> tuple[np.ndarray, Any]:
        v = np.asarray(values)
        if v.ndim != 1:
            raise ValueError(f"values must be 1-D; got shape {v.shape}")
        if v.size == 0:
            raise ValueError("values must contain at least one sample")
        m = None
        if mask is not None:
            m = np.asarray(mask, dtype=bool)
            if m.shape != v.shape:
                raise ValueError(f"mask shape {m.shape} does not match values shape {v.shape}")
            m = m[:, None]
        return v[:, None], m

    def make(kind: str) -> None:
        stack_fn = getattr(kernels, kind)
        mask_fn = getattr(kernels, f"{kind}_mask", None)
        comb_fn = getattr(kernels, f"{kind}_combine", None)

        def one(values: Any, *, mask: Any = None, **params: Any) -> tuple[Any, ...]:
            warn_deprecated(f"imcombiners.kernels.{kind}_1d(values)", f"imcombiners.kernels.{kind}(values[:, None])")
            params.pop("validate", None)
            v, m = values_1d(values, mask)
            mrej, std, low, upp, nit, of = stack_fn(v, m, **params)
            sc = (lambda a: None if a is None else a.reshape(-1)[0])
            return mrej[:, 0], sc(std), sc(low), sc(upp), sc(nit), sc(of)

        def one_mask(values: Any, *, mask: Any = None, **params: Any) -> np.ndarray:
            warn_deprecated(f"imcombiners.kernels.{kind}_mask_1d(values)", f"imcombiners.kernels.{kind}_mask(values[:, None])")
            params.pop("validate", None)
            v, m = values_1d(values, mask)
            return mask_fn(v, m, **params)[:, 0]

        def one_combine(values: Any, *, mask: Any = None, combine: str = "mean", **params: Any) -> float:
            warn_deprecated(f"imcombiners.kernels.{kind}_combine_1d(values)",
                            f"imcombiners.kernels.{kind}_combine(values[:, None])")
            params.pop("validate", None)
            v, m = values_1d(values, mask)
            return float(comb_fn(v, m, combine=combine, **params)[0])

        for name, fn in ((f"{kind}_1d", one), (f"{kind}_mask_1d", one_mask), (f"{kind}_combine_1d", one_combine)):
            if kind == "linearclip" and name != "linearclip_1d":
                continue  # 0.1.1 had only linearclip_1d
            fn.__name__ = fn.__qualname__ = name
            fn.__doc__ = f"Deprecated 0.1.1 1-D kernel: ``{name.replace('_1d', '')}`` on ``values[:, None]``."
            out[name] = fn

    for kind in ("sigclip", "ccdclip", "linearclip", "minmax", "pclip"):
        make(kind)
    return out
