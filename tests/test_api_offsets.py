"""place_into_padded: integer offsets in NumPy axis order, any ndim."""

from __future__ import annotations

import numpy as np
import pytest

import imcombiners as imc


def test_two_dimensional_placement():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.full((3, 2), 9, dtype=np.uint16)
    out = imc.place_into_padded([a, b], [(0, 0), (1, -1)])
    assert out.shape == (2, 4, 4) and out.dtype == np.float32
    # offsets are normalised: b starts one column left of a, so a moves to column 1
    np.testing.assert_array_equal(out[0, 0:2, 1:4], a)
    np.testing.assert_array_equal(out[1, 1:4, 0:2], b)
    assert np.isnan(out[0, 2:, :]).all() and np.isnan(out[0, :, 0]).all()
    assert np.isnan(out[1, 0]).all()
    covered = ~np.isnan(out)
    assert covered[0].sum() == 6 and covered[1].sum() == 6


def test_only_differences_of_offsets_matter():
    imgs = [np.ones((3, 3)), 2 * np.ones((3, 3))]
    a = imc.place_into_padded(imgs, [(10, 20), (12, 19)])
    b = imc.place_into_padded(imgs, [(0, 1), (2, 0)])
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("ndim", [1, 3])
def test_other_dimensionalities(ndim):
    rng = np.random.default_rng(ndim)
    shapes = [tuple(rng.integers(2, 5, ndim)) for _ in range(3)]
    imgs = [rng.normal(size=sh) for sh in shapes]
    offs = rng.integers(-3, 4, (3, ndim))
    out = imc.place_into_padded(imgs, offs, fill=-1.0)
    start = offs - offs.min(axis=0)
    for i, im in enumerate(imgs):
        region = tuple(slice(s, s + n) for s, n in zip(start[i], im.shape))
        np.testing.assert_array_equal(out[(i, *region)], im)
    assert out.shape[1:] == tuple((start + np.array(shapes)).max(axis=0))
    assert (out == -1).sum() == out.size - sum(im.size for im in imgs)


def test_dtype_rules_and_combine_round_trip():
    i32 = np.ones((2, 2), np.int32)
    f32 = np.ones((2, 2), np.float32)
    assert imc.place_into_padded([f32, f32], [(0, 0), (0, 1)]).dtype == np.float32
    assert imc.place_into_padded([i32, f32], [(0, 0), (0, 1)]).dtype == np.float64
    padded = imc.place_into_padded([f32, 3 * f32], [(0, 0), (0, 1)])
    np.testing.assert_array_equal(imc.Combiner(padded).combine("mean"), [[1, 2, 3], [1, 2, 3]])


def test_errors():
    with pytest.raises(ValueError, match="at least one array"):
        imc.place_into_padded([], [])
    with pytest.raises(ValueError, match="same number of dimensions"):
        imc.place_into_padded([np.ones((2, 2)), np.ones(3)], [(0, 0), (0, 0)])
    with pytest.raises(ValueError, match=r"offsets must have shape \(N, ndim\)"):
        imc.place_into_padded([np.ones((2, 2))] * 2, [(0, 0, 0)] * 2)
    with pytest.raises(TypeError, match="integers"):
        imc.place_into_padded([np.ones((2, 2))] * 2, [(0, 0.5), (0, 0)])
    with pytest.raises(TypeError, match="int64"):
        imc.place_into_padded([np.ones((2, 2), np.int64)], [(0, 0)])
