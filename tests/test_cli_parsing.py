"""In-process tests of the CLI's argument handling (no engine needed)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from astropy.io import fits

from imcombiners.cli import main
from imcombiners.cli._errors import CLIError
from imcombiners.cli._inputs import expand_inputs
from imcombiners.cli._iraf import parse_iraf_call
from imcombiners.cli._parser import parse_memory, parse_size
from imcombiners.cli._rejection import build_rejectors, parse_factor


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = []
    for i in range(3):
        name = f"f{i}.fits"
        fits.PrimaryHDU(np.full((4, 5), i, np.float32)).writeto(name)
        names.append(name)
    return names


# ---------------------------------------------------------------- input lists


def test_globs_are_sorted_and_lists_keep_order(files, tmp_path):
    assert expand_inputs(["f*.fits"]) == ["f0.fits", "f1.fits", "f2.fits"]
    (tmp_path / "in.lis").write_text("# flats\nf2.fits\n\n  f0.fits  \n")
    assert expand_inputs(["@in.lis"]) == ["f2.fits", "f0.fits"]
    assert expand_inputs(["f1.fits,f0.fits"]) == ["f1.fits", "f0.fits"]


def test_nested_list_with_glob(files, tmp_path):
    (tmp_path / "a.lis").write_text("f1*.fits\n@b.lis\n")
    (tmp_path / "b.lis").write_text("f0.fits\n")
    assert expand_inputs(["@a.lis"]) == ["f1.fits", "f0.fits"]


@pytest.mark.parametrize(
    "token, message",
    [("nope.fits", "input file not found: 'nope.fits'"),
     ("zz*.fits", "no file matches 'zz*.fits'"),
     ("@missing.lis", "list file not found")],
)
def test_missing_inputs_are_named(files, token, message):
    with pytest.raises(CLIError, match=message.replace("*", r"\*")):
        expand_inputs([token])


# ---------------------------------------------------------------- IRAF form


def test_iraf_names_abbreviations_and_booleans():
    call = parse_iraf_call(["@in.lis", "out.fits", "comb=median", "reje=sigclip", "lsig=2.5",
                            "hsigma=4", "mclip-", "lthresh=INDEF", "hthreshold=60000",
                            "nlow=0", "nhigh=2", "sigmas=sig.fits", "logfile="])
    assert call.inputs == ["@in.lis"] and call.output == "out.fits"
    assert call.kwargs == {"combine": "median", "reject": "sigclip", "lsigma": 2.5, "hsigma": 4.0,
                           "mclip": False, "lthreshold": None, "hthreshold": 60000.0,
                           "nlow": 0, "nhigh": 2}
    assert call.products == {"sigmas": "sig.fits"}
    assert call.logfile == ""


def test_iraf_named_input_output_and_file_factors(tmp_path):
    (tmp_path / "scales.txt").write_text("1.0\n2.0 # second\n0.5\n")
    call = parse_iraf_call(["input=a.fits,b.fits", "output=o.fits", f"scale=@{tmp_path}/scales.txt"])
    assert call.inputs == ["a.fits,b.fits"]
    assert call.kwargs["scale"] == [1.0, 2.0, 0.5]


@pytest.mark.parametrize(
    "tokens, message",
    [(["a", "b", "foo=1"], "unknown parameter 'foo'"),
     (["a", "b", "l=1"], "ambiguous parameter 'l'"),
     (["a", "b", "combine=mode"], "combine: expected one of"),
     (["a", "b", "lsigma=three"], "lsigma: expected a number"),
     (["a", "b", "mclip=maybe"], "mclip: expected yes or no"),
     (["a", "b", "imcmb=$K"], "imcmb='\\$K' is not supported"),
     (["a", "b", "project=maybe"], "project: expected yes or no"),
     (["a", "b", "offsets=grid x"], "offsets: grid needs integers"),
     (["a", "b", "masktype=bogus"], "masktype: invalid"),
     (["a", "b", "outtype=bogus"], "outtype: expected"),
     (["a", "b", "lthreshold=10", "hthreshold=1"], "lthreshold .* greater"),
     (["a", "b", "combine=sum", "combine=median"], "given twice"),
     (["a"], "missing output"),
     (["a", "b", "c"], "unexpected argument 'c'")],
)
def test_iraf_errors(tokens, message):
    with pytest.raises(CLIError, match=message):
        parse_iraf_call(tokens)


# ---------------------------------------------------------------- options


def test_rejectors_from_iraf_options():
    from imcombiners import _rejectors as R

    (r,) = build_rejectors("sigclip", {"lsigma": 2.0, "hsigma": 4.0, "mclip": False, "nkeep": -2})
    assert isinstance(r, R.SigClip) and r.sigma == (2.0, 4.0) and r.cenfunc == "mean" and r.nkeep == -2
    (r,) = build_rejectors("crreject", {"rdnoise": 5.0, "gain": 2.0})
    assert isinstance(r, R.CcdClip) and r.high_only and r.rdnoise == 5.0 and r.gain == 2.0
    (r,) = build_rejectors("minmax", {"nlow": 0, "nhigh": 2})
    assert isinstance(r, R.MinMaxClip) and (r.n_min, r.n_max) == (0, 2)
    assert build_rejectors("none", {}) == []
    with pytest.raises(CLIError, match="sigma"):
        build_rejectors("sigclip", {"lsigma": -1.0})


def test_factors(tmp_path):
    assert parse_factor("--scale", "none", 3) is None
    assert parse_factor("--scale", "Median", 3) == "median"
    assert parse_factor("--scale", "1,2,4", 3) == [1.0, 2.0, 4.0]
    (tmp_path / "z.txt").write_text("1\n2\n3\n")
    assert parse_factor("--zero", f"@{tmp_path}/z.txt", 3) == [1.0, 2.0, 3.0]
    with pytest.raises(CLIError, match="2 values given for 3 input images"):
        parse_factor("--scale", "1,2", 3)
    with pytest.raises(CLIError, match="--weight: expected"):
        parse_factor("--weight", "bogus", 3)


def test_factors_from_headers(tmp_path):
    paths = []
    for i, t in enumerate((10.0, 20.0, 5.0)):
        hdr = fits.Header({"EXPTIME": t, "SKYLEV": 100.0 + i})
        path = tmp_path / f"h{i}.fits"
        fits.PrimaryHDU(np.zeros((2, 2), np.float32), header=hdr).writeto(path)
        paths.append(str(path))
    hdus = [0, 0, 0]
    assert parse_factor("--scale", "exposure", 3, paths=paths, hdus=hdus) == [1.0, 2.0, 0.5]
    assert parse_factor("--weight", "exposure", 3, paths=paths, hdus=hdus) == [10.0, 20.0, 5.0]
    assert parse_factor("--zero", "!skylev", 3, paths=paths, hdus=hdus) == [100.0, 101.0, 102.0]
    with pytest.raises(CLIError, match="no numeric NOPE keyword"):
        parse_factor("--zero", "!NOPE", 3, paths=paths, hdus=hdus)


@pytest.mark.parametrize("text", ["2GB", "512MiB", "1e9", "1.5 GB", "100", "4kB", "4k", "4KiB", "4ki", "MB",
                                  "3 mb", "7TB", "0.5GiB", "10B", "lots", "2XB", "GB2", "", "1e", "-1GB"])
def test_sizes_read_as_dask_reads_them(text):
    # the command line parses sizes without importing Dask: same grammar as the library's
    from dask.utils import parse_bytes as dask_parse

    from imcombiners.cli._sizes import parse_bytes

    try:
        expected = dask_parse(text)
    except ValueError:
        with pytest.raises(ValueError):
            parse_bytes(text)
        return
    assert parse_bytes(text) == expected


def test_sizes_and_memory():
    assert parse_size("512") == (512, 512)
    assert parse_size("128x256") == (128, 256)
    assert parse_memory("2GB") == 2_000_000_000
    assert parse_memory("512MiB") == 512 * 2**20
    for bad in ("lots", "-1GB"):
        with pytest.raises(CLIError, match="--memory-limit"):
            parse_memory(bad)
    with pytest.raises(CLIError, match="--size"):
        parse_size("big")


# ---------------------------------------------------------------- main(): messages, status


def _run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    "argv, message",
    [(["combine", "nope.fits", "-o", "m.fits"], "input file not found: 'nope.fits'"),
     (["combine", "f0.fits", "-o", "m.fits", "--method", "mode"], "invalid choice: 'mode'"),
     (["combine", "f0.fits", "-o", "m.fits", "--bogus"], "unrecognized arguments: --bogus"),
     (["combine", "f0.fits", "-o", "m.fits", "--memory-limit", "lots"], "--memory-limit"),
     (["combine", "f0.fits", "f1.fits"], "required: -o/--output"),
     (["imcombine", "f*.fits", "m.fits", "sigmax=3"], "unknown parameter 'sigmax'"),
     (["demo", "--size", "huge"], "--size")],
)
def test_bad_input_one_line_status_2(files, capsys, argv, message):
    status, out, err = _run(capsys, *argv)
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"imcombiners {argv[0]}: error: ")
    assert message in lines[0]


def test_shape_mismatch_and_dtype(files, capsys):
    fits.PrimaryHDU(np.zeros((4, 6), np.float32)).writeto("wide.fits")
    fits.PrimaryHDU(np.zeros((4, 5), np.int64)).writeto("i64.fits")
    status, _, err = _run(capsys, "combine", "f0.fits", "wide.fits", "-o", "m.fits")
    assert status == 2 and "has shape (4, 6), expected (4, 5)" in err and len(err.splitlines()) == 1
    status, _, err = _run(capsys, "combine", "f0.fits", "i64.fits", "-o", "m.fits")
    assert status == 2 and "unsupported pixel type int64" in err and len(err.splitlines()) == 1


def test_existing_output_needs_overwrite(files, capsys):
    status, _, err = _run(capsys, "combine", "f1.fits", "f2.fits", "-o", "f0.fits")
    assert status == 2 and "exists (use --overwrite" in err


def test_output_that_is_an_input_is_refused_even_with_overwrite(files, capsys):
    before = open("f0.fits", "rb").read()
    for extra in ([], ["--overwrite"]):
        status, _, err = _run(capsys, "combine", "f*.fits", "-o", "./f0.fits", *extra)
        assert status == 2 and "'./f0.fits' is one of the inputs" in err and len(err.splitlines()) == 1
        status, _, err = _run(capsys, "imcombine", "f*.fits", "m.fits", "sigmas=f1.fits", *extra)
        assert status == 2 and "sigmas= 'f1.fits' is one of the inputs" in err
    assert open("f0.fits", "rb").read() == before and not os.path.exists("m.fits")


def test_help_reads_like_a_man_page(capsys):
    status, out, _ = _run(capsys, "--help")
    assert status == 0
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "EXAMPLES"):
        assert f"\n{section}\n" in "\n" + out
    for cmd in ("combine", "imcombine", "plan", "demo"):
        status, out, _ = _run(capsys, cmd, "--help")
        assert status == 0 and "NAME" in out and "SYNOPSIS" in out and f"imcombiners {cmd}" in out


def test_version(capsys):
    status, out, _ = _run(capsys, "--version")
    assert status == 0 and out.startswith("imcombiners ")
