"""Read-ahead of the next tiles and the planner's minimum read size for many frames.

The byte ranges handed to the kernel as read-ahead hints are checked against the
file's real contents (the pixels of the window are exactly those bytes), and a combine
over FITS files is checked to hint every later tile's bytes while giving the same
result as in memory.
"""

from __future__ import annotations

import gzip

import numpy as np
import pytest

import imcombiners.dask as imd
from imcombiners import Combiner, SigClip
from imcombiners.dask import sources
from imcombiners.dask.planner import MIN_FRAME_READ, make_plan
from imcombiners.dask.sources import FramesSource, as_frame

fits = pytest.importorskip("astropy.io.fits")


def _bytes(path: str, offset: int, length: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


@pytest.mark.parametrize("dtype", ["float32", "int16", "float64", "uint16"])
def test_ranges_are_the_window_pixels_of_fits_files(tmp_path, dtype):
    rng = np.random.default_rng(1)
    data = (rng.normal(100, 20, (17, 13)) * (1 if dtype.startswith("float") else 50)).astype(dtype)
    path = str(tmp_path / "f.fits")
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data)]).writeto(path)  # image in HDU 1
    frame = as_frame(path)
    for rows in (slice(0, 17), slice(3, 9), slice(16, 17)):
        (got,) = FramesSource([frame]).file_ranges((rows, slice(0, 13)))
        p, off, length = got
        assert p == path
        raw = np.frombuffer(_bytes(p, off, length), fits.getdata(path, 1, do_not_scale_image_data=True)
                            .dtype.newbyteorder(">"))
        stored = fits.getdata(path, 1, do_not_scale_image_data=True)[rows]
        assert np.array_equal(raw.reshape(stored.shape), stored)
        assert np.array_equal(frame.read((rows, slice(0, 13))), data[rows])


def test_ranges_of_a_memmap(tmp_path):
    a = np.arange(5 * 6 * 7, dtype="<f4").reshape(5, 6, 7)
    mm = np.memmap(tmp_path / "s.bin", dtype="<f4", mode="w+", shape=a.shape, offset=64)
    mm[...] = a
    mm.flush()
    src = FramesSource([as_frame(np.memmap(tmp_path / "s.bin", dtype="<f4", mode="r", shape=(6, 7),
                                           offset=64 + i * 6 * 7 * 4)) for i in range(5)])
    ranges = src.file_ranges((slice(2, 5), slice(0, 7)))
    assert len(ranges) == 5
    for i, (p, off, length) in enumerate(ranges):
        assert np.array_equal(np.frombuffer(_bytes(p, off, length), "<f4").reshape(3, 7), a[i, 2:5])


def test_no_ranges_where_bytes_are_not_pixels(tmp_path):
    data = np.ones((8, 9), np.float32)
    plain = str(tmp_path / "p.fits")
    fits.PrimaryHDU(data).writeto(plain)
    comp = str(tmp_path / "c.fits")
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data)]).writeto(comp)
    gz = str(tmp_path / "g.fits.gz")
    with open(plain, "rb") as f, gzip.open(gz, "wb") as g:
        g.write(f.read())
    # partial rows are not one contiguous range
    assert FramesSource([as_frame(plain)]).file_ranges((slice(0, 4), slice(0, 5))) == []
    assert FramesSource([as_frame(comp)]).file_ranges((slice(0, 4), slice(0, 9))) == []
    assert FramesSource([as_frame(gz)]).file_ranges((slice(0, 4), slice(0, 9))) == []
    # in-memory frames have no files
    assert FramesSource([as_frame(data)]).file_ranges((slice(0, 4), slice(0, 9))) == []


def test_ranges_with_offsets_cover_only_overlapping_frames(tmp_path):
    paths = []
    for i in range(3):
        p = str(tmp_path / f"o{i}.fits")
        fits.PrimaryHDU(np.full((4, 6), i, np.float32)).writeto(p)
        paths.append(p)
    src = FramesSource(paths, offsets=[(0, 0), (4, 0), (8, 0)])
    ranges = src.file_ranges((slice(4, 8), slice(0, 6)))
    assert [r[0] for r in ranges] == [paths[1]]
    (p, off, length) = ranges[0]
    assert np.all(np.frombuffer(_bytes(p, off, length), ">f4") == 1.0)


def test_combine_hints_every_later_tile_and_matches_memory(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    stack = rng.normal(1000, 10, (7, 40, 24)).astype(np.float32)
    paths = []
    for i, f in enumerate(stack):
        p = str(tmp_path / f"s{i}.fits")
        fits.PrimaryHDU(f).writeto(p)
        paths.append(p)
    advised: list[tuple[str, int, int]] = []
    real = sources._advise
    monkeypatch.setattr(sources, "_advise", lambda r: (advised.extend(r), real(r)))
    lazy = imd.combine(paths, "median", rejectors=[SigClip()], tile=(5, 24), threads=2)
    got = lazy.compute().data
    if sources._PREFETCHER is not None:
        sources._PREFETCHER.submit(lambda: None).result()  # the hints run in the background
    ref = Combiner(stack).combine("median", rejectors=[SigClip()])
    assert got.tobytes() == np.asarray(ref).tobytes()
    src = FramesSource([as_frame(p) for p in paths])
    # tiles of 5 rows: the first two start at once, each later one is hinted by an earlier one
    want = {r for y in range(10, 40, 5) for r in src.file_ranges((slice(y, y + 5), slice(0, 24)))}
    assert set(advised) == want


def test_many_frames_fewer_tiles_at_once_only_when_reads_grow():
    # budget-bound: 2 tiles at once read < MIN_FRAME_READ of each frame, 1 tile reads more
    per_px = 1.25 * (300 * 4 + 4)
    lim = int(2 * (4 * 2**20 + 6 * 4096 * per_px)) + 2**20
    kw = dict(in_itemsize=4, work_itemsize=4, baseline=0, result_in_memory=False)
    two = make_plan((300, 4096, 4096), memory_limit=lim, threads=1, **kw)
    p = make_plan((300, 4096, 4096), memory_limit=lim, threads=2, **kw)
    assert p.threads == 1 and p.tile == two.tile
    assert p.tile[0] * 4096 * 4 >= MIN_FRAME_READ
    assert any("tile(s) at once" in n for n in p.notes)
    # reads capped by the task size whatever the concurrency: nothing to gain, keep both threads
    q = make_plan((2000, 4096, 4096), memory_limit="4GB", threads=2, **kw)
    assert q.threads == 2 and not any("tile(s) at once" in n for n in q.notes)
    # no limit: never lowered
    assert make_plan((300, 4096, 4096), threads=2, **kw).threads == 2
