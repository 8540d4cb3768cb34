"""Tile buffers kept per thread (imcombiners._buffers): reused, never overwriting a result."""

from __future__ import annotations

import threading

import dask
import numpy as np
from astropy.io import fits

import imcombiners.dask as imd
from imcombiners import Combiner, SigClip
from imcombiners._buffers import forget_if_shared, release, tile_buffer
from imcombiners.dask.engine import _replace_kernels, default_tile_function


def test_same_shape_reuses_the_array_other_shape_replaces_it():
    release()
    a = tile_buffer("data", (3, 4, 5), np.dtype(np.float32))
    assert tile_buffer("data", (3, 4, 5), np.dtype(np.float32)) is a
    b = tile_buffer("data", (3, 2, 5), np.dtype(np.float32))
    assert b is not a and b.shape == (3, 2, 5)
    assert tile_buffer("data", (3, 2, 5), np.dtype(np.float64)) is not b
    assert tile_buffer("mask", (3, 2, 5), np.dtype(np.float64)).base is None
    release()


def test_threads_have_their_own_buffers():
    release()
    mine = tile_buffer("data", (2, 2), np.dtype(np.float32))
    seen = []
    t = threading.Thread(target=lambda: seen.append(tile_buffer("data", (2, 2), np.dtype(np.float32))))
    t.start()
    t.join()
    assert seen[0] is not mine
    release()


def test_a_view_returned_as_output_is_never_reused():
    release()
    buf = tile_buffer("data", (2, 3), np.dtype(np.float32))
    forget_if_shared("data", [np.zeros(3), buf[0]])
    assert tile_buffer("data", (2, 3), np.dtype(np.float32)) is not buf
    other = tile_buffer("data", (2, 3), np.dtype(np.float32))
    forget_if_shared("data", [np.zeros(3), None])
    assert tile_buffer("data", (2, 3), np.dtype(np.float32)) is other
    release()


def _fits_stack(tmp_path, n=5, shape=(37, 11), seed=3):
    rng = np.random.default_rng(seed)
    stack = rng.normal(100, 5, (n,) + shape).astype(np.float32)
    paths = []
    for i, frame in enumerate(stack):
        p = tmp_path / f"f{i}.fits"
        fits.PrimaryHDU(frame).writeto(p)
        paths.append(str(p))
    return stack, paths


def test_out_of_core_tiles_through_reused_buffers_equal_in_memory(tmp_path):
    # Many tiles of one shape (and a shorter last one) through each thread's buffer.
    stack, paths = _fits_stack(tmp_path)
    want = Combiner(stack).combine("median", rejectors=[SigClip(2.0)])
    for threads in (1, 2):
        got = imd.combine(paths, "median", rejectors=[SigClip(2.0)], tile=(4, 11), threads=threads).compute().data
        np.testing.assert_array_equal(got, want)


def test_a_tile_function_returning_its_input_keeps_every_tile(tmp_path):
    # The first frame of each tile, returned as a view of the tile: later tiles must not
    # overwrite the blocks already returned.
    stack, paths = _fits_stack(tmp_path, n=3)

    def first_frame(frames, masks, job):
        out = default_tile_function(frames, masks, job)
        out["data"] = np.asarray(frames)[0]
        return out

    with _replace_kernels(tile_fn=first_frame):
        lazy = imd.combine(paths, "mean", tile=(5, 11), threads=1)
    np.testing.assert_array_equal(lazy.compute().data, stack[0])
    # Through dask arrays: every block is held until the last tile is done.
    (got,) = dask.compute(lazy.arrays["data"], scheduler="threads", num_workers=1)
    np.testing.assert_array_equal(got, stack[0])
