"""One validated combine job and the function that runs it through the Rust kernel.

Every public entry point (Combiner, ndcombine, kernels, the Dask engine) ends here:
``run_job(frames, masks, job)`` gathers, rejects and combines with ``_core.run``. A
rejector with ``grow`` needs the spatial neighbourhood of its rejections, which the
per-element kernel cannot see, so such a rejector runs as its own kernel call followed by
``_core.grow_mask``; every other rejector runs fused in one call.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._frames import FrameSet, prepare_frames
from ._memory_model import line_based, sorted_store_bytes
from ._planes import Planes, as_bad_bits, as_nodata_bit
from ._products import DIAGNOSTICS, PER_SAMPLE, WORKSPACE_TYPED
from ._record import Record, factory
from ._validate import (
    as_blank,
    as_float,
    as_int,
    as_thresholds,
    canonical_method,
    check_memory,
    workspace_dtype,
)
from .flags import OutputFlags, SampleFlags

if TYPE_CHECKING:  # loaded by a job that has rejectors (a median needs none of them)
    from ._rejectors import Rejector

__all__ = ["Job", "OUTPUTS", "run_job", "result_dtype", "load_core", "combine_method", "library_job"]

#: Optional outputs a job can ask for (``data`` is always produced).
OUTPUTS = DIAGNOSTICS
_REJ_DIAG = ("std", "low", "upp", "nit", "clip_low", "clip_upp")
# Sample-flag bits a later stage contributes (the first stage's flags are taken whole).
_STAGE_BITS = np.uint8(SampleFlags.ALGORITHM | SampleFlags.GROW | SampleFlags.RESTORED_NKEEP | SampleFlags.RESTORED_MAXREJ)
_INTEGER_EXACT = frozenset({"lmedian", "min", "max"})
#: Methods with a propagated variance (docs/design.md "Survey planes").
VARIANCE_METHODS = frozenset({"mean", "wavg", "sum", "median", "lmedian"})
#: How samples are weighted: per frame (``weights``), per pixel (a weights plane), or by
#: the inverse of their normalised variance.
WEIGHTINGS = ("frame", "pixel", "inverse_variance")


def load_core() -> Any:
    """Import the compiled kernel module with a helpful message when it is missing."""
    try:
        from . import _core
    except ImportError as exc:  # pragma: no cover - depends on the build
        from pathlib import Path

        here = Path(__file__).resolve().parent
        hint = ""
        if (here.parent / "Cargo.toml").exists():
            # A source checkout shadows an installed wheel when run from its root.
            hint = (f" (this is the source tree at {here.parent}, which has no built extension: "
                    "`pip install -e .` there, or run from another directory)")
        raise ImportError(
            "imcombiners._core (the compiled Rust kernels) cannot be imported; build it with "
            f"`pip install -e .` or install a wheel{hint}"
        ) from exc
    return _core


def _vector(value: Any, name: str) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.array(value, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {arr.tolist()}")
    return arr


class Job(Record, eq=False):
    """A validated, resolved description of one combine.

    Parameters
    ----------
    method
        Combine method (aliases accepted, stored canonical): mean, median, lmedian, sum,
        min, max, variance, wavg or quantile.
    rejectors
        Rejectors applied in turn (each sees the survivors of the previous ones).
    thresholds
        Inclusive keep range on raw values, or None.
    zero, scale
        Per-frame numbers (length N) or None: ``value' = (value - zero) / scale``.
    weights
        Per-frame weights (length N) for ``wavg``, or None.
    ddof
        Delta degrees of freedom of ``variance``.
    q
        Quantile in [0, 1] for ``quantile``.
    blank
        Output value where no sample is left; None = NaN (sum: 0).
    want
        Optional outputs (subset of :data:`OUTPUTS`).
    weighting
        None, ``"frame"`` (``weights``), ``"pixel"`` (a weights plane) or
        ``"inverse_variance"``; ``weights`` alone means ``"frame"``.  Weighted methods:
        mean (becomes wavg), wavg, sum.
    bad_bits
        DQ bits that exclude a sample (None: every bit).
    nodata_bit
        Bit of the output ``dq`` where no sample is left (None: the top bit of its dtype).
    exptime
        Per-frame exposure times (length N) for the ``exposure`` product, or None.
    """

    method: str
    rejectors: tuple[Rejector, ...] = ()
    thresholds: tuple[float, float] | None = None
    zero: np.ndarray | None = None
    scale: np.ndarray | None = None
    weights: np.ndarray | None = None
    ddof: int = 0
    q: float | None = None
    blank: float | None = None
    want: frozenset[str] = factory(frozenset)
    weighting: str | None = None
    bad_bits: int | None = None
    nodata_bit: int | None = None
    exptime: np.ndarray | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "method", canonical_method(self.method))
        if isinstance(self.rejectors, (tuple, list)) and not self.rejectors:
            rejectors: tuple = ()
        else:
            from ._rejectors import Rejector

            rejectors = (self.rejectors,) if isinstance(self.rejectors, Rejector) else tuple(self.rejectors)
        for r in rejectors:
            if not isinstance(r, Rejector) or type(r) is Rejector:
                raise TypeError(
                    "rejectors must be Rejector instances (SigClip, CcdClip, AvSigClip, LinearClip, "
                    f"MinMaxClip, PClip); got {r!r}"
                )
        set_(self, "rejectors", rejectors)
        set_(self, "thresholds", as_thresholds(self.thresholds))
        set_(self, "zero", _vector(self.zero, "zero"))
        set_(self, "scale", _vector(self.scale, "scale"))
        set_(self, "weights", _vector(self.weights, "weights"))
        if self.scale is not None and np.any(self.scale == 0):
            raise ValueError(f"scale must be non-zero; got {self.scale.tolist()}")
        set_(self, "ddof", as_int(self.ddof, "ddof", min=0))
        if self.method == "quantile":
            if self.q is None:
                raise ValueError("q: method 'quantile' needs q, a number in [0, 1]")
            q = as_float(self.q, "q", min=0.0)
            if q > 1:
                raise ValueError(f"q must be in [0, 1]; got {q}")
            set_(self, "q", q)
        elif self.q is not None:
            raise ValueError(f"q is only used by method 'quantile'; got method {self.method!r}")
        weighting = self.weighting
        if weighting is None and self.weights is not None:
            weighting = "frame"
        if weighting is not None and weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be None or one of {', '.join(WEIGHTINGS)}; got {weighting!r}")
        if (weighting == "frame") != (self.weights is not None):
            raise ValueError("weights: per-frame weighting needs weights (one per frame), and weights "
                             "need weighting='frame'")
        set_(self, "weighting", weighting)
        if weighting is not None and self.method == "mean":
            set_(self, "method", "wavg")  # a weighted mean
        if self.method == "wavg" and weighting is None:
            raise ValueError("weights: method 'wavg' needs weights (one per frame, one per sample or "
                             "'inverse_variance')")
        if weighting is not None and self.method not in ("wavg", "sum"):
            raise ValueError(f"weights can only be used with mean/wavg and sum; got method {self.method!r}")
        set_(self, "blank", as_blank(self.blank))
        set_(self, "exptime", _vector(self.exptime, "exptime"))
        want = frozenset(self.want)
        unknown = want - OUTPUTS - {"data"}
        if unknown:
            raise ValueError(f"want: unknown outputs {sorted(unknown)}; expected some of {sorted(OUTPUTS)}")
        set_(self, "want", want - {"data"})
        if "variance" in self.want and self.method not in VARIANCE_METHODS:
            raise ValueError(f"variance: no propagated variance for method {self.method!r} (only mean, "
                             "weighted mean, sum, median and lmedian)")
        if "exposure" in self.want and self.exptime is None:
            raise ValueError("exposure: the exposure map needs exptime= (one exposure time per frame)")
        if self.bad_bits is not None:
            set_(self, "bad_bits", as_bad_bits(self.bad_bits, np.dtype(np.uint32)))
        if self.nodata_bit is not None:
            set_(self, "nodata_bit", as_nodata_bit(self.nodata_bit, np.dtype(np.uint32)))

    @property
    def is_pure(self) -> bool:
        """True when nothing but the method is asked (no rejection or normalisation)."""
        return not (self.rejectors or self.thresholds or self.zero is not None
                    or self.scale is not None or self.weighting is not None)

    @property
    def needs_variance(self) -> bool:
        """The job reads a variance plane (inverse-variance weights, VarClip, ``variance``)."""
        return (self.weighting == "inverse_variance" or "variance" in self.want
                or any(r.needs_variance for r in self.rejectors))

    def check_n(self, n: int) -> None:
        """Check the per-frame vectors against the number of frames."""
        for name in ("zero", "scale", "weights", "exptime"):
            v = getattr(self, name)
            if v is not None and v.size != n:
                raise ValueError(f"{name} must have one value per frame ({n}); got {v.size}")

    def check_planes(self, planes: Planes | None) -> None:
        """Check that the planes this job reads are given (and the DQ bits fit them)."""
        has = (lambda name: planes is not None and getattr(planes, name) is not None)
        if self.needs_variance and not has("variance"):
            what = ("weights='inverse_variance'" if self.weighting == "inverse_variance"
                    else "the variance output" if "variance" in self.want
                    else next(type(r).__name__ for r in self.rejectors if r.needs_variance))
            raise ValueError(f"variance: {what} needs the samples' variances (variance=)")
        if self.weighting == "pixel" and not has("weights"):
            raise ValueError("weights: per-pixel weighting needs a weights plane of the stack's shape")
        dq_dtype = np.dtype(np.uint8) if planes is None else planes.dq_dtype
        if self.bad_bits is not None and has("dq"):
            as_bad_bits(self.bad_bits, dq_dtype)
        if self.nodata_bit is not None:
            as_nodata_bit(self.nodata_bit, dq_dtype)

    def dq_words(self, planes: Planes | None) -> tuple[int, int]:
        """(bad bits, nodata bit) as the kernel takes them for these planes."""
        dq_dtype = np.dtype(np.uint8) if planes is None else planes.dq_dtype
        return as_bad_bits(self.bad_bits, dq_dtype), as_nodata_bit(self.nodata_bit, dq_dtype)

    def kernel_dict(
        self,
        *,
        rejectors: Sequence[Rejector],
        thresholds: tuple[float, float] | None,
        want: frozenset[str],
        line: int,
        final: bool,
        planes: Planes | None = None,
    ) -> dict[str, Any]:
        """The ``job`` dictionary of one ``_core.run`` call (one stage of the job).

        Every key is sent, and every rejector dict carries all its parameters: the kernel
        gives none a default and refuses unknown keys (``imcombiners.errors.KernelCallError``).
        """

        def seq(v: np.ndarray | None) -> list[float] | None:
            return None if v is None else [float(x) for x in v]

        bad_bits, nodata_bit = self.dq_words(planes)
        return {
            # Non-final stages only need the mask; their data output is discarded.
            "method": self.method if final else "mean",
            "ddof": self.ddof,
            "q": self.q if final else None,
            "thresholds": thresholds,
            "zero": seq(self.zero),
            "scale": seq(self.scale),
            "weights": seq(self.weights) if final else None,
            "weighting": self.weighting if final else None,
            "blank": self.blank,
            "rejectors": [r.to_kernel_dict() for r in rejectors],
            "want": sorted(want),
            "line": line,
            "bad_bits": bad_bits,
            "nodata_bit": nodata_bit,
            "exptime": seq(self.exptime) if final else None,
        }


def result_dtype(job: Job, dtype: np.dtype, *, masked: bool) -> np.dtype:
    """dtype of ``data`` for an input dtype.

    Integer input keeps its dtype for lmedian/min/max when the job is pure and there is no
    mask (every output is then one of the input samples); everything else is the float
    workspace (float32 for uint8/uint16/int16/float32, float64 for int32/float64).
    """
    dtype = np.dtype(dtype)
    if dtype.kind in "iu" and job.method in _INTEGER_EXACT and job.is_pure and not masked:
        return dtype.newbyteorder("=")
    return workspace_dtype(dtype)


def _estimate_bytes(fs: FrameSet, job: Job, staged: int, threads: int) -> int:
    n, m = fs.n, fs.m
    ws = fs.workspace.itemsize
    total = m * ws  # data
    for name in job.want:
        if name in PER_SAMPLE:
            total += n * m
        elif name in WORKSPACE_TYPED:
            total += m * ws
        elif name == "dq":
            total += m * (1 if fs.planes is None else fs.planes.dq_dtype.itemsize)
        else:
            total += m * 4
    # Each grow/split stage holds its mask and flags plus the accumulated mask.
    total += staged * 3 * n * m
    if line_based(job.rejectors):
        # AvSigClip keeps the sorted samples of a group of lines (docs/memory.md).
        total += sorted_store_bytes(n, m, fs.spatial[-1] if fs.spatial else m, threads or os.cpu_count() or 1)
    return total


def _reject_kinds_supported(job: Job, core: Any) -> None:
    if not job.rejectors:
        return
    from ._rejectors import KERNEL_KINDS

    kinds = frozenset(getattr(core, "REJECTORS", KERNEL_KINDS))
    for r in job.rejectors:
        if r.kind not in kinds:
            raise NotImplementedError(
                f"{type(r).__name__} ({r.kind!r}) is not available in the library kernel yet; "
                f"available: {', '.join(sorted(kinds))}"
                + ("; for IRAF avsigclip use imcombiners.imcombine(..., reject='avsigclip')" if r.kind == "avsigclip" else "")
            )


def _plan(rejectors: tuple[Rejector, ...], split_steps: bool) -> tuple[list[tuple[tuple[Rejector, ...], float | None]], tuple[Rejector, ...]]:
    """Split the chain into intermediate stages (rejectors, grow) and the final rejectors."""
    stages: list[tuple[tuple[Rejector, ...], float | None]] = []
    pending: list[Rejector] = []
    for i, r in enumerate(rejectors):
        grow = r.grow_radius
        last = i == len(rejectors) - 1
        if grow is not None or (split_steps and not last):
            if pending:
                stages.append((tuple(pending), None))
                pending = []
            stages.append(((r,), grow))
        else:
            pending.append(r)
    return stages, tuple(pending)


def run_job(
    frames: Any,
    masks: Any,
    job: Job,
    *,
    threads: int = 0,
    split_steps: bool = False,
    previous: Sequence[np.ndarray] | None = None,
    check_mem: bool = True,
    planes: Planes | None = None,
) -> dict[str, Any]:
    """Run a job over N frames.

    Parameters
    ----------
    frames
        A :class:`~imcombiners._frames.FrameSet`, an ``(N, *spatial)`` array or a sequence
        of N equally shaped arrays (views of a stack or a list; never stacked).
    masks
        None or N bool arrays (True = bad). With a FrameSet, None keeps its masks.
    job
        The :class:`Job`.
    threads
        0 = all cores (rayon's pool), k = exactly k threads (Dask tasks pass 1).
    split_steps
        Run every rejector as its own kernel call and return per-step diagnostics under
        ``"steps"`` (used by the diagnostics modes; the image is identical).
    previous
        N bool arrays marking samples of ``masks`` that earlier chained steps excluded:
        in ``sample_flags`` they carry PREVIOUS (32) instead of INPUT_MASK (1).
    check_mem
        Apply the in-memory guard (:func:`~imcombiners._validate.check_memory`).
    planes
        Variance / weights / DQ planes (:class:`~imcombiners._planes.Planes`); with a
        FrameSet, None keeps its planes.

    Returns
    -------
    dict
        ``"data"`` (``*spatial``) and the outputs in ``job.want``: ``mask`` and
        ``sample_flags`` shaped ``(N, *spatial)``; ``std``, ``low``, ``upp``, ``nit``,
        ``clip_low``, ``clip_upp``, ``output_flags``, ``nused``, ``variance``, ``weight``,
        ``exposure``, ``dq`` shaped ``*spatial`` (std/low/upp/nit/clip_* describe the last
        rejector and are absent without rejectors; low/upp are the retained extremes,
        clip_low/clip_upp the clipping bounds). With ``split_steps``, ``"steps"`` holds one
        dict per rejector: ``rejector``, ``std``, ``low``, ``upp``, ``nit``, ``clip_low``,
        ``clip_upp``, ``output_flags``, ``nrej`` (samples newly excluded by the step,
        uint16), ``mask`` (every sample excluded after the step) and ``sample_flags``
        (stage-local, when wanted).
    """
    if isinstance(frames, FrameSet):
        fs = frames if masks is None else prepare_frames(frames, masks)
    else:
        fs = prepare_frames(frames if isinstance(frames, np.ndarray) else list(frames), masks)
    if planes is not None:
        fs = fs.with_planes(planes)
    job.check_n(fs.n)
    job.check_planes(fs.planes)
    core = load_core()
    _reject_kinds_supported(job, core)
    plane_arg = None if fs.planes is None else fs.planes.kernel_dict()

    stages, final_rejectors = _plan(job.rejectors, split_steps)
    plan = [(r, g, False) for r, g in stages] + [(final_rejectors, None, True)]
    last_rej_stage = max((k for k, (r, _, _) in enumerate(plan) if r), default=-1)
    if check_mem:
        check_memory(_estimate_bytes(fs, job, len(plan) - 1 + int(split_steps), threads), what="this in-memory combine")

    n, m, spatial = fs.n, fs.m, fs.spatial
    line = spatial[-1] if spatial else 0
    want_flags = "sample_flags" in job.want
    want_of = "output_flags" in job.want or split_steps
    diag = frozenset(_REJ_DIAG)
    input_flat = None  # the masks given to this run, flat; only built when needed
    in_prev = None if previous is None else np.concatenate([np.asarray(p, bool).reshape(-1) for p in previous])

    acc: tuple[np.ndarray, ...] | None = fs.masks
    thresholds = job.thresholds
    merged_sf: np.ndarray | None = None
    merged_of: np.ndarray | None = None
    rej_diag: dict[str, np.ndarray] = {}
    steps: list[dict[str, Any]] = []
    res: dict[str, np.ndarray] = {}

    for k, (rejs, grow, final) in enumerate(plan):
        want = set(job.want) if final else {"mask"}
        if not final and (grow is not None or want_flags):
            want.add("sample_flags")
        if want_of:
            want.add("output_flags")
        if rejs and split_steps:
            want |= diag | {"mask"}
        if k == last_rej_stage:
            want |= diag & job.want
        if not rejs:
            want -= diag
        acc_before = acc
        if m == 0:
            res = _empty(fs, frozenset(want | {"data"}))
        else:
            d = job.kernel_dict(rejectors=rejs, thresholds=thresholds, want=frozenset(want), line=line,
                                final=final, planes=fs.planes)
            args = (list(fs.frames), None if acc is None else list(acc), d, int(threads))
            # planes only when given: the same call as before for plain stacks
            res = dict(core.run(*args) if plane_arg is None else core.run(*args, planes=plane_arg))

        if grow is not None:
            _apply_grow(core, res, grow, n, m, spatial)

        sf, of = res.get("sample_flags"), res.get("output_flags")
        if want_flags and sf is not None:
            part = sf if k == 0 else (sf & _STAGE_BITS)
            merged_sf = part.copy() if merged_sf is None else (merged_sf | part)
        if "output_flags" in job.want and of is not None:
            part = of if k == 0 else (of & np.uint8(0xFF ^ int(OutputFlags.PREMASKED)))
            merged_of = part.copy() if merged_of is None else (merged_of | part)

        if rejs and split_steps:
            before = None if acc_before is None else np.concatenate(acc_before)
            step: dict[str, Any] = {"rejector": rejs[-1]}
            for name in _REJ_DIAG:
                step[name] = _shape(res.get(name), spatial)
            step["output_flags"] = _shape(of, spatial)
            new = res["mask"] if before is None else (res["mask"] & ~before)
            step["nrej"] = new.reshape(n, m).sum(axis=0, dtype=np.uint16).reshape(spatial)
            step["mask"] = res["mask"].reshape(n, *spatial)
            if want_flags and sf is not None:
                earlier = in_prev
                if k > 0 and before is not None:
                    if input_flat is None and fs.masks is not None:
                        input_flat = np.concatenate(fs.masks)
                    e = before if input_flat is None else (before & ~input_flat)
                    earlier = e if earlier is None else (earlier | e)
                step["sample_flags"] = _mark_previous(sf, earlier).reshape(n, *spatial)
            steps.append(step)
        if k == last_rej_stage:
            rej_diag = {name: res[name] for name in _REJ_DIAG if name in res}
        if not final:
            acc = tuple(res["mask"].reshape(n, m))
            thresholds = None  # later stages see the threshold exclusions through the mask

    out: dict[str, Any] = {}
    data = res["data"].reshape(spatial)
    dt = result_dtype(job, fs.dtype, masked=fs.masks is not None or fs.planes is not None)
    out["data"] = data if data.dtype == dt else data.astype(dt)
    for name in job.want:
        if name == "mask":
            out["mask"] = res["mask"].reshape(n, *spatial)
        elif name == "sample_flags":
            sf = merged_sf if merged_sf is not None else res["sample_flags"]
            out["sample_flags"] = _mark_previous(sf, in_prev).reshape(n, *spatial)
        elif name == "output_flags":
            of = merged_of if merged_of is not None else res["output_flags"]
            out["output_flags"] = of.reshape(spatial)
        elif name in diag:
            if name in rej_diag:
                out[name] = rej_diag[name].reshape(spatial)
        else:
            out[name] = res[name].reshape(spatial)
    if split_steps:
        out["steps"] = steps
    return out


def _apply_grow(core: Any, res: dict[str, np.ndarray], radius: float, n: int, m: int, spatial: tuple[int, ...]) -> None:
    """Grow this stage's own rejections (ALGORITHM bit) and update mask and flags in place."""
    mask_out = res["mask"]
    seed = (res["sample_flags"] & np.uint8(SampleFlags.ALGORITHM)) != 0
    if not seed.any():
        return
    grown = np.asarray(core.grow_mask(np.ascontiguousarray(seed.reshape(n, *spatial)), float(radius))).reshape(-1)
    added = grown & ~mask_out
    res["mask"] = mask_out | grown
    if added.any():
        res["sample_flags"] = res["sample_flags"] | (added.astype(np.uint8) * np.uint8(SampleFlags.GROW))
        if "output_flags" in res:
            hit = added.reshape(n, m).any(axis=0)
            res["output_flags"] = res["output_flags"] | (hit.astype(np.uint8) * np.uint8(OutputFlags.GROW))


def _mark_previous(sf: np.ndarray, earlier: np.ndarray | None) -> np.ndarray:
    """Flags with INPUT_MASK replaced by PREVIOUS where ``earlier`` is True."""
    if earlier is None or not earlier.any():
        return sf
    out = sf.copy()
    out[earlier] = (out[earlier] & np.uint8(0xFF ^ int(SampleFlags.INPUT_MASK))) | np.uint8(SampleFlags.PREVIOUS)
    return out


def _shape(a: np.ndarray | None, spatial: tuple[int, ...]) -> np.ndarray | None:
    return None if a is None else a.reshape(spatial)


def _empty(fs: FrameSet, want: frozenset[str]) -> dict[str, np.ndarray]:
    ws = fs.workspace
    out: dict[str, np.ndarray] = {}
    for name in want:
        if name in WORKSPACE_TYPED:
            out[name] = np.empty(0, ws)
        elif name == "mask":
            out[name] = np.empty(0, bool)
        elif name == "nused":
            out[name] = np.empty(0, np.int32)
        elif name in ("variance", "weight", "exposure"):
            out[name] = np.empty(0, ws)
        elif name == "dq":
            out[name] = np.empty(0, np.uint8 if fs.planes is None else fs.planes.dq_dtype)
        else:
            out[name] = np.empty(0, np.uint8)
    return out


def combine_method(method: str, weights: Any) -> str:
    """The method a library combine runs: a mean with weights is the weighted mean (``wavg``)."""
    return "wavg" if weights is not None and canonical_method(method) == "mean" else method


def library_job(method: str, *, rejectors: Sequence[Rejector] = (), thresholds: Any = None,
                zero: Any = None, scale: Any = None, weights: Any = None, ddof: int = 0,
                q: float | None = None, blank: float | None = None,
                want: frozenset[str] = frozenset()) -> Job:
    """The :class:`Job` of a library combine from resolved factors (Dask and CLI engines alike)."""
    return Job(method=combine_method(method, weights), rejectors=tuple(rejectors), thresholds=thresholds,
               zero=zero, scale=scale, weights=weights, ddof=ddof, q=q, blank=blank, want=want)
