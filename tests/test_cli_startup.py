"""What the console script imports: start-up cannot silently regress.

Each command runs as a real process under ``python -X importtime`` (the list it prints is
every module the process imported, in any way); the test asserts which heavy libraries
are absent. Timings are measured in benchmarks/, never here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: Heavy libraries no command needs before it knows it needs them.
OUT_OF_CORE = {"dask", "distributed", "xarray", "pandas", "zarr"}
PLOTTING = {"matplotlib", "PIL"}
#: What printing the version or the help pages needs none of.
START_UP = OUT_OF_CORE | PLOTTING | {"numpy", "astropy", "psutil", "tqdm", "imcombiners._core"}


def imported_modules(*args: str, cwd: Path | None = None) -> tuple[set[str], subprocess.CompletedProcess]:
    """Run ``python -X importtime -m imcombiners.cli ARGS``; the modules it imported."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "imcombiners.cli", *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":  # the header line
                names.add(name)
    return names, proc


def heavy(names: set[str], libraries: set[str]) -> list[str]:
    """The modules of ``names`` that belong to one of ``libraries`` (a package or a module)."""
    return sorted(n for n in names if n in libraries or n.split(".")[0] in libraries)


def test_the_import_list_is_seen():
    # the checks below would pass on an empty list: the CLI's own modules must be in it
    names, proc = imported_modules("--version")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {"imcombiners", "imcombiners.cli._main", "argparse"} <= names


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["combine", "--help"],
                                  ["imcombine", "--help"]], ids=" ".join)
def test_version_and_help_import_nothing_heavy(args):
    names, proc = imported_modules(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert heavy(names, START_UP) == []
    if args == ["--version"]:
        assert proc.stdout.startswith("imcombiners ")


def test_a_usage_error_imports_nothing_heavy(tmp_path):
    names, proc = imported_modules("combine", "--method", "nosuch", "a.fits", "-o", "b.fits", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--method" in proc.stderr or "method" in proc.stderr
    assert heavy(names, START_UP) == []


def _u16_frames(folder: Path, n: int = 5, shape: tuple[int, int] = (40, 30)) -> list[str]:
    import numpy as np
    from astropy.io import fits

    rng = np.random.default_rng(3)
    names = []
    for i in range(n):
        p = folder / f"b{i}.fits"
        fits.PrimaryHDU(rng.integers(900, 1100, shape).astype(np.uint16)).writeto(p)
        names.append(p.name)
    return names


@pytest.mark.parametrize("extra", [[], ["--reject", "sigclip", "--ddof", "1", "--diagnostics", "d",
                                        "--products", "nrej,std", "--memory-limit", "1GB"]],
                         ids=["median", "sigclip-products-limit"])
def test_a_local_combine_imports_no_out_of_core_engine(tmp_path, extra):
    names = _u16_frames(tmp_path)
    found, proc = imported_modules("combine", *names, "-o", "m.fits", "-q", *extra, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "m.fits").exists()
    assert "imcombiners._core" in found  # it did combine
    # plain headers are copied without astropy (imcombiners.io.fits.cardtext)
    assert heavy(found, OUT_OF_CORE | PLOTTING | {"astropy"}) == []


#: What a small in-memory combine (one strip, read while the run is prepared) does not
#: use: the in-memory loader and IRAF's memory maps, the rejectors it was not asked for
#: (sigclip defines SigClip alone),
#: thread pools (concurrent.futures, which also loads logging), uuid.
SMALL_JOB_UNUSED = {"imcombiners.io.fits.stack", "imcombiners.io.fits.mapped", "imcombiners._rejectors_modern",
                    "imcombiners._rejectors_extra",
                    "imcombiners.dask", "concurrent.futures", "logging", "uuid"}

#: The two small local jobs the import-set tests run: a median, and a sigma clip.
SMALL_JOBS = pytest.mark.parametrize(
    "extra", [["--method", "median"], ["--method", "mean", "--reject", "sigclip", "--ddof", "1"]],
    ids=["median", "sigclip"])


@SMALL_JOBS
def test_a_small_combine_imports_only_what_it_uses(tmp_path, extra):
    names = _u16_frames(tmp_path)
    found, proc = imported_modules("combine", *names, "-o", "m.fits", "-q", *extra, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "imcombiners._core" in found and "imcombiners.io.fits.frame" in found  # it did combine
    assert heavy(found, SMALL_JOB_UNUSED | ({"imcombiners._rejectors"} if "median" in extra else set())) == []


def test_a_zarr_output_still_takes_the_dask_engine(tmp_path):
    names = _u16_frames(tmp_path)
    found, proc = imported_modules("combine", *names, "-o", "m.zarr", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {"dask", "zarr"} <= {n.split(".")[0] for n in found}


REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"


@pytest.mark.skipif(not (REALDATA / "zwo-asi178mc-bias").is_dir(), reason="../shared/realdata not present")
def test_real_cmos_biases_combine_without_astropy(tmp_path):
    # their EXPTIME has a decimal comma: repaired as astropy repairs it, with its warning
    files = sorted(str(p) for p in (REALDATA / "zwo-asi178mc-bias").glob("*.fit"))
    found, proc = imported_modules("combine", *files, "-o", "m.fits", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "header card EXPTIME" in proc.stderr and "written as the string '3,2E-05'" in proc.stderr
    assert heavy(found, OUT_OF_CORE | PLOTTING | {"astropy"}) == []


def test_the_collector_is_frozen_only_at_exit():
    # main() leaves an in-process caller's collector alone; at interpreter exit the objects
    # are frozen (the interpreter's last collections skip them). The probe handler is
    # registered before main(), so it runs after main's (atexit runs last-in first-out).
    code = ("import atexit, gc\n"
            "atexit.register(lambda: print('at exit', gc.get_freeze_count() > 0))\n"
            "from imcombiners.cli import main\n"
            "assert main(['--version']) == 0 and main(['--help']) == 0\n"
            "print('after main', gc.get_freeze_count())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "after main 0" in proc.stdout and "at exit True" in proc.stdout


@pytest.mark.parametrize(("argv", "cli"), [
    (["/venv/bin/python3", "/venv/bin/imcombiners", "combine", "a.fits"], True),
    (["python", "-X", "importtime", "-m", "imcombiners.cli", "--version"], True),
    (["python", "-m", "imcombiners", "demo"], True),
    (["python", "-mimcombiners"], True),
    (["python.exe", "C:\\env\\Scripts\\imcombiners.exe", "combine"], True),
    (["python", "-c", "import imcombiners"], False),
    (["python", "-m", "pytest", "-m", "imcombiners"], False),
    (["python", "reduce.py", "imcombiners"], False),
    (["python"], False),
], ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_the_command_line_process_is_recognised(argv, cli):
    # decides whether ``import imcombiners`` imports xarray to register the accessors
    # (tests/test_dask_engine.py checks the library side)
    from imcombiners._xarray import started_by_the_command_line

    assert started_by_the_command_line(argv) is cli


def test_the_console_script_imports_no_xarray(tmp_path):
    # the installed ``imcombiners`` script, not only ``python -m imcombiners.cli``
    import shutil

    script = shutil.which("imcombiners")
    if script is None:
        pytest.skip("the imcombiners console script is not on PATH")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPROFILEIMPORTTIME="1")
    proc = subprocess.run([script, "--version"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "imcombiners" in names
    assert heavy(names, OUT_OF_CORE) == []


@pytest.mark.parametrize("preset", [None, "3"])
@pytest.mark.parametrize("cli", [True, False], ids=["command line", "library"])
def test_openblas_runs_one_thread_in_the_command_line_only(preset, cli):
    # OpenBLAS's spinning threads cost a small job's start-up; only the command line's own
    # process asks for one thread, and a value the user set is kept
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if preset is not None:
        env["OPENBLAS_NUM_THREADS"] = preset
    argv = "['python', '-m', 'imcombiners.cli', '--version']" if cli else "['python', '-c', 'x']"
    code = (f"import sys; sys.orig_argv[:] = {argv}\n"
            "import os, imcombiners\n"
            "print(os.environ.get('OPENBLAS_NUM_THREADS'))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    want = preset if preset is not None else ("1" if cli else "None")
    assert proc.stdout.strip() == want


#: What a small combine of plain files does not use from the standard library: pathlib
#: (and urllib/ipaddress behind it), shutil (and the compression modules behind it),
#: glob/fnmatch (names without a pattern), importlib.metadata (the version comes from the
#: kernels), tempfile.
SMALL_JOB_UNUSED_STDLIB = {"pathlib", "shutil", "glob", "fnmatch", "importlib.metadata", "tempfile", "zipfile",
                           "urllib", "ipaddress", "bz2", "lzma"}


def hook_free_modules(*args: str, cwd: Path) -> tuple[set[str], subprocess.CompletedProcess]:
    """As :func:`imported_modules`, in an interpreter that runs no ``.pth`` start-up hooks
    (``-S``; this interpreter's path given as PYTHONPATH, which runs none of them): some
    machines' hooks import pathlib, shutil... in every process, which would hide ours."""
    path = os.pathsep.join(p for p in sys.path if p)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=path)
    proc = subprocess.run([sys.executable, "-S", "-X", "importtime", "-m", "imcombiners.cli", *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    names = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    return names - {"package"}, proc


@SMALL_JOBS
def test_a_small_combine_imports_no_file_utilities(tmp_path, extra):
    names = _u16_frames(tmp_path)
    found, proc = hook_free_modules("combine", *names, "-o", "m.fits", "-q", *extra, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "imcombiners._core" in found  # it did combine
    assert "site" not in found  # and no start-up hook ran
    assert heavy(found, SMALL_JOB_UNUSED_STDLIB) == []
    # the checks can fail: a glob and an @list still work (and load what they need)
    (tmp_path / "frames.lis").write_text("\n".join(names) + "\n")
    found, proc = hook_free_modules("combine", "b*.fits", "-o", "g.fits", "-q", "-f", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "glob" in found
    _, proc = hook_free_modules("combine", "@frames.lis", "-o", "l.fits", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_version_is_read_without_importlib_metadata(tmp_path):
    from importlib.metadata import version

    found, proc = hook_free_modules("--version", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == f"imcombiners {version('imcombiners')}"
    assert "imcombiners.cli._parser" in found and heavy(found, {"importlib.metadata", "email", "zipfile"}) == []


def test_the_version_comes_from_the_first_dist_info_on_the_path(tmp_path, monkeypatch):
    from imcombiners.cli._parser import _dist_info_version

    def dist(folder: str, name: str, text: str) -> str:
        d = tmp_path / folder / name
        d.mkdir(parents=True)
        (d / "METADATA").write_text(text)
        return str(tmp_path / folder)

    first = dist("a", "imcombiners-9.8.7.dist-info", "Metadata-Version: 2.1\nName: imcombiners\nVersion: 9.8.7\n\nbody\n")
    second = dist("b", "imcombiners-1.0.0.dist-info", "Name: imcombiners\nVersion: 1.0.0\n")
    other = dist("c", "numpy-2.0.0.dist-info", "Name: numpy\nVersion: 2.0.0\n")
    monkeypatch.setattr("sys.path", [str(tmp_path / "missing"), other, first, second])
    assert _dist_info_version() == "9.8.7"
    monkeypatch.setattr("sys.path", [second, first])
    assert _dist_info_version() == "1.0.0"
    egg = tmp_path / "e" / "imcombiners.egg-info"
    egg.mkdir(parents=True)
    egg_dir = str(tmp_path / "e")
    (tmp_path / "e" / "imcombiners-0.1.egg-info").mkdir()
    monkeypatch.setattr("sys.path", [egg_dir, first])  # another layout first: importlib.metadata decides
    assert _dist_info_version() is None
    monkeypatch.setattr("sys.path", [other])
    assert _dist_info_version() is None


def test_the_command_line_process_collects_garbage_less_often():
    # imcombiners/__init__.py: only the command line's own process, and a collector
    # switched off stays off
    def thresholds(cli: bool, pre: str = "") -> str:
        argv = "['python', '-m', 'imcombiners.cli', '--version']" if cli else "['python', '-c', 'x']"
        code = f"import sys, gc; sys.orig_argv[:] = {argv}\n{pre}import imcombiners\nprint(gc.get_threshold()[0])\n"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout.strip()

    assert int(thresholds(True)) >= 50_000
    assert int(thresholds(False)) < 50_000
    assert thresholds(True, "gc.set_threshold(0)\n") == "0"


def test_each_command_is_parsed_and_documented_as_with_every_command_built():
    # the main parser builds only the command it runs (imcombiners/cli/_parser.py)
    from imcombiners.cli._parser import COMMANDS, build_parser

    every = build_parser()
    assert build_parser(None).format_help() == every.format_help()
    for name in COMMANDS:
        alone = build_parser(name)
        assert alone.subparsers[name].format_help() == every.subparsers[name].format_help()
        others = [c for c in COMMANDS if c != name]
        assert all(len(alone.subparsers[c]._actions) == 0 for c in others)
    argv = ["combine", "a.fits", "b.fits", "-o", "m.fits", "--reject", "sigclip", "--ddof", "1", "-q"]
    assert vars(build_parser("combine").parse_args(argv)) == vars(every.parse_args(argv))
