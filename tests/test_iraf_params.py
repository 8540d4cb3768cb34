"""One validated IRAF parameter set for the in-memory, out-of-core and command-line imcombine."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import imcombiners.dask as imd
from imcombiners._iraf_params import IrafParams
from imcombiners.cli._errors import CLIError
from imcombiners.cli._iraf import IRAF_PARAMETERS, parse_iraf_call
from imcombiners.iraf import imcombine

BAD = [
    dict(lsigma=-1.0),
    dict(hsigma=float("nan")),
    dict(lthreshold=10.0, hthreshold=5.0),
    dict(reject="ccdclip", gain=0.0),
    dict(reject="ccdclip", rdnoise=[1.0, 2.0]),
    dict(reject="ccdclip", snoise="NOSUCHKEY"),
    dict(pclip=0.0),
    dict(reject="bogus"),
    dict(combine="mode"),
    dict(grow=-1.0),
    dict(reject="minmax", nlow=3, nhigh=2),
    dict(reject="minmax", nlow=1.5),
    dict(nkeep=1.5),
    dict(mclip="yes"),
    dict(scale="bogus"),
    dict(zero="exposure"),
    dict(weight=[1.0, 2.0]),
    dict(statsec="[1:3", scale="median"),
    dict(statsec="[50:60,1:2]", scale="median"),
    dict(outtype="bogus"),
    dict(masktype="bogus"),
    dict(masktype="novalue", maskvalue=0),
    dict(maskvalue="<x"),
    dict(masktype="novalue", maskvalue=3, grow=1.0),
    dict(offsets="grid x"),
    dict(offsets=[[0, 0]]),
    dict(outlimits="1 2.5"),
    dict(statsec="middle"),
    dict(sigscale=-0.1),
    dict(expname=3),
    dict(products=("sigma", "bpm")),
]


def _stack():
    return (100 + np.random.default_rng(0).normal(0, 5, (5, 6, 7))).astype(np.float32)


def _error(fn, **kw):
    with pytest.raises((TypeError, ValueError)) as info:
        fn(_stack(), **kw)
    return type(info.value), str(info.value)


@pytest.mark.parametrize("kw", BAD, ids=[",".join(k) for k in BAD])
def test_in_memory_and_out_of_core_refuse_alike(kw):
    assert _error(imcombine, **kw) == _error(imd.imcombine, **kw)


def test_entry_points_take_every_parameter_with_the_same_default():
    fields = {name: IrafParams.__dataclass_fields__[name].default for name in IrafParams.names()}
    for fn in (imcombine, imd.imcombine):
        sig = inspect.signature(fn).parameters
        for name, default in fields.items():
            assert name in sig, (fn.__module__, name)
            got = sig[name].default
            if name == "products":  # "none" and None name no product
                assert IrafParams(products=got).products == IrafParams(products=default).products
            else:
                assert got == default, (fn.__module__, name, got, default)


def test_command_line_knows_every_parameter():
    for name in IrafParams.names():
        if name == "products":  # the task names its products by their output files
            continue
        assert IRAF_PARAMETERS[name].role(name) == "kw", name


def test_command_line_refuses_bad_values_before_reading_files():
    # the inputs do not exist: the parameter is reported, not the files
    with pytest.raises(CLIError, match="nlow: counts"):
        parse_iraf_call(["nosuch*.fits", "out.fits", "reject=minmax", "nlow=1.5"])
    with pytest.raises(CLIError, match="grow"):
        parse_iraf_call(["nosuch*.fits", "out.fits", "grow=-2"])


def test_parameters_are_normalised_and_frozen():
    p = IrafParams(combine="MEDIAN", reject="SigClip", nlow=2, lsigma=2, products="none")
    assert (p.combine, p.reject, p.nlow, p.lsigma, p.products) == ("median", "sigclip", 2.0, 2.0, ())
    assert isinstance(p.lsigma, float)
    with pytest.raises(AttributeError):
        p.grow = 1.0  # type: ignore[misc]
    r = p.resolve(4, (6, 7), [{"RN": 3.0}] * 4)
    assert r.rdnoise == (0.0,) * 4 and r.exposures == (1.0,) * 4
    with pytest.raises(ValueError, match="headers: 3 headers given for 4 images"):
        p.resolve(4, (6, 7), [{}] * 3)
