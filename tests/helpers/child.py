"""Run Python code in a child process so that a crash (signal exit) is a test failure.

A Rust panic that escapes the boundary aborts the process (SIGABRT), a bad pointer
segfaults (SIGSEGV), an allocation failure in Rust aborts: none of these can be caught
in-process by pytest.  Every check that could end that way runs here, in a fresh
interpreter, with a timeout (a hang is a failure too).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent


def child_env(**extra: str) -> dict[str, str]:
    """Environment of a child: the checkout importable (``imcombiners`` and the ``tests``
    package), quiet Rust panics."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["RUST_BACKTRACE"] = "0"
    env.setdefault("MPLBACKEND", "Agg")
    env.update(extra)
    return env


def describe_exit(rc: int) -> str:
    """'exit 3' or 'killed by SIGSEGV'."""
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:  # pragma: no cover
            return f"killed by signal {-rc}"
    return f"exit {rc}"


def run_python(code: str, *, timeout: float = 60, args: list[str] | None = None,
               env: dict[str, str] | None = None, cwd: str | os.PathLike | None = None,
               preexec_fn=None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter; a timeout raises ``subprocess.TimeoutExpired``."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *(args or [])],
        capture_output=True, text=True, timeout=timeout, env=env or child_env(),
        cwd=cwd, preexec_fn=preexec_fn,
    )


def assert_clean_exit(proc: subprocess.CompletedProcess, what: str) -> None:
    """The child ended by itself with status 0 (no signal, no uncaught exception)."""
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or "").strip().splitlines()[-25:])
        out = "\n".join((proc.stdout or "").strip().splitlines()[-25:])
        raise AssertionError(f"{what}: child {describe_exit(proc.returncode)}\n--- stdout\n{out}\n--- stderr\n{tail}")


def python_module(module: str, *args: str) -> list[str]:
    """``python -m MODULE ARGS`` (run a module of the checkout, e.g. ``tests.fuzz.fuzz_api``)."""
    return [sys.executable, "-m", module, *args]


def cli_command(*args: str) -> list[str]:
    """``python -m imcombiners.cli ARGS`` (the same code as the console script)."""
    return [sys.executable, "-m", "imcombiners.cli", *args]


def unprivileged():
    """``preexec_fn`` making permission bits apply to the child, or None when they do.

    Root ignores permission bits through CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH; the
    child drops both from its capability bounding set before exec (so a read-only
    directory is read-only for it too).  The interpreter under /root stays usable,
    which switching to ``nobody`` would not allow.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None

    def drop() -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
            if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")

    return drop


def readonly_is_enforced(directory: Path) -> bool:
    """True when a child started with :func:`unprivileged` cannot write into ``directory``."""
    probe = directory / ".write-probe"
    try:
        proc = subprocess.run([sys.executable, "-c", f"open({str(probe)!r}, 'w')"], capture_output=True,
                              preexec_fn=unprivileged(), timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    if probe.exists():
        probe.unlink()
    return proc.returncode != 0


def shared_tmpdir() -> Path:
    """A fresh world-traversable directory under the system temp dir (for ``nobody``)."""
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="imc-rel-"))
    d.chmod(0o755)
    return d
