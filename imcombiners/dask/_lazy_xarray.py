"""Register the ``DataArray.imc`` accessor without importing xarray eagerly.

Importing xarray (and pandas with it) costs ~0.5 s, which ``import
imcombiners.dask`` should not pay when no DataArray is ever used.  xarray
accessors must be registered before ``da.imc`` is looked up, and that can only
happen after xarray is imported, so:

* xarray already imported: register now;
* otherwise: a one-shot import hook (a :data:`sys.meta_path` finder) wraps
  xarray's loader and registers the accessor right after ``xarray`` finishes
  importing, whoever imports it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from typing import Any

__all__ = ["install"]

_done = False


def _register() -> None:
    global _done
    if _done:
        return
    _done = True
    try:
        from imcombiners.dask import accessor  # noqa: F401  (registers on import)
    except ImportError:  # pragma: no cover - broken xarray install
        _done = False


class _Loader(importlib.abc.Loader):
    """Delegate to xarray's own loader, then register the accessor."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create_module(self, spec):  # noqa: D401
        return self._inner.create_module(spec)

    def exec_module(self, module) -> None:
        self._inner.exec_module(module)
        _register()

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ...
        return getattr(self._inner, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Find ``xarray`` with the normal finders and wrap its loader (once)."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "xarray":
            return None
        _remove()
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader)
                return spec
        return None


_finder = _Finder()


def _remove() -> None:
    try:
        sys.meta_path.remove(_finder)
    except ValueError:
        pass


def install() -> None:
    """Register the accessor now if xarray is loaded, else when it gets imported."""
    if "xarray" in sys.modules:
        _register()
    elif _finder not in sys.meta_path and not _done:
        sys.meta_path.insert(0, _finder)
