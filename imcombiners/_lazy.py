"""Packages whose public names load on first use (PEP 562 module ``__getattr__``).

A command-line run should pay only for the modules it uses, so :mod:`imcombiners.io` and
:mod:`imcombiners.io.fits` name where each public name lives and import that module when
the name is first asked for.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(package: str, home: Mapping[str, str], submodules: frozenset[str],
               namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``.

    ``home`` maps each public name to the submodule defining it; ``submodules`` are
    reachable as attributes without an import statement; ``namespace`` is the package's
    ``globals()`` (a loaded name is cached there).
    """

    def submodule(name: str) -> Any:
        # ``__import__``, not importlib's import_module: the import statement's own path,
        # which ``python -X importtime`` reports (tests/test_cli_startup.py reads it)
        full = f"{package}.{name}"
        __import__(full)
        return sys.modules[full]

    def getattr_(name: str) -> Any:
        if name in submodules:
            return submodule(name)
        where = home.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(submodule(where), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted(set(namespace) | set(home))

    return getattr_, dir_
