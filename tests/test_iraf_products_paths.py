"""The IRAF products do not depend on the engine's path.

Lines without masks or thresholds take fast paths that keep the values slot-major and
derive the products lazily (value ranges for the images used, ids rebuilt only where equal
values make IRAF's sort order matter); a threshold that excludes nothing sends the same
lines through the general per-pixel path. Both must give the same bits.
"""

from __future__ import annotations

import numpy as np
import pytest

import imcombiners as imc

ALL = ["sigma", "rejmask", "nrejmask", "expmask", "bpmask"]

CASES = [
    dict(combine="median", reject="sigclip"),
    dict(combine="average", reject="sigclip"),
    dict(combine="median", reject="ccdclip", rdnoise=5.0, gain=1.0),
    dict(combine="average", reject="ccdclip", rdnoise=5.0, gain=1.0),
    dict(combine="sum", reject="crreject", rdnoise=5.0, gain=1.0),
    dict(combine="average", reject="sigclip", mclip=False),
    dict(combine="median", reject="none"),
    dict(combine="average", reject="none"),
    dict(combine="average", reject="minmax", nlow=1, nhigh=2),
    dict(combine="median", reject="sigclip", nkeep=-2),
    dict(combine="average", reject="sigclip", nkeep=3, lsigma=1.0, hsigma=1.0),
]


def _stack(rng: np.random.Generator, n: int, ties: bool) -> np.ndarray:
    st = rng.normal(1000.0, 30.0, (n, 37, 130))
    st[rng.random(st.shape) < 0.02] += 3000.0
    if ties:
        st = np.round(st / 7.0) * 7.0  # many equal values, some at the clip boundaries
    return st.astype(np.float32)


@pytest.mark.parametrize("kw", CASES, ids=lambda k: "-".join(str(v) for v in k.values()))
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("n", [5, 20])
@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_fast_and_general_paths_agree(kw, ties, n, dtype):
    rng = np.random.default_rng(n * 7 + ties)
    st = _stack(rng, n, ties).astype(dtype)
    exposure = list(rng.choice([1.0, 2.0, 5.0], n)) if n == 5 else None
    extra = {} if exposure is None else {
        "expname": "EXPTIME", "headers": [{"EXPTIME": float(e)} for e in exposure]}
    fast = imc.imcombine(st, products=ALL, **kw, **extra)
    general = imc.imcombine(st, products=ALL, lthreshold=-1e30, **kw, **extra)
    np.testing.assert_array_equal(fast.output.view(np.uint8), general.output.view(np.uint8))
    for name in ALL:
        a, b = getattr(fast, name), getattr(general, name)
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8), err_msg=name)
