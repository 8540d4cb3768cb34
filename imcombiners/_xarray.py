"""The xarray accessors ``DataArray.imc`` and ``Dataset.imc``.

Users write ``ds.imc.combine(dim="time", data="flux", variance="var", dq="dq")``.  The
accessors are registered by ``import imcombiners`` in any import order: it imports
xarray (when installed) and registers them, so ``import imcombiners`` then
``import xarray`` works as well as the reverse, with no import hook and nothing else to
import.  The one exception is the ``imcombiners`` command line (the console script,
``python -m imcombiners`` or ``python -m imcombiners.cli``): its start-up must not pay
xarray's import (~0.3 s, pandas included), and it never uses the accessors, so there
the accessors are registered only if xarray is already loaded.

The registered classes are thin proxies: the implementation
(:mod:`imcombiners.dask.accessor`, which needs dask) is imported on the first
``.imc.combine`` call, so registering costs no dask import.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["install", "register"]

_registered = False


class _LazyAccessor:
    """Forwards to the implementation class named ``_impl`` in imcombiners.dask.accessor."""

    _impl = ""

    def __init__(self, obj: Any) -> None:
        self._obj = obj
        self._target: Any = None

    def _get(self) -> Any:
        if self._target is None:
            import imcombiners.dask.accessor as accessor  # dask and the engine: on first use only

            self._target = getattr(accessor, self._impl)(self._obj)
        return self._target

    def combine(self, *args: Any, **kwargs: Any) -> Any:
        """Combine along a frame dimension out of core.

        See :meth:`imcombiners.dask.accessor.ImcAccessor.combine` (DataArray) and
        :meth:`imcombiners.dask.accessor.ImcDatasetAccessor.combine` (Dataset).
        """
        return self._get().combine(*args, **kwargs)


class DataArrayImc(_LazyAccessor):
    """``DataArray.imc``: image-stack combining along a frame dimension
    (:class:`imcombiners.dask.accessor.ImcAccessor`)."""

    _impl = "ImcAccessor"


class DatasetImc(_LazyAccessor):
    """``Dataset.imc``: combine a survey stack held as variables of one Dataset
    (:class:`imcombiners.dask.accessor.ImcDatasetAccessor`)."""

    _impl = "ImcDatasetAccessor"


def register(xr: Any = None) -> None:
    """Register ``DataArray.imc`` and ``Dataset.imc`` (once)."""
    global _registered
    if _registered:
        return
    if xr is None:
        import xarray as xr
    _registered = True
    xr.register_dataarray_accessor("imc")(DataArrayImc)
    xr.register_dataset_accessor("imc")(DatasetImc)


def install(load: bool = False) -> None:
    """Register the accessors if xarray is loaded, or import it first when ``load``."""
    if _registered:
        return
    if "xarray" in sys.modules:
        register(sys.modules["xarray"])
    elif load:
        try:
            import xarray
        except ImportError:  # xarray is a dependency, but a broken install must not break us
            return
        register(xarray)


#: Console-script names of the command line (pip writes ``imcombiners``; on Windows
#: ``imcombiners.exe`` or ``imcombiners-script.py``).
_SCRIPT_STEMS = frozenset({"imcombiners", "imcombiners-script"})
_CLI_MODULES = frozenset({"imcombiners", "imcombiners.cli", "imcombiners.__main__", "imcombiners.cli.__main__"})


def started_by_the_command_line(argv: list[str] | None = None) -> bool:
    """Whether this interpreter was started to run the ``imcombiners`` command line.

    Read from the interpreter's own arguments (``sys.orig_argv``), because
    ``import imcombiners`` runs before the command line's code does: the console
    script, or ``python [options] -m imcombiners`` / ``-m imcombiners.cli``.
    """
    args = list(getattr(sys, "orig_argv", sys.argv) if argv is None else argv)
    i = 1
    while i < len(args):
        a = args[i]
        if a == "-m":
            return i + 1 < len(args) and args[i + 1] in _CLI_MODULES
        if a.startswith("-m"):
            return a[2:] in _CLI_MODULES
        if a in ("-c", "-") or a == "--":
            return False
        if a in ("-X", "-W", "--check-hash-based-pycs"):
            i += 2  # an option with a separate value
            continue
        if a.startswith("-"):
            i += 1
            continue
        name = a.replace("\\", "/").rsplit("/", 1)[-1].lower()
        return name.split(".", 1)[0] in _SCRIPT_STEMS
    return False
