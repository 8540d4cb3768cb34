"""Records: what a frozen dataclass gives, for a fraction of its definition cost.

Why: ``@dataclass`` writes each class's ``__init__``, ``__repr__``, ``__eq__``,
``__hash__`` (and for a frozen one ``__setattr__``/``__delattr__``) as source text and
compiles it when the module is imported: ~4.6 M instructions per frozen class, and a
small command-line combine defines ~20 of them before it reads a pixel (~10 % of the
whole process). A :class:`Record` subclass is written like a dataclass (annotated
fields, defaults as class attributes, :func:`factory` for a mutable default, an optional
``__post_init__``) and shares one set of methods written once here, so defining it costs
about what a plain class costs.

What it keeps from a dataclass: construction by position or keyword with defaults,
``__post_init__``, field-wise ``==`` and ``hash`` (``eq=False``: identity), a ``repr``
naming the fields, immutability (``frozen=False`` for records that are filled in),
pickling and copying without re-running ``__init__``, and ``inspect.signature``. What it
does not: ``dataclasses.fields``/``replace``/``asdict`` (use :meth:`Record.replace`);
a public class that users may treat as a dataclass also takes
``@dataclass(init=False, repr=False, eq=False)``, which adds only the field table
(~0.4 M instructions) and leaves these methods in place.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

__all__ = ["Record", "FrozenRecordError", "factory"]


class FrozenRecordError(AttributeError):
    """Assigning to (or deleting) a field of a frozen record."""


class factory:  # noqa: N801 - used like dataclasses.field(default_factory=...)
    """A default made anew for each record (``targets: dict = factory(dict)``)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make

    def __repr__(self) -> str:
        return f"factory({getattr(self.make, '__name__', self.make)!r})"


_MISSING = object()


def _restore(cls: type, values: tuple) -> Any:
    """Unpickle/copy: the fields set as they were, without ``__init__`` (as a dataclass)."""
    obj = cls.__new__(cls)
    obj.__dict__.update(zip(cls._fields, values))
    return obj


class _Signature:
    """``inspect.signature(RecordClass)``: built from the fields on first use (importing
    :mod:`inspect` only then)."""

    def __get__(self, obj: Any, cls: type) -> Any:
        if obj is not None:
            raise AttributeError("__signature__")
        from inspect import Parameter, Signature

        defaults = cls._defaults
        params = [
            Parameter(name, Parameter.POSITIONAL_OR_KEYWORD,
                      default=Parameter.empty if name not in defaults else
                      (defaults[name].make() if isinstance(defaults[name], factory) else defaults[name]),
                      annotation=cls._annotations.get(name, Parameter.empty))
            for name in cls._fields
        ]
        return Signature(params, return_annotation=None)


class Record:
    """Base of a record class: annotated fields, defaults as class attributes.

    Subclass keywords: ``frozen`` (default True: fields cannot be assigned after
    ``__init__``/``__post_init__``, which set them with ``object.__setattr__`` as in a
    frozen dataclass) and ``eq`` (default True: ``==`` compares the fields of records of
    the same class, and frozen records hash them; False: identity, as ``eq=False``).
    Fields are inherited from a Record base, before the class's own.
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}
    _annotations: ClassVar[dict[str, Any]] = {}
    #: What assigning to a field raises (a class that users know as a dataclass sets
    #: ``dataclasses.FrozenInstanceError``, what it raised before).
    _frozen_error: ClassVar[type[AttributeError]] = FrozenRecordError
    __signature__ = _Signature()

    def __init_subclass__(cls, *, frozen: bool = True, eq: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = {name: ann for name, ann in cls.__dict__.get("__annotations__", {}).items()
               if not (isinstance(ann, str) and ann.startswith(("ClassVar", "typing.ClassVar")))}
        fields = [f for f in cls._fields if f not in own] + list(own)
        defaults = dict(cls._defaults)
        defaults.update({name: cls.__dict__[name] for name in own if name in cls.__dict__})
        seen_default = None
        for name in fields:
            if name in defaults:
                seen_default = name
            elif seen_default is not None:
                raise TypeError(f"{cls.__name__}: field {name!r} without a default follows {seen_default!r}")
        cls._fields = tuple(fields)
        cls._defaults = defaults
        cls._annotations = {**cls._annotations, **own}
        if not frozen:
            cls.__setattr__ = object.__setattr__  # type: ignore[assignment]
            cls.__delattr__ = object.__delattr__  # type: ignore[assignment]
        if not eq:
            cls.__eq__ = object.__eq__  # type: ignore[assignment]
            cls.__hash__ = object.__hash__  # type: ignore[assignment]
        elif not frozen and "__hash__" not in cls.__dict__:
            cls.__hash__ = None  # type: ignore[assignment]  # mutable and compared by value

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        fields = cls._fields
        if len(args) > len(fields):
            raise TypeError(f"{cls.__name__}() takes {len(fields)} positional arguments but {len(args)} were given")
        values = dict(zip(fields, args))
        for name, value in kwargs.items():
            if name not in fields:
                raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {name!r}")
            if name in values:
                raise TypeError(f"{cls.__name__}() got multiple values for argument {name!r}")
            values[name] = value
        if len(values) < len(fields):
            defaults = cls._defaults
            for name in fields:
                if name not in values:
                    default = defaults.get(name, _MISSING)
                    if default is _MISSING:
                        raise TypeError(f"{cls.__name__}() missing required argument: {name!r}")
                    values[name] = default.make() if isinstance(default, factory) else default
        self.__dict__.update((name, values[name]) for name in fields)
        post = getattr(self, "__post_init__", None)
        if post is not None:
            post()

    def _values(self) -> tuple:
        d = self.__dict__
        return tuple(d[name] for name in type(self)._fields)

    def __repr__(self) -> str:
        d = self.__dict__
        return f"{type(self).__qualname__}({', '.join(f'{n}={d[n]!r}' for n in type(self)._fields)})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()  # type: ignore[attr-defined]
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: Any) -> None:
        raise self._frozen_error(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise self._frozen_error(f"cannot delete field {name!r} of a frozen {type(self).__name__}")

    def __reduce__(self) -> tuple:
        return (_restore, (type(self), self._values()))

    def replace(self, **changes: Any) -> Any:
        """A new record with some fields changed (``dataclasses.replace``: ``__init__``
        and ``__post_init__`` run again)."""
        values = dict(zip(type(self)._fields, self._values()))
        values.update(changes)
        return type(self)(**values)
