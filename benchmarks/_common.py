"""Shared helpers of the benchmark suite: paths, formatting, machine description.

Nothing here imports our package or any peer, so every helper script (including the
0.1.1 driver, which runs under another interpreter) may import it.
"""

from __future__ import annotations

import os
import re
import platform
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
RESULTS_DIR = BENCH_DIR / "results"
PEER_VENV = BENCH_DIR / ".venv-peers"
PEER_PYTHON = PEER_VENV / "bin" / "python"

GB = 1e9
MB = 1024 * 1024


def use_repo_package() -> None:
    """Check that `import imcombiners` is this checkout (`pip install -e .` makes it so).

    Benchmarks must time the code of this repository, not another installed copy.
    """
    try:
        import imcombiners
    except ImportError as exc:
        raise SystemExit(f"imcombiners is not importable ({exc}); run `pip install -e .` in {REPO_ROOT}") from None
    where = Path(imcombiners.__file__).resolve().parent.parent
    if where != REPO_ROOT:
        raise SystemExit(f"imcombiners is imported from {where}, not this checkout ({REPO_ROOT}); "
                         f"run `pip install -e .` in {REPO_ROOT}")


def fmt_time(t: float | None) -> str:
    """Seconds -> short human string (ms below 1 s)."""
    if t is None or t != t:  # None or NaN
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:.0f} µs"
    if t < 1.0:
        return f"{t * 1e3:.0f} ms" if t >= 0.1 else f"{t * 1e3:.1f} ms"
    return f"{t:.2f} s"


def fmt_ratio(x: float | None, digits: int = 2) -> str:
    if x is None or x != x:
        return "-"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}f}"


def fmt_mb(b: float | None) -> str:
    if b is None or b != b:
        return "-"
    return f"{b / MB:.0f}"


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def machine_info() -> dict:
    """CPU model, cores, RAM, kernel, load: what a reader needs to judge the numbers."""
    cpuinfo = _read("/proc/cpuinfo")
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines()
                  if ln.startswith("model name")), platform.processor() or "?")
    fam = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines()
                if ln.startswith("cpu family")), "?")
    mod = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines()
                if ln.startswith("model\t") or ln.startswith("model ")), "?")
    flags = next((ln.split(":", 1)[1].split() for ln in cpuinfo.splitlines()
                  if ln.startswith("flags")), [])
    simd = [f for f in ("avx2", "avx512f", "avx512bw", "avx512vl", "fma") if f in flags]
    mem_total = 0
    for ln in _read("/proc/meminfo").splitlines():
        if ln.startswith("MemTotal:"):
            mem_total = int(ln.split()[1]) * 1024
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        affinity = os.cpu_count()
    caches = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for ln in out.splitlines():
            k, _, v = ln.partition(":")
            if k.strip() in ("L1d cache", "L2 cache", "L3 cache", "Hypervisor vendor"):
                caches[k.strip()] = v.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "cpu_model": f"{model} (family {fam}, model {mod})",
        "simd": simd,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": affinity,
        "ram_gib": round(mem_total / 2**30, 1),
        "caches": caches,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "loadavg": os.getloadavg(),
        "env": {k: v for k, v in os.environ.items()
                if k.startswith(("OPENBLAS", "OMP_", "MKL_", "RAYON", "IMCOMBINERS"))},
    }


def package_versions(names: list[str]) -> dict[str, str]:
    """Version of each importable package, or why it is missing."""
    out = {}
    for name in names:
        try:
            mod = __import__(name)
            out[name] = str(getattr(mod, "__version__", "?"))
        except Exception as exc:  # noqa: BLE001 - report any import failure
            out[name] = f"not importable ({type(exc).__name__}: {exc})"[:120]
    return out


def iraf_version() -> str | None:
    """Debian package version of IRAF, or None when irafcl is not installed."""
    import shutil

    if not shutil.which("irafcl"):
        return None
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "iraf"],
                             capture_output=True, text=True, timeout=10).stdout
        return f"IRAF (Debian iraf {out.strip() or '?'})"
    except (OSError, subprocess.SubprocessError):
        return "IRAF (version unknown)"


def replace_block(path, begin: str, end: str, block: str) -> None:
    """Write ``block`` (which starts with ``begin`` and ends with ``end``) into the
    Markdown file ``path``: in place of the old block between those markers, or appended.

    Each benchmark script that owns a section of RESULTS.md writes it through this."""
    text = open(path).read() if os.path.exists(path) else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    with open(path, "w") as f:
        f.write(text)


_BLOCK = re.compile(r"<!-- (?P<name>[\w-]+):begin .*?-->.*?<!-- (?P=name):end -->", re.S)


def owned_blocks(text: str) -> list[str]:
    """The blocks of a RESULTS.md text that other scripts own (each written by
    `replace_block` between ``<!-- NAME:begin ... -->`` and ``<!-- NAME:end -->``), in order."""
    return [m.group(0) for m in _BLOCK.finditer(text)]
