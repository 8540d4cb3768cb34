"""Deprecation machinery for names and behaviours kept from imcombiners 0.1.1.

Everything that 0.1.1 code may still use but that has a better spelling now goes through
here, so the warnings read the same everywhere: ``DeprecationWarning`` naming the old
spelling, its replacement and the release that removes it (the migration guide,
docs/migrating-from-0.1.md, lists them all).

The exception classes keep 0.1.1's exception types catchable where this release raises a
more precise one: each subclasses both the new and the old type.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "REMOVAL",
    "warn_deprecated",
    "renamed_kwargs",
    "deprecated_function",
    "resolve_renamed",
    "pop_validate",
    "ParameterTypeError",
    "NegativeCountError",
    "AbstractRejectorError",
]

#: The release in which the deprecated spellings go away.
REMOVAL = "0.4"

F = TypeVar("F", bound=Callable[..., Any])


class ParameterTypeError(TypeError, ValueError):
    """A parameter of the wrong type (0.1.1 raised ValueError for some of these)."""


class NegativeCountError(ValueError, OverflowError):
    """A count that must be >= 0 is negative (0.1.1's kernels raised OverflowError)."""


class AbstractRejectorError(TypeError, NotImplementedError):
    """The abstract :class:`~imcombiners.Rejector` was used directly (0.1.1 raised
    NotImplementedError from its ``apply``)."""


def _caller_stacklevel() -> int:
    """stacklevel that points the warning at the first frame outside this package, so
    Python's default filters show it for the user's own code."""
    frame = sys._getframe(2)
    level = 2
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "imcombiners":
        frame = frame.f_back
        level += 1
    return level


def warn_deprecated(old: str, new: str, *, detail: str = "") -> None:
    """Emit the DeprecationWarning for ``old``, naming its replacement ``new``."""
    msg = f"{old} is deprecated and will be removed in imcombiners {REMOVAL}; use {new} instead"
    if detail:
        msg += f" ({detail})"
    warnings.warn(msg, DeprecationWarning, stacklevel=_caller_stacklevel())


def resolve_renamed(owner: str, kwargs: dict[str, Any], renames: dict[str, str]) -> None:
    """Move 0.1.1 keyword names in ``kwargs`` to their new names (in place), warning.

    Giving both the old and the new name is a TypeError, as for any duplicate argument.
    """
    for old, new in renames.items():
        if old in kwargs:
            if new in kwargs:
                raise TypeError(f"{owner}: give either {new}= or the deprecated {old}=, not both")
            warn_deprecated(f"{owner}({old}=...)", f"{new}=")
            kwargs[new] = kwargs.pop(old)


def renamed_kwargs(**renames: str) -> Callable[[F], F]:
    """Decorator: accept 0.1.1 keyword names (``old="new"``) with a DeprecationWarning."""

    def deco(func: F) -> F:
        owner = func.__qualname__

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if any(k in kwargs for k in renames):
                resolve_renamed(owner, kwargs, renames)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco


def deprecated_function(old: str, new: str, func: F, *, detail: str = "") -> F:
    """``func`` under its 0.1.1 name ``old``: same behaviour, plus the warning."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        warn_deprecated(old, new, detail=detail)
        return func(*args, **kwargs)

    wrapper.__qualname__ = wrapper.__name__ = old.rsplit(".", 1)[-1]
    wrapper.__doc__ = f"Deprecated 0.1.1 spelling of :func:`{new}` (removed in {REMOVAL})."
    return wrapper  # type: ignore[return-value]


def pop_validate(owner: str, kwargs: dict[str, Any]) -> None:
    """Drop 0.1.1's ``validate=`` keyword (inputs are always validated now), warning."""
    if "validate" in kwargs:
        kwargs.pop("validate")
        warn_deprecated(f"{owner}(validate=...)", "no argument",
                        detail="inputs are always validated; the argument has no effect")
