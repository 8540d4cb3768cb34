"""The error classes of imcombiners.errors and the strict kernel boundary.

Each kind of kernel failure arrives as its own class (mapped in one place,
crates/imc-py/src/error.rs), still an instance of the builtin it always was; the job and
IRAF parameter dicts are strict: Python sends every key, Rust refuses missing and unknown
ones and gives no parameter a default.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import imcombiners as imc
from imcombiners import errors
from imcombiners._job import Job

core = pytest.importorskip("imcombiners._core", reason="imcombiners._core is not built")


def _f(n: int) -> np.ndarray:
    return np.arange(float(n))


def _job(**keys):
    """A complete kernel job dict, as Job.kernel_dict builds it, with some keys changed."""
    job = Job("mean", rejectors=(imc.SigClip(),))
    d = job.kernel_dict(rejectors=job.rejectors, thresholds=None, want=frozenset(), line=3, final=True)
    d.update(keys)
    return d


@pytest.mark.parametrize(
    "cls, base",
    [
        (errors.ParameterError, ValueError),
        (errors.ShapeError, ValueError),
        (errors.KernelCallError, ValueError),
        (errors.DtypeError, TypeError),
        (errors.KernelPanic, RuntimeError),
        (errors.InsufficientMemoryError, MemoryError),
    ],
)
def test_classes_keep_their_builtin_base(cls, base):
    assert issubclass(cls, base)
    if cls is not errors.InsufficientMemoryError:
        assert issubclass(cls, errors.ImcombinersError)
    # They cross process boundaries (Dask workers) intact.
    e = pickle.loads(pickle.dumps(cls("x: message")))
    assert type(e) is cls and str(e) == "x: message"


@pytest.mark.parametrize(
    "call, cls, words",
    [
        (lambda: core.run([_f(3)], None, _job(method="bogus"), 0), errors.ParameterError, "method"),
        (lambda: core.run([_f(3)], None, _job(scale=[0.0]), 0), errors.ParameterError, "scale"),
        (lambda: core.run([_f(3)], None, _job(rejectors=[dict(imc.SigClip().to_kernel_dict(), sigma_lo=-1.0)]), 0),
         errors.ParameterError, "sigma"),
        (lambda: core.run([_f(3), _f(4)], None, _job(), 0), errors.ShapeError, "frames"),
        (lambda: core.run([np.zeros(6)[::2]], None, _job(), 0), errors.ShapeError, "C-contiguous"),
        (lambda: core.run([np.zeros(3, np.int64)], None, _job(), 0), errors.DtypeError, "int64"),
        (lambda: core.run([_f(3)], [np.zeros(3, np.uint8)], _job(), 0), errors.DtypeError, "masks[0]"),
        (lambda: core.grow_mask(np.zeros((2, 3), bool), -1.0), errors.ParameterError, "grow"),
        (lambda: core.frame_stat(_f(3), None, "bogus"), errors.ParameterError, "statistic"),
        (lambda: core._panic_for_tests(), errors.KernelPanic, "internal error"),
    ],
)
def test_each_failure_has_its_class(call, cls, words):
    with pytest.raises(cls, match=words.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_a_complete_job_runs():
    out = core.run([_f(3), _f(3) + 2], None, _job(), 0)
    assert np.array_equal(out["data"], _f(3) + 1)


@pytest.mark.parametrize(
    "job, words",
    [
        (_job(bogus=1), "unknown key 'bogus'"),
        ({k: v for k, v in _job().items() if k != "method"}, 'missing key "method"'),
        (_job(method="variance", ddof=None), 'needs the key "ddof"'),
        (_job(rejectors=[dict(imc.SigClip().to_kernel_dict(), extra=1)]), "unknown key 'extra'"),
        (_job(rejectors=[{k: v for k, v in imc.PClip().to_kernel_dict().items() if k != "nkeep"}]), 'missing key "nkeep"'),
        (_job(rejectors=[dict(imc.MinMaxClip().to_kernel_dict(), kind="zzz")]), "not known"),
        (_job(rejectors=[{"sigma_lo": 3.0}]), "kind"),
        (_job(ddof="two"), 'key "ddof" has the wrong type'),
        ("mean", "must be a dict"),
    ],
)
def test_job_dicts_are_strict(job, words):
    with pytest.raises(errors.KernelCallError, match=words):
        core.run([_f(3)], None, job, 0)


def test_avsigclip_needs_the_line_length():
    d = _job(rejectors=[imc.AvSigClip().to_kernel_dict()])
    del d["line"]
    with pytest.raises(errors.KernelCallError, match='"line"'):
        core.run([_f(3)] * 4, None, d, 0)


def test_every_rejector_dict_is_accepted_as_python_builds_it():
    # Each kind with every option Python can send (maxrej, spread centres, high_only).
    rejectors = [imc.SigClip(maxrej=2), imc.CcdClip(high_only=True), imc.AvSigClip(), imc.LinearClip(),
                 imc.MinMaxClip(1, 1), imc.PClip()]
    for r in rejectors:
        out = core.run([_f(6) + k for k in range(5)], None, _job(rejectors=[r.to_kernel_dict()], line=6), 0)
        assert out["data"].shape == (6,)


def _iraf_params(n: int) -> dict:
    fac = core.iraf_factors(("none", []), ("none", []), ("none", []), [1.0] * n)
    return {
        "combine": "average", "reject": "sigclip", "nlow": 1.0, "nhigh": 1.0, "nkeep": 1, "mclip": True,
        "lsigma": 3.0, "hsigma": 3.0, "rdnoise": [0.0], "gain": [1.0], "snoise": [0.0], "sigscale": 0.1,
        "pclip": -0.5, "grow": 0.0, "lthreshold": None, "hthreshold": None, "blank": 0.0,
        "scales": fac["scales"], "zeros": fac["zeros"], "wts": fac["wts"], "doscale": fac["doscale"],
        "dozero": fac["dozero"], "dowts": fac["dowts"], "exposures": [1.0], "int_path": "real", "novalue": False,
    }


def test_iraf_params_are_strict():
    frames = [np.full(4, 10.0 + k, np.float32) for k in range(5)]
    out = core.iraf_combine(frames, None, [4], _iraf_params(5), [], False, 1)
    assert np.allclose(out["output"], 12.0)
    with pytest.raises(errors.KernelCallError, match="unknown key 'extra'"):
        core.iraf_combine(frames, None, [4], dict(_iraf_params(5), extra=1), [], False, 1)
    p = _iraf_params(5)
    del p["lsigma"]  # INDEF is None, never an absent key
    with pytest.raises(errors.KernelCallError, match='missing key "lsigma"'):
        core.iraf_combine(frames, None, [4], p, [], False, 1)
    with pytest.raises(errors.ParameterError, match="combine"):
        core.iraf_combine(frames, None, [4], dict(_iraf_params(5), combine="mode"), [], False, 1)


def test_public_errors_keep_the_builtin_contract():
    # A bad user value still raises ValueError (now through the Python validation or the
    # kernel's own class), whichever layer catches it.
    with pytest.raises(ValueError):
        imc.Combiner(np.zeros((3, 4, 4))).combine("mean", thresholds=(5, 1))
