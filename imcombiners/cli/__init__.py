"""The ``imcombiners`` console script (``combine``, ``imcombine``, ``plan``, ``demo``).

Entry point: :func:`main` (declared in ``pyproject.toml``); also ``python -m imcombiners.cli``.
"""

from ._main import main

__all__ = ["main"]
