"""The xarray accessors ``DataArray.imc`` and ``Dataset.imc``.

Users write ``ds.imc.combine(dim="time", data="flux", variance="var", dq="dq")``.  The
accessors are registered by :func:`install`, which ``import imcombiners`` calls (and the
first use of any public name of the package calls again) when xarray is loaded, and by
``import imcombiners.dask``.  So every order works except ``import imcombiners`` before
``import xarray`` with nothing else of the package used before ``ds.imc``: then
``import imcombiners.dask`` registers them.  (Registering right after a later
``import xarray`` would need an import hook, which this project does not install:
tests/test_layout.py.)

``import imcombiners`` itself stays free of xarray, pandas and dask.  The registered
classes are thin proxies: the implementation (:mod:`imcombiners.dask.accessor`, which
needs dask) is imported on the first ``.imc.combine`` call, so registering costs no
dask import.
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


def install() -> None:
    """Register the accessors if xarray is loaded (cheap: no dask)."""
    if not _registered and "xarray" in sys.modules:
        register(sys.modules["xarray"])
