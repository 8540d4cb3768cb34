"""Exception classes of imcombiners, in one place.

Each is also a subclass of the builtin exception the same failure raised before these
classes existed (``ValueError``, ``TypeError``, ``RuntimeError``, ``MemoryError``), so
``except ValueError`` keeps working; ``except ImcombinersError`` catches them all.

The Rust kernels (``imcombiners._core``) raise these classes directly: each kind of core
error maps to one class in ``crates/imc-py/src/error.rs``, and a Rust panic never reaches
Python as anything but :class:`KernelPanic`.

Classes
-------
ImcombinersError
    Base of every error below.
ParameterError(ValueError)
    A parameter value outside its accepted range; the message names the parameter.
ShapeError(ValueError)
    Array shapes, lengths or memory layout that do not fit together.
KernelCallError(ValueError)
    A malformed call of the private kernel API (a job with a missing or unknown key, a
    value of the wrong type): a bug in the caller, not in the user's input.
DtypeError(TypeError)
    An array of a dtype the kernels do not read (or arrays of mixed dtypes).
KernelPanic(RuntimeError)
    An internal error of the kernels (a Rust panic caught at the boundary): please report.
InsufficientMemoryError(MemoryError)
    An in-memory combine that would not fit; re-exported from :mod:`imcombiners._validate`.
"""

from __future__ import annotations

from ._validate import InsufficientMemoryError

__all__ = [
    "ImcombinersError",
    "ParameterError",
    "ShapeError",
    "KernelCallError",
    "DtypeError",
    "KernelPanic",
    "InsufficientMemoryError",
]


class ImcombinersError(Exception):
    """Base class of the errors imcombiners raises itself."""


class ParameterError(ImcombinersError, ValueError):
    """A parameter value outside its accepted range (the message names the parameter)."""


class ShapeError(ImcombinersError, ValueError):
    """Array shapes, lengths or memory layout that do not fit together."""


class KernelCallError(ImcombinersError, ValueError):
    """A malformed call of the private kernel API ``imcombiners._core``."""


class DtypeError(ImcombinersError, TypeError):
    """An array dtype the kernels do not read."""


class KernelPanic(ImcombinersError, RuntimeError):
    """An internal error in the Rust kernels (a caught panic); please report it."""
