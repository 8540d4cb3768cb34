"""Inputs and outputs on disk: bad files, mismatched inputs, many inputs, unwritable outputs.

Every bad input must end in a clear error naming the file (or the frame) within a
timeout, never a hang, a traceback of an internal error (KeyError, ZeroDivisionError)
or a partial output under the final name.  The table in docs/reliability.md lists
each case with the test below that proves it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from tests.helpers import reference as ref
from tests.helpers.child import (assert_clean_exit, child_env, cli_command, readonly_is_enforced,
                                 run_python, shared_tmpdir, unprivileged)
from tests.helpers.twin import require_package

require_package()

import imcombiners as imc  # noqa: E402
import imcombiners.dask as imd  # noqa: E402

SHAPE = (16, 12)

# astropy warns about the damaged files on its way to the error we check
pytestmark = [pytest.mark.filterwarnings("ignore:File may have been truncated"),
              pytest.mark.filterwarnings("ignore::astropy.io.fits.verify.VerifyWarning")]


def _write_bad_files(d: Path) -> dict[str, Path]:
    """Good frames g0..g2 and one file per kind of damage."""
    rng = np.random.default_rng(7)
    for i in range(3):
        fits.PrimaryHDU(rng.normal(100, 5, SHAPE).astype(np.float32)).writeto(d / f"g{i}.fits")
    good = (d / "g0.fits").read_bytes()
    bad: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        bad[name] = d / f"{name}.fits"
        bad[name].write_bytes(data)

    put("truncated_data", good[: 2880 + 100])
    put("truncated_header", good[:1000])
    put("empty", b"")
    put("garbage", bytes(rng.integers(0, 256, 5760, dtype=np.uint8)))
    put("text", b"hello world\n" * 100)
    put("bad_bitpix", good.replace(b"BITPIX  =                  -32", b"BITPIX  =                  -17"))
    put("negative_naxis", good.replace(b"NAXIS1  =                   12", b"NAXIS1  =                  -12"))
    put("huge_naxis", good.replace(b"NAXIS1  =                   12", b"NAXIS1  =           1200000000"))
    comp = d / "comp_ok.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(rng.normal(100, 5, SHAPE).astype(np.float32))]).writeto(comp)
    raw = comp.read_bytes()
    put("compressed_truncated", raw[: len(raw) - 2880])
    fits.PrimaryHDU().writeto(d / "no_data.fits")
    bad["no_data"] = d / "no_data.fits"
    fits.PrimaryHDU(np.zeros((SHAPE[0], SHAPE[1] + 1), np.float32)).writeto(d / "other_shape.fits")
    bad["other_shape"] = d / "other_shape.fits"
    fits.PrimaryHDU(np.zeros((2, *SHAPE), np.float32)).writeto(d / "cube.fits")
    bad["cube"] = d / "cube.fits"
    bad["missing"] = d / "missing.fits"
    return bad


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("badfits")
    bad = _write_bad_files(d)
    good = [d / f"g{i}.fits" for i in range(3)]
    return d, good, bad


BAD_KINDS = ["truncated_data", "truncated_header", "empty", "garbage", "text", "bad_bitpix", "negative_naxis",
             "huge_naxis", "compressed_truncated", "no_data", "other_shape", "cube", "missing"]


def _check_named(exc: BaseException, path: Path, index: int = 3) -> None:
    """A file error names the file; a shape mismatch may name the frame's index instead."""
    assert isinstance(exc, (OSError, ValueError, TypeError)), f"{type(exc).__name__}: {exc}"
    assert path.name in str(exc) or f"frame {index} has shape" in str(exc), \
        f"the message names neither the file nor the frame: {exc}"


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_fits_out_of_core(files, kind):
    d, good, bad = files
    with pytest.raises(Exception) as info:
        imd.combine([str(p) for p in good] + [str(bad[kind])], "median").compute()
    _check_named(info.value, bad[kind])


@pytest.mark.parametrize("kind", [k for k in BAD_KINDS if k != "other_shape"])
def test_bad_fits_imcombine(files, kind):
    d, good, bad = files
    with pytest.raises(Exception) as info:
        imc.imcombine([str(p) for p in good] + [str(bad[kind])])
    _check_named(info.value, bad[kind])


def test_imcombine_places_an_image_of_another_size(files):
    """IRAF combines images of different sizes (same number of axes): the output covers
    them all (a cube among images stays refused, above)."""
    d, good, bad = files
    res = imc.imcombine([str(p) for p in good] + [str(bad["other_shape"])])
    assert res.output.shape == (SHAPE[0], SHAPE[1] + 1)


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_fits_cli_one_line_no_output(files, kind, tmp_path):
    d, good, bad = files
    out = tmp_path / "out.fits"
    proc = subprocess.run(cli_command("combine", *map(str, good), str(bad[kind]), "-o", str(out), "--quiet"),
                          capture_output=True, text=True, timeout=120, env=child_env())
    assert proc.returncode == 2, f"exit {proc.returncode}: {proc.stderr}"
    # one error line (astropy may print its own "WARNING: ..." lines before it), no traceback
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("imcombiners combine: error:") and "Traceback" not in proc.stderr, proc.stderr
    assert bad[kind].name in last
    assert os.listdir(tmp_path) == []  # no output, no temporary left


def test_int64_fits_is_refused_like_int64_arrays(files, tmp_path):
    """API.md: int64 is refused ("cast explicitly"); the CLI and imcombine do so for FITS."""
    p = tmp_path / "i64.fits"
    fits.PrimaryHDU(np.full(SHAPE, 2**53 + 1, np.int64)).writeto(p)
    d, good, bad = files
    with pytest.raises(TypeError, match="int64"):
        imc.imcombine([str(p), str(p)])
    proc = subprocess.run(cli_command("combine", str(p), str(p), "-o", str(tmp_path / "o.fits")),
                          capture_output=True, text=True, timeout=120, env=child_env())
    assert proc.returncode == 2 and "int64" in proc.stderr


def test_int64_fits_out_of_core_is_refused(tmp_path):
    p = tmp_path / "i64.fits"
    fits.PrimaryHDU(np.full(SHAPE, 2**53 + 1, np.int64)).writeto(p)
    with pytest.raises(TypeError, match="int64"):
        imd.combine([str(p), str(p)], "mean").compute()


# --------------------------------------------------------------------------- mismatched inputs


def test_mismatched_shapes_name_the_frame():
    a, b = np.zeros((4, 5), np.float32), np.zeros((4, 6), np.float32)
    # (imcombine places images of different sizes, as IRAF: tests/test_iraf_geometry.py)
    for call in (lambda: imc.Combiner([a, a, b]), lambda: imc.ndcombine([a, b]), lambda: imc.kernels.median([a, b])):
        with pytest.raises(ValueError, match=r"frame 1 has shape \(4, 6\)|frame 2 has shape \(4, 6\)"):
            call()
    with pytest.raises(ValueError, match="different shapes"):
        imd.combine([a, a, b])
    with pytest.raises(ValueError, match="mask"):
        imc.Combiner(np.zeros((3, 4, 5)), np.zeros((3, 4, 4), bool))
    with pytest.raises(ValueError, match="mask"):
        imd.combine(np.zeros((3, 4, 5), np.float32), mask=np.zeros((3, 4, 4), bool))


@pytest.mark.parametrize("dtypes,workspace", [
    (("int16", "float32"), np.float32),
    (("uint16", "int16"), np.float64),    # result_type int32 -> float64 workspace
    (("uint8", "uint16"), np.float32),
    (("int32", "float32"), np.float64),
    (("uint8", "float64"), np.float64),
    ((">i2", "<f4"), np.float32),         # byte orders mixed too
])
def test_mixed_dtypes_promote_like_numpy(dtypes, workspace):
    rng = np.random.default_rng(8)
    frames = [np.round(rng.uniform(0, 200, (3, 4))).astype(dtypes[i % 2]) for i in range(5)]
    got = imc.Combiner(frames).combine("mean", rejectors=imc.SigClip(sigma=2.0))
    assert got.dtype == workspace
    common = np.result_type(*frames).newbyteorder("=")
    stack = np.stack([f.astype(common) for f in frames])
    with np.errstate(over="ignore"):
        want = ref.combine(stack, rejectors=[ref.SigClip(sigma=2.0)]).data.astype(workspace)
    np.testing.assert_allclose(got, want, rtol=2e-6)
    np.testing.assert_array_equal(imd.combine(frames, "mean", rejectors=imc.SigClip(sigma=2.0)).compute().data, got)


def test_mixed_dtypes_with_an_unsupported_frame_name_it():
    with pytest.raises(TypeError, match=r"stack\[1\] has dtype int64"):
        imc.Combiner([np.zeros((2, 2), np.int16), np.zeros((2, 2), np.int64)])
    with pytest.raises(TypeError, match=r"images\[1\] has dtype float16"):
        imc.imcombine([np.zeros((2, 2), np.int16), np.zeros((2, 2), np.float16)])


def test_mixed_dtype_fits_files_out_of_core_and_cli(tmp_path):
    rng = np.random.default_rng(9)
    arrays = [np.round(rng.uniform(0, 1000, SHAPE)).astype(t) for t in ("int16", "float32", "uint16", "float64")]
    paths = []
    for i, a in enumerate(arrays):
        p = tmp_path / f"m{i}.fits"
        fits.PrimaryHDU(a).writeto(p)
        paths.append(str(p))
    want = imc.Combiner(arrays).combine("median")
    np.testing.assert_array_equal(imd.combine(paths, "median").compute().data, want)
    out = tmp_path / "out.fits"
    proc = subprocess.run(cli_command("combine", *paths, "-o", str(out), "--method", "median", "--quiet"),
                          capture_output=True, text=True, timeout=120, env=child_env())
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(fits.getdata(out), want)


# --------------------------------------------------------------------------- zero-size axes


@pytest.mark.parametrize("shape", [(3, 0, 5), (3, 5, 0), (3, 0)])
def test_zero_size_spatial_axes(shape):
    x = np.zeros(shape, np.float32)
    # in memory: an empty result of the right shape and dtype (every mode)
    res = imc.Combiner(x).combine("median", rejectors=imc.SigClip(grow=1), diagnostics="full")
    assert res.data.shape == shape[1:] and res.data.dtype == np.float32 and res.mask.shape == shape
    assert imc.ndcombine(x, reject="minmax").shape == shape[1:]
    assert imc.kernels.sigclip(x)[0].shape == shape
    assert imc.imcombine(x, reject="sigclip").output.shape == shape[1:]
    # out of core: a clear error naming the input shape
    with pytest.raises(ValueError, match=r"inputs.*non-empty.*" + r"\(" + ", ".join(map(str, shape))):
        imd.combine(x, "median")


def test_no_frames():
    for empty in (np.zeros((0, 4, 4), np.float32), []):
        for call in (imc.Combiner, imc.ndcombine, imc.imcombine, imc.kernels.mean):
            with pytest.raises(ValueError, match="at least one frame"):
                call(empty)
    with pytest.raises(ValueError, match=r"at least one frame.*\(0, 4, 4\)"):
        imd.combine(np.zeros((0, 4, 4), np.float32))


# --------------------------------------------------------------------------- many inputs


def test_ten_thousand_frames_in_memory():
    frames = [np.full((3, 4), i, np.float32) for i in range(10_000)]
    med = np.float32(4999.5)
    assert (imc.Combiner(frames).combine("median", rejectors=imc.SigClip()) == med).all()
    assert (imc.imcombine(frames, combine="median", reject="sigclip").output == med).all()
    assert (imd.combine(frames, "median").compute().data == med).all()


def test_more_frames_than_the_kernel_counts_is_a_clear_error():
    frames = [np.broadcast_to(np.uint8(1), (2, 2))] * 70_000  # no memory behind them
    with pytest.raises(ValueError, match="65535"):
        imc.Combiner(frames).combine("mean")
    with pytest.raises(ValueError, match="6553"):
        imc.imcombine(frames)


def _write_tiny_fits(d: Path, count: int) -> list[str]:
    """``count`` 3x4 float32 FITS files written directly (astropy would take minutes)."""
    hdr = fits.Header([("SIMPLE", True), ("BITPIX", -32), ("NAXIS", 2), ("NAXIS1", 4), ("NAXIS2", 3)])
    head = hdr.tostring().encode()
    paths = []
    for i in range(count):
        data = np.full((3, 4), i, ">f4").tobytes()
        p = d / f"f{i:05d}.fits"
        p.write_bytes(head + data + b"\0" * (2880 - len(data)))
        paths.append(str(p))
    return paths


def test_ten_thousand_fits_files_under_a_small_descriptor_limit(tmp_path):
    paths = _write_tiny_fits(tmp_path, 10_000)
    (tmp_path / "list.txt").write_text("\n".join(paths))
    proc = run_python(
        """
        import resource, sys
        import numpy as np
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))  # far fewer than the inputs
        import imcombiners.dask as imd
        paths = open(sys.argv[1]).read().split()
        out = imd.combine(paths, "median").compute().data
        assert out.shape == (3, 4) and (out == 4999.5).all(), out
        print("ok")
        """, args=[str(tmp_path / "list.txt")], timeout=150)
    assert_clean_exit(proc, "10 000 FITS inputs")


def test_two_thousand_fits_files_cli_list(tmp_path):
    paths = _write_tiny_fits(tmp_path, 2_000)
    (tmp_path / "in.lis").write_text("\n".join(paths) + "\n")
    out = tmp_path / "out.fits"
    proc = subprocess.run(cli_command("combine", f"@{tmp_path / 'in.lis'}", "-o", str(out), "--method", "mean",
                                      "--quiet"), capture_output=True, text=True, timeout=150, env=child_env())
    assert proc.returncode == 0, proc.stderr
    assert (fits.getdata(out) == np.float32(999.5)).all()
    assert fits.getheader(out)["NCOMBINE"] == 2000


# --------------------------------------------------------------------------- unwritable outputs


@pytest.fixture
def readonly_dir():
    d = shared_tmpdir()
    rng = np.random.default_rng(10)
    for i in range(3):
        fits.PrimaryHDU(rng.normal(100, 5, SHAPE).astype(np.float32)).writeto(d / f"in{i}.fits")
    ro = d / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if not readonly_is_enforced(ro):
        shutil.rmtree(d)
        pytest.skip("cannot make a directory read-only for a child process here")
    yield d, ro
    ro.chmod(0o755)
    shutil.rmtree(d)


def test_cli_into_a_readonly_directory(readonly_dir):
    d, ro = readonly_dir
    inputs = [str(d / f"in{i}.fits") for i in range(3)]
    proc = subprocess.run(cli_command("combine", *inputs, "-o", str(ro / "out.fits"), "--quiet"),
                          capture_output=True, text=True, timeout=120, env=child_env(HOME=str(d)),
                          preexec_fn=unprivileged())
    assert proc.returncode in (1, 2), proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Permission denied" in lines[0] and "ro" in lines[0], proc.stderr
    assert os.listdir(ro) == []


def test_to_fits_into_a_readonly_directory(readonly_dir):
    d, ro = readonly_dir
    proc = run_python(
        """
        import sys, glob
        import imcombiners.dask as imd
        d, ro = sys.argv[1], sys.argv[2]
        lazy = imd.combine(sorted(glob.glob(d + "/in*.fits")), "mean")
        try:
            lazy.to_fits(ro + "/out.fits")
        except PermissionError as exc:
            assert ro in str(exc), exc
            print("refused")
        """, args=[str(d), str(ro)], env=child_env(HOME=str(d)), preexec_fn=unprivileged())
    assert_clean_exit(proc, "to_fits into a read-only directory")
    assert proc.stdout.strip() == "refused" and os.listdir(ro) == []


def test_output_path_is_a_readonly_directory(readonly_dir, tmp_path):
    """A directory where the output file should go is refused, even with --overwrite,
    and left untouched (it used to be deleted recursively and replaced by the file)."""
    d, ro = readonly_dir
    victim = tmp_path / "victim.fits"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    victim.chmod(0o555)
    inputs = [str(d / f"in{i}.fits") for i in range(3)]
    try:
        proc = subprocess.run(cli_command("combine", *inputs, "-o", str(victim), "--overwrite", "--quiet"),
                              capture_output=True, text=True, timeout=120, env=child_env())
        assert proc.returncode != 0 and "directory" in proc.stderr, proc.stderr
        assert (victim / "keep.txt").read_text() == "precious"
        with pytest.raises(IsADirectoryError):
            imd.combine(inputs, "mean").to_fits(victim, overwrite=True)
        assert (victim / "keep.txt").read_text() == "precious"
        assert sorted(os.listdir(tmp_path)) == ["victim.fits"]  # no temporary left behind
    finally:
        victim.chmod(0o755)


def test_missing_output_directory(files, tmp_path):
    d, good, bad = files
    proc = subprocess.run(cli_command("combine", *map(str, good), "-o", str(tmp_path / "nope" / "out.fits")),
                          capture_output=True, text=True, timeout=120, env=child_env())
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    with pytest.raises(FileNotFoundError):
        imd.combine([str(p) for p in good], "mean").to_fits(tmp_path / "nope" / "out.fits")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kind", ["plain", "uncached", "tile-compressed"])
def test_a_file_replaced_under_the_same_name_is_read_anew(tmp_path, kind):
    """An output written again under its name (a new file, renamed into place) and read
    again in the same process: the new pixels, not those of a descriptor kept open."""
    from imcombiners.io.fits import probe

    path = str(tmp_path / "master.fits")

    def write(value: float) -> None:
        data = np.full((300, 300), value, np.float32)
        hdul = (fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data)]) if kind == "tile-compressed"
                else fits.HDUList([fits.PrimaryHDU(data)]))
        hdul.writeto(path + ".tmp", overwrite=True)
        os.replace(path + ".tmp", path)  # as atomic outputs are written

    for value in (1.0, 2.0, 3.0):
        write(value)
        frame = probe(path).with_uncached(kind == "uncached")
        assert np.all(frame.read() == value), value
        assert imc.Combiner([path, path]).combine("mean")[0, 0] == value
