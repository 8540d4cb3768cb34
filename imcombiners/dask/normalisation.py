"""Normalisation statistics out of core: a first pass over the frames for zero/scale/weights.

Statistic names (and callables) given for zero/scale/weights are computed per frame by
one task per frame that reads only the frame's statistics region; the values then
resolve exactly as in memory (:func:`imcombiners._stats.resolve_normalisation`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Union

import dask
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from imcombiners._stats import canonical_statistic, is_header_spec, parse_statsec, resolve_normalisation
from imcombiners._validate import as_thresholds
from imcombiners.dask.planner import Plan
from imcombiners.dask.scheduling import Progress, execute
from imcombiners.dask.sources import StackSource, frame_bytes
from imcombiners.dask.stack import PreparedStack, fits_headers
from imcombiners.dask.tasks import SpecT, StatFunction, Thresholds, frame_stats, stats_of_arrays
from imcombiners.dask.tiling import Window

__all__ = ["LibraryStat", "Factor", "statistic_specs", "resolve_factors", "statistics_pass"]

#: A statistic of the library modes: a canonical name or a callable on a masked frame.
LibraryStat = Union[str, Callable[[np.ma.MaskedArray], float]]
#: zero / scale / weights as given: None, a number, N numbers, a statistic name or a callable.
Factor = Union[None, float, Sequence[float], np.ndarray, str, Callable[[np.ma.MaskedArray], float]]


def statistic_specs(zero: Factor, scale: Factor, weights: Factor) -> list[LibraryStat]:
    """The distinct statistics zero/scale/weights ask for (names canonical, callables kept)."""
    specs: list[LibraryStat] = []
    for v in (zero, scale, weights):
        if is_header_spec(v):
            continue  # header keywords, not a statistic of the pixels
        if isinstance(v, str):
            spec: LibraryStat = canonical_statistic(v)
        elif callable(v):
            spec = v
        else:
            continue
        if not any(_same_spec(s, spec) for s in specs):
            specs.append(spec)
    return specs


def _same_spec(a: LibraryStat, b: LibraryStat) -> bool:
    return a is b or (isinstance(a, str) and a == b)


def resolve_factors(stack: PreparedStack, zero: Factor, scale: Factor, weights: Factor, statsec: object,
                    thresholds: object, stat_fn: StatFunction[LibraryStat], progress: Progress,
                    relative: bool = True, bad_bits: int | None = None,
                    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """zero, scale and weights resolved to float64 vectors (or None), statistics from one pass;
    ``"!KEY"``/``"exposure"`` from the FITS headers of the inputs.

    The statistics skip what the combine skips: masked samples, bad DQ bits
    (``bad_bits``), unusable variances.
    """
    specs = statistic_specs(zero, scale, weights)
    table: dict[int, np.ndarray] = {}
    if specs:
        table = statistics_pass(stack, specs, parse_statsec(statsec, stack.spatial), as_thresholds(thresholds),
                                stat_fn, progress, bad_bits)

    def stat_of(i: int, spec: LibraryStat) -> float:
        for k, s in enumerate(specs):
            if _same_spec(s, spec):
                return float(table[k][i])
        raise KeyError(spec)  # pragma: no cover - every spec is precomputed

    headers = fits_headers(stack) if any(is_header_spec(v) for v in (zero, scale, weights)) else None
    return resolve_normalisation(stack.n, zero, scale, weights, stat_of=stat_of, relative=relative,
                                 headers=headers)


def statistics_pass(stack: PreparedStack, specs: Sequence[SpecT], region: Window | None,
                    thresholds: Thresholds | None, stat_fn: StatFunction[SpecT],
                    progress: Progress, bad_bits: int | None = None) -> dict[int, np.ndarray]:
    """One task per frame reading only its statistics region; runs now (eagerly).

    Returns
    -------
    dict
        ``k -> (N,)`` float64 values of ``specs[k]``.
    """
    source = stack.source
    if source is None:
        values = _dask_statistics(stack, specs, region, thresholds, stat_fn, bad_bits)
    else:
        planes = {r: src for r, src in stack.plane_sources.items() if r in ("dq", "variance")}
        name = f"imc-stats-{_tok(source.token, specs, region, thresholds, sorted(planes), bad_bits)}"
        extra = (planes, bad_bits) if planes else ()
        layer = {(name, i): (frame_stats, source, stack.mask_source, i, region, specs, thresholds, stat_fn,
                             *extra)
                 for i in range(stack.n)}
        hlg = HighLevelGraph.from_collections(name, layer, dependencies=[])
        results: dict[int, list[float]] = {}

        def keep(key: Hashable, value: object) -> None:
            results[key[1]] = value  # type: ignore[index]

        execute(hlg, list(layer), _pass_plan(stack, source, region), progress, name, on_result=keep)
        values = [results[i] for i in range(stack.n)]
    arr = np.asarray(values, dtype=np.float64).reshape(stack.n, len(specs))
    return {k: arr[:, k] for k in range(len(specs))}


def _dask_statistics(stack: PreparedStack, specs: Sequence[SpecT], region: Window | None,
                     thresholds: Thresholds | None, stat_fn: StatFunction[SpecT],
                     bad_bits: int | None = None) -> list[list[float]]:
    """A dask input: statistics per frame from its blocks."""
    assert stack.darr is not None
    reg = region or tuple(slice(None) for _ in stack.spatial)
    parts = []
    for i in range(stack.n):
        fr = stack.darr[(i,) + reg]
        mk = None if stack.dmask is None else stack.dmask[(i,) + reg]
        dq, var = (None if role not in stack.dplanes else stack.dplanes[role][(i,) + reg]
                   for role in ("dq", "variance"))
        parts.append(dask.delayed(stats_of_arrays)(fr, mk, specs, thresholds, stat_fn, dq, var, bad_bits))
    return list(dask.compute(*parts))


def _pass_plan(stack: PreparedStack, source: StackSource, region: Window | None) -> Plan:
    """The run's plan with the concurrency of the statistics pass (4 frame regions per task)."""
    plan = stack.plan
    per = frame_bytes(source) if region is None else int(
        np.prod([len(range(*s.indices(n))) for s, n in zip(region, stack.spatial)])) * source.dtype.itemsize
    threads = plan.threads
    if plan.memory_limit is not None:
        room = plan.memory_limit - plan.baseline
        threads = max(1, min(threads, int(room // max(1, 4 * per))))
    return Plan(plan.shape, plan.tile, 0, plan.chunks, stack.n, stack.n, threads, 4 * per,
                plan.baseline, 0, plan.baseline + threads * 4 * per, plan.memory_limit)


def _tok(*args: object) -> str:
    return tokenize(*[repr(a) if callable(a) else a for a in args])
