"""Client side of peer_imc011.py: the 0.1.1 peer as interleavable, self-timed Impls.

One driver process lives for the whole benchmark run; each scenario loads its stack
into it once (the driver holds its own RAM copy), and every timed call is measured
inside the driver, so the JSON round trip is not counted.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from typing import Any

import numpy as np

from _common import BENCH_DIR, PEER_PYTHON

NOT_BUILT = ("not built: run `bash benchmarks/setup_peers.sh` (creates "
             "benchmarks/.venv-peers with imcombiners==0.1.1 built from source)")


class PeerDriver:
    """A running peer_imc011.py --serve process (or the reason there is none)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.error: str | None = None
        self.versions: dict = {}
        self.loaded: str | None = None
        if not PEER_PYTHON.exists():
            self.error = NOT_BUILT
            return
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        try:
            self.proc = subprocess.Popen(
                [str(PEER_PYTHON), str(BENCH_DIR / "peer_imc011.py"), "--serve"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                cwd=tempfile.gettempdir(), env=env)
            rep = self._ask({"op": "versions"})
            self.versions = rep["versions"]
        except Exception as exc:  # noqa: BLE001
            self.error = f"driver failed to start: {exc}"
            self.close()

    def _ask(self, cmd: dict) -> dict:
        if self.proc is None:
            raise RuntimeError(self.error or "no driver")
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.poll()
            self.error = f"driver exited (code {code})"
            self.proc = None
            raise RuntimeError(self.error)
        rep = json.loads(line)
        if not rep.get("ok"):
            raise RuntimeError(rep.get("error", "driver error"))
        return rep

    def load(self, npy: str) -> None:
        if self.loaded != npy:
            self._ask({"op": "load", "npy": npy})
            self.loaded = npy

    def unload(self) -> None:
        """Free the driver's copy of the stack (keeps the process)."""
        if self.proc is not None and self.loaded:
            # Loading a 1-element file is the simplest way to drop the big array.
            tiny = os.path.join(tempfile.gettempdir(), "imc_bench_tiny.npy")
            np.save(tiny, np.zeros((1, 1, 1), np.float32))
            self._ask({"op": "load", "npy": tiny})
            self.loaded = None

    def files(self, files: list[str]) -> None:
        self._ask({"op": "files", "files": files})

    def run(self, call: dict, save: str | None = None) -> tuple[float, float]:
        rep = self._ask({"op": "run", "call": call, "save": save})
        return rep["wall"], rep["cpu"]

    def close(self) -> None:
        if self.proc is not None:
            try:
                self._ask({"op": "quit"})
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001
                self.proc.kill()
            self.proc = None


def make_setup(driver: PeerDriver, call: dict, npy: str | None, tmpdir: str,
               files: list[str] | None = None):
    """Setup function for an Impl: loads the stack in the driver, returns a timed caller.

    The first call (the warm-up) saves the output so it can be compared with the
    reference; later calls only time.
    """

    def setup():
        if driver.error:
            raise RuntimeError(driver.error)
        if npy:
            driver.load(npy)
        if files is not None:
            driver.files(files)
        first = {"done": False}

        def timed() -> tuple[float, float, Any]:
            if not first["done"]:
                first["done"] = True
                path = os.path.join(tmpdir, "imc011_out.npy")
                wall, cpu = driver.run(call, save=path)
                out = np.load(path)
                os.remove(path)
                return wall, cpu, out
            wall, cpu = driver.run(call)
            return wall, cpu, None

        return timed

    return setup
