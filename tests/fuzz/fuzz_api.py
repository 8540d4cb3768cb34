"""Hypothesis fuzzing of the public entry points, meant to run in a child process.

``python -m tests.fuzz.fuzz_api --examples K --log FILE`` (from the repository root) runs every ``fuzz_*`` target
below with ``derandomize=True`` (the same examples on every run) and exits 0 when all
pass.  ``tests/test_reliability_fuzz.py`` starts it and checks the exit status: a
signal exit (segfault, abort after an escaped Rust panic or a failed allocation) is a
failure there, and the last example written to ``FILE`` before each call says which
input did it.

Properties checked for every example (arguments and array contents are adversarial:
unsupported dtypes, byte-swapped and strided layouts, zero-size axes, NaN/inf, values at
the dtype limits, subnormals, garbage parameter values):

* the call returns or raises; nothing else happens (no crash, no hang);
* an exception is ``TypeError``/``ValueError`` whose message names a parameter of the
  call (or ``NotImplementedError`` for the library AvSigClip, which the library kernel
  does not implement);
* a result has the documented shape and dtype;
* where the semantics are defined by ``tests/helpers/reference.py`` (the slow NumPy twin), the
  result equals the twin's (fragile elements excluded, as in the twin tests);
* the input array is never modified.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import traceback
import warnings
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import imcombiners as imc
import imcombiners.kernels as imck
from tests.helpers import reference as ref

LOG: Path | None = None

ACCEPTED = ("uint8", "uint16", "int16", "int32", "float32", "float64", ">f4", ">f8", ">i2", ">u2", ">i4")
REFUSED = ("int64", "uint32", "uint64", "int8", "float16", "bool", "complex64", "object")


OUTCOMES: dict[str, dict[str, int]] = {}


def count(target: str, outcome: str) -> None:
    """Tally outcomes so the parent can check the fuzzing reaches the success paths."""
    d = OUTCOMES.setdefault(target, {})
    d[outcome] = d.get(outcome, 0) + 1


def note(text: str) -> None:
    """Record the example about to run (survives a crash of this process)."""
    if LOG is not None:
        LOG.write_text(text)


# ------------------------------------------------------------------------- arrays


@dataclasses.dataclass
class Case:
    stack: object          # ndarray, masked array or list of frames
    mask: object
    dtype: np.dtype
    shape: tuple
    layout: str
    finite_max: float      # max |finite value| (twin comparisons skip values the twin overflows on)

    def native(self) -> np.ndarray:
        if isinstance(self.stack, list):
            a = np.stack([np.asarray(f) for f in self.stack])
        else:
            a = np.ma.getdata(self.stack) if isinstance(self.stack, np.ma.MaskedArray) else np.asarray(self.stack)
        return np.ascontiguousarray(a.astype(a.dtype.newbyteorder("=")))

    def __repr__(self) -> str:
        return f"Case(dtype={self.dtype}, shape={self.shape}, layout={self.layout}, mask={type(self.mask).__name__})"


def _palette(dtype: np.dtype) -> list:
    if dtype.kind == "f":
        fi = np.finfo(dtype)
        big = float(fi.max)
        return [0.0, -0.0, 1.0, -1.0, 1e3, np.nan, np.inf, -np.inf, big, -big, big / 3,
                float(fi.smallest_subnormal), -float(fi.smallest_subnormal), float(fi.tiny)]
    if dtype.kind in "iu":
        ii = np.iinfo(dtype)
        top = min(int(ii.max), 2**63 - 1)  # built through int64
        return [int(ii.min), top, 0, 1, top // 2]
    return [0, 1]


@st.composite
def cases(draw, accepted_only: bool = False, max_size: int = 48):
    name = draw(st.sampled_from(ACCEPTED if accepted_only else ACCEPTED + ACCEPTED + REFUSED))
    dtype = np.dtype(name)
    ndim = draw(st.sampled_from([2, 2, 3, 3, 1, 4] if not accepted_only else [2, 2, 3]))
    shape = [draw(st.integers(1, 5))]
    for _ in range(ndim - 1):
        shape.append(draw(st.sampled_from([1, 2, 3, 4, 6, 0] if not accepted_only else [1, 2, 3, 5])))
    while math.prod(shape) > max_size and max(shape) > 1:
        k = int(np.argmax(shape))
        shape[k] //= 2
    shape = tuple(shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    special = draw(st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0]))
    pal = _palette(dtype.newbyteorder("=") if dtype.kind in "iuf" else dtype)
    if dtype.kind in "iu":
        ii = np.iinfo(dtype)
        base = rng.integers(max(ii.min, -1000), min(ii.max, 1000) + 1, shape).astype(object)
    else:
        base = rng.normal(100.0, 10.0, shape).astype(object)
    pick = rng.random(shape) < special
    idx = rng.integers(0, len(pal), shape)
    vals = np.where(pick, np.array(pal, dtype=object)[idx] if len(shape) else pal[0], base)
    if dtype.kind == "O":
        arr = np.array(vals, dtype=object)
    elif dtype.kind == "c":
        arr = np.array(vals.astype(float), dtype=dtype)
    elif dtype == bool:
        arr = np.array(vals.astype(float) > 100, dtype=bool)
    else:
        with np.errstate(all="ignore"):
            arr = np.array(vals.astype(float) if dtype.kind == "f" else vals.astype(np.int64), dtype=dtype)
    layout = draw(st.sampled_from(["c", "c", "fortran", "strided", "list", "masked", "broadcast"]))
    stack: object = arr
    if layout == "fortran":
        stack = np.asfortranarray(arr)
    elif layout == "strided" and arr.ndim >= 1:
        wide = np.zeros(shape[:-1] + (2 * shape[-1],), dtype=arr.dtype)
        wide[..., ::2] = arr
        stack = wide[..., ::2]
    elif layout == "list" and arr.ndim >= 1:
        stack = [arr[i] for i in range(shape[0])]
    elif layout == "masked" and arr.ndim >= 1:
        stack = np.ma.MaskedArray(arr, mask=rng.random(shape) < 0.2)
    elif layout == "broadcast" and arr.ndim >= 2:
        stack = np.broadcast_to(arr[:1], shape)
    mask_kind = draw(st.sampled_from([None, None, "full", "frame", "int", "wrong", "list"]))
    mask = None
    if mask_kind == "full":
        mask = rng.random(shape) < 0.3
    elif mask_kind == "frame" and len(shape) >= 2:
        mask = rng.random(shape[1:]) < 0.3
    elif mask_kind == "int":
        mask = (rng.random(shape) < 0.3).astype(np.uint8)
    elif mask_kind == "wrong":
        mask = np.zeros(tuple(s + 1 for s in shape), bool)
    elif mask_kind == "list" and len(shape) >= 2:
        mask = [rng.random(shape[1:]) < 0.3 for _ in range(shape[0])]
    fin = np.asarray(arr, dtype=float) if dtype.kind in "iuf" else np.zeros(1)
    fin = fin[np.isfinite(fin)]
    return Case(stack, mask, dtype, shape, layout, float(np.abs(fin).max()) if fin.size else 0.0)


# ------------------------------------------------------------------------- parameters

# Each parameter has a palette of valid values and one of garbage; an example draws
# "adversarial" once, so about half the calls are valid and reach the kernels.
VALID = {
    "sigma": [3.0, 2.0, 1.0, 0.5, 0.0, np.inf, (1.0, 2.0), (0.5, np.inf)],
    "maxiters": [1, 2, 5, 0, 255],
    "nkeep": [0, 1, 2, -1, -3],
    "maxrej": [None, 0, 1, 2],
    "cenfunc": ["median", "mean", "lmedian", "MED", "average"],
    "stdfunc": ["std", "mad", "iraf", "mad_std"],
    "ddof": [0, 1, 2],
    "grow": [None, 0, 1, 1.5],
    "frac": [0.1, 0.25, 0.5, 1, 2, 0],
    "pclip": [-0.5, 0.5, -0.25, 1.0, -2.0],
    "float": [0.0, 1.0, 5.0, 0.01],
    "gain": [1.0, 2.5, 0.5],
    "bool": [True, False],
}
BAD = {
    "sigma": [-1.0, np.nan, (1.0,), "3", True, None, (1, np.nan)],
    "maxiters": [-1, 256, 2.5, "5", None, True, 10**12],
    "nkeep": [2.5, "2", None, True, 10**30],
    "maxrej": [-1, 2.5, "2", True],
    "cenfunc": ["bogus", 3, None, ""],
    "stdfunc": ["var", None, 1],
    "ddof": [-1, 1.5, "1", None],
    "grow": [-1, np.nan, np.inf, "1"],
    "frac": [-1, 1.5, np.nan, np.inf, "1", None],
    "pclip": [0, np.nan, np.inf, "x", None],
    "float": [-1.0, np.nan, np.inf, "1", None],
    "gain": [0.0, -1.0, np.nan, np.inf, "1"],
    "bool": ["yes", 1, None],
}


def pick(draw, kind: str, adversarial: bool):
    if adversarial and draw(st.integers(0, 2)) == 0:
        return draw(st.sampled_from(BAD[kind]))
    return draw(st.sampled_from(VALID[kind]))


@st.composite
def rejector_specs(draw, adversarial: bool | None = None):
    """(class name, keyword arguments): the constructor may refuse them."""
    adv = draw(st.booleans()) if adversarial is None else adversarial
    kind = draw(st.sampled_from(["SigClip", "CcdClip", "LinearClip", "MinMaxClip", "PClip", "SigClip",
                                 "AvSigClip" if adv else "CcdClip"]))
    fields = {
        "SigClip": {"sigma": "sigma", "maxiters": "maxiters", "cenfunc": "cenfunc", "nkeep": "nkeep",
                    "maxrej": "maxrej", "stdfunc": "stdfunc", "ddof": "ddof", "revert_on_nkeep": "bool"},
        "CcdClip": {"sigma": "sigma", "maxiters": "maxiters", "cenfunc": "cenfunc", "nkeep": "nkeep",
                    "maxrej": "maxrej", "rdnoise": "float", "gain": "gain", "snoise": "float",
                    "sigscale": "float", "high_only": "bool", "revert_on_nkeep": "bool"},
        "AvSigClip": {"sigma": "sigma", "maxiters": "maxiters", "cenfunc": "cenfunc"},
        "LinearClip": {"low_scale": "float", "low": "float", "upp_scale": "float", "upp": "float",
                       "maxiters": "maxiters", "cenfunc": "cenfunc", "nkeep": "nkeep", "maxrej": "maxrej"},
        "MinMaxClip": {"n_min": "frac", "n_max": "frac"},
        "PClip": {"frac": "pclip", "sigma": "sigma", "nkeep": "nkeep"},
    }[kind]
    kw = {}
    for name, palette in fields.items():
        if draw(st.booleans()):
            kw[name] = pick(draw, palette, adv)
    if draw(st.integers(0, 3)) == 0:
        kw["grow"] = pick(draw, "grow", adv)
    if adv and draw(st.integers(0, 15)) == 0:
        kw["bogus_field"] = 1
    return kind, kw


METHODS_OK = ["mean", "median", "lmedian", "sum", "min", "max", "variance", "quantile", "avg", "MEDIAN",
              " med ", "minimum"]
METHODS_BAD = ["", "mode", None, 3, "wavg"]


def vector_values(n: int, adversarial: bool):
    kinds = ["vec", "vec", "scalar", "name", "callable"]
    if adversarial:
        kinds += ["short", "nan", "zero", "neg", "badname", "str"]
    return st.sampled_from(kinds).map(lambda k: _vector(k, n))


def _vector(kind: str, n: int):
    rng = np.random.default_rng(n)
    return {
        "vec": list(np.round(rng.uniform(0.5, 2.0, n), 3)),
        "scalar": 1.5,
        "short": [1.0] * (n + 1),
        "nan": [np.nan] * n,
        "zero": [0.0] * n,
        "neg": [-1.0] * n,
        "name": "median",
        "badname": "bogus",
        "callable": (lambda frame: float(np.nanmean(np.asarray(frame, float)))),
        "str": "1,2",
    }[kind]


@st.composite
def combine_kwargs(draw, n: int, adversarial: bool):
    kw: dict = {}
    adv = adversarial
    if draw(st.integers(0, 2)) == 0:
        good = [None, (-np.inf, np.inf), (0, 1e4), (None, 150), (90, None), (50, 120)]
        bad = [(np.nan, 1), (5, 1), "0,1", (1, 2, 3), 7]
        kw["thresholds"] = draw(st.sampled_from(good + (bad if adv else [])))
    if draw(st.integers(0, 3)) == 0:
        kw["zero"] = draw(vector_values(n, adv))
    if draw(st.integers(0, 3)) == 0:
        kw["scale"] = draw(vector_values(n, adv))
    if draw(st.integers(0, 3)) == 0:
        kw["weights"] = draw(vector_values(n, adv))
    if ("zero" in kw or "scale" in kw) and draw(st.booleans()):
        kw["relative"] = draw(st.sampled_from([False, True] + (["no"] if adv else [])))
    if draw(st.booleans()):
        kw["rejectors"] = [draw(rejector_specs(adv)) for _ in range(draw(st.integers(1, 2)))]
    if draw(st.integers(0, 2)) == 0:
        kw["diagnostics"] = draw(st.sampled_from([None, "simple", "full", "FULL"] + (["all", 1] if adv else [])))
    if draw(st.integers(0, 3)) == 0:
        kw["ddof"] = draw(st.sampled_from([0, 1, 2] + ([-1, 1.5, "1", None] if adv else [])))
    if draw(st.integers(0, 3)) == 0:
        kw["blank"] = draw(st.sampled_from([None, 0.0, -1.0, np.nan, np.inf] + (["0", 1e300] if adv else [])))
    if adv and draw(st.integers(0, 3)) == 0:
        kw["q"] = draw(st.sampled_from([None, 0.5, -0.1, 1.1, np.nan, "0.5"]))
    return kw


def build_rejectors(specs):
    return [getattr(imc, kind)(**kw) for kind, kw in specs]


# ------------------------------------------------------------------------- checks

BASE_NAMES = {"stack", "mask", "method", "rejectors", "thresholds", "zero", "scale", "weights", "q", "ddof",
              "blank", "diagnostics", "relative", "statsec", "images", "masks", "combine", "reject", "grow",
              "inputs", "frames", "weight"}


def check_error(exc: BaseException, names: set[str], where: str, files: tuple[str, ...] = ()) -> None:
    count(where, type(exc).__name__)
    if isinstance(exc, FileNotFoundError) and any(f in str(exc) for f in files):
        return  # a named list file (IRAF "@file") that does not exist
    if isinstance(exc, NotImplementedError) and "AvSigClip" in str(exc):
        return
    if isinstance(exc, imc.InsufficientMemoryError):
        raise AssertionError(f"{where}: memory guard fired on a tiny stack: {exc}") from exc
    if not isinstance(exc, (TypeError, ValueError)):
        raise AssertionError(f"{where}: {type(exc).__name__} is not TypeError/ValueError: {exc}") from exc
    msg = str(exc)
    if not msg.strip():
        raise AssertionError(f"{where}: empty {type(exc).__name__} message") from exc
    if not any(w in msg for w in names):
        raise AssertionError(f"{where}: {type(exc).__name__} message names no parameter "
                             f"(looked for {sorted(names)}): {msg!r}") from exc


def snapshot(case: Case):
    s = case.stack
    if isinstance(s, list):
        return [np.array(f, copy=True) for f in s]
    return np.array(s, copy=True)


def unchanged(case: Case, before) -> bool:
    s = case.stack
    if isinstance(s, list):
        return all(np.array_equal(np.asarray(a), b, equal_nan=True) for a, b in zip(s, before)) \
            if case.dtype.kind in "iuf" else True
    if case.dtype.kind not in "iuf":
        return True
    return np.array_equal(np.asarray(s), before, equal_nan=True)


def twin_rejector(r):
    cls = getattr(ref, type(r).__name__, None)
    if cls is None:
        return None
    kw = {f.name: getattr(r, f.name) for f in dataclasses.fields(cls)}
    return cls(**kw)


def compare_twin(case: Case, got: np.ndarray, *, method: str, rejectors, thresholds, zero, scale, weights,
                 ddof, q, blank, mask, where: str) -> None:
    """Result == the NumPy twin on the non-fragile elements (twin in float64, cast to the workspace)."""
    twin_rejs = [twin_rejector(r) for r in rejectors]
    if any(r is None for r in twin_rejs):
        return
    if case.finite_max > 1e300:  # math.fsum in the twin overflows; the package gives inf
        return
    data = case.native()
    m = None if mask is None else np.broadcast_to(np.asarray(mask) != 0, data.shape)
    if isinstance(case.stack, np.ma.MaskedArray):
        own = np.ma.getmaskarray(case.stack)
        m = own if m is None else (m | own)
    tw = ref.combine(data, m, method=method, thresholds=thresholds, zero=zero, scale=scale,
                     weights=weights, rejectors=twin_rejs, ddof=ddof, q=q, blank=blank)
    ws = ref.workspace_dtype(data.dtype)
    keep = ~tw.fragile
    with np.errstate(all="ignore"):
        want = tw.data.astype(ws).astype(float)
        g = np.asarray(got, dtype=float)
        rtol = 4e-6 if ws == np.float32 else 1e-11
        mag = tw.magnitude ** 2 if method == "variance" else tw.magnitude
        atol = rtol * np.where(np.isfinite(mag), mag, 0)
        ok = (np.isnan(g) & np.isnan(want)) | (g == want) | (np.abs(g - want) <= atol + rtol * np.abs(want))
    bad = keep & ~ok
    if bad.any():
        raise AssertionError(f"{where}: result differs from the NumPy twin at {int(bad.sum())} elements: "
                             f"got {g[bad][:5]} want {want[bad][:5]}")


def _expected_dtypes(case: Case) -> set:
    native = case.dtype.newbyteorder("=")
    ws = ref.workspace_dtype(native)
    return {ws, native}


# ------------------------------------------------------------------------- targets


@given(adv=st.booleans(), data=st.data())
def fuzz_combiner(adv, data):
    """Combiner(stack, mask).combine(method, **kwargs)."""
    case = data.draw(cases(accepted_only=not adv))
    method = data.draw(st.sampled_from(METHODS_OK + (METHODS_BAD if adv else [])))
    n = case.shape[0] if case.shape else 1
    kw = data.draw(combine_kwargs(n, adv))
    if method == "quantile" and "q" not in kw:
        kw["q"] = data.draw(st.sampled_from([0.0, 0.25, 0.5, 1.0]))
    note(f"fuzz_combiner {case!r} method={method!r} kwargs={kw!r}")
    names = BASE_NAMES | set(kw) | {f for _, rk in kw.get("rejectors", []) for f in rk} | {"sigma_lo", "sigma_hi"}
    before = snapshot(case)
    try:
        if "rejectors" in kw:
            kw["rejectors"] = build_rejectors(kw["rejectors"])
        out = imc.Combiner(case.stack, case.mask).combine(method, **kw)
    except Exception as exc:  # noqa: BLE001 - the property is about which exceptions
        check_error(exc, names, "Combiner.combine")
        return
    finally:
        assert unchanged(case, before), "Combiner modified its input"
    count("Combiner.combine", "ok")
    res = out.data if isinstance(out, imc.CombineResult) else out
    assert res.shape == case.shape[1:], f"result shape {res.shape} != {case.shape[1:]}"
    assert res.dtype in _expected_dtypes(case), f"result dtype {res.dtype} for input {case.dtype}"
    if isinstance(out, imc.CombineResult):
        assert out.mask.shape == case.shape and out.nused.shape == case.shape[1:]
    # twin: only with resolved numbers (statistics and relative factors are tested elsewhere)
    for name in ("zero", "scale", "weights"):
        v = kw.get(name)
        if v is not None and not isinstance(v, (list, float)):
            return
    if ("zero" in kw or "scale" in kw) and kw.get("relative", True) is not False:
        return
    from imcombiners._validate import as_thresholds, canonical_method

    meth = canonical_method(method)
    w = kw.get("weights")
    compare_twin(case, res, method="wavg" if w is not None else meth, rejectors=kw.get("rejectors", []),
                 thresholds=as_thresholds(kw.get("thresholds")), zero=kw.get("zero"), scale=kw.get("scale"),
                 weights=w, ddof=kw.get("ddof", 0), q=kw.get("q"), blank=kw.get("blank"), mask=case.mask,
                 where="Combiner.combine")


KERNEL_FUNCS = ["mean", "median", "lmedian", "sum", "min", "max", "variance", "quantile", "wavg",
                "sigclip", "sigclip_mask", "sigclip_combine", "ccdclip", "ccdclip_combine",
                "linearclip", "linearclip_mask", "minmax", "minmax_combine", "pclip", "pclip_mask",
                "grow_mask"]


@given(case=cases(), func=st.sampled_from(KERNEL_FUNCS), spec=rejector_specs(),
       extra=st.sampled_from([None, 0.5, [1.0, 2.0], -1, "x", 2.0]))
def fuzz_kernels(case, func, spec, extra):
    """imcombiners.kernels.* with fuzzed parameters."""
    note(f"fuzz_kernels {func} {case!r} spec={spec!r} extra={extra!r}")
    f = getattr(imck, func)
    kind, kw = spec
    names = BASE_NAMES | set(kw) | {"radius", "sigma_lo", "sigma_hi", "combine"}
    try:
        if func == "quantile":
            out = f(case.stack, extra, mask=case.mask)
        elif func == "wavg":
            out = f(case.stack, extra if extra is not None else [1.0] * case.shape[0], mask=case.mask)
        elif func == "grow_mask":
            m = case.mask if case.mask is not None else (np.asarray(case.native()) == 0)
            out = f(m, extra)
        elif func in ("mean", "median", "lmedian", "sum", "min", "max", "variance"):
            out = f(case.stack, case.mask)
        else:
            rej_kind = func.split("_")[0]
            cls = {"sigclip": "SigClip", "ccdclip": "CcdClip", "linearclip": "LinearClip",
                   "minmax": "MinMaxClip", "pclip": "PClip"}[rej_kind]
            # parameters of another class are unknown keywords: a TypeError naming them
            if kind != cls:
                kw = {k: v for k, v in kw.items() if k in {fl.name for fl in dataclasses.fields(getattr(imc, cls))}}
            out = f(case.stack, case.mask, **kw)
    except Exception as exc:  # noqa: BLE001
        check_error(exc, names | {"mask", "radius", "weights", "q"}, "kernels")
        return
    count("kernels", "ok")
    if isinstance(out, tuple):
        assert len(out) == 6 and out[0].shape == case.shape
    elif func == "grow_mask":
        assert out.dtype == bool
    elif func.endswith("_mask"):
        assert out.shape == case.shape and out.dtype == bool
    else:
        assert out.shape == case.shape[1:]


def _params(draw, spec: dict, adv: bool) -> dict:
    """Draw a random subset of ``spec`` (name -> palette kind or list of values)."""
    out = {}
    for name, kind in spec.items():
        if draw(st.integers(0, 2)) == 0:
            if isinstance(kind, list):
                good, bad = kind
                out[name] = draw(st.sampled_from(good + (bad if adv else [])))
            else:
                out[name] = pick(draw, kind, adv)
    return out


ND_PARAMS = {
    "lsigma": "float", "hsigma": "float", "sigma": "sigma", "mclip": [[True, False, "yes", "median"], ["maybe", 1]],
    "nkeep": "nkeep", "maxrej": "maxrej", "nlow": "frac", "nhigh": "frac", "rdnoise": "float", "gain": "gain",
    "snoise": "float", "pclip": "pclip", "grow": "grow", "lthreshold": [[0.0, 90.0, None], [np.nan, "1"]],
    "hthreshold": [[1e4, 150.0, None], [np.nan, "1"]], "maxiters": "maxiters", "blank": [[0.0, np.nan], ["x"]],
    "weight": [[None, "median", "mean"], [[1, 2], "bogus"]], "n_minmax": [[(1, 1), (0.2, 0.2)], [1, "11", (1, 2, 3)]],
}


@given(adv=st.booleans(), data=st.data())
def fuzz_ndcombine(adv, data):
    """ndcombine with IRAF-style names."""
    case = data.draw(cases(accepted_only=not adv))
    reject = data.draw(st.sampled_from(["none", "sigclip", "ccdclip", "crreject", "linearclip", "minmax", "pclip",
                                        "SIGCLIP", None] + (["avsigclip", "bogus", 3] if adv else [])))
    combine = data.draw(st.sampled_from(["mean", "median", "sum", "average"] + (["bogus"] if adv else [])))
    params = data.draw(st.composite(lambda draw: _params(draw, ND_PARAMS, adv))())
    if not adv:  # the two spellings of one parameter are refused together
        for a, b in (("sigma", "lsigma"), ("sigma", "hsigma"), ("n_minmax", "nlow"), ("n_minmax", "nhigh")):
            if a in params and b in params:
                del params[b]
        if reject in (None, "none"):
            params.pop("grow", None)
    note(f"fuzz_ndcombine {case!r} reject={reject!r} combine={combine!r} params={params!r}")
    names = BASE_NAMES | set(params) | {"lsigma", "hsigma", "sigma", "mclip", "cenfunc", "n_min", "n_max",
                                        "frac", "low", "upp", "sigma_lo", "sigma_hi", "n_minmax"}
    try:
        out = imc.ndcombine(case.stack, case.mask, combine=combine, reject=reject, **params)
    except Exception as exc:  # noqa: BLE001
        check_error(exc, names, "ndcombine")
        return
    count("ndcombine", "ok")
    assert np.asarray(out).shape == case.shape[1:]


IRAF_PARAMS = {
    "nlow": [[0, 1, 2, 0.2], [-1, 1.5, np.nan, "1"]], "nhigh": [[0, 1, 0.25], [-1, 2.5, "1"]],
    "nkeep": [[0, 1, 2, -1], [1.5, "1", None]], "mclip": [[True, False], ["yes", 1]],
    "lsigma": [[3.0, 2.0, None], [-1.0, np.nan, "3"]], "hsigma": [[3.0, 1.0, None], [-1.0, np.inf]],
    "rdnoise": [[0.0, 5.0], [-1.0, np.nan]], "gain": [[1.0, 2.0], [0.0, -1.0, "GAIN"]],
    "snoise": [[0.0, 0.1], [-0.1]], "sigscale": [[0.1, 0.0], [-1.0, np.nan]],
    "pclip": [[-0.5, 0.5, 2.0], [0.0, np.nan, "x"]], "grow": [[0.0, 1.0, 1.5], [-1.0, np.nan]],
    "lthreshold": [[None, 0.0, 90.0], [np.nan, "x"]], "hthreshold": [[None, 1e4, 150.0], [np.nan]],
    "blank": [[0.0, -1.0, np.nan], ["x"]],
    "zero": [["none", "mode", "median", "mean"], ["bogus", [0.0, 1.0], "exposure"]],
    "scale": [["none", "mode", "median", "mean"], ["exposure", "!EXPTIME", "@/nonexistent"]],
    "weight": [["none", "median", "mean"], [[1.0], "bogus"]],
    "statsec": [[None, "[1:2,1:2]", "[*,1:1]"], ["[0:0]", "[5:1,*]", "bad", 3]],
    "outtype": [[None, "real", "double", "short", "ushort", "integer", "long"], ["bogus", 3]],
    "masktype": [[None, "goodvalue", "badbits", "goodbits"], ["bogus", 3]],
    "maskvalue": [[None, 0, 1, "<1"], [-1, "x"]],
    "threads": [[0, 1, 2], [-1, "2", 1.5]],
}


@given(adv=st.booleans(), data=st.data())
def fuzz_imcombine(adv, data):
    """imcombine with IRAF parameters (IRAF-exact engine)."""
    case = data.draw(cases(accepted_only=not adv))
    combine = data.draw(st.sampled_from(["average", "median", "lmedian", "sum"] + (["mean", None] if adv else [])))
    reject = data.draw(st.sampled_from(["none", "minmax", "sigclip", "avsigclip", "ccdclip", "crreject", "pclip"]
                                       + (["x"] if adv else [])))
    params = data.draw(st.composite(lambda draw: _params(draw, IRAF_PARAMS, adv))())
    note(f"fuzz_imcombine {case!r} combine={combine!r} reject={reject!r} params={params!r}")
    names = BASE_NAMES | set(params) | {"images", "masks", "nlow, nhigh", "headers", "EXPTIME", "expname",
                                        "lthreshold", "hthreshold"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # integer outtypes wrap as IRAF (and say so)
            out = imc.imcombine(case.stack, masks=case.mask, combine=combine, reject=reject, products="all",
                                **params)
    except Exception as exc:  # noqa: BLE001
        check_error(exc, names, "imcombine", files=("/nonexistent",))
        return
    count("imcombine", "ok")
    assert out.output.shape == case.shape[1:]
    assert out.rejmask.shape == case.shape


@given(case=cases(accepted_only=True, max_size=24), method=st.sampled_from(["mean", "median", "sum", "variance"]),
       spec=rejector_specs(False), tile=st.sampled_from([None, (1,), (2,), (1, 1)]))
def fuzz_dask(case, method, spec, tile):
    """imcombiners.dask.combine equals the in-memory API bit for bit (or both refuse)."""
    import imcombiners.dask as imd

    kind, kw = spec
    note(f"fuzz_dask {case!r} method={method} spec={spec!r} tile={tile}")
    stack = case.native()
    names = BASE_NAMES | set(kw) | {"tile", "sigma_lo", "sigma_hi"}
    try:
        rej = build_rejectors([spec])
    except Exception as exc:  # noqa: BLE001
        check_error(exc, names, "rejector")
        return
    try:
        want = imc.Combiner(stack).combine(method, rejectors=rej)
    except Exception as exc:  # noqa: BLE001
        check_error(exc, names, "Combiner.combine")
        return
    t = None if tile is None else tile[: len(case.shape) - 1] + (case.shape[-1],) * (len(case.shape) - 1 - len(tile))
    try:
        got = imd.combine(stack, method, rejectors=rej, tile=t).compute().data
    except Exception as exc:  # noqa: BLE001
        check_error(exc, names, "dask.combine")
        raise AssertionError(f"dask.combine refused what Combiner accepted: {exc}") from exc
    count("dask.combine", "ok")
    np.testing.assert_array_equal(got, want)


TARGETS = {"combiner": (fuzz_combiner, 1.0), "kernels": (fuzz_kernels, 0.6), "ndcombine": (fuzz_ndcombine, 0.5),
           "imcombine": (fuzz_imcombine, 0.5), "dask": (fuzz_dask, 0.08)}


def main(argv=None) -> int:
    global LOG
    p = argparse.ArgumentParser()
    p.add_argument("--examples", type=int, default=300, help="examples of the main target")
    p.add_argument("--log", default=None, help="file receiving the example about to run")
    p.add_argument("--only", default=None)
    a = p.parse_args(argv)
    LOG = Path(a.log) if a.log else None
    failures = 0
    for name, (target, share) in TARGETS.items():
        if a.only and name != a.only:
            continue
        n = max(5, int(a.examples * share))
        runner = settings(max_examples=n, derandomize=True, database=None, deadline=None, print_blob=True,
                          suppress_health_check=list(HealthCheck))(target)
        try:
            runner()
            print(f"fuzz {name}: {n} examples ok", flush=True)
        except Exception:  # noqa: BLE001 - report every target, then fail
            failures += 1
            print(f"fuzz {name}: FAILED", flush=True)
            traceback.print_exc()
    import json

    print("OUTCOMES " + json.dumps(OUTCOMES), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
