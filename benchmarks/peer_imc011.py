"""Driver for the earlier public implementation (PyPI imcombiners==0.1.1).

Runs under benchmarks/.venv-peers/bin/python (see setup_peers.sh), where
`import imcombiners` is 0.1.1, never this repository. It only calls 0.1.1's documented
API; it contains none of its code.

Two modes:

* one-shot: load a .npy stack (memmap, then copied into RAM before any timing), run one
  call `--repeats` times after a warm-up and print one JSON object with the timings::

      .venv-peers/bin/python peer_imc011.py --npy data/stack.npy \
          --call '{"impl": "kernel", "func": "sigclip_combine",
                   "kwargs": {"combine": "median", "sigma": 3.0, "maxiters": 5}}'

* serve (`--serve`): read one JSON command per line on stdin, answer one JSON line on
  stdout. run.py uses this to interleave 0.1.1 with the in-process peers:
  {"op": "load", "npy": path} | {"op": "files", "files": [...]} |
  {"op": "run", "call": {...}, "save": optional .npy path for the output} |
  {"op": "versions"} | {"op": "quit"}.

A call is {"impl": "ndcombine"|"combiner"|"kernel"|"fits_ndcombine", ...}:
  ndcombine       imcombiners.ndcombine(stack, **kwargs)
  kernel          imcombiners.kernels.<func>(stack, **kwargs)
  combiner        Combiner(stack, **init).combine(method, rejectors=[<cls>(**rkw)], **kwargs)
                  with "rejector": [class name, {fields}] (optional)
  fits_ndcombine  read the FITS files (astropy, into one native float32 stack) and
                  ndcombine(stack, **kwargs): the whole file-to-image workflow.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

STATE: dict = {"stack": None, "files": None}


def _versions() -> dict:
    import imcombiners

    out = {"python": sys.version.split()[0], "imcombiners": imcombiners.__version__,
           "numpy": np.__version__}
    for name in ("reducers", "astropy", "bottleneck"):
        try:
            out[name] = __import__(name).__version__
        except Exception as exc:  # noqa: BLE001
            out[name] = f"missing ({exc})"
    return out


def _load(path: str) -> tuple:
    mm = np.load(path, mmap_mode="r")
    # Into RAM before any timing: a plain, native, C-contiguous copy.
    STATE["stack"] = np.array(mm, copy=True, order="C")
    del mm
    return STATE["stack"].shape


def _read_fits(files: list[str]) -> np.ndarray:
    from astropy.io import fits

    first = fits.getdata(files[0], memmap=False)
    out = np.empty((len(files),) + first.shape, dtype=np.float32)
    out[0] = first
    for i, name in enumerate(files[1:], 1):
        out[i] = fits.getdata(name, memmap=False)  # byte-swaps on assignment
    return out


def _call(call: dict):
    import imcombiners as imc

    impl = call["impl"]
    kwargs = call.get("kwargs", {})
    if impl == "ndcombine":
        return imc.ndcombine(STATE["stack"], **kwargs)
    if impl == "kernel":
        return getattr(imc.kernels, call["func"])(STATE["stack"], **kwargs)
    if impl == "combiner":
        rej = call.get("rejector")
        rejectors = [getattr(imc, rej[0])(**rej[1])] if rej else None
        comb = imc.Combiner(STATE["stack"], **call.get("init", {}))
        if rejectors is None:
            return comb.combine(call["method"], **kwargs)
        return comb.combine(call["method"], rejectors=rejectors, **kwargs)
    if impl == "fits_ndcombine":
        return imc.ndcombine(_read_fits(STATE["files"]), **kwargs)
    raise ValueError(f"unknown impl {impl!r}")


def _timed(call: dict):
    c0 = time.process_time()
    t0 = time.perf_counter()
    out = _call(call)
    t1 = time.perf_counter()
    c1 = time.process_time()
    return t1 - t0, c1 - c0, out


def _reply(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def serve() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
            op = cmd["op"]
            if op == "quit":
                _reply({"ok": True})
                return
            if op == "versions":
                _reply({"ok": True, "versions": _versions()})
            elif op == "load":
                STATE["stack"] = None
                _reply({"ok": True, "shape": list(_load(cmd["npy"]))})
            elif op == "files":
                STATE["files"] = list(cmd["files"])
                _reply({"ok": True})
            elif op == "run":
                wall, cpu, out = _timed(cmd["call"])
                if cmd.get("save"):
                    np.save(cmd["save"], np.asarray(out))
                del out
                _reply({"ok": True, "wall": wall, "cpu": cpu})
            else:
                _reply({"ok": False, "error": f"unknown op {op!r}"})
        except Exception as exc:  # noqa: BLE001 - report, keep serving
            _reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:400]})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--serve", action="store_true", help="JSON-lines command loop")
    ap.add_argument("--npy", help="stack to load (.npy)")
    ap.add_argument("--files", nargs="*", help="FITS files (for fits_ndcombine)")
    ap.add_argument("--call", help="JSON call description (see module doc)")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args(argv)
    if a.serve:
        serve()
        return 0
    if not a.call or not (a.npy or a.files):
        ap.error("--call and --npy (or --files) are required unless --serve")
    if a.npy:
        _load(a.npy)
    STATE["files"] = a.files
    call = json.loads(a.call)
    warm, _, _ = _timed(call)
    walls, cpus = [], []
    for _ in range(a.repeats):
        w, c, out = _timed(call)
        del out
        walls.append(w)
        cpus.append(c)
    print(json.dumps({"call": call, "warmup": warm, "wall": walls, "cpu": cpus,
                      "versions": _versions()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
