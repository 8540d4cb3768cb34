"""The command line as a new user meets it: outputs, warnings, hints, failures, previews.

* every output path is checked before any work (inputs are never overwritten, even with
  --overwrite; outputs given twice, missing directories);
* temporary ``.part`` names never appear in messages; I/O failures exit 1;
* Ctrl-C leaves no empty folder behind;
* options that do nothing for the chosen method give one warning line each;
* a list file given without ``@`` gets a hint;
* ``combine=minimum|maximum`` in the IRAF form;
* ``--preview`` of raw integer frames is a grey zscale image with axes and colour bars;
* ``--memory-limit`` holds with every diagnostic product.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits

from imcombiners.cli import main
from tests.helpers import fits_quirks as q


def _run(capsys, *argv) -> tuple[int, str, str]:
    status = main(list(argv))
    cap = capsys.readouterr()
    return status, cap.out, cap.err


@pytest.fixture
def raw(tmp_path, monkeypatch):
    """Five uint16 raw frames (BZERO=32768) in a fresh working directory."""
    monkeypatch.chdir(tmp_path)
    st = q.bias_stack(5, (40, 48), dtype=np.uint16, level=1200)
    return q.single_hdu(".", st, prefix="raw"), st


# ---------------------------------------------------------------------------- outputs


def test_outputs_checked_before_work(raw, capsys):
    paths, _ = raw
    before = {p: open(p, "rb").read() for p in paths}
    cases = [
        (["combine", *paths, "-o", "m.fits", "--preview", paths[2], "-f"], "--preview"),
        (["combine", *paths, "-o", "m.fits", "--diagnostics", ".", "--products", "nrej",
          "--preview", "nrej.fits"], "also given"),
        (["combine", *paths, "-o", "nope/m.fits"], "output directory does not exist"),
        (["combine", *paths, "-o", "."], "is a directory"),
        (["imcombine", ",".join(paths), "m.fits", f"rejmasks={paths[0]}", "-f"], "rejmasks="),
        (["imcombine", ",".join(paths), "m.fits", "sigmas=s.fits", "nrejmasks=s.fits"], "also given"),
        (["imcombine", ",".join(paths), "m.fits", f"logfile={paths[1]}"], "logfile="),
    ]
    for argv, text in cases:
        status, _, err = _run(capsys, *argv)
        assert status == 2 and text in err and len(err.strip().splitlines()) == 1, (argv, err)
    assert {p: open(p, "rb").read() for p in paths} == before
    assert sorted(os.listdir(".")) == sorted(os.path.basename(p) for p in paths)


def test_io_failure_exits_1_without_temporary_names(raw, capsys, monkeypatch):
    paths, _ = raw
    import imcombiners.io.fits.outputs as sinks  # where every engine creates its FITS files

    real = sinks.create_fits

    def full_disk(path, specs):
        real(path, specs)
        raise OSError(28, "No space left on device", path)

    monkeypatch.setattr(sinks, "create_fits", full_disk)
    status, _, err = _run(capsys, "combine", *paths, "-o", "m.fits", "--diagnostics", "d",
                          "--products", "nrej")
    assert status == 1, err
    assert "No space left on device" in err and "m.fits" in err and ".part" not in err, err
    assert len(err.strip().splitlines()) == 1
    # nothing half-written, and the diagnostics folder the run created is gone
    assert sorted(os.listdir(".")) == sorted(os.path.basename(p) for p in paths)


def test_interrupt_leaves_no_empty_folders(raw, capsys, monkeypatch):
    paths, _ = raw
    import imcombiners.io.fits.outputs as sinks  # where every engine creates its FITS files

    real = sinks.create_fits

    def interrupted(*a, **k):
        if a:
            real(*a, **k)  # a temporary output exists when Ctrl-C arrives
        raise KeyboardInterrupt

    monkeypatch.setattr(sinks, "create_fits", interrupted)
    status, _, err = _run(capsys, "combine", *paths, "-o", "m.fits", "--diagnostics", "new/deeper",
                          "--products", "nrej,mask")
    assert status == 130 and "interrupted" in err
    assert not os.path.exists("new") and not os.path.exists("m.fits")
    os.mkdir("kept")  # a folder that existed before the run stays
    status, _, _ = _run(capsys, "combine", *paths, "-o", "m.fits", "--diagnostics", "kept",
                        "--products", "nrej")
    assert status == 130 and os.path.isdir("kept") and os.listdir("kept") == []

    import imcombiners.demo as demo

    def ctrl_c(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "simulate_frames", ctrl_c)
    status, _, _ = _run(capsys, "demo", "--dir", "demo_out/run1", "--frames", "6", "--size", "32")
    assert status == 130 and not os.path.exists("demo_out")


# ---------------------------------------------------------------------------- warnings, hints


def test_options_that_do_nothing_warn_once(raw, capsys):
    paths, _ = raw
    status, _, err = _run(capsys, "combine", *paths, "-o", "a.fits", "--lsigma", "2.5", "--nlow", "2")
    assert status == 0
    lines = [ln for ln in err.splitlines() if "warning" in ln]
    assert len(lines) == 2 and "--lsigma does nothing with no --reject" in lines[0], err
    assert "--nlow" in lines[1] and "minmax" in lines[1]
    status, _, err = _run(capsys, "combine", *paths, "-o", "b.fits", "--reject", "sigclip",
                          "--rdnoise", "4", "--lsigma", "2.5", "--products", "nrej")
    lines = [ln for ln in err.splitlines() if "warning" in ln]
    assert status == 0 and len(lines) == 2, err
    assert "--rdnoise does nothing with --reject sigclip" in lines[0]
    assert "--products does nothing without --diagnostics" in lines[1]
    status, _, err = _run(capsys, "combine", *paths, "-o", "c.fits", "--reject", "ccdclip",
                          "--rdnoise", "4", "--gain", "1.5")
    assert status == 0 and "warning" not in err, err
    status, _, err = _run(capsys, "imcombine", ",".join(paths), "d.fits", "reject=sigclip",
                          "rdnoise=4", "lsigma=2", "logfile=")
    lines = [ln for ln in err.splitlines() if "warning" in ln]
    assert status == 0 and len(lines) == 1 and "rdnoise does nothing with reject=sigclip" in lines[0], err


def test_list_given_without_at_gets_a_hint(raw, capsys):
    paths, _ = raw
    with open("bias.lis", "w") as fh:
        fh.write("# biases\n" + "\n".join(paths) + "\n")
    for argv in (["combine", "bias.lis", "-o", "m.fits"], ["imcombine", "bias.lis", "m.fits"]):
        status, _, err = _run(capsys, *argv)
        assert status == 2 and "@bias.lis" in err and len(err.strip().splitlines()) == 1, err
    status, _, err = _run(capsys, "combine", "@bias.lis", "-o", "m.fits", "-q")
    assert status == 0, err


def test_imcombine_minimum_maximum(raw, capsys):
    paths, st = raw
    status, out, _ = _run(capsys, "imcombine", "--help")
    assert "minimum" in out and "maximum" in out
    for name, ref in (("minimum", st.min(axis=0)), ("maximum", st.max(axis=0))):
        status, _, err = _run(capsys, "imcombine", ",".join(paths), f"{name}.fits", f"combine={name}",
                              "logfile=")
        assert status == 0, err
        np.testing.assert_array_equal(fits.getdata(f"{name}.fits"), ref.astype(np.float32))
    status, _, err = _run(capsys, "imcombine", ",".join(paths), "x.fits", "combine=minimum",
                          "reject=sigclip")
    assert status == 2 and "reject=minmax" in err
    status, _, err = _run(capsys, "imcombine", ",".join(paths), "x.fits", "combine=median_of_all")
    assert status == 2 and "combine" in err


# ---------------------------------------------------------------------------- preview


def test_preview_of_raw_integer_frames_is_grey(raw, capsys):
    from PIL import Image

    paths, _ = raw
    status, _, err = _run(capsys, "combine", *paths, "-o", "m.fits", "--preview", "p.png", "-q")
    assert status == 0, err
    with Image.open("p.png") as im:
        rgb = np.asarray(im.convert("RGB")).astype(int)
    h, w, _ = rgb.shape
    first = rgb[h // 4: 3 * h // 4, w // 30: w // 3 - w // 12]  # the first panel's image area
    grey = (first[..., 0] == first[..., 1]) & (first[..., 1] == first[..., 2])
    assert grey.mean() > 0.97  # grey levels (a zscale image), not a colour map
    levels = first[..., 0][grey]
    assert np.unique(levels).size > 20 and levels.std() > 20  # a readable stretch, not a flat field
    last = rgb[h // 4: 3 * h // 4, 2 * w // 3 + w // 30: w - w // 12]
    assert ((last[..., 0] != last[..., 2]).mean()) > 0.3  # the count map keeps its colours


# ---------------------------------------------------------------------------- memory


CHILD = """
import json, sys
from imcombiners.cli import main
status = main(sys.argv[1:])
with open("/proc/self/status") as f:
    hwm = [int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:")]
print(json.dumps({"status": status, "peak": hwm[0] if hwm else None}))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc (Linux)")
def test_memory_limit_holds_with_every_product(tmp_path):
    """A 24 x 1536 x 2048 uint16 stack (144 MiB) and its 72 MiB mask product, limit 150 MB."""
    from imcombiners.io.fits import HduSpec, create_fits

    n, ny, nx = 24, 1536, 2048
    rng = np.random.default_rng(5)
    base = rng.integers(900, 1100, (ny, nx)).astype(np.uint16)
    paths = []
    for i in range(n):
        p = str(tmp_path / f"f{i:02d}.fits")
        target = create_fits(p, [HduSpec("PRIMARY", (ny, nx), np.uint16)])["PRIMARY"]
        target[:] = base + np.uint16(i)
        paths.append(p)
    argv = [*paths, "-o", str(tmp_path / "m.fits"), "--memory-limit", "150MB", "--reject", "sigclip",
            "--diagnostics", str(tmp_path / "d"), "--products", "nrej,nused,std,flags,low,upp,nit,mask",
            "-q"]
    proc = subprocess.run([sys.executable, "-c", CHILD, "combine", *argv], capture_output=True,
                          text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["status"] == 0
    assert res["peak"] < 150e6, f"peak RSS {res['peak'] / 2**20:.0f} MiB over the 150 MB limit"
    mask = fits.getdata(tmp_path / "d" / "mask.fits", memmap=True)
    assert mask.shape == (n, ny, nx) and mask.dtype == np.uint8
