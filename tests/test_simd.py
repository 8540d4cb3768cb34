"""SIMD levels: the level in use is reported, chosen by IMCOMBINERS_SIMD or at run time,
and every level gives the same bits as the baseline.

The kernels hold their vector loops compiled for each level (x86-64: baseline, avx2,
avx512; aarch64: baseline = NEON). The bit-identity tests run each level the CPU has
against the baseline through the public entry points of both engines (Combiner /
``run_job`` with every method and rejector, the kernels functions, the Dask engine, and
``imcombine``), with NaN/inf, masks, thresholds, normalisation and every input dtype. A
level the CPU lacks is skipped (with the reason); the Rust test
``crates/imc-core/tests/simd_levels.rs`` covers the kernels directly.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import strategies as sts
from tests.helpers import twin as h

h.require_package()

from imcombiners._config import forced_simd_level, show_config, simd_config  # noqa: E402

CONFIG = simd_config()
AVAILABLE = CONFIG["available"]
HIGHER = [lvl for lvl in ("avx2", "avx512") if lvl in CONFIG["compiled"]]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _need(level: str) -> None:
    if level not in AVAILABLE:
        pytest.skip(f"this CPU does not run the {level} level (available: {', '.join(AVAILABLE)})")


def same_bits(a, b, what: str) -> None:
    if a is None or b is None:
        assert a is None and b is None, f"{what}: one side is None"
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, f"{what}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
    if a.tobytes() != b.tobytes():
        with np.errstate(invalid="ignore"):
            diff = (a != b) & ~(np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f" else a != b
        where = np.argwhere(diff)[:5].tolist() or "NaN payloads"
        raise AssertionError(f"{what}: bits differ at {where}")


def _child(code: str, env_value: str | None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("IMCOMBINERS_SIMD", None)
    if env_value is not None:
        env["IMCOMBINERS_SIMD"] = env_value
    return subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)


# --------------------------------------------------------------------------------------
# Choosing and reporting the level
# --------------------------------------------------------------------------------------


def test_show_config_reports_the_level_and_the_cpu_features():
    out = io.StringIO()
    assert show_config(file=out) is None
    text = out.getvalue()
    assert f"SIMD level: {CONFIG['level']}" in text
    assert CONFIG["arch"] in text
    for name, present in CONFIG["features"].items():
        if present:
            assert name in text.split("CPU features:")[1].split("\n")[0]
    info = show_config(mode="dicts")
    assert info["simd"]["level"] == CONFIG["level"] and info["simd"]["available"] == AVAILABLE
    assert CONFIG["level"] in AVAILABLE and AVAILABLE[0] == "baseline" and CONFIG["best"] == AVAILABLE[-1]
    with pytest.raises(ValueError, match="mode"):
        show_config(mode="text")
    import imcombiners

    assert imcombiners.show_config is show_config


def test_features_agree_with_the_kernel_levels():
    feats = CONFIG["features"]
    if CONFIG["arch"] in ("x86_64", "AMD64"):
        assert ("avx2" in AVAILABLE) == all(feats[f] for f in ("avx2", "fma", "bmi1", "bmi2", "lzcnt", "popcnt"))
        assert ("avx512" in AVAILABLE) == ("avx2" in AVAILABLE and all(
            feats[f] for f in ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")))
    else:
        assert AVAILABLE == ["baseline"]


@pytest.mark.parametrize("request_", ["baseline", "avx2", "avx512", "auto", ""])
def test_environment_variable_chooses_the_level(request_):
    res = _child("from imcombiners._config import simd_config as c; d = c(); print(d['level'], d['startup_level'])",
                 request_)
    assert res.returncode == 0, res.stderr
    want = request_ if request_ in AVAILABLE else CONFIG["best"]
    assert res.stdout.split() == [want, want]
    if request_ in ("baseline", "avx2", "avx512") and request_ not in AVAILABLE:
        assert "RuntimeWarning" in res.stderr and "cannot be used" in res.stderr
    else:
        assert "RuntimeWarning" not in res.stderr, res.stderr


def test_unknown_level_in_the_environment_warns_and_uses_the_best():
    res = _child("import numpy as np, imcombiners as imc\n"
                 "from imcombiners._config import simd_config as c\n"
                 "print(c()['level']); print(float(imc.kernels.mean(np.ones((3, 4), 'f4'))[0]))", "avx-9000")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == [CONFIG["best"], "1.0"]
    assert "RuntimeWarning" in res.stderr and "'avx-9000'" not in res.stderr
    assert 'IMCOMBINERS_SIMD="avx-9000" is not a SIMD level' in res.stderr


def test_forcing_a_level_at_run_time():
    with pytest.raises(ValueError, match="not a SIMD level"):
        with forced_simd_level("sse9"):
            pass
    for level in ("baseline", "avx2", "avx512"):
        if level in AVAILABLE:
            with forced_simd_level(level):
                assert simd_config()["level"] == level
                with forced_simd_level("baseline"):
                    assert simd_config()["level"] == "baseline"
                assert simd_config()["level"] == level
            assert simd_config()["level"] == CONFIG["startup_level"]
        else:
            with pytest.raises(ValueError, match="cannot run on this CPU"):
                with forced_simd_level(level):
                    pass


# --------------------------------------------------------------------------------------
# Same bits at every level
# --------------------------------------------------------------------------------------

OUTPUT_KEYS = ("data", "mask", "sample_flags", "std", "low", "upp", "nit", "output_flags", "nused",
               "clip_low", "clip_upp")


@st.composite
def wide_stacks(draw):
    """Stacks whose rows span several vector blocks and a tail (the hypothesis stacks of
    the twin tests are kept tiny for speed); any dtype, NaN/inf density and mask."""
    params = draw(sts.stack_params(max_n=40, budget=400))
    width = draw(st.sampled_from([63, 64, 65, 127, 130, 200, 257]))
    params["spatial"] = (draw(st.integers(1, 3)), width)
    return sts.make_stack(params)


@pytest.mark.parametrize("level", HIGHER)
@h.more_examples(2)
@given(case=wide_stacks(), chain=sts.chains(min_size=0, max_size=2),
       method=st.sampled_from(sts.METHODS), data=st.data())
def test_library_engine_same_bits_as_baseline(level, case, chain, method, data):
    _need(level)
    thresholds = data.draw(sts.thresholds_for(case), label="thresholds")
    zero, scale = data.draw(sts.normalisations(case.n), label="zero, scale")
    want = data.draw(st.sampled_from([frozenset(), h.ALL_WANT, frozenset({"nused", "output_flags"})]), label="want")
    kw = dict(method=method, thresholds=thresholds, zero=zero, scale=scale, rejectors=chain, want=want,
              q=0.3 if method == "quantile" else None,
              weights=np.linspace(1, 2, case.n) if method == "wavg" else None)
    with forced_simd_level("baseline"):
        base = h.run_pkg(case.data, case.mask, **kw)
    with forced_simd_level(level):
        got = h.run_pkg(case.data, case.mask, threads=2, **kw)
    for key in OUTPUT_KEYS:
        same_bits(base.get(key), got.get(key), f"{key} at {level}")


def _specials_stack(n: int, shape: tuple[int, ...], dtype: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(1000, 30, (n, *shape))
    v[rng.random(v.shape) < 0.01] += 5000
    if np.dtype(dtype).kind == "f":
        r = rng.random(v.shape)
        v[r < 0.02] = np.nan
        v[(r >= 0.02) & (r < 0.03)] = np.inf
        v[(r >= 0.03) & (r < 0.035)] = -np.inf
        v[(r >= 0.035) & (r < 0.04)] = -0.0
        return v.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(v / (40 if dtype == "uint8" else 1)), info.min, info.max).astype(dtype)


METHODS = ("mean", "median", "sum", "lmedian", "min", "max", "variance", "wavg", "quantile")


def method_args(method: str, n: int) -> dict:
    """The extra arguments a method needs."""
    if method == "wavg":
        return {"weights": np.linspace(1, 2, n)}
    if method == "quantile":
        return {"q": 0.3}
    if method == "variance":
        return {"ddof": 1}
    return {}


@pytest.mark.parametrize("level", HIGHER)
def test_public_entry_points_same_bits_as_baseline(level):
    _need(level)
    import imcombiners as imc
    import imcombiners.kernels as imck

    rejectors = [None, imc.SigClip(3, maxiters=5, cenfunc="median"), imc.SigClip(2.5, cenfunc="mean", stdfunc="mad"),
                 imc.CcdClip(rdnoise=5, gain=1.5, snoise=0.01), imc.LinearClip(low=50, upp=50),
                 imc.MinMaxClip(1, 1), imc.MinMaxClip(0.1, 0.2), imc.PClip(), imc.AvSigClip(),
                 imc.SigClip(3, grow=1.5)]
    for dtype in ("uint8", "uint16", "int16", "int32", "float32", "float64"):
        for n in (3, 20):
            stack = _specials_stack(n, (5, 131), dtype, seed=n)
            for rej in rejectors:
                for method, diagnostics in [(m, d) for m in METHODS for d in (None, "full")]:
                    # diagnostics=None takes the fast paths (image only); "full" the
                    # per-element path with every diagnostic.
                    def combine():
                        return imc.Combiner(stack).combine(method, rejectors=[rej] if rej else None,
                                                           diagnostics=diagnostics, **method_args(method, n))
                    with forced_simd_level("baseline"):
                        base = combine()
                    with forced_simd_level(level):
                        got = combine()
                    what = f"{dtype} n={n} {method} {rej!r} {diagnostics} at {level}"
                    if diagnostics is None:
                        same_bits(base, got, what)
                        continue
                    same_bits(base.data, got.data, what)
                    same_bits(base.mask, got.mask, what + " mask")
                    for name in ("std", "low", "upp", "nit", "nused", "output_flags", "sample_flags",
                                 "clip_low", "clip_upp"):
                        same_bits(getattr(base, name, None), getattr(got, name, None), f"{what} {name}")
            with forced_simd_level("baseline"):
                base = [imck.mean(stack), imck.median(stack), imck.sigclip_combine(stack, combine="median")]
            with forced_simd_level(level):
                got = [imck.mean(stack), imck.median(stack), imck.sigclip_combine(stack, combine="median")]
            for a, b in zip(base, got):
                same_bits(np.asarray(a), np.asarray(b), f"kernels {dtype} n={n} at {level}")


def _survey_variance(n: int, shape: tuple[int, ...], dtype: str, seed: int) -> np.ndarray:
    """Variances in [0.5, 30] with the ones a combine must exclude (NaN, 0, -0.0, < 0,
    +-inf) and the extremes a float32 plane holds (subnormals, near overflow)."""
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.5, 30.0, (n, *shape))
    specials = np.array([np.nan, 0.0, -0.0, -2.0, np.inf, -np.inf, 1e-45, 1e-40, 3e38, 1.2e-38])
    pick = rng.random(v.shape) < 0.08
    v[pick] = rng.choice(specials, pick.sum())
    with np.errstate(over="ignore"):
        return v.astype(dtype)


@pytest.mark.parametrize("level", HIGHER)
def test_survey_plane_stream_same_bits_as_baseline(level):
    """The plane stream (mean / weighted mean / sum with a variance plane, its fast loop)
    at each level against the baseline and against the element path (a ``mask`` output
    forces it), bit for bit: odd widths (vector tails), N = 1, 2, 3, 17, unusable
    variances, float32 and float64 planes, every weighting."""
    _need(level)
    import imcombiners as imc

    products = ["variance", "weight", "nused", "output_flags"]
    for n in (1, 2, 3, 17):
        for vdtype in ("float32", "float64"):
            stack = _specials_stack(n, (3, 37), "float32", seed=10 + n)
            var = _survey_variance(n, (3, 37), vdtype, seed=20 + n)
            for method, weights in [("mean", None), ("sum", None), ("mean", "inverse_variance"),
                                    ("sum", "inverse_variance"), ("mean", np.linspace(0.5, 2.0, n))]:
                for diagnostics in (None, products):
                    def combine(diag=diagnostics):
                        return imc.Combiner(stack, variance=var).combine(method, weights=weights, diagnostics=diag)
                    with forced_simd_level("baseline"):
                        base = combine()
                        element = combine(products + ["mask"])
                    with forced_simd_level(level):
                        got = combine()
                    what = f"n={n} {vdtype} variance {method} weights={weights!r} {diagnostics} at {level}"
                    if diagnostics is None:
                        same_bits(base, got, what)
                        same_bits(element.data, got, what + " vs the element path")
                        continue
                    for name in ["data", *products]:
                        same_bits(getattr(base, name), getattr(got, name), f"{what} {name}")
                        same_bits(getattr(element, name), getattr(got, name), f"{what} {name} vs the element path")


@pytest.mark.parametrize("level", HIGHER)
@pytest.mark.parametrize("n", [150, 700, 2100])
def test_large_n_paths_same_bits_as_baseline(level, n):
    """Large N takes other paths (long networks up to 2048, order statistics by lane
    selection from 128 frames, the column path beyond 2048): each level gives the
    baseline's bits there too."""
    _need(level)
    import imcombiners as imc

    rejectors = [None, imc.SigClip(3, maxiters=5, cenfunc="median"), imc.AvSigClip(), imc.PClip(),
                 imc.MinMaxClip(0.05, 0.05), imc.CcdClip(rdnoise=5, gain=1.5)]
    for dtype in ("uint16", "float32"):
        stack = _specials_stack(n, (2, 33), dtype, seed=n)
        for rej in rejectors:
            for method in ("median", "mean", "lmedian"):
                for diagnostics in (None, "simple"):
                    def combine():
                        return imc.Combiner(stack).combine(method, rejectors=[rej] if rej else None,
                                                           diagnostics=diagnostics)
                    with forced_simd_level("baseline"):
                        base = combine()
                    with forced_simd_level(level):
                        got = combine()
                    what = f"{dtype} n={n} {method} {rej!r} {diagnostics} at {level}"
                    same_bits(getattr(base, "data", base), getattr(got, "data", got), what)


@pytest.mark.parametrize("level", HIGHER)
def test_dask_engine_same_bits_as_baseline(level):
    _need(level)
    da = pytest.importorskip("dask.array")
    import imcombiners as imc
    from imcombiners.dask import combine

    stack = _specials_stack(12, (70, 90), "float32", seed=3)
    lazy = da.from_array(stack, chunks=(12, 33, 41))
    rej = [imc.SigClip(3, maxiters=5, cenfunc="median")]
    with forced_simd_level("baseline"):
        base = combine(lazy, method="mean", rejectors=rej, diagnostics="simple").compute()
    with forced_simd_level(level):
        got = combine(lazy, method="mean", rejectors=rej, diagnostics="simple").compute()
    same_bits(base.data, got.data, f"dask at {level}")
    same_bits(base.mask, got.mask, f"dask mask at {level}")


IRAF_REJECTS = ("none", "minmax", "sigclip", "avsigclip", "ccdclip", "crreject", "pclip")
IRAF_COMBINES = ("average", "median", "lmedian", "sum")


@pytest.mark.parametrize("level", HIGHER)
@pytest.mark.parametrize("dtype", ["float32", "float64", "uint8", "uint16", "int16", "int32"])
def test_iraf_engine_same_bits_as_baseline(level, dtype):
    _need(level)
    from imcombiners.iraf import imcombine

    for n in (5, 20):
        stack = _specials_stack(n, (4, 131), dtype, seed=10 + n)
        clean = _specials_stack(n, (4, 131), "float64" if dtype == "float64" else "float32", seed=20 + n)
        clean = np.where(np.isfinite(clean), clean, 1000).astype(clean.dtype)
        for data in (stack, clean):
            for reject in IRAF_REJECTS:
                for combine in IRAF_COMBINES:
                    for extra in ({}, {"mclip": False}, {"grow": 1.0, "lthreshold": 100.0},
                                  {"scale": np.linspace(1, 1.1, n), "zero": np.linspace(0, 5, n)}):
                        kw = dict(combine=combine, reject=reject, rdnoise=5.0, gain=1.5, **extra)
                        with forced_simd_level("baseline"):
                            base = imcombine(data, **kw)
                        with forced_simd_level(level):
                            got = imcombine(data, **kw)
                        what = f"{dtype} n={n} {combine}/{reject} {sorted(extra)} at {level}"
                        for name in ("output", "sigma", "rejmask", "nrejmask", "expmask"):
                            same_bits(getattr(base, name), getattr(got, name), f"{what} {name}")
