"""Reads past the page cache (``O_DIRECT``) for stacks larger than the RAM.

Checked against the buffered reads they replace: the same bytes at unaligned offsets and
lengths (FITS data starts at multiples of 2880 bytes, never of 4096), the same physical
values for every BITPIX/BZERO, the same combine; the fallback where a file system refuses;
that the pages really stay out of the page cache; and the policy that chooses them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import mmap
import os

import numpy as np
import pytest

import imcombiners.dask as imd
from imcombiners import Combiner, SigClip
from imcombiners.io import page_cache
from imcombiners.dask.sources import FramesSource, as_frame
from imcombiners.io.fits import direct
from imcombiners.io.fits.window import DIRECT_MIN_RUN

fits = pytest.importorskip("astropy.io.fits")

pytestmark = pytest.mark.skipif(not direct.available(), reason="no O_DIRECT on this platform")


@pytest.fixture
def direct_reads(monkeypatch) -> list[int]:
    """The byte counts of the reads that went past the page cache (the real reads, counted)."""
    from imcombiners.io.fits import window

    counted: list[int] = []
    real = window.direct_pread_into

    def spy(fd, dest, offset):
        counted.append(dest.shape[0])
        return real(fd, dest, offset)

    monkeypatch.setattr(window, "direct_pread_into", spy)
    return counted


def _direct_fd(path) -> int:
    try:
        return direct.open_direct(str(path))
    except direct.DirectRefused:  # pragma: no cover - depends on the file system of the temporary folder
        pytest.skip(f"the file system of {path} refuses O_DIRECT")


def _resident_pages(path) -> int:
    """Pages of ``path`` in the page cache (mincore on a mapping of the file)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        # private and writable only so ctypes can take its address; nothing is written
        mm = mmap.mmap(f.fileno(), size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    try:
        pages = -(-size // mmap.PAGESIZE)
        vec = (ctypes.c_ubyte * pages)()
        start = ctypes.c_char.from_buffer(mm)
        try:
            rc = libc.mincore(ctypes.c_void_p(ctypes.addressof(start)), ctypes.c_size_t(size), vec)
        finally:
            del start
        assert rc == 0, os.strerror(ctypes.get_errno())
        return sum(v & 1 for v in vec)
    finally:
        mm.close()


def _evict(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # dirty pages (a file just written) are not dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def test_bytes_equal_buffered_reads_at_unaligned_offsets(tmp_path):
    rng = np.random.default_rng(3)
    blob = rng.integers(0, 256, 3 * direct.CHUNK + 12345, dtype=np.uint8)
    path = tmp_path / "blob.bin"
    blob.tofile(path)
    fd = _direct_fd(path)
    try:
        size = blob.size
        cases = [(0, 1), (1, 4095), (2880, 70000), (4095, 2), (4096, 4096), (5760, direct.CHUNK),
                 (123, 2 * direct.CHUNK + 77), (size - 10, 10), (size - direct.CHUNK - 3, direct.CHUNK + 3),
                 (0, size)]
        for offset, length in cases:
            dest = np.full(length, 0xA5, np.uint8)
            direct.direct_pread_into(fd, dest, offset)
            assert np.array_equal(dest, blob[offset: offset + length]), (offset, length)
        with pytest.raises(OSError, match="unexpected end"):
            direct.direct_pread_into(fd, np.empty(100, np.uint8), size - 50)
    finally:
        os.close(fd)


# (BITPIX dtype, BZERO, BSCALE): the FITS pixel types and the unsigned conventions
PIXEL_TYPES = [("uint8", None, None), ("int16", None, None), ("int16", 32768, None),
               ("int32", None, None), ("int32", 2**31, None), ("float32", None, None),
               ("float64", None, None), ("int16", 100.5, 0.25)]


@pytest.mark.parametrize("dtype,bzero,bscale", PIXEL_TYPES)
def test_fits_values_equal_buffered_reads(tmp_path, dtype, bzero, bscale):
    rng = np.random.default_rng(5)
    ncol = 700  # rows of 700 pixels: strips cross 4096-byte boundaries anywhere
    info = np.iinfo(dtype) if dtype.startswith(("int", "uint")) else None
    raw = (rng.integers(info.min, info.max, (300, ncol), endpoint=True) if info is not None
           else rng.normal(0, 1e3, (300, ncol))).astype(dtype)
    raw[7, 3] = 0
    hdr = fits.Header()
    if bzero is not None:
        hdr["BZERO"] = bzero
    if bscale is not None:
        hdr["BSCALE"] = bscale
    path = str(tmp_path / "f.fits")
    # an image in an extension, after a primary header with extra cards: data at 3 x 2880
    prim = fits.PrimaryHDU()
    prim.header["COMMENT"] = "x" * 60
    fits.HDUList([prim, fits.ImageHDU(raw, header=hdr, do_not_scale_image_data=True)]).writeto(path)
    buffered = as_frame(path)
    uncached = buffered.with_uncached(True)
    assert buffered.data_offset % direct.ALIGN != 0
    row_bytes = ncol * np.dtype(dtype).itemsize
    for rows in (slice(0, 300), slice(1, 299), slice(37, 37 + -(-DIRECT_MIN_RUN // row_bytes) + 5),
                 slice(299, 300)):
        for cols in (slice(None), slice(5, 600)):
            win = (rows, cols)
            a, b = buffered.read(win), uncached.read(win)
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(b.view(np.uint8), a.view(np.uint8))
            for out_dtype in (np.float32, np.float64):
                out = np.empty(a.shape, out_dtype)
                np.testing.assert_array_equal(uncached.read(win, out=out), buffered.read(win).astype(out_dtype))


def test_uncached_reads_leave_the_page_cache_empty(tmp_path):
    data = np.arange(512 * 1024, dtype=np.float32).reshape(512, 1024)  # 2 MiB
    path = str(tmp_path / "f.fits")
    fits.PrimaryHDU(data).writeto(path)
    frame = as_frame(path).with_uncached(True)  # the probe reads the header, buffered
    _evict(path)
    if _resident_pages(path) > 0:  # pragma: no cover - a file system that keeps them
        pytest.skip("this file system does not drop pages on request")
    np.testing.assert_array_equal(frame.read(), data)
    assert _resident_pages(path) == 0
    as_frame(path).read()
    assert _resident_pages(path) >= 500  # the check can see buffered reads


def test_a_refusing_file_system_falls_back_to_buffered_reads(tmp_path, monkeypatch):
    data = np.arange(300 * 400, dtype=np.float32).reshape(300, 400)
    path = str(tmp_path / "f.fits")
    fits.PrimaryHDU(data).writeto(path)
    frame = as_frame(path).with_uncached(True)
    real = os.preadv

    def refuse_direct(fd, buffers, offset, *args):
        # what a file system without O_DIRECT support answers a direct read
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, buffers, offset, *args)

    monkeypatch.setattr(os, "preadv", refuse_direct)
    monkeypatch.setattr(direct, "_REFUSED", set())
    np.testing.assert_array_equal(frame.read(), data)
    assert direct.direct_refused(path)
    np.testing.assert_array_equal(frame.read((slice(10, 250),)), data[10:250])


def test_tmpfs_refusal_or_support_gives_the_same_values():
    """/dev/shm: tmpfs refuses O_DIRECT on older kernels and takes it on newer ones."""
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm")
    data = np.arange(200 * 500, dtype=np.int16).reshape(200, 500)
    path = f"/dev/shm/imc-direct-{os.getpid()}.fits"
    try:
        fits.PrimaryHDU(data).writeto(path)
        np.testing.assert_array_equal(as_frame(path).with_uncached(True).read(), data)
    finally:
        os.remove(path)


def _stack(tmp_path, n=7, shape=(96, 1000)):
    rng = np.random.default_rng(11)
    cube = rng.normal(1000, 30, (n, *shape)).astype(np.float32)
    cube[2, 5:9, shape[1] // 2] = 1e5  # a cosmic ray for the clipping
    paths = []
    for i, frame in enumerate(cube):
        p = str(tmp_path / f"f{i}.fits")
        fits.PrimaryHDU(frame).writeto(p)
        paths.append(p)
    return cube, paths


def test_combine_bypassing_the_cache_equals_the_buffered_combine(tmp_path, monkeypatch):
    _cube, paths = _stack(tmp_path)
    kw = dict(method="median", rejectors=SigClip(3, 3), memory_limit="300MB", tile=(24, 1000))
    monkeypatch.setenv(page_cache.ENV_VAR, "use")
    a = imd.combine(paths, **kw).compute()
    monkeypatch.setenv(page_cache.ENV_VAR, "bypass")
    b = imd.combine(paths, **kw).compute()
    np.testing.assert_array_equal(np.asarray(a.data), np.asarray(b.data))


def _notes_say_bypass(lazy) -> bool:
    return any("past the page cache" in note for note in lazy.plan.notes)


def test_planes_mask_and_iraf_mode_bypassing_the_cache_equal_buffered(tmp_path, monkeypatch, direct_reads):
    rng = np.random.default_rng(17)
    n, shape = 6, (64, 900)  # rows of 3600 bytes: strips of >= 64 KiB go direct
    sci = rng.normal(500, 20, (n, *shape)).astype(np.float32)
    sci[1, 10:12, 300] = 9e4
    var = rng.uniform(300, 700, (n, *shape)).astype(np.float32)
    dq = (rng.integers(0, 4, (n, *shape)) * (rng.random((n, *shape)) < 0.05)).astype(np.int16)
    ints = rng.integers(0, 60000, (n, *shape)).astype(np.uint16)
    paths, int_paths, masks = [], [], []
    for i in range(n):
        p = str(tmp_path / f"m{i}.fits")
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(sci[i], name="SCI"), fits.ImageHDU(var[i], name="VAR"),
                      fits.ImageHDU(dq[i], name="DQ")]).writeto(p)
        paths.append(p)
        q = str(tmp_path / f"u{i}.fits")
        fits.PrimaryHDU(ints[i]).writeto(q)  # uint16: BITPIX 16, BZERO 32768
        int_paths.append(q)
        m = str(tmp_path / f"bpm{i}.fits")
        fits.PrimaryHDU((rng.random(shape) < 0.02).astype(np.uint8)).writeto(m)
        masks.append(m)
    results = {}
    for mode in ("use", "bypass"):
        monkeypatch.setenv(page_cache.ENV_VAR, mode)
        lazy = imd.combine(paths, "mean", hdu="SCI", variance="VAR", dq="DQ", bad_bits=2,
                           weights="inverse_variance", rejectors=SigClip(3, 3), diagnostics=["nused"],
                           memory_limit="300MB", tile=(32, 900))
        assert _notes_say_bypass(lazy) is (mode == "bypass")
        iraf = imd.imcombine(int_paths, masks=masks, combine="median", reject="ccdclip", rdnoise=5.0, gain=2.0,
                             tile=(40, 900))
        assert _notes_say_bypass(iraf) is (mode == "bypass")
        del direct_reads[:]
        out = lazy.compute()
        # strips of 115 KB of SCI and VAR went direct when asked to; DQ's 58 KB did not
        assert len(direct_reads) == (2 * n * 2 if mode == "bypass" else 0)
        del direct_reads[:]
        results[mode] = (np.asarray(out.data), np.asarray(out["nused"]), np.asarray(iraf.compute().output))
        # uint16 strips: the first of 40 rows (72 KB) direct, the last of 24 rows (43 KB) buffered
        assert len(direct_reads) == (n if mode == "bypass" else 0)
    for a, b in zip(results["use"], results["bypass"]):
        np.testing.assert_array_equal(a, b)


def test_raw_memmap_frames_bypassing_the_cache_equal_buffered(tmp_path, monkeypatch, direct_reads):
    rng = np.random.default_rng(23)
    cube = rng.normal(0, 1, (5, 40, 3000)).astype(">f4")  # big-endian words, rows of 12000 bytes
    frames = []
    for i, frame in enumerate(cube):
        mm = np.memmap(tmp_path / f"r{i}.raw", dtype=">f4", mode="w+", shape=frame.shape, offset=100 + i)
        mm[...] = frame
        mm.flush()
        frames.append(np.memmap(tmp_path / f"r{i}.raw", dtype=">f4", mode="r", shape=frame.shape, offset=100 + i))
    out = {}
    for mode in ("use", "bypass"):
        monkeypatch.setenv(page_cache.ENV_VAR, mode)
        lazy = imd.combine(frames, "median", rejectors=SigClip(3, 3), tile=(8, 3000))
        out[mode] = np.asarray(lazy.compute().data)
    assert len(direct_reads) == 5 * 5  # 5 strips of 96 KB per frame, in the bypass run only
    np.testing.assert_array_equal(out["use"], out["bypass"])
    ref = Combiner(cube.astype(np.float32)).combine("median", rejectors=SigClip(3, 3))
    np.testing.assert_array_equal(out["bypass"], ref.data)


def test_policy_follows_the_environment_and_the_stack_size(tmp_path, monkeypatch):
    _cube, paths = _stack(tmp_path, n=3, shape=(10, 20))
    src = FramesSource(paths)
    frames = page_cache.source_frames(src)
    assert page_cache.file_bytes(frames) == 3 * 10 * 20 * 4
    monkeypatch.setenv(page_cache.ENV_VAR, "auto")
    assert page_cache.bypass(frames, available=10**9) is False
    assert page_cache.bypass(frames, available=1000) is True
    import psutil

    # MemAvailable as psutil reads it (within what changes between the two reads)
    assert abs(page_cache._available_memory() - psutil.virtual_memory().available) < 2**30
    monkeypatch.setenv(page_cache.ENV_VAR, "use")
    assert page_cache.bypass(frames, available=1000) is False
    monkeypatch.setenv(page_cache.ENV_VAR, "bypass")
    assert page_cache.bypass(frames, available=10**9) is True
    out = page_cache.source_past_cache(src)
    assert all(f.uncached for f in out.frames) and not any(f.uncached for f in src.frames)
    monkeypatch.setenv(page_cache.ENV_VAR, "sometimes")
    with pytest.raises(ValueError, match=page_cache.ENV_VAR):
        page_cache.bypass(frames)


def test_compressed_files_are_not_counted_nor_changed(tmp_path):
    data = np.arange(64 * 64, dtype=np.int32).reshape(64, 64)
    path = str(tmp_path / "c.fits")
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data)]).writeto(path)
    gz = str(tmp_path / "g.fits.gz")
    fits.PrimaryHDU(data).writeto(gz)
    frames = [as_frame(path), as_frame(gz)]
    assert page_cache.file_bytes(frames) == 0
    assert page_cache.bypass(frames, available=0) is False


def test_planner_counts_the_scratch(tmp_path):
    from imcombiners.dask.planner import make_plan

    kw = dict(in_itemsize=4, work_itemsize=4, memory_limit="400MB", threads=2, baseline=100 * 2**20)
    a = make_plan((50, 2000, 2000), **kw)
    b = make_plan((50, 2000, 2000), read_scratch=direct.scratch_bytes(), **kw)
    assert b.tile[0] < a.tile[0]  # the buffer takes room from the tiles
    assert a.predicted_peak <= 400 * 2**20 and b.predicted_peak <= 400 * 2**20
    same_tile = make_plan((50, 2000, 2000), tile=a.tile, read_scratch=direct.scratch_bytes(), **kw)
    assert same_tile.per_task == a.per_task + direct.scratch_bytes()


def test_command_line_local_engine_bypassing_the_cache_writes_the_same_file(tmp_path, monkeypatch, direct_reads):
    from imcombiners.cli import _local
    from imcombiners.cli._check import inspect_inputs
    from imcombiners.cli._engine import combine_to_files

    _cube, paths = _stack(tmp_path, n=6, shape=(128, 900))
    monkeypatch.setattr(_local, "STRIP_INPUT", 6 * 900 * 4 * 32)  # strips of 32 rows: 115 KB per file
    monkeypatch.setattr(_local, "FRAME_READ", 0)
    pixels = {}
    for mode in ("use", "bypass"):
        monkeypatch.setenv(page_cache.ENV_VAR, mode)
        out = tmp_path / f"{mode}.fits"
        outcome = combine_to_files(inspect_inputs(paths), out, method="median", rejectors=[SigClip(3, 3)],
                                   zero=None, scale=None, weights=None, statsec=None, products={}, dtype=None,
                                   memory_limit=None, engine="local")
        assert ("past the page cache" in outcome.plan_summary) is (mode == "bypass")
        pixels[mode] = fits.getdata(out)
    assert len(direct_reads) == 6 * 4  # 4 strips of every file, in the bypass run only
    assert pixels["use"].tobytes() == pixels["bypass"].tobytes()
