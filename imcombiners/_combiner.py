"""``Combiner``: the standard and the chained way to combine a stack.

Standard use is one call::

    out = Combiner(stack).combine("median", scale="median", rejectors=[SigClip(3)])

Chained use keeps state between steps (accumulated mask, normalisation, history)::

    cmb = Combiner(stack).threshold(0, 60000).zero_scale(scale="median")
    cmb.reject(SigClip(3)).reject(MinMaxClip(0, 1))
    res = cmb.combine("median", diagnostics="simple")

The input is never modified (even with ``copy=False``): thresholds and rejections are
masks, and zero/scale are applied by the kernel while it reads the samples.

imcombiners 0.1.1 spellings (``arr=``, ``validate=``, ``weight=``, ``full=``,
``zero_to_0th``/``scale_to_0th``, ``*_sigclip_kwargs``, ``threshold(low=, upp=)``,
``variance(return_mean=)``, the state attributes ``mask_rej``, ``last_reject``, ... and
``copy()``) keep working with a DeprecationWarning (see docs/migrating-from-0.1.md).
"""

from __future__ import annotations

import copy as _copy
import math
from typing import Any

import numpy as np

from ._deprecation import pop_validate, renamed_kwargs, warn_deprecated
from ._frames import FrameSet, prepare_frames
from ._job import Job, run_job
from ._legacy import LegacyCombinerState, Rebase011, merge_threshold_pairs, run_custom_rejector, translate_zero_scale
from ._planes import as_bad_bits, planes_from_files, prepare_planes, split_weights, unusable_samples
from ._rejectors import Rejector
from ._combine_request import (ALL_DIAGNOSTICS, as_rejectors, check_rejector, full_or_diagnostics,
                               wanted_outputs, weighted_method)
from ._results import CombineResult, Step, result_from_run, step_from_raw
from ._stats import frame_statistic, parse_statsec, resolve_normalisation
from .kernels import grow_mask
from ._validate import as_bool, as_int, as_thresholds, canonical_method, check_diagnostics

__all__ = ["Combiner", "CombineResult", "Step"]

_LEGACY_ZS = ("zero_to_0th", "scale_to_0th", "zero_sigclip_kwargs", "scale_sigclip_kwargs")


class Combiner(LegacyCombinerState):
    """Combine a stack of frames along axis 0, optionally step by step.

    Parameters
    ----------
    stack
        ``(N, *spatial)`` ndarray (any layout or byte order) or a list/tuple of N equally
        shaped arrays. dtypes: uint8, uint16, int16 (float32 results), int32 (float64),
        float32, float64; anything else raises ``TypeError`` (cast explicitly). A list of
        N FITS file names (IRAF names such as ``"raw.fits[SCI]"`` allowed) reads the
        images' physical values (:mod:`imcombiners.io.fits`: unsigned 32-bit and scaled
        32-bit images as float64, BLANK pixels masked, ``.fz``/``.gz`` files too).
    mask
        Bool array of the stack's shape (True = bad), a list of N frame masks, or one
        frame-shaped mask shared by all frames. NaN and +/-inf are always masked.
    variance
        Variance of every sample in raw units (the stack's shape or N frames), for the
        propagated ``variance`` product, inverse-variance weights and :class:`VarClip`.
        A sample whose variance is not finite or not positive is not used.  With a stack
        of FITS file names: an extension name of every file (``"VAR"``; ``"ERR"`` squared,
        ``"WHT"``/``"IVAR"`` inverted on read; ``("NAME", "stddev")`` for other names).
    dq
        Integer DQ words (the stack's shape, N frames or one frame shared by all), or an
        extension name (``"DQ"``) of FITS file names.
    bad_bits
        DQ bits that exclude a sample (``dq & bad_bits != 0``); None: every bit, 0: none
        (the DQ is then only propagated to the ``dq`` product).
    copy
        Keep private copies of the frames and mask. Not needed for safety (the input is
        never written); use it when you will modify the arrays while the Combiner lives
        (0.1.1 always copied).

    Notes
    -----
    The rules for variances, weights and DQ words (which samples count, zero/scale on the
    variance, the products) are in docs/design.md, "Survey planes".
    """

    @renamed_kwargs(arr="stack")
    def __init__(self, stack: Any, mask: Any = None, *, variance: Any = None, dq: Any = None,
                 bad_bits: Any = None, copy: bool = False, **legacy: Any) -> None:
        pop_validate("Combiner", legacy)
        if legacy:
            raise TypeError(f"Combiner() got unexpected keyword arguments {sorted(legacy)}")
        copy = as_bool(copy, "copy")  # reliability: copy="no" is not True
        # extension names of FITS file stacks (variance="VAR", dq="DQ") read before the frames
        variance = planes_from_files(stack, variance, "variance")
        dq = planes_from_files(stack, dq, "dq")
        fs = prepare_frames(stack, mask, copy=copy)
        planes = prepare_planes(fs.n, fs.spatial, variance=variance, dq=dq, copy=copy)
        if bad_bits is not None and (planes is None or planes.dq is None):
            raise ValueError("bad_bits selects DQ bits: it needs dq= (integer DQ words)")
        self._bad_bits = None if bad_bits is None else as_bad_bits(bad_bits, planes.dq_dtype)  # type: ignore[union-attr]
        self._fs: FrameSet = fs.with_planes(planes)
        self._acc: tuple[np.ndarray, ...] | None = self._fs.masks
        self._chained = False
        self._zero: np.ndarray | None = None
        self._scale: np.ndarray | None = None
        self._history: list[Step] = []
        self._sample_flags: np.ndarray | None = None
        self._legacy_init()

    # ----------------------------------------------------------------- properties

    @property
    def shape(self) -> tuple[int, ...]:
        """Stack shape ``(N, *spatial)``."""
        return self._fs.shape

    @property
    def n_frames(self) -> int:
        """Number of frames N."""
        return self._fs.n

    @property
    def dtype(self) -> np.dtype:
        """Input dtype (native byte order)."""
        return self._fs.dtype

    @property
    def mask(self) -> np.ndarray | None:
        """Accumulated ``(N, *spatial)`` bool mask (input mask + chained steps), or None.

        NaN/inf samples appear here once a rejection step has run.
        """
        if self._acc is None:
            return None
        return np.stack(self._acc).reshape(self._fs.shape)

    @property
    def history(self) -> tuple[Step, ...]:
        """Diagnostics of every chained step so far."""
        return tuple(self._history)

    @property
    def sample_flags(self) -> np.ndarray | None:
        """Sample flags of the last ``reject()`` (stage-local) or ``combine()`` run with
        ``diagnostics="full"`` (None before)."""
        return self._sample_flags

    @property
    def zero(self) -> np.ndarray | None:
        """Per-frame zero set by :meth:`zero_scale` (None if not set)."""
        return self._zero

    @property
    def scale(self) -> np.ndarray | None:
        """Per-frame scale set by :meth:`zero_scale` (None if not set)."""
        return self._scale

    def __repr__(self) -> str:
        # imcombiners 0.1.1's format (H, W for images; the spatial shape otherwise).
        n_masked = 0 if self._acc is None else int(sum(int(a.sum()) for a in self._acc))
        sp = self._fs.spatial
        where = f"H={sp[0]}, W={sp[1]}" if len(sp) == 2 else f"shape={sp}"
        return f"Combiner(N={self._fs.n}, {where}, dtype={self._fs.workspace.name}, n_masked={n_masked})"

    # ----------------------------------------------------------------- helpers

    def _stat_of(self, thresholds: tuple[float, float] | None, statsec: Any):
        fs, acc = self._fs, self._acc
        bad_bits = self._bad_bits

        def stat_of(i: int, spec: Any) -> float:
            # the samples the combine uses: not masked, no bad DQ bit, a usable variance
            m = None if acc is None else acc[i]
            pl = fs.planes
            unusable = None if pl is None else unusable_samples(
                None if pl.dq is None else pl.dq[i], None if pl.variance is None else pl.variance[i], bad_bits)
            if unusable is not None:
                m = unusable if m is None else (m | unusable)
            m = None if m is None else m.reshape(fs.spatial)
            return frame_statistic(fs.frame(i), m, spec, thresholds=thresholds, statsec=statsec)

        return stat_of

    def _previous(self) -> tuple[np.ndarray, ...] | None:
        """Samples of the accumulated mask that earlier steps (not the input mask) excluded."""
        if not self._chained or self._acc is None:
            return None
        if self._fs.masks is None:
            return self._acc
        return tuple(a & ~b for a, b in zip(self._acc, self._fs.masks))

    def _frames(self) -> FrameSet:
        return self._fs.with_masks(self._acc)

    # ----------------------------------------------------------------- chained steps

    @renamed_kwargs(low="lo", upp="hi")
    def threshold(self, lo: float | None = -math.inf, hi: float | None = math.inf) -> Combiner:
        """Exclude samples whose raw value is outside ``[lo, hi]`` (inclusive keep range).

        Thresholds always apply to raw (un-normalised) values, whatever the order of the
        chained calls (0.1.1 applied them to the current, possibly normalised, values).
        Returns ``self``. ``low=``/``upp=`` are deprecated 0.1.1 names of ``lo``/``hi``.
        """
        lo_, hi_ = as_thresholds((lo, hi), "threshold (lo, hi)")
        fs = self._fs
        new_acc = []
        nrej = np.zeros(fs.m, np.uint16)
        for i in range(fs.n):
            f = fs.frames[i]
            with np.errstate(invalid="ignore"):
                out = (f < lo_) | (f > hi_)
            prev = None if self._acc is None else self._acc[i]
            nrej += out if prev is None else (out & ~prev)
            new_acc.append(out if prev is None else (out | prev))
        self._acc = tuple(new_acc)
        self._chained = True
        self._history.append(Step("threshold", params={"thresholds": (lo_, hi_)}, nrej=nrej.reshape(fs.spatial)))
        self._legacy_thresholds.append((lo_, hi_))
        self._legacy_mask = None  # the chain mask is the latest again
        return self

    def zero_scale(
        self,
        zero: Any = None,
        scale: Any = None,
        *,
        statsec: Any = None,
        relative: bool = True,
        **legacy: Any,
    ) -> Combiner:
        """Set the per-frame normalisation ``value' = (value - zero) / scale``.

        Statistics are taken on the raw frames over the current valid samples (input
        mask, thresholds and earlier rejections excluded). May be called once. Returns
        ``self``. See :mod:`imcombiners._stats` for the accepted forms. 0.1.1's
        ``zero_to_0th``, ``scale_to_0th``, ``zero_sigclip_kwargs`` and
        ``scale_sigclip_kwargs`` are accepted with a DeprecationWarning.
        """
        if self._zero is not None or self._scale is not None:
            raise ValueError("zero_scale: the normalisation is already set for this Combiner; create a new one to change it")
        parse_statsec(statsec, self._fs.spatial)
        z, s, _ = self._resolve("Combiner.zero_scale", zero, scale, None, None, statsec, relative, legacy)
        self._zero, self._scale = z, s
        self._chained = True
        self._history.append(Step("zero_scale", params={"zero": z, "scale": s, "statsec": statsec}))
        return self

    def _resolve(self, owner: str, zero: Any, scale: Any, weights: Any, thr: Any, statsec: Any, relative: Any,
                 legacy: dict[str, Any]) -> tuple[Any, Any, Any]:
        """Resolve zero/scale/weights to vectors, honouring 0.1.1's zero/scale keywords."""
        unknown = set(legacy) - set(_LEGACY_ZS)
        if unknown:
            raise TypeError(f"{owner}() got unexpected keyword arguments {sorted(unknown)}")
        if legacy:
            zero, scale, relative = translate_zero_scale(owner, zero, scale, relative, legacy)
        rebase = relative if isinstance(relative, Rebase011) else None
        z, s, w = resolve_normalisation(
            self._fs.n, zero, scale, weights, stat_of=self._stat_of(thr, statsec),
            relative=False if rebase is not None else relative, parallel=True,
        )
        if rebase is not None:
            z, s = rebase.apply(z, s)
        return z, s, w

    def _workspace(self) -> np.ndarray:
        """The normalised float stack ``(N, *spatial)`` (for user rejectors)."""
        fs = self._fs
        out = np.empty(fs.shape, fs.workspace)
        for i in range(fs.n):
            v = fs.frame(i).astype(np.float64)
            if self._zero is not None:
                v = v - self._zero[i]
            if self._scale is not None:
                v = v / self._scale[i]
            out[i] = v
        return out

    def _reject_custom(self, rejector: Rejector, grow: float | None) -> Step:
        """Run a user rejector's own ``apply`` (0.1.1's extension point) as a step."""
        warn_deprecated(f"a Rejector subclass with its own apply() ({type(rejector).__name__})",
                        "a mask you compute yourself: Combiner(stack, mask=...) or a built-in rejector",
                        detail="it runs in Python on a normalised copy of the stack")
        before = self.mask
        radius = grow if grow is not None else getattr(rejector, "grow", None)
        grow_fn = None if radius is None else (lambda m: grow_mask(m, radius))
        raw = run_custom_rejector(rejector, self._workspace(), before, grow_fn)
        new = raw["mask"] if before is None else (raw["mask"] & ~before)
        return Step(
            kind="reject", rejector=rejector, params={"grow": radius},
            nrej=new.reshape(self._fs.n, -1).sum(axis=0, dtype=np.uint16).reshape(self._fs.spatial),
            std=raw["std"], low=raw["low"], upp=raw["upp"], nit=raw["nit"],
            output_flags=raw["output_flags"], mask=raw["mask"],
        )

    def reject(self, rejector: Rejector, grow: float | None = None, diagnostics: str | None = "simple") -> Combiner:
        """Apply one rejector to the current survivors and keep the result.

        Parameters
        ----------
        rejector
            A :class:`~imcombiners.Rejector` instance.
        grow
            Override of the rejector's ``grow`` radius.
        diagnostics
            ``"simple"`` (None is the same) or ``"full"`` (also stage-local
            ``sample_flags``, kept in :attr:`sample_flags` and in the step).

        Returns ``self``; the step's diagnostics are appended to :attr:`history`.
        """
        check_rejector(rejector)
        level = check_diagnostics(diagnostics) or "simple"
        if rejector.is_custom:
            step = self._reject_custom(rejector, grow)
            n, m = self._fs.n, self._fs.m
            self._acc = tuple(np.ascontiguousarray(step.mask).reshape(n, m))
            self._chained = True
            self._history.append(step)
            self._legacy_steps.append(step)
            self._legacy_mask = None
            return self
        if grow is not None:
            rejector = rejector.replace(grow=grow)
        want = set(ALL_DIAGNOSTICS)
        if level == "full":
            want.add("sample_flags")
        job = Job("mean", rejectors=(rejector,), zero=self._zero, scale=self._scale, want=frozenset(want),
                  bad_bits=self._bad_bits)
        res = run_job(
            self._frames(), None, job, split_steps=True,
            previous=self._previous() if level == "full" else None,
        )
        step = step_from_raw(res["steps"][0], rejector)
        n, m = self._fs.n, self._fs.m
        self._acc = tuple(np.ascontiguousarray(res["mask"]).reshape(n, m))
        self._chained = True
        self._history.append(step)
        self._legacy_steps.append(step)
        self._legacy_mask = None
        if level == "full":
            self._sample_flags = step.sample_flags
            self._legacy_sample_flags = step.sample_flags
        return self

    # ----------------------------------------------------------------- combine

    def combine(
        self,
        method: str = "mean",
        *,
        thresholds: Any = None,
        zero: Any = None,
        scale: Any = None,
        weights: Any = None,
        rejectors: Any = None,
        diagnostics: Any = None,
        ddof: int = 0,
        blank: float | None = None,
        statsec: Any = None,
        q: float | None = None,
        relative: bool = True,
        nodata_bit: int | None = None,
        exptime: Any = None,
        **legacy: Any,
    ) -> np.ndarray | CombineResult:
        """Combine the frames (after any chained steps) and return the image.

        Order: thresholds (inclusive keep range on raw values) -> zero/scale -> each
        rejector in turn (each sees the survivors of the previous ones) -> ``method`` over
        the survivors. The Combiner's state is not changed.

        Parameters
        ----------
        method
            mean|average|avg, median|med, lmedian|lmed (lower middle), sum|summation,
            min|minimum, max|maximum, variance|var, wavg|weighted_average (needs
            ``weights``), quantile (needs ``q``).
        thresholds
            ``(lo, hi)`` keep range on raw values (None for one side = unbounded).
        zero, scale, weights
            None, a number, a length-N sequence, a callable on a masked frame or a
            statistic name (mean, median, mode, sigclip_mean, sigclip_median). ``weights``
            turn ``mean`` into a weighted mean and ``sum`` into a weighted sum; they may also
            be one weight per sample (an array of the stack's shape), ``"inverse_variance"``
            (1/variance after scaling; needs ``variance=``) or ``"noise"``, which weights
            each frame by the inverse variance of its normalised noise,
            ``(scale_i / sigma_i)**2`` with sigma_i a robust noise estimate (see
            :mod:`imcombiners._stats`). Header keywords (``"!KEY"``, ``"exposure"``) need
            FITS inputs: :func:`imcombiners.dask.combine` or the command line.
        rejectors
            A :class:`~imcombiners.Rejector` or a sequence of them.
        diagnostics
            None: return only the image (fastest: one fused kernel call). ``"simple"``:
            a :class:`CombineResult`. ``"full"``: also ``sample_flags``.  Or a list of
            output names: any of mask, sample_flags, std, low, upp, nit, output_flags,
            nused, clip_low, clip_upp, and the survey products variance, weight,
            exposure, dq.
        ddof
            Delta degrees of freedom of ``variance``.
        blank
            Value where no sample is left (default NaN; ``sum`` gives 0).
        statsec
            Region of the statistics (tuple of slices or IRAF ``"[x1:x2,y1:y2]"``).
        q
            Quantile in [0, 1] for ``method="quantile"``.
        relative
            Make zero/scale vectors relative to the first frame (IRAF convention).
        nodata_bit
            Bit of the ``dq`` product set where no sample is left (default: the top bit of
            its dtype; 0: none).
        exptime
            Exposure time of each frame (N numbers) for the ``exposure`` product.
        **legacy
            Deprecated 0.1.1 keywords: ``weight`` (= ``weights``), ``full=True``
            (= ``diagnostics="simple"``, returning the image), ``zero_to_0th``,
            ``scale_to_0th``, ``zero_sigclip_kwargs``, ``scale_sigclip_kwargs``.
            ``thresholds`` may also be 0.1.1's list of ``(low, upp)`` pairs.

        Returns
        -------
        numpy.ndarray or CombineResult
            Integer input keeps its dtype for lmedian/min/max when nothing is masked,
            thresholded, normalised, weighted or rejected; otherwise float32 (uint8,
            uint16, int16, float32 input) or float64 (int32, float64 input).
        """
        if "weight" in legacy:
            if weights is not None:
                raise TypeError("Combiner.combine: give either weights= or the deprecated weight=, not both")
            warn_deprecated("Combiner.combine(weight=...)", "weights=")
            weights = legacy.pop("weight")
        diagnostics, legacy_full = full_or_diagnostics("Combiner.combine", legacy.pop("full", None), diagnostics)
        method = canonical_method(method)
        level, want = wanted_outputs(diagnostics)
        rejs = as_rejectors(rejectors)
        thr = as_thresholds(merge_threshold_pairs(thresholds))
        products = {"want": want, "nodata_bit": nodata_bit, "exptime": exptime}
        if any(r.is_custom for r in rejs):
            res = self._combine_as_chain(method, thr, zero, scale, weights, rejs, level, ddof, blank,
                                         statsec, q, relative, legacy, products)
        else:
            res = self._combine(method, thr, zero, scale, weights, rejs, level, ddof, blank, statsec, q,
                                relative, legacy, products)
        if level is None:
            return res
        self._legacy_record(res, thr, level)
        return res.data if legacy_full else res

    def _legacy_record(self, res: CombineResult, thr: Any, level: str) -> None:
        """Remember a diagnostics combine for 0.1.1's state attributes (0.1.1 ran it as
        chained steps)."""
        new = res.history[len(self._history):]
        self._legacy_steps.extend(s for s in new if s.kind == "reject")
        if thr is not None:
            self._legacy_thresholds.append(thr)
        self._legacy_mask = res.mask
        if level == "full":
            self._legacy_sample_flags = res.sample_flags
            self._sample_flags = res.sample_flags

    def _combine_as_chain(self, method: str, thr: Any, zero: Any, scale: Any, weights: Any,
                          rejs: tuple[Rejector, ...], level: str | None, ddof: int, blank: Any,
                          statsec: Any, q: Any, relative: Any, legacy: dict[str, Any],
                          products: dict[str, Any]) -> Any:
        """A combine with a user rejector: run it as chained steps on a copy."""
        tmp = _copy.copy(self)
        if thr is not None:
            tmp.threshold(*thr)
        if zero is not None or scale is not None or legacy:
            if self._zero is not None or self._scale is not None:
                raise ValueError("zero/scale: the normalisation was already set by zero_scale(); give both "
                                 "zero and scale there, not to combine()")
            z, s, _ = tmp._resolve("Combiner.combine", zero, scale, None, None, statsec, relative, legacy)
            tmp._zero, tmp._scale = z, s
        for r in rejs:
            tmp.reject(r, diagnostics="full" if level == "full" else "simple")
        res = tmp._combine(method, None, None, None, weights, (), level, ddof, blank, statsec, q, relative, {},
                           products)
        if level is None:
            return res
        last = tmp._history[-1]
        return CombineResult(
            data=res.data, mask=res.mask, low=last.low, upp=last.upp,
            std=last.std if (last.rejector is not None and (last.rejector.has_spread or last.rejector.is_custom)) else None,
            nit=last.nit, output_flags=res.output_flags, nused=res.nused, sample_flags=res.sample_flags,
            history=tuple(tmp._history), zero=tmp._zero, scale=tmp._scale, weights=res.weights,
            clip_low=last.clip_low, clip_upp=last.clip_upp, variance=res.variance, weight=res.weight,
            exposure=res.exposure, dq=res.dq,
            _legacy={"rejected": True, "full": level == "full",
                     "mask_thresh": _thresh_mask_fn(self._fs, thr)},
        )

    def _combine(self, method: str, thr: Any, zero: Any, scale: Any, weights: Any, rejs: tuple[Rejector, ...],
                 level: str | None, ddof: int, blank: Any, statsec: Any, q: Any, relative: Any,
                 legacy: dict[str, Any], products: dict[str, Any]) -> Any:
        fs = self._fs
        weighting, weights, planes = split_weights(weights, fs.n, fs.spatial, fs.planes)
        method = weighted_method(method, weights is not None or weighting is not None)
        if (zero is not None or scale is not None) and (self._zero is not None or self._scale is not None):
            # Relative zeros depend on the scales, so both must be resolved together.
            raise ValueError(
                "zero/scale: the normalisation was already set by zero_scale(); give both zero and "
                "scale there, not to combine()"
            )
        parse_statsec(statsec, self._fs.spatial)
        z, s, w = self._resolve("Combiner.combine", zero, scale, weights, thr, statsec, relative, legacy)
        z = self._zero if z is None else z
        s = self._scale if s is None else s

        want = products["want"]
        job = Job(method, rejectors=rejs, thresholds=thr, zero=z, scale=s, weights=w,
                  ddof=ddof, q=q, blank=blank, want=want, weighting="frame" if w is not None else weighting,
                  bad_bits=self._bad_bits, nodata_bit=products["nodata_bit"], exptime=products["exptime"])
        frames = self._frames().with_planes(planes)
        if level is None:
            return run_job(frames, None, job)["data"]

        res = run_job(
            frames, None, job, split_steps=bool(rejs) and level != "list",
            previous=self._previous() if "sample_flags" in want else None,
        )
        return result_from_run(res, rejs, tuple(self._history), z, s, w, level,
                               _thresh_mask_fn(self._fs, thr))

    def variance(self, ddof: int = 1, *, blank: float | None = None, **legacy: Any) -> Any:
        """Variance of the surviving samples (after the chained steps) along axis 0.

        ``sum((x - mean)**2) / (n - ddof)`` over the valid, normalised samples; NaN where
        ``n <= ddof``. The default ``ddof=1`` is the sample variance (imcombiners 0.1.1);
        ``combine("variance")`` defaults to ``ddof=0`` like ``numpy.nanvar``.
        ``return_mean=True`` (deprecated 0.1.1 keyword) returns ``(variance, mean)``.
        """
        return_mean = legacy.pop("return_mean", None)
        if legacy:
            raise TypeError(f"Combiner.variance() got unexpected keyword arguments {sorted(legacy)}")
        ddof = as_int(ddof, "ddof", min=0)
        var = self.combine("variance", ddof=ddof, blank=blank)
        if return_mean is None or not as_bool(return_mean, "return_mean"):
            if return_mean is not None:
                warn_deprecated("Combiner.variance(return_mean=...)", "Combiner.combine('mean')")
            return var
        warn_deprecated("Combiner.variance(return_mean=True)", "Combiner.combine('mean') for the mean")
        return var, self.combine("mean", blank=blank)


def _thresh_mask_fn(fs: FrameSet, thr: Any) -> Any:
    """A lazy 0.1.1 ``mask_thresh`` for a combine (None without thresholds)."""
    if thr is None:
        return None
    from ._legacy import threshold_mask

    return lambda: threshold_mask(fs.frames, [thr], fs.shape)

