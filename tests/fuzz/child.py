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
    """Environment of a child: the repo and tests/ importable, quiet Rust panics."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(TESTS), env.get("PYTHONPATH", "")])
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
