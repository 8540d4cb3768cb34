"""A smoke run of an installed imcombiners, printed as one JSON line of output digests.

Run as a script by ``tests/test_wheel.py`` with the Python of a fresh virtual environment
(holding only the wheel), natively and under emulated CPUs (``qemu-x86_64 -cpu ...``):

    python smoke_combine.py DATA_DIR [EXPECTED_PREFIX]

It imports nothing from the source tree (not even ``tests``), so that it checks the
installed package alone. Every combine runs at every SIMD level the CPU has and the
levels must agree bit for bit in the process; the digests let the caller compare
processes (builds, CPUs). ``EXPECTED_PREFIX``: the package must be imported from there.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys


def digests(data_dir: str) -> dict[str, str]:
    """SHA-256 of the outputs of a set of combines of the stacks saved in ``data_dir``."""
    import numpy as np

    import imcombiners as imc
    from imcombiners.iraf import imcombine

    stacks = {name[:-4]: np.load(os.path.join(data_dir, name)) for name in sorted(os.listdir(data_dir))
              if name.endswith(".npy")}
    out: dict[str, str] = {}

    def put(key: str, *arrays) -> None:
        h = hashlib.sha256()
        for a in arrays:
            if a is not None:
                a = np.ascontiguousarray(a)
                h.update(str((a.dtype.str, a.shape)).encode())
                h.update(a.tobytes())
        out[key] = h.hexdigest()

    library = [
        ("mean", None, None),
        ("median", None, None),
        ("mean", imc.SigClip(3, maxiters=5, cenfunc="median"), None),
        ("median", imc.SigClip(3, maxiters=5, cenfunc="median"), None),
        ("mean", imc.MinMaxClip(1, 1), None),
        ("mean", imc.CcdClip(rdnoise=5, gain=1.5), "full"),
        ("median", imc.PClip(), "full"),
        ("mean", imc.SigClip(2.5, cenfunc="mean"), "full"),
    ]
    for name, stack in stacks.items():
        for method, rej, diag in library:
            r = imc.Combiner(stack).combine(method, rejectors=[rej] if rej else None, diagnostics=diag)
            key = f"{name} {method} {rej!r} {diag}"
            if diag is None:
                put(key, r)
            else:
                put(key, r.data, r.mask, r.std, r.nused)
        for reject in ("minmax", "sigclip", "ccdclip", "pclip"):
            r = imcombine(stack, combine="average", reject=reject, rdnoise=5.0, gain=1.5)
            put(f"{name} iraf {reject}", r.output)
    return out


def main(argv: list[str]) -> int:
    data_dir = argv[1]
    expected_prefix = argv[2] if len(argv) > 2 else None
    import imcombiners
    from imcombiners._config import forced_simd_level, simd_config

    where = os.path.realpath(imcombiners.__file__)
    if expected_prefix and not where.startswith(os.path.realpath(expected_prefix)):
        print(f"imcombiners imported from {where}, not from {expected_prefix}", file=sys.stderr)
        return 2
    cfg = simd_config()
    per_level = {}
    for level in cfg["available"]:
        with forced_simd_level(level):
            per_level[level] = digests(data_dir)
    first = per_level[cfg["available"][0]]
    differ = {lvl: sorted(k for k in d if d[k] != first[k]) for lvl, d in per_level.items()}
    print(json.dumps({
        "module": where,
        "level": cfg["level"],
        "available": cfg["available"],
        "cargo_on_path": shutil.which("cargo") is not None or shutil.which("rustc") is not None,
        "differ_from_baseline": {k: v for k, v in differ.items() if v},
        "digests": first,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
