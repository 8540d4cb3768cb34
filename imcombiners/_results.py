"""The results of a library combine: :class:`CombineResult` and the :class:`Step` of a chain.

imcombiners 0.1.1 returned tuples (``ndcombine``) or the bare image (``Combiner.combine``)
where these objects are returned now; a result still unpacks as 0.1.1's tuple and acts as
its image (both deprecated: see docs/migrating-from-0.1.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from ._deprecation import warn_deprecated
from ._legacy import legacy_tuple
from ._rejectors import Rejector

__all__ = ["CombineResult", "Step", "step_from_raw", "result_from_run"]


@dataclass(frozen=True, eq=False)
class Step:
    """Diagnostics of one step: a chained call or one rejector of a combine.

    Attributes
    ----------
    kind
        ``"threshold"``, ``"zero_scale"`` or ``"reject"``.
    rejector
        The rejector of a ``"reject"`` step (with the ``grow`` actually used), else None.
    params
        Parameters of the step (thresholds; resolved zero/scale vectors).
    nrej
        ``*spatial`` uint16: samples newly excluded by this step at each element (for a
        reject step: algorithm rejections plus grow, plus NaN/threshold exclusions first
        seen by this step).
    std, low, upp, nit, output_flags
        ``*spatial`` rejection diagnostics of a reject step (``std`` is None for
        algorithms without a spread), else None. ``low``/``upp`` are the smallest and
        largest samples kept (LinearClip: its bounds).
    sample_flags
        Stage-local ``(N, *spatial)`` uint8 flags when the step asked for ``"full"``
        (samples excluded by earlier steps carry PREVIOUS), else None.
    clip_low, clip_upp
        ``*spatial`` clipping bounds of the last evaluated pass of a reject step.
    mask
        ``(N, *spatial)`` bool: every sample excluded after a reject step, else None.
    """

    kind: str
    rejector: Rejector | None = None
    params: dict[str, Any] = field(default_factory=dict)
    nrej: np.ndarray | None = None
    std: np.ndarray | None = None
    low: np.ndarray | None = None
    upp: np.ndarray | None = None
    nit: np.ndarray | None = None
    output_flags: np.ndarray | None = None
    sample_flags: np.ndarray | None = None
    clip_low: np.ndarray | None = None
    clip_upp: np.ndarray | None = None
    mask: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class CombineResult(NDArrayOperatorsMixin):
    """The combined image and its diagnostics (``diagnostics="simple"`` or ``"full"``).

    Attributes
    ----------
    data
        ``*spatial`` combined image.
    mask
        ``(N, *spatial)`` bool: every sample excluded from ``data`` (input mask, NaN/inf,
        thresholds, rejections, grow).
    low, upp
        ``*spatial`` smallest and largest samples kept by the last rejector (for
        LinearClip: its bounds, as imcombiners 0.1.1); None without rejection.
    std
        ``*spatial`` spread of the last pass (sigma at the centre for CcdClip); None
        without rejection or for algorithms without a spread (LinearClip, MinMaxClip, PClip).
    nit
        ``*spatial`` uint8 passes evaluated by the last rejector; None without rejection.
    output_flags
        ``*spatial`` uint8 :class:`~imcombiners.OutputFlags`, OR over all rejectors.
    nused
        ``*spatial`` number of samples that made each output value.
    sample_flags
        ``(N, *spatial)`` uint8 :class:`~imcombiners.SampleFlags` (``"full"`` only).
    history
        Steps (:class:`Step`) of the chain so far followed by one per rejector of this call.
    zero, scale, weights
        Per-frame vectors used (None when not used).
    clip_low, clip_upp
        ``*spatial`` clipping bounds of the last evaluated pass of the last rejector
        (retained extremes for MinMaxClip); None without rejection.
    variance, weight, exposure, dq
        Survey products asked for by name (docs/design.md "Survey planes"): the propagated
        variance of ``data``, the sum of the weights of the samples used, the sum of their
        exposure times, and the OR of their DQ words (plus ``nodata_bit`` where none was
        left); None when not asked.

    Notes
    -----
    With ``diagnostics`` given as a list of names, only those outputs are set (the others
    are None).

    imcombiners 0.1.1 returned tuples and arrays here; those uses still work with a
    DeprecationWarning: unpacking, ``len()`` and integer indexing give 0.1.1's
    ``ndcombine`` tuple ``(data, mask_rej, mask_thresh, std, low, upp, nit,
    output_flags[, sample_flags])``, and ``numpy.asarray(result)``, ``.shape``, ``.dtype``
    and array indexing act on ``data``.
    """

    data: np.ndarray
    mask: np.ndarray | None
    low: np.ndarray | None
    upp: np.ndarray | None
    std: np.ndarray | None
    nit: np.ndarray | None
    output_flags: np.ndarray | None
    nused: np.ndarray | None
    sample_flags: np.ndarray | None = None
    history: tuple[Step, ...] = ()
    zero: np.ndarray | None = None
    scale: np.ndarray | None = None
    weights: np.ndarray | None = None
    clip_low: np.ndarray | None = None
    clip_upp: np.ndarray | None = None
    variance: np.ndarray | None = None
    weight: np.ndarray | None = None
    exposure: np.ndarray | None = None
    dq: np.ndarray | None = None
    #: What the 0.1.1 tuple needs beyond the fields (internal).
    _legacy: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    # ---- 0.1.1 compatibility (deprecated): the ndcombine tuple and the image array

    def _as_tuple(self, how: str) -> tuple[Any, ...]:
        warn_deprecated(f"{how} a CombineResult (0.1.1's tuple result)",
                        "the attributes .data, .mask, .std, .low, .upp, .nit, .output_flags, .sample_flags")
        return legacy_tuple(self)

    def __iter__(self):
        return iter(self._as_tuple("unpacking"))

    def __len__(self) -> int:
        return len(self._as_tuple("len() of"))

    def __bool__(self) -> bool:
        # A result is always true (without this, bool() would go through the deprecated len()).
        return True

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, np.integer, slice)):
            return self._as_tuple("indexing")[key]
        warn_deprecated("indexing a CombineResult as an array", "result.data[...]")
        return self.data[key]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        warn_deprecated("using a CombineResult as an array (0.1.1 returned the image)", "result.data")
        return self.data if dtype is None else self.data.astype(dtype)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        # Arithmetic and comparisons on a result act on its image (0.1.1 returned the image).
        warn_deprecated("arithmetic on a CombineResult (0.1.1 returned the image)", "result.data")
        inputs = tuple(x.data if isinstance(x, CombineResult) else x for x in inputs)
        return getattr(ufunc, method)(*inputs, **kwargs)

    # Results compare and hash by identity (the operator mixin would make == elementwise).
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not fields: ndarray methods of 0.1.1's image.
        if not name.startswith("_") and hasattr(np.ndarray, name) and "data" in self.__dict__:
            warn_deprecated(f"CombineResult.{name} (0.1.1 returned the image)", f"result.data.{name}")
            return getattr(self.data, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def shape(self) -> tuple[int, ...]:
        """Deprecated: ``data.shape`` (0.1.1 returned the image itself)."""
        warn_deprecated("CombineResult.shape", "result.data.shape")
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """Deprecated: ``data.dtype``."""
        warn_deprecated("CombineResult.dtype", "result.data.dtype")
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """Deprecated: ``data.ndim``."""
        warn_deprecated("CombineResult.ndim", "result.data.ndim")
        return self.data.ndim


def step_from_raw(raw: dict[str, Any], rejector: Rejector) -> Step:
    """The :class:`Step` of one rejector from the kernel's per-step outputs."""
    return Step(
        kind="reject",
        rejector=rejector,
        params={"grow": rejector.grow_radius},
        nrej=raw["nrej"],
        std=raw["std"] if rejector.has_spread else None,
        low=raw["low"],
        upp=raw["upp"],
        nit=raw["nit"],
        output_flags=raw["output_flags"],
        sample_flags=raw.get("sample_flags"),
        clip_low=raw.get("clip_low"),
        clip_upp=raw.get("clip_upp"),
        mask=raw.get("mask"),
    )


def result_from_run(res: dict[str, Any], rejectors: tuple[Rejector, ...], history: tuple[Step, ...],
                    zero: Any, scale: Any, weights: Any, level: str | None, mask_thresh: Any) -> CombineResult:
    """The :class:`CombineResult` of a fused combine from the kernel's outputs ``res``.

    The rejection diagnostics (low, upp, std, nit, clip_*) are the last rejector's; the
    steps of every rejector follow ``history`` (the chained steps before the combine)."""
    steps = tuple(step_from_raw(raw, raw["rejector"]) for raw in res.get("steps", ()))
    last = rejectors[-1] if rejectors else None
    return CombineResult(
        data=res["data"],
        mask=res.get("mask"),
        low=res.get("low") if last else None,
        upp=res.get("upp") if last else None,
        std=res.get("std") if last is not None and last.has_spread else None,
        nit=res.get("nit") if last else None,
        output_flags=res.get("output_flags"),
        nused=res.get("nused"),
        sample_flags=res.get("sample_flags"),
        history=history + steps,
        zero=zero,
        scale=scale,
        weights=weights,
        clip_low=res.get("clip_low") if last else None,
        clip_upp=res.get("clip_upp") if last else None,
        variance=res.get("variance"),
        weight=res.get("weight"),
        exposure=res.get("exposure"),
        dq=res.get("dq"),
        _legacy={"rejected": bool(rejectors), "full": level == "full", "mask_thresh": mask_thresh},
    )
