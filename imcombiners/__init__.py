"""imcombiners: combine image stacks along axis 0 with pixel rejection.

Rust kernels behind four ways in:

* :class:`Combiner` -- ``Combiner(stack).combine("median", rejectors=[SigClip()])``,
  or chained: ``.threshold().zero_scale().reject().combine()``;
* :func:`ndcombine` -- the same in one call with IRAF-style names;
* :mod:`imcombiners.kernels` -- plain functions of arrays (``import imcombiners.kernels as imck``);
* :func:`imcombine` -- IRAF IMCOMBINE's parameters and results (IRAF-exact engine).

Stacks are ``(N, *spatial)`` arrays or lists of equally shaped frames; results are
``*spatial``. NaN/inf samples are always masked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the public names, loaded on first use (see _load_api)
    from . import kernels
    from ._combiner import CombineResult, Combiner, Step
    from ._config import show_config
    from ._ndcombine import ndcombine
    from ._rejectors import AvSigClip, CcdClip, LinearClip, MinMaxClip, PClip, Rejector, SigClip, VarClip
    from ._rejectors_modern import GESDClip, LinearFitClip, WinsorizedSigClip
    from ._validate import InsufficientMemoryError
    from .flags import OutputFlags, SampleFlags
    from .canvas import WcsCanvas, wcs_canvas
    from .iraf import imcombine
    from .offsets import place_into_padded


def _load_api() -> None:
    """Import the public API into this namespace (NumPy, the kernels, the rejectors).

    Why lazily: ``import imcombiners`` is also the first step of every ``imcombiners``
    console-script run, and ``imcombiners --version`` or ``--help`` need none of it
    (NumPy alone is ~60 ms of a ~150 ms start-up budget). Every public name, the
    first time one is asked for, loads them all together, so the modules that
    register themselves on import (kernels, for ``Rejector.apply``) always have.
    """
    from importlib import import_module

    # (``from . import kernels`` would ask this module's __getattr__ for it: a loop)
    kernels = import_module(f"{__name__}.kernels")
    from ._combiner import CombineResult, Combiner, Step
    from ._config import show_config
    from ._ndcombine import ndcombine
    from ._rejectors import AvSigClip, CcdClip, LinearClip, MinMaxClip, PClip, Rejector, SigClip, VarClip
    from ._rejectors_modern import GESDClip, LinearFitClip, WinsorizedSigClip
    from ._validate import InsufficientMemoryError
    from .flags import OutputFlags, SampleFlags
    from .canvas import WcsCanvas, wcs_canvas
    from .offsets import place_into_padded

    from ._xarray import install

    install()  # xarray imported after imcombiners: register the accessors now
    globals().update(
        kernels=kernels, CombineResult=CombineResult, Combiner=Combiner, Step=Step,
        ndcombine=ndcombine, AvSigClip=AvSigClip, CcdClip=CcdClip, LinearClip=LinearClip,
        MinMaxClip=MinMaxClip, PClip=PClip, Rejector=Rejector, SigClip=SigClip, VarClip=VarClip,
        WinsorizedSigClip=WinsorizedSigClip, GESDClip=GESDClip, LinearFitClip=LinearFitClip,
        InsufficientMemoryError=InsufficientMemoryError, OutputFlags=OutputFlags,
        SampleFlags=SampleFlags, place_into_padded=place_into_padded, show_config=show_config,
        wcs_canvas=wcs_canvas, WcsCanvas=WcsCanvas,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("imcombiners")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


__all__ = [
    "Combiner",
    "CombineResult",
    "Step",
    "ndcombine",
    "imcombine",
    "Rejector",
    "SigClip",
    "CcdClip",
    "VarClip",
    "AvSigClip",
    "LinearClip",
    "MinMaxClip",
    "PClip",
    "WinsorizedSigClip",
    "GESDClip",
    "LinearFitClip",
    "SampleFlags",
    "OutputFlags",
    "InsufficientMemoryError",
    "kernels",
    "place_into_padded",
    "show_config",
    "wcs_canvas",
    "WcsCanvas",
    "__version__",
]


#: imcombiners 0.1.1 top-level names -> their replacement (deprecated aliases).
_DEPRECATED = {
    "sigclip": "imcombiners.kernels.sigclip",
    "ccdclip": "imcombiners.kernels.ccdclip",
    "linearclip": "imcombiners.kernels.linearclip",
    "minmax": "imcombiners.kernels.minmax",
    "pclip": "imcombiners.kernels.pclip",
    "grow_mask": "imcombiners.kernels.grow_mask",
    "nanaverage": "imcombiners.kernels.wavg",
    "resolve_zero_scale": "imcombiners.Combiner(...).zero_scale",
}


def _deprecated_alias(name: str) -> Any:
    _load_api()
    from ._deprecation import deprecated_function
    from ._legacy import resolve_zero_scale

    if name == "resolve_zero_scale":
        return resolve_zero_scale  # warns itself
    if name == "nanaverage":
        return kernels.nanaverage  # warns itself
    return deprecated_function(f"imcombiners.{name}", _DEPRECATED[name], getattr(kernels, name))


#: Public names loaded on first use by :func:`_load_api`.
_LAZY_API = frozenset(__all__) - {"imcombine", "__version__"}


def __getattr__(name: str) -> Any:
    if name in _LAZY_API:
        _load_api()
        return globals()[name]
    if name == "__version__":
        globals()["__version__"] = _version()
        return globals()["__version__"]
    if name in _DEPRECATED:
        return _deprecated_alias(name)
    # imcombine lives in .iraf, which loads the IRAF engine: import it on first use only.
    if name == "imcombine":
        try:
            from .iraf import imcombine
        except ImportError as exc:
            raise AttributeError(f"imcombiners.imcombine is not available: {exc}") from exc
        globals()["imcombine"] = imcombine
        return imcombine
    raise AttributeError(f"module 'imcombiners' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


# ``DataArray.imc`` and ``Dataset.imc``: registered now, importing xarray for it, except
# in the command line's own process, whose start-up stays free of xarray and pandas
# (imcombiners/_xarray.py).  Dask is not imported either way.
from ._xarray import install as _install_xarray, started_by_the_command_line as _started_by_the_cli  # noqa: E402

_in_the_cli = _started_by_the_cli()
_install_xarray(load=not _in_the_cli)
if _in_the_cli:
    # NumPy's OpenBLAS starts a spinning thread per core when NumPy is imported; the
    # command line does no linear algebra, and on 2 cores those threads cost a small job
    # ~20 ms of start-up. A value the user set is kept.
    import os as _os

    _os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # Its imports (NumPy, the engine) allocate enough objects for the default thresholds
    # to run the garbage collector dozens of times, each walking every tracked object:
    # ~20 M of the ~500 M instructions of a small combine. A run's garbage is freed by
    # reference counting (arrays, buffers); the collector stays on, less eager.
    import gc as _gc

    if _gc.get_threshold()[0]:  # (0: automatic collection is off, and stays so)
        _gc.set_threshold(max(_gc.get_threshold()[0], 50_000), *_gc.get_threshold()[1:])
