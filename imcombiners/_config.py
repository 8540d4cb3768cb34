"""What the kernels run on: SIMD level, CPU model and features (``show_config``).

The Rust kernels hold their vector loops compiled for every SIMD level of the
architecture (x86-64: ``baseline`` = SSE2, ``avx2`` = AVX2 + FMA, ``avx512`` = AVX-512
F/BW/CD/DQ/VL; aarch64: ``baseline`` = NEON) and use the best one the CPU has. The
environment variable ``IMCOMBINERS_SIMD=baseline|avx2|avx512`` (read when the kernels
load) asks for another level; a level the CPU lacks, or an unknown name, falls back to
the best level with a ``RuntimeWarning``. Every level gives the same bits.
"""

from __future__ import annotations

import contextlib
import platform
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from ._job import load_core

__all__ = ["show_config", "simd_config", "cpu_model", "forced_simd_level"]


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``sysctl`` on macOS), or ``"?"``."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "Model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        import subprocess

        try:
            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5)
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or "?"


def simd_config() -> dict[str, Any]:
    """The kernels' SIMD configuration as a dict.

    Returns
    -------
    dict
        ``level`` (the level combines use now), ``startup_level`` (chosen when the kernels
        loaded), ``best`` (the highest level this CPU runs), ``available`` (every level it
        runs), ``compiled`` (the levels this build holds), ``requested`` (the value of
        ``IMCOMBINERS_SIMD`` or None), ``note`` (why that request was not followed, or
        None), ``env_var``, ``arch``, ``features`` (CPU feature name -> present) and
        ``cpu_model``.
    """
    cfg = dict(load_core().simd_config())
    cfg["features"] = dict(cfg["features"])
    cfg["cpu_model"] = cpu_model()
    return cfg


def show_config(mode: str = "stdout", file: TextIO | None = None) -> dict[str, Any] | None:
    """Print (or return) the build and the SIMD level the kernels run at.

    Parameters
    ----------
    mode : {"stdout", "dicts"}
        ``"stdout"`` prints a short report; ``"dicts"`` returns it as a dict instead.
    file : file-like, optional
        Where to print (default ``sys.stdout``).

    Returns
    -------
    dict or None
        With ``mode="dicts"``: ``imcombiners`` (version), ``python``, ``numpy`` and
        ``simd`` (see :func:`simd_config`).

    Examples
    --------
    >>> import imcombiners
    >>> imcombiners.show_config()  # doctest: +SKIP
    imcombiners 0.2.0 (Python 3.12.3, NumPy 2.1.3)
    CPU: AMD EPYC 9R14 (x86_64)
    SIMD level: avx512 (best this CPU runs; available: baseline, avx2, avx512)
    ...
    """
    import numpy as np

    from . import __version__

    if mode not in ("stdout", "dicts"):
        raise ValueError(f"mode: must be 'stdout' or 'dicts'; got {mode!r}")
    simd = simd_config()
    info = {"imcombiners": __version__, "python": platform.python_version(), "numpy": np.__version__, "simd": simd}
    if mode == "dicts":
        return info
    if simd["level"] != simd["startup_level"]:
        how = "set at run time"
    elif simd["requested"] and not simd["note"]:
        how = f"{simd['env_var']}={simd['requested']}"
    else:
        how = "best this CPU runs"
    have = [name for name, ok in simd["features"].items() if ok]
    lack = [name for name, ok in simd["features"].items() if not ok]
    lines = [
        f"imcombiners {info['imcombiners']} (Python {info['python']}, NumPy {info['numpy']})",
        f"CPU: {simd['cpu_model']} ({simd['arch']})",
        f"SIMD level: {simd['level']} ({how}; available: {', '.join(simd['available'])})",
        f"CPU features: {' '.join(have) or '-'}",
        f"  missing: {' '.join(lack) or '-'}",
    ]
    if simd["note"]:
        lines.append(f"note: {simd['note']}")
    print("\n".join(lines), file=file or sys.stdout)
    return None


@contextlib.contextmanager
def forced_simd_level(level: str) -> Iterator[None]:
    """Run the combines of the block (in every thread of the process) at ``level``.

    For tests and benchmarks: raises ValueError when the CPU lacks the level; restores
    the start-up level on exit.
    """
    core = load_core()
    cfg = core.simd_config()
    before = None if cfg["level"] == cfg["startup_level"] else cfg["level"]
    core._set_simd_level(level)
    try:
        yield
    finally:
        core._set_simd_level(before)
