"""Fuzzing the public entry points in a child process (a crash is a failure, not a lost run).

The hypothesis targets live in ``tests/fuzz/fuzz_api.py`` (see its docstring for the
properties).  They run derandomized (the same examples every run) in one child
interpreter per test, so a segfault or an abort after an escaped Rust panic shows up
as a signal exit here, together with the example that caused it.

``IMC_FUZZ_EXAMPLES`` scales the run (default 300 examples of the main target,
~15-30 s on 2 cores); ``HYPOTHESIS_PROFILE=thorough`` multiplies it by 10.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.helpers.child import child_env, describe_exit, python_module

pytest.importorskip("hypothesis")
pytest.importorskip("imcombiners._core", reason="imcombiners._core is not built")

EXAMPLES = int(os.environ.get("IMC_FUZZ_EXAMPLES", "300")) * (
    10 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 1)


@pytest.mark.parametrize("target", ["combiner", "kernels", "ndcombine", "imcombine", "dask"])
def test_fuzz_target_in_child_process(target, tmp_path):
    log = tmp_path / "last_example.txt"
    cmd = python_module("tests.fuzz.fuzz_api", "--examples", str(EXAMPLES), "--only", target,
                        "--log", str(log))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=child_env())
    except subprocess.TimeoutExpired as exc:  # a hang is a failure too
        last = log.read_text() if log.exists() else "?"
        raise AssertionError(f"fuzz {target} did not finish in {exc.timeout} s; last example: {last}") from None
    last = log.read_text() if log.exists() else "(none)"
    if proc.returncode < 0:
        pytest.fail(f"fuzz {target}: child {describe_exit(proc.returncode)} (a crash) on: {last}\n"
                    f"{proc.stderr[-3000:]}")
    assert proc.returncode == 0, f"fuzz {target} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    outcomes = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("OUTCOMES "))[9:])
    # the fuzzing must reach the kernels, not only the argument checks
    oks = sum(d.get("ok", 0) for d in outcomes.values())
    assert oks >= 5, f"fuzz {target}: too few valid calls reached the kernels: {outcomes}"
