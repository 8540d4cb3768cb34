"""Entry points the fuzzer does not reach: chained Combiner steps, offsets, the Dask
engine's own arguments.  Each bad argument raises TypeError/ValueError naming it."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.twin import require_package

require_package()

import imcombiners as imc  # noqa: E402
import imcombiners.dask as imd  # noqa: E402

X = np.random.default_rng(41).normal(100, 5, (4, 6, 5)).astype(np.float32)

CASES = [
    # (call, exception, the message must contain)
    (lambda: imc.Combiner(X).threshold("a", 5), TypeError, "threshold"),
    (lambda: imc.Combiner(X).threshold(5, 1), ValueError, "threshold"),
    (lambda: imc.Combiner(X).threshold(np.nan, 1), ValueError, "threshold"),
    (lambda: imc.Combiner(X).zero_scale(scale=[1, 2]), ValueError, "scale"),
    (lambda: imc.Combiner(X).zero_scale(zero="bogus"), ValueError, "zero"),
    (lambda: imc.Combiner(X).zero_scale(scale="median").zero_scale(scale="mean"), ValueError, "zero_scale"),
    (lambda: imc.Combiner(X).zero_scale(scale="median", statsec="[a:b]"), ValueError, "statsec"),
    (lambda: imc.Combiner(X).reject("sigclip"), TypeError, "Rejector"),
    (lambda: imc.Combiner(X).reject(imc.SigClip(), grow=-1), ValueError, "grow"),
    (lambda: imc.Combiner(X).reject(imc.SigClip(), diagnostics="all"), ValueError, "diagnostics"),
    (lambda: imc.Combiner(X, copy="no"), TypeError, "copy"),  # "no" would be truthy
    (lambda: imc.Combiner(X).combine(scale="median", relative="no"), TypeError, "relative"),
    (lambda: imc.ndcombine(X, scale="median", relative="no"), TypeError, "relative"),
    (lambda: imd.combine(X, scale="median", relative="no"), TypeError, "relative"),
    (lambda: imc.place_into_padded([X[0], X[1]], [(0, 0)]), ValueError, "offsets"),
    (lambda: imc.place_into_padded([X[0], X[1]], [(0, 0), (0.5, 0)]), TypeError, "offsets"),
    (lambda: imd.combine(X, tile=(0, 5)), ValueError, "tile"),
    (lambda: imd.combine(X, tile="4"), ValueError, "tile"),
    (lambda: imd.combine(X, memory_limit="lots"), ValueError, "memory_limit"),
    (lambda: imd.combine(X, memory_limit=-5), ValueError, "memory_limit"),
    (lambda: imd.combine(X, threads=-1), ValueError, "threads"),
    (lambda: imd.combine(X, diagnostics=["sigma2"]), ValueError, "diagnostics"),
    (lambda: imd.combine(X, rejectors="sigclip"), TypeError, "rejectors"),
    (lambda: imd.combine(X, "bogus"), ValueError, "method"),
    (lambda: imd.combine("a.fits"), TypeError, "inputs"),
    (lambda: imd.combine(5), TypeError, "inputs"),
    (lambda: imd.combine(np.zeros(5)), ValueError, "inputs"),
    (lambda: imd.combine(np.zeros((3, 4), np.int64)), TypeError, "int64"),
    (lambda: imd.combine(list(X), offsets=[(0, 0)]), ValueError, "offsets"),
    (lambda: imd.combine(X, weights=[0, 0, 0, 0]), ValueError, "weights"),
    (lambda: imd.combine(X, "quantile", q=2), ValueError, "q"),
    (lambda: imd.plan(X, memory_limt="2GB"), TypeError, "memory_limt"),  # a typo is not ignored
]


@pytest.mark.parametrize("k", range(len(CASES)))
def test_bad_argument_is_named(k):
    call, exc, text = CASES[k]
    with pytest.raises(exc) as info:
        call()
    assert text in str(info.value), str(info.value)


def test_plan_still_takes_every_combine_argument():
    p = imd.plan(X, "median", zero="median", scale=[1, 2, 3, 4], weights=None, thresholds=(0, 1e4),
                 statsec=None, ddof=0, q=None, blank=None, relative=False, progress=None)
    assert p.shape == X.shape
