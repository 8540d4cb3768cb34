"""Input validation of the Python API: dtype policy, shapes, parameters, memory guard."""

from __future__ import annotations

import math

import numpy as np
import pytest

import imcombiners as imc
from imcombiners import _validate
from imcombiners._job import Job

RNG = np.random.default_rng(7)
STACK = RNG.normal(100.0, 5.0, (5, 6, 7)).astype(np.float32)


# --------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("dtype", ["int64", "uint32", "float16", "bool", "complex64", "complex128", "object", ">i8"])
def test_unsupported_dtypes_raise_typeerror_naming_dtype(dtype):
    arr = np.ones((3, 4, 4), dtype=dtype)
    name = np.dtype(dtype).name
    for call in (
        lambda: imc.Combiner(arr),
        lambda: imc.ndcombine(arr),
        lambda: imc.kernels.mean(arr),
    ):
        with pytest.raises(TypeError, match=rf"{name}.*cast explicitly"):
            call()


def test_unsupported_dtype_in_a_list_names_the_frame():
    frames = [np.ones((4, 4), np.float32), np.ones((4, 4), np.int64)]
    with pytest.raises(TypeError, match=r"stack\[1\].*int64"):
        imc.Combiner(frames)


@pytest.mark.parametrize(
    "dtype, workspace",
    [("uint8", "float32"), ("uint16", "float32"), ("int16", "float32"), ("int32", "float64"),
     ("float32", "float32"), ("float64", "float64"), (">u2", "float32"), (">f8", "float64")],
)
def test_workspace_dtype_policy(dtype, workspace):
    arr = (RNG.integers(0, 100, (4, 3, 5))).astype(dtype)
    assert imc.Combiner(arr).combine("mean").dtype == np.dtype(workspace)
    assert imc.ndcombine(arr, combine="median").dtype == np.dtype(workspace)
    assert imc.kernels.sum(arr).dtype == np.dtype(workspace)


# --------------------------------------------------------------------------- shapes


def test_empty_stack_and_low_ndim():
    with pytest.raises(ValueError, match="at least one frame"):
        imc.Combiner(np.ones((0, 4, 4), np.float32))
    with pytest.raises(ValueError, match="at least one frame"):
        imc.Combiner([])
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        imc.Combiner(np.ones(5, np.float32))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        imc.ndcombine(np.array(3.0, dtype=np.float32))


def test_frames_of_different_shapes():
    with pytest.raises(ValueError, match=r"frame 1 has shape \(4, 5\)"):
        imc.Combiner([np.ones((4, 4)), np.ones((4, 5))])


def test_mask_shape_mismatch():
    with pytest.raises(ValueError, match=r"mask has shape \(5, 6\)"):
        imc.Combiner(STACK, mask=np.zeros((5, 6), bool))
    with pytest.raises(ValueError, match="mask has 2 frames but the stack has 5"):
        imc.Combiner(STACK, mask=[np.zeros((6, 7), bool)] * 2)


def test_stack_of_wrong_type():
    with pytest.raises(TypeError, match="stack must be an ndarray"):
        imc.Combiner("not an array")


# --------------------------------------------------------------------------- parameters


def test_unknown_method_names_accepted_values():
    with pytest.raises(ValueError, match=r"method: unknown value 'avgx'.*mean\|average"):
        imc.Combiner(STACK).combine("avgx")
    with pytest.raises(ValueError, match="method"):
        imc.ndcombine(STACK, combine="mode")


@pytest.mark.parametrize("alias, canonical", [
    ("Average", "mean"), ("AVG", "mean"), ("med", "median"), ("lmed", "lmedian"),
    ("summation", "sum"), ("minimum", "min"), ("maximum", "max"), ("var", "variance"),
    ("weighted_average", "wavg"), ("wvg", "wavg"),
])
def test_method_aliases(alias, canonical):
    assert _validate.canonical_method(alias) == canonical


def test_weights_validation():
    cmb = imc.Combiner(STACK)
    with pytest.raises(ValueError, match=r"weights must have one value per frame \(length 5\)"):
        cmb.combine("mean", weights=[1, 2, 3])
    with pytest.raises(ValueError, match="weights must be finite"):
        cmb.combine("mean", weights=[1, 2, np.nan, 1, 1])
    with pytest.raises(ValueError, match="weights must be >= 0"):
        cmb.combine("mean", weights=[1, 2, -1, 1, 1])
    with pytest.raises(ValueError, match="weights can only be used with mean/wavg"):
        cmb.combine("median", weights=[1, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="wavg.*needs weights"):
        cmb.combine("wavg")


@pytest.mark.parametrize("param", ["zero", "scale"])
def test_zero_scale_validation(param):
    cmb = imc.Combiner(STACK)
    with pytest.raises(ValueError, match=rf"{param} must have one value per frame"):
        cmb.combine("mean", **{param: [1.0, 2.0]})
    with pytest.raises(ValueError, match=rf"{param} must be finite"):
        cmb.combine("mean", **{param: [1.0, 2.0, np.inf, 1.0, 1.0]})
    with pytest.raises(ValueError, match=rf"{param}: unknown statistic 'modal'"):
        cmb.combine("mean", **{param: "modal"})
    with pytest.raises(TypeError, match=rf"{param} must be None, a number"):
        cmb.combine("mean", **{param: object()})


def test_scale_must_be_positive():
    with pytest.raises(ValueError, match="scale must be > 0"):
        imc.Combiner(STACK).combine("mean", scale=[1, 1, 0, 1, 1])


def test_statistic_of_an_all_masked_frame_is_reported():
    mask = np.zeros(STACK.shape, bool)
    mask[2] = True
    with pytest.raises(ValueError, match=r"scale must be finite.*frame 2.*no valid pixel"):
        imc.Combiner(STACK, mask).combine("mean", scale="median")


def test_thresholds_validation():
    cmb = imc.Combiner(STACK)
    with pytest.raises(ValueError, match="thresholds: low"):
        cmb.combine("mean", thresholds=(10, 1))
    with pytest.raises(ValueError, match=r"thresholds\[0\].*NaN"):
        cmb.combine("mean", thresholds=(np.nan, 1))
    with pytest.raises(ValueError, match="pair"):
        cmb.combine("mean", thresholds=(1, 2, 3))


def test_diagnostics_value():
    with pytest.raises(ValueError, match=r"diagnostics must be None, 'simple' or 'full'"):
        imc.Combiner(STACK).combine("mean", diagnostics="verbose")


def test_quantile_needs_q():
    with pytest.raises(ValueError, match="q"):
        imc.Combiner(STACK).combine("quantile")
    with pytest.raises(ValueError, match=r"q must be in \[0, 1\]"):
        imc.Combiner(STACK).combine("quantile", q=1.5)
    with pytest.raises(ValueError, match="q is only used"):
        imc.Combiner(STACK).combine("mean", q=0.5)


def test_rejectors_argument_type():
    with pytest.raises(TypeError, match="rejectors must be"):
        imc.Combiner(STACK).combine("mean", rejectors="sigclip")
    with pytest.raises(TypeError, match="an item"):
        imc.Combiner(STACK).combine("mean", rejectors=[imc.SigClip(), "minmax"])
    with pytest.raises(TypeError, match=r"reject\(\) expects a Rejector"):
        imc.Combiner(STACK).reject("sigclip")


# --------------------------------------------------------------------------- rejectors


@pytest.mark.parametrize("make, param", [
    (lambda: imc.SigClip(sigma=-1), "sigma"),
    (lambda: imc.SigClip(sigma=(3, -1)), r"sigma\[1\]"),
    (lambda: imc.SigClip(sigma=(1, 2, 3)), "sigma"),
    (lambda: imc.SigClip(sigma="3"), "sigma"),
    (lambda: imc.SigClip(sigma=math.nan), "sigma"),
    (lambda: imc.SigClip(maxiters=-1), "maxiters"),
    (lambda: imc.SigClip(maxiters=1000), "maxiters"),
    (lambda: imc.SigClip(maxiters=2.5), "maxiters"),
    (lambda: imc.SigClip(cenfunc="mode"), "cenfunc"),
    (lambda: imc.SigClip(stdfunc="var"), "stdfunc"),
    (lambda: imc.SigClip(ddof=-1), "ddof"),
    (lambda: imc.SigClip(nkeep=1.5), "nkeep"),
    (lambda: imc.SigClip(maxrej=-2), "maxrej"),
    (lambda: imc.SigClip(revert_on_nkeep="yes"), "revert_on_nkeep"),
    (lambda: imc.SigClip(grow=-1), "grow"),
    (lambda: imc.SigClip(grow=math.inf), "grow"),
    (lambda: imc.CcdClip(gain=0), "gain"),
    (lambda: imc.CcdClip(rdnoise=-1), "rdnoise"),
    (lambda: imc.CcdClip(snoise=math.nan), "snoise"),
    (lambda: imc.CcdClip(sigscale=-0.1), "sigscale"),
    (lambda: imc.CcdClip(high_only=1), "high_only"),
    (lambda: imc.LinearClip(low_scale=-1), "low_scale"),
    (lambda: imc.LinearClip(upp=math.inf), "upp"),
    (lambda: imc.MinMaxClip(n_min=-1), "n_min"),
    (lambda: imc.MinMaxClip(n_max=True), "n_max"),
    (lambda: imc.PClip(frac=0), "frac"),
    (lambda: imc.PClip(frac=(0.1, 0.2)), "frac"),
    (lambda: imc.PClip(sigma=-3), "sigma"),
    (lambda: imc.AvSigClip(cenfunc="lmedian"), "cenfunc"),
])
def test_rejector_validation_names_the_parameter(make, param):
    with pytest.raises((TypeError, ValueError), match=param):
        make()


def test_unknown_rejector_keyword():
    with pytest.raises(TypeError, match="n_low"):
        imc.MinMaxClip(n_low=1)  # renamed to n_min long ago


def test_rejector_base_is_abstract():
    with pytest.raises(TypeError, match="abstract"):
        imc.Rejector()


def test_rejectors_are_frozen_and_normalised():
    r = imc.SigClip(sigma=2, cenfunc="MED", stdfunc="MAD")
    assert r.sigma == (2.0, 2.0) and r.cenfunc == "median" and r.stdfunc == "mad"
    with pytest.raises(Exception):
        r.sigma = 3  # frozen
    assert imc.SigClip(grow=0).grow is None


def test_kernel_dicts_use_field_names():
    d = imc.SigClip(sigma=(2, 4), maxrej=None).to_kernel_dict()
    assert d == {"kind": "sigclip", "sigma_lo": 2.0, "sigma_hi": 4.0, "maxiters": 5, "cenfunc": "median",
                 "stdfunc": "std", "ddof": 0, "nkeep": 1, "revert_on_nkeep": True}
    d = imc.CcdClip(sigma=3, maxrej=2, high_only=True, grow=1.5).to_kernel_dict()
    assert d["kind"] == "ccdclip" and d["maxrej"] == 2 and "grow" not in d
    assert d["high_only"] is True and d["sigma_lo"] == math.inf and d["sigma_hi"] == 3.0
    assert imc.MinMaxClip(2, 0.25).to_kernel_dict() == {"kind": "minmax", "n_min": 2.0, "n_max": 0.25}
    assert imc.PClip().to_kernel_dict() == {"kind": "pclip", "frac": -0.5, "sigma_lo": 3.0, "sigma_hi": 3.0, "nkeep": 1}
    assert imc.LinearClip().to_kernel_dict()["kind"] == "linearclip"


def test_minmax_counts_are_truncated_fractions_kept():
    assert imc.MinMaxClip(2.7, 0.3).n_min == 2
    assert imc.MinMaxClip(2.7, 0.3).n_max == 0.3


def test_kernel_advertises_every_rejector_kind():
    # Every rejector dataclass has a kernel behind it (no stub raising at combine time).
    from imcombiners import _core
    from imcombiners._rejectors import KERNEL_KINDS

    assert set(KERNEL_KINDS) <= set(_core.REJECTORS)
    out = imc.Combiner(STACK).combine("mean", rejectors=imc.AvSigClip())
    assert out.shape == STACK.shape[1:]


# --------------------------------------------------------------------------- Job


def test_job_rejects_bad_want_and_weights():
    with pytest.raises(ValueError, match="want: unknown outputs"):
        Job("mean", want=frozenset({"sigma"}))
    with pytest.raises(ValueError, match="weights can only be used"):
        Job("median", weights=np.ones(3))


# --------------------------------------------------------------------------- memory guard


def test_check_memory_raises_memoryerror_pointing_to_dask():
    with pytest.raises(MemoryError, match=r"imcombiners\.dask\.combine"):
        _validate.check_memory(10 << 30, available=1 << 30)
    _validate.check_memory(1 << 20, available=1 << 30)  # fits: no error
    assert issubclass(imc.InsufficientMemoryError, MemoryError)


def test_memory_guard_fires_before_allocating(monkeypatch):
    class VM:
        available = 1 << 20  # pretend only 1 MiB is free

    import psutil

    monkeypatch.setattr(psutil, "virtual_memory", lambda: VM)
    # A 5 x 2048 x 2048 float32 stack needs ~100 MiB of masks/flags for full diagnostics.
    big = np.broadcast_to(np.float32(1), (5, 2048, 2048))  # no memory behind it
    with pytest.raises(imc.InsufficientMemoryError, match="available"):
        imc.Combiner(big).combine("mean", diagnostics="full")
