"""Whole-process command-line benchmark: ``imcombiners combine`` against Siril's ``stack``.

    python benchmarks/cli_siril.py                 # every set -> block of RESULTS.md
    python benchmarks/cli_siril.py --quick         # the small sets only
    python benchmarks/cli_siril.py --sets bias8,zwo-bias --repeats 7
    python benchmarks/cli_siril.py --breakdown     # also: where our time goes, phase by phase

What a user waits for: each tool runs as a process from a warm page cache (one untimed
run of each first, and the package's bytecode compiled as a wheel install does; ours from
a virtual environment with the same packages but without the machine's ``.pth`` start-up
hooks, see :func:`hook_free_interpreter`), timed
from start to exit with its peak resident memory (GNU ``time``);
the tools alternate (A, B, A, B, ...) and the median of the repeats is reported.

* Siril (Debian package ``siril``; installed with apt-get when missing and this runs as
  root): a script that ``link``s the FITS files into a sequence and ``stack``s it, median
  (``stack seq med -nonorm``) or sigma clipping 3/3 with a mean of the survivors
  (``stack seq rej s 3 3 -nonorm``).
* imcombiners: ``imcombiners combine FILES -o out.fits --method median`` or ``--method mean
  --reject sigclip --lsigma 3 --hsigma 3 --ddof 1`` (Siril's sigma has N - 1).

Outputs are compared: Siril writes float32 scaled to [0, 1] (multiplied by 65535 here);
the table gives the largest difference in ADU and the fraction of pixels that differ by
more than 0.01 ADU. Sets: generated uint16 frames (``_fits_sets``: BITPIX=16, BZERO=32768,
bias-like with cosmic rays) and the real CMOS frames of ``../shared/realdata`` when present.
The machine is recorded (CPU, cores, load before and after each set: other processes on a
shared machine make the numbers noisy).
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import BENCH_DIR, REPO_ROOT, RESULTS_DIR, machine_info, replace_block

BEGIN = "<!-- cli-siril:begin (benchmarks/cli_siril.py writes this block) -->"
END = "<!-- cli-siril:end -->"
REALDATA = REPO_ROOT.parent / "shared" / "realdata"

#: name -> (description, how to get the files)
SETS = {
    "bias8": "8 x 1280x960 uint16 (generated)",
    "zwo-bias": "6 x 1280x960 uint16, real ZWO ASI178MC biases",
    "zwo-dark": "5 x 1280x960 uint16, real ZWO ASI178MC 100 s darks",
    "n100-2048": "100 x 2048x2048 uint16 (generated)",
    "n40-4096": "40 x 4096x4096 uint16 (generated)",
}
QUICK = ("bias8", "zwo-bias", "zwo-dark")
TASKS = ("median", "sigma")
TARGETS = {"bias8": {"median": 1.0, "sigma": 1.2}, "zwo-bias": {"median": 1.0, "sigma": 1.2},
           "zwo-dark": {"median": 1.0, "sigma": 1.2},
           "n100-2048": {"median": 1 / 3, "sigma": 1 / 3}, "n40-4096": {"median": 1 / 3, "sigma": 1 / 3}}


def set_files(name: str) -> list[str] | None:
    """The FITS files of a set (generated on first use), or None when not available."""
    if name.startswith("zwo-"):
        folder = REALDATA / ("zwo-asi178mc-bias" if name == "zwo-bias" else "zwo-asi178mc-dark100s")
        files = sorted(glob.glob(str(folder / "*.fit")))
        return files or None
    from _fits_sets import u16_set

    n, h, w = {"bias8": (8, 960, 1280), "n100-2048": (100, 2048, 2048), "n40-4096": (40, 4096, 4096)}[name]
    return u16_set(n, h, w)


def siril_cli() -> str | None:
    """``siril-cli``, installed from Debian when missing (root only)."""
    exe = shutil.which("siril-cli")
    if exe or os.geteuid() != 0 or not shutil.which("apt-get"):
        return exe
    print("installing siril (apt-get install siril) ...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "siril"], env=env).returncode:
        subprocess.run(["apt-get", "update"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "siril"], env=env, check=False)
    return shutil.which("siril-cli")


def siril_version(exe: str) -> str:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60).stdout
        return out.strip().splitlines()[0] if out.strip() else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def _sequence_base(files: list[str]) -> str:
    """Siril's ``link`` basename: the common file name before the frame number."""
    stem = os.path.basename(files[0]).rsplit(".", 1)[0]
    return stem.rstrip("0123456789")


def siril_command(exe: str, files: list[str], task: str, work: Path) -> tuple[list[str], Path]:
    """(argv, output file) of a Siril script linking the files and stacking them."""
    base = _sequence_base(files)
    ext = files[0].rsplit(".", 1)[1]
    seq = work / "seq"
    out = work / "siril-out"
    stack = "med -nonorm" if task == "median" else "rej s 3 3 -nonorm"
    script = work / "stack.ssf"
    script.write_text("\n".join([
        "requires 1.0.0", f"setext {ext}", f"cd {os.path.dirname(files[0])}",
        f"link {base} -out={seq}", f"cd {seq}", f"stack {base} {stack} -out={out}", ""]))
    return [exe, "-s", str(script), "-d", str(work)], out.with_suffix("." + ext)


def startup_hooks() -> list[str]:
    """The ``.pth`` files of this interpreter's site directories that run code at start-up
    (a line starting with ``import``), e.g. a sandbox's certificate set-up."""
    import site

    found = []
    for d in [*site.getsitepackages(), site.getusersitepackages()]:
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if name.endswith(".pth"):
                with open(os.path.join(d, name), errors="replace") as f:
                    if any(line.startswith(("import ", "import\t")) for line in f):
                        found.append(os.path.join(d, name))
    return found


def hook_free_interpreter(root: Path) -> Path:
    """A virtual environment at ``root`` that sees exactly this interpreter's packages (its
    ``sys.path``, written into one ``.pth`` of plain directories) but runs none of the
    site directories' ``.pth`` start-up hooks, with an ``imcombiners`` console script.

    Why: a machine's ``.pth`` hooks run in every Python process. This sandbox's
    site-packages has one that imports certifi for its network proxy (~20 ms of every
    start-up, see :func:`startup_hooks`), which a user's installation does not have; the
    small sets take ~0.15 s, so it would be a sixth of what is measured.
    """
    py = root / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    paths = list(dict.fromkeys(p for p in sys.path[1:] if p and os.path.isdir(p)))  # [0] is benchmarks/
    Path(purelib, "_same_packages.pth").write_text("".join(p + "\n" for p in paths))
    script = root / "bin" / "imcombiners"
    script.write_text(f"#!{py}\nimport sys\nfrom imcombiners.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return script


#: Set by main(): the ``imcombiners`` script to time (None: this interpreter's own).
OURS_EXE: str | None = None


def ours_command(files: list[str], task: str, work: Path) -> tuple[list[str], Path]:
    exe = OURS_EXE or shutil.which("imcombiners", path=os.path.dirname(sys.executable)) or shutil.which("imcombiners")
    argv = [exe] if exe else [sys.executable, "-m", "imcombiners.cli"]
    out = work / "ours.fits"
    argv += ["combine", *files, "-o", str(out), "-q", "-f"]
    argv += ["--method", "median"] if task == "median" else [
        "--method", "mean", "--reject", "sigclip", "--lsigma", "3", "--hsigma", "3", "--ddof", "1"]
    return argv, out


#: The processes' environment: as a user's (bytecode caches written and used; some
#: sandboxes set PYTHONDONTWRITEBYTECODE, which makes every run compile the package again).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def compile_package() -> None:
    """Write the package's bytecode caches, as installing a wheel does."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO_ROOT / "imcombiners")],
                   env=CHILD_ENV, stdout=subprocess.DEVNULL, check=False)


TIME = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)


def timed(argv: list[str], cwd: Path) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of one process; raises when it fails.

    The peak comes from GNU time, which starts the process from its own small image: a
    process forked from this one (which holds NumPy and astropy for the comparisons) would
    report this process's RSS at the fork as its own high-water mark (Linux keeps it
    across exec).
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        full = [TIME, "-f", "%M", "-o", rss.name, *argv] if TIME else argv
        t0 = time.perf_counter()
        proc = subprocess.run(full, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=CHILD_ENV)
        wall = time.perf_counter() - t0
        if proc.returncode:
            raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-800:]}")
        text = rss.read().strip().splitlines()
    peak = int(text[-1]) * 1024 if TIME and text and text[-1].isdigit() else 0
    return wall, peak


def compare(ours: Path, siril: Path) -> dict:
    import numpy as np
    from astropy.io import fits

    a = fits.getdata(ours).astype(np.float64)
    b = fits.getdata(siril).astype(np.float64) * 65535.0
    if b.shape != a.shape:
        b = b.reshape(a.shape) if b.size == a.size else b
    d = np.abs(a - b)
    return {"max_diff": float(np.nanmax(d)), "frac_over_0.01": float(np.mean(d > 0.01)),
            "median_diff": float(np.nanmedian(d))}


def run_case(exe: str, name: str, files: list[str], task: str, repeats: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="cli-siril-") as tmp:
        work = Path(tmp)
        s_argv, s_out = siril_command(exe, files, task, work)
        o_argv, o_out = ours_command(files, task, work)
        load0 = os.getloadavg()[0]
        timed(s_argv, work)  # warm-up: page cache, and the outputs compared below
        shutil.rmtree(work / "seq", ignore_errors=True)
        timed(o_argv, work)
        diff = compare(o_out, s_out)
        runs: dict[str, list[tuple[float, int]]] = {"siril": [], "ours": []}
        for _ in range(repeats):
            runs["siril"].append(timed(s_argv, work))
            shutil.rmtree(work / "seq", ignore_errors=True)
            runs["ours"].append(timed(o_argv, work))
        load1 = os.getloadavg()[0]
    rec = {"set": name, "task": task, "n": len(files), "load": [load0, load1], **diff}
    for tool, rs in runs.items():
        walls = sorted(w for w, _ in rs)
        rec[tool] = {"median": walls[len(walls) // 2], "min": walls[0], "max": walls[-1],
                     "peak_rss": max(m for _, m in rs), "walls": walls}
    return rec


def breakdown(files: list[str], task: str) -> dict:
    """Our time by phase, in this process: probe headers, read (positioned reads into the
    strip buffer), convert (byte swap and BZERO, in place), combine (kernel, every core),
    write, over strips of ~32 MiB of input as the local engine cuts them (one thread here)."""
    import numpy as np

    from imcombiners.cli._check import inspect_inputs
    from imcombiners.cli._rejection import build_rejectors
    from imcombiners.io.fits import FitsRegionTarget, HduSpec, create_fits
    from imcombiners.io.fits.pixels import physical_in_place, to_physical
    from imcombiners.io.fits.window import normalise_window, read_window
    import imcombiners._job as J

    t = {}
    t0 = time.perf_counter()
    info = inspect_inputs(files)
    t["probe"] = time.perf_counter() - t0
    frames = info.frames
    n, (h, w) = len(frames), info.shape
    rows = max(1, (32 << 20) // (n * w * 2))
    params = {"lsigma": 3.0, "hsigma": 3.0, "ddof": 1}
    rej = [] if task == "median" else build_rejectors("sigclip", params)
    job = J.Job(method="median" if task == "median" else "mean", rejectors=tuple(rej))
    buf = np.empty((n, rows, w), np.uint16)
    tmp = tempfile.mkdtemp(prefix="bd-")
    target: FitsRegionTarget = create_fits(os.path.join(tmp, "o.fits"), [HduSpec("PRIMARY", (h, w), np.float32)])["PRIMARY"]
    read = conv = comb = write = 0.0
    fds = [os.open(f.path, os.O_RDONLY) for f in frames]
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        win = normalise_window((h, w), (slice(y0, y1),))
        for i, f in enumerate(frames):
            a = time.perf_counter()
            out = buf[i, : y1 - y0]
            raw = read_window(fds[i], f.shape, win, f.pixels.disk, f.data_offset, into=out)
            b = time.perf_counter()
            if np.shares_memory(raw, out):  # what FitsFrame.read does: convert where read
                physical_in_place(out, f.pixels)
            else:
                to_physical(raw, f.pixels, out)
            c = time.perf_counter()
            read += b - a
            conv += c - b
        a = time.perf_counter()
        res = J.run_job([buf[i, : y1 - y0] for i in range(n)], None, job, threads=0, check_mem=False)
        b = time.perf_counter()
        target[y0:y1] = res["data"]
        c = time.perf_counter()
        comb += b - a
        write += c - b
    for fd in fds:
        os.close(fd)
    shutil.rmtree(tmp, ignore_errors=True)
    t.update(read=read, convert=conv, combine_all_cores=comb, write=write)
    return t


def startup_hook_cost(hook_free_python: Path, repeats: int = 15) -> dict:
    """Median wall time of ``python -c pass`` with this interpreter and without its hooks."""
    out = {}
    for label, py in (("with hooks", sys.executable), ("without hooks", str(hook_free_python))):
        walls = sorted(timed([py, "-c", "pass"], Path.cwd())[0] for _ in range(repeats))
        out[label] = walls[len(walls) // 2]
    return out


def _interpreter_note(meta: dict) -> list[str]:
    hooks = ", ".join(f"`{n}`" for n in dict.fromkeys(os.path.basename(h) for h in meta.get("hooks", []))) or "none"
    if not meta.get("hook_free"):
        return [f"Ours ran with this machine's Python as is, its `.pth` start-up hooks included ({hooks})."]
    cost = meta.get("hook_cost") or {}
    extra = ""
    if cost:
        extra = (f" `python -c pass` took {1e3 * cost['with hooks']:.0f} ms with them and "
                 f"{1e3 * cost['without hooks']:.0f} ms without.")
    return [f"Ours ran from a virtual environment with the same packages on its path and no `.pth` "
            f"start-up hooks (`--with-startup-hooks` keeps them). This machine's site directories "
            f"have these hooks: {hooks}; among them the sandbox's network set-up, which imports certifi "
            f"in every Python process and which a user's installation does not have."
            + extra]


def render(records: list[dict], meta: dict, breakdowns: dict) -> str:
    m = meta["machine"]
    lines = [
        BEGIN,
        "## Command line against Siril (whole processes)",
        "",
        f"`benchmarks/cli_siril.py`, {meta['date']}: {m['cpu_model']} ({', '.join(m.get('simd', []))}), "
        f"{m.get('usable_cpus', '?')} cores available, {m.get('ram_gib', '?')} GiB; {meta['siril']}; imcombiners "
        f"{meta['commit']}. Median of {meta['repeats']} runs per tool (alternating, page cache warm), "
        "wall time from process start to exit; peak RSS of the process. Target: the ratio "
        "ours/Siril at most the value shown (1 = as fast, 1/3 = three times faster).",
        "",
        *_interpreter_note(meta),
        "",
        "| set | task | Siril | imcombiners | ours / Siril | target | Siril RSS | our RSS | max diff (ADU) "
        "| pixels > 0.01 ADU | load |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in records:
        ratio = r["ours"]["median"] / r["siril"]["median"]
        target = TARGETS.get(r["set"], {}).get(r["task"])
        ok = "" if target is None else (" ok" if ratio <= target else " **missed**")
        lines.append(
            f"| {r['set']} ({r['n']}) | {r['task']} | {r['siril']['median']:.2f} s | {r['ours']['median']:.2f} s "
            f"| {ratio:.2f}{ok} | {'-' if target is None else f'{target:.2f}'} "
            f"| {r['siril']['peak_rss'] / 2**20:.0f} MB | {r['ours']['peak_rss'] / 2**20:.0f} MB "
            f"| {r['max_diff']:.3g} | {100 * r['frac_over_0.01']:.3f} % | {r['load'][0]:.1f}-{r['load'][1]:.1f} |")
    lines += ["", "Sets: " + "; ".join(f"{k}: {v}" for k, v in SETS.items()) + ".",
              "Siril's sigma clipping measures the spread about the mean (N - 1) and clips about the "
              "median; ours (`--ddof 1`) measures it about the median: the few pixels that differ are "
              "where that changes a rejection. The median differs only by Siril's float32 [0, 1] scaling.",
              "The load column is the 1-minute load average before and after the set (2 cores): above ~1 "
              "other processes were running and the times are noisy."]
    if breakdowns:
        lines += ["", "Where our time goes (in-process, one run, all cores for the kernel; seconds):", "",
                  "| set | task | probe headers | positioned reads | BZERO conversion | combine | write |",
                  "|---|---|--:|--:|--:|--:|--:|"]
        for key, b in breakdowns.items():
            s, task = key.split("/")
            lines.append(f"| {s} | {task} | {b['probe']:.3f} | {b['read']:.3f} | {b['convert']:.3f} | "
                         f"{b['combine_all_cores']:.3f} | {b['write']:.3f} |")
    lines += ["", END, ""]
    return "\n".join(lines)




def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the small sets only")
    ap.add_argument("--sets", help=f"comma list among {', '.join(SETS)}")
    ap.add_argument("--tasks", default="median,sigma", help="median, sigma")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--breakdown", action="store_true", help="also time our phases in-process")
    ap.add_argument("--output", default=str(BENCH_DIR / "RESULTS.md"))
    ap.add_argument("--with-startup-hooks", action="store_true",
                    help="run ours with this interpreter as is, .pth start-up hooks included "
                         "(default: a virtual environment with the same packages and no hooks)")
    args = ap.parse_args(argv)
    global OURS_EXE
    hooks = startup_hooks()
    hook_cost = None
    if not args.with_startup_hooks:
        OURS_EXE = str(hook_free_interpreter(BENCH_DIR / "data" / "venv-no-hooks"))
        hook_cost = startup_hook_cost(Path(OURS_EXE).parent / "python")
    exe = siril_cli()
    if exe is None:
        print("siril-cli is not installed (apt-get install siril) and could not be installed", file=sys.stderr)
        return 1
    compile_package()
    names = args.sets.split(",") if args.sets else (list(QUICK) if args.quick else list(SETS))
    tasks = args.tasks.split(",")
    records, breakdowns = [], {}
    for name in names:
        files = set_files(name)
        if files is None:
            print(f"{name}: not available (no ../shared/realdata)", flush=True)
            continue
        for task in tasks:
            rec = run_case(exe, name, files, task, args.repeats)
            records.append(rec)
            print(f"{name:10s} {task:6s} siril {rec['siril']['median']:.2f} s  ours {rec['ours']['median']:.2f} s  "
                  f"ratio {rec['ours']['median'] / rec['siril']['median']:.2f}  max diff {rec['max_diff']:.3g}  "
                  f"load {rec['load'][0]:.1f}-{rec['load'][1]:.1f}", flush=True)
            if args.breakdown:
                breakdowns[f"{name}/{task}"] = breakdown(files, task)
    commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    meta = {"date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": machine_info(),
            "siril": siril_version(exe), "commit": commit or "?", "repeats": args.repeats,
            "hooks": hooks, "hook_free": OURS_EXE is not None, "hook_cost": hook_cost}
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (RESULTS_DIR / f"cli-siril-{stamp}.json").write_text(json.dumps(
        {"meta": meta, "records": records, "breakdown": breakdowns}, indent=1, default=str))
    replace_block(Path(args.output), BEGIN, END, render(records, meta, breakdowns))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
