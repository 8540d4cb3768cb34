"""imcombiners._record: records behave as the frozen dataclasses they replace."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle

import pytest

from imcombiners._record import FrozenRecordError, Record, factory


class Point(Record):
    """A frozen record compared by value."""

    x: int
    y: int = 0
    tags: list = factory(list)


class Handle(Record, eq=False):
    name: str


class Counter(Record, frozen=False):
    n: int = 0
    seen: dict = factory(dict)


class Checked(Record):
    value: float
    calls = 0  # a plain class attribute (not annotated): not a field

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("value must be >= 0")
        object.__setattr__(self, "value", float(self.value))
        type(self).calls += 1


class Point3(Point):
    z: int = 0


def test_construction_by_position_keyword_and_default():
    assert (Point(1).x, Point(1).y, Point(1).tags) == (1, 0, [])
    p = Point(1, y=2, tags=["a"])
    assert (p.x, p.y, p.tags) == (1, 2, ["a"])
    assert Point(x=3, y=4) == Point(3, 4)
    assert Point(1).tags is not Point(1).tags  # a factory default is made per record


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    ((), {}, "missing required argument: 'x'"),
    ((1, 2, [], 4), {}, "takes 3 positional arguments but 4 were given"),
    ((1,), {"x": 2}, "multiple values for argument 'x'"),
    ((1,), {"w": 2}, "unexpected keyword argument 'w'"),
])
def test_bad_arguments_are_type_errors_naming_the_field(args, kwargs, message):
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)


def test_a_field_without_default_after_one_with_is_refused():
    with pytest.raises(TypeError, match="'b' without a default follows 'a'"):
        class Bad(Record):
            a: int = 0
            b: int


def test_frozen_records_refuse_assignment_and_deletion():
    p = Point(1)
    with pytest.raises(FrozenRecordError, match="'x'"):
        p.x = 2
    with pytest.raises(AttributeError):
        del p.y
    with pytest.raises(AttributeError):
        p.other = 1  # no new attributes either
    assert p.x == 1


def test_value_equality_and_hash_follow_the_fields():
    assert Point(1, 2) == Point(1, 2) and Point(1, 2) != Point(2, 1)
    assert Point(1, 2, ()) != (1, 2, ())  # another type is never equal
    assert Point3(1, 2) != Point(1, 2)  # nor a subclass (as dataclasses)
    assert hash(Point(1, 2, ())) == hash(Point(1, 2, ()))
    assert len({Point(1, 2, ()), Point(1, 2, ()), Point(2, 2, ())}) == 2
    with pytest.raises(TypeError):  # an unhashable field makes the record unhashable
        hash(Point(1, 2, []))


def test_eq_false_compares_identity():
    a, b = Handle("x"), Handle("x")
    assert a != b and a == a
    assert len({a, b}) == 2


def test_mutable_records_assign_and_are_unhashable():
    c = Counter()
    c.n += 1
    c.seen["a"] = 1
    assert c == Counter(1, {"a": 1})
    with pytest.raises(TypeError):
        hash(c)


def test_post_init_runs_on_construction_and_replace_but_not_on_unpickling():
    before = Checked.calls
    c = Checked(2)
    assert c.value == 2.0 and isinstance(c.value, float)
    with pytest.raises(ValueError, match="value must be"):
        Checked(-1)
    r = c.replace(value=3)
    assert r == Checked(3.0) and c.value == 2.0
    calls = Checked.calls
    assert pickle.loads(pickle.dumps(c)) == c and copy.deepcopy(c) == c and copy.copy(c) == c
    assert Checked.calls == calls  # restored field by field, as a dataclass is
    assert calls - before == 3


def test_inherited_fields_come_first():
    p = Point3(1, 2, [], 3)
    assert (p.x, p.y, p.tags, p.z) == (1, 2, [], 3)
    assert Point3._fields == ("x", "y", "tags", "z")
    assert "calls" not in Checked._fields


def test_repr_names_every_field():
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=[])"
    assert repr(Counter()) == "Counter(n=0, seen={})"


def test_signature_is_the_fields():
    sig = inspect.signature(Point)
    assert list(sig.parameters) == ["x", "y", "tags"]
    assert sig.parameters["y"].default == 0 and sig.parameters["x"].default is inspect.Parameter.empty
    assert sig.parameters["x"].annotation == "int"


def test_public_fits_classes_are_still_dataclasses():
    # users may treat them as dataclasses (fields, replace, asdict): they keep that
    from imcombiners.io.fits import FitsFrame, FitsRegionTarget, HduSpec, ImageHdu, PixelType

    for cls in (FitsFrame, FitsRegionTarget, HduSpec, ImageHdu, PixelType):
        assert dataclasses.is_dataclass(cls), cls
        assert tuple(f.name for f in dataclasses.fields(cls)) == cls._fields
    p = PixelType(16, 32768)
    assert dataclasses.replace(p, bzero=0) == PixelType(16, 0)
    assert dataclasses.asdict(p) == {"bitpix": 16, "bzero": 32768, "bscale": 1, "blank": None}
    assert p == PixelType(16, 32768) and hash(p) == hash(PixelType(16, 32768))
    with pytest.raises(dataclasses.FrozenInstanceError):  # what the frozen dataclasses raised
        p.bitpix = 8
    with pytest.raises(ValueError):  # PixelType's own checks (__post_init__) still run
        PixelType(17)


def test_fits_frames_pickle_as_they_are(tmp_path):
    # frames travel to dask workers by pickle
    import numpy as np
    from astropy.io import fits

    from imcombiners.io.fits import probe

    path = tmp_path / "a.fits"
    fits.PrimaryHDU(np.arange(12, dtype=np.uint16).reshape(3, 4)).writeto(path)
    frame = probe(str(path))
    again = pickle.loads(pickle.dumps(frame))
    assert again == frame and hash(again) == hash(frame)
    assert np.array_equal(again.read(), np.arange(12).reshape(3, 4))
    assert frame.with_view("iraf").view == "iraf" and frame.with_view("iraf").path == frame.path
